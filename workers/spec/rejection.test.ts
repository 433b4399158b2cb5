import { describe, expect, it } from 'vitest';
import { Rng } from '../sampling/rng.ts';
import { argmax, distribution, type SamplingParams } from '../sampling/sampler.ts';
import { specFit as fitAgainstTarget } from './testing/spec-fit.ts';
import {
  acceptProbability,
  expectedAcceptedPerPass,
  nextGamma,
  predictedSpeedup,
  residual,
  verifyDraft,
  verifyGreedy,
  type BrokenRule,
} from './rejection.ts';
import { SpecError } from './errors.ts';

const VOCAB = 16;

/** A tiny deterministic "language model": logits for any prefix from a seeded hash of it. */
class TinyLm {
  private readonly memo: MemoNode = { kids: new Map() }; // a trie over prefixes

  /** noise: a second model mixed in with weight noiseScale (the draft = target + noise). */
  constructor(
    private readonly seed: number,
    private readonly params: SamplingParams,
    private readonly noise?: { seed: number; scale: number },
  ) {}

  logits(prefix: readonly number[]): Float64Array {
    const out = rawLogits(this.seed, prefix); // [VOCAB] f64
    if (this.noise !== undefined) {
      const n = rawLogits(this.noise.seed, prefix);
      for (let i = 0; i < VOCAB; i++) out[i]! += this.noise.scale * n[i]!;
    }
    return out;
  }

  /** p(· | prefix), shaped by temperature / top-k / top-p exactly as the engine shapes it. */
  dist(prefix: readonly number[]): Float64Array {
    let node = this.memo;
    for (const t of prefix) {
      let kid = node.kids.get(t);
      if (kid === undefined) node.kids.set(t, (kid = { kids: new Map() }));
      node = kid;
    }
    return (node.dist ??= distribution(this.logits(prefix), this.params));
  }
}

interface MemoNode {
  dist?: Float64Array; // [VOCAB] f64
  kids: Map<number, MemoNode>;
}

function rawLogits(seed: number, prefix: readonly number[]): Float64Array {
  let h = seed >>> 0;
  for (const t of prefix) {
    h = Math.imul(h ^ (t + 0x9e3779b9), 0x85ebca6b) >>> 0;
    h = (h ^ (h >>> 13)) >>> 0;
  }
  const rng = new Rng(h);
  return Float64Array.from({ length: VOCAB }, () => 4 * (rng.next() - 0.5));
}

/** An Rng that replays a script of uniforms (to probe verifyDraft's decision thresholds). */
function scripted(us: number[]): Rng {
  let i = 0;
  return { state: 0, next: () => us[i++] ?? 0.5 };
}

const SHAPED: SamplingParams = { temperature: 0.9, topK: 10, topP: 0.97 };
const CONTEXT = [3, 1, 4];

/** χ² p-values of tokens 1 and 2 and the pair for the synthetic target/draft pair (see spec-fit.ts). */
function specFit(nRuns: number, seed: number, gamma: number, broken?: BrokenRule) {
  const target = new TinyLm(11, SHAPED);
  const draft = new TinyLm(11, SHAPED, { seed: 97, scale: 0.9 });
  return fitAgainstTarget(target, draft, CONTEXT, VOCAB, nRuns, new Rng(seed), gamma, broken);
}

