// Iteration-level request schedulers: static batching (the baseline), continuous batching and SLA-aware.
// Pure policy over plain data: the engine (or simulate.ts) calls schedule() once per iteration and applies
// the decision. Imports no GPU, DOM, comlink or block manager.

import { SchedError } from './errors.ts';

export interface Request {
  id: number;
  arrivalMs: number;
  prompt: number[]; // token ids
  maxTokens: number; // output tokens to generate (≥ 1)
  priority?: number; // higher = more important; default 0
  deadlineMs?: number; // absolute time-to-first-token deadline
}

/** A request in the waiting queue; `generated` > 0 after a recompute preemption (those tokens are re-prefilled). */
export interface WaitingRequest extends Request {
  generated?: number;
}

export interface RunningSeq {
  id: number;
  arrivalMs: number;
  promptLen: number; // context to prefill: the prompt, plus the tokens generated before a preemption
  prefillDone: number; // tokens of that context already computed; decodes once prefillDone === promptLen
  generated: number; // output tokens so far (the pass that completes prefill samples the next one)
  maxTokens: number;
  priority: number;
  deadlineMs?: number;
}

/** What the KV pool can give, as the scheduler sees it (the engine backs it with a BlockManager). */
export interface BlockView {
  free: number; // allocatable blocks now
  blockSize: number;
  /** Fresh blocks: a waiting request registering nTokens of context (net of prefix-cache hits), or a running sequence growing by nTokens. */
  blocksFor(seq: { id: number }, nTokens: number): number;
  /** Blocks a running sequence's preemption returns to the pool (those not shared with another sequence). */
  releasable(seq: { id: number }): number;
}

export interface SchedulerState {
  nowMs: number;
  waiting: WaitingRequest[]; // in arrival order
  running: RunningSeq[]; // in admission order
  blocks: BlockView;
}

/**
 * One iteration's plan, applied in this order: preempt (free KV, back to waiting), admit (register the
 * context's KV), then one forward pass over the prefill chunks and one decode token per `decode` id.
 */
export interface Decision {
  admit: number[];
  prefill: { id: number; nTokens: number }[];
  decode: number[];
  preempt: number[];
}

export interface Scheduler {
  readonly name: 'static' | 'continuous' | 'sla';
  readonly tokenBudget: number; // max tokens in one forward pass, decode tokens included
  readonly maxBatchSize: number; // max sequences holding KV at once
  schedule(state: SchedulerState): Decision;
}

/**
 * Time of one forward pass over `tokens` tokens. linear (default): fixedMs + perTokenMs × tokens (a
 * launch-bound small model). roofline: max(fixedMs, perTokenMs × tokens) — a pass is bound by reading the
 * weights (fixedMs) until it has enough tokens to be compute-bound, so small token counts ride along free.
 */
export interface CostModel {
  fixedMs: number;
  perTokenMs: number;
  shape?: 'linear' | 'roofline';
}

export const DEFAULT_COST: CostModel = { fixedMs: 20, perTokenMs: 0.05 };

export function iterationMs(cost: CostModel, tokens: number): number {
  if (tokens === 0) return 0;
  const work = cost.perTokenMs * tokens;
  return cost.shape === 'roofline' ? Math.max(cost.fixedMs, work) : cost.fixedMs + work;
}

export interface SchedulerOptions {
  maxBatchSize?: number; // default 16
  tokenBudget?: number; // default 512 (ignored by static: a batch prefills whole prompts in one pass)
}

export interface SlaOptions extends SchedulerOptions {
  cost?: CostModel; // to estimate a prompt's prefill time; default DEFAULT_COST
  /** At risk when deadline − now < riskFactor × estimated prefill; > 1 acts before the deadline is lost. Default 2. */
  riskFactor?: number;
}

export const contextLen = (w: WaitingRequest): number => w.prompt.length + (w.generated ?? 0);

type Ordered = { id: number; arrivalMs: number; priority?: number; deadlineMs?: number };
const byArrival = (a: Ordered, b: Ordered): number => a.arrivalMs - b.arrivalMs || a.id - b.id;
/** SLA order: priority desc, deadline asc (none = last), arrival asc, id asc. */
const byUrgency = (a: Ordered, b: Ordered): number =>
  (b.priority ?? 0) - (a.priority ?? 0) ||
  (a.deadlineMs ?? Infinity) - (b.deadlineMs ?? Infinity) ||
  byArrival(a, b);
/** Preemption victims first: the youngest (latest arrival, highest id). */
const youngestFirst = (a: Ordered, b: Ordered): number => -byArrival(a, b);
/** SLA victims first: lowest priority, then youngest. */
const leastImportantFirst = (a: Ordered, b: Ordered): number => (a.priority ?? 0) - (b.priority ?? 0) || youngestFirst(a, b);

