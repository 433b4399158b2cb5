import { describe, expect, it } from 'vitest';
import { planBucket } from './llama.ts';

describe('planBucket', () => {
  it('rounds a pass up to a power of two, within the activations', () => {
    expect([1, 2, 3, 4, 5, 9, 100, 256].map((t) => planBucket(t, 512))).toEqual([1, 2, 4, 4, 8, 16, 128, 256]);
    expect(planBucket(300, 384)).toBe(384);
    expect(planBucket(384, 384)).toBe(384);
  });
});
