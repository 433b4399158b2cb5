// Spec checks and launch shape for `linear`: every shape, buffer size and device limit is checked here, with
// a typed error naming the field, before createLinear makes anything; then the tuning choices (rows per
// workgroup, workgroup size, reduction) are resolved. Must not import from workers/ or web/.

import type { GpuContext } from '../../device.ts';
import { StepParams } from '../step.ts';
import type { LinearReduction, LinearSpec } from './linear.ts';

/** Tokens one dispatch serves at most (a decode batch): every invocation keeps Rows·T partial sums in registers. */
export const LINEAR_MAX_TOKENS = 16;
/** RoPE's frequency table is a 1 KiB uniform: headDim / 2 ≤ 256. */
export const LINEAR_MAX_HEAD_DIM = 512;
/** Upper bound on rows per workgroup (registers again). */
const MAX_ROWS = 16;

/** A linear spec that cannot work (bad shape, too-small buffer, limits the device does not have). */
export class LinearSpecError extends Error {
  override readonly name = 'LinearSpecError';
  constructor(
    readonly label: string,
    readonly field: string,
    message: string,
  ) {
    super(`linear ${label}: ${message}`);
  }
}

/** What createLinear builds, once the spec is known to be sound. */
export interface LinearPlan {
  reduction: LinearReduction;
  rows: number; // output rows per workgroup
  tokens: number; // T
  mats: number; // weight matrices per row: 2 for SwiGLU
  hasNorm: boolean;
  qkv: boolean;
  workgroupSize: number;
  maxSubgroups: number; // subgroup reduction: workgroupSize / the smallest subgroup size
  n: number; // output rows (qkv: qDim)
  xRows: number;
  workgroups: number;
}

const isPow2 = (v: number) => Number.isInteger(v) && v >= 1 && (v & (v - 1)) === 0;

/** Bytes of workgroup memory the chosen reduction needs. */
function workgroupBytes(reduction: LinearReduction, workgroupSize: number, maxSubgroups: number, values: number): number {
  return reduction === 'subgroup' ? 4 * (maxSubgroups * values + values + 1) : 4 * workgroupSize * values;
}