function checkOptions(maxBatchSize: number, tokenBudget: number): void {
  if (!Number.isInteger(maxBatchSize) || maxBatchSize < 1) {
    throw new SchedError('bad-option', `maxBatchSize must be an integer ≥ 1, got ${maxBatchSize}`);
  }
  if (!Number.isInteger(tokenBudget) || tokenBudget < maxBatchSize) {
    throw new SchedError('bad-option', `tokenBudget must be an integer ≥ maxBatchSize (${maxBatchSize}), got ${tokenBudget}`);
  }
}

const isDecoding = (s: RunningSeq): boolean => s.prefillDone >= s.promptLen;

/**
 * Decode blocks first: every fully prefilled sequence needs room for one token; while the pool cannot
 * give it, preempt victims (recompute) in `victimOrder`. Returns the survivors, the decode ids and the
 * free blocks left.
 */
function reserveDecode(state: SchedulerState, victimOrder: (a: RunningSeq, b: RunningSeq) => number) {
  const { blocks } = state;
  let live = [...state.running];
  let free = blocks.free;
  let need = live.filter(isDecoding).reduce((n, s) => n + blocks.blocksFor(s, 1), 0);
  const preempt: number[] = [];
  while (need > free && live.length > 0) {
    const victim = [...live].sort(victimOrder)[0]!;
    live = live.filter((s) => s !== victim);
    preempt.push(victim.id);
    free += blocks.releasable(victim);
    if (isDecoding(victim)) need -= blocks.blocksFor(victim, 1);
  }
  return { live, preempt, free: free - need, decode: live.filter(isDecoding).map((s) => s.id) };
}

/** The baseline: admit a batch only when none runs, prefill whole prompts at once, run it until all finish. */
export class StaticBatching implements Scheduler {
  readonly name = 'static';
  readonly tokenBudget = Infinity;
  readonly maxBatchSize: number;

  constructor({ maxBatchSize = 16 }: SchedulerOptions = {}) {
    checkOptions(maxBatchSize, maxBatchSize);
    this.maxBatchSize = maxBatchSize;
  }

  schedule(state: SchedulerState): Decision {
    if (state.running.length > 0) {
      const { preempt, decode } = reserveDecode(state, youngestFirst);
      return { admit: [], prefill: [], decode, preempt };
    }
    const admit: number[] = [];
    const prefill: { id: number; nTokens: number }[] = [];
    let free = state.blocks.free;
    for (const w of [...state.waiting].sort(byArrival)) {
      if (admit.length === this.maxBatchSize) break;
      const need = state.blocks.blocksFor(w, contextLen(w));
      if (need + (admit.length > 0 ? 1 : 0) > free) break; // one block of headroom once the batch is not alone
      free -= need;
      admit.push(w.id);
      prefill.push({ id: w.id, nTokens: contextLen(w) });
    }
    return { admit, prefill, decode: [], preempt: [] };
  }
}

/**
 * Continuous batching (Orca/vLLM), iteration-level: decode one token for every prefilled sequence,
 * admit waiting requests first-come first-served while KV blocks (context + one block of headroom),
 * the batch size and the token budget allow, and spend the remaining budget on prefill chunks.
 */
export class ContinuousBatching implements Scheduler {
  readonly name: 'continuous' | 'sla' = 'continuous';
  readonly tokenBudget: number;
  readonly maxBatchSize: number;

  constructor({ maxBatchSize = 16, tokenBudget = 512 }: SchedulerOptions = {}) {
    checkOptions(maxBatchSize, tokenBudget);
    this.maxBatchSize = maxBatchSize;
    this.tokenBudget = tokenBudget;
  }

  protected order(a: Ordered, b: Ordered): number {
    return byArrival(a, b);
  }

  protected victimOrder(a: Ordered, b: Ordered): number {
    return youngestFirst(a, b);
  }

  /** A request that did not fit; SLA-aware may preempt to make room. Returns the victims, or null. */
  protected rescue(_w: WaitingRequest, _ctx: Admission): RunningSeq[] | null {
    return null;
  }

