// EngineApi: the one typed interface between the UI and the engine. Implemented in-thread by `Engine`
// (tests, CLI) and exposed from the Worker through comlink (the UI). Plain-data arguments and results only.
// Imports nothing but types.

import type { GpuCapabilities } from '../gpu/device.ts';
import type { TraceSink } from './engine/trace.ts';

/** Why WebGPU cannot run here, when it cannot. */
export type WebGpuMissing = 'no-webgpu' | 'insecure-context' | 'no-adapter' | 'device-failed';

export type CapabilityReport =
  | { ok: true; capabilities: GpuCapabilities; profiler: 'timestamp' | 'cpu' }
  | { ok: false; code: WebGpuMissing; message: string };

/** The GEMV smoke test: a random W·x on the GPU, checked against the CPU reference. */
export interface GemvCheck {
  rows: number;
  cols: number;
  seed: number;
  maxRelError: number;
  passed: boolean; // maxRelError ≤ 1e-4
  gpuMs: number;
  first: number[]; // the first few outputs, for display
}

/** Where a model comes from. */
export type ModelSource =
  | { kind: 'bundled'; id: string } // a model shipped with the app under /models/<id>/
  | { kind: 'url'; url: string } // a folder URL (config.json, model.safetensors, tokenizer.json) or a .bin
  | { kind: 'hf'; repo: string; revision?: string } // a Hugging Face repo id
  // Local files (picker or drop; File objects are read in the Worker); `name` labels the model (a folder name).
  | { kind: 'files'; files: { name: string; data: ArrayBuffer | Blob }[]; name?: string };

export interface ModelInfo {
  name: string;
  parameters: number;
  weightBytes: number;
  config: import('./model/config.ts').ModelConfig;
}

/** How the loaded model keeps its KV cache. */
export interface KvOptions {
  /** 'paged' (default): a pool of blocks handed out on demand; 'contiguous': maxSeqLen rows reserved up front. */
  mode: 'paged' | 'contiguous';
  /** Token slots per block (paged only), 1..128; default 16. */
  blockSize?: number;
  /** Checked mode: the block manager verifies its invariants after every change (slower; for lessons and tests). */
  checked?: boolean;
}

export interface GenerateParams {
  /** Positions including the prompt's tokens and BOS, as llama2.c's `steps`. */
  steps: number;
  temperature: number; // 0 = greedy
  topK: number; // 0 = off
  topP: number; // 1 = off
  seed: number;
  kvCache: boolean; // false: recompute the whole prefix every token
}

export interface GenerationStats {
  promptTokens: number;
  generatedTokens: number;
  ttftMs: number;
  prefillTokensPerSec: number;
  decodeTokensPerSec: number;
  dispatchesPerToken: number;
  submitsPerToken: number;
  msPerToken: number[]; // decode time of each generated token, in order
}

export interface GenerationResult {
  tokenIds: number[]; // prompt tokens (with BOS) then generated tokens
  promptTokenCount: number;
  text: string; // the generated text only
  stopReason: 'eos' | 'max-tokens' | 'stopped';
  stats: GenerationStats;
}

/** One request for the serving loop (continuous batching): several may run at once, submitted any time. */
export interface SubmitRequest {
  prompt: string;
  /** Most tokens to generate (≥ 1); the request also ends at the model's end of text. */
  maxTokens: number;
  temperature: number; // 0 = greedy
  topK: number;
  topP: number;
  seed: number;
  /** Higher is more important (the SLA-aware policy preempts lower priorities for it); default 0. */
  priority?: number;
}

/** What submit() hands back at once: the request's id (its `seq` in the trace) and its prompt tokens. */
export interface SubmittedRequest {
  id: number;
  promptTokenIds: number[];
}

/** A served request once it has finished. */
export interface RequestResult {
  id: number;
  tokenIds: number[]; // generated tokens only
  text: string;
  stopReason: 'eos' | 'max-tokens' | 'stopped' | 'error';
}

export interface EngineApi {
  capabilities(): Promise<CapabilityReport>;
  runGemvCheck(rows: number, cols: number, seed: number): Promise<GemvCheck>;
  /** Receives trace events in batches; with comlink, pass Comlink.proxy(sink). */
  subscribe(sink: TraceSink): Promise<void>;
  load(source: ModelSource, kv?: KvOptions): Promise<ModelInfo>;
  cancelLoad(): Promise<void>;
  /** Prepares a run (tokenize, reset the KV cache) without running any iteration. */
  start(prompt: string, params: GenerateParams): Promise<void>;
  /** Runs exactly one iteration; false when the run has finished. */
  step(): Promise<boolean>;
  /** Runs iterations until the run ends or stop() is called. */
  run(): Promise<GenerationResult>;
  /** start() then run(). */
  generate(prompt: string, params: GenerateParams): Promise<GenerationResult>;
  /**
   * Adds a request to the serving loop (continuous batching over the paged KV pool), starting the loop if
   * it is idle; returns at once. Its tokens stream as trace events with seq = id; iteration.begin events
   * carry each iteration's batch. Rejected while a single run (start/run/generate) is in progress.
   */
  submit(request: SubmitRequest): Promise<SubmittedRequest>;
  /** Resolves when request `id` finishes (or is stopped). */
  requestResult(id: number): Promise<RequestResult>;
  /** Ends the current run, and every served request, within one iteration. */
  stop(): Promise<void>;
  dispose(): Promise<void>;
}
