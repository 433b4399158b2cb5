import { describe, expect, it } from 'vitest';
import type { TraceEvent } from '../../workers/engine/trace.ts';
import { accumulateProgress, accumulateStats, EMPTY_PROGRESS, EMPTY_STATS, finalStats, liveStats, progressView } from './run-stats.ts';

const iteration = (i: number, phase: 'prefill' | 'decode', nTokens: number, ms: number, dispatches: number, submits: number): TraceEvent[] => [
  { kind: 'iteration.begin', iteration: i, phase, nTokens, pos0: 0 },
  { kind: 'iteration.end', iteration: i, ms, dispatches, submits },
  { kind: 'token', seq: 0, position: nTokens + i, tokenId: 7 + i, text: 'x', prob: 1 },
];

describe('live stats', () => {
  it('shows nothing measured before the prefill ends', () => {
    const s = liveStats(accumulateStats(EMPTY_STATS, [{ kind: 'iteration.begin', iteration: 0, phase: 'prefill', nTokens: 5, pos0: 0 }]));
    expect(s).toEqual({ promptTokens: null, generatedTokens: 0, ttftMs: null, prefillTokensPerSec: null, decodeTokensPerSec: null, dispatchesPerToken: null, submitsPerToken: null });
  });

  it('uses the prefill for TTFT and prefill speed, and decode iterations for the per-token figures', () => {
    let acc = accumulateStats(EMPTY_STATS, iteration(0, 'prefill', 5, 50, 60, 1));
    expect(liveStats(acc)).toMatchObject({ promptTokens: 5, ttftMs: 50, prefillTokensPerSec: 100, decodeTokensPerSec: null, dispatchesPerToken: 60, generatedTokens: 1 });
    // Batches arrive in any split: two decode iterations, in two batches.
    acc = accumulateStats(acc, iteration(1, 'decode', 1, 10, 40, 1).slice(0, 1));
    acc = accumulateStats(acc, [...iteration(1, 'decode', 1, 10, 40, 1).slice(1), ...iteration(2, 'decode', 1, 30, 42, 3)]);
    expect(liveStats(acc)).toEqual({ promptTokens: 5, generatedTokens: 3, ttftMs: 50, prefillTokensPerSec: 100, decodeTokensPerSec: 50, dispatchesPerToken: 41, submitsPerToken: 2 });
  });

  it('ignores an iteration.end without its begin (a batch from before this run)', () => {
    const acc = accumulateStats(EMPTY_STATS, [{ kind: 'iteration.end', iteration: 3, ms: 9, dispatches: 9, submits: 9 }]);
    expect(acc).toEqual(EMPTY_STATS);
  });

  it('takes the engine’s final figures, blanking per-token ones when nothing was decoded', () => {
    const base = { promptTokens: 4, generatedTokens: 1, ttftMs: 12, prefillTokensPerSec: 333, decodeTokensPerSec: 0, dispatchesPerToken: 0, submitsPerToken: 0, msPerToken: [] };
    expect(finalStats(base)).toMatchObject({ decodeTokensPerSec: null, dispatchesPerToken: null, prefillTokensPerSec: 333 });
    expect(finalStats({ ...base, msPerToken: [2], decodeTokensPerSec: 500, dispatchesPerToken: 38 })).toMatchObject({ decodeTokensPerSec: 500, dispatchesPerToken: 38 });
  });
});

describe('load progress', () => {
  const progress = (file: string, loadedBytes: number, totalBytes: number | null, phase: 'download' | 'parse' | 'upload'): TraceEvent => ({ kind: 'load.progress', file, loadedBytes, totalBytes, phase });

  it('sums the bytes of every file in the latest phase', () => {
    const acc = accumulateProgress(EMPTY_PROGRESS, [progress('a', 10, 100, 'download'), progress('b', 5, 50, 'download'), progress('a', 40, 100, 'download')]);
    expect(progressView(acc)).toEqual({ phase: 'download', file: 'a', loadedBytes: 45, totalBytes: 150, fraction: 0.3 });
  });

  it('starts over when the phase changes, and has no fraction without a total', () => {
    let acc = accumulateProgress(EMPTY_PROGRESS, [progress('a', 10, 100, 'download'), progress('model', 0, 200, 'parse')]);
    expect(progressView(acc)).toMatchObject({ phase: 'parse', loadedBytes: 0, totalBytes: 200, fraction: 0 });
    acc = accumulateProgress(acc, [progress('x', 7, null, 'upload')]);
    expect(progressView(acc)).toMatchObject({ phase: 'upload', loadedBytes: 7, totalBytes: null, fraction: null });
    expect(progressView(EMPTY_PROGRESS)).toBeNull();
  });
});
