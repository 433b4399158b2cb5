// LINEAR: y[t, row] = Σ_k W[row, k] · x'[t, k] for T ≤ 16 tokens — the decode step's Linear layers, with
// the work around them fused in so the activations make no extra round trips through memory:
//   prologue  x' = RMSNorm(x[t]) ⊙ normWeight (HasNorm), token t may read x row gather_rows[t] (Gather)
//   epilogue  main:        y = result, or y += result (Accumulate: the residual add)
//             main_swiglu: y = silu(W1 · x') · (W3 · x')
//             main_qkv:    in linear_qkv.wgsl (q, k with RoPE; k and v straight into the paged KV pools)
//   x: [xRows, K] f32      W: [N, K] f32 (PyTorch Linear layout)      y: [T, N] f32
//
// Memory is the bottleneck of a GEMV: every weight is used once per token, so the kernel is designed around
// reading W once, in wide, neighbouring loads:
//  - W and x are read as vec4f (K % 4 == 0): one 16-byte load per invocation, 512 bytes per 32 lanes.
//  - A workgroup owns Rows output rows. All its invocations walk K together (invocation i takes vec4 columns
//    i, i + WorkgroupSize, …), each loaded W vec4 is multiplied with every token's x vec4 while it is in a
//    register, and each x vec4 (loaded once per workgroup step) serves all Rows rows.
//  - Each invocation keeps Values partial sums, acc[(m·Rows + r)·Tokens + t] for matrix m, row r, token t,
//    plus (HasNorm) token t's partial sum of squares at acc[Mats·Rows·Tokens + t]. reduce_values (from the
//    file the host puts in front: subgroups, or a workgroup-memory tree) adds them over the workgroup.
//  - RMSNorm folds in: Σ_k W[row,k] · (x[t,k]·r_t·nw[k]) = r_t · Σ_k W[row,k]·x[t,k]·nw[k], with
//    r_t = 1/sqrt(Σ_k x[t,k]² / K + eps). The sum of squares rides along in the same loop over K, and r_t is
//    applied once after the reduction.
// Rows, Tokens, Mats and HasNorm size private arrays, which `override` cannot do, so the host fills them in
// with specialize().

struct LinearParams {
  n: u32,       // N: output rows (main_qkv: qDim)
  k: u32,       // K: input features
  nTokens: u32, // T the dispatch was made for (= Tokens)
  xRows: u32,   // rows x holds; a gathered row ≥ xRows reads as zeros
  eps: f32,     // RMSNorm epsilon
  kvDim: u32,   // main_qkv: nKvHeads · headDim
  headDim: u32, // main_qkv
  nSlots: u32,  // main_qkv: rows of each KV pool
}

// The per-pass uniform (gpu/kernels/step.ts): tokens t ≥ nTokens are skipped (pos0 unused here).
struct StepParams {
  nTokens: u32,
  pos0: u32,
}

const Rows: u32 = {{ROWS}}u;       // output rows per workgroup
const Tokens: u32 = {{TOKENS}}u;   // T
const Mats: u32 = {{MATS}}u;       // weight matrices summed per row: 2 for SwiGLU (W1, W3), else 1
const HasNorm: bool = {{HAS_NORM}}; // RMSNorm prologue
// Partial sums per invocation: Mats·Rows·Tokens dot products, then Tokens sums of squares for RMSNorm.
const Values: u32 = Mats * Rows * Tokens + select(0u, Tokens, HasNorm);
const NoRow: u32 = 0xffffffffu;    // "this token reads no input row"

// Invocations per workgroup; a power of two.
override WorkgroupSize: u32 = 128u;
// Token t reads x row gather_rows[t] instead of row t (the logits of each sequence's last token).
override Gather: bool = false;
// main: y += result instead of y = result.
override Accumulate: bool = false;

@group(0) @binding(0) var<uniform> params: LinearParams;
@group(0) @binding(1) var<uniform> step_params: StepParams;
@group(0) @binding(2) var<storage, read> x: array<vec4f>;            // [xRows, K / 4]
@group(0) @binding(3) var<storage, read> gather_rows: array<u32>;    // [T] (bound to x when Gather is off)
@group(0) @binding(4) var<storage, read> norm_weight: array<vec4f>;  // [K / 4] (bound to x when HasNorm is off)
@group(0) @binding(5) var<storage, read> w: array<vec4f>;            // [N, K / 4] (main_swiglu: W1)
@group(0) @binding(6) var<storage, read> w_up: array<vec4f>;         // [N, K / 4] main_swiglu: W3
@group(0) @binding(9) var<storage, read_write> y: array<f32>;        // [T, N]

// The x row token t reads (r), or NoRow for tokens past this pass (t ≥ step.nTokens) and rows x lacks.
fn checked_row(t: u32, r: u32) -> u32 {
  let n_tok = min(params.nTokens, step_params.nTokens);
  return select(NoRow, r, t < n_tok && r < params.xRows);
}

