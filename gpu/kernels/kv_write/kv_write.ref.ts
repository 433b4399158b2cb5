// CPU reference for the paged KV write, in plain loops: pool (nSlots, kvDim)[slots[t], :] = src (T, kvDim)[t, :]
// for t < nTokens, skipping slots >= nSlots. Returns a new pool; the input is left as it was.

export function kvWriteRef(src: Float32Array, slots: Uint32Array, pool: Float32Array, nTokens: number, kvDim: number, nSlots: number): Float32Array {
  const out = pool.slice();
  for (let t = 0; t < nTokens; t++) {
    const slot = slots[t]!;
    if (slot >= nSlots) continue;
    for (let c = 0; c < kvDim; c++) out[slot * kvDim + c] = src[t * kvDim + c]!;
  }
  return out;
}
