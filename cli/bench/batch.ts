// `decode-lab bench batch`: what batching buys, on the real engine.
//   default: the same seeded Poisson trace of mixed requests (chat, summarize, code) served under static,
//            continuous and SLA-aware batching; vLLM's serving metrics per policy.
//   --decode-only: B sequences decoded together (one forward pass per iteration carries one token of each;
//            weights are read once per pass) for B = 1, 2, 4, 8, 16; output tokens/s, medians of runs.

import { releaseDawn } from '../../gpu/node.ts';
import { BatchExecutor } from '../../workers/engine/batch-executor.ts';
import { BlockManager } from '../../workers/kv/block-manager.ts';
import { LlamaModel } from '../../workers/model/llama.ts';
import { argmax } from '../../workers/sampling/sampler.ts';
import { Rng } from '../../workers/sampling/rng.ts';
import { parseFlags, UsageError } from '../args.ts';
import { openModel } from './open-model.ts';
import { serve } from '../../workers/engine/serving.ts';
import { createScheduler, type PolicyName } from '../../workers/sched/scheduler.ts';
import { generateRequests, type RequestKind } from '../../workers/sched/workload.ts';
import { median } from '../../gpu/stats.ts';


export async function benchBatch(argv: string[]): Promise<number> {
  const f = parseFlags(argv, {
    model: 'string', tokenizer: 'string', json: 'boolean',
    'decode-only': 'boolean', batches: 'string', steps: 'number', runs: 'number', 'prompt-len': 'number',
    policy: 'string', requests: 'number', rate: 'number', seed: 'number', 'max-batch': 'number', 'token-budget': 'number', 'length-scale': 'number', mix: 'string', temperature: 'number', sync: 'boolean',
  });
  if (!f['decode-only']) return benchPolicies(f);
  const batches = (f.batches ?? '1,2,4,8,16').split(',').map(Number);
  const steps = f.steps ?? 64;
  const runs = f.runs ?? 5;
  const promptLen = f['prompt-len'] ?? 32;
  if (batches.some((b) => !Number.isInteger(b) || b < 1 || b > 64)) throw new UsageError('--batches takes integers in 1..64, e.g. 1,8');
  const maxBatch = Math.max(...batches);

  const { probe, report, ctx, weights, name } = await openModel(f);
  const c = weights.config;
  const maxSeqLen = Math.min(c.maxSeqLen, promptLen + steps + 1);
  const blockSize = 16;
  const nBlocks = maxBatch * Math.ceil(maxSeqLen / blockSize) + 1;
  const model = await LlamaModel.create(ctx, weights, { maxSeqLen, maxTokens: Math.max(maxBatch * promptLen, 64), kv: { mode: 'paged', blockSize, nBlocks, maxSeqs: maxBatch } });
  const rng = new Rng(7);
  const prompts = Array.from({ length: maxBatch }, () => [c.bosTokenId, ...Array.from({ length: promptLen - 1 }, () => 3 + Math.floor(rng.next() * (c.vocabSize - 3)))]);

  const results: { batch: number; tokensPerSec: number; msPerIteration: number }[] = [];
  for (const B of batches) {
    const tps: number[] = [];
    const ms: number[] = [];
    for (let r = 0; r <= runs; r++) {
      const exec = new BatchExecutor(model, new BlockManager({ nBlocks, blockSize, prefixCaching: false }));
      const seqs = Array.from({ length: B }, (_, i) => i);
      seqs.forEach((s) => exec.admit(s, prompts[s]!));
      let logits = await exec.step(seqs.map((s) => ({ seq: s, tokens: prompts[s]! }))); // prefill, untimed
      const t0 = performance.now();
      for (let i = 0; i < steps; i++) logits = await exec.step(seqs.map((s, k) => ({ seq: s, tokens: [argmax(logits[k]!)] })));
      const elapsed = performance.now() - t0;
      if (r === 0) continue; // warm-up run
      tps.push((B * steps * 1000) / elapsed);
      ms.push(elapsed / steps);
    }
    results.push({ batch: B, tokensPerSec: Number(median(tps).toFixed(1)), msPerIteration: Number(median(ms).toFixed(3)) });
  }
  const one = results.find((r) => r.batch === 1);
  const eight = results.find((r) => r.batch === 8);
  const out = { model: name, steps, runs, promptLen, decode: results, speedup8vs1: one && eight ? Number((eight.tokensPerSec / one.tokensPerSec).toFixed(2)) : null, device: report.capabilities.adapter };
  if (f.json) process.stdout.write(JSON.stringify(out) + '\n');
  else for (const r of results) process.stdout.write(`batch ${String(r.batch).padStart(2)}: ${r.tokensPerSec} tokens/s (${r.msPerIteration} ms per iteration)\n`);
  model.dispose();
  await probe.dispose();
  releaseDawn();
  return 0;
}

