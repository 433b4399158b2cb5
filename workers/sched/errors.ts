// The typed error the scheduler, its workload generator, metrics and simulation harness throw. Imports nothing.

/**
 * bad-option: a constructor/generator/simulation option out of range. bad-request: a request that cannot be
 * served (empty prompt, maxTokens < 1, duplicate id, bad token). bad-decision: a scheduler returned an
 * inconsistent decision (unknown id, over the token budget or batch size, decode before prefill is done).
 * over-commit: the scheduler admitted or decoded more than the KV pool holds. pool-too-small: a request can
 * never fit the pool even alone. stalled: no progress is possible (a bug, never bad input).
 */
export type SchedErrorCode = 'bad-option' | 'bad-request' | 'bad-decision' | 'over-commit' | 'pool-too-small' | 'stalled';

export class SchedError extends Error {
  override readonly name = 'SchedError';
  readonly code: SchedErrorCode;

  constructor(code: SchedErrorCode, message: string) {
    super(`${message} (${code})`);
    this.code = code;
  }
}
