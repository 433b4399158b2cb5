// Host module for paged attention: causal grouped-query attention over a block pool read through block
// tables, for a batch of sequences (decode) or a run of one sequence's tokens over its cached prefix (prefill).
// Validates the shapes, picks the pipeline specialised for head size and KV block size, and prepares a
// Dispatch made once and reused (token count from StepParams). Must not import from workers/ or web/.

import code from './paged_attention.wgsl?raw';
import type { GpuContext } from '../../device.ts';
import { bindBuffers, grid1d, type Dispatch } from '../../dispatch.ts';
import { uniformStruct } from '../../uniforms.ts';
import { StepParams } from '../step.ts';

export const PAGED_ATTENTION_SOURCE = code;
export const PagedAttentionParams = uniformStruct('PagedAttentionParams', [
  ['nTokens', 'u32'],
  ['nHeads', 'u32'],
  ['nKvHeads', 'u32'],
  ['nSeqs', 'u32'],
  ['maxBlocksPerSeq', 'u32'],
  ['nBlocks', 'u32'],
  ['scale', 'f32'],
] as const);

/** The largest head the kernel takes: q and the running output sit in workgroup memory, 2 KB at 256. */
export const MAX_HEAD_DIM = 256;
/** Most keys one invocation scores per tile. */
export const MAX_KEYS_PER_INVOCATION = 8;
/** The largest KV block (token slots per block) the kernel takes. */
export const MAX_KV_BLOCK_SIZE = 128;

/** A paged attention spec that cannot work (bad shape, too-small buffer, head or block too large). */
export class PagedAttentionSpecError extends Error {
  override readonly name = 'PagedAttentionSpecError';
  constructor(
    readonly label: string,
    readonly field: string,
    message: string,
  ) {
    super(`paged attention ${label}: ${message}`);
  }
}

export interface PagedAttentionSpec {
  label: string; // e.g. "Llama.layers.3.pagedAttention"
  step: GPUBuffer; // uniform StepParams {nTokens, pos0}: queries t ≥ nTokens are skipped (pos0 unused)
  q: GPUBuffer; // [T, nHeads, headDim] f32
  kPool: GPUBuffer; // [nBlocks · blockSize, nKvHeads · headDim] f32, one layer's keys by physical slot
  vPool: GPUBuffer; // [nBlocks · blockSize, nKvHeads · headDim] f32
  blockTables: GPUBuffer; // [nSeqs, maxBlocksPerSeq] u32 physical block ids; ≥ nBlocks = missing
  tokenSeq: GPUBuffer; // [T] u32: row of blockTables each query belongs to; ≥ nSeqs = padding (skipped)
  tokenPos: GPUBuffer; // [T] u32: absolute position of each query (it sees keys 0..pos)
  out: GPUBuffer; // [T, nHeads, headDim] f32
  nTokens: number; // T: queries this dispatch covers
  nHeads: number;
  nKvHeads: number; // divides nHeads; < nHeads is grouped-query attention
  headDim: number; // ≤ MAX_HEAD_DIM
  blockSize: number; // token slots per KV block, 1..MAX_KV_BLOCK_SIZE
  nBlocks: number; // physical blocks in each pool
  maxBlocksPerSeq: number; // columns of blockTables
  nSeqs: number; // rows of blockTables
  /** Invocations per workgroup: a power of two, 32..256. Default 64. */
  tileSize?: number;
  /** Keys each invocation scores per tile (a tile is tileSize × this many keys), 1..8. Default 1. */
  keysPerInvocation?: number;
}

