// CPU reference for causal grouped-query attention over a contiguous KV cache, in plain loops:
// q (T, nHeads, headDim), kCache/vCache (maxSeqLen, nKvHeads, headDim) -> out (T, nHeads, headDim).

export interface AttentionShape {
  nTokens: number; // T
  pos0: number; // absolute position of query 0
  nHeads: number;
  nKvHeads: number;
  headDim: number;
}

export function attentionRef(q: Float32Array, kCache: Float32Array, vCache: Float32Array, s: AttentionShape): Float32Array {
  const { nTokens, pos0, nHeads, nKvHeads, headDim } = s;
  const group = nHeads / nKvHeads; // query heads per kv head
  const out = new Float32Array(nTokens * nHeads * headDim);
  for (let t = 0; t < nTokens; t++) {
    const p = pos0 + t; // causal: keys 0..p
    for (let h = 0; h < nHeads; h++) {
      const kvh = Math.floor(h / group);
      const qOff = (t * nHeads + h) * headDim;
      // scores[j] = q · k_j / sqrt(headDim)
      const scores = new Float64Array(p + 1);
      for (let j = 0; j <= p; j++) {
        const kOff = (j * nKvHeads + kvh) * headDim;
        let dot = 0;
        for (let d = 0; d < headDim; d++) dot += q[qOff + d]! * kCache[kOff + d]!;
        scores[j] = dot / Math.sqrt(headDim);
      }
      // softmax with the maximum subtracted first
      let max = -Infinity;
      for (let j = 0; j <= p; j++) max = Math.max(max, scores[j]!);
      let sum = 0;
      for (let j = 0; j <= p; j++) {
        scores[j] = Math.exp(scores[j]! - max);
        sum += scores[j]!;
      }
      // out = Σ_j softmax_j · v_j
      for (let d = 0; d < headDim; d++) {
        let acc = 0;
        for (let j = 0; j <= p; j++) acc += (scores[j]! / sum) * vCache[(j * nKvHeads + kvh) * headDim + d]!;
        out[qOff + d] = acc;
      }
    }
  }
  return out;
}
