// Host module for the stream-read kernel (the device's achievable read bandwidth): pipeline, bindings, grid.
// Must not import from workers/ or web/.

import code from './stream.wgsl?raw';
import type { GpuContext } from '../../device.ts';
import { bindBuffers, grid1d, type Dispatch } from '../../dispatch.ts';
import { uniformStruct } from '../../uniforms.ts';

export const STREAM_SOURCE = code;
export const StreamParams = uniformStruct('StreamParams', [
  ['n4', 'u32'],
  ['workgroups', 'u32'],
] as const);

/** A stream spec that cannot work (bad size, too-small buffer). */
export class StreamSpecError extends Error {
  override readonly name = 'StreamSpecError';
  constructor(
    readonly label: string,
    readonly field: string,
    message: string,
  ) {
    super(`stream ${label}: ${message}`);
  }
}

export interface StreamReadSpec {
  label: string;
  src: GPUBuffer; // [n] f32, read once
  n: number; // elements, a multiple of 4
  out: GPUBuffer; // [workgroups] f32: each workgroup's sum
  /** Workgroups in the grid. Default: enough for ~16 vec4s per invocation, at most 4096 (plenty to fill a GPU). */
  workgroups?: number;
  workgroupSize?: number; // power of two, default 256
}

/** The grid createStreamRead uses for `n` elements: what the `out` buffer must hold. */
export function streamWorkgroups(n: number, workgroupSize = 256, workgroups?: number): number {
  return workgroups ?? Math.max(1, Math.min(4096, Math.ceil(n / 4 / workgroupSize / 16)));
}

export function createStreamRead(ctx: GpuContext, spec: StreamReadSpec): Dispatch {
  const { label, n } = spec;
  const fail = (field: string, message: string) => new StreamSpecError(label, field, message);
  const workgroupSize = spec.workgroupSize ?? 256;
  if (!Number.isInteger(n) || n < 4 || n % 4 !== 0) throw fail('n', `n must be a positive multiple of 4 (vec4 loads), got ${n}`);
  if (n / 4 >= 2 ** 31) throw fail('n', `n / 4 must be below 2^31, got ${n / 4}`);
  const maxInvocations = ctx.capabilities.limits.maxComputeInvocationsPerWorkgroup ?? 256;
  if (!Number.isInteger(Math.log2(workgroupSize)) || workgroupSize > maxInvocations) {
    throw fail('workgroupSize', `workgroupSize must be a power of two ≤ ${maxInvocations}, got ${workgroupSize}`);
  }
  const workgroups = streamWorkgroups(n, workgroupSize, spec.workgroups);
  if (!Number.isInteger(workgroups) || workgroups < 1) throw fail('workgroups', `workgroups must be a positive integer, got ${workgroups}`);
  if (spec.src.size < n * 4) throw fail('src', `src holds ${spec.src.size} bytes, but [${n}] f32 needs ${n * 4}`);
  if (spec.out.size < workgroups * 4) throw fail('out', `out holds ${spec.out.size} bytes, but [${workgroups}] f32 needs ${workgroups * 4}`);

  const pipeline = ctx.pipelines.get({ key: `stream_read_f32_wg${workgroupSize}`, code, constants: { WorkgroupSize: workgroupSize } });
  const params = ctx.allocateNow({
    label: `${label}.params`,
    owner: 'uniforms',
    size: StreamParams.size,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    data: new Uint8Array(StreamParams.pack({ n4: n / 4, workgroups })),
  });
  return { label, pipeline, bindGroup: bindBuffers(ctx, label, pipeline, [params, spec.src, spec.out]), workgroups: grid1d(workgroups) };
}
