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
  RequestResult,
  SubmitRequest,
  SubmittedRequest,
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
import type { Tokenizer, TokenStream } from '../tokenizer/tokenizer.ts';
import { BatchExecutor } from './batch-executor.ts';
import { ServingLoop } from './serving.ts';
import { createScheduler } from '../sched/scheduler.ts';

/** Tokens the serving loop's scheduler spends per iteration (decode tokens plus prefill chunks). */
const SERVING_TOKEN_BUDGET = 256;

interface Serving {
  loop: ServingLoop;
  streams: Map<number, TokenStream>; // per live request: its streaming detokenizer
  ended: Promise<void>; // the loop has returned (stopped, or failed)
}

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
    readonly code: 'no-gpu' | 'no-model' | 'no-run' | 'busy' | 'bad-request',
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
  #serving: Serving | null = null;
  readonly #served = new Map<number, Promise<RequestResult>>(); // submitted requests' results, by id
  readonly #servedTexts = new Map<number, string>(); // text streamed so far, by request id

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
    this.#serving?.loop.stop();
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
    if (this.#serving && this.#serving.loop.active > 0) throw new EngineError('busy', 'Submitted requests are still being served; stop them first.');
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
    this.#serving?.loop.stop();
  }

  async submit(request: SubmitRequest): Promise<SubmittedRequest> {
    const model = this.#model;
    const tokenizer = this.#tokenizer;
    const blocks = this.#blocks;
    if (!model || !tokenizer) throw new EngineError('no-model', 'Load a model before submitting requests.');
    if (!blocks) throw new EngineError('bad-request', 'Serving several requests needs the paged KV cache; load the model with kv mode "paged".');
    if (this.#running) throw new EngineError('busy', 'A single run is in progress; stop it first.');
    if (!(Number.isInteger(request.maxTokens) && request.maxTokens >= 1)) throw new EngineError('bad-request', `maxTokens must be an integer ≥ 1, got ${request.maxTokens}`);
    const prompt = tokenizer.encode(request.prompt, { bos: true });
    if (prompt.length === 0) throw new EngineError('bad-request', 'The prompt encodes to no tokens.');
    if (prompt.length + request.maxTokens > model.maxSeqLen) {
      throw new EngineError('bad-request', `The prompt (${prompt.length} tokens) plus ${request.maxTokens} new tokens exceed the model's context of ${model.maxSeqLen}.`);
    }
    const needBlocks = Math.ceil((prompt.length + request.maxTokens) / blocks.blockSize);
    if (needBlocks > blocks.nBlocks) throw new EngineError('bad-request', `The request needs ${needBlocks} KV blocks; the pool has ${blocks.nBlocks}.`);
    let serving = this.#serving;
    if (!serving || serving.loop.stopping) {
      // A loop that was stopped finishes its iteration first: two loops must never share the model at once.
      if (serving) await serving.ended;
      serving = this.#serving && !this.#serving.loop.stopping ? this.#serving : this.#startServing(model, blocks, tokenizer);
    }
    const id = this.#nextSeq++;
    const stream = tokenizer.stream();
    for (const t of prompt) stream.push(t); // the prompt is context for the first piece
    serving.streams.set(id, stream);
    const texts = this.#servedTexts;
    texts.set(id, '');
    const sampling = { temperature: request.temperature, topK: request.topK, topP: request.topP };
    const outcome = serving.loop.submit({ id, arrivalMs: serving.loop.now(), prompt, maxTokens: request.maxTokens, priority: request.priority ?? 0 }, { sampling, seed: request.seed });
    this.#served.set(
      id,
      outcome.then((o) => {
        const text = (texts.get(id) ?? '') + (serving.streams.get(id)?.flush() ?? '');
        serving.streams.delete(id);
        texts.delete(id);
        return { id, tokenIds: o.tokens, text, stopReason: o.reason };
      }),
    );
    return { id, promptTokenIds: prompt };
  }

  async requestResult(id: number): Promise<RequestResult> {
    const result = this.#served.get(id);
    if (!result) throw new EngineError('no-run', `No served request ${id}.`);
    const r = await result;
    this.bus.flush();
    return r;
  }

  /** The serving loop: continuous batching over the engine's model and block pool, alive until stop(). */
  #startServing(model: LlamaModel, blocks: BlockManager, tokenizer: Tokenizer): Serving {
    this.#run?.abandon(); // a paused single run gives its blocks back
    this.#run = null;
    this.bus.clearLog();
    const streams = new Map<number, TokenStream>();
    const texts = this.#servedTexts;
    const stopTokens = [tokenizer.eosId, tokenizer.bosId].filter((t) => t >= 0);
    const loop = new ServingLoop(new BatchExecutor(model, blocks), createScheduler('continuous', { maxBatchSize: model.activations.maxSeqs, tokenBudget: SERVING_TOKEN_BUDGET }), {
      sampling: { temperature: 0, topK: 0, topP: 1 },
      seed: 0,
      bus: this.bus,
      stopTokens,
      kvEvents: true,
      textOf: (seq, token) => {
        const piece = streams.get(seq)?.push(token) ?? '';
        texts.set(seq, (texts.get(seq) ?? '') + piece);
        return piece;
      },
    });
    const ended = loop.run().then(
      () => this.bus.flush(),
      (err: Error) => {
        this.bus.emit({ kind: 'error', code: 'serve-failed', message: err.message });
        this.bus.flush();
      },
    );
    const serving: Serving = { loop, streams, ended };
    void ended.then(() => {
      if (this.#serving === serving) this.#serving = null;
    });
    this.#serving = serving;
    return serving;
  }

  async dispose(): Promise<void> {
    this.#unload();
    this.#ctx?.dispose();
    this.#ctx = null;
    this.#report = null;
  }
}
