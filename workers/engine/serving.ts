// Serving on the real engine: a stream of requests arriving over time — a seeded trace known in advance, or
// requests submitted live while the loop runs — a scheduler policy deciding every iteration who is admitted,
// prefilled (in chunks), decoded or preempted (workers/sched), and one batched forward pass per iteration on
// the GPU (BatchExecutor). Returns each request's tokens and timeline and the iteration records, from which
// workers/sched/metrics.ts computes vLLM's serving metrics.

import { blockView } from '../sched/simulate.ts';
import type { Request, RunningSeq, Scheduler } from '../sched/scheduler.ts';
import { servingMetrics, type IterationRecord, type RequestTimeline, type ServingMetrics, type Slo } from '../sched/metrics.ts';
import { Rng } from '../sampling/rng.ts';
import { sample, type SamplingParams } from '../sampling/sampler.ts';
import type { BatchExecutor, SeqWork } from './batch-executor.ts';
import type { TraceBus } from './trace-bus.ts';
import type { BatchMember, SeqStateEvent } from './trace.ts';

export interface ServeOptions {
  sampling: SamplingParams;
  seed: number;
  bus?: TraceBus;
  slo?: Slo;
  /** Wall clock in ms (tests may pass a fake one); requests' arrivalMs are relative to the loop's start. */
  now?: () => number;
  /** A request ends early when it samples this token (the model's end of text); the trace's requests do not. */
  stopTokens?: readonly number[];
  /** Text of a sequence's next token, for the trace's token events (the engine keeps a stream per request). */
  textOf?: (seq: number, token: number) => string;
  /** Emit the block manager's events and a pool snapshot every iteration (the Lab draws them). */
  kvEvents?: boolean;
  /**
   * Async scheduling (default true): while every request is greedy, iteration i + 1 is scheduled and
   * submitted before iteration i's tokens are read back — each decoding sequence's token is copied on the GPU
   * from the previous pass's argmax — so the CPU's scheduling, input writes and dispatch encoding overlap the
   * GPU's pass instead of following it. Tokens, order and metrics are the same; false runs one pass at a time.
   */
  pipelined?: boolean;
}

/** Per-request sampling: its own parameters and seed instead of the loop's. */
export interface SubmitOptions {
  sampling?: SamplingParams;
  seed?: number;
}

export type FinishReason = Exclude<SeqStateEvent['reason'], undefined>;

export interface RequestOutcome {
  id: number;
  tokens: number[];
  reason: FinishReason;
}

export interface ServeResult {
  outputs: Map<number, number[]>; // request id → its generated tokens
  timelines: RequestTimeline[];
  iterations: IterationRecord[];
  preemptions: number;
  metrics: ServingMetrics;
}

interface Seq {
  req: Request;
  sampling: SamplingParams;
  output: number[];
  tokenMs: number[];
  preemptions: number;
  run: RunningSeq | null;
  rng: Rng;
  done: (o: RequestOutcome) => void;
  /** A submitted pass computes this sequence's next token and has not been read back yet (pipelined). */
  inFlight: boolean;
  finished: boolean;
}

/** A submitted forward pass whose results have not been applied yet. */
interface Pass {
  iteration: number;
  startMs: number;
  produces: (Seq | null)[]; // per entry: the sequence that takes a token from its row
  nTokens: number;
  dispatches: number;
  submits: number;
  /** Row k's token (and its probability) for produces[k]; greedy rows need only the ids. */
  result: Promise<(k: number, s: Seq) => { token: number; prob: number }>;
}

/**
 * The serving loop. submit() adds a request at any time (arrivalMs in the future holds it back until then);
 * run() iterates until close() was called and every request has finished, or until stop(). Between
 * requests the loop sleeps until the next arrival or the next submit().
 */
export class ServingLoop {
  readonly #seqs = new Map<number, Seq>();
  readonly #pending: Seq[] = []; // submitted, not yet arrived (ordered by arrival)
  readonly #waiting: Seq[] = [];
  #running: Seq[] = [];
  readonly #timelines: RequestTimeline[] = [];
  readonly #iterations: IterationRecord[] = [];
  #preemptions = 0;
  #closed = false;
  #stopped = false;
  #wake: (() => void) | null = null;
  readonly #clock: () => number;
  readonly #t0: number;

