// Speculative decoding's verification step (Leviathan et al. 2023, Chen et al. 2023): accept each draft
// token with probability min(1, p/q), resample the first rejection from norm(max(0, p − q)), else draw a
// bonus token from the target. Pure functions over probability vectors; imports no GPU, DOM or comlink.

import type { Rng } from '../sampling/rng.ts';
import { sampleFrom } from '../sampling/sampler.ts';
import { SpecError } from './errors.ts';

/** One tested draft position. p, q: the token's probability under target and draft; u: the uniform drawn. */
export interface VerifiedPosition {
  token: number;
  p: number;
  q: number;
  u: number;
  accepted: boolean;
}

export interface VerifyResult {
  /** Draft tokens accepted, 0..γ. */
  accepted: number;
  /** The accepted draft tokens, then exactly one more (resampled at the first rejection, or the bonus). */
  tokens: number[];
  /** One entry per tested draft position: all accepted ones and the first rejected one. */
  positions: VerifiedPosition[];
  /** The 5 most likely tokens of the residual, when a rejected position was resampled from it. */
  residualTop?: { token: number; prob: number }[];
}

/**
 * TEST ONLY: deliberately wrong rules, so the distribution tests can prove they catch a broken sampler.
 * 'inverted-ratio' accepts with min(1, q/p); 'resample-from-p' resamples a rejection from p, not the residual.
 */
export type BrokenRule = 'inverted-ratio' | 'resample-from-p';

export interface VerifyDraftInput {
  draftTokens: readonly number[]; // [γ] token ids the draft proposed
  q: readonly ArrayLike<number>[]; // [γ][vocabSize] the draft's distributions the tokens were drawn from
  p: readonly ArrayLike<number>[]; // [γ + 1][vocabSize] the target's, at the same positions plus one
  rng: Rng; // one u per accept test, then one for the resample or bonus draw
  brokenForTests?: BrokenRule;
}

/** The chance of keeping draft token x: min(1, p[x] / q[x]). (q[x] = 0 cannot be drawn; then 1 if p[x] > 0.) */
export function acceptProbability(p: ArrayLike<number>, q: ArrayLike<number>, x: number): number {
  checkPair(p, q, 'acceptProbability');
  checkToken(x, p.length, 'acceptProbability');
  const px = p[x]!;
  const qx = q[x]!;
  if (qx <= 0) return px > 0 ? 1 : 0;
  return Math.min(1, px / qx);
}

/**
 * The distribution a rejected position is resampled from: norm(max(0, p − q)) — the mass the target wants
 * beyond what the draft already proposes. When p == q nothing is left (and nothing is ever rejected); then p.
 */
export function residual(p: ArrayLike<number>, q: ArrayLike<number>): Float64Array {
  checkPair(p, q, 'residual');
  const n = p.length;
  const out = new Float64Array(n); // [vocabSize] f64
  let sum = 0;
  for (let i = 0; i < n; i++) sum += out[i] = Math.max(0, p[i]! - q[i]!);
  if (!(sum > 0)) return Float64Array.from(p);
  for (let i = 0; i < n; i++) out[i]! /= sum;
  return out;
}

/**
 * Verifies γ draft tokens against the target in one pass. Position i is accepted when u_i < min(1, p_i/q_i);
 * the first rejection is replaced by a draw from residual(p_i, q_i) and ends the pass; if all γ pass, one
 * bonus token is drawn from p_γ. Either way the output has accepted + 1 tokens, distributed exactly as
 * sampling the target alone would give.
 */
