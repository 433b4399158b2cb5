// safetensors: validates a file's header into a plan (names → dtype, shape, byte range; no tensor data
// copied), then converts one tensor's F32/F16/BF16 bytes into a new Float32Array.
// Pure TypeScript over Uint8Array: no DOM, no GPU, no fetch. Imports only ./errors.ts.

import { LoadError, formatShape, quote, rejectMisservedFile } from './errors.ts';

/*
 * File layout (https://github.com/huggingface/safetensors):
 *   [0, 8)              u64 little-endian N: the header's length in bytes
 *   [8, 8 + N)          UTF-8 JSON object: { "<tensor>": { dtype, shape, data_offsets: [begin, end] }, ...,
 *                       "__metadata__"?: { "<key>": "<string>" } }, maybe padded with spaces
 *   [8 + N, end)        the data section; data_offsets are relative to its start and must tile it exactly
 */

/** The header may be no longer than this (the reference Rust implementation's limit, 100 MB). */
export const HEADER_CAP = 100_000_000;
/** More dimensions than any weight tensor has; bounds the work spent on a hostile shape. */
const MAX_RANK = 8;

export type Dtype = 'F32' | 'F16' | 'BF16';
export const DTYPE_BYTES: Record<Dtype, number> = { F32: 4, F16: 2, BF16: 2 };

/** One tensor's bytes inside a file. byteOffset is absolute (from the file's first byte). */
export interface TensorSlice {
  dtype: Dtype;
  shape: number[];
  elements: number;
  byteOffset: number;
  byteLength: number;
}

export interface SafetensorsPlan {
  file: string;
  byteLength: number; // the whole file
  dataStart: number; // 8 + header length
  tensors: Map<string, TensorSlice>; // a Map: tensor names such as "__proto__" stay plain keys
  metadata: Map<string, string>;
}

/** The allocator every tensor copy goes through; called only after all validation has passed. */
export type Allocator = (name: string, elements: number) => Float32Array;
export const defaultAllocator: Allocator = (_name, elements) => new Float32Array(elements);

export function parseSafetensorsHeader(bytes: Uint8Array, file: string): SafetensorsPlan {
  rejectMisservedFile(bytes, file);
  if (bytes.length < 8) {
    throw new LoadError('truncated', file, `file is ${bytes.length} bytes; a safetensors file starts with an 8-byte header length`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true); // u64: read as BigInt so 2^53+ cannot round
  if (headerLength > BigInt(HEADER_CAP)) {
    throw new LoadError('header-too-large', file, `header length ${headerLength} exceeds the ${HEADER_CAP}-byte cap`, 'header_length');
  }
  if (headerLength > BigInt(bytes.length - 8)) {
    throw new LoadError(
      'header-length-past-end',
      file,
      `header length ${headerLength} runs past the end of the ${bytes.length}-byte file`,
      'header_length',
    );
  }
  const dataStart = 8 + Number(headerLength);

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, dataStart));
  } catch {
    throw new LoadError('header-not-utf8', file, 'header is not valid UTF-8', 'header');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new LoadError('header-not-json', file, `header is not JSON: ${(e as Error).message}`, 'header');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new LoadError('header-not-json', file, 'header is JSON but not an object', 'header');
  }

  const tensors = new Map<string, TensorSlice>();
  const metadata = new Map<string, string>();
  // Object.entries lists own keys only; JSON.parse makes "__proto__" an own key, never the prototype.
  for (const [name, value] of Object.entries(json)) {
    if (name === '__metadata__') parseMetadata(value, metadata, file);
    else tensors.set(name, parseEntry(name, value, dataStart, file));
  }
  checkTiling(tensors, dataStart, bytes.length, file);
  return { file, byteLength: bytes.length, dataStart, tensors, metadata };
}

function parseMetadata(value: unknown, into: Map<string, string>, file: string): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new LoadError('bad-metadata', file, '__metadata__ must be an object of strings', '__metadata__');
  }
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new LoadError('bad-metadata', file, `__metadata__ value ${quote(k)} is not a string`, '__metadata__');
    into.set(k, v);
  }
}

function parseEntry(name: string, value: unknown, dataStart: number, file: string): TensorSlice {
  const bad = (msg: string): LoadError => new LoadError('bad-tensor-entry', file, msg, name);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('entry is not an object');
  const entry = value as Record<string, unknown>;
  for (const key of Object.keys(entry)) {
    if (key !== 'dtype' && key !== 'shape' && key !== 'data_offsets') throw bad(`unknown field ${quote(key)}`);
  }
  const { dtype, shape, data_offsets: offsets } = entry;
  if (typeof dtype !== 'string') throw bad('dtype is missing or not a string');
  if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') {
    throw new LoadError('unknown-dtype', file, `dtype ${quote(dtype)} is not supported (F32, F16, BF16 only)`, name);
  }
  if (!Array.isArray(shape) || shape.length > MAX_RANK) throw bad(`shape must be an array of at most ${MAX_RANK} sizes`);
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || (d as number) < 0) throw bad(`shape ${quote(JSON.stringify(shape))} has a size that is not a non-negative integer`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2) throw bad('data_offsets must be [begin, end]');
  const [begin, end] = offsets as unknown[];
  if (!Number.isSafeInteger(begin) || !Number.isSafeInteger(end) || (begin as number) < 0 || (end as number) < (begin as number)) {
    throw bad(`data_offsets ${quote(JSON.stringify(offsets))} must be integers with 0 ≤ begin ≤ end`);
  }
  // Element count and byte size in BigInt: [2^40, 2^40] must overflow loudly, not round.
  let count = 1n;
  for (const d of shape as number[]) count *= BigInt(d);
  const bytes = count * BigInt(DTYPE_BYTES[dtype]);
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new LoadError('shape-size-overflow', file, `shape ${formatShape(shape as number[])} of ${dtype} is ${bytes} bytes, past 2^53`, name);
  }
  const span = (end as number) - (begin as number);
  if (BigInt(span) !== bytes) {
    throw new LoadError(
      'size-mismatch',
      file,
      `${dtype} ${formatShape(shape as number[])} needs ${bytes} bytes but data_offsets [${begin}, ${end}] hold ${span}`,
      name,
    );
  }
  return { dtype, shape: shape as number[], elements: Number(count), byteOffset: dataStart + (begin as number), byteLength: span };
}

