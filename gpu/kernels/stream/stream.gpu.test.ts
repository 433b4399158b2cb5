import { describe, expect, it } from 'vitest';
import { createStreamRead, STREAM_SOURCE, StreamParams, StreamSpecError, streamWorkgroups } from './stream.ts';
import { streamReadRef } from './stream.ref.ts';
import { benchGemvBandwidth, measureGbps } from './bandwidth.ts';
import { runDispatches } from '../../dispatch.ts';
import { parseWgslStruct } from '../../uniforms.ts';
import { testGpu, storage, readF32 } from '../../testing/gpu.ts';
import { seeded, randArray, relMaxError } from '../../testing/random.ts';

describe('stream read', () => {
  it('declares the same uniform struct as its host module', () => {
    expect(parseWgslStruct(STREAM_SOURCE, 'StreamParams')).toEqual(StreamParams.fields.map(([f, t]) => [f, t]));
  });

  it('every workgroup writes the sum of what it read (grid-stride loop, remainders, 2-D grids)', async () => {
    const ctx = await testGpu();
    const rand = seeded(31);
    // [n, workgroups, workgroupSize]: a grid bigger than the data, an uneven remainder, the default grid.
    const cases: [number, number | undefined, number][] = [
      [4, 3, 32],
      [4 * 1001, 5, 64],
      [4 * 4099, 7, 16],
      [4 * 20_000, undefined, 256],
    ];
    for (const [n, workgroups, workgroupSize] of cases) {
      const src = randArray(rand, n);
      const nOut = streamWorkgroups(n, workgroupSize, workgroups);
      const out = storage(ctx, 'out', nOut * 4);
      await runDispatches(ctx, [createStreamRead(ctx, { label: 'stream', src: storage(ctx, 'src', src), n, out, workgroupSize, ...(workgroups ? { workgroups } : {}) })]);
      const got = await readF32(ctx, out, nOut);
      expect(relMaxError(got, streamReadRef(src, nOut, workgroupSize)), `n=${n} wg=${workgroupSize}`).toBeLessThanOrEqual(1e-4);
      // …and together the workgroups read every element exactly once.
      const total = src.reduce((a, b) => a + b, 0);
      expect(Math.abs(got.reduce((a, b) => a + b, 0) - total)).toBeLessThanOrEqual(1e-3 * Math.max(1, Math.abs(total)) + 1e-3);
      ctx.buffers.releaseOwner('test');
    }
  });

  it('rejects a size that is not a multiple of 4 and a too-small out buffer with a StreamSpecError', async () => {
    const ctx = await testGpu();
    const src = storage(ctx, 'src', 64);
    expect(() => createStreamRead(ctx, { label: 'bad', src, n: 10, out: storage(ctx, 'out', 64) })).toThrow(StreamSpecError);
    expect(() => createStreamRead(ctx, { label: 'bad', src, n: 16, out: storage(ctx, 'out', 4), workgroups: 2 })).toThrow(/out holds 4 bytes/);
    ctx.buffers.releaseOwner('test');
  });

  it('measures finite, positive rates and releases what it allocated (speed itself is not asserted)', async () => {
    const ctx = await testGpu();
    let before = ctx.buffers.count;
    const r = await benchGemvBandwidth(ctx, { rows: 64, cols: 256, runs: 2 });
    for (const v of [r.gemvGbps, r.streamGbps, r.fraction]) expect(Number.isFinite(v) && v > 0, JSON.stringify(r)).toBe(true);
    expect(r.fraction).toBeCloseTo(r.gemvGbps / r.streamGbps, 10);
    expect(ctx.buffers.count).toBe(before);
    const n = 4096;
    const out = storage(ctx, 'out', 4 * streamWorkgroups(n));
    const stream = createStreamRead(ctx, { label: 'stream', src: storage(ctx, 'src', n * 4), n, out });
    before = ctx.buffers.count;
    const gbps = await measureGbps(ctx, stream, n * 4, 2);
    expect(Number.isFinite(gbps) && gbps > 0).toBe(true);
    expect(ctx.buffers.count).toBe(before);
    ctx.buffers.releaseOwner('test');
  });
});
