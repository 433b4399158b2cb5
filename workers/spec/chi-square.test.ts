import { describe, expect, it } from 'vitest';
import { chiSquareSf, chiSquareTest, gammaQ, lnGamma } from './chi-square.ts';
import { SpecError } from './errors.ts';

describe('chiSquareSf', () => {
  it('matches reference survival values (scipy.stats.chi2.sf)', () => {
    const cases: [number, number, number][] = [
      [3.84, 1, 0.05004352124870519],
      [18.307, 10, 0.05000058909139812],
      [50, 30, 0.01240206071890054],
      [0.5, 3, 0.9188914116546758],
      [200, 150, 0.003973185970821635],
      [1e-3, 2, 0.9995001249791693],
      [80, 2, 4.248354255291595e-18],
    ];
    for (const [x, dof, want] of cases) expect(Math.abs(chiSquareSf(x, dof) / want - 1)).toBeLessThan(1e-9);
  });

  it('covers both branches of Q(a, x) and its edges', () => {
    // Q(1, x) = e^(−x) exactly: x < a + 1 takes the series, x ≥ a + 1 the continued fraction.
    for (const x of [0.1, 1.5, 2.5, 10, 40]) expect(Math.abs(gammaQ(1, x) / Math.exp(-x) - 1)).toBeLessThan(1e-12);
    expect(Math.abs(lnGamma(10) - Math.log(362880))).toBeLessThan(1e-12);
    expect(Math.abs(lnGamma(0.5) - 0.5 * Math.log(Math.PI))).toBeLessThan(1e-12);
    expect(chiSquareSf(0, 4)).toBe(1);
    expect(chiSquareSf(Infinity, 4)).toBe(0);
    expect(chiSquareSf(0, 0)).toBe(1);
    expect(() => chiSquareSf(1, -1)).toThrow(SpecError);
    expect(() => gammaQ(0, 1)).toThrow(/bad-argument/);
  });
});

describe('chiSquareTest', () => {
  it('computes the statistic by hand on a small table', () => {
    // 100 rolls of a fair 4-sided die: expected 25 each; Σ (o − e)²/e = (25 + 0 + 25 + 0)/25 = 2.
    const r = chiSquareTest([30, 25, 20, 25], [0.25, 0.25, 0.25, 0.25]);
    expect(r.statistic).toBeCloseTo(2, 12);
    expect(r.dof).toBe(3);
    expect(r.pValue).toBeCloseTo(chiSquareSf(2, 3), 14);
  });

  it('pools bins with expected counts under minExpected', () => {
    // N = 100: expected [60, 30, 4, 3, 2, 1]. The last four (10 together) pool into one bin → 3 bins.
    const r = chiSquareTest([58, 31, 5, 2, 3, 1], [0.6, 0.3, 0.04, 0.03, 0.02, 0.01]);
    expect(r.dof).toBe(2);
    const want = (58 - 60) ** 2 / 60 + (31 - 30) ** 2 / 30 + (11 - 10) ** 2 / 10;
    expect(r.statistic).toBeCloseTo(want, 12);
    // A pool still under minExpected joins the smallest other bin: [90, 8] + pool 2 → [90, 10].
    const s = chiSquareTest([90, 8, 1, 1], [0.9, 0.08, 0.01, 0.01]);
    expect(s.dof).toBe(1);
    expect(s.statistic).toBeCloseTo(0, 12);
  });

  it('rejects counts that do not fit and impossible outcomes', () => {
    expect(chiSquareTest([700, 300], [0.5, 0.5]).pValue).toBeLessThan(1e-20);
    expect(chiSquareTest([50, 50, 1], [0.5, 0.5, 0])).toEqual({ statistic: Infinity, dof: 2, pValue: 0 });
  });

  it('validates its input with typed errors', () => {
    expect(() => chiSquareTest([1, 2], [1])).toThrow(/bad-shape/);
    expect(() => chiSquareTest([1, 2], [0.5, 0.6])).toThrow(/bad-probability/);
    expect(() => chiSquareTest([1, -2], [0.5, 0.5])).toThrow(/bad-argument/);
    expect(() => chiSquareTest([0, 0], [0.5, 0.5])).toThrow(/no observations/);
    expect(() => chiSquareTest([1, 1], [0.5, 0.5], { minExpected: 0 })).toThrow(SpecError);
  });
});
