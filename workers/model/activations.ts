// The forward pass's working memory: activation buffers sized for up to `maxTokens` tokens, and the
// contiguous KV cache, one K and one V buffer per layer. Owned by "activations" and "kv" in the registry.

import type { GpuContext } from '../../gpu/device.ts';
import { StepParams } from '../../gpu/kernels/step.ts';
import type { ModelConfig } from './config.ts';

export interface Activations {
  maxTokens: number;
  maxSeqs: number; // sequences one pass can carry (each gets its logits)
  maxOutputs: number; // logits rows one pass can return (≥ maxSeqs: speculative verification wants several per sequence)
  step: GPUBuffer; // uniform StepParams {nTokens, pos0}
  tokens: GPUBuffer; // [maxTokens] u32: this pass's token ids
  lastIndex: GPUBuffer; // [maxOutputs] u32: the token rows whose logits are wanted (each sequence's last, or more)
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
  last: GPUBuffer; // [R, dim] f32: the output rows, normalised
  logits: GPUBuffer; // [R, vocabSize] f32: the output rows' next-token logits
  argmax: GPUBuffer; // [R] u32: each output row's most likely token (greedy decoding reads back only these)
  // Paged KV only (tiny when unused):
  slots: GPUBuffer; // [T] u32: the physical KV slot each token's K/V is written to
  tokenSeq: GPUBuffer; // [T] u32: the block-table row of each token's sequence
  tokenPos: GPUBuffer; // [T] u32: each token's absolute position
}

/** The contiguous KV cache: every sequence position has its row, reserved up front for maxSeqLen. */
export interface ContiguousKv {
  mode: 'contiguous';
  maxSeqLen: number;
  k: GPUBuffer[]; // per layer: [maxSeqLen, nKvHeads·headDim] f32
  v: GPUBuffer[]; // per layer: [maxSeqLen, nKvHeads·headDim] f32
}

/**
 * The paged KV pool (PagedAttention): per layer one K and one V buffer of nBlocks·blockSize slots — the
 * issue's [nLayers][nBlocks][blockSize][nKvHeads][headDim], split by layer and K/V so each buffer stays
 * under the binding limit. Which slots a sequence owns is the block manager's business (workers/kv).
 */
export interface PagedKv {
  mode: 'paged';
  maxSeqLen: number;
  blockSize: number;
  nBlocks: number;
  maxBlocksPerSeq: number; // ceil(maxSeqLen / blockSize)
  maxSeqs: number; // rows of the block-table buffer
  blockTables: GPUBuffer; // [maxSeqs, maxBlocksPerSeq] u32; entries ≥ nBlocks mean "no block"
  k: GPUBuffer[]; // per layer: [nBlocks·blockSize, nKvHeads·headDim] f32
  v: GPUBuffer[]; // per layer: [nBlocks·blockSize, nKvHeads·headDim] f32
}

export type KvStorage = ContiguousKv | PagedKv;

// A function, not a constant: the WebGPU globals exist only once a GPU is acquired (Dawn installs them).
const storageUsage = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;

export function allocateActivations(ctx: GpuContext, c: ModelConfig, maxTokens: number, maxSeqs = 1, maxOutputs = maxSeqs): Activations {
  maxOutputs = Math.max(maxSeqs, maxOutputs);
  const f32 = (label: string, elements: number) => ctx.allocateNow({ label: `Llama.${label}`, owner: 'activations', size: 4 * elements, usage: storageUsage() });
  const qDim = c.nHeads * c.headDim;
  const kvDim = c.nKvHeads * c.headDim;
  return {
    maxTokens,
    maxSeqs,
    maxOutputs,
    step: ctx.allocateNow({ label: 'Llama.step', owner: 'activations', size: StepParams.size, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST }),
    tokens: f32('tokens', maxTokens),
    lastIndex: f32('lastIndex', maxOutputs),
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
    last: f32('last', maxOutputs * c.dim),
    logits: f32('logits', maxOutputs * c.vocabSize),
    argmax: f32('argmax', maxOutputs),
    slots: f32('slots', maxTokens),
    tokenSeq: f32('tokenSeq', maxTokens),
    tokenPos: f32('tokenPos', maxTokens),
  };
}

export function allocateContiguousKv(ctx: GpuContext, c: ModelConfig, maxSeqLen: number): ContiguousKv {
  const kvDim = c.nKvHeads * c.headDim;
  const make = (kind: 'k' | 'v', l: number) =>
    ctx.allocateNow({ label: `Llama.kv.${kind}.${l}`, owner: 'kv', size: 4 * maxSeqLen * kvDim, usage: storageUsage() });
  return {
    mode: 'contiguous',
    maxSeqLen,
    k: Array.from({ length: c.nLayers }, (_, l) => make('k', l)),
    v: Array.from({ length: c.nLayers }, (_, l) => make('v', l)),
  };
}

export interface PagedKvOptions {
  blockSize: number;
  nBlocks: number;
  maxSeqs: number;
}

export function allocatePagedKv(ctx: GpuContext, c: ModelConfig, maxSeqLen: number, o: PagedKvOptions): PagedKv {
  const kvDim = c.nKvHeads * c.headDim;
  const nSlots = o.nBlocks * o.blockSize;
  const make = (kind: 'k' | 'v', l: number) =>
    ctx.allocateNow({ label: `Llama.kvPool.${kind}.${l}`, owner: 'kv', size: 4 * nSlots * kvDim, usage: storageUsage() });
  const maxBlocksPerSeq = Math.ceil(maxSeqLen / o.blockSize);
  return {
    mode: 'paged',
    maxSeqLen,
    blockSize: o.blockSize,
    nBlocks: o.nBlocks,
    maxBlocksPerSeq,
    maxSeqs: o.maxSeqs,
    blockTables: ctx.allocateNow({ label: 'Llama.kvPool.blockTables', owner: 'kv', size: 4 * o.maxSeqs * maxBlocksPerSeq, usage: storageUsage() }),
    k: Array.from({ length: c.nLayers }, (_, l) => make('k', l)),
    v: Array.from({ length: c.nLayers }, (_, l) => make('v', l)),
  };
}

/** Bytes of KV cache one token takes in f32: nLayers × (K and V) × nKvHeads × headDim × 4. */
export function kvBytesPerToken(c: ModelConfig): number {
  return c.nLayers * 2 * c.nKvHeads * c.headDim * 4;
}
