// How close two f32 results are: the project's one error measure for kernels, shared by the GPU tests and
// the engine's GEMV self-check. Imports nothing.

/** Max |a - b| divided by the largest |b| (1 when b is all zeros). */
export function relMaxError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let maxDiff = 0;
  let maxMag = 0;
  for (let i = 0; i < a.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
    maxMag = Math.max(maxMag, Math.abs(b[i]!));
  }
  return maxDiff / (maxMag || 1);
}
