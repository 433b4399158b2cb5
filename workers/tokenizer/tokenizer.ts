// The tokenizer contract the engine, the CLI and the UI share, its typed error, and a UTF-8 byte
// accumulator for streaming. Pure TypeScript: imports nothing (no DOM, no GPU, no transformers.js).

export interface Tokenizer {
  /** One past the largest token id the tokenizer knows. */
  readonly vocabSize: number;
  /** Beginning-of-sequence id, or -1 when the tokenizer has none. */
  readonly bosId: number;
  /** End-of-sequence id, or -1 when the tokenizer has none. */
  readonly eosId: number;
  /** Text → ids; `bos: true` puts bosId first (nothing is added when bosId is -1). */
  encode(text: string, opts: { bos: boolean }): number[];
  /**
   * The text piece one token contributes in streaming, given the token before it (-1 at the start).
   * Stateless, so a token that is only part of a multi-byte character cannot be rendered whole here:
   * use `stream()` where exact text matters.
   */
  decodeToken(prevId: number, id: number): string;
  /** A whole sequence → text; control tokens (BOS/EOS, special tokens) are left out. */
  decode(ids: number[]): string;
  /** The raw vocabulary entry of one token, for hover display ("<0x0A>", " Once", "Ġthe"). */
  piece(id: number): string;
  /** A fresh streaming decoder for one sequence. */
  stream(): TokenStream;
}

/**
 * Incremental decoding for one sequence: `push` returns only complete text (never half a UTF-8
 * character); the concatenation of every `push` result and `flush()` equals `decode(allIds)`.
 */
export interface TokenStream {
  push(id: number): string;
  /** Whatever is still held back (an unfinished character comes out as U+FFFD). */
  flush(): string;
}

/**
 * What went wrong. tokenizer.bin: not-a-tokenizer (an HTML page or a Git LFS pointer), truncated,
 * trailing-bytes (bytes after the last piece), bad-max-token-length, bad-piece-length, bad-score (NaN or
 * infinite), bad-utf8 (a piece that is not valid UTF-8). tokenizer.json: bad-tokenizer-json (not an
 * object, or rejected by transformers.js). Any: bad-vocab-size (the expected size is not a positive
 * integer, or disagrees with the file), missing-piece (encode needs a piece the vocab lacks), bad-token-id.
 */
export type TokenizerErrorCode =
  | 'not-a-tokenizer'
  | 'truncated'
  | 'trailing-bytes'
  | 'bad-max-token-length'
  | 'bad-piece-length'
  | 'bad-score'
  | 'bad-utf8'
  | 'bad-tokenizer-json'
  | 'bad-vocab-size'
  | 'missing-piece'
  | 'bad-token-id';

export class TokenizerError extends Error {
  override readonly name = 'TokenizerError';
  readonly code: TokenizerErrorCode;
  /** The file at fault, as the caller named it ("tok512.bin", "tokenizer.json"). */
  readonly file: string;
  /** The field at fault, when there is one ("max_token_length", "piece[37].len"). */
  readonly field: string | undefined;

  constructor(code: TokenizerErrorCode, file: string, message: string, field?: string) {
    super(`${file}${field === undefined ? '' : ` [${field}]`}: ${message} (${code})`);
    this.code = code;
    this.file = file;
    this.field = field;
  }
}

/** Length of the complete UTF-8 prefix of `bytes`: an unfinished trailing character is left out. */
export function completeUtf8Length(bytes: Uint8Array): number {
  const n = bytes.length;
  // A character is at most 4 bytes, so only the last 3 bytes can start an unfinished one.
  for (let back = 1; back <= Math.min(3, n); back++) {
    const b = bytes[n - back]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead byte
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? n - back : n;
  }
  return n; // only continuation bytes at the end (invalid anyway): let the decoder replace them
}

/** Collects bytes and hands out the text of every finished character (used by byte-level streams). */
export class Utf8Accumulator {
  private pending: number[] = []; // bytes of an unfinished character, at most 3
  private readonly decoder = new TextDecoder('utf-8'); // non-fatal: invalid bytes → U+FFFD

  /** Appends bytes; returns the text of all characters they finish. */
  push(bytes: Uint8Array): string {
    const all = new Uint8Array(this.pending.length + bytes.length);
    all.set(this.pending);
    all.set(bytes, this.pending.length);
    const cut = completeUtf8Length(all);
    this.pending = Array.from(all.subarray(cut));
    return this.decoder.decode(all.subarray(0, cut));
  }

  flush(): string {
    const rest = this.decoder.decode(Uint8Array.from(this.pending));
    this.pending = [];
    return rest;
  }
}
