// Test support for speculative decoding's distribution tests: the speculative sampling loop over any
// language model given as next-token distributions, and a chi-square fit of the first two generated tokens
// against the target's exact marginals. Pure; used by the unit tier (a synthetic model) and the GPU tier
// (the real model's distributions).

import type { Rng } from '../../sampling/rng.ts';
import { sampleFrom } from '../../sampling/sampler.ts';
import { chiSquareTest } from '../chi-square.ts';
import { verifyDraft, type BrokenRule } from '../rejection.ts';

/** A language model as its (shaped) next-token distribution after any prefix. */
export interface DistLm {
  dist(prefix: readonly number[]): Float64Array;
}

/** Speculative sampling from `context` until ≥ nTokens are generated; returns the first nTokens. */
export function speculate(
  target: DistLm,
  draft: DistLm,
  context: readonly number[],
  gamma: number,
  rng: Rng,
  nTokens: number,
  broken?: BrokenRule,
): { tokens: number[]; firstAccepted: boolean } {
  const out: number[] = [];
  let firstAccepted = false;
  while (out.length < nTokens) {
    const prefix = [...context, ...out];
    const draftTokens: number[] = [];
    const q: Float64Array[] = [];
    for (let i = 0; i < gamma; i++) {
      const qi = draft.dist([...prefix, ...draftTokens]);
      q.push(qi);
      draftTokens.push(sampleFrom(qi, rng.next()));
    }
    const p = Array.from({ length: gamma + 1 }, (_, i) => target.dist([...prefix, ...draftTokens.slice(0, i)]));
    const r = verifyDraft({ draftTokens, q, p, rng, ...(broken === undefined ? {} : { brokenForTests: broken }) });
    if (out.length === 0) firstAccepted = r.accepted > 0;
    if (r.tokens.length !== r.accepted + 1) throw new Error(`${r.accepted} accepted but ${r.tokens.length} tokens`);
    out.push(...r.tokens);
  }
  return { tokens: out.slice(0, nTokens), firstAccepted };
}


/** χ² p-values of the first token, the second token and the (first, second) pair against the exact marginals. */
export function specFit(
  target: DistLm,
  draft: DistLm,
  CONTEXT: readonly number[],
  VOCAB: number,
  nRuns: number,
  rng: Rng,
  gamma: number,
  broken?: BrokenRule,
): { first: number; second: number; pair: number; acceptRate: number; alpha: number } {
  // Exact marginals by enumeration: m1 = p(·|C), pair(y1, y2) = m1(y1) p(y2|C y1), m2 = Σ_y1 pair.
  const m1 = target.dist(CONTEXT);
  const pair = new Float64Array(VOCAB * VOCAB); // [VOCAB, VOCAB] f64
  const m2 = new Float64Array(VOCAB);
  for (let y1 = 0; y1 < VOCAB; y1++) {
    if (m1[y1] === 0) continue; // never the first token: nothing after it is needed
    const next = target.dist([...CONTEXT, y1]);
    for (let y2 = 0; y2 < VOCAB; y2++) {
      pair[y1 * VOCAB + y2] = m1[y1]! * next[y2]!;
      m2[y2]! += m1[y1]! * next[y2]!;
    }
  }
  const c1 = new Float64Array(VOCAB);
  const c2 = new Float64Array(VOCAB);
  const cPair = new Float64Array(VOCAB * VOCAB);
  let accepts = 0;
  for (let run = 0; run < nRuns; run++) {
    const { tokens, firstAccepted } = speculate(target, draft, CONTEXT, gamma, rng, 2, broken);
    c1[tokens[0]!]!++;
    c2[tokens[1]!]!++;
    cPair[tokens[0]! * VOCAB + tokens[1]!]!++;
    if (firstAccepted) accepts++;
  }
  const q0 = draft.dist(CONTEXT);
  let alpha = 0; // P(first draft token accepted) = Σ_x min(p(x), q(x)) = 1 − TV(p, q)
  for (let x = 0; x < VOCAB; x++) alpha += Math.min(m1[x]!, q0[x]!);
  return {
    first: chiSquareTest(c1, m1).pValue,
    second: chiSquareTest(c2, m2).pValue,
    pair: chiSquareTest(cPair, pair).pValue,
    acceptRate: accepts / nRuns,
    alpha,
  };
}

