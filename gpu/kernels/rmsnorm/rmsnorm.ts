// Host module for the RMSNorm kernel: out[t, :] = x[t, :] / rms(x[t, :]) · weight, one workgroup per row.
// Must not import from workers/ or web/.

import code from './rmsnorm.wgsl?raw';
import type { GpuContext } from '../../device.ts';
import { bindBuffers, grid1d, type Dispatch } from '../../dispatch.ts';
import { uniformStruct } from '../../uniforms.ts';

export const RMSNORM_SOURCE = code;
export const RmsNormParams = uniformStruct('RmsNormParams', [
  ['nTokens', 'u32'],
  ['dim', 'u32'],
  ['eps', 'f32'],
] as const);

export interface RmsNormSpec {
  label: string;
  x: GPUBuffer; // [T, dim] f32
  weight: GPUBuffer; // [dim] f32
  out: GPUBuffer; // [T, dim] f32, a different buffer from x
  nTokens: number; // T
  dim: number;
  eps: number; // e.g. 1e-5
  workgroupSize?: number; // power of two, default 256
}

export function createRmsNorm(ctx: GpuContext, spec: RmsNormSpec): Dispatch {
  const { label, nTokens, dim, eps } = spec;
  const workgroupSize = spec.workgroupSize ?? 256;
  for (const [name, v] of [['nTokens', nTokens], ['dim', dim]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${label}: rmsnorm needs ${name} >= 1, got ${v}`);
  }
  if (!(eps >= 0 && Number.isFinite(eps))) throw new RangeError(`${label}: rmsnorm needs a finite eps >= 0, got ${eps}`);
  if (!Number.isInteger(Math.log2(workgroupSize))) throw new RangeError(`${label}: workgroupSize ${workgroupSize} is not a power of two`);
  if (spec.out === spec.x) throw new RangeError(`${label}: out must be a different buffer from x (WebGPU cannot bind one buffer as read and read_write)`);
  if (spec.x.size < nTokens * dim * 4) throw new RangeError(`${label}: x holds ${spec.x.size} bytes, needs ${nTokens * dim * 4} ([${nTokens}, ${dim}] f32)`);
  if (spec.weight.size < dim * 4) throw new RangeError(`${label}: weight holds ${spec.weight.size} bytes, needs ${dim * 4} ([${dim}] f32)`);
  if (spec.out.size < nTokens * dim * 4) throw new RangeError(`${label}: out holds ${spec.out.size} bytes, needs ${nTokens * dim * 4} ([${nTokens}, ${dim}] f32)`);

  const pipeline = ctx.pipelines.get({ key: `rmsnorm_f32_wg${workgroupSize}`, code, constants: { WorkgroupSize: workgroupSize } });
  const params = ctx.allocateNow({
    label: `${label}.params`,
    owner: 'uniforms',
    size: RmsNormParams.size,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    data: new Uint8Array(RmsNormParams.pack({ nTokens, dim, eps })),
  });
  return {
    label,
    pipeline,
    bindGroup: bindBuffers(ctx, label, pipeline, [params, spec.x, spec.weight, spec.out]),
    workgroups: grid1d(nTokens), // one workgroup per row
  };
}
