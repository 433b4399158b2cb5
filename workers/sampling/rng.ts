// The engine's seeded random number generator: one instance per run, so the same seed gives the same
// tokens on the same device. Never Math.random. Pure; imports nothing.

/**
 * mulberry32: a 32-bit state generator, small enough for learners to read and plenty for sampling.
 * `state` is exposed so a run can be snapshotted and resumed (replays, shared links).
 */
export class Rng {
  state: number;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new Error(`Rng: seed must be a finite number, got ${seed}`);
    this.state = Math.trunc(seed) >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}
