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
  /** Most logits rows one pass returns (default: the paged pool's maxSeqs); speculative verification needs γ + 1. */
  maxOutputs?: number;
  /** KV storage: contiguous rows per position (default), or a paged pool of blocks. */
  kv?: { mode: 'contiguous' } | ({ mode: 'paged' } & PagedKvOptions);
  onUploadProgress?: (p: UploadProgress) => void;
  /** 'int8': per-group int8 matmul weights dequantized in the kernel (the int8 speculative draft). */
  quantize?: 'int8';
  /**
   * The fused decode path (5 dispatches per layer; plan.ts) for passes of up to 16 tokens. Default: on a
   * hardware adapter; off on a software one (SwiftShader), where its workgroup reductions cost more than the
   * dispatches they save and the one-invocation-per-row kernels are ~3× faster.
   */
  fused?: boolean;
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

/** One sequence's share of a batched pass: its new tokens, where they go, and where its keys are. */
export interface BatchEntry extends Paging {
  tokens: readonly number[];
  pos0: number; // absolute position of tokens[0]
  /** 'all': logits after every one of the tokens (speculative verification); default: after the last only. */
  logits?: 'last' | 'all';
}

export class LlamaModel {
  /** Dispatches and submits since creation: the engine turns them into per-token stats. */
  dispatches = 0;
  submits = 0;
  readonly #plans = new Map<string, ForwardPlan>(); // by `${T bucket}x${S bucket}`
  readonly #readback: GPUBuffer; // [maxOutputs, vocabSize] f32, MAP_READ
  readonly #readbackIds: GPUBuffer; // [maxOutputs] u32, MAP_READ: greedy passes read back only the argmax
  /** Bytes read back to the CPU since creation (logits rows, or 4 per row when greedy). */
  readbackBytes = 0;
  /**
   * CPU milliseconds per part of a pass (benchmarks report them): writing its inputs, recording command
   * buffers (the plan's dispatches, and copies), queue.submit; `aheadMs` is the part of recordMs spent
   * recording the next decode pass ahead, after this one's submit, while the GPU runs it.
   */
  readonly cpu = { writeMs: 0, recordMs: 0, submitMs: 0, aheadMs: 0 };
  /** Record the next decode pass ahead (see #ahead); benchmarks turn it off to measure what it buys. */
  recordAhead = true;
  /** Passes submitted with a command buffer recorded ahead (the rest were recorded on the critical path). */
  recordedAhead = 0;
  /**
   * Command buffers recorded while the GPU ran an earlier pass, by shape. Recording (53–175 dispatches) needs
   * the plan but none of the input values, and passes repeat their shape — decode steps, speculative
   * verification, greedy draft chains — so the next pass of that shape only writes its inputs and submits.
   * A few shapes at most; an entry goes when its plan is evicted.
   */
  readonly #ahead = new Map<string, { plan: ForwardPlan | null; commands: GPUCommandBuffer }>();
  #lastKey = '';
  /** Pipelined passes' id readback: two buffers, so one pass's ids can be in flight while the next is submitted. */
  readonly #idsRing: [GPUBuffer, GPUBuffer];
  #ringNext: 0 | 1 = 0;
  #cowScratch: GPUBuffer | undefined; // [blockSize, nKvHeads·headDim] f32, made on the first copy-on-write
  #chainStage: GPUBuffer | undefined; // greedyChain's per-pass inputs, copied into place between passes
  #chainIds: GPUBuffer | undefined; // [maxOutputs] u32: greedyChain's token ids
  /** What #write last put in each input buffer (greedyChain's copies invalidate the ones they overwrite). */
  readonly #written = new Map<GPUBuffer, Uint32Array<ArrayBuffer>>();

  private constructor(
    readonly ctx: GpuContext,
    readonly config: ModelConfig,
    readonly weights: GpuWeights,
    readonly activations: Activations,
    readonly kv: KvStorage,
    /** Whether passes of ≤ 16 tokens run the fused plan (see LlamaOptions.fused). */
    readonly fused: boolean,
  ) {
    this.#readback = ctx.allocateNow({ label: 'Llama.logits.readback', owner: 'activations', size: 4 * activations.maxOutputs * config.vocabSize, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.#readbackIds = ctx.allocateNow({ label: 'Llama.argmax.readback', owner: 'activations', size: 4 * activations.maxOutputs, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const ring = () => ctx.allocateNow({ label: 'Llama.argmax.readback.pipelined', owner: 'activations', size: 4 * activations.maxOutputs, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.#idsRing = [ring(), ring()];
  }

