import { describe, expect, it } from 'vitest';
import { SchedError } from './errors.ts';
import { DEFAULT_MIX, generateRequests } from './workload.ts';

describe('generateRequests', () => {
  it('is deterministic for a seed and differs for another', () => {
    expect(generateRequests({ seed: 3 })).toEqual(generateRequests({ seed: 3 }));
    expect(generateRequests({ seed: 4 })).not.toEqual(generateRequests({ seed: 3 }));
  });

  it('draws a mixture of kinds within their length ranges, token ids in [3, vocabSize)', () => {
    const reqs = generateRequests({ seed: 1, nRequests: 400, vocabSize: 100 });
    for (const r of reqs) {
      const kind = DEFAULT_MIX.find((k) => k.name === r.kind)!;
      expect(r.prompt.length).toBeGreaterThanOrEqual(kind.prompt[0]);
      expect(r.prompt.length).toBeLessThanOrEqual(kind.prompt[1]);
      expect(r.maxTokens).toBeGreaterThanOrEqual(kind.output[0]);
      expect(r.maxTokens).toBeLessThanOrEqual(kind.output[1]);
      expect(r.prompt.every((t) => Number.isInteger(t) && t >= 3 && t < 100)).toBe(true);
      expect(r.priority).toBeUndefined();
    }
    const share = (name: string): number => reqs.filter((r) => r.kind === name).length / reqs.length;
    expect(share('chat')).toBeGreaterThan(0.4);
    expect(share('chat')).toBeLessThan(0.6);
    expect(share('summarize')).toBeGreaterThan(0.17);
    expect(share('code')).toBeGreaterThan(0.17);
  });

  it('arrives as a Poisson process: increasing times, mean gap ≈ 1000 / rate ms, exponential spread', () => {
    const reqs = generateRequests({ seed: 2, nRequests: 2000, ratePerSec: 10 });
    const gaps = reqs.slice(1).map((r, i) => r.arrivalMs - reqs[i]!.arrivalMs);
    expect(gaps.every((g) => g >= 0)).toBe(true);
    const mean = gaps.reduce((s, g) => s + g, 0) / gaps.length;
    expect(mean).toBeGreaterThan(95);
    expect(mean).toBeLessThan(105);
    // Exponential: the fraction of gaps below the mean is 1 − 1/e ≈ 0.632.
    expect(gaps.filter((g) => g < 100).length / gaps.length).toBeCloseTo(0.632, 1);
    expect(generateRequests({ seed: 2, nRequests: 5, ratePerSec: Infinity }).every((r) => r.arrivalMs === 0)).toBe(true);
  });

  it('prepends shared prefixes to the asked fraction and marks interactive requests', () => {
    const reqs = generateRequests({
      seed: 5,
      nRequests: 300,
      sharedPrefix: { count: 2, length: [40, 40], fraction: 0.5 },
      interactive: { fraction: 0.2, priority: 3, ttftMs: 500 },
    });
    const heads = reqs.map((r) => r.prompt.slice(0, 40).join(','));
    const counts = new Map<string, number>();
    for (const h of heads) counts.set(h, (counts.get(h) ?? 0) + 1);
    const shared = [...counts.values()].filter((n) => n > 1);
    expect(shared).toHaveLength(2); // exactly the two prefixes repeat
    const sharing = shared.reduce((s, n) => s + n, 0) / reqs.length;
    expect(sharing).toBeGreaterThan(0.4);
    expect(sharing).toBeLessThan(0.6);
    const hi = reqs.filter((r) => r.priority !== undefined);
    expect(hi.length / reqs.length).toBeGreaterThan(0.13);
    expect(hi.length / reqs.length).toBeLessThan(0.27);
    for (const r of hi) {
      expect(r.priority).toBe(3);
      expect(r.deadlineMs).toBe(r.arrivalMs + 500);
    }
  });

  it('rejects bad options with a typed error', () => {
    expect(() => generateRequests({ seed: 1, nRequests: 0 })).toThrow(SchedError);
    expect(() => generateRequests({ seed: 1, ratePerSec: 0 })).toThrow(/ratePerSec/);
    expect(() => generateRequests({ seed: 1, mix: [] })).toThrow(/mix/);
    expect(() => generateRequests({ seed: 1, mix: [{ name: 'x', weight: 1, prompt: [5, 2], output: [1, 1] }] })).toThrow(/ranges/);
    expect(() => generateRequests({ seed: 1, interactive: { fraction: 2 } })).toThrow(/interactive/);
  });
});
