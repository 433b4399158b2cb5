// llama2.c's tokenizer.bin: a strict parser and a tokenizer that encodes and decodes exactly as
// llama2.c's run.c does (bpe_encode, and the piece printing of its generation loop). Pure TypeScript;
// imports only ./tokenizer.

import { TokenizerError, Utf8Accumulator, type Tokenizer, type TokenStream } from './tokenizer.ts';

/** run.c's ids: the first three pieces are <unk>, <s>, </s>; byte fallbacks <0x00>..<0xFF> follow. */
export const LLAMA2C_BOS = 1;
export const LLAMA2C_EOS = 2;
const BYTE_FALLBACK_OFFSET = 3;

/** No real tokenizer.bin has pieces this long (Llama 2's longest is 16 bytes); beyond it, it's garbage. */
const MAX_TOKEN_LENGTH_CAP = 1024;
const MAX_VOCAB_SIZE = 1 << 20;

export interface Llama2cTokenizerFile {
  /** The file's own max_token_length header (the longest piece in bytes). */
  maxTokenLength: number;
  /** [vocabSize] merge scores, f32 values. */
  scores: Float32Array;
  /** [vocabSize] pieces, decoded from UTF-8. */
  pieces: string[];
}

/**
 * Parses tokenizer.bin: int32 max_token_length, then vocabSize × (f32 score, int32 len, len bytes),
 * little-endian, and nothing after. `vocabSize` comes from the model header; the file does not store it.
 * Everything is checked before the piece tables are allocated.
 */
export function parseLlama2cTokenizer(bytes: Uint8Array, vocabSize: number, file: string): Llama2cTokenizerFile {
  if (!Number.isInteger(vocabSize) || vocabSize < BYTE_FALLBACK_OFFSET || vocabSize > MAX_VOCAB_SIZE) {
    throw new TokenizerError('bad-vocab-size', file, `expected vocab size ${vocabSize} is not an integer in [3, 2^20]`);
  }
  rejectNonTokenizer(bytes, file);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4) {
    throw new TokenizerError('truncated', file, `${bytes.length} bytes: too short for the header`, 'max_token_length');
  }
  const maxTokenLength = view.getInt32(0, true);
  if (maxTokenLength < 1 || maxTokenLength > MAX_TOKEN_LENGTH_CAP) {
    throw new TokenizerError(
      'bad-max-token-length',
      file,
      `max_token_length ${maxTokenLength} is outside [1, ${MAX_TOKEN_LENGTH_CAP}]`,
      'max_token_length',
    );
  }
  // Each piece takes at least 9 bytes (score, len, one byte): reject an obviously short file first.
  const minSize = 4 + vocabSize * 9;
  if (bytes.length < minSize) {
    throw new TokenizerError(
      'truncated',
      file,
      `${bytes.length} bytes cannot hold ${vocabSize} pieces (at least ${minSize} bytes)`,
    );
  }
  // First pass: walk the records and validate every length and score, without allocating anything.
  let offset = 4;
  for (let i = 0; i < vocabSize; i++) {
    if (offset + 8 > bytes.length) {
      throw new TokenizerError('truncated', file, `file ends inside the record of piece ${i}`, `piece[${i}]`);
    }
    const score = view.getFloat32(offset, true);
    if (!Number.isFinite(score)) {
      throw new TokenizerError('bad-score', file, `score ${score} is not finite`, `piece[${i}].score`);
    }
    const len = view.getInt32(offset + 4, true);
    // run.c's fread(vocab[i], len, 1) fails for len 0, so an empty piece is an error there too.
    if (len < 1 || len > maxTokenLength) {
      throw new TokenizerError(
        'bad-piece-length',
        file,
        `length ${len} is outside [1, max_token_length = ${maxTokenLength}]`,
        `piece[${i}].len`,
      );
    }
    offset += 8;
    if (offset + len > bytes.length) {
      throw new TokenizerError('truncated', file, `file ends inside the bytes of piece ${i}`, `piece[${i}].bytes`);
    }
    offset += len;
  }
  if (offset !== bytes.length) {
    throw new TokenizerError(
      'trailing-bytes',
      file,
      `${bytes.length - offset} bytes after the last of ${vocabSize} pieces (does the model's vocab size match?)`,
    );
  }
  // Second pass: the file is sound, build the tables.
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const scores = new Float32Array(vocabSize);
  const pieces: string[] = [];
  offset = 4;
  for (let i = 0; i < vocabSize; i++) {
    scores[i] = view.getFloat32(offset, true);
    const len = view.getInt32(offset + 4, true);
    offset += 8;
    try {
      pieces.push(decoder.decode(bytes.subarray(offset, offset + len)));
    } catch {
      throw new TokenizerError('bad-utf8', file, `piece ${i} is not valid UTF-8`, `piece[${i}].bytes`);
    }
    offset += len;
  }
  return { maxTokenLength, scores, pieces };
}

/** An HTML page or a Git LFS pointer served in place of the file gets its own message. */
function rejectNonTokenizer(bytes: Uint8Array, file: string): void {
  const head = new TextDecoder('latin1').decode(bytes.subarray(0, 64)).trimStart().toLowerCase();
  if (head.startsWith('<!doctype') || head.startsWith('<html')) {
    throw new TokenizerError('not-a-tokenizer', file, 'this is an HTML page, not a llama2.c tokenizer.bin');
  }
  if (head.startsWith('version https://git-lfs')) {
    throw new TokenizerError('not-a-tokenizer', file, 'this is a Git LFS pointer, not the tokenizer.bin itself');
  }
}

