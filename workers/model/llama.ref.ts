// CPU reference of the whole Llama forward pass for one sequence, in plain loops like llama2.c's run.c:
// slow, obvious, and the yardstick the GPU model is tested against. Pure; imports only model types.

import type { ModelConfig, ModelWeights } from './config.ts';

function rmsnorm(out: Float32Array, x: Float32Array, w: Float32Array, eps: number): void {
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += x[i]! * x[i]!;
  const scale = 1 / Math.sqrt(ss / x.length + eps);
  for (let i = 0; i < x.length; i++) out[i] = x[i]! * scale * w[i]!;
}

/** W (d, n) @ x (n,) -> out (d,) */
function matmul(out: Float32Array, x: Float32Array, w: Float32Array, n: number, d: number): void {
  for (let i = 0; i < d; i++) {
    let acc = 0;
    for (let j = 0; j < n; j++) acc += w[i * n + j]! * x[j]!;
    out[i] = acc;
  }
}

/** Rotates each head of `v` ([nHeads · headDim]) for position `pos`. */
function rope(v: Float32Array, nHeads: number, headDim: number, pos: number, c: ModelConfig): void {
  const half = headDim / 2;
  for (let h = 0; h < nHeads; h++) {
    for (let i = 0; i < half; i++) {
      const freq = Math.fround(Math.pow(c.ropeTheta, -(2 * i) / headDim));
      const angle = Math.fround(pos * freq);
      const cos = Math.cos(angle);
      const sin = Math.sin(angle);
      // 'interleaved' pairs (2i, 2i+1) as run.c; 'half' pairs (i, i + headDim/2) as Hugging Face.
      const ia = h * headDim + (c.ropeStyle === 'interleaved' ? 2 * i : i);
      const ib = ia + (c.ropeStyle === 'interleaved' ? 1 : half);
      const a = v[ia]!;
      const b = v[ib]!;
      v[ia] = a * cos - b * sin;
      v[ib] = a * sin + b * cos;
    }
  }
}

/** A CPU model with its own KV cache: forward(token, pos) returns the logits at pos. */
export class LlamaRef {
  readonly #kCache: Float32Array[]; // per layer [maxSeqLen, kvDim]
  readonly #vCache: Float32Array[];

  constructor(readonly weights: ModelWeights) {
    const c = weights.config;
    const kvDim = c.nKvHeads * c.headDim;
    this.#kCache = Array.from({ length: c.nLayers }, () => new Float32Array(c.maxSeqLen * kvDim));
    this.#vCache = Array.from({ length: c.nLayers }, () => new Float32Array(c.maxSeqLen * kvDim));
  }

  #w(name: string): Float32Array {
    const t = this.weights.tensors.get(name) ?? (name === 'output' ? this.weights.tensors.get('tok_embeddings') : undefined);
    if (!t) throw new Error(`LlamaRef: missing tensor ${name}`);
    return t;
  }

  forward(token: number, pos: number): Float32Array {
    const c = this.weights.config;
    const { dim, headDim, nHeads, nKvHeads, hiddenDim } = c;
    const kvDim = nKvHeads * headDim;
    const group = nHeads / nKvHeads;
    const x = this.#w('tok_embeddings').slice(token * dim, (token + 1) * dim); // [dim]
    const xb = new Float32Array(dim);
    const q = new Float32Array(nHeads * headDim);
    const att = new Float32Array(nHeads * headDim);
    const out = new Float32Array(dim);
    const h1 = new Float32Array(hiddenDim);
    const h3 = new Float32Array(hiddenDim);
    for (let l = 0; l < c.nLayers; l++) {
      rmsnorm(xb, x, this.#w(`layers.${l}.attention_norm`), c.normEps);
      const k = this.#kCache[l]!.subarray(pos * kvDim, (pos + 1) * kvDim);
      const v = this.#vCache[l]!.subarray(pos * kvDim, (pos + 1) * kvDim);
      matmul(q, xb, this.#w(`layers.${l}.wq`), dim, nHeads * headDim);
      matmul(k, xb, this.#w(`layers.${l}.wk`), dim, kvDim);
      matmul(v, xb, this.#w(`layers.${l}.wv`), dim, kvDim);
      rope(q, nHeads, headDim, pos, c);
      rope(k, nKvHeads, headDim, pos, c);
      for (let h = 0; h < nHeads; h++) {
        const kvh = Math.floor(h / group);
        const scores = new Float64Array(pos + 1);
        let max = -Infinity;
        for (let t = 0; t <= pos; t++) {
          let s = 0;
          for (let i = 0; i < headDim; i++) s += q[h * headDim + i]! * this.#kCache[l]![t * kvDim + kvh * headDim + i]!;
          scores[t] = s / Math.sqrt(headDim);
          max = Math.max(max, scores[t]!);
        }
        let sum = 0;
        for (let t = 0; t <= pos; t++) sum += scores[t] = Math.exp(scores[t]! - max);
        for (let i = 0; i < headDim; i++) {
          let acc = 0;
          for (let t = 0; t <= pos; t++) acc += (scores[t]! / sum) * this.#vCache[l]![t * kvDim + kvh * headDim + i]!;
          att[h * headDim + i] = acc;
        }
      }
      matmul(out, att, this.#w(`layers.${l}.wo`), nHeads * headDim, dim);
      for (let i = 0; i < dim; i++) x[i]! += out[i]!;
      rmsnorm(xb, x, this.#w(`layers.${l}.ffn_norm`), c.normEps);
      matmul(h1, xb, this.#w(`layers.${l}.w1`), dim, hiddenDim);
      matmul(h3, xb, this.#w(`layers.${l}.w3`), dim, hiddenDim);
      for (let i = 0; i < hiddenDim; i++) h1[i] = (h1[i]! / (1 + Math.exp(-h1[i]!))) * h3[i]!;
      matmul(out, h1, this.#w(`layers.${l}.w2`), hiddenDim, dim);
      for (let i = 0; i < dim; i++) x[i]! += out[i]!;
    }
    rmsnorm(xb, x, this.#w('norm'), c.normEps);
    const logits = new Float32Array(c.vocabSize);
    matmul(logits, xb, this.#w('output'), dim, c.vocabSize);
    return logits;
  }
}
