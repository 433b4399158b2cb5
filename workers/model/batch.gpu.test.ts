// Batching is exact: each sequence's greedy tokens in a batched forward pass (all prompts prefilled in one
// pass, then one decode token per running sequence per pass, sequences leaving as they finish) equal its
// tokens when it runs alone.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../gpu/testing/gpu.ts';
import { loadLlama2c } from '../loaders/load-weights.ts';
import { BlockManager } from '../kv/block-manager.ts';
import { argmax } from '../sampling/sampler.ts';
import { readBytes, STORIES260K } from '../testing/models.ts';
import { LlamaModel, type BatchEntry } from './llama.ts';

const golden = JSON.parse(readFileSync(new URL('./testdata/stories260K-golden.json', import.meta.url), 'utf8')) as { cases: { promptTokenIds: number[] }[] };
const BLOCK = 16;

describe('batched forward passes', () => {
  const weights = loadLlama2c(readBytes(STORIES260K), 'stories260K.bin');

  it('give every sequence of a batch of 1, 2, 4, 8 or 16 mixed-length sequences its greedy tokens alone', async () => {
    const ctx = await testGpu();
    const maxSeqLen = 128;
    const model = await LlamaModel.create(ctx, weights, { maxSeqLen, maxTokens: 256, kv: { mode: 'paged', blockSize: BLOCK, nBlocks: 16 * (maxSeqLen / BLOCK) + 8, maxSeqs: 16 } });
    const blocks = new BlockManager({ nBlocks: 16 * (maxSeqLen / BLOCK) + 8, blockSize: BLOCK, prefixCaching: false, checked: true });
    let nextSeq = 0;
    // 16 prompts of different lengths (golden prompts, then longer variants) and different output lengths.
    const prompts = Array.from({ length: 16 }, (_, i) => {
      const base = golden.cases[i % golden.cases.length]!.promptTokenIds;
      return i < golden.cases.length ? base : [...base, ...golden.cases[(i * 3) % golden.cases.length]!.promptTokenIds.slice(1, 2 + (i % 5))];
    });
    const newTokens = (i: number) => 8 + ((i * 7) % 23);

    async function greedyAlone(prompt: number[], n: number): Promise<number[]> {
      const seq = nextSeq++;
      const added = blocks.addSequence(seq, prompt);
      if (!('slots' in added)) throw new Error('pool full');
      let logits = await model.forward(prompt, 0, { slots: added.slots, blockTable: blocks.blockTable(seq) });
      const out: number[] = [];
      for (let i = 0; i < n; i++) {
        out.push(argmax(logits));
        if (i + 1 === n) break;
        const r = blocks.append(seq, out[i]!);
        if (!('slot' in r)) throw new Error('pool full');
        logits = await model.forward([out[i]!], prompt.length + i, { slots: [r.slot], blockTable: blocks.blockTable(seq) });
      }
      blocks.free(seq);
      return out;
    }

    async function greedyBatched(batchPrompts: number[][], wants: number[]): Promise<number[][]> {
      const seqs = batchPrompts.map(() => nextSeq++);
      const outs: number[][] = batchPrompts.map(() => []);
      // Iteration 0: every prompt prefilled in one pass.
      let entries: { i: number; entry: BatchEntry }[] = batchPrompts.map((p, i) => {
        const added = blocks.addSequence(seqs[i]!, p);
        if (!('slots' in added)) throw new Error('pool full');
        return { i, entry: { tokens: p, pos0: 0, slots: added.slots, blockTable: blocks.blockTable(seqs[i]!) } };
      });
      while (entries.length > 0) {
        const logits = await model.forwardBatch(entries.map((e) => e.entry));
        const next: typeof entries = [];
        entries.forEach(({ i }, s) => {
          outs[i]!.push(argmax(logits[s]!));
          if (outs[i]!.length === wants[i]) return blocks.free(seqs[i]!); // finished: leaves the batch
          const token = outs[i]!.at(-1)!;
          const r = blocks.append(seqs[i]!, token);
          if (!('slot' in r)) throw new Error('pool full');
          next.push({ i, entry: { tokens: [token], pos0: batchPrompts[i]!.length + outs[i]!.length - 1, slots: [r.slot], blockTable: blocks.blockTable(seqs[i]!) } });
        });
        entries = next;
      }
      return outs;
    }

    const alone: number[][] = [];
    for (let i = 0; i < 16; i++) alone.push(await greedyAlone(prompts[i]!, newTokens(i)));
    for (const size of [1, 2, 4, 8, 16]) {
      const ids = Array.from({ length: size }, (_, k) => (k * 5 + size) % 16);
      const batched = await greedyBatched(ids.map((i) => prompts[i]!), ids.map(newTokens));
      ids.forEach((i, k) => expect(batched[k], `batch of ${size}, sequence ${i}`).toEqual(alone[i]));
    }
    blocks.check();
    model.dispose();
  });
});
