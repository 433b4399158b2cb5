// GEMV: y = W · x, one matrix-vector product (the decode step's workhorse).
//   W: [rows, cols] f32, row-major      x: [cols] f32      y: [rows] f32
// One workgroup computes one output row: its invocations stride across the row's columns, each keeping a
// private partial sum, then the workgroup adds the partial sums up in a tree.

struct GemvParams {
  rows: u32,
  cols: u32,
}

// Invocations per workgroup; must be a power of two for the tree reduction below.
override WorkgroupSize: u32 = 256u;

@group(0) @binding(0) var<uniform> params: GemvParams;
@group(0) @binding(1) var<storage, read> w: array<f32>;        // [rows, cols]
@group(0) @binding(2) var<storage, read> x: array<f32>;        // [cols]
@group(0) @binding(3) var<storage, read_write> y: array<f32>;  // [rows]

var<workgroup> partial: array<f32, WorkgroupSize>;  // one partial sum per invocation

@compute @workgroup_size(WorkgroupSize)
fn main(@builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  // The grid may be spread over x and y when rows > 65,535 (see grid1d in dispatch.ts).
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) {
    return; // the same for every invocation of this workgroup, so the barriers below stay uniform
  }

  // Each invocation sums columns lid, lid + WorkgroupSize, lid + 2·WorkgroupSize, …
  let base = row * params.cols;
  var acc = 0.0;
  for (var c = lid; c < params.cols; c += WorkgroupSize) {
    acc += w[base + c] * x[c];
  }
  partial[lid] = acc;
  workgroupBarrier();

  // Tree reduction: halve the number of active invocations each round until partial[0] holds the row's sum.
  for (var stride = WorkgroupSize / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      partial[lid] += partial[lid + stride];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    y[row] = partial[0];
  }
}