/** data_offsets sorted by begin must tile [0, data length) exactly: no overlap, no gap, no tail. */
function checkTiling(tensors: Map<string, TensorSlice>, dataStart: number, fileLength: number, file: string): void {
  const sorted = [...tensors].sort(([, a], [, b]) => a.byteOffset - b.byteOffset || a.byteLength - b.byteLength);
  let cursor = dataStart; // absolute: where the next tensor must begin
  let prev = '(start of data)';
  for (const [name, t] of sorted) {
    const rel = (x: number): number => x - dataStart;
    if (t.byteOffset < cursor) {
      throw new LoadError('offsets-overlap', file, `begins at data byte ${rel(t.byteOffset)}, inside ${quote(prev)} (which ends at ${rel(cursor)})`, name);
    }
    if (t.byteOffset > cursor) {
      throw new LoadError('offsets-gap', file, `data bytes [${rel(cursor)}, ${rel(t.byteOffset)}) between ${quote(prev)} and this tensor belong to no tensor`, name);
    }
    cursor = t.byteOffset + t.byteLength;
    prev = name;
  }
  if (cursor > fileLength) {
    throw new LoadError('truncated', file, `file is ${fileLength} bytes but its tensors end at byte ${cursor}`, prev);
  }
  if (cursor < fileLength) {
    throw new LoadError(
      'offsets-not-covering',
      file,
      `the tensors end at data byte ${cursor - dataStart} but the data section is ${fileLength - dataStart} bytes (${fileLength - cursor} bytes belong to no tensor)`,
    );
  }
}

/** Converts one planned tensor into a new Float32Array from `alloc`. Validation is the caller's (the plan's). */
export function readTensorF32(plan: SafetensorsPlan, bytes: Uint8Array, name: string, alloc: Allocator = defaultAllocator): Float32Array {
  const slice = plan.tensors.get(name);
  if (!slice) throw new LoadError('missing-tensor', plan.file, 'no such tensor', name);
  if (bytes.length !== plan.byteLength) throw new Error(`${plan.file}: bytes are not the file this plan was made from`);
  const out = alloc(name, slice.elements);
  decodeToF32(bytes, slice, out);
  return out;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Writes slice's elements, converted to f32, into out (which must hold exactly slice.elements). */
export function decodeToF32(bytes: Uint8Array, slice: TensorSlice, out: Float32Array): void {
  const n = slice.elements;
  if (out.length !== n) throw new Error(`allocator returned ${out.length} elements, expected ${n}`);
  const src = bytes.subarray(slice.byteOffset, slice.byteOffset + slice.byteLength);
  if (slice.dtype === 'F32') {
    if (LITTLE_ENDIAN) {
      // Byte copy into the (aligned) output: works whatever the source's alignment.
      new Uint8Array(out.buffer, out.byteOffset, n * 4).set(src);
    } else {
      const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
    }
    return;
  }
  // F16 and BF16: write the f32 bit patterns through a Uint32 view of the output (exact, NaN payloads kept).
  const bits = new Uint32Array(out.buffer, out.byteOffset, n);
  if (slice.dtype === 'BF16') {
    for (let i = 0; i < n; i++) bits[i] = (src[2 * i]! | (src[2 * i + 1]! << 8)) << 16;
  } else {
    for (let i = 0; i < n; i++) bits[i] = f16BitsToF32Bits(src[2 * i]! | (src[2 * i + 1]! << 8));
  }
}

/**
 * IEEE binary16 → binary32, bit-exact. f16: 1 sign, 5 exponent (bias 15), 10 mantissa bits;
 * f32: 1 sign, 8 exponent (bias 127), 23 mantissa bits.
 */
export function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0; // inf (mant 0) or NaN (payload kept)
  if (exp !== 0) return (sign | ((exp + 127 - 15) << 23) | (mant << 13)) >>> 0; // normal: rebias
  if (mant === 0) return sign >>> 0; // ±0
  // Subnormal: mant · 2^-24. Shift the leading 1 up to the implicit-bit position, lowering the exponent.
  let e = 127 - 15 + 1;
  while ((mant & 0x400) === 0) {
    mant <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((mant & 0x3ff) << 13)) >>> 0;
}
