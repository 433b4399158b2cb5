// CPU reference for the KV append, in plain loops: cache (maxSeqLen, kvDim)[pos0 + t, :] = src (T, kvDim)[t, :]
// for t < T, skipping rows >= maxSeqLen. Returns a new cache; the input is left as it was.

export function kvAppendRef(src: Float32Array, cache: Float32Array, nTokens: number, kvDim: number, maxSeqLen: number, pos0: number): Float32Array {
  const out = cache.slice();
  for (let t = 0; t < nTokens; t++) {
    const row = pos0 + t;
    if (row >= maxSeqLen) break;
    for (let c = 0; c < kvDim; c++) out[row * kvDim + c] = src[t * kvDim + c]!;
  }
  return out;
}