  static async create(ctx: GpuContext, weights: ModelWeights, options: LlamaOptions = {}): Promise<LlamaModel> {
    const c = weights.config;
    const maxSeqLen = Math.min(options.maxSeqLen ?? c.maxSeqLen, c.maxSeqLen);
    // A pass of one sequence never needs more than its context; a batch may carry several sequences' tokens.
    const maxTokens = options.maxTokens ?? Math.min(1024, maxSeqLen);
    const gpuWeights = await uploadWeights(ctx, weights, options.onUploadProgress, options.quantize ? { quantize: options.quantize } : {});
    const kvOpt = options.kv ?? { mode: 'contiguous' };
    const kv = kvOpt.mode === 'paged' ? allocatePagedKv(ctx, c, maxSeqLen, kvOpt) : allocateContiguousKv(ctx, c, maxSeqLen);
    const fused = options.fused ?? !ctx.capabilities.adapter.isFallbackAdapter;
    return new LlamaModel(ctx, c, gpuWeights, allocateActivations(ctx, c, maxTokens, kv.mode === 'paged' ? kv.maxSeqs : 1, options.maxOutputs), kv, fused);
  }

  get maxSeqLen(): number {
    return this.kv.maxSeqLen;
  }

  get kvBytesPerToken(): number {
    return kvBytesPerToken(this.config);
  }

  /** The prepared plan for a pass of T tokens and S logits rows (benchmarks time its dispatches). */
  plan(T: number, S = 1): ForwardPlan {
    return this.#plan(planBucket(T, this.activations.maxTokens), Math.min(planBucket(S, this.activations.maxOutputs), planBucket(T, this.activations.maxTokens)));
  }

