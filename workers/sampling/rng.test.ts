import { describe, expect, it } from 'vitest';
import { Rng } from './rng.ts';

describe('Rng', () => {
  it('repeats exactly for the same seed and differs for another', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const sa = Array.from({ length: 100 }, () => a.next());
    expect(Array.from({ length: 100 }, () => b.next())).toEqual(sa);
    expect(Array.from({ length: 100 }, () => c.next())).not.toEqual(sa);
  });

  it('stays in [0, 1) and is roughly uniform', () => {
    const r = new Rng(1);
    const bins = new Array<number>(10).fill(0);
    for (let i = 0; i < 100_000; i++) {
      const x = r.next();
      expect(x >= 0 && x < 1).toBe(true);
      bins[Math.floor(x * 10)]!++;
    }
    for (const n of bins) expect(Math.abs(n - 10_000)).toBeLessThan(500);
  });

  it('rejects a non-finite seed', () => {
    expect(() => new Rng(Number.NaN)).toThrow(/seed/);
  });
});
