// EngineSession: the UI's one handle on the engine. Checks WebGPU on the page, starts the engine Worker,
// wraps it with comlink, and keeps what the UI shows (capability report, GEMV check, recent trace) as runes.
// Imports only comlink and types from workers/api.ts and workers/engine/trace.ts — never gpu/ or engine internals.

import * as Comlink from 'comlink';
import type { CapabilityReport, EngineApi, GemvCheck } from '../../workers/api.ts';
import type { TraceEvent } from '../../workers/engine/trace.ts';
import { browserEnv, type EngineConnection, type SessionEnv } from './engine-connection.ts';
import { missingWebGpu, WEBGPU_HELP } from './webgpu-help.ts';

export type { EngineConnection, SessionEnv } from './engine-connection.ts';

export type SessionStatus = 'idle' | 'probing' | 'ready' | 'unavailable' | 'error';

/** How many trace events the UI keeps for display. */
const RECENT_EVENTS = 200;

export class EngineSession {
  #status = $state<SessionStatus>('idle');
  #report = $state.raw<CapabilityReport | null>(null);
  #gemv = $state.raw<GemvCheck | null>(null);
  #gemvRunning = $state(false);
  #error = $state<string | null>(null);
  #events = $state.raw<TraceEvent[]>([]);
  readonly #env: SessionEnv;
  #connection: EngineConnection | null = null;

  constructor(env: SessionEnv = browserEnv()) {
    this.#env = env;
  }

  get status(): SessionStatus {
    return this.#status;
  }
  get report(): CapabilityReport | null {
    return this.#report;
  }
  get gemv(): GemvCheck | null {
    return this.#gemv;
  }
  get gemvRunning(): boolean {
    return this.#gemvRunning;
  }
  get error(): string | null {
    return this.#error;
  }
  get events(): TraceEvent[] {
    return this.#events;
  }
  /** The engine, once WebGPU is known to work; null before that. */
  get engine(): EngineApi | null {
    return this.#status === 'ready' ? (this.#connection?.engine ?? null) : null;
  }

  /** Checks WebGPU here first (no Worker for a browser that cannot run it), then asks the engine. */
  async probe(): Promise<void> {
    if (this.#status === 'probing') return;
    this.#status = 'probing';
    this.#error = null;
    const missing = missingWebGpu(this.#env.secureContext, this.#env.hasWebGpu);
    if (missing) {
      this.#report = { ok: false, code: missing, message: WEBGPU_HELP[missing].title };
      this.#status = 'unavailable';
      return;
    }
    try {
      this.#connection ??= this.#env.connect();
      const { engine } = this.#connection;
      await engine.subscribe(Comlink.proxy((batch: TraceEvent[]) => this.#receive(batch)));
      const report = await engine.capabilities();
      this.#report = report;
      this.#status = report.ok ? 'ready' : 'unavailable';
    } catch (err) {
      this.#error = `The engine failed to start: ${(err as Error).message}`;
      this.#status = 'error';
    }
  }

  /** Runs the GEMV smoke test in the engine. */
  async runGemvCheck(rows: number, cols: number, seed: number): Promise<void> {
    const engine = this.engine;
    if (!engine || this.#gemvRunning) return;
    this.#gemvRunning = true;
    this.#error = null;
    try {
      this.#gemv = await engine.runGemvCheck(rows, cols, seed);
    } catch (err) {
      this.#gemv = null;
      this.#error = `The GEMV check failed to run: ${(err as Error).message}`;
    } finally {
      this.#gemvRunning = false;
    }
  }

  #receive(batch: TraceEvent[]): void {
    this.#events = [...this.#events, ...batch].slice(-RECENT_EVENTS);
  }

  dispose(): void {
    this.#connection?.terminate();
    this.#connection = null;
    this.#status = 'idle';
  }
}
