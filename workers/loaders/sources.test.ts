// Model sources: URL / repo-id resolution, and fetchModelFiles against a real local server in Hugging Face
// layout (progress, cache on a second load, quota fallback, shards, cancel, errors that name the URL).

import { afterEach, describe, expect, it } from 'vitest';
import type { ModelSource } from '../api.ts';
import type { LoadProgressEvent } from '../engine/trace.ts';
import { FallbackModelCache, MemoryModelCache, QUOTA_NOTICE, type ModelCache } from './model-cache.ts';
import { SourceError, fetchModelFiles, resolveSource } from './sources.ts';
import { fixtureBytes, sameBytes, hfLayout, prefixed, startTestServer, type TestServer, type TestServerOptions } from './testing/server.ts';

let server: TestServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

async function serve(options: TestServerOptions): Promise<TestServer> {
  server = await startTestServer(options);
  return server;
}

function thrown(fn: () => unknown): SourceError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SourceError);
    return error as SourceError;
  }
  throw new Error('expected a SourceError');
}

async function rejected(promise: Promise<unknown>): Promise<SourceError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SourceError);
  return error as SourceError;
}

const REPO = 'decode-lab/tiny';
const WEIGHTS = fixtureBytes(200_000, 7);
/** A single-file Hugging Face folder (no generation_config.json: an optional file that is absent). */
const FOLDER = {
  'config.json': '{"architectures":["LlamaForCausalLM"]}',
  'tokenizer.json': '{"model":{}}',
  'tokenizer_config.json': '{}',
  'model.safetensors': WEIGHTS,
};
const SHARD_1 = fixtureBytes(90_000, 1);
const SHARD_2 = fixtureBytes(70_000, 2);
const SHARDED = {
  'config.json': '{}',
  'tokenizer.json': '{}',
  'model.safetensors.index.json': JSON.stringify({
    metadata: { total_size: 160_000 },
    weight_map: { 'a.weight': 'model-00001-of-00002.safetensors', 'b.weight': 'model-00002-of-00002.safetensors', 'c.weight': 'model-00001-of-00002.safetensors' },
  }),
  'model-00001-of-00002.safetensors': SHARD_1,
  'model-00002-of-00002.safetensors': SHARD_2,
};

