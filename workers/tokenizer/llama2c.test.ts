// llama2.c tokenizer: token-for-token agreement with run.c's golden runs on stories260K, merge rules on a
// hand-made vocab, streaming of multi-byte characters, and a typed error for every kind of bad file.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { randInt, seeded } from '../../gpu/testing/random.ts';
import { readBytes, TOK512 } from '../testing/models.ts';
import { loadLlama2cTokenizer, parseLlama2cTokenizer } from './llama2c.ts';
import { TokenizerError, type TokenizerErrorCode } from './tokenizer.ts';

interface GoldenCase {
  prompt: string;
  promptTokenIds: number[];
  tokenIds: number[];
  stop: 'steps' | 'bos';
  text: string;
}
const golden = JSON.parse(
  readFileSync(new URL('../model/testdata/stories260K-golden.json', import.meta.url), 'utf-8'),
) as { steps: number; cases: GoldenCase[] };

const tok512 = readBytes(TOK512);
const tok = loadLlama2cTokenizer(tok512, 512, 'tok512.bin');

/** Writes a tokenizer.bin: int32 max_token_length, then per piece f32 score, int32 len, bytes. */
function tokBin(maxTokenLength: number, pieces: { score: number; bytes: Uint8Array | string }[]): Uint8Array {
  const enc = new TextEncoder();
  const raw = pieces.map((p) => ({ score: p.score, bytes: typeof p.bytes === 'string' ? enc.encode(p.bytes) : p.bytes }));
  const out = new Uint8Array(4 + raw.reduce((n, p) => n + 8 + p.bytes.length, 0));
  const view = new DataView(out.buffer);
  view.setInt32(0, maxTokenLength, true);
  let o = 4;
  for (const p of raw) {
    view.setFloat32(o, p.score, true);
    view.setInt32(o + 4, p.bytes.length, true);
    out.set(p.bytes, o + 8);
    o += 8 + p.bytes.length;
  }
  return out;
}

/** <unk>, <s>, </s>, the 256 byte pieces, then `extra`: the layout llama2.c's exporter writes. */
function vocabWith(extra: { score: number; bytes: string }[]): Uint8Array {
  const hex = (b: number) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
  const base = ['<unk>', '\n<s>\n', '\n</s>\n', ...Array.from({ length: 256 }, (_, b) => hex(b))];
  return tokBin(8, [...base.map((bytes) => ({ score: 0, bytes })), ...extra]);
}

function expectError(fn: () => unknown, code: TokenizerErrorCode, field?: string): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TokenizerError);
    const err = e as TokenizerError;
    expect(err.code).toBe(code);
    expect(err.file).toBe('t.bin');
    if (field !== undefined) expect(err.field).toBe(field);
    return;
  }
  throw new Error(`expected TokenizerError ${code}, nothing was thrown`);
}

describe('llama2.c tokenizer against run.c (stories260K golden)', () => {
  it('has the golden cases the issue asks for', () => {
    expect(golden.cases.length).toBeGreaterThanOrEqual(5);
    expect(golden.cases.some((c) => c.stop === 'bos')).toBe(true);
    expect(golden.cases.some((c) => c.prompt.includes('✓') && !c.text.includes('✓'))).toBe(true);
    expect(golden.cases[0]!.text.startsWith(
      'Once upon a time, there was a little girl named Lily. She loved to play outside in the park.',
    )).toBe(true);
  });

  for (const c of golden.cases) {
    it(`encodes ${JSON.stringify(c.prompt)} as run.c did`, () => {
      expect(tok.encode(c.prompt, { bos: true })).toEqual(c.promptTokenIds);
      expect(tok.encode(c.prompt, { bos: false })).toEqual(c.promptTokenIds.slice(1));
      expect(c.tokenIds.slice(0, c.promptTokenIds.length)).toEqual(c.promptTokenIds);
    });

    it(`prints ${JSON.stringify(c.prompt)}'s generated ids exactly as run.c did`, () => {
      let printed = '';
      for (let i = 1; i < c.tokenIds.length; i++) printed += tok.decodeToken(c.tokenIds[i - 1]!, c.tokenIds[i]!);
      expect(printed).toBe(c.text);
      // decode() keeps what run.c cannot print: the bytes of a byte-fallback character ("✓").
      const full = tok.decode(c.tokenIds);
      expect(full.startsWith(c.prompt)).toBe(true);
      expect(full.replace('✓', '')).toBe(c.text);
    });
  }

  it('decodes pieces as run.c prints them: space dropped after BOS, byte tokens as bytes', () => {
    expect(tok.piece(403)).toBe(' Once');
    expect(tok.decodeToken(1, 403)).toBe('Once');
    expect(tok.decodeToken(403, 403)).toBe(' Once');
    expect(tok.piece(13)).toBe('<0x0A>');
    expect(tok.decodeToken(5, 13)).toBe('\n');
    expect(tok.decodeToken(5, 3 + 0xc3)).toBe(''); // half of a UTF-8 character: run.c prints nothing
    expect(tok.decodeToken(5, 3 + 0x07)).toBe(''); // a control byte: skipped
    expect(() => tok.piece(512)).toThrow(TokenizerError);
  });
});

