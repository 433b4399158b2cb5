// The paged KV cache's block manager: a pool of nBlocks physical blocks of blockSize token slots, a block
// table per sequence, reference counts, automatic prefix caching, fork, copy-on-write and recompute
// preemption. Pure policy over plain data: imports no GPU, DOM or comlink (only trace event types).

import type {
  KvAllocEvent,
  KvCowEvent,
  KvFreeEvent,
  KvShareEvent,
  KvSnapshotEvent,
} from '../engine/trace.ts';
import { KvError } from './errors.ts';
import { checkInvariants, PENDING_TOKEN, type BlockState, type SeqState } from './check.ts';
import { prefixKey, ROOT_PREFIX_KEY } from './prefix-hash.ts';

export type KvEvent = KvAllocEvent | KvFreeEvent | KvShareEvent | KvCowEvent | KvSnapshotEvent;

export interface BlockManagerOptions {
  nBlocks: number; // physical blocks in the pool, 1..2^24
  blockSize?: number; // token slots per block, 1..128 (default 16)
  prefixCaching?: boolean; // reuse full blocks across sequences by prefix key (default true)
  checked?: boolean; // run check() after every mutation (tests, the engine's checked mode)
}

export type AddResult =
  | { slots: number[]; cachedTokens: number }
  /** needBlocks: the fresh blocks the prompt needs beyond its cache hits (more than can be had now). */
  | { ok: false; reason: 'no-space'; needBlocks: number };

export type AppendResult =
  | { slot: number; cow: { from: number; to: number } | null }
  | { ok: false; reason: 'no-space' };

/**
 * released: blocks whose last reference truncate() dropped (now free, or cached by prefix key).
 * cow: the cut fell inside a block shared with another sequence; the engine copies KV block `from` to `to`
 * (the slots below the cut) before writing this sequence's next token, as for append's copy-on-write.
 */
export type TruncateResult =
  | { released: number; cow: { from: number; to: number } | null }
  | { ok: false; reason: 'no-space' };

export const MAX_BLOCK_SIZE = 128;
const MAX_BLOCKS = 1 << 24;

/** A serial identifies one exact prefix (all tokens up to a block's end); 0 is the empty prefix. */
const ROOT_SERIAL = 0;
const NO_SERIAL = -1;

export class BlockManager {
  readonly nBlocks: number;
  readonly blockSize: number;
  readonly prefixCaching: boolean;
  private readonly checked: boolean;
  private readonly blocks: BlockState[];
  private readonly seqs = new Map<number, SeqState>();
  /** Blocks with ref 0 and no prefix key, popped from the end (block 0 first on a fresh pool). */
  private readonly freeList: number[];
  /** Blocks with ref 0 that keep a prefix key: evictable, least recently freed first (Map order). */
  private readonly lru = new Map<number, true>();
  /** Prefix key → the block the cache hands out for it (in use or in the LRU). */
  private readonly byKey = new Map<number, number>();
  private nextSerial = ROOT_SERIAL + 1;
  private events: KvEvent[] = [];

  constructor({ nBlocks, blockSize = 16, prefixCaching = true, checked = false }: BlockManagerOptions) {
    if (!Number.isInteger(nBlocks) || nBlocks < 1 || nBlocks > MAX_BLOCKS) {
      throw new KvError('bad-option', `nBlocks must be an integer in 1..${MAX_BLOCKS}, got ${nBlocks}`);
    }
    if (!Number.isInteger(blockSize) || blockSize < 1 || blockSize > MAX_BLOCK_SIZE) {
      throw new KvError('bad-option', `blockSize must be an integer in 1..${MAX_BLOCK_SIZE}, got ${blockSize}`);
    }
    this.nBlocks = nBlocks;
    this.blockSize = blockSize;
    this.prefixCaching = prefixCaching;
    this.checked = checked;
    this.blocks = Array.from({ length: nBlocks }, () => emptyBlock());
    this.freeList = Array.from({ length: nBlocks }, (_, i) => nBlocks - 1 - i);
  }

  /** Blocks never used or released without a prefix key. */
  get numFreeBlocks(): number {
    return this.freeList.length;
  }

