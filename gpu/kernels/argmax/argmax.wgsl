// Argmax: out[r] = the index of the largest value in row r of x (the lowest such index on ties).
//   x: [rows, n] f32 (e.g. logits, n = vocabSize)      out: [rows] u32
// Greedy sampling runs this on the GPU so only 4 bytes per row come back to the CPU.
// One workgroup per row: each invocation finds the best of its strided columns, then the workgroup keeps
// the better of each pair in a tree, comparing (value, index) so that ties resolve to the lowest index
// whatever order the reduction visits them in. Inputs are assumed NaN-free.

struct ArgmaxParams {
  rows: u32,
  n: u32,
}

// Invocations per workgroup; must be a power of two for the tree reduction below.
override WorkgroupSize: u32 = 256u;

// "No candidate yet": an invocation whose strided columns are all past n (when n < WorkgroupSize).
const NONE: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> params: ArgmaxParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;          // [rows, n]
@group(0) @binding(2) var<storage, read_write> out: array<u32>;  // [rows]

var<workgroup> best_value: array<f32, WorkgroupSize>;  // each invocation's best value so far
var<workgroup> best_index: array<u32, WorkgroupSize>;  // … and its column (NONE if it has none)

// Is candidate (v, i) better than the current best (bv, bi)? Larger wins; on a tie the lower index wins.
// Any real candidate beats NONE, even a -inf one.
fn better(v: f32, i: u32, bv: f32, bi: u32) -> bool {
  return bi == NONE || v > bv || (v == bv && i < bi);
}

@compute @workgroup_size(WorkgroupSize)
fn main(@builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  // One workgroup per row; the grid may be spread over x and y (see grid1d in dispatch.ts).
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) {
    return; // the same for every invocation of this workgroup, so the barriers below stay uniform
  }
  let base = row * params.n;

  // 1. Scan columns lid, lid + WorkgroupSize, …  Columns rise, so keeping only strictly larger values
  //    already keeps the lowest index among equal ones.
  var bv = 0.0;
  var bi = NONE;
  for (var c = lid; c < params.n; c += WorkgroupSize) {
    let v = x[base + c];
    if (better(v, c, bv, bi)) {
      bv = v;
      bi = c;
    }
  }
  best_value[lid] = bv;
  best_index[lid] = bi;
  workgroupBarrier();

  // 2. Tree reduction over (value, index) pairs; best_index[0] ends up holding the row's argmax.
  for (var stride = WorkgroupSize / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      let v = best_value[lid + stride];
      let i = best_index[lid + stride];
      if (i != NONE && better(v, i, best_value[lid], best_index[lid])) {
        best_value[lid] = v;
        best_index[lid] = i;
      }
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    out[row] = best_index[0];
  }
}
