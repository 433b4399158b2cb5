// Model loading in two phases: plan (every header, offset, config field and shape validated; no tensor
// data copied) then materialize (each tensor converted to f32 through the injected allocator). So a bad
// file fails before any large allocation and nothing is ever half-loaded. Pure TypeScript: no GPU, no DOM.

import { LoadError, formatShape, quote } from './errors.ts';
import { type Allocator, type TensorSlice, decodeToF32, defaultAllocator, parseSafetensorsHeader } from './safetensors.ts';
import { canonicalTensorName, decodeJsonFile, hfTensorName, parseHfConfig } from './hf-config.ts';
import { INDEX_FILE, type LocatedTensor, locateShardedTensors, parseShardIndex } from './sharded.ts';
import { planLlama2c } from './llama2c-model.ts';
import { type ModelConfig, type ModelWeights, expectedShapes } from '../model/config.ts';

export { type Allocator, defaultAllocator } from './safetensors.ts';

export const CONFIG_FILE = 'config.json';
export const SINGLE_FILE = 'model.safetensors';

/** One canonical tensor, located and validated: where its bytes are, not the bytes themselves. */
export interface PlannedTensor {
  file: string;
  fileName: string; // the tensor's name inside that file, for messages
  bytes: Uint8Array; // the whole file
  slice: TensorSlice;
}

export interface ModelPlan {
  config: ModelConfig;
  tensors: Map<string, PlannedTensor>; // canonical names, in expectedShapes order
}

/**
 * Plans a Hugging Face model from its files, keyed by plain file name: config.json plus either
 * model.safetensors or model.safetensors.index.json and the shards it names.
 */
export function planHfModel(files: Map<string, Uint8Array>): ModelPlan {
  const configBytes = files.get(CONFIG_FILE);
  if (!configBytes) throw new LoadError('missing-file', CONFIG_FILE, 'config.json was not provided');
  const config = parseHfConfig(decodeJsonFile(configBytes, CONFIG_FILE), CONFIG_FILE);

  const located = new Map<string, LocatedTensor>(); // HF name → where
  const fileBytes = new Map<string, Uint8Array>();
  const indexBytes = files.get(INDEX_FILE);
  if (indexBytes) {
    const index = parseShardIndex(decodeJsonFile(indexBytes, INDEX_FILE), INDEX_FILE);
    const plans = new Map<string, ReturnType<typeof parseSafetensorsHeader>>();
    for (const shard of index.shards) {
      const bytes = files.get(shard);
      if (!bytes) throw new LoadError('missing-shard', INDEX_FILE, `shard ${quote(shard)} named by the index was not provided`, shard);
      plans.set(shard, parseSafetensorsHeader(bytes, shard));
      fileBytes.set(shard, bytes);
    }
    for (const [name, loc] of locateShardedTensors(index, plans, INDEX_FILE)) located.set(name, loc);
  } else {
    const bytes = files.get(SINGLE_FILE);
    if (!bytes) throw new LoadError('missing-file', SINGLE_FILE, `neither ${SINGLE_FILE} nor ${INDEX_FILE} was provided`);
    for (const [name, slice] of parseSafetensorsHeader(bytes, SINGLE_FILE).tensors) located.set(name, { file: SINGLE_FILE, slice });
    fileBytes.set(SINGLE_FILE, bytes);
  }

  const found = new Map<string, PlannedTensor>();
  for (const [hfName, { file, slice }] of located) {
    const canonical = canonicalTensorName(hfName, config);
    if (canonical === 'ignore') continue;
    if (canonical === null) throw new LoadError('unexpected-tensor', file, 'not a tensor of a Llama model', hfName);
    const prior = found.get(canonical);
    if (prior) throw new LoadError('duplicate-tensor', file, `maps to ${canonical}, as ${quote(prior.fileName)} in ${quote(prior.file)} does`, hfName);
    found.set(canonical, { file, fileName: hfName, bytes: fileBytes.get(file)!, slice });
  }
  const weightsFile = indexBytes ? INDEX_FILE : SINGLE_FILE;
  return { config, tensors: checkAgainstConfig(config, found, weightsFile, hfTensorName) };
}

/** Plans a llama2.c checkpoint (.bin). */
export function planLlama2cModel(bytes: Uint8Array, file: string): ModelPlan {
  const { config, tensors } = planLlama2c(bytes, file);
  const found = new Map<string, PlannedTensor>();
  for (const [name, slice] of tensors) found.set(name, { file, fileName: name, bytes, slice });
  return { config, tensors: checkAgainstConfig(config, found, file, (n) => n) };
}

/**
 * Every tensor the config implies is present with exactly its shape, and nothing else is there.
 * Returns the tensors in expectedShapes order.
 */
export function checkAgainstConfig(
  config: ModelConfig,
  found: Map<string, PlannedTensor>,
  weightsFile: string,
  fileNameOf: (canonical: string) => string,
): Map<string, PlannedTensor> {
  const expected = expectedShapes(config);
  for (const [name, t] of found) {
    if (!expected.has(name)) {
      const why = name.startsWith('layers.') ? `the config has ${config.nLayers} layers` : 'the config does not use it';
      throw new LoadError('unexpected-tensor', t.file, `not expected: ${why}`, t.fileName);
    }
  }
  const ordered = new Map<string, PlannedTensor>();
  for (const [name, shape] of expected) {
    const t = found.get(name);
    if (!t) throw new LoadError('missing-tensor', weightsFile, `the model has no ${quote(fileNameOf(name))} (${name} ${formatShape(shape)})`, fileNameOf(name));
    const actual = t.slice.shape;
    if (actual.length !== shape.length || actual.some((d, i) => d !== shape[i])) {
      throw new LoadError('shape-mismatch', t.file, `shape ${formatShape(actual)} but ${config.source} implies ${formatShape(shape)}`, t.fileName);
    }
    ordered.set(name, t);
  }
  return ordered;
}

/** Converts every planned tensor to f32. The only place tensor memory is allocated. */
export function materializeWeights(plan: ModelPlan, alloc: Allocator = defaultAllocator): ModelWeights {
  const tensors = new Map<string, Float32Array>();
  for (const [name, t] of plan.tensors) {
    const out = alloc(name, t.slice.elements); // [elements] f32, row-major in the canonical shape
    decodeToF32(t.bytes, t.slice, out);
    tensors.set(name, out);
  }
  return { config: plan.config, tensors };
}

export function loadHfModel(files: Map<string, Uint8Array>, alloc: Allocator = defaultAllocator): ModelWeights {
  return materializeWeights(planHfModel(files), alloc);
}

export function loadLlama2c(bytes: Uint8Array, file: string, alloc: Allocator = defaultAllocator): ModelWeights {
  return materializeWeights(planLlama2cModel(bytes, file), alloc);
}
