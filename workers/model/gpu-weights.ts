// Uploads a validated ModelWeights to GPU buffers, one labelled buffer per tensor ("Llama.layers.3.wq"),
// owned by "weights" in the buffer registry. Imports gpu/ (allocation) and model types; nothing from web/.

import type { GpuContext } from '../../gpu/device.ts';
import { expectedShapes, type ModelWeights } from './config.ts';
import { quantizeQ8 } from './quantize.ts';

export interface UploadProgress {
  loadedBytes: number;
  totalBytes: number;
}

/**
 * Every canonical tensor on the GPU. With tied embeddings, `output` is the same buffer as `tok_embeddings`.
 * An int8 copy has, for each matmul weight `name`, `name.q8` ([rows, cols/4] u32, four int8 per word) and
 * `name.q8scales` ([rows, cols/groupSize] f32) instead of the f32 tensor.
 */
export type GpuWeights = Map<string, GPUBuffer>;

export const Q8_SUFFIX = '.q8';
export const Q8_SCALES_SUFFIX = '.q8scales';

/** The int8 group size for rows of length k: 32 where it divides k, else the largest of 16, 8, 4 that does. */
export function q8GroupSizeFor(k: number): number {
  const g = [32, 16, 8, 4].find((size) => k % size === 0);
  if (g === undefined) throw new Error(`int8: a row of ${k} weights cannot be split into groups of 4`);
  return g;
}

/** The tensors an int8 copy quantizes: every Linear layer and the output head (not embeddings or norms). */
export function isMatmulWeight(name: string): boolean {
  return /^layers\.\d+\.(wq|wk|wv|wo|w1|w2|w3)$/.test(name) || name === 'output';
}

export interface UploadOptions {
  /** 'int8': per-group int8 matmul weights, dequantized inside the kernel (a speculative draft). */
  quantize?: 'int8';
}

export async function uploadWeights(ctx: GpuContext, weights: ModelWeights, onProgress?: (p: UploadProgress) => void, options: UploadOptions = {}): Promise<GpuWeights> {
  const shapes = new Map(expectedShapes(weights.config));
  const int8 = options.quantize === 'int8';
  // A tied head is quantized from the embedding table: it needs its own (int8) buffers.
  if (int8 && weights.config.tiedEmbeddings) shapes.set('output', shapes.get('tok_embeddings')!);
  const data = (name: string) => weights.tensors.get(name) ?? (name === 'output' && weights.config.tiedEmbeddings ? weights.tensors.get('tok_embeddings') : undefined);
  let totalBytes = 0;
  for (const name of shapes.keys()) totalBytes += data(name)?.byteLength ?? 0;
  const out: GpuWeights = new Map();
  const mark = ctx.buffers.mark(); // what this upload makes, and only that, is released if it fails
  let loadedBytes = 0;
  try {
    for (const [name, shape] of shapes) {
      const t = data(name);
      const elements = shape.reduce((a, b) => a * b, 1);
      if (!t || t.length !== elements) {
        throw new Error(`weights: tensor ${name} has ${t?.length ?? 0} elements, expected ${elements} (${shape.join('×')})`);
      }
      const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
      if (int8 && isMatmulWeight(name)) {
        const [rows, cols] = shape as [number, number];
        const q = quantizeQ8(t, rows, cols, q8GroupSizeFor(cols));
        out.set(name + Q8_SUFFIX, await ctx.allocate({ label: `Llama.${name}${Q8_SUFFIX}`, owner: 'weights', size: q.q.byteLength, usage, data: q.q }));
        out.set(name + Q8_SCALES_SUFFIX, await ctx.allocate({ label: `Llama.${name}${Q8_SCALES_SUFFIX}`, owner: 'weights', size: q.scales.byteLength, usage, data: q.scales }));
      } else {
        out.set(name, await ctx.allocate({ label: `Llama.${name}`, owner: 'weights', size: t.byteLength, usage, data: t }));
      }
      loadedBytes += t.byteLength;
      onProgress?.({ loadedBytes, totalBytes });
    }
  } catch (err) {
    for (const b of ctx.buffers.since(mark)) ctx.buffers.release(b); // nothing half-loaded stays behind; other models' weights stay
    throw err;
  }
  if (weights.config.tiedEmbeddings && !int8) out.set('output', out.get('tok_embeddings')!);
  return out;
}

export function parameterCount(weights: ModelWeights): number {
  let n = 0;
  for (const t of weights.tensors.values()) n += t.length;
  return n;
}
