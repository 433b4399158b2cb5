import { describe, expect, it } from 'vitest';
import {
  createPagedAttention,
  PAGED_ATTENTION_SOURCE,
  PagedAttentionParams,
  PagedAttentionSpecError,
  type PagedAttentionSpec,
} from './paged_attention.ts';
import { pagedAttentionRef } from './paged_attention.ref.ts';
import { attentionRef } from '../attention/attention.ref.ts';
import { StepParams } from '../step.ts';
import { runDispatches } from '../../dispatch.ts';
import { parseWgslStruct } from '../../uniforms.ts';
import type { GpuContext } from '../../device.ts';
import { testGpu, storage, readF32, stepUniform } from '../../testing/gpu.ts';
import { seeded, randInt, randArray } from '../../testing/random.ts';

const MISSING = 0xffffffff;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function shuffle<T>(rand: () => number, xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = randInt(rand, 0, i);
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

interface Paged {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  blockSize: number;
  nBlocks: number;
  maxBlocksPerSeq: number;
  lengths: number[]; // tokens cached per sequence (including this pass's)
  kContig: Float32Array[]; // per sequence [length, nKvHeads, headDim]: the same K laid out contiguously
  vContig: Float32Array[];
  kPool: Float32Array; // [nBlocks · blockSize, nKvHeads · headDim]
  vPool: Float32Array;
  blockTables: Uint32Array; // [nSeqs, maxBlocksPerSeq]
}

/**
 * Random sequences scattered over a shuffled pool: every slot of the pool holds random numbers (also the
 * unused ones and the tail of each last block), so a kernel that read a wrong slot would be caught.
 */
function makePaged(rand: () => number, heads: [number, number], headDim: number, blockSize: number, lengths: number[]): Paged {
  const [nHeads, nKvHeads] = heads;
  const kvDim = nKvHeads * headDim;
  const needed = lengths.map((L) => Math.ceil(L / blockSize));
  const maxBlocksPerSeq = Math.max(...needed) + randInt(rand, 0, 2);
  const nBlocks = needed.reduce((a, b) => a + b, 0) + randInt(rand, 0, 3);
  const physical = shuffle(rand, Array.from({ length: nBlocks }, (_, i) => i));
  const kPool = randArray(rand, nBlocks * blockSize * kvDim);
  const vPool = randArray(rand, nBlocks * blockSize * kvDim);
  const blockTables = new Uint32Array(lengths.length * maxBlocksPerSeq).fill(MISSING);
  const kContig: Float32Array[] = [];
  const vContig: Float32Array[] = [];
  let next = 0;
  lengths.forEach((L, s) => {
    for (let b = 0; b < needed[s]!; b++) blockTables[s * maxBlocksPerSeq + b] = physical[next++]!;
    const k = new Float32Array(L * kvDim);
    const v = new Float32Array(L * kvDim);
    for (let j = 0; j < L; j++) {
      const slot = blockTables[s * maxBlocksPerSeq + Math.floor(j / blockSize)]! * blockSize + (j % blockSize);
      k.set(kPool.subarray(slot * kvDim, (slot + 1) * kvDim), j * kvDim);
      v.set(vPool.subarray(slot * kvDim, (slot + 1) * kvDim), j * kvDim);
    }
    kContig.push(k);
    vContig.push(v);
  });
  return { nHeads, nKvHeads, headDim, blockSize, nBlocks, maxBlocksPerSeq, lengths, kContig, vContig, kPool, vPool, blockTables };
}

/** Runs the paged kernel for queries (tokenSeq, tokenPos) and returns its output and q. */
async function runPaged(ctx: GpuContext, rand: () => number, p: Paged, tokenSeq: number[], tokenPos: number[], tileSize?: number, keysPerInvocation?: number) {
  const nTokens = tokenSeq.length;
  const q = randArray(rand, nTokens * p.nHeads * p.headDim);
  const outb = storage(ctx, 'out', q.byteLength);
  const d = createPagedAttention(ctx, {
    label: 'paged_attention',
    step: stepUniform(ctx, nTokens),
    q: storage(ctx, 'q', q),
    kPool: storage(ctx, 'kPool', p.kPool),
    vPool: storage(ctx, 'vPool', p.vPool),
    blockTables: storage(ctx, 'blockTables', p.blockTables),
    tokenSeq: storage(ctx, 'tokenSeq', Uint32Array.from(tokenSeq)),
    tokenPos: storage(ctx, 'tokenPos', Uint32Array.from(tokenPos)),
    out: outb,
    nTokens,
    nHeads: p.nHeads,
    nKvHeads: p.nKvHeads,
    headDim: p.headDim,
    blockSize: p.blockSize,
    nBlocks: p.nBlocks,
    maxBlocksPerSeq: p.maxBlocksPerSeq,
    nSeqs: p.lengths.length,
    ...(tileSize ? { tileSize } : {}),
    ...(keysPerInvocation ? { keysPerInvocation } : {}),
  });
  await runDispatches(ctx, [d]);
  const got = await readF32(ctx, outb, q.length);
  ctx.buffers.releaseOwner('test');
  return { q, got };
}

/** The contiguous reference: each query run through attentionRef over its own sequence's contiguous K/V. */
function contiguousRef(p: Paged, q: Float32Array, tokenSeq: number[], tokenPos: number[]): Float32Array {
  const n = p.nHeads * p.headDim;
  const out = new Float32Array(q.length);
  tokenSeq.forEach((s, t) => {
    const shape = { nTokens: 1, pos0: tokenPos[t]!, nHeads: p.nHeads, nKvHeads: p.nKvHeads, headDim: p.headDim };
    out.set(attentionRef(q.subarray(t * n, (t + 1) * n), p.kContig[s]!, p.vContig[s]!, shape), t * n);
  });
  return out;
}

describe('paged_attention', () => {
  it('declares the same uniform structs as its host module and gpu/kernels/step.ts', () => {
    expect(parseWgslStruct(PAGED_ATTENTION_SOURCE, 'PagedAttentionParams')).toEqual(PagedAttentionParams.fields.map(([f, t]) => [f, t]));
    expect(parseWgslStruct(PAGED_ATTENTION_SOURCE, 'StepParams')).toEqual(StepParams.fields.map(([f, t]) => [f, t]));
  });

  it('equals contiguous attention (≤ 1e-5 abs) on 60 random cases: block sizes, GQA, shuffled tables, prefill, decode, mixed, tile shapes', async () => {
    const ctx = await testGpu();
    const rand = seeded(20261124);
    const blockSizes = [1, 2, 3, 7, 16, 32, 128];
    const heads: [number, number][] = [[8, 4], [6, 2], [4, 1], [4, 4]];
    const headDims = [4, 8, 16, 32, 64];
    const tiles = [undefined, 32, 128];
    const keys = [undefined, 2, 3, 4]; // keys per invocation: tiles of 32 … 512 keys, some contexts spanning several
    const modes = ['prefill', 'decode', 'mixed'] as const;
    for (let i = 0; i < 60; i++) {
      const blockSize = blockSizes[i % blockSizes.length]!;
      const mode = modes[i % 3]!;
      const nSeqs = mode === 'prefill' ? randInt(rand, 1, 3) : randInt(rand, 1, 5);
      // Mostly short contexts (SwiftShader is slow), every fifth case up to 300 positions.
      const lengths = Array.from({ length: nSeqs }, () => (i % 5 === 0 ? randInt(rand, 100, 300) : randInt(rand, 1, 70)));
      const p = makePaged(rand, heads[i % heads.length]!, headDims[randInt(rand, 0, headDims.length - 1)]!, blockSize, lengths);
      const tokenSeq: number[] = [];
      const tokenPos: number[] = [];
      if (mode === 'prefill') {
        // T new tokens of one sequence (the others only share the pool), after a cached prefix of L − T.
        const s = randInt(rand, 0, nSeqs - 1);
        const L = lengths[s]!;
        const T = randInt(rand, 1, Math.min(L, 12));
        for (let t = 0; t < T; t++) {
          tokenSeq.push(s);
          tokenPos.push(L - T + t);
        }
      } else if (mode === 'decode') {
        // one query per sequence, at its end
        lengths.forEach((L, s) => {
          tokenSeq.push(s);
          tokenPos.push(L - 1);
        });
      } else {
        // several sequences' tokens interleaved, each at a random cached position
        const T = randInt(rand, 1, 10);
        for (let t = 0; t < T; t++) {
          const s = randInt(rand, 0, nSeqs - 1);
          tokenSeq.push(s);
          tokenPos.push(randInt(rand, 0, lengths[s]! - 1));
        }
      }
      const { q, got } = await runPaged(ctx, rand, p, tokenSeq, tokenPos, tiles[i % 3], keys[i % 4]);
      const want = contiguousRef(p, q, tokenSeq, tokenPos);
      const what = JSON.stringify({ i, mode, blockSize, lengths, tile: [tiles[i % 3], keys[i % 4]], heads: [p.nHeads, p.nKvHeads], headDim: p.headDim, tokenSeq, tokenPos });
      expect(maxAbsDiff(got, want), what).toBeLessThanOrEqual(1e-5);
      // The paged CPU reference (plain loops through the table) agrees with the contiguous one too.
      const shape = { nTokens: tokenSeq.length, nHeads: p.nHeads, nKvHeads: p.nKvHeads, headDim: p.headDim, blockSize, maxBlocksPerSeq: p.maxBlocksPerSeq };
      const ref = pagedAttentionRef(q, p.kPool, p.vPool, p.blockTables, Uint32Array.from(tokenSeq), Uint32Array.from(tokenPos), shape);
      expect(maxAbsDiff(ref, want), what).toBeLessThanOrEqual(1e-6);
    }
  });

  it('decodes 8 sequences of very different lengths in one dispatch, with a 128-float head', async () => {
    const ctx = await testGpu();
    const rand = seeded(8);
    const lengths = [1, 16, 17, 5, 300, 64, 2, 129];
    const p = makePaged(rand, [4, 2], 128, 16, lengths);
    const tokenSeq = lengths.map((_, s) => s);
    const tokenPos = lengths.map((L) => L - 1);
    for (const [tile, keys] of [[undefined, undefined], [256, 2], [64, 8]] as const) {
      const { q, got } = await runPaged(ctx, rand, p, tokenSeq, tokenPos, tile, keys);
      expect(maxAbsDiff(got, contiguousRef(p, q, tokenSeq, tokenPos)), `tile ${tile} × ${keys}`).toBeLessThanOrEqual(1e-5);
    }
  });

  it('skips queries at t >= step.nTokens and padding queries (tokenSeq >= nSeqs), leaving their output alone', async () => {
    const ctx = await testGpu();
    const rand = seeded(5);
    const p = makePaged(rand, [2, 1], 8, 4, [10, 6]);
    const n = p.nHeads * p.headDim;
    const tokenSeq = [1, 7 /* padding */, 0, 0];
    const tokenPos = [5, 0, 9, 3];
    const q = randArray(rand, 4 * n);
    const outb = storage(ctx, 'out', new Float32Array(4 * n).fill(7));
    const d = createPagedAttention(ctx, {
      label: 'paged_attention.short',
      step: stepUniform(ctx, 3), // prepared for 4 queries, run with 3
      q: storage(ctx, 'q', q),
      kPool: storage(ctx, 'kPool', p.kPool),
      vPool: storage(ctx, 'vPool', p.vPool),
      blockTables: storage(ctx, 'blockTables', p.blockTables),
      tokenSeq: storage(ctx, 'tokenSeq', Uint32Array.from(tokenSeq)),
      tokenPos: storage(ctx, 'tokenPos', Uint32Array.from(tokenPos)),
      out: outb,
      nTokens: 4,
      nHeads: p.nHeads,
      nKvHeads: p.nKvHeads,
      headDim: p.headDim,
      blockSize: p.blockSize,
      nBlocks: p.nBlocks,
      maxBlocksPerSeq: p.maxBlocksPerSeq,
      nSeqs: 2,
    });
    await runDispatches(ctx, [d]);
    const got = await readF32(ctx, outb, 4 * n);
    const want = contiguousRef(p, q, [1, 0, 0, 0], tokenPos); // rows 1 and 3 of this are not compared
    for (const t of [0, 2]) expect(maxAbsDiff(got.subarray(t * n, (t + 1) * n), want.subarray(t * n, (t + 1) * n))).toBeLessThanOrEqual(1e-5);
    for (const t of [1, 3]) expect([...got.subarray(t * n, (t + 1) * n)].every((x) => x === 7), `query ${t}`).toBe(true);
    ctx.buffers.releaseOwner('test');
  });

  it('rejects bad specs with a PagedAttentionSpecError before allocating anything', async () => {
    const ctx = await testGpu();
    const f32 = (n: number) => storage(ctx, 'buf', n * 4);
    const ok: PagedAttentionSpec = {
      label: 'bad',
      step: stepUniform(ctx, 2),
      q: f32(2 * 4 * 8), // [2, 4, 8]
      kPool: f32(6 * 4 * 2 * 8), // [6 blocks · 4 slots, 2 · 8]
      vPool: f32(6 * 4 * 2 * 8),
      blockTables: f32(3 * 2), // [3, 2] u32
      tokenSeq: f32(2),
      tokenPos: f32(2),
      out: f32(2 * 4 * 8),
      nTokens: 2,
      nHeads: 4,
      nKvHeads: 2,
      headDim: 8,
      blockSize: 4,
      nBlocks: 6,
      maxBlocksPerSeq: 2,
      nSeqs: 3,
    };
    expect(() => createPagedAttention(ctx, ok)).not.toThrow();
    const [smallV, shortPos, storageStep] = [f32(6 * 4 * 2 * 8 - 1), f32(1), f32(4)];
    const before = ctx.buffers.count;
    const bad: [Partial<PagedAttentionSpec>, string][] = [
      [{ nTokens: 0 }, 'nTokens'],
      [{ nKvHeads: 3 }, 'nKvHeads'],
      [{ headDim: 257 }, 'headDim'],
      [{ headDim: 6 }, 'headDim'], // not a multiple of 4
      [{ blockSize: 129 }, 'blockSize'],
      [{ blockSize: 0 }, 'blockSize'],
      [{ nBlocks: 7 }, 'kPool'],
      [{ vPool: smallV }, 'vPool'],
      [{ nSeqs: 4 }, 'blockTables'],
      [{ nTokens: 3 }, 'q'],
      [{ tokenPos: shortPos }, 'tokenPos'],
      [{ step: storageStep }, 'step'],
      [{ tileSize: 48 }, 'tileSize'],
      [{ keysPerInvocation: 0 }, 'keysPerInvocation'],
      [{ keysPerInvocation: 9 }, 'keysPerInvocation'],
    ];
    for (const [change, field] of bad) {
      let caught: unknown;
      try {
        createPagedAttention(ctx, { ...ok, ...change });
      } catch (err) {
        caught = err;
      }
      expect(caught, JSON.stringify(Object.keys(change))).toBeInstanceOf(PagedAttentionSpecError);
      expect((caught as PagedAttentionSpecError).field, JSON.stringify(Object.keys(change))).toBe(field);
    }
    expect(ctx.buffers.count).toBe(before);
    ctx.buffers.releaseOwner('test');
  });
});
