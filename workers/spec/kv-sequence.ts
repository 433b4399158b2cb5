// One sequence in one model's paged KV pool, for speculative decoding: feed it tokens (their KV is written,
// logits come back after the last or after every one of them) and roll it back to a shorter length (the
// rejected positions' blocks go back to the pool). The draft and the target each keep one. No DOM, no comlink.

import type { BlockManager } from '../kv/block-manager.ts';
import type { BatchEntry, LlamaModel } from '../model/llama.ts';
import { KvPoolFullError } from '../engine/batch-executor.ts';

export class KvSequence {
  #registered = false;

  constructor(
    readonly model: LlamaModel,
    readonly blocks: BlockManager,
    readonly seq: number,
  ) {}

  /** Tokens whose K/V are in the pool: the next token fed goes to this position. */
  get length(): number {
    return this.#registered ? this.blocks.length(this.seq) : 0;
  }

  /** Runs `tokens` at the next positions; returns logits after the last one, or after each ('all'). */
  async feed(tokens: readonly number[], logits: 'last' | 'all' = 'last'): Promise<Float32Array[]> {
    return this.model.forwardBatch([this.#place(tokens, logits)]);
  }

  /** feed() for greedy decoding: the argmax after the last token, or after each; picked on the GPU. */
  async feedArgmax(tokens: readonly number[], logits: 'last' | 'all' = 'last'): Promise<number[]> {
    return this.model.forwardBatchArgmax([this.#place(tokens, logits)]);
  }

  /**
   * Greedy drafting of `gamma` tokens in one submit: feeds `tokens`, then each argmax in turn (on the GPU;
   * see LlamaModel.greedyChain). Afterwards the sequence holds `tokens` and the first gamma − 1 drafts (the
   * last draft is returned but not fed, as with gamma feedArgmax calls). Needs a pool without prefix caching.
   */
  async draftGreedy(tokens: readonly number[], gamma: number): Promise<number[]> {
    const first = this.#place(tokens, 'last');
    const pos0 = first.pos0 + tokens.length;
    // Slots for the drafts not known yet (placeholder ids, renamed once they are read back).
    const slots: number[] = [];
    for (let i = 0; i < gamma - 1; i++) {
      const r = this.blocks.append(this.seq, 0);
      if (!('slot' in r)) throw new KvPoolFullError(this.seq);
      if (r.cow) this.model.copyBlock(r.cow.from, r.cow.to);
      slots.push(r.slot);
    }
    const ids = await this.model.greedyChain({ ...first, blockTable: this.blocks.blockTable(this.seq) }, { slots, pos0 });
    if (gamma > 1) this.blocks.relabel(this.seq, pos0, ids.slice(0, gamma - 1));
    return ids;
  }

  /** Gives `tokens` their KV slots (registering the sequence on first use) and describes the pass. */
  #place(tokens: readonly number[], logits: 'last' | 'all'): BatchEntry {
    if (tokens.length === 0) throw new Error('KvSequence.feed: no tokens');
    const pos0 = this.length;
    const slots: number[] = [];
    let rest = tokens;
    if (!this.#registered) {
      const r = this.blocks.addSequence(this.seq, tokens);
      if (!('slots' in r)) throw new KvPoolFullError(this.seq);
      this.#registered = true;
      slots.push(...r.slots);
      rest = [];
    }
    for (const token of rest) {
      const r = this.blocks.append(this.seq, token);
      if (!('slot' in r)) throw new KvPoolFullError(this.seq);
      if (r.cow) this.model.copyBlock(r.cow.from, r.cow.to);
      slots.push(r.slot);
    }
    return { tokens, pos0, slots, blockTable: this.blocks.blockTable(this.seq), logits };
  }

  /** Keeps the first `n` tokens' K/V and gives the rest of the sequence's blocks back (n ≥ 1). */
  rollback(n: number): void {
    if (n >= this.length) return;
    const r = this.blocks.truncate(this.seq, n);
    if (!('released' in r)) throw new KvPoolFullError(this.seq);
    if (r.cow) this.model.copyBlock(r.cow.from, r.cow.to);
  }

  /** The sequence ends: every block goes back. */
  release(): void {
    if (this.#registered && this.blocks.has(this.seq)) this.blocks.free(this.seq);
    this.#registered = false;
  }
}
