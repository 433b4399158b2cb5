// Model sources: turns a `ModelSource` (bundled id, URL, Hugging Face repo, local files) into a plan of files
// and fetches them (streamed, cancellable, cached) into a Map of file name → bytes. Runs in the Worker and in
// Node; no DOM, no GPU, no parsing of weights (only the shard index, to learn the shard names).

import type { ModelSource } from '../api.ts';
import type { LoadProgressEvent } from '../engine/trace.ts';
import { LoadError } from './errors.ts';
import { SourceError, fetchWithProgress } from './fetch-progress.ts';
import { createModelCache, type ModelCache } from './model-cache.ts';
import { INDEX_FILE, parseShardIndex } from './sharded.ts';

export { SourceError, type SourceErrorCode } from './fetch-progress.ts';

export const HF_BASE_URL = 'https://huggingface.co';
const BUNDLED_ID = /^[a-z0-9][a-z0-9._-]*$/;
const HF_REPO_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** Branch, tag or commit; "refs/pr/1" style names too, but no empty or dot-dot segments. */
const HF_REVISION = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/;
/** A cache-only key per folder: the list of files a complete load fetched, so a second load needs no network. */
const MANIFEST_FILE = '.decode-lab-files.json';

/** What to fetch. Folder plans follow the Hugging Face layout; llama2c plans are a .bin and its tokenizer. */
export type SourcePlan =
  | { kind: 'folder'; label: string; folderUrl: string }
  | { kind: 'llama2c'; label: string; model: PlannedFile; tokenizer: PlannedFile }
  | { kind: 'files'; label: string };

export interface PlannedFile {
  name: string; // key in the result map
  url: string;
}

export interface ResolveOptions {
  /** The app's base URL; bundled models live under `<baseUrl>/models/<id>/`. */
  baseUrl?: string;
  /** The Hugging Face host (tests point it at a local server). */
  hfBaseUrl?: string;
  /** For a llama2.c .bin URL: its tokenizer, when it is not `tokenizer.bin` beside it. */
  tokenizerUrl?: string;
}

export interface FetchModelFilesOptions extends ResolveOptions {
  signal?: AbortSignal;
  /** Where files are kept between loads; by default Cache Storage when present, else memory. */
  cache?: ModelCache;
  onProgress?: (event: LoadProgressEvent) => void;
  /** Something the user should know that is not an error (storage full: files kept in memory). */
  onNotice?: (message: string) => void;
}

/** Resolves and validates a source without touching the network. */
export function resolveSource(source: ModelSource, options: ResolveOptions = {}): SourcePlan {
  switch (source.kind) {
    case 'bundled': {
      if (!BUNDLED_ID.test(source.id)) {
        throw new SourceError('bad-repo-id', `bundled model id ${JSON.stringify(source.id)} must match ${BUNDLED_ID}`, source.id);
      }
      if (options.baseUrl === undefined) {
        throw new SourceError('bad-url', `bundled model "${source.id}" needs the app's base URL`, source.id);
      }
      const base = parseUrl(options.baseUrl, false);
      base.search = '';
      base.hash = '';
      return { kind: 'folder', label: source.id, folderUrl: `${base.href.replace(/\/+$/, '')}/models/${source.id}/` };
    }
    case 'hf':
      return hfPlan(source.repo, source.revision ?? 'main', options);
    case 'url':
      return urlPlan(source.url, options);
    case 'files':
      return { kind: 'files', label: source.files.map((f) => f.name).join(', ') };
  }
}

function hfPlan(repo: string, revision: string, options: ResolveOptions): SourcePlan {
  if (!HF_REPO_ID.test(repo)) {
    throw new SourceError('bad-repo-id', `Hugging Face repo id ${JSON.stringify(repo)} must look like "owner/name"`, repo);
  }
  if (!HF_REVISION.test(revision)) {
    throw new SourceError('bad-repo-id', `revision ${JSON.stringify(revision)} of ${repo} is not a branch, tag or commit`, revision);
  }
  const host = parseUrl(options.hfBaseUrl ?? HF_BASE_URL, true).href.replace(/\/+$/, '');
  const label = revision === 'main' ? repo : `${repo}@${revision}`;
  return { kind: 'folder', label, folderUrl: `${host}/${repo}/resolve/${encodeURIComponent(revision)}/` };
}

