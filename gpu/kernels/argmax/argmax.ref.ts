// CPU reference for argmax, in plain loops: x (rows, n) -> out (rows,) u32, the first index of each row's max.

export function argmaxRef(x: Float32Array, rows: number, n: number): Uint32Array {
  const out = new Uint32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < n; c++) if (x[r * n + c]! > x[r * n + best]!) best = c;
    out[r] = best;
  }
  return out;
}
