// Probes WebGPU for the engine: acquires a device through gpu/ and turns every way that can fail into a
// CapabilityReport the UI and the CLI can show — which case it is, and what the user can do about it.
// Imports gpu/ (device, errors) and types from workers/api.ts; never web/ or comlink.

import { acquireGpu, type AcquireOptions, type GpuContext } from '../../gpu/device.ts';
import { GpuError } from '../../gpu/errors.ts';
import type { CapabilityReport, WebGpuMissing } from '../api.ts';

/** What the user can do, per case. One sentence each, plain text (the CLI prints it too). */
export const WEBGPU_ADVICE: Record<WebGpuMissing, string> = {
  'insecure-context':
    'WebGPU only runs on secure pages: open the app over https:// or from http://localhost (as `npm run serve` does), not from a plain http:// address or a file:// URL.',
  'no-webgpu':
    'This browser has no WebGPU: use a recent Chrome or Edge (113 or newer; on Linux enable chrome://flags/#enable-unsafe-webgpu and #enable-vulkan), Safari 26, or Firefox 141+ on Windows.',
  'no-adapter':
    'WebGPU is present but offered no GPU adapter: turn on hardware acceleration in the browser settings, update the GPU driver, and check chrome://gpu; on a blocklisted GPU, Chrome can try chrome://flags/#enable-unsafe-webgpu.',
  'device-failed':
    'A GPU adapter was found but it refused to create a device: close other GPU-heavy tabs or apps, restart the browser, or update the GPU driver.',
};

function missing(code: WebGpuMissing, detail: string): { report: CapabilityReport; ctx: null } {
  return { report: { ok: false, code, message: `${detail} ${WEBGPU_ADVICE[code]}` }, ctx: null };
}

/**
 * Acquires a GPU device and reports what it can do. `gpu` is navigator.gpu in a Worker or Dawn's GPU object in
 * Node; `secureContext` is self.isSecureContext (true in Node). An insecure context is reported first, because
 * browsers hide navigator.gpu there and "no WebGPU" would send the user after the wrong fix.
 */
export async function probeCapabilities(
  gpu: GPU | undefined,
  secureContext: boolean,
  options: AcquireOptions = {},
): Promise<{ report: CapabilityReport; ctx: GpuContext | null }> {
  if (!secureContext) return missing('insecure-context', 'This page is not a secure context.');
  if (!gpu) return missing('no-webgpu', 'navigator.gpu is missing.');
  let ctx: GpuContext;
  try {
    ctx = await acquireGpu(gpu, { label: 'decode-lab', ...options });
  } catch (err) {
    if (err instanceof GpuError && (err.code === 'no-webgpu' || err.code === 'no-adapter' || err.code === 'device-failed')) {
      return missing(err.code, err.message);
    }
    // requestAdapter() itself can reject (e.g. a GPU process crash): the user's remedy is the same as for no adapter.
    return missing('no-adapter', `requestAdapter failed: ${(err as Error).message}.`);
  }
  const profiler = ctx.capabilities.timestampQuery ? 'timestamp' : 'cpu';
  return { report: { ok: true, capabilities: ctx.capabilities, profiler }, ctx };
}
