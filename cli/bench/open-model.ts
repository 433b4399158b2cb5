// A GPU device (Dawn) and a model's validated weights and tokenizer, for benchmarks that build their own
// LlamaModel (a batched KV pool, a draft beside a target) rather than going through Engine.load.

import { dawnGpu } from '../../gpu/node.ts';
import { Engine } from '../../workers/engine/engine.ts';
import { modelDisplayName, parseModelFiles } from '../../workers/engine/load-model.ts';
import { fetchModelFiles } from '../../workers/loaders/sources.ts';
import { resolveModelSource } from '../model-source.ts';

export async function openModel(f: { model?: string; tokenizer?: string }) {
  const probe = new Engine({ gpu: dawnGpu });
  const report = await probe.capabilities();
  if (!report.ok) throw Object.assign(new Error(report.message), { code: report.code });
  const source = resolveModelSource(f.model, f.tokenizer);
  const parsed = await parseModelFiles(await fetchModelFiles(source, {}));
  return { probe, report, ctx: probe.gpuContext!, weights: parsed.weights, tokenizer: parsed.tokenizer, name: modelDisplayName(source, parsed.name) };
}
