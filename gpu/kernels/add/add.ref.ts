// CPU reference for the residual add, in plain loops: x (n,) += y (n,). Returns a new array.

export function addRef(x: Float32Array, y: Float32Array, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = x[i]! + y[i]!;
  return out;
}
