// The GEMV smoke test: y = W · x for a seeded random W [rows, cols] and x [cols] on the GPU, compared with the
// plain-loops CPU reference. Proves the whole path (device, pipeline cache, dispatch, readback) really ran.
// Imports gpu/ and the engine's seeded Rng; never web/, comlink or gpu/testing.

import type { GpuContext } from '../../gpu/device.ts';
import { runDispatches } from '../../gpu/dispatch.ts';
import { createGemv } from '../../gpu/kernels/gemv/gemv.ts';
import { gemvRef } from '../../gpu/kernels/gemv/gemv.ref.ts';
import { Profiler } from '../../gpu/profiler.ts';
import type { GemvCheck } from '../api.ts';
import { Rng } from '../sampling/rng.ts';
import { relMaxError } from '../../gpu/compare.ts';

/** f32 accumulation over a few thousand terms stays well inside this; a broken kernel lands far outside. */
export const GEMV_TOLERANCE = 1e-4;
/** Keeps the check a smoke test: 4M weights (16 MiB) is seconds on SwiftShader, microseconds on a real GPU. */
export const GEMV_MAX_ELEMENTS = 4 * 1024 * 1024;
const SHOWN_OUTPUTS = 8;

export class GemvCheckError extends Error {
  override readonly name = 'GemvCheckError';
}

/** Checks the arguments before anything is allocated. */
export function validateGemvArgs(rows: number, cols: number, seed: number): void {
  for (const [name, v] of [['rows', rows], ['cols', cols]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new GemvCheckError(`gemv check: ${name} must be a positive integer, got ${v}`);
  }
  if (rows * cols > GEMV_MAX_ELEMENTS) {
    throw new GemvCheckError(`gemv check: ${rows}×${cols} = ${rows * cols} weights exceeds the check's limit of ${GEMV_MAX_ELEMENTS}`);
  }
  if (!Number.isFinite(seed)) throw new GemvCheckError(`gemv check: seed must be a finite number, got ${seed}`);
}

/** Uniform values in [-1, 1) from `rng`. */
function randomVector(rng: Rng, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.next() * 2 - 1;
  return out;
}


export { relMaxError };

export async function runGemvCheck(ctx: GpuContext, rows: number, cols: number, seed: number): Promise<GemvCheck> {
  validateGemvArgs(rows, cols, seed);
  const maxBinding = ctx.capabilities.limits.maxStorageBufferBindingSize ?? Infinity;
  if (rows * cols * 4 > maxBinding) {
    throw new GemvCheckError(`gemv check: W is ${rows * cols * 4} bytes, over this device's maxStorageBufferBindingSize (${maxBinding})`);
  }
  const rng = new Rng(seed);
  const w = randomVector(rng, rows * cols); // [rows, cols] f32
  const x = randomVector(rng, cols); // [cols] f32

  const mark = ctx.buffers.mark(); // everything made below is released at the end
  try {
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const wBuf = await ctx.allocate({ label: 'GemvCheck.w', owner: 'gemv-check', size: w.byteLength, usage, data: w }); // [rows, cols] f32
    const xBuf = await ctx.allocate({ label: 'GemvCheck.x', owner: 'gemv-check', size: x.byteLength, usage, data: x }); // [cols] f32
    const yBuf = await ctx.allocate({ label: 'GemvCheck.y', owner: 'gemv-check', size: rows * 4, usage }); // [rows] f32
    const dispatch = createGemv(ctx, { label: 'GemvCheck.gemv', rows, cols, w: wBuf, x: xBuf, y: yBuf });
    const profiler = new Profiler(ctx, 1);
    await runDispatches(ctx, [dispatch], 'GemvCheck', profiler);
    const [timing] = await profiler.collect();
    const got = new Float32Array(await ctx.read(yBuf, rows * 4)); // [rows] f32
    const maxRelError = relMaxError(got, gemvRef(w, x, rows, cols));
    return {
      rows,
      cols,
      seed,
      maxRelError,
      passed: maxRelError <= GEMV_TOLERANCE,
      gpuMs: (timing?.us ?? 0) / 1000,
      first: Array.from(got.subarray(0, SHOWN_OUTPUTS)),
    };
  } finally {
    for (const buffer of ctx.buffers.since(mark)) ctx.buffers.release(buffer);
  }
}
