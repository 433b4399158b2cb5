import { describe, expect, it } from 'vitest';
import { createArgmax, ARGMAX_SOURCE, ArgmaxParams } from './argmax.ts';
import { argmaxRef } from './argmax.ref.ts';
import { runDispatches } from '../../dispatch.ts';
import { parseWgslStruct } from '../../uniforms.ts';
import type { GpuContext } from '../../device.ts';
import { testGpu, storage } from '../../testing/gpu.ts';
import { seeded, randInt, randArray } from '../../testing/random.ts';

async function readU32(ctx: GpuContext, buffer: GPUBuffer, length: number): Promise<Uint32Array> {
  return new Uint32Array(await ctx.read(buffer, length * 4));
}

async function gpuArgmax(ctx: GpuContext, x: Float32Array, rows: number, n: number, workgroupSize?: number): Promise<Uint32Array> {
  const out = storage(ctx, 'out', rows * 4);
  await runDispatches(ctx, [createArgmax(ctx, { label: 'argmax', x: storage(ctx, 'x', x), out, rows, n, workgroupSize })]);
  const got = await readU32(ctx, out, rows);
  ctx.buffers.releaseOwner('test');
  return got;
}

describe('argmax', () => {
  it('declares the same uniform struct as its host module', () => {
    expect(parseWgslStruct(ARGMAX_SOURCE, 'ArgmaxParams')).toEqual(ArgmaxParams.fields.map(([f, t]) => [f, t]));
  });

  it('matches the CPU reference on 60 random shapes, half of them full of ties', async () => {
    const ctx = await testGpu();
    const rand = seeded(20261130);
    for (let i = 0; i < 60; i++) {
      const rows = randInt(rand, 1, 9);
      const n = i === 0 ? 32_000 : randInt(rand, 1, 2000); // one vocabulary-sized row set
      const workgroupSize = [32, 64, 128, 256][i % 4]!;
      // Odd cases: continuous values, all negative (an initial best of 0 would win wrongly).
      // Even cases: a handful of distinct levels, so the max is tied many times across invocations.
      const x =
        i % 2 === 1 ? randArray(rand, rows * n, 50).map((v) => (i % 4 === 1 ? v : -Math.abs(v) - 1)) : Float32Array.from({ length: rows * n }, () => randInt(rand, -3, 2));
      const got = await gpuArgmax(ctx, x, rows, n, workgroupSize);
      expect([...got], `rows=${rows} n=${n} wg=${workgroupSize}`).toEqual([...argmaxRef(x, rows, n)]);
    }
  });

  it('picks the lowest index on ties and handles -Infinity', async () => {
    const ctx = await testGpu();
    const n = 70;
    const x = new Float32Array(4 * n);
    x.fill(1, 0, n); // row 0: all equal → 0
    x.fill(-Infinity, n, 2 * n); // row 1: all -inf → 0
    x.fill(-Infinity, 2 * n, 3 * n);
    x[2 * n + 69] = -5; // row 2: the only finite value, last → 69
    x[3 * n + 65] = 4; // row 3: maxima at 65 and 33 (different invocations and tree halves) → 33
    x[3 * n + 33] = 4;
    expect([...(await gpuArgmax(ctx, x, 4, n, 32))]).toEqual([0, 0, 69, 33]);
  });

  it('spreads more than 65,535 rows over a 2-D grid', async () => {
    const ctx = await testGpu();
    const rows = 70_000;
    const n = 3;
    const x = randArray(seeded(17), rows * n);
    const out = storage(ctx, 'out', rows * 4);
    const d = createArgmax(ctx, { label: 'argmax.tall', x: storage(ctx, 'x', x), out, rows, n, workgroupSize: 4 });
    expect(d.workgroups[1]).toBeGreaterThan(1);
    await runDispatches(ctx, [d]);
    expect([...(await readU32(ctx, out, rows))]).toEqual([...argmaxRef(x, rows, n)]);
    ctx.buffers.releaseOwner('test');
  });

  it('rejects bad specs with a RangeError before allocating anything', async () => {
    const ctx = await testGpu();
    const ok = { label: 'argmax.bad', x: storage(ctx, 'x', 2 * 5 * 4), out: storage(ctx, 'out', 2 * 4), rows: 2, n: 5 };
    const before = ctx.buffers.count;
    expect(() => createArgmax(ctx, { ...ok, n: 0 })).toThrow(/n >= 1/);
    expect(() => createArgmax(ctx, { ...ok, n: 6 })).toThrow(/x holds 40 bytes, needs 48/);
    expect(() => createArgmax(ctx, { ...ok, rows: 3, n: 1 })).toThrow(/out holds 8 bytes, needs 12/);
    expect(() => createArgmax(ctx, { ...ok, workgroupSize: 100 })).toThrow(/power of two/);
    expect(ctx.buffers.count).toBe(before);
    ctx.buffers.releaseOwner('test');
  });
});
