// The forward pass as a list of prepared dispatches for a pass of T tokens: embedding, then per layer
// RMSNorm → Q/K/V → RoPE → KV append → attention → wo → residual, RMSNorm → gate/up → SwiGLU → down →
// residual, then the final norm and the logits of the last token. Built once per T and reused: everything
// that changes between passes (token ids, positions) lives in buffers written before each submit.

import type { GpuContext } from '../../gpu/device.ts';
import type { Dispatch } from '../../gpu/dispatch.ts';
import { createEmbedding } from '../../gpu/kernels/embedding/embedding.ts';
import { createRmsNorm } from '../../gpu/kernels/rmsnorm/rmsnorm.ts';
import { createMatmul } from '../../gpu/kernels/matmul/matmul.ts';
import { createMatmulQ8 } from '../../gpu/kernels/matmul_q8/matmul_q8.ts';
import { createRope } from '../../gpu/kernels/rope/rope.ts';
import { createKvAppend } from '../../gpu/kernels/kv_append/kv_append.ts';
import { createAttention } from '../../gpu/kernels/attention/attention.ts';
import { createPagedAttention } from '../../gpu/kernels/paged_attention/paged_attention.ts';
import { createKvWrite } from '../../gpu/kernels/kv_write/kv_write.ts';
import { createSwiglu } from '../../gpu/kernels/swiglu/swiglu.ts';
import { createAdd } from '../../gpu/kernels/add/add.ts';
import { createArgmax } from '../../gpu/kernels/argmax/argmax.ts';
import { createLinear, LINEAR_MAX_TOKENS } from '../../gpu/kernels/linear/linear.ts';
import type { ModelConfig } from './config.ts';
import type { Activations, KvStorage, PagedKv } from './activations.ts';
import { q8GroupSizeFor, Q8_SCALES_SUFFIX, Q8_SUFFIX, type GpuWeights } from './gpu-weights.ts';

export interface ForwardPlan {
  nTokens: number;
  nSeqs: number; // output rows whose logits the plan computes (each sequence's last token, or more)
  dispatches: Dispatch[];
  /** Uniform buffers the plan made; released with it. */
  owned: GPUBuffer[];
}

