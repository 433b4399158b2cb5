// Whole-model loading: tiny HF models (single, sharded, tied, F16/BF16), the bad-file corpus (each file its
// typed error, nothing allocated), and a seeded property test over mutated valid files.
import { describe, expect, it } from 'vitest';
import { LoadError } from './errors.ts';
import { loadHfModel, loadLlama2c, planHfModel } from './load-weights.ts';
import { expectedShapes } from '../model/config.ts';
import { badFileCorpus, loadInput, type ModelInput } from './testing/bad-files.ts';
import { recordingAllocator } from './testing/recording-alloc.ts';
import { TINY_LLAMA2C, fixtureValue, llama2cFloats, tinyHfConfig, tinyHfFiles, tinyLlama2c, tinyShardedFiles } from './testing/tiny-model.ts';
import { seeded, randInt } from '../../gpu/testing/random.ts';

/** The canonical → HF names of the tiny model, to check values landed under the right canonical name. */
const HF_OF: Record<string, string> = {
  tok_embeddings: 'model.embed_tokens.weight',
  'layers.1.wq': 'model.layers.1.self_attn.q_proj.weight',
  'layers.1.wk': 'model.layers.1.self_attn.k_proj.weight',
  'layers.0.w1': 'model.layers.0.mlp.gate_proj.weight',
  'layers.0.w2': 'model.layers.0.mlp.down_proj.weight',
  'layers.0.w3': 'model.layers.0.mlp.up_proj.weight',
  'layers.1.attention_norm': 'model.layers.1.input_layernorm.weight',
  'layers.1.ffn_norm': 'model.layers.1.post_attention_layernorm.weight',
  norm: 'model.norm.weight',
  output: 'lm_head.weight',
};

function expectFixtureValues(got: Float32Array | undefined, hfName: string): void {
  expect(got, hfName).toBeDefined();
  const want = Float32Array.from({ length: got!.length }, (_, i) => fixtureValue(hfName, i));
  expect(got).toEqual(want);
}

describe('loadHfModel', () => {
  it('loads a single-file model: config mapped, every canonical tensor with its values and shape', () => {
    const rec = recordingAllocator();
    const w = loadHfModel(tinyHfFiles(), rec.alloc);
    expect(w.config).toMatchObject({ dim: 8, hiddenDim: 12, nLayers: 2, nHeads: 2, nKvHeads: 1, headDim: 4, vocabSize: 16, ropeStyle: 'half', tiedEmbeddings: false });
    const shapes = expectedShapes(w.config);
    expect([...w.tensors.keys()]).toEqual([...shapes.keys()]);
    for (const [name, shape] of shapes) expect(w.tensors.get(name)!.length, name).toBe(shape.reduce((a, b) => a * b, 1));
    for (const [canonical, hf] of Object.entries(HF_OF)) expectFixtureValues(w.tensors.get(canonical), hf);
    expect(rec.calls.map((c) => c.name)).toEqual([...shapes.keys()]); // one allocation per tensor, no more
  });

  it('converts F16 and BF16 tensors to the same f32 values', () => {
    const dtypes = ['F16', 'BF16', 'F32'] as const;
    const w = loadHfModel(tinyHfFiles({ dtype: (name) => dtypes[name.length % 3]! }));
    for (const [canonical, hf] of Object.entries(HF_OF)) expectFixtureValues(w.tensors.get(canonical), hf);
  });

  it('loads a tied model without lm_head, and ignores lm_head when tied but present', () => {
    const tied = tinyHfConfig({ tie_word_embeddings: true });
    const a = loadHfModel(tinyHfFiles({ config: tied }));
    expect(a.config.tiedEmbeddings).toBe(true);
    expect(a.tensors.has('output')).toBe(false);
    const b = loadHfModel(tinyHfFiles({ config: tied, tensorsFor: tinyHfConfig() }));
    expect([...b.tensors.keys()]).toEqual([...a.tensors.keys()]);
  });

  it('loads a sharded model with the same result as the single file', () => {
    const single = loadHfModel(tinyHfFiles());
    const sharded = loadHfModel(tinyShardedFiles());
    expect([...sharded.tensors.keys()]).toEqual([...single.tensors.keys()]);
    for (const [name, t] of single.tensors) expect(sharded.tensors.get(name), name).toEqual(t);
  });

  it('plans without allocating: a plan holds slices of the files, not copies', () => {
    const files = tinyHfFiles();
    const plan = planHfModel(files);
    const q = plan.tensors.get('layers.0.wq')!;
    expect(q.bytes).toBe(files.get('model.safetensors'));
    expect(q.slice).toMatchObject({ dtype: 'F32', shape: [8, 8], elements: 64, byteLength: 256 });
  });
});