  #plan(T: number, S: number): ForwardPlan {
    const key = `${T}x${S}`;
    let plan = this.#plans.get(key);
    if (plan) {
      this.#plans.delete(key); // re-insert: the Map's order is the LRU order
      this.#plans.set(key, plan);
      return plan;
    }
    plan = buildForwardPlan(this.ctx, this.config, this.weights, this.activations, this.kv, T, S, this.fused);
    this.#plans.set(key, plan);
    const evictable = [...this.#plans.keys()].filter((k) => k !== '1x1'); // the decode plan stays
    if (evictable.length > PLAN_CACHE_SIZE) {
      const evict = this.#plans.get(evictable[0]!)!;
      this.#plans.delete(evictable[0]!);
      for (const [key, e] of this.#ahead) if (e.plan === evict) this.#ahead.delete(key); // its uniforms go
      for (const b of evict.owned) this.ctx.buffers.release(b);
    }
    return plan;
  }

  /**
   * Runs `tokens` (absolute positions pos0 … pos0 + n − 1) of one sequence through the model, writing their
   * K/V to the cache, and returns the logits of the last one ([vocabSize] f32). Prompts longer than
   * maxTokens are run in chunks, one submit each.
   */
  async forward(tokens: readonly number[], pos0: number, paging?: Paging): Promise<Float32Array> {
    this.#chunks(tokens, pos0, paging, 'logits');
    return (await this.#readLogits(1))[0]!;
  }

  /**
   * One forward pass over several sequences at once (continuous batching): the matmuls run over every
   * sequence's tokens together, so the weights are read once, and attention runs per sequence through its
   * block table. Each entry is one sequence's new tokens (a prefill chunk, or one decode token); returns each
   * sequence's next-token logits, in order — one row per entry, or one per token for entries that ask for
   * 'all' (a verification pass). Paged KV only; the tokens must fit one pass.
   */
  async forwardBatch(batch: readonly BatchEntry[]): Promise<Float32Array[]> {
    this.#checkBatch(batch);
    return this.#readLogits(this.#encode(batch, 'logits'));
  }

  /** forwardBatch for greedy decoding: the argmax of each logits row is taken on the GPU; 4 bytes per row come back. */
  async forwardBatchArgmax(batch: readonly BatchEntry[]): Promise<number[]> {
    this.#checkBatch(batch);
    return this.#readIds(this.#encode(batch, 'argmax'));
  }

  /**
   * forwardBatchArgmax, pipelined (the serving loop's async scheduling): submits the pass and returns at once
   * with a promise of its ids, so the caller can schedule and submit the next pass while the GPU runs this
   * one. `carried[k]` = r: entry k's one token is the previous pass's argmax row r, copied on the GPU before
   * this pass runs (its value in `tokens` is a placeholder) — the CPU need not have read it back. At most two
   * passes' ids may be unread: await one before submitting a third.
   */
  submitBatchArgmax(batch: readonly BatchEntry[], carried: readonly (number | null)[] = []): Promise<number[]> {
    this.#checkBatch(batch);
    const out = this.#idsRing[this.#ringNext];
    if (out.mapState !== 'unmapped') throw new Error('submitBatchArgmax: two passes already wait to be read back');
    const { device } = this.ctx;
    const a = this.activations;
    const { R, plan } = this.#writeInputs(batch);
    const t0 = performance.now();
    const copies = device.createCommandEncoder({ label: 'Llama.forward.carry' });
    let t = 0;
    let nCopies = 0;
    batch.forEach((e, k) => {
      const row = carried[k];
      if (row !== null && row !== undefined) {
        if (e.tokens.length !== 1) throw new Error(`submitBatchArgmax: entry ${k} carries a token but has ${e.tokens.length}`);
        if (!(Number.isInteger(row) && row >= 0 && row < a.maxOutputs)) throw new Error(`submitBatchArgmax: entry ${k} carries row ${row}`);
        copies.copyBufferToBuffer(a.argmax, 4 * row, a.tokens, 4 * t, 4);
        nCopies++;
      }
      t += e.tokens.length;
    });
    if (nCopies > 0) this.#written.delete(a.tokens); // the copies change its words
    const read = device.createCommandEncoder({ label: 'Llama.forward.ids' });
    read.copyBufferToBuffer(a.argmax, 0, out, 0, 4 * R);
    const before = nCopies > 0 ? [copies.finish()] : [];
    const after = [read.finish()];
    this.cpu.recordMs += performance.now() - t0;
    this.#submit(batch, plan, 'none', R, before, after);
    this.readbackBytes += 4 * R;
    this.#ringNext = this.#ringNext === 0 ? 1 : 0;
    return this.#readIds(R, out);
  }

  /** forward() for greedy decoding: the next token's id, picked on the GPU (lowest id on ties, as argmax()). */
  async forwardArgmax(tokens: readonly number[], pos0: number, paging?: Paging): Promise<number> {
    this.#chunks(tokens, pos0, paging, 'argmax');
    return (await this.#readIds(1))[0]!;
  }

  #checkBatch(batch: readonly BatchEntry[]): void {
    if (this.kv.mode !== 'paged') throw new Error('forwardBatch: batching needs the paged KV pool');
    if (batch.length === 0) throw new Error('forwardBatch: empty batch');
    const T = batch.reduce((n, e) => n + e.tokens.length, 0);
    if (T > this.activations.maxTokens) throw new Error(`forwardBatch: ${T} tokens exceed one pass (${this.activations.maxTokens})`);
  }

  /** One sequence's tokens in passes of at most maxTokens (a long prompt is prefilled in chunks). */
  #chunks(tokens: readonly number[], pos0: number, paging: Paging | undefined, read: 'logits' | 'argmax'): void {
    if (tokens.length === 0) throw new Error('forward: no tokens');
    if (this.kv.mode === 'paged' && (!paging || paging.slots.length !== tokens.length)) {
      throw new Error('forward: a paged model needs one KV slot per token');
    }
    const max = this.activations.maxTokens;
    for (let start = 0; start < tokens.length; start += max) {
      const chunk = { tokens: tokens.slice(start, start + max), pos0: pos0 + start };
      this.#encode([paging ? { ...chunk, slots: paging.slots.slice(start, start + max), blockTable: paging.blockTable } : chunk], read);
    }
  }

  /**
   * Writes a pass's inputs and submits its plan once, in one command buffer with the copy of the logits rows
   * (or only their argmax ids) to the readback buffer — the one recorded ahead when it has this shape, else
   * recorded now. Returns the rows.
   */
  #encode(batch: readonly (BatchEntry | { tokens: readonly number[]; pos0: number })[], read: 'logits' | 'argmax'): number {
    const { R, plan } = this.#writeInputs(batch);
    this.#submit(batch, plan, read, R);
    this.readbackBytes += read === 'logits' ? 4 * R * this.config.vocabSize : 4 * R;
    return R;
  }

