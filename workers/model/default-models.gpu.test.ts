// Golden parity of the bundled default models against PyTorch (tools/train/export.py): tokenization, f32
// logits within 1e-3 at stored positions, and 64 greedy tokens, for the target and the draft.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../gpu/testing/gpu.ts';
import { loadHfModel } from '../loaders/load-weights.ts';
import { loadHfTokenizer } from '../tokenizer/hf.ts';
import { argmax } from '../sampling/sampler.ts';
import { BUNDLED_MODELS, readBytes } from '../testing/models.ts';
import { LlamaModel } from './llama.ts';

interface GoldenPrompt {
  prompt: string;
  ids: number[];
  positions: number[];
  logits: number[][];
  greedy: number[];
  greedyTop2Gaps: number[];
}
const golden = JSON.parse(readFileSync(new URL('./testdata/default-golden.json', import.meta.url), 'utf8')) as {
  tolerance: { logitsAbs: number };
  models: Record<'target' | 'draft', { folder: string; prompts: GoldenPrompt[] }>;
  tokenizerSamples: { text: string; ids: number[] }[];
};

function modelFiles(id: string): Map<string, Uint8Array> {
  const dir = path.join(BUNDLED_MODELS, id);
  return new Map(readdirSync(dir).filter((n) => /\.(json|safetensors)$/.test(n)).map((n) => [n, readBytes(path.join(dir, n))]));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe.each(['target', 'draft'] as const)('bundled %s model', (which) => {
  const id = `decode-lab-${which}`;
  const files = modelFiles(id);
  const weights = loadHfModel(files);
  const parse = (name: string) => JSON.parse(new TextDecoder().decode(files.get(name)!)) as unknown;

  it('tokenizes like the Python tokenizer', async () => {
    const tok = await loadHfTokenizer(parse('tokenizer.json'), parse('tokenizer_config.json'));
    for (const s of golden.tokenizerSamples) expect(tok.encode(s.text, { bos: true }), s.text).toEqual(s.ids);
    for (const p of golden.models[which].prompts) expect(tok.encode(p.prompt, { bos: true })).toEqual(p.ids);
  });

  it(`matches PyTorch's f32 logits within ${golden.tolerance.logitsAbs} and its 64 greedy tokens`, async () => {
    const ctx = await testGpu();
    const model = await LlamaModel.create(ctx, weights, { maxSeqLen: 128 });
    for (const p of golden.models[which].prompts) {
      // Logits at each stored position: run the prefix up to it in one prefill pass.
      for (let i = 0; i < p.positions.length; i++) {
        const pos = p.positions[i]!;
        const logits = await model.forward(p.ids.slice(0, pos + 1), 0);
        expect(maxAbsDiff(logits, p.logits[i]!), `${p.prompt} @ ${pos}`).toBeLessThanOrEqual(golden.tolerance.logitsAbs);
      }
      // 64 greedy tokens: prefill, then one decode pass per token through the KV cache.
      const greedy: number[] = [];
      let logits = await model.forward(p.ids, 0);
      for (let step = 0; step < p.greedy.length; step++) {
        greedy.push(argmax(logits));
        if (step + 1 < p.greedy.length) logits = await model.forward([greedy[step]!], p.ids.length + step);
      }
      expect(greedy, p.prompt).toEqual(p.greedy);
    }
    model.dispose();
  });
});
