// KV memory accounting: bytes reserved, bytes holding live tokens, internal fragmentation and the bytes
// sharing saves — for the paged block manager and for a contiguous baseline that reserves maxSeqLen
// for every sequence. Pure; imports only the block manager's type and the error.

import type { BlockManager } from './block-manager.ts';
import { KvError } from './errors.ts';

export interface KvAccounting {
  reservedBytes: number; // blocks in use × blockSize × bytesPerToken (cached ref-0 blocks are reclaimable: not counted)
  liveBytes: number; // slots holding a token, a shared token counted once
  fragmentationBytes: number; // reserved but empty slots (paged: the tails of last blocks)
  sharedBlocks: number; // blocks in use with more than one holder
  savedBytesBySharing: number; // what the holders would reserve with private copies, minus what they do
}

/** bytesPerToken: K and V over all layers, e.g. 2 × nLayers × nKvHeads × headDim × 4 for f32. */
export function kvAccounting(manager: BlockManager, bytesPerToken: number): KvAccounting {
  checkBytesPerToken(bytesPerToken);
  const bs = manager.blockSize;
  let usedBlocks = 0;
  let liveSlots = 0;
  let sharedBlocks = 0;
  let extraRefs = 0;
  for (let b = 0; b < manager.nBlocks; b++) {
    const ref = manager.refCount(b);
    if (ref === 0) continue;
    usedBlocks++;
    liveSlots += manager.filled(b);
    if (ref > 1) sharedBlocks++;
    extraRefs += ref - 1;
  }
  const reservedBytes = usedBlocks * bs * bytesPerToken;
  const liveBytes = liveSlots * bytesPerToken;
  return {
    reservedBytes,
    liveBytes,
    fragmentationBytes: reservedBytes - liveBytes,
    sharedBlocks,
    savedBytesBySharing: extraRefs * bs * bytesPerToken,
  };
}

/** The same figures for a cache that reserves maxSeqLen slots per sequence and shares nothing. */
export function contiguousAccounting(seqLens: readonly number[], maxSeqLen: number, bytesPerToken: number): KvAccounting {
  checkBytesPerToken(bytesPerToken);
  if (!Number.isInteger(maxSeqLen) || maxSeqLen < 1) {
    throw new KvError('bad-option', `maxSeqLen must be a positive integer, got ${maxSeqLen}`);
  }
  let live = 0;
  for (const len of seqLens) {
    if (!Number.isInteger(len) || len < 0 || len > maxSeqLen) {
      throw new KvError('bad-option', `sequence length ${len} is not an integer in 0..maxSeqLen (${maxSeqLen})`);
    }
    live += len;
  }
  const reservedBytes = seqLens.length * maxSeqLen * bytesPerToken;
  const liveBytes = live * bytesPerToken;
  return { reservedBytes, liveBytes, fragmentationBytes: reservedBytes - liveBytes, sharedBlocks: 0, savedBytesBySharing: 0 };
}

function checkBytesPerToken(bytesPerToken: number): void {
  if (!Number.isFinite(bytesPerToken) || bytesPerToken <= 0) {
    throw new KvError('bad-option', `bytesPerToken must be a positive number, got ${bytesPerToken}`);
  }
}
