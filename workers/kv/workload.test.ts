import { describe, expect, it } from 'vitest';
import { generateWorkload, replayKv, type Workload } from './workload.ts';

const maxSeqLen = 512;
const bytesPerToken = 2 * 4 * 4 * 64 * 4; // K+V × nLayers 4 × nKvHeads 4 × headDim 64 × f32
// The budget of the acceptance runs: room for 8 sequences of maxSeqLen, so contiguous admits 8.
const budgetBytes = 8 * maxSeqLen * bytesPerToken;

describe('generateWorkload', () => {
  it('is deterministic for a seed and differs for another', () => {
    expect(generateWorkload({ seed: 7 })).toEqual(generateWorkload({ seed: 7 }));
    expect(generateWorkload({ seed: 8 }).requests).not.toEqual(generateWorkload({ seed: 7 }).requests);
  });

  it('has 64 requests, shared prefixes, bounded prompts and long-tailed outputs', () => {
    const w = generateWorkload({ seed: 1, vocabSize: 300 });
    expect(w.requests).toHaveLength(64);
    for (const r of w.requests) {
      expect(r.prompt.length).toBeGreaterThanOrEqual(8);
      expect(r.prompt.length).toBeLessThanOrEqual(200);
      expect(r.prompt.length + r.output.length).toBeLessThanOrEqual(maxSeqLen);
      expect(r.output.length).toBeGreaterThanOrEqual(1);
      for (const t of [...r.prompt, ...r.output]) expect(t >= 3 && t < 300 && Number.isInteger(t)).toBe(true);
    }
    // Requests whose first 20 tokens equal another's: they share a system prompt (random ids never collide).
    const heads = w.requests.map((r) => r.prompt.slice(0, 20).join(','));
    const sharing = heads.filter((h) => heads.indexOf(h) !== heads.lastIndexOf(h)).length;
    expect(sharing).toBeGreaterThan(20);
    expect(sharing).toBeLessThan(45);
    const outs = w.requests.map((r) => r.output.length).sort((a, b) => a - b);
    const median = outs[32]!;
    expect(outs[63]! / median).toBeGreaterThan(3); // long tail
    expect(outs[0]! * 3).toBeLessThan(median);
  });
});

describe('replayKv', () => {
  it('meets the acceptance figures at block size 16 on three seeds', () => {
    for (const seed of [1, 2, 3]) {
      const r = replayKv(generateWorkload({ seed }), { blockSize: 16, maxSeqLen, bytesPerToken, budgetBytes });
      expect(r.paged.utilization).toBeGreaterThanOrEqual(0.95);
      expect(r.contiguous.utilization).toBeLessThan(0.6);
      expect(r.contiguous.admittedAtBudget).toBe(8);
      expect(r.paged.admittedAtBudget).toBeGreaterThanOrEqual(2 * r.contiguous.admittedAtBudget);
      // Not only at a peak: averaged over the iterations with requests waiting, paged still holds ≥ 2×.
      expect(r.paged.meanRunning).toBeGreaterThanOrEqual(2 * r.contiguous.admittedAtBudget);
      expect(r.cachedPromptTokens).toBeGreaterThan(0); // the shared system prompts were reused
      expect(r.preemptions).toBeGreaterThan(0); // the pool was really the bottleneck
    }
  });

  it('utilization is exactly 1 at block size 1 and falls as blocks grow', () => {
    const w = generateWorkload({ seed: 4 });
    const u = [1, 8, 16, 32].map(
      (blockSize) => replayKv(w, { blockSize, maxSeqLen, bytesPerToken, budgetBytes }).paged.utilization,
    );
    expect(u[0]).toBe(1);
    expect(u[1]!).toBeLessThan(1);
    expect(u[2]!).toBeLessThan(u[1]!);
    expect(u[3]!).toBeLessThan(u[2]!);
  });

  it('keeps the block manager consistent through admission, preemption and finish (checked)', () => {
    const w = generateWorkload({ seed: 5, nRequests: 12, meanInterArrival: 0 });
    const r = replayKv(w, { blockSize: 8, maxSeqLen, bytesPerToken: 1, budgetBytes: 2 * maxSeqLen, checked: true });
    expect(r.preemptions).toBeGreaterThan(0);
    expect(r.iterations).toBeGreaterThan(Math.max(...w.requests.map((q) => q.output.length)));
  });

  it('rejects a pool smaller than one sequence and a request longer than the context', () => {
    const w = generateWorkload({ seed: 1, nRequests: 2 });
    expect(() => replayKv(w, { blockSize: 16, maxSeqLen, bytesPerToken: 1, budgetBytes: 500 })).toThrow(/pool-too-small/);
    const long: Workload = { ...w, requests: [{ id: 0, arrival: 0, prompt: [3], output: new Array<number>(600).fill(3) }] };
    expect(() => replayKv(long, { blockSize: 16, maxSeqLen, bytesPerToken: 1, budgetBytes })).toThrow(/bad-option/);
  });
});
