import { describe, expect, it } from 'vitest';
import { SchedError } from './errors.ts';
import { percentile, servingMetrics, stats, tpotOf, type RequestTimeline } from './metrics.ts';

describe('percentile', () => {
  it('interpolates linearly between closest ranks, as numpy.percentile', () => {
    const x = [15, 20, 35, 40, 50];
    // numpy.percentile([15, 20, 35, 40, 50], [0, 40, 50, 90, 100]) = [15, 29, 35, 46, 50]
    expect(percentile(x, 0)).toBe(15);
    expect(percentile(x, 40)).toBeCloseTo(29, 12);
    expect(percentile(x, 50)).toBe(35);
    expect(percentile(x, 90)).toBeCloseTo(46, 12);
    expect(percentile(x, 100)).toBe(50);
    expect(percentile([4, 1, 3, 2], 50)).toBe(2.5); // sorts; even count → midpoint
    expect(percentile([7], 99)).toBe(7);
  });

  it('rejects no values and q outside [0, 100]', () => {
    expect(() => percentile([], 50)).toThrow(SchedError);
    expect(() => percentile([1], 101)).toThrow(/percentile q/);
  });

  it('stats of nothing are zeros with count 0', () => {
    expect(stats([])).toEqual({ count: 0, mean: 0, p50: 0, p90: 0, p99: 0 });
    expect(stats([1, 2, 3, 4]).mean).toBe(2.5);
  });
});

describe('servingMetrics', () => {
  // Request 0: arrives 0, tokens at 100, 110, 130 → TTFT 100, TPOT (130 − 0 − 100) / 2 = 15, ITL 10, 20.
  // Request 1: arrives 50, one token at 250 → TTFT 200, no TPOT, no ITL.
  // Request 2: arrives 100, tokens at 150, 200 → TTFT 50, TPOT 50, ITL 50.
  const timelines: RequestTimeline[] = [
    { id: 0, arrivalMs: 0, tokenMs: [100, 110, 130], finishMs: 130 },
    { id: 1, arrivalMs: 50, tokenMs: [250], finishMs: 250 },
    { id: 2, arrivalMs: 100, tokenMs: [150, 200], finishMs: 200 },
  ];
  const iterations = [
    { startMs: 0, ms: 100, batchSize: 1, tokens: 40 },
    { startMs: 100, ms: 10, batchSize: 3, tokens: 3 },
  ];

  it('computes TTFT, TPOT, ITL, e2e, throughput and batch size by their definitions', () => {
    const m = servingMetrics(timelines, iterations);
    expect(m.completed).toBe(3);
    expect(m.outputTokens).toBe(6);
    expect(m.durationMs).toBe(250);
    expect(m.requestThroughput).toBeCloseTo(12, 12); // 3 / 0.25 s
    expect(m.outputThroughput).toBeCloseTo(24, 12);
    expect(m.ttftMs.mean).toBeCloseTo(350 / 3, 12);
    expect(m.ttftMs.p50).toBe(100);
    expect(m.tpotMs.count).toBe(2);
    expect(m.tpotMs.mean).toBe(32.5);
    expect(m.itlMs.count).toBe(3);
    expect(m.itlMs.p50).toBe(20);
    expect(m.e2eMs.p50).toBe(130);
    expect(m.goodput).toBeNull();
    expect(m.batchSize).toEqual({ mean: 2, max: 3 });
    expect(tpotOf(timelines[1]!)).toBeNull();
  });

  it('goodput counts requests meeting both the TTFT and TPOT SLO, per second', () => {
    // TTFT ≤ 150 and TPOT ≤ 20: request 0 only (1 has TTFT 200; 2 has TPOT 50).
    expect(servingMetrics(timelines, iterations, { ttftMs: 150, tpotMs: 20 }).goodput).toBeCloseTo(4, 12);
    // A one-token request meets any TPOT SLO.
    expect(servingMetrics(timelines, iterations, { ttftMs: 1000, tpotMs: 1 }).goodput).toBeCloseTo(4, 12);
  });

  it('rejects timelines without tokens or going back in time', () => {
    expect(() => servingMetrics([{ id: 9, arrivalMs: 0, tokenMs: [], finishMs: 1 }], [])).toThrow(/at least one token/);
    expect(() => servingMetrics([{ id: 9, arrivalMs: 0, tokenMs: [5, 4], finishMs: 5 }], [])).toThrow(/must not decrease/);
  });
});
