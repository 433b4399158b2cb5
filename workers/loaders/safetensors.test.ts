// safetensors header plans, prototype-safe names, F32 copies at any alignment, exact F16/BF16 conversion.
import { describe, expect, it } from 'vitest';
import { LoadError } from './errors.ts';
import { decodeToF32, f16BitsToF32Bits, parseSafetensorsHeader, readTensorF32 } from './safetensors.ts';
import { buildSafetensors, f16BitsExact } from './testing/build-safetensors.ts';
import { recordingAllocator } from './testing/recording-alloc.ts';

/** Independent f16 decoder from the IEEE 754 definition, in float64 arithmetic. */
function f16Reference(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24; // subnormal (and ±0)
  if (exp === 31) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

const f32OfBits = (bits: number): number => new Float32Array(new Uint32Array([bits]).buffer)[0]!;

function thrown(f: () => unknown): LoadError {
  try {
    f();
  } catch (e) {
    if (e instanceof LoadError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

describe('parseSafetensorsHeader', () => {
  it('plans tensors as slices of the file (absolute offsets), with metadata in a Map', () => {
    const bytes = buildSafetensors(
      [
        { name: 'a', dtype: 'F32', shape: [2, 3], values: [1, 2, 3, 4, 5, 6] },
        { name: 'b', dtype: 'F16', shape: [4], values: [0.5, -0.5, 2, 0] },
        { name: 'empty', dtype: 'BF16', shape: [0, 5], values: [] },
      ],
      { metadata: { format: 'pt' } },
    );
    const plan = parseSafetensorsHeader(bytes, 'x.safetensors');
    expect(plan.dataStart % 8).toBe(0); // the builder pads like the Python writer
    expect(plan.byteLength).toBe(bytes.length);
    expect(plan.metadata).toEqual(new Map([['format', 'pt']]));
    expect(plan.tensors.get('a')).toEqual({ dtype: 'F32', shape: [2, 3], elements: 6, byteOffset: plan.dataStart, byteLength: 24 });
    expect(plan.tensors.get('b')).toEqual({ dtype: 'F16', shape: [4], elements: 4, byteOffset: plan.dataStart + 24, byteLength: 8 });
    expect(plan.tensors.get('empty')).toMatchObject({ elements: 0, byteLength: 0 });
  });

  it('keeps prototype-named tensors as ordinary Map keys and touches no prototype', () => {
    const names = ['__proto__', 'constructor', 'hasOwnProperty', 'toString'];
    const bytes = buildSafetensors(names.map((name, i) => ({ name, dtype: 'F32', shape: [1], values: [i] })));
    const plan = parseSafetensorsHeader(bytes, 'x.safetensors');
    expect([...plan.tensors.keys()]).toEqual(names);
    for (const [i, name] of names.entries()) expect(readTensorF32(plan, bytes, name)[0]).toBe(i);
    expect(({} as Record<string, unknown>).dtype).toBeUndefined();
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  });

  it('accepts an unpadded header and zero-size tensors anywhere in the tiling', () => {
    const bytes = buildSafetensors(
      [
        { name: 'z0', dtype: 'F32', shape: [0], values: [] },
        { name: 'a', dtype: 'F32', shape: [1], values: [3] },
        { name: 'z1', dtype: 'F16', shape: [3, 0], values: [] },
      ],
      { align: 1 },
    );
    expect(parseSafetensorsHeader(bytes, 'x.safetensors').tensors.size).toBe(3);
  });

  it('names the file, the tensor and the dtype in its errors', () => {
    const bytes = buildSafetensors([{ name: 'w', dtype: 'F32', shape: [1], values: [1] }], {
      editHeader: (e) => e.map(([k, v]) => [k, { ...(v as object), dtype: 'I64' }]),
    });
    const err = thrown(() => parseSafetensorsHeader(bytes, 'shard-3.safetensors'));
    expect(err.code).toBe('unknown-dtype');
    expect(err.file).toBe('shard-3.safetensors');
    expect(err.field).toBe('w');
    expect(err.message).toMatch(/shard-3\.safetensors \[w\]: dtype "I64" is not supported/);
  });
});

describe('readTensorF32', () => {
  it('copies F32 exactly, even when the data section is not 4-byte aligned', () => {
    const values = [1.5, -2.25, 3.4028234663852886e38, 2 ** -149, -0, Infinity];
    const bytes = buildSafetensors([{ name: 'w', dtype: 'F32', shape: [2, 3], values }], { align: 1 });
    const plan = parseSafetensorsHeader(bytes, 'x.safetensors');
    expect(plan.dataStart % 4).not.toBe(0);
    const out = readTensorF32(plan, bytes, 'w');
    expect([...out]).toEqual(values);
    expect(Object.is(out[4], -0)).toBe(true);
    // And from a view that starts at an odd offset of a larger buffer.
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const view = shifted.subarray(1);
    expect([...readTensorF32(parseSafetensorsHeader(view, 'x.safetensors'), view, 'w')]).toEqual(values);
  });

  it('allocates once, through the allocator, with the tensor name and element count', () => {
    const bytes = buildSafetensors([{ name: 'w', dtype: 'BF16', shape: [3, 2], values: [1, 2, 3, 4, 5, 6] }]);
    const rec = recordingAllocator();
    readTensorF32(parseSafetensorsHeader(bytes, 'x.safetensors'), bytes, 'w', rec.alloc);
    expect(rec.calls).toEqual([{ name: 'w', elements: 6 }]);
  });

  it('throws missing-tensor for a name the plan lacks', () => {
    const bytes = buildSafetensors([{ name: 'w', dtype: 'F32', shape: [1], values: [1] }]);
    const plan = parseSafetensorsHeader(bytes, 'x.safetensors');
    expect(thrown(() => readTensorF32(plan, bytes, 'v')).code).toBe('missing-tensor');
  });
});

describe('F16 and BF16 conversion', () => {
  it('decodes all 65,536 F16 bit patterns exactly (subnormals, ±0, ±inf; NaN stays NaN with its payload)', () => {
    for (let h = 0; h < 0x10000; h++) {
      const bits = f16BitsToF32Bits(h);
      const got = f32OfBits(bits);
      const want = f16Reference(h);
      if (Number.isNaN(want)) {
        expect(Number.isNaN(got), `0x${h.toString(16)}`).toBe(true);
        expect((bits >>> 13) & 0x3ff, `payload 0x${h.toString(16)}`).toBe(h & 0x3ff);
        expect(bits >>> 31).toBe(h >>> 15);
      } else if (!Object.is(got, want)) {
        expect.fail(`f16 0x${h.toString(16)}: got ${got}, want ${want}`);
      }
    }
  });

  it('decodes the named edge values', () => {
    const cases: [number, number][] = [
      [0x0000, 0],
      [0x8000, -0],
      [0x0001, 2 ** -24], // smallest subnormal
      [0x03ff, 1023 * 2 ** -24], // largest subnormal
      [0x0400, 2 ** -14], // smallest normal
      [0x3c00, 1],
      [0xc000, -2],
      [0x3555, 0.333251953125],
      [0x7bff, 65504], // largest finite
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
    ];
    for (const [h, v] of cases) expect(Object.is(f32OfBits(f16BitsToF32Bits(h)), v), `0x${h.toString(16)}`).toBe(true);
    expect(Number.isNaN(f32OfBits(f16BitsToF32Bits(0x7e00)))).toBe(true);
    expect(Number.isNaN(f32OfBits(f16BitsToF32Bits(0xfc01)))).toBe(true);
  });

  it('decodes every F16 and BF16 pattern through a real file (byte order and tensor plumbing)', () => {
    const n = 0x10000;
    const raw = new Uint8Array(2 * n);
    for (let h = 0; h < n; h++) {
      raw[2 * h] = h & 0xff;
      raw[2 * h + 1] = h >> 8;
    }
    for (const dtype of ['F16', 'BF16'] as const) {
      const out = new Float32Array(n);
      decodeToF32(raw, { dtype, shape: [n], elements: n, byteOffset: 0, byteLength: 2 * n }, out);
      const bits = new Uint32Array(out.buffer);
      for (let h = 0; h < n; h++) {
        const want = dtype === 'BF16' ? (h << 16) >>> 0 : f16BitsToF32Bits(h);
        if (bits[h] !== want) expect.fail(`${dtype} 0x${h.toString(16)}: bits 0x${bits[h]!.toString(16)}, want 0x${want.toString(16)}`);
      }
    }
  });

  it('round-trips F16 and BF16 values through safetensors files', () => {
    const f16 = [0, -0, 2 ** -24, 1023 * 2 ** -24, 2 ** -14, 1, -2, 65504, Infinity, -Infinity];
    const bf16 = [0, -0, 1, -2, 2 ** -133, 3.3895313892515355e38, 2 ** -126, Infinity, -Infinity, 0.15625];
    const bytes = buildSafetensors([
      { name: 'h', dtype: 'F16', shape: [f16.length], values: f16 },
      { name: 'b', dtype: 'BF16', shape: [bf16.length], values: bf16 },
    ]);
    const plan = parseSafetensorsHeader(bytes, 'x.safetensors');
    expect([...readTensorF32(plan, bytes, 'h')]).toEqual(f16);
    expect([...readTensorF32(plan, bytes, 'b')]).toEqual(bf16);
    expect(f16BitsExact(65504)).toBe(0x7bff); // the fixture encoder agrees with the decoder's table above
  });
});