describe('the bad-file corpus', () => {
  const corpus = badFileCorpus();

  it('has at least 30 distinct crafted files and covers the error codes the issue names', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(30);
    expect(new Set(corpus.map((c) => c.id)).size).toBe(corpus.length);
    const codes = new Set(corpus.map((c) => c.code));
    for (const code of ['truncated', 'header-length-past-end', 'header-too-large', 'offsets-overlap', 'offsets-gap', 'unknown-dtype', 'shape-size-overflow', 'html-not-weights', 'git-lfs-pointer', 'llama2c-size-mismatch', 'shape-mismatch'] as const) {
      expect(codes.has(code), code).toBe(true);
    }
  });

  for (const bad of corpus) {
    it(`${bad.id} → ${bad.code}`, () => {
      const rec = recordingAllocator();
      let caught: unknown;
      try {
        loadInput(bad.input, rec.alloc);
      } catch (e) {
        caught = e;
      }
      expect(caught, 'must throw').toBeInstanceOf(LoadError);
      const err = caught as LoadError;
      expect({ code: err.code, file: err.file }, err.message).toEqual({ code: bad.code, file: bad.file });
      if (bad.field !== undefined) expect(err.field, err.message).toBe(bad.field);
      expect(err.message).toContain(bad.file);
      // Validation precedes allocation: nothing at all was allocated (so nothing over 64 KiB either).
      expect(rec.maxBytes()).toBeLessThanOrEqual(64 * 1024);
      expect(rec.calls).toEqual([]);
    });
  }
});

describe('loadLlama2c on a tiny checkpoint', () => {
  it('reports the tiny model through the same canonical names', () => {
    const w = loadLlama2c(tinyLlama2c(), 'tiny.bin');
    expect([...w.tensors.keys()]).toEqual([...expectedShapes(w.config).keys()]);
    expect(w.tensors.get('tok_embeddings')![0]).toBe(fixtureValue('llama2c', 0));
  });
});

const JSONISH = '{}[]",:-.0123456789e \\\u0000';
const NUMBERS = ['0', '1', '-1', '2', '3', '4', '7', '8', '12', '16', '4.5', '1e9', '9007199254740993', '18446744073709551615'];

/**
 * One random edit of a file: flip or replace a byte (mostly inside its header), truncate, insert or delete
 * bytes, or — to reach the checks past parsing — replace one number in its JSON (or one llama2.c header int).
 */
function mutate(name: string, bytes: Uint8Array, rand: () => number): Uint8Array {
  const end = headerEnd(name, bytes);
  const at = (): number => (rand() < 0.7 ? randInt(rand, 0, Math.max(0, end - 1)) : randInt(rand, 0, Math.max(0, bytes.length - 1)));
  const pick = (): number => (rand() < 0.5 ? JSONISH.charCodeAt(randInt(rand, 0, JSONISH.length - 1)) : randInt(rand, 0, 255));
  const op = randInt(rand, 0, 5);
  if (op === 0) {
    const out = bytes.slice();
    const i = at();
    if (i < out.length) out[i] = rand() < 0.5 ? out[i]! ^ (1 << randInt(rand, 0, 7)) : pick();
    return out;
  }
  if (op === 1) return bytes.slice(0, randInt(rand, 0, bytes.length));
  const i = at();
  if (op === 2) {
    const ins = Uint8Array.from({ length: randInt(rand, 1, 12) }, pick);
    return Uint8Array.from([...bytes.subarray(0, i), ...ins, ...bytes.subarray(i)]);
  }
  if (op === 3) return Uint8Array.from([...bytes.subarray(0, i), ...bytes.subarray(Math.min(bytes.length, i + randInt(rand, 1, 12)))]);
  if (name.endsWith('.bin')) {
    if (bytes.length < 28) return bytes;
    const out = bytes.slice();
    const dv = new DataView(out.buffer);
    const slot = 4 * randInt(rand, 0, 6);
    dv.setInt32(slot, rand() < 0.5 ? dv.getInt32(slot, true) + randInt(rand, -2, 2) : randInt(rand, -4, 64), true);
    return out;
  }
  // A numeric edit inside the JSON text (the header, for safetensors), keeping a safetensors length prefix true.
  const st = name.endsWith('.safetensors');
  if (st && end > bytes.length) return bytes;
  const text = new TextDecoder().decode(bytes.subarray(st ? 8 : 0, st ? end : bytes.length));
  const numbers = [...text.matchAll(/-?\d+(\.\d+)?(e\d+)?/g)];
  if (numbers.length === 0) return bytes;
  const m = numbers[randInt(rand, 0, numbers.length - 1)]!;
  const edited = new TextEncoder().encode(text.slice(0, m.index) + NUMBERS[randInt(rand, 0, NUMBERS.length - 1)]! + text.slice(m.index + m[0].length));
  if (!st) return edited;
  const out = new Uint8Array(8 + edited.length + bytes.length - end);
  new DataView(out.buffer).setBigUint64(0, BigInt(edited.length), true);
  out.set(edited, 8);
  out.set(bytes.subarray(end), 8 + edited.length);
  return out;
}