/**
 * A request mix scaled to a small model's context (the library default assumes 1–2k-token contexts) and
 * by `scale` (the default trace is short enough for a CPU adapter; the H100 runs take scale 1).
 */
function mixFor(maxSeqLen: number, scale: number, mix: string): RequestKind[] {
  const c = (x: number) => Math.max(2, Math.floor((x * scale * maxSeqLen) / 512));
  // decode-heavy: short prompts, answers of very different lengths (chat and code generation).
  if (mix === 'decode-heavy') {
    return [
      { name: 'chat', weight: 0.6, prompt: [c(4), c(12)], output: [c(16), c(192)] },
      { name: 'code', weight: 0.4, prompt: [c(4), c(12)], output: [c(96), c(384)] },
    ];
  }
  return [
    { name: 'chat', weight: 0.5, prompt: [c(16), c(96)], output: [c(16), c(96)] },
    { name: 'summarize', weight: 0.25, prompt: [c(128), c(256)], output: [c(8), c(32)] },
    { name: 'code', weight: 0.25, prompt: [c(8), c(48)], output: [c(64), c(160)] },
  ];
}

interface PolicyFlags {
  model?: string;
  tokenizer?: string;
  json?: boolean;
  policy?: string;
  requests?: number;
  rate?: number;
  seed?: number;
  runs?: number;
  'max-batch'?: number;
  'token-budget'?: number;
  'length-scale'?: number;
  mix?: string;
  temperature?: number;
  sync?: boolean;
}

/** The figures a policy run reports (medians over runs for the numbers). */
interface PolicyFigures {
  outputTokensPerSec: number;
  requestsPerSec: number;
  tpotP50Ms: number;
  ttftP50Ms: number;
  ttftP90Ms: number;
  itlP50Ms: number;
  e2eP50Ms: number;
  meanBatchSize: number;
  preemptions: number;
  outputTokens: number;
  iterations: number;
  /** Wall time per iteration, and the model's CPU time per iteration: input writes, recording, submit. */
  usPerIteration: number;
  cpuWriteUsPerIteration: number;
  cpuRecordUsPerIteration: number;
  cpuSubmitUsPerIteration: number;
}