  schedule(state: SchedulerState): Decision {
    const { blocks } = state;
    const d = reserveDecode(state, (a, b) => this.victimOrder(a, b));
    const ctx: Admission = { state, live: d.live, admitted: [], free: d.free, decode: d.decode, preempt: d.preempt };
    // Tokens the running prefills still want: admission waits until some budget is left beyond them.
    const pending = (): number =>
      ctx.live.reduce((n, s) => n + s.promptLen - s.prefillDone, 0) +
      ctx.admitted.reduce((n, w) => n + contextLen(w), 0);
    for (const w of [...state.waiting].sort((a, b) => this.order(a, b))) {
      const need = blocks.blocksFor(w, contextLen(w));
      const seqs = ctx.live.length + ctx.admitted.length;
      const fits =
        need + (seqs > 0 ? 1 : 0) <= ctx.free &&
        seqs < this.maxBatchSize &&
        this.tokenBudget - ctx.decode.length - pending() > 0;
      if (fits) {
        ctx.free -= need;
        ctx.admitted.push(w);
        continue;
      }
      const victims = this.rescue(w, ctx);
      if (victims === null) break; // strict order: nobody overtakes a request that does not fit
      for (const v of victims) {
        ctx.live = ctx.live.filter((s) => s !== v);
        ctx.preempt.push(v.id);
        ctx.free += blocks.releasable(v);
        if (ctx.decode.includes(v.id)) {
          ctx.decode = ctx.decode.filter((id) => id !== v.id);
          ctx.free += blocks.blocksFor(v, 1);
        }
      }
      ctx.free -= need;
      ctx.admitted.push(w);
    }
    // Prefill chunks in policy order over running prefills and new admissions, within the budget.
    let budget = this.tokenBudget - ctx.decode.length;
    const prefill: { id: number; nTokens: number }[] = [];
    const wanting = [
      ...ctx.live.filter((s) => !isDecoding(s)).map((s) => ({ o: s as Ordered, left: s.promptLen - s.prefillDone })),
      ...ctx.admitted.map((w) => ({ o: w as Ordered, left: contextLen(w) })),
    ].sort((a, b) => this.order(a.o, b.o));
    for (const { o, left } of wanting) {
      if (budget <= 0) break;
      const nTokens = Math.min(left, budget);
      prefill.push({ id: o.id, nTokens });
      budget -= nTokens;
    }
    return { admit: ctx.admitted.map((w) => w.id), prefill, decode: ctx.decode, preempt: ctx.preempt };
  }
}

/** Mutable admission state of one schedule() call, shared with rescue(). */
export interface Admission {
  state: SchedulerState;
  live: RunningSeq[];
  admitted: WaitingRequest[];
  free: number;
  decode: number[];
  preempt: number[];
}

/**
 * SLA-aware: continuous batching with admission and prefill ordered by (priority desc, deadline asc,
 * arrival asc); a request whose TTFT deadline is at risk and does not fit preempts strictly
 * lower-priority sequences (least important, then youngest, first) until it fits.
 */
export class SlaAware extends ContinuousBatching {
  override readonly name = 'sla';
  readonly cost: CostModel;
  readonly riskFactor: number;

  constructor(options: SlaOptions = {}) {
    super(options);
    const { cost = DEFAULT_COST, riskFactor = 2 } = options;
    if (!(cost.fixedMs >= 0) || !(cost.perTokenMs >= 0)) throw new SchedError('bad-option', 'cost terms must be ≥ 0');
    if (!(riskFactor > 0)) throw new SchedError('bad-option', `riskFactor must be > 0, got ${riskFactor}`);
    this.cost = cost;
    this.riskFactor = riskFactor;
  }

  /** Prefill time of `tokens` tokens in full-budget chunks. */
  estimatePrefillMs(tokens: number): number {
    const full = Math.floor(tokens / this.tokenBudget);
    return full * iterationMs(this.cost, this.tokenBudget) + iterationMs(this.cost, tokens - full * this.tokenBudget);
  }

  atRisk(w: WaitingRequest, nowMs: number): boolean {
    if (w.deadlineMs === undefined) return false;
    return w.deadlineMs - nowMs < this.riskFactor * this.estimatePrefillMs(contextLen(w));
  }

  protected override order(a: Ordered, b: Ordered): number {
    return byUrgency(a, b);
  }

  protected override victimOrder(a: Ordered, b: Ordered): number {
    return leastImportantFirst(a, b);
  }

  protected override rescue(w: WaitingRequest, ctx: Admission): RunningSeq[] | null {
    if (!this.atRisk(w, ctx.state.nowMs)) return null;
    const { blocks } = ctx.state;
    const need = blocks.blocksFor(w, contextLen(w));
    const candidates = ctx.live.filter((s) => s.priority < (w.priority ?? 0)).sort(leastImportantFirst);
    const victims: RunningSeq[] = [];
    let free = ctx.free;
    let seqs = ctx.live.length + ctx.admitted.length;
    for (const v of candidates) {
      if (need + (seqs > 0 ? 1 : 0) <= free && seqs < this.maxBatchSize) break;
      victims.push(v);
      seqs--;
      free += blocks.releasable(v) + (ctx.decode.includes(v.id) ? blocks.blocksFor(v, 1) : 0);
    }
    const fits = need + (seqs > 0 ? 1 : 0) <= free && seqs < this.maxBatchSize;
    return fits ? victims : null;
  }
}

export type PolicyName = Scheduler['name'];

export function createScheduler(policy: PolicyName, options: SlaOptions = {}): Scheduler {
  switch (policy) {
    case 'static':
      return new StaticBatching(options);
    case 'continuous':
      return new ContinuousBatching(options);
    case 'sla':
      return new SlaAware(options);
  }
}
