// SwiGLU, the gated activation of the Llama MLP: out = SiLU(gate) · up, with SiLU(g) = g · sigmoid(g).
//   gate: [T, hiddenDim] f32 (= w1 · x)     up: [T, hiddenDim] f32 (= w3 · x)     out: [T, hiddenDim] f32
// Purely elementwise, so the three buffers are treated as flat arrays of n = T · hiddenDim elements.
// One invocation per element; the grid may be 2-D when n is large (see grid1d in dispatch.ts).

struct SwigluParams {
  n: u32,
}

// Invocations per workgroup.
override WorkgroupSize: u32 = 256u;

@group(0) @binding(0) var<uniform> params: SwigluParams;
@group(0) @binding(1) var<storage, read> gate: array<f32>;       // [n]
@group(0) @binding(2) var<storage, read> up: array<f32>;         // [n]
@group(0) @binding(3) var<storage, read_write> out: array<f32>;  // [n]

@compute @workgroup_size(WorkgroupSize)
fn main(@builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WorkgroupSize + lid;
  if (i >= params.n) {
    return;
  }
  let g = gate[i];
  // sigmoid(g) = 1 / (1 + e^-g). For very negative g, e^-g overflows to +inf and g / inf = -0, the right limit.
  let silu = g / (1.0 + exp(-g));
  out[i] = silu * up[i];
}
