// What the UI tells a user whose browser cannot run WebGPU: a title and concrete steps per case. Also the
// UI-side check (isSecureContext, navigator.gpu) made before any Worker is created. Imports only types.

import type { WebGpuMissing } from '../../workers/api.ts';

export interface WebGpuHelp {
  title: string;
  steps: string[];
}

export const WEBGPU_HELP: Record<WebGpuMissing, WebGpuHelp> = {
  'insecure-context': {
    title: 'This page is not a secure context, so the browser hides WebGPU',
    steps: [
      'Open the app over https://, or from http://localhost or http://127.0.0.1 (npm run serve prints such a URL).',
      'A plain http:// address of another machine, or a file:// URL, is never a secure context.',
    ],
  },
  'no-webgpu': {
    title: 'This browser has no WebGPU (navigator.gpu is missing)',
    steps: [
      'Use a recent Chrome or Edge (version 113 or newer) on Windows, macOS or ChromeOS, or Chrome 121+ on Android.',
      'On Linux, Chrome needs chrome://flags/#enable-unsafe-webgpu and chrome://flags/#enable-vulkan turned on.',
      'Safari 26 (macOS, iOS) and Firefox 141+ on Windows also ship WebGPU.',
    ],
  },
  'no-adapter': {
    title: 'WebGPU is present, but the browser offered no GPU adapter',
    steps: [
      'Turn on hardware acceleration (Chrome: Settings → System → "Use graphics acceleration when available") and restart the browser.',
      'Update your GPU driver; chrome://gpu shows whether WebGPU is hardware accelerated or blocklisted.',
      'For a blocklisted GPU, Chrome can try chrome://flags/#enable-unsafe-webgpu.',
    ],
  },
  'device-failed': {
    title: 'A GPU adapter was found, but it refused to create a device',
    steps: [
      'Close other GPU-heavy tabs or applications and reload.',
      'Restart the browser; if it keeps failing, update your GPU driver.',
    ],
  },
};

/** The check the UI makes before creating the Worker: null when WebGPU may be usable. */
export function missingWebGpu(secureContext: boolean, hasGpu: boolean): WebGpuMissing | null {
  if (!secureContext) return 'insecure-context'; // browsers hide navigator.gpu outside secure contexts
  if (!hasGpu) return 'no-webgpu';
  return null;
}
