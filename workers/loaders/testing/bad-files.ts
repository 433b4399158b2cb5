// Test-only: the bad-file corpus. Each entry is a valid tiny model broken in exactly one way, with the
// typed error (code, file, field) the loaders must answer it with. Built programmatically, nothing on disk.

import type { LoadErrorCode } from '../errors.ts';
import type { Allocator } from '../safetensors.ts';
import { loadHfModel, loadLlama2c } from '../load-weights.ts';
import { assemble, buildSafetensors, editEntry, type HeaderEntries } from './build-safetensors.ts';
import { TINY_LLAMA2C, hfTensorSpecs, jsonBytes, llama2cFloats, tinyHfConfig, tinyHfFiles, tinyLlama2c, tinyShardedFiles, type HfConfigJson } from './tiny-model.ts';

export type ModelInput = { kind: 'hf'; files: Map<string, Uint8Array> } | { kind: 'llama2c'; file: string; bytes: Uint8Array };

export interface BadFile {
  id: string;
  input: ModelInput;
  code: LoadErrorCode;
  file: string; // the file the error must name
  field?: string; // the field or tensor it must name, where there is one
}

export function loadInput(input: ModelInput, alloc: Allocator): unknown {
  return input.kind === 'hf' ? loadHfModel(input.files, alloc) : loadLlama2c(input.bytes, input.file, alloc);
}

const ST = 'model.safetensors';
const BIN = 'model.bin';
const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const HTML = '<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>…</body></html>\n';
const LFS = 'version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 1056540\n';

/** The tiny HF folder with one file replaced. */
function hfWith(name: string, bytes: Uint8Array | undefined): ModelInput {
  const files = tinyHfFiles();
  if (bytes === undefined) files.delete(name);
  else files.set(name, bytes);
  return { kind: 'hf', files };
}
/** The tiny HF folder with model.safetensors built from edited header entries. */
const header = (edit: (e: HeaderEntries) => HeaderEntries | void, extraData = 0): ModelInput =>
  ({ kind: 'hf', files: tinyHfFiles({ build: { editHeader: edit, extraData } }) });
const validST = (): Uint8Array => tinyHfFiles().get(ST)!;
const config = (overrides: HfConfigJson): ModelInput => hfWith('config.json', jsonBytes(tinyHfConfig(overrides)));
/** Writes a header of raw text (and `dataBytes` zero bytes of data), with an optional lying length. */
const rawHeader = (header: Uint8Array, dataBytes = 0, length?: bigint): ModelInput =>
  hfWith(ST, assemble(header, new Uint8Array(dataBytes), length));
const llama2c = (bytes: Uint8Array): ModelInput => ({ kind: 'llama2c', file: BIN, bytes });
const llamaHeader = (h: Partial<typeof TINY_LLAMA2C>): ModelInput =>
  llama2c(tinyLlama2c({ ...TINY_LLAMA2C, ...h }, llama2cFloats(TINY_LLAMA2C)));
const sharded = (opts: Parameters<typeof tinyShardedFiles>[0]): ModelInput => ({ kind: 'hf', files: tinyShardedFiles(opts) });
const INDEX = 'model.safetensors.index.json';
const SHARD1 = 'model-00001-of-00002.safetensors';
const Q0 = 'model.layers.0.self_attn.q_proj.weight';
const O0 = 'model.layers.0.self_attn.o_proj.weight';

