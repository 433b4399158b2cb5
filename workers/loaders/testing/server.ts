// A local HTTP server for source tests: serves in-memory files by URL path (Hugging Face layout
// `/<repo>/resolve/<rev>/<file>` or plain folders), bound to 127.0.0.1 on a free port, with switches for a
// slow body, no Content-Length, error statuses, HTML pages and truncated bodies. Test-only; Node's http only.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TestServerOptions {
  /** URL path ("/models/tiny/config.json") → body. Anything else answers 404. */
  files: Record<string, Uint8Array | string>;
  /** Send bodies `chunkBytes` at a time with `delayMs` between writes (all paths, or only `paths`). */
  slow?: { chunkBytes: number; delayMs: number; paths?: string[] };
  /** Leave out Content-Length (the body goes chunked). */
  noContentLength?: boolean;
  /** Path → status to answer with instead of the file (404, 500, 401…). */
  status?: Record<string, number>;
  /** Paths answered 200 with an HTML page, as dev servers and login walls do. */
  html?: string[];
  /** Paths whose body stops halfway (the connection is cut) after announcing the full length. */
  truncate?: string[];
}

export interface TestServer {
  /** "http://127.0.0.1:<port>" (no trailing slash). */
  url: string;
  /** Every request path, in order. */
  requests: string[];
  /** Mutable: tests may change the behaviour between loads. */
  options: TestServerOptions;
  close(): Promise<void>;
}

/** Keys `files` under `/<repo>/resolve/<revision>/`, as huggingface.co serves a repository's files. */
export function hfLayout(repo: string, files: Record<string, Uint8Array | string>, revision = 'main'): Record<string, Uint8Array | string> {
  return prefixed(`/${repo}/resolve/${revision}/`, files);
}

/** Keys `files` under a folder path such as "/models/tiny/". */
export function prefixed(folder: string, files: Record<string, Uint8Array | string>): Record<string, Uint8Array | string> {
  return Object.fromEntries(Object.entries(files).map(([name, body]) => [folder + name, body]));
}

/** Deterministic bytes for a fixture file: byte i is (i * 31 + seed) mod 251. */
export function fixtureBytes(length: number, seed = 0): Uint8Array {
  const out = new Uint8Array(length); // [length] u8
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed) % 251;
  return out;
}

/** Byte-for-byte equality (vitest's deep toEqual walks typed arrays element by element: slow on 200 kB). */
export function sameBytes(actual: Uint8Array | undefined, expected: Uint8Array): boolean {
  return actual !== undefined && Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(expected);
}

export async function startTestServer(options: TestServerOptions): Promise<TestServer> {
  const requests: string[] = [];
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const state: TestServer = { url: '', requests, options, close: async () => undefined };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(path);
    const opts = state.options;
    const status = opts.status?.[path];
    if (status !== undefined) return void res.writeHead(status, { 'content-type': 'text/plain' }).end(`status ${status}`);
    if (opts.html?.includes(path)) {
      return void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>app</title>');
    }
    const file = opts.files[path];
    if (file === undefined) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    const body = typeof file === 'string' ? new TextEncoder().encode(file) : file;
    const headers: Record<string, string> = { 'content-type': path.endsWith('.json') ? 'application/json' : 'application/octet-stream' };
    if (!opts.noContentLength) headers['content-length'] = String(body.byteLength);
    res.writeHead(200, headers);
    if (opts.truncate?.includes(path)) {
      res.write(body.subarray(0, body.byteLength >> 1));
      return void setImmediate(() => res.destroy());
    }
    const slow = opts.slow;
    if (slow === undefined || (slow.paths !== undefined && !slow.paths.includes(path))) return void res.end(body);
    let offset = 0;
    const writeNext = (): void => {
      if (res.destroyed) return;
      const end = Math.min(body.byteLength, offset + slow.chunkBytes);
      res.write(body.subarray(offset, end));
      offset = end;
      if (offset >= body.byteLength) return void res.end();
      const timer = setTimeout(() => {
        timers.delete(timer);
        writeNext();
      }, slow.delayMs);
      timers.add(timer);
    };
    writeNext();
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  state.url = `http://127.0.0.1:${port}`;
  state.close = async () => {
    for (const timer of timers) clearTimeout(timer);
    server.closeAllConnections();
    await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  };
  return state;
}