describe('llama2.c encode: UTF-8, byte fallback and merges', () => {
  const text = 'café — naïve ✓';

  it('uses codepoint pieces where they exist and byte fallback (+3) elsewhere', () => {
    const ids = tok.encode(text, { bos: true });
    expect(ids[0]).toBe(1);
    expect(ids).toContain(485); // "é" is a piece of tok512
    expect(ids).toContain(481); // so is "—"
    for (const b of [0xc3, 0xaf, 0xe2, 0x9c, 0x93]) expect(ids).toContain(b + 3); // "ï" and "✓" are not
    expect(tok.decode(ids)).toBe(text);
    expect(tok.encode('', { bos: true })).toEqual([1]);
  });

  it('streams whole characters only, and the stream agrees with decode()', () => {
    const ids = tok.encode(`${text} 😀 done`, { bos: true });
    const s = tok.stream();
    const parts = ids.map((id) => s.push(id));
    const tail = s.flush();
    expect(parts.join('') + tail).toBe(`${text} 😀 done`);
    expect(parts.some((p) => p.includes('\uFFFD'))).toBe(false);
    expect(parts.filter((p) => p === '').length).toBeGreaterThan(1); // BOS, and the held first bytes
    expect(tail).toBe('');
  });

  it('merges the best-scoring pair first, the leftmost on ties, never one scored at or below -1e10', () => {
    const t = loadLlama2cTokenizer(
      vocabWith([
        { score: -9, bytes: ' ' }, // 259
        { score: -9, bytes: 'a' }, // 260
        { score: -9, bytes: 'b' }, // 261
        { score: -1, bytes: 'ab' }, // 262
        { score: -1, bytes: 'ba' }, // 263
        { score: -5, bytes: ' a' }, // 264
        { score: -2e10, bytes: 'aa' }, // 265: below run.c's starting best score
        { score: -3, bytes: ' ab' }, // 266
      ]),
      267,
      'tiny.bin',
    );
    // [" ", a, b, a]: "ab" and "ba" tie at -1, the leftmost ("ab") wins, then " "+"ab" → " ab".
    expect(t.encode('aba', { bos: false })).toEqual([266, 260]);
    expect(t.encode('aa', { bos: false })).toEqual([264, 260]);
    expect(t.encode('c', { bos: false })).toEqual([259, 3 + 0x63]); // not a piece: byte fallback
  });
});

describe('llama2.c tokenizer.bin validation', () => {
  const good = vocabWith([{ score: -1, bytes: ' ' }]); // 260 pieces
  const n = 260;

  it('accepts a well-formed file', () => {
    expect(parseLlama2cTokenizer(good, n, 't.bin').pieces.length).toBe(n);
  });

  it('rejects truncation at every length', () => {
    for (let len = 0; len < good.length; len++) {
      expectError(() => parseLlama2cTokenizer(good.subarray(0, len), n, 't.bin'), 'truncated');
    }
  });

  it('names the bad field for each kind of corruption', () => {
    const patched = (at: number, set: (v: DataView) => void): Uint8Array => {
      const b = good.slice();
      set(new DataView(b.buffer, at));
      return b;
    };
    const piece0 = 4; // record of piece 0: score at 4, len at 8, bytes at 12
    expectError(() => parseLlama2cTokenizer(Uint8Array.of(...good, 0), n, 't.bin'), 'trailing-bytes');
    expectError(() => parseLlama2cTokenizer(good, n - 1, 't.bin'), 'trailing-bytes');
    expectError(() => parseLlama2cTokenizer(good, n + 1, 't.bin'), 'truncated');
    expectError(() => parseLlama2cTokenizer(good, 2.5, 't.bin'), 'bad-vocab-size');
    expectError(() => parseLlama2cTokenizer(patched(0, (v) => v.setInt32(0, 0, true)), n, 't.bin'), 'bad-max-token-length', 'max_token_length');
    expectError(() => parseLlama2cTokenizer(patched(0, (v) => v.setInt32(0, 1 << 30, true)), n, 't.bin'), 'bad-max-token-length');
    expectError(() => parseLlama2cTokenizer(patched(piece0, (v) => v.setFloat32(0, NaN, true)), n, 't.bin'), 'bad-score', 'piece[0].score');
    expectError(() => parseLlama2cTokenizer(patched(piece0 + 4, (v) => v.setInt32(0, -1, true)), n, 't.bin'), 'bad-piece-length', 'piece[0].len');
    expectError(() => parseLlama2cTokenizer(patched(piece0 + 4, (v) => v.setInt32(0, 0, true)), n, 't.bin'), 'bad-piece-length');
    expectError(() => parseLlama2cTokenizer(patched(piece0 + 4, (v) => v.setInt32(0, 9, true)), n, 't.bin'), 'bad-piece-length');
    expectError(() => parseLlama2cTokenizer(patched(piece0 + 8, (v) => v.setUint8(0, 0xff)), n, 't.bin'), 'bad-utf8', 'piece[0].bytes');
    const text = (s: string) => new TextEncoder().encode(s);
    expectError(() => parseLlama2cTokenizer(text('<!DOCTYPE html><html><body>404</body></html>'), n, 't.bin'), 'not-a-tokenizer');
    expectError(
      () => parseLlama2cTokenizer(text('version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 6227\n'), n, 't.bin'),
      'not-a-tokenizer',
    );
  });

  it('never throws anything but a TokenizerError on randomly mutated files', () => {
    const rand = seeded(7);
    let accepted = 0;
    for (let trial = 0; trial < 300; trial++) {
      const b = tok512.slice();
      const flips = randInt(rand, 1, 4);
      for (let k = 0; k < flips; k++) b[randInt(rand, 0, b.length - 1)] = randInt(rand, 0, 255);
      const cut = rand() < 0.2 ? randInt(rand, 0, b.length) : b.length;
      try {
        parseLlama2cTokenizer(b.subarray(0, cut), 512, 't.bin');
        accepted++;
      } catch (e) {
        expect(e).toBeInstanceOf(TokenizerError);
      }
    }
    expect(accepted).toBeGreaterThan(0); // mutations inside piece text or scores can stay valid
  });
});
