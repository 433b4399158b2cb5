// Host module for the token embedding lookup: out[t, :] = table[tokens[t], :] (zeros for ids >= vocabSize).
// Must not import from workers/ or web/.

import code from './embedding.wgsl?raw';
import type { GpuContext } from '../../device.ts';
import { bindBuffers, grid1d, type Dispatch } from '../../dispatch.ts';
import { uniformStruct } from '../../uniforms.ts';

export const EMBEDDING_SOURCE = code;
export const EmbeddingParams = uniformStruct('EmbeddingParams', [
  ['nTokens', 'u32'],
  ['dim', 'u32'],
  ['vocabSize', 'u32'],
] as const);

export interface EmbeddingSpec {
  label: string;
  tokens: GPUBuffer; // [T] u32
  table: GPUBuffer; // [vocabSize, dim] f32
  out: GPUBuffer; // [T, dim] f32
  nTokens: number; // T
  dim: number;
  vocabSize: number;
  workgroupSize?: number; // power of two, default 256
}

export function createEmbedding(ctx: GpuContext, spec: EmbeddingSpec): Dispatch {
  const { label, nTokens, dim, vocabSize } = spec;
  const workgroupSize = spec.workgroupSize ?? 256;
  for (const [name, v] of [['nTokens', nTokens], ['dim', dim], ['vocabSize', vocabSize]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${label}: embedding needs ${name} >= 1, got ${v}`);
  }
  if (!Number.isInteger(Math.log2(workgroupSize))) throw new RangeError(`${label}: workgroupSize ${workgroupSize} is not a power of two`);
  const n = nTokens * dim;
  if (n >= 2 ** 32 || vocabSize * dim >= 2 ** 32) throw new RangeError(`${label}: [T, dim] or [vocabSize, dim] has more than 2^32 elements`);
  if (spec.tokens.size < nTokens * 4) throw new RangeError(`${label}: tokens holds ${spec.tokens.size} bytes, needs ${nTokens * 4} ([${nTokens}] u32)`);
  if (spec.table.size < vocabSize * dim * 4) throw new RangeError(`${label}: table holds ${spec.table.size} bytes, needs ${vocabSize * dim * 4} ([${vocabSize}, ${dim}] f32)`);
  if (spec.out.size < n * 4) throw new RangeError(`${label}: out holds ${spec.out.size} bytes, needs ${n * 4} ([${nTokens}, ${dim}] f32)`);

  const pipeline = ctx.pipelines.get({ key: `embedding_f32_wg${workgroupSize}`, code, constants: { WorkgroupSize: workgroupSize } });
  const params = ctx.allocateNow({
    label: `${label}.params`,
    owner: 'uniforms',
    size: EmbeddingParams.size,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    data: new Uint8Array(EmbeddingParams.pack({ nTokens, dim, vocabSize })),
  });
  return {
    label,
    pipeline,
    bindGroup: bindBuffers(ctx, label, pipeline, [params, spec.tokens, spec.table, spec.out]),
    workgroups: grid1d(Math.ceil(n / workgroupSize)),
  };
}
