import { describe, expect, it } from 'vitest';
import { ATTENTION_SOURCE, AttentionParams, AttentionSpecError, createAttention, type AttentionSpec } from './attention.ts';
import { attentionRef } from './attention.ref.ts';
import { StepParams } from '../step.ts';
import { runDispatches } from '../../dispatch.ts';
import { parseWgslStruct } from '../../uniforms.ts';
import type { GpuContext } from '../../device.ts';
import { testGpu, storage, readF32, stepUniform } from '../../testing/gpu.ts';
import { seeded, randInt, randArray, relMaxError } from '../../testing/random.ts';

interface Case {
  nTokens: number;
  pos0: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  maxSeqLen: number;
  blockSize?: number;
}

/**
 * Runs one attention pass over caches filled with random numbers in every row — also the rows past
 * pos0 + T − 1, so a kernel that looked past position p would be caught — and returns the relative error.
 */
async function check(ctx: GpuContext, rand: () => number, c: Case, data?: { q: Float32Array; k: Float32Array }): Promise<number> {
  const { nTokens, pos0, nHeads, nKvHeads, headDim, maxSeqLen } = c;
  const q = data?.q ?? randArray(rand, nTokens * nHeads * headDim);
  const k = data?.k ?? randArray(rand, maxSeqLen * nKvHeads * headDim);
  const v = randArray(rand, maxSeqLen * nKvHeads * headDim);
  const outb = storage(ctx, 'out', q.byteLength);
  const d = createAttention(ctx, {
    ...c,
    label: 'attention',
    step: stepUniform(ctx, nTokens, pos0),
    q: storage(ctx, 'q', q),
    kCache: storage(ctx, 'k', k),
    vCache: storage(ctx, 'v', v),
    out: outb,
  });
  await runDispatches(ctx, [d]);
  const err = relMaxError(await readF32(ctx, outb, q.length), attentionRef(q, k, v, c));
  ctx.buffers.releaseOwner('test');
  return err;
}