export function buildForwardPlan(ctx: GpuContext, c: ModelConfig, w: GpuWeights, a: Activations, kv: KvStorage, T: number, S = 1, fused = true): ForwardPlan {
  // S: logits rows (a.lastIndex lists which token rows)
  if (T < 1 || T > a.maxTokens) throw new Error(`forward plan: ${T} tokens, but activations hold 1..${a.maxTokens}`);
  if (S < 1 || S > Math.min(T, a.maxOutputs)) throw new Error(`forward plan: ${S} output rows, but 1..${Math.min(T, a.maxOutputs)} fit`);
  const mark = ctx.buffers.mark();
  const W = (name: string) => {
    const b = w.get(name);
    if (!b) throw new Error(`forward plan: weight ${name} is missing`);
    return b;
  };
  const qDim = c.nHeads * c.headDim;
  const kvDim = c.nKvHeads * c.headDim;
  const d: Dispatch[] = [];
  if (fused && canFuse(c, w, kv, T)) {
    buildFused(ctx, c, w, a, kv as PagedKv, T, S, W, d);
    return { nTokens: T, nSeqs: S, dispatches: d, owned: ctx.buffers.since(mark) };
  }
  // Small workgroups: these models' rows are short, and every barrier in a reduction costs a synchronisation
  // of the whole workgroup (expensive on software adapters, wasted lanes on hardware).
  const normWorkgroup = 64;
  const attentionBlock = 32;
  // y = x · Wᵀ for the weight called `name`: f32, or int8 per-group (an int8 draft; see workers/model/quantize.ts).
  const mm = (label: string, x: GPUBuffer, name: string, y: GPUBuffer, n: number, k: number, nTokens = T) => {
    const q8 = w.get(`${name}${Q8_SUFFIX}`);
    if (q8) d.push(createMatmulQ8(ctx, { label, x, q: q8, scales: W(`${name}${Q8_SCALES_SUFFIX}`), y, nTokens, n, k, groupSize: q8GroupSizeFor(k) }));
    else d.push(createMatmul(ctx, { label, x, w: W(name), y, nTokens, n, k }));
  };

  d.push(createEmbedding(ctx, { label: 'Llama.embed', tokens: a.tokens, table: W('tok_embeddings'), out: a.x, nTokens: T, dim: c.dim, vocabSize: c.vocabSize }));
  for (let l = 0; l < c.nLayers; l++) {
    const L = `Llama.layers.${l}`;
    // Attention sublayer: x += wo · attention(rope(wq·norm(x)), rope(wk·norm(x)), wv·norm(x))
    d.push(createRmsNorm(ctx, { label: `${L}.attention_norm`, x: a.x, weight: W(`layers.${l}.attention_norm`), out: a.xb, nTokens: T, dim: c.dim, eps: c.normEps, workgroupSize: normWorkgroup }));
    mm(`${L}.wq`, a.xb, `layers.${l}.wq`, a.q, qDim, c.dim);
    mm(`${L}.wk`, a.xb, `layers.${l}.wk`, a.k, kvDim, c.dim);
    mm(`${L}.wv`, a.xb, `layers.${l}.wv`, a.v, kvDim, c.dim);
    const rope = { step: a.step, positions: a.tokenPos, nTokens: T, headDim: c.headDim, theta: c.ropeTheta, style: c.ropeStyle };
    d.push(createRope(ctx, { ...rope, label: `${L}.rope_q`, x: a.q, nHeads: c.nHeads }));
    d.push(createRope(ctx, { ...rope, label: `${L}.rope_k`, x: a.k, nHeads: c.nKvHeads }));
    if (kv.mode === 'contiguous') {
      // K/V rows go to positions pos0 … pos0+T−1 of this layer's cache; attention reads rows 0 … pos.
      const append = { step: a.step, nTokens: T, kvDim, maxSeqLen: kv.maxSeqLen };
      d.push(createKvAppend(ctx, { ...append, label: `${L}.kv_append_k`, src: a.k, cache: kv.k[l]! }));
      d.push(createKvAppend(ctx, { ...append, label: `${L}.kv_append_v`, src: a.v, cache: kv.v[l]! }));
      d.push(
        createAttention(ctx, {
          label: `${L}.attention`,
          step: a.step,
          q: a.q,
          kCache: kv.k[l]!,
          vCache: kv.v[l]!,
          out: a.att,
          nTokens: T,
          nHeads: c.nHeads,
          nKvHeads: c.nKvHeads,
          headDim: c.headDim,
          maxSeqLen: kv.maxSeqLen,
          blockSize: attentionBlock,
        }),
      );
    } else {
      // Paged: each token's K/V goes to the physical slot the block manager gave it; attention finds a
      // sequence's keys through its block table.
      const nSlots = kv.nBlocks * kv.blockSize;
      const write = { step: a.step, slots: a.slots, nTokens: T, kvDim, nSlots };
      d.push(createKvWrite(ctx, { ...write, label: `${L}.kv_write_k`, src: a.k, pool: kv.k[l]! }));
      d.push(createKvWrite(ctx, { ...write, label: `${L}.kv_write_v`, src: a.v, pool: kv.v[l]! }));
      d.push(pagedAttention(ctx, c, a, kv, T, l, attentionBlock));
    }
    mm(`${L}.wo`, a.att, `layers.${l}.wo`, a.xb2, c.dim, qDim);
    d.push(createAdd(ctx, { label: `${L}.residual_attention`, x: a.x, y: a.xb2, n: T * c.dim }));
    // Feed-forward sublayer: x += w2 · (SiLU(w1·norm(x)) ⊙ w3·norm(x))
    d.push(createRmsNorm(ctx, { label: `${L}.ffn_norm`, x: a.x, weight: W(`layers.${l}.ffn_norm`), out: a.xb, nTokens: T, dim: c.dim, eps: c.normEps, workgroupSize: normWorkgroup }));
    mm(`${L}.w1`, a.xb, `layers.${l}.w1`, a.gate, c.hiddenDim, c.dim);
    mm(`${L}.w3`, a.xb, `layers.${l}.w3`, a.up, c.hiddenDim, c.dim);
    d.push(createSwiglu(ctx, { label: `${L}.swiglu`, gate: a.gate, up: a.up, out: a.hidden, n: T * c.hiddenDim }));
    mm(`${L}.w2`, a.hidden, `layers.${l}.w2`, a.xb2, c.dim, c.hiddenDim);
    d.push(createAdd(ctx, { label: `${L}.residual_ffn`, x: a.x, y: a.xb2, n: T * c.dim }));
  }
  // Only each sequence's last token needs logits: gather those S rows (an embedding lookup with the residual
  // stream as the table and the rows' indices as ids), normalise them, and project onto the vocabulary.
  d.push(createEmbedding(ctx, { label: 'Llama.gather_last', tokens: a.lastIndex, table: a.x, out: a.xb2, nTokens: S, dim: c.dim, vocabSize: T }));
  d.push(createRmsNorm(ctx, { label: 'Llama.norm', x: a.xb2, weight: W('norm'), out: a.last, nTokens: S, dim: c.dim, eps: c.normEps, workgroupSize: normWorkgroup }));
  mm('Llama.output', a.last, 'output', a.logits, c.vocabSize, c.dim, S);
  d.push(createArgmax(ctx, { label: 'Llama.argmax', x: a.logits, out: a.argmax, rows: S, n: c.vocabSize }));
  return { nTokens: T, nSeqs: S, dispatches: d, owned: ctx.buffers.since(mark) };
}

