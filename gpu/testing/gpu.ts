// Test helper: one Dawn device per test file, plus upload/download shorthands. Test-only.

import { acquireNodeGpu } from '../node.ts';
import type { GpuContext } from '../device.ts';
import { StepParams } from '../kernels/step.ts';

let shared: Promise<GpuContext> | undefined;

/** The test file's device. Fails (never skips) when no adapter is found. */
export function testGpu(): Promise<GpuContext> {
  shared ??= acquireNodeGpu({ label: 'test' });
  return shared;
}

export function storage(ctx: GpuContext, label: string, data: ArrayBufferView | number): GPUBuffer {
  const size = typeof data === 'number' ? data : data.byteLength;
  return ctx.allocateNow({
    label,
    owner: 'test',
    size,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    ...(typeof data === 'number' ? {} : { data }),
  });
}

export async function readF32(ctx: GpuContext, buffer: GPUBuffer, length: number): Promise<Float32Array> {
  return new Float32Array(await ctx.read(buffer, length * 4));
}

/** The shared StepParams uniform {nTokens, pos0} that position-dependent kernels bind. */
export function stepUniform(ctx: GpuContext, nTokens: number, pos0 = 0): GPUBuffer {
  return ctx.allocateNow({
    label: 'step',
    owner: 'test',
    size: StepParams.size,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    data: new Uint8Array(StepParams.pack({ nTokens, pos0 })),
  });
}
