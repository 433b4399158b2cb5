import { afterAll, describe, expect, it } from 'vitest';
import { dawnGpu } from '../../gpu/node.ts';
import type { GpuContext } from '../../gpu/device.ts';
import { probeCapabilities } from './capabilities.ts';

describe('probeCapabilities on Dawn', () => {
  let ctx: GpuContext | null = null;
  afterAll(() => ctx?.dispose());

  it('returns an ok report with adapter, features and raised limits, and the live context', async () => {
    const probed = await probeCapabilities(await dawnGpu(), true);
    ctx = probed.ctx;
    expect(probed.report.ok).toBe(true);
    if (!probed.report.ok || !ctx) throw new Error('unreachable');
    const { capabilities, profiler } = probed.report;
    expect(capabilities.adapter.vendor.length).toBeGreaterThan(0);
    expect(capabilities.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024);
    expect(profiler).toBe(capabilities.timestampQuery ? 'timestamp' : 'cpu');
    expect(ctx.capabilities).toBe(capabilities);
    // The report crosses a Worker boundary: it must survive structured cloning unchanged.
    expect(structuredClone(probed.report)).toEqual(probed.report);
  });
});
