// Int8 weight quantization for the speculative draft (issue 7): symmetric, one f32 scale per group of
// `groupSize` consecutive weights in a row, int8 values packed four to a u32 — the layout that
// gpu/kernels/matmul_q8 dequantizes inside the kernel. Pure TypeScript over typed arrays; imports nothing.
//
// Layout of a [rows, cols] matrix W:
//   q:      Uint32Array [rows, cols / 4]; element (r, c) is byte (c % 4) of word r·cols/4 + ⌊c/4⌋, little-endian
//           (bits 8·(c%4) .. 8·(c%4)+7), an int8 in two's complement, always in [-127, 127].
//   scales: Float32Array [rows, cols / groupSize]; scale (r, g) = max |W[r, g·groupSize ..]| / 127.
//   W[r, c] ≈ q(r, c) · scales[r, ⌊c / groupSize⌋].

/** Default weights per scale: small enough to follow outliers, large enough that scales cost 1/8 of q. */
export const Q8_GROUP_SIZE = 32;

/** A quantize/dequantize call whose shapes cannot work; `field` names the offending argument. */
export class QuantizeError extends Error {
  override readonly name = 'QuantizeError';
  constructor(
    readonly field: 'rows' | 'cols' | 'groupSize' | 'w' | 'q' | 'scales',
    message: string,
  ) {
    super(`quantizeQ8: ${message}`);
  }
}

export interface Q8Weights {
  q: Uint32Array; // [rows, cols / 4] u32, four int8 per word (byte j = column 4·i + j)
  scales: Float32Array; // [rows, cols / groupSize] f32
}

function checkShape(rows: number, cols: number, groupSize: number): void {
  if (!Number.isInteger(rows) || rows < 1) throw new QuantizeError('rows', `rows must be a positive integer, got ${rows}`);
  if (!Number.isInteger(cols) || cols < 1) throw new QuantizeError('cols', `cols must be a positive integer, got ${cols}`);
  if (!Number.isInteger(groupSize) || groupSize < 4 || groupSize % 4 !== 0) {
    throw new QuantizeError('groupSize', `groupSize must be a positive multiple of 4 (whole u32 words), got ${groupSize}`);
  }
  if (cols % groupSize !== 0) throw new QuantizeError('cols', `cols ${cols} is not a multiple of groupSize ${groupSize}`);
}

/** Quantizes W [rows, cols] f32 (row-major) to int8 with one scale per `groupSize` columns of a row. */
export function quantizeQ8(w: Float32Array, rows: number, cols: number, groupSize = Q8_GROUP_SIZE): Q8Weights {
  checkShape(rows, cols, groupSize);
  if (w.length !== rows * cols) throw new QuantizeError('w', `w has ${w.length} elements, but [${rows}, ${cols}] needs ${rows * cols}`);
  const groups = cols / groupSize;
  const q = new Uint32Array((rows * cols) / 4); // [rows, cols / 4]
  const scales = new Float32Array(rows * groups); // [rows, groups]
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      const c0 = r * cols + g * groupSize; // first element of this group
      let maxAbs = 0;
      for (let i = 0; i < groupSize; i++) maxAbs = Math.max(maxAbs, Math.abs(w[c0 + i]!));
      if (!Number.isFinite(maxAbs)) throw new QuantizeError('w', `w[${r}, ${g * groupSize}..${(g + 1) * groupSize - 1}] holds a NaN or an infinity`);
      // Round the scale to f32 first and quantize with that exact value, so q · scale is what the GPU sees.
      const scale = Math.fround(maxAbs / 127);
      scales[r * groups + g] = scale;
      if (scale === 0) continue; // an all-zero group (or one of subnormals): q stays 0
      for (let i = 0; i < groupSize; i += 4) {
        let word = 0;
        for (let j = 0; j < 4; j++) {
          const v = w[c0 + i + j]! / scale;
          // Round half away from zero (symmetric), clamp: rounding of the f32 scale can push |v| a hair past 127.
          const qv = Math.max(-127, Math.min(127, Math.sign(v) * Math.round(Math.abs(v))));
          word |= (qv & 0xff) << (8 * j); // two's-complement byte j
        }
        q[(c0 + i) / 4] = word >>> 0;
      }
    }
  }
  return { q, scales };
}

/** The int8 value of element `index` (row-major) in packed words: byte index % 4 of word ⌊index / 4⌋. */
export function unpackQ8(q: Uint32Array, index: number): number {
  const byte = (q[index >>> 2]! >>> (8 * (index & 3))) & 0xff;
  return byte >= 128 ? byte - 256 : byte;
}

/** Inverse of quantizeQ8 (up to rounding): W [rows, cols] f32 with W[r, c] = q(r, c) · scale(r, c / groupSize). */
export function dequantizeQ8(q: Uint32Array, scales: Float32Array, rows: number, cols: number, groupSize = Q8_GROUP_SIZE): Float32Array {
  checkShape(rows, cols, groupSize);
  const groups = cols / groupSize;
  if (q.length !== (rows * cols) / 4) throw new QuantizeError('q', `q has ${q.length} words, but [${rows}, ${cols}] int8 needs ${(rows * cols) / 4}`);
  if (scales.length !== rows * groups) throw new QuantizeError('scales', `scales has ${scales.length} elements, but [${rows}, ${groups}] needs ${rows * groups}`);
  const w = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) w[r * cols + c] = unpackQ8(q, r * cols + c) * scales[r * groups + Math.floor(c / groupSize)]!;
  }
  return w;
}
