// CPU reference for matmul, in plain loops: x (T, K) @ w (N, K)ᵀ -> y (T, N), the PyTorch Linear layout.

export function matmulRef(x: Float32Array, w: Float32Array, nTokens: number, n: number, k: number): Float32Array {
  const y = new Float32Array(nTokens * n);
  for (let t = 0; t < nTokens; t++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let c = 0; c < k; c++) acc += x[t * k + c]! * w[j * k + c]!;
      y[t * n + j] = acc;
    }
  }
  return y;
}
