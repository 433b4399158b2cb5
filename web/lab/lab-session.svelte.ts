// LabSession: the Lab page's state and verbs — which model is loaded or loading (with byte progress and a
// cancel), the prompt and sampling settings, the streaming output of the current run and its live stats.
// Talks to the engine only through EngineApi (the comlink remote); imports comlink and types only.

import * as Comlink from 'comlink';
import type { EngineApi, GenerateParams, GenerationResult, ModelInfo, ModelSource } from '../../workers/api.ts';
import type { TraceEvent } from '../../workers/engine/trace.ts';
import { filesSource, parseSourceText } from './model-source.ts';
import {
  accumulateProgress,
  accumulateStats,
  EMPTY_PROGRESS,
  EMPTY_STATS,
  finalStats,
  liveStats,
  progressView,
  type LoadProgressView,
  type StatsAcc,
  type StatsView,
} from './run-stats.ts';
import { clampParams, DEFAULT_PARAMS } from './sampling-params.ts';
import { addRequest, applyEvents, EMPTY_BATCH, parsePrompts, type BatchView } from './batch-view.ts';

/** The batch panel's starting prompts: different lengths, so the requests join and leave at different times. */
export const DEFAULT_BATCH_PROMPTS = ['Once upon a time', 'The little dog', 'Lily and Ben went to the park. They saw a big tree and', 'One day'].join('\n');
/** Trace events kept for requests whose id is not known yet (submit's reply can trail their first events). */
const RECENT_EVENTS = 2000;

/** The model the Lab loads on opening: bundled with the app, so the Lab works offline at once. */
export const DEFAULT_MODEL_ID = 'decode-lab-target';
export const BUNDLED_MODELS = [
  { id: 'decode-lab-target', label: 'Decode Lab target (bundled)' },
  { id: 'decode-lab-draft', label: 'Decode Lab draft (bundled, smaller)' },
] as const;

/** An error as the page shows it: the engine's code and message. */
export interface LabError {
  code: string;
  message: string;
}

export interface OutputToken {
  id: number;
  text: string;
  position: number;
  prob: number;
}

/** idle: no run; running: generate/run in flight; stepping: one step in flight; paused: between steps. */
export type RunPhase = 'idle' | 'running' | 'stepping' | 'paused' | 'stopping';

/** What the session needs from the app: the engine once WebGPU works (EngineSession fits). */
export interface EngineHandle {
  readonly engine: EngineApi | null;
}

