import { describe, expect, it } from 'vitest';
import { probeCapabilities, WEBGPU_ADVICE } from './capabilities.ts';

// Minimal stand-ins for navigator.gpu, enough for acquireGpu to reach each failure case.
function fakeAdapter(requestDevice: () => Promise<GPUDevice>): GPUAdapter {
  return { limits: { maxBufferSize: 1024 }, features: new Set<string>(), info: { vendor: 'fake' }, requestDevice } as unknown as GPUAdapter;
}
function fakeGpu(requestAdapter: () => Promise<GPUAdapter | null>): GPU {
  return { requestAdapter } as unknown as GPU;
}

describe('probeCapabilities', () => {
  it('reports an insecure context first, even when a GPU object exists', async () => {
    const gpu = fakeGpu(() => Promise.reject(new Error('must not be called')));
    const { report, ctx } = await probeCapabilities(gpu, false);
    expect(ctx).toBeNull();
    expect(report).toMatchObject({ ok: false, code: 'insecure-context' });
    expect(!report.ok && report.message).toContain('localhost');
  });

  it('reports no-webgpu when there is no GPU object, and says which browsers have it', async () => {
    const { report } = await probeCapabilities(undefined, true);
    expect(report).toMatchObject({ ok: false, code: 'no-webgpu' });
    expect(!report.ok && report.message).toContain('Chrome');
  });

  it('reports no-adapter when requestAdapter returns null or rejects', async () => {
    const nullAdapter = await probeCapabilities(fakeGpu(async () => null), true);
    expect(nullAdapter.report).toMatchObject({ ok: false, code: 'no-adapter' });
    expect(!nullAdapter.report.ok && nullAdapter.report.message).toContain('hardware acceleration');
    const rejected = await probeCapabilities(fakeGpu(() => Promise.reject(new Error('GPU process gone'))), true);
    expect(rejected.report).toMatchObject({ ok: false, code: 'no-adapter' });
    expect(!rejected.report.ok && rejected.report.message).toContain('GPU process gone');
  });

  it('reports device-failed with the browser’s reason when requestDevice rejects', async () => {
    const gpu = fakeGpu(async () => fakeAdapter(() => Promise.reject(new Error('limit too high'))));
    const { report, ctx } = await probeCapabilities(gpu, true);
    expect(ctx).toBeNull();
    expect(report).toMatchObject({ ok: false, code: 'device-failed' });
    expect(!report.ok && report.message).toContain('limit too high');
    expect(!report.ok && report.message).toContain(WEBGPU_ADVICE['device-failed']);
  });
});
