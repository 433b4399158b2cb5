// Hugging Face side of the loaders: config.json (LlamaForCausalLM) checked field by field into a
// ModelConfig, and HF tensor names mapped onto the canonical names of workers/model/config.ts.
// Pure TypeScript; imports only ./errors.ts and types.

import { LoadError, quote, rejectMisservedFile } from './errors.ts';
import type { ModelConfig } from '../model/config.ts';

/** Strictly decodes a small JSON file (config.json, the shard index): UTF-8, then JSON. */
export function decodeJsonFile(bytes: Uint8Array, file: string): unknown {
  rejectMisservedFile(bytes, file);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new LoadError('not-json', file, 'file is not valid UTF-8');
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new LoadError('not-json', file, `file is not JSON: ${(e as Error).message}`);
  }
}

/*
 * Bounds. Far above any model this engine will run in a tab, far below what would overflow the size
 * arithmetic (products stay below 2^53); a config past them is a broken or hostile file.
 */
const CAPS = {
  hidden_size: 65_536,
  intermediate_size: 262_144,
  num_hidden_layers: 512,
  num_attention_heads: 1_024,
  vocab_size: 4_194_304,
  max_position_embeddings: 16_777_216,
  head_dim: 1_024,
} as const;

type Json = Record<string, unknown>;

/** Validates config.json into a ModelConfig. Defaults are transformers' LlamaConfig defaults. */
export function parseHfConfig(json: unknown, file: string): ModelConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new LoadError('config-invalid', file, 'config.json must be a JSON object');
  }
  const c = json as Json;
  // null is Python's None: the field takes its default (token ids excepted, see tokenId).
  const present = (key: string): boolean => Object.prototype.hasOwnProperty.call(c, key) && c[key] !== undefined;
  const has = (key: string): boolean => present(key) && c[key] !== null;
  const invalid = (field: string, msg: string): LoadError => new LoadError('config-invalid', file, msg, field);
  const unsupported = (field: string, msg: string): LoadError => new LoadError('config-unsupported', file, msg, field);

  /** A positive integer field, at most `max`; `dflt` when absent or null (required when no default). */
  const int = (key: string, max: number, dflt?: number): number => {
    if (!has(key)) {
      if (dflt === undefined) throw invalid(key, 'required field is missing or null');
      return dflt;
    }
    const v = c[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw invalid(key, `must be an integer, got ${quote(JSON.stringify(v))}`);
    if (v < 1 || v > max) throw invalid(key, `${v} is outside [1, ${max}]`);
    return v;
  };
  const positiveNumber = (key: string, dflt: number, max: number): number => {
    const v = has(key) ? c[key] : dflt;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > max) {
      throw invalid(key, `must be a number in (0, ${max}], got ${quote(JSON.stringify(v))}`);
    }
    return v;
  };

  if (!has('model_type')) throw invalid('model_type', 'required field is missing or null');
  if (c.model_type !== 'llama') throw unsupported('model_type', `model_type ${quote(String(c.model_type))} is not supported (only "llama")`);
  if (has('architectures')) {
    const a = c.architectures;
    if (!Array.isArray(a) || !a.includes('LlamaForCausalLM')) {
      throw unsupported('architectures', `architectures ${quote(JSON.stringify(a))} do not include "LlamaForCausalLM"`);
    }
  }
  const act = has('hidden_act') ? c.hidden_act : 'silu';
  if (act !== 'silu') throw unsupported('hidden_act', `hidden_act ${quote(JSON.stringify(act))} is not supported (SwiGLU with "silu" only)`);
  for (const key of ['attention_bias', 'mlp_bias']) {
    if (!has(key)) continue;
    if (typeof c[key] !== 'boolean') throw invalid(key, 'must be true or false');
    if (c[key] === true) throw unsupported(key, `${key} is true; this engine has no bias tensors`);
  }
  checkRopeScaling(c, has, unsupported);

  const dim = int('hidden_size', CAPS.hidden_size);
  const hiddenDim = int('intermediate_size', CAPS.intermediate_size);
  const nLayers = int('num_hidden_layers', CAPS.num_hidden_layers);
  const nHeads = int('num_attention_heads', CAPS.num_attention_heads);
  const vocabSize = int('vocab_size', CAPS.vocab_size);
  const nKvHeads = int('num_key_value_heads', nHeads, nHeads);
  if (nHeads % nKvHeads !== 0) throw invalid('num_key_value_heads', `num_attention_heads ${nHeads} is not a multiple of num_key_value_heads ${nKvHeads}`);
  if (!has('head_dim') && dim % nHeads !== 0) {
    throw invalid('num_attention_heads', `hidden_size ${dim} is not a multiple of num_attention_heads ${nHeads} (and no head_dim is given)`);
  }
  const headDim = int('head_dim', CAPS.head_dim, dim / nHeads);
  if (headDim % 2 !== 0) throw invalid('head_dim', `head dimension ${headDim} is odd; RoPE rotates pairs`);
  const maxSeqLen = int('max_position_embeddings', CAPS.max_position_embeddings, 2048);

  const ropeParams = has('rope_parameters') ? (c.rope_parameters as Json) : undefined; // an object: checked above
  const ropeTheta = has('rope_theta') || ropeParams === undefined
    ? positiveNumber('rope_theta', 10000, 1e12)
    : readRopeParameterTheta(ropeParams, invalid);
  const normEps = positiveNumber('rms_norm_eps', 1e-6, 1);
  const tied = has('tie_word_embeddings') ? c.tie_word_embeddings : false;
  if (typeof tied !== 'boolean') throw invalid('tie_word_embeddings', 'must be true or false');

  const tokenId = (key: string, dflt: number): number => {
    let v = present(key) ? c[key] : dflt; // an explicit null is an error: the model would have no such token
    if (Array.isArray(v)) {
      if (v.length === 0) throw invalid(key, 'is an empty list');
      v = v[0]; // a list of stop tokens: the first is the canonical EOS
    }
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v >= vocabSize) {
      throw invalid(key, `must be a token id in [0, ${vocabSize}), got ${quote(JSON.stringify(v))}`);
    }
    return v;
  };

  return {
    source: file,
    dim,
    hiddenDim,
    nLayers,
    nHeads,
    nKvHeads,
    headDim,
    vocabSize,
    maxSeqLen,
    ropeTheta,
    ropeStyle: 'half', // HF's LlamaModel rotates (i, i + headDim/2) (rotate_half)
    normEps,
    tiedEmbeddings: tied,
    bosTokenId: tokenId('bos_token_id', 1),
    eosTokenId: tokenId('eos_token_id', 2),
  };
}

