// CPU reference for RoPE, in plain loops as llama2.c's run.c: x (T, nHeads, headDim) rotated pair by pair,
// token t at position pos0 + t. The angle is formed in f32 exactly as the shader forms it (Math.fround), then
// cos and sin are taken in f64. Returns a new array.

export function ropeRef(
  x: Float32Array,
  nTokens: number,
  nHeads: number,
  headDim: number,
  theta: number,
  style: 'interleaved' | 'half',
  pos0: number,
): Float32Array {
  const out = x.slice();
  const half = headDim / 2;
  for (let t = 0; t < nTokens; t++) {
    const p = Math.fround(pos0 + t);
    for (let h = 0; h < nHeads; h++) {
      const base = (t * nHeads + h) * headDim;
      for (let i = 0; i < half; i++) {
        const freq = Math.fround(theta ** (-(2 * i) / headDim));
        const angle = Math.fround(p * freq);
        const [ia, ib] = style === 'interleaved' ? [base + 2 * i, base + 2 * i + 1] : [base + i, base + i + half];
        const a = x[ia]!;
        const b = x[ib]!;
        out[ia] = a * Math.cos(angle) - b * Math.sin(angle);
        out[ib] = a * Math.sin(angle) + b * Math.cos(angle);
      }
    }
  }
  return out;
}
