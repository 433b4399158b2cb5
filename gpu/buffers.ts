// The buffer registry: every live GPUBuffer the app made, with its label, owner and size, so memory can be
// reported by owner ("weights", "kv", "scratch") and everything destroyed on dispose. Imports nothing.

export interface BufferRecord {
  readonly label: string;
  readonly owner: string;
  readonly size: number; // bytes
}

export class BufferRegistry {
  readonly #live = new Map<GPUBuffer, BufferRecord>();
  readonly #serial = new Map<GPUBuffer, number>(); // creation order, for since()
  #next = 0;

  track(buffer: GPUBuffer, record: BufferRecord): GPUBuffer {
    this.#live.set(buffer, record);
    this.#serial.set(buffer, this.#next++);
    return buffer;
  }

  /** A mark for since(): everything tracked after this call. */
  mark(): number {
    return this.#next;
  }

  /** The live buffers tracked since `mark`, e.g. the uniforms a dispatch plan made, to release with it. */
  since(mark: number): GPUBuffer[] {
    return [...this.#serial].filter(([, n]) => n >= mark).map(([b]) => b);
  }

  /** Destroys one buffer and forgets it. */
  release(buffer: GPUBuffer): void {
    this.#serial.delete(buffer);
    if (this.#live.delete(buffer)) buffer.destroy();
  }

  /** Destroys every buffer of one owner; returns the bytes released. */
  releaseOwner(owner: string): number {
    let bytes = 0;
    for (const [buffer, record] of this.#live) {
      if (record.owner !== owner) continue;
      bytes += record.size;
      this.release(buffer);
    }
    return bytes;
  }

  /** Live bytes grouped by owner, e.g. { weights: 1056512, kv: 655360 }. */
  bytesByOwner(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const { owner, size } of this.#live.values()) out[owner] = (out[owner] ?? 0) + size;
    return out;
  }

  get count(): number {
    return this.#live.size;
  }

  get totalBytes(): number {
    let bytes = 0;
    for (const { size } of this.#live.values()) bytes += size;
    return bytes;
  }

  /** The largest single live buffer, in bytes (0 when none): tests use it to prove "validate before you allocate". */
  get largestBytes(): number {
    let max = 0;
    for (const { size } of this.#live.values()) max = Math.max(max, size);
    return max;
  }

  disposeAll(): void {
    for (const buffer of this.#live.keys()) buffer.destroy();
    this.#live.clear();
    this.#serial.clear();
  }
}
