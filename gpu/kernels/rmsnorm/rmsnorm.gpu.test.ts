import { describe, expect, it } from 'vitest';
import { createRmsNorm, RMSNORM_SOURCE, RmsNormParams } from './rmsnorm.ts';
import { rmsNormRef } from './rmsnorm.ref.ts';
import { runDispatches } from '../../dispatch.ts';
import { parseWgslStruct } from '../../uniforms.ts';
import { testGpu, storage, readF32 } from '../../testing/gpu.ts';
import { seeded, randInt, randArray, relMaxError } from '../../testing/random.ts';

describe('rmsnorm', () => {
  it('declares the same uniform struct as its host module', () => {
    expect(parseWgslStruct(RMSNORM_SOURCE, 'RmsNormParams')).toEqual(RmsNormParams.fields.map(([f, t]) => [f, t]));
  });

  it('matches the CPU reference on 60 random shapes, most not multiples of the workgroup size', async () => {
    const ctx = await testGpu();
    const rand = seeded(20261129);
    for (let i = 0; i < 60; i++) {
      const nTokens = randInt(rand, 1, 9);
      const dim = i === 0 ? 1 : randInt(rand, 1, 300);
      const eps = [1e-5, 1e-6][i % 2]!;
      const workgroupSize = [32, 64, 128, 256][i % 4]!;
      const scale = [0.01, 1, 30][i % 3]!; // the norm must not care about the input's scale
      const x = randArray(rand, nTokens * dim, scale);
      const weight = randArray(rand, dim, 2);
      const out = storage(ctx, 'out', nTokens * dim * 4);
      const d = createRmsNorm(ctx, { label: `rmsnorm.${i}`, x: storage(ctx, 'x', x), weight: storage(ctx, 'weight', weight), out, nTokens, dim, eps, workgroupSize });
      await runDispatches(ctx, [d]);
      const err = relMaxError(await readF32(ctx, out, nTokens * dim), rmsNormRef(x, weight, nTokens, dim, eps));
      expect(err, `T=${nTokens} dim=${dim} wg=${workgroupSize} scale=${scale}`).toBeLessThanOrEqual(1e-4);
      ctx.buffers.releaseOwner('test');
    }
  });

  it('normalizes each row on its own and keeps an all-zero row at zero (eps keeps it finite)', async () => {
    const ctx = await testGpu();
    const dim = 4;
    const x = new Float32Array([0, 0, 0, 0, 3, -3, 3, -3, 1, 1, 1, 1]); // rms 0, 3, 1
    const weight = new Float32Array([1, 2, 3, 4]);
    const out = storage(ctx, 'out', x.byteLength);
    const d = createRmsNorm(ctx, { label: 'rmsnorm.rows', x: storage(ctx, 'x', x), weight: storage(ctx, 'weight', weight), out, nTokens: 3, dim, eps: 1e-5, workgroupSize: 2 });
    await runDispatches(ctx, [d]);
    const got = await readF32(ctx, out, x.length);
    expect(relMaxError(got, [0, 0, 0, 0, 1, -2, 3, -4, 1, 2, 3, 4])).toBeLessThanOrEqual(1e-4);
    ctx.buffers.releaseOwner('test');
  });

  it('spreads more than 65,535 rows over a 2-D grid', async () => {
    const ctx = await testGpu();
    const nTokens = 70_000;
    const dim = 3;
    const rand = seeded(16);
    const x = randArray(rand, nTokens * dim);
    const weight = randArray(rand, dim);
    const out = storage(ctx, 'out', nTokens * dim * 4);
    const d = createRmsNorm(ctx, { label: 'rmsnorm.tall', x: storage(ctx, 'x', x), weight: storage(ctx, 'weight', weight), out, nTokens, dim, eps: 1e-5, workgroupSize: 4 });
    expect(d.workgroups[1]).toBeGreaterThan(1);
    await runDispatches(ctx, [d]);
    expect(relMaxError(await readF32(ctx, out, nTokens * dim), rmsNormRef(x, weight, nTokens, dim, 1e-5))).toBeLessThanOrEqual(1e-4);
    ctx.buffers.releaseOwner('test');
  });

  it('rejects bad specs with a RangeError before allocating anything', async () => {
    const ctx = await testGpu();
    const x = storage(ctx, 'x', 2 * 3 * 4);
    const ok = { label: 'rmsnorm.bad', x, weight: storage(ctx, 'weight', 3 * 4), out: storage(ctx, 'out', 2 * 3 * 4), nTokens: 2, dim: 3, eps: 1e-5 };
    const before = ctx.buffers.count;
    expect(() => createRmsNorm(ctx, { ...ok, out: x })).toThrow(/different buffer/);
    expect(() => createRmsNorm(ctx, { ...ok, eps: Number.NaN })).toThrow(/eps/);
    expect(() => createRmsNorm(ctx, { ...ok, dim: 4 })).toThrow(/x holds 24 bytes, needs 32/);
    expect(() => createRmsNorm(ctx, { ...ok, nTokens: -1 })).toThrow(RangeError);
    expect(ctx.buffers.count).toBe(before);
    ctx.buffers.releaseOwner('test');
  });
});
