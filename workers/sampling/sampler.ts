// Samplers: turn one row of logits into a token. Greedy, temperature, top-k and top-p, as pure functions over
// plain arrays, with the randomness passed in (one seeded Rng per run). Imports nothing from gpu/ or web/.

import type { Rng } from './rng.ts';

export interface SamplingParams {
  temperature: number; // 0 = greedy
  topK: number; // 0 = off: keep every token
  topP: number; // 1 = off: keep the whole distribution
}

export interface Sampled {
  token: number;
  /** The chosen token's probability in the distribution it was drawn from (1 when greedy). */
  prob: number;
}

/** Index of the largest logit; the lowest index wins a tie, like llama2.c's sample_argmax. */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best;
}

/**
 * The distribution a sampled token is drawn from: softmax(logits / temperature), restricted to the top-k
 * tokens, then to the smallest set whose probability reaches top-p, renormalised. Length = vocabSize; the
 * tokens cut away get probability 0. (Speculative decoding shapes the draft's and target's logits with this
 * same function, so both sides agree.)
 */
export function distribution(logits: ArrayLike<number>, params: SamplingParams): Float64Array {
  const n = logits.length;
  const { temperature, topK, topP } = params;
  if (!(temperature > 0)) throw new Error('distribution: temperature must be > 0 (use argmax for greedy)');
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, logits[i]!);
  const probs = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += probs[i] = Math.exp((logits[i]! - max) / temperature);
  for (let i = 0; i < n; i++) probs[i]! /= sum;

  const keepK = topK > 0 && topK < n;
  const keepP = topP > 0 && topP < 1;
  if (!keepK && !keepP) return probs;

  // Token ids sorted by probability, highest first (ties: lower id first, so results are deterministic).
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => probs[b]! - probs[a]! || a - b);
  let kept = keepK ? topK : n;
  if (keepP) {
    let cum = 0;
    for (let r = 0; r < kept; r++) {
      cum += probs[order[r]!]!;
      if (cum >= topP) {
        kept = r + 1;
        break;
      }
    }
  }
  const out = new Float64Array(n);
  let keptSum = 0;
  for (let r = 0; r < kept; r++) keptSum += probs[order[r]!]!;
  for (let r = 0; r < kept; r++) out[order[r]!] = probs[order[r]!]! / keptSum;
  return out;
}

/** Draws an index from `probs` with the uniform number `u` in [0, 1) (inverse CDF). */
export function sampleFrom(probs: ArrayLike<number>, u: number): number {
  let cdf = 0;
  let last = 0;
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i]!;
    if (p <= 0) continue;
    cdf += p;
    last = i;
    if (u < cdf) return i;
  }
  return last; // rounding left the CDF a hair under 1
}

export function sample(logits: ArrayLike<number>, params: SamplingParams, rng: Rng): Sampled {
  if (params.temperature === 0) return { token: argmax(logits), prob: 1 };
  const probs = distribution(logits, params);
  const token = sampleFrom(probs, rng.next());
  return { token, prob: probs[token]! };
}
