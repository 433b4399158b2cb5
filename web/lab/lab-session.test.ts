import { describe, expect, it } from 'vitest';
import type { EngineApi, GenerateParams, GenerationResult, ModelInfo, ModelSource } from '../../workers/api.ts';
import type { TraceEvent, TraceSink } from '../../workers/engine/trace.ts';
import { DEFAULT_MODEL_ID, LabSession } from './lab-session.svelte.ts';

const info = (name: string): ModelInfo => ({ name, parameters: 10, weightBytes: 40, config: {} as ModelInfo['config'] });
const tick = () => new Promise((r) => setTimeout(r, 0));

/**
 * An in-thread stand-in for the engine: load() succeeds or fails as told, a run yields three tokens one
 * iteration at a time and honours stop() between iterations. Events go out in batches, like the TraceBus.
 */
class FakeEngine implements Partial<EngineApi> {
  sinks: TraceSink[] = [];
  loads: ModelSource[] = [];
  failNext: { code: string; message: string } | null = null;
  loadGate: Promise<void> = Promise.resolve();
  #cancelled = false;
  #stop = false;
  #iter = 0;
  #params: GenerateParams | null = null;
  readonly ids = [11, 12, 13];
  gate: Promise<void> = Promise.resolve();

  emit(...events: TraceEvent[]) {
    for (const s of this.sinks) s(events);
  }
  async subscribe(sink: TraceSink) {
    this.sinks.push(sink);
  }
  async load(source: ModelSource) {
    this.loads.push(source);
    this.emit({ kind: 'load.progress', file: 'm', loadedBytes: 5, totalBytes: 10, phase: 'download' });
    this.#cancelled = false;
    await tick();
    await this.loadGate;
    if (this.#cancelled) {
      this.emit({ kind: 'error', code: 'cancelled', message: 'loading was cancelled' });
      throw new Error('loading was cancelled');
    }
    const fail = this.failNext;
    this.failNext = null;
    if (fail) {
      this.emit({ kind: 'error', code: fail.code, message: fail.message });
      throw new Error(fail.message); // comlink keeps only the message
    }
    return info(source.kind === 'bundled' ? source.id : 'files-model');
  }
  async cancelLoad() {
    this.#cancelled = true;
  }
  async start(_prompt: string, params: GenerateParams) {
    this.#params = params;
    this.#stop = false;
    this.#iter = 0;
    this.emit({ kind: 'seq.state', seq: 0, state: 'waiting' });
  }
  async step() {
    await this.gate;
    if (this.#stop || this.#iter >= this.ids.length) return false;
    const i = this.#iter++;
    this.emit(
      { kind: 'iteration.begin', iteration: i, phase: i === 0 ? 'prefill' : 'decode', nTokens: i === 0 ? 2 : 1, pos0: 0 },
      { kind: 'iteration.end', iteration: i, ms: 10, dispatches: 30, submits: 1 },
      { kind: 'token', seq: 0, position: 2 + i, tokenId: this.ids[i]!, text: `t${i}`, prob: 1 },
    );
    return this.#iter < this.ids.length && !this.#stop;
  }
  async run(): Promise<GenerationResult> {
    while (await this.step()) await tick();
    const generated = this.ids.slice(0, this.#iter);
    return {
      tokenIds: [1, 99, ...generated],
      promptTokenCount: 2,
      text: generated.map((_, i) => `t${i}`).join(''),
      stopReason: this.#stop ? 'stopped' : 'max-tokens',
      stats: { promptTokens: 2, generatedTokens: generated.length, ttftMs: 10, prefillTokensPerSec: 200, decodeTokensPerSec: 100, dispatchesPerToken: 30, submitsPerToken: 1, msPerToken: [10, 10] },
    };
  }
  async generate(prompt: string, params: GenerateParams) {
    await this.start(prompt, params);
    return this.run();
  }
  async stop() {
    this.#stop = true;
  }
  get lastParams() {
    return this.#params;
  }
}

function setup() {
  const fake = new FakeEngine();
  const handle = { engine: fake as unknown as EngineApi };
  return { fake, lab: new LabSession(handle) };
}

describe('LabSession', () => {
  it('loads the bundled default once the engine is ready, and only once', async () => {
    const { fake, lab } = setup();
    lab.ensureDefaultModel();
    lab.ensureDefaultModel();
    await new Promise((r) => setTimeout(r, 20));
    expect(fake.loads).toEqual([{ kind: 'bundled', id: DEFAULT_MODEL_ID }]);
    expect(lab.model?.name).toBe(DEFAULT_MODEL_ID);
    expect(lab.loading).toBeNull();
  });

  it('shows progress while loading, from load.progress events', async () => {
    const { lab } = setup();
    const loading = lab.loadBundled('x');
    await tick();
    expect(lab.loading).toEqual({ label: 'x' });
    expect(lab.progress).toMatchObject({ phase: 'download', loadedBytes: 5, totalBytes: 10, fraction: 0.5 });
    await loading;
    expect(lab.loading).toBeNull();
  });

  it('shows a failed load with the engine’s code and keeps the model it had', async () => {
    const { fake, lab } = setup();
    await lab.loadBundled('good');
    fake.failNext = { code: 'llama2c-size-mismatch', message: 'bad.bin: file is 10 bytes, header implies 20' };
    await lab.loadFiles([new File([new ArrayBuffer(10)], 'bad.bin')]);
    expect(lab.loadError).toEqual({ code: 'llama2c-size-mismatch', message: 'bad.bin: file is 10 bytes, header implies 20' });
    expect(lab.model?.name).toBe('good');
  });

  it('Cancel ends a load with a notice, not an error, and keeps the model it had', async () => {
    const { fake, lab } = setup();
    await lab.loadBundled('good');
    let open!: () => void;
    fake.loadGate = new Promise((r) => (open = r));
    const loading = lab.loadBundled('big');
    await tick();
    expect(lab.loading).toEqual({ label: 'big' });
    await lab.cancelLoad();
    open();
    await loading;
    expect(lab.loading).toBeNull();
    expect(lab.loadError).toBeNull();
    expect(lab.notice).toMatch(/cancelled; good is still loaded/);
    expect(lab.model?.name).toBe('good');
  });

  it('passes local files to the engine as File objects, named', async () => {
    const { fake, lab } = setup();
    const file = new File([new Uint8Array([1, 2])], 'a.bin');
    await lab.loadFiles([file]);
    expect(fake.loads).toEqual([{ kind: 'files', files: [{ name: 'a.bin', data: file }] }]);
    expect(lab.model?.name).toBe('files-model');
  });

  it('rejects a bad URL field without calling the engine', async () => {
    const { fake, lab } = setup();
    await lab.loadFromText('not a source');
    expect(lab.loadError?.code).toBe('bad-repo-id');
    expect(fake.loads).toEqual([]);
  });

  it('streams a run’s tokens, then takes the prompt ids and final stats from its result', async () => {
    const { fake, lab } = setup();
    await lab.loadBundled('m');
    lab.prompt = 'Hi';
    lab.params.temperature = 9; // out of range: clamped before it reaches the engine
    await lab.generate();
    expect(fake.lastParams?.temperature).toBe(2);
    expect(lab.runPrompt).toBe('Hi');
    expect(lab.tokens.map((t) => t.id)).toEqual([11, 12, 13]);
    expect(lab.promptTokenIds).toEqual([1, 99]);
    expect(lab.stopReason).toBe('max-tokens');
    expect(lab.stats).toMatchObject({ generatedTokens: 3, dispatchesPerToken: 30 });
    expect(lab.phase).toBe('idle');
  });

  it('steps one iteration at a time, then Stop ends a paused run', async () => {
    const { lab } = setup();
    await lab.loadBundled('m');
    await lab.step();
    expect(lab.phase).toBe('paused');
    expect(lab.tokens.map((t) => t.id)).toEqual([11]);
    expect(lab.stats).toMatchObject({ ttftMs: 10, generatedTokens: 1 });
    await lab.step();
    expect(lab.tokens.map((t) => t.id)).toEqual([11, 12]);
    await lab.stop();
    expect(lab.phase).toBe('idle');
    expect(lab.stopReason).toBe('stopped');
    expect(lab.tokens).toHaveLength(2);
  });

  it('Stop during a run ends it early', async () => {
    const { fake, lab } = setup();
    await lab.loadBundled('m');
    let open!: () => void;
    fake.gate = new Promise((r) => (open = r));
    const running = lab.generate();
    await tick();
    expect(lab.phase).toBe('running');
    await lab.stop();
    expect(lab.phase).toBe('stopping');
    open();
    await running;
    expect(lab.stopReason).toBe('stopped');
    expect(lab.tokens.length).toBeLessThan(fake.ids.length);
  });

  it('ignores tokens that arrive outside a run', async () => {
    const { fake, lab } = setup();
    await lab.loadBundled('m');
    fake.emit({ kind: 'token', seq: 0, position: 1, tokenId: 5, text: 'x', prob: 1 });
    expect(lab.tokens).toEqual([]);
  });
});
