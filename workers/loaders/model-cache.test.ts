// Model caches: memory, Cache Storage (a small in-test fake of the API), and the quota fallback to memory.

import { describe, expect, it } from 'vitest';
import {
  CacheStorageModelCache,
  FallbackModelCache,
  MODEL_CACHE_NAME,
  MemoryModelCache,
  QUOTA_NOTICE,
  createModelCache,
  isQuotaError,
} from './model-cache.ts';

/** A CacheStorage over Maps, with a switch that makes every put fail with the given error. */
function fakeCacheStorage(failPut?: () => Error): CacheStorage & { opened: string[]; puts: number } {
  const buckets = new Map<string, Map<string, ArrayBuffer>>();
  const storage = {
    opened: [] as string[],
    puts: 0,
    async open(name: string): Promise<Cache> {
      storage.opened.push(name);
      let bucket = buckets.get(name);
      if (bucket === undefined) buckets.set(name, (bucket = new Map()));
      const cache = {
        async match(url: string): Promise<Response | undefined> {
          const data = bucket.get(url);
          return data === undefined ? undefined : new Response(data.slice(0));
        },
        async put(url: string, response: Response): Promise<void> {
          storage.puts++;
          if (failPut) throw failPut();
          bucket.set(url, await response.arrayBuffer());
        },
      };
      return cache as unknown as Cache;
    },
  };
  return storage as unknown as CacheStorage & { opened: string[]; puts: number };
}

const quota = (): Error => new DOMException('The quota has been exceeded.', 'QuotaExceededError');
const bytes = (...values: number[]): ArrayBuffer => new Uint8Array(values).buffer;

describe('MemoryModelCache', () => {
  it('returns what was put and null on a miss', async () => {
    const cache = new MemoryModelCache();
    await cache.put('https://x/a', bytes(1, 2, 3));
    expect(new Uint8Array((await cache.match('https://x/a'))!)).toEqual(new Uint8Array([1, 2, 3]));
    expect(await cache.match('https://x/b')).toBeNull();
  });

  it('treats a buffer transferred away (detached) as a miss, not as an empty file', async () => {
    const cache = new MemoryModelCache();
    const data = bytes(1, 2, 3);
    await cache.put('https://x/a', data);
    structuredClone(data, { transfer: [data] });
    expect(data.byteLength).toBe(0);
    expect(await cache.match('https://x/a')).toBeNull();
  });
});

describe('CacheStorageModelCache', () => {
  it(`stores whole files under their URL in the "${MODEL_CACHE_NAME}" bucket`, async () => {
    const storage = fakeCacheStorage();
    const cache = new CacheStorageModelCache(storage);
    expect(await cache.match('https://x/model.safetensors')).toBeNull();
    await cache.put('https://x/model.safetensors', bytes(9, 8, 7));
    expect(new Uint8Array((await cache.match('https://x/model.safetensors'))!)).toEqual(new Uint8Array([9, 8, 7]));
    expect(new Set(storage.opened)).toEqual(new Set([MODEL_CACHE_NAME]));
  });
});

describe('FallbackModelCache', () => {
  it('moves to memory on a quota error and gives exactly one notice', async () => {
    const storage = fakeCacheStorage(quota);
    const notices: string[] = [];
    const cache = new FallbackModelCache(new CacheStorageModelCache(storage), (m) => notices.push(m));
    expect(cache.inMemory).toBe(false);
    await cache.put('https://x/a', bytes(1));
    await cache.put('https://x/b', bytes(2));
    await cache.put('https://x/c', bytes(3));
    expect(notices).toEqual([QUOTA_NOTICE]);
    expect(cache.inMemory).toBe(true);
    expect(storage.puts).toBe(1); // after the refusal, storage is not asked again
    expect(new Uint8Array((await cache.match('https://x/a'))!)).toEqual(new Uint8Array([1]));
    expect(new Uint8Array((await cache.match('https://x/c'))!)).toEqual(new Uint8Array([3]));
  });

  it('also falls back on another storage failure, saying what failed', async () => {
    const notices: string[] = [];
    const cache = new FallbackModelCache(
      new CacheStorageModelCache(fakeCacheStorage(() => new Error('disk on fire'))),
      (m) => notices.push(m),
    );
    await cache.put('https://x/a', bytes(1));
    expect(notices).toHaveLength(1);
    expect(notices[0]).toContain('disk on fire');
    expect(await cache.match('https://x/a')).not.toBeNull();
  });

  it('uses Cache Storage when it works and gives no notice', async () => {
    const storage = fakeCacheStorage();
    const notices: string[] = [];
    const cache = createModelCache((m) => notices.push(m), storage);
    await cache.put('https://x/a', bytes(5));
    expect(cache.memory.size).toBe(0);
    expect(new Uint8Array((await new CacheStorageModelCache(storage).match('https://x/a'))!)).toEqual(new Uint8Array([5]));
    expect(notices).toEqual([]);
  });

  it('is memory-only without Cache Storage (Node)', async () => {
    const cache = createModelCache(undefined, undefined);
    expect(cache.inMemory).toBe(true);
    await cache.put('https://x/a', bytes(4));
    expect(cache.memory.size).toBe(1);
  });
});

describe('isQuotaError', () => {
  it('recognises the quota DOMException by name only', () => {
    expect(isQuotaError(quota())).toBe(true);
    expect(isQuotaError(new DOMException('x', 'NotFoundError'))).toBe(false);
    expect(isQuotaError(new Error('QuotaExceededError'))).toBe(false);
    expect(isQuotaError(null)).toBe(false);
  });
});
