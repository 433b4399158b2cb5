// Host module for the SwiGLU kernel: out = SiLU(gate) · up over n = T · hiddenDim f32 elements.
// Must not import from workers/ or web/.

import code from './swiglu.wgsl?raw';
import type { GpuContext } from '../../device.ts';
import { bindBuffers, grid1d, type Dispatch } from '../../dispatch.ts';
import { uniformStruct } from '../../uniforms.ts';

export const SWIGLU_SOURCE = code;
export const SwigluParams = uniformStruct('SwigluParams', [['n', 'u32']] as const);

export interface SwigluSpec {
  label: string;
  gate: GPUBuffer; // [T, hiddenDim] f32
  up: GPUBuffer; // [T, hiddenDim] f32
  out: GPUBuffer; // [T, hiddenDim] f32, distinct from gate and up
  n: number; // T · hiddenDim
  workgroupSize?: number; // power of two, default 256
}

export function createSwiglu(ctx: GpuContext, spec: SwigluSpec): Dispatch {
  const { label, n } = spec;
  const workgroupSize = spec.workgroupSize ?? 256;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${label}: swiglu needs n >= 1, got ${n}`);
  if (!Number.isInteger(Math.log2(workgroupSize))) throw new RangeError(`${label}: workgroupSize ${workgroupSize} is not a power of two`);
  if (spec.out === spec.gate || spec.out === spec.up) throw new RangeError(`${label}: out must be distinct from gate and up`);
  for (const [name, buffer] of [['gate', spec.gate], ['up', spec.up], ['out', spec.out]] as const) {
    if (buffer.size < n * 4) throw new RangeError(`${label}: ${name} holds ${buffer.size} bytes, needs ${n * 4} ([${n}] f32)`);
  }

  const pipeline = ctx.pipelines.get({ key: `swiglu_f32_wg${workgroupSize}`, code, constants: { WorkgroupSize: workgroupSize } });
  const params = ctx.allocateNow({
    label: `${label}.params`,
    owner: 'uniforms',
    size: SwigluParams.size,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    data: new Uint8Array(SwigluParams.pack({ n })),
  });
  return {
    label,
    pipeline,
    bindGroup: bindBuffers(ctx, label, pipeline, [params, spec.gate, spec.up, spec.out]),
    workgroups: grid1d(Math.ceil(n / workgroupSize)),
  };
}
