// CPU reference for the int8 matmul, in plain loops: x (T, K) @ dequant(q, scales) (N, K)ᵀ -> y (T, N).
// Also the plain-loops quantizer that makes the packed layout (the engine's own is workers/model/quantize.ts,
// which gpu/ may not import; its unit test checks the two agree bit for bit). Imports nothing from workers/.
//   q:      [N, K / 4] u32, byte j (bits 8j..8j+7, little-endian) of word i = int8 element 4i + j of its row
//   scales: [N, K / groupSize] f32, W[n, k] = int8(n, k) · scales[n, ⌊k / groupSize⌋]

import { matmulRef } from '../matmul/matmul.ref.ts';

/** The int8 in byte `index % 4` of word `index / 4`, sign-extended. */
export function int8At(q: Uint32Array, index: number): number {
  const byte = (q[Math.floor(index / 4)]! >>> (8 * (index % 4))) & 0xff;
  return byte >= 128 ? byte - 256 : byte;
}

/** W (n, k) f32 from its packed int8 values and per-group scales. */
export function dequantizeQ8Ref(q: Uint32Array, scales: Float32Array, n: number, k: number, groupSize: number): Float32Array {
  const groups = k / groupSize;
  const w = new Float32Array(n * k);
  for (let j = 0; j < n; j++) {
    for (let c = 0; c < k; c++) w[j * k + c] = int8At(q, j * k + c) * scales[j * groups + Math.floor(c / groupSize)]!;
  }
  return w;
}

/** Symmetric int8 per group: scale = max|w| / 127 (as f32), int8 = round(w / scale) (half away from 0). */
export function quantizeQ8Ref(w: Float32Array, n: number, k: number, groupSize: number): { q: Uint32Array; scales: Float32Array } {
  const groups = k / groupSize;
  const q = new Uint32Array((n * k) / 4);
  const scales = new Float32Array(n * groups);
  for (let j = 0; j < n; j++) {
    for (let g = 0; g < groups; g++) {
      let maxAbs = 0;
      for (let c = g * groupSize; c < (g + 1) * groupSize; c++) maxAbs = Math.max(maxAbs, Math.abs(w[j * k + c]!));
      const scale = Math.fround(maxAbs / 127);
      scales[j * groups + g] = scale;
      for (let c = g * groupSize; c < (g + 1) * groupSize && scale > 0; c++) {
        const v = w[j * k + c]! / scale;
        const int8 = Math.max(-127, Math.min(127, Math.sign(v) * Math.round(Math.abs(v))));
        const index = j * k + c;
        q[Math.floor(index / 4)] = (q[Math.floor(index / 4)]! | ((int8 & 0xff) << (8 * (index % 4)))) >>> 0;
      }
    }
  }
  return { q, scales };
}

/** y (T, N) = x (T, K) @ W (N, K)ᵀ with W dequantized from (q, scales) first. */
export function matmulQ8Ref(x: Float32Array, q: Uint32Array, scales: Float32Array, nTokens: number, n: number, k: number, groupSize: number): Float32Array {
  return matmulRef(x, dequantizeQ8Ref(q, scales, n, k, groupSize), nTokens, n, k);
}
