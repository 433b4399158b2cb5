// A failed upload releases what it made and nothing else: a second model (a speculative draft beside its
// target) that fails half-way leaves the first model's weights alive and usable.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../gpu/testing/gpu.ts';
import { loadLlama2c } from '../loaders/load-weights.ts';
import { readBytes, STORIES260K } from '../testing/models.ts';
import { uploadWeights } from './gpu-weights.ts';
import { LlamaModel } from './llama.ts';

describe('uploadWeights', () => {
  it('a failed upload releases only its own buffers', async () => {
    const ctx = await testGpu();
    const weights = loadLlama2c(readBytes(STORIES260K), 'stories260K.bin');
    const target = await LlamaModel.create(ctx, weights, { maxSeqLen: 32 });
    const before = await target.forward([1, 403, 407], 0);
    const bytes = ctx.buffers.bytesByOwner().weights ?? 0;
    // A broken copy: its last layer's w2 is short, so the upload fails after most tensors are on the GPU.
    const broken = { config: weights.config, tensors: new Map(weights.tensors) };
    broken.tensors.set(`layers.${weights.config.nLayers - 1}.w2`, new Float32Array(3));
    await expect(uploadWeights(ctx, broken)).rejects.toThrow(/w2 has 3 elements/);
    expect(ctx.buffers.bytesByOwner().weights ?? 0).toBe(bytes);
    const after = await target.forward([1, 403, 407], 0);
    expect(Array.from(after)).toEqual(Array.from(before));
    target.dispose();
  });
});