describe('verifyDraft', () => {
  it('one step reproduces the target distribution exactly (sum over paths)', () => {
    const rng = new Rng(7);
    for (let trial = 0; trial < 50; trial++) {
      const V = 8;
      const logits = (): number[] => Array.from({ length: V }, () => 5 * (rng.next() - 0.5));
      // Shaping gives zeros on either side (top-k 5 of 8): tokens the draft proposes but the target never
      // would, and the reverse — the cases the residual must cover.
      const params: SamplingParams = { temperature: 0.5 + rng.next(), topK: trial % 2 === 0 ? 5 : 0, topP: 1 };
      const p = distribution(logits(), params);
      const q = distribution(logits(), params);
      const res = residual(p, q);
      // P(out = y) = Σ_x q(x) [a(x) δ(x, y) + (1 − a(x)) residual(y)].
      const out = new Float64Array(V);
      for (let x = 0; x < V; x++) {
        if (q[x] === 0) continue;
        const a = acceptProbability(p, q, x);
        // verifyDraft implements exactly this path: accepted iff u < a(x), else inverse-CDF on the residual.
        if (a > 0) expect(verifyDraft({ draftTokens: [x], q: [q], p: [p, p], rng: scripted([a * (1 - 1e-12), 0.5]) }).accepted).toBe(1);
        if (a < 1) {
          let cdf = 0;
          for (let y = 0; y < V; y++) {
            if (res[y]! <= 0) continue;
            const u2 = cdf + res[y]! / 2; // the middle of y's interval in the residual's CDF
            cdf += res[y]!;
            const r = verifyDraft({ draftTokens: [x], q: [q], p: [p, p], rng: scripted([a, u2]) });
            expect(r.accepted).toBe(0);
            expect(r.tokens).toEqual([y]);
          }
        }
        out[x]! += q[x]! * a;
        for (let y = 0; y < V; y++) out[y]! += q[x]! * (1 - a) * res[y]!;
      }
      for (let y = 0; y < V; y++) expect(Math.abs(out[y]! - p[y]!)).toBeLessThan(1e-12);
    }
  });

  it('reports positions, the residual top-5 and the bonus token', () => {
    const p = [0.5, 0.3, 0.2, 0];
    const q = [0.1, 0.1, 0.2, 0.6];
    // Draft token 3 has p = 0: always rejected, resampled from norm(max(0, p − q)) = [0.4, 0.2, 0, 0]/0.6.
    const r = verifyDraft({ draftTokens: [0, 3, 1], q: [q, q, q], p: [p, p, p, p], rng: scripted([0.99, 0.1, 0.9]) });
    expect(r.accepted).toBe(1);
    expect(r.tokens).toEqual([0, 1]); // u = 0.9 falls in token 1's part of the residual's CDF (≥ 2/3)
    expect(r.positions).toEqual([
      { token: 0, p: 0.5, q: 0.1, u: 0.99, accepted: true },
      { token: 3, p: 0, q: 0.6, u: 0.1, accepted: false },
    ]);
    expect(r.residualTop?.map((e) => e.token)).toEqual([0, 1]);
    expect(r.residualTop?.[0]?.prob).toBeCloseTo(2 / 3, 12);
    const all = verifyDraft({ draftTokens: [0], q: [q], p: [p, [0, 0, 1, 0]], rng: scripted([0.01, 0.3]) });
    expect(all).toEqual({ accepted: 1, tokens: [0, 2], positions: [{ token: 0, p: 0.5, q: 0.1, u: 0.01, accepted: true }] });
    expect(residual(p, p)).toEqual(Float64Array.from(p)); // nothing left over: fall back to p
  });

  it('validates shapes and token ids with typed errors', () => {
    const d = [0.5, 0.5];
    const rng = new Rng(1);
    expect(() => verifyDraft({ draftTokens: [0, 1], q: [d], p: [d, d, d], rng })).toThrow(/bad-shape/);
    expect(() => verifyDraft({ draftTokens: [0], q: [d], p: [d], rng })).toThrow(/bad-shape/);
    expect(() => verifyDraft({ draftTokens: [0], q: [[1]], p: [d, d], rng })).toThrow(/bad-shape/);
    expect(() => verifyDraft({ draftTokens: [2], q: [d], p: [d, d], rng })).toThrow(/bad-token/);
    expect(() => verifyGreedy([1, 2], [1, 2])).toThrow(SpecError);
    expect(() => acceptProbability([1], [0.5, 0.5], 0)).toThrow(/bad-shape/);
  });

  it('γ = 3 speculative sampling matches the target marginals of tokens 1 and 2 (χ², 20k runs)', () => {
    const fit = specFit(20_000, 2026, 3);
    expect(fit.first).toBeGreaterThan(0.01);
    expect(fit.second).toBeGreaterThan(0.01);
    expect(fit.pair).toBeGreaterThan(0.01);
    // The first draft token is kept with probability 1 − TV(p, q); 20k Bernoulli draws: σ ≤ 0.0036.
    expect(fit.alpha).toBeGreaterThan(0.3); // the draft is a useful but imperfect model of the target
    expect(fit.alpha).toBeLessThan(0.95);
    expect(Math.abs(fit.acceptRate - fit.alpha)).toBeLessThan(0.015);
  });

  it('γ = 1 covers the bonus draw: the second token is the bonus whenever the first draft is kept', () => {
    // (At γ = 3 the bonus is the 4th token at the earliest, so the test above never sees it.)
    const fit = specFit(20_000, 7, 1);
    expect(Math.min(fit.first, fit.second, fit.pair)).toBeGreaterThan(0.01);
  });

  it.each(['inverted-ratio', 'resample-from-p'] as const)('the same χ² test catches a broken rule (%s)', (broken) => {
    const fit = specFit(20_000, 2026, 3, broken);
    expect(Math.min(fit.first, fit.second, fit.pair)).toBeLessThan(1e-6);
  });
});

