// Sharded safetensors: model.safetensors.index.json validated (plain shard file names only), then every
// tensor located in exactly the shard the index names. Pure TypeScript; imports ./errors.ts and types.

import { LoadError, quote } from './errors.ts';
import type { SafetensorsPlan, TensorSlice } from './safetensors.ts';

export const INDEX_FILE = 'model.safetensors.index.json';
/** A plain file name in the model's folder: no slashes, no "..", nothing but [A-Za-z0-9._-]. */
const SHARD_NAME = /^[A-Za-z0-9._-]+\.safetensors$/;
const MAX_SHARDS = 4096;
const MAX_TENSORS = 1_000_000;

export interface ShardIndex {
  shards: string[]; // distinct shard file names, in order of first mention
  weightMap: Map<string, string>; // tensor name → shard file name
}

export function isPlainShardName(name: string): boolean {
  return SHARD_NAME.test(name) && !name.includes('..');
}

export function parseShardIndex(json: unknown, file: string): ShardIndex {
  const invalid = (msg: string, field?: string): LoadError => new LoadError('shard-index-invalid', file, msg, field);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw invalid('the index must be a JSON object');
  const { weight_map: map, metadata } = json as Record<string, unknown>;
  if (metadata !== undefined && metadata !== null && (typeof metadata !== 'object' || Array.isArray(metadata))) {
    throw invalid('metadata must be an object', 'metadata');
  }
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw invalid('weight_map is missing or not an object', 'weight_map');
  const entries = Object.entries(map); // own keys only: "__proto__" is an ordinary tensor name here
  if (entries.length === 0) throw invalid('weight_map lists no tensors', 'weight_map');
  if (entries.length > MAX_TENSORS) throw invalid(`weight_map lists ${entries.length} tensors (at most ${MAX_TENSORS})`, 'weight_map');

  const weightMap = new Map<string, string>();
  const shards: string[] = [];
  const seen = new Set<string>();
  for (const [tensor, shard] of entries) {
    if (typeof shard !== 'string') throw invalid(`shard of ${quote(tensor)} is not a string`, tensor);
    if (!isPlainShardName(shard)) {
      throw new LoadError('bad-shard-name', file, `shard name ${quote(shard)} is not a plain file name (letters, digits, ".", "_", "-", ending ".safetensors")`, tensor);
    }
    weightMap.set(tensor, shard);
    if (!seen.has(shard)) {
      seen.add(shard);
      shards.push(shard);
      if (shards.length > MAX_SHARDS) throw invalid(`more than ${MAX_SHARDS} shards`, 'weight_map');
    }
  }
  return { shards, weightMap };
}

export interface LocatedTensor {
  file: string; // the shard holding it
  slice: TensorSlice;
}

/**
 * Every tensor of every shard, checked against the index: each sits in exactly one shard, and that is the
 * shard the index names. `plans` holds one parsed header per index shard.
 */
export function locateShardedTensors(index: ShardIndex, plans: Map<string, SafetensorsPlan>, indexFile: string): Map<string, LocatedTensor> {
  const located = new Map<string, LocatedTensor>();
  for (const shard of index.shards) {
    const plan = plans.get(shard);
    if (!plan) throw new LoadError('missing-shard', indexFile, `shard ${quote(shard)} named by the index was not provided`, shard);
    for (const [name, slice] of plan.tensors) {
      const other = located.get(name);
      if (other) throw new LoadError('duplicate-tensor', shard, `tensor is also in ${quote(other.file)}`, name);
      const listed = index.weightMap.get(name);
      if (listed === undefined) throw new LoadError('shard-index-invalid', indexFile, `tensor found in ${quote(shard)} is not in weight_map`, name);
      if (listed !== shard) throw new LoadError('shard-index-invalid', indexFile, `weight_map places it in ${quote(listed)} but it is in ${quote(shard)}`, name);
      located.set(name, { file: shard, slice });
    }
  }
  for (const [name, shard] of index.weightMap) {
    if (!located.has(name)) throw new LoadError('missing-tensor', shard, `weight_map places this tensor here but ${quote(shard)} does not hold it`, name);
  }
  return located;
}
