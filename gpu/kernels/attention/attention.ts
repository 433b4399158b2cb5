// Host module for causal grouped-query attention over the contiguous KV cache: validates the shapes, picks
// the pipeline specialised for the head size, and prepares a Dispatch that is made once and reused for every
// decode step (positions come from the StepParams uniform). Must not import from workers/ or web/.

import code from './attention.wgsl?raw';
import type { GpuContext } from '../../device.ts';
import { bindBuffers, grid1d, type Dispatch } from '../../dispatch.ts';
import { uniformStruct } from '../../uniforms.ts';
import { StepParams } from '../step.ts';

export const ATTENTION_SOURCE = code;
export const AttentionParams = uniformStruct('AttentionParams', [
  ['nTokens', 'u32'],
  ['nHeads', 'u32'],
  ['nKvHeads', 'u32'],
  ['maxSeqLen', 'u32'],
  ['scale', 'f32'],
] as const);

/** The largest head the kernel takes: q and the running output sit in workgroup memory, 2 KB at 256. */
export const MAX_HEAD_DIM = 256;

/** An attention spec that cannot work (bad shape, too-small buffer, head too large). */
export class AttentionSpecError extends Error {
  override readonly name = 'AttentionSpecError';
  constructor(
    readonly label: string,
    readonly field: string,
    message: string,
  ) {
    super(`attention ${label}: ${message}`);
  }
}

export interface AttentionSpec {
  label: string; // e.g. "Llama.layers.3.attention"
  step: GPUBuffer; // uniform StepParams {nTokens, pos0}, rewritten before each pass
  q: GPUBuffer; // [T, nHeads, headDim] f32
  kCache: GPUBuffer; // [maxSeqLen, nKvHeads, headDim] f32, positions 0 .. pos0 + T − 1 filled
  vCache: GPUBuffer; // [maxSeqLen, nKvHeads, headDim] f32
  out: GPUBuffer; // [T, nHeads, headDim] f32
  nTokens: number; // T: queries this dispatch covers (a pass may run fewer through step.nTokens)
  nHeads: number;
  nKvHeads: number; // divides nHeads; < nHeads is grouped-query attention
  headDim: number; // ≤ MAX_HEAD_DIM
  maxSeqLen: number; // rows in each cache
  /** Keys scored per block = invocations per workgroup: a power of two, 32..256. Default 64. */
  blockSize?: number;
}

function validate(ctx: GpuContext, spec: AttentionSpec): number {
  const fail = (field: string, message: string) => new AttentionSpecError(spec.label, field, message);
  for (const field of ['nTokens', 'nHeads', 'nKvHeads', 'headDim', 'maxSeqLen'] as const) {
    const v = spec[field];
    if (!Number.isInteger(v) || v < 1) throw fail(field, `${field} must be a positive integer, got ${v}`);
  }
  const { nTokens, nHeads, nKvHeads, headDim, maxSeqLen } = spec;
  if (nHeads % nKvHeads !== 0) throw fail('nKvHeads', `nHeads (${nHeads}) must be a multiple of nKvHeads (${nKvHeads})`);
  if (headDim > MAX_HEAD_DIM) throw fail('headDim', `headDim ${headDim} is over the kernel's maximum of ${MAX_HEAD_DIM}`);
  if (nTokens > maxSeqLen) throw fail('nTokens', `${nTokens} tokens cannot fit in a cache of maxSeqLen ${maxSeqLen}`);

  const { limits } = ctx.capabilities;
  const blockSize = spec.blockSize ?? 64;
  if (!Number.isInteger(Math.log2(blockSize)) || blockSize < 32 || blockSize > Math.min(256, limits.maxComputeInvocationsPerWorkgroup ?? 256)) {
    throw fail('blockSize', `blockSize must be a power of two from 32 to 256 within this device's limits, got ${blockSize}`);
  }
  if (spec.step.size < StepParams.size || !(spec.step.usage & GPUBufferUsage.UNIFORM)) {
    throw fail('step', `step must be a uniform buffer of at least ${StepParams.size} bytes (StepParams)`);
  }
  const maxBinding = limits.maxStorageBufferBindingSize ?? Infinity;
  const buffers = [
    ['q', spec.q, nTokens * nHeads * headDim, `[${nTokens}, ${nHeads}, ${headDim}]`],
    ['kCache', spec.kCache, maxSeqLen * nKvHeads * headDim, `[${maxSeqLen}, ${nKvHeads}, ${headDim}]`],
    ['vCache', spec.vCache, maxSeqLen * nKvHeads * headDim, `[${maxSeqLen}, ${nKvHeads}, ${headDim}]`],
    ['out', spec.out, nTokens * nHeads * headDim, `[${nTokens}, ${nHeads}, ${headDim}]`],
  ] as const;
  for (const [field, buffer, elements, shape] of buffers) {
    if (buffer.size < elements * 4) throw fail(field, `${field} holds ${buffer.size} bytes, but ${shape} f32 needs ${elements * 4}`);
    if (buffer.size > maxBinding) throw fail(field, `${field} is ${buffer.size} bytes, over this device's maxStorageBufferBindingSize (${maxBinding})`);
  }
  return blockSize;
}

export function createAttention(ctx: GpuContext, spec: AttentionSpec): Dispatch {
  const blockSize = validate(ctx, spec);
  const { nTokens, nHeads, nKvHeads, headDim, maxSeqLen } = spec;
  const pipeline = ctx.pipelines.get({
    key: `attention_online_f32_hd${headDim}_b${blockSize}`,
    code,
    constants: { HeadDim: headDim, BlockSize: blockSize },
  });
  const params = ctx.allocateNow({
    label: `${spec.label}.params`,
    owner: 'uniforms',
    size: AttentionParams.size,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    data: new Uint8Array(AttentionParams.pack({ nTokens, nHeads, nKvHeads, maxSeqLen, scale: 1 / Math.sqrt(headDim) })),
  });
  return {
    label: spec.label,
    pipeline,
    bindGroup: bindBuffers(ctx, spec.label, pipeline, [params, spec.step, spec.q, spec.kCache, spec.vCache, spec.out]),
    workgroups: grid1d(nTokens * nHeads), // one workgroup per (token, head)
  };
}