function validate(ctx: GpuContext, spec: PagedAttentionSpec): { tileSize: number; keys: number } {
  const fail = (field: string, message: string) => new PagedAttentionSpecError(spec.label, field, message);
  for (const field of ['nTokens', 'nHeads', 'nKvHeads', 'headDim', 'blockSize', 'nBlocks', 'maxBlocksPerSeq', 'nSeqs'] as const) {
    const v = spec[field];
    if (!Number.isInteger(v) || v < 1) throw fail(field, `${field} must be a positive integer, got ${v}`);
  }
  const { nTokens, nHeads, nKvHeads, headDim, blockSize, nBlocks, maxBlocksPerSeq, nSeqs } = spec;
  if (nHeads % nKvHeads !== 0) throw fail('nKvHeads', `nHeads (${nHeads}) must be a multiple of nKvHeads (${nKvHeads})`);
  if (headDim > MAX_HEAD_DIM) throw fail('headDim', `headDim ${headDim} is over the kernel's maximum of ${MAX_HEAD_DIM}`);
  if (headDim % 4 !== 0) throw fail('headDim', `headDim ${headDim} must be a multiple of 4 (keys and values are read as vec4)`);
  if (blockSize > MAX_KV_BLOCK_SIZE) throw fail('blockSize', `blockSize ${blockSize} is over the kernel's maximum of ${MAX_KV_BLOCK_SIZE}`);
  const kvDim = nKvHeads * headDim;
  if (nBlocks * blockSize * kvDim >= 2 ** 32) throw fail('nBlocks', `a pool of ${nBlocks} blocks × ${blockSize} slots × ${kvDim} floats has 2^32 elements or more`);

  const { limits } = ctx.capabilities;
  const tileSize = spec.tileSize ?? 64;
  if (!Number.isInteger(Math.log2(tileSize)) || tileSize < 32 || tileSize > Math.min(256, limits.maxComputeInvocationsPerWorkgroup ?? 256)) {
    throw fail('tileSize', `tileSize must be a power of two from 32 to 256 within this device's limits, got ${tileSize}`);
  }
  const keys = spec.keysPerInvocation ?? 1;
  if (!Number.isInteger(keys) || keys < 1 || keys > MAX_KEYS_PER_INVOCATION) throw fail('keysPerInvocation', `keysPerInvocation must be an integer from 1 to ${MAX_KEYS_PER_INVOCATION}, got ${keys}`);
  // probs and rows hold a whole tile in workgroup memory, beside q, acc, two TileSize f32 scratch arrays and
  // the value step's TileSize vec4 partial sums.
  const shared = 4 * (2 * tileSize * keys + 2 * headDim + 2 * tileSize + 4 * tileSize);
  if (shared > (limits.maxComputeWorkgroupStorageSize ?? 16_384)) throw fail('keysPerInvocation', `a tile of ${tileSize} × ${keys} keys needs ${shared} bytes of workgroup memory, over this device's ${limits.maxComputeWorkgroupStorageSize}`);
  if (spec.step.size < StepParams.size || !(spec.step.usage & GPUBufferUsage.UNIFORM)) {
    throw fail('step', `step must be a uniform buffer of at least ${StepParams.size} bytes (StepParams)`);
  }
  const maxBinding = limits.maxStorageBufferBindingSize ?? Infinity;
  const nSlots = nBlocks * blockSize;
  const buffers = [
    ['q', spec.q, nTokens * nHeads * headDim, `[${nTokens}, ${nHeads}, ${headDim}] f32`],
    ['kPool', spec.kPool, nSlots * kvDim, `[${nSlots}, ${kvDim}] f32`],
    ['vPool', spec.vPool, nSlots * kvDim, `[${nSlots}, ${kvDim}] f32`],
    ['blockTables', spec.blockTables, nSeqs * maxBlocksPerSeq, `[${nSeqs}, ${maxBlocksPerSeq}] u32`],
    ['tokenSeq', spec.tokenSeq, nTokens, `[${nTokens}] u32`],
    ['tokenPos', spec.tokenPos, nTokens, `[${nTokens}] u32`],
    ['out', spec.out, nTokens * nHeads * headDim, `[${nTokens}, ${nHeads}, ${headDim}] f32`],
  ] as const;
  for (const [field, buffer, elements, shape] of buffers) {
    if (buffer.size < elements * 4) throw fail(field, `${field} holds ${buffer.size} bytes, but ${shape} needs ${elements * 4}`);
    if (buffer.size > maxBinding) throw fail(field, `${field} is ${buffer.size} bytes, over this device's maxStorageBufferBindingSize (${maxBinding})`);
  }
  return { tileSize, keys };
}

export function createPagedAttention(ctx: GpuContext, spec: PagedAttentionSpec): Dispatch {
  const { tileSize, keys } = validate(ctx, spec);
  const { nTokens, nHeads, nKvHeads, headDim, blockSize, nBlocks, maxBlocksPerSeq, nSeqs } = spec;
  const pipeline = ctx.pipelines.get({
    key: `paged_attention_online_f32_hd${headDim}_t${tileSize}x${keys}_kvb${blockSize}`,
    code,
    constants: { HeadDim: headDim, TileSize: tileSize, KeysPerInvocation: keys, KvBlockSize: blockSize },
  });
  const params = ctx.allocateNow({
    label: `${spec.label}.params`,
    owner: 'uniforms',
    size: PagedAttentionParams.size,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    data: new Uint8Array(PagedAttentionParams.pack({ nTokens, nHeads, nKvHeads, nSeqs, maxBlocksPerSeq, nBlocks, scale: 1 / Math.sqrt(headDim) })),
  });
  const buffers = [params, spec.step, spec.q, spec.kPool, spec.vPool, spec.blockTables, spec.tokenSeq, spec.tokenPos, spec.out];
  return {
    label: spec.label,
    pipeline,
    bindGroup: bindBuffers(ctx, spec.label, pipeline, buffers),
    workgroups: grid1d(nTokens * nHeads), // one workgroup per (token, head)
  };
}