describe('resolveSource', () => {
  it('maps a bundled id under <baseUrl>/models/<id>/ and rejects bad ids', () => {
    expect(resolveSource({ kind: 'bundled', id: 'tiny-1.0' }, { baseUrl: 'https://lab.example/app/?x=1#y' })).toEqual({
      kind: 'folder',
      label: 'tiny-1.0',
      folderUrl: 'https://lab.example/app/models/tiny-1.0/',
    });
    const bad = thrown(() => resolveSource({ kind: 'bundled', id: '../etc' }, { baseUrl: 'https://lab.example/' }));
    expect(bad.code).toBe('bad-repo-id');
    expect(bad.message).toContain('"../etc"');
  });

  it('maps a Hugging Face repo id to resolve/<revision>/ URLs and rejects bad ids and revisions', () => {
    expect(resolveSource({ kind: 'hf', repo: 'HuggingFaceTB/SmolLM2-135M' })).toMatchObject({
      folderUrl: 'https://huggingface.co/HuggingFaceTB/SmolLM2-135M/resolve/main/',
    });
    expect(resolveSource({ kind: 'hf', repo: 'a/b', revision: 'refs/pr/1' }, { hfBaseUrl: 'http://127.0.0.1:9/' })).toMatchObject({
      folderUrl: 'http://127.0.0.1:9/a/b/resolve/refs%2Fpr%2F1/',
    });
    for (const repo of ['nope', 'a/b/c', '../b', 'a/.b', 'a b/c', '']) {
      const error = thrown(() => resolveSource({ kind: 'hf', repo }));
      expect(error.code).toBe('bad-repo-id');
      expect(error.message).toContain(JSON.stringify(repo));
    }
    expect(thrown(() => resolveSource({ kind: 'hf', repo: 'a/b', revision: 'x/../y' })).code).toBe('bad-repo-id');
  });

  it('reads a folder URL, a .bin URL with tokenizer.bin beside it, or a given tokenizer URL', () => {
    expect(resolveSource({ kind: 'url', url: 'https://cdn.example/m/' })).toMatchObject({ kind: 'folder', folderUrl: 'https://cdn.example/m/' });
    expect(resolveSource({ kind: 'url', url: 'https://cdn.example/m/stories15M.bin?download=1' })).toMatchObject({
      kind: 'llama2c',
      model: { name: 'stories15M.bin', url: 'https://cdn.example/m/stories15M.bin?download=1' },
      tokenizer: { name: 'tokenizer.bin', url: 'https://cdn.example/m/tokenizer.bin' },
    });
    expect(resolveSource({ kind: 'url', url: 'http://localhost:5173/s.bin' }, { tokenizerUrl: 'https://t.example/tok512.bin' })).toMatchObject({
      tokenizer: { name: 'tokenizer.bin', url: 'https://t.example/tok512.bin' },
    });
  });

  it('turns Hugging Face page and blob URLs into the files they mean', () => {
    expect(resolveSource({ kind: 'url', url: 'https://huggingface.co/karpathy/tinyllamas' })).toMatchObject({
      folderUrl: 'https://huggingface.co/karpathy/tinyllamas/resolve/main/',
    });
    expect(resolveSource({ kind: 'url', url: 'https://huggingface.co/a/b/tree/v2/' })).toMatchObject({ folderUrl: 'https://huggingface.co/a/b/resolve/v2/' });
    expect(resolveSource({ kind: 'url', url: 'https://huggingface.co/karpathy/tinyllamas/blob/main/stories15M.bin' })).toMatchObject({
      model: { url: 'https://huggingface.co/karpathy/tinyllamas/resolve/main/stories15M.bin' },
    });
  });

  it('rejects anything but https (http only on localhost), naming the URL', () => {
    const cases: [string, RegExp][] = [
      ['http://example.com/m/', /http:\/\/example\.com\/m\/ must use https/],
      ['ftp://example.com/m/', /ftp:\/\/example\.com\/m\/ must use https/],
      ['file:///etc/passwd.bin', /file:\/\/\/etc\/passwd\.bin must use https/],
      ['javascript:alert(1)', /must use https/],
      ['not a url', /"not a url" is not an absolute URL/],
      ['/models/tiny/', /"\/models\/tiny\/" is not an absolute URL/],
      ['https://u:p@example.com/m/', /credentials/],
      ['https://example.com/m/model.safetensors', /https:\/\/example\.com\/m\/model\.safetensors is neither a folder URL/],
      ['https://example.com/m/tokenizer.bin', /is a tokenizer/],
      ['https://example.com/m/%E0%A4%A.bin', /https:\/\/example\.com\/m\/%E0%A4%A\.bin has a malformed %-escape/],
      ['https://example.com/m/a%2Fb.bin', /"a\/b\.bin" is not a plain file name/],
    ];
    for (const [url, message] of cases) {
      const error = thrown(() => resolveSource({ kind: 'url', url }));
      expect(error.code).toBe('bad-url');
      expect(error.message).toMatch(message);
    }
    expect(resolveSource({ kind: 'url', url: 'http://127.0.0.1:8080/m/' }).kind).toBe('folder');
  });
});

