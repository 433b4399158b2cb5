// Host module for the GEMV kernel: pipeline, bindings and dispatch math for y = W · x.
// Must not import from workers/ or web/.

import code from './gemv.wgsl?raw';
import type { GpuContext } from '../../device.ts';
import { bindBuffers, grid1d, type Dispatch } from '../../dispatch.ts';
import { uniformStruct } from '../../uniforms.ts';

export const GEMV_SOURCE = code;
export const GemvParams = uniformStruct('GemvParams', [
  ['rows', 'u32'],
  ['cols', 'u32'],
] as const);

export interface GemvSpec {
  label: string;
  rows: number;
  cols: number;
  w: GPUBuffer; // [rows, cols] f32
  x: GPUBuffer; // [cols] f32
  y: GPUBuffer; // [rows] f32
  workgroupSize?: number; // power of two, default 256
}

export function createGemv(ctx: GpuContext, spec: GemvSpec): Dispatch {
  const workgroupSize = spec.workgroupSize ?? 256;
  if (!Number.isInteger(Math.log2(workgroupSize))) throw new Error(`gemv: workgroupSize ${workgroupSize} is not a power of two`);
  const pipeline = ctx.pipelines.get({ key: `gemv_f32_wg${workgroupSize}`, code, constants: { WorkgroupSize: workgroupSize } });
  const params = ctx.allocateNow({
    label: `${spec.label}.params`,
    owner: 'uniforms',
    size: GemvParams.size,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    data: new Uint8Array(GemvParams.pack({ rows: spec.rows, cols: spec.cols })),
  });
  return {
    label: spec.label,
    pipeline,
    bindGroup: bindBuffers(ctx, spec.label, pipeline, [params, spec.w, spec.x, spec.y]),
    workgroups: grid1d(spec.rows),
  };
}
