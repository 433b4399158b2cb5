// Loading a model from any source: fetch its files (worker-side, with progress and cache), recognise the
// format (Hugging Face folder or llama2.c checkpoint), validate everything on the CPU, and only then release
// the previous model and upload the new one. A bad file therefore loses nothing the user had.

import type { GpuContext } from '../../gpu/device.ts';
import type { KvOptions, ModelInfo, ModelSource } from '../api.ts';
import { LoadError } from '../loaders/errors.ts';
import { loadHfModel, loadLlama2c } from '../loaders/load-weights.ts';
import type { ModelCache } from '../loaders/model-cache.ts';
import { fetchModelFiles } from '../loaders/sources.ts';
import type { ModelWeights } from '../model/config.ts';
import { parameterCount } from '../model/gpu-weights.ts';
import { LlamaModel } from '../model/llama.ts';
import { kvBytesPerToken } from '../model/activations.ts';
import { BlockManager } from '../kv/block-manager.ts';
import { loadHfTokenizer } from '../tokenizer/hf.ts';
import { loadLlama2cTokenizer } from '../tokenizer/llama2c.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import type { LoadProgressEvent } from './trace.ts';

export interface LoadOptions {
  /** Base URL that bundled models live under (`<baseUrl>/models/<id>/`); defaults to the page's location. */
  baseUrl?: string;
  /** Hugging Face host, overridable for tests. */
  hfBaseUrl?: string;
  cache?: ModelCache;
  signal?: AbortSignal;
  onProgress?: (e: LoadProgressEvent) => void;
  onNotice?: (message: string) => void;
  /** Called after validation, before upload: the engine releases the previous model here. */
  replacing?: () => void;
  /** Cap on the KV cache's context (defaults to the model's). */
  maxSeqLen?: number;
  kv?: KvOptions;
}

/**
 * Default paged pool: room for four full-length sequences (several served requests at once, the rest of the
 * pool keeping cached prefixes), capped at POOL_MAX_BYTES of KV — but never less than one full sequence.
 */
const POOL_SEQUENCES = 4;
const POOL_MAX_BYTES = 256 * 1024 * 1024;
/** Sequences one batched pass can carry (the serving loop's largest batch). */
export const MAX_BATCH_SEQS = 8;

export interface LoadedModel {
  model: LlamaModel;
  /** The paged pool's block manager (null with a contiguous cache). */
  blocks: BlockManager | null;
  tokenizer: Tokenizer;
  info: ModelInfo;
  ms: number;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

function parseJsonFile(files: Map<string, Uint8Array>, name: string): unknown {
  const bytes = files.get(name);
  if (!bytes) throw new LoadError('missing-file', name, `${name} is missing`);
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch (err) {
    throw new LoadError('not-json', name, `not valid UTF-8 JSON: ${(err as Error).message}`);
  }
}

/** What the UI and the CLI call the model: its bundled id, repo, URL's last segment or folder name. */
export function modelDisplayName(source: ModelSource, fallback: string): string {
  switch (source.kind) {
    case 'bundled':
      return source.id;
    case 'hf':
      return source.repo;
    case 'url':
      return decodeURIComponent(new URL(source.url).pathname.split('/').filter(Boolean).pop() ?? fallback).replace(/\.bin$/, '');
    case 'files':
      return source.name ?? fallback;
  }
}

/** Recognises the files' format and parses weights and tokenizer on the CPU, validating everything. */
export async function parseModelFiles(files: Map<string, Uint8Array>): Promise<{ weights: ModelWeights; tokenizer: Tokenizer; name: string }> {
  if (files.has('config.json')) {
    const weights = loadHfModel(files);
    const tokenizer = await loadHfTokenizer(parseJsonFile(files, 'tokenizer.json'), files.has('tokenizer_config.json') ? parseJsonFile(files, 'tokenizer_config.json') : {});
    return { weights, tokenizer, name: 'local model' };
  }
  const bins = [...files.keys()].filter((n) => n.endsWith('.bin'));
  const tokName = bins.find((n) => /tok/i.test(n));
  const modelName = bins.find((n) => n !== tokName);
  if (!modelName) throw new LoadError('missing-file', [...files.keys()].join(', ') || '(no files)', 'no model file: expected config.json + model.safetensors, or a llama2.c .bin checkpoint');
  if (!tokName) throw new LoadError('missing-file', modelName, 'a llama2.c checkpoint needs its tokenizer .bin (a file with "tok" in its name, or --tokenizer)', 'tokenizer');
  const weights = loadLlama2c(files.get(modelName)!, modelName);
  const tokenizer = loadLlama2cTokenizer(files.get(tokName)!, weights.config.vocabSize, tokName);
  return { weights, tokenizer, name: modelName.replace(/\.bin$/, '') };
}

export async function loadModel(ctx: GpuContext, source: ModelSource, options: LoadOptions): Promise<LoadedModel> {
  const t0 = performance.now();
  const files = await fetchModelFiles(source, {
    baseUrl: options.baseUrl ?? (globalThis as { location?: { href: string } }).location?.href ?? 'http://localhost/',
    ...(options.hfBaseUrl ? { hfBaseUrl: options.hfBaseUrl } : {}),
    ...(options.cache ? { cache: options.cache } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    onProgress: (e) => options.onProgress?.(e),
    onNotice: (m) => options.onNotice?.(m),
  });
  const totalBytes = [...files.values()].reduce((s, b) => s + b.byteLength, 0);
  options.onProgress?.({ kind: 'load.progress', file: 'model', loadedBytes: 0, totalBytes, phase: 'parse' });
  const parsed = await parseModelFiles(files);
  const { weights, tokenizer } = parsed;
  const name = modelDisplayName(source, parsed.name);
  options.onProgress?.({ kind: 'load.progress', file: 'model', loadedBytes: totalBytes, totalBytes, phase: 'parse' });
  options.signal?.throwIfAborted();
  const maxSeqLen = Math.min(options.maxSeqLen ?? weights.config.maxSeqLen, weights.config.maxSeqLen);
  const blockSize = options.kv?.blockSize ?? 16;
  const paged = options.kv?.mode !== 'contiguous';
  const blockBytes = kvBytesPerToken(weights.config) * blockSize;
  const blocksPerSeq = Math.ceil(maxSeqLen / blockSize);
  const nBlocks = Math.max(blocksPerSeq, Math.min(POOL_SEQUENCES * blocksPerSeq, Math.floor(POOL_MAX_BYTES / blockBytes)));
  // Made before any GPU allocation: its constructor validates blockSize and nBlocks.
  const blocks = paged ? new BlockManager({ nBlocks, blockSize, checked: options.kv?.checked ?? false }) : null;
  options.replacing?.();
  const model = await LlamaModel.create(ctx, weights, {
    maxSeqLen,
    kv: paged ? { mode: 'paged', blockSize, nBlocks, maxSeqs: MAX_BATCH_SEQS } : { mode: 'contiguous' },
    onUploadProgress: (p) => options.onProgress?.({ kind: 'load.progress', file: name, loadedBytes: p.loadedBytes, totalBytes: p.totalBytes, phase: 'upload' }),
  });
  const parameters = parameterCount(weights);
  return { model, blocks, tokenizer, info: { name, parameters, weightBytes: parameters * 4, config: weights.config }, ms: performance.now() - t0 };
}
