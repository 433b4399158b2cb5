// Host module for the RoPE kernel: rotates q or k in place by position-dependent angles, pos0 read from the
// StepParams uniform so one prepared dispatch serves every forward pass. Must not import from workers/ or web/.

import code from './rope.wgsl?raw';
import type { GpuContext } from '../../device.ts';
import { bindBuffers, grid1d, type Dispatch } from '../../dispatch.ts';
import { uniformStruct } from '../../uniforms.ts';
import { StepParams } from '../step.ts';

export const ROPE_SOURCE = code;
export const RopeParams = uniformStruct('RopeParams', [
  ['nTokens', 'u32'],
  ['nHeads', 'u32'],
  ['headDim', 'u32'],
] as const);

/** Which elements rotate together: (2i, 2i+1) as llama2.c, or (i, i + headDim/2) as Hugging Face. */
export type RopeStyle = 'interleaved' | 'half';

export interface RopeSpec {
  label: string;
  step: GPUBuffer; // StepParams uniform {nTokens, pos0}, written by the caller per forward pass (pos0 unused)
  positions: GPUBuffer; // [T] u32: each token's absolute position, written by the caller per forward pass
  x: GPUBuffer; // [T, nHeads, headDim] f32, rotated in place
  nTokens: number; // T the grid is sized for; a pass with step.nTokens < T rotates only step.nTokens tokens
  nHeads: number; // nHeads for q, nKvHeads for k
  headDim: number; // even
  theta: number; // base of the frequencies, e.g. 10000
  style: RopeStyle;
  workgroupSize?: number; // power of two, default 256
}

/** freqs[i] = theta^(-2i / headDim) for i < headDim / 2, rounded once to f32. The reference uses the same expression. */
export function ropeFrequencies(headDim: number, theta: number): Float32Array {
  return Float32Array.from({ length: headDim / 2 }, (_, i) => theta ** (-(2 * i) / headDim));
}

export function createRope(ctx: GpuContext, spec: RopeSpec): Dispatch {
  const { label, nTokens, nHeads, headDim, theta, style } = spec;
  const workgroupSize = spec.workgroupSize ?? 256;
  for (const [name, v] of [['nTokens', nTokens], ['nHeads', nHeads], ['headDim', headDim]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${label}: rope needs ${name} >= 1, got ${v}`);
  }
  if (headDim % 2 !== 0) throw new RangeError(`${label}: rope needs an even headDim, got ${headDim}`);
  if (!(theta > 0 && Number.isFinite(theta))) throw new RangeError(`${label}: rope needs a finite theta > 0, got ${theta}`);
  if (style !== 'interleaved' && style !== 'half') throw new RangeError(`${label}: unknown rope style ${String(style)}`);
  if (!Number.isInteger(Math.log2(workgroupSize))) throw new RangeError(`${label}: workgroupSize ${workgroupSize} is not a power of two`);
  const n = nTokens * nHeads * headDim;
  if (n >= 2 ** 32) throw new RangeError(`${label}: [T, nHeads, headDim] has more than 2^32 elements`);
  if (spec.step.size < StepParams.size) throw new RangeError(`${label}: step holds ${spec.step.size} bytes, StepParams needs ${StepParams.size}`);
  if (spec.x.size < n * 4) throw new RangeError(`${label}: x holds ${spec.x.size} bytes, needs ${n * 4} ([${nTokens}, ${nHeads}, ${headDim}] f32)`);

  const pipeline = ctx.pipelines.get({
    key: `rope_${style}_f32_wg${workgroupSize}`,
    code,
    constants: { WorkgroupSize: workgroupSize, Interleaved: style === 'interleaved' ? 1 : 0 },
  });
  const params = ctx.allocateNow({
    label: `${label}.params`,
    owner: 'uniforms',
    size: RopeParams.size,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    data: new Uint8Array(RopeParams.pack({ nTokens, nHeads, headDim })),
  });
  // A constant table, not per-token state: it depends only on (headDim, theta).
  const freqs = ctx.allocateNow({
    label: `${label}.freqs`,
    owner: 'uniforms',
    size: (headDim / 2) * 4,
    usage: GPUBufferUsage.STORAGE,
    data: ropeFrequencies(headDim, theta),
  });
  return {
    label,
    pipeline,
    bindGroup: bindBuffers(ctx, label, pipeline, [params, spec.step, spec.x, freqs, spec.positions]),
    workgroups: grid1d(Math.ceil(n / 2 / workgroupSize)), // one invocation per pair
  };
}
