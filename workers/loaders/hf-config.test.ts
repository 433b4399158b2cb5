// config.json validation (defaults, every bad field) and the HF ↔ canonical tensor-name mapping.
import { describe, expect, it } from 'vitest';
import { LoadError } from './errors.ts';
import { canonicalTensorName, decodeJsonFile, hfTensorName, parseHfConfig } from './hf-config.ts';
import { expectedShapes, type ModelConfig } from '../model/config.ts';
import { tinyHfConfig } from './testing/tiny-model.ts';

function thrown(f: () => unknown): LoadError {
  try {
    f();
  } catch (e) {
    if (e instanceof LoadError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

/** The fields of SmolLM2-135M's config.json that matter here (tied, GQA 9:3, rope_theta 1e5). */
const SMOLLM2_LIKE = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: 576,
  intermediate_size: 1536,
  num_hidden_layers: 30,
  num_attention_heads: 9,
  num_key_value_heads: 3,
  vocab_size: 49152,
  max_position_embeddings: 8192,
  rms_norm_eps: 1e-5,
  rope_theta: 100000,
  rope_scaling: null,
  hidden_act: 'silu',
  tie_word_embeddings: true,
  attention_bias: false,
  mlp_bias: false,
  pretraining_tp: 1,
  bos_token_id: 0,
  eos_token_id: 0,
  torch_dtype: 'bfloat16',
  transformers_version: '4.42.3',
};

describe('parseHfConfig', () => {
  it('maps every field of a full config', () => {
    const c = parseHfConfig(SMOLLM2_LIKE, 'smol/config.json');
    expect(c).toEqual<ModelConfig>({
      source: 'smol/config.json',
      dim: 576,
      hiddenDim: 1536,
      nLayers: 30,
      nHeads: 9,
      nKvHeads: 3,
      headDim: 64,
      vocabSize: 49152,
      maxSeqLen: 8192,
      ropeTheta: 100000,
      ropeStyle: 'half',
      normEps: 1e-5,
      tiedEmbeddings: true,
      bosTokenId: 0,
      eosTokenId: 0,
    });
  });

  it("applies transformers' LlamaConfig defaults to absent and null optional fields", () => {
    const minimal = { model_type: 'llama', hidden_size: 8, intermediate_size: 12, num_hidden_layers: 1, num_attention_heads: 2, vocab_size: 16 };
    const want = { nKvHeads: 2, headDim: 4, maxSeqLen: 2048, ropeTheta: 10000, normEps: 1e-6, tiedEmbeddings: false, bosTokenId: 1, eosTokenId: 2 };
    expect(parseHfConfig(minimal, 'config.json')).toMatchObject(want);
    const nulls = { ...minimal, num_key_value_heads: null, head_dim: null, rope_theta: null, rms_norm_eps: null, rope_scaling: null, tie_word_embeddings: null };
    expect(parseHfConfig(nulls, 'config.json')).toMatchObject(want);
  });

  it('takes the first of several eos ids, an explicit head_dim, and rope_theta from rope_parameters', () => {
    const c = parseHfConfig(tinyHfConfig({ eos_token_id: [2, 7], head_dim: 8, rope_theta: undefined, rope_parameters: { rope_type: 'default', rope_theta: 500000 } }), 'config.json');
    expect(c).toMatchObject({ eosTokenId: 2, headDim: 8, ropeTheta: 500000 });
    expect(expectedShapes(c).get('layers.0.wq')).toEqual([16, 8]); // nHeads · headDim need not equal dim
    expect(parseHfConfig(tinyHfConfig({ rope_scaling: { rope_type: 'default' } }), 'config.json').ropeTheta).toBe(10000);
  });

  it('rejects each bad field with config-invalid or config-unsupported, naming it', () => {
    const cases: [Record<string, unknown>, string, 'config-invalid' | 'config-unsupported'][] = [
      [{ hidden_size: undefined }, 'hidden_size', 'config-invalid'],
      [{ intermediate_size: null }, 'intermediate_size', 'config-invalid'],
      [{ num_hidden_layers: 2.5 }, 'num_hidden_layers', 'config-invalid'],
      [{ num_attention_heads: 0 }, 'num_attention_heads', 'config-invalid'],
      [{ vocab_size: -16 }, 'vocab_size', 'config-invalid'],
      [{ vocab_size: 1e12 }, 'vocab_size', 'config-invalid'],
      [{ num_key_value_heads: 4 }, 'num_key_value_heads', 'config-invalid'], // more kv heads than heads
      [{ head_dim: 5 }, 'head_dim', 'config-invalid'], // odd: RoPE rotates pairs
      [{ max_position_embeddings: '32' }, 'max_position_embeddings', 'config-invalid'],
      [{ rope_theta: 0 }, 'rope_theta', 'config-invalid'],
      [{ rms_norm_eps: 'tiny' }, 'rms_norm_eps', 'config-invalid'],
      [{ tie_word_embeddings: 'yes' }, 'tie_word_embeddings', 'config-invalid'],
      [{ bos_token_id: null }, 'bos_token_id', 'config-invalid'],
      [{ eos_token_id: [] }, 'eos_token_id', 'config-invalid'],
      [{ eos_token_id: -1 }, 'eos_token_id', 'config-invalid'],
      [{ model_type: undefined }, 'model_type', 'config-invalid'],
      [{ model_type: 'qwen2' }, 'model_type', 'config-unsupported'],
      [{ architectures: ['MistralForCausalLM'] }, 'architectures', 'config-unsupported'],
      [{ hidden_act: 'gelu_pytorch_tanh' }, 'hidden_act', 'config-unsupported'],
      [{ rope_scaling: { rope_type: 'dynamic', factor: 2 } }, 'rope_scaling', 'config-unsupported'],
      [{ rope_parameters: { rope_type: 'yarn', rope_theta: 10000 } }, 'rope_parameters', 'config-unsupported'],
      [{ mlp_bias: true }, 'mlp_bias', 'config-unsupported'],
    ];
    for (const [overrides, field, code] of cases) {
      const json = JSON.parse(JSON.stringify(tinyHfConfig(overrides))) as unknown; // as it would arrive from a file
      const err = thrown(() => parseHfConfig(json, 'm/config.json'));
      expect({ code: err.code, field: err.field, file: err.file }, `${JSON.stringify(overrides)}: ${err.message}`).toEqual({ code, field, file: 'm/config.json' });
      expect(err.message).toContain(field);
    }
  });
});

describe('decodeJsonFile', () => {
  it('decodes strict UTF-8 JSON and rejects the rest with not-json', () => {
    expect(decodeJsonFile(new TextEncoder().encode('{"a": "é"}'), 'c.json')).toEqual({ a: 'é' });
    expect(thrown(() => decodeJsonFile(new Uint8Array([0x22, 0xc3, 0x22]), 'c.json')).code).toBe('not-json');
    expect(thrown(() => decodeJsonFile(new TextEncoder().encode('{a: 1}'), 'c.json')).code).toBe('not-json');
  });
});

describe('tensor names', () => {
  const config = parseHfConfig(tinyHfConfig(), 'config.json');
  const tied = parseHfConfig(tinyHfConfig({ tie_word_embeddings: true }), 'config.json');

  it('maps the Hugging Face names onto the canonical ones', () => {
    const cases: [string, string | 'ignore' | null][] = [
      ['model.embed_tokens.weight', 'tok_embeddings'],
      ['model.layers.0.self_attn.q_proj.weight', 'layers.0.wq'],
      ['model.layers.1.self_attn.k_proj.weight', 'layers.1.wk'],
      ['model.layers.1.self_attn.v_proj.weight', 'layers.1.wv'],
      ['model.layers.1.self_attn.o_proj.weight', 'layers.1.wo'],
      ['model.layers.12.mlp.gate_proj.weight', 'layers.12.w1'],
      ['model.layers.12.mlp.down_proj.weight', 'layers.12.w2'],
      ['model.layers.12.mlp.up_proj.weight', 'layers.12.w3'],
      ['model.layers.3.input_layernorm.weight', 'layers.3.attention_norm'],
      ['model.layers.3.post_attention_layernorm.weight', 'layers.3.ffn_norm'],
      ['model.norm.weight', 'norm'],
      ['lm_head.weight', 'output'],
      ['model.layers.0.self_attn.rotary_emb.inv_freq', 'ignore'],
      ['model.layers.01.mlp.up_proj.weight', null],
      ['model.layers.0.self_attn.q_proj.bias', null],
      ['layers.0.wq', null],
      ['__proto__', null],
    ];
    for (const [hf, canonical] of cases) expect(canonicalTensorName(hf, config), hf).toBe(canonical);
    expect(canonicalTensorName('lm_head.weight', tied)).toBe('ignore');
  });

  it('names every canonical tensor back in Hugging Face terms', () => {
    for (const name of expectedShapes(config).keys()) expect(canonicalTensorName(hfTensorName(name), config), name).toBe(name);
  });
});
