// MATMUL_Q8: y = x · Wᵀ with W stored as int8 and dequantized inside the kernel — the speculative draft's
// Linear layers (issue 7). W takes a quarter of the memory of f32, and decode is memory-bound, so a quarter of
// the bytes is (nearly) a quarter of the time.
//   x:      [T, K] f32, read as [T, K/4] vec4f (K is a multiple of 4 because groupSize is)
//   q:      [N, K/4] u32: four int8 weights per word; byte j (bits 8j..8j+7) is column 4i + j of the row
//   scales: [N, K/groupSize] f32: one scale per groupSize consecutive weights of a row
//   y:      [T, N] f32, y[t, n] = Σ_k x[t, k] · int8(n, k) · scales[n, k / groupSize]
//
// RowLanes invocations share one output row n and up to TokenTile tokens. Lane l reads words l, l + RowLanes,
// l + 2·RowLanes, … of the row (so neighbouring lanes read neighbouring words: one wide memory transaction),
// turns each word into four f32 weights once, and multiplies them into every token's running sum. In a decode
// step (T = 1..16, TokenTile ≥ T) every weight byte is read from memory exactly once. The lanes' partial sums
// are then added up in workgroup memory. A workgroup holds RowsPerWorkgroup such rows; longer passes (prefill)
// are cut into chunks of TokenTile tokens, one chunk per workgroup.
//
//               words of row n →
//   q row n   [ l0 l1 … l31 | l0 l1 … l31 | … ]    lane l: w4 = unpack(word) · scale
//                                                  acc[t] += dot(w4, x[t0 + t, the same 4 columns])  ∀ t
//   then      y[t0 + t, n] = Σ_lanes acc[t]        (a tree reduction over the RowLanes lanes)

struct MatmulQ8Params {
  nTokens: u32,   // T
  n: u32,         // N: output features (rows of W)
  k: u32,         // K: input features (columns of x and W)
  groupSize: u32, // weights per scale, a multiple of 4 that divides K
}

// Invocations that share one output row; a power of two (1..256) for the tree reduction.
override RowLanes: u32 = 32u;
// Output rows per workgroup: the workgroup is RowLanes × RowsPerWorkgroup invocations.
override RowsPerWorkgroup: u32 = 4u;
// Tokens per workgroup, 1..MaxTokenTile. A pipeline constant, so the token loops below have a fixed trip
// count and the compiler can unroll them and keep acc[] in registers.
override TokenTile: u32 = 16u;
// The size of the accumulator array: WGSL sizes private arrays with constants only, not overrides.
const MaxTokenTile: u32 = 16u;

@group(0) @binding(0) var<uniform> params: MatmulQ8Params;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;        // [T, K/4]
@group(0) @binding(2) var<storage, read> q: array<u32>;          // [N, K/4]
@group(0) @binding(3) var<storage, read> scales: array<f32>;     // [N, K/groupSize]
@group(0) @binding(4) var<storage, read_write> y: array<f32>;    // [T, N]

// Every lane's partial sums: [RowsPerWorkgroup, TokenTile, RowLanes], lanes innermost for the reduction.
var<workgroup> partial: array<f32, RowsPerWorkgroup * TokenTile * RowLanes>;

// Four int8 in one u32 → four f32. Portable (no packed_4x8_integer_dot_product needed): shift byte j up to
// the top of an i32, then shift it back down arithmetically, which copies its sign bit into the high bits
// (sign extension). Byte 3 is already on top; byte 0 has to move up 24 bits.
fn unpack_int8x4(word: u32) -> vec4f {
  let v = bitcast<i32>(word);
  let top = vec4i(v << 24u, v << 16u, v << 8u, v);  // byte j of word now in bits 24..31 of lane j
  return vec4f(top >> vec4u(24u));                  // arithmetic shift: −128..127
}

@compute @workgroup_size(RowLanes * RowsPerWorkgroup)
fn main(@builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let n_tokens = params.nTokens;
  let n = params.n;
  let k4 = params.k / 4u;                      // words per row of q, vec4s per row of x
  let group_words = params.groupSize / 4u;     // words per scale
  let groups = params.k / params.groupSize;    // scales per row

  // Workgroup number → (token chunk, block of rows). The grid may be spread over x and y (grid1d).
  let row_blocks = (n + RowsPerWorkgroup - 1u) / RowsPerWorkgroup;
  let linear = wid.x + wid.y * nwg.x;
  let chunk = linear / row_blocks;
  if (chunk >= (n_tokens + TokenTile - 1u) / TokenTile) {
    return; // a padding workgroup of the 2-D grid; the same for the whole workgroup, so barriers stay legal
  }
  let lane = lid % RowLanes;
  let local_row = lid / RowLanes;
  let row = (linear % row_blocks) * RowsPerWorkgroup + local_row;
  let in_range = row < n;        // rows past N (in the last block) add nothing but still meet the barriers
  let t0 = chunk * TokenTile;    // first token of this workgroup's chunk
  let last = n_tokens - 1u;      // tokens past the end read the last token's row again (never written)

  var acc: array<f32, MaxTokenTile>;  // this lane's running sum for each token, zero-initialised
  if (in_range) {
    for (var j = lane; j < k4; j += RowLanes) {
      // Load the word once, dequantize it once, use it for every token of the chunk.
      let w4 = unpack_int8x4(q[row * k4 + j]) * scales[row * groups + j / group_words];
      for (var t = 0u; t < TokenTile; t++) {
        acc[t] += dot(w4, x[min(t0 + t, last) * k4 + j]);
      }
    }
  }

  // Tree reduction over the lanes of each row, all tokens at once: halve the active lanes each round.
  let base = local_row * TokenTile * RowLanes;  // this row's [TokenTile, RowLanes] slice of partial
  for (var t = 0u; t < TokenTile; t++) {
    partial[base + t * RowLanes + lane] = acc[t];
  }
  workgroupBarrier();
  for (var stride = RowLanes / 2u; stride > 0u; stride /= 2u) {
    if (lane < stride) {
      for (var t = 0u; t < TokenTile; t++) {
        partial[base + t * RowLanes + lane] += partial[base + t * RowLanes + lane + stride];
      }
    }
    workgroupBarrier();
  }
  // Lane t writes token t's sum (lanes take turns when there are more tokens than lanes).
  for (var t = lane; t < TokenTile; t += RowLanes) {
    if (in_range && t0 + t < n_tokens) {
      y[(t0 + t) * n + row] = partial[base + t * RowLanes];
    }
  }
}
