// A Llama-architecture model on the GPU: weights uploaded once, a contiguous KV cache, and forward passes
// built from prepared dispatch plans (one per token count T, reused). One forward = one submit; only the
// last token's logits come back. Imports gpu/ and model types; nothing from web/.

import type { GpuContext } from '../../gpu/device.ts';
import { encodeDispatch } from '../../gpu/dispatch.ts';
import { StepParams } from '../../gpu/kernels/step.ts';
import type { ModelConfig, ModelWeights } from './config.ts';
import { allocateActivations, allocateContiguousKv, allocatePagedKv, kvBytesPerToken, type Activations, type KvStorage, type PagedKvOptions } from './activations.ts';
import { uploadWeights, type GpuWeights, type UploadProgress } from './gpu-weights.ts';
import { buildForwardPlan, type ForwardPlan } from './plan.ts';

export interface LlamaOptions {
  /** Context the KV cache holds; defaults to the model's maxSeqLen. */
  maxSeqLen?: number;
  /** Most tokens in one forward pass; longer prompts are prefilled in chunks. */
  maxTokens?: number;
  /** KV storage: contiguous rows per position (default), or a paged pool of blocks. */
  kv?: { mode: 'contiguous' } | ({ mode: 'paged' } & PagedKvOptions);
  onUploadProgress?: (p: UploadProgress) => void;
}

/** How many prefill plans (besides the decode plan, T = 1) stay cached: bucketing keeps the count small. */
const PLAN_CACHE_SIZE = 16;

/**
 * The plan a pass of T tokens runs on: T rounded up to a power of two (capped at maxTokens), as vLLM buckets
 * batch sizes for its CUDA graphs. Kernels skip rows past the step uniform's nTokens where it matters (RoPE,
 * KV writes, attention) and the rest compute a few unused rows, so a dozen plans serve every T instead of
 * a new plan — ~10 bind groups and uniforms per layer — for each prompt length or no-cache position.
 */
export function planBucket(T: number, maxTokens: number): number {
  return T <= 1 ? 1 : Math.min(maxTokens, 2 ** Math.ceil(Math.log2(T)));
}

/** Where a paged forward pass writes and reads K/V (the block manager decides; see workers/kv). */
export interface Paging {
  /** Physical slot of each token in the pass, in order. */
  slots: readonly number[];
  /** The sequence's block table (physical block ids, in position order). */
  blockTable: readonly number[];
}

export class LlamaModel {
  /** Dispatches and submits since creation: the engine turns them into per-token stats. */
  dispatches = 0;
  submits = 0;
  readonly #plans = new Map<number, ForwardPlan>();
  readonly #readback: GPUBuffer; // [vocabSize] f32, MAP_READ
  #cowScratch: GPUBuffer | undefined; // [blockSize, nKvHeads·headDim] f32, made on the first copy-on-write

  private constructor(
    readonly ctx: GpuContext,
    readonly config: ModelConfig,
    readonly weights: GpuWeights,
    readonly activations: Activations,
    readonly kv: KvStorage,
  ) {
    this.#readback = ctx.allocateNow({ label: 'Llama.logits.readback', owner: 'activations', size: 4 * config.vocabSize, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  static async create(ctx: GpuContext, weights: ModelWeights, options: LlamaOptions = {}): Promise<LlamaModel> {
    const c = weights.config;
    const maxSeqLen = Math.min(options.maxSeqLen ?? c.maxSeqLen, c.maxSeqLen);
    const maxTokens = Math.min(options.maxTokens ?? 1024, maxSeqLen);
    const gpuWeights = await uploadWeights(ctx, weights, options.onUploadProgress);
    const kvOpt = options.kv ?? { mode: 'contiguous' };
    const kv = kvOpt.mode === 'paged' ? allocatePagedKv(ctx, c, maxSeqLen, kvOpt) : allocateContiguousKv(ctx, c, maxSeqLen);
    return new LlamaModel(ctx, c, gpuWeights, allocateActivations(ctx, c, maxTokens), kv);
  }

  get maxSeqLen(): number {
    return this.kv.maxSeqLen;
  }

  get kvBytesPerToken(): number {
    return kvBytesPerToken(this.config);
  }

  #plan(T: number): ForwardPlan {
    let plan = this.#plans.get(T);
    if (plan) {
      this.#plans.delete(T); // re-insert: the Map's order is the LRU order
      this.#plans.set(T, plan);
      return plan;
    }
    plan = buildForwardPlan(this.ctx, this.config, this.weights, this.activations, this.kv, T);
    this.#plans.set(T, plan);
    const prefill = [...this.#plans.keys()].filter((t) => t !== 1);
    if (prefill.length > PLAN_CACHE_SIZE) {
      const evict = this.#plans.get(prefill[0]!)!;
      this.#plans.delete(prefill[0]!);
      for (const b of evict.owned) this.ctx.buffers.release(b);
    }
    return plan;
  }