describe('verifyGreedy', () => {
  it('equals target-only argmax decoding over random synthetic models', () => {
    for (let trial = 0; trial < 30; trial++) {
      const target = new TinyLm(1000 + trial, SHAPED);
      // Draft noise from none (always agrees) to strong (often disagrees).
      const draft = new TinyLm(1000 + trial, SHAPED, { seed: 5000 + trial, scale: (trial % 5) * 0.5 });
      const gamma = 1 + (trial % 4);
      const context = [trial % VOCAB];
      const want: number[] = [];
      while (want.length < 12) want.push(argmax(target.logits([...context, ...want])));
      const got: number[] = [];
      let accepted = 0;
      let passes = 0;
      while (got.length < 12) {
        const prefix = [...context, ...got];
        const draftTokens: number[] = [];
        for (let i = 0; i < gamma; i++) draftTokens.push(argmax(draft.logits([...prefix, ...draftTokens])));
        const targetArgmax = Array.from({ length: gamma + 1 }, (_, i) => argmax(target.logits([...prefix, ...draftTokens.slice(0, i)])));
        const r = verifyGreedy(draftTokens, targetArgmax);
        expect(r.tokens).toHaveLength(r.accepted + 1);
        expect(r.positions.filter((x) => x.accepted)).toHaveLength(r.accepted);
        accepted += r.accepted;
        passes++;
        got.push(...r.tokens);
      }
      expect(got.slice(0, 12)).toEqual(want);
      if (trial % 5 === 0) expect(accepted).toBe(passes * gamma); // an identical draft is always kept
    }
  });
});

describe('speedup theory and adaptive γ', () => {
  it('predictedSpeedup and expectedAcceptedPerPass follow the closed forms', () => {
    expect(expectedAcceptedPerPass(0.8, 4)).toBeCloseTo(1 + 0.8 + 0.64 + 0.512 + 0.4096, 12);
    expect(expectedAcceptedPerPass(1, 4)).toBe(5);
    expect(expectedAcceptedPerPass(0, 4)).toBe(1);
    expect(predictedSpeedup(0.8, 4, 0)).toBeCloseTo(3.3616, 12);
    expect(predictedSpeedup(0.8, 4, 0.1)).toBeCloseTo(3.3616 / 1.4, 12);
    expect(predictedSpeedup(1, 3, 0.05)).toBeCloseTo(4 / 1.15, 12);
    expect(predictedSpeedup(1 - 1e-9, 3, 0.05)).toBeCloseTo(predictedSpeedup(1, 3, 0.05), 6); // continuous at α = 1
    expect(predictedSpeedup(0, 3, 0.05)).toBeLessThan(1); // a useless draft only costs time
    expect(() => predictedSpeedup(1.1, 3, 0)).toThrow(/bad-argument/);
    expect(() => predictedSpeedup(0.5, 2.5, 0)).toThrow(/bad-argument/);
    expect(() => predictedSpeedup(0.5, 2, -1)).toThrow(/bad-argument/);
  });

  it('nextGamma raises on high acceptance, lowers on low, and clamps to [min, max]', () => {
    const rule = { min: 1, max: 8 };
    expect(nextGamma(4, 0.9, rule)).toBe(5);
    expect(nextGamma(4, 0.6, rule)).toBe(4);
    expect(nextGamma(4, 0.2, rule)).toBe(3);
    expect(nextGamma(8, 1, rule)).toBe(8);
    expect(nextGamma(1, 0, rule)).toBe(1);
    expect(nextGamma(12, 0.6, rule)).toBe(8); // an out-of-range current γ is clamped back
    expect(nextGamma(4, 0.6, { ...rule, raiseAbove: 0.55 })).toBe(5);
    expect(() => nextGamma(4, 1.5, rule)).toThrow(/bad-argument/);
    expect(() => nextGamma(4, 0.5, { min: 3, max: 2 })).toThrow(/bad-argument/);
  });
});
