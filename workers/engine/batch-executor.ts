// The execution half of continuous batching: given what the scheduler chose for this iteration (prefill
// chunks of some sequences, one decode token of others), give every new token its KV slot through the block
// manager, run them all in one batched forward pass, and hand back each sequence's next-token logits.
// Policy (who runs, who waits, who is preempted) is the scheduler's; this only executes. No DOM, no comlink.

import type { BlockManager } from '../kv/block-manager.ts';
import type { BatchEntry, LlamaModel } from '../model/llama.ts';

export interface SeqWork {
  seq: number;
  /** New tokens to compute: a chunk of the prompt, or the one token sampled last iteration. */
  tokens: number[];
  /**
   * Pipelined decode (submitArgmax): the one token is row `carried` of the previous pass's argmax, not read
   * back yet — copied on the GPU; `tokens` holds a placeholder, and its KV slot is placed pending until
   * resolve() names it.
   */
  carried?: number;
}

export class KvPoolFullError extends Error {
  override readonly name = 'KvPoolFullError';
  constructor(readonly seq: number) {
    super(`the KV pool has no free block for sequence ${seq}`);
  }
}

export class BatchExecutor {
  /** Tokens each live sequence has in the KV cache (its next position). */
  readonly #computed = new Map<number, number>();

  constructor(
    readonly model: LlamaModel,
    readonly blocks: BlockManager,
  ) {}

  /**
   * Registers a sequence with its whole prompt and returns how many leading tokens the prefix cache already
   * holds: the caller computes only prompt.slice(cached). A cached block's KV must be written before anyone
   * reads it — in an earlier pass, or earlier in the same pass (each layer writes K/V before its attention
   * dispatch) — so a scheduler must not defer the prefill of a prefix that a later sequence already shares.
   */
  admit(seq: number, prompt: readonly number[]): number {
    const r = this.blocks.addSequence(seq, prompt);
    if (!('slots' in r)) throw new KvPoolFullError(seq);
    this.#computed.set(seq, r.cachedTokens);
    return r.cachedTokens;
  }

  /** Runs one iteration: every sequence's new tokens in one forward pass. Logits come back in `work` order. */
  async step(work: readonly SeqWork[]): Promise<Float32Array[]> {
    return this.model.forwardBatch(this.#entries(work));
  }

  /** step() for greedy sequences: only each row's argmax (taken on the GPU) comes back, in `work` order. */
  async stepArgmax(work: readonly SeqWork[]): Promise<number[]> {
    return this.model.forwardBatchArgmax(this.#entries(work));
  }

  /**
   * stepArgmax, pipelined: submits the pass and returns its ids' promise at once (see
   * LlamaModel.submitBatchArgmax). Entries with `carried` take their token from the previous pass on the GPU;
   * resolve() each of those once the previous pass's ids are read.
   */
  submitArgmax(work: readonly SeqWork[]): Promise<number[]> {
    return this.model.submitBatchArgmax(this.#entries(work), work.map((w) => w.carried ?? null));
  }

  /** The id of a sequence's pending token (its pass's ids were read back); a no-op when it has none. */
  resolve(seq: number, token: number): void {
    if (this.blocks.has(seq) && this.blocks.hasPending(seq)) this.blocks.resolvePending(seq, token);
  }

  #entries(work: readonly SeqWork[]): BatchEntry[] {
    return work.map(({ seq, tokens, carried }) => {
      if (carried !== undefined && tokens.length !== 1) throw new Error(`batch: sequence ${seq} carries a token but has ${tokens.length}`);
      const pos0 = this.#computed.get(seq);
      if (pos0 === undefined) throw new Error(`batch: sequence ${seq} was not admitted`);
      const known = this.blocks.length(seq); // prompt tokens are placed at admission
      const slots: number[] = [];
      tokens.forEach((token, i) => {
        const pos = pos0 + i;
        if (pos < known) {
          slots.push(this.#slotOf(seq, pos));
          return;
        }
        const r = carried === undefined ? this.blocks.append(seq, token) : this.blocks.appendPending(seq);
        if (!('slot' in r)) throw new KvPoolFullError(seq);
        if (r.cow) this.model.copyBlock(r.cow.from, r.cow.to);
        slots.push(r.slot);
      });
      this.#computed.set(seq, pos0 + tokens.length);
      return { tokens, pos0, slots, blockTable: this.blocks.blockTable(seq) };
    });
  }

  /** A finished sequence gives its blocks back; full ones stay in the prefix cache. */
  release(seq: number): void {
    if (this.blocks.has(seq)) this.blocks.free(seq);
    this.#computed.delete(seq);
  }

  /** Recompute preemption: the sequence's blocks go back now; it is admitted again later from scratch. */
  preempt(seq: number): void {
    if (this.blocks.has(seq)) this.blocks.preempt(seq);
    this.#computed.delete(seq);
  }

  #slotOf(seq: number, pos: number): number {
    const table = this.blocks.blockTable(seq);
    const block = table[Math.floor(pos / this.blocks.blockSize)];
    if (block === undefined) throw new Error(`batch: sequence ${seq} has no block for position ${pos}`);
    return block * this.blocks.blockSize + (pos % this.blocks.blockSize);
  }
}
