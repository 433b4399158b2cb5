// Live statistics of a run, folded from its trace events (iteration.begin/end, token), and the load
// progress bar's numbers folded from load.progress events. Pure data in, data out: no DOM, no comlink.

import type { GenerationStats } from '../../workers/api.ts';
import type { LoadProgressEvent, TraceEvent } from '../../workers/engine/trace.ts';

/** Running sums over one run's iterations. Iteration 0 is the prefill; every later one decodes. */
export interface StatsAcc {
  prefillTokens: number;
  prefillMs: number | null; // null until the prefill iteration ends
  prefillDispatches: number;
  prefillSubmits: number;
  decodeIterations: number;
  decodeMs: number;
  decodeDispatches: number;
  decodeSubmits: number;
  generatedTokens: number;
  /** The phase of the iteration in flight, from its iteration.begin. */
  current: { iteration: number; phase: 'prefill' | 'decode'; nTokens: number } | null;
}

export const EMPTY_STATS: StatsAcc = {
  prefillTokens: 0,
  prefillMs: null,
  prefillDispatches: 0,
  prefillSubmits: 0,
  decodeIterations: 0,
  decodeMs: 0,
  decodeDispatches: 0,
  decodeSubmits: 0,
  generatedTokens: 0,
  current: null,
};

export function accumulateStats(acc: StatsAcc, events: readonly TraceEvent[]): StatsAcc {
  const next = { ...acc };
  for (const e of events) {
    if (e.kind === 'iteration.begin') {
      next.current = { iteration: e.iteration, phase: e.phase, nTokens: e.nTokens };
    } else if (e.kind === 'iteration.end' && next.current?.iteration === e.iteration) {
      if (next.current.phase === 'prefill') {
        next.prefillTokens = next.current.nTokens;
        next.prefillMs = e.ms;
        next.prefillDispatches = e.dispatches;
        next.prefillSubmits = e.submits;
      } else {
        next.decodeIterations += 1;
        next.decodeMs += e.ms;
        next.decodeDispatches += e.dispatches;
        next.decodeSubmits += e.submits;
      }
      next.current = null;
    } else if (e.kind === 'token') {
      next.generatedTokens += 1;
    }
  }
  return next;
}

/** What the stats panel shows; null where there is nothing to measure yet. */
export interface StatsView {
  promptTokens: number | null;
  generatedTokens: number;
  ttftMs: number | null;
  prefillTokensPerSec: number | null;
  decodeTokensPerSec: number | null;
  dispatchesPerToken: number | null;
  submitsPerToken: number | null;
}

/** Live view: the prefill iteration's time stands in for time to first token (the engine's own figure replaces it at the end). */
export function liveStats(acc: StatsAcc): StatsView {
  const d = acc.decodeIterations;
  // Before any decode iteration, the prefill's counts are the only per-token cost there is.
  const perToken = (decodeSum: number, prefill: number): number | null => (d > 0 ? decodeSum / d : acc.prefillMs !== null ? prefill : null);
  return {
    promptTokens: acc.prefillMs !== null ? acc.prefillTokens : null,
    generatedTokens: acc.generatedTokens,
    ttftMs: acc.prefillMs,
    prefillTokensPerSec: acc.prefillMs ? (acc.prefillTokens / acc.prefillMs) * 1000 : null,
    decodeTokensPerSec: d > 0 && acc.decodeMs > 0 ? (d / acc.decodeMs) * 1000 : null,
    dispatchesPerToken: perToken(acc.decodeDispatches, acc.prefillDispatches),
    submitsPerToken: perToken(acc.decodeSubmits, acc.prefillSubmits),
  };
}

/** The engine's final figures, in the same shape. */
export function finalStats(s: GenerationStats): StatsView {
  const decoded = s.msPerToken.length > 0;
  return {
    promptTokens: s.promptTokens,
    generatedTokens: s.generatedTokens,
    ttftMs: s.ttftMs,
    prefillTokensPerSec: s.prefillTokensPerSec || null,
    decodeTokensPerSec: decoded ? s.decodeTokensPerSec : null,
    dispatchesPerToken: decoded ? s.dispatchesPerToken : null,
    submitsPerToken: decoded ? s.submitsPerToken : null,
  };
}

/** The progress bar: bytes summed over the files of the latest phase. */
export interface LoadProgressView {
  phase: LoadProgressEvent['phase'];
  file: string; // the file of the latest event
  loadedBytes: number;
  totalBytes: number | null; // null when any file's size is unknown
  /** 0..1, or null when the total is unknown. */
  fraction: number | null;
}

export interface ProgressAcc {
  phase: LoadProgressEvent['phase'] | null;
  file: string;
  files: Record<string, { loaded: number; total: number | null }>;
}

export const EMPTY_PROGRESS: ProgressAcc = { phase: null, file: '', files: {} };

export function accumulateProgress(acc: ProgressAcc, events: readonly TraceEvent[]): ProgressAcc {
  let next = acc;
  for (const e of events) {
    if (e.kind !== 'load.progress') continue;
    const files = e.phase === next.phase ? { ...next.files } : {};
    files[e.file] = { loaded: e.loadedBytes, total: e.totalBytes };
    next = { phase: e.phase, file: e.file, files };
  }
  return next;
}

export function progressView(acc: ProgressAcc): LoadProgressView | null {
  if (acc.phase === null) return null;
  const all = Object.values(acc.files);
  const loadedBytes = all.reduce((s, f) => s + f.loaded, 0);
  const totalBytes = all.some((f) => f.total === null) ? null : all.reduce((s, f) => s + (f.total ?? 0), 0);
  const fraction = totalBytes ? Math.min(1, loadedBytes / totalBytes) : null;
  return { phase: acc.phase, file: acc.file, loadedBytes, totalBytes, fraction };
}
