import { describe, expect, it } from 'vitest';
import { addRequest, applyEvents, EMPTY_BATCH, parsePrompts } from './batch-view.ts';
import type { TraceEvent } from '../../workers/engine/trace.ts';

describe('batch view', () => {
  it('follows each submitted request through its states, text and iterations', () => {
    let v = addRequest(addRequest(EMPTY_BATCH, 3, 'Once'), 4, 'Lily');
    const events: TraceEvent[] = [
      { kind: 'seq.state', seq: 3, state: 'waiting' },
      { kind: 'seq.state', seq: 3, state: 'running' },
      { kind: 'iteration.begin', iteration: 0, phase: 'prefill', nTokens: 3, pos0: 0, batch: [{ seq: 3, phase: 'prefill', tokens: 3, pos0: 0 }] },
      { kind: 'iteration.end', iteration: 0, ms: 5, dispatches: 10, submits: 1 },
      { kind: 'token', seq: 3, position: 3, tokenId: 9, text: ' upon', prob: 1 },
      { kind: 'seq.state', seq: 4, state: 'running' },
      { kind: 'iteration.begin', iteration: 1, phase: 'prefill', nTokens: 4, pos0: 0, batch: [{ seq: 4, phase: 'prefill', tokens: 3, pos0: 0 }, { seq: 3, phase: 'decode', tokens: 1, pos0: 3 }] },
      { kind: 'token', seq: 3, position: 4, tokenId: 10, text: ' a', prob: 1 },
      { kind: 'token', seq: 99, position: 4, tokenId: 10, text: 'not ours', prob: 1 },
      { kind: 'seq.state', seq: 4, state: 'preempted' },
      { kind: 'seq.state', seq: 3, state: 'finished', reason: 'max-tokens' },
      { kind: 'seq.state', seq: 3, state: 'running' }, // nothing moves a finished request
    ];
    v = applyEvents(v, events);
    expect(v.requests.map((r) => [r.id, r.state, r.text, r.tokens, r.preemptions])).toEqual([
      [3, 'finished', ' upon a', 2, 0],
      [4, 'preempted', '', 0, 1],
    ]);
    expect(v.requests[0]!.reason).toBe('max-tokens');
    expect(v.requests[0]!.ids).toEqual([9, 10]);
    expect(v.iterations.map((i) => [i.iteration, i.members.length, i.ms])).toEqual([
      [0, 1, 5],
      [1, 2, null],
    ]);
    expect(v.largestBatch).toBe(2);
  });

  it('keeps only the most recent iterations, and ignores batches of other sequences', () => {
    let v = addRequest(EMPTY_BATCH, 1, 'x');
    const it = (i: number, seq: number): TraceEvent => ({ kind: 'iteration.begin', iteration: i, phase: 'decode', nTokens: 1, pos0: 0, batch: [{ seq, phase: 'decode', tokens: 1, pos0: i }] });
    v = applyEvents(v, [it(0, 7), ...Array.from({ length: 10 }, (_, i) => it(i + 1, 1))], 4);
    expect(v.iterations.map((i) => i.iteration)).toEqual([7, 8, 9, 10]);
    expect(applyEvents(EMPTY_BATCH, [it(0, 1)])).toBe(EMPTY_BATCH);
  });

  it('splits the prompt box into one request per non-empty line', () => {
    expect(parsePrompts('  Once upon a time\n\nLily and Ben \n')).toEqual(['Once upon a time', 'Lily and Ben']);
    expect(parsePrompts('\n \n')).toEqual([]);
  });
});
