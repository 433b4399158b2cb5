// Hugging Face tokenizer wrapper on a tiny byte-level BPE tokenizer.json written here: exact encodings,
// round trips of non-ASCII text, streaming that never splits a character, BOS/EOS, typed errors.

import { describe, expect, it } from 'vitest';
import { loadHfTokenizer, type HfTokenizer } from './hf.ts';
import { TokenizerError } from './tokenizer.ts';

/** GPT-2's bytes_to_unicode: every byte gets a printable stand-in character ("Ġ" for a space). */
function byteChar(b: number): string {
  const direct = (x: number) => (x >= 0x21 && x <= 0x7e) || (x >= 0xa1 && x <= 0xac) || (x >= 0xae && x <= 0xff);
  if (direct(b)) return String.fromCharCode(b);
  let n = 0;
  for (let x = 0; x < b; x++) if (!direct(x)) n++;
  return String.fromCharCode(256 + n);
}
const sym = (...bytes: number[]) => bytes.map(byteChar).join('');

// Hand-picked merges, in rank order: "caf", "é" (C3 A9), "—" (E2 80 94), half of "✓" (E2 9C | 93), " n".
const MERGES: [string, string][] = [
  ['c', 'a'],
  ['ca', 'f'],
  [sym(0xc3), sym(0xa9)],
  [sym(0xe2), sym(0x80)],
  [sym(0xe2, 0x80), sym(0x94)],
  [sym(0xe2), sym(0x9c)],
  [sym(0x20), 'n'],
];

function tinyTokenizerJson(): unknown {
  const vocab: Record<string, number> = { '<|endoftext|>': 0, '<s>': 1 };
  for (let b = 0; b < 256; b++) vocab[byteChar(b)] = 2 + b;
  MERGES.forEach(([a, b], i) => (vocab[a + b] = 258 + i));
  const special = (id: number, content: string) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, '<|endoftext|>'), special(1, '<s>')],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: MERGES.map(([a, b]) => `${a} ${b}`),
    },
  };
}

const config = {
  bos_token: '<s>',
  eos_token: { __type: 'AddedToken', content: '<|endoftext|>', lstrip: false, rstrip: false, normalized: false },
  clean_up_tokenization_spaces: false,
};

const tok: HfTokenizer = await loadHfTokenizer(tinyTokenizerJson(), config);
const TEXT = 'café — naïve ✓';

function streamAll(ids: number[]): { parts: string[]; tail: string } {
  const s = tok.stream();
  const parts = ids.map((id) => s.push(id));
  return { parts, tail: s.flush() };
}

