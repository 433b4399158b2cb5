// GEMV, one output element per invocation: y = W · x with no workgroup memory and no barriers — for a few
// tokens at once (a decode batch): y[t, :] = W · x[t, :] for t < nTokens. Invocation i computes row
// i % rows of token i / rows, so the tokens of a batch run side by side, and the invocations that share a
// weight row find it in cache.
//   W: [rows, cols] f32, row-major      x: [nTokens, cols] f32      y: [nTokens, rows] f32
// Each invocation walks its row's columns alone and writes one output. When the rows are short (cols of a
// few hundred, as in the small models this lab runs), this beats a workgroup-per-row reduction: there is no
// synchronisation at all, which matters most on software adapters (SwiftShader runs barriers as context
// switches) and for launch-bound decode on real GPUs. Long rows go to the `gemv` kernel instead.

struct GemvRowsParams {
  rows: u32,
  cols: u32,
  nTokens: u32,
}

// Rows per workgroup (one per invocation).
override WorkgroupSize: u32 = 64u;

@group(0) @binding(0) var<uniform> params: GemvRowsParams;
@group(0) @binding(1) var<storage, read> w: array<f32>;        // [rows, cols]
@group(0) @binding(2) var<storage, read> x: array<f32>;        // [nTokens, cols]
@group(0) @binding(3) var<storage, read_write> y: array<f32>;  // [nTokens, rows]

@compute @workgroup_size(WorkgroupSize)
fn main(@builtin(global_invocation_id) gid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  // The grid may be spread over x and y when there are many rows (see grid1d in dispatch.ts).
  let i = gid.x + gid.y * nwg.x * WorkgroupSize;
  if (i >= params.rows * params.nTokens) {
    return;
  }
  let row = i % params.rows;
  let t = i / params.rows;
  let base = row * params.cols;  // this row of W
  let xt = t * params.cols;      // this token's input row
  // Four independent partial sums let the multiply-adds overlap instead of waiting on one another.
  var acc = vec4f(0.0);
  let cols4 = params.cols & ~3u;
  for (var c = 0u; c < cols4; c += 4u) {
    acc += vec4f(w[base + c], w[base + c + 1u], w[base + c + 2u], w[base + c + 3u]) *
           vec4f(x[xt + c], x[xt + c + 1u], x[xt + c + 2u], x[xt + c + 3u]);
  }
  var sum = (acc.x + acc.y) + (acc.z + acc.w);
  for (var c = cols4; c < params.cols; c += 1u) {  // the last cols % 4 columns
    sum += w[base + c] * x[xt + c];
  }
  y[t * params.rows + row] = sum;
}
