// Host module for the int8-weight matmul, y = x · dequant(q, scales)ᵀ (the speculative draft's Linear layers):
// validates the spec, picks lanes per row and the token tile, prepares the Dispatch. Must not import from workers/ or web/.

import code from './matmul_q8.wgsl?raw';
import type { GpuContext } from '../../device.ts';
import { bindBuffers, grid1d, type Dispatch } from '../../dispatch.ts';
import { uniformStruct } from '../../uniforms.ts';

export const MATMUL_Q8_SOURCE = code;
export const MatmulQ8Params = uniformStruct('MatmulQ8Params', [
  ['nTokens', 'u32'],
  ['n', 'u32'],
  ['k', 'u32'],
  ['groupSize', 'u32'],
] as const);

/** Most tokens one workgroup carries (MaxTokenTile in the shader): a whole decode or verify batch. */
export const MATMUL_Q8_MAX_TOKEN_TILE = 16;

/** A matmul_q8 spec that cannot work (bad shape, too-small buffer, option out of range). */
export class MatmulQ8SpecError extends Error {
  override readonly name = 'MatmulQ8SpecError';
  constructor(
    readonly label: string,
    readonly field: string,
    message: string,
  ) {
    super(`matmul_q8 ${label}: ${message}`);
  }
}

export interface MatmulQ8Spec {
  label: string; // e.g. "Draft.layers.3.wq"
  x: GPUBuffer; // [T, K] f32
  q: GPUBuffer; // [N, K/4] u32, four int8 per word, byte j = column 4i + j (little-endian)
  scales: GPUBuffer; // [N, K/groupSize] f32
  y: GPUBuffer; // [T, N] f32
  nTokens: number; // T
  n: number; // N: output features
  k: number; // K: input features, a multiple of groupSize
  groupSize: number; // weights per scale, a multiple of 4
  /** Invocations sharing one output row, a power of two. Default: 32, fewer for rows of under 32 words. */
  rowLanes?: number;
  /** Output rows per workgroup. Default: 128 / rowLanes (at least 1). */
  rowsPerWorkgroup?: number;
  /** Tokens per workgroup, 1..16. Default: the smallest power of two ≥ T, at most 16. */
  tokenTile?: number;
}

/**
 * Default lanes per row: 32 (a wide, coalesced read of 128 bytes), but no more lanes than the row has words.
 * On an H100, 32 lanes × 4 rows ran 4,096 × 4,096 at T = 1 in ~22 µs, the f32 GEMV in ~38 µs; one lane per
 * row (each invocation walking its row alone) took ~200 µs: neighbouring lanes must read neighbouring words.
 */
export function matmulQ8RowLanes(k: number): number {
  return Math.min(32, 2 ** Math.ceil(Math.log2(Math.max(1, k / 4))));
}

/** The default token tile: all of a decode batch in one workgroup (each weight read once), 16 for prefill. */
export function matmulQ8TokenTile(nTokens: number): number {
  return Math.min(MATMUL_Q8_MAX_TOKEN_TILE, 2 ** Math.ceil(Math.log2(Math.max(1, nTokens))));
}

interface Tiling {
  rowLanes: number;
  rowsPerWorkgroup: number;
  tokenTile: number;
}

