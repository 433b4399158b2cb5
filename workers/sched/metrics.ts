// Serving metrics as vLLM's benchmark_serving defines them, from per-request timelines and per-iteration
// records: TTFT, TPOT, ITL, end-to-end latency (mean/p50/p90/p99), throughput, goodput, batch size.
// Pure: imports nothing but its error type.

import { SchedError } from './errors.ts';

export interface RequestTimeline {
  id: number;
  arrivalMs: number;
  tokenMs: number[]; // when each output token was produced; tokenMs[0] is the first token
  finishMs: number; // when the request finished (its last token)
  priority?: number;
  preemptions?: number;
}

export interface IterationRecord {
  startMs: number;
  ms: number;
  batchSize: number; // sequences in the forward pass (decoding or prefilling)
  tokens: number; // tokens in the forward pass
}

export interface Stats {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
}

export interface Slo {
  ttftMs: number;
  tpotMs: number;
}

export interface ServingMetrics {
  completed: number;
  outputTokens: number;
  durationMs: number; // first arrival to last finish
  requestThroughput: number; // requests / s
  outputThroughput: number; // output tokens / s
  goodput: number | null; // requests meeting the SLO / s (null without an SLO)
  ttftMs: Stats;
  tpotMs: Stats; // requests with ≥ 2 output tokens
  itlMs: Stats; // every gap between consecutive tokens of a request, pooled
  e2eMs: Stats;
  batchSize: { mean: number; max: number };
}

/**
 * The q-th percentile (0..100) by linear interpolation between closest ranks, as numpy.percentile's
 * default: rank = q/100 × (n − 1), value = x[⌊rank⌋] + (x[⌈rank⌉] − x[⌊rank⌋]) × frac(rank) over sorted x.
 */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) throw new SchedError('bad-option', 'percentile of no values');
  if (!(q >= 0 && q <= 100)) throw new SchedError('bad-option', `percentile q must be in [0, 100], got ${q}`);
  const x = [...values].sort((a, b) => a - b);
  const rank = (q / 100) * (x.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return x[lo]! + (x[hi]! - x[lo]!) * (rank - lo);
}

/** count, mean and p50/p90/p99; all zero for no values (as vLLM reports an empty series). */
export function stats(values: readonly number[]): Stats {
  if (values.length === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0 };
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  return { count: values.length, mean, p50: percentile(values, 50), p90: percentile(values, 90), p99: percentile(values, 99) };
}

export const ttftOf = (t: RequestTimeline): number => t.tokenMs[0]! - t.arrivalMs;
export const e2eOf = (t: RequestTimeline): number => t.finishMs - t.arrivalMs;
/** Time per output token after the first: (e2e − ttft) / (outputTokens − 1); null for one-token outputs. */
export const tpotOf = (t: RequestTimeline): number | null =>
  t.tokenMs.length < 2 ? null : (e2eOf(t) - ttftOf(t)) / (t.tokenMs.length - 1);

export function servingMetrics(timelines: readonly RequestTimeline[], iterations: readonly IterationRecord[], slo?: Slo): ServingMetrics {
  for (const t of timelines) {
    if (t.tokenMs.length === 0) throw new SchedError('bad-request', `request ${t.id}: a timeline needs at least one token`);
    if (t.tokenMs.some((v, i) => i > 0 && v < t.tokenMs[i - 1]!) || t.tokenMs[0]! < t.arrivalMs || t.finishMs < t.tokenMs.at(-1)!) {
      throw new SchedError('bad-request', `request ${t.id}: timeline times must not decrease`);
    }
  }
  const outputTokens = timelines.reduce((s, t) => s + t.tokenMs.length, 0);
  const durationMs =
    timelines.length === 0 ? 0 : Math.max(...timelines.map((t) => t.finishMs)) - Math.min(...timelines.map((t) => t.arrivalMs));
  const perSec = (n: number): number => (durationMs > 0 ? (n * 1000) / durationMs : 0);
  const tpots = timelines.map(tpotOf).filter((v): v is number => v !== null);
  const itls = timelines.flatMap((t) => t.tokenMs.slice(1).map((v, i) => v - t.tokenMs[i]!));
  const good = slo === undefined ? null : timelines.filter((t) => ttftOf(t) <= slo.ttftMs && (tpotOf(t) ?? 0) <= slo.tpotMs).length;
  const sizes = iterations.map((r) => r.batchSize);
  return {
    completed: timelines.length,
    outputTokens,
    durationMs,
    requestThroughput: perSec(timelines.length),
    outputThroughput: perSec(outputTokens),
    goodput: good === null ? null : perSec(good),
    ttftMs: stats(timelines.map(ttftOf)),
    tpotMs: stats(tpots),
    itlMs: stats(itls),
    e2eMs: stats(timelines.map(e2eOf)),
    batchSize: {
      mean: sizes.length === 0 ? 0 : sizes.reduce((s, v) => s + v, 0) / sizes.length,
      max: sizes.length === 0 ? 0 : Math.max(...sizes),
    },
  };
}
