// A Llama-architecture model on the GPU: weights uploaded once, a contiguous KV cache, and forward passes
// built from prepared dispatch plans (one per token count T, reused). One forward = one submit; only the
// last token's logits come back. Imports gpu/ and model types; nothing from web/.

import type { GpuContext } from '../../gpu/device.ts';
import { encodeDispatch } from '../../gpu/dispatch.ts';
import { StepParams } from '../../gpu/kernels/step.ts';
import type { ModelConfig, ModelWeights } from './config.ts';
import { allocateActivations, allocateKvCache, kvBytesPerToken, type Activations, type KvCache } from './activations.ts';
import { uploadWeights, type GpuWeights, type UploadProgress } from './gpu-weights.ts';
import { buildForwardPlan, type ForwardPlan } from './plan.ts';

export interface LlamaOptions {
  /** Context the KV cache holds; defaults to the model's maxSeqLen. */
  maxSeqLen?: number;
  /** Most tokens in one forward pass; longer prompts are prefilled in chunks. */
  maxTokens?: number;
  onUploadProgress?: (p: UploadProgress) => void;
}

/** How many prefill plans (besides the decode plan, T = 1) stay cached. */
const PLAN_CACHE_SIZE = 8;

export class LlamaModel {
  /** Dispatches and submits since creation: the engine turns them into per-token stats. */
  dispatches = 0;
  submits = 0;
  readonly #plans = new Map<number, ForwardPlan>();
  readonly #readback: GPUBuffer; // [vocabSize] f32, MAP_READ

  private constructor(
    readonly ctx: GpuContext,
    readonly config: ModelConfig,
    readonly weights: GpuWeights,
    readonly activations: Activations,
    readonly kv: KvCache,
  ) {
    this.#readback = ctx.allocateNow({ label: 'Llama.logits.readback', owner: 'activations', size: 4 * config.vocabSize, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  static async create(ctx: GpuContext, weights: ModelWeights, options: LlamaOptions = {}): Promise<LlamaModel> {
    const c = weights.config;
    const maxSeqLen = Math.min(options.maxSeqLen ?? c.maxSeqLen, c.maxSeqLen);
    const maxTokens = Math.min(options.maxTokens ?? 1024, maxSeqLen);
    const gpuWeights = await uploadWeights(ctx, weights, options.onUploadProgress);
    return new LlamaModel(ctx, c, gpuWeights, allocateActivations(ctx, c, maxTokens), allocateKvCache(ctx, c, maxSeqLen));
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
  async forward(tokens: readonly number[], pos0: number): Promise<Float32Array> {
    if (tokens.length === 0) throw new Error('forward: no tokens');
    if (pos0 + tokens.length > this.kv.maxSeqLen) {
      throw new Error(`forward: positions ${pos0}..${pos0 + tokens.length - 1} exceed the context of ${this.kv.maxSeqLen}`);
    }
    const max = this.activations.maxTokens;
    for (let start = 0; start < tokens.length; start += max) {
      this.#encodeChunk(tokens.slice(start, start + max), pos0 + start);
    }
    return this.#readLogits();
  }

  #encodeChunk(tokens: readonly number[], pos0: number): void {
    const { device } = this.ctx;
    const a = this.activations;
    const T = tokens.length;
    const plan = this.#plan(T);
    device.queue.writeBuffer(a.tokens, 0, new Uint32Array(tokens));
    device.queue.writeBuffer(a.lastIndex, 0, new Uint32Array([T - 1]));
    device.queue.writeBuffer(a.step, 0, StepParams.pack({ nTokens: T, pos0 }));
    const encoder = device.createCommandEncoder({ label: `Llama.forward.T${T}` });
    const pass = encoder.beginComputePass({ label: `Llama.forward.T${T}` });
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

  /** Dispatches in one forward pass of T tokens (builds the plan if needed). */
  dispatchesPerPass(T: number): number {
    return this.#plan(T).dispatches.length;
  }

  /** Releases every buffer this model made: weights, activations, KV cache and its plans' uniforms. */
  dispose(): void {
    const mine = new Set<GPUBuffer>([...this.weights.values(), ...this.kv.k, ...this.kv.v, this.#readback]);
    for (const v of Object.values(this.activations)) if (typeof v !== 'number') mine.add(v);
    for (const plan of this.#plans.values()) for (const b of plan.owned) mine.add(b);
    for (const b of mine) this.ctx.buffers.release(b);
    this.#plans.clear();
  }
}