export function verifyDraft(input: VerifyDraftInput): VerifyResult {
  const { draftTokens, q, p, rng, brokenForTests } = input;
  const gamma = draftTokens.length;
  if (q.length !== gamma) throw new SpecError('bad-shape', `verifyDraft: ${gamma} draft tokens but ${q.length} draft distributions`);
  if (p.length !== gamma + 1) {
    throw new SpecError('bad-shape', `verifyDraft: ${gamma} draft tokens need ${gamma + 1} target distributions, got ${p.length}`);
  }
  const vocabSize = p[0]!.length;
  for (const [name, rows] of [['p', p], ['q', q]] as const) {
    rows.forEach((row, i) => {
      if (row.length !== vocabSize) {
        throw new SpecError('bad-shape', `verifyDraft: ${name}[${i}] has ${row.length} entries, p[0] has ${vocabSize}`);
      }
    });
  }
  draftTokens.forEach((t, i) => checkToken(t, vocabSize, `verifyDraft: draft token ${i}`));

  const tokens: number[] = [];
  const positions: VerifiedPosition[] = [];
  for (let i = 0; i < gamma; i++) {
    const token = draftTokens[i]!;
    const pi = p[i]!;
    const qi = q[i]!;
    const a = brokenForTests === 'inverted-ratio' ? acceptProbability(qi, pi, token) : acceptProbability(pi, qi, token);
    const u = rng.next();
    const accepted = u < a;
    positions.push({ token, p: pi[token]!, q: qi[token]!, u, accepted });
    if (!accepted) {
      const from = brokenForTests === 'resample-from-p' ? Float64Array.from(pi) : residual(pi, qi);
      tokens.push(sampleFrom(from, rng.next()));
      return { accepted: i, tokens, positions, residualTop: topTokens(from, 5) };
    }
    tokens.push(token);
  }
  tokens.push(sampleFrom(p[gamma]!, rng.next())); // bonus: the target's distribution after all γ drafts
  return { accepted: gamma, tokens, positions };
}

/**
 * Greedy speculative decoding (temperature 0): keep draft tokens while they equal the target's argmax,
 * then append the target's argmax at the first disagreement (or the bonus argmax after all γ). The result
 * equals greedy decoding with the target alone. Positions report the one-hot limit: q = 1 (the draft's
 * pick), p = 1 when the target agrees else 0, u = 0 (nothing is drawn).
 */
export function verifyGreedy(draftTokens: readonly number[], targetArgmax: readonly number[]): VerifyResult {
  const gamma = draftTokens.length;
  if (targetArgmax.length !== gamma + 1) {
    throw new SpecError('bad-shape', `verifyGreedy: ${gamma} draft tokens need ${gamma + 1} target argmaxes, got ${targetArgmax.length}`);
  }
  const ids = [...draftTokens, ...targetArgmax];
  ids.forEach((t, i) => checkToken(t, Infinity, `verifyGreedy: token ${i}`));
  const tokens: number[] = [];
  const positions: VerifiedPosition[] = [];
  for (let i = 0; i < gamma; i++) {
    const token = draftTokens[i]!;
    const accepted = token === targetArgmax[i];
    positions.push({ token, p: accepted ? 1 : 0, q: 1, u: 0, accepted });
    tokens.push(targetArgmax[i]!); // equal to the draft token when accepted
    if (!accepted) return { accepted: i, tokens, positions };
  }
  tokens.push(targetArgmax[gamma]!);
  return { accepted: gamma, tokens, positions };
}

/**
 * Tokens one target pass yields on average when each draft token is accepted independently with rate α:
 * 1 + α + … + α^γ = (1 − α^(γ+1)) / (1 − α) — the accepted drafts plus the resampled or bonus token.
 */
export function expectedAcceptedPerPass(alpha: number, gamma: number): number {
  checkTheory(alpha, gamma, 0);
  return alpha === 1 ? gamma + 1 : (1 - alpha ** (gamma + 1)) / (1 - alpha);
}

/**
 * Wall-clock speedup over target-only decoding (Leviathan et al., Theorem 3.8): one pass costs γ draft
 * steps of relative cost c (draft time / target time) plus one target pass, and yields
 * expectedAcceptedPerPass tokens: (1 − α^(γ+1)) / ((1 − α)(γc + 1)); at α = 1, (γ + 1) / (γc + 1).
 */
