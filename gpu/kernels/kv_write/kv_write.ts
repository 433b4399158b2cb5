// Host module for the paged KV write: pool[slots[t], :] = src[t, :] for each token of a pass, through the
// slot mapping the block manager computes. One kernel serves K and V and every layer (one dispatch each).
// Must not import from workers/ or web/.

import code from './kv_write.wgsl?raw';
import type { GpuContext } from '../../device.ts';
import { bindBuffers, grid1d, type Dispatch } from '../../dispatch.ts';
import { uniformStruct } from '../../uniforms.ts';
import { StepParams } from '../step.ts';

export const KV_WRITE_SOURCE = code;
export const KvWriteParams = uniformStruct('KvWriteParams', [
  ['nTokens', 'u32'],
  ['kvDim', 'u32'],
  ['nSlots', 'u32'],
] as const);

/** The slot value that means "no slot": a token with it writes nothing. */
export const NO_SLOT = 0xffffffff;

export interface KvWriteSpec {
  label: string; // e.g. "Llama.layers.3.kWrite"
  step: GPUBuffer; // StepParams uniform {nTokens, pos0}: rows t ≥ nTokens are skipped (pos0 unused)
  slots: GPUBuffer; // [T] u32 physical slot per token (block · blockSize + offset); ≥ nSlots = skipped
  src: GPUBuffer; // [T, kvDim] f32
  pool: GPUBuffer; // [nSlots, kvDim] f32
  nTokens: number; // T the grid is sized for
  kvDim: number; // nKvHeads · headDim
  nSlots: number; // nBlocks · blockSize
  workgroupSize?: number; // power of two, default 256
}

export function createKvWrite(ctx: GpuContext, spec: KvWriteSpec): Dispatch {
  const { label, nTokens, kvDim, nSlots } = spec;
  const workgroupSize = spec.workgroupSize ?? 256;
  for (const [name, v] of [['nTokens', nTokens], ['kvDim', kvDim], ['nSlots', nSlots]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${label}: kv_write needs ${name} >= 1, got ${v}`);
  }
  if (!Number.isInteger(Math.log2(workgroupSize)) || workgroupSize > (ctx.capabilities.limits.maxComputeInvocationsPerWorkgroup ?? 256)) {
    throw new RangeError(`${label}: workgroupSize ${workgroupSize} is not a power of two within this device's limits`);
  }
  if (nSlots * kvDim >= 2 ** 32) throw new RangeError(`${label}: [nSlots, kvDim] has 2^32 elements or more`);
  if (spec.step.size < StepParams.size || !(spec.step.usage & GPUBufferUsage.UNIFORM)) {
    throw new RangeError(`${label}: step must be a uniform buffer of at least ${StepParams.size} bytes (StepParams), got ${spec.step.size}`);
  }
  if (spec.slots.size < nTokens * 4) throw new RangeError(`${label}: slots holds ${spec.slots.size} bytes, needs ${nTokens * 4} ([${nTokens}] u32)`);
  if (spec.src.size < nTokens * kvDim * 4) throw new RangeError(`${label}: src holds ${spec.src.size} bytes, needs ${nTokens * kvDim * 4} ([${nTokens}, ${kvDim}] f32)`);
  if (spec.pool.size < nSlots * kvDim * 4) throw new RangeError(`${label}: pool holds ${spec.pool.size} bytes, needs ${nSlots * kvDim * 4} ([${nSlots}, ${kvDim}] f32)`);

  const pipeline = ctx.pipelines.get({ key: `kv_write_f32_wg${workgroupSize}`, code, constants: { WorkgroupSize: workgroupSize } });
  const params = ctx.allocateNow({
    label: `${label}.params`,
    owner: 'uniforms',
    size: KvWriteParams.size,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    data: new Uint8Array(KvWriteParams.pack({ nTokens, kvDim, nSlots })),
  });
  return {
    label,
    pipeline,
    bindGroup: bindBuffers(ctx, label, pipeline, [params, spec.step, spec.slots, spec.src, spec.pool]),
    workgroups: grid1d(Math.ceil((nTokens * kvDim) / workgroupSize)),
  };
}