describe('fetchModelFiles over HTTP', () => {
  it('fetches a Hugging Face repo (hf kind) with per-file progress, skipping absent optional files', async () => {
    const s = await serve({ files: hfLayout(REPO, FOLDER), slow: { chunkBytes: 65536, delayMs: 1 } });
    const events: LoadProgressEvent[] = [];
    const files = await fetchModelFiles({ kind: 'hf', repo: REPO }, { hfBaseUrl: s.url, cache: new MemoryModelCache(), onProgress: (e) => events.push(e) });
    expect([...files.keys()]).toEqual(['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors']);
    expect(sameBytes(files.get('model.safetensors'), WEIGHTS)).toBe(true);
    expect(new TextDecoder().decode(files.get('config.json'))).toBe(FOLDER['config.json']);
    const base = `/${REPO}/resolve/main/`;
    expect(s.requests).toEqual(
      ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'model.safetensors'].map((f) => base + f),
    );
    const weights = events.filter((e) => e.file === 'model.safetensors');
    expect(weights.every((e) => e.kind === 'load.progress' && e.phase === 'download' && e.totalBytes === WEIGHTS.byteLength)).toBe(true);
    expect(weights.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < weights.length; i++) expect(weights[i]!.loadedBytes).toBeGreaterThan(weights[i - 1]!.loadedBytes);
    expect(weights.at(-1)!.loadedBytes).toBe(WEIGHTS.byteLength);
    expect(events.some((e) => e.file === 'generation_config.json')).toBe(false);
  });

  it('serves a second load from the cache: the server sees no second request', async () => {
    const s = await serve({ files: hfLayout(REPO, FOLDER) });
    const cache = new MemoryModelCache();
    await fetchModelFiles({ kind: 'hf', repo: REPO }, { hfBaseUrl: s.url, cache });
    const firstRequests = s.requests.length;
    const events: LoadProgressEvent[] = [];
    const files = await fetchModelFiles({ kind: 'hf', repo: REPO }, { hfBaseUrl: s.url, cache, onProgress: (e) => events.push(e) });
    expect(s.requests.length).toBe(firstRequests);
    expect(sameBytes(files.get('model.safetensors'), WEIGHTS)).toBe(true);
    expect(events.map((e) => [e.file, e.phase, e.loadedBytes === e.totalBytes])).toEqual(
      ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors'].map((f) => [f, 'cache', true]),
    );
  });

  it('fetches a sharded folder: model.safetensors 404 → the index and every shard; then cached', async () => {
    const s = await serve({ files: prefixed('/m/', SHARDED) });
    const cache = new MemoryModelCache();
    const files = await fetchModelFiles({ kind: 'url', url: `${s.url}/m/` }, { cache });
    expect(sameBytes(files.get('model-00001-of-00002.safetensors'), SHARD_1)).toBe(true);
    expect(sameBytes(files.get('model-00002-of-00002.safetensors'), SHARD_2)).toBe(true);
    expect(files.has('model.safetensors.index.json')).toBe(true);
    expect(files.has('model.safetensors')).toBe(false);
    expect(s.requests.slice(-4)).toEqual(
      ['model.safetensors', 'model.safetensors.index.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'].map((f) => `/m/${f}`),
    );
    const n = s.requests.length;
    const again = await fetchModelFiles({ kind: 'url', url: `${s.url}/m/` }, { cache });
    expect(s.requests.length).toBe(n);
    expect([...again.keys()]).toEqual([...files.keys()]);
  });

  it('treats an HTML page in place of model.safetensors (a dev server fallback) as absent', async () => {
    const s = await serve({ files: prefixed('/m/', SHARDED), html: ['/m/model.safetensors'] });
    const files = await fetchModelFiles({ kind: 'url', url: `${s.url}/m/` }, { cache: new MemoryModelCache() });
    expect(files.has('model-00002-of-00002.safetensors')).toBe(true);
  });

  it('falls back to memory on a quota error with exactly one notice, and still caches', async () => {
    const s = await serve({ files: hfLayout(REPO, FOLDER) });
    let puts = 0;
    const full: ModelCache = {
      match: async () => null,
      put: async () => {
        puts++;
        throw new DOMException('full', 'QuotaExceededError');
      },
    };
    const notices: string[] = [];
    const cache = new FallbackModelCache(full, (m) => notices.push(m));
    const files = await fetchModelFiles({ kind: 'hf', repo: REPO }, { hfBaseUrl: s.url, cache });
    expect(sameBytes(files.get('model.safetensors'), WEIGHTS)).toBe(true);
    expect(notices).toEqual([QUOTA_NOTICE]);
    expect(puts).toBe(1);
    const n = s.requests.length;
    await fetchModelFiles({ kind: 'hf', repo: REPO }, { hfBaseUrl: s.url, cache });
    expect(s.requests.length).toBe(n);
    expect(notices).toHaveLength(1);
  });

  it('cancels mid-download with "cancelled" and caches nothing partial', async () => {
    const big = fixtureBytes(1 << 20);
    const s = await serve({ files: prefixed('/m/', { ...FOLDER, 'model.safetensors': big }), slow: { chunkBytes: 2048, delayMs: 20, paths: ['/m/model.safetensors'] } });
    const cache = new MemoryModelCache();
    const controller = new AbortController();
    let abortedAt = 0;
    const promise = fetchModelFiles(
      { kind: 'url', url: `${s.url}/m/` },
      {
        cache,
        signal: controller.signal,
        onProgress: (e) => {
          if (e.file === 'model.safetensors' && e.loadedBytes > 0 && abortedAt === 0) {
            abortedAt = Date.now();
            controller.abort();
          }
        },
      },
    );
    const error = await rejected(promise);
    expect(error.code).toBe('cancelled');
    expect(Date.now() - abortedAt).toBeLessThan(500);
    expect(await cache.match(`${s.url}/m/model.safetensors`)).toBeNull();
    expect(cache.size).toBe(3); // the three small files that completed; no manifest
  });

  it('fetches a llama2.c .bin and the tokenizer.bin beside it', async () => {
    const model = fixtureBytes(5000, 3);
    const tok = fixtureBytes(300, 4);
    const s = await serve({ files: { '/ll/stories.bin': model, '/ll/tokenizer.bin': tok } });
    const files = await fetchModelFiles({ kind: 'url', url: `${s.url}/ll/stories.bin` }, { cache: new MemoryModelCache() });
    expect([...files.keys()]).toEqual(['stories.bin', 'tokenizer.bin']);
    expect(sameBytes(files.get('stories.bin'), model)).toBe(true);
    expect(sameBytes(files.get('tokenizer.bin'), tok)).toBe(true);
  });

  it('fetches a bundled model from <baseUrl>/models/<id>/', async () => {
    const s = await serve({ files: prefixed('/models/tiny/', FOLDER) });
    const files = await fetchModelFiles({ kind: 'bundled', id: 'tiny' }, { baseUrl: `${s.url}/`, cache: new MemoryModelCache() });
    expect(sameBytes(files.get('model.safetensors'), WEIGHTS)).toBe(true);
    expect(s.requests[0]).toBe('/models/tiny/config.json');
  });

  it('names the URL in HTTP errors and missing files', async () => {
    const s = await serve({ files: prefixed('/m/', FOLDER), status: { '/m/tokenizer.json': 500 } });
    const boom = await rejected(fetchModelFiles({ kind: 'url', url: `${s.url}/m/` }, { cache: new MemoryModelCache() }));
    expect(boom.code).toBe('http-error');
    expect(boom.status).toBe(500);
    expect(boom.message).toContain(`${s.url}/m/tokenizer.json`);

    const noConfig = await rejected(fetchModelFiles({ kind: 'url', url: `${s.url}/empty/` }, { cache: new MemoryModelCache() }));
    expect(noConfig.code).toBe('not-found');
    expect(noConfig.message).toContain(`${s.url}/empty/config.json`);

    s.options = { files: prefixed('/w/', { 'config.json': '{}', 'tokenizer.json': '{}' }) };
    const noWeights = await rejected(fetchModelFiles({ kind: 'url', url: `${s.url}/w/` }, { cache: new MemoryModelCache() }));
    expect(noWeights.code).toBe('not-found');
    expect(noWeights.message).toContain(`${s.url}/w/`);
    expect(noWeights.message).toContain('model.safetensors.index.json');
  });
});

describe('fetchModelFiles with local files', () => {
  it('maps names to bytes, reading Blobs (Files) too', async () => {
    const source: ModelSource = { kind: 'files', files: [{ name: 'stories260K.bin', data: new Uint8Array([1, 2]).buffer }] };
    const blob = new Blob([new Uint8Array([3, 4, 5])]) as unknown as ArrayBuffer; // a File from the picker
    source.files.push({ name: 'tok512.bin', data: blob });
    const files = await fetchModelFiles(source);
    expect(files.get('stories260K.bin')).toEqual(new Uint8Array([1, 2]));
    expect(files.get('tok512.bin')).toEqual(new Uint8Array([3, 4, 5]));
  });

  it('rejects paths, dot names and duplicates by name', async () => {
    for (const names of [['../model.bin'], ['a/b.bin'], ['..'], [''], ['x.bin', 'x.bin']]) {
      const files = names.map((name) => ({ name, data: new ArrayBuffer(1) }));
      const error = await rejected(fetchModelFiles({ kind: 'files', files }));
      expect(error.code).toBe('bad-file-name');
      expect(error.message).toContain(JSON.stringify(names.at(-1)));
    }
  });
});
