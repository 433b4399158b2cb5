// Uploads a validated ModelWeights to GPU buffers, one labelled buffer per tensor ("Llama.layers.3.wq"),
// owned by "weights" in the buffer registry. Imports gpu/ (allocation) and model types; nothing from web/.

import type { GpuContext } from '../../gpu/device.ts';
import { expectedShapes, type ModelWeights } from './config.ts';

export interface UploadProgress {
  loadedBytes: number;
  totalBytes: number;
}

/** Every canonical tensor on the GPU. With tied embeddings, `output` is the same buffer as `tok_embeddings`. */
export type GpuWeights = Map<string, GPUBuffer>;

export async function uploadWeights(ctx: GpuContext, weights: ModelWeights, onProgress?: (p: UploadProgress) => void): Promise<GpuWeights> {
  const shapes = expectedShapes(weights.config);
  let totalBytes = 0;
  for (const name of shapes.keys()) totalBytes += weights.tensors.get(name)?.byteLength ?? 0;
  const out: GpuWeights = new Map();
  let loadedBytes = 0;
  try {
    for (const [name, shape] of shapes) {
      const data = weights.tensors.get(name);
      const elements = shape.reduce((a, b) => a * b, 1);
      if (!data || data.length !== elements) {
        throw new Error(`weights: tensor ${name} has ${data?.length ?? 0} elements, expected ${elements} (${shape.join('×')})`);
      }
      out.set(name, await ctx.allocate({ label: `Llama.${name}`, owner: 'weights', size: data.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, data }));
      loadedBytes += data.byteLength;
      onProgress?.({ loadedBytes, totalBytes });
    }
  } catch (err) {
    ctx.buffers.releaseOwner('weights'); // nothing half-loaded stays behind
    throw err;
  }
  if (weights.config.tiedEmbeddings) out.set('output', out.get('tok_embeddings')!);
  return out;
}

export function parameterCount(weights: ModelWeights): number {
  let n = 0;
  for (const t of weights.tensors.values()) n += t.length;
  return n;
}
