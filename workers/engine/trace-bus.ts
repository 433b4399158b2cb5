// The trace bus: collects engine events and hands them to subscribers in batches — at most one batch per
// animation frame (or per ~16 ms where a Worker has no requestAnimationFrame). Keeps a bounded log of the
// run for export (the CLI's --trace). Pure; no DOM beyond the optional rAF.

import type { TraceEvent, TraceSink } from './trace.ts';

const FRAME_MS = 16;

export class TraceBus {
  readonly #sinks: TraceSink[] = [];
  #pending: TraceEvent[] = [];
  #scheduled = false;
  /** Every event since the last clearLog(), for export; capped to keep memory bounded. */
  readonly log: TraceEvent[] = [];
  readonly #maxLog: number;

  constructor(maxLog = 200_000) {
    this.#maxLog = maxLog;
  }

  subscribe(sink: TraceSink): void {
    this.#sinks.push(sink);
  }

  emit(event: TraceEvent): void {
    if (this.log.length < this.#maxLog) this.log.push(event);
    if (this.#sinks.length === 0) return;
    this.#pending.push(event);
    if (!this.#scheduled) {
      this.#scheduled = true;
      const raf = (globalThis as { requestAnimationFrame?: (cb: () => void) => number }).requestAnimationFrame;
      if (raf) raf(() => this.flush());
      else setTimeout(() => this.flush(), FRAME_MS);
    }
  }

  /** Delivers pending events now (end of a run, so nothing waits for the next frame). */
  flush(): void {
    this.#scheduled = false;
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    for (const sink of this.#sinks) sink(batch);
  }

  clearLog(): void {
    this.log.length = 0;
  }
}
