// Bandwidth measurements: GB/s of one prepared dispatch (GPU timestamps when the device has them, else wall
// time), and a GEMV's read rate beside the stream kernel's over the same bytes — how close `linear` comes
// to the memory's limit. Must not import from workers/ or web/.

import type { GpuContext } from '../../device.ts';
import type { Dispatch } from '../../dispatch.ts';
import { Profiler, timeRepeated } from '../../profiler.ts';
import { median } from '../../stats.ts';
import { createLinear } from '../linear/linear.ts';
import { createStreamRead, streamWorkgroups } from './stream.ts';

export interface MeasureOptions {
  /** Reuse a profiler (else one is made and released here). */
  profiler?: Profiler;
  /**
   * Repeat the dispatch in one pass until the pass lasts at least this long (µs). Dawn quantizes timestamps
   * (to 2^16 ns ≈ 65.5 µs by default), so one dispatch of a few tens of µs cannot be timed on its own.
   */
  minPassUs?: number;
  maxIterations?: number; // cap on the repeats per pass
}

/**
 * The median rate, over `runs` passes, at which `dispatch` moves `bytes` per launch, in GB/s (10⁹ bytes per
 * second). Each pass repeats the dispatch enough times to last `minPassUs` (found by doubling first). With
 * `timestamp-query` the time is the pass's GPU time; without it, submit-to-done wall time. Repeats re-read
 * the same buffers, so for memory (not cache) bandwidth give it buffers well above the GPU's last-level
 * cache (an H100 has 50 MB of L2).
 */
export async function measureGbps(ctx: GpuContext, dispatch: Dispatch, bytes: number, runs: number, options: MeasureOptions = {}): Promise<number> {
  if (!Number.isInteger(runs) || runs < 1) throw new RangeError(`measureGbps: runs must be a positive integer, got ${runs}`);
  if (!(bytes > 0)) throw new RangeError(`measureGbps: bytes must be > 0, got ${bytes}`);
  const minPassUs = options.minPassUs ?? 2000;
  const maxIterations = options.maxIterations ?? 1024;
  const mark = ctx.buffers.mark();
  const profiler = options.profiler ?? new Profiler(ctx, 2);
  try {
    let iterations = 1;
    let us = await timeRepeated(ctx, profiler, [dispatch], iterations, `bench.${dispatch.label}`); // also the warm-up (pipeline, first touch)
    while (us < minPassUs && iterations < maxIterations) {
      iterations = Math.min(maxIterations, iterations * 2);
      us = await timeRepeated(ctx, profiler, [dispatch], iterations, `bench.${dispatch.label}`);
    }
    const rates: number[] = [];
    for (let r = 0; r < runs; r++) {
      const t = await timeRepeated(ctx, profiler, [dispatch], iterations, `bench.${dispatch.label}`);
      if (t > 0) rates.push((bytes * iterations) / (t * 1e3));
    }
    if (rates.length === 0) throw new Error(`measureGbps ${dispatch.label}: every run measured zero time`);
    return median(rates);
  } finally {
    if (!options.profiler) for (const b of ctx.buffers.since(mark)) ctx.buffers.release(b); // the profiler's resolve buffer
  }
}

export interface GemvBandwidth {
  gemvGbps: number; // W bytes per second of the T = 1 GEMV (x and y are too small to count)
  streamGbps: number; // the stream kernel over the same bytes
  fraction: number; // gemvGbps / streamGbps
  timing: 'timestamp' | 'cpu';
}

/** Times one big GEMV (createLinear, T = 1, 'store') on a [rows, cols] matrix and the stream kernel over the same bytes. */
export async function benchGemvBandwidth(ctx: GpuContext, opts: { rows: number; cols: number; runs: number }): Promise<GemvBandwidth> {
  const { rows, cols, runs } = opts;
  const n = rows * cols;
  const owner = 'bench.bandwidth';
  const mark = ctx.buffers.mark();
  try {
    // Non-zero, non-repeating data (a cheap LCG), so no compression or zero shortcut can flatter either kernel.
    const data = new Float32Array(n);
    for (let i = 0, s = 1; i < n; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      data[i] = s / 2 ** 32 - 0.5;
    }
    const storage = (label: string, size: number, init?: Float32Array) =>
      ctx.allocate({ label, owner, size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, ...(init ? { data: init } : {}) });
    const w = await storage('bench.w', n * 4, data); // [rows, cols] f32
    const x = await storage('bench.x', cols * 4, data.subarray(0, cols)); // [cols] f32
    const y = await storage('bench.y', rows * 4); // [rows] f32
    const out = await storage('bench.out', streamWorkgroups(n) * 4); // [workgroups] f32
    const gemv = createLinear(ctx, { label: 'bench.gemv', epilogue: 'store', x, w, y, n: rows, k: cols, nTokens: 1 });
    const stream = createStreamRead(ctx, { label: 'bench.stream', src: w, n, out });
    const profiler = new Profiler(ctx, 2);
    const gemvGbps = await measureGbps(ctx, gemv, n * 4, runs, { profiler });
    const streamGbps = await measureGbps(ctx, stream, n * 4, runs, { profiler });
    return { gemvGbps, streamGbps, fraction: gemvGbps / streamGbps, timing: profiler.mode };
  } finally {
    for (const b of ctx.buffers.since(mark)) ctx.buffers.release(b); // the bench's buffers and uniforms
  }
}
