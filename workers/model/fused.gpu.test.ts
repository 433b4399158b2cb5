// The fused decode plan (5 dispatches per layer: plan.ts buildFused) computes what the unfused plan does:
// on stories260K and the bundled target, the same logits (within 1e-4) for a decode batch and a speculative
// verification pass, and the same greedy tokens, with argmax taken on the GPU. Software adapters run the
// unfused plan by default (LlamaOptions.fused), so this test forces it on.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../gpu/testing/gpu.ts';
import { relMaxError } from '../../gpu/compare.ts';
import { loadLlama2c } from '../loaders/load-weights.ts';
import { BlockManager } from '../kv/block-manager.ts';
import { argmax } from '../sampling/sampler.ts';
import { bundledWeights, readBytes, STORIES260K } from '../testing/models.ts';
import { LlamaModel, type BatchEntry } from './llama.ts';

const BLOCK = 8;

describe('fused decode plan', () => {
  for (const [name, load] of [['stories260K', () => loadLlama2c(readBytes(STORIES260K), 'stories260K.bin')], ['decode-lab-target', () => bundledWeights('decode-lab-target')]] as const) {
    it(`${name}: same logits and greedy tokens as the unfused plan, with 5 dispatches per layer`, async () => {
      const ctx = await testGpu();
      const weights = load();
      const opts = { maxSeqLen: 64, maxTokens: 64, maxOutputs: 8, kv: { mode: 'paged' as const, blockSize: BLOCK, nBlocks: 32, maxSeqs: 4 } };
      const fused = await LlamaModel.create(ctx, weights, { ...opts, fused: true });
      const plain = await LlamaModel.create(ctx, weights, { ...opts, fused: false });
      expect(fused.plan(1).dispatches.length).toBe(5 * weights.config.nLayers + 3);
      expect(plain.plan(1).dispatches.length).toBeGreaterThan(15 * weights.config.nLayers);
      // Three sequences: prompts prefilled (unfused: T > 16), then 12 batched greedy decode steps on each model.
      const prompts = [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17], [1, 40, 41], [1, 90, 91, 92, 93]];
      const run = async (model: LlamaModel) => {
        const blocks = new BlockManager({ nBlocks: 32, blockSize: BLOCK, prefixCaching: false });
        const entries: BatchEntry[] = prompts.map((p, s) => {
          const a = blocks.addSequence(s, p) as { slots: number[] };
          return { tokens: p, pos0: 0, slots: a.slots, blockTable: blocks.blockTable(s) };
        });
        const logits: Float32Array[][] = [];
        let next = (await model.forwardBatch(entries)).map((l) => argmax(l));
        const tokens: number[][] = prompts.map(() => []);
        for (let step = 0; step < 12; step++) {
          next.forEach((t, s) => tokens[s]!.push(t));
          const batch = next.map((t, s): BatchEntry => {
            const a = blocks.append(s, t) as { slot: number };
            return { tokens: [t], pos0: prompts[s]!.length + step, slots: [a.slot], blockTable: blocks.blockTable(s) };
          });
          if (step % 4 === 0) {
            const l = await model.forwardBatch(batch);
            logits.push(l);
            next = l.map((x) => argmax(x));
          } else next = await model.forwardBatchArgmax(batch);
        }
        // A verification pass: four tokens of sequence 0 with logits after each.
        const four = [5, 6, 7, 8].map((t) => (blocks.append(0, t) as { slot: number }).slot);
        const verify = await model.forwardBatch([{ tokens: [5, 6, 7, 8], pos0: prompts[0]!.length + 12, slots: four, blockTable: blocks.blockTable(0), logits: 'all' }]);
        return { tokens, logits, verify };
      };
      const a = await run(fused);
      const b = await run(plain);
      expect(a.tokens).toEqual(b.tokens);
      a.logits.forEach((rows, i) => rows.forEach((r, s) => expect(relMaxError(r, b.logits[i]![s]!), `step ${i} seq ${s}`).toBeLessThan(1e-4)));
      expect(a.verify).toHaveLength(4);
      a.verify.forEach((r, i) => expect(relMaxError(r, b.verify[i]!), `verify row ${i}`).toBeLessThan(1e-4));
      fused.dispose();
      plain.dispose();
    });
  }
});
