// Host module for matmul, y = x · wᵀ (every Linear layer and the logits): picks the GEMV kernel for one token
// and the tiled kernel for several, validates shapes, and prepares the Dispatch. Must not import from
// workers/ or web/.

import code from './matmul.wgsl?raw';
import type { GpuContext } from '../../device.ts';
import { bindBuffers, grid1d, type Dispatch } from '../../dispatch.ts';
import { uniformStruct } from '../../uniforms.ts';
import { createGemv } from '../gemv/gemv.ts';
import { createGemvRows } from '../gemv_rows/gemv_rows.ts';

export const MATMUL_SOURCE = code;
export const MatmulParams = uniformStruct('MatmulParams', [
  ['nTokens', 'u32'],
  ['n', 'u32'],
  ['k', 'u32'],
] as const);

/** Output tile edges the tiled kernel supports: a TileSize × TileSize workgroup (64 or 256 invocations). */
export const MATMUL_TILE_SIZES = [8, 16] as const;

/** A matmul spec that cannot work (bad shape, too-small buffer, tile over the device's limits). */
export class MatmulSpecError extends Error {
  override readonly name = 'MatmulSpecError';
  constructor(
    readonly label: string,
    readonly field: string,
    message: string,
  ) {
    super(`matmul ${label}: ${message}`);
  }
}

export interface MatmulSpec {
  label: string; // e.g. "Llama.layers.3.wq"
  x: GPUBuffer; // [T, K] f32
  w: GPUBuffer; // [N, K] f32, PyTorch Linear layout
  y: GPUBuffer; // [T, N] f32
  nTokens: number; // T
  n: number; // N: output features
  k: number; // K: input features
  /** Tiled kernel (T > 1) only: output tile edge, 8 or 16. Default: 8 for T ≤ 8 (verify passes), else 16. */
  tileSize?: number;
  /** Tiled kernel only: K columns per step through workgroup memory. Default 16. */
  tileK?: number;
}

/**
 * Rows up to this long are summed by one invocation each (gemv_rows, no barriers); longer rows by a whole
 * workgroup with a reduction (gemv), which spreads one row's memory traffic over many invocations.
 */
export const GEMV_ROWS_MAX_K = 1024;
/** Up to this many tokens (a decode batch), gemv_rows reuses each weight row for every token. */
export const GEMV_ROWS_MAX_TOKENS = 16;

/** Which kernel a pass of `nTokens` tokens gets: one token is a matrix-vector product. */
export function matmulKernel(nTokens: number, k = Infinity): 'gemv-rows' | 'gemv' | 'tiled' {
  if (k <= GEMV_ROWS_MAX_K && nTokens <= GEMV_ROWS_MAX_TOKENS) return 'gemv-rows';
  return nTokens === 1 ? 'gemv' : 'tiled';
}

function validate(ctx: GpuContext, spec: MatmulSpec): void {
  const fail = (field: string, message: string) => new MatmulSpecError(spec.label, field, message);
  for (const field of ['nTokens', 'n', 'k'] as const) {
    const v = spec[field];
    if (!Number.isInteger(v) || v < 1) throw fail(field, `${field} must be a positive integer, got ${v}`);
  }
  const maxBinding = ctx.capabilities.limits.maxStorageBufferBindingSize ?? Infinity;
  const buffers = [
    ['x', spec.x, spec.nTokens * spec.k, `[${spec.nTokens}, ${spec.k}]`],
    ['w', spec.w, spec.n * spec.k, `[${spec.n}, ${spec.k}]`],
    ['y', spec.y, spec.nTokens * spec.n, `[${spec.nTokens}, ${spec.n}]`],
  ] as const;
  for (const [field, buffer, elements, shape] of buffers) {
    if (buffer.size < elements * 4) throw fail(field, `${field} holds ${buffer.size} bytes, but ${shape} f32 needs ${elements * 4}`);
    if (buffer.size > maxBinding) throw fail(field, `${field} is ${buffer.size} bytes, over this device's maxStorageBufferBindingSize (${maxBinding})`);
  }
}

function tiling(ctx: GpuContext, spec: MatmulSpec): { tileSize: number; tileK: number } {
  const tileSize = spec.tileSize ?? (spec.nTokens <= 8 ? 8 : 16);
  const tileK = spec.tileK ?? 16;
  if (!(MATMUL_TILE_SIZES as readonly number[]).includes(tileSize)) {
    throw new MatmulSpecError(spec.label, 'tileSize', `tileSize must be one of ${MATMUL_TILE_SIZES.join(', ')}, got ${tileSize}`);
  }
  if (!Number.isInteger(tileK) || tileK < 1) throw new MatmulSpecError(spec.label, 'tileK', `tileK must be a positive integer, got ${tileK}`);
  const { limits } = ctx.capabilities;
  const invocations = tileSize * tileSize;
  if (invocations > (limits.maxComputeInvocationsPerWorkgroup ?? 256)) {
    throw new MatmulSpecError(spec.label, 'tileSize', `${tileSize}×${tileSize} invocations exceed maxComputeInvocationsPerWorkgroup`);
  }
  const sharedBytes = 2 * tileSize * (tileK + 1) * 4; // x_tile and w_tile, each [tileSize, tileK + 1] f32
  if (sharedBytes > (limits.maxComputeWorkgroupStorageSize ?? 16_384)) {
    throw new MatmulSpecError(spec.label, 'tileK', `tiles of ${sharedBytes} bytes exceed maxComputeWorkgroupStorageSize`);
  }
  return { tileSize, tileK };
}

export function createMatmul(ctx: GpuContext, spec: MatmulSpec): Dispatch {
  validate(ctx, spec);
  const { nTokens, n, k } = spec;

  // Explicit tile options ask for the tiled kernel (tests, tuning); otherwise the shape decides.
  const kernel = nTokens > 1 && (spec.tileSize !== undefined || spec.tileK !== undefined) ? 'tiled' : matmulKernel(nTokens, k);
  if (kernel === 'gemv-rows') {
    return createGemvRows(ctx, { label: spec.label, rows: n, cols: k, w: spec.w, x: spec.x, y: spec.y, nTokens });
  }
  if (kernel === 'gemv') {
    // One token: y[0, :] = w · x[0, :], exactly GEMV with W = w [N, K]. A workgroup sums one row of K
    // columns, so it need not be wider than K (a power of two between 32 and 256).
    const workgroupSize = Math.min(256, Math.max(32, 2 ** Math.ceil(Math.log2(k))));
    return createGemv(ctx, { label: spec.label, rows: n, cols: k, w: spec.w, x: spec.x, y: spec.y, workgroupSize });
  }

  const { tileSize, tileK } = tiling(ctx, spec);
  const pipeline = ctx.pipelines.get({
    key: `matmul_tiled_f32_t${tileSize}_k${tileK}`,
    code,
    constants: { TileSize: tileSize, TileK: tileK },
  });
  const params = ctx.allocateNow({
    label: `${spec.label}.params`,
    owner: 'uniforms',
    size: MatmulParams.size,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    data: new Uint8Array(MatmulParams.pack({ nTokens, n, k })),
  });
  const tiles = Math.ceil(nTokens / tileSize) * Math.ceil(n / tileSize);
  return {
    label: spec.label,
    pipeline,
    bindGroup: bindBuffers(ctx, spec.label, pipeline, [params, spec.x, spec.w, spec.y]),
    workgroups: grid1d(tiles),
  };
}
