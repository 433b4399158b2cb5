// Host module for the KV append kernel: cache[pos0 + t, :] = src[t, :], pos0 read from the StepParams uniform.
// One kernel serves K and V (two dispatches). Must not import from workers/ or web/.

import code from './kv_append.wgsl?raw';
import type { GpuContext } from '../../device.ts';
import { bindBuffers, grid1d, type Dispatch } from '../../dispatch.ts';
import { uniformStruct } from '../../uniforms.ts';
import { StepParams } from '../step.ts';

export const KV_APPEND_SOURCE = code;
export const KvAppendParams = uniformStruct('KvAppendParams', [
  ['nTokens', 'u32'],
  ['kvDim', 'u32'],
  ['maxSeqLen', 'u32'],
] as const);

export interface KvAppendSpec {
  label: string;
  step: GPUBuffer; // StepParams uniform {nTokens, pos0}, written by the caller per forward pass
  src: GPUBuffer; // [T, kvDim] f32
  cache: GPUBuffer; // [maxSeqLen, kvDim] f32
  nTokens: number; // T the grid is sized for; a pass with step.nTokens < T appends only step.nTokens rows
  kvDim: number; // nKvHeads · headDim
  maxSeqLen: number;
  workgroupSize?: number; // power of two, default 256
}

export function createKvAppend(ctx: GpuContext, spec: KvAppendSpec): Dispatch {
  const { label, nTokens, kvDim, maxSeqLen } = spec;
  const workgroupSize = spec.workgroupSize ?? 256;
  for (const [name, v] of [['nTokens', nTokens], ['kvDim', kvDim], ['maxSeqLen', maxSeqLen]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${label}: kv_append needs ${name} >= 1, got ${v}`);
  }
  if (!Number.isInteger(Math.log2(workgroupSize))) throw new RangeError(`${label}: workgroupSize ${workgroupSize} is not a power of two`);
  if (maxSeqLen * kvDim >= 2 ** 32) throw new RangeError(`${label}: [maxSeqLen, kvDim] has more than 2^32 elements`);
  if (spec.step.size < StepParams.size) throw new RangeError(`${label}: step holds ${spec.step.size} bytes, StepParams needs ${StepParams.size}`);
  if (spec.src.size < nTokens * kvDim * 4) throw new RangeError(`${label}: src holds ${spec.src.size} bytes, needs ${nTokens * kvDim * 4} ([${nTokens}, ${kvDim}] f32)`);
  if (spec.cache.size < maxSeqLen * kvDim * 4) {
    throw new RangeError(`${label}: cache holds ${spec.cache.size} bytes, needs ${maxSeqLen * kvDim * 4} ([${maxSeqLen}, ${kvDim}] f32)`);
  }

  const pipeline = ctx.pipelines.get({ key: `kv_append_f32_wg${workgroupSize}`, code, constants: { WorkgroupSize: workgroupSize } });
  const params = ctx.allocateNow({
    label: `${label}.params`,
    owner: 'uniforms',
    size: KvAppendParams.size,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    data: new Uint8Array(KvAppendParams.pack({ nTokens, kvDim, maxSeqLen })),
  });
  return {
    label,
    pipeline,
    bindGroup: bindBuffers(ctx, label, pipeline, [params, spec.step, spec.src, spec.cache]),
    workgroups: grid1d(Math.ceil((nTokens * kvDim) / workgroupSize)),
  };
}
