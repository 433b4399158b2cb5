// Test-only: tiny but complete valid model files — a Hugging Face folder (config.json + model.safetensors,
// or sharded) and a llama2.c checkpoint — with deterministic values, for the loaders' tests to load and
// to break. Imports only the safetensors builder beside it.

import { type TensorSpec, type BuildOptions, buildSafetensors } from './build-safetensors.ts';

export type HfConfigJson = Record<string, unknown>;

/** dim 8, 2 layers, 2 heads sharing 1 KV head, hidden 12, vocab 16: every shape distinct where it can be. */
export function tinyHfConfig(overrides: HfConfigJson = {}): HfConfigJson {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: 8,
    intermediate_size: 12,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    vocab_size: 16,
    max_position_embeddings: 32,
    rms_norm_eps: 1e-5,
    rope_theta: 10000.0,
    rope_scaling: null,
    hidden_act: 'silu',
    tie_word_embeddings: false,
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: 'float32',
    ...overrides,
  };
}

/** A deterministic value for element i of tensor `name`: k/16 with |k| ≤ 16, exact in F32, F16 and BF16. */
export function fixtureValue(name: string, i: number): number {
  let h = 0;
  for (let j = 0; j < name.length; j++) h = (h * 31 + name.charCodeAt(j)) >>> 0;
  return (((h + i * 7) % 33) - 16) / 16;
}

function values(name: string, n: number): number[] {
  return Array.from({ length: n }, (_, i) => fixtureValue(name, i));
}

/** The HF tensors the config implies, named as transformers saves them. */
export function hfTensorSpecs(config: HfConfigJson, dtype: (name: string) => TensorSpec['dtype'] = () => 'F32'): TensorSpec[] {
  const dim = config.hidden_size as number;
  const hidden = config.intermediate_size as number;
  const heads = config.num_attention_heads as number;
  const kvHeads = (config.num_key_value_heads as number | undefined) ?? heads;
  const headDim = (config.head_dim as number | undefined) ?? dim / heads;
  const vocab = config.vocab_size as number;
  const shapes: [string, number[]][] = [['model.embed_tokens.weight', [vocab, dim]]];
  for (let l = 0; l < (config.num_hidden_layers as number); l++) {
    const p = `model.layers.${l}`;
    shapes.push(
      [`${p}.input_layernorm.weight`, [dim]],
      [`${p}.self_attn.q_proj.weight`, [heads * headDim, dim]],
      [`${p}.self_attn.k_proj.weight`, [kvHeads * headDim, dim]],
      [`${p}.self_attn.v_proj.weight`, [kvHeads * headDim, dim]],
      [`${p}.self_attn.o_proj.weight`, [dim, heads * headDim]],
      [`${p}.post_attention_layernorm.weight`, [dim]],
      [`${p}.mlp.gate_proj.weight`, [hidden, dim]],
      [`${p}.mlp.up_proj.weight`, [hidden, dim]],
      [`${p}.mlp.down_proj.weight`, [dim, hidden]],
    );
  }
  shapes.push(['model.norm.weight', [dim]]);
  if (config.tie_word_embeddings !== true) shapes.push(['lm_head.weight', [vocab, dim]]);
  return shapes.map(([name, shape]) => ({ name, dtype: dtype(name), shape, values: values(name, shape.reduce((a, b) => a * b, 1)) }));
}

export const jsonBytes = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value, null, 2));

export interface HfFilesOptions {
  config?: HfConfigJson; // the config.json written (default tinyHfConfig())
  tensorsFor?: HfConfigJson; // the config the tensors are built from (default: config)
  dtype?: (name: string) => TensorSpec['dtype'];
  editSpecs?: (specs: TensorSpec[]) => TensorSpec[];
  build?: BuildOptions;
}