describe('Hugging Face tokenizer (tiny byte-level BPE)', () => {
  it('reads the vocabulary and the BOS/EOS ids from the config', () => {
    expect(tok.vocabSize).toBe(258 + MERGES.length);
    expect(tok.bosId).toBe(1);
    expect(tok.eosId).toBe(0);
    expect(tok.piece(0)).toBe('<|endoftext|>');
    expect(tok.piece(2 + 0x20)).toBe('Ġ');
  });

  it("takes BOS from tokenizer.json's TemplateProcessing when the config names none", async () => {
    const json = tinyTokenizerJson() as Record<string, unknown>;
    json['post_processor'] = {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    };
    const t = await loadHfTokenizer(json, {});
    expect(t.bosId).toBe(1);
    expect(t.eosId).toBe(-1);
    expect(t.encode('ca', { bos: true })).toEqual([1, 258]);
    const none = await loadHfTokenizer(tinyTokenizerJson(), {});
    expect(none.bosId).toBe(-1);
    expect(none.encode('ca', { bos: true })).toEqual([258]);
  });

  it('encodes with the merges, byte-level, and puts BOS first only when asked', () => {
    const ids = tok.encode(TEXT, { bos: false });
    expect(ids.map((id) => tok.piece(id))).toEqual([
      'caf',
      sym(0xc3, 0xa9), // é
      'Ġ',
      sym(0xe2, 0x80, 0x94), // —
      'Ġn',
      'a',
      sym(0xc3), // ï, unmerged: two byte tokens
      sym(0xaf),
      'v',
      'e',
      'Ġ',
      sym(0xe2, 0x9c), // the first two bytes of ✓ ...
      sym(0x93), // ... and its last
    ]);
    expect(tok.encode(TEXT, { bos: true })).toEqual([1, ...ids]);
    expect(tok.encode('', { bos: true })).toEqual([1]);
  });

  it('round-trips text, non-ASCII included, and leaves special tokens out of decode()', () => {
    for (const text of [TEXT, 'Hello, world!\n\tTabs  and  spaces', 'emoji 😀 and 中文', ' leading space']) {
      const ids = tok.encode(text, { bos: true });
      expect(tok.decode(ids)).toBe(text);
      expect(tok.decode([...ids, tok.eosId])).toBe(text);
    }
    expect(tok.decode([])).toBe('');
  });

  it('streams whole characters: a token holding half of "✓" waits for the rest', () => {
    const ids = tok.encode(TEXT, { bos: true });
    const { parts, tail } = streamAll(ids);
    expect(parts.join('') + tail).toBe(TEXT);
    expect(parts.some((p) => p.includes('\uFFFD'))).toBe(false);
    expect(parts.slice(-2)).toEqual(['', '✓']);
    expect(parts[1]).toBe('caf');
    expect(parts[2]).toBe('é');
    expect(tail).toBe('');

    const emoji = tok.encode('a😀b', { bos: false }); // a, four byte tokens, b
    expect(emoji.length).toBe(6);
    expect(streamAll(emoji).parts).toEqual(['a', '', '', '', '😀', 'b']);
  });

  it('does not hold bytes that never form a character for more than 4 tokens', () => {
    const stray = Array.from({ length: 6 }, () => 2 + 0x80); // lone continuation bytes
    const { parts, tail } = streamAll(stray);
    expect(parts.slice(0, 4)).toEqual(['', '', '', '']);
    expect(parts[4]).not.toBe('');
    expect(parts.join('') + tail).toBe(tok.decode(stray));
  });

  it('decodeToken gives the text a token adds after the previous one', () => {
    const [caf, e, space, dash] = tok.encode(TEXT, { bos: false });
    expect(tok.decodeToken(-1, caf!)).toBe('caf');
    expect(tok.decodeToken(caf!, e!)).toBe('é');
    expect(tok.decodeToken(e!, space!)).toBe(' ');
    expect(tok.decodeToken(space!, dash!)).toBe('—');
    expect(tok.decodeToken(tok.bosId, caf!)).toBe('caf');
  });

  it('rejects bad ids and bad files with typed errors', async () => {
    expect(() => tok.piece(tok.vocabSize)).toThrow(TokenizerError);
    expect(() => tok.decode([1, -1])).toThrow(TokenizerError);
    const bad = async (json: unknown, cfg: unknown) => {
      try {
        await loadHfTokenizer(json, cfg);
      } catch (err) {
        expect(err).toBeInstanceOf(TokenizerError);
        return (err as TokenizerError).code;
      }
      return 'accepted';
    };
    expect(await bad(null, config)).toBe('bad-tokenizer-json');
    expect(await bad('<!DOCTYPE html>', config)).toBe('bad-tokenizer-json');
    expect(await bad({ version: '1.0' }, config)).toBe('bad-tokenizer-json');
    expect(await bad({ model: { type: 'NoSuchModel', vocab: {} } }, config)).toBe('bad-tokenizer-json');
    expect(await bad(tinyTokenizerJson(), [])).toBe('bad-tokenizer-json');
  });
});

/** A Llama-style (SentencePiece converted) tokenizer.json: "▁" for spaces, byte fallback <0xXX>. */
function tinySentencePieceJson(): unknown {
  const hex = (b: number) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
  const pieces = ['<unk>', '<s>', '</s>', ...Array.from({ length: 256 }, (_, b) => hex(b))];
  pieces.push('▁', 'c', 'a', 'f', 'é', 'n', 'v', 'e', '—', '▁c', '▁ca', '▁caf'); // 259..270
  const vocab = Object.fromEntries(pieces.map((p, id) => [p, id]));
  const special = (id: number, content: string) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  return {
    version: '1.0',
    added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
    pre_tokenizer: null,
    post_processor: null,
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      fuse_unk: true,
      byte_fallback: true,
      vocab,
      merges: ['▁ c', '▁c a', '▁ca f'],
    },
  };
}

describe('Hugging Face tokenizer (tiny SentencePiece-style BPE with byte fallback)', () => {
  it('encodes, decodes and streams like Llama tokenizers: leading space, byte-fallback characters', async () => {
    const sp = await loadHfTokenizer(tinySentencePieceJson(), { bos_token: '<s>', eos_token: '</s>' });
    expect([sp.bosId, sp.eosId]).toEqual([1, 2]);
    const ids = sp.encode(TEXT, { bos: true });
    expect(ids.map((id) => sp.piece(id))).toEqual(
      ['<s>', '▁caf', 'é', '▁', '—', '▁', 'n', 'a', '<0xC3>', '<0xAF>', 'v', 'e', '▁', '<0xE2>', '<0x9C>', '<0x93>'],
    );
    expect(sp.decode(ids)).toBe(TEXT);
    const s = sp.stream();
    const parts = ids.map((id) => s.push(id));
    expect(parts.join('') + s.flush()).toBe(TEXT);
    expect(parts).toEqual(['', 'caf', 'é', ' ', '—', ' ', 'n', 'a', '', 'ï', 'v', 'e', ' ', '', '', '✓']);
    expect(sp.decodeToken(ids[5]!, ids[6]!)).toBe('n');
    expect(sp.decodeToken(ids[4]!, ids[5]!)).toBe(' ');
  });
});