function urlPlan(raw: string, options: ResolveOptions): SourcePlan {
  const url = parseUrl(raw, true);
  // A Hugging Face page URL (https://huggingface.co/owner/name, …/tree/rev) means the repo.
  if (url.hostname === 'huggingface.co' || url.hostname === 'hf.co') {
    const page = /^\/([^/]+\/[^/]+?)(?:\/tree\/([^/]+))?\/?$/.exec(url.pathname);
    if (page !== null && !/^(datasets|spaces|models)\//.test(page[1]!)) {
      return hfPlan(page[1]!, page[2] === undefined ? 'main' : decodePart(page[2], raw), options);
    }
    url.pathname = url.pathname.replace(/^(\/[^/]+\/[^/]+)\/blob\//, '$1/resolve/'); // "blob" pages are HTML
  }
  if (url.pathname.endsWith('/')) return { kind: 'folder', label: url.href, folderUrl: url.href };
  const name = decodePart(url.pathname.slice(url.pathname.lastIndexOf('/') + 1), raw);
  if (!name.toLowerCase().endsWith('.bin')) {
    throw new SourceError('bad-url', `${url.href} is neither a folder URL (ending in "/") nor a llama2.c .bin file`, raw);
  }
  if (name === 'tokenizer.bin') {
    throw new SourceError('bad-url', `${url.href} is a tokenizer, not a model checkpoint`, raw);
  }
  checkFileName(name, raw, 'bad-url');
  const tokenizerUrl = options.tokenizerUrl === undefined ? new URL('tokenizer.bin', url).href : parseUrl(options.tokenizerUrl, true).href;
  return {
    kind: 'llama2c',
    label: name,
    model: { name, url: url.href },
    tokenizer: { name: 'tokenizer.bin', url: tokenizerUrl },
  };
}

function decodePart(part: string, raw: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new SourceError('bad-url', `${raw} has a malformed %-escape`, raw);
  }
}

/** Parses an absolute URL. `strict`: https only, plus http on localhost/127.0.0.1/[::1] for tests and dev. */
function parseUrl(raw: string, strict: boolean): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new SourceError('bad-url', `${JSON.stringify(raw)} is not an absolute URL`, raw);
  }
  const local = url.hostname === 'localhost' || url.hostname === '127.0.0.1' || url.hostname === '[::1]';
  const allowed = url.protocol === 'https:' || (url.protocol === 'http:' && (local || !strict));
  if (!allowed) {
    throw new SourceError('bad-url', `${url.href} must use https: (http: only for localhost)`, raw);
  }
  if (url.username !== '' || url.password !== '') {
    throw new SourceError('bad-url', `${url.protocol}//…@${url.host}: URLs with credentials are not allowed`, raw);
  }
  return url;
}

/** A plain file name: no path separators, not "." or "..", no control characters. */
export function isPlainFileName(name: string): boolean {
  // eslint-disable-next-line no-control-regex
  return name.length > 0 && name.length <= 255 && name !== '.' && name !== '..' && !/[/\\\u0000-\u001f]/.test(name);
}

function checkFileName(name: string, target: string, code: 'bad-file-name' | 'bad-url' = 'bad-file-name'): void {
  if (!isPlainFileName(name)) {
    throw new SourceError(code, `${JSON.stringify(name)} is not a plain file name`, target);
  }
}

/** Fetches every file of a source: Map of file name → bytes. Throws SourceError (or LoadError for a bad index). */
export async function fetchModelFiles(
  source: ModelSource,
  options: FetchModelFilesOptions = {},
): Promise<Map<string, Uint8Array>> {
  if (source.kind === 'files') return await localFiles(source.files);
  const plan = resolveSource(source, options);
  const fetcher = new FileFetcher(options.cache ?? createModelCache(options.onNotice), options);
  switch (plan.kind) {
    case 'folder':
      return await fetchFolder(plan.folderUrl, fetcher);
    case 'llama2c': {
      const out = new Map<string, Uint8Array>();
      for (const file of [plan.model, plan.tokenizer]) out.set(file.name, await fetcher.get(file.name, file.url));
      return out;
    }
    case 'files':
      throw new Error('unreachable: local files are handled above');
  }
}

async function localFiles(files: { name: string; data: ArrayBuffer | Blob }[]): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const { name, data } of files) {
    checkFileName(name, name);
    if (out.has(name)) throw new SourceError('bad-file-name', `two local files are named ${JSON.stringify(name)}`, name);
    // A File (Blob) handed to the Worker is read here, so its bytes never cross the UI thread.
    out.set(name, new Uint8Array(data instanceof ArrayBuffer ? data : await data.arrayBuffer()));
  }
  return out;
}