export function tinyHfFiles(opts: HfFilesOptions = {}): Map<string, Uint8Array> {
  const config = opts.config ?? tinyHfConfig();
  let specs = hfTensorSpecs(opts.tensorsFor ?? config, opts.dtype);
  if (opts.editSpecs) specs = opts.editSpecs(specs);
  return new Map([
    ['config.json', jsonBytes(config)],
    ['model.safetensors', buildSafetensors(specs, opts.build)],
  ]);
}

export interface ShardedOptions extends HfFilesOptions {
  shards?: string[]; // shard file names (default two, in transformers' naming)
  /** Which shard each tensor goes to (default: round-robin by position). */
  assign?: (name: string, index: number) => number;
  /** Edits the index JSON before it is serialized. */
  editIndex?: (index: { metadata: Record<string, unknown>; weight_map: Record<string, string> }) => void;
  /** Tensors to write into a second shard as well (a duplicate the index does not mention). */
  alsoIn?: Record<string, number>;
}

export function tinyShardedFiles(opts: ShardedOptions = {}): Map<string, Uint8Array> {
  const config = opts.config ?? tinyHfConfig();
  const shards = opts.shards ?? ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
  let specs = hfTensorSpecs(opts.tensorsFor ?? config, opts.dtype);
  if (opts.editSpecs) specs = opts.editSpecs(specs);
  const assign = opts.assign ?? ((_name: string, i: number) => i % shards.length);
  const perShard = shards.map(() => [] as TensorSpec[]);
  const weightMap: [string, string][] = [];
  specs.forEach((s, i) => {
    const k = assign(s.name, i);
    perShard[k]!.push(s);
    weightMap.push([s.name, shards[k]!]);
    const dup = opts.alsoIn?.[s.name];
    if (dup !== undefined) perShard[dup]!.push(s);
  });
  const index = {
    metadata: { total_size: specs.reduce((a, s) => a + 4 * s.values.length, 0) },
    weight_map: Object.fromEntries(weightMap),
  };
  opts.editIndex?.(index);
  const files = new Map<string, Uint8Array>([
    ['config.json', jsonBytes(config)],
    ['model.safetensors.index.json', jsonBytes(index)],
  ]);
  shards.forEach((name, k) => files.set(name, buildSafetensors(perShard[k]!, opts.build)));
  return files;
}

/** The 7 header ints of a llama2.c checkpoint, vocabSize signed as stored. */
export interface Llama2cHeaderInts {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
}

export const TINY_LLAMA2C: Llama2cHeaderInts = { dim: 8, hiddenDim: 12, nLayers: 2, nHeads: 2, nKvHeads: 1, vocabSize: 16, seqLen: 4 };

/** Floats after the header that a valid checkpoint with header h holds (freq_cis and classifier included). */
export function llama2cFloats(h: Llama2cHeaderInts): number {
  const vocab = Math.abs(h.vocabSize);
  const headDim = h.dim / h.nHeads;
  const kvDim = headDim * h.nKvHeads;
  const perLayer = 2 * h.dim + 2 * h.dim * h.dim + 2 * kvDim * h.dim + 3 * h.hiddenDim * h.dim;
  return vocab * h.dim + h.nLayers * perLayer + h.dim + h.seqLen * headDim + (h.vocabSize < 0 ? vocab * h.dim : 0);
}

/**
 * A llama2.c checkpoint: header h, then `floats` values (default: exactly what h implies), float i = k/16.
 * Writing the header ints verbatim lets tests lie about them.
 */
export function tinyLlama2c(h: Llama2cHeaderInts = TINY_LLAMA2C, floats = llama2cFloats(h)): Uint8Array {
  const out = new Uint8Array(28 + 4 * floats);
  const dv = new DataView(out.buffer);
  [h.dim, h.hiddenDim, h.nLayers, h.nHeads, h.nKvHeads, h.vocabSize, h.seqLen].forEach((v, i) => dv.setInt32(4 * i, v, true));
  for (let i = 0; i < floats; i++) dv.setFloat32(28 + 4 * i, fixtureValue('llama2c', i), true);
  return out;
}
