// The profiler: GPU time per compute pass from timestamp queries when the device has `timestamp-query`,
// otherwise CPU wall time from submit to onSubmittedWorkDone. Must not import from workers/ or web/.

import type { GpuContext } from './device.ts';
import { encodeDispatch, type Dispatch } from './dispatch.ts';

export interface PassTiming {
  label: string;
  us: number; // microseconds
  source: 'timestamp' | 'cpu';
}

export class Profiler {
  readonly mode: 'timestamp' | 'cpu';
  readonly #ctx: GpuContext;
  readonly #capacity: number; // passes per collect()
  readonly #labels: string[] = [];
  readonly #querySet?: GPUQuerySet;
  readonly #resolveBuffer?: GPUBuffer; // [2 * capacity] u64 timestamps, ns
  #cpuStart = 0;

  constructor(ctx: GpuContext, capacity = 512) {
    this.#ctx = ctx;
    this.#capacity = capacity;
    this.mode = ctx.capabilities.timestampQuery ? 'timestamp' : 'cpu';
    if (this.mode === 'timestamp') {
      this.#querySet = ctx.device.createQuerySet({ label: 'Profiler.queries', type: 'timestamp', count: 2 * capacity });
      this.#resolveBuffer = ctx.allocateNow({
        label: 'Profiler.resolve',
        owner: 'profiler',
        size: 16 * capacity,
        usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      });
    }
  }

  /** A compute-pass descriptor that records the pass's start and end time under `label`. */
  passDescriptor(label: string): GPUComputePassDescriptor {
    if (this.mode === 'cpu' || !this.#querySet) {
      if (this.#labels.length === 0) this.#cpuStart = performance.now();
      this.#labels.push(label);
      return { label };
    }
    if (this.#labels.length >= this.#capacity) throw new Error(`Profiler: more than ${this.#capacity} passes before collect()`);
    const i = this.#labels.push(label) - 1;
    return { label, timestampWrites: { querySet: this.#querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } };
  }

  /** Call once per command encoder that used passDescriptor(), before finish(). */
  resolve(encoder: GPUCommandEncoder): void {
    if (!this.#querySet || !this.#resolveBuffer || this.#labels.length === 0) return;
    encoder.resolveQuerySet(this.#querySet, 0, 2 * this.#labels.length, this.#resolveBuffer, 0);
  }

  /** Waits for submitted work, returns the timings since the last collect() and starts afresh. */
  async collect(): Promise<PassTiming[]> {
    const labels = this.#labels.splice(0);
    if (labels.length === 0) return [];
    if (this.mode === 'cpu' || !this.#resolveBuffer) {
      await this.#ctx.device.queue.onSubmittedWorkDone();
      const us = (performance.now() - this.#cpuStart) * 1000;
      // Without timestamps only the whole submission is measured; passes share it evenly.
      return labels.map((label) => ({ label, us: us / labels.length, source: 'cpu' }));
    }
    const raw = new BigUint64Array(await this.#ctx.read(this.#resolveBuffer, 16 * labels.length));
    return labels.map((label, i) => ({ label, us: Number(raw[2 * i + 1]! - raw[2 * i]!) / 1000, source: 'timestamp' }));
  }
}

/**
 * GPU (or wall) µs of one compute pass that encodes `dispatches` `iterations` times over — how benchmarks
 * time kernels too short for Dawn's ~65 µs timestamp resolution on their own.
 */
export async function timeRepeated(ctx: GpuContext, profiler: Profiler, dispatches: readonly Dispatch[], iterations: number, label = 'bench'): Promise<number> {
  const encoder = ctx.device.createCommandEncoder({ label });
  const pass = encoder.beginComputePass(profiler.passDescriptor(label));
  for (let i = 0; i < iterations; i++) for (const d of dispatches) encodeDispatch(pass, d);
  pass.end();
  profiler.resolve(encoder);
  ctx.device.queue.submit([encoder.finish()]);
  const [timing] = await profiler.collect();
  return timing?.us ?? 0;
}
