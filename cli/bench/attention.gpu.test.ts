import { afterEach, describe, expect, it, vi } from 'vitest';
import { benchAttention, type AttentionBenchCase } from './attention.ts';
import { UsageError } from '../args.ts';

describe('bench attention', () => {
  afterEach(() => vi.restoreAllMocks());

  it('times every shape × context × batch and prints JSON whose paged and contiguous outputs agree', async () => {
    let stdout = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
    const argv = ['--json', '--contexts', '40,17', '--batches', '1,3', '--runs', '1', '--iterations', '1', '--block-size', '7'];
    expect(await benchAttention(argv)).toBe(0);
    const result = JSON.parse(stdout) as { blockSize: number; cases: AttentionBenchCase[]; device: { vendor: string } };
    expect(result.blockSize).toBe(7);
    expect(result.cases.map((c) => `${c.shape}@${c.context}x${c.batch}`)).toEqual([
      '32/8x128@40x1', '32/8x128@40x3', '32/8x128@17x1', '32/8x128@17x3',
      '8/2x32@40x1', '8/2x32@40x3', '8/2x32@17x1', '8/2x32@17x3',
    ]);
    for (const c of result.cases) {
      expect(c.maxAbsDiff, JSON.stringify(c)).toBeLessThanOrEqual(1e-5);
      expect(c.contiguousUs).toBeGreaterThan(0);
      expect(c.pagedUs).toBeGreaterThan(0);
      expect(c.ratio).toBeCloseTo(c.pagedUs / c.contiguousUs, 1);
    }
  });

  it('rejects bad flags with a UsageError', async () => {
    await expect(benchAttention(['--block-size', '129'])).rejects.toBeInstanceOf(UsageError);
    await expect(benchAttention(['--contexts', '0'])).rejects.toBeInstanceOf(UsageError);
    await expect(benchAttention(['--runs', '0'])).rejects.toBeInstanceOf(UsageError);
  });
});
