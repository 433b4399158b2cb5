// `decode-lab bench attention`: times decode attention (one query per sequence) over the contiguous KV cache
// and over the paged KV pool at equal context, with GPU timestamp queries, and prints the ratio per case
// (issue 5: paged ≤ 1.15× contiguous). Node-only.

import { acquireNodeGpu, releaseDawn } from '../../gpu/node.ts';
import type { GpuContext } from '../../gpu/device.ts';
import type { Dispatch } from '../../gpu/dispatch.ts';
import { Profiler, timeRepeated } from '../../gpu/profiler.ts';
import { StepParams } from '../../gpu/kernels/step.ts';
import { createAttention } from '../../gpu/kernels/attention/attention.ts';
import { createPagedAttention } from '../../gpu/kernels/paged_attention/paged_attention.ts';
import { parseFlags, UsageError } from '../args.ts';
import { median } from '../../gpu/stats.ts';

interface Shape {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
}

export interface AttentionBenchCase {
  shape: string; // e.g. "32/8x128": nHeads / nKvHeads × headDim
  context: number; // keys each query attends to
  batch: number; // sequences, one query each
  contiguousUs: number; // median µs per decode step: `batch` contiguous dispatches (one per sequence's cache)
  pagedUs: number; // the same work through the paged kernel, also one dispatch per sequence (like for like)
  pagedBatchedUs: number; // the paged kernel with all `batch` queries in one dispatch (what batching gains)
  ratio: number; // pagedUs / contiguousUs
  maxAbsDiff: number; // paged vs contiguous outputs on this device (sanity)
}


/** Cheap seeded fill (an LCG) in [−1, 1): the pools are large, and timing does not need a good generator. */
function fill(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    a[i] = x / 2 ** 31 - 1;
  }
  return a;
}

function buffer(ctx: GpuContext, label: string, data: Float32Array | Uint32Array | number, uniform = false): GPUBuffer {
  const size = typeof data === 'number' ? data : data.byteLength;
  const b = ctx.allocateNow({
    label,
    owner: 'bench',
    size,
    usage: (uniform ? GPUBufferUsage.UNIFORM : GPUBufferUsage.STORAGE) | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
  });
  if (typeof data !== 'number') ctx.device.queue.writeBuffer(b, 0, data.buffer, data.byteOffset, data.byteLength);
  return b;
}

