// Host module for the argmax kernel: out[r] = argmax over x[r, :] (lowest index on ties), one workgroup per row.
// Must not import from workers/ or web/.

import code from './argmax.wgsl?raw';
import type { GpuContext } from '../../device.ts';
import { bindBuffers, grid1d, type Dispatch } from '../../dispatch.ts';
import { uniformStruct } from '../../uniforms.ts';

export const ARGMAX_SOURCE = code;
export const ArgmaxParams = uniformStruct('ArgmaxParams', [
  ['rows', 'u32'],
  ['n', 'u32'],
] as const);

export interface ArgmaxSpec {
  label: string;
  x: GPUBuffer; // [rows, n] f32, NaN-free
  out: GPUBuffer; // [rows] u32
  rows: number;
  n: number; // e.g. vocabSize
  workgroupSize?: number; // power of two, default 256
}

export function createArgmax(ctx: GpuContext, spec: ArgmaxSpec): Dispatch {
  const { label, rows, n } = spec;
  const workgroupSize = spec.workgroupSize ?? 256;
  for (const [name, v] of [['rows', rows], ['n', n]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${label}: argmax needs ${name} >= 1, got ${v}`);
  }
  if (n >= 0xffff_ffff) throw new RangeError(`${label}: argmax rows must be shorter than 2^32 - 1 (the shader's "none" marker)`);
  if (!Number.isInteger(Math.log2(workgroupSize))) throw new RangeError(`${label}: workgroupSize ${workgroupSize} is not a power of two`);
  if (spec.x.size < rows * n * 4) throw new RangeError(`${label}: x holds ${spec.x.size} bytes, needs ${rows * n * 4} ([${rows}, ${n}] f32)`);
  if (spec.out.size < rows * 4) throw new RangeError(`${label}: out holds ${spec.out.size} bytes, needs ${rows * 4} ([${rows}] u32)`);

  const pipeline = ctx.pipelines.get({ key: `argmax_f32_wg${workgroupSize}`, code, constants: { WorkgroupSize: workgroupSize } });
  const params = ctx.allocateNow({
    label: `${label}.params`,
    owner: 'uniforms',
    size: ArgmaxParams.size,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    data: new Uint8Array(ArgmaxParams.pack({ rows, n })),
  });
  return {
    label,
    pipeline,
    bindGroup: bindBuffers(ctx, label, pipeline, [params, spec.x, spec.out]),
    workgroups: grid1d(rows), // one workgroup per row
  };
}
