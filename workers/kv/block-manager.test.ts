import { describe, expect, it } from 'vitest';
import { Rng } from '../sampling/rng.ts';
import { BlockManager, type AddResult, type AppendResult } from './block-manager.ts';
import { KvError } from './errors.ts';

const range = (n: number, from = 3): number[] => Array.from({ length: n }, (_, i) => from + i);

function added(r: AddResult): { slots: number[]; cachedTokens: number } {
  if ('ok' in r) throw new Error(`expected success, got no-space (need ${r.needBlocks})`);
  return r;
}
function appended(r: AppendResult): { slot: number; cow: { from: number; to: number } | null } {
  if ('ok' in r) throw new Error('expected success, got no-space');
  return r;
}

describe('BlockManager', () => {
  it('validates its options with typed errors', () => {
    for (const opts of [{ nBlocks: 0 }, { nBlocks: 1.5 }, { nBlocks: 4, blockSize: 0 }, { nBlocks: 4, blockSize: 129 }]) {
      expect(() => new BlockManager(opts)).toThrow(KvError);
    }
    const m = new BlockManager({ nBlocks: 4, blockSize: 4 });
    expect(() => m.addSequence(1, [])).toThrow(/empty-prompt/);
    expect(() => m.addSequence(1, [3, -1])).toThrow(/bad-token/);
    expect(() => m.append(9, 3)).toThrow(/no-such-seq/);
    added(m.addSequence(1, [3]));
    expect(() => m.addSequence(1, [3])).toThrow(/seq-exists/);
    expect(() => m.fork(1, 1)).toThrow(/seq-exists/);
  });

  it('maps positions to slots block by block and allocates on demand', () => {
    const m = new BlockManager({ nBlocks: 8, blockSize: 4, checked: true });
    const { slots, cachedTokens } = added(m.addSequence(7, range(6)));
    // Fresh pool hands out block 0 then 1: positions 0..3 → slots 0..3, 4..5 → slots 4..5.
    expect(slots).toEqual([0, 1, 2, 3, 4, 5]);
    expect(cachedTokens).toBe(0);
    expect(appended(m.append(7, 50))).toEqual({ slot: 6, cow: null });
    expect(appended(m.append(7, 51))).toEqual({ slot: 7, cow: null });
    expect(appended(m.append(7, 52))).toEqual({ slot: 8, cow: null }); // block 2 opened
    expect(m.blockTable(7)).toEqual([0, 1, 2]);
    expect(m.drainEvents()).toEqual([
      { kind: 'kv.alloc', seq: 7, blocks: [0, 1] },
      { kind: 'kv.alloc', seq: 7, blocks: [2] },
    ]);
    expect(m.drainEvents()).toEqual([]);
  });

  it('four parallel samples share the prompt blocks and copy-on-write exactly three times', () => {
    // 40-token prompt at blockSize 16: full blocks 0 and 1, and block 2 holding 8 tokens.
    const m = new BlockManager({ nBlocks: 16, blockSize: 16, checked: true });
    added(m.addSequence(0, range(40)));
    for (const child of [1, 2, 3]) m.fork(0, child);
    expect([0, 1, 2].map((b) => m.refCount(b))).toEqual([4, 4, 4]); // prompt held once, ref 4
    expect(m.numFreeBlocks).toBe(13);
    m.drainEvents();
    // Each append goes to partial block 2. While it has > 1 holder an append must copy it: the first
    // appender sees ref 4 → copy (ref 3), the second ref 3 → copy (ref 2), the third ref 2 → copy (ref 1);
    // the fourth is now the only holder and writes in place. So exactly 3 COWs, none on the full blocks.
    const cows = [0, 1, 2, 3].map((seq) => appended(m.append(seq, 100 + seq)).cow);
    expect(cows).toEqual([{ from: 2, to: 3 }, { from: 2, to: 4 }, { from: 2, to: 5 }, null]);
    expect(m.drainEvents().filter((e) => e.kind === 'kv.cow')).toHaveLength(3);
    expect([0, 1, 2].map((b) => m.refCount(b))).toEqual([4, 4, 1]);
    expect(m.blockTable(3)).toEqual([0, 1, 2]);
    expect(m.blockTable(0)).toEqual([0, 1, 3]);
    // A second round of appends copies nothing: every last block is now private.
    for (const seq of [0, 1, 2, 3]) expect(appended(m.append(seq, 7)).cow).toBeNull();
    expect(m.tokens(1)).toEqual([...range(40), 101, 7]);
  });

  it('reuses cached full blocks for a shared prefix, never the block of the last token', () => {
    const m = new BlockManager({ nBlocks: 16, blockSize: 16, checked: true });
    const prompt = range(37);
    const a = added(m.addSequence(1, prompt));
    const b = added(m.addSequence(2, prompt));
    expect(a.cachedTokens).toBe(0);
    expect(b.cachedTokens).toBe(32); // two full blocks shared, the 5-token tail recomputed
    expect(b.slots.slice(0, 32)).toEqual(a.slots.slice(0, 32));
    expect(b.slots[32]).not.toBe(a.slots[32]);
    expect(m.drainEvents()).toContainEqual({ kind: 'kv.share', seq: 2, blocks: [0, 1], from: 'prefix-cache' });
    // A 32-token prompt ends exactly on a block boundary: its last token sits in block 1, which must be
    // computed, so only block 0 is reused.
    expect(added(m.addSequence(3, range(32))).cachedTokens).toBe(16);
    expect(m.blockTable(3)[0]).toBe(0);
    expect(m.blockTable(3)[1]).not.toBe(1);
    // Same ids after a different first block: no reuse (the key chains through the parent).
    expect(added(m.addSequence(4, [99, ...range(36, 4)])).cachedTokens).toBe(0);
  });

  it('revives blocks of a freed sequence from the cache', () => {
    const m = new BlockManager({ nBlocks: 8, blockSize: 4, checked: true });
    added(m.addSequence(1, range(10)));
    const table = m.blockTable(1);
    expect(m.free(1)).toBe(3);
    expect(m.numCachedBlocks).toBe(2); // the two full blocks keep their keys
    expect(m.numFreeBlocks).toBe(6);
    const again = added(m.addSequence(2, range(10)));
    expect(again.cachedTokens).toBe(8);
    expect(m.blockTable(2).slice(0, 2)).toEqual(table.slice(0, 2));
    expect(m.numCachedBlocks).toBe(0);
  });

  it('no-space leaves the state untouched', () => {
    const m = new BlockManager({ nBlocks: 3, blockSize: 4, checked: true });
    added(m.addSequence(1, range(8)));
    m.drainEvents();
    const before = m.snapshot();
    expect(m.addSequence(2, range(9, 50))).toEqual({ ok: false, reason: 'no-space', needBlocks: 3 });
    expect(m.snapshot()).toEqual(before);
    expect(m.has(2)).toBe(false);
    added(m.addSequence(2, [5])); // block 2: the pool is now full
    m.fork(2, 3); // block 2 shared and not full
    m.drainEvents();
    const full = m.snapshot();
    expect(m.append(2, 6)).toEqual({ ok: false, reason: 'no-space' }); // COW needs a block: none
    expect(m.snapshot()).toEqual(full);
    expect(m.tokens(2)).toEqual([5]);
    expect(m.drainEvents()).toEqual([]);
    m.free(1); // blocks 0 and 1 become cached (evictable)
    expect(appended(m.append(2, 6)).cow).toEqual({ from: 2, to: 1 }); // evicts 1 (tail first)
    expect(appended(m.append(3, 6)).cow).toBeNull(); // 3 now holds block 2 alone
  });

  it('evicts cached blocks least recently freed first, a sequence tail before its head', () => {
    const m = new BlockManager({ nBlocks: 4, blockSize: 2, checked: true });
    added(m.addSequence(1, [3, 4, 5, 6, 7])); // blocks 0, 1 full; 2 partial
    added(m.addSequence(2, [8, 9])); // block 3: full, so it gets a prefix key
    m.free(1); // 0, 1 cached (1 before 0), 2 free
    m.free(2); // 3 cached after them
    expect(m.snapshot().cached).toEqual([1, 0, 3]);
    expect(m.numFreeBlocks).toBe(1);
    added(m.addSequence(3, [20, 21, 22, 23, 24])); // needs 3: free block 2, then evicts 1 and 0
    expect(m.blockTable(3)).toEqual([2, 1, 0]);
    expect(m.snapshot().cached).toEqual([3]);
    m.free(3); // block 0 (partial) → free; then 1, 2 cached after 3
    expect(m.snapshot().cached).toEqual([3, 1, 2]);
    expect(added(m.addSequence(4, [8, 9, 1])).cachedTokens).toBe(2); // block 3 revived
    expect(m.blockTable(4)).toEqual([3, 0]);
    added(m.addSequence(5, [30, 31, 32])); // no free block: evicts 1, then 2
    expect(m.blockTable(5)).toEqual([1, 2]);
    expect(m.numCachedBlocks).toBe(0);
  });

  it('keeps every invariant over thousands of random operations', () => {
    const rng = new Rng(2024);
    const int = (lo: number, hi: number): number => lo + Math.floor(rng.next() * (hi - lo + 1));
    let ops = 0;
    let cows = 0;
    let hits = 0;
    for (let round = 0; round < 12; round++) {
      const blockSize = int(1, 32);
      const m = new BlockManager({ nBlocks: int(1, 40), blockSize, prefixCaching: rng.next() < 0.85 });
      const live: number[] = [];
      let nextSeq = 0;
      // Prompts drawn from a few shared stems so prefix hits and duplicates really happen.
      const stems = Array.from({ length: 3 }, () => Array.from({ length: int(1, 3 * blockSize) }, () => int(3, 6)));
      for (let i = 0; i < 200; i++, ops++) {
        const r = rng.next();
        const pick = (): number => live[int(0, live.length - 1)]!;
        if (r < 0.25 || live.length === 0) {
          const stem = stems[int(0, 2)]!;
          const prompt = [...stem.slice(0, int(0, stem.length)), ...Array.from({ length: int(1, 8) }, () => int(3, 6))];
          const res = m.addSequence(nextSeq, prompt);
          if (!('ok' in res)) {
            live.push(nextSeq);
            if (res.cachedTokens > 0) hits++;
            expect(res.cachedTokens).toBeLessThan(prompt.length);
          }
          nextSeq++;
        } else if (r < 0.7) {
          const res = m.append(pick(), int(3, 6));
          if (!('ok' in res) && res.cow !== null) cows++;
        } else if (r < 0.8) {
          m.fork(pick(), nextSeq);
          live.push(nextSeq++);
        } else if (r < 0.92) {
          const s = live.splice(int(0, live.length - 1), 1)[0]!;
          m.free(s);
        } else {
          const s = live.splice(int(0, live.length - 1), 1)[0]!;
          m.preempt(s);
        }
        m.check();
        m.drainEvents();
      }
    }
    expect(ops).toBeGreaterThanOrEqual(2000);
    expect(cows).toBeGreaterThan(10); // the walk really exercised copy-on-write and the prefix cache
    expect(hits).toBeGreaterThan(10);
  });

  it('a pending token holds its slot; the block it fills enters the prefix cache only once the token is named', () => {
    const m = new BlockManager({ nBlocks: 8, blockSize: 4, checked: true });
    added(m.addSequence(1, range(7))); // blocks 0 (full) and 1 (3 of 4)
    const p = appended(m.appendPending(1));
    expect(p.slot).toBe(1 * 4 + 3);
    expect(m.hasPending(1)).toBe(true);
    expect(m.tokens(1).at(-1)).toBe(-1);
    expect(() => m.append(1, 5)).toThrow(/pending/);
    expect(() => m.appendPending(1)).toThrow(/pending/);
    expect(() => m.fork(1, 2)).toThrow(/pending/);
    // Full but unnamed: a prompt with the same 8 tokens cannot hit it yet (block 0 only; the last token is always computed).
    expect(m.planAdd([...range(7), 10, 11]).cachedTokens).toBe(4);
    m.resolvePending(1, 10);
    expect(m.hasPending(1)).toBe(false);
    expect(m.tokens(1)).toEqual([...range(7), 10]);
    expect(m.planAdd([...range(7), 10, 11]).cachedTokens).toBe(8);
    expect(m.planAdd([...range(7), 9, 11]).cachedTokens).toBe(4);
    expect(() => m.resolvePending(1, 12)).toThrow(/no pending/);
    // Freed while pending (a stop token landed): the block is not cached, and the pool is whole again.
    appended(m.appendPending(1));
    m.free(1);
    expect(m.numAllocatableBlocks).toBe(8);
    expect(m.planAdd([...range(7), 10, 11]).cachedTokens).toBe(8);
  });

  it('the checker catches corrupted state', () => {
    const make = (): BlockManager => {
      const m = new BlockManager({ nBlocks: 8, blockSize: 4 });
      added(m.addSequence(1, range(6)));
      m.fork(1, 2);
      m.check();
      return m;
    };
    let m = make();
    m.tamperForTests({ block: 0, ref: 1 });
    expect(() => m.check()).toThrow(/block 0: ref count 1 but 2 block-table references \(invariant\)/);
    m = make();
    m.tamperForTests({ block: 1, token: { offset: 0, value: 99 } });
    expect(() => m.check()).toThrow(/seq 1: block 1 \(logical 1\) holds \[99,8\]/);
    m = make();
    m.tamperForTests({ block: 0, pushFree: true });
    expect(() => m.check()).toThrow(/block 0 is free but referenced 2 times/);
    m = make();
    m.tamperForTests({ block: 5, pushFree: true });
    expect(() => m.check()).toThrow(/block 5 is on the free list twice/);
  });
});
