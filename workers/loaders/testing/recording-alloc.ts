// Test-only: an allocator that records every call, so tests can prove that nothing is allocated before
// validation passes (and how large each allocation was). Imports only the Allocator type.

import type { Allocator } from '../safetensors.ts';

export interface AllocCall {
  name: string;
  elements: number;
}

export interface RecordingAllocator {
  alloc: Allocator;
  calls: AllocCall[];
  /** The largest single allocation so far, in bytes (0 when none). */
  maxBytes(): number;
}

export function recordingAllocator(): RecordingAllocator {
  const calls: AllocCall[] = [];
  return {
    calls,
    alloc: (name, elements) => {
      calls.push({ name, elements });
      return new Float32Array(elements);
    },
    maxBytes: () => calls.reduce((m, c) => Math.max(m, 4 * c.elements), 0),
  };
}
