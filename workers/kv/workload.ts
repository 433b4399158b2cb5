// A seeded request workload for the KV bench (shared system prompts, long-tailed output lengths) and
// `replayKv`, which plays token sequences through a BlockManager iteration by iteration and compares
// paged with contiguous KV memory. Pure: no GPU; the engine passes real generated tokens as `output`.

import { Rng } from '../sampling/rng.ts';
import { kvAccounting } from './accounting.ts';
import { BlockManager } from './block-manager.ts';
import { KvError } from './errors.ts';

export interface KvRequest {
  id: number;
  arrival: number; // iteration at which it joins the waiting queue
  prompt: number[];
  output: number[]; // the tokens it generates (its KV is appended one per iteration)
}

export interface WorkloadOptions {
  seed: number;
  nRequests?: number; // default 64
  vocabSize?: number; // token ids drawn in [3, vocabSize) (0..2: pad/bos/eos); default 512
  maxSeqLen?: number; // prompt + output ≤ maxSeqLen; default 512
  nSystemPrompts?: number; // shared prefixes, 20..120 tokens each; default 4
  sharedFraction?: number; // fraction of requests that start with a system prompt; default 0.5
  meanInterArrival?: number; // iterations between arrivals (exponential); default 1
}

export interface Workload {
  seed: number;
  vocabSize: number;
  maxSeqLen: number;
  requests: KvRequest[];
}

/** Output length: log-normal (median 96 tokens, σ 1), so most answers are short and a few run long. */
const OUTPUT_MEDIAN = 96;
const OUTPUT_SIGMA = 1;
const MIN_PROMPT = 8;
const MAX_PROMPT = 200;

