// llama2.c checkpoints (legacy .bin): the 7-int32 header validated, the file length checked against exactly
// what the header implies, and every tensor planned as a slice of the file (nothing copied).
// Pure TypeScript; imports ./errors.ts and types. Layout: ../shared/models/README.md and llama2.c's run.c.

import { LoadError, rejectMisservedFile } from './errors.ts';
import type { TensorSlice } from './safetensors.ts';
import type { ModelConfig } from '../model/config.ts';

export const LLAMA2C_HEADER_BYTES = 28; // 7 × int32 little-endian
/** llama2.c's export.py versions ≥ 1 begin with this magic ("ak42"); only the legacy layout is read here. */
const VERSIONED_MAGIC = 0x616b3432;

/** Bounds on header values: beyond any llama2.c model, low enough that size arithmetic stays exact. */
const CAPS = { dim: 65_536, hidden_dim: 262_144, n_layers: 512, n_heads: 1_024, vocab_size: 4_194_304, seq_len: 16_777_216 };

export interface Llama2cHeader {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number; // as stored: negative means a separate classifier follows freq_cis
  seqLen: number;
}

export interface Llama2cPlan {
  config: ModelConfig;
  header: Llama2cHeader;
  totalFloats: number; // every float in the file, freq_cis included
  tensors: Map<string, TensorSlice>; // canonical name → f32 slice of the file
}

export function readLlama2cHeader(bytes: Uint8Array, file: string): Llama2cHeader {
  rejectMisservedFile(bytes, file);
  if (bytes.length < LLAMA2C_HEADER_BYTES) {
    throw new LoadError('truncated', file, `file is ${bytes.length} bytes; a llama2.c checkpoint starts with a 28-byte header`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, LLAMA2C_HEADER_BYTES);
  const at = (i: number): number => dv.getInt32(4 * i, true);
  if (at(0) === VERSIONED_MAGIC) {
    const msg = 'this is a versioned llama2.c export (magic "ak42"); only the legacy layout (export version 0) is supported';
    throw new LoadError('llama2c-bad-header', file, msg, 'magic');
  }
  const h: Llama2cHeader = { dim: at(0), hiddenDim: at(1), nLayers: at(2), nHeads: at(3), nKvHeads: at(4), vocabSize: at(5), seqLen: at(6) };
  const bad = (field: string, msg: string): LoadError => new LoadError('llama2c-bad-header', file, msg, field);
  const range = (field: keyof typeof CAPS, v: number): void => {
    if (v < 1 || v > CAPS[field]) throw bad(field, `${field} ${v} is outside [1, ${CAPS[field]}]`);
  };
  range('dim', h.dim);
  range('hidden_dim', h.hiddenDim);
  range('n_layers', h.nLayers);
  range('n_heads', h.nHeads);
  range('vocab_size', Math.abs(h.vocabSize));
  range('seq_len', h.seqLen);
  if (h.nKvHeads < 1 || h.nKvHeads > h.nHeads) throw bad('n_kv_heads', `n_kv_heads ${h.nKvHeads} is outside [1, n_heads = ${h.nHeads}]`);
  if (h.nHeads % h.nKvHeads !== 0) throw bad('n_kv_heads', `n_heads ${h.nHeads} is not a multiple of n_kv_heads ${h.nKvHeads}`);
  if (h.dim % h.nHeads !== 0) throw bad('n_heads', `dim ${h.dim} is not a multiple of n_heads ${h.nHeads}`);
  if ((h.dim / h.nHeads) % 2 !== 0) throw bad('n_heads', `head size ${h.dim / h.nHeads} is odd; RoPE rotates pairs`);
  return h;
}

/** Validates header and length, then plans every canonical tensor (freq_cis is skipped: RoPE is computed). */
export function planLlama2c(bytes: Uint8Array, file: string): Llama2cPlan {
  const h = readLlama2cHeader(bytes, file);
  const vocab = Math.abs(h.vocabSize);
  const headDim = h.dim / h.nHeads;
  const kvDim = headDim * h.nKvHeads;
  const L = h.nLayers;
  const config: ModelConfig = {
    source: file,
    dim: h.dim,
    hiddenDim: h.hiddenDim,
    nLayers: L,
    nHeads: h.nHeads,
    nKvHeads: h.nKvHeads,
    headDim,
    vocabSize: vocab,
    maxSeqLen: h.seqLen,
    ropeTheta: 10000,
    ropeStyle: 'interleaved', // run.c rotates (2i, 2i+1)
    normEps: 1e-5,
    tiedEmbeddings: h.vocabSize > 0,
    bosTokenId: 1,
    eosTokenId: 2,
  };

  // The file, in order: [name, shape of one layer's slice (or of the whole tensor), per-layer?]. Shapes are
  // the canonical ones from expectedShapes (wq is [nHeads·headDim, dim] = [dim, dim] here).
  const layout: [string, number[], boolean][] = [
    ['tok_embeddings', [vocab, h.dim], false],
    ['attention_norm', [h.dim], true],
    ['wq', [h.dim, h.dim], true],
    ['wk', [kvDim, h.dim], true],
    ['wv', [kvDim, h.dim], true],
    ['wo', [h.dim, h.dim], true],
    ['ffn_norm', [h.dim], true],
    ['w1', [h.hiddenDim, h.dim], true],
    ['w2', [h.dim, h.hiddenDim], true],
    ['w3', [h.hiddenDim, h.dim], true],
    ['norm', [h.dim], false],
    ['freq_cis', [2, h.seqLen, headDim / 2], false], // real then imaginary halves; skipped
  ];
  if (h.vocabSize < 0) layout.push(['output', [vocab, h.dim], false]);

  // Length first, in BigInt (it is compared with the file before any offset is trusted).
  let floats = 0n;
  for (const [, shape, perLayer] of layout) floats += BigInt(shape.reduce((a, b) => a * b, 1)) * (perLayer ? BigInt(L) : 1n);
  const expected = BigInt(LLAMA2C_HEADER_BYTES) + 4n * floats;
  if (BigInt(bytes.length) !== expected) {
    const diff = BigInt(bytes.length) - expected;
    const classifier = 4n * BigInt(vocab) * BigInt(h.dim);
    const hint =
      diff === classifier && h.vocabSize > 0 ? ' — exactly one classifier more: should vocab_size be negative (unshared classifier)?'
        : diff === -classifier && h.vocabSize < 0 ? ' — exactly one classifier less: should vocab_size be positive (shared classifier)?'
          : '';
    throw new LoadError(
      'llama2c-size-mismatch',
      file,
      `the header implies ${expected} bytes (28 + 4 × ${floats} floats) but the file is ${bytes.length}${hint}`,
      'file_length',
    );
  }

  const tensors = new Map<string, TensorSlice>();
  let offset = LLAMA2C_HEADER_BYTES;
  for (const [name, shape, perLayer] of layout) {
    const elements = shape.reduce((a, b) => a * b, 1);
    for (let l = 0; l < (perLayer ? L : 1); l++) {
      if (name !== 'freq_cis') {
        const canonical = perLayer ? `layers.${l}.${name}` : name;
        tensors.set(canonical, { dtype: 'F32', shape: [...shape], elements, byteOffset: offset, byteLength: 4 * elements });
      }
      offset += 4 * elements;
    }
  }
  return { config, header: h, totalFloats: Number(floats), tensors };
}
