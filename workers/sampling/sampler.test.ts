import { describe, expect, it } from 'vitest';
import { argmax, distribution, sample, sampleFrom } from './sampler.ts';
import { Rng } from './rng.ts';

const logits = [1.0, 3.0, 2.0, 3.0, -1.0];

describe('sampler', () => {
  it('greedy takes the argmax, lowest index on ties', () => {
    expect(argmax(logits)).toBe(1);
    expect(sample(logits, { temperature: 0, topK: 0, topP: 1 }, new Rng(1))).toEqual({ token: 1, prob: 1 });
  });

  it('temperature 1 is the softmax', () => {
    const p = distribution(logits, { temperature: 1, topK: 0, topP: 1 });
    const z = logits.reduce((s, l) => s + Math.exp(l), 0);
    logits.forEach((l, i) => expect(p[i]).toBeCloseTo(Math.exp(l) / z, 12));
  });

  it('top-k keeps exactly the k most likely tokens, renormalised', () => {
    const p = distribution(logits, { temperature: 1, topK: 2, topP: 1 });
    expect([...p].map((x) => x > 0)).toEqual([false, true, false, true, false]);
    expect(p[1]! + p[3]!).toBeCloseTo(1, 12);
  });

  it('top-p keeps the smallest prefix reaching p', () => {
    const full = distribution(logits, { temperature: 1, topK: 0, topP: 1 });
    const p = distribution(logits, { temperature: 1, topK: 0, topP: full[1]! + 0.01 });
    expect([...p].filter((x) => x > 0).length).toBe(2);
  });

  it('low temperature sharpens, high temperature flattens', () => {
    const cold = distribution(logits, { temperature: 0.1, topK: 0, topP: 1 });
    const hot = distribution(logits, { temperature: 10, topK: 0, topP: 1 });
    expect(cold[4]!).toBeLessThan(hot[4]!);
  });

  it('sampled frequencies follow the distribution, and a seed repeats its draws', () => {
    const params = { temperature: 1, topK: 0, topP: 1 };
    const p = distribution(logits, params);
    const rng = new Rng(7);
    const counts = new Array<number>(logits.length).fill(0);
    const n = 50_000;
    const first: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = sample(logits, params, rng).token;
      counts[t]!++;
      if (i < 20) first.push(t);
    }
    counts.forEach((c, i) => expect(Math.abs(c / n - p[i]!)).toBeLessThan(0.01));
    const again = new Rng(7);
    expect(first).toEqual(Array.from({ length: 20 }, () => sample(logits, params, again).token));
  });

  it('sampleFrom never returns a zero-probability token', () => {
    expect(sampleFrom([0, 0.5, 0, 0.5, 0], 0.9999999)).toBe(3);
    expect(sampleFrom([0, 0.5, 0, 0.5, 0], 0)).toBe(1);
  });
});