  constructor(
    readonly exec: BatchExecutor,
    readonly scheduler: Scheduler,
    readonly options: ServeOptions,
  ) {
    this.#clock = options.now ?? (() => performance.now());
    this.#t0 = this.#clock();
  }

  /** Milliseconds since the loop was made: the time base of arrivals, deadlines and timelines. */
  now(): number {
    return this.#clock() - this.#t0;
  }

  /** Adds a request; resolves with its tokens when it finishes (or is stopped). */
  submit(req: Request, opts: SubmitOptions = {}): Promise<RequestOutcome> {
    if (this.#closed || this.#stopped) throw new Error('serve: the loop takes no more requests');
    if (this.#seqs.has(req.id)) throw new Error(`serve: request ${req.id} was already submitted`);
    if (req.prompt.length === 0) throw new Error(`serve: request ${req.id} has an empty prompt`);
    if (!(Number.isInteger(req.maxTokens) && req.maxTokens >= 1)) throw new Error(`serve: request ${req.id} needs maxTokens ≥ 1`);
    let done!: (o: RequestOutcome) => void;
    const outcome = new Promise<RequestOutcome>((r) => (done = r));
    const s: Seq = {
      req,
      sampling: opts.sampling ?? this.options.sampling,
      output: [],
      tokenMs: [],
      preemptions: 0,
      run: null,
      rng: new Rng((opts.seed ?? this.options.seed) + (opts.seed === undefined ? req.id : 0)),
      done,
      inFlight: false,
      finished: false,
    };
    this.#seqs.set(req.id, s);
    const at = this.#pending.findIndex((p) => p.req.arrivalMs > req.arrivalMs);
    this.#pending.splice(at < 0 ? this.#pending.length : at, 0, s);
    this.#wakeUp();
    return outcome;
  }

  /** No more requests: run() returns once the submitted ones have finished. */
  close(): void {
    this.#closed = true;
    this.#wakeUp();
  }

  /** Ends the loop within one iteration; unfinished requests end with reason 'stopped'. */
  stop(): void {
    this.#stopped = true;
    this.#wakeUp();
  }

  /** stop() was called: the loop ends after the current iteration and takes no more requests. */
  get stopping(): boolean {
    return this.#stopped;
  }

  /** Requests not yet finished. */
  get active(): number {
    return this.#pending.length + this.#waiting.length + this.#running.length;
  }

  #wakeUp(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  #emit(e: Parameters<TraceBus['emit']>[0]): void {
    this.options.bus?.emit(e);
  }

  #context(s: Seq): number[] {
    return [...s.req.prompt, ...s.output];
  }

