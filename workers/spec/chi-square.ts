// Pearson's chi-square goodness-of-fit test, for checking that a sampler's empirical token counts match an
// exact distribution. The p-value is the regularized upper incomplete gamma Q(dof/2, x/2), computed as in
// Numerical Recipes (series below a + 1, continued fraction above). Pure; imports only the typed error.

import { SpecError } from './errors.ts';

export interface ChiSquareResult {
  statistic: number; // Σ (observed − expected)² / expected over the (pooled) bins
  dof: number; // bins after pooling − 1
  pValue: number; // P(χ²_dof ≥ statistic): small means the counts do not fit
}

/**
 * Tests `observedCounts` (one count per token) against `expectedProbs` (summing to 1). Bins whose expected
 * count is below `minExpected` are pooled into one bin (the χ² approximation needs ~5 per bin); if that
 * pool is still below minExpected it joins the smallest other bin. A count in a bin of probability 0 is
 * impossible: statistic Infinity, pValue 0.
 */
export function chiSquareTest(
  observedCounts: ArrayLike<number>,
  expectedProbs: ArrayLike<number>,
  { minExpected = 5 }: { minExpected?: number } = {},
): ChiSquareResult {
  const n = observedCounts.length;
  if (expectedProbs.length !== n || n === 0) {
    throw new SpecError('bad-shape', `chiSquareTest: ${n} counts but ${expectedProbs.length} probabilities`);
  }
  if (!(minExpected > 0)) throw new SpecError('bad-argument', `chiSquareTest: minExpected must be > 0, got ${minExpected}`);
  let total = 0;
  let probSum = 0;
  for (let i = 0; i < n; i++) {
    const o = observedCounts[i]!;
    const e = expectedProbs[i]!;
    if (!(o >= 0 && Number.isFinite(o))) throw new SpecError('bad-argument', `chiSquareTest: count ${i} is ${o}`);
    if (!(e >= 0 && Number.isFinite(e))) throw new SpecError('bad-probability', `chiSquareTest: probability ${i} is ${e}`);
    total += o;
    probSum += e;
  }
  if (Math.abs(probSum - 1) > 1e-6) throw new SpecError('bad-probability', `chiSquareTest: probabilities sum to ${probSum}, not 1`);
  if (!(total > 0)) throw new SpecError('bad-argument', 'chiSquareTest: no observations');

  // Bins: [observed, expected count]. Impossible outcomes fail outright.
  const bins: [number, number][] = [];
  const pooled: [number, number] = [0, 0];
  for (let i = 0; i < n; i++) {
    const o = observedCounts[i]!;
    const e = total * expectedProbs[i]!;
    if (e === 0 && o > 0) return { statistic: Infinity, dof: Math.max(0, n - 1), pValue: 0 };
    if (e >= minExpected) bins.push([o, e]);
    else {
      pooled[0] += o;
      pooled[1] += e;
    }
  }
  if (pooled[1] > 0) {
    if (pooled[1] >= minExpected || bins.length === 0) bins.push(pooled);
    else {
      let smallest = 0;
      bins.forEach((b, i) => {
        if (b[1] < bins[smallest]![1]) smallest = i;
      });
      bins[smallest]![0] += pooled[0];
      bins[smallest]![1] += pooled[1];
    }
  }

  let statistic = 0;
  for (const [o, e] of bins) statistic += ((o - e) * (o - e)) / e;
  const dof = bins.length - 1;
  return { statistic, dof, pValue: chiSquareSf(statistic, dof) };
}

/** Survival function of the χ² distribution: P(X ≥ x) for X ~ χ²(dof) = Q(dof/2, x/2). dof 0: 1. */
export function chiSquareSf(x: number, dof: number): number {
  if (!Number.isInteger(dof) || dof < 0) {
    throw new SpecError('bad-argument', `chiSquareSf: dof must be a non-negative integer, got ${dof}`);
  }
  if (Number.isNaN(x)) throw new SpecError('bad-argument', 'chiSquareSf: x is NaN');
  if (dof === 0) return x > 0 ? 0 : 1; // a point mass at 0
  if (x <= 0) return 1;
  if (x === Infinity) return 0;
  return gammaQ(dof / 2, x / 2);
}

/** Regularized upper incomplete gamma Q(a, x) = Γ(a, x) / Γ(a), a > 0, x ≥ 0. */
export function gammaQ(a: number, x: number): number {
  if (!(a > 0) || !(x >= 0)) throw new SpecError('bad-argument', `gammaQ: need a > 0 and x ≥ 0, got a ${a}, x ${x}`);
  if (x === 0) return 1;
  // The series converges fast below a + 1, the continued fraction above (Numerical Recipes §6.2).
  return x < a + 1 ? 1 - gammaPSeries(a, x) : gammaQContinuedFraction(a, x);
}

const EPS = 1e-15; // relative accuracy at which the series / fraction stop
const FPMIN = 1e-300; // keeps Lentz's method away from dividing by zero
const MAX_ITER = 10_000;

/** P(a, x) = e^(−x) x^a / Γ(a) · Σ_n x^n / (a (a+1) … (a+n)). */
function gammaPSeries(a: number, x: number): number {
  let ap = a;
  let term = 1 / a;
  let sum = term;
  for (let n = 0; n < MAX_ITER; n++) {
    ap += 1;
    term *= x / ap;
    sum += term;
    if (Math.abs(term) < Math.abs(sum) * EPS) break;
  }
  return sum * Math.exp(-x + a * Math.log(x) - lnGamma(a));
}

/** Q(a, x) = e^(−x) x^a / Γ(a) · 1/(x+1−a− 1·(1−a)/(x+3−a− 2·(2−a)/(x+5−a− …))), by modified Lentz. */
function gammaQContinuedFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / FPMIN;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITER; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < FPMIN) d = FPMIN;
    c = b + an / c;
    if (Math.abs(c) < FPMIN) c = FPMIN;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return Math.exp(-x + a * Math.log(x) - lnGamma(a)) * h;
}

/** ln Γ(z) for z > 0, Lanczos approximation (g = 7, 9 terms; ~15 significant digits). */
export function lnGamma(z: number): number {
  if (z < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * z)) - lnGamma(1 - z); // reflection
  const g = 7;
  const coef = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  const zm = z - 1;
  let s = coef[0]!;
  for (let i = 1; i < g + 2; i++) s += coef[i]! / (zm + i);
  const t = zm + g + 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (zm + 0.5) * Math.log(t) - t + Math.log(s);
}