async function benchCase(ctx: GpuContext, profiler: Profiler, shape: Shape, context: number, batch: number, blockSize: number, runs: number, iterations: number, tile: { tileSize?: number; keysPerInvocation?: number }): Promise<AttentionBenchCase> {
  const { nHeads, nKvHeads, headDim } = shape;
  const kvDim = nKvHeads * headDim;
  const qDim = nHeads * headDim;
  const step = buffer(ctx, 'bench.step', new Uint32Array(StepParams.pack({ nTokens: 1, pos0: context - 1 })), true);
  const q = fill(batch * qDim, 1);

  // Contiguous: one [context, kvDim] cache per sequence, one T = 1 dispatch per sequence.
  const k = fill(batch * context * kvDim, 2);
  const v = fill(batch * context * kvDim, 3);
  const contigOut: GPUBuffer[] = [];
  const contiguous: Dispatch[] = [];
  for (let s = 0; s < batch; s++) {
    const out = buffer(ctx, `bench.contig.out.${s}`, qDim * 4);
    contigOut.push(out);
    const rows = (a: Float32Array) => a.subarray(s * context * kvDim, (s + 1) * context * kvDim);
    contiguous.push(
      createAttention(ctx, {
        label: `bench.contig.${s}`,
        step,
        q: buffer(ctx, `bench.contig.q.${s}`, q.subarray(s * qDim, (s + 1) * qDim)),
        kCache: buffer(ctx, `bench.contig.k.${s}`, rows(k)),
        vCache: buffer(ctx, `bench.contig.v.${s}`, rows(v)),
        out,
        nTokens: 1,
        nHeads,
        nKvHeads,
        headDim,
        maxSeqLen: context,
      }),
    );
  }

  // Paged: the same keys and values scattered over a pool in a shuffled block order.
  const perSeq = Math.ceil(context / blockSize);
  const nBlocks = batch * perSeq;
  const order = Array.from({ length: nBlocks }, (_, i) => i);
  let x = 12345;
  for (let i = nBlocks - 1; i > 0; i--) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    const j = x % (i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const tables = Uint32Array.from(order); // [batch, perSeq]: sequence s's blocks are order[s·perSeq ..]
  const kPool = new Float32Array(nBlocks * blockSize * kvDim);
  const vPool = new Float32Array(nBlocks * blockSize * kvDim);
  for (let s = 0; s < batch; s++) {
    for (let j = 0; j < context; j++) {
      const slot = tables[s * perSeq + Math.floor(j / blockSize)]! * blockSize + (j % blockSize);
      const from = (s * context + j) * kvDim;
      kPool.set(k.subarray(from, from + kvDim), slot * kvDim);
      vPool.set(v.subarray(from, from + kvDim), slot * kvDim);
    }
  }
  const pools = { kPool: buffer(ctx, 'bench.paged.k', kPool), vPool: buffer(ctx, 'bench.paged.v', vPool), blockTables: buffer(ctx, 'bench.paged.tables', tables) };
  const common = { ...pools, ...tile, nHeads, nKvHeads, headDim, blockSize, nBlocks, maxBlocksPerSeq: perSeq, nSeqs: batch };
  const batchedOut = buffer(ctx, 'bench.paged.out', batch * qDim * 4);
  const batchStep = buffer(ctx, 'bench.paged.step', new Uint32Array(StepParams.pack({ nTokens: batch, pos0: 0 })), true);
  const pagedBatched = createPagedAttention(ctx, {
    ...common,
    label: 'bench.paged.batched',
    step: batchStep,
    q: buffer(ctx, 'bench.paged.q', q),
    tokenSeq: buffer(ctx, 'bench.paged.seq', Uint32Array.from({ length: batch }, (_, s) => s)),
    tokenPos: buffer(ctx, 'bench.paged.pos', new Uint32Array(batch).fill(context - 1)),
    out: batchedOut,
    nTokens: batch,
  });
  const pagedPerSeq: Dispatch[] = [];
  const pos = buffer(ctx, 'bench.paged.pos1', Uint32Array.of(context - 1));
  for (let s = 0; s < batch; s++) {
    pagedPerSeq.push(
      createPagedAttention(ctx, {
        ...common,
        label: `bench.paged.${s}`,
        step,
        q: buffer(ctx, `bench.paged.q.${s}`, q.subarray(s * qDim, (s + 1) * qDim)),
        tokenSeq: buffer(ctx, `bench.paged.seq.${s}`, Uint32Array.of(s)),
        tokenPos: pos,
        out: buffer(ctx, `bench.paged.out.${s}`, qDim * 4),
        nTokens: 1,
      }),
    );
  }

  const times = { contiguous: [] as number[], paged: [] as number[], batched: [] as number[] };
  for (let r = -2; r < runs; r++) {
    // Interleaved, so drift in clocks or temperature touches all three alike; runs −2 and −1 are warm-up.
    const c = (await timeRepeated(ctx, profiler, contiguous, iterations, 'bench.attention')) / iterations;
    const p = (await timeRepeated(ctx, profiler, pagedPerSeq, iterations, 'bench.attention')) / iterations;
    const b = (await timeRepeated(ctx, profiler, [pagedBatched], iterations, 'bench.attention')) / iterations;
    if (r >= 0) {
      times.contiguous.push(c);
      times.paged.push(p);
      times.batched.push(b);
    }
  }

  let maxAbsDiff = 0;
  const batched = new Float32Array(await ctx.read(batchedOut, batch * qDim * 4));
  for (let s = 0; s < batch; s++) {
    const want = new Float32Array(await ctx.read(contigOut[s]!, qDim * 4));
    for (let i = 0; i < qDim; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(want[i]! - batched[s * qDim + i]!));
  }
  ctx.buffers.releaseOwner('bench');
  const contiguousUs = median(times.contiguous);
  const pagedUs = median(times.paged);
  const round = (n: number, digits = 2) => Number(n.toFixed(digits));
  return {
    shape: `${nHeads}/${nKvHeads}x${headDim}`,
    context,
    batch,
    contiguousUs: round(contiguousUs),
    pagedUs: round(pagedUs),
    pagedBatchedUs: round(median(times.batched)),
    ratio: round(pagedUs / contiguousUs, 3),
    maxAbsDiff,
  };
}

export async function benchAttention(argv: string[]): Promise<number> {
  const f = parseFlags(argv, { runs: 'number', iterations: 'number', 'block-size': 'number', contexts: 'string', batches: 'string', 'tile-size': 'number', keys: 'number', json: 'boolean' });
  // The paged kernel's tile: invocations per workgroup, and keys each scores per tile (defaults: 64 and 1).
  const tile = { ...(f['tile-size'] ? { tileSize: f['tile-size'] } : {}), ...(f.keys ? { keysPerInvocation: f.keys } : {}) };
  const runs = f.runs ?? 7;
  const iterations = f.iterations ?? 50;
  const blockSize = f['block-size'] ?? 16;
  const list = (s: string | undefined, dflt: number[]) => (s ? s.split(',').map(Number) : dflt);
  const contexts = list(f.contexts, [512, 2048, 4096]);
  const batches = list(f.batches, [1, 8]);
  if (runs < 1 || iterations < 1) throw new UsageError('--runs and --iterations must be ≥ 1');
  if (!Number.isInteger(blockSize) || blockSize < 1 || blockSize > 128) throw new UsageError('--block-size must be an integer from 1 to 128');
  if ([...contexts, ...batches].some((n) => !Number.isInteger(n) || n < 1)) throw new UsageError('--contexts and --batches take comma-separated positive integers');
  const shapes: Shape[] = [
    { nHeads: 32, nKvHeads: 8, headDim: 128 }, // a Llama-3-8B-like layer
    { nHeads: 8, nKvHeads: 2, headDim: 32 }, // the bundled default target
  ];
  const ctx = await acquireNodeGpu({ label: 'bench.attention' });
  const profiler = new Profiler(ctx, 4);
  const cases: AttentionBenchCase[] = [];
  for (const shape of shapes) for (const context of contexts) for (const batch of batches) cases.push(await benchCase(ctx, profiler, shape, context, batch, blockSize, runs, iterations, tile));
  const result = { device: ctx.capabilities.adapter, timing: profiler.mode, blockSize, tile, runs, iterations, cases };
  if (f.json) process.stdout.write(JSON.stringify(result) + '\n');
  else {
    const { vendor, architecture, description } = ctx.capabilities.adapter;
    process.stdout.write(`${description || `${vendor} ${architecture}`} (${profiler.mode} timing), block size ${blockSize}, median of ${runs} passes of ${iterations}\n`);
    process.stdout.write('shape        context batch  contiguous µs  paged µs  ratio  paged batched µs\n');
    for (const c of cases) {
      process.stdout.write(
        `${c.shape.padEnd(12)} ${String(c.context).padStart(7)} ${String(c.batch).padStart(5)} ${c.contiguousUs.toFixed(2).padStart(14)} ${c.pagedUs.toFixed(2).padStart(9)} ${c.ratio.toFixed(3).padStart(6)} ${c.pagedBatchedUs.toFixed(2).padStart(17)}\n`,
      );
    }
  }
  ctx.dispose();
  releaseDawn();
  return 0;
}
