// Host module for the fused GEMV family `linear`: y = W · x' for 1..16 tokens, with an optional RMSNorm
// prologue and gather, and a store / accumulate / SwiGLU / QKV+RoPE+KV-write epilogue. Picks the subgroup or
// the workgroup-memory reduction, validates the spec, and prepares the Dispatch. Must not import from
// workers/ or web/.

import mainCode from './linear.wgsl?raw';
import qkvCode from './linear_qkv.wgsl?raw';
import reduceSubgroupCode from './linear_reduce_subgroup.wgsl?raw';
import reduceWorkgroupCode from './linear_reduce_workgroup.wgsl?raw';
import type { GpuContext } from '../../device.ts';
import { grid1d, type Dispatch } from '../../dispatch.ts';
import { specialize } from '../../specialize.ts';
import { uniformStruct } from '../../uniforms.ts';
import { ropeFrequencies, type RopeStyle } from '../rope/rope.ts';
import { StepParams } from '../step.ts';
import { linearPlan, type LinearPlan } from './linear.validate.ts';

export { LinearSpecError, LINEAR_MAX_TOKENS, LINEAR_MAX_HEAD_DIM } from './linear.validate.ts';

export const LINEAR_SOURCE = mainCode;
export const LINEAR_QKV_SOURCE = qkvCode;
export const LinearParams = uniformStruct('LinearParams', [
  ['n', 'u32'],
  ['k', 'u32'],
  ['nTokens', 'u32'],
  ['xRows', 'u32'],
  ['eps', 'f32'],
  ['kvDim', 'u32'],
  ['headDim', 'u32'],
  ['nSlots', 'u32'],
] as const);

/** How a workgroup adds up its invocations' partial sums: subgroup operations, or a tree in workgroup memory. */
export type LinearReduction = 'subgroup' | 'workgroup';

interface LinearCommon {
  label: string; // e.g. "Llama.layers.3.wq"
  x: GPUBuffer; // [xRows, k] f32
  k: number; // K: input features, a multiple of 4 (vec4 loads)
  nTokens: number; // T, 1..16: the grid and the pipeline are made for T tokens
  /** StepParams uniform: tokens t ≥ step.nTokens are skipped, so one dispatch serves shorter passes. Default: all T. */
  step?: GPUBuffer;
  /** RMSNorm prologue: x' = x · 1/sqrt(mean(x²) + eps) ⊙ weight, computed inside the kernel. */
  norm?: { weight: GPUBuffer; eps: number }; // weight: [k] f32
  /** Default: 'subgroup' when the device has the `subgroups` feature and T < 8, else 'workgroup'. */
  reduction?: LinearReduction;
  /** Invocations per workgroup, a power of two. Default: about 4·T vec4 columns each, 32..256, within workgroup memory. */
  workgroupSize?: number;
  /** Output rows per workgroup (qkv: even). Default 2 for T ≤ 2 (and qkv), else 1. */
  rowsPerWorkgroup?: number;
}

/** y = W · x' (store) or y += W · x' (accumulate: a residual add; x must not be y). */
export interface LinearProjectSpec extends LinearCommon {
  epilogue: 'store' | 'accumulate';
  w: GPUBuffer; // [n, k] f32
  y: GPUBuffer; // [T, n] f32
  n: number; // N: output rows
  rows?: GPUBuffer; // [T] u32: token t reads x row rows[t] (gather); a row ≥ xRows yields nothing
  xRows?: number; // rows x holds; default T, or what x's size allows when rows is given
}

/** y = silu(W1 · x') ⊙ (W3 · x'), the Llama MLP's gate and up projections and SwiGLU in one pass. */
export interface LinearSwigluSpec extends LinearCommon {
  epilogue: 'swiglu';
  w1: GPUBuffer; // [n, k] f32 (gate)
  w3: GPUBuffer; // [n, k] f32 (up)
  y: GPUBuffer; // [T, n] f32
  n: number; // hiddenDim
  rows?: GPUBuffer; // [T] u32, as in LinearProjectSpec
  xRows?: number;
}

/** q = RoPE(wq · x') into q; RoPE(wk · x') and wv · x' into the paged KV pools at slots[t] (createRope + createKvWrite). */
export interface LinearQkvSpec extends LinearCommon {
  epilogue: 'qkv-rope-kv';
  wq: GPUBuffer; // [nHeads · headDim, k] f32
  wk: GPUBuffer; // [nKvHeads · headDim, k] f32
  wv: GPUBuffer; // [nKvHeads · headDim, k] f32
  q: GPUBuffer; // [T, nHeads · headDim] f32
  kPool: GPUBuffer; // [nSlots, nKvHeads · headDim] f32
  vPool: GPUBuffer; // [nSlots, nKvHeads · headDim] f32
  slots: GPUBuffer; // [T] u32 physical slot per token; ≥ nSlots = not written
  positions: GPUBuffer; // [T] u32 RoPE position per token
  nHeads: number;
  nKvHeads: number;
  headDim: number; // even, ≤ 512
  nSlots: number;
  theta: number;
  style: RopeStyle;
}

