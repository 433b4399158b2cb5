// `decode-lab bench cache`: the lesson on why KV caches exist, measured. Generates the same greedy tokens
// with and without the KV cache, several times, and reports the median decode time per token in
// position buckets: flat with the cache, growing with position without it.

import { dawnGpu, releaseDawn } from '../../gpu/node.ts';
import { Engine } from '../../workers/engine/engine.ts';
import { parseFlags, UsageError } from '../args.ts';
import { resolveModelSource } from '../model-source.ts';
import { median } from '../../gpu/stats.ts';


export async function benchCache(argv: string[]): Promise<number> {
  const f = parseFlags(argv, { model: 'string', tokenizer: 'string', steps: 'number', runs: 'number', buckets: 'number', json: 'boolean' });
  const steps = f.steps ?? 256;
  const runs = f.runs ?? 5;
  const nBuckets = f.buckets ?? 4;
  if (runs < 1 || steps < 8) throw new UsageError('--runs ≥ 1 and --steps ≥ 8');
  const engine = new Engine({ gpu: dawnGpu });
  const report = await engine.capabilities();
  if (!report.ok) throw Object.assign(new Error(report.message), { code: report.code });
  const info = await engine.load(resolveModelSource(f.model, f.tokenizer));
  const prompt = 'Once upon a time';
  const out: Record<string, { msPerTokenByBucket: { positions: string; medianMs: number }[]; decodeTokensPerSec: number }> = {};
  let identical = true;
  let reference: number[] | null = null;
  for (const kvCache of [true, false]) {
    const perRun: number[][] = [];
    const tps: number[] = [];
    await engine.generate(prompt, { steps: Math.min(steps, 32), temperature: 0, topK: 0, topP: 1, seed: 0, kvCache }); // warm-up
    for (let r = 0; r < runs; r++) {
      // An end-of-sequence token would cut runs short; greedy runs of one prompt all stop at the same place.
      const res = await engine.generate(prompt, { steps, temperature: 0, topK: 0, topP: 1, seed: 0, kvCache });
      perRun.push(res.stats.msPerToken);
      tps.push(res.stats.decodeTokensPerSec);
      if (reference === null) reference = res.tokenIds;
      else identical &&= JSON.stringify(reference) === JSON.stringify(res.tokenIds);
    }
    const n = Math.min(...perRun.map((r) => r.length));
    const first = steps - n; // position of the first decoded token's forward pass
    const size = Math.ceil(n / nBuckets);
    const buckets = [];
    for (let b = 0; b * size < n; b++) {
      const lo = b * size;
      const hi = Math.min(n, lo + size);
      const perBucket = perRun.map((r) => median(r.slice(lo, hi)));
      buckets.push({ positions: `${first + lo}-${first + hi - 1}`, medianMs: Number(median(perBucket).toFixed(3)) });
    }
    out[kvCache ? 'withCache' : 'withoutCache'] = { msPerTokenByBucket: buckets, decodeTokensPerSec: Number(median(tps).toFixed(1)) };
  }
  const result = { model: info.name, steps, runs, greedyIdentical: identical, ...out, device: report.capabilities.adapter };
  if (f.json) process.stdout.write(JSON.stringify(result) + '\n');
  else {
    process.stdout.write(`${info.name}, ${steps} steps, median of ${runs} runs, tokens identical: ${identical}\n`);
    for (const key of ['withCache', 'withoutCache'] as const) {
      process.stdout.write(`${key}: ${out[key]!.decodeTokensPerSec} tok/s\n`);
      for (const b of out[key]!.msPerTokenByBucket) process.stdout.write(`  positions ${b.positions.padEnd(9)} ${b.medianMs.toFixed(3)} ms/token\n`);
    }
  }
  await engine.dispose();
  releaseDawn();
  return identical ? 0 : 1;
}
