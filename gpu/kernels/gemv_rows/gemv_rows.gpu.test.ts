import { describe, expect, it } from 'vitest';
import { createGemvRows, GEMV_ROWS_SOURCE, GemvRowsParams } from './gemv_rows.ts';
import { gemvRef } from '../gemv/gemv.ref.ts';
import { runDispatches } from '../../dispatch.ts';
import { parseWgslStruct } from '../../uniforms.ts';
import { testGpu, storage, readF32 } from '../../testing/gpu.ts';
import { seeded, randInt, randArray, relMaxError } from '../../testing/random.ts';

describe('gemv_rows', () => {
  it('declares the same uniform struct as its host module', () => {
    expect(parseWgslStruct(GEMV_ROWS_SOURCE, 'GemvRowsParams')).toEqual(GemvRowsParams.fields.map(([f, t]) => [f, t]));
  });

  it('matches the CPU reference on 60 random shapes and 1..16 tokens (odd row counts, cols not multiples of 4)', async () => {
    const ctx = await testGpu();
    const rand = seeded(77);
    for (let i = 0; i < 60; i++) {
      const rows = randInt(rand, 1, 400);
      const cols = randInt(rand, 1, 600);
      const nTokens = i % 3 === 0 ? 1 : randInt(rand, 2, 16);
      const workgroupSize = [1, 16, 64, 100][i % 4]!;
      const w = randArray(rand, rows * cols);
      const x = randArray(rand, nTokens * cols); // [nTokens, cols]
      const yb = storage(ctx, 'y', nTokens * rows * 4);
      await runDispatches(ctx, [createGemvRows(ctx, { label: `gemv_rows.${i}`, rows, cols, nTokens, w: storage(ctx, 'w', w), x: storage(ctx, 'x', x), y: yb, workgroupSize })]);
      const expected = new Float32Array(nTokens * rows);
      for (let t = 0; t < nTokens; t++) expected.set(gemvRef(w, x.subarray(t * cols, (t + 1) * cols), rows, cols), t * rows);
      expect(relMaxError(await readF32(ctx, yb, nTokens * rows), expected), `rows=${rows} cols=${cols} T=${nTokens} wg=${workgroupSize}`).toBeLessThanOrEqual(1e-4);
      ctx.buffers.releaseOwner('test');
    }
  });

  it('spreads more than 65,535 workgroups over a 2-D grid', async () => {
    const ctx = await testGpu();
    const rows = 70_001;
    const cols = 2;
    const rand = seeded(8);
    const w = randArray(rand, rows * cols);
    const x = randArray(rand, cols);
    const yb = storage(ctx, 'y', rows * 4);
    const d = createGemvRows(ctx, { label: 'gemv_rows.tall', rows, cols, w: storage(ctx, 'w', w), x: storage(ctx, 'x', x), y: yb, workgroupSize: 1 });
    expect(d.workgroups[1]).toBeGreaterThan(1);
    await runDispatches(ctx, [d]);
    expect(relMaxError(await readF32(ctx, yb, rows), gemvRef(w, x, rows, cols))).toBeLessThanOrEqual(1e-4);
    ctx.buffers.releaseOwner('test');
  });
});