  /**
   * Submits a pass whose inputs are written, as [before…, its plan and read copy, after…] — the plan's command
   * buffer recorded ahead when it has this shape, else recorded now. Then records the next one of this shape
   * ahead, while the GPU runs this one, if this is a decode step (one token per sequence) or repeats the
   * previous pass's shape (verification, chunked prefill); after a lone prefill the next shape is anyone's
   * guess.
   */
  #submit(batch: readonly { tokens: readonly number[] }[], plan: ForwardPlan, read: 'logits' | 'argmax' | 'none', R: number, before: GPUCommandBuffer[] = [], after: GPUCommandBuffer[] = []): void {
    const t0 = performance.now();
    // The command buffer depends on the plan and what it reads back: logits rows (R of them), or the argmax
    // ids — copied for every row of the plan's bucket, so a batch that loses or gains a member keeps it.
    const key = `${plan.nTokens}x${plan.nSeqs}.${read}${read === 'logits' ? `.${R}` : ''}`;
    const commands = [...before, this.#takeAhead(key) ?? this.#record(plan, read, R), ...after];
    const t1 = performance.now();
    this.ctx.device.queue.submit(commands);
    const t2 = performance.now();
    this.dispatches += plan.dispatches.length;
    this.submits += 1;
    if (batch.every((e) => e.tokens.length === 1) || key === this.#lastKey) this.#putAhead(key, plan, () => this.#record(plan, read, R));
    this.#lastKey = key;
    const t3 = performance.now();
    this.cpu.recordMs += t1 - t0 + (t3 - t2);
    this.cpu.submitMs += t2 - t1;
    this.cpu.aheadMs += t3 - t2;
  }

  /** The command buffer recorded ahead for this shape, if any (each is submitted once). */
  #takeAhead(key: string): GPUCommandBuffer | undefined {
    const e = this.#ahead.get(key);
    if (!e) return undefined;
    this.#ahead.delete(key);
    this.recordedAhead += 1;
    return e.commands;
  }

  #putAhead(key: string, plan: ForwardPlan | null, record: () => GPUCommandBuffer): void {
    if (!this.recordAhead) return;
    this.#ahead.delete(key);
    this.#ahead.set(key, { plan, commands: record() });
    if (this.#ahead.size > 4) this.#ahead.delete(this.#ahead.keys().next().value!); // the least recently recorded
  }