export function linearPlan(ctx: GpuContext, spec: LinearSpec): LinearPlan {
  const fail = (field: string, message: string) => new LinearSpecError(spec.label, field, message);
  const { limits } = ctx.capabilities;
  const positive = (field: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) throw fail(field, `${field} must be a positive integer, got ${v}`);
  };
  const { nTokens: T, k } = spec;
  positive('nTokens', T);
  if (T > LINEAR_MAX_TOKENS) throw fail('nTokens', `nTokens must be 1..${LINEAR_MAX_TOKENS}, got ${T} (use createMatmul for longer passes)`);
  positive('k', k);
  if (k % 4 !== 0) throw fail('k', `k must be a multiple of 4 (the kernel loads vec4s), got ${k}; use createMatmul for other shapes`);

  const qkv = spec.epilogue === 'qkv-rope-kv';
  let n: number;
  let kvDim = 0;
  if (spec.epilogue === 'qkv-rope-kv') {
    for (const f of ['nHeads', 'nKvHeads', 'headDim', 'nSlots'] as const) positive(f, spec[f]);
    if (spec.headDim % 2 !== 0 || spec.headDim > LINEAR_MAX_HEAD_DIM) throw fail('headDim', `headDim must be even and ≤ ${LINEAR_MAX_HEAD_DIM}, got ${spec.headDim}`);
    if (!(spec.theta > 0 && Number.isFinite(spec.theta))) throw fail('theta', `theta must be finite and > 0, got ${spec.theta}`);
    if (spec.style !== 'interleaved' && spec.style !== 'half') throw fail('style', `unknown rope style ${String(spec.style)}`);
    n = spec.nHeads * spec.headDim;
    kvDim = spec.nKvHeads * spec.headDim;
  } else if (spec.epilogue === 'store' || spec.epilogue === 'accumulate' || spec.epilogue === 'swiglu') {
    positive('n', spec.n);
    n = spec.n;
  } else {
    throw fail('epilogue', `unknown epilogue ${String((spec as { epilogue: unknown }).epilogue)}`);
  }
  if (spec.norm && !(spec.norm.eps >= 0 && Number.isFinite(spec.norm.eps))) throw fail('norm.eps', `norm.eps must be finite and ≥ 0, got ${spec.norm.eps}`);

  // Buffers: big enough for their shape, within the binding limit, and index math within u32.
  const gather = !qkv && spec.rows !== undefined;
  const xRows = (!qkv ? spec.xRows : undefined) ?? (gather ? Math.floor(spec.x.size / (4 * k)) : T);
  positive('xRows', xRows);
  const maxBinding = limits.maxStorageBufferBindingSize ?? Infinity;
  const need: [string, GPUBuffer, number, string][] = [['x', spec.x, xRows * k, `[${xRows}, ${k}] f32`]];
  if (spec.norm) need.push(['norm.weight', spec.norm.weight, k, `[${k}] f32`]);
  if (spec.epilogue === 'qkv-rope-kv') {
    need.push(
      ['wq', spec.wq, n * k, `[${n}, ${k}] f32`],
      ['wk', spec.wk, kvDim * k, `[${kvDim}, ${k}] f32`],
      ['wv', spec.wv, kvDim * k, `[${kvDim}, ${k}] f32`],
      ['q', spec.q, T * n, `[${T}, ${n}] f32`],
      ['kPool', spec.kPool, spec.nSlots * kvDim, `[${spec.nSlots}, ${kvDim}] f32`],
      ['vPool', spec.vPool, spec.nSlots * kvDim, `[${spec.nSlots}, ${kvDim}] f32`],
      ['slots', spec.slots, T, `[${T}] u32`],
      ['positions', spec.positions, T, `[${T}] u32`],
    );
  } else {
    if (spec.epilogue === 'swiglu') need.push(['w1', spec.w1, n * k, `[${n}, ${k}] f32`], ['w3', spec.w3, n * k, `[${n}, ${k}] f32`]);
    else need.push(['w', spec.w, n * k, `[${n}, ${k}] f32`]);
    need.push(['y', spec.y, T * n, `[${T}, ${n}] f32`]);
    if (spec.rows) need.push(['rows', spec.rows, T, `[${T}] u32`]);
  }
  for (const [field, buffer, elements, shape] of need) {
    if (elements >= 2 ** 32) throw fail(field, `${field} ${shape} has 2^32 elements or more`);
    if (buffer.size < elements * 4) throw fail(field, `${field} holds ${buffer.size} bytes, but ${shape} needs ${elements * 4}`);
    if (buffer.size > maxBinding) throw fail(field, `${field} is ${buffer.size} bytes, over this device's maxStorageBufferBindingSize (${maxBinding})`);
  }
  if (spec.step && (spec.step.size < StepParams.size || !(spec.step.usage & GPUBufferUsage.UNIFORM))) {
    throw fail('step', `step must be a uniform buffer of at least ${StepParams.size} bytes (StepParams), got ${spec.step.size}`);
  }
  if (!qkv && (spec.y === spec.x || (spec.rows && spec.y === spec.rows) || spec.y === spec.norm?.weight)) {
    throw fail('y', 'y must not alias x, rows or norm.weight (it is written while they are read)');
  }
  // Storage buffers the entry point binds: x, norm (or its stand-in) and the rest (see linear.ts).
  const storageBuffers = qkv ? 10 : spec.epilogue === 'swiglu' ? 6 : 5;
  if (storageBuffers > (limits.maxStorageBuffersPerShaderStage ?? 8)) {
    throw fail('epilogue', `${spec.epilogue} binds ${storageBuffers} storage buffers, over this device's maxStorageBuffersPerShaderStage (${limits.maxStorageBuffersPerShaderStage})`);
  }

  // Tuning: reduction, rows per workgroup, workgroup size.
  // Subgroups where the device has them, except from 8 tokens on: each invocation then has 8·Rows+ sums,
  // and on an H100 one shared-memory tree over all of them beat a subgroupAdd per sum by 10–45%.
  const reduction = spec.reduction ?? (ctx.capabilities.subgroups && T < 8 ? 'subgroup' : 'workgroup');
  if (reduction !== 'subgroup' && reduction !== 'workgroup') throw fail('reduction', `reduction must be 'subgroup' or 'workgroup', got ${String(reduction)}`);
  if (reduction === 'subgroup' && !ctx.capabilities.subgroups) throw fail('reduction', "reduction 'subgroup' needs the device feature 'subgroups', which this device lacks");
  // Defaults from a sweep on an H100 (Dawn/Vulkan, 32-lane subgroups, shapes 576..16384):
  // 2 rows per workgroup for 1–2 tokens, 1 row from 4 tokens on (each invocation keeps Rows·T sums; more
  // rows then cost more in registers and reduction than the shared x loads save). RoPE pairs need 2.
  const rows = spec.rowsPerWorkgroup ?? (T <= 2 || qkv ? 2 : 1);
  if (!Number.isInteger(rows) || rows < 1 || rows > MAX_ROWS || (qkv && rows % 2 !== 0)) {
    throw fail('rowsPerWorkgroup', `rowsPerWorkgroup must be ${qkv ? 'even and ' : ''}in 1..${MAX_ROWS}, got ${rows}`);
  }
  const mats = spec.epilogue === 'swiglu' ? 2 : 1;
  const hasNorm = spec.norm !== undefined;
  const values = mats * rows * T + (hasNorm ? T : 0);
  const maxInvocations = Math.min(limits.maxComputeInvocationsPerWorkgroup ?? 256, limits.maxComputeWorkgroupSizeX ?? 256);
  const maxShared = limits.maxComputeWorkgroupStorageSize ?? 16_384;
  // Device's smallest subgroup (GPUAdapterInfo.subgroupMinSize where the browser exposes it; 4 is WebGPU's floor).
  const minSubgroup = Math.max(1, (ctx.device as { adapterInfo?: { subgroupMinSize?: number } }).adapterInfo?.subgroupMinSize ?? 4);
  const subgroupsOf = (wg: number) => Math.ceil(wg / minSubgroup);
  let workgroupSize = spec.workgroupSize;
  if (workgroupSize === undefined) {
    // About 4·T vec4 columns per invocation, between 32 and 256 invocations: enough loads in flight per
    // invocation to hide memory latency, and a reduction (whose cost grows with T) over few invocations.
    // Then halved until the reduction's workgroup memory fits.
    workgroupSize = Math.min(256, maxInvocations, Math.max(32, 2 ** Math.ceil(Math.log2(k / 4 / (4 * T)))));
    while (workgroupSize > 1 && workgroupBytes(reduction, workgroupSize, subgroupsOf(workgroupSize), values) > maxShared) workgroupSize /= 2;
  }
  if (!isPow2(workgroupSize) || workgroupSize > maxInvocations) {
    throw fail('workgroupSize', `workgroupSize must be a power of two ≤ ${maxInvocations}, got ${workgroupSize}`);
  }
  const shared = workgroupBytes(reduction, workgroupSize, subgroupsOf(workgroupSize), values);
  if (shared > maxShared) {
    throw fail('workgroupSize', `the ${reduction} reduction needs ${shared} bytes of workgroup memory (workgroupSize ${workgroupSize}, ${values} sums each), over this device's ${maxShared}`);
  }

  let workgroups: number;
  if (qkv) {
    const pairsPerGroup = rows / 2;
    workgroups = Math.ceil(n / 2 / pairsPerGroup) + 2 * Math.ceil(kvDim / 2 / pairsPerGroup);
  } else {
    workgroups = Math.ceil(n / rows);
  }
  return { reduction, rows, tokens: T, mats, hasNorm, qkv, workgroupSize, maxSubgroups: subgroupsOf(workgroupSize), n, xRows, workgroups };
}
