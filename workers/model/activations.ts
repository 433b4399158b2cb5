// The forward pass's working memory: activation buffers sized for up to `maxTokens` tokens, and the
// contiguous KV cache, one K and one V buffer per layer. Owned by "activations" and "kv" in the registry.

import type { GpuContext } from '../../gpu/device.ts';
import { StepParams } from '../../gpu/kernels/step.ts';
import type { ModelConfig } from './config.ts';

export interface Activations {
  maxTokens: number;
  step: GPUBuffer; // uniform StepParams {nTokens, pos0}
  tokens: GPUBuffer; // [maxTokens] u32: this pass's token ids
  lastIndex: GPUBuffer; // [1] u32: T − 1, the row whose logits are wanted
  x: GPUBuffer; // [T, dim] f32: the residual stream
  xb: GPUBuffer; // [T, dim] f32: normalised input of a sublayer
  xb2: GPUBuffer; // [T, dim] f32: a sublayer's output before the residual add
  q: GPUBuffer; // [T, nHeads·headDim] f32
  k: GPUBuffer; // [T, nKvHeads·headDim] f32
  v: GPUBuffer; // [T, nKvHeads·headDim] f32
  att: GPUBuffer; // [T, nHeads·headDim] f32: attention output, before wo
  gate: GPUBuffer; // [T, hiddenDim] f32: w1·x
  up: GPUBuffer; // [T, hiddenDim] f32: w3·x
  hidden: GPUBuffer; // [T, hiddenDim] f32: SiLU(gate)·up
  last: GPUBuffer; // [1, dim] f32: the last token's normalised state
  logits: GPUBuffer; // [vocabSize] f32: the last token's logits
}

export interface KvCache {
  maxSeqLen: number;
  k: GPUBuffer[]; // per layer: [maxSeqLen, nKvHeads·headDim] f32
  v: GPUBuffer[]; // per layer: [maxSeqLen, nKvHeads·headDim] f32
}

// A function, not a constant: the WebGPU globals exist only once a GPU is acquired (Dawn installs them).
const storageUsage = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;

export function allocateActivations(ctx: GpuContext, c: ModelConfig, maxTokens: number): Activations {
  const f32 = (label: string, elements: number) => ctx.allocateNow({ label: `Llama.${label}`, owner: 'activations', size: 4 * elements, usage: storageUsage() });
  const qDim = c.nHeads * c.headDim;
  const kvDim = c.nKvHeads * c.headDim;
  return {
    maxTokens,
    step: ctx.allocateNow({ label: 'Llama.step', owner: 'activations', size: StepParams.size, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST }),
    tokens: f32('tokens', maxTokens),
    lastIndex: f32('lastIndex', 1),
    x: f32('x', maxTokens * c.dim),
    xb: f32('xb', maxTokens * c.dim),
    xb2: f32('xb2', maxTokens * c.dim),
    q: f32('q', maxTokens * qDim),
    k: f32('k', maxTokens * kvDim),
    v: f32('v', maxTokens * kvDim),
    att: f32('att', maxTokens * qDim),
    gate: f32('gate', maxTokens * c.hiddenDim),
    up: f32('up', maxTokens * c.hiddenDim),
    hidden: f32('hidden', maxTokens * c.hiddenDim),
    last: f32('last', c.dim),
    logits: f32('logits', c.vocabSize),
  };
}

export function allocateKvCache(ctx: GpuContext, c: ModelConfig, maxSeqLen: number): KvCache {
  const kvDim = c.nKvHeads * c.headDim;
  const make = (kind: 'k' | 'v', l: number) =>
    ctx.allocateNow({ label: `Llama.kv.${kind}.${l}`, owner: 'kv', size: 4 * maxSeqLen * kvDim, usage: storageUsage() });
  return {
    maxSeqLen,
    k: Array.from({ length: c.nLayers }, (_, l) => make('k', l)),
    v: Array.from({ length: c.nLayers }, (_, l) => make('v', l)),
  };
}

/** Bytes of KV cache one token takes in f32: nLayers × (K and V) × nKvHeads × headDim × 4. */
export function kvBytesPerToken(c: ModelConfig): number {
  return c.nLayers * 2 * c.nKvHeads * c.headDim * 4;
}