  /** One pass's command buffer: the plan in one compute pass, then the copy of its logits rows (or argmax ids). */
  #record(plan: ForwardPlan, read: 'logits' | 'argmax' | 'none', R: number): GPUCommandBuffer {
    const a = this.activations;
    const label = `Llama.forward.plan${plan.nTokens}x${plan.nSeqs}`;
    const encoder = this.ctx.device.createCommandEncoder({ label });
    const pass = encoder.beginComputePass({ label });
    for (const d of plan.dispatches) encodeDispatch(pass, d);
    pass.end();
    if (read === 'logits') encoder.copyBufferToBuffer(a.logits, 0, this.#readback, 0, 4 * R * this.config.vocabSize);
    else if (read === 'argmax') encoder.copyBufferToBuffer(a.argmax, 0, this.#readbackIds, 0, 4 * plan.nSeqs);
    return encoder.finish();
  }

  /**
   * greedyChain's passes after the first: each copies the previous pass's argmax into its token (and into the
   * chain's ids) and its position, slot and step from the stage, then runs the decode plan; at the end the
   * g ids go to the readback buffer. The same for every chain of g tokens: only the stage's words differ.
   */
  #recordChainTail(g: number, next: ForwardPlan, record: number): GPUCommandBuffer {
    const a = this.activations;
    const stage = this.#chainStage!;
    const ids = this.#chainIds!;
    const encoder = this.ctx.device.createCommandEncoder({ label: `Llama.greedyChain.${g}` });
    for (let i = 0; i < g - 1; i++) {
      encoder.copyBufferToBuffer(a.argmax, 0, ids, 4 * i, 4); // the id this pass picked…
      encoder.copyBufferToBuffer(a.argmax, 0, a.tokens, 0, 4); // …is the next pass's token
      encoder.copyBufferToBuffer(stage, i * record, a.tokenPos, 0, 4);
      encoder.copyBufferToBuffer(stage, i * record + 4, a.slots, 0, 4);
      encoder.copyBufferToBuffer(stage, i * record + 8, a.lastIndex, 0, 4);
      encoder.copyBufferToBuffer(stage, i * record + 16, a.step, 0, StepParams.size);
      const pass = encoder.beginComputePass({ label: `Llama.greedyChain.${i + 1}` });
      for (const d of next.dispatches) encodeDispatch(pass, d);
      pass.end();
    }
    encoder.copyBufferToBuffer(a.argmax, 0, ids, 4 * (g - 1), 4);
    encoder.copyBufferToBuffer(ids, 0, this.#readbackIds, 0, 4 * g);
    return encoder.finish();
  }

  /**
   * Greedy drafting in one submit (speculative decoding): runs `first` (one sequence's pending tokens), then
   * feeds each pass's argmax back as the next pass's token, `chain.slots.length` more times — the token ids
   * are copied on the GPU between passes, so nothing comes back until the end, when the γ ids do (4 bytes
   * each). `chain.slots`: the KV slots of the chained tokens, at positions chain.pos0, chain.pos0 + 1, …
   */
  async greedyChain(first: BatchEntry, chain: { slots: readonly number[]; pos0: number }): Promise<number[]> {
    this.#checkBatch([first]);
    const { device } = this.ctx;
    const a = this.activations;
    const g = chain.slots.length + 1;
    if (g > a.maxOutputs) throw new Error(`greedyChain: ${g} tokens exceed the ${a.maxOutputs} ids one call returns`);
    if (chain.pos0 + chain.slots.length > this.kv.maxSeqLen) throw new Error(`greedyChain: positions up to ${chain.pos0 + chain.slots.length - 1} exceed the context of ${this.kv.maxSeqLen}`);
    // Per chained pass, the inputs the copies put in place: [tokenPos, slot, lastIndex = 0, 0, step params].
    const record = 16 + Math.ceil(StepParams.size / 16) * 16;
    const stage = new ArrayBuffer(Math.max(record, record * chain.slots.length));
    chain.slots.forEach((slot, i) => {
      new Uint32Array(stage, i * record, 4).set([chain.pos0 + i, slot, 0, 0]);
      new Uint8Array(stage, i * record + 16, StepParams.size).set(new Uint8Array(StepParams.pack({ nTokens: 1, pos0: chain.pos0 + i })));
    });
    if (!this.#chainStage || this.#chainStage.size < stage.byteLength) {
      if (this.#chainStage) this.ctx.buffers.release(this.#chainStage);
      this.#chainStage = this.ctx.allocateNow({ label: 'Llama.chain.stage', owner: 'activations', size: Math.max(stage.byteLength, 16 * record), usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
      for (const key of this.#ahead.keys()) if (key.startsWith('chain.')) this.#ahead.delete(key); // they copy from the old one
    }
    this.#chainIds ??= this.ctx.allocateNow({ label: 'Llama.chain.ids', owner: 'activations', size: 4 * a.maxOutputs, usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(this.#chainStage, 0, stage);
    const { plan } = this.#writeInputs([first]);
    for (const b of [a.tokens, a.tokenPos, a.slots, a.lastIndex, a.step]) this.#written.delete(b); // the chain's copies change them
    const next = this.#plan(1, 1);
    // The first pass as any other (recorded ahead when its shape repeats), then the chain's passes: one more
    // command buffer, the same for every chain of g tokens, recorded ahead for the next chain.
    const tailKey = `chain.${g}`;
    const tail = () => this.#recordChainTail(g, next, record);
    const t0 = performance.now();
    const after = [this.#takeAhead(tailKey) ?? tail()];
    this.cpu.recordMs += performance.now() - t0;
    this.#submit([first], plan, 'none', 1, [], after);
    this.dispatches += (g - 1) * next.dispatches.length;
    this.readbackBytes += 4 * g;
    const t1 = performance.now();
    this.#putAhead(tailKey, next, tail);
    const t2 = performance.now();
    this.cpu.recordMs += t2 - t1;
    this.cpu.aheadMs += t2 - t1;
    return this.#readIds(g);
  }

  /**
   * queue.writeBuffer, skipped when the buffer already holds exactly these words (a decode step rewrites
   * the same block table, sequence rows, output rows… every token; each write costs a trip into the driver).
   */
  #write(buffer: GPUBuffer, data: Uint32Array<ArrayBuffer>): void {
    const last = this.#written.get(buffer);
    if (last && last.length === data.length && last.every((v, i) => v === data[i])) return;
    this.ctx.device.queue.writeBuffer(buffer, 0, data);
    this.#written.set(buffer, data);
  }

  /** Writes a pass's inputs (token ids, positions, slots, block tables, output rows, step) and picks its plan. */
  #writeInputs(batch: readonly (BatchEntry | { tokens: readonly number[]; pos0: number })[]): { T: number; S: number; R: number; plan: ForwardPlan } {
    const t0 = performance.now();
    const a = this.activations;
    const S = batch.length;
    if (S > a.maxSeqs) throw new Error(`forward: ${S} sequences exceed the ${a.maxSeqs} one pass can carry`);
    const T = batch.reduce((n, e) => n + e.tokens.length, 0);
    const tokens = new Uint32Array(T);
    const tokenSeq = new Uint32Array(T);
    const tokenPos = new Uint32Array(T);
    const slots = new Uint32Array(T);
    const outputRows: number[] = [];
    let t = 0;
    batch.forEach((e, s) => {
      if (e.tokens.length === 0) throw new Error(`forward: sequence ${s} has no tokens`);
      if (e.pos0 + e.tokens.length > this.kv.maxSeqLen) {
        throw new Error(`forward: positions ${e.pos0}..${e.pos0 + e.tokens.length - 1} exceed the context of ${this.kv.maxSeqLen}`);
      }
      e.tokens.forEach((id, i) => {
        tokens[t] = id;
        tokenSeq[t] = s;
        tokenPos[t] = e.pos0 + i;
        if ('slots' in e) slots[t] = e.slots[i]!;
        t++;
      });
      if ('logits' in e && e.logits === 'all') for (let i = e.tokens.length; i > 0; i--) outputRows.push(t - i);
      else outputRows.push(t - 1);
    });
    const R = outputRows.length;
    if (R > a.maxOutputs) throw new Error(`forward: ${R} logits rows exceed the ${a.maxOutputs} one pass can return`);
    const kv = this.kv;
    if (kv.mode === 'paged') {
      // One block-table row per sequence, padded with "no block" (nBlocks).
      const tables = new Uint32Array(S * kv.maxBlocksPerSeq).fill(kv.nBlocks);
      batch.forEach((e, s) => {
        const table = 'blockTable' in e ? e.blockTable : [];
        if (table.length > kv.maxBlocksPerSeq) throw new Error(`forward: block table of ${table.length} blocks exceeds ${kv.maxBlocksPerSeq}`);
        tables.set(table, s * kv.maxBlocksPerSeq);
      });
      this.#write(kv.blockTables, tables);
      this.#write(a.slots, slots);
      this.#write(a.tokenSeq, tokenSeq);
    }
    this.#write(a.tokens, tokens);
    this.#write(a.tokenPos, tokenPos);
    this.#write(a.lastIndex, Uint32Array.from(outputRows));
    this.#write(a.step, new Uint32Array(StepParams.pack({ nTokens: T, pos0: batch[0]!.pos0 })));
    const plan = this.#plan(planBucket(T, a.maxTokens), Math.min(planBucket(R, a.maxOutputs), planBucket(T, a.maxTokens)));
    this.cpu.writeMs += performance.now() - t0;
    return { T, S, R, plan };
  }

  /** Maps an id readback buffer and returns the first `R` argmax ids. */
  async #readIds(R: number, buffer = this.#readbackIds): Promise<number[]> {
    await buffer.mapAsync(GPUMapMode.READ, 0, 4 * R);
    const ids = Array.from(new Uint32Array(buffer.getMappedRange(0, 4 * R)));
    buffer.unmap();
    return ids;
  }

  /** Maps the readback buffer and returns the first `S` rows of logits. */
  async #readLogits(S: number): Promise<Float32Array[]> {
    const v = this.config.vocabSize;
    await this.#readback.mapAsync(GPUMapMode.READ, 0, 4 * S * v);
    const all = new Float32Array(this.#readback.getMappedRange(0, 4 * S * v).slice(0));
    this.#readback.unmap();
    return Array.from({ length: S }, (_, s) => all.subarray(s * v, (s + 1) * v));
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


  /** Releases every buffer this model made: weights, activations, KV cache and its plans' uniforms. */
  dispose(): void {
    const mine = new Set<GPUBuffer>([...this.weights.values(), ...this.kv.k, ...this.kv.v, this.#readback, this.#readbackIds, ...this.#idsRing]);
    if (this.kv.mode === 'paged') mine.add(this.kv.blockTables);
    if (this.#cowScratch) mine.add(this.#cowScratch);
    if (this.#chainStage) mine.add(this.#chainStage);
    if (this.#chainIds) mine.add(this.#chainIds);
    for (const v of Object.values(this.activations)) if (typeof v !== 'number') mine.add(v);
    for (const plan of this.#plans.values()) for (const b of plan.owned) mine.add(b);
    for (const b of mine) this.ctx.buffers.release(b);
    this.#plans.clear();
    this.#ahead.clear();
  }
}
