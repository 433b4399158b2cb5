// Engine: the in-thread implementation of EngineApi. The Worker exposes one of these through comlink; tests
// and the CLI use it directly. Owns the GPU context, the loaded model and tokenizer, the current run and the
// trace bus. Must not import from web/.

import type {
  CapabilityReport,
  EngineApi,
  KvOptions,
  GemvCheck,
  GenerateParams,
  GenerationResult,
  ModelInfo,
  ModelSource,
} from '../api.ts';
import type { GpuContext } from '../../gpu/device.ts';
import { probeCapabilities } from './capabilities.ts';
import { runGemvCheck } from './gemv-check.ts';
import { Generation } from './generation.ts';
import { loadModel, type LoadOptions } from './load-model.ts';
import { TraceBus } from './trace-bus.ts';
import type { TraceSink } from './trace.ts';
import type { LlamaModel } from '../model/llama.ts';
import type { BlockManager } from '../kv/block-manager.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';

export interface EngineOptions {
  /** Returns the GPU object: navigator.gpu in a Worker, Dawn's in Node. */
  gpu: () => Promise<GPU | undefined>;
  secureContext?: boolean;
  /** Where bundled models live (the app's origin in the browser; a file: URL or local server in Node). */
  load?: Omit<LoadOptions, 'signal' | 'onProgress' | 'onNotice'>;
}

export class EngineError extends Error {
  override readonly name = 'EngineError';
  constructor(
    readonly code: 'no-gpu' | 'no-model' | 'no-run' | 'busy',
    message: string,
  ) {
    super(message);
  }
}

export class Engine implements EngineApi {
  readonly bus = new TraceBus();
  #report: CapabilityReport | null = null;
  #ctx: GpuContext | null = null;
  #model: LlamaModel | null = null;
  #blocks: BlockManager | null = null;
  #nextSeq = 0;
  #tokenizer: Tokenizer | null = null;
  #modelInfo: ModelInfo | null = null;
  #run: Generation | null = null;
  #loadAbort: AbortController | null = null;
  #running = false;

  constructor(readonly options: EngineOptions) {}

  async capabilities(): Promise<CapabilityReport> {
    if (this.#report) return this.#report;
    const { report, ctx } = await probeCapabilities(await this.options.gpu(), this.options.secureContext ?? true);
    this.#ctx = ctx;
    this.#report = report.ok ? { ...report, profiler: report.capabilities.timestampQuery ? 'timestamp' : 'cpu' } : report;
    ctx?.device.lost.then((info) => {
      if (!ctx.disposed) this.bus.emit({ kind: 'device.lost', reason: info.reason, message: info.message });
    });
    return this.#report;
  }

  async #gpu(): Promise<GpuContext> {
    const report = await this.capabilities();
    if (!report.ok || !this.#ctx) throw new EngineError('no-gpu', report.ok ? 'WebGPU device unavailable' : report.message);
    return this.#ctx;
  }

  async runGemvCheck(rows: number, cols: number, seed: number): Promise<GemvCheck> {
    return runGemvCheck(await this.#gpu(), rows, cols, seed);
  }

  async subscribe(sink: TraceSink): Promise<void> {
    this.bus.subscribe(sink);
  }

  async load(source: ModelSource, kv?: KvOptions): Promise<ModelInfo> {
    const ctx = await this.#gpu();
    this.#loadAbort?.abort();
    const abort = new AbortController();
    this.#loadAbort = abort;
    try {
      const loaded = await loadModel(ctx, source, {
        ...this.options.load,
        ...(kv ? { kv } : {}),
        signal: abort.signal,
        onProgress: (e) => this.bus.emit(e),
        onNotice: (message) => this.bus.emit({ kind: 'error', code: 'notice', message }),
        replacing: () => this.#unload(),
      });
      this.#model = loaded.model;
      this.#blocks = loaded.blocks;
      this.#tokenizer = loaded.tokenizer;
      this.#modelInfo = loaded.info;
      this.bus.emit({ kind: 'load.done', model: loaded.info.name, parameters: loaded.info.parameters, weightBytes: loaded.info.weightBytes, ms: loaded.ms });
      this.bus.flush();
      return loaded.info;
    } catch (err) {
      const e = err as Error & { code?: string };
      this.bus.emit({ kind: 'error', code: e.code ?? 'load-failed', message: e.message });
      this.bus.flush();
      throw err;
    } finally {
      if (this.#loadAbort === abort) this.#loadAbort = null;
    }
  }

  #unload(): void {
    this.#run?.abandon();
    this.#run = null;
    this.#model?.dispose();
    this.#model = null;
    this.#blocks = null;
    this.#tokenizer = null;
    this.#modelInfo = null;
  }

  async cancelLoad(): Promise<void> {
    this.#loadAbort?.abort();
  }

  get model(): LlamaModel | null {
    return this.#model;
  }

  get tokenizer(): Tokenizer | null {
    return this.#tokenizer;
  }

  /** The GPU context once capabilities() found one (benchmarks build models on it directly). */
  get gpuContext(): GpuContext | null {
    return this.#ctx;
  }

  /** The paged pool's block manager (null with a contiguous cache): tests and lessons inspect it. */
  get blocks(): BlockManager | null {
    return this.#blocks;
  }

  get modelInfo(): ModelInfo | null {
    return this.#modelInfo;
  }

  async start(prompt: string, params: GenerateParams): Promise<void> {
    if (!this.#tokenizer) throw new EngineError('no-model', 'Load a model before generating.');
    this.startTokens(this.#tokenizer.encode(prompt, { bos: true }), params);
  }

  /** start() from token ids (benchmarks and tests that replay a workload of ids, not text). */
  startTokens(tokens: number[], params: GenerateParams): void {
    if (!this.#model || !this.#tokenizer) throw new EngineError('no-model', 'Load a model before generating.');
    if (this.#running) throw new EngineError('busy', 'A run is in progress; stop it first.');
    this.#run?.abandon(); // a run left unfinished by step() gives its blocks back
    this.bus.clearLog();
    this.#run = new Generation(this.#model, this.#tokenizer, tokens, params, this.bus, this.#nextSeq++, this.#blocks);
  }

  async step(): Promise<boolean> {
    if (!this.#run) throw new EngineError('no-run', 'Start a run before stepping.');
    return this.#run.step();
  }

  async run(): Promise<GenerationResult> {
    const run = this.#run;
    if (!run) throw new EngineError('no-run', 'Start a run before running it.');
    this.#running = true;
    try {
      // One iteration at a time. Each awaits the GPU's readback, which yields to the event loop, so a stop()
      // (or any other message) that arrives mid-iteration is handled before the next iteration starts.
      while (await run.step()) {
        /* next iteration */
      }
      return run.result();
    } finally {
      this.#running = false;
      this.bus.flush();
    }
  }

  async generate(prompt: string, params: GenerateParams): Promise<GenerationResult> {
    await this.start(prompt, params);
    return this.run();
  }

  async stop(): Promise<void> {
    this.#run?.requestStop();
  }

  async dispose(): Promise<void> {
    this.#unload();
    this.#ctx?.dispose();
    this.#ctx = null;
    this.#report = null;
  }
}
