// The device layer: adapter and device acquisition with limits raised to what the adapter offers, optional
// features taken only when present, labelled allocations inside error scopes, and device loss as a typed
// event. Takes a `GPU` object, so the same code runs on navigator.gpu in a Worker and on Dawn in Node.
// Must not import from workers/ or web/.

import { BufferRegistry } from './buffers.ts';
import { GpuError } from './errors.ts';
import { PipelineCache } from './pipelines.ts';

/** Limits raised to the adapter's maximum: the ones an LLM engine runs into first. */
const RAISED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxUniformBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'maxBindGroups',
] as const;

/** Features the engine can use but never requires. */
const OPTIONAL_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'] as const;

export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
}

export interface GpuCapabilities {
  adapter: AdapterReport;
  /** Every feature the device was created with. */
  features: string[];
  /** The device's limits (numbers only), after raising. */
  limits: Record<string, number>;
  shaderF16: boolean;
  subgroups: boolean;
  timestampQuery: boolean;
}

export interface DeviceLostInfo {
  kind: 'device.lost';
  reason: 'destroyed' | 'unknown';
  message: string;
}

export interface AcquireOptions {
  label?: string;
  powerPreference?: GPUPowerPreference;
  /** Called once if the device is lost for any reason other than our own dispose(). */
  onLost?: (info: DeviceLostInfo) => void;
}

export interface AllocateSpec {
  label: string; // e.g. "Llama.wq.3"
  owner: string; // e.g. "weights"
  size: number; // bytes
  usage: GPUBufferUsageFlags;
  /** Initial contents, written at creation through mappedAtCreation. */
  data?: ArrayBufferView;
}

function limitsOf(limits: GPUSupportedLimits): Record<string, number> {
  const out: Record<string, number> = {};
  // GPUSupportedLimits exposes its fields as prototype getters, so walk the prototype as well.
  for (let o: object | null = limits; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const key of Object.getOwnPropertyNames(o)) {
      const v = (limits as unknown as Record<string, unknown>)[key];
      if (typeof v === 'number') out[key] = v;
    }
  }
  return out;
}

function adapterReport(adapter: GPUAdapter): AdapterReport {
  const info = adapter.info;
  return {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
    isFallbackAdapter: Boolean((info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter),
  };
}

export class GpuContext {
  readonly buffers = new BufferRegistry();
  readonly pipelines: PipelineCache;
  #disposed = false;

  constructor(
    readonly device: GPUDevice,
    readonly capabilities: GpuCapabilities,
  ) {
    this.pipelines = new PipelineCache(device);
  }

  /**
   * Creates a labelled, registered buffer inside `out-of-memory` and `validation` error scopes, so a failed
   * allocation is a typed GpuError rather than a silently invalid buffer.
   */
  async allocate(spec: AllocateSpec): Promise<GPUBuffer> {
    const { device } = this;
    const size = Math.max(4, Math.ceil(spec.size / 4) * 4); // WebGPU wants 4-byte multiples for storage and copies
    if (size > this.capabilities.limits.maxBufferSize!) {
      throw new GpuError('out-of-memory', `${spec.label}: ${size} bytes exceeds this device's maxBufferSize (${this.capabilities.limits.maxBufferSize})`);
    }
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    const buffer = device.createBuffer({ label: spec.label, size, usage: spec.usage, mappedAtCreation: spec.data !== undefined });
    if (spec.data) {
      const bytes = new Uint8Array(spec.data.buffer, spec.data.byteOffset, spec.data.byteLength);
      new Uint8Array(buffer.getMappedRange()).set(bytes);
      buffer.unmap();
    }
    const validation = await device.popErrorScope();
    const oom = await device.popErrorScope();
    if (oom || validation) {
      buffer.destroy();
      const code = oom ? 'out-of-memory' : 'validation';
      throw new GpuError(code, `${spec.label} (${size} bytes): ${(oom ?? validation)!.message}`);
    }
    return this.buffers.track(buffer, { label: spec.label, owner: spec.owner, size });
  }

  /**
   * Synchronous allocation for hot, small, per-run buffers (uniforms, staging): registered and labelled, but
   * without error scopes, which would make every caller async.
   */
  allocateNow(spec: AllocateSpec): GPUBuffer {
    const size = Math.max(4, Math.ceil(spec.size / 4) * 4);
    // Initial data goes through queue.writeBuffer when the buffer allows it: on hardware drivers a
    // mappedAtCreation buffer costs a staging allocation each, which adds up over a plan's ~100 uniforms.
    const viaQueue = spec.data !== undefined && (spec.usage & GPUBufferUsage.COPY_DST) !== 0;
    const buffer = this.device.createBuffer({ label: spec.label, size, usage: spec.usage, mappedAtCreation: spec.data !== undefined && !viaQueue });
    if (spec.data) {
      const bytes = new Uint8Array(spec.data.buffer, spec.data.byteOffset, spec.data.byteLength);
      if (viaQueue) {
        const padded = new Uint8Array(size); // a fresh, 4-byte-multiple copy (writeBuffer needs both)
        padded.set(bytes);
        this.device.queue.writeBuffer(buffer, 0, padded);
      } else {
        new Uint8Array(buffer.getMappedRange()).set(bytes);
        buffer.unmap();
      }
    }
    return this.buffers.track(buffer, { label: spec.label, owner: spec.owner, size });
  }

  /** Copies `size` bytes of `src` back to the CPU. */
  async read(src: GPUBuffer, size = src.size, offset = 0): Promise<ArrayBuffer> {
    const staging = this.device.createBuffer({ label: `${src.label}.readback`, size, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
    const encoder = this.device.createCommandEncoder({ label: `${src.label}.readback` });
    encoder.copyBufferToBuffer(src, offset, staging, 0, size);
    this.device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const out = staging.getMappedRange().slice(0);
    staging.destroy();
    return out;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.buffers.disposeAll();
    this.device.destroy();
  }
}

/** Acquires an adapter and a device from `gpu` (navigator.gpu, or the Node binding's GPU object). */
export async function acquireGpu(gpu: GPU | undefined, options: AcquireOptions = {}): Promise<GpuContext> {
  if (!gpu) throw new GpuError('no-webgpu', 'WebGPU is not available in this environment (no GPU object).');
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  if (!adapter) throw new GpuError('no-adapter', 'WebGPU is present but no GPU adapter was found.');

  const adapterLimits = limitsOf(adapter.limits);
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) {
    const v = adapterLimits[name];
    if (v !== undefined) requiredLimits[name] = v;
  }
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f)) as GPUFeatureName[];

  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ label: options.label ?? 'decode-lab', requiredFeatures, requiredLimits });
  } catch (err) {
    throw new GpuError('device-failed', `requestDevice failed: ${(err as Error).message}`);
  }

  const features = [...device.features].map(String).sort();
  const capabilities: GpuCapabilities = {
    adapter: adapterReport(adapter),
    features,
    limits: limitsOf(device.limits),
    shaderF16: device.features.has('shader-f16'),
    subgroups: device.features.has('subgroups'),
    timestampQuery: device.features.has('timestamp-query'),
  };
  const ctx = new GpuContext(device, capabilities);
  void device.lost.then((info) => {
    if (ctx.disposed) return; // our own dispose(): not an event
    options.onLost?.({ kind: 'device.lost', reason: info.reason === 'destroyed' ? 'destroyed' : 'unknown', message: info.message });
  });
  return ctx;
}
