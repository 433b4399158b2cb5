import { describe, expect, it } from 'vitest';
import { createMatmulQ8, MATMUL_Q8_SOURCE, MatmulQ8Params, MatmulQ8SpecError, matmulQ8RowLanes, matmulQ8TokenTile, type MatmulQ8Spec } from './matmul_q8.ts';
import { matmulQ8Ref, quantizeQ8Ref } from './matmul_q8.ref.ts';
import { matmulRef } from '../matmul/matmul.ref.ts';
import { runDispatches } from '../../dispatch.ts';
import { parseWgslStruct } from '../../uniforms.ts';
import { testGpu, storage, readF32 } from '../../testing/gpu.ts';
import { seeded, randInt, randArray, relMaxError } from '../../testing/random.ts';
import type { GpuContext } from '../../device.ts';

/** Random packed words: every byte value, −128 and 127 included, so sign extension is exercised. */
function randWords(rand: () => number, count: number): Uint32Array {
  const q = new Uint32Array(count);
  for (let i = 0; i < count; i++) q[i] = Math.floor(rand() * 2 ** 32) >>> 0;
  return q;
}

/** Runs one matmul_q8 over uploaded q/scales and returns y [T, N] with the Dispatch. */
async function run(ctx: GpuContext, x: Float32Array, q: Uint32Array, scales: Float32Array, spec: Omit<MatmulQ8Spec, 'x' | 'q' | 'scales' | 'y'>) {
  const yb = storage(ctx, 'y', spec.nTokens * spec.n * 4);
  const d = createMatmulQ8(ctx, { ...spec, x: storage(ctx, 'x', x), q: storage(ctx, 'q', q), scales: storage(ctx, 'scales', scales), y: yb });
  await runDispatches(ctx, [d]);
  const y = await readF32(ctx, yb, spec.nTokens * spec.n);
  ctx.buffers.releaseOwner('test');
  return { y, dispatch: d };
}

