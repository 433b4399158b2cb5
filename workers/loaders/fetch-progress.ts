// Streaming download of one file with byte progress and cancellation, plus `SourceError`, the typed error of
// every model source. Runs in a Web Worker and in Node 20 (global fetch). Imports nothing: no DOM, no engine.

export type SourceErrorCode =
  | 'bad-url' // not an absolute https URL (http only for localhost), or not a folder / .bin URL
  | 'bad-repo-id' // a Hugging Face repo id or revision that does not match the allowed pattern
  | 'bad-file-name' // a file name that is not a plain name (a path, '..', a duplicate)
  | 'http-error' // the server answered with an error status (other than 404/410)
  | 'not-found' // 404/410, or an HTML page where a model file was expected
  | 'network' // the request failed or the body ended early
  | 'cancelled'; // the caller's AbortSignal fired

export class SourceError extends Error {
  override readonly name = 'SourceError';
  constructor(
    readonly code: SourceErrorCode,
    message: string,
    /** The URL or value the error is about. */
    readonly target: string,
    /** The HTTP status, for 'http-error' and 'not-found' answers. */
    readonly status: number | null = null,
  ) {
    super(message);
  }
}

/** Progress callbacks fire at most every PROGRESS_BYTES of body or PROGRESS_MS of time, and once at the end. */
export const PROGRESS_BYTES = 64 * 1024;
export const PROGRESS_MS = 50;

export interface FetchProgressOptions {
  signal?: AbortSignal;
  /** `total` is the Content-Length, or null when the server sent none (or sent a compressed length). */
  onProgress?: (loaded: number, total: number | null) => void;
}

/** Downloads `url` into an ArrayBuffer, streaming the body. Throws SourceError on every failure. */
export async function fetchWithProgress(url: string, options: FetchProgressOptions = {}): Promise<ArrayBuffer> {
  const { signal, onProgress } = options;
  throwIfCancelled(signal, url);
  let response: Response;
  try {
    response = await fetch(url, { signal, credentials: 'omit' });
  } catch (cause) {
    // In a browser a CORS refusal looks exactly like a network failure ("Failed to fetch").
    throw failure(cause, signal, url, `could not reach ${url} (network error, or the server refused CORS)`);
  }
  checkResponse(response, url);

  const total = declaredLength(response);
  const body = response.body;
  if (body === null) {
    // A bodiless answer (some fetch polyfills): nothing to stream.
    const data = await readWhole(response, signal, url);
    onProgress?.(data.byteLength, total ?? data.byteLength);
    return data;
  }

  const reader = body.getReader();
  const onAbort = (): void => void reader.cancel().catch(() => undefined);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await readStream(reader, total, url, signal, onProgress);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

async function readStream(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  total: number | null,
  url: string,
  signal: AbortSignal | undefined,
  onProgress: FetchProgressOptions['onProgress'],
): Promise<ArrayBuffer> {
  // Chunks are kept as they arrive and joined once at the end, so a lying Content-Length never makes us
  // allocate more than the bytes that really came.
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  let lastBytes = 0;
  let lastTime = Date.now();
  onProgress?.(0, total);
  for (;;) {
    let step: ReadableStreamReadResult<Uint8Array>;
    try {
      step = await reader.read();
    } catch (cause) {
      throw failure(cause, signal, url, `download of ${url} failed after ${loaded} bytes`);
    }
    throwIfCancelled(signal, url); // a read that raced the abort still counts as cancelled
    if (step.done) break;
    chunks.push(step.value);
    loaded += step.value.byteLength;
    if (total !== null && loaded > total) total = null; // the length lied: report it as unknown
    const now = Date.now();
    if (loaded - lastBytes >= PROGRESS_BYTES || now - lastTime >= PROGRESS_MS) {
      onProgress?.(loaded, total);
      lastBytes = loaded;
      lastTime = now;
    }
  }
  if (total !== null && loaded < total) {
    throw new SourceError('network', `download of ${url} ended after ${loaded} of ${total} bytes`, url);
  }
  if (lastBytes !== loaded) onProgress?.(loaded, total);
  return join(chunks, loaded);
}

/** Maps an HTTP answer to SourceError: 404/410 and HTML pages are 'not-found', other errors 'http-error'. */
function checkResponse(response: Response, url: string): void {
  const status = response.status;
  if (status === 404 || status === 410) {
    throw new SourceError('not-found', `HTTP ${status}: nothing at ${url}`, url, status);
  }
  if (!response.ok) {
    const hint = status === 401 || status === 403 ? ' (the repository may be gated or private)' : '';
    const text = response.statusText ? ` ${response.statusText}` : '';
    throw new SourceError('http-error', `HTTP ${status}${text} for ${url}${hint}`, url, status);
  }
  // Dev servers and captive portals answer unknown paths with an HTML page and status 200.
  const type = response.headers.get('content-type') ?? '';
  if (type.toLowerCase().startsWith('text/html')) {
    throw new SourceError('not-found', `${url} returned an HTML page, not a model file`, url, status);
  }
}

/** Content-Length as a byte count, or null when absent, malformed, or describing compressed bytes. */
function declaredLength(response: Response): number | null {
  const encoding = response.headers.get('content-encoding');
  if (encoding !== null && encoding.toLowerCase() !== 'identity') return null;
  const header = response.headers.get('content-length');
  if (header === null || !/^\d+$/.test(header.trim())) return null;
  const n = Number(header.trim());
  return Number.isSafeInteger(n) ? n : null;
}

async function readWhole(response: Response, signal: AbortSignal | undefined, url: string): Promise<ArrayBuffer> {
  try {
    return await response.arrayBuffer();
  } catch (cause) {
    throw failure(cause, signal, url, `download of ${url} failed`);
  }
}

function join(chunks: Uint8Array[], length: number): ArrayBuffer {
  const out = new Uint8Array(length); // [length] u8: the whole file
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out.buffer;
}

function throwIfCancelled(signal: AbortSignal | undefined, url: string): void {
  if (signal?.aborted) throw new SourceError('cancelled', `download of ${url} was cancelled`, url);
}

/** A thrown fetch/read error: 'cancelled' when our signal fired, otherwise 'network'. */
function failure(cause: unknown, signal: AbortSignal | undefined, url: string, what: string): SourceError {
  if (cause instanceof SourceError) return cause;
  if (signal?.aborted) return new SourceError('cancelled', `download of ${url} was cancelled`, url);
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new SourceError('network', `${what}: ${detail}`, url);
}
