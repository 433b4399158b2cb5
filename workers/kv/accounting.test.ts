import { describe, expect, it } from 'vitest';
import { contiguousAccounting, kvAccounting } from './accounting.ts';
import { BlockManager } from './block-manager.ts';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => 3 + i);

describe('kvAccounting', () => {
  it('counts reserved, live, fragmentation and sharing by hand', () => {
    // blockSize 4, 10 bytes per token. Seq 1: 10 tokens → blocks A, B full, C holding 2.
    // Fork seq 2 (shares A, B, C: ref 2), then seq 2 appends → copy C into D (3 tokens).
    const m = new BlockManager({ nBlocks: 8, blockSize: 4 });
    m.addSequence(1, range(10));
    m.fork(1, 2);
    m.append(2, 50);
    // In use: A, B (ref 2), C (ref 1, 2 tokens), D (ref 1, 3 tokens) = 4 blocks = 16 slots = 160 bytes.
    // Live: 4 + 4 + 2 + 3 = 13 tokens = 130 bytes; fragmentation 2 + 1 slots = 30 bytes.
    // Shared: A and B; saved: each would be held twice → 2 blocks × 4 slots × 10 bytes = 80.
    expect(kvAccounting(m, 10)).toEqual({
      reservedBytes: 160,
      liveBytes: 130,
      fragmentationBytes: 30,
      sharedBlocks: 2,
      savedBytesBySharing: 80,
    });
    m.free(1); // C → free; A, B keep ref 1 through seq 2
    expect(kvAccounting(m, 10)).toEqual({
      reservedBytes: 120,
      liveBytes: 110,
      fragmentationBytes: 10,
      sharedBlocks: 0,
      savedBytesBySharing: 0,
    });
  });

  it('contiguous baseline reserves maxSeqLen per sequence', () => {
    // 3 sequences of 10, 100, 0 tokens under maxSeqLen 128 at 2 bytes per token.
    expect(contiguousAccounting([10, 100, 0], 128, 2)).toEqual({
      reservedBytes: 768,
      liveBytes: 220,
      fragmentationBytes: 548,
      sharedBlocks: 0,
      savedBytesBySharing: 0,
    });
    expect(() => contiguousAccounting([129], 128, 2)).toThrow(/maxSeqLen/);
    expect(() => kvAccounting(new BlockManager({ nBlocks: 1 }), 0)).toThrow(/bytesPerToken/);
  });
});