export function predictedSpeedup(alpha: number, gamma: number, c: number): number {
  checkTheory(alpha, gamma, c);
  return expectedAcceptedPerPass(alpha, gamma) / (gamma * c + 1);
}

export interface GammaRule {
  min: number; // smallest γ allowed, ≥ 1
  max: number; // largest γ allowed, ≥ min
  raiseAbove?: number; // acceptance rate at or above which γ grows by one (default 0.8)
  lowerBelow?: number; // acceptance rate below which γ shrinks by one (default 0.5)
}

/**
 * Adaptive γ, one step at a time: when the recent acceptance rate (accepted / proposed draft tokens over
 * the last few passes) is high, drafts are mostly kept, so propose one more (+1); when it is low, most of
 * each draft is thrown away, so propose one fewer (−1); in between keep γ. The result stays in [min, max].
 * (Why these thresholds: at α = 0.8 the γ-th draft token survives with α^γ, still worth a cheap draft step;
 * below 0.5 the tail of a long draft is nearly always wasted.)
 */
export function nextGamma(current: number, recentAcceptance: number, rule: GammaRule): number {
  const { min, max, raiseAbove = 0.8, lowerBelow = 0.5 } = rule;
  if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max < min) {
    throw new SpecError('bad-argument', `nextGamma: need integers 1 ≤ min ≤ max, got min ${min}, max ${max}`);
  }
  if (!(lowerBelow >= 0 && lowerBelow <= raiseAbove && raiseAbove <= 1)) {
    throw new SpecError('bad-argument', `nextGamma: need 0 ≤ lowerBelow ≤ raiseAbove ≤ 1, got ${lowerBelow}, ${raiseAbove}`);
  }
  if (!Number.isInteger(current)) throw new SpecError('bad-argument', `nextGamma: current γ must be an integer, got ${current}`);
  if (!(recentAcceptance >= 0 && recentAcceptance <= 1)) {
    throw new SpecError('bad-argument', `nextGamma: acceptance rate must be in [0, 1], got ${recentAcceptance}`);
  }
  const step = recentAcceptance >= raiseAbove ? 1 : recentAcceptance < lowerBelow ? -1 : 0;
  return Math.min(max, Math.max(min, current + step));
}

function checkTheory(alpha: number, gamma: number, c: number): void {
  if (!(alpha >= 0 && alpha <= 1)) throw new SpecError('bad-argument', `acceptance rate α must be in [0, 1], got ${alpha}`);
  if (!Number.isInteger(gamma) || gamma < 0) throw new SpecError('bad-argument', `γ must be a non-negative integer, got ${gamma}`);
  if (!(c >= 0 && Number.isFinite(c))) throw new SpecError('bad-argument', `cost ratio c must be finite and ≥ 0, got ${c}`);
}

/** The largest `k` entries of `probs` (ties: lower id first), for the UI's residual bar chart. */
function topTokens(probs: ArrayLike<number>, k: number): { token: number; prob: number }[] {
  return Array.from({ length: probs.length }, (_, token) => ({ token, prob: probs[token]! }))
    .filter((e) => e.prob > 0)
    .sort((a, b) => b.prob - a.prob || a.token - b.token)
    .slice(0, k);
}

function checkPair(p: ArrayLike<number>, q: ArrayLike<number>, where: string): void {
  if (p.length !== q.length || p.length === 0) {
    throw new SpecError('bad-shape', `${where}: p has ${p.length} entries and q ${q.length}; both need vocabSize ≥ 1`);
  }
}

function checkToken(t: number, vocabSize: number, where: string): void {
  if (!Number.isInteger(t) || t < 0 || t >= vocabSize) {
    throw new SpecError('bad-token', `${where}: token id must be an integer in 0..${vocabSize - 1}, got ${t}`);
  }
}
