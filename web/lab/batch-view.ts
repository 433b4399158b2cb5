// The Lab's batch view as a pure reduction over trace events: for each request the Lab submitted, its state
// (waiting / running / preempted / finished), its streamed text, and which iterations it took part in and
// how (a prefill chunk or a decode token) — enough to draw the requests side by side and a timeline of the
// batch. Imports only trace types.

import type { BatchMember, TraceEvent } from '../../workers/engine/trace.ts';

export type RequestState = 'waiting' | 'running' | 'preempted' | 'finished';

export interface BatchRequestView {
  id: number;
  prompt: string;
  state: RequestState;
  reason: string | null; // why it finished
  text: string;
  tokens: number;
  ids: number[]; // generated token ids, in order
  preemptions: number;
}

/** One iteration as the timeline draws it: who ran, and how. */
export interface BatchIteration {
  iteration: number;
  members: Pick<BatchMember, 'seq' | 'phase' | 'tokens'>[];
  ms: number | null;
}

export interface BatchView {
  requests: BatchRequestView[]; // in submission order
  iterations: BatchIteration[]; // the most recent `keep`, oldest first
  largestBatch: number;
}

export const EMPTY_BATCH: BatchView = { requests: [], iterations: [], largestBatch: 0 };

/** A newly submitted request, waiting for the loop. */
export function addRequest(view: BatchView, id: number, prompt: string): BatchView {
  return { ...view, requests: [...view.requests, { id, prompt, state: 'waiting', reason: null, text: '', tokens: 0, ids: [], preemptions: 0 }] };
}

/** Folds a batch of trace events into the view; events about other sequences are ignored. */
export function applyEvents(view: BatchView, events: readonly TraceEvent[], keep = 80): BatchView {
  const byId = new Map(view.requests.map((r) => [r.id, r] as const));
  if (byId.size === 0) return view;
  const changed = new Map<number, BatchRequestView>();
  const get = (seq: number) => changed.get(seq) ?? byId.get(seq);
  let iterations = view.iterations;
  let largest = view.largestBatch;
  for (const e of events) {
    if (e.kind === 'iteration.begin' && e.batch && e.batch.some((m) => byId.has(m.seq))) {
      const members = e.batch.map(({ seq, phase, tokens }) => ({ seq, phase, tokens }));
      iterations = [...iterations, { iteration: e.iteration, members, ms: null }];
      largest = Math.max(largest, members.length);
    } else if (e.kind === 'iteration.end') {
      const last = iterations.at(-1);
      if (last && last.iteration === e.iteration && last.ms === null) iterations = [...iterations.slice(0, -1), { ...last, ms: e.ms }];
    } else if (e.kind === 'seq.state') {
      const r = get(e.seq);
      if (!r || r.state === 'finished') continue;
      changed.set(e.seq, { ...r, state: e.state, reason: e.reason ?? null, preemptions: r.preemptions + (e.state === 'preempted' ? 1 : 0) });
    } else if (e.kind === 'token') {
      const r = get(e.seq);
      if (!r) continue;
      changed.set(e.seq, { ...r, text: r.text + e.text, tokens: r.tokens + 1, ids: [...r.ids, e.tokenId] });
    }
  }
  if (changed.size === 0 && iterations === view.iterations) return view;
  return {
    requests: view.requests.map((r) => changed.get(r.id) ?? r),
    iterations: iterations.length > keep ? iterations.slice(-keep) : iterations,
    largestBatch: largest,
  };
}

/** Splits the prompt box into requests: one per non-empty line, trimmed. */
export function parsePrompts(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}
