// Host module for the row-per-invocation GEMV (y[t] = W · x[t] for a few tokens, short rows): pipeline,
// bindings and grid.
// Must not import from workers/ or web/.

import code from './gemv_rows.wgsl?raw';
import type { GpuContext } from '../../device.ts';
import { bindBuffers, grid1d, type Dispatch } from '../../dispatch.ts';
import { uniformStruct } from '../../uniforms.ts';

export const GEMV_ROWS_SOURCE = code;
export const GemvRowsParams = uniformStruct('GemvRowsParams', [
  ['rows', 'u32'],
  ['cols', 'u32'],
  ['nTokens', 'u32'],
] as const);

export interface GemvRowsSpec {
  label: string;
  rows: number;
  cols: number;
  w: GPUBuffer; // [rows, cols] f32
  x: GPUBuffer; // [nTokens, cols] f32
  y: GPUBuffer; // [nTokens, rows] f32
  nTokens?: number; // default 1
  workgroupSize?: number; // rows per workgroup, default 64
}

export function createGemvRows(ctx: GpuContext, spec: GemvRowsSpec): Dispatch {
  const workgroupSize = spec.workgroupSize ?? 64;
  if (!Number.isInteger(workgroupSize) || workgroupSize < 1 || workgroupSize > 256) {
    throw new RangeError(`gemv_rows ${spec.label}: workgroupSize ${workgroupSize} is not in 1..256`);
  }
  const pipeline = ctx.pipelines.get({ key: `gemv_rows_f32_wg${workgroupSize}`, code, constants: { WorkgroupSize: workgroupSize } });
  const params = ctx.allocateNow({
    label: `${spec.label}.params`,
    owner: 'uniforms',
    size: GemvRowsParams.size,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    data: new Uint8Array(GemvRowsParams.pack({ rows: spec.rows, cols: spec.cols, nTokens: spec.nTokens ?? 1 })),
  });
  return {
    label: spec.label,
    pipeline,
    bindGroup: bindBuffers(ctx, spec.label, pipeline, [params, spec.w, spec.x, spec.y]),
    workgroups: grid1d(Math.ceil((spec.rows * (spec.nTokens ?? 1)) / workgroupSize)),
  };
}
