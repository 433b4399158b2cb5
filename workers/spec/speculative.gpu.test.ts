// Speculative decoding on the GPU. Greedy: the output is token for token the target's own greedy output —
// for stories260K with an early-exit draft and with its int8 copy, and for the bundled default pair — while
// both models' KV is rolled back every round. Sampling at temperature 1: with the default pair's real next-
// token distributions (target and draft, computed on the GPU), the first and second generated tokens
// of 20,000 speculative runs match the target's own marginals (χ², p > 0.01), and a broken acceptance rule
// fails the same test.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../gpu/testing/gpu.ts';
import type { GpuContext } from '../../gpu/device.ts';
import { loadLlama2c } from '../loaders/load-weights.ts';
import { BlockManager } from '../kv/block-manager.ts';
import { LlamaModel } from '../model/llama.ts';
import type { ModelWeights } from '../model/config.ts';
import { Rng } from '../sampling/rng.ts';
import { distribution } from '../sampling/sampler.ts';
import { bundledWeights, readBytes, STORIES260K } from '../testing/models.ts';
import { earlyExitWeights } from './drafts.ts';
import { plainGenerate, speculativeGenerate } from './speculative.ts';
import { specFit, type DistLm } from './testing/spec-fit.ts';
import type { TraceEvent } from '../engine/trace.ts';
import { TraceBus } from '../engine/trace-bus.ts';

const GREEDY = { temperature: 0, topK: 0, topP: 1 };
const MAX_SEQ = 128;

const PER_PASS = 16; // sequences per forward pass when tabulating distributions

function paged(ctx: GpuContext, weights: ModelWeights, extra: { quantize?: 'int8' } = {}, blockSize = 8) {
  return LlamaModel.create(ctx, weights, { maxSeqLen: MAX_SEQ, maxTokens: 128, maxOutputs: 17, kv: { mode: 'paged', blockSize, nBlocks: MAX_SEQ / blockSize + PER_PASS, maxSeqs: PER_PASS }, ...extra });
}

