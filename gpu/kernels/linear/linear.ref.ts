// CPU reference for `linear`, in plain loops as llama2.c's run.c: RMSNorm (optional) of each token's input
// row, then W (n, k) @ x' (k,) per token, then the epilogue. Built from the existing references (rmsnorm,
// rope, kv_write), so the fused kernel is checked against exactly what the unfused chain computes.

import { rmsNormRef } from '../rmsnorm/rmsnorm.ref.ts';
import { kvWriteRef } from '../kv_write/kv_write.ref.ts';
import { ropeFrequencies, type RopeStyle } from '../rope/rope.ts';

export interface LinearRefInput {
  x: Float32Array; // [xRows, k]
  k: number;
  nTokens: number; // T
  /** Tokens actually in the pass (step.nTokens); rows t ≥ this are left untouched. Default T. */
  activeTokens?: number;
  norm?: { weight: Float32Array; eps: number }; // [k]
  rows?: Uint32Array; // [T] gather: token t reads x row rows[t]; a row ≥ xRows leaves token t untouched
}

/** x' = each token's (gathered, normalised) input row: [T, k]; null for tokens that read nothing. */
function inputs(inp: LinearRefInput): (Float32Array | null)[] {
  const { x, k, nTokens } = inp;
  const xRows = x.length / k;
  const active = inp.activeTokens ?? nTokens;
  const out: (Float32Array | null)[] = [];
  for (let t = 0; t < nTokens; t++) {
    const r = inp.rows ? inp.rows[t]! : t;
    if (t >= active || r >= xRows) {
      out.push(null);
      continue;
    }
    const row = x.subarray(r * k, (r + 1) * k);
    out.push(inp.norm ? rmsNormRef(row, inp.norm.weight, 1, k, inp.norm.eps) : row);
  }
  return out;
}

/** W (n, k) @ v (k,) -> (n,) */
function matvec(w: Float32Array, v: Float32Array, n: number, k: number): Float64Array {
  const out = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    let acc = 0;
    for (let c = 0; c < k; c++) acc += w[r * k + c]! * v[c]!;
    out[r] = acc;
  }
  return out;
}

/** 'store' / 'accumulate': y (T, n) = or += W x'. Returns a new y from `y0`. */
export function linearRef(inp: LinearRefInput, w: Float32Array, n: number, y0: Float32Array, accumulate: boolean): Float32Array {
  const y = y0.slice();
  inputs(inp).forEach((xt, t) => {
    if (!xt) return;
    const r = matvec(w, xt, n, inp.k);
    for (let j = 0; j < n; j++) y[t * n + j] = (accumulate ? y[t * n + j]! : 0) + r[j]!;
  });
  return y;
}

/** 'swiglu': y (T, n) = silu(W1 x') * (W3 x'), silu(g) = g / (1 + e^-g). */
export function linearSwigluRef(inp: LinearRefInput, w1: Float32Array, w3: Float32Array, n: number, y0: Float32Array): Float32Array {
  const y = y0.slice();
  inputs(inp).forEach((xt, t) => {
    if (!xt) return;
    const g = matvec(w1, xt, n, inp.k);
    const u = matvec(w3, xt, n, inp.k);
    for (let j = 0; j < n; j++) y[t * n + j] = (g[j]! / (1 + Math.exp(-g[j]!))) * u[j]!;
  });
  return y;
}

export interface QkvRefShape {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  theta: number;
  style: RopeStyle;
  nSlots: number;
}

/** Rotates one head row in place by position p, as ropeRef does (angle formed in f32, cos/sin in f64). */
function rotate(v: Float64Array, nHeads: number, headDim: number, theta: number, style: RopeStyle, p: number): void {
  const freqs = ropeFrequencies(headDim, theta);
  const half = headDim / 2;
  for (let h = 0; h < nHeads; h++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(Math.fround(p) * freqs[i]!);
      const ia = h * headDim + (style === 'interleaved' ? 2 * i : i);
      const ib = ia + (style === 'interleaved' ? 1 : half);
      const a = v[ia]!;
      const b = v[ib]!;
      v[ia] = a * Math.cos(angle) - b * Math.sin(angle);
      v[ib] = a * Math.sin(angle) + b * Math.cos(angle);
    }
  }
}

/** 'qkv-rope-kv': q (T, qDim) = rope(Wq x'); kPool/vPool (nSlots, kvDim)[slots[t]] = rope(Wk x'), Wv x'. */
export function linearQkvRef(
  inp: LinearRefInput,
  w: { wq: Float32Array; wk: Float32Array; wv: Float32Array },
  s: QkvRefShape,
  positions: Uint32Array,
  slots: Uint32Array,
  init: { q: Float32Array; kPool: Float32Array; vPool: Float32Array },
): { q: Float32Array; kPool: Float32Array; vPool: Float32Array } {
  const qDim = s.nHeads * s.headDim;
  const kvDim = s.nKvHeads * s.headDim;
  const q = init.q.slice();
  const kNew = new Float32Array(inp.nTokens * kvDim);
  const vNew = new Float32Array(inp.nTokens * kvDim);
  const writeSlots = slots.slice();
  inputs(inp).forEach((xt, t) => {
    if (!xt) {
      writeSlots[t] = 0xffffffff; // a skipped token writes nothing
      return;
    }
    const qt = matvec(w.wq, xt, qDim, inp.k);
    const kt = matvec(w.wk, xt, kvDim, inp.k);
    rotate(qt, s.nHeads, s.headDim, s.theta, s.style, positions[t]!);
    rotate(kt, s.nKvHeads, s.headDim, s.theta, s.style, positions[t]!);
    q.set(qt, t * qDim);
    kNew.set(kt, t * kvDim);
    vNew.set(matvec(w.wv, xt, kvDim, inp.k), t * kvDim);
  });
  return {
    q,
    kPool: kvWriteRef(kNew, writeSlots, init.kPool, inp.nTokens, kvDim, s.nSlots),
    vPool: kvWriteRef(vNew, writeSlots, init.vPool, inp.nTokens, kvDim, s.nSlots),
  };
}