  /** Blocks with ref 0 kept for their prefix key (revivable, evicted LRU when the free list is empty). */
  get numCachedBlocks(): number {
    return this.lru.size;
  }

  /** What an allocation can take now: free plus evictable cached blocks. */
  get numAllocatableBlocks(): number {
    return this.freeList.length + this.lru.size;
  }

  has(seq: number): boolean {
    return this.seqs.has(seq);
  }

  /** Sequence ids, in registration order. */
  sequences(): number[] {
    return [...this.seqs.keys()];
  }

  blockTable(seq: number): number[] {
    return [...this.seq(seq).table];
  }

  tokens(seq: number): number[] {
    return [...this.seq(seq).tokens];
  }

  /** How many tokens the sequence holds (tokens(seq).length without the copy; the engine asks every step). */
  length(seq: number): number {
    return this.seq(seq).tokens.length;
  }

  /**
   * Renames tokens already placed (their slots and KV stay): speculative drafting on the GPU appends slots
   * for tokens it has not read back yet, then labels them. Only without prefix caching, where a block's
   * tokens never became a cache key; on a block shared with another sequence it would rename theirs too.
   */
  relabel(seq: number, pos0: number, tokens: readonly number[]): void {
    if (this.prefixCaching) throw new KvError('bad-option', 'relabel: not with prefix caching (cached blocks are keyed by their tokens)');
    const s = this.seq(seq);
    if (!Number.isInteger(pos0) || pos0 < 0 || pos0 + tokens.length > s.tokens.length) {
      throw new KvError('bad-option', `sequence ${seq}: relabel positions ${pos0}..${pos0 + tokens.length - 1} of ${s.tokens.length}`);
    }
    const blockOf = (i: number) => s.table[Math.floor((pos0 + i) / this.blockSize)]!;
    tokens.forEach((t, i) => {
      checkToken(t, `sequence ${seq} position ${pos0 + i}`);
      if (this.block(blockOf(i)).ref > 1) throw new KvError('bad-option', `sequence ${seq}: relabel of block ${blockOf(i)}, shared with another sequence`);
    });
    tokens.forEach((t, i) => {
      this.block(blockOf(i)).tokens[(pos0 + i) % this.blockSize] = t;
      s.tokens[pos0 + i] = t;
    });
    this.afterMutation();
  }

  /** References to `block` from block tables. */
  refCount(block: number): number {
    return this.block(block).ref;
  }

  /** Slots of `block` that hold a token (0..blockSize). */
  filled(block: number): number {
    return this.block(block).tokens.length;
  }

  /**
   * Registers `seq` with its prompt and maps every prompt token to a slot (`slots[p]` for position p).
   * Full blocks already cached under the same prefix are shared, and their tokens counted in
   * `cachedTokens` (their KV need not be recomputed). The block holding the last prompt token is never
   * taken from the cache: the engine must compute that token for its logits, and writing its KV into a
   * shared block would write a slot twice — so cachedTokens ≤ the last block boundary below tokens.length.
   * Atomic: on no-space nothing changes.
   */
  addSequence(seq: number, tokens: readonly number[]): AddResult {
    if (this.seqs.has(seq)) throw new KvError('seq-exists', `sequence ${seq} is already registered`);
    if (tokens.length === 0) throw new KvError('empty-prompt', `sequence ${seq}: a prompt needs at least one token`);
    tokens.forEach((t, p) => checkToken(t, `sequence ${seq} position ${p}`));
    const bs = this.blockSize;
    const { hits, needBlocks, revivedBlocks } = this.plan(tokens);
    if (needBlocks > this.numAllocatableBlocks - revivedBlocks) return { ok: false, reason: 'no-space', needBlocks };

    for (const b of hits) {
      this.lru.delete(b);
      this.block(b).ref++;
    }
    const table = [...hits];
    const fresh: number[] = [];
    for (let i = hits.length; i * bs < tokens.length; i++) {
      const b = this.take();
      const block = this.block(b);
      block.ref = 1;
      block.tokens = tokens.slice(i * bs, (i + 1) * bs);
      table.push(b);
      fresh.push(b);
      if (block.tokens.length === bs) this.register(b, i === 0 ? -1 : table[i - 1]!);
    }
    this.seqs.set(seq, { tokens: [...tokens], table });
    if (hits.length > 0) this.events.push({ kind: 'kv.share', seq, blocks: [...hits], from: 'prefix-cache' });
    if (fresh.length > 0) this.events.push({ kind: 'kv.alloc', seq, blocks: fresh });
    const slots = tokens.map((_, p) => table[Math.floor(p / bs)]! * bs + (p % bs));
    this.afterMutation();
    return { slots, cachedTokens: hits.length * bs };
  }