export function badFileCorpus(): BadFile[] {
  const st = validST();
  return [
    // --- safetensors: framing ---
    { id: 'safetensors shorter than its length field', input: hfWith(ST, st.subarray(0, 7)), code: 'truncated', file: ST },
    { id: 'safetensors cut inside the data', input: hfWith(ST, st.subarray(0, st.length - 4)), code: 'truncated', file: ST },
    { id: 'safetensors cut inside the header', input: hfWith(ST, st.subarray(0, 40)), code: 'header-length-past-end', file: ST, field: 'header_length' },
    { id: 'header length one past the end', input: rawHeader(text('{}'), 0, 3n), code: 'header-length-past-end', file: ST, field: 'header_length' },
    { id: 'header length 2^64 - 1', input: rawHeader(text('{}'), 0, 2n ** 64n - 1n), code: 'header-too-large', file: ST, field: 'header_length' },
    { id: 'header length just over the cap', input: rawHeader(text('{}'), 0, 100_000_001n), code: 'header-too-large', file: ST, field: 'header_length' },
    { id: 'header with an invalid UTF-8 byte', input: rawHeader(new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])), code: 'header-not-utf8', file: ST, field: 'header' },
    { id: 'header with an overlong UTF-8 "/"', input: rawHeader(new Uint8Array([0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d])), code: 'header-not-utf8', file: ST, field: 'header' },
    { id: 'header not JSON', input: rawHeader(text('{weights: yes}')), code: 'header-not-json', file: ST, field: 'header' },
    { id: 'header a JSON array', input: rawHeader(text('[]')), code: 'header-not-json', file: ST, field: 'header' },
    { id: 'header behind a byte-order mark', input: rawHeader(text('\ufeff{}')), code: 'header-not-json', file: ST, field: 'header' },
    { id: 'an HTML page served as weights', input: hfWith(ST, text(HTML)), code: 'html-not-weights', file: ST },
    { id: 'an HTML page after blank lines', input: hfWith(ST, text(`\r\n  \n<html lang="en">${HTML}`)), code: 'html-not-weights', file: ST },
    { id: 'a Git LFS pointer instead of weights', input: hfWith(ST, text(LFS)), code: 'git-lfs-pointer', file: ST },
    { id: '__metadata__ with a number value', input: header((e) => void e.unshift(['__metadata__', { format: 1 }])), code: 'bad-metadata', file: ST, field: '__metadata__' },
    // --- safetensors: entries ---
    { id: 'entry without data_offsets', input: header((e) => editEntry(e, Q0, (v) => delete v.data_offsets)), code: 'bad-tensor-entry', file: ST, field: Q0 },
    { id: 'entry with an unknown field', input: header((e) => editEntry(e, Q0, (v) => (v.offsets = [0, 1]))), code: 'bad-tensor-entry', file: ST, field: Q0 },
    { id: 'shape with a negative size', input: header((e) => editEntry(e, Q0, (v) => (v.shape = [-8, -8]))), code: 'bad-tensor-entry', file: ST, field: Q0 },
    { id: 'shape with a fractional size', input: header((e) => editEntry(e, Q0, (v) => (v.shape = [4.5, 8]))), code: 'bad-tensor-entry', file: ST, field: Q0 },
    { id: 'data_offsets end before begin', input: header((e) => editEntry(e, Q0, (v) => (v.data_offsets = [256, 0]))), code: 'bad-tensor-entry', file: ST, field: Q0 },
    { id: 'unknown dtype I64', input: header((e) => editEntry(e, Q0, (v) => (v.dtype = 'I64'))), code: 'unknown-dtype', file: ST, field: Q0 },
    { id: 'unknown dtype F8_E4M3', input: header((e) => editEntry(e, Q0, (v) => (v.dtype = 'F8_E4M3'))), code: 'unknown-dtype', file: ST, field: Q0 },
    { id: 'shape × dtype past 2^53 (2^40 × 2^40)', input: header((e) => editEntry(e, Q0, (v) => (v.shape = [2 ** 40, 2 ** 40]))), code: 'shape-size-overflow', file: ST, field: Q0 },
    { id: 'shape × dtype past 2^53 by the dtype alone', input: header((e) => editEntry(e, Q0, (v) => (v.shape = [2 ** 26, 2 ** 25]))), code: 'shape-size-overflow', file: ST, field: Q0 },
    { id: 'shape larger than its bytes', input: header((e) => editEntry(e, Q0, (v) => (v.shape = [8, 9]))), code: 'size-mismatch', file: ST, field: Q0 },
    { id: 'dtype F16 over F32 bytes', input: header((e) => editEntry(e, Q0, (v) => (v.dtype = 'F16'))), code: 'size-mismatch', file: ST, field: Q0 },
    // --- safetensors: offsets ---
    { id: 'two tensors on the same bytes', input: header((e) => editEntry(e, O0, (v) => (v.data_offsets = offsetsOf(e, Q0)))), code: 'offsets-overlap', file: ST },
    { id: 'a tensor straddling its neighbour', input: header((e) => editEntry(e, Q0, (v) => (v.data_offsets = (v.data_offsets as number[]).map((x) => x - 4)))), code: 'offsets-overlap', file: ST },
    { id: 'a gap between two tensors', input: header((e) => shiftAfter(e, 1, 4), 4), code: 'offsets-gap', file: ST },
    { id: 'a gap before the first tensor', input: header((e) => shiftAfter(e, 0, 4), 4), code: 'offsets-gap', file: ST },
    { id: 'data bytes after the last tensor', input: header(() => undefined, 4), code: 'offsets-not-covering', file: ST },
    // --- config.json ---
    { id: 'no config.json', input: hfWith('config.json', undefined), code: 'missing-file', file: 'config.json' },
    { id: 'no model.safetensors', input: hfWith(ST, undefined), code: 'missing-file', file: ST },
    { id: 'config.json not JSON', input: hfWith('config.json', text('{"hidden_size": 8,')), code: 'not-json', file: 'config.json' },
    { id: 'config.json not UTF-8', input: hfWith('config.json', new Uint8Array([0x7b, 0xfe, 0x7d])), code: 'not-json', file: 'config.json' },
    { id: 'config.json an HTML page', input: hfWith('config.json', text(HTML)), code: 'html-not-weights', file: 'config.json' },
    { id: 'config.json a JSON array', input: hfWith('config.json', text('[1]')), code: 'config-invalid', file: 'config.json' },
    { id: 'config missing hidden_size', input: config({ hidden_size: undefined }), code: 'config-invalid', file: 'config.json', field: 'hidden_size' },
    { id: 'config num_attention_heads a string', input: config({ num_attention_heads: '2' }), code: 'config-invalid', file: 'config.json', field: 'num_attention_heads' },
    { id: 'config vocab_size fractional', input: config({ vocab_size: 16.5 }), code: 'config-invalid', file: 'config.json', field: 'vocab_size' },
    { id: 'config hidden_size zero', input: config({ hidden_size: 0 }), code: 'config-invalid', file: 'config.json', field: 'hidden_size' },
    { id: 'config num_hidden_layers past the cap', input: config({ num_hidden_layers: 100_000 }), code: 'config-invalid', file: 'config.json', field: 'num_hidden_layers' },
    { id: 'config heads not a multiple of kv heads', input: config({ num_key_value_heads: 3, num_attention_heads: 4 }), code: 'config-invalid', file: 'config.json', field: 'num_key_value_heads' },
    { id: 'config hidden_size not a multiple of heads', input: config({ hidden_size: 9 }), code: 'config-invalid', file: 'config.json', field: 'num_attention_heads' },
    { id: 'config rms_norm_eps negative', input: config({ rms_norm_eps: -1e-5 }), code: 'config-invalid', file: 'config.json', field: 'rms_norm_eps' },
    { id: 'config eos_token_id outside the vocabulary', input: config({ eos_token_id: [16, 2] }), code: 'config-invalid', file: 'config.json', field: 'eos_token_id' },
    { id: 'config rope_scaling linear', input: config({ rope_scaling: { type: 'linear', factor: 2 } }), code: 'config-unsupported', file: 'config.json', field: 'rope_scaling' },
    { id: 'config rope_scaling llama3', input: config({ rope_scaling: { rope_type: 'llama3', factor: 32 } }), code: 'config-unsupported', file: 'config.json', field: 'rope_scaling' },
    { id: 'config hidden_act gelu', input: config({ hidden_act: 'gelu' }), code: 'config-unsupported', file: 'config.json', field: 'hidden_act' },
    { id: 'config model_type mistral', input: config({ model_type: 'mistral' }), code: 'config-unsupported', file: 'config.json', field: 'model_type' },
    { id: 'config attention_bias true', input: config({ attention_bias: true }), code: 'config-unsupported', file: 'config.json', field: 'attention_bias' },
    // --- config vs tensors ---
    { id: 'config intermediate_size disagrees with the tensors', input: hfWith('config.json', jsonBytes(tinyHfConfig({ intermediate_size: 16 }))), code: 'shape-mismatch', file: ST, field: 'model.layers.0.mlp.gate_proj.weight' },
    { id: 'config vocab_size disagrees with the tensors', input: hfWith('config.json', jsonBytes(tinyHfConfig({ vocab_size: 32 }))), code: 'shape-mismatch', file: ST, field: 'model.embed_tokens.weight' },
    { id: 'gate_proj stored transposed', input: { kind: 'hf', files: tinyHfFiles({ editSpecs: (s) => s.map((t) => (t.name.endsWith('gate_proj.weight') ? { ...t, shape: [8, 12] } : t)) }) }, code: 'shape-mismatch', file: ST, field: 'model.layers.0.mlp.gate_proj.weight' },
    { id: 'config has more layers than the file', input: config({ num_hidden_layers: 3 }), code: 'missing-tensor', file: ST, field: 'model.layers.2.input_layernorm.weight' },
    { id: 'config has fewer layers than the file', input: config({ num_hidden_layers: 1 }), code: 'unexpected-tensor', file: ST, field: 'model.layers.1.input_layernorm.weight' },
    { id: 'model.norm.weight missing', input: { kind: 'hf', files: tinyHfFiles({ editSpecs: (s) => s.filter((t) => t.name !== 'model.norm.weight') }) }, code: 'missing-tensor', file: ST, field: 'model.norm.weight' },
    { id: 'lm_head missing while untied', input: { kind: 'hf', files: tinyHfFiles({ editSpecs: (s) => s.filter((t) => t.name !== 'lm_head.weight') }) }, code: 'missing-tensor', file: ST, field: 'lm_head.weight' },
    { id: 'an unknown bias tensor', input: { kind: 'hf', files: tinyHfFiles({ editSpecs: (s) => [...s, { name: 'model.layers.0.self_attn.q_proj.bias', dtype: 'F32', shape: [8], values: new Array(8).fill(0) }] }) }, code: 'unexpected-tensor', file: ST, field: 'model.layers.0.self_attn.q_proj.bias' },
    { id: 'a tensor named __proto__', input: { kind: 'hf', files: tinyHfFiles({ editSpecs: (s) => [{ name: '__proto__', dtype: 'F32', shape: [1], values: [0] }, ...s] }) }, code: 'unexpected-tensor', file: ST, field: '__proto__' },
    { id: 'a layer index with a leading zero', input: { kind: 'hf', files: tinyHfFiles({ editSpecs: (s) => s.map((t) => (t.name === Q0 ? { ...t, name: 'model.layers.00.self_attn.q_proj.weight' } : t)) }) }, code: 'unexpected-tensor', file: ST, field: 'model.layers.00.self_attn.q_proj.weight' },
    // --- sharded ---
    { id: 'shard name with ../', input: sharded({ editIndex: (i) => (i.weight_map[Q0] = '../x.safetensors') }), code: 'bad-shard-name', file: INDEX, field: Q0 },
    { id: 'shard name with a slash', input: sharded({ editIndex: (i) => (i.weight_map[Q0] = 'a/b.safetensors') }), code: 'bad-shard-name', file: INDEX, field: Q0 },
    { id: 'shard name an absolute path', input: sharded({ editIndex: (i) => (i.weight_map[Q0] = '/etc/passwd.safetensors') }), code: 'bad-shard-name', file: INDEX, field: Q0 },
    { id: 'shard name not .safetensors', input: sharded({ editIndex: (i) => (i.weight_map[Q0] = 'pytorch_model.bin') }), code: 'bad-shard-name', file: INDEX, field: Q0 },
    { id: 'index names a shard that is not there', input: sharded({ editIndex: (i) => (i.weight_map[Q0] = 'model-00003-of-00002.safetensors') }), code: 'missing-shard', file: INDEX, field: 'model-00003-of-00002.safetensors' },
    { id: 'one tensor in two shards', input: sharded({ alsoIn: { [Q0]: 1 } }), code: 'duplicate-tensor', file: 'model-00002-of-00002.safetensors', field: Q0 },
    { id: 'index places a tensor in the wrong shard', input: sharded({ editIndex: (i) => (i.weight_map['model.norm.weight'] = i.weight_map['model.norm.weight'] === SHARD1 ? 'model-00002-of-00002.safetensors' : SHARD1) }), code: 'shard-index-invalid', file: INDEX, field: 'model.norm.weight' },
    { id: 'index lists a tensor no shard holds', input: sharded({ editIndex: (i) => (i.weight_map['model.extra.weight'] = SHARD1) }), code: 'missing-tensor', file: SHARD1, field: 'model.extra.weight' },
    { id: 'index without weight_map', input: sharded({ editIndex: (i) => delete (i as Partial<typeof i>).weight_map }), code: 'shard-index-invalid', file: INDEX, field: 'weight_map' },
    { id: 'a shard cut short', input: shardCut(), code: 'truncated', file: SHARD1 },
    // --- llama2.c ---
    { id: 'llama2.c shorter than its header', input: llama2c(tinyLlama2c().subarray(0, 20)), code: 'truncated', file: BIN },
    { id: 'llama2.c one float short', input: llama2c(tinyLlama2c().subarray(0, tinyLlama2c().length - 4)), code: 'llama2c-size-mismatch', file: BIN, field: 'file_length' },
    { id: 'llama2.c one float extra', input: llama2c(tinyLlama2c(TINY_LLAMA2C, llama2cFloats(TINY_LLAMA2C) + 1)), code: 'llama2c-size-mismatch', file: BIN, field: 'file_length' },
    { id: 'llama2.c negative vocab without a classifier', input: llamaHeader({ vocabSize: -16 }), code: 'llama2c-size-mismatch', file: BIN, field: 'file_length' },
    { id: 'llama2.c dim zero', input: llamaHeader({ dim: 0 }), code: 'llama2c-bad-header', file: BIN, field: 'dim' },
    { id: 'llama2.c dim 2^31 - 1', input: llamaHeader({ dim: 2 ** 31 - 1 }), code: 'llama2c-bad-header', file: BIN, field: 'dim' },
    { id: 'llama2.c negative n_layers', input: llamaHeader({ nLayers: -2 }), code: 'llama2c-bad-header', file: BIN, field: 'n_layers' },
    { id: 'llama2.c n_heads not dividing dim', input: llamaHeader({ nHeads: 3, nKvHeads: 3 }), code: 'llama2c-bad-header', file: BIN, field: 'n_heads' },
    { id: 'llama2.c n_kv_heads not dividing n_heads', input: llamaHeader({ nHeads: 4, nKvHeads: 3 }), code: 'llama2c-bad-header', file: BIN, field: 'n_kv_heads' },
    { id: 'llama2.c n_kv_heads zero', input: llamaHeader({ nKvHeads: 0 }), code: 'llama2c-bad-header', file: BIN, field: 'n_kv_heads' },
    { id: 'llama2.c versioned export (magic ak42)', input: llamaHeader({ dim: 0x616b3432 }), code: 'llama2c-bad-header', file: BIN, field: 'magic' },
    { id: 'llama2.c an HTML page', input: llama2c(text(HTML)), code: 'html-not-weights', file: BIN },
    { id: 'llama2.c a Git LFS pointer', input: llama2c(text(LFS)), code: 'git-lfs-pointer', file: BIN },
  ];
}

function offsetsOf(entries: HeaderEntries, name: string): [number, number] {
  const e = entries.find(([k]) => k === name);
  return (e![1] as { data_offsets: [number, number] }).data_offsets;
}

/** Shifts the data_offsets of every tensor from the k-th on (in data order) by `by` bytes. */
function shiftAfter(entries: HeaderEntries, k: number, by: number): void {
  const tensors = entries.filter(([name]) => name !== '__metadata__');
  for (const [name] of tensors.slice(k)) editEntry(entries, name, (v) => (v.data_offsets = (v.data_offsets as number[]).map((x) => x + by)));
}

function shardCut(): ModelInput {
  const files = tinyShardedFiles();
  const shard = files.get(SHARD1)!;
  files.set(SHARD1, shard.subarray(0, shard.length - 1));
  return { kind: 'hf', files };
}

// Re-exported for tests that build their own variants.
export { buildSafetensors, hfTensorSpecs };
