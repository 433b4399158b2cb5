// One generation run over one sequence: prefill the prompt in one pass, then one decode token per
// iteration, with or without the KV cache. `step()` runs exactly one iteration. Emits the run's trace
// events. Knows nothing of comlink or the DOM.

import type { GenerateParams, GenerationResult, GenerationStats } from '../api.ts';
import type { BlockManager } from '../kv/block-manager.ts';
import type { LlamaModel, Paging } from '../model/llama.ts';
import { Rng } from '../sampling/rng.ts';
import { sample } from '../sampling/sampler.ts';
import type { Tokenizer, TokenStream } from '../tokenizer/tokenizer.ts';
import type { TraceBus } from './trace-bus.ts';

export class Generation {
  readonly tokens: number[]; // every position's token so far: BOS, prompt, generated
  readonly promptTokenCount: number;
  readonly #steps: number;
  readonly #rng: Rng;
  /** Decodes generated text incrementally, so a character split over several tokens comes out whole. */
  readonly #stream: TokenStream;
  /** Paged KV: the physical slot of every position so far (the block manager hands them out). */
  readonly #slots: number[] = [];
  #iteration = 0;
  #text = '';
  #stopReason: GenerationResult['stopReason'] | null = null;
  #stopRequested = false;
  // Stats
  #startMs = 0;
  #ttftMs = 0;
  #prefillMs = 0;
  #decodeMs = 0;
  #decodeDispatches = 0;
  #decodeSubmits = 0;
  readonly #msPerToken: number[] = [];

  constructor(
    readonly model: LlamaModel,
    readonly tokenizer: Tokenizer,
    promptTokens: number[],
    readonly params: GenerateParams,
    readonly bus: TraceBus,
    readonly seq = 0,
    /** The paged pool's manager, or null for a contiguous cache. */
    readonly blocks: BlockManager | null = null,
  ) {
    if (promptTokens.length === 0) throw new Error('generate: the prompt encodes to no tokens');
    this.tokens = [...promptTokens];
    this.promptTokenCount = promptTokens.length;
    // As llama2.c: `steps` counts positions, prompt and BOS included, capped by the context.
    this.#steps = Math.min(params.steps, model.maxSeqLen);
    if (this.promptTokenCount > this.#steps) {
      throw new Error(`generate: the prompt is ${this.promptTokenCount} tokens, more than steps (${this.#steps})`);
    }
    this.#rng = new Rng(params.seed);
    this.#stream = tokenizer.stream();
    for (const id of promptTokens) this.#stream.push(id); // the prompt is context for the first piece
    bus.emit({ kind: 'seq.state', seq, state: 'waiting' });
  }

  get finished(): boolean {
    return this.#stopReason !== null;
  }

  /** Ends the run before the next iteration. */
  requestStop(): void {
    this.#stopRequested = true;
  }

  /** Ends the run now (it is being replaced): its KV blocks go back to the pool. */
  abandon(): void {
    if (!this.finished) this.#finish('stopped');
  }

