import { describe, expect, it } from 'vitest';
import { createSwiglu, SWIGLU_SOURCE, SwigluParams } from './swiglu.ts';
import { swigluRef } from './swiglu.ref.ts';
import { runDispatches } from '../../dispatch.ts';
import { parseWgslStruct } from '../../uniforms.ts';
import { testGpu, storage, readF32 } from '../../testing/gpu.ts';
import { seeded, randInt, randArray, relMaxError } from '../../testing/random.ts';

describe('swiglu', () => {
  it('declares the same uniform struct as its host module', () => {
    expect(parseWgslStruct(SWIGLU_SOURCE, 'SwigluParams')).toEqual(SwigluParams.fields.map(([f, t]) => [f, t]));
  });

  it('matches the CPU reference on 60 random [T, hiddenDim] shapes, most not multiples of the workgroup size', async () => {
    const ctx = await testGpu();
    const rand = seeded(20261126);
    for (let i = 0; i < 60; i++) {
      const n = randInt(rand, 1, 9) * randInt(rand, 1, 300); // T · hiddenDim
      const workgroupSize = [32, 64, 128, 256][i % 4]!;
      const gate = randArray(rand, n, 12); // wide enough to reach both tails of the sigmoid
      const up = randArray(rand, n, 2);
      const out = storage(ctx, 'out', n * 4);
      await runDispatches(ctx, [createSwiglu(ctx, { label: `swiglu.${i}`, gate: storage(ctx, 'gate', gate), up: storage(ctx, 'up', up), out, n, workgroupSize })]);
      const err = relMaxError(await readF32(ctx, out, n), swigluRef(gate, up, n));
      expect(err, `n=${n} wg=${workgroupSize}`).toBeLessThanOrEqual(1e-4);
      ctx.buffers.releaseOwner('test');
    }
  });

  it('stays finite at extreme gates (SiLU → 0 far left, → g far right)', async () => {
    const ctx = await testGpu();
    const gate = new Float32Array([-1000, -100, -88.8, 0, 88.8, 100, 1000]);
    const up = new Float32Array(gate.length).fill(1);
    const out = storage(ctx, 'out', gate.length * 4);
    await runDispatches(ctx, [createSwiglu(ctx, { label: 'swiglu.tails', gate: storage(ctx, 'gate', gate), up: storage(ctx, 'up', up), out, n: gate.length })]);
    const got = await readF32(ctx, out, gate.length);
    expect(got.every(Number.isFinite)).toBe(true);
    expect(relMaxError(got, swigluRef(gate, up, gate.length))).toBeLessThanOrEqual(1e-4);
    ctx.buffers.releaseOwner('test');
  });

  it('spreads more than 65,535 workgroups over a 2-D grid', async () => {
    const ctx = await testGpu();
    const n = 270_003; // 67,501 workgroups of 4
    const rand = seeded(12);
    const gate = randArray(rand, n, 6);
    const up = randArray(rand, n);
    const out = storage(ctx, 'out', n * 4);
    const d = createSwiglu(ctx, { label: 'swiglu.wide', gate: storage(ctx, 'gate', gate), up: storage(ctx, 'up', up), out, n, workgroupSize: 4 });
    expect(d.workgroups[1]).toBeGreaterThan(1);
    await runDispatches(ctx, [d]);
    expect(relMaxError(await readF32(ctx, out, n), swigluRef(gate, up, n))).toBeLessThanOrEqual(1e-4);
    ctx.buffers.releaseOwner('test');
  });

  it('rejects bad specs with a RangeError before allocating anything', async () => {
    const ctx = await testGpu();
    const gate = storage(ctx, 'gate', 16);
    const up = storage(ctx, 'up', 16);
    const out = storage(ctx, 'out', 12);
    const before = ctx.buffers.count;
    expect(() => createSwiglu(ctx, { label: 'swiglu.bad', gate, up, out, n: 2.5 })).toThrow(RangeError);
    expect(() => createSwiglu(ctx, { label: 'swiglu.bad', gate, up, out, n: 4 })).toThrow(/out holds 12 bytes, needs 16/);
    expect(() => createSwiglu(ctx, { label: 'swiglu.bad', gate, up, out: gate, n: 3 })).toThrow(/distinct/);
    expect(ctx.buffers.count).toBe(before);
    ctx.buffers.releaseOwner('test');
  });
});
