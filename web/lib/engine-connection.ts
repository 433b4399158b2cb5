// Starting the engine: the browser's environment for an EngineSession — whether WebGPU can exist here, and
// the engine Worker wrapped with comlink. Imports only comlink and types from workers/api.ts.

import * as Comlink from 'comlink';
import type { EngineApi } from '../../workers/api.ts';

/** A running engine and how to stop it: a Worker in the browser, an in-thread Engine in tests. */
export interface EngineConnection {
  engine: EngineApi;
  terminate(): void;
}

/** What the session needs from its surroundings; the browser's by default, fakes in tests. */
export interface SessionEnv {
  secureContext: boolean;
  hasWebGpu: boolean;
  connect(): EngineConnection;
}

export function browserEnv(): SessionEnv {
  return {
    secureContext: globalThis.isSecureContext === true,
    hasWebGpu: typeof navigator !== 'undefined' && 'gpu' in navigator && navigator.gpu != null,
    connect() {
      const worker = new Worker(new URL('../../workers/engine.worker.ts', import.meta.url), { type: 'module', name: 'engine' });
      // comlink's Remote<EngineApi> has the same promise-returning methods as EngineApi.
      return { engine: Comlink.wrap<EngineApi>(worker) as unknown as EngineApi, terminate: () => worker.terminate() };
    },
  };
}