function validate(ctx: GpuContext, spec: MatmulQ8Spec): Tiling {
  const fail = (field: string, message: string) => new MatmulQ8SpecError(spec.label, field, message);
  for (const field of ['nTokens', 'n', 'k', 'groupSize'] as const) {
    const v = spec[field];
    if (!Number.isInteger(v) || v < 1) throw fail(field, `${field} must be a positive integer, got ${v}`);
  }
  const { nTokens, n, k, groupSize } = spec;
  if (groupSize % 4 !== 0) throw fail('groupSize', `groupSize ${groupSize} is not a multiple of 4 (whole u32 words)`);
  if (k % groupSize !== 0) throw fail('k', `k ${k} is not a multiple of groupSize ${groupSize}`);
  const { limits } = ctx.capabilities;
  const maxInvocations = limits.maxComputeInvocationsPerWorkgroup ?? 256;
  const rowLanes = spec.rowLanes ?? matmulQ8RowLanes(k);
  if (!(rowLanes >= 1) || !Number.isInteger(Math.log2(rowLanes)) || rowLanes > maxInvocations) {
    throw fail('rowLanes', `rowLanes must be a power of two up to ${maxInvocations}, got ${rowLanes}`);
  }
  const rowsPerWorkgroup = spec.rowsPerWorkgroup ?? Math.max(1, 128 / rowLanes);
  if (!Number.isInteger(rowsPerWorkgroup) || rowsPerWorkgroup < 1 || rowLanes * rowsPerWorkgroup > maxInvocations) {
    throw fail('rowsPerWorkgroup', `rowsPerWorkgroup must be a positive integer with rowLanes × rowsPerWorkgroup ≤ ${maxInvocations}, got ${rowsPerWorkgroup}`);
  }
  const tokenTile = spec.tokenTile ?? matmulQ8TokenTile(nTokens);
  if (!Number.isInteger(tokenTile) || tokenTile < 1 || tokenTile > MATMUL_Q8_MAX_TOKEN_TILE) {
    throw fail('tokenTile', `tokenTile must be an integer in 1..${MATMUL_Q8_MAX_TOKEN_TILE}, got ${tokenTile}`);
  }
  const sharedBytes = rowsPerWorkgroup * tokenTile * rowLanes * 4; // `partial`: [rows, tokenTile, rowLanes] f32
  if (sharedBytes > (limits.maxComputeWorkgroupStorageSize ?? 16_384)) {
    throw fail('tokenTile', `partial sums of ${sharedBytes} bytes exceed maxComputeWorkgroupStorageSize; use fewer lanes, rows or tokens`);
  }
  const maxBinding = limits.maxStorageBufferBindingSize ?? Infinity;
  const buffers = [
    ['x', spec.x, nTokens * k * 4, `[${nTokens}, ${k}] f32`],
    ['q', spec.q, n * k, `[${n}, ${k / 4}] u32`],
    ['scales', spec.scales, n * (k / groupSize) * 4, `[${n}, ${k / groupSize}] f32`],
    ['y', spec.y, nTokens * n * 4, `[${nTokens}, ${n}] f32`],
  ] as const;
  for (const [field, buffer, bytes, shape] of buffers) {
    if (buffer.size < bytes) throw fail(field, `${field} holds ${buffer.size} bytes, but ${shape} needs ${bytes}`);
    if (buffer.size > maxBinding) throw fail(field, `${field} is ${buffer.size} bytes, over this device's maxStorageBufferBindingSize (${maxBinding})`);
  }
  return { rowLanes, rowsPerWorkgroup, tokenTile };
}

export function createMatmulQ8(ctx: GpuContext, spec: MatmulQ8Spec): Dispatch {
  const { rowLanes, rowsPerWorkgroup, tokenTile } = validate(ctx, spec);
  const { nTokens, n, k, groupSize } = spec;
  const pipeline = ctx.pipelines.get({
    key: `matmul_q8_l${rowLanes}_r${rowsPerWorkgroup}_t${tokenTile}`,
    code,
    constants: { RowLanes: rowLanes, RowsPerWorkgroup: rowsPerWorkgroup, TokenTile: tokenTile },
  });
  const params = ctx.allocateNow({
    label: `${spec.label}.params`,
    owner: 'uniforms',
    size: MatmulQ8Params.size,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    data: new Uint8Array(MatmulQ8Params.pack({ nTokens, n, k, groupSize })),
  });
  // One workgroup per (block of rowsPerWorkgroup rows, chunk of tokenTile tokens).
  const workgroups = Math.ceil(n / rowsPerWorkgroup) * Math.ceil(nTokens / tokenTile);
  return {
    label: spec.label,
    pipeline,
    bindGroup: bindBuffers(ctx, spec.label, pipeline, [params, spec.x, spec.q, spec.scales, spec.y]),
    workgroups: grid1d(workgroups),
  };
}
