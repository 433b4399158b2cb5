import { describe, expect, it } from 'vitest';
import { createRope, ROPE_SOURCE, RopeParams, type RopeStyle } from './rope.ts';
import { ropeRef } from './rope.ref.ts';
import { runDispatches } from '../../dispatch.ts';
import { parseWgslStruct } from '../../uniforms.ts';
import type { GpuContext } from '../../device.ts';
import { StepParams } from '../step.ts';
import { testGpu, storage, readF32, stepUniform } from '../../testing/gpu.ts';
import { seeded, randInt, randArray, relMaxError } from '../../testing/random.ts';

/** [T] u32 positions pos0, pos0 + 1, … (one sequence's tokens), or the given list. */
function positionsBuffer(ctx: GpuContext, nTokens: number, pos0: number | number[]): GPUBuffer {
  const list = Array.isArray(pos0) ? pos0 : Array.from({ length: nTokens }, (_, t) => pos0 + t);
  return storage(ctx, 'positions', new Uint32Array(list));
}

/** Rotates x on the GPU once, with a fresh dispatch, and returns the result. */
interface RopeCase {
  nTokens: number;
  nHeads: number;
  headDim: number;
  theta: number;
  style: RopeStyle;
  pos0: number;
  /** Each token's own position (a batch); default pos0, pos0 + 1, … */
  positions?: number[];
  workgroupSize?: number;
}

async function gpuRope(ctx: GpuContext, x: Float32Array, s: RopeCase): Promise<Float32Array> {
  const xb = storage(ctx, 'x', x);
  const d = createRope(ctx, { label: 'rope', step: stepUniform(ctx, s.nTokens, s.pos0), x: xb, ...s, positions: positionsBuffer(ctx, s.nTokens, s.positions ?? s.pos0) });
  await runDispatches(ctx, [d]);
  const got = await readF32(ctx, xb, x.length);
  ctx.buffers.releaseOwner('test');
  return got;
}

