// model.safetensors.index.json: plain shard names only; every tensor in exactly the shard the index names.
import { describe, expect, it } from 'vitest';
import { LoadError } from './errors.ts';
import { isPlainShardName, locateShardedTensors, parseShardIndex } from './sharded.ts';
import { parseSafetensorsHeader } from './safetensors.ts';
import { buildSafetensors } from './testing/build-safetensors.ts';

function thrown(f: () => unknown): LoadError {
  try {
    f();
  } catch (e) {
    if (e instanceof LoadError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

const t = (name: string) => ({ name, dtype: 'F32' as const, shape: [2], values: [1, 2] });

describe('parseShardIndex', () => {
  it('lists distinct shards in order of first mention and keeps every name as a Map key', () => {
    const json = JSON.parse('{"metadata": {"total_size": 24}, "weight_map": {"b": "s2.safetensors", "__proto__": "s1.safetensors", "a": "s2.safetensors"}}') as unknown;
    const index = parseShardIndex(json, 'i.json');
    expect(index.shards).toEqual(['s2.safetensors', 's1.safetensors']);
    expect([...index.weightMap]).toEqual([['b', 's2.safetensors'], ['__proto__', 's1.safetensors'], ['a', 's2.safetensors']]);
  });

  it('accepts only plain .safetensors file names', () => {
    for (const ok of ['model.safetensors', 'model-00001-of-00002.safetensors', 'a.b_c-D9.safetensors']) expect(isPlainShardName(ok), ok).toBe(true);
    const bad = ['../x.safetensors', 'a/b.safetensors', 'a\\b.safetensors', '/abs.safetensors', '..safetensors', 'a..b.safetensors', '.safetensors',
      'x.safetensors/', 'x.safetensors\n', 'x.bin', 'x%2F.safetensors', 'C:x.safetensors', 'ü.safetensors', 'x .safetensors', ''];
    for (const name of bad) expect(isPlainShardName(name), JSON.stringify(name)).toBe(false);
  });

  it('rejects malformed indexes with shard-index-invalid', () => {
    for (const json of [null, [], { weight_map: [] }, { weight_map: {} }, { weight_map: { a: 3 } }, { weight_map: { a: 'x.safetensors' }, metadata: 'm' }]) {
      expect(thrown(() => parseShardIndex(json, 'i.json')).code, JSON.stringify(json)).toBe('shard-index-invalid');
    }
  });
});

describe('locateShardedTensors', () => {
  const s1 = buildSafetensors([t('a'), t('b')]);
  const s2 = buildSafetensors([t('c')]);
  const plans = new Map([
    ['s1.safetensors', parseSafetensorsHeader(s1, 's1.safetensors')],
    ['s2.safetensors', parseSafetensorsHeader(s2, 's2.safetensors')],
  ]);

  it('places each tensor in the shard the index names', () => {
    const index = parseShardIndex({ weight_map: { a: 's1.safetensors', b: 's1.safetensors', c: 's2.safetensors' } }, 'i.json');
    const located = locateShardedTensors(index, plans, 'i.json');
    expect([...located].map(([n, l]) => [n, l.file])).toEqual([['a', 's1.safetensors'], ['b', 's1.safetensors'], ['c', 's2.safetensors']]);
    expect(located.get('c')!.slice).toBe(plans.get('s2.safetensors')!.tensors.get('c'));
  });

  it('rejects a tensor the index misplaces, omits or invents, and a shard it names but was not given', () => {
    const cases: [Record<string, string>, string, string][] = [
      [{ a: 's2.safetensors', b: 's1.safetensors', c: 's2.safetensors' }, 'shard-index-invalid', 'a'],
      [{ a: 's1.safetensors', c: 's2.safetensors' }, 'shard-index-invalid', 'b'],
      [{ a: 's1.safetensors', b: 's1.safetensors', c: 's2.safetensors', d: 's2.safetensors' }, 'missing-tensor', 'd'],
      [{ a: 's1.safetensors', b: 's1.safetensors', c: 's3.safetensors' }, 'missing-shard', 's3.safetensors'],
    ];
    for (const [map, code, field] of cases) {
      const err = thrown(() => locateShardedTensors(parseShardIndex({ weight_map: map }, 'i.json'), plans, 'i.json'));
      expect({ code: err.code, field: err.field }, err.message).toEqual({ code, field });
    }
  });
});
