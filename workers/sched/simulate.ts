// The pure simulation harness: drives a Scheduler over a request trace with a real BlockManager and a
// cost model (iteration ms from the pass's token count, see CostModel) in place of the GPU, recording timelines,
// iteration records and seq.state events. The engine replaces the cost model with real forward passes.

import type { SeqStateEvent } from '../engine/trace.ts';
import { BlockManager } from '../kv/block-manager.ts';
import { SchedError } from './errors.ts';
import { servingMetrics, type IterationRecord, type RequestTimeline, type ServingMetrics, type Slo } from './metrics.ts';
import {
  DEFAULT_COST,
  iterationMs,
  type BlockView,
  type CostModel,
  type Decision,
  type Request,
  type RunningSeq,
  type Scheduler,
} from './scheduler.ts';

export interface SimulateOptions {
  nBlocks: number; // KV pool
  blockSize?: number; // default 16
  cost?: CostModel; // default DEFAULT_COST (20 ms + 0.05 ms/token)
  prefixCaching?: boolean; // default true: cached prompt tokens are not recomputed
  checked?: boolean; // run the block manager's invariant checker after every mutation (slow)
  slo?: Slo;
  maxIterations?: number; // default 1e6
}

/** One iteration, with what the scheduler saw and did (tests assert on policies through these). */
export interface SimIteration extends IterationRecord {
  runningBefore: number; // sequences holding KV when the scheduler was called
  admitted: number[];
  preempted: number[];
  prefillTokens: number;
  decodeTokens: number;
}

export interface SimResult {
  timelines: RequestTimeline[]; // by request id
  iterations: SimIteration[];
  preemptions: number;
  events: SeqStateEvent[];
  metrics: ServingMetrics;
}

interface Seq {
  req: Request;
  generated: number;
  tokenMs: number[];
  preemptions: number;
  run: RunningSeq | null; // null while waiting
}

/** The synthetic id of output token `g` of request `id` (the simulator samples nothing). */
const outputToken = (id: number, g: number): number => 3 + ((id * 7919 + g * 104_729) % 30_000);

