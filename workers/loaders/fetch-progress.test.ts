// fetchWithProgress against a real local HTTP server: progress, unknown length, cancel, HTTP and network errors.

import { afterEach, describe, expect, it } from 'vitest';
import { PROGRESS_BYTES, SourceError, fetchWithProgress } from './fetch-progress.ts';
import { fixtureBytes, sameBytes, startTestServer, type TestServer } from './testing/server.ts';

let server: TestServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

async function serve(options: Parameters<typeof startTestServer>[0]): Promise<TestServer> {
  server = await startTestServer(options);
  return server;
}

/** Awaits a rejection and returns it as a SourceError (fails the test when it is anything else). */
async function sourceError(promise: Promise<unknown>): Promise<SourceError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SourceError);
  return error as SourceError;
}

describe('fetchWithProgress', () => {
  it('streams the body with monotonic progress that ends at the Content-Length', async () => {
    const bytes = fixtureBytes(5 * PROGRESS_BYTES + 123);
    const s = await serve({ files: { '/w.bin': bytes }, slow: { chunkBytes: PROGRESS_BYTES, delayMs: 1 } });
    const events: [number, number | null][] = [];
    const data = await fetchWithProgress(`${s.url}/w.bin`, { onProgress: (l, t) => events.push([l, t]) });
    expect(sameBytes(new Uint8Array(data), bytes)).toBe(true);
    expect(events.length).toBeGreaterThanOrEqual(4);
    expect(events[0]).toEqual([0, bytes.byteLength]);
    expect(events.at(-1)).toEqual([bytes.byteLength, bytes.byteLength]);
    for (let i = 1; i < events.length; i++) expect(events[i]![0]).toBeGreaterThan(events[i - 1]![0]);
    expect(events.every(([, t]) => t === bytes.byteLength)).toBe(true);
  });

  it('reports a null total and still completes when the server sends no Content-Length', async () => {
    const bytes = fixtureBytes(3 * PROGRESS_BYTES);
    const s = await serve({ files: { '/w.bin': bytes }, noContentLength: true, slow: { chunkBytes: 50_000, delayMs: 1 } });
    const events: [number, number | null][] = [];
    const data = await fetchWithProgress(`${s.url}/w.bin`, { onProgress: (l, t) => events.push([l, t]) });
    expect(sameBytes(new Uint8Array(data), bytes)).toBe(true);
    expect(events.every(([, t]) => t === null)).toBe(true);
    expect(events.at(-1)).toEqual([bytes.byteLength, null]);
  });

  it('throttles progress: each event comes 64 KiB or 50 ms after the one before', async () => {
    const bytes = fixtureBytes(40_000);
    const s = await serve({ files: { '/w.bin': bytes }, slow: { chunkBytes: 1000, delayMs: 0 } });
    const events: [number, number][] = [];
    await fetchWithProgress(`${s.url}/w.bin`, { onProgress: (l) => events.push([l, Date.now()]) });
    expect(events.at(-1)![0]).toBe(40_000);
    // The first (0 bytes) and the last (the total) are always sent; the ones between obey the throttle.
    for (let i = 1; i < events.length - 1; i++) {
      const [bytesNow, timeNow] = events[i]!;
      const [bytesBefore, timeBefore] = events[i - 1]!;
      expect(bytesNow - bytesBefore >= PROGRESS_BYTES || timeNow - timeBefore >= 48).toBe(true); // 2 ms of clock slack
    }
  });

  it('cancels mid-download quickly with code "cancelled"', async () => {
    const bytes = fixtureBytes(1 << 20); // would take ~20 s at this pace
    const s = await serve({ files: { '/big.bin': bytes }, slow: { chunkBytes: 1024, delayMs: 20 } });
    const controller = new AbortController();
    let started = 0;
    const promise = fetchWithProgress(`${s.url}/big.bin`, {
      signal: controller.signal,
      onProgress: (loaded) => {
        if (loaded > 0 && started === 0) {
          started = Date.now();
          controller.abort();
        }
      },
    });
    const error = await sourceError(promise);
    expect(error.code).toBe('cancelled');
    expect(error.message).toContain(`${s.url}/big.bin`);
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('does not even send the request when the signal has already fired', async () => {
    const s = await serve({ files: { '/w.bin': fixtureBytes(10) } });
    const controller = new AbortController();
    controller.abort();
    const error = await sourceError(fetchWithProgress(`${s.url}/w.bin`, { signal: controller.signal }));
    expect(error.code).toBe('cancelled');
    expect(s.requests).toEqual([]);
  });

  it('turns 500 into "http-error" with the status and URL, 404 into "not-found"', async () => {
    const s = await serve({ files: {}, status: { '/boom.bin': 500 } });
    const boom = await sourceError(fetchWithProgress(`${s.url}/boom.bin`));
    expect(boom.code).toBe('http-error');
    expect(boom.status).toBe(500);
    expect(boom.message).toContain('500');
    expect(boom.message).toContain(`${s.url}/boom.bin`);
    const missing = await sourceError(fetchWithProgress(`${s.url}/missing.bin`));
    expect(missing.code).toBe('not-found');
    expect(missing.status).toBe(404);
    expect(missing.message).toContain(`${s.url}/missing.bin`);
  });

  it('hints at gated repositories on 401', async () => {
    const s = await serve({ files: {}, status: { '/gated.bin': 401 } });
    const error = await sourceError(fetchWithProgress(`${s.url}/gated.bin`));
    expect(error.code).toBe('http-error');
    expect(error.message).toMatch(/gated or private/);
  });

  it('rejects an HTML page served with status 200 as "not-found"', async () => {
    const s = await serve({ files: {}, html: ['/model.safetensors'] });
    const error = await sourceError(fetchWithProgress(`${s.url}/model.safetensors`));
    expect(error.code).toBe('not-found');
    expect(error.message).toContain('HTML page');
    expect(error.message).toContain(`${s.url}/model.safetensors`);
  });

  it('reports a body cut short as "network", never as a shorter file', async () => {
    const s = await serve({ files: { '/cut.bin': fixtureBytes(200_000) }, truncate: ['/cut.bin'] });
    const error = await sourceError(fetchWithProgress(`${s.url}/cut.bin`));
    expect(error.code).toBe('network');
    expect(error.message).toContain(`${s.url}/cut.bin`);
  });

  it('reports an unreachable server as "network", naming the URL', async () => {
    const s = await serve({ files: {} });
    const url = `${s.url}/gone.bin`;
    await s.close();
    server = null;
    const error = await sourceError(fetchWithProgress(url));
    expect(error.code).toBe('network');
    expect(error.message).toContain(url);
  });
});
