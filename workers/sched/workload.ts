// A seeded serving workload: Poisson arrivals, a mixture of request kinds (summarize: long prompt/short
// answer; code: short prompt/long answer; chat: medium/medium), optional shared prefixes, priorities and
// TTFT deadlines. Pure: only the seeded Rng; token ids in [3, vocabSize).

import { Rng } from '../sampling/rng.ts';
import { SchedError } from './errors.ts';
import type { Request } from './scheduler.ts';

export interface RequestKind {
  name: string;
  weight: number; // relative share of the mixture
  prompt: [number, number]; // prompt length, uniform in [lo, hi]
  output: [number, number]; // maxTokens, uniform in [lo, hi]
}

export const DEFAULT_MIX: RequestKind[] = [
  { name: 'chat', weight: 0.5, prompt: [64, 256], output: [64, 256] },
  { name: 'summarize', weight: 0.25, prompt: [384, 1024], output: [16, 64] },
  { name: 'code', weight: 0.25, prompt: [16, 96], output: [192, 512] },
];

export interface ServingWorkloadOptions {
  seed: number;
  nRequests?: number; // default 64
  ratePerSec?: number; // Poisson arrival rate; Infinity = all at time 0; default 4
  vocabSize?: number; // default 512
  mix?: RequestKind[]; // default DEFAULT_MIX
  /** Shared prefixes (system prompts): `count` prefixes of `length` tokens, prepended to a `fraction` of prompts. */
  sharedPrefix?: { count: number; length: [number, number]; fraction: number };
  /** A `fraction` of requests are interactive: `priority` (default 1) and, if `ttftMs`, deadline = arrival + ttftMs. */
  interactive?: { fraction: number; priority?: number; ttftMs?: number };
}

export interface ServingRequest extends Request {
  kind: string;
}

export function generateRequests(options: ServingWorkloadOptions): ServingRequest[] {
  const { seed, nRequests = 64, ratePerSec = 4, vocabSize = 512, mix = DEFAULT_MIX, sharedPrefix, interactive } = options;
  if (!Number.isInteger(nRequests) || nRequests < 1) throw new SchedError('bad-option', `nRequests must be ≥ 1, got ${nRequests}`);
  if (!(ratePerSec > 0)) throw new SchedError('bad-option', `ratePerSec must be > 0, got ${ratePerSec}`);
  if (!Number.isInteger(vocabSize) || vocabSize < 4) throw new SchedError('bad-option', `vocabSize must be ≥ 4, got ${vocabSize}`);
  if (mix.length === 0) throw new SchedError('bad-option', 'mix needs at least one request kind');
  for (const k of mix) {
    if (!(k.weight > 0)) throw new SchedError('bad-option', `${k.name}: weight must be > 0`);
    for (const [lo, hi] of [k.prompt, k.output]) {
      if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 1 || hi < lo) {
        throw new SchedError('bad-option', `${k.name}: length ranges must be integers with 1 ≤ lo ≤ hi`);
      }
    }
  }
  if (sharedPrefix !== undefined) {
    const { count, length, fraction } = sharedPrefix;
    if (!Number.isInteger(count) || count < 1 || !(length[0] >= 1 && length[1] >= length[0]) || !(fraction >= 0 && fraction <= 1)) {
      throw new SchedError('bad-option', 'sharedPrefix needs count ≥ 1, 1 ≤ length lo ≤ hi and fraction in [0, 1]');
    }
  }
  if (interactive !== undefined && !(interactive.fraction >= 0 && interactive.fraction <= 1 && (interactive.ttftMs ?? 1) > 0)) {
    throw new SchedError('bad-option', 'interactive needs fraction in [0, 1] and ttftMs > 0');
  }
  const rng = new Rng(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(rng.next() * (hi - lo + 1));
  const ids = (n: number): number[] => Array.from({ length: n }, () => int(3, vocabSize - 1));
  const prefixes = sharedPrefix === undefined ? [] : Array.from({ length: sharedPrefix.count }, () => ids(int(...sharedPrefix.length)));
  const totalWeight = mix.reduce((s, k) => s + k.weight, 0);
  const requests: ServingRequest[] = [];
  let clock = 0;
  for (let id = 0; id < nRequests; id++) {
    let u = rng.next() * totalWeight;
    const kind = mix.find((k) => (u -= k.weight) < 0) ?? mix[mix.length - 1]!;
    const prefix = prefixes.length > 0 && rng.next() < sharedPrefix!.fraction ? prefixes[int(0, prefixes.length - 1)]! : [];
    const prompt = [...prefix, ...ids(int(...kind.prompt))];
    const maxTokens = int(...kind.output);
    const request: ServingRequest = { id, kind: kind.name, arrivalMs: clock, prompt, maxTokens };
    if (interactive !== undefined && rng.next() < interactive.fraction) {
      request.priority = interactive.priority ?? 1;
      if (interactive.ttftMs !== undefined) request.deadlineMs = clock + interactive.ttftMs;
    }
    requests.push(request);
    // Exponential inter-arrival gaps (mean 1000 / rate ms) make a Poisson process.
    if (Number.isFinite(ratePerSec)) clock += (-Math.log(1 - rng.next()) * 1000) / ratePerSec;
  }
  return requests;
}