// Every token's x row: row t, or gather_rows[t] when Gather is on.
fn input_rows() -> array<u32, Tokens> {
  var rows: array<u32, Tokens>;
  for (var t = 0u; t < Tokens; t++) {
    var r = t;
    if (Gather) {
      r = gather_rows[t];
    }
    rows[t] = checked_row(t, r);
  }
  return rows;
}

// Loads vec4 column i of every token's input, norm weight folded in, into xs; adds the sums of squares.
fn load_inputs(i: u32, rows: ptr<function, array<u32, Tokens>>, xs: ptr<function, array<vec4f, Tokens>>,
               acc: ptr<function, array<f32, Values>>) {
  let k4 = params.k / 4u;
  var nw = vec4f(1.0);
  if (HasNorm) {
    nw = norm_weight[i];
  }
  for (var t = 0u; t < Tokens; t++) {
    var xv = vec4f(0.0);
    if ((*rows)[t] != NoRow) {
      xv = x[(*rows)[t] * k4 + i];
    }
    (*xs)[t] = xv * nw;
    if (HasNorm) {
      (*acc)[Mats * Rows * Tokens + t] += dot(xv, xv);
    }
  }
}

// Token t's RMSNorm scale r_t, once the reduction is done (1 without the prologue).
fn norm_scale(t: u32) -> f32 {
  if (HasNorm) {
    return inverseSqrt(total(Mats * Rows * Tokens + t) / f32(params.k) + params.eps);
  }
  return 1.0;
}

@compute @workgroup_size(WorkgroupSize)
fn main(@builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  // This workgroup's rows: row0 … row0 + Rows − 1. The grid may be 2-D (see grid1d in dispatch.ts).
  let row0 = (wid.x + wid.y * nwg.x) * Rows;
  if (row0 >= params.n) {
    return; // a padding workgroup; uniform across the workgroup, so the barriers below stay legal
  }
  let k4 = params.k / 4u;
  var rows = input_rows();
  var acc: array<f32, Values>; // zero-initialised

  for (var i = lid; i < k4; i += WorkgroupSize) {
    var xs: array<vec4f, Tokens>;
    load_inputs(i, &rows, &xs, &acc);
    for (var r = 0u; r < Rows; r++) {
      if (row0 + r < params.n) {
        let wv = w[(row0 + r) * k4 + i]; // one weight load, used by every token
        for (var t = 0u; t < Tokens; t++) {
          acc[r * Tokens + t] += dot(wv, xs[t]);
        }
      }
    }
  }
  reduce_values(&acc, lid);

  // Epilogue: one invocation per (row, token) output; neighbouring invocations write neighbouring rows.
  for (var o = lid; o < Rows * Tokens; o += WorkgroupSize) {
    let r = o % Rows;
    let t = o / Rows;
    let row = row0 + r;
    if (row < params.n && rows[t] != NoRow) {
      let v = norm_scale(t) * total(r * Tokens + t);
      let at = t * params.n + row;
      if (Accumulate) {
        y[at] += v;
      } else {
        y[at] = v;
      }
    }
  }
}

@compute @workgroup_size(WorkgroupSize)
fn main_swiglu(@builtin(workgroup_id) wid: vec3u,
               @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_index) lid: u32) {
  let row0 = (wid.x + wid.y * nwg.x) * Rows;
  if (row0 >= params.n) {
    return;
  }
  let k4 = params.k / 4u;
  var rows = input_rows();
  var acc: array<f32, Values>; // [gate rows | up rows | sums of squares]

  for (var i = lid; i < k4; i += WorkgroupSize) {
    var xs: array<vec4f, Tokens>;
    load_inputs(i, &rows, &xs, &acc);
    for (var r = 0u; r < Rows; r++) {
      if (row0 + r < params.n) {
        let at = (row0 + r) * k4 + i;
        let gv = w[at];    // W1: the gate
        let uv = w_up[at]; // W3: the up projection
        for (var t = 0u; t < Tokens; t++) {
          acc[r * Tokens + t] += dot(gv, xs[t]);
          acc[(Rows + r) * Tokens + t] += dot(uv, xs[t]);
        }
      }
    }
  }
  reduce_values(&acc, lid);

  for (var o = lid; o < Rows * Tokens; o += WorkgroupSize) {
    let r = o % Rows;
    let t = o / Rows;
    let row = row0 + r;
    if (row < params.n && rows[t] != NoRow) {
      let scale = norm_scale(t);
      let g = scale * total(r * Tokens + t);
      let u = scale * total((Rows + r) * Tokens + t);
      // silu(g) = g · sigmoid(g) = g / (1 + e^-g); for very negative g, e^-g → inf and g / inf → -0.
      y[t * params.n + row] = g / (1.0 + exp(-g)) * u;
    }
  }
}
