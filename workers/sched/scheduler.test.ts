import { describe, expect, it } from 'vitest';
import { SchedError } from './errors.ts';
import {
  ContinuousBatching,
  createScheduler,
  SlaAware,
  StaticBatching,
  type BlockView,
  type RunningSeq,
  type WaitingRequest,
} from './scheduler.ts';

const BS = 4; // block size of the fake pool

/** A fake pool: `free` blocks; running ids hold `held[id]` tokens, anything else is a waiting request. */
function pool(free: number, held: Record<number, number> = {}): BlockView {
  return {
    free,
    blockSize: BS,
    blocksFor: ({ id }, n) => {
      const h = held[id];
      return h === undefined ? Math.ceil(n / BS) : Math.ceil((h + n) / BS) - Math.ceil(h / BS);
    },
    releasable: ({ id }) => Math.ceil((held[id] ?? 0) / BS),
  };
}

const req = (id: number, arrivalMs: number, promptLen: number, extra: Partial<WaitingRequest> = {}): WaitingRequest => ({
  id,
  arrivalMs,
  prompt: Array.from({ length: promptLen }, (_, i) => 3 + i),
  maxTokens: 10,
  ...extra,
});

/** A running sequence that finished prefill (decoding) unless `prefillDone` says otherwise. */
const run = (id: number, arrivalMs: number, promptLen: number, extra: Partial<RunningSeq> = {}): RunningSeq => ({
  id,
  arrivalMs,
  promptLen,
  prefillDone: promptLen,
  generated: 1,
  maxTokens: 10,
  priority: 0,
  ...extra,
});

describe('ContinuousBatching', () => {
  it('decodes every prefilled sequence and chunks a long prompt within the token budget', () => {
    const s = new ContinuousBatching({ maxBatchSize: 4, tokenBudget: 32 });
    const d = s.schedule({ nowMs: 0, waiting: [req(2, 0, 100)], running: [run(1, 0, 8)], blocks: pool(100, { 1: 9 }) });
    expect(d).toEqual({ admit: [2], prefill: [{ id: 2, nTokens: 31 }], decode: [1], preempt: [] });
    // Next iteration: the rest of the prompt continues in chunks; nothing new is admitted while it wants the budget.
    const d2 = s.schedule({
      nowMs: 30,
      waiting: [req(3, 10, 4)],
      running: [run(1, 0, 8), run(2, 0, 100, { prefillDone: 31, generated: 0 })],
      blocks: pool(70, { 1: 10, 2: 100 }),
    });
    expect(d2).toEqual({ admit: [], prefill: [{ id: 2, nTokens: 31 }], decode: [1], preempt: [] });
  });

  it('admits first-come first-served: a request that does not fit blocks those behind it', () => {
    const s = new ContinuousBatching({ maxBatchSize: 8, tokenBudget: 64 });
    // 40 tokens = 10 blocks + 1 of headroom > 8 free; the 4-token request behind it would fit but must wait.
    const d = s.schedule({ nowMs: 0, waiting: [req(1, 0, 40), req(2, 1, 4)], running: [run(9, 0, 4)], blocks: pool(8, { 9: 5 }) });
    expect(d.admit).toEqual([]);
    // Ties on arrival go by id, whatever order the queue lists them in.
    const e = s.schedule({ nowMs: 0, waiting: [req(5, 0, 4), req(4, 0, 4)], running: [], blocks: pool(100) });
    expect(e.admit).toEqual([4, 5]);
  });

  it('respects maxBatchSize', () => {
    const s = new ContinuousBatching({ maxBatchSize: 2, tokenBudget: 64 });
    const d = s.schedule({ nowMs: 0, waiting: [req(1, 0, 4), req(2, 0, 4)], running: [run(9, 0, 4)], blocks: pool(100, { 9: 5 }) });
    expect(d.admit).toEqual([1]);
  });

  it('preempts the youngest when decode cannot get a block', () => {
    const s = new ContinuousBatching({ maxBatchSize: 4, tokenBudget: 64 });
    // Both hold 8 tokens (full blocks): each needs a fresh block to decode, only one is free.
    const d = s.schedule({
      nowMs: 0,
      waiting: [],
      running: [run(1, 0, 7), run(2, 5, 7)],
      blocks: pool(1, { 1: 8, 2: 8 }),
    });
    expect(d).toEqual({ admit: [], prefill: [], decode: [1], preempt: [2] });
  });
});