/** rope_scaling must be absent, null, or {rope_type: "default"}: scaled variants change the rotation. */
function checkRopeScaling(c: Json, has: (k: string) => boolean, unsupported: (f: string, m: string) => LoadError): void {
  for (const key of ['rope_scaling', 'rope_parameters']) {
    if (!has(key) || c[key] === null) continue;
    const v = c[key];
    const isObject = typeof v === 'object' && v !== null && !Array.isArray(v);
    const type = isObject ? ((v as Json).rope_type ?? (v as Json).type) : undefined;
    // rope_parameters (transformers v5) also carries rope_theta, so it may omit rope_type.
    const ok = isObject && (type === 'default' || (key === 'rope_parameters' && type === undefined));
    if (!ok) {
      throw unsupported(key, `${key} ${quote(JSON.stringify(v))} is not supported (plain RoPE only)`);
    }
  }
}

/** transformers v5 moves rope_theta into rope_parameters: {rope_type: "default", rope_theta}. */
function readRopeParameterTheta(p: Json, invalid: (f: string, m: string) => LoadError): number {
  const v = p.rope_theta ?? 10000;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > 1e12) {
    throw invalid('rope_parameters.rope_theta', `must be a positive number, got ${quote(JSON.stringify(v))}`);
  }
  return v;
}

const LAYER_TENSOR = /^model\.layers\.(0|[1-9][0-9]{0,5})\.(self_attn\.[qkvo]_proj|mlp\.(?:gate|down|up)_proj|input_layernorm|post_attention_layernorm)\.weight$/;
const LAYER_PART: Record<string, string> = {
  'self_attn.q_proj': 'wq',
  'self_attn.k_proj': 'wk',
  'self_attn.v_proj': 'wv',
  'self_attn.o_proj': 'wo',
  'mlp.gate_proj': 'w1',
  'mlp.down_proj': 'w2',
  'mlp.up_proj': 'w3',
  input_layernorm: 'attention_norm',
  post_attention_layernorm: 'ffn_norm',
};
/** Non-weight buffers some older exports include; recomputed by the engine, so skipped. */
const IGNORED_TENSOR = /^model\.layers\.(0|[1-9][0-9]{0,5})\.self_attn\.rotary_emb\.inv_freq$/;

/**
 * Maps a Hugging Face tensor name to its canonical name; 'ignore' for buffers the engine recomputes (and
 * for lm_head.weight when the embeddings are tied); null for a name no Llama model has.
 */
export function canonicalTensorName(hfName: string, config: ModelConfig): string | 'ignore' | null {
  if (hfName === 'model.embed_tokens.weight') return 'tok_embeddings';
  if (hfName === 'model.norm.weight') return 'norm';
  if (hfName === 'lm_head.weight') return config.tiedEmbeddings ? 'ignore' : 'output';
  if (IGNORED_TENSOR.test(hfName)) return 'ignore';
  const m = LAYER_TENSOR.exec(hfName);
  if (!m) return null;
  return `layers.${m[1]}.${LAYER_PART[m[2]!]}`;
}

/** The Hugging Face name of a canonical tensor, for messages ("layers.3.w1" → "model.layers.3.mlp.gate_proj.weight"). */
export function hfTensorName(canonical: string): string {
  if (canonical === 'tok_embeddings') return 'model.embed_tokens.weight';
  if (canonical === 'norm') return 'model.norm.weight';
  if (canonical === 'output') return 'lm_head.weight';
  const m = /^layers\.(\d+)\.(\w+)$/.exec(canonical);
  const part = m && Object.entries(LAYER_PART).find(([, c]) => c === m[2]);
  return m && part ? `model.layers.${m[1]}.${part[0]}.weight` : canonical;
}
