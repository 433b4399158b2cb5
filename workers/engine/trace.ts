// The trace: one typed stream of engine events, a discriminated union on `kind`, each kind with its own
// payload. Plain JSON-serializable data: exported, replayed without a GPU, asserted on in tests.
// Imports nothing but types.

import type { GpuCapabilities } from '../../gpu/device.ts';

export interface LoadProgressEvent {
  kind: 'load.progress';
  file: string;
  loadedBytes: number;
  totalBytes: number | null; // null when the server sent no length
  phase: 'download' | 'cache' | 'parse' | 'upload';
}

export interface LoadDoneEvent {
  kind: 'load.done';
  model: string;
  parameters: number;
  weightBytes: number;
  ms: number;
}

export interface IterationBeginEvent {
  kind: 'iteration.begin';
  iteration: number;
  phase: 'prefill' | 'decode';
  /** Tokens the forward pass runs over (prefill: the prompt; decode: 1, or the whole prefix without a KV cache). */
  nTokens: number;
  pos0: number;
  /** Serving (several sequences per pass): who is in this iteration's batch, and with how many tokens. */
  batch?: BatchMember[];
}

/** One sequence's share of a batched iteration: a prefill chunk, or its one decode token. */
export interface BatchMember {
  seq: number;
  phase: 'prefill' | 'decode';
  tokens: number;
  pos0: number; // position of its first token in this pass
}

export interface IterationEndEvent {
  kind: 'iteration.end';
  iteration: number;
  ms: number; // wall time of the iteration, forward pass and sampling
  dispatches: number;
  submits: number;
}

export interface TokenEvent {
  kind: 'token';
  seq: number;
  position: number;
  tokenId: number;
  text: string; // this token's piece of decoded text
  /** Probability the sampler gave the chosen token after temperature/top-k/top-p (1 when greedy). */
  prob: number;
}

export interface SeqStateEvent {
  kind: 'seq.state';
  seq: number;
  state: 'waiting' | 'running' | 'preempted' | 'finished';
  reason?: 'eos' | 'max-tokens' | 'stopped' | 'error';
}

export interface KernelTimingEvent {
  kind: 'kernel.timing';
  name: string;
  us: number;
  source: 'timestamp' | 'cpu';
}

export interface DeviceLostEvent {
  kind: 'device.lost';
  reason: string;
  message: string;
}

export interface ErrorEvent {
  kind: 'error';
  code: string;
  message: string;
}

/** KV blocks newly allocated to a sequence (prompt blocks, a block for a new token, a copy-on-write target). */
export interface KvAllocEvent {
  kind: 'kv.alloc';
  seq: number;
  blocks: number[]; // physical block ids
}

/** A sequence dropped its references to these blocks (it finished, or was preempted to be recomputed). */
export interface KvFreeEvent {
  kind: 'kv.free';
  seq: number;
  blocks: number[]; // the sequence's whole block table, in order
  reason: 'finish' | 'preempt';
}

/** A sequence took references to existing blocks: a cached prefix, or its parent's blocks on fork. */
export interface KvShareEvent {
  kind: 'kv.share';
  seq: number;
  blocks: number[];
  from: 'prefix-cache' | 'fork';
}

/** Copy-on-write: the sequence appended to a shared, not-full block; its KV is copied from → to. */
export interface KvCowEvent {
  kind: 'kv.cow';
  seq: number;
  from: number;
  to: number;
}

/** The whole block manager at one moment (one per iteration): enough to draw the pool. */
export interface KvSnapshotEvent {
  kind: 'kv.snapshot';
  blockSize: number;
  nBlocks: number;
  tables: { seq: number; blocks: number[] }[];
  refCounts: number[]; // [nBlocks]: references from block tables
  free: number[]; // never used or released without a prefix key
  cached: number[]; // ref 0 but keyed by prefix, evictable, least recently used first
}

export type TraceEvent =
  | LoadProgressEvent
  | LoadDoneEvent
  | IterationBeginEvent
  | IterationEndEvent
  | TokenEvent
  | SeqStateEvent
  | KernelTimingEvent
  | DeviceLostEvent
  | ErrorEvent
  | KvAllocEvent
  | KvFreeEvent
  | KvShareEvent
  | KvCowEvent
  | KvSnapshotEvent;

export type TraceKind = TraceEvent['kind'];

/** Receives events in batches (the worker sends at most one batch per animation frame). */
export type TraceSink = (events: TraceEvent[]) => void;

export type { GpuCapabilities };