  /**
   * What addSequence(_, tokens) would do now, changing nothing: the tokens it would find cached, the fresh
   * blocks it needs, and the cached ref-0 blocks it would revive (they stop being allocatable).
   */
  planAdd(tokens: readonly number[]): { cachedTokens: number; needBlocks: number; revivedBlocks: number } {
    const { hits, needBlocks, revivedBlocks } = this.plan(tokens);
    return { cachedTokens: hits.length * this.blockSize, needBlocks, revivedBlocks };
  }

  /**
   * Maps one more token of `seq` to a slot: a new block when the last is full; copy-on-write when the
   * last block is shared and not full (the engine copies KV block `from` to `to` before writing).
   * A block that becomes full is registered in the prefix cache. Atomic: on no-space nothing changes.
   */
  append(seq: number, token: number): AppendResult {
    checkToken(token, `sequence ${seq} position ${this.seq(seq).tokens.length}`);
    return this.place(seq, token);
  }

  /**
   * append() for a token whose id is not known yet: the pipelined engine submits the pass that computes a
   * token's KV before it has read back the previous pass's argmax that chose the token. The slot is placed
   * (and copied on write) now; resolvePending() names the token. Until then the sequence can take no other
   * append or fork, and the block holding it stays out of the prefix cache even when full. At most one
   * pending token per sequence, always its last; free, preempt and truncate drop it like any other.
   */
  appendPending(seq: number): AppendResult {
    return this.place(seq, PENDING_TOKEN);
  }

  /** Names the sequence's pending token; a block it fills enters the prefix cache now. */
  resolvePending(seq: number, token: number): void {
    const s = this.seq(seq);
    const pos = this.pendingAt(seq);
    if (pos < 0) throw new KvError('bad-option', `sequence ${seq} has no pending token`);
    checkToken(token, `sequence ${seq} position ${pos}`);
    const bs = this.blockSize;
    const index = Math.floor(pos / bs);
    const b = s.table[index]!;
    s.tokens[pos] = token;
    this.block(b).tokens[pos % bs] = token;
    if (this.block(b).tokens.length === bs) this.register(b, index === 0 ? -1 : s.table[index - 1]!);
    this.afterMutation();
  }

  /** Whether the sequence's last token is pending (appendPending, not yet resolved). */
  hasPending(seq: number): boolean {
    return this.pendingAt(seq) >= 0;
  }

  private pendingAt(seq: number): number {
    const t = this.seq(seq).tokens;
    return t.length > 0 && t[t.length - 1] === PENDING_TOKEN ? t.length - 1 : -1;
  }

  /** Parallel sampling: `child` gets the parent's token history and shares all its blocks (ref++). */
  fork(parent: number, child: number): void {
    const p = this.seq(parent);
    if (this.pendingAt(parent) >= 0) throw new KvError('bad-option', `sequence ${parent}: fork with a pending token`);
    if (this.seqs.has(child)) throw new KvError('seq-exists', `sequence ${child} is already registered`);
    for (const b of p.table) this.block(b).ref++;
    this.seqs.set(child, { tokens: [...p.tokens], table: [...p.table] });
    this.events.push({ kind: 'kv.share', seq: child, blocks: [...p.table], from: 'fork' });
    this.afterMutation();
  }

  /** A sequence ended: drops its references. Returns the blocks that reached ref 0 (free or cached). */
  free(seq: number): number {
    return this.drop(seq, 'finish');
  }

