import { describe, expect, it } from 'vitest';
import { testGpu } from '../../gpu/testing/gpu.ts';
import { gemvRef } from '../../gpu/kernels/gemv/gemv.ref.ts';
import { Rng } from '../sampling/rng.ts';
import { GemvCheckError, runGemvCheck } from './gemv-check.ts';

describe('runGemvCheck on Dawn', () => {
  it('passes on a shape that is not a multiple of the workgroup size, with the reference’s outputs', async () => {
    const ctx = await testGpu();
    const before = ctx.buffers.count;
    const check = await runGemvCheck(ctx, 300, 257, 42);
    expect(check).toMatchObject({ rows: 300, cols: 257, seed: 42, passed: true });
    expect(check.maxRelError).toBeLessThanOrEqual(1e-4);
    expect(check.gpuMs).toBeGreaterThan(0);
    // Rebuild the same W and x from the seed: the shown outputs are the GPU's y, close to the CPU's.
    const rng = new Rng(42);
    const w = Float32Array.from({ length: 300 * 257 }, () => rng.next() * 2 - 1);
    const x = Float32Array.from({ length: 257 }, () => rng.next() * 2 - 1);
    const want = gemvRef(w, x, 300, 257);
    expect(check.first).toHaveLength(8);
    check.first.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 3));
    expect(ctx.buffers.count).toBe(before); // every buffer it made is released
  });

  it('is deterministic for a seed and different for another', async () => {
    const ctx = await testGpu();
    const a = await runGemvCheck(ctx, 33, 65, 7);
    const b = await runGemvCheck(ctx, 33, 65, 7);
    const c = await runGemvCheck(ctx, 33, 65, 8);
    expect(b.first).toEqual(a.first);
    expect(c.first).not.toEqual(a.first);
  });

  it('rejects bad shapes before allocating anything', async () => {
    const ctx = await testGpu();
    const before = ctx.buffers.count;
    await expect(runGemvCheck(ctx, 0, 16, 1)).rejects.toThrow(GemvCheckError);
    expect(ctx.buffers.count).toBe(before);
  });
});