/** run.c's `sscanf(piece, "<0x%02hhX>", &byte)`: the byte a raw-byte piece stands for, or -1. */
function rawByte(piece: string): number {
  const m = /^<0x([0-9A-Fa-f]{1,2})/.exec(piece);
  return m === null ? -1 : parseInt(m[1]!, 16);
}

/** C's isprint || isspace in the "C" locale. */
function printable(byte: number): boolean {
  return (byte >= 0x20 && byte <= 0x7e) || (byte >= 0x09 && byte <= 0x0d);
}

export class Llama2cTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId = LLAMA2C_BOS;
  readonly eosId = LLAMA2C_EOS;
  private readonly pieces: string[];
  private readonly scores: Float32Array; // [vocabSize] f32
  private readonly lookup = new Map<string, number>(); // piece → first id with that piece
  private readonly encoder = new TextEncoder();

  constructor(
    parsed: Llama2cTokenizerFile,
    private readonly file: string,
  ) {
    this.pieces = parsed.pieces;
    this.scores = parsed.scores;
    this.vocabSize = parsed.pieces.length;
    this.pieces.forEach((p, id) => {
      if (!this.lookup.has(p)) this.lookup.set(p, id);
    });
  }

  /**
   * run.c's bpe_encode: a dummy-prefix space, then one piece per UTF-8 character (each byte as
   * <0xXX> = byte + 3 when the character is not a piece), then repeatedly merge the adjacent pair whose
   * concatenation is the piece with the highest score (the leftmost on ties) until none is a piece.
   * Empty text gives no pieces (later llama2.c adds the dummy prefix only to non-empty text).
   */
  encode(text: string, opts: { bos: boolean }): number[] {
    const tokens: number[] = [];
    if (text.length > 0) {
      tokens.push(this.require(' ', 'the dummy-prefix space'));
      for (const ch of text) {
        const id = this.lookup.get(ch);
        if (id !== undefined) {
          tokens.push(id);
          continue;
        }
        for (const byte of this.encoder.encode(ch)) {
          const fallback = byte + BYTE_FALLBACK_OFFSET;
          if (fallback >= this.vocabSize) {
            throw new TokenizerError('missing-piece', this.file, `no byte-fallback piece for byte ${byte}`);
          }
          tokens.push(fallback);
        }
      }
    }
    // run.c starts from `float best_score = -1e10`, so pieces scored at or below it never merge.
    const floor = Math.fround(-1e10);
    for (;;) {
      let bestScore = floor;
      let bestId = -1;
      let bestIdx = -1;
      for (let i = 0; i < tokens.length - 1; i++) {
        const id = this.lookup.get(this.pieces[tokens[i]!]! + this.pieces[tokens[i + 1]!]!);
        if (id !== undefined && this.scores[id]! > bestScore) {
          bestScore = this.scores[id]!;
          bestId = id;
          bestIdx = i;
        }
      }
      if (bestIdx === -1) break;
      tokens.splice(bestIdx, 2, bestId);
    }
    return opts.bos ? [LLAMA2C_BOS, ...tokens] : tokens;
  }

  /**
   * Exactly what run.c prints for `id` after `prevId`: after BOS a leading space is dropped; a raw-byte
   * piece <0xXX> prints its byte only when it is printable ASCII or whitespace (so bytes of multi-byte
   * characters print nothing — use stream() for those); any other piece prints as it is.
   */
  decodeToken(prevId: number, id: number): string {
    const piece = this.stripAfterBos(prevId, this.piece(id));
    const byte = rawByte(piece);
    if (byte < 0) return piece;
    return printable(byte) ? String.fromCharCode(byte) : '';
  }

  decode(ids: number[]): string {
    const s = this.stream();
    let text = '';
    for (const id of ids) text += s.push(id);
    return text + s.flush();
  }

  piece(id: number): string {
    const p = Number.isInteger(id) ? this.pieces[id] : undefined;
    if (p === undefined) {
      throw new TokenizerError('bad-token-id', this.file, `token id ${id} is outside [0, ${this.vocabSize})`);
    }
    return p;
  }

  /**
   * Like run.c's printing, but byte pieces contribute their raw byte so multi-byte characters come out
   * whole, and BOS/EOS (whose pieces are "\n<s>\n" and "\n</s>\n") contribute nothing.
   */
  stream(): TokenStream {
    const acc = new Utf8Accumulator();
    let prev = -1;
    return {
      push: (id: number): string => {
        const piece = this.stripAfterBos(prev, this.piece(id));
        prev = id;
        if (id === LLAMA2C_BOS || id === LLAMA2C_EOS) return '';
        const byte = rawByte(piece);
        return acc.push(byte >= 0 ? Uint8Array.of(byte) : this.encoder.encode(piece));
      },
      flush: (): string => acc.flush(),
    };
  }

  private stripAfterBos(prevId: number, piece: string): string {
    return prevId === LLAMA2C_BOS && piece.startsWith(' ') ? piece.slice(1) : piece;
  }

  private require(piece: string, what: string): number {
    const id = this.lookup.get(piece);
    if (id === undefined) {
      throw new TokenizerError('missing-piece', this.file, `the vocab has no piece for ${what}`);
    }
    return id;
  }
}

/** Parses and wraps tokenizer.bin in one call. */
export function loadLlama2cTokenizer(bytes: Uint8Array, vocabSize: number, file: string): Llama2cTokenizer {
  return new Llama2cTokenizer(parseLlama2cTokenizer(bytes, vocabSize, file), file);
}