  /**
   * Recompute-style preemption: frees the victim's blocks (full ones stay cached by prefix, so the
   * requeued sequence often revives them). Returns how many blocks reached ref 0.
   */
  preempt(seq: number): number {
    return this.drop(seq, 'preempt');
  }

  /**
   * Rollback (speculative decoding's rejected draft positions): keeps the first `nTokens` (1..length) tokens
   * of `seq` and forgets the rest. Tail blocks past the cut lose this sequence's reference; those reaching
   * ref 0 are cached by prefix key when full (as free() does: their KV was computed for exactly those
   * tokens) or freed. The block holding the cut keeps its slots below the cut:
   * - private (ref 1): shortened in place; if it was full it loses its prefix key and serial (a block that
   *   is not full is never in the prefix cache), so nothing can hit on slots about to be overwritten;
   * - shared (ref > 1): the other holders still need every slot, so it is copied now (copy-on-write) into a
   *   fresh private block holding the kept slots, and `cow` says which KV block to copy. This needs one
   *   allocatable block (the tail just released counts); if none can be had, nothing changes: no-space.
   * A cut on a block boundary never copies, nor does rolling back tokens appended since the last fork or
   * prompt (append already made that block private). Emits kv.free for the dropped tail (reason
   * 'truncate'), and kv.alloc + kv.cow for a copy.
   */
  truncate(seq: number, nTokens: number): TruncateResult {
    const s = this.seq(seq);
    if (!Number.isInteger(nTokens) || nTokens < 1 || nTokens > s.tokens.length) {
      throw new KvError('bad-option', `sequence ${seq}: truncate to ${nTokens} tokens, need an integer in 1..${s.tokens.length}`);
    }
    const bs = this.blockSize;
    const keep = Math.ceil(nTokens / bs); // blocks the kept tokens occupy
    const lastIndex = keep - 1;
    const last = s.table[lastIndex]!;
    const lastBlock = this.block(last);
    const fill = nTokens - lastIndex * bs; // tokens the last kept block keeps, 1..bs
    const cutInside = fill < lastBlock.tokens.length;
    const split = cutInside && lastBlock.ref > 1;
    const dropped = s.table.slice(keep);
    if (split) {
      const freedNow = dropped.filter((b) => this.block(b).ref === 1).length;
      if (this.numAllocatableBlocks + freedNow === 0) return { ok: false, reason: 'no-space' };
    }
    let released = 0;
    // Tail first, as free() does, so the LRU evicts a sequence's last blocks before its head.
    for (let i = dropped.length - 1; i >= 0; i--) if (this.releaseRef(dropped[i]!)) released++;
    s.table.length = keep;
    s.tokens.length = nTokens;
    if (dropped.length > 0) this.events.push({ kind: 'kv.free', seq, blocks: dropped, reason: 'truncate' });
    let cow: { from: number; to: number } | null = null;
    if (split) {
      const b = this.take();
      const block = this.block(b);
      block.ref = 1;
      block.tokens = lastBlock.tokens.slice(0, fill);
      lastBlock.ref--; // still ≥ 1: the other holders keep it whole
      s.table[lastIndex] = b;
      cow = { from: last, to: b };
      this.events.push({ kind: 'kv.alloc', seq, blocks: [b] }, { kind: 'kv.cow', seq, from: last, to: b });
    } else if (cutInside) {
      this.unregister(last);
      lastBlock.tokens.length = fill;
    }
    this.afterMutation();
    return { released, cow };
  }

  /** Events since the last drain, oldest first. */
  drainEvents(): KvEvent[] {
    const out = this.events;
    this.events = [];
    return out;
  }

  /** The pool at this moment (the engine emits one per iteration). */
  snapshot(): KvSnapshotEvent {
    return {
      kind: 'kv.snapshot',
      blockSize: this.blockSize,
      nBlocks: this.nBlocks,
      tables: [...this.seqs].map(([seq, s]) => ({ seq, blocks: [...s.table] })),
      refCounts: this.blocks.map((b) => b.ref),
      free: [...this.freeList].reverse(),
      cached: [...this.lru.keys()],
    };
  }

