// Speculative decoding on the GPU: the draft model proposes γ tokens autoregressively (its own paged KV),
// the target scores all γ + 1 positions in one forward pass, verifyDraft / verifyGreedy keep what the target
// agrees with, and both models roll their KV back past the rejected positions. γ fixed, or adapted from the
// running acceptance rate. Emits spec.draft / spec.verify trace events. No DOM, no comlink.

import { BlockManager } from '../kv/block-manager.ts';
import type { LlamaModel } from '../model/llama.ts';
import { Rng } from '../sampling/rng.ts';
import { distribution, sampleFrom, type SamplingParams } from '../sampling/sampler.ts';
import type { TraceBus } from '../engine/trace-bus.ts';
import { KvSequence } from './kv-sequence.ts';
import { nextGamma, verifyDraft, verifyGreedy, type VerifyResult } from './rejection.ts';

export interface SpecOptions {
  /** Draft tokens per round (fixed), or the starting γ when `adaptive`. */
  gamma: number;
  /** Adapt γ within [min, max] from the acceptance rate of the last few rounds. */
  adaptive?: { min: number; max: number };
  sampling: SamplingParams;
  seed: number;
  /** Generation ends after one of these (it is not part of the output). */
  stopTokens?: readonly number[];
  bus?: TraceBus;
  seq?: number; // the id trace events carry
}

export interface SpecStats {
  rounds: number; // target verification passes
  draftSteps: number; // draft forward passes
  proposed: number; // draft tokens proposed
  tested: number; // draft tokens the target judged (all up to and including the first rejection)
  accepted: number; // draft tokens accepted
  alpha: number; // accepted / tested: the per-token acceptance rate the speedup formula assumes
  tokensPerTargetPass: number; // generated tokens / target passes
  draftMs: number; // wall time in draft passes
  verifyMs: number; // wall time in target passes
  ms: number; // wall time of the whole decode (after the prompt)
}

export interface SpecResult {
  tokens: number[]; // generated tokens only
  stopReason: 'eos' | 'max-tokens';
  stats: SpecStats;
}

/** Blocks each pool needs for one sequence of up to maxSeqLen tokens. */
const poolBlocks = (model: LlamaModel, blockSize: number) => Math.ceil(model.maxSeqLen / blockSize) + 1;

function poolOf(model: LlamaModel): BlockManager {
  if (model.kv.mode !== 'paged') throw new Error('speculative decoding needs paged KV in both models');
  const blockSize = model.kv.blockSize;
  return new BlockManager({ nBlocks: Math.min(model.kv.nBlocks, poolBlocks(model, blockSize)), blockSize, prefixCaching: false });
}

/** Recent rounds the adaptive γ looks at. */
const ADAPT_WINDOW = 4;

/**
 * Generates up to `maxNewTokens` after `prompt` with the target's distribution (exactly its greedy tokens at
 * temperature 0), drafting with `draft`. Both models need a paged KV pool with room for one sequence.
 */
