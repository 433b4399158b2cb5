// CPU reference for the stream-read kernel: what each workgroup's output holds, in plain loops. Workgroup g
// of W (each of size wg) reads vec4s g·wg + l + j·W·wg; its output is the sum of those vec4s' elements.

export function streamReadRef(src: Float32Array, workgroups: number, workgroupSize: number): Float32Array {
  const out = new Float32Array(workgroups);
  const n4 = src.length / 4;
  const stride = workgroups * workgroupSize;
  for (let g = 0; g < workgroups; g++) {
    let acc = 0;
    for (let l = 0; l < workgroupSize; l++) {
      for (let i = g * workgroupSize + l; i < n4; i += stride) acc += src[4 * i]! + src[4 * i + 1]! + src[4 * i + 2]! + src[4 * i + 3]!;
    }
    out[g] = acc;
  }
  return out;
}
