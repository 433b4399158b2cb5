// Test-only builders for safetensors files: valid ones from tensor specs, and the raw pieces (header
// entries, header length, data section) that the bad-file corpus breaks one at a time. Imports nothing
// from the engine but types.

export type HeaderValue = { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, unknown>;
/** Header entries as [key, value] pairs, never an object: a key "__proto__" must stay an ordinary key. */
export type HeaderEntries = [string, unknown][];

export interface TensorSpec {
  name: string;
  dtype: 'F32' | 'F16' | 'BF16';
  shape: number[];
  values: ArrayLike<number>; // f32 values, exactly representable in dtype
}

export interface BuildOptions {
  metadata?: Record<string, unknown>;
  /** Edits the header entries (in place or by returning new ones) before they are serialized. */
  editHeader?: (entries: HeaderEntries) => HeaderEntries | void;
  /** Bytes appended after the data section. */
  extraData?: number;
  /** Pads the header with spaces to a multiple of this (the Python writer uses 8). */
  align?: number;
}

const enc = new TextEncoder();

/** Serializes entries to JSON text in their order (JSON.stringify on an object could drop "__proto__"). */
export function headerJson(entries: HeaderEntries): string {
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
}

/** [u64 length][header bytes][data]; `headerLength` overrides the length field (a lie, for bad files). */
export function assemble(header: Uint8Array, data: Uint8Array, headerLength: bigint = BigInt(header.length)): Uint8Array {
  const out = new Uint8Array(8 + header.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLength, true);
  out.set(header, 8);
  out.set(data, 8 + header.length);
  return out;
}

export function buildSafetensors(specs: TensorSpec[], opts: BuildOptions = {}): Uint8Array {
  const chunks = specs.map((s) => encodeValues(s.dtype, s.values));
  let entries: HeaderEntries = [];
  if (opts.metadata) entries.push(['__metadata__', opts.metadata]);
  let offset = 0;
  specs.forEach((s, i) => {
    const n = chunks[i]!.length;
    entries.push([s.name, { dtype: s.dtype, shape: s.shape, data_offsets: [offset, offset + n] }]);
    offset += n;
  });
  entries = opts.editHeader?.(entries) ?? entries;
  let text = headerJson(entries);
  const align = opts.align ?? 8;
  while ((8 + enc.encode(text).length) % align !== 0) text += ' ';
  const data = new Uint8Array(offset + (opts.extraData ?? 0));
  let at = 0;
  for (const c of chunks) {
    data.set(c, at);
    at += c.length;
  }
  return assemble(enc.encode(text), data);
}

/** Finds entry `name` and applies `edit` to a copy of its value. */
export function editEntry(entries: HeaderEntries, name: string, edit: (v: Record<string, unknown>) => void): void {
  const e = entries.find(([k]) => k === name);
  if (!e) throw new Error(`fixture has no entry ${name}`);
  const v = { ...(e[1] as Record<string, unknown>) };
  edit(v);
  e[1] = v;
}

export function encodeValues(dtype: TensorSpec['dtype'], values: ArrayLike<number>): Uint8Array {
  const n = values.length;
  if (dtype === 'F32') {
    const out = new Uint8Array(4 * n);
    const dv = new DataView(out.buffer);
    for (let i = 0; i < n; i++) dv.setFloat32(4 * i, values[i]!, true);
    return out;
  }
  const out = new Uint8Array(2 * n);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < n; i++) dv.setUint16(2 * i, dtype === 'F16' ? f16BitsExact(values[i]!) : bf16BitsExact(values[i]!), true);
  return out;
}

/** The bf16 bits of x; throws unless x is exactly representable (fixtures use such values only). */
export function bf16BitsExact(x: number): number {
  const dv = new DataView(new ArrayBuffer(4));
  dv.setFloat32(0, x, true);
  const bits = dv.getUint32(0, true);
  if ((bits & 0xffff) !== 0 && !Number.isNaN(x)) throw new Error(`${x} is not exact in bf16`);
  return bits >>> 16;
}

/** The f16 bits of x; throws unless x is exactly representable. */
export function f16BitsExact(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === 0) return sign;
  if (a === Infinity) return sign | 0x7c00;
  let bits: number;
  if (a < 2 ** -14) {
    const m = a / 2 ** -24; // subnormal: a = m · 2^-24
    if (!Number.isInteger(m)) throw new Error(`${x} is not exact in f16`);
    bits = m;
  } else {
    const e = Math.floor(Math.log2(a));
    const m = (a / 2 ** e - 1) * 1024;
    if (!Number.isInteger(m) || e > 15) throw new Error(`${x} is not exact in f16`);
    bits = ((e + 15) << 10) | m;
  }
  return sign | bits;
}
