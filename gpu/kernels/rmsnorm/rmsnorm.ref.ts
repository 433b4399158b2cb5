// CPU reference for RMSNorm, in plain loops as llama2.c's run.c: for each row of x (T, dim),
// out (T, dim) = weight (dim,) · x / sqrt(mean(x²) + eps).

export function rmsNormRef(x: Float32Array, weight: Float32Array, nTokens: number, dim: number, eps: number): Float32Array {
  const out = new Float32Array(nTokens * dim);
  for (let t = 0; t < nTokens; t++) {
    let ss = 0;
    for (let c = 0; c < dim; c++) ss += x[t * dim + c]! * x[t * dim + c]!;
    const scale = 1 / Math.sqrt(ss / dim + eps);
    for (let c = 0; c < dim; c++) out[t * dim + c] = weight[c]! * (scale * x[t * dim + c]!);
  }
  return out;
}
