import { describe, expect, it } from 'vitest';
import { createAdd, ADD_SOURCE, AddParams } from './add.ts';
import { addRef } from './add.ref.ts';
import { runDispatches } from '../../dispatch.ts';
import { parseWgslStruct } from '../../uniforms.ts';
import { testGpu, storage, readF32 } from '../../testing/gpu.ts';
import { seeded, randInt, randArray, relMaxError } from '../../testing/random.ts';

describe('add', () => {
  it('declares the same uniform struct as its host module', () => {
    expect(parseWgslStruct(ADD_SOURCE, 'AddParams')).toEqual(AddParams.fields.map(([f, t]) => [f, t]));
  });

  it('matches the CPU reference on 60 random sizes, most not multiples of the workgroup size', async () => {
    const ctx = await testGpu();
    const rand = seeded(20261125);
    for (let i = 0; i < 60; i++) {
      const n = i < 4 ? i + 1 : randInt(rand, 1, 3000);
      const workgroupSize = [32, 64, 128, 256][i % 4]!;
      const x = randArray(rand, n, 4);
      const y = randArray(rand, n, 4);
      const xb = storage(ctx, 'x', x);
      await runDispatches(ctx, [createAdd(ctx, { label: `add.${i}`, x: xb, y: storage(ctx, 'y', y), n, workgroupSize })]);
      const err = relMaxError(await readF32(ctx, xb, n), addRef(x, y, n));
      expect(err, `n=${n} wg=${workgroupSize}`).toBeLessThanOrEqual(1e-4);
      ctx.buffers.releaseOwner('test');
    }
  });

  it('leaves elements past n untouched', async () => {
    const ctx = await testGpu();
    const x = new Float32Array([1, 2, 3, 4, 5, 6, 7]);
    const xb = storage(ctx, 'x', x);
    await runDispatches(ctx, [createAdd(ctx, { label: 'add.prefix', x: xb, y: storage(ctx, 'y', new Float32Array(7).fill(10)), n: 5, workgroupSize: 4 })]);
    expect([...(await readF32(ctx, xb, 7))]).toEqual([11, 12, 13, 14, 15, 6, 7]);
    ctx.buffers.releaseOwner('test');
  });

  it('spreads more than 65,535 workgroups over a 2-D grid', async () => {
    const ctx = await testGpu();
    const n = 300_001; // 75,001 workgroups of 4
    const rand = seeded(11);
    const x = randArray(rand, n);
    const y = randArray(rand, n);
    const xb = storage(ctx, 'x', x);
    const d = createAdd(ctx, { label: 'add.wide', x: xb, y: storage(ctx, 'y', y), n, workgroupSize: 4 });
    expect(d.workgroups[1]).toBeGreaterThan(1);
    await runDispatches(ctx, [d]);
    expect(relMaxError(await readF32(ctx, xb, n), addRef(x, y, n))).toBeLessThanOrEqual(1e-4);
    ctx.buffers.releaseOwner('test');
  });

  it('rejects bad specs with a RangeError before allocating anything', async () => {
    const ctx = await testGpu();
    const x = storage(ctx, 'x', 16);
    const y = storage(ctx, 'y', 16);
    const before = ctx.buffers.count;
    expect(() => createAdd(ctx, { label: 'add.bad', x, y, n: 0 })).toThrow(RangeError);
    expect(() => createAdd(ctx, { label: 'add.bad', x, y, n: 5 })).toThrow(/x holds 16 bytes, needs 20/);
    expect(() => createAdd(ctx, { label: 'add.bad', x, y: x, n: 4 })).toThrow(/distinct/);
    expect(() => createAdd(ctx, { label: 'add.bad', x, y, n: 4, workgroupSize: 48 })).toThrow(/power of two/);
    expect(ctx.buffers.count).toBe(before);
    ctx.buffers.releaseOwner('test');
  });
});
