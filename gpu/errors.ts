// Typed errors raised by the gpu/ layer. Plain classes with a `code`, so the engine can turn them into
// `error` trace events without string matching. Imports nothing.

export type GpuErrorCode =
  | 'no-webgpu' // navigator.gpu (or the Node binding) is absent
  | 'no-adapter' // requestAdapter() returned null
  | 'device-failed' // requestDevice() rejected
  | 'out-of-memory' // an allocation hit an out-of-memory error scope
  | 'validation' // a WebGPU validation error was captured by an error scope
  | 'device-lost'; // the device was lost while in use

export class GpuError extends Error {
  override readonly name = 'GpuError';
  constructor(
    readonly code: GpuErrorCode,
    message: string,
  ) {
    super(message);
  }
}