// How long a rejected load waits for its 'error' trace event (which carries the code comlink drops).
const ERROR_EVENT_WAIT_MS = 250;
// How long a finished run waits for its last token events before it shows the result anyway.
const TAIL_WAIT_MS = 1000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class LabSession {
  // Model
  #model = $state.raw<ModelInfo | null>(null);
  #loading = $state.raw<{ label: string } | null>(null);
  #progress = $state.raw(EMPTY_PROGRESS);
  #loadError = $state.raw<LabError | null>(null);
  #notice = $state<string | null>(null);
  // Settings (deep state: the controls bind to fields)
  #prompt = $state('Once upon a time');
  #params = $state<GenerateParams>({ ...DEFAULT_PARAMS });
  // The current run
  #phase = $state<RunPhase>('idle');
  #runPrompt = $state<string | null>(null);
  #promptTokenIds = $state.raw<number[] | null>(null);
  #tokens = $state.raw<OutputToken[]>([]);
  #stats = $state.raw<StatsView | null>(null);
  #stopReason = $state<GenerationResult['stopReason'] | null>(null);
  #runError = $state.raw<LabError | null>(null);

  // Batch: several prompts served at once by the engine's continuous-batching loop
  #batch = $state.raw<BatchView>(EMPTY_BATCH);
  #batchPrompts = $state(DEFAULT_BATCH_PROMPTS);
  #batchMaxTokens = $state(48);
  #batchError = $state.raw<LabError | null>(null);
  #recent: TraceEvent[] = [];

  readonly #handle: EngineHandle;
  #subscribed: EngineApi | null = null;
  #autoLoadTried = false;
  #loadTicket = 0;
  #cancelRequested = false;
  #errorEvents: LabError[] = [];
  #statsAcc: StatsAcc = EMPTY_STATS;
  #awaitingRun = false; // a run was asked for; its seq.state 'waiting' opens the token stream
  #streaming = false;

  constructor(handle: EngineHandle) {
    this.#handle = handle;
  }

  get model(): ModelInfo | null {
    return this.#model;
  }
  get loading(): { label: string } | null {
    return this.#loading;
  }
  get progress(): LoadProgressView | null {
    return progressView(this.#progress);
  }
  get loadError(): LabError | null {
    return this.#loadError;
  }
  get notice(): string | null {
    return this.#notice;
  }
  get prompt(): string {
    return this.#prompt;
  }
  set prompt(text: string) {
    this.#prompt = text;
  }
  get params(): GenerateParams {
    return this.#params;
  }
  get phase(): RunPhase {
    return this.#phase;
  }
  get busy(): boolean {
    return this.#phase !== 'idle' && this.#phase !== 'paused';
  }
  get runPrompt(): string | null {
    return this.#runPrompt;
  }
  get promptTokenIds(): number[] | null {
    return this.#promptTokenIds;
  }
  get tokens(): OutputToken[] {
    return this.#tokens;
  }
  get stats(): StatsView | null {
    return this.#stats;
  }
  get stopReason(): GenerationResult['stopReason'] | null {
    return this.#stopReason;
  }
  get runError(): LabError | null {
    return this.#runError;
  }
  get canGenerate(): boolean {
    return this.#model !== null && this.#loading === null && (this.#phase === 'idle' || this.#phase === 'paused') && !this.batchActive;
  }
  get batch(): BatchView {
    return this.#batch;
  }
  get batchPrompts(): string {
    return this.#batchPrompts;
  }
  set batchPrompts(text: string) {
    this.#batchPrompts = text;
  }
  get batchMaxTokens(): number {
    return this.#batchMaxTokens;
  }
  set batchMaxTokens(n: number) {
    this.#batchMaxTokens = n;
  }
  get batchError(): LabError | null {
    return this.#batchError;
  }
  /** Some submitted request has not finished yet. */
  get batchActive(): boolean {
    return this.#batch.requests.some((r) => r.state !== 'finished');
  }
  get canSendBatch(): boolean {
    return this.#model !== null && this.#loading === null && this.#phase === 'idle' && parsePrompts(this.#batchPrompts).length > 0;
  }

  /**
   * Submits every line of the batch box as its own request (sampling settings shared, seeds consecutive).
   * While earlier requests still run, the new ones join them; otherwise the view starts afresh.
   */
  async sendBatch(): Promise<void> {
    if (!this.canSendBatch) return;
    const engine = await this.#engine();
    if (!engine) return;
    const prompts = parsePrompts(this.#batchPrompts);
    const maxTokens = Math.max(1, Math.min(4096, Math.round(Number(this.#batchMaxTokens)) || 48));
    const p = clampParams(this.#params);
    if (!this.batchActive) this.#batch = EMPTY_BATCH;
    this.#batchError = null;
    this.#errorEvents = [];
    for (const [i, prompt] of prompts.entries()) {
      try {
        const { id } = await engine.submit({ prompt, maxTokens, temperature: p.temperature, topK: p.topK, topP: p.topP, seed: p.seed + i });
        this.#batch = applyEvents(addRequest(this.#batch, id, prompt), this.#recent.filter((e) => 'seq' in e && e.seq === id));
      } catch (err) {
        this.#batchError = await this.#describe(err as Error);
        return;
      }
    }
  }

  /** Ends every submitted request within one iteration. */
  async stopBatch(): Promise<void> {
    await this.#handle.engine?.stop();
  }

  /** Loads the bundled default once, the first time the engine is ready and nothing else is loaded. */
  ensureDefaultModel(): void {
    if (this.#autoLoadTried || this.#model || this.#loading || !this.#handle.engine) return;
    this.#autoLoadTried = true;
    void this.loadBundled(DEFAULT_MODEL_ID);
  }

  loadBundled(id: string): Promise<void> {
    return this.#load(id, { kind: 'bundled', id });
  }

  /** Loads from the URL / repo-id text field. */
  async loadFromText(text: string): Promise<void> {
    let source: ModelSource;
    try {
      source = parseSourceText(text);
    } catch (err) {
      this.#loadError = { code: (err as { code?: string }).code ?? 'bad-input', message: (err as Error).message };
      return;
    }
    await this.#load(source.kind === 'url' ? source.url : source.kind === 'hf' ? source.repo : text.trim(), source);
  }

  /** Loads picked or dropped files; the Worker reads them (their bytes never pass through this thread). */
  async loadFiles(files: readonly File[]): Promise<void> {
    let source: ModelSource;
    try {
      source = filesSource(files);
    } catch (err) {
      this.#loadError = { code: (err as { code?: string }).code ?? 'bad-input', message: (err as Error).message };
      return;
    }
    await this.#load(files.map((f) => f.name).join(' + '), source);
  }

  async cancelLoad(): Promise<void> {
    if (!this.#loading) return;
    this.#cancelRequested = true;
    await this.#handle.engine?.cancelLoad();
  }

  async #load(label: string, source: ModelSource): Promise<void> {
    if (this.#phase !== 'idle') return;
    if (!this.#handle.engine) return void (await this.#engine()); // shows why there is no engine
    const ticket = ++this.#loadTicket;
    this.#loading = { label }; // at once, so the page shows the load from the first frame
    this.#progress = EMPTY_PROGRESS;
    this.#loadError = null;
    this.#notice = null;
    this.#cancelRequested = false;
    this.#errorEvents = [];
    try {
      const engine = await this.#engine();
      if (!engine) return;
      const info = await engine.load(source);
      if (ticket !== this.#loadTicket) return;
      this.#model = info;
      this.#clearRun();
    } catch (err) {
      if (ticket !== this.#loadTicket) return; // superseded by a newer load
      if (this.#cancelRequested) {
        this.#notice = this.#model ? `Loading cancelled; ${this.#model.name} is still loaded.` : 'Loading cancelled.';
      } else {
        this.#loadError = await this.#describe(err as Error);
      }
    } finally {
      if (ticket === this.#loadTicket) this.#loading = null;
    }
  }

  /** Starts a run (or continues a stepped one) and streams it to the end. */
  async generate(): Promise<void> {
    if (!this.canGenerate) return;
    const engine = await this.#engine();
    if (!engine) return;
    if (this.#phase === 'paused') return this.#runToEnd(engine);
    const params = clampParams(this.#params);
    this.#beginRun();
    this.#phase = 'running';
    try {
      await this.#finishRun(await engine.generate(this.#runPrompt ?? '', params));
    } catch (err) {
      this.#runError = await this.#describe(err as Error);
    } finally {
      this.#phase = 'idle';
    }
  }

  /** Runs one iteration: the first Step prepares the run (start) and prefills; each later one decodes a token. */
  async step(): Promise<void> {
    if (!this.canGenerate) return;
    const engine = await this.#engine();
    if (!engine) return;
    try {
      if (this.#phase === 'idle') {
        const params = clampParams(this.#params);
        this.#beginRun();
        this.#phase = 'stepping';
        await engine.start(this.#runPrompt ?? '', params);
      }
      this.#phase = 'stepping';
      const more = await engine.step();
      if (more) {
        this.#phase = 'paused';
        return;
      }
      await this.#finishRun(await engine.run()); // a finished run returns its result at once
      this.#phase = 'idle';
    } catch (err) {
      this.#runError = await this.#describe(err as Error);
      this.#phase = 'idle';
    }
  }

  /** Ends the run within one iteration (a paused stepped run ends at once). */
  async stop(): Promise<void> {
    const engine = this.#handle.engine;
    if (!engine) return;
    if (this.#phase === 'running') {
      this.#phase = 'stopping';
      await engine.stop();
    } else if (this.#phase === 'paused') {
      await engine.stop();
      await this.#runToEnd(engine);
    }
  }

  async #runToEnd(engine: EngineApi): Promise<void> {
    this.#phase = 'running';
    try {
      await this.#finishRun(await engine.run());
    } catch (err) {
      this.#runError = await this.#describe(err as Error);
    } finally {
      this.#phase = 'idle';
    }
  }

  #clearRun(): void {
    this.#runPrompt = null;
    this.#promptTokenIds = null;
    this.#tokens = [];
    this.#stats = null;
    this.#stopReason = null;
    this.#runError = null;
  }

  #beginRun(): void {
    this.#clearRun();
    this.#runPrompt = this.#prompt;
    this.#statsAcc = EMPTY_STATS;
    this.#errorEvents = [];
    this.#awaitingRun = true;
    this.#streaming = false;
  }

  async #finishRun(result: GenerationResult): Promise<void> {
    // The result and the last batch of token events travel on different message ports; wait for the tail.
    const generated = result.tokenIds.length - result.promptTokenCount;
    for (let waited = 0; this.#tokens.length < generated && waited < TAIL_WAIT_MS; waited += 20) await sleep(20);
    this.#streaming = false;
    this.#promptTokenIds = result.tokenIds.slice(0, result.promptTokenCount);
    this.#stats = finalStats(result.stats);
    this.#stopReason = result.stopReason;
  }

  #receive(batch: TraceEvent[]): void {
    this.#recent = [...this.#recent, ...batch].slice(-RECENT_EVENTS);
    if (this.#batch.requests.length > 0) {
      const next = applyEvents(this.#batch, batch);
      if (next !== this.#batch) this.#batch = next;
    }
    let progress = this.#progress;
    const tokens: OutputToken[] = [];
    const runEvents: TraceEvent[] = [];
    for (const e of batch) {
      if (e.kind === 'load.progress') progress = accumulateProgress(progress, [e]);
      else if (e.kind === 'error') {
        if (e.code === 'notice') this.#notice = e.message;
        else this.#errorEvents.push({ code: e.code, message: e.message });
      } else if (e.kind === 'device.lost') {
        this.#model = null; // the GPU took the weights with it
        this.#loadError = { code: 'device-lost', message: `The GPU device was lost (${e.reason}): ${e.message} Reload the page to start again.` };
      } else if (e.kind === 'seq.state' && e.state === 'waiting' && this.#awaitingRun) {
        this.#awaitingRun = false;
        this.#streaming = true;
      } else if (this.#streaming) {
        runEvents.push(e);
        if (e.kind === 'token') tokens.push({ id: e.tokenId, text: e.text, position: e.position, prob: e.prob });
      }
    }
    if (progress !== this.#progress) this.#progress = progress;
    if (tokens.length) this.#tokens = [...this.#tokens, ...tokens];
    if (runEvents.length) {
      this.#statsAcc = accumulateStats(this.#statsAcc, runEvents);
      this.#stats = liveStats(this.#statsAcc);
    }
  }

  /** The engine, subscribed to once; null (with an error shown) when WebGPU is not ready. */
  async #engine(): Promise<EngineApi | null> {
    const engine = this.#handle.engine;
    if (!engine) {
      this.#loadError = { code: 'no-engine', message: 'The engine is not ready: WebGPU has not started yet (see the GPU page).' };
      return null;
    }
    if (this.#subscribed !== engine) {
      this.#subscribed = engine;
      await engine.subscribe(Comlink.proxy((batch: TraceEvent[]) => this.#receive(batch)));
    }
    return engine;
  }

  /** comlink carries an Error's message but not its code; the engine's 'error' trace event has both. */
  async #describe(err: Error): Promise<LabError> {
    for (let waited = 0; waited <= ERROR_EVENT_WAIT_MS; waited += 25) {
      const match = this.#errorEvents.findLast((e) => e.message === err.message);
      if (match) return match;
      await sleep(25);
    }
    return { code: (err as { code?: string }).code ?? err.name ?? 'error', message: err.message };
  }
}
