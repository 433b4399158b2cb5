// CPU reference for the embedding lookup, in plain loops: table (vocabSize, dim)[tokens (T,)] -> out (T, dim).
// An id >= vocabSize gives a row of zeros.

export function embeddingRef(tokens: Uint32Array, table: Float32Array, nTokens: number, dim: number, vocabSize: number): Float32Array {
  const out = new Float32Array(nTokens * dim);
  for (let t = 0; t < nTokens; t++) {
    const id = tokens[t]!;
    if (id >= vocabSize) continue; // stays zero
    for (let c = 0; c < dim; c++) out[t * dim + c] = table[id * dim + c]!;
  }
  return out;
}
