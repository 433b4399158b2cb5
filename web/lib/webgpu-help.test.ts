import { describe, expect, it } from 'vitest';
import { missingWebGpu, WEBGPU_HELP } from './webgpu-help.ts';

describe('missingWebGpu', () => {
  it('puts an insecure context before a missing navigator.gpu', () => {
    expect(missingWebGpu(false, false)).toBe('insecure-context');
    expect(missingWebGpu(false, true)).toBe('insecure-context');
    expect(missingWebGpu(true, false)).toBe('no-webgpu');
    expect(missingWebGpu(true, true)).toBeNull();
  });

  it('has a title and at least one step for every case', () => {
    for (const code of ['insecure-context', 'no-webgpu', 'no-adapter', 'device-failed'] as const) {
      expect(WEBGPU_HELP[code].title.length).toBeGreaterThan(10);
      expect(WEBGPU_HELP[code].steps.length).toBeGreaterThan(0);
    }
  });
});