describe('StaticBatching', () => {
  it('never admits while a batch runs, even with room', () => {
    const s = new StaticBatching({ maxBatchSize: 4 });
    const d = s.schedule({ nowMs: 0, waiting: [req(2, 1, 4)], running: [run(1, 0, 4)], blocks: pool(100, { 1: 5 }) });
    expect(d).toEqual({ admit: [], prefill: [], decode: [1], preempt: [] });
  });

  it('fills an empty batch up to maxBatchSize and prefills whole prompts at once', () => {
    const s = new StaticBatching({ maxBatchSize: 2 });
    const d = s.schedule({ nowMs: 0, waiting: [req(1, 0, 900), req(2, 1, 5), req(3, 2, 5)], running: [], blocks: pool(1000) });
    expect(d).toEqual({ admit: [1, 2], prefill: [{ id: 1, nTokens: 900 }, { id: 2, nTokens: 5 }], decode: [], preempt: [] });
    expect(s.tokenBudget).toBe(Infinity);
  });
});

describe('SlaAware', () => {
  it('admits by priority, then deadline, then arrival', () => {
    const s = new SlaAware({ maxBatchSize: 2, tokenBudget: 64 });
    const waiting = [req(1, 0, 4), req(2, 1, 4, { priority: 1 }), req(3, 2, 4, { priority: 1, deadlineMs: 5000 })];
    expect(s.schedule({ nowMs: 0, waiting, running: [], blocks: pool(100) }).admit).toEqual([3, 2]);
  });

  const full = { nowMs: 100, running: [run(1, 0, 12), run(2, 10, 12)], blocks: pool(0, { 1: 13, 2: 13 }) };

  it('preempts the least important running sequence for a request whose TTFT deadline is at risk', () => {
    const s = new SlaAware({ maxBatchSize: 4, tokenBudget: 64 });
    // Prefill of 8 tokens ≈ 20.4 ms; deadline 30 ms away < 2 × 20.4: at risk. 8 tokens need 2 blocks + 1 headroom:
    // preempting sequence 2 (youngest of priority 0) returns its 4 blocks; sequence 1 keeps decoding.
    const urgent = req(7, 90, 8, { priority: 1, deadlineMs: 130 });
    expect(s.atRisk(urgent, 100)).toBe(true);
    const d = s.schedule({ ...full, waiting: [urgent] });
    expect(d.preempt).toEqual([2]);
    expect(d.admit).toEqual([7]);
    expect(d.prefill).toEqual([{ id: 7, nTokens: 8 }]);
    expect(d.decode).toEqual([1]); // 13 tokens held: its 14th fits its last block
    // Continuous batching, same state: no room, so nobody is admitted and nobody preempted for the newcomer.
    const c = new ContinuousBatching({ maxBatchSize: 4, tokenBudget: 64 }).schedule({ ...full, waiting: [urgent] });
    expect(c.admit).toEqual([]);
  });

  it('does not preempt when the deadline is far, or for a request of equal priority', () => {
    const s = new SlaAware({ maxBatchSize: 4, tokenBudget: 64 });
    const relaxed = req(7, 90, 8, { priority: 1, deadlineMs: 10_000 });
    const running = [run(1, 0, 12), run(2, 10, 12)];
    const blocks = pool(2, { 1: 12, 2: 12 }); // each needs one decode block: 2 free, 0 left for admission
    expect(s.schedule({ nowMs: 100, waiting: [relaxed], running, blocks })).toEqual({ admit: [], prefill: [], decode: [1, 2], preempt: [] });
    const peer = req(8, 90, 8, { priority: 0, deadlineMs: 101 });
    expect(s.schedule({ nowMs: 100, waiting: [peer], running, blocks }).preempt).toEqual([]);
  });

  it('is deterministic', () => {
    const s = createScheduler('sla', { maxBatchSize: 3, tokenBudget: 16 });
    const state = { nowMs: 0, waiting: [req(3, 0, 20, { priority: 2 }), req(1, 0, 20, { priority: 2 })], running: [], blocks: pool(100) };
    expect(s.schedule(state)).toEqual(s.schedule(state));
    expect(s.schedule(state).prefill).toEqual([{ id: 1, nTokens: 16 }]);
  });
});

describe('options', () => {
  it('rejects a bad batch size, token budget or risk factor', () => {
    expect(() => new ContinuousBatching({ maxBatchSize: 0 })).toThrow(SchedError);
    expect(() => new ContinuousBatching({ maxBatchSize: 8, tokenBudget: 4 })).toThrow(/tokenBudget/);
    expect(() => new StaticBatching({ maxBatchSize: 1.5 })).toThrow(/maxBatchSize/);
    expect(() => new SlaAware({ riskFactor: 0 })).toThrow(/riskFactor/);
  });
});
