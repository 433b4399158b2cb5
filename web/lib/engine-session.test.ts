import { describe, expect, it } from 'vitest';
import type { CapabilityReport, EngineApi, GemvCheck } from '../../workers/api.ts';
import type { TraceSink } from '../../workers/engine/trace.ts';
import { EngineSession, type SessionEnv } from './engine-session.svelte.ts';

const okReport = {
  ok: true,
  profiler: 'cpu',
  capabilities: {
    adapter: { vendor: 'fake', architecture: 'a', device: '', description: '', isFallbackAdapter: false },
    features: [],
    limits: {},
    shaderF16: false,
    subgroups: false,
    timestampQuery: false,
  },
} satisfies CapabilityReport;

const gemv: GemvCheck = { rows: 2, cols: 3, seed: 1, maxRelError: 0, passed: true, gpuMs: 1, first: [1, 2] };

/** An env whose engine answers capabilities() with `report`, counting how often a Worker would start. */
function fakeEnv(over: Partial<SessionEnv>, report: CapabilityReport = okReport) {
  const calls = { connect: 0, sinks: [] as TraceSink[] };
  const engine = {
    capabilities: async () => report,
    runGemvCheck: async () => gemv,
    subscribe: async (sink: TraceSink) => void calls.sinks.push(sink),
  } as Partial<EngineApi> as EngineApi;
  const env: SessionEnv = {
    secureContext: true,
    hasWebGpu: true,
    connect: () => (calls.connect++, { engine, terminate: () => {} }),
    ...over,
  };
  return { env, calls };
}

describe('EngineSession', () => {
  it('reports an insecure context without starting the Worker', async () => {
    const { env, calls } = fakeEnv({ secureContext: false, hasWebGpu: false });
    const session = new EngineSession(env);
    await session.probe();
    expect(session.status).toBe('unavailable');
    expect(session.report).toMatchObject({ ok: false, code: 'insecure-context' });
    expect(calls.connect).toBe(0);
  });

  it('reports a missing navigator.gpu without starting the Worker', async () => {
    const { env, calls } = fakeEnv({ hasWebGpu: false });
    const session = new EngineSession(env);
    await session.probe();
    expect(session.report).toMatchObject({ ok: false, code: 'no-webgpu' });
    expect(calls.connect).toBe(0);
  });

  it('passes on the engine’s own failure (no adapter) and offers no engine', async () => {
    const { env } = fakeEnv({}, { ok: false, code: 'no-adapter', message: 'none' });
    const session = new EngineSession(env);
    await session.probe();
    expect(session.status).toBe('unavailable');
    expect(session.report).toMatchObject({ code: 'no-adapter' });
    expect(session.engine).toBeNull();
  });

  it('becomes ready, runs the GEMV check and collects trace batches', async () => {
    const { env, calls } = fakeEnv({});
    const session = new EngineSession(env);
    await session.probe();
    expect(session.status).toBe('ready');
    await session.runGemvCheck(2, 3, 1);
    expect(session.gemv).toEqual(gemv);
    calls.sinks[0]!([{ kind: 'error', code: 'x', message: 'y' }]);
    expect(session.events).toHaveLength(1);
  });

  it('shows an error when the engine cannot start', async () => {
    const { env } = fakeEnv({ connect: () => { throw new Error('worker blew up'); } });
    const session = new EngineSession(env);
    await session.probe();
    expect(session.status).toBe('error');
    expect(session.error).toContain('worker blew up');
  });
});