async function benchPolicies(f: PolicyFlags): Promise<number> {
  const policies = (f.policy ? [f.policy] : ['static', 'continuous', 'sla']) as PolicyName[];
  for (const p of policies) if (!['static', 'continuous', 'sla'].includes(p)) throw new UsageError(`--policy must be static, continuous or sla, got "${p}"`);
  const nRequests = f.requests ?? 8;
  const rate = f.rate ?? 8;
  const seed = f.seed ?? 1;
  const runs = f.runs ?? 1;
  const maxBatch = f['max-batch'] ?? 8;
  const scale = f['length-scale'] ?? 0.25;
  if (!Number.isInteger(runs) || runs < 1) throw new UsageError('--runs must be a positive integer');
  if (!(scale > 0 && scale <= 1)) throw new UsageError('--length-scale must be in (0, 1]');
  const mixName = f.mix ?? 'mixed';
  const temperature = f.temperature ?? 0;
  if (!(temperature >= 0)) throw new UsageError('--temperature must be ≥ 0');
  if (!['mixed', 'decode-heavy'].includes(mixName)) throw new UsageError(`--mix must be mixed or decode-heavy, got "${mixName}"`);
  const { probe, report, ctx, weights, name } = await openModel(f);
  const c = weights.config;
  const requests = generateRequests({ seed, nRequests, ratePerSec: rate, vocabSize: c.vocabSize, mix: mixFor(c.maxSeqLen, scale, mixName), interactive: { fraction: 0.25, priority: 1, ttftMs: 2000 } })
    .map((r) => ({ ...r, prompt: [c.bosTokenId, ...r.prompt.slice(1)] }));
  const blockSize = 16;
  const nBlocks = maxBatch * Math.ceil(c.maxSeqLen / blockSize);
  const tokenBudget = f['token-budget'] ?? 256;
  if (!Number.isInteger(tokenBudget) || tokenBudget < 1) throw new UsageError('--token-budget must be a positive integer');
  const model = await LlamaModel.create(ctx, weights, { maxTokens: Math.max(tokenBudget, ...requests.map((r) => r.prompt.length)) * maxBatch, kv: { mode: 'paged', blockSize, nBlocks, maxSeqs: maxBatch } });
  const samples = new Map<PolicyName, PolicyFigures[]>(policies.map((p) => [p, []]));
  // Per policy and batch size: the time from one pass's submit to the next's, over every run — what a pass of
  // that many sequences costs in the loop (wall, CPU and GPU together).
  const periods = new Map<PolicyName, Map<number, number[]>>(policies.map((p) => [p, new Map()]));
  // Policies alternate within each run, so a slow spell of a shared machine hits them alike.
  for (let run = 0; run < runs; run++) {
    for (const policy of policies) {
      const exec = new BatchExecutor(model, new BlockManager({ nBlocks, blockSize }));
      const cpu0 = { ...model.cpu };
      const t0 = performance.now();
      const r = await serve(exec, createScheduler(policy, { maxBatchSize: maxBatch, tokenBudget }), requests, { sampling: { temperature, topK: 0, topP: 1 }, seed, pipelined: !f.sync });
      const wallMs = performance.now() - t0;
      r.iterations.forEach((it, i) => {
        const next = r.iterations[i + 1];
        if (!next) return;
        const byBatch = periods.get(policy)!;
        if (!byBatch.has(it.batchSize)) byBatch.set(it.batchSize, []);
        byBatch.get(it.batchSize)!.push((next.startMs - it.startMs) * 1000);
      });
      const m = r.metrics;
      const its = r.iterations.length;
      const perIt = (key: keyof LlamaModel['cpu']) => ((model.cpu[key] - cpu0[key]) * 1000) / its;
      samples.get(policy)!.push({
        outputTokensPerSec: m.outputThroughput,
        requestsPerSec: m.requestThroughput,
        tpotP50Ms: m.tpotMs.p50,
        ttftP50Ms: m.ttftMs.p50,
        ttftP90Ms: m.ttftMs.p90,
        itlP50Ms: m.itlMs.p50,
        e2eP50Ms: m.e2eMs.p50,
        meanBatchSize: m.batchSize.mean,
        preemptions: r.preemptions,
        outputTokens: m.outputTokens,
        iterations: its,
        usPerIteration: (wallMs * 1000) / its,
        cpuWriteUsPerIteration: perIt('writeMs'),
        cpuRecordUsPerIteration: perIt('recordMs'),
        cpuSubmitUsPerIteration: perIt('submitMs'),
      });
      process.stderr.write(`decode-lab: run ${run + 1}/${runs} ${policy}: ${m.outputThroughput.toFixed(1)} tokens/s, p50 TPOT ${m.tpotMs.p50.toFixed(1)} ms, p50 TTFT ${m.ttftMs.p50.toFixed(0)} ms\n`);
    }
  }
  const out: Record<string, Record<string, number>> = {};
  const periodUs: Record<string, Record<number, number>> = {};
  for (const [policy, list] of samples) {
    const fig: Record<string, number> = {};
    for (const key of Object.keys(list[0]!) as (keyof PolicyFigures)[]) {
      const v = median(list.map((x) => x[key]));
      fig[key] = Number(v.toFixed(key.endsWith('Ms') || key === 'meanBatchSize' ? 2 : key === 'requestsPerSec' ? 3 : 1));
    }
    if (runs > 1) fig.runs = runs;
    out[policy] = fig;
    periodUs[policy] = Object.fromEntries([...periods.get(policy)!].sort(([a], [b]) => a - b).map(([b, list]) => [b, Number(median(list).toFixed(1))]));
  }
  // Ratios of the medians, and the median of each run's own ratio (static and continuous run back to back
  // within a run, so a slow spell of a shared machine cancels out of the paired figure).
  const st = samples.get('static');
  const co = samples.get('continuous');
  const paired = (key: keyof PolicyFigures) => Number(median(st!.map((s, i) => co![i]![key] / s[key])).toFixed(3));
  const ratio = out.static && out.continuous ? {
    continuousVsStatic: {
      throughput: Number((out.continuous.outputTokensPerSec! / out.static.outputTokensPerSec!).toFixed(2)),
      tpotP50: Number((out.continuous.tpotP50Ms! / out.static.tpotP50Ms!).toFixed(2)),
      pairedThroughput: paired('outputTokensPerSec'),
      pairedTpotP50: paired('tpotP50Ms'),
    },
  } : {};
  const result = { model: name, pipelined: !f.sync && temperature === 0, requests: nRequests, ratePerSec: rate, seed, mix: mixName, temperature, lengthScale: scale, maxBatchSize: maxBatch, tokenBudget, runs, policies: out, ...ratio, periodUsByBatchSize: periodUs, device: report.capabilities.adapter };
  process.stdout.write((f.json ? JSON.stringify(result) : JSON.stringify(result, null, 2)) + '\n');
  model.dispose();
  await probe.dispose();
  releaseDawn();
  return 0;
}
