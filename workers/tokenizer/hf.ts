// Hugging Face tokenizer.json (+ tokenizer_config.json) behind our Tokenizer interface, through
// transformers.js's PreTrainedTokenizer. transformers.js is imported dynamically on first load, so the
// engine's module graph stays light; nothing here touches the hub or the network. No DOM, no GPU.

import type { PreTrainedTokenizer } from '@huggingface/transformers';
import { TokenizerError, type Tokenizer, type TokenStream } from './tokenizer.ts';

/**
 * How many ids a stream may hold back waiting for a character to finish. A UTF-8 character is at most 4
 * bytes, so a byte-level tokenizer needs at most 4 tokens; past that the text is emitted as it decodes
 * (with U+FFFD for bytes that never form a character), which keeps the decode window small.
 */
const MAX_HELD_IDS = 4;

/** Decoding options shared by decode(), decodeToken() and stream(), so their texts agree. */
const DECODE_OPTS = { skip_special_tokens: true, clean_up_tokenization_spaces: false } as const;

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export class HfTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  private readonly idToPiece: (string | undefined)[]; // [vocabSize] vocab entry of each id

  constructor(
    private readonly tok: PreTrainedTokenizer,
    tokenizerJson: unknown,
    private readonly file: string,
  ) {
    this.idToPiece = [];
    for (const [piece, id] of tok.get_vocab()) this.idToPiece[id] = piece;
    this.vocabSize = this.idToPiece.length;
    this.bosId = tok.bos_token_id ?? this.vocabId(templateBosToken(tokenizerJson)) ?? -1;
    this.eosId = tok.eos_token_id ?? -1;
  }

  private vocabId(piece: string | undefined): number | undefined {
    const id = piece === undefined ? -1 : this.idToPiece.indexOf(piece);
    return id >= 0 ? id : undefined;
  }

  /** The tokenizer's pipeline without its post-processor's extras; BOS is ours to add. */
  encode(text: string, opts: { bos: boolean }): number[] {
    const ids = text.length === 0 ? [] : this.tok.encode(text, { add_special_tokens: false });
    return opts.bos && this.bosId >= 0 ? [this.bosId, ...ids] : ids;
  }

  /**
   * decode([prevId, id]) minus decode([prevId]): keeps the space a SentencePiece-style token carries
   * after another token. A token that is only part of a UTF-8 character gives U+FFFD here; stream()
   * holds such tokens back instead.
   */
  decodeToken(prevId: number, id: number): string {
    if (prevId < 0) return this.decode([id]);
    return this.decode([prevId, id]).slice(this.decode([prevId]).length);
  }

  decode(ids: number[]): string {
    for (const id of ids) this.piece(id); // range check: transformers.js would map a bad id to <unk>
    return ids.length === 0 ? '' : this.tok.decode(ids, DECODE_OPTS);
  }

  piece(id: number): string {
    const p = Number.isInteger(id) ? this.idToPiece[id] : undefined;
    if (p === undefined) {
      throw new TokenizerError('bad-token-id', this.file, `token id ${id} is not in the vocabulary`);
    }
    return p;
  }

  /**
   * The prefix method (as text-generation-inference does it): decode a small window of ids — the ids
   * of the last emitted chunk plus the new ones — and emit what the new ids add, unless the text ends
   * in U+FFFD (an unfinished character): then hold the ids until it is finished.
   */
  stream(): TokenStream {
    let window: number[] = []; // ids: [last emitted chunk..., held ids...]
    let read = 0; // window[0..read) is the last emitted chunk
    let prefixText = ''; // decode(window[0..read))
    const emit = (text: string): string => {
      const out = text.slice(prefixText.length);
      window = window.slice(read);
      read = window.length;
      prefixText = this.decode(window);
      return out;
    };
    return {
      push: (id: number): string => {
        window.push(id);
        const text = this.decode(window);
        const held = window.length - read;
        if ((text.length > prefixText.length && !text.endsWith('\uFFFD')) || held > MAX_HELD_IDS) return emit(text);
        return '';
      },
      flush: (): string => {
        if (window.length === read) return '';
        const out = emit(this.decode(window));
        window = [];
        read = 0;
        prefixText = '';
        return out;
      },
    };
  }
}

/**
 * The special token a TemplateProcessing post-processor puts before a single sequence (Llama's "<s>"):
 * the tokenizer's own statement of its BOS when tokenizer_config.json names none.
 */
function templateBosToken(tokenizerJson: unknown): string | undefined {
  const post = isObject(tokenizerJson) ? tokenizerJson['post_processor'] : undefined;
  if (!isObject(post) || post['type'] !== 'TemplateProcessing' || !Array.isArray(post['single'])) return undefined;
  const first: unknown = post['single'][0];
  const special = isObject(first) ? first['SpecialToken'] : undefined;
  return isObject(special) && typeof special['id'] === 'string' ? special['id'] : undefined;
}

/**
 * Builds a tokenizer from the parsed JSON of tokenizer.json and tokenizer_config.json. BOS and EOS come
 * from the config's bos_token / eos_token (a string or an AddedToken object); without a bos_token, BOS is
 * the special token tokenizer.json's TemplateProcessing puts first, if any; -1 when there is none.
 */
export async function loadHfTokenizer(
  tokenizerJson: unknown,
  tokenizerConfigJson: unknown,
  file = 'tokenizer.json',
): Promise<HfTokenizer> {
  if (!isObject(tokenizerJson) || !isObject(tokenizerJson['model'])) {
    throw new TokenizerError('bad-tokenizer-json', file, 'expected a JSON object with a "model" object', 'model');
  }
  if (!isObject(tokenizerConfigJson)) {
    throw new TokenizerError('bad-tokenizer-json', 'tokenizer_config.json', 'expected a JSON object');
  }
  const { PreTrainedTokenizer } = await import('@huggingface/transformers');
  let tok: PreTrainedTokenizer;
  try {
    tok = new PreTrainedTokenizer(tokenizerJson, tokenizerConfigJson);
  } catch (e) {
    throw new TokenizerError('bad-tokenizer-json', file, `transformers.js rejected it: ${(e as Error).message}`);
  }
  const t = new HfTokenizer(tok, tokenizerJson, file);
  if (t.vocabSize === 0) throw new TokenizerError('bad-vocab-size', file, 'the vocabulary is empty');
  return t;
}