/** Where the interesting bytes end: a safetensors header, a llama2.c header, or all of a JSON file. */
function headerEnd(name: string, bytes: Uint8Array): number {
  if (name.endsWith('.safetensors')) {
    return bytes.length < 8 ? bytes.length : 8 + Math.min(Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true)), bytes.length);
  }
  return name.endsWith('.bin') ? 28 : bytes.length;
}

describe('mutated valid files (property)', () => {
  it('either load completely or throw a LoadError before any allocation: 900 seeded mutants', () => {
    const mixed = (name: string): 'F32' | 'F16' | 'BF16' => (['F32', 'F16', 'BF16'] as const)[name.length % 3]!;
    const bases: ModelInput[] = [
      { kind: 'hf', files: tinyHfFiles() },
      { kind: 'hf', files: tinyHfFiles({ dtype: mixed, config: tinyHfConfig({ tie_word_embeddings: true }) }) },
      { kind: 'hf', files: tinyShardedFiles() },
      { kind: 'llama2c', file: 'tiny.bin', bytes: tinyLlama2c() },
      { kind: 'llama2c', file: 'tiny.bin', bytes: tinyLlama2c({ ...TINY_LLAMA2C, vocabSize: -16 }, llama2cFloats({ ...TINY_LLAMA2C, vocabSize: -16 })) },
    ];
    const rand = seeded(20261124);
    const codes = new Map<string, number>();
    let loaded = 0;
    for (let i = 0; i < 900; i++) {
      const base = bases[i % bases.length]!;
      let input: ModelInput;
      let label: string;
      if (base.kind === 'hf') {
        const names = [...base.files.keys()];
        const name = names[randInt(rand, 0, names.length - 1)]!;
        let bytes = base.files.get(name)!;
        for (let k = randInt(rand, 1, 3); k > 0; k--) bytes = mutate(name, bytes, rand);
        input = { kind: 'hf', files: new Map([...base.files, [name, bytes]]) };
        label = `#${i} ${name}`;
      } else {
        let bytes = base.bytes;
        for (let k = randInt(rand, 1, 3); k > 0; k--) bytes = mutate(base.file, bytes, rand);
        input = { ...base, bytes };
        label = `#${i} ${base.file}`;
      }
      const rec = recordingAllocator();
      try {
        const w = loadInput(input, rec.alloc) as ReturnType<typeof loadHfModel>;
        loaded++;
        const shapes = expectedShapes(w.config);
        expect([...w.tensors.keys()], label).toEqual([...shapes.keys()]);
        for (const [name, shape] of shapes) expect(w.tensors.get(name)!.length, label).toBe(shape.reduce((a, b) => a * b, 1));
      } catch (e) {
        if (!(e instanceof LoadError)) throw new Error(`${label}: ${String(e)}`, { cause: e });
        expect(rec.calls, `${label}: ${e.message}`).toEqual([]);
        codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
      }
    }
    // The mutants reach deep: many different checks fire, and some mutants (data bytes) still load.
    expect(codes.size, JSON.stringify([...codes])).toBeGreaterThanOrEqual(15);
    expect(loaded).toBeGreaterThan(20);
  });
});