/** Layer l's attention over the paged pool: each token's queries against its sequence's keys, by block table. */
function pagedAttention(ctx: GpuContext, c: ModelConfig, a: Activations, kv: PagedKv, T: number, l: number, tileSize: number, keysPerInvocation = 1): Dispatch {
  return createPagedAttention(ctx, {
    label: `Llama.layers.${l}.paged_attention`,
    step: a.step,
    q: a.q,
    kPool: kv.k[l]!,
    vPool: kv.v[l]!,
    blockTables: kv.blockTables,
    tokenSeq: a.tokenSeq,
    tokenPos: a.tokenPos,
    out: a.att,
    nTokens: T,
    nHeads: c.nHeads,
    nKvHeads: c.nKvHeads,
    headDim: c.headDim,
    blockSize: kv.blockSize,
    nBlocks: kv.nBlocks,
    maxBlocksPerSeq: kv.maxBlocksPerSeq,
    nSeqs: kv.maxSeqs,
    tileSize,
    keysPerInvocation,
  });
}

/**
 * The fused decode path (paged KV, up to 16 tokens: decode, batched decode, speculative verification, short
 * prefill chunks; f32 weights with rows a multiple of 4): per layer 5 dispatches instead of 17 —
 *   RMSNorm·[wq wk wv] + RoPE + KV write → paged attention → x += wo·att → RMSNorm·[w1 w3] + SwiGLU →
 *   x += w2·h — and outside the layers the embedding, RMSNorm·output over the gathered rows, and argmax.
 */
export function canFuse(c: ModelConfig, w: GpuWeights, kv: KvStorage, T: number): boolean {
  const qDim = c.nHeads * c.headDim;
  const quantized = [...w.keys()].some((name) => name.endsWith(Q8_SUFFIX));
  return kv.mode === 'paged' && T <= LINEAR_MAX_TOKENS && !quantized && [c.dim, qDim, c.hiddenDim].every((k) => k % 4 === 0);
}

