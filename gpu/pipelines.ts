// The pipeline cache: one GPUComputePipeline per (kernel, specialization) key such as
// `gemv_f32_wg256`, built on first use and reused after. Imports nothing but types.

export interface PipelineSpec {
  /** Cache key: kernel name plus every specialization, e.g. `gemv_f32_wg256`. */
  readonly key: string;
  /** WGSL source, already specialized. */
  readonly code: string;
  readonly entryPoint?: string;
  /** Values for the shader's `override` constants (workgroup size, tile size, head dim). */
  readonly constants?: Readonly<Record<string, number>>;
}

export class PipelineCache {
  readonly #pipelines = new Map<string, GPUComputePipeline>();
  readonly #modules = new Map<string, GPUShaderModule>();

  constructor(private readonly device: GPUDevice) {}

  get(spec: PipelineSpec): GPUComputePipeline {
    const hit = this.#pipelines.get(spec.key);
    if (hit) return hit;
    let module = this.#modules.get(spec.code);
    if (!module) {
      module = this.device.createShaderModule({ label: spec.key, code: spec.code });
      this.#modules.set(spec.code, module);
    }
    const pipeline = this.device.createComputePipeline({
      label: spec.key,
      layout: 'auto',
      compute: { module, entryPoint: spec.entryPoint ?? 'main', constants: { ...spec.constants } },
    });
    this.#pipelines.set(spec.key, pipeline);
    return pipeline;
  }

  get size(): number {
    return this.#pipelines.size;
  }

  keys(): string[] {
    return [...this.#pipelines.keys()];
  }
}
