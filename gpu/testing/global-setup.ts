// Vitest global setup for the GPU tier: prove an adapter exists before any GPU test runs, and fail the
// whole tier with a clear message — never skip — when there is none.

import { acquireNodeGpu } from '../node.ts';

export default async function setup(): Promise<void> {
  const ctx = await acquireNodeGpu({ label: 'gpu-tier-probe' }).catch((err: Error) => {
    throw new Error(`GPU tier: no WebGPU adapter, so no GPU test can run. ${err.message}`);
  });
  const { adapter } = ctx.capabilities;
  console.log(`GPU tier on: ${[adapter.vendor, adapter.architecture, adapter.description].filter(Boolean).join(' / ') || 'unknown adapter'}`);
  ctx.dispose();
}
