// A Dispatch is one prepared kernel launch: pipeline, bind group and grid, made once and encoded many times
// (no bind group is created per token). Helpers to size grids past the 65,535-per-dimension limit and to run
// a list of dispatches in one pass. Must not import from workers/ or web/.

import type { GpuContext } from './device.ts';
import type { Profiler } from './profiler.ts';

export interface Dispatch {
  readonly label: string; // e.g. "Llama.wq.3"
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
  readonly workgroups: readonly [number, number, number];
}

/** The largest per-dimension workgroup count WebGPU guarantees. */
export const MAX_WORKGROUPS_PER_DIM = 65_535;

/**
 * Spreads `count` workgroups over x and y when one dimension is not enough. Shaders recover the linear index
 * as `wid.x + wid.y * nwg.x` and return early past `count`.
 */
export function grid1d(count: number, maxPerDim = MAX_WORKGROUPS_PER_DIM): [number, number, number] {
  if (count <= maxPerDim) return [Math.max(1, count), 1, 1];
  const y = Math.ceil(count / maxPerDim);
  return [Math.ceil(count / y), y, 1];
}

/** Makes a bind group for `pipeline`'s group 0 from buffers in binding order. */
export function bindBuffers(ctx: GpuContext, label: string, pipeline: GPUComputePipeline, buffers: readonly GPUBuffer[]): GPUBindGroup {
  return ctx.device.createBindGroup({
    label,
    layout: pipeline.getBindGroupLayout(0),
    entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
}

export function encodeDispatch(pass: GPUComputePassEncoder, d: Dispatch): void {
  pass.setPipeline(d.pipeline);
  pass.setBindGroup(0, d.bindGroup);
  pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
}

/** Encodes `dispatches` into one compute pass, submits once and waits for the GPU to finish. */
export async function runDispatches(ctx: GpuContext, dispatches: readonly Dispatch[], label = 'run', profiler?: Profiler): Promise<void> {
  const encoder = ctx.device.createCommandEncoder({ label });
  const pass = encoder.beginComputePass(profiler ? profiler.passDescriptor(label) : { label });
  for (const d of dispatches) encodeDispatch(pass, d);
  pass.end();
  profiler?.resolve(encoder);
  ctx.device.queue.submit([encoder.finish()]);
  await ctx.device.queue.onSubmittedWorkDone();
}