export function simulate(scheduler: Scheduler, requests: readonly Request[], options: SimulateOptions): SimResult {
  const { nBlocks, blockSize = 16, cost = DEFAULT_COST, prefixCaching = true, checked = false, maxIterations = 1_000_000 } = options;
  if (!(cost.fixedMs >= 0 && cost.perTokenMs >= 0 && cost.fixedMs + cost.perTokenMs > 0)) {
    throw new SchedError('bad-option', 'cost terms must be ≥ 0 and not both 0');
  }
  const bm = new BlockManager({ nBlocks, blockSize, prefixCaching, checked });
  const seqs = new Map<number, Seq>();
  for (const req of requests) {
    if (seqs.has(req.id)) throw new SchedError('bad-request', `request id ${req.id} appears twice`);
    if (req.prompt.length === 0 || !Number.isInteger(req.maxTokens) || req.maxTokens < 1 || !Number.isFinite(req.arrivalMs)) {
      throw new SchedError('bad-request', `request ${req.id}: needs a prompt, maxTokens ≥ 1 and a finite arrival`);
    }
    // The largest context a request ever holds: prompt + maxTokens − 1 (the last token is never fed back).
    if (Math.ceil((req.prompt.length + req.maxTokens - 1) / blockSize) > nBlocks) {
      throw new SchedError('pool-too-small', `request ${req.id} needs more than the pool's ${nBlocks} blocks`);
    }
    seqs.set(req.id, { req, generated: 0, tokenMs: [], preemptions: 0, run: null });
  }
  const arrivals = [...requests].sort((a, b) => a.arrivalMs - b.arrivalMs || a.id - b.id);
  const context = (s: Seq): number[] => [...s.req.prompt, ...Array.from({ length: s.generated }, (_, g) => outputToken(s.req.id, g))];
  const waiting: Seq[] = [];
  let running: Seq[] = [];
  const iterations: SimIteration[] = [];
  const events: SeqStateEvent[] = [];
  const timelines: RequestTimeline[] = [];
  let next = 0;
  let now = 0;
  let preemptions = 0;

  const view = blockView(bm, (id) => {
    const s = seqs.get(id);
    return s === undefined ? undefined : context(s);
  });

  for (let it = 0; timelines.length < arrivals.length; it++) {
    if (it >= maxIterations) throw new SchedError('stalled', `simulation did not finish in ${maxIterations} iterations`);
    while (next < arrivals.length && arrivals[next]!.arrivalMs <= now) {
      const s = seqs.get(arrivals[next++]!.id)!;
      waiting.push(s);
      events.push({ kind: 'seq.state', seq: s.req.id, state: 'waiting' });
    }
    if (running.length === 0 && waiting.length === 0) {
      now = arrivals[next]!.arrivalMs;
      continue;
    }
    waiting.sort((a, b) => a.req.arrivalMs - b.req.arrivalMs || a.req.id - b.req.id);
    const decision = scheduler.schedule({
      nowMs: now,
      waiting: waiting.map((s) => ({ ...s.req, generated: s.generated })),
      running: running.map((s) => ({ ...s.run! })),
      blocks: view,
    });
    const runningBefore = running.length;
    checkDecision(decision, scheduler, running, waiting);

    for (const id of decision.preempt) {
      const s = seqs.get(id)!;
      bm.preempt(id);
      s.run = null;
      s.preemptions++;
      preemptions++;
      running = running.filter((r) => r !== s);
      waiting.push(s);
      events.push({ kind: 'seq.state', seq: id, state: 'preempted' });
    }
    for (const id of decision.admit) {
      const s = seqs.get(id)!;
      const tokens = context(s);
      const res = bm.addSequence(id, tokens);
      if ('ok' in res) throw new SchedError('over-commit', `admitting request ${id} needs ${res.needBlocks} blocks, the pool has fewer`);
      const p = s.req;
      s.run = {
        id,
        arrivalMs: p.arrivalMs,
        promptLen: tokens.length,
        prefillDone: res.cachedTokens, // prefix-cache hits need no recompute
        generated: s.generated,
        maxTokens: p.maxTokens,
        priority: p.priority ?? 0,
      };
      if (p.deadlineMs !== undefined) s.run.deadlineMs = p.deadlineMs;
      waiting.splice(waiting.indexOf(s), 1);
      running.push(s);
      events.push({ kind: 'seq.state', seq: id, state: 'running' });
    }
    // The forward pass: prefill chunks (clipped to what prefix caching left to compute) and decode tokens.
    const produced: Seq[] = [];
    let prefillTokens = 0;
    for (const { id, nTokens } of decision.prefill) {
      const s = seqs.get(id)!;
      const run = s.run!;
      const n = Math.min(nTokens, run.promptLen - run.prefillDone);
      run.prefillDone += n;
      prefillTokens += n;
      if (run.prefillDone === run.promptLen) produced.push(s);
    }
    for (const id of decision.decode) {
      const s = seqs.get(id)!;
      const res = bm.append(id, outputToken(id, s.generated - 1)); // feeds the last sampled token
      if ('ok' in res) throw new SchedError('over-commit', `decoding request ${id}: no KV block left`);
      produced.push(s);
    }
    const tokens = prefillTokens + decision.decode.length;
    const batch = new Set([...decision.prefill.map((p) => p.id), ...decision.decode]).size;
    const ms = iterationMs(cost, tokens);
    if (tokens === 0 && decision.admit.length === 0 && decision.preempt.length === 0) {
      if (next >= arrivals.length || running.length > 0) throw new SchedError('stalled', `iteration ${it}: the scheduler made no progress`);
      now = Math.max(now, arrivals[next]!.arrivalMs); // idle until the next arrival
      continue;
    }
    const end = now + ms;
    for (const s of produced) {
      s.generated++;
      s.run!.generated = s.generated;
      s.tokenMs.push(end);
      if (s.generated === s.req.maxTokens) {
        bm.free(s.req.id);
        running = running.filter((r) => r !== s);
        s.run = null;
        const { id, arrivalMs, priority = 0 } = s.req;
        timelines.push({ id, arrivalMs, tokenMs: s.tokenMs, finishMs: end, priority, preemptions: s.preemptions });
        events.push({ kind: 'seq.state', seq: s.req.id, state: 'finished', reason: 'max-tokens' });
      }
    }
    bm.drainEvents();
    if (ms > 0) {
      iterations.push({
        startMs: now,
        ms,
        batchSize: batch,
        tokens,
        runningBefore,
        admitted: decision.admit,
        preempted: decision.preempt,
        prefillTokens,
        decodeTokens: decision.decode.length,
      });
    }
    now = end;
  }
  timelines.sort((a, b) => a.id - b.id);
  return { timelines, iterations, preemptions, events, metrics: servingMetrics(timelines, iterations, options.slo) };
}

