// RMSNorm: out = x · 1/sqrt(mean(x²) + eps) · weight, applied to each token's row on its own.
//   x: [T, dim] f32      weight: [dim] f32 (the learned per-channel gain)      out: [T, dim] f32
// One workgroup normalizes one row. Its invocations stride across the row summing squares, the workgroup adds
// the partial sums in a tree (as GEMV does), and then every invocation scales its own columns.

struct RmsNormParams {
  nTokens: u32,
  dim: u32,
  eps: f32,
}

// Invocations per workgroup; must be a power of two for the tree reduction below.
override WorkgroupSize: u32 = 256u;

@group(0) @binding(0) var<uniform> params: RmsNormParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;          // [T, dim]
@group(0) @binding(2) var<storage, read> weight: array<f32>;     // [dim]
@group(0) @binding(3) var<storage, read_write> out: array<f32>;  // [T, dim]

var<workgroup> partial: array<f32, WorkgroupSize>;  // one partial sum of squares per invocation

@compute @workgroup_size(WorkgroupSize)
fn main(@builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  // One workgroup per row; the grid may be spread over x and y (see grid1d in dispatch.ts).
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.nTokens) {
    return; // the same for every invocation of this workgroup, so the barriers below stay uniform
  }
  let base = row * params.dim;

  // 1. Each invocation sums the squares of columns lid, lid + WorkgroupSize, lid + 2·WorkgroupSize, …
  var acc = 0.0;
  for (var c = lid; c < params.dim; c += WorkgroupSize) {
    let v = x[base + c];
    acc += v * v;
  }
  partial[lid] = acc;
  workgroupBarrier();

  // 2. Tree reduction: after it, partial[0] holds the sum of squares of the whole row.
  for (var stride = WorkgroupSize / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      partial[lid] += partial[lid + stride];
    }
    workgroupBarrier();
  }

  // 3. Every invocation reads the shared total and scales its own columns. eps keeps an all-zero row finite.
  let scale = inverseSqrt(partial[0] / f32(params.dim) + params.eps);
  for (var c = lid; c < params.dim; c += WorkgroupSize) {
    out[base + c] = x[base + c] * scale * weight[c];
  }
}
