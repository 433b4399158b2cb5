// The typed error speculative decoding's pure helpers (rejection sampling, the chi-square test) throw.
// Imports nothing.

/**
 * bad-shape: arrays of the wrong length (q must have γ rows, p γ + 1, vectors one vocabSize).
 * bad-token: a token id outside the vocabulary. bad-probability: a negative, non-finite or unnormalised
 * probability. bad-argument: a scalar out of range (α, γ, cost ratio, thresholds, counts).
 */
export type SpecErrorCode = 'bad-shape' | 'bad-token' | 'bad-probability' | 'bad-argument';

export class SpecError extends Error {
  override readonly name = 'SpecError';
  readonly code: SpecErrorCode;

  constructor(code: SpecErrorCode, message: string) {
    super(`${message} (${code})`);
    this.code = code;
  }
}
