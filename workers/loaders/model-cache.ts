// Where downloaded model files are kept between loads: Cache Storage when the runtime has it (browsers,
// Workers), memory otherwise, and memory after Cache Storage refuses a file (quota), with one notice.
// Keyed by the file's URL. Imports nothing: no DOM beyond the Cache Storage API, no engine.

/** A store of whole files by URL. `match` gives null on a miss. */
export interface ModelCache {
  match(url: string): Promise<ArrayBuffer | null>;
  put(url: string, data: ArrayBuffer): Promise<void>;
}

/** One name for the app's Cache Storage bucket; bump the version when the stored layout changes. */
export const MODEL_CACHE_NAME = 'decode-lab-models-v1';

/** Files held in this process only: lost on reload. */
export class MemoryModelCache implements ModelCache {
  // Each entry remembers its length: a buffer transferred to another thread since (detached, length 0)
  // reads as a miss instead of an empty file.
  private readonly entries = new Map<string, { data: ArrayBuffer; byteLength: number }>();

  async match(url: string): Promise<ArrayBuffer | null> {
    const entry = this.entries.get(url);
    if (entry === undefined || entry.data.byteLength !== entry.byteLength) return null;
    return entry.data;
  }

  async put(url: string, data: ArrayBuffer): Promise<void> {
    this.entries.set(url, { data, byteLength: data.byteLength });
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }
}

/** Files in the browser's Cache Storage: kept across reloads, subject to the origin's quota. */
export class CacheStorageModelCache implements ModelCache {
  private opened: Promise<Cache> | null = null;

  constructor(
    private readonly storage: CacheStorage,
    readonly cacheName: string = MODEL_CACHE_NAME,
  ) {}

  async match(url: string): Promise<ArrayBuffer | null> {
    const response = await (await this.cache()).match(url);
    return response === undefined ? null : await response.arrayBuffer();
  }

  async put(url: string, data: ArrayBuffer): Promise<void> {
    const headers = { 'content-type': 'application/octet-stream', 'content-length': String(data.byteLength) };
    await (await this.cache()).put(url, new Response(data, { status: 200, headers }));
  }

  private cache(): Promise<Cache> {
    this.opened ??= this.storage.open(this.cacheName);
    return this.opened;
  }
}

/** True for the error a storage API throws when the origin's quota is used up. */
export function isQuotaError(error: unknown): boolean {
  const name = typeof error === 'object' && error !== null && 'name' in error ? error.name : null;
  return name === 'QuotaExceededError' || name === 'NS_ERROR_DOM_QUOTA_REACHED'; // the latter: old Firefox
}

const IN_MEMORY = 'model files are kept in memory for this session only and will be downloaded again next time.';
export const QUOTA_NOTICE = `Browser storage is full: ${IN_MEMORY}`;

/**
 * Cache Storage first; when it refuses a file (quota, or any other storage failure) that file and every later
 * one go to memory, and `onNotice` is called once. Reads that fail count as misses: caching is best effort.
 */
export class FallbackModelCache implements ModelCache {
  readonly memory = new MemoryModelCache();
  private noticed = false;

  constructor(
    private readonly primary: ModelCache | null,
    private readonly onNotice: (message: string) => void = () => undefined,
  ) {}

  /** True once files are being kept in memory (no Cache Storage, or it failed). */
  get inMemory(): boolean {
    return this.primary === null || this.noticed;
  }

  async match(url: string): Promise<ArrayBuffer | null> {
    const held = await this.memory.match(url);
    if (held !== null || this.primary === null) return held;
    try {
      return await this.primary.match(url);
    } catch {
      return null;
    }
  }

  async put(url: string, data: ArrayBuffer): Promise<void> {
    if (this.primary !== null && !this.noticed) {
      try {
        await this.primary.put(url, data);
        return;
      } catch (error) {
        this.noticed = true;
        const why = error instanceof Error ? error.message : String(error);
        this.onNotice(isQuotaError(error) ? QUOTA_NOTICE : `Browser storage failed (${why}): ${IN_MEMORY}`);
      }
    }
    await this.memory.put(url, data);
  }
}

/** The cache a load uses by default: Cache Storage when `globalThis.caches` exists, else memory. */
export function createModelCache(
  onNotice?: (message: string) => void,
  storage: CacheStorage | undefined = (globalThis as { caches?: CacheStorage }).caches,
): FallbackModelCache {
  return new FallbackModelCache(storage === undefined ? null : new CacheStorageModelCache(storage), onNotice);
}