export function generateWorkload(options: WorkloadOptions): Workload {
  const { seed, nRequests = 64, vocabSize = 512, maxSeqLen = 512, nSystemPrompts = 4 } = options;
  const { sharedFraction = 0.5, meanInterArrival = 1 } = options;
  if (!Number.isInteger(nRequests) || nRequests < 1) throw new KvError('bad-option', `nRequests must be ≥ 1, got ${nRequests}`);
  if (!Number.isInteger(vocabSize) || vocabSize < 4) throw new KvError('bad-option', `vocabSize must be ≥ 4, got ${vocabSize}`);
  if (!Number.isInteger(maxSeqLen) || maxSeqLen < MAX_PROMPT + 1) {
    throw new KvError('bad-option', `maxSeqLen must be an integer > ${MAX_PROMPT}, got ${maxSeqLen}`);
  }
  if (!(sharedFraction >= 0 && sharedFraction <= 1)) throw new KvError('bad-option', `sharedFraction must be in [0, 1]`);
  if (!(meanInterArrival >= 0)) throw new KvError('bad-option', `meanInterArrival must be ≥ 0`);
  const rng = new Rng(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(rng.next() * (hi - lo + 1));
  const ids = (n: number): number[] => Array.from({ length: n }, () => int(3, vocabSize - 1));
  const systems = Array.from({ length: nSystemPrompts }, () => ids(int(20, 120)));
  const requests: KvRequest[] = [];
  let clock = 0;
  for (let id = 0; id < nRequests; id++) {
    const system = systems.length > 0 && rng.next() < sharedFraction ? systems[int(0, systems.length - 1)]! : [];
    const prompt = [...system, ...ids(int(Math.max(1, MIN_PROMPT - system.length), MAX_PROMPT - system.length))];
    // Box–Muller normal → log-normal length, capped so the whole sequence fits the context.
    const normal = Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
    const outLen = Math.min(maxSeqLen - prompt.length, Math.max(1, Math.round(OUTPUT_MEDIAN * Math.exp(OUTPUT_SIGMA * normal))));
    requests.push({ id, arrival: Math.floor(clock), prompt, output: ids(outLen) });
    clock += -Math.log(1 - rng.next()) * meanInterArrival;
  }
  return { seed, vocabSize, maxSeqLen, requests };
}

export interface ReplayOptions {
  blockSize: number;
  maxSeqLen: number;
  bytesPerToken: number;
  budgetBytes: number; // the KV pool: floor(budgetBytes / (blockSize × bytesPerToken)) blocks
  checked?: boolean; // run the block manager's invariant checker after every mutation (slow; tests)
}

export interface ReplayResult {
  blockSize: number;
  nBlocks: number;
  iterations: number;
  preemptions: number;
  cachedPromptTokens: number; // prompt tokens found in the prefix cache at admission (not recomputed)
  /**
   * utilization: Σ live bytes / Σ reserved bytes over iterations (byte-iterations, so a near-empty pool
   * late in the run weighs little). admittedAtBudget: paged, the peak number of sequences holding KV at
   * once in this replay; contiguous, floor(budget / (maxSeqLen × bytesPerToken)) capped at the request
   * count. meanRunning (paged): sequences holding KV, averaged over iterations with requests waiting.
   */
  paged: { utilization: number; admittedAtBudget: number; meanRunning: number };
  contiguous: { utilization: number; admittedAtBudget: number };
}

interface Live {
  req: KvRequest;
  generated: number; // output tokens whose KV is held
}

const MAX_ITERATIONS = 1_000_000;

/**
 * One iteration: arrivals join the queue; waiting requests are admitted first-come first-served while
 * their prompt fits and leaves one free block per running sequence; each running sequence appends one
 * output token (preempting the youngest when no block can be had: recompute, requeued at the front);
 * a sequence finishes once its whole output is held.
 */
export function replayKv(workload: Workload, opts: ReplayOptions): ReplayResult {
  const { blockSize, maxSeqLen, bytesPerToken, budgetBytes } = opts;
  if (!Number.isInteger(maxSeqLen) || maxSeqLen < 1) throw new KvError('bad-option', `maxSeqLen must be ≥ 1, got ${maxSeqLen}`);
  if (!(bytesPerToken > 0) || !(budgetBytes > 0)) throw new KvError('bad-option', 'bytesPerToken and budgetBytes must be positive');
  const nBlocks = Math.floor(budgetBytes / (blockSize * bytesPerToken));
  if (nBlocks * blockSize < maxSeqLen) {
    throw new KvError('pool-too-small', `a budget of ${budgetBytes} bytes gives ${nBlocks} blocks, less than one ${maxSeqLen}-token sequence`);
  }
  for (const r of workload.requests) {
    if (r.prompt.length === 0 || r.prompt.length + r.output.length > maxSeqLen || r.output.length === 0) {
      throw new KvError('bad-option', `request ${r.id}: needs 1..${maxSeqLen} tokens with a prompt and an output`);
    }
  }
  const m = new BlockManager({ nBlocks, blockSize, checked: opts.checked === true });
  const arrivals = [...workload.requests].sort((a, b) => a.arrival - b.arrival || a.id - b.id);
  const waiting: Live[] = [];
  let running: Live[] = [];
  let next = 0;
  let finished = 0;
  let preemptions = 0;
  let cachedPromptTokens = 0;
  let peakRunning = 0;
  let sumLive = 0, sumReserved = 0, sumContigLive = 0, sumContigReserved = 0;
  let busyIterations = 0, sumRunningWhileBusy = 0;
  let t = 0;
  for (; finished < arrivals.length; t++) {
    if (t >= MAX_ITERATIONS) throw new KvError('invariant', `replay did not finish in ${MAX_ITERATIONS} iterations`);
    while (next < arrivals.length && arrivals[next]!.arrival <= t) waiting.push({ req: arrivals[next++]!, generated: 0 });
    while (waiting.length > 0) {
      const w = waiting[0]!;
      const tokens = [...w.req.prompt, ...w.req.output.slice(0, w.generated)];
      const plan = m.planAdd(tokens);
      const headroom = running.length + 1; // one block to grow into per running sequence
      if (plan.needBlocks + plan.revivedBlocks + headroom > m.numAllocatableBlocks && running.length > 0) break;
      const res = m.addSequence(w.req.id, tokens);
      if ('ok' in res) break;
      cachedPromptTokens += res.cachedTokens;
      running.push(waiting.shift()!);
    }
    const done: Live[] = [];
    for (let i = 0; i < running.length; i++) {
      const s = running[i]!;
      let res = m.append(s.req.id, s.req.output[s.generated]!);
      while ('ok' in res) {
        const victim = running.pop()!; // the youngest: the last admitted
        m.preempt(victim.req.id);
        preemptions++;
        waiting.unshift(victim);
        if (victim === s) break;
        res = m.append(s.req.id, s.req.output[s.generated]!);
      }
      if ('ok' in res) break; // s preempted itself: it was the youngest, nothing after it
      if (++s.generated === s.req.output.length) done.push(s);
    }
    m.drainEvents();
    peakRunning = Math.max(peakRunning, running.length);
    if (running.length > 0) {
      const acc = kvAccounting(m, bytesPerToken);
      sumLive += acc.liveBytes;
      sumReserved += acc.reservedBytes;
      for (const s of running) sumContigLive += (s.req.prompt.length + s.generated) * bytesPerToken;
      sumContigReserved += running.length * maxSeqLen * bytesPerToken;
    }
    if (waiting.length > 0) {
      busyIterations++;
      sumRunningWhileBusy += running.length;
    }
    for (const s of done) m.free(s.req.id);
    finished += done.length;
    running = running.filter((s) => !done.includes(s));
  }
  return {
    blockSize,
    nBlocks,
    iterations: t,
    preemptions,
    cachedPromptTokens,
    paged: {
      utilization: sumLive / sumReserved,
      admittedAtBudget: peakRunning,
      meanRunning: busyIterations === 0 ? peakRunning : sumRunningWhileBusy / busyIterations,
    },
    contiguous: {
      utilization: sumContigLive / sumContigReserved,
      admittedAtBudget: Math.min(arrivals.length, Math.floor(budgetBytes / (maxSeqLen * bytesPerToken))),
    },
  };
}
