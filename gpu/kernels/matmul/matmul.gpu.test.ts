import { describe, expect, it } from 'vitest';
import { matmulKernel, createMatmul, MATMUL_SOURCE, MatmulParams, MatmulSpecError, type MatmulSpec } from './matmul.ts';
import { matmulRef } from './matmul.ref.ts';
import { runDispatches } from '../../dispatch.ts';
import { parseWgslStruct } from '../../uniforms.ts';
import { testGpu, storage, readF32 } from '../../testing/gpu.ts';
import { seeded, randInt, randArray, relMaxError } from '../../testing/random.ts';
import type { GpuContext } from '../../device.ts';

/** Uploads random x and w, runs one matmul and returns the relative error against the CPU reference. */
async function check(ctx: GpuContext, rand: () => number, shape: { label: string; nTokens: number; n: number; k: number } & Partial<MatmulSpec>) {
  const { nTokens, n, k } = shape;
  const x = randArray(rand, nTokens * k);
  const w = randArray(rand, n * k);
  const yb = storage(ctx, 'y', nTokens * n * 4);
  const d = createMatmul(ctx, { ...shape, x: storage(ctx, 'x', x), w: storage(ctx, 'w', w), y: yb });
  await runDispatches(ctx, [d]);
  const err = relMaxError(await readF32(ctx, yb, nTokens * n), matmulRef(x, w, nTokens, n, k));
  ctx.buffers.releaseOwner('test');
  return { err, dispatch: d };
}

describe('matmul', () => {
  it('declares the same uniform struct as its host module', () => {
    expect(parseWgslStruct(MATMUL_SOURCE, 'MatmulParams')).toEqual(MatmulParams.fields.map(([f, t]) => [f, t]));
  });

  it('matches the CPU reference on 60 random shapes (T = 1 and 2..70), most not multiples of the tile', async () => {
    const ctx = await testGpu();
    const rand = seeded(20261124);
    // [tileSize, tileK] for the tiled path; undefined = the host's default choice.
    const tilings: [number | undefined, number | undefined][] = [[undefined, undefined], [8, 16], [16, 16], [16, 32], [8, 8], [16, 4]];
    for (let i = 0; i < 60; i++) {
      const nTokens = i % 5 === 0 ? 1 : randInt(rand, 2, 70);
      const n = randInt(rand, 1, 200);
      const k = randInt(rand, 1, 300);
      const [tileSize, tileK] = tilings[i % tilings.length]!;
      const { err, dispatch } = await check(ctx, rand, { label: `matmul.${i}`, nTokens, n, k, tileSize, tileK });
      // Short rows and few tokens take the row-per-invocation GEMV; one long row the reduction GEMV; else tiled.
      const kernel = nTokens > 1 && (tileSize !== undefined || tileK !== undefined) ? 'tiled' : matmulKernel(nTokens, k);
      const expected = { 'gemv-rows': /^gemv_rows_/, gemv: /^gemv_f32_/, tiled: /^matmul_tiled_/ }[kernel];
      expect(dispatch.pipeline.label).toMatch(expected);
      expect(err, `T=${nTokens} N=${n} K=${k} tile=${tileSize}/${tileK}`).toBeLessThanOrEqual(1e-4);
    }
  });

  it('handles a vocabulary-sized N (32,000) on both paths, and a larger prefill shape', async () => {
    const ctx = await testGpu();
    const rand = seeded(11);
    for (const shape of [
      { label: 'matmul.logits', nTokens: 1, n: 32_000, k: 24 },
      { label: 'matmul.logits3', nTokens: 3, n: 32_000, k: 8 },
      { label: 'matmul.prefill', nTokens: 37, n: 333, k: 515 },
    ]) {
      const { err } = await check(ctx, rand, shape);
      expect(err, shape.label).toBeLessThanOrEqual(1e-4);
    }
  });

  it('rejects bad specs with a MatmulSpecError before allocating anything', async () => {
    const ctx = await testGpu();
    const x = storage(ctx, 'x', 4 * 4 * 8); // [4, 8]
    const w = storage(ctx, 'w', 4 * 16 * 8); // [16, 8]
    const y = storage(ctx, 'y', 4 * 4 * 16); // [4, 16]
    const ok = { label: 'bad', x, w, y, nTokens: 4, n: 16, k: 8 };
    const before = ctx.buffers.count;
    const bad: [Partial<MatmulSpec>, string][] = [
      [{ nTokens: 0 }, 'nTokens'],
      [{ n: 2.5 }, 'n'],
      [{ k: 9 }, 'x'], // x [4, 9] does not fit in a [4, 8] buffer
      [{ n: 17 }, 'w'],
      [{ nTokens: 5 }, 'x'],
      [{ tileSize: 32 }, 'tileSize'],
      [{ tileK: 0 }, 'tileK'],
    ];
    for (const [change, field] of bad) {
      const run = () => createMatmul(ctx, { ...ok, ...change });
      expect(run).toThrow(MatmulSpecError);
      try {
        run();
      } catch (err) {
        expect((err as MatmulSpecError).field, JSON.stringify(change)).toBe(field);
      }
    }
    expect(ctx.buffers.count).toBe(before);
    ctx.buffers.releaseOwner('test');
  });
});