/**
 * The scheduler's view of a BlockManager (the engine uses it too). A registered id is running: it grows
 * from the tokens it holds; any other id is waiting and `contextOf` gives the tokens it would register
 * (its prompt plus tokens generated before a preemption), so prefix-cache hits lower its need.
 */
export function blockView(bm: BlockManager, contextOf: (id: number) => readonly number[] | undefined): BlockView {
  const bs = bm.blockSize;
  return {
    get free() {
      return bm.numAllocatableBlocks;
    },
    blockSize: bs,
    blocksFor({ id }, nTokens) {
      if (bm.has(id)) {
        const held = bm.length(id);
        return Math.ceil((held + nTokens) / bs) - Math.ceil(held / bs);
      }
      const tokens = contextOf(id);
      if (tokens === undefined) throw new SchedError('bad-decision', `blocksFor: unknown request ${id}`);
      const plan = bm.planAdd(tokens.slice(0, Math.max(1, nTokens)));
      return plan.needBlocks + plan.revivedBlocks; // revived cached blocks stop being allocatable too
    },
    releasable({ id }) {
      return bm.has(id) ? bm.blockTable(id).filter((b) => bm.refCount(b) === 1).length : 0;
    },
  };
}

/** Rejects a decision that names unknown ids, breaks the budget or batch size, or decodes unprefilled sequences. */
function checkDecision(d: Decision, scheduler: Scheduler, running: Seq[], waiting: Seq[]): void {
  const bad = (msg: string): SchedError => new SchedError('bad-decision', `${scheduler.name}: ${msg}`);
  const runIds = new Set(running.map((s) => s.req.id));
  const waitIds = new Set(waiting.map((s) => s.req.id));
  const preempt = new Set(d.preempt);
  const admit = new Set(d.admit);
  if (preempt.size !== d.preempt.length || admit.size !== d.admit.length) throw bad('duplicate ids');
  for (const id of preempt) if (!runIds.has(id)) throw bad(`preempts ${id}, which is not running`);
  for (const id of admit) if (!waitIds.has(id)) throw bad(`admits ${id}, which is not waiting`);
  const live = new Map(running.filter((s) => !preempt.has(s.req.id)).map((s) => [s.req.id, s]));
  if (live.size + admit.size > scheduler.maxBatchSize) throw bad(`batch of ${live.size + admit.size} > maxBatchSize ${scheduler.maxBatchSize}`);
  const seen = new Set<number>();
  let tokens = 0;
  for (const { id, nTokens } of d.prefill) {
    if (seen.has(id)) throw bad(`prefills ${id} twice`);
    seen.add(id);
    const run = live.get(id)?.run;
    const left = run !== undefined && run !== null ? run.promptLen - run.prefillDone : admit.has(id) ? Infinity : -1;
    if (!Number.isInteger(nTokens) || nTokens < 1 || nTokens > left) throw bad(`prefill of ${nTokens} tokens for ${id}`);
    tokens += nTokens;
  }
  for (const id of d.decode) {
    const run = live.get(id)?.run;
    if (run === undefined || run === null || run.prefillDone < run.promptLen || seen.has(id)) throw bad(`decodes ${id}, which is not prefilled and running`);
    seen.add(id);
    tokens++;
  }
  if (tokens > scheduler.tokenBudget) throw bad(`${tokens} tokens > tokenBudget ${scheduler.tokenBudget}`);
}