/** A Hugging Face layout folder: configs, tokenizer, then one safetensors file or an index and its shards. */
async function fetchFolder(folderUrl: string, fetcher: FileFetcher): Promise<Map<string, Uint8Array>> {
  const urlOf = (name: string): string => new URL(encodeURIComponent(name), folderUrl).href;
  const manifestUrl = urlOf(MANIFEST_FILE);
  const fromCache = await fetcher.allCached(manifestUrl, urlOf);
  if (fromCache !== null) return fromCache;

  const out = new Map<string, Uint8Array>();
  const want = async (name: string, optional: boolean): Promise<boolean> => {
    const bytes = await fetcher.get(name, urlOf(name), optional);
    if (bytes !== null) out.set(name, bytes);
    return bytes !== null;
  };
  await want('config.json', false);
  await want('tokenizer.json', false);
  await want('tokenizer_config.json', true);
  await want('generation_config.json', true);
  if (!(await want('model.safetensors', true))) {
    if (!(await want(INDEX_FILE, true))) {
      const url = urlOf('model.safetensors');
      throw new SourceError('not-found', `no model.safetensors (nor ${INDEX_FILE}) at ${folderUrl}`, url, 404);
    }
    const { shards } = parseShardIndex(parseJson(out.get(INDEX_FILE)!, INDEX_FILE), INDEX_FILE);
    for (const shard of shards) {
      checkFileName(shard, urlOf(INDEX_FILE));
      await want(shard, false);
    }
  }
  await fetcher.cache.put(manifestUrl, new TextEncoder().encode(JSON.stringify([...out.keys()])).buffer);
  return out;
}

function parseJson(bytes: Uint8Array, file: string): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    throw new LoadError('not-json', file, `not valid UTF-8 JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** One file at a time: from the cache when there, else downloaded with progress and then cached. */
class FileFetcher {
  constructor(
    readonly cache: ModelCache,
    private readonly options: FetchModelFilesOptions,
  ) {}

  async get(name: string, url: string): Promise<Uint8Array>;
  async get(name: string, url: string, optional: boolean): Promise<Uint8Array | null>;
  async get(name: string, url: string, optional = false): Promise<Uint8Array | null> {
    this.throwIfCancelled(url);
    const cached = await this.cache.match(url);
    if (cached !== null) {
      this.progress(name, cached.byteLength, cached.byteLength, 'cache');
      return new Uint8Array(cached);
    }
    let data: ArrayBuffer;
    try {
      data = await fetchWithProgress(url, {
        signal: this.options.signal,
        onProgress: (loaded, total) => this.progress(name, loaded, total, 'download'),
      });
    } catch (error) {
      if (optional && error instanceof SourceError && error.code === 'not-found') return null;
      throw error;
    }
    this.throwIfCancelled(url);
    await this.cache.put(url, data);
    return new Uint8Array(data);
  }

  /** Every file a previous complete load of this folder fetched, all from the cache; null on any miss. */
  async allCached(manifestUrl: string, urlOf: (name: string) => string): Promise<Map<string, Uint8Array> | null> {
    const manifest = await this.cache.match(manifestUrl);
    if (manifest === null) return null;
    let names: unknown;
    try {
      names = JSON.parse(new TextDecoder().decode(manifest));
    } catch {
      return null;
    }
    if (!Array.isArray(names) || !names.every((n) => typeof n === 'string' && isPlainFileName(n))) return null;
    const found = new Map<string, ArrayBuffer>();
    for (const name of names as string[]) {
      const data = await this.cache.match(urlOf(name));
      if (data === null) return null;
      found.set(name, data);
    }
    const out = new Map<string, Uint8Array>();
    for (const [name, data] of found) {
      this.progress(name, data.byteLength, data.byteLength, 'cache');
      out.set(name, new Uint8Array(data));
    }
    return out;
  }

  private progress(file: string, loadedBytes: number, totalBytes: number | null, phase: 'download' | 'cache'): void {
    this.options.onProgress?.({ kind: 'load.progress', file, loadedBytes, totalBytes, phase });
  }

  private throwIfCancelled(url: string): void {
    if (this.options.signal?.aborted) throw new SourceError('cancelled', `loading ${url} was cancelled`, url);
  }
}
