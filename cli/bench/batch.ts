// `decode-lab bench batch`: what batching buys. Decodes B sequences together (one forward pass per
// iteration carries one token of each; weights are read once per pass) for B = 1, 2, 4, 8, 16 and reports
// output tokens/s, medians of several runs. The serving-policy comparison (static vs continuous vs
// SLA-aware on a Poisson trace) joins this command when the engine's scheduler loop lands.

import { dawnGpu, releaseDawn } from '../../gpu/node.ts';
import { BatchExecutor } from '../../workers/engine/batch-executor.ts';
import { Engine } from '../../workers/engine/engine.ts';
import { BlockManager } from '../../workers/kv/block-manager.ts';
import { LlamaModel } from '../../workers/model/llama.ts';
import { argmax } from '../../workers/sampling/sampler.ts';
import { Rng } from '../../workers/sampling/rng.ts';
import { parseFlags, UsageError } from '../args.ts';
import { resolveModelSource } from '../model-source.ts';
import { modelDisplayName, parseModelFiles } from '../../workers/engine/load-model.ts';
import { fetchModelFiles } from '../../workers/loaders/sources.ts';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export async function benchBatch(argv: string[]): Promise<number> {
  const f = parseFlags(argv, { model: 'string', tokenizer: 'string', batches: 'string', steps: 'number', runs: 'number', 'prompt-len': 'number', json: 'boolean' });
  const batches = (f.batches ?? '1,2,4,8,16').split(',').map(Number);
  const steps = f.steps ?? 64;
  const runs = f.runs ?? 5;
  const promptLen = f['prompt-len'] ?? 32;
  if (batches.some((b) => !Number.isInteger(b) || b < 1 || b > 64)) throw new UsageError('--batches takes integers in 1..64, e.g. 1,8');
  const maxBatch = Math.max(...batches);

  const probe = new Engine({ gpu: dawnGpu });
  const report = await probe.capabilities();
  if (!report.ok) throw Object.assign(new Error(report.message), { code: report.code });
  const ctx = probe.gpuContext!;
  const source = resolveModelSource(f.model, f.tokenizer);
  const parsed = await parseModelFiles(await fetchModelFiles(source, {}));
  const { weights } = parsed;
  const name = modelDisplayName(source, parsed.name);
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
