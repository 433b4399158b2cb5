// The typed error the KV block manager, its accounting and its workload replay throw. Imports nothing.

/**
 * bad-option: a constructor/replay option out of range (nBlocks, blockSize, budget, lengths).
 * bad-token: a token id that is not a non-negative integer. empty-prompt: addSequence with no tokens.
 * seq-exists / no-such-seq: a sequence id already registered / not registered.
 * pool-too-small: the replay's pool cannot hold even one request of maxSeqLen tokens.
 * invariant: the checker found the manager's state inconsistent (a bug, never bad input).
 */
export type KvErrorCode =
  | 'bad-option'
  | 'bad-token'
  | 'empty-prompt'
  | 'seq-exists'
  | 'no-such-seq'
  | 'pool-too-small'
  | 'invariant';

export class KvError extends Error {
  override readonly name = 'KvError';
  readonly code: KvErrorCode;

  constructor(code: KvErrorCode, message: string) {
    super(`${message} (${code})`);
    this.code = code;
  }
}
