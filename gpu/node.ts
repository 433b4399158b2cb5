// Node entry to the gpu/ layer: the `webgpu` package (Dawn) as the GPU object, and the software fallback —
// the SwiftShader Vulkan driver that Debian's chromium ships — for machines with no GPU. Node-only: never
// imported by browser code.

import { existsSync } from 'node:fs';
import { GpuError } from './errors.ts';
import { acquireGpu, type AcquireOptions, type GpuContext } from './device.ts';

/** Debian's chromium ships SwiftShader (a CPU Vulkan driver) and a Vulkan loader in this folder. */
export const CHROMIUM_LIB_DIR = '/usr/lib/chromium';
export const SWIFTSHADER_ICD = `${CHROMIUM_LIB_DIR}/vk_swiftshader_icd.json`;

export interface VulkanEnvChoice {
  env: Record<string, string>;
  /** Human-readable: which driver was chosen and why. */
  note: string;
  software: boolean;
}

function hasHardwareGpu(): boolean {
  return existsSync('/dev/nvidiactl') || existsSync('/dev/dri/renderD128') || existsSync('/dev/kfd');
}

function hasSystemVulkanLoader(): boolean {
  return ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1', '/usr/lib/libvulkan.so.1', '/usr/local/lib/libvulkan.so.1'].some(existsSync);
}

/**
 * Decides the Vulkan environment Dawn should start with. A VK_ICD_FILENAMES (or VK_DRIVER_FILES) that the user
 * set is always respected, even when it points nowhere, so misconfiguration fails loudly. Without one, a
 * machine with no GPU gets SwiftShader. Returns null when nothing needs to change.
 */
export function chooseVulkanEnv(env: NodeJS.ProcessEnv = process.env): VulkanEnvChoice | null {
  const out: Record<string, string> = {};
  let note = '';
  let software = false;
  const userDriver = env.VK_ICD_FILENAMES ?? env.VK_DRIVER_FILES;
  if (!userDriver && !hasHardwareGpu() && existsSync(SWIFTSHADER_ICD)) {
    out.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    note = `no GPU found: using the SwiftShader software Vulkan driver (${SWIFTSHADER_ICD})`;
    software = true;
  } else if (userDriver && userDriver.includes('swiftshader')) {
    software = true;
  }
  const needsLoader = !hasSystemVulkanLoader() && existsSync(`${CHROMIUM_LIB_DIR}/libvulkan.so.1`);
  if (needsLoader && !(env.LD_LIBRARY_PATH ?? '').split(':').includes(CHROMIUM_LIB_DIR)) {
    out.LD_LIBRARY_PATH = [env.LD_LIBRARY_PATH, CHROMIUM_LIB_DIR].filter(Boolean).join(':');
    note += `${note ? '; ' : ''}no system Vulkan loader: using chromium's (${CHROMIUM_LIB_DIR}/libvulkan.so.1)`;
  }
  return Object.keys(out).length ? { env: out, note, software } : null;
}

// The Dawn instance lives as long as this reference does: if it were garbage-collected while a device is in
// use, Dawn would tear itself down under it (a crash, not an error). See the `webgpu` package's "Lifetime" note.
let dawnInstance: GPU | undefined;

/** Loads Dawn once and returns its GPU object, with the WebGPU globals (GPUBufferUsage, …) installed. */
export async function dawnGpu(): Promise<GPU> {
  if (dawnInstance) return dawnInstance;
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  // DECODE_LAB_DAWN_FLAGS: Dawn instance flags, space-separated (e.g. "enable-dawn-features=skip_validation"
  // to measure what WebGPU's validation costs per dispatch; benchmarks report the flags they ran with).
  dawnInstance = create(dawnFlags());
  return dawnInstance;
}

/** The Dawn flags this process asked for (DECODE_LAB_DAWN_FLAGS), [] by default. */
export function dawnFlags(): string[] {
  return (process.env.DECODE_LAB_DAWN_FLAGS ?? '').split(' ').filter(Boolean);
}

/** Drops the Dawn instance so the process can exit; call after every device is disposed. */
export function releaseDawn(): void {
  dawnInstance = undefined;
}

/** Acquires a device on Dawn; the error names the Vulkan driver setting so a bad one is easy to spot. */
export async function acquireNodeGpu(options: AcquireOptions = {}): Promise<GpuContext> {
  try {
    return await acquireGpu(await dawnGpu(), options);
  } catch (err) {
    if (err instanceof GpuError && err.code === 'no-adapter') {
      const driver = process.env.VK_ICD_FILENAMES ?? process.env.VK_DRIVER_FILES;
      const why = driver
        ? `VK_ICD_FILENAMES/VK_DRIVER_FILES is "${driver}"${existsSync(driver) ? '' : ', a file that does not exist'}`
        : `no Vulkan driver was found; install Debian's chromium (it ships SwiftShader at ${SWIFTSHADER_ICD}) or a GPU driver`;
      throw new GpuError('no-adapter', `Dawn found no WebGPU adapter: ${why}.`);
    }
    throw err;
  }
}
