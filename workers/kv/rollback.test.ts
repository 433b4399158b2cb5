import { describe, expect, it } from 'vitest';
import { Rng } from '../sampling/rng.ts';
import { BlockManager, type AddResult, type TruncateResult } from './block-manager.ts';
import { KvError } from './errors.ts';

const range = (n: number, from = 3): number[] => Array.from({ length: n }, (_, i) => from + i);

function added(r: AddResult): { slots: number[]; cachedTokens: number } {
  if ('ok' in r) throw new Error(`expected success, got no-space (need ${r.needBlocks})`);
  return r;
}
function truncated(r: TruncateResult): { released: number; cow: { from: number; to: number } | null } {
  if ('ok' in r) throw new Error('expected success, got no-space');
  return r;
}

describe('BlockManager.truncate (speculative rollback)', () => {
  it('drops rejected draft tokens: tail blocks released, the cut block shortened in place', () => {
    const m = new BlockManager({ nBlocks: 8, blockSize: 4, checked: true });
    const prompt = range(10); // blocks 0 (full), 1 (full), 2 (2 of 4)
    added(m.addSequence(1, prompt));
    for (const t of [50, 51, 52, 53, 54]) m.append(1, t); // 5 drafts: block 2 fills up, block 3 opens
    expect(m.blockTable(1)).toEqual([0, 1, 2, 3]);
    m.drainEvents();
    // The target kept one draft: 11 tokens stay. Block 3 goes back to the pool, block 2 keeps 3 slots.
    expect(truncated(m.truncate(1, 11))).toEqual({ released: 1, cow: null });
    expect(m.tokens(1)).toEqual([...prompt, 50]);
    expect(m.blockTable(1)).toEqual([0, 1, 2]);
    expect(m.filled(2)).toBe(3);
    expect(m.drainEvents()).toEqual([{ kind: 'kv.free', seq: 1, blocks: [3], reason: 'truncate' }]);
    expect(m.append(1, 60)).toEqual({ slot: 2 * 4 + 3, cow: null }); // the next token reuses slot 3 of block 2
    // Block 2 was full with [8, 9, 50, 51] before the rollback; it must no longer serve that prefix.
    expect(added(m.addSequence(2, [...prompt, 50, 51, 52])).cachedTokens).toBe(8);
  });

  it('keeps released full blocks in the prefix cache, like free()', () => {
    const m = new BlockManager({ nBlocks: 6, blockSize: 2, checked: true });
    added(m.addSequence(1, range(6)));
    expect(truncated(m.truncate(1, 2))).toEqual({ released: 2, cow: null });
    expect(m.numCachedBlocks).toBe(2);
    expect(added(m.addSequence(2, range(7))).cachedTokens).toBe(6); // blocks 1 and 2 revived
    expect(truncated(m.truncate(2, 7))).toEqual({ released: 0, cow: null }); // nothing to drop
  });

  it('copies a shared block the cut falls inside, and never touches the other holders', () => {
    const m = new BlockManager({ nBlocks: 4, blockSize: 4, checked: true });
    added(m.addSequence(1, range(8))); // blocks 0, 1 full
    m.fork(1, 2);
    m.drainEvents();
    const r = truncated(m.truncate(2, 6));
    expect(r).toEqual({ released: 0, cow: { from: 1, to: 2 } });
    expect(m.blockTable(2)).toEqual([0, 2]);
    expect(m.filled(2)).toBe(2);
    expect(m.tokens(1)).toEqual(range(8)); // seq 1 still holds block 1 whole
    expect(m.refCount(1)).toBe(1);
    // No tail was dropped (the cut is inside the last block), so no kv.free; one copy.
    expect(m.drainEvents()).toEqual([
      { kind: 'kv.alloc', seq: 2, blocks: [2] },
      { kind: 'kv.cow', seq: 2, from: 1, to: 2 },
    ]);
    // A cut on a block boundary never copies: it only drops the reference.
    m.fork(1, 3);
    expect(truncated(m.truncate(3, 4))).toEqual({ released: 0, cow: null });
    expect(m.refCount(1)).toBe(1);
  });

  it('refuses a copy it has no block for, changing nothing', () => {
    const m = new BlockManager({ nBlocks: 2, blockSize: 4, checked: true });
    added(m.addSequence(1, range(8))); // the whole pool
    m.fork(1, 2);
    m.drainEvents();
    const before = m.snapshot();
    expect(m.truncate(2, 6)).toEqual({ ok: false, reason: 'no-space' });
    expect(m.snapshot()).toEqual(before);
    expect(m.tokens(2)).toEqual(range(8));
    expect(m.drainEvents()).toEqual([]);
    m.free(1); // now the copy can take a block
    expect(truncated(m.truncate(2, 6)).cow).toBeNull(); // seq 2 holds block 1 alone: shortened in place
  });

  it('validates its arguments with typed errors', () => {
    const m = new BlockManager({ nBlocks: 4, blockSize: 4 });
    added(m.addSequence(1, range(5)));
    expect(() => m.truncate(9, 1)).toThrow(/no-such-seq/);
    for (const n of [0, -1, 1.5, 6, NaN]) expect(() => m.truncate(1, n)).toThrow(KvError);
    expect(() => m.truncate(1, 0)).toThrow(/bad-option/);
  });

  it('keeps every invariant over thousands of random operations mixed with rollbacks and pending tokens', () => {
    const rng = new Rng(77);
    const int = (lo: number, hi: number): number => lo + Math.floor(rng.next() * (hi - lo + 1));
    let ops = 0;
    let truncates = 0;
    let cows = 0;
    let refused = 0;
    let resolved = 0;
    for (let round = 0; round < 16; round++) {
      const blockSize = int(1, 8);
      const nBlocks = int(2, 24);
      const m = new BlockManager({ nBlocks, blockSize, prefixCaching: round % 4 !== 3, checked: true });
      const model = new Map<number, number[]>(); // seq → its tokens, kept independently of the manager
      let nextSeq = 0;
      const stems = Array.from({ length: 3 }, () => Array.from({ length: int(1, 3 * blockSize) }, () => int(3, 5)));
      const live = (): number[] => [...model.keys()];
      const pick = (): number => {
        const seqs = live();
        return seqs[int(0, seqs.length - 1)]!;
      };
      for (let i = 0; i < 250; i++, ops++) {
        const r = rng.next();
        if (r < 0.2 || model.size === 0) {
          const stem = stems[int(0, 2)]!;
          const prompt = [...stem.slice(0, int(0, stem.length)), ...Array.from({ length: int(1, 6) }, () => int(3, 5))];
          if (!('ok' in m.addSequence(nextSeq, prompt))) model.set(nextSeq, prompt);
          nextSeq++;
        } else if (r < 0.5) {
          // An append, or the pipelined engine's two halves of one: a pending slot now, its id later
          // (other operations may come between).
          const s = pick();
          const t = int(3, 5);
          const toks = model.get(s)!;
          if (toks.at(-1) === -1) {
            m.resolvePending(s, t);
            toks[toks.length - 1] = t;
            resolved++;
          } else if (rng.next() < 0.5) {
            if (!('ok' in m.appendPending(s))) toks.push(-1);
          } else if (!('ok' in m.append(s, t))) toks.push(t);
        } else if (r < 0.58) {
          const s = pick();
          if (model.get(s)!.at(-1) === -1) {
            expect(() => m.fork(s, nextSeq)).toThrow(KvError);
            continue;
          }
          m.fork(s, nextSeq);
          model.set(nextSeq++, [...model.get(s)!]);
        } else if (r < 0.85) {
          // A rollback: usually a few draft tokens, sometimes deep into the prompt (shared blocks).
          const s = pick();
          const len = model.get(s)!.length;
          const n = rng.next() < 0.7 ? Math.max(1, len - int(0, 4)) : int(1, len);
          const allocBefore = m.numAllocatableBlocks;
          const before = m.snapshot();
          const res = m.truncate(s, n);
          truncates++;
          if ('ok' in res) {
            refused++;
            expect(m.snapshot()).toEqual(before);
          } else {
            model.get(s)!.length = n;
            if (res.cow !== null) {
              cows++;
              expect(m.refCount(res.cow.from)).toBeGreaterThanOrEqual(1);
              expect(m.refCount(res.cow.to)).toBe(1);
            }
            // Every released block became allocatable; a copy took one.
            expect(m.numAllocatableBlocks - allocBefore).toBe(res.released - (res.cow === null ? 0 : 1));
          }
        } else if (r < 0.95) {
          const s = pick();
          m.free(s);
          model.delete(s);
        } else {
          const s = pick();
          m.preempt(s);
          model.delete(s);
        }
        m.check();
        m.drainEvents();
        expect(m.sequences().sort((a, b) => a - b)).toEqual(live().sort((a, b) => a - b));
        for (const [s, toks] of model) {
          expect(m.tokens(s)).toEqual(toks);
          expect(m.blockTable(s)).toHaveLength(Math.ceil(toks.length / blockSize));
        }
      }
      for (const s of live()) m.free(s);
      m.check();
      expect(m.numAllocatableBlocks).toBe(nBlocks); // the whole pool is back: free or cached
      expect(m.snapshot().refCounts.every((c) => c === 0)).toBe(true);
    }
    expect(ops).toBe(16 * 250);
    expect(truncates).toBeGreaterThan(800);
    expect(cows).toBeGreaterThan(10); // cuts inside shared blocks really happened
    expect(refused).toBeGreaterThan(0); // and some had no block for the copy
    expect(resolved).toBeGreaterThan(50); // pending tokens were named after other operations
  });
});

describe('BlockManager.relabel', () => {
  it('renames placed tokens in the sequence and its blocks, keeping every invariant', () => {
    const m = new BlockManager({ nBlocks: 8, blockSize: 4, prefixCaching: false, checked: true });
    added(m.addSequence(1, range(3)));
    for (let i = 0; i < 4; i++) m.append(1, 0); // drafted slots, ids not known yet
    m.relabel(1, 3, [50, 51, 52]);
    expect(m.tokens(1)).toEqual([3, 4, 5, 50, 51, 52, 0]);
    m.check();
  });

  it('refuses with prefix caching, on a shared block, and out of range', () => {
    const cached = new BlockManager({ nBlocks: 8, blockSize: 4, checked: true });
    added(cached.addSequence(1, range(3)));
    expect(() => cached.relabel(1, 0, [9])).toThrow(KvError);
    const m = new BlockManager({ nBlocks: 8, blockSize: 4, prefixCaching: false, checked: true });
    added(m.addSequence(1, range(6)));
    m.fork(1, 2);
    expect(() => m.relabel(1, 5, [9])).toThrow(/shared/);
    expect(() => m.relabel(1, 5, [9, 9])).toThrow(/relabel positions/);
    expect(m.tokens(2)).toEqual(range(6));
  });
});