  /**
   * Runs `tokens` (absolute positions pos0 … pos0 + n − 1) through the model, appending their K/V to the
   * cache, and returns the logits of the last one ([vocabSize] f32). Prompts longer than maxTokens are run
   * in chunks, one submit each.
   */
  async forward(tokens: readonly number[], pos0: number, paging?: Paging): Promise<Float32Array> {
    if (tokens.length === 0) throw new Error('forward: no tokens');
    if (this.kv.mode === 'paged') {
      if (!paging || paging.slots.length !== tokens.length) throw new Error('forward: a paged model needs one KV slot per token');
      if (paging.blockTable.length > this.kv.maxBlocksPerSeq) throw new Error(`forward: block table of ${paging.blockTable.length} blocks exceeds ${this.kv.maxBlocksPerSeq}`);
      // Row 0 of the block tables: this single-sequence pass's table, padded with "no block" (nBlocks).
      const table = new Uint32Array(this.kv.maxBlocksPerSeq).fill(this.kv.nBlocks);
      table.set(paging.blockTable);
      this.ctx.device.queue.writeBuffer(this.kv.blockTables, 0, table);
    }
    if (pos0 + tokens.length > this.kv.maxSeqLen) {
      throw new Error(`forward: positions ${pos0}..${pos0 + tokens.length - 1} exceed the context of ${this.kv.maxSeqLen}`);
    }
    const max = this.activations.maxTokens;
    for (let start = 0; start < tokens.length; start += max) {
      this.#encodeChunk(tokens.slice(start, start + max), pos0 + start, paging?.slots.slice(start, start + max));
    }
    return this.#readLogits();
  }

  #encodeChunk(tokens: readonly number[], pos0: number, slots: readonly number[] | undefined): void {
    const { device } = this.ctx;
    const a = this.activations;
    const T = tokens.length;
    const plan = this.#plan(planBucket(T, a.maxTokens));
    if (slots) {
      device.queue.writeBuffer(a.slots, 0, new Uint32Array(slots));
      device.queue.writeBuffer(a.tokenSeq, 0, new Uint32Array(T)); // every token is sequence (row) 0
      device.queue.writeBuffer(a.tokenPos, 0, Uint32Array.from({ length: T }, (_, t) => pos0 + t));
    }
    device.queue.writeBuffer(a.tokens, 0, new Uint32Array(tokens));
    device.queue.writeBuffer(a.lastIndex, 0, new Uint32Array([T - 1]));
    device.queue.writeBuffer(a.step, 0, StepParams.pack({ nTokens: T, pos0 }));
    const encoder = device.createCommandEncoder({ label: `Llama.forward.T${T}` });
    const pass = encoder.beginComputePass({ label: `Llama.forward.T${T}.plan${plan.nTokens}` });
    for (const d of plan.dispatches) encodeDispatch(pass, d);
    pass.end();
    encoder.copyBufferToBuffer(a.logits, 0, this.#readback, 0, 4 * this.config.vocabSize);
    device.queue.submit([encoder.finish()]);
    this.dispatches += plan.dispatches.length;
    this.submits += 1;
  }

  async #readLogits(): Promise<Float32Array> {
    await this.#readback.mapAsync(GPUMapMode.READ);
    const logits = new Float32Array(this.#readback.getMappedRange().slice(0));
    this.#readback.unmap();
    return logits;
  }

  /**
   * Copy-on-write of one KV block: copies block `from` to block `to` in every layer's K and V pool (the block
   * manager decided a shared, partly filled block must be split before a sequence appends to it).
   */
  copyBlock(from: number, to: number): void {
    if (this.kv.mode !== 'paged') throw new Error('copyBlock: the model has no paged KV pool');
    const bytes = this.kv.blockSize * this.config.nKvHeads * this.config.headDim * 4;
    // WebGPU forbids a copy within one buffer, so each block goes through a scratch buffer of one block.
    this.#cowScratch ??= this.ctx.allocateNow({ label: 'Llama.kvPool.cowScratch', owner: 'kv', size: bytes, usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    const scratch = this.#cowScratch;
    const encoder = this.ctx.device.createCommandEncoder({ label: `Llama.kv_cow.${from}->${to}` });
    for (const pool of [...this.kv.k, ...this.kv.v]) {
      encoder.copyBufferToBuffer(pool, from * bytes, scratch, 0, bytes);
      encoder.copyBufferToBuffer(scratch, 0, pool, to * bytes, bytes);
    }
    this.ctx.device.queue.submit([encoder.finish()]);
    this.submits += 1;
  }

  /** Dispatches in one forward pass of T tokens (builds the plan if needed). */
  dispatchesPerPass(T: number): number {
    return this.#plan(planBucket(T, this.activations.maxTokens)).dispatches.length;
  }

  /** Releases every buffer this model made: weights, activations, KV cache and its plans' uniforms. */
  dispose(): void {
    const mine = new Set<GPUBuffer>([...this.weights.values(), ...this.kv.k, ...this.kv.v, this.#readback]);
    if (this.kv.mode === 'paged') mine.add(this.kv.blockTables);
    if (this.#cowScratch) mine.add(this.#cowScratch);
    for (const v of Object.values(this.activations)) if (typeof v !== 'number') mine.add(v);
    for (const plan of this.#plans.values()) for (const b of plan.owned) mine.add(b);
    for (const b of mine) this.ctx.buffers.release(b);
    this.#plans.clear();
  }
}
