// `decode-lab generate`: loads a model on Dawn and generates. Without --json, stdout is exactly the prompt
// followed by the generated text (streamed); everything else goes to stderr.

import { writeFileSync } from 'node:fs';
import { dawnGpu, releaseDawn } from '../gpu/node.ts';
import { Engine } from '../workers/engine/engine.ts';
import type { GenerateParams } from '../workers/api.ts';
import { parseFlags, UsageError } from './args.ts';
import { resolveModelSource } from './model-source.ts';

const FLAGS = {
  model: 'string',
  tokenizer: 'string',
  prompt: 'string',
  steps: 'number',
  temperature: 'number',
  'top-p': 'number',
  'top-k': 'number',
  seed: 'number',
  'kv-cache': 'boolean',
  json: 'boolean',
  trace: 'string',
} as const;

export async function generate(argv: string[]): Promise<number> {
  const f = parseFlags(argv, FLAGS);
  if (f.prompt === undefined) throw new UsageError('generate needs --prompt "<text>"');
  const params: GenerateParams = {
    steps: f.steps ?? 256,
    temperature: f.temperature ?? 1,
    topP: f['top-p'] ?? 0.9,
    topK: f['top-k'] ?? 0,
    seed: f.seed ?? Date.now() % 2 ** 31,
    kvCache: f['kv-cache'] ?? true,
  };
  if (!Number.isInteger(params.steps) || params.steps < 1) throw new UsageError('--steps must be a positive integer');
  if (params.temperature < 0) throw new UsageError('--temperature must be ≥ 0');
  if (!(params.topP > 0 && params.topP <= 1)) throw new UsageError('--top-p must be in (0, 1]');
  if (!Number.isInteger(params.topK) || params.topK < 0) throw new UsageError('--top-k must be a non-negative integer');
  if (f.seed === undefined && params.temperature > 0) process.stderr.write(`decode-lab: seed ${params.seed} (pass --seed to repeat this run)\n`);

  const engine = new Engine({ gpu: dawnGpu, load: { baseUrl: 'http://localhost/' } });
  const report = await engine.capabilities();
  if (!report.ok) throw Object.assign(new Error(report.message), { code: report.code });
  const info = await engine.load(resolveModelSource(f.model, f.tokenizer));
  process.stderr.write(`decode-lab: ${info.name}, ${(info.parameters / 1e6).toFixed(2)}M parameters, on ${report.capabilities.adapter.description || report.capabilities.adapter.vendor}\n`);

  if (!f.json) {
    process.stdout.write(f.prompt);
    engine.bus.subscribe((events) => {
      for (const e of events) if (e.kind === 'token') process.stdout.write(e.text);
    });
  }
  const result = await engine.generate(f.prompt, params);
  engine.bus.flush();
  const s = result.stats;
  process.stderr.write(
    `${f.json ? '' : process.stdout.isTTY ? '\n' : ''}decode-lab: ${s.generatedTokens} tokens (${result.stopReason}); ` +
      `ttft ${s.ttftMs.toFixed(1)} ms, prefill ${s.prefillTokensPerSec.toFixed(1)} tok/s, decode ${s.decodeTokensPerSec.toFixed(1)} tok/s, ` +
      `${s.dispatchesPerToken.toFixed(0)} dispatches and ${s.submitsPerToken.toFixed(0)} submit per token\n`,
  );
  if (f.json) {
    const tok = engine.tokenizer!;
    const json = {
      model: info.name,
      prompt: f.prompt,
      params,
      tokenIds: result.tokenIds,
      promptTokenCount: result.promptTokenCount,
      tokens: result.tokenIds.map((id) => ({ id, text: tok.piece(id) })),
      text: result.text,
      stopReason: result.stopReason,
      stats: result.stats,
      device: report.capabilities.adapter,
    };
    process.stdout.write(JSON.stringify(json) + '\n');
  }
  if (f.trace) writeFileSync(f.trace, JSON.stringify({ model: info.name, prompt: f.prompt, params, events: engine.bus.log }));
  await engine.dispose();
  releaseDawn();
  return 0;
}
