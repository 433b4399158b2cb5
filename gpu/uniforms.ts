// One source of truth for uniform structs: fields are declared once here, and the byte layout, the packer
// and the WGSL struct text all derive from that declaration. Only 4-byte scalars (u32, i32, f32), which keeps
// WGSL's uniform layout rule simple: field i sits at byte 4·i, and the struct is padded to 16 bytes.

export type ScalarType = 'u32' | 'i32' | 'f32';

export interface UniformStruct<F extends string> {
  readonly name: string;
  readonly fields: readonly (readonly [F, ScalarType])[];
  /** Byte offset of each field. */
  readonly offsets: Readonly<Record<F, number>>;
  /** Size in bytes, rounded up to 16 as uniform buffers require. */
  readonly size: number;
  /** The same struct as WGSL source, e.g. `struct GemvParams { rows: u32, cols: u32 }`. */
  readonly wgsl: string;
  /** Packs values into `out` (or a new buffer) at the declared offsets. */
  pack(values: Readonly<Record<F, number>>, out?: ArrayBuffer, byteOffset?: number): ArrayBuffer;
}

export function uniformStruct<F extends string>(name: string, fields: readonly (readonly [F, ScalarType])[]): UniformStruct<F> {
  const offsets = {} as Record<F, number>;
  fields.forEach(([field], i) => (offsets[field] = 4 * i));
  const size = Math.max(16, Math.ceil((4 * fields.length) / 16) * 16);
  const wgsl = `struct ${name} {\n${fields.map(([f, t]) => `  ${f}: ${t},`).join('\n')}\n}`;
  return {
    name,
    fields,
    offsets,
    size,
    wgsl,
    pack(values, out = new ArrayBuffer(size), byteOffset = 0) {
      const view = new DataView(out, byteOffset, size);
      for (const [field, type] of fields) {
        const v = values[field];
        if (typeof v !== 'number' || Number.isNaN(v)) throw new Error(`${name}.${field}: expected a number, got ${String(v)}`);
        if (type === 'f32') view.setFloat32(offsets[field], v, true);
        else if (type === 'u32') view.setUint32(offsets[field], v, true);
        else view.setInt32(offsets[field], v, true);
      }
      return out;
    },
  };
}

/**
 * Reads `struct <name> { ... }` out of WGSL source as [field, type] pairs, so tests can check that a
 * shader's struct agrees with its TypeScript declaration field by field.
 */
export function parseWgslStruct(src: string, name: string): [string, string][] {
  const m = new RegExp(`struct\\s+${name}\\s*\\{([^}]*)\\}`).exec(src);
  if (!m?.[1]) throw new Error(`struct ${name} not found in shader`);
  return m[1]
    .split('\n')
    .map((line) => line.replace(/\/\/.*$/, '').trim())
    .filter(Boolean)
    .flatMap((line) => line.split(','))
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const [field, type] = part.split(':').map((s) => s.trim());
      return [field ?? '', type ?? ''] as [string, string];
    });
}
