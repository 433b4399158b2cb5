// MATMUL (tiled): y = x · wᵀ for a pass of T > 1 tokens — every Linear layer of a prefill or a verify pass.
//   x: [T, K] f32 (one activation row per token)     w: [N, K] f32 (PyTorch Linear layout: one row per output)
//   y: [T, N] f32, y[t, j] = Σ_c x[t, c] · w[j, c]
//
// Why tiles: computed naively, every token would stream the whole weight matrix from memory again. Here one
// workgroup owns a TileSize × TileSize block of y (TileSize tokens × TileSize outputs) and walks along K in
// steps of TileK. At each step its invocations first copy a [TileSize, TileK] slice of x and a [TileSize, TileK]
// slice of w into fast workgroup memory, wait at a barrier, and then every invocation reads those slices many
// times from there. So each weight tile comes from memory once per tile of tokens, not once per token.
//
//          K →                               K →
//   x  ┌──┬──┬──┐  TileSize tokens    w  ┌──┬──┬──┐  TileSize outputs     y[tile] = Σ over K steps of
//      │▓▓│  │  │                         │▓▓│  │  │                                x_tile · w_tileᵀ
//      └──┴──┴──┘                         └──┴──┴──┘
//        TileK                              TileK
//
// One invocation computes one element of the output tile: local_invocation_id.x picks the output j within
// the tile, .y picks the token t.

struct MatmulParams {
  nTokens: u32, // T
  n: u32,       // N: output features (rows of w)
  k: u32,       // K: input features (columns of x and w)
}

// Output tile edge: the workgroup is TileSize × TileSize invocations (16 × 16 = 256 by default).
override TileSize: u32 = 16u;
// How many K columns each step brings into workgroup memory.
override TileK: u32 = 16u;
// Row stride of the tiles in workgroup memory. The +1 pad puts consecutive rows in different memory banks,
// so the invocations reading w_tile[j][c] for 16 different j at once do not queue on one bank.
const Pad: u32 = 1u;

@group(0) @binding(0) var<uniform> params: MatmulParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;        // [T, K]
@group(0) @binding(2) var<storage, read> w: array<f32>;        // [N, K]
@group(0) @binding(3) var<storage, read_write> y: array<f32>;  // [T, N]

var<workgroup> x_tile: array<f32, TileSize * (TileK + Pad)>;  // [TileSize tokens, TileK (+ pad)]
var<workgroup> w_tile: array<f32, TileSize * (TileK + Pad)>;  // [TileSize outputs, TileK (+ pad)]

@compute @workgroup_size(TileSize, TileSize)
fn main(@builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u,
        @builtin(local_invocation_index) lidx: u32) {
  let n_tokens = params.nTokens;
  let n = params.n;
  let k = params.k;
  let tiles_t = (n_tokens + TileSize - 1u) / TileSize;
  let tiles_n = (n + TileSize - 1u) / TileSize;

  // Workgroup number → (token tile, output tile). The grid may be spread over x and y (grid1d in dispatch.ts).
  // Token tiles vary fastest, so workgroups that run side by side share one weight tile and the weights
  // come from DRAM about once in all.
  let linear = wid.x + wid.y * nwg.x;
  let tile_t = linear % tiles_t;
  let tile_n = linear / tiles_t;
  if (tile_n >= tiles_n) {
    return; // a padding workgroup of the 2-D grid; uniform across the workgroup, so barriers stay legal
  }
  let t0 = tile_t * TileSize;  // first token of this tile
  let j0 = tile_n * TileSize;  // first output of this tile
  let stride = TileK + Pad;

  var acc = 0.0;
  for (var k0 = 0u; k0 < k; k0 += TileK) {
    // 1. Cooperative load: the TileSize² invocations copy TileSize·TileK elements of x and of w, walking along
    //    K so that neighbouring invocations read neighbouring addresses. Past the edges of x, w or K we store
    //    zeros, which add nothing to the sums below.
    for (var i = lidx; i < TileSize * TileK; i += TileSize * TileSize) {
      let r = i / TileK;  // row within the tile
      let c = i % TileK;  // column within this K step
      let col = k0 + c;
      var xv = 0.0;
      if (t0 + r < n_tokens && col < k) {
        xv = x[(t0 + r) * k + col];
      }
      var wv = 0.0;
      if (j0 + r < n && col < k) {
        wv = w[(j0 + r) * k + col];
      }
      x_tile[r * stride + c] = xv;
      w_tile[r * stride + c] = wv;
    }
    workgroupBarrier(); // the tiles are complete before anyone reads them

    // 2. Multiply out of workgroup memory: a dot product of token lid.y's slice with output lid.x's slice.
    for (var c = 0u; c < TileK; c++) {
      acc += x_tile[lid.y * stride + c] * w_tile[lid.x * stride + c];
    }
    workgroupBarrier(); // everyone is done reading before the next step overwrites the tiles
  }

  let t = t0 + lid.y;
  let j = j0 + lid.x;
  if (t < n_tokens && j < n) {
    y[t * n + j] = acc;
  }
}
