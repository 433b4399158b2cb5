import { describe, expect, it } from 'vitest';
import { testGpu } from '../../gpu/testing/gpu.ts';
import { relMaxError } from '../../gpu/testing/random.ts';
import { loadLlama2c } from '../loaders/load-weights.ts';
import { readBytes, STORIES260K } from '../testing/models.ts';
import { LlamaModel } from './llama.ts';
import { LlamaRef } from './llama.ref.ts';

// Token ids of a made-up stories260K sequence (BOS then ordinary pieces), long enough to cross several
// workgroup and tile boundaries.
const TOKENS = [1, 403, 407, 261, 378, 434, 285, 290, 297, 410, 302, 267, 374, 304, 305, 399, 284, 336, 372, 311, 291, 320, 280];

describe('LlamaModel on stories260K', () => {
  const weights = loadLlama2c(readBytes(STORIES260K), 'stories260K.bin');

  it('prefill then decode match the CPU reference at every step', async () => {
    const ctx = await testGpu();
    const model = await LlamaModel.create(ctx, weights, { maxSeqLen: 64 });
    const ref = new LlamaRef(weights);
    const prompt = TOKENS.slice(0, 9);
    let refLogits: Float32Array = new Float32Array();
    prompt.forEach((t, pos) => (refLogits = ref.forward(t, pos)));
    const gpuPrefill = await model.forward(prompt, 0);
    expect(relMaxError(gpuPrefill, refLogits)).toBeLessThan(1e-4);
    for (let pos = prompt.length; pos < TOKENS.length; pos++) {
      const g = await model.forward([TOKENS[pos]!], pos);
      const r = ref.forward(TOKENS[pos]!, pos);
      expect(relMaxError(g, r), `position ${pos}`).toBeLessThan(1e-4);
    }
    expect(model.submits).toBe(1 + TOKENS.length - prompt.length);
    model.dispose();
  });

  it('a prompt longer than one pass is prefilled in chunks with the same result', async () => {
    const ctx = await testGpu();
    const chunked = await LlamaModel.create(ctx, weights, { maxSeqLen: 64, maxTokens: 5 });
    const whole = await LlamaModel.create(ctx, weights, { maxSeqLen: 64 });
    const a = await chunked.forward(TOKENS, 0);
    const b = await whole.forward(TOKENS, 0);
    expect(relMaxError(a, b)).toBeLessThan(1e-5);
    expect(chunked.submits).toBe(Math.ceil(TOKENS.length / 5));
    chunked.dispose();
    whole.dispose();
  });

  it('dispose releases every buffer it made', async () => {
    const ctx = await testGpu();
    const before = ctx.buffers.count;
    const model = await LlamaModel.create(ctx, weights, { maxSeqLen: 32 });
    await model.forward([1, 403, 407], 0);
    await model.forward([261], 3);
    expect(ctx.buffers.count).toBeGreaterThan(before);
    model.dispose();
    expect(ctx.buffers.count).toBe(before);
  });

  it('rejects positions past the context', async () => {
    const ctx = await testGpu();
    const model = await LlamaModel.create(ctx, weights, { maxSeqLen: 8 });
    await expect(model.forward([1, 2, 3], 6)).rejects.toThrow(/exceed the context of 8/);
    model.dispose();
  });
});

describe('LlamaModel with a paged KV pool', () => {
  const weights = loadLlama2c(readBytes(STORIES260K), 'stories260K.bin');

  it('copy-on-write copies one block in every layer’s K and V pool and leaves the source intact', async () => {
    const ctx = await testGpu();
    const model = await LlamaModel.create(ctx, weights, { maxSeqLen: 32, kv: { mode: 'paged', blockSize: 4, nBlocks: 8, maxSeqs: 1 } });
    expect(model.kv.mode).toBe('paged');
    if (model.kv.mode !== 'paged') return;
    // Fill block 2 of every pool through a real forward pass (slots 8..11), then copy it to block 5.
    await model.forward([1, 403, 407, 261], 0, { slots: [8, 9, 10, 11], blockTable: [2] });
    const blockBytes = 4 * weights.config.nKvHeads * weights.config.headDim * 4;
    model.copyBlock(2, 5);
    for (const pool of [...model.kv.k, ...model.kv.v]) {
      const all = new Float32Array(await ctx.read(pool));
      const src = all.subarray((2 * blockBytes) / 4, (3 * blockBytes) / 4);
      const dst = all.subarray((5 * blockBytes) / 4, (6 * blockBytes) / 4);
      expect(src.some((x) => x !== 0)).toBe(true);
      expect([...dst]).toEqual([...src]);
    }
    // Decoding on from the copy (block table [5]) gives what decoding on from the original gives.
    const fromOriginal = await model.forward([378], 4, { slots: [12], blockTable: [2, 3] });
    const fromCopy = await model.forward([378], 4, { slots: [16], blockTable: [5, 4] });
    expect(relMaxError(fromCopy, fromOriginal)).toBeLessThan(1e-6);
    model.dispose();
  });
});
