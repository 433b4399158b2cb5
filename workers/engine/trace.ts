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

/**
 * A sequence dropped its references to these blocks: it finished, was preempted to be recomputed, or was
 * truncated (speculative decoding rolled back rejected positions; `blocks` are then the dropped tail).
 */
export interface KvFreeEvent {
  kind: 'kv.free';
  seq: number;
  blocks: number[]; // the sequence's whole block table, in order (for a truncate: the blocks past the cut)
  reason: 'finish' | 'preempt' | 'truncate';
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

/** Speculative decoding: the draft proposed these tokens (q: the draft's probability of each). */
export interface SpecDraftEvent {
  kind: 'spec.draft';
  seq: number;
  round: number;
  pos0: number; // position of the first draft token
  tokens: { token: number; q: number }[];
  ms: number;
}

/**
 * Speculative decoding: the target scored the round's γ draft tokens in one pass. Per tested position: the
 * token, p and q of it, the uniform u drawn (accept when u < min(1, p/q)) and the verdict; then the tokens
 * the round emitted (accepted drafts and one resampled or bonus token) and, after a rejection, the top of
 * the residual distribution the replacement was drawn from.
 */
export interface SpecVerifyEvent {
  kind: 'spec.verify';
  seq: number;
  round: number;
  pos0: number;
  gamma: number;
  positions: { position: number; token: number; p: number; q: number; u: number; accepted: boolean }[];
  accepted: number;
  emitted: number[];
  residualTop?: { token: number; prob: number }[];
  ms: number;
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
  | KvSnapshotEvent
  | SpecDraftEvent
  | SpecVerifyEvent;

export type TraceKind = TraceEvent['kind'];

/** Receives events in batches (the worker sends at most one batch per animation frame). */
export type TraceSink = (events: TraceEvent[]) => void;

export type { GpuCapabilities };
