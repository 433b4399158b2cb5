// CPU reference for paged attention, in plain loops through the block table: query t of sequence
// tokenSeq[t] at position tokenPos[t] attends to keys 0..tokenPos[t], key j at slot table[j / B] · B + j % B.
// kPool/vPool (nSlots, nKvHeads, headDim), q/out (T, nHeads, headDim).

export interface PagedAttentionShape {
  nTokens: number; // T
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  blockSize: number; // B: token slots per block
  maxBlocksPerSeq: number; // columns of blockTables
}

export function pagedAttentionRef(
  q: Float32Array,
  kPool: Float32Array,
  vPool: Float32Array,
  blockTables: Uint32Array,
  tokenSeq: Uint32Array,
  tokenPos: Uint32Array,
  s: PagedAttentionShape,
): Float32Array {
  const { nTokens, nHeads, nKvHeads, headDim, blockSize, maxBlocksPerSeq } = s;
  const group = nHeads / nKvHeads; // query heads per kv head
  const out = new Float32Array(nTokens * nHeads * headDim);
  for (let t = 0; t < nTokens; t++) {
    const seq = tokenSeq[t]!;
    const p = tokenPos[t]!; // causal: keys 0..p
    // slotOf[j]: the physical slot of key j, through the sequence's row of the block table
    const slotOf = new Array<number>(p + 1);
    for (let j = 0; j <= p; j++) slotOf[j] = blockTables[seq * maxBlocksPerSeq + Math.floor(j / blockSize)]! * blockSize + (j % blockSize);
    for (let h = 0; h < nHeads; h++) {
      const kvh = Math.floor(h / group);
      const qOff = (t * nHeads + h) * headDim;
      const scores = new Float64Array(p + 1);
      for (let j = 0; j <= p; j++) {
        const kOff = (slotOf[j]! * nKvHeads + kvh) * headDim;
        let dot = 0;
        for (let d = 0; d < headDim; d++) dot += q[qOff + d]! * kPool[kOff + d]!;
        scores[j] = dot / Math.sqrt(headDim);
      }
      let max = -Infinity;
      for (let j = 0; j <= p; j++) max = Math.max(max, scores[j]!);
      let sum = 0;
      for (let j = 0; j <= p; j++) {
        scores[j] = Math.exp(scores[j]! - max);
        sum += scores[j]!;
      }
      for (let d = 0; d < headDim; d++) {
        let acc = 0;
        for (let j = 0; j <= p; j++) acc += (scores[j]! / sum) * vPool[(slotOf[j]! * nKvHeads + kvh) * headDim + d]!;
        out[qOff + d] = acc;
      }
    }
  }
  return out;
}