  /** Throws KvError('invariant') naming the first inconsistency found. */
  check(): void {
    checkInvariants({
      blockSize: this.blockSize,
      blocks: this.blocks,
      seqs: this.seqs,
      freeList: this.freeList,
      lru: this.lru,
      byKey: this.byKey,
    });
  }

  /** TEST ONLY: corrupts the state on purpose, to prove check() catches it. Never call it elsewhere. */
  tamperForTests(edit: { block: number; ref?: number; token?: { offset: number; value: number }; pushFree?: boolean }): void {
    const block = this.block(edit.block);
    if (edit.ref !== undefined) block.ref = edit.ref;
    if (edit.token !== undefined) block.tokens[edit.token.offset] = edit.token.value;
    if (edit.pushFree === true) this.freeList.push(edit.block);
  }

  /** append()'s work; `token` may be PENDING_TOKEN (appendPending). */
  private place(seq: number, token: number): AppendResult {
    const s = this.seq(seq);
    if (this.pendingAt(seq) >= 0) throw new KvError('bad-option', `sequence ${seq} has a pending token: resolve it before appending`);
    const bs = this.blockSize;
    const index = Math.floor(s.tokens.length / bs);
    let cow: { from: number; to: number } | null = null;
    let b: number;
    if (s.tokens.length % bs === 0) {
      if (this.numAllocatableBlocks === 0) return { ok: false, reason: 'no-space' };
      b = this.take();
      this.block(b).ref = 1;
      s.table.push(b);
      this.events.push({ kind: 'kv.alloc', seq, blocks: [b] });
    } else {
      const last = s.table[index]!;
      if (this.block(last).ref > 1) {
        if (this.numAllocatableBlocks === 0) return { ok: false, reason: 'no-space' };
        b = this.take();
        this.block(b).ref = 1;
        this.block(b).tokens = [...this.block(last).tokens];
        this.block(last).ref--; // still ≥ 1: the other holders keep it
        s.table[index] = b;
        cow = { from: last, to: b };
        this.events.push({ kind: 'kv.alloc', seq, blocks: [b] }, { kind: 'kv.cow', seq, from: last, to: b });
      } else {
        b = last;
      }
    }
    const block = this.block(b);
    const slot = b * bs + block.tokens.length;
    block.tokens.push(token);
    s.tokens.push(token);
    if (block.tokens.length === bs && token !== PENDING_TOKEN) this.register(b, index === 0 ? -1 : s.table[index - 1]!);
    this.afterMutation();
    return { slot, cow };
  }

  private plan(tokens: readonly number[]): { hits: number[]; needBlocks: number; revivedBlocks: number } {
    const bs = this.blockSize;
    const hits: number[] = [];
    if (this.prefixCaching) {
      let parent = -1;
      // Only blocks wholly before the last token: that token is always computed (see addSequence).
      for (let i = 0; (i + 1) * bs < tokens.length; i++) {
        const hit = this.lookup(parent, tokens.slice(i * bs, (i + 1) * bs));
        if (hit === undefined) break;
        hits.push(hit);
        parent = hit;
      }
    }
    const needBlocks = Math.ceil(tokens.length / bs) - hits.length;
    const revivedBlocks = hits.filter((b) => this.block(b).ref === 0).length;
    return { hits, needBlocks, revivedBlocks };
  }

  private drop(seq: number, reason: 'finish' | 'preempt'): number {
    const s = this.seq(seq);
    let released = 0;
    // Tail first, so within one sequence the LRU evicts its last blocks before the shared prefix.
    for (let i = s.table.length - 1; i >= 0; i--) {
      if (this.releaseRef(s.table[i]!)) released++;
    }
    this.seqs.delete(seq);
    this.events.push({ kind: 'kv.free', seq, blocks: [...s.table], reason });
    this.afterMutation();
    return released;
  }