function buildFused(ctx: GpuContext, c: ModelConfig, w: GpuWeights, a: Activations, kv: PagedKv, T: number, S: number, W: (name: string) => GPUBuffer, d: Dispatch[]): void {
  const qDim = c.nHeads * c.headDim;
  const common = { step: a.step, nTokens: T };
  d.push(createEmbedding(ctx, { label: 'Llama.embed', tokens: a.tokens, table: W('tok_embeddings'), out: a.x, nTokens: T, dim: c.dim, vocabSize: c.vocabSize }));
  for (let l = 0; l < c.nLayers; l++) {
    const L = `Llama.layers.${l}`;
    d.push(
      createLinear(ctx, {
        ...common,
        label: `${L}.norm_qkv_rope_kv`,
        epilogue: 'qkv-rope-kv',
        x: a.x,
        k: c.dim,
        norm: { weight: W(`layers.${l}.attention_norm`), eps: c.normEps },
        wq: W(`layers.${l}.wq`),
        wk: W(`layers.${l}.wk`),
        wv: W(`layers.${l}.wv`),
        q: a.q,
        kPool: kv.k[l]!,
        vPool: kv.v[l]!,
        slots: a.slots,
        positions: a.tokenPos,
        nHeads: c.nHeads,
        nKvHeads: c.nKvHeads,
        headDim: c.headDim,
        nSlots: kv.nBlocks * kv.blockSize,
        theta: c.ropeTheta,
        style: c.ropeStyle,
      }),
    );
    // A hardware GPU: wide tiles, so a decode query's whole context is usually one tile (few barriers).
    // Tiles of 2 × 256 keys: a tile's reductions cost the same barriers whatever its keys, so the default
    // target's whole context (512) is one tile; on an H100 a 384-key decode takes 10.5 µs instead of 14.4
    // with 1 key per invocation (bench attention).
    d.push(pagedAttention(ctx, c, a, kv, T, l, Math.min(256, ctx.capabilities.limits.maxComputeInvocationsPerWorkgroup ?? 256), 2));
    d.push(createLinear(ctx, { ...common, label: `${L}.wo_residual`, epilogue: 'accumulate', x: a.att, k: qDim, w: W(`layers.${l}.wo`), y: a.x, n: c.dim }));
    d.push(
      createLinear(ctx, {
        ...common,
        label: `${L}.norm_w1_w3_swiglu`,
        epilogue: 'swiglu',
        x: a.x,
        k: c.dim,
        norm: { weight: W(`layers.${l}.ffn_norm`), eps: c.normEps },
        w1: W(`layers.${l}.w1`),
        w3: W(`layers.${l}.w3`),
        y: a.hidden,
        n: c.hiddenDim,
      }),
    );
    d.push(createLinear(ctx, { ...common, label: `${L}.w2_residual`, epilogue: 'accumulate', x: a.hidden, k: c.hiddenDim, w: W(`layers.${l}.w2`), y: a.x, n: c.dim }));
  }
  // Logits of the wanted rows only: gathered, normalised and projected in one pass; then their argmax.
  // The logits GEMV is long and thin (vocab × dim): from 4 rows on, 2 output rows per workgroup of 32 beat the
  // default (one row each, a tree over 16 sums): at 8 rows 14.8 → 8.2 µs on an H100 (bench decode --batch 8).
  const outputTuning = S >= 4 ? ({ reduction: 'workgroup', rowsPerWorkgroup: 2, workgroupSize: 32 } as const) : {};
  d.push(createLinear(ctx, { ...outputTuning, label: 'Llama.norm_output', epilogue: 'store', x: a.x, rows: a.lastIndex, xRows: T, nTokens: S, k: c.dim, norm: { weight: W('norm'), eps: c.normEps }, w: W('output'), y: a.logits, n: c.vocabSize }));
  d.push(createArgmax(ctx, { label: 'Llama.argmax', x: a.logits, out: a.argmax, rows: S, n: c.vocabSize }));
}
