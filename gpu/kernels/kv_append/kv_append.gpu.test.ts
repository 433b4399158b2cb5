import { describe, expect, it } from 'vitest';
import { createKvAppend, KV_APPEND_SOURCE, KvAppendParams } from './kv_append.ts';
import { kvAppendRef } from './kv_append.ref.ts';
import { runDispatches } from '../../dispatch.ts';
import { parseWgslStruct } from '../../uniforms.ts';
import { StepParams } from '../step.ts';
import { testGpu, storage, readF32, stepUniform } from '../../testing/gpu.ts';
import { seeded, randInt, randArray, relMaxError } from '../../testing/random.ts';

describe('kv_append', () => {
  it('declares the same uniform structs as its host module and step.ts', () => {
    expect(parseWgslStruct(KV_APPEND_SOURCE, 'KvAppendParams')).toEqual(KvAppendParams.fields.map(([f, t]) => [f, t]));
    expect(parseWgslStruct(KV_APPEND_SOURCE, 'StepParams')).toEqual(StepParams.fields.map(([f, t]) => [f, t]));
  });

  it('matches the CPU reference on 60 random shapes and positions, some running past maxSeqLen', async () => {
    const ctx = await testGpu();
    const rand = seeded(20261128);
    for (let i = 0; i < 60; i++) {
      const nTokens = randInt(rand, 1, 9);
      const kvDim = randInt(rand, 1, 300);
      const maxSeqLen = i % 3 === 0 ? randInt(rand, 1, 12) : randInt(rand, 1, 2100);
      const pos0 = randInt(rand, Math.max(0, maxSeqLen - 12), maxSeqLen + 2); // near the end: some rows clip
      const workgroupSize = [32, 64, 128, 256][i % 4]!;
      const src = randArray(rand, nTokens * kvDim);
      const cache = randArray(rand, maxSeqLen * kvDim); // old contents that must survive outside the new rows
      const cacheBuffer = storage(ctx, 'cache', cache);
      const step = stepUniform(ctx, nTokens, pos0);
      const d = createKvAppend(ctx, { label: `kv_append.${i}`, step, src: storage(ctx, 'src', src), cache: cacheBuffer, nTokens, kvDim, maxSeqLen, workgroupSize });
      await runDispatches(ctx, [d]);
      const err = relMaxError(await readF32(ctx, cacheBuffer, maxSeqLen * kvDim), kvAppendRef(src, cache, nTokens, kvDim, maxSeqLen, pos0));
      expect(err, `T=${nTokens} kvDim=${kvDim} maxSeqLen=${maxSeqLen} pos0=${pos0}`).toBe(0); // a copy is exact
      ctx.buffers.releaseOwner('test');
    }
  });

  it('reuses one dispatch across a prefill and decode steps, taking pos0 and nTokens from the step uniform', async () => {
    const ctx = await testGpu();
    const rand = seeded(14);
    const kvDim = 7;
    const maxSeqLen = 9;
    const nTokens = 4; // the grid is sized for a 4-token prefill
    const step = stepUniform(ctx, nTokens, 0);
    const src = storage(ctx, 'src', nTokens * kvDim * 4);
    const cacheBuffer = storage(ctx, 'cache', maxSeqLen * kvDim * 4);
    const d = createKvAppend(ctx, { label: 'kv_append.reuse', step, src, cache: cacheBuffer, nTokens, kvDim, maxSeqLen });
    let expected: Float32Array = new Float32Array(maxSeqLen * kvDim);
    // A 3-token pass (fewer than the grid's 4), then decode passes of one token until past the cache's end.
    const passes = [{ nTokens: 3, pos0: 0 }, ...Array.from({ length: 7 }, (_, k) => ({ nTokens: 1, pos0: 3 + k }))];
    for (const pass of passes) {
      const rows = new Float32Array(randArray(rand, nTokens * kvDim)); // rows past pass.nTokens: junk never appended
      ctx.device.queue.writeBuffer(src, 0, rows);
      ctx.device.queue.writeBuffer(step, 0, StepParams.pack(pass));
      await runDispatches(ctx, [d]);
      expected = kvAppendRef(rows, expected, pass.nTokens, kvDim, maxSeqLen, pass.pos0);
      expect(relMaxError(await readF32(ctx, cacheBuffer, maxSeqLen * kvDim), expected), JSON.stringify(pass)).toBe(0);
    }
    ctx.buffers.releaseOwner('test');
  });

  it('spreads more than 65,535 workgroups over a 2-D grid', async () => {
    const ctx = await testGpu();
    const nTokens = 9;
    const kvDim = 30_001; // 67,503 workgroups of 4
    const maxSeqLen = 12;
    const rand = seeded(15);
    const src = randArray(rand, nTokens * kvDim);
    const cache = new Float32Array(maxSeqLen * kvDim);
    const cacheBuffer = storage(ctx, 'cache', cache);
    const step = stepUniform(ctx, nTokens, 2);
    const d = createKvAppend(ctx, { label: 'kv_append.wide', step, src: storage(ctx, 'src', src), cache: cacheBuffer, nTokens, kvDim, maxSeqLen, workgroupSize: 4 });
    expect(d.workgroups[1]).toBeGreaterThan(1);
    await runDispatches(ctx, [d]);
    expect(relMaxError(await readF32(ctx, cacheBuffer, maxSeqLen * kvDim), kvAppendRef(src, cache, nTokens, kvDim, maxSeqLen, 2))).toBe(0);
    ctx.buffers.releaseOwner('test');
  });

  it('rejects bad specs with a RangeError before allocating anything', async () => {
    const ctx = await testGpu();
    const [step, src, cache] = [stepUniform(ctx, 2, 0), storage(ctx, 'src', 2 * 3 * 4), storage(ctx, 'cache', 5 * 3 * 4)];
    const ok = { label: 'kv_append.bad', step, src, cache, nTokens: 2, kvDim: 3, maxSeqLen: 5 };
    const tinyStep = storage(ctx, 'tiny', 8);
    const before = ctx.buffers.count;
    expect(() => createKvAppend(ctx, { ...ok, maxSeqLen: 0 })).toThrow(/maxSeqLen >= 1/);
    expect(() => createKvAppend(ctx, { ...ok, nTokens: 3 })).toThrow(/src holds 24 bytes, needs 36/);
    expect(() => createKvAppend(ctx, { ...ok, maxSeqLen: 6 })).toThrow(/cache holds 60 bytes, needs 72/);
    expect(() => createKvAppend(ctx, { ...ok, step: tinyStep })).toThrow(/StepParams needs 16/);
    expect(ctx.buffers.count).toBe(before);
    ctx.buffers.releaseOwner('test');
  });
});