describe('attention', () => {
  it('declares the same uniform structs as its host module and gpu/kernels/step.ts', () => {
    expect(parseWgslStruct(ATTENTION_SOURCE, 'AttentionParams')).toEqual(AttentionParams.fields.map(([f, t]) => [f, t]));
    expect(parseWgslStruct(ATTENTION_SOURCE, 'StepParams')).toEqual(StepParams.fields.map(([f, t]) => [f, t]));
  });

  it('matches the CPU reference on 60 random shapes: GQA and MHA, T 1..9, pos0 0..600', async () => {
    const ctx = await testGpu();
    const rand = seeded(20261124);
    const heads: [number, number][] = [[8, 4], [6, 2], [4, 1], [4, 4], [2, 2], [3, 1], [1, 1]];
    const headDims = [2, 8, 16, 24, 32, 64, 128];
    const blockSizes = [undefined, 32, 128];
    for (let i = 0; i < 60; i++) {
      const [nHeads, nKvHeads] = heads[i % heads.length]!;
      const headDim = headDims[randInt(rand, 0, headDims.length - 1)]!;
      const nTokens = randInt(rand, 1, 9);
      // Mostly short contexts (SwiftShader is slow), every fourth one up to 600 positions.
      const pos0 = i % 4 === 0 ? randInt(rand, 100, 600) : randInt(rand, 0, 90);
      const c = { nTokens, pos0, nHeads, nKvHeads, headDim, maxSeqLen: pos0 + nTokens + randInt(rand, 0, 40), blockSize: blockSizes[i % 3] };
      expect(await check(ctx, rand, c), JSON.stringify(c)).toBeLessThanOrEqual(1e-4);
    }
  });

  it('prefills 37 tokens from position 0', async () => {
    const ctx = await testGpu();
    const c = { nTokens: 37, pos0: 0, nHeads: 6, nKvHeads: 2, headDim: 24, maxSeqLen: 64 };
    expect(await check(ctx, seeded(37), c)).toBeLessThanOrEqual(1e-4);
  });

  it('handles a 4,096-position context and a 256-float head', async () => {
    const ctx = await testGpu();
    const rand = seeded(4096);
    expect(await check(ctx, rand, { nTokens: 2, pos0: 4094, nHeads: 2, nKvHeads: 1, headDim: 8, maxSeqLen: 4096 })).toBeLessThanOrEqual(1e-4);
    expect(await check(ctx, rand, { nTokens: 3, pos0: 70, nHeads: 2, nKvHeads: 2, headDim: 256, maxSeqLen: 80 })).toBeLessThanOrEqual(1e-4);
  });

  it('subtracts the maximum: scores of several hundred, where exp alone would overflow f32', async () => {
    const ctx = await testGpu();
    const rand = seeded(3);
    // Small integers keep q·k / sqrt(4) exact in f32, so only exp's own rounding separates GPU and CPU.
    const int = (n: number) => Float32Array.from({ length: n }, () => randInt(rand, -20, 20));
    const c = { nTokens: 4, pos0: 90, nHeads: 4, nKvHeads: 2, headDim: 4, maxSeqLen: 100 };
    const data = { q: int(c.nTokens * c.nHeads * c.headDim), k: int(c.maxSeqLen * c.nKvHeads * c.headDim) };
    expect(await check(ctx, rand, c, data)).toBeLessThanOrEqual(1e-4);
  });

  it('reuses one decode Dispatch across positions by rewriting only the step uniform', async () => {
    const ctx = await testGpu();
    const rand = seeded(99);
    const shape = { nTokens: 1, nHeads: 8, nKvHeads: 2, headDim: 32, maxSeqLen: 300 };
    const k = randArray(rand, shape.maxSeqLen * shape.nKvHeads * shape.headDim);
    const v = randArray(rand, shape.maxSeqLen * shape.nKvHeads * shape.headDim);
    const qb = storage(ctx, 'q', shape.nHeads * shape.headDim * 4);
    const outb = storage(ctx, 'out', shape.nHeads * shape.headDim * 4);
    const step = stepUniform(ctx, 1, 0);
    const d = createAttention(ctx, { ...shape, label: 'attention.decode', step, q: qb, kCache: storage(ctx, 'k', k), vCache: storage(ctx, 'v', v), out: outb });
    for (const pos0 of [0, 1, 63, 64, 65, 200, 299]) {
      const q = randArray(rand, shape.nHeads * shape.headDim);
      ctx.device.queue.writeBuffer(qb, 0, new Float32Array(q)); // a copy typed as ArrayBuffer-backed, as writeBuffer wants
      ctx.device.queue.writeBuffer(step, 0, StepParams.pack({ nTokens: 1, pos0 }));
      await runDispatches(ctx, [d]);
      const err = relMaxError(await readF32(ctx, outb, q.length), attentionRef(q, k, v, { ...shape, pos0 }));
      expect(err, `pos0=${pos0}`).toBeLessThanOrEqual(1e-4);
    }
    ctx.buffers.releaseOwner('test');
  });

  it('skips queries at t >= step.nTokens, so a dispatch prepared for T serves shorter passes', async () => {
    const ctx = await testGpu();
    const rand = seeded(5);
    const shape = { nHeads: 2, nKvHeads: 1, headDim: 8, maxSeqLen: 16 };
    const q = randArray(rand, 4 * shape.nHeads * shape.headDim);
    const k = randArray(rand, shape.maxSeqLen * shape.headDim);
    const v = randArray(rand, shape.maxSeqLen * shape.headDim);
    const sentinel = new Float32Array(q.length).fill(7);
    const outb = storage(ctx, 'out', sentinel);
    const step = stepUniform(ctx, 2, 5); // prepared for 4 tokens, run with 2
    const d = createAttention(ctx, { ...shape, nTokens: 4, label: 'attention.short', step, q: storage(ctx, 'q', q), kCache: storage(ctx, 'k', k), vCache: storage(ctx, 'v', v), out: outb });
    await runDispatches(ctx, [d]);
    const got = await readF32(ctx, outb, q.length);
    const half = 2 * shape.nHeads * shape.headDim;
    const want = attentionRef(q.subarray(0, half), k, v, { ...shape, nTokens: 2, pos0: 5 });
    expect(relMaxError(got.subarray(0, half), want)).toBeLessThanOrEqual(1e-4);
    expect([...got.subarray(half)].every((x) => x === 7)).toBe(true);
    ctx.buffers.releaseOwner('test');
  });

  it('rejects bad specs with an AttentionSpecError before allocating anything', async () => {
    const ctx = await testGpu();
    const f32 = (n: number) => storage(ctx, 'buf', n * 4);
    const ok: AttentionSpec = {
      label: 'bad',
      step: stepUniform(ctx, 2, 0),
      q: f32(2 * 4 * 8), // [2, 4, 8]
      kCache: f32(16 * 2 * 8), // [16, 2, 8]
      vCache: f32(16 * 2 * 8),
      out: f32(2 * 4 * 8),
      nTokens: 2,
      nHeads: 4,
      nKvHeads: 2,
      headDim: 8,
      maxSeqLen: 16,
    };
    expect(() => createAttention(ctx, ok)).not.toThrow();
    const smallV = f32(16 * 2 * 8 - 1);
    const storageStep = f32(4); // a storage buffer, not a uniform
    const before = ctx.buffers.count;
    const bad: [Partial<AttentionSpec>, string][] = [
      [{ nTokens: 0 }, 'nTokens'],
      [{ nKvHeads: 3 }, 'nKvHeads'],
      [{ headDim: 257 }, 'headDim'],
      [{ nTokens: 17 }, 'nTokens'],
      [{ maxSeqLen: 17 }, 'kCache'],
      [{ vCache: smallV }, 'vCache'],
      [{ nHeads: 8 }, 'q'],
      [{ step: storageStep }, 'step'],
      [{ blockSize: 48 }, 'blockSize'],
    ];
    for (const [change, field] of bad) {
      let caught: unknown;
      try {
        createAttention(ctx, { ...ok, ...change });
      } catch (err) {
        caught = err;
      }
      expect(caught, JSON.stringify(change)).toBeInstanceOf(AttentionSpecError);
      expect((caught as AttentionSpecError).field, JSON.stringify(change)).toBe(field);
    }
    expect(ctx.buffers.count).toBe(before);
    ctx.buffers.releaseOwner('test');
  });
});