describe('speculative decoding on the GPU', () => {
  const stories = loadLlama2c(readBytes(STORIES260K), 'stories260K.bin');
  const prompts = [
    [1, 403, 407, 261, 378], // "Once upon a time"
    [1, 365, 1009 % 512, 279],
  ];

  it('greedy output equals the target alone: stories260K with early-exit and int8 drafts, γ = 1 and 4', async () => {
    const ctx = await testGpu();
    const target = await paged(ctx, stories);
    const drafts = { 'early-exit:2': await paged(ctx, earlyExitWeights(stories, 2)), int8: await paged(ctx, stories, { quantize: 'int8' }) };
    const bus = new TraceBus();
    const events: TraceEvent[] = [];
    bus.subscribe((b) => events.push(...b));
    const alpha = { 'early-exit:2': 0, int8: 0 };
    for (const prompt of prompts) {
      const plain = await plainGenerate(target, prompt, 32, { sampling: GREEDY, seed: 0 });
      expect(plain.tokens.length).toBe(32);
      for (const [name, draft] of Object.entries(drafts) as [keyof typeof drafts, LlamaModel][]) {
        for (const gamma of [1, 4]) {
          const spec = await speculativeGenerate(target, draft, prompt, 32, { gamma, sampling: GREEDY, seed: 0, bus });
          expect(spec.tokens, `${name} γ=${gamma}`).toEqual(plain.tokens);
          expect(spec.stats.rounds).toBeLessThanOrEqual(32);
          alpha[name] += spec.stats.alpha;
        }
      }
    }
    // The int8 copy of the target agrees with it almost everywhere; two layers of five much less often.
    expect(alpha.int8).toBeGreaterThan(alpha['early-exit:2']);
    expect(alpha['early-exit:2']).toBeGreaterThan(0);
    // Adaptive γ gives the same tokens too.
    const adaptive = await speculativeGenerate(target, drafts.int8, prompts[1]!, 32, { gamma: 2, adaptive: { min: 1, max: 6 }, sampling: GREEDY, seed: 0 });
    expect(adaptive.tokens).toEqual((await plainGenerate(target, prompts[1]!, 32, { sampling: GREEDY, seed: 0 })).tokens);
    // Trace: every round's draft and verdicts, positions in order.
    const verify = events.filter((e) => e.kind === 'spec.verify');
    expect(verify.length).toBeGreaterThan(0);
    for (const v of verify) {
      expect(v.emitted.length).toBe(v.accepted + 1);
      expect(v.positions.map((p) => p.position)).toEqual(v.positions.map((_, i) => v.pos0 + i));
      expect(v.positions.filter((p) => p.accepted).length).toBe(v.accepted);
    }
    expect(events.filter((e) => e.kind === 'spec.draft').length).toBeGreaterThan(0);
    for (const m of [target, ...Object.values(drafts)]) m.dispose();
  });

  it('greedy output equals the target alone for the bundled default pair', async () => {
    const ctx = await testGpu();
    const target = await paged(ctx, bundledWeights('decode-lab-target'));
    const draft = await paged(ctx, bundledWeights('decode-lab-draft'));
    const prompt = [0, 1196, 287, 1007, 301];
    const plain = await plainGenerate(target, prompt, 24, { sampling: GREEDY, seed: 0 });
    const spec = await speculativeGenerate(target, draft, prompt, 24, { gamma: 4, sampling: GREEDY, seed: 0 });
    expect(spec.tokens).toEqual(plain.tokens);
    expect(spec.stats.rounds).toBeLessThan(plain.tokens.length);
    target.dispose();
    draft.dispose();
  });

  it('keeps the target distribution at temperature 1 with the default pair (χ², 20,000 runs), and a broken rule fails', async () => {
    const ctx = await testGpu();
    const context = [0, 1196, 287, 1007];
    const target = await paged(ctx, bundledWeights('decode-lab-target'), {}, context.length);
    const draft = await paged(ctx, bundledWeights('decode-lab-draft'), {}, context.length);
    // Temperature 1, shaped by top-k 64 on both sides (as the engine shapes p and q alike), so that the
    // target's exact marginal of the second token can be enumerated here.
    const sampling = { temperature: 1, topK: 64, topP: 1 };
    const V = target.config.vocabSize;
    // Every distribution the first two tokens can depend on, computed on the GPU: after the context and
    // after the context plus any one token, for the target and the draft.
    // Distributions after the context and after the context plus one token x, for x in `xs`.
    const table = async (model: LlamaModel, xs: readonly number[]): Promise<Map<string, Float64Array>> => {
      // The context fills exactly one block; each one-token continuation forks it and appends into a fresh
      // block of its own, so a pass carries PER_PASS continuations of one token each.
      const blocks = new BlockManager({ nBlocks: model.kv.mode === 'paged' ? model.kv.nBlocks : 1, blockSize: context.length, prefixCaching: false });
      const root = blocks.addSequence(0, context);
      if (!('slots' in root)) throw new Error('pool too small');
      const out = new Map<string, Float64Array>();
      const [first] = await model.forwardBatch([{ tokens: context, pos0: 0, slots: root.slots, blockTable: blocks.blockTable(0) }]);
      out.set(context.join(','), distribution(first!, sampling));
      for (let i0 = 0; i0 < xs.length; i0 += PER_PASS) {
        const group = xs.slice(i0, i0 + PER_PASS);
        const entries = group.map((x, i) => {
          blocks.fork(0, i + 1);
          const r = blocks.append(i + 1, x);
          if (!('slot' in r) || r.cow) throw new Error('expected a fresh block');
          return { tokens: [x], pos0: context.length, slots: [r.slot], blockTable: blocks.blockTable(i + 1) };
        });
        const logits = await model.forwardBatch(entries);
        group.forEach((x, i) => {
          out.set([...context, x].join(','), distribution(logits[i]!, sampling));
          blocks.free(i + 1);
        });
      }
      return out;
    };
    // The first token is drawn from the target's support or proposed from the draft's: every distribution
    // the first two tokens depend on is after the context, or after the context plus one of those tokens.
    const support = (d: Float64Array) => [...d.keys()].filter((x) => d[x]! > 0);
    const p0 = (await table(target, [])).get(context.join(','))!;
    const q0 = (await table(draft, [])).get(context.join(','))!;
    const xs = [...new Set([...support(p0), ...support(q0)])];
    expect(xs.length).toBeLessThanOrEqual(2 * sampling.topK);
    const lm = (t: Map<string, Float64Array>): DistLm => ({
      dist: (prefix) => {
        const d = t.get(prefix.join(','));
        if (d) return d;
        // Only the bonus draw of a second round (the third token, never examined) looks deeper.
        if (prefix.length === context.length + 2) return new Float64Array(V).fill(1 / V);
        throw new Error(`no distribution after ${prefix.join(',')}`);
      },
    });
    const p = lm(await table(target, xs));
    const q = lm(await table(draft, xs));
    const fit = specFit(p, q, context, V, 20_000, new Rng(2026), 1);
    expect(fit.first).toBeGreaterThan(0.01);
    expect(fit.second).toBeGreaterThan(0.01);
    // The draft agrees with the target often, but far from always: both accepts and resamples are exercised.
    expect(fit.alpha).toBeGreaterThan(0.3);
    expect(fit.alpha).toBeLessThan(0.95);
    // Deliberately broken rules — accept with min(1, q/p), or resample a rejection from p instead of the
    // residual — are caught by the same test.
    for (const rule of ['inverted-ratio', 'resample-from-p'] as const) {
      const broken = specFit(p, q, context, V, 20_000, new Rng(2026), 1, rule);
      expect(Math.min(broken.first, broken.second), rule).toBeLessThan(1e-6);
    }
    target.dispose();
    draft.dispose();
  });
});
