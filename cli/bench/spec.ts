// `decode-lab bench spec`: speculative decoding against plain target decoding, on the real engine. For each
// γ (1..8, or --gamma), runs of plain decoding and of speculative decoding alternate; reports the acceptance
// rate α, tokens per target pass, the measured cost ratio c (draft step / target step), the measured speedup
// (median over runs) and the one the formula (1 − α^(γ+1)) / ((1 − α)(γc + 1)) predicts from α and c, and
// whether greedy output was token for token the target's.

import path from 'node:path';
import { releaseDawn } from '../../gpu/node.ts';
import { LlamaModel } from '../../workers/model/llama.ts';
import type { ModelWeights } from '../../workers/model/config.ts';
import { draftLabel, earlyExitWeights, parseDraft, type DraftKind } from '../../workers/spec/drafts.ts';
import { predictedSpeedup } from '../../workers/spec/rejection.ts';
import { plainGenerate, speculativeGenerate } from '../../workers/spec/speculative.ts';
import { parseFlags, UsageError } from '../args.ts';
import { bundledModelDir } from '../model-source.ts';
import { openModel } from './open-model.ts';
import { median } from '../../gpu/stats.ts';

const PROMPTS = ['Once upon a time', 'It is a truth universally acknowledged', 'The little dog ran to', 'She said that'];

export async function benchSpec(argv: string[]): Promise<number> {
  const f = parseFlags(argv, {
    model: 'string', tokenizer: 'string', draft: 'string', 'draft-model': 'string', gamma: 'number', tokens: 'number',
    runs: 'number', temperature: 'number', seed: 'number', json: 'boolean',
  });
  const draftKind: DraftKind = parseDraft(f.draft ?? 'default');
  const gammas = f.gamma !== undefined ? [f.gamma] : [1, 2, 3, 4, 5, 6, 7, 8];
  if (gammas.some((g) => !Number.isInteger(g) || g < 1 || g > 16)) throw new UsageError('--gamma takes an integer in 1..16');
  const tokens = f.tokens ?? 64;
  const runs = f.runs ?? 3;
  const temperature = f.temperature ?? 0;
  if (!Number.isInteger(tokens) || tokens < 2) throw new UsageError('--tokens must be an integer ≥ 2');
  if (!Number.isInteger(runs) || runs < 1) throw new UsageError('--runs must be a positive integer');
  if (!(temperature >= 0)) throw new UsageError('--temperature must be ≥ 0');
  const sampling = { temperature, topK: 0, topP: 1 };

  const { probe, report, ctx, weights, tokenizer, name } = await openModel(f);
  let draftWeights: ModelWeights = weights;
  if (draftKind.kind === 'model') {
    const d = await openModel({ model: f['draft-model'] ?? bundledModelDir('decode-lab-draft') });
    await d.probe.dispose();
    draftWeights = d.weights;
    if (draftWeights.config.vocabSize !== weights.config.vocabSize) throw new UsageError(`the draft's vocabulary (${draftWeights.config.vocabSize}) differs from the target's (${weights.config.vocabSize})`);
  } else if (draftKind.kind === 'early-exit') draftWeights = earlyExitWeights(weights, draftKind.layers);
  const maxSeqLen = Math.min(weights.config.maxSeqLen, 512);
  const blockSize = 16;
  const kv = { mode: 'paged' as const, blockSize, nBlocks: Math.ceil(maxSeqLen / blockSize) + 2, maxSeqs: 1 };
  const make = (w: ModelWeights, quantize?: 'int8') => LlamaModel.create(ctx, w, { maxSeqLen, maxTokens: 128, maxOutputs: 17, kv, ...(quantize ? { quantize } : {}) });
  const target = await make(weights);
  const draft = await make(draftWeights, draftKind.kind === 'int8' ? 'int8' : undefined);
  const stopTokens = [tokenizer.eosId].filter((t) => t >= 0);
  const prompts = PROMPTS.map((p) => tokenizer.encode(p, { bos: true }));

  // Warm-up: every plan both models use (prefill, decode, verify for each γ) is built before timing.
  for (const g of gammas) await speculativeGenerate(target, draft, prompts[0]!, Math.min(tokens, 2 * g + 2), { gamma: g, sampling, seed: 0 });
  await plainGenerate(target, prompts[0]!, 4, { sampling, seed: 0 });

  const results = [];
  for (const gamma of gammas) {
    const speedups: number[] = [];
    const plainTps: number[] = [];
    const specTps: number[] = [];
    const cs: number[] = [];
    let tested = 0;
    let accepted = 0;
    let passes = 0;
    let produced = 0;
    let identical = true;
    for (let r = 0; r < runs; r++) {
      const prompt = prompts[r % prompts.length]!;
      const seed = 1000 + r;
      const plain = await plainGenerate(target, prompt, tokens, { sampling, seed, stopTokens });
      const spec = await speculativeGenerate(target, draft, prompt, tokens, { gamma, sampling, seed, stopTokens });
      if (temperature === 0 && spec.tokens.join() !== plain.tokens.join()) identical = false;
      const pTps = (plain.tokens.length * 1000) / plain.stats.ms;
      const sTps = (spec.tokens.length * 1000) / spec.stats.ms;
      plainTps.push(pTps);
      specTps.push(sTps);
      speedups.push(sTps / pTps);
      cs.push(spec.stats.draftMs / spec.stats.draftSteps / plain.msPerToken);
      tested += spec.stats.tested;
      accepted += spec.stats.accepted;
      passes += spec.stats.rounds;
      produced += spec.tokens.length;
    }
    const alpha = tested > 0 ? accepted / tested : 0; // per judged draft token
    const c = median(cs);
    const row = {
      draft: draftLabel(draftKind),
      gamma,
      alpha: round(alpha, 4),
      tokensPerTargetPass: round(produced / passes, 3),
      c: round(c, 4),
      targetTokensPerSec: round(median(plainTps), 1),
      specTokensPerSec: round(median(specTps), 1),
      speedupMeasured: round(median(speedups), 3),
      speedupPredicted: round(predictedSpeedup(Math.min(alpha, 1), gamma, c), 3),
      greedyIdentical: temperature === 0 ? identical : null,
    };
    results.push(row);
    process.stderr.write(`decode-lab: γ=${gamma}: α ${row.alpha}, c ${row.c}, speedup ${row.speedupMeasured} (predicted ${row.speedupPredicted})${temperature === 0 ? `, greedy identical: ${identical}` : ''}\n`);
  }
  const best = results.reduce((a, b) => (b.speedupMeasured > a.speedupMeasured ? b : a));
  const out = { model: name, draft: draftKind.kind === 'model' ? path.basename(f['draft-model'] ?? 'decode-lab-draft') : draftLabel(draftKind), tokens, runs, temperature, results, best: { gamma: best.gamma, speedupMeasured: best.speedupMeasured, speedupPredicted: best.speedupPredicted }, device: report.capabilities.adapter };
  process.stdout.write((f.json ? JSON.stringify(out) : JSON.stringify(out, null, 2)) + '\n');
  target.dispose();
  draft.dispose();
  await probe.dispose();
  releaseDawn();
  return 0;
}

function round(x: number, digits: number): number {
  return Number(x.toFixed(digits));
}
