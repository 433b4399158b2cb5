import { describe, expect, it } from 'vitest';
import { createGemv, GEMV_SOURCE, GemvParams } from './gemv.ts';
import { gemvRef } from './gemv.ref.ts';
import { runDispatches } from '../../dispatch.ts';
import { parseWgslStruct } from '../../uniforms.ts';
import { testGpu, storage, readF32 } from '../../testing/gpu.ts';
import { seeded, randInt, randArray, relMaxError } from '../../testing/random.ts';

describe('gemv', () => {
  it('declares the same uniform struct as its host module', () => {
    expect(parseWgslStruct(GEMV_SOURCE, 'GemvParams')).toEqual(GemvParams.fields.map(([f, t]) => [f, t]));
  });

  it('matches the CPU reference on 60 random shapes, most not multiples of the workgroup size', async () => {
    const ctx = await testGpu();
    const rand = seeded(20261124);
    for (let i = 0; i < 60; i++) {
      const rows = randInt(rand, 1, 300);
      const cols = randInt(rand, 1, 700);
      const workgroupSize = [32, 64, 128, 256][i % 4]!;
      const w = randArray(rand, rows * cols);
      const x = randArray(rand, cols);
      const wb = storage(ctx, 'w', w);
      const xb = storage(ctx, 'x', x);
      const yb = storage(ctx, 'y', rows * 4);
      await runDispatches(ctx, [createGemv(ctx, { label: `gemv.${i}`, rows, cols, w: wb, x: xb, y: yb, workgroupSize })]);
      const got = await readF32(ctx, yb, rows);
      const err = relMaxError(got, gemvRef(w, x, rows, cols));
      expect(err, `rows=${rows} cols=${cols} wg=${workgroupSize}`).toBeLessThanOrEqual(1e-4);
      ctx.buffers.releaseOwner('test');
    }
  });

  it('spreads more than 65,535 rows over a 2-D grid', async () => {
    const ctx = await testGpu();
    const rows = 70_000;
    const cols = 3;
    const rand = seeded(7);
    const w = randArray(rand, rows * cols);
    const x = randArray(rand, cols);
    const yb = storage(ctx, 'y', rows * 4);
    const d = createGemv(ctx, { label: 'gemv.tall', rows, cols, w: storage(ctx, 'w', w), x: storage(ctx, 'x', x), y: yb, workgroupSize: 32 });
    expect(d.workgroups[1]).toBeGreaterThan(1);
    await runDispatches(ctx, [d]);
    expect(relMaxError(await readF32(ctx, yb, rows), gemvRef(w, x, rows, cols))).toBeLessThanOrEqual(1e-4);
    ctx.buffers.releaseOwner('test');
  });
});