describe('matmul_q8', () => {
  it('declares the same uniform struct as its host module', () => {
    expect(parseWgslStruct(MATMUL_Q8_SOURCE, 'MatmulQ8Params')).toEqual(MatmulQ8Params.fields.map(([f, t]) => [f, t]));
  });

  it('matches the CPU reference over the dequantized weights for T in {1, 3, 16, 70} and random shapes', async () => {
    const ctx = await testGpu();
    const rand = seeded(20261124);
    const tokenCounts = [1, 3, 16, 70];
    const groupSizes = [4, 8, 32, 64];
    // [rowLanes, rowsPerWorkgroup]; undefined = the host's default for the shape.
    const tilings: [number | undefined, number | undefined][] = [[undefined, undefined], [1, 64], [8, 3], [32, 1], [64, 2]];
    for (let i = 0; i < 24; i++) {
      const nTokens = tokenCounts[i % tokenCounts.length]!;
      const groupSize = groupSizes[Math.floor(i / 4) % groupSizes.length]!;
      const [rowLanes, rowsPerWorkgroup] = tilings[i % tilings.length]!;
      const n = randInt(rand, 1, 150) | 1; // odd: never a multiple of the rows per workgroup (1 aside)
      const k = groupSize * randInt(rand, 1, Math.floor(256 / groupSize));
      // Every third case forces a smaller token tile, so T is cut into several chunks (and a ragged last one).
      const tokenTile = i % 3 === 2 ? [1, 4, 5, 16][i % 4] : undefined;
      const x = randArray(rand, nTokens * k);
      const q = randWords(rand, (n * k) / 4);
      const scales = randArray(rand, n * (k / groupSize), 0.05);
      const label = `T=${nTokens} N=${n} K=${k} group=${groupSize} lanes=${rowLanes} rows=${rowsPerWorkgroup} tile=${tokenTile}`;
      const options = { ...(rowLanes ? { rowLanes, rowsPerWorkgroup } : {}), ...(tokenTile ? { tokenTile } : {}) };
      const { y, dispatch } = await run(ctx, x, q, scales, { label: `matmul_q8.${i}`, nTokens, n, k, groupSize, ...options });
      const lanes = rowLanes ?? matmulQ8RowLanes(k);
      expect(dispatch.pipeline.label, label).toBe(`matmul_q8_l${lanes}_r${rowsPerWorkgroup ?? 128 / lanes}_t${tokenTile ?? matmulQ8TokenTile(nTokens)}`);
      expect(relMaxError(y, matmulQ8Ref(x, q, scales, nTokens, n, k, groupSize)), label).toBeLessThanOrEqual(1e-4);
    }
  });

  it('handles a prefill of 300 tokens and an all-zero group', async () => {
    const ctx = await testGpu();
    const rand = seeded(5);
    const [nTokens, n, k, groupSize] = [300, 37, 96, 32];
    const x = randArray(rand, nTokens * k);
    const q = randWords(rand, (n * k) / 4);
    const scales = randArray(rand, n * (k / groupSize), 0.1);
    scales[4] = 0; // row 1, group 1: a zero scale contributes nothing whatever its bytes say
    const { y } = await run(ctx, x, q, scales, { label: 'matmul_q8.prefill', nTokens, n, k, groupSize });
    expect(relMaxError(y, matmulQ8Ref(x, q, scales, nTokens, n, k, groupSize))).toBeLessThanOrEqual(1e-4);
  });

  it('stays close to the f32 matmul on quantized weights (int8 rounding only)', async () => {
    const ctx = await testGpu();
    const rand = seeded(99);
    for (const [nTokens, n, k, groupSize] of [
      [1, 129, 256, 32],
      [16, 65, 192, 64],
      [70, 33, 128, 32],
    ] as const) {
      const x = randArray(rand, nTokens * k);
      const w = randArray(rand, n * k);
      const { q, scales } = quantizeQ8Ref(w, n, k, groupSize);
      const { y } = await run(ctx, x, q, scales, { label: 'matmul_q8.sanity', nTokens, n, k, groupSize });
      const err = relMaxError(y, matmulRef(x, w, nTokens, n, k));
      // Each weight moves by at most scale/2 ≈ 0.4 % of its group's largest; over K random terms the
      // errors mostly cancel, leaving well under 1 % of the largest output.
      expect(err, `T=${nTokens} N=${n} K=${k}`).toBeLessThanOrEqual(1e-2);
      expect(err, 'int8 rounding must show: the kernel read the int8 weights').toBeGreaterThan(1e-6);
    }
  });

  it('spreads more than 65,535 workgroups over a 2-D grid', async () => {
    const ctx = await testGpu();
    const rand = seeded(8);
    const [nTokens, n, k, groupSize] = [1, 70_001, 4, 4];
    const x = randArray(rand, nTokens * k);
    const q = randWords(rand, (n * k) / 4);
    const scales = randArray(rand, n, 0.1);
    const { y, dispatch } = await run(ctx, x, q, scales, { label: 'matmul_q8.tall', nTokens, n, k, groupSize, rowLanes: 1, rowsPerWorkgroup: 1 });
    expect(dispatch.workgroups[1]).toBeGreaterThan(1);
    expect(relMaxError(y, matmulQ8Ref(x, q, scales, nTokens, n, k, groupSize))).toBeLessThanOrEqual(1e-4);
  });

  it('rejects bad specs with a MatmulQ8SpecError before allocating anything', async () => {
    const ctx = await testGpu();
    const x = storage(ctx, 'x', 4 * 4 * 64); // [4, 64] f32
    const q = storage(ctx, 'q', 8 * 64); // [8, 16] u32
    const scales = storage(ctx, 'scales', 4 * 8 * 2); // [8, 2] f32
    const y = storage(ctx, 'y', 4 * 4 * 8); // [4, 8] f32
    const ok: MatmulQ8Spec = { label: 'bad', x, q, scales, y, nTokens: 4, n: 8, k: 64, groupSize: 32 };
    const before = ctx.buffers.count;
    const bad: [Partial<MatmulQ8Spec>, string][] = [
      [{ nTokens: 0 }, 'nTokens'],
      [{ n: 2.5 }, 'n'],
      [{ groupSize: 6 }, 'groupSize'],
      [{ k: 48 }, 'k'], // not a multiple of 32
      [{ groupSize: 16 }, 'scales'], // [8, 4] scales do not fit in [8, 2]
      [{ nTokens: 5 }, 'x'],
      [{ n: 9 }, 'q'],
      [{ k: 32, nTokens: 8 }, 'y'],
      [{ rowLanes: 12 }, 'rowLanes'], // not a power of two
      [{ rowLanes: 512 }, 'rowLanes'],
      [{ rowLanes: 0.5 }, 'rowLanes'],
      [{ rowsPerWorkgroup: 0 }, 'rowsPerWorkgroup'],
      [{ rowLanes: 32, rowsPerWorkgroup: 16 }, 'rowsPerWorkgroup'], // 512 invocations
      [{ tokenTile: 17 }, 'tokenTile'],
    ];
    for (const [change, field] of bad) {
      const make = () => createMatmulQ8(ctx, { ...ok, ...change });
      expect(make, JSON.stringify(change)).toThrow(MatmulQ8SpecError);
      try {
        make();
      } catch (err) {
        expect((err as MatmulQ8SpecError).field, JSON.stringify(change)).toBe(field);
      }
    }
    expect(ctx.buffers.count).toBe(before);
    ctx.buffers.releaseOwner('test');
  });
});
