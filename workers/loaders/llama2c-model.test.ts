// llama2.c checkpoints: the real stories260K (header, every float accounted for, slices at their offsets)
// and crafted ones (separate classifier, size-mismatch messages).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LoadError } from './errors.ts';
import { planLlama2c } from './llama2c-model.ts';
import { loadLlama2c } from './load-weights.ts';
import { recordingAllocator } from './testing/recording-alloc.ts';
import { TINY_LLAMA2C, fixtureValue, llama2cFloats, tinyLlama2c } from './testing/tiny-model.ts';

// The real stories260K checkpoint, shared data outside the repo (never copied in).
const STORIES = resolve(process.cwd(), '../shared/models/stories260K/stories260K.bin');

describe('loadLlama2c on stories260K', () => {
  const bytes = new Uint8Array(readFileSync(STORIES));
  const floatAt = (i: number): number => new DataView(bytes.buffer, bytes.byteOffset).getFloat32(28 + 4 * i, true);

  it("reads the README's header values and accounts for all 264,128 floats", () => {
    expect(bytes.length).toBe(1_056_540);
    const plan = planLlama2c(bytes, 'stories260K.bin');
    expect(plan.header).toEqual({ dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512 });
    expect(plan.totalFloats).toBe(264_128);
    expect(plan.config).toMatchObject({ dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, headDim: 8, vocabSize: 512, maxSeqLen: 512,
      ropeTheta: 10000, ropeStyle: 'interleaved', normEps: 1e-5, tiedEmbeddings: true, bosTokenId: 1, eosTokenId: 2 });
    // Loaded tensors + freq_cis (2 × seq_len × headDim/2, skipped) = every float in the file.
    const rec = recordingAllocator();
    const w = loadLlama2c(bytes, 'stories260K.bin', rec.alloc);
    const loaded = [...w.tensors.values()].reduce((a, t) => a + t.length, 0);
    expect(loaded + 2 * 512 * 4).toBe(264_128);
    expect(rec.calls.length).toBe(w.tensors.size);
    expect(w.tensors.has('output')).toBe(false);
  });

  it('slices each tensor from its place in the file', () => {
    const w = loadLlama2c(bytes, 'stories260K.bin');
    const L = 5, dim = 64, hidden = 172, kvDim = 32, vocab = 512;
    // Offsets (in floats) of the stacked [L, ...] blocks, in file order.
    const rmsAtt = vocab * dim;
    const wq = rmsAtt + L * dim;
    const wk = wq + L * dim * dim;
    const wv = wk + L * kvDim * dim;
    const wo = wv + L * kvDim * dim;
    const rmsFfn = wo + L * dim * dim;
    const w1 = rmsFfn + L * dim;
    const w2 = w1 + L * hidden * dim;
    const w3 = w2 + L * dim * hidden;
    const rmsFinal = w3 + L * hidden * dim;
    const probes: [string, number, number][] = [
      ['tok_embeddings', 0, 0],
      ['tok_embeddings', vocab * dim - 1, vocab * dim - 1],
      ['layers.0.attention_norm', 5, rmsAtt + 5],
      ['layers.4.wq', 100, wq + 4 * dim * dim + 100],
      ['layers.2.wk', kvDim * dim - 1, wk + 3 * kvDim * dim - 1],
      ['layers.3.wv', 7, wv + 3 * kvDim * dim + 7],
      ['layers.1.wo', 0, wo + dim * dim],
      ['layers.4.ffn_norm', 63, rmsFfn + 4 * dim + 63],
      ['layers.2.w1', 999, w1 + 2 * hidden * dim + 999],
      ['layers.4.w2', hidden * dim - 1, w2 + 5 * dim * hidden - 1],
      ['layers.0.w3', 1, w3 + 1],
      ['norm', 0, rmsFinal],
      ['norm', 63, rmsFinal + 63],
    ];
    for (const [name, i, fileFloat] of probes) expect(w.tensors.get(name)![i], `${name}[${i}]`).toBe(floatAt(fileFloat));
    expect(rmsFinal + dim + 2 * 512 * 4).toBe(264_128); // and freq_cis ends the file
  });
});

describe('loadLlama2c on crafted checkpoints', () => {
  it('reads a separate classifier after freq_cis when vocab_size is negative', () => {
    const h = { ...TINY_LLAMA2C, vocabSize: -16 };
    const total = llama2cFloats(h);
    const w = loadLlama2c(tinyLlama2c(h, total), 'cls.bin');
    expect(w.config).toMatchObject({ vocabSize: 16, tiedEmbeddings: false });
    const out = w.tensors.get('output')!;
    expect(out.length).toBe(16 * 8);
    expect(out[0]).toBe(fixtureValue('llama2c', total - 16 * 8));
    expect(out[127]).toBe(fixtureValue('llama2c', total - 1));
  });

  it('names expected and actual lengths in a size mismatch, and hints at the classifier sign', () => {
    const h = TINY_LLAMA2C;
    const bytes = tinyLlama2c(h, llama2cFloats(h) + 16 * 8); // a classifier's worth too many
    let err: LoadError | undefined;
    try {
      planLlama2c(bytes, 'big.bin');
    } catch (e) {
      err = e as LoadError;
    }
    const expected = 28 + 4 * llama2cFloats(h);
    expect(err?.code).toBe('llama2c-size-mismatch');
    expect(err?.message).toContain(`implies ${expected} bytes`);
    expect(err?.message).toContain(`the file is ${bytes.length}`);
    expect(err?.message).toMatch(/vocab_size be negative/);
  });
});
