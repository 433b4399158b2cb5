import { describe, expect, it } from 'vitest';
import { clampParams, DEFAULT_PARAMS, PARAM_SPECS } from './sampling-params.ts';

describe('sampling parameters', () => {
  it('has defaults inside their own bounds', () => {
    for (const spec of PARAM_SPECS) {
      const v = DEFAULT_PARAMS[spec.key];
      expect(v, spec.key).toBeGreaterThanOrEqual(spec.min);
      expect(v, spec.key).toBeLessThanOrEqual(spec.max);
    }
    expect(clampParams(DEFAULT_PARAMS)).toEqual(DEFAULT_PARAMS);
  });

  it('clamps out-of-range values, rounds integer fields, and replaces non-numbers by defaults', () => {
    const p = clampParams({ temperature: 5, topK: -3, topP: 0, seed: 1.6, steps: Number.NaN, kvCache: false });
    expect(p).toEqual({ temperature: 2, topK: 0, topP: 0.01, seed: 2, steps: DEFAULT_PARAMS.steps, kvCache: false });
    // An emptied <input type=number> binds null.
    expect(clampParams({ ...DEFAULT_PARAMS, temperature: null as unknown as number }).temperature).toBe(DEFAULT_PARAMS.temperature);
  });
});
