import { describe, expect, it } from 'vitest';
import { createKvWrite, KV_WRITE_SOURCE, KvWriteParams, NO_SLOT } from './kv_write.ts';
import { kvWriteRef } from './kv_write.ref.ts';
import { runDispatches } from '../../dispatch.ts';
import { parseWgslStruct } from '../../uniforms.ts';
import { StepParams } from '../step.ts';
import { testGpu, storage, readF32, stepUniform } from '../../testing/gpu.ts';
import { seeded, randInt, randArray } from '../../testing/random.ts';

/** T distinct slots of a pool of nSlots, some replaced by out-of-range ones (nSlots, nSlots + k, NO_SLOT). */
function randomSlots(rand: () => number, nTokens: number, nSlots: number): Uint32Array {
  const free = Array.from({ length: nSlots }, (_, i) => i);
  const slots = new Uint32Array(nTokens);
  for (let t = 0; t < nTokens; t++) {
    if (free.length === 0 || rand() < 0.2) slots[t] = [nSlots, nSlots + randInt(rand, 1, 50), NO_SLOT][randInt(rand, 0, 2)]!;
    else slots[t] = free.splice(randInt(rand, 0, free.length - 1), 1)[0]!;
  }
  return slots;
}

describe('kv_write', () => {
  it('declares the same uniform structs as its host module and step.ts', () => {
    expect(parseWgslStruct(KV_WRITE_SOURCE, 'KvWriteParams')).toEqual(KvWriteParams.fields.map(([f, t]) => [f, t]));
    expect(parseWgslStruct(KV_WRITE_SOURCE, 'StepParams')).toEqual(StepParams.fields.map(([f, t]) => [f, t]));
  });

  it('writes exactly like the CPU reference on 60 random cases, skipping out-of-range slots', async () => {
    const ctx = await testGpu();
    const rand = seeded(20261124);
    let skipped = 0;
    for (let i = 0; i < 60; i++) {
      const nTokens = randInt(rand, 1, 12);
      const kvDim = randInt(rand, 1, 300);
      const blockSize = [1, 2, 3, 7, 16, 32, 128][i % 7]!;
      const nSlots = randInt(rand, 1, 6) * blockSize;
      const workgroupSize = [32, 64, 128, 256][i % 4]!;
      const slots = randomSlots(rand, nTokens, nSlots);
      skipped += slots.filter((s) => s >= nSlots).length;
      const src = randArray(rand, nTokens * kvDim);
      const pool = randArray(rand, nSlots * kvDim); // old contents that must survive outside the written rows
      const poolBuffer = storage(ctx, 'pool', pool);
      const d = createKvWrite(ctx, {
        label: `kv_write.${i}`,
        step: stepUniform(ctx, nTokens),
        slots: storage(ctx, 'slots', slots),
        src: storage(ctx, 'src', src),
        pool: poolBuffer,
        nTokens,
        kvDim,
        nSlots,
        workgroupSize,
      });
      await runDispatches(ctx, [d]);
      const got = await readF32(ctx, poolBuffer, nSlots * kvDim);
      expect(got, `T=${nTokens} kvDim=${kvDim} nSlots=${nSlots} slots=${[...slots]}`).toEqual(kvWriteRef(src, slots, pool, nTokens, kvDim, nSlots));
      ctx.buffers.releaseOwner('test');
    }
    expect(skipped).toBeGreaterThan(10); // the skip path was exercised
  });

  it('writes only step.nTokens rows of a dispatch sized for more, and a batch of sequences at once', async () => {
    const ctx = await testGpu();
    const rand = seeded(7);
    const kvDim = 5;
    const nSlots = 4 * 3; // 4 blocks of 3 slots
    // Three sequences decoding one token each (slots in different blocks), then one padding row never reached.
    const slots = Uint32Array.of(2 * 3 + 1, 0 * 3 + 2, 3 * 3 + 0, 1 * 3 + 1);
    const src = randArray(rand, 4 * kvDim);
    const pool = new Float32Array(nSlots * kvDim).fill(-1);
    const poolBuffer = storage(ctx, 'pool', pool);
    const step = stepUniform(ctx, 3); // grid for 4, pass of 3
    const d = createKvWrite(ctx, { label: 'kv_write.short', step, slots: storage(ctx, 'slots', slots), src: storage(ctx, 'src', src), pool: poolBuffer, nTokens: 4, kvDim, nSlots });
    await runDispatches(ctx, [d]);
    const got = await readF32(ctx, poolBuffer, nSlots * kvDim);
    expect(got).toEqual(kvWriteRef(src, slots, pool, 3, kvDim, nSlots));
    expect([...got.subarray(4 * kvDim, 5 * kvDim)].every((x) => x === -1)).toBe(true); // slot 4 = row 3's, untouched
    ctx.buffers.releaseOwner('test');
  });

  it('spreads more than 65,535 workgroups over a 2-D grid', async () => {
    const ctx = await testGpu();
    const rand = seeded(15);
    const [nTokens, kvDim, nSlots] = [9, 30_001, 12]; // 67,503 workgroups of 4
    const slots = Uint32Array.of(11, 0, 5, NO_SLOT, 3, 7, 12, 1, 9);
    const src = randArray(rand, nTokens * kvDim);
    const pool = new Float32Array(nSlots * kvDim);
    const poolBuffer = storage(ctx, 'pool', pool);
    const d = createKvWrite(ctx, { label: 'kv_write.wide', step: stepUniform(ctx, nTokens), slots: storage(ctx, 'slots', slots), src: storage(ctx, 'src', src), pool: poolBuffer, nTokens, kvDim, nSlots, workgroupSize: 4 });
    expect(d.workgroups[1]).toBeGreaterThan(1);
    await runDispatches(ctx, [d]);
    expect(await readF32(ctx, poolBuffer, nSlots * kvDim)).toEqual(kvWriteRef(src, slots, pool, nTokens, kvDim, nSlots));
    ctx.buffers.releaseOwner('test');
  });

  it('rejects bad specs with a RangeError before allocating anything', async () => {
    const ctx = await testGpu();
    const [step, slots, src, pool, tiny] = [stepUniform(ctx, 2), storage(ctx, 'slots', 2 * 4), storage(ctx, 'src', 2 * 3 * 4), storage(ctx, 'pool', 5 * 3 * 4), storage(ctx, 'tiny', 16)];
    const ok = { label: 'kv_write.bad', step, slots, src, pool, nTokens: 2, kvDim: 3, nSlots: 5 };
    expect(() => createKvWrite(ctx, ok)).not.toThrow();
    const before = ctx.buffers.count;
    expect(() => createKvWrite(ctx, { ...ok, nSlots: 0 })).toThrow(/nSlots >= 1/);
    expect(() => createKvWrite(ctx, { ...ok, nTokens: 3 })).toThrow(/slots holds 8 bytes, needs 12/);
    expect(() => createKvWrite(ctx, { ...ok, kvDim: 4 })).toThrow(/src holds 24 bytes, needs 32/);
    expect(() => createKvWrite(ctx, { ...ok, nSlots: 6 })).toThrow(/pool holds 60 bytes, needs 72/);
    expect(() => createKvWrite(ctx, { ...ok, step: tiny })).toThrow(/uniform buffer/);
    expect(() => createKvWrite(ctx, { ...ok, workgroupSize: 48 })).toThrow(/power of two/);
    expect(ctx.buffers.count).toBe(before);
    ctx.buffers.releaseOwner('test');
  });
});