  /** A block for a new owner: a free one first, else evict the least recently used cached one. */
  private take(): number {
    const free = this.freeList.pop();
    if (free !== undefined) return free;
    const victim = this.lru.keys().next();
    if (victim.done === true) throw new KvError('invariant', 'take() with no free or cached block');
    this.lru.delete(victim.value);
    this.byKey.delete(this.block(victim.value).key);
    this.blocks[victim.value] = emptyBlock();
    return victim.value;
  }

  /** The cached block holding exactly `tokens` after the prefix ending in block `parent` (-1: none). */
  private lookup(parent: number, tokens: readonly number[]): number | undefined {
    const parentKey = parent < 0 ? ROOT_PREFIX_KEY : this.block(parent).key;
    const parentSerial = parent < 0 ? ROOT_SERIAL : this.block(parent).serial;
    const hit = this.byKey.get(prefixKey(parentKey, tokens));
    if (hit === undefined) return undefined;
    const block = this.block(hit);
    // The key is a 32-bit hash: trust it only when the parent prefix and every token id match.
    return block.parentSerial === parentSerial && sameTokens(block.tokens, tokens) ? hit : undefined;
  }

  /**
   * Block `b` just became full after the prefix ending in block `parent`: give it its key and serial.
   * A block with the same prefix as a cached one shares that one's serial (same exact prefix) but the
   * cache keeps handing out the first; a hash collision with another prefix gets a fresh serial, uncached.
   */
  private register(b: number, parent: number): void {
    const block = this.block(b);
    block.parentKey = parent < 0 ? ROOT_PREFIX_KEY : this.block(parent).key;
    block.parentSerial = parent < 0 ? ROOT_SERIAL : this.block(parent).serial;
    block.key = prefixKey(block.parentKey, block.tokens);
    if (!this.prefixCaching) {
      block.serial = this.nextSerial++;
      return;
    }
    const owner = this.byKey.get(block.key);
    if (owner === undefined) {
      block.serial = this.nextSerial++;
      this.byKey.set(block.key, b);
    } else {
      const o = this.block(owner);
      const same = o.parentSerial === block.parentSerial && sameTokens(o.tokens, block.tokens);
      block.serial = same ? o.serial : this.nextSerial++;
    }
  }

  /** Drops one reference to `b`; at ref 0 caches it by prefix key (if it has one) or frees it. True at ref 0. */
  private releaseRef(b: number): boolean {
    const block = this.block(b);
    if (--block.ref > 0) return false;
    const keyOwner = this.byKey.get(block.key);
    if (this.prefixCaching && block.serial !== NO_SERIAL && (keyOwner === b || keyOwner === undefined)) {
      this.byKey.set(block.key, b);
      this.lru.set(b, true);
    } else {
      this.blocks[b] = emptyBlock();
      this.freeList.push(b);
    }
    return true;
  }

  /**
   * truncate(): private block `b` is about to stop being full: forget its prefix key and serial. Serials are
   * never reused, so blocks that named it as parent simply stop being reachable through `b`.
   */
  private unregister(b: number): void {
    const block = this.block(b);
    if (block.serial === NO_SERIAL) return;
    if (this.byKey.get(block.key) === b) this.byKey.delete(block.key);
    block.key = 0;
    block.parentKey = 0;
    block.serial = NO_SERIAL;
    block.parentSerial = NO_SERIAL;
  }

  private seq(seq: number): SeqState {
    const s = this.seqs.get(seq);
    if (s === undefined) throw new KvError('no-such-seq', `sequence ${seq} is not registered`);
    return s;
  }

  private block(b: number): BlockState {
    const block = this.blocks[b];
    if (block === undefined) throw new KvError('bad-option', `block ${b} is outside the pool of ${this.nBlocks}`);
    return block;
  }

  private afterMutation(): void {
    if (this.checked) this.check();
  }
}

function emptyBlock(): BlockState {
  return { ref: 0, tokens: [], key: 0, parentKey: 0, serial: NO_SERIAL, parentSerial: NO_SERIAL };
}

function checkToken(t: number, where: string): void {
  if (!Number.isInteger(t) || t < 0 || t > 0x7fffffff) {
    throw new KvError('bad-token', `${where}: token id must be a non-negative 31-bit integer, got ${t}`);
  }
}

function sameTokens(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}
