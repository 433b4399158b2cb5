import { describe, expect, it } from 'vitest';
import { GemvCheckError, relMaxError, validateGemvArgs } from './gemv-check.ts';

describe('validateGemvArgs', () => {
  it('accepts sensible shapes', () => {
    expect(() => validateGemvArgs(300, 257, 1)).not.toThrow();
  });

  it.each([
    [0, 10, 1, /rows/],
    [10, 2.5, 1, /cols/],
    [-1, 10, 1, /rows/],
    [4096, 4096, 1, /limit/],
    [10, 10, Number.NaN, /seed/],
  ])('rejects rows=%s cols=%s seed=%s with a typed error', (rows, cols, seed, message) => {
    expect(() => validateGemvArgs(rows, cols, seed)).toThrow(GemvCheckError);
    expect(() => validateGemvArgs(rows, cols, seed)).toThrow(message);
  });
});

describe('relMaxError', () => {
  it('is the largest difference over the largest reference magnitude', () => {
    expect(relMaxError(new Float32Array([1, 2, 4.5]), new Float32Array([1, 2, 4]))).toBeCloseTo(0.125);
    expect(relMaxError(new Float32Array([0.5]), new Float32Array([0]))).toBe(0.5);
    expect(relMaxError(new Float32Array([3, -2]), new Float32Array([3, -2]))).toBe(0);
  });
});