  /** Runs one iteration (the prefill, or one decode token). Returns false once the run has finished. */
  async step(): Promise<boolean> {
    if (this.finished) return false;
    if (this.#stopRequested) return this.#finish('stopped');
    const iteration = this.#iteration++;
    const prefill = iteration === 0;
    const pos = this.tokens.length - 1; // position of the last known token: its logits give the next one
    if (prefill) {
      this.#startMs = performance.now();
      this.bus.emit({ kind: 'seq.state', seq: this.seq, state: 'running' });
    }
    // With the cache a decode pass runs one token; without it, the whole prefix again from position 0.
    const recompute = !prefill && !this.params.kvCache;
    let input = prefill || recompute ? this.tokens : this.tokens.slice(-1);
    let pos0 = prefill || recompute ? 0 : pos;
    let paging: Paging | undefined;
    if (this.blocks) {
      const placed = this.#place(prefill);
      if (placed === null) return this.#finish('stopped'); // the pool is full: nothing to preempt for
      // A prefix already in the pool (automatic prefix caching) need not be computed again.
      if (prefill && placed > 0) {
        input = this.tokens.slice(placed);
        pos0 = placed;
      }
      paging = { slots: this.#slots.slice(pos0, pos0 + input.length), blockTable: this.blocks.blockTable(this.seq) };
      for (const e of this.blocks.drainEvents()) this.bus.emit(e);
      this.bus.emit(this.blocks.snapshot());
    }
    this.bus.emit({ kind: 'iteration.begin', iteration, phase: prefill ? 'prefill' : 'decode', nTokens: input.length, pos0 });
    const d0 = this.model.dispatches;
    const s0 = this.model.submits;
    const t0 = performance.now();
    // Greedy: the argmax is taken on the GPU and only the token id comes back.
    const { token, prob } =
      this.params.temperature === 0 ? { token: await this.model.forwardArgmax(input, pos0, paging), prob: 1 } : sample(await this.model.forward(input, pos0, paging), this.params, this.#rng);
    const ms = performance.now() - t0;
    const dispatches = this.model.dispatches - d0;
    const submits = this.model.submits - s0;
    if (prefill) {
      this.#prefillMs = ms;
      this.#ttftMs = performance.now() - this.#startMs;
    } else {
      this.#decodeMs += ms;
      this.#decodeDispatches += dispatches;
      this.#decodeSubmits += submits;
      this.#msPerToken.push(ms);
    }
    this.bus.emit({ kind: 'iteration.end', iteration, ms, dispatches, submits });

    // llama2.c stops when the model emits BOS; a Hugging Face model ends with EOS.
    if (token === this.tokenizer.eosId || token === this.tokenizer.bosId) return this.#finish('eos');
    const piece = this.#stream.push(token);
    this.tokens.push(token);
    this.#text += piece;
    this.bus.emit({ kind: 'token', seq: this.seq, position: this.tokens.length - 1, tokenId: token, text: piece, prob });
    // The forward pass just run was at position `pos`; llama2.c runs positions 0 … steps − 1.
    if (pos + 1 >= this.#steps) return this.#finish('max-tokens');
    return true;
  }

  /**
   * Paged KV: gives the new positions their slots — the whole prompt at prefill, the last sampled token at a
   * decode step (a copy-on-write first when its block is shared). Returns how many leading prompt tokens the
   * prefix cache already holds (0 after prefill), or null when the pool has no room.
   */
  #place(prefill: boolean): number | null {
    const blocks = this.blocks!;
    if (prefill) {
      const r = blocks.addSequence(this.seq, this.tokens);
      if (!('slots' in r)) {
        this.bus.emit({ kind: 'error', code: 'kv-no-space', message: `the KV pool has no room for ${this.tokens.length} prompt tokens (${r.needBlocks} blocks needed)` });
        return null;
      }
      this.#slots.push(...r.slots);
      return r.cachedTokens;
    }
    const r = blocks.append(this.seq, this.tokens[this.tokens.length - 1]!);
    if (!('slot' in r)) {
      this.bus.emit({ kind: 'error', code: 'kv-no-space', message: 'the KV pool is full' });
      return null;
    }
    if (r.cow) this.model.copyBlock(r.cow.from, r.cow.to);
    this.#slots.push(r.slot);
    return 0;
  }

  #finish(reason: GenerationResult['stopReason']): false {
    if (this.blocks?.has(this.seq)) {
      this.blocks.free(this.seq); // full blocks stay in the prefix cache for the next run
      for (const e of this.blocks.drainEvents()) this.bus.emit(e);
      this.bus.emit(this.blocks.snapshot());
    }
    this.#stopReason = reason;
    this.#text += this.#stream.flush(); // an unfinished character at the very end, if any
    this.bus.emit({ kind: 'seq.state', seq: this.seq, state: 'finished', reason: reason === 'max-tokens' ? 'max-tokens' : reason });
    this.bus.flush();
    return false;
  }

  result(): GenerationResult {
    const generated = this.tokens.length - this.promptTokenCount;
    const decoded = this.#msPerToken.length;
    const stats: GenerationStats = {
      promptTokens: this.promptTokenCount,
      generatedTokens: generated,
      ttftMs: this.#ttftMs,
      prefillTokensPerSec: this.#prefillMs > 0 ? (this.promptTokenCount / this.#prefillMs) * 1000 : 0,
      decodeTokensPerSec: this.#decodeMs > 0 ? (decoded / this.#decodeMs) * 1000 : 0,
      dispatchesPerToken: decoded ? this.#decodeDispatches / decoded : 0,
      submitsPerToken: decoded ? this.#decodeSubmits / decoded : 0,
      msPerToken: [...this.#msPerToken],
    };
    return { tokenIds: [...this.tokens], promptTokenCount: this.promptTokenCount, text: this.#text, stopReason: this.#stopReason ?? 'stopped', stats };
  }
}
