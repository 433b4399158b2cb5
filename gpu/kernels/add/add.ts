// Host module for the residual add kernel: x += y over n f32 elements, in place.
// Must not import from workers/ or web/.

import code from './add.wgsl?raw';
import type { GpuContext } from '../../device.ts';
import { bindBuffers, grid1d, type Dispatch } from '../../dispatch.ts';
import { uniformStruct } from '../../uniforms.ts';

export const ADD_SOURCE = code;
export const AddParams = uniformStruct('AddParams', [['n', 'u32']] as const);

export interface AddSpec {
  label: string;
  x: GPUBuffer; // [n] f32, read_write: receives x + y
  y: GPUBuffer; // [n] f32
  n: number;
  workgroupSize?: number; // power of two, default 256
}

export function createAdd(ctx: GpuContext, spec: AddSpec): Dispatch {
  const { label, n } = spec;
  const workgroupSize = spec.workgroupSize ?? 256;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${label}: add needs n >= 1, got ${n}`);
  if (!Number.isInteger(Math.log2(workgroupSize))) throw new RangeError(`${label}: workgroupSize ${workgroupSize} is not a power of two`);
  if (spec.x === spec.y) throw new RangeError(`${label}: x and y must be distinct buffers`);
  if (spec.x.size < n * 4) throw new RangeError(`${label}: x holds ${spec.x.size} bytes, needs ${n * 4} ([${n}] f32)`);
  if (spec.y.size < n * 4) throw new RangeError(`${label}: y holds ${spec.y.size} bytes, needs ${n * 4} ([${n}] f32)`);

  const pipeline = ctx.pipelines.get({ key: `add_f32_wg${workgroupSize}`, code, constants: { WorkgroupSize: workgroupSize } });
  const params = ctx.allocateNow({
    label: `${label}.params`,
    owner: 'uniforms',
    size: AddParams.size,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    data: new Uint8Array(AddParams.pack({ n })),
  });
  return {
    label,
    pipeline,
    bindGroup: bindBuffers(ctx, label, pipeline, [params, spec.x, spec.y]),
    workgroups: grid1d(Math.ceil(n / workgroupSize)),
  };
}