export type LinearSpec = LinearProjectSpec | LinearSwigluSpec | LinearQkvSpec;

/** The WGSL the pipeline is built from: the reduction first (it may carry `enable subgroups;`), then the kernel. */
export function linearSource(plan: Pick<LinearPlan, 'reduction' | 'rows' | 'tokens' | 'mats' | 'hasNorm' | 'qkv'>): string {
  const reduce = plan.reduction === 'subgroup' ? reduceSubgroupCode : reduceWorkgroupCode;
  // WGSL has no #include: the module is these files one after another (declarations may come in any order).
  const src = [reduce, mainCode, ...(plan.qkv ? [qkvCode] : [])].join('\n');
  return specialize(src, { ROWS: plan.rows, TOKENS: plan.tokens, MATS: plan.mats, HAS_NORM: plan.hasNorm ? 'true' : 'false' });
}

export function createLinear(ctx: GpuContext, spec: LinearSpec): Dispatch {
  const plan = linearPlan(ctx, spec); // throws LinearSpecError before anything is created
  const { label, nTokens, k } = spec;
  const entryPoint = spec.epilogue === 'swiglu' ? 'main_swiglu' : spec.epilogue === 'qkv-rope-kv' ? 'main_qkv' : 'main';
  const constants: Record<string, number> = { WorkgroupSize: plan.workgroupSize };
  if (plan.reduction === 'subgroup') constants.MaxSubgroups = plan.maxSubgroups;
  if (spec.epilogue === 'qkv-rope-kv') constants.Interleaved = spec.style === 'interleaved' ? 1 : 0;
  else {
    constants.Gather = spec.rows ? 1 : 0;
    constants.Accumulate = spec.epilogue === 'accumulate' ? 1 : 0;
  }
  const key = [
    `linear_${spec.epilogue}_${plan.reduction}`,
    `r${plan.rows}_t${plan.tokens}_wg${plan.workgroupSize}`,
    ...Object.entries(constants).filter(([name]) => name !== 'WorkgroupSize').map(([name, v]) => `${name}${v}`),
    plan.hasNorm ? 'norm' : 'nonorm',
  ].join('_');
  const pipeline = ctx.pipelines.get({ key, code: linearSource(plan), entryPoint, constants });

  const qkv = spec.epilogue === 'qkv-rope-kv' ? spec : undefined;
  const params = ctx.allocateNow({
    label: `${label}.params`,
    owner: 'uniforms',
    size: LinearParams.size,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    data: new Uint8Array(
      LinearParams.pack({
        n: plan.n,
        k,
        nTokens,
        xRows: plan.xRows,
        eps: spec.norm?.eps ?? 0,
        kvDim: qkv ? qkv.nKvHeads * qkv.headDim : 0,
        headDim: qkv?.headDim ?? 0,
        nSlots: qkv?.nSlots ?? 0,
      }),
    ),
  });
  const step =
    spec.step ??
    ctx.allocateNow({
      label: `${label}.step`,
      owner: 'uniforms',
      size: StepParams.size,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      data: new Uint8Array(StepParams.pack({ nTokens, pos0: 0 })),
    });

  // Binding numbers follow linear.wgsl / linear_qkv.wgsl. An entry point keeps every binding it names even
  // where an `override` switches the read off, so an unused optional input is bound to x (never read through it).
  const entries: [number, GPUBuffer][] = [
    [0, params],
    [1, step],
    [2, spec.x],
    [4, spec.norm?.weight ?? spec.x],
  ];
  if (spec.epilogue === 'qkv-rope-kv') {
    const freqs = new Float32Array(256); // the shader's array<vec4f, 64>
    freqs.set(ropeFrequencies(spec.headDim, spec.theta));
    const freqBuffer = ctx.allocateNow({ label: `${label}.freqs`, owner: 'uniforms', size: freqs.byteLength, usage: GPUBufferUsage.UNIFORM, data: freqs });
    entries.push([5, spec.wq], [7, spec.wk], [8, spec.wv], [9, spec.q], [10, spec.kPool], [11, spec.vPool], [12, spec.slots], [13, spec.positions], [14, freqBuffer]);
  } else {
    entries.push([3, spec.rows ?? spec.x], [9, spec.y]);
    if (spec.epilogue === 'swiglu') entries.push([5, spec.w1], [6, spec.w3]);
    else entries.push([5, spec.w]);
  }
  const bindGroup = ctx.device.createBindGroup({
    label,
    layout: pipeline.getBindGroupLayout(0),
    entries: entries.map(([binding, buffer]) => ({ binding, resource: { buffer } })),
  });
  return { label, pipeline, bindGroup, workgroups: grid1d(plan.workgroups) };
}