  #finish(s: Seq, reason: FinishReason, atMs: number): void {
    s.finished = true;
    if (s.run) this.exec.release(s.req.id);
    s.run = null;
    this.#running = this.#running.filter((r) => r !== s);
    const w = this.#waiting.indexOf(s);
    if (w >= 0) this.#waiting.splice(w, 1);
    const p = this.#pending.indexOf(s);
    if (p >= 0) this.#pending.splice(p, 1);
    if (reason !== 'stopped' && reason !== 'error' && s.tokenMs.length > 0) {
      this.#timelines.push({ id: s.req.id, arrivalMs: s.req.arrivalMs, tokenMs: s.tokenMs, finishMs: atMs, priority: s.req.priority ?? 0, preemptions: s.preemptions });
    }
    this.#emit({ kind: 'seq.state', seq: s.req.id, state: 'finished', reason });
    s.done({ id: s.req.id, tokens: s.output, reason });
  }

  /** Sleeps until the next arrival, a submit(), close() or stop(). */
  async #idle(): Promise<void> {
    const next = this.#pending[0];
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      if (next) timer = setTimeout(() => this.#wakeUp(), Math.max(0, next.req.arrivalMs - this.now()));
    });
    clearTimeout(timer); // woken by a submit: the arrival timer must not wake a later sleep early
  }

  async run(): Promise<ServeResult> {
    try {
      return await this.#loop();
    } catch (err) {
      // A failed pass ends every request (with reason 'error') so that no caller waits forever.
      for (const s of [...this.#running, ...this.#waiting, ...this.#pending]) {
        try {
          this.#finish(s, 'error', this.now());
        } catch {
          s.done({ id: s.req.id, tokens: s.output, reason: 'error' });
        }
      }
      throw err;
    }
  }

  async #loop(): Promise<ServeResult> {
    const { exec, scheduler, options } = this;
    const view = blockView(exec.blocks, (id) => {
      const s = this.#seqs.get(id);
      return s && this.#context(s);
    });
    let inflight: Pass | null = null;
    const land = async (): Promise<void> => {
      const pass = inflight;
      inflight = null;
      if (pass) await this.#land(pass);
    };
    for (let it = 0; ; ) {
      if (this.#stopped) break;
      while (this.#pending.length > 0 && this.#pending[0]!.req.arrivalMs <= this.now()) {
        const s = this.#pending.shift()!;
        this.#waiting.push(s);
        this.#emit({ kind: 'seq.state', seq: s.req.id, state: 'waiting' });
      }
      // Sampling a token needs its logits on the CPU: pipelining is for greedy requests only.
      const greedyOnly = (list: Seq[]) => list.every((s) => s.sampling.temperature === 0);
      const pipelined = options.pipelined !== false && greedyOnly(this.#running) && greedyOnly(this.#waiting);
      if (!pipelined) await land();
      // A sequence whose in-flight token is its last finishes when that token lands: it takes no more passes.
      const live = this.#running.filter((s) => !(s.inFlight && s.output.length + 1 >= s.req.maxTokens));
      if (live.length === 0 && this.#waiting.length === 0) {
        if (inflight) {
          await land();
          continue;
        }
        if (this.#closed && this.#pending.length === 0) break;
        await this.#idle();
        continue;
      }
      this.#waiting.sort((a, b) => a.req.arrivalMs - b.req.arrivalMs || a.req.id - b.req.id);
      const decision = scheduler.schedule({
        nowMs: this.now(),
        waiting: this.#waiting.filter((s) => !s.inFlight).map((s) => ({ ...s.req, generated: s.output.length })),
        running: live.map((s) => ({ ...s.run!, generated: s.output.length + (s.inFlight ? 1 : 0) })),
        blocks: view,
      });
      for (const id of decision.preempt) {
        const s = this.#seqs.get(id)!;
        exec.preempt(id); // recompute: its blocks go back; it re-prefills prompt + output when readmitted
        s.run = null;
        s.preemptions++;
        this.#preemptions++;
        this.#running = this.#running.filter((r) => r !== s);
        this.#waiting.push(s);
        this.#emit({ kind: 'seq.state', seq: id, state: 'preempted' });
      }
      for (const id of decision.admit) {
        const s = this.#seqs.get(id)!;
        const ctx = this.#context(s);
        const cached = exec.admit(id, ctx);
        s.run = { id, arrivalMs: s.req.arrivalMs, promptLen: ctx.length, prefillDone: cached, generated: s.output.length, maxTokens: s.req.maxTokens, priority: s.req.priority ?? 0, ...(s.req.deadlineMs !== undefined ? { deadlineMs: s.req.deadlineMs } : {}) };
        this.#waiting.splice(this.#waiting.indexOf(s), 1);
        this.#running.push(s);
        this.#emit({ kind: 'seq.state', seq: id, state: 'running' });
      }
      // This iteration's forward pass: prefill chunks, then one decode token per decoding sequence.
      const work: SeqWork[] = [];
      const members: BatchMember[] = [];
      const produces: (Seq | null)[] = []; // per work entry: the sequence that samples a token from it
      for (const { id, nTokens } of decision.prefill) {
        const s = this.#seqs.get(id)!;
        const run = s.run!;
        const n = Math.min(nTokens, run.promptLen - run.prefillDone);
        if (n <= 0) continue;
        work.push({ seq: id, tokens: this.#context(s).slice(run.prefillDone, run.prefillDone + n) });
        members.push({ seq: id, phase: 'prefill', tokens: n, pos0: run.prefillDone });
        run.prefillDone += n;
        produces.push(run.prefillDone === run.promptLen ? s : null);
      }
      for (const id of decision.decode) {
        const s = this.#seqs.get(id)!;
        // An in-flight token is not on the CPU yet: the GPU copies it from the previous pass's argmax row.
        const carried = s.inFlight ? inflight!.produces.indexOf(s) : -1;
        work.push(carried >= 0 ? { seq: id, tokens: [0], carried } : { seq: id, tokens: [s.output.at(-1)!] });
        members.push({ seq: id, phase: 'decode', tokens: 1, pos0: s.req.prompt.length + s.output.length - (carried >= 0 ? 0 : 1) });
        produces.push(s);
      }
      if (work.length === 0) {
        if (inflight) {
          await land();
          continue;
        }
        if (decision.admit.length === 0 && decision.preempt.length === 0) throw new Error(`serve: iteration ${it} made no progress`);
        continue;
      }
      const startMs = this.now();
      const nTokens = work.reduce((n, w) => n + w.tokens.length, 0);
      const before = { dispatches: exec.model.dispatches, submits: exec.model.submits };
      // Greedy sequences need only the argmax of their row, taken on the GPU (4 bytes back instead of a row).
      const greedy = produces.every((s) => !s || s.sampling.temperature === 0);
      const result: Pass['result'] = pipelined
        ? exec.submitArgmax(work).then((ids) => (k) => ({ token: ids[k]!, prob: 1 }))
        : greedy
          ? exec.stepArgmax(work).then((ids) => (k) => ({ token: ids[k]!, prob: 1 }))
          : exec.step(work).then((logits) => (k, s) => sample(logits[k]!, s.sampling, s.rng));
      const pass: Pass = { iteration: it++, startMs, produces, nTokens, dispatches: exec.model.dispatches - before.dispatches, submits: exec.model.submits - before.submits, result };
      // The previous pass's tokens land while the GPU runs this one; then this one is in flight.
      await land();
      this.#emit({ kind: 'iteration.begin', iteration: pass.iteration, phase: decision.prefill.length > 0 ? 'prefill' : 'decode', nTokens, pos0: 0, batch: members });
      for (const s of produces) if (s) s.inFlight = true;
      inflight = pass;
      if (!pipelined) await land();
    }
    // Stopped (or done): the pass in flight lands (a stopped loop keeps none of its tokens), then whatever
    // has not finished ends here and gives its blocks back.
    await land();
    for (const s of [...this.#running, ...this.#waiting, ...this.#pending]) this.#finish(s, 'stopped', this.now());
    if (options.kvEvents) for (const e of exec.blocks.drainEvents()) this.#emit(e);
    this.#timelines.sort((a, b) => a.id - b.id);
    return {
      outputs: new Map([...this.#seqs].map(([id, s]) => [id, s.output])),
      timelines: this.#timelines,
      iterations: this.#iterations,
      preemptions: this.#preemptions,
      metrics: servingMetrics(this.#timelines, this.#iterations, options.slo),
    };
  }

  /** A pass's results arrived: its iteration record and events, then each producing sequence's token. */
  async #land(pass: Pass): Promise<void> {
    const { exec, options } = this;
    const pick = await pass.result;
    const endMs = this.now();
    this.#iterations.push({ startMs: pass.startMs, ms: endMs - pass.startMs, batchSize: pass.produces.length, tokens: pass.nTokens });
    if (options.kvEvents) {
      for (const e of exec.blocks.drainEvents()) this.#emit(e);
      this.#emit(exec.blocks.snapshot());
    }
    this.#emit({ kind: 'iteration.end', iteration: pass.iteration, ms: endMs - pass.startMs, dispatches: pass.dispatches, submits: pass.submits });
    pass.produces.forEach((s, k) => {
      if (!s) return;
      s.inFlight = false;
      if (s.finished || this.#stopped) return;
      const { token, prob } = pick(k, s);
      // The end of text ends the request and is not part of its output (as in a single run); a pass already
      // submitted with it as input computes a row nobody reads, into a slot the finish gives back.
      if (options.stopTokens?.includes(token)) return this.#finish(s, 'eos', endMs);
      exec.resolve(s.req.id, token); // the next pass may already hold it as a pending token
      s.output.push(token);
      if (s.run) s.run.generated = s.output.length;
      s.tokenMs.push(endMs);
      const position = s.req.prompt.length + s.output.length - 1;
      this.#emit({ kind: 'token', seq: s.req.id, position, tokenId: token, text: options.textOf?.(s.req.id, token) ?? '', prob });
      if (s.output.length >= s.req.maxTokens) this.#finish(s, 'max-tokens', endMs);
    });
  }
}

/** Serves a fixed list of requests (a seeded trace) to completion. */
export async function serve(exec: BatchExecutor, scheduler: Scheduler, requests: readonly Request[], options: ServeOptions): Promise<ServeResult> {
  const loop = new ServingLoop(exec, scheduler, options);
  for (const r of requests) void loop.submit(r);
  loop.close();
  return loop.run();
}
