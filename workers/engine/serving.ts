// Serving on the real engine: a stream of requests arriving over time, a scheduler policy deciding every
// iteration who is admitted, prefilled (in chunks), decoded or preempted (workers/sched), and one batched
// forward pass per iteration on the GPU (BatchExecutor). Returns each request's tokens and timeline and the
// iteration records, from which workers/sched/metrics.ts computes vLLM's serving metrics.

import { blockView } from '../sched/simulate.ts';
import type { Request, RunningSeq, Scheduler } from '../sched/scheduler.ts';
import { servingMetrics, type IterationRecord, type RequestTimeline, type ServingMetrics, type Slo } from '../sched/metrics.ts';
import { Rng } from '../sampling/rng.ts';
import { sample, type SamplingParams } from '../sampling/sampler.ts';
import type { BatchExecutor, SeqWork } from './batch-executor.ts';
import type { TraceBus } from './trace-bus.ts';

export interface ServeOptions {
  sampling: SamplingParams;
  seed: number;
  bus?: TraceBus;
  slo?: Slo;
  /** Wall clock in ms (tests may pass a fake one); requests' arrivalMs are relative to the first call. */
  now?: () => number;
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
  output: number[];
  tokenMs: number[];
  preemptions: number;
  run: RunningSeq | null;
  rng: Rng;
}

export async function serve(exec: BatchExecutor, scheduler: Scheduler, requests: readonly Request[], options: ServeOptions): Promise<ServeResult> {
  const clock = options.now ?? (() => performance.now());
  const t0 = clock();
  const now = () => clock() - t0;
  const bus = options.bus;
  const seqs = new Map<number, Seq>(requests.map((req) => [req.id, { req, output: [], tokenMs: [], preemptions: 0, run: null, rng: new Rng(options.seed + req.id) }]));
  const arrivals = [...requests].sort((a, b) => a.arrivalMs - b.arrivalMs || a.id - b.id);
  const context = (s: Seq) => [...s.req.prompt, ...s.output];
  const view = blockView(exec.blocks, (id) => {
    const s = seqs.get(id);
    return s && context(s);
  });
  const waiting: Seq[] = [];
  let running: Seq[] = [];
  const timelines: RequestTimeline[] = [];
  const iterations: IterationRecord[] = [];
  let next = 0;
  let preemptions = 0;

  for (let it = 0; timelines.length < arrivals.length; it++) {
    while (next < arrivals.length && arrivals[next]!.arrivalMs <= now()) {
      const s = seqs.get(arrivals[next++]!.id)!;
      waiting.push(s);
      bus?.emit({ kind: 'seq.state', seq: s.req.id, state: 'waiting' });
    }
    if (running.length === 0 && waiting.length === 0) {
      // Idle until the next request arrives.
      await new Promise((r) => setTimeout(r, Math.max(0, arrivals[next]!.arrivalMs - now())));
      continue;
    }
    waiting.sort((a, b) => a.req.arrivalMs - b.req.arrivalMs || a.req.id - b.req.id);
    const decision = scheduler.schedule({
      nowMs: now(),
      waiting: waiting.map((s) => ({ ...s.req, generated: s.output.length })),
      running: running.map((s) => ({ ...s.run! })),
      blocks: view,
    });
    for (const id of decision.preempt) {
      const s = seqs.get(id)!;
      exec.preempt(id); // recompute: its blocks go back; it re-prefills prompt + output when readmitted
      s.run = null;
      s.preemptions++;
      preemptions++;
      running = running.filter((r) => r !== s);
      waiting.push(s);
      bus?.emit({ kind: 'seq.state', seq: id, state: 'preempted' });
    }
    for (const id of decision.admit) {
      const s = seqs.get(id)!;
      const ctx = context(s);
      const cached = exec.admit(id, ctx);
      s.run = { id, arrivalMs: s.req.arrivalMs, promptLen: ctx.length, prefillDone: cached, generated: s.output.length, maxTokens: s.req.maxTokens, priority: s.req.priority ?? 0, ...(s.req.deadlineMs !== undefined ? { deadlineMs: s.req.deadlineMs } : {}) };
      waiting.splice(waiting.indexOf(s), 1);
      running.push(s);
      bus?.emit({ kind: 'seq.state', seq: id, state: 'running' });
    }
    // This iteration's forward pass: prefill chunks, then one decode token per decoding sequence.
    const work: SeqWork[] = [];
    const produces: (Seq | null)[] = []; // per work entry: the sequence that samples a token from it
    for (const { id, nTokens } of decision.prefill) {
      const s = seqs.get(id)!;
      const run = s.run!;
      const n = Math.min(nTokens, run.promptLen - run.prefillDone);
      if (n <= 0) continue;
      work.push({ seq: id, tokens: context(s).slice(run.prefillDone, run.prefillDone + n) });
      run.prefillDone += n;
      produces.push(run.prefillDone === run.promptLen ? s : null);
    }
    for (const id of decision.decode) {
      const s = seqs.get(id)!;
      work.push({ seq: id, tokens: [s.output.at(-1)!] });
      produces.push(s);
    }
    if (work.length === 0) {
      if (decision.admit.length === 0 && decision.preempt.length === 0) throw new Error(`serve: iteration ${it} made no progress`);
      continue;
    }
    const startMs = now();
    const nTokens = work.reduce((n, w) => n + w.tokens.length, 0);
    bus?.emit({ kind: 'iteration.begin', iteration: it, phase: decision.prefill.length > 0 ? 'prefill' : 'decode', nTokens, pos0: 0 });
    const logits = await exec.step(work);
    const endMs = now();
    iterations.push({ startMs, ms: endMs - startMs, batchSize: work.length, tokens: nTokens });
    bus?.emit({ kind: 'iteration.end', iteration: it, ms: endMs - startMs, dispatches: 0, submits: 1 });
    produces.forEach((s, k) => {
      if (!s) return;
      const { token, prob } = sample(logits[k]!, options.sampling, s.rng);
      s.output.push(token);
      s.run!.generated = s.output.length;
      s.tokenMs.push(endMs);
      bus?.emit({ kind: 'token', seq: s.req.id, position: s.req.prompt.length + s.output.length - 1, tokenId: token, text: '', prob });
      if (s.output.length >= s.req.maxTokens) {
        exec.release(s.req.id);
        running = running.filter((r) => r !== s);
        s.run = null;
        timelines.push({ id: s.req.id, arrivalMs: s.req.arrivalMs, tokenMs: s.tokenMs, finishMs: endMs, priority: s.req.priority ?? 0, preemptions: s.preemptions });
        bus?.emit({ kind: 'seq.state', seq: s.req.id, state: 'finished', reason: 'max-tokens' });
      }
    });
  }
  timelines.sort((a, b) => a.id - b.id);
  return {
    outputs: new Map([...seqs].map(([id, s]) => [id, s.output])),
    timelines,
    iterations,
    preemptions,
    metrics: servingMetrics(timelines, iterations, options.slo),
  };
}
