import { describe, expect, it } from 'vitest';
import { dequantizeQ8, quantizeQ8, unpackQ8, QuantizeError, Q8_GROUP_SIZE } from './quantize.ts';
import { dequantizeQ8Ref, quantizeQ8Ref } from '../../gpu/kernels/matmul_q8/matmul_q8.ref.ts';
import { seeded, randInt, randArray } from '../../gpu/testing/random.ts';

describe('quantizeQ8', () => {
  it('round-trips every element within half a scale step, on random shapes and magnitudes', () => {
    const rand = seeded(2026);
    for (let i = 0; i < 20; i++) {
      const groupSize = [4, 8, 32, 64][i % 4]!;
      const rows = randInt(rand, 1, 20);
      const cols = groupSize * randInt(rand, 1, 6);
      const w = randArray(rand, rows * cols, 10 ** randInt(rand, -3, 2));
      const { q, scales } = quantizeQ8(w, rows, cols, groupSize);
      expect(q.length).toBe((rows * cols) / 4);
      expect(scales.length).toBe((rows * cols) / groupSize);
      const back = dequantizeQ8(q, scales, rows, cols, groupSize);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          const scale = scales[r * (cols / groupSize) + Math.floor(c / groupSize)]!;
          const at = r * cols + c;
          // ≤ scale/2 from rounding, plus one f32 rounding of the product q · scale.
          expect(Math.abs(back[at]! - w[at]!), `case ${i} (${r}, ${c})`).toBeLessThanOrEqual((scale / 2) * (1 + 1e-6));
          expect(Math.abs(unpackQ8(q, at))).toBeLessThanOrEqual(127);
        }
      }
    }
  });

  it('uses scale = max|w| / 127 per group, so each group’s largest weight maps to ±127', () => {
    const w = new Float32Array([0.5, -1.27, 0.25, 0, /* group 2 */ 0, 0, 0, 0, /* group 3 */ 2, 1.5, -0.5, -2]);
    const { q, scales } = quantizeQ8(w, 1, 12, 4);
    expect([...scales]).toEqual([Math.fround(1.27 / 127), 0, Math.fround(2 / 127)]);
    expect(Array.from({ length: 12 }, (_, i) => unpackQ8(q, i))).toEqual([50, -127, 25, 0, 0, 0, 0, 0, 127, 95, -32, -127]);
  });

  it('packs four int8 per u32 little-endian: byte j of word i is column 4i + j, two’s complement', () => {
    // Scale 1 (max |w| = 127), so q = w exactly.
    const w = new Float32Array([1, 2, 3, -1, /* word 1 */ 127, -127, 0, -2]);
    const { q, scales } = quantizeQ8(w, 1, 8, 8);
    expect(scales[0]).toBe(1);
    expect([...q]).toEqual([0xff_03_02_01, 0xfe_00_81_7f]);
    // The same bytes seen as an Int8Array on a little-endian host read back the columns in order.
    expect([...new Int8Array(q.buffer)]).toEqual([1, 2, 3, -1, 127, -127, 0, -2]);
    // Rows follow each other: row 1 starts at word cols / 4.
    const two = quantizeQ8(new Float32Array([127, 0, 0, 0, 0, 0, 0, 127]), 2, 4, 4);
    expect([...two.q]).toEqual([0x7f, 0x7f00_0000]);
  });

  it('agrees bit for bit with the GPU kernel’s plain-loops reference (gpu/kernels/matmul_q8)', () => {
    const rand = seeded(7);
    const [rows, cols, groupSize] = [13, 96, 32];
    const w = randArray(rand, rows * cols, 3);
    w.fill(0, 32, 64); // one all-zero group
    const ours = quantizeQ8(w, rows, cols, groupSize);
    const ref = quantizeQ8Ref(w, rows, cols, groupSize);
    expect(ours.q).toEqual(ref.q);
    expect(ours.scales).toEqual(ref.scales);
    expect([...ours.q.subarray(8, 16)]).toEqual(new Array(8).fill(0));
    expect(dequantizeQ8(ours.q, ours.scales, rows, cols, groupSize)).toEqual(dequantizeQ8Ref(ref.q, ref.scales, rows, cols, groupSize));
  });

  it('defaults to groups of 32', () => {
    expect(Q8_GROUP_SIZE).toBe(32);
    expect(quantizeQ8(new Float32Array(2 * 64), 2, 64).scales.length).toBe(4);
    expect(() => quantizeQ8(new Float32Array(48), 1, 48)).toThrow(QuantizeError);
  });

  it('rejects bad shapes and values with a QuantizeError naming the field', () => {
    const cases: [() => unknown, string][] = [
      [() => quantizeQ8(new Float32Array(64), 2, 32, 6), 'groupSize'], // not whole words
      [() => quantizeQ8(new Float32Array(64), 2, 32, 0), 'groupSize'],
      [() => quantizeQ8(new Float32Array(40), 1, 40, 16), 'cols'], // 40 % 16 ≠ 0
      [() => quantizeQ8(new Float32Array(64), 0, 32), 'rows'],
      [() => quantizeQ8(new Float32Array(64), 2.5, 32), 'rows'],
      [() => quantizeQ8(new Float32Array(63), 2, 32), 'w'],
      [() => quantizeQ8(new Float32Array([NaN, 0, 0, 0]), 1, 4, 4), 'w'],
      [() => quantizeQ8(new Float32Array([Infinity, 0, 0, 0]), 1, 4, 4), 'w'],
      [() => dequantizeQ8(new Uint32Array(15), new Float32Array(2), 2, 32), 'q'],
      [() => dequantizeQ8(new Uint32Array(16), new Float32Array(3), 2, 32), 'scales'],
      [() => dequantizeQ8(new Uint32Array(16), new Float32Array(2), 2, 30, 10), 'groupSize'],
    ];
    for (const [call, field] of cases) {
      expect(call).toThrow(QuantizeError);
      try {
        call();
      } catch (err) {
        expect((err as QuantizeError).field, String(call)).toBe(field);
      }
    }
  });
});