describe('rope', () => {
  it('declares the same uniform structs as its host module and step.ts', () => {
    expect(parseWgslStruct(ROPE_SOURCE, 'RopeParams')).toEqual(RopeParams.fields.map(([f, t]) => [f, t]));
    expect(parseWgslStruct(ROPE_SOURCE, 'StepParams')).toEqual(StepParams.fields.map(([f, t]) => [f, t]));
  });

  it('pairs and rotates as llama2.c (interleaved) and Hugging Face (half) do, on a hand-worked head', () => {
    // headDim 4, theta 10000, position 1: pair 0 turns by 1 rad, pair 1 by 10000^(-1/2) = 0.01 rad.
    const x = new Float32Array([1, 2, 3, 4]);
    const rot = (a: number, b: number, angle: number) => [a * Math.cos(angle) - b * Math.sin(angle), a * Math.sin(angle) + b * Math.cos(angle)];
    const [i0, i1] = rot(1, 2, 1);
    const [i2, i3] = rot(3, 4, 0.01);
    expect(relMaxError(ropeRef(x, 1, 1, 4, 10000, 'interleaved', 1), [i0!, i1!, i2!, i3!])).toBeLessThanOrEqual(1e-6);
    const [h0, h2] = rot(1, 3, 1);
    const [h1, h3] = rot(2, 4, 0.01);
    expect(relMaxError(ropeRef(x, 1, 1, 4, 10000, 'half', 1), [h0!, h1!, h2!, h3!])).toBeLessThanOrEqual(1e-6);
  });

  it('matches the CPU reference on 60 random shapes and positions up to ~2000, both styles', async () => {
    const ctx = await testGpu();
    const rand = seeded(20261131);
    for (let i = 0; i < 60; i++) {
      const nTokens = randInt(rand, 1, 9);
      const nHeads = randInt(rand, 1, 6);
      const headDim = 2 * randInt(rand, 1, 64); // even, 2..128
      const pos0 = i % 5 === 0 ? 0 : randInt(rand, 0, 2000);
      const theta = [10000, 500000, 10000, 1e6][i % 4]!;
      const style: RopeStyle = i % 2 === 0 ? 'interleaved' : 'half';
      const workgroupSize = [32, 64, 128, 256][(i >> 1) % 4]!;
      const x = randArray(rand, nTokens * nHeads * headDim);
      const got = await gpuRope(ctx, x, { nTokens, nHeads, headDim, theta, style, pos0, workgroupSize });
      const err = relMaxError(got, ropeRef(x, nTokens, nHeads, headDim, theta, style, pos0));
      expect(err, `T=${nTokens} nHeads=${nHeads} headDim=${headDim} pos0=${pos0} theta=${theta} ${style}`).toBeLessThanOrEqual(1e-4);
    }
  });

  it('stays within 1e-4 at positions near 4096, where angles reach thousands of radians', async () => {
    const ctx = await testGpu();
    const rand = seeded(18);
    for (const style of ['interleaved', 'half'] as const) {
      const x = randArray(rand, 9 * 2 * 64);
      const got = await gpuRope(ctx, x, { nTokens: 9, nHeads: 2, headDim: 64, theta: 10000, style, pos0: 4087 });
      expect(relMaxError(got, ropeRef(x, 9, 2, 64, 10000, style, 4087)), style).toBeLessThanOrEqual(1e-4);
    }
  });

  it('reuses one dispatch across passes, taking pos0 and nTokens from the step uniform', async () => {
    const ctx = await testGpu();
    const rand = seeded(19);
    const [nTokens, nHeads, headDim] = [5, 3, 10];
    const n = nTokens * nHeads * headDim;
    const step = stepUniform(ctx, nTokens, 0);
    const xb = storage(ctx, 'x', n * 4);
    const positions = storage(ctx, 'positions', nTokens * 4);
    const d = createRope(ctx, { label: 'rope.reuse', step, positions, x: xb, nTokens, nHeads, headDim, theta: 10000, style: 'half' });
    for (const pass of [{ nTokens: 5, pos0: 0 }, { nTokens: 2, pos0: 5 }, { nTokens: 1, pos0: 7 }, { nTokens: 1, pos0: 1500 }]) {
      const x = new Float32Array(randArray(rand, n)); // ArrayBuffer-backed, as writeBuffer wants
      ctx.device.queue.writeBuffer(xb, 0, x);
      ctx.device.queue.writeBuffer(step, 0, StepParams.pack(pass));
      ctx.device.queue.writeBuffer(positions, 0, Uint32Array.from({ length: pass.nTokens }, (_, t) => pass.pos0 + t));
      await runDispatches(ctx, [d]);
      // Tokens past step.nTokens are left exactly as they were.
      const expected = ropeRef(x, pass.nTokens, nHeads, headDim, 10000, 'half', pass.pos0);
      expect(relMaxError(await readF32(ctx, xb, n), expected), JSON.stringify(pass)).toBeLessThanOrEqual(1e-4);
    }
    ctx.buffers.releaseOwner('test');
  });

  it('rotates each token by its own position (a batch mixing sequences at different positions)', async () => {
    const ctx = await testGpu();
    const rand = seeded(99);
    const nTokens = 6;
    const nHeads = 2;
    const headDim = 16;
    const positions = [0, 417, 3, 1999, 41, 42];
    for (const style of ['interleaved', 'half'] as const) {
      const x = randArray(rand, nTokens * nHeads * headDim);
      const got = await gpuRope(ctx, x, { nTokens, nHeads, headDim, theta: 10000, style, pos0: 0, positions });
      const row = nHeads * headDim;
      const expected = new Float32Array(x.length);
      positions.forEach((p, t) => expected.set(ropeRef(x.subarray(t * row, (t + 1) * row), 1, nHeads, headDim, 10000, style, p), t * row));
      expect(relMaxError(got, expected), style).toBeLessThanOrEqual(1e-4);
    }
  });

  it('spreads more than 65,535 workgroups over a 2-D grid', async () => {
    const ctx = await testGpu();
    const [nTokens, nHeads, headDim] = [9, 1, 60_000]; // 270,000 pairs: 67,500 workgroups of 4
    const x = randArray(seeded(20), nTokens * nHeads * headDim);
    const xb = storage(ctx, 'x', x);
    const d = createRope(ctx, { label: 'rope.wide', step: stepUniform(ctx, nTokens, 3), positions: positionsBuffer(ctx, nTokens, 3), x: xb, nTokens, nHeads, headDim, theta: 10000, style: 'interleaved', workgroupSize: 4 });
    expect(d.workgroups[1]).toBeGreaterThan(1);
    await runDispatches(ctx, [d]);
    expect(relMaxError(await readF32(ctx, xb, x.length), ropeRef(x, nTokens, nHeads, headDim, 10000, 'interleaved', 3))).toBeLessThanOrEqual(1e-4);
    ctx.buffers.releaseOwner('test');
  });

  it('rejects bad specs with a RangeError before allocating anything', async () => {
    const ctx = await testGpu();
    const [step, x] = [stepUniform(ctx, 2, 0), storage(ctx, 'x', 2 * 3 * 4 * 4)];
    const ok = { label: 'rope.bad', step, x, positions: x, nTokens: 2, nHeads: 3, headDim: 4, theta: 10000, style: 'half' as RopeStyle };
    const before = ctx.buffers.count;
    expect(() => createRope(ctx, { ...ok, headDim: 3 })).toThrow(/even headDim/);
    expect(() => createRope(ctx, { ...ok, theta: 0 })).toThrow(/theta/);
    expect(() => createRope(ctx, { ...ok, style: 'neox' as RopeStyle })).toThrow(/unknown rope style/);
    expect(() => createRope(ctx, { ...ok, nHeads: 4 })).toThrow(/x holds 96 bytes, needs 128/);
    expect(() => createRope(ctx, { ...ok, step: ok.x, x: ok.step })).toThrow(RangeError);
    expect(ctx.buffers.count).toBe(before);
    ctx.buffers.releaseOwner('test');
  });
});
