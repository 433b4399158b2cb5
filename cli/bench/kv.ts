// `decode-lab bench kv`: paged vs contiguous KV memory on a seeded serving workload (64 requests, shared
// system prompts, long-tailed output lengths). Every request's prompt runs through the real engine (paged
// KV, seeded sampling, up to the workload's output length); the tokens it really generated are then replayed
// through the block manager under a fixed KV budget, against a contiguous cache that reserves maxSeqLen per
// sequence. (The engine runs requests one at a time until continuous batching lands; the replay is what
// admits them concurrently.)

import { dawnGpu, releaseDawn } from '../../gpu/node.ts';
import { Engine } from '../../workers/engine/engine.ts';
import { generateWorkload, replayKv, type Workload } from '../../workers/kv/workload.ts';
import { kvBytesPerToken } from '../../workers/model/activations.ts';
import { parseFlags, UsageError } from '../args.ts';
import { resolveModelSource } from '../model-source.ts';

export async function benchKv(argv: string[]): Promise<number> {
  const f = parseFlags(argv, { model: 'string', tokenizer: 'string', 'block-size': 'number', requests: 'number', seed: 'number', 'budget-seqs': 'number', json: 'boolean' });
  const blockSize = f['block-size'] ?? 16;
  const nRequests = f.requests ?? 64;
  const seed = f.seed ?? 1;
  const budgetSeqs = f['budget-seqs'] ?? 8;
  if (!Number.isInteger(blockSize) || blockSize < 1 || blockSize > 128) throw new UsageError('--block-size must be an integer in 1..128');
  if (!Number.isInteger(nRequests) || nRequests < 1) throw new UsageError('--requests must be a positive integer');

  const engine = new Engine({ gpu: dawnGpu });
  const report = await engine.capabilities();
  if (!report.ok) throw Object.assign(new Error(report.message), { code: report.code });
  const info = await engine.load(resolveModelSource(f.model, f.tokenizer), { mode: 'paged', blockSize });
  const c = info.config;
  const workload = generateWorkload({ seed, nRequests, vocabSize: c.vocabSize, maxSeqLen: c.maxSeqLen });

  // Real tokens: each prompt (BOS first) through the engine, as long as the workload asks or until EOS.
  const t0 = performance.now();
  let generated = 0;
  let decodeMs = 0;
  const real: Workload = { ...workload, requests: [] };
  for (const r of workload.requests) {
    const prompt = [c.bosTokenId, ...r.prompt.slice(1)];
    engine.startTokens(prompt, { steps: prompt.length + r.output.length - 1, temperature: 1, topK: 0, topP: 1, seed: seed + r.id, kvCache: true });
    const res = await engine.run();
    const output = res.tokenIds.slice(res.promptTokenCount);
    if (output.length === 0) continue; // ended at once (EOS): holds no KV beyond its prompt
    real.requests.push({ ...r, prompt, output });
    generated += output.length;
    decodeMs += res.stats.msPerToken.reduce((a, b) => a + b, 0);
    process.stderr.write(`\rdecode-lab: request ${r.id + 1}/${workload.requests.length}`);
  }
  process.stderr.write('\n');
  engine.blocks?.check();
  const bytesPerToken = kvBytesPerToken(c);
  const budgetBytes = budgetSeqs * c.maxSeqLen * bytesPerToken;
  const replay = replayKv(real, { blockSize, maxSeqLen: c.maxSeqLen, bytesPerToken, budgetBytes });
  const result = {
    blockSize,
    model: info.name,
    requests: real.requests.length,
    seed,
    budgetBytes,
    bytesPerToken,
    paged: replay.paged,
    contiguous: replay.contiguous,
    preemptions: replay.preemptions,
    cachedPromptTokens: replay.cachedPromptTokens,
    engine: { generatedTokens: generated, decodeTokensPerSec: Number(((generated / decodeMs) * 1000).toFixed(1)), wallSeconds: Number(((performance.now() - t0) / 1000).toFixed(1)) },
    device: report.capabilities.adapter,
  };
  if (f.json) process.stdout.write(JSON.stringify(result) + '\n');
  else {
    process.stdout.write(`${info.name}, ${result.requests} requests, block size ${blockSize}, KV budget ${(budgetBytes / 1e6).toFixed(1)} MB (${budgetSeqs} full-length sequences)\n`);
    process.stdout.write(`  paged:      utilization ${replay.paged.utilization.toFixed(3)}, ${replay.paged.admittedAtBudget} requests held at once\n`);
    process.stdout.write(`  contiguous: utilization ${replay.contiguous.utilization.toFixed(3)}, ${replay.contiguous.admittedAtBudget} requests held at once\n`);
  }
  await engine.dispose();
  releaseDawn();
  return 0;
}
