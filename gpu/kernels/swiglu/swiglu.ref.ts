// CPU reference for SwiGLU, in plain loops: out (n,) = gate (n,) · sigmoid(gate) · up (n,), as llama2.c's run.c.

export function swigluRef(gate: Float32Array, up: Float32Array, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const g = gate[i]!;
    out[i] = (g / (1 + Math.exp(-g))) * up[i]!;
  }
  return out;
}