export async function speculativeGenerate(target: LlamaModel, draft: LlamaModel, prompt: readonly number[], maxNewTokens: number, o: SpecOptions): Promise<SpecResult> {
  if (prompt.length === 0) throw new Error('speculative: empty prompt');
  if (draft.config.vocabSize !== target.config.vocabSize) throw new Error(`speculative: the draft's vocabulary (${draft.config.vocabSize}) differs from the target's (${target.config.vocabSize})`);
  if (!(Number.isInteger(o.gamma) && o.gamma >= 1 && o.gamma <= 16)) throw new Error(`speculative: γ must be an integer in 1..16, got ${o.gamma}`);
  const seq = o.seq ?? 0;
  const greedy = o.sampling.temperature === 0;
  const rng = new Rng(o.seed);
  const tSeq = new KvSequence(target, poolOf(target), seq);
  const dSeq = new KvSequence(draft, poolOf(draft), seq);
  const maxLen = Math.min(target.maxSeqLen, draft.maxSeqLen);
  const ctx = [...prompt];
  const out: number[] = [];
  const stats: SpecStats = { rounds: 0, draftSteps: 0, proposed: 0, tested: 0, accepted: 0, alpha: 0, tokensPerTargetPass: 0, draftMs: 0, verifyMs: 0, ms: 0 };
  let gamma = o.gamma;
  const recent: number[] = []; // acceptance rate of recent rounds
  let stopReason: SpecResult['stopReason'] = 'max-tokens';
  try {
    // The prompt, all but its last token, goes into both caches first: each round then feeds the last
    // known token (and whatever the draft has not seen yet).
    if (ctx.length > 1) {
      await tSeq.feed(ctx.slice(0, -1));
      await dSeq.feed(ctx.slice(0, -1));
    }
    const t0 = performance.now();
    while (out.length < maxNewTokens && ctx.length < maxLen) {
      // Never propose past the token budget or the context: the last round may draft fewer.
      const g = Math.max(0, Math.min(gamma, maxNewTokens - out.length - 1, maxLen - ctx.length - 1));
      // Draft: γ autoregressive steps of the small model.
      const drafts: number[] = [];
      const qs: Float64Array[] = [];
      const td = performance.now();
      if (greedy && g > 0) {
        // Greedy: all γ draft steps in one submit, each argmax fed to the next pass on the GPU.
        drafts.push(...(await dSeq.draftGreedy(ctx.slice(dSeq.length), g)));
        stats.draftSteps += g;
      }
      for (let i = 0; i < g && !greedy; i++) {
        const input = i === 0 ? ctx.slice(dSeq.length) : [drafts[i - 1]!];
        stats.draftSteps++;
        const q = distribution((await dSeq.feed(input))[0]!, o.sampling);
        qs.push(q);
        drafts.push(sampleFrom(q, rng.next()));
      }
      stats.draftMs += performance.now() - td;
      const pos0 = ctx.length;
      if (g > 0) o.bus?.emit({ kind: 'spec.draft', seq, round: stats.rounds, pos0, tokens: drafts.map((token, i) => ({ token, q: greedy ? 1 : qs[i]![token]! })), ms: performance.now() - td });
      // Verify: the target scores the last known token and every draft token in one pass.
      const tv = performance.now();
      const pending = ctx.slice(tSeq.length);
      let v: VerifyResult;
      if (greedy) v = verifyGreedy(drafts, (await tSeq.feedArgmax([...pending, ...drafts], 'all')).slice(pending.length - 1));
      else {
        const rows = (await tSeq.feed([...pending, ...drafts], 'all')).slice(pending.length - 1);
        v = verifyDraft({ draftTokens: drafts, q: qs, p: rows.map((r) => distribution(r, o.sampling)), rng });
      }
      stats.verifyMs += performance.now() - tv;
      stats.rounds++;
      stats.proposed += g;
      stats.tested += v.positions.length;
      stats.accepted += v.accepted;
      // Roll back: the target keeps the context and the accepted drafts; the draft never holds more.
      tSeq.rollback(ctx.length + v.accepted);
      dSeq.rollback(Math.min(dSeq.length, ctx.length + v.accepted));
      o.bus?.emit({
        kind: 'spec.verify',
        seq,
        round: stats.rounds - 1,
        pos0,
        gamma: g,
        positions: v.positions.map((p, i) => ({ position: pos0 + i, ...p })),
        accepted: v.accepted,
        emitted: v.tokens,
        ...(v.residualTop ? { residualTop: v.residualTop } : {}),
        ms: performance.now() - tv,
      });
      let ended = false;
      for (const t of v.tokens) {
        if (o.stopTokens?.includes(t)) {
          stopReason = 'eos';
          ended = true;
          break;
        }
        out.push(t);
        ctx.push(t);
        if (out.length >= maxNewTokens) break;
      }
      if (ended) break;
      if (o.adaptive && g > 0) {
        recent.push(v.accepted / g);
        if (recent.length > ADAPT_WINDOW) recent.shift();
        gamma = nextGamma(gamma, recent.reduce((a, b) => a + b, 0) / recent.length, o.adaptive);
      }
    }
    stats.ms = performance.now() - t0;
  } finally {
    tSeq.release();
    dSeq.release();
  }
  // Positions after the first rejection were never judged: counting them as rejections would understate α.
  stats.alpha = stats.tested > 0 ? stats.accepted / stats.tested : 0;
  stats.tokensPerTargetPass = stats.rounds > 0 ? out.length / stats.rounds : 0;
  return { tokens: out, stopReason, stats };
}

/** Plain decoding with the target alone, one pass per token: the baseline speculative decoding must match. */
export async function plainGenerate(target: LlamaModel, prompt: readonly number[], maxNewTokens: number, o: Pick<SpecOptions, 'sampling' | 'seed' | 'stopTokens'>): Promise<SpecResult & { msPerToken: number }> {
  const rng = new Rng(o.seed);
  const s = new KvSequence(target, poolOf(target), 0);
  const out: number[] = [];
  let stopReason: SpecResult['stopReason'] = 'max-tokens';
  let ms = 0;
  try {
    // Greedy: the argmax is taken on the GPU (4 bytes back per token), as the engine's own greedy decoding.
    const greedy = o.sampling.temperature === 0;
    const next = async (tokens: readonly number[]) => (greedy ? (await s.feedArgmax(tokens))[0]! : sampleFrom(distribution((await s.feed(tokens))[0]!, o.sampling), rng.next()));
    let token = await next(prompt);
    const t0 = performance.now();
    while (out.length < maxNewTokens && prompt.length + out.length < target.maxSeqLen) {
      if (o.stopTokens?.includes(token)) {
        stopReason = 'eos';
        break;
      }
      out.push(token);
      if (out.length >= maxNewTokens) break;
      token = await next([token]);
    }
    ms = performance.now() - t0;
  } finally {
    s.release();
  }
  const stats: SpecStats = { rounds: out.length, draftSteps: 0, proposed: 0, tested: 0, accepted: 0, alpha: 0, tokensPerTargetPass: 1, draftMs: 0, verifyMs: ms, ms };
  return { tokens: out, stopReason, stats, msPerToken: out.length > 1 ? ms / (out.length - 1) : ms };
}
