import { describe, expect, it } from 'vitest';
import { createEmbedding, EMBEDDING_SOURCE, EmbeddingParams } from './embedding.ts';
import { embeddingRef } from './embedding.ref.ts';
import { runDispatches } from '../../dispatch.ts';
import { parseWgslStruct } from '../../uniforms.ts';
import { testGpu, storage, readF32 } from '../../testing/gpu.ts';
import { seeded, randInt, randArray, relMaxError } from '../../testing/random.ts';

describe('embedding', () => {
  it('declares the same uniform struct as its host module', () => {
    expect(parseWgslStruct(EMBEDDING_SOURCE, 'EmbeddingParams')).toEqual(EmbeddingParams.fields.map(([f, t]) => [f, t]));
  });

  it('matches the CPU reference on 60 random shapes, with some out-of-vocabulary ids', async () => {
    const ctx = await testGpu();
    const rand = seeded(20261127);
    for (let i = 0; i < 60; i++) {
      const nTokens = randInt(rand, 1, 9);
      const dim = randInt(rand, 1, 300);
      const vocabSize = randInt(rand, 1, 50);
      const workgroupSize = [32, 64, 128, 256][i % 4]!;
      // About one id in six is outside the vocabulary (just past it, far past it, or the largest u32).
      const tokens = Uint32Array.from({ length: nTokens }, () => {
        const r = rand();
        if (r < 0.06) return vocabSize;
        if (r < 0.12) return vocabSize + randInt(rand, 1, 1000);
        if (r < 0.17) return 0xffff_ffff;
        return randInt(rand, 0, vocabSize - 1);
      });
      const table = randArray(rand, vocabSize * dim);
      const out = storage(ctx, 'out', nTokens * dim * 4);
      const [tokensBuffer, tableBuffer] = [storage(ctx, 'tokens', tokens), storage(ctx, 'table', table)];
      const d = createEmbedding(ctx, { label: `embedding.${i}`, tokens: tokensBuffer, table: tableBuffer, out, nTokens, dim, vocabSize, workgroupSize });
      await runDispatches(ctx, [d]);
      const err = relMaxError(await readF32(ctx, out, nTokens * dim), embeddingRef(tokens, table, nTokens, dim, vocabSize));
      expect(err, `T=${nTokens} dim=${dim} vocab=${vocabSize} tokens=${[...tokens]}`).toBe(0); // a gather is exact
      ctx.buffers.releaseOwner('test');
    }
  });

  it('writes exact zeros for ids >= vocabSize over a non-zero output buffer', async () => {
    const ctx = await testGpu();
    const dim = 5;
    const vocabSize = 3;
    const tokens = new Uint32Array([2, 3, 0, 0xffff_ffff]);
    const table = Float32Array.from({ length: vocabSize * dim }, (_, i) => i + 1);
    const out = storage(ctx, 'out', new Float32Array(tokens.length * dim).fill(-7));
    const [tokensBuffer, tableBuffer] = [storage(ctx, 'tokens', tokens), storage(ctx, 'table', table)];
    await runDispatches(ctx, [createEmbedding(ctx, { label: 'embedding.oov', tokens: tokensBuffer, table: tableBuffer, out, nTokens: 4, dim, vocabSize })]);
    expect([...(await readF32(ctx, out, tokens.length * dim))]).toEqual([11, 12, 13, 14, 15, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 0, 0, 0, 0, 0]);
    ctx.buffers.releaseOwner('test');
  });

  it('spreads more than 65,535 workgroups over a 2-D grid', async () => {
    const ctx = await testGpu();
    const nTokens = 9;
    const dim = 30_001; // 270,009 elements: 67,503 workgroups of 4
    const vocabSize = 4;
    const rand = seeded(13);
    const tokens = new Uint32Array([3, 1, 0, 2, 2, 4, 1, 0, 3]);
    const table = randArray(rand, vocabSize * dim);
    const out = storage(ctx, 'out', nTokens * dim * 4);
    const [tokensBuffer, tableBuffer] = [storage(ctx, 'tokens', tokens), storage(ctx, 'table', table)];
    const d = createEmbedding(ctx, { label: 'embedding.wide', tokens: tokensBuffer, table: tableBuffer, out, nTokens, dim, vocabSize, workgroupSize: 4 });
    expect(d.workgroups[1]).toBeGreaterThan(1);
    await runDispatches(ctx, [d]);
    expect(relMaxError(await readF32(ctx, out, nTokens * dim), embeddingRef(tokens, table, nTokens, dim, vocabSize))).toBe(0);
    ctx.buffers.releaseOwner('test');
  });

  it('rejects bad specs with a RangeError before allocating anything', async () => {
    const ctx = await testGpu();
    const tokens = storage(ctx, 'tokens', 8);
    const table = storage(ctx, 'table', 4 * 3 * 4);
    const out = storage(ctx, 'out', 2 * 3 * 4);
    const ok = { label: 'embedding.bad', tokens, table, out, nTokens: 2, dim: 3, vocabSize: 4 };
    const before = ctx.buffers.count;
    expect(() => createEmbedding(ctx, { ...ok, dim: 0 })).toThrow(/dim >= 1/);
    expect(() => createEmbedding(ctx, { ...ok, nTokens: 3 })).toThrow(/tokens holds 8 bytes, needs 12/);
    expect(() => createEmbedding(ctx, { ...ok, vocabSize: 5 })).toThrow(/table holds 48 bytes, needs 60/);
    expect(() => createEmbedding(ctx, { ...ok, workgroupSize: 0 })).toThrow(RangeError);
    expect(ctx.buffers.count).toBe(before);
    ctx.buffers.releaseOwner('test');
  });
});
