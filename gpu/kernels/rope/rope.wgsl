// RoPE (rotary position embedding): rotate pairs of each head's query or key by an angle that grows with
// the token's position, so that q·k in attention depends on how far apart two tokens are.
//   x:     [T, nHeads, headDim] f32, rotated in place (called once for q, once for k with nKvHeads)
//   freqs: [headDim / 2] f32, freqs[i] = theta^(-2i / headDim), made once on the host in f32
// Token t of the pass sits at absolute position positions[t]: one sequence's tokens have consecutive
// positions, a batch mixes sequences at different positions (the model writes them before each pass).
// Pair i turns by angle = p · freqs[i]: (a, b) → (a·cos − b·sin, a·sin + b·cos). Which two elements form
// pair i depends on the checkpoint's convention:
//   Interleaved = true:  (x[2i], x[2i + 1])             llama2.c's run.c, Meta's original Llama code
//   Interleaved = false: (x[i],  x[i + headDim / 2])    Hugging Face's rotate_half
// One invocation rotates one pair.

struct RopeParams {
  nTokens: u32,
  nHeads: u32,
  headDim: u32,
}

struct StepParams {
  nTokens: u32,
  pos0: u32,
}

// Invocations per workgroup.
override WorkgroupSize: u32 = 256u;
// Pairing convention, see above.
override Interleaved: bool = true;

@group(0) @binding(0) var<uniform> params: RopeParams;
@group(0) @binding(1) var<uniform> step_params: StepParams;  // written per forward pass
@group(0) @binding(2) var<storage, read_write> x: array<f32>;  // [T, nHeads, headDim]
@group(0) @binding(3) var<storage, read> freqs: array<f32>;    // [headDim / 2]
@group(0) @binding(4) var<storage, read> positions: array<u32>; // [T] absolute position of each token

// Angles reach thousands of radians (position 4096 × freq 1), and GPU sin and cos are only loosely
// specified: WGSL promises 2^-11 absolute error, and only inside [-π, π] (SwiftShader really is that coarse).
// So cos_sin below computes both itself, in two steps:
//  1. Range reduction (Cody–Waite): subtract the nearest multiple j of π/2, keeping r in [-π/4, π/4] and
//     the quadrant j mod 4. π/2 is split into three f32 parts: HALF_PI_HI has only 8 significant bits, so
//     j · HALF_PI_HI is exact for any j below 2^16 (angles up to ~100,000 rad), and the two smaller parts
//     restore the precision that HI leaves out.
//  2. Short polynomials for sin and cos on [-π/4, π/4] (the coefficients of Cephes' sinf and cosf),
//     accurate to about 1e-7, then the quadrant picks signs: cos(jπ/2 + r), sin(jπ/2 + r).
const HALF_PI_HI: f32 = 1.5703125;
const HALF_PI_MID: f32 = 4.83826792e-4;
const HALF_PI_LO: f32 = 2.56328292e-12;
const TWO_OVER_PI: f32 = 0.636619747;

fn sin_poly(r: f32) -> f32 { // |r| <= π/4
  let z = r * r;
  return ((-1.9515295891e-4 * z + 8.3321608736e-3) * z - 1.6666654611e-1) * z * r + r;
}

fn cos_poly(r: f32) -> f32 { // |r| <= π/4
  let z = r * r;
  return ((2.443315711809948e-5 * z - 1.388731625493765e-3) * z + 4.166664568298827e-2) * z * z - 0.5 * z + 1.0;
}

// (cos(angle), sin(angle)) for angle >= 0.
fn cos_sin(angle: f32) -> vec2f {
  let j = round(angle * TWO_OVER_PI);
  let r = ((angle - j * HALF_PI_HI) - j * HALF_PI_MID) - j * HALF_PI_LO;
  let s = sin_poly(r);
  let c = cos_poly(r);
  switch (u32(j) & 3u) {
    case 0u: { return vec2f(c, s); }     // angle = r
    case 1u: { return vec2f(-s, c); }    // angle = π/2 + r
    case 2u: { return vec2f(-c, -s); }   // angle = π + r
    default: { return vec2f(s, -c); }    // angle = 3π/2 + r
  }
}

@compute @workgroup_size(WorkgroupSize)
fn main(@builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let half = params.headDim / 2u;
  // Linear pair index over [T, nHeads, headDim / 2]; the grid may be 2-D (see grid1d in dispatch.ts).
  let i = (wid.x + wid.y * nwg.x) * WorkgroupSize + lid;
  let pair = i % half;     // which pair inside the head
  let head_row = i / half; // which (token, head), flattened
  let t = head_row / params.nHeads;
  // The grid was sized for params.nTokens; a pass may use fewer (step_params.nTokens), and the rest are left alone.
  if (t >= min(params.nTokens, step_params.nTokens)) {
    return;
  }

  let base = head_row * params.headDim;
  var ia: u32;
  var ib: u32;
  if (Interleaved) {
    ia = base + 2u * pair;
    ib = ia + 1u;
  } else {
    ia = base + pair;
    ib = ia + half;
  }

  // The angle is one f32 multiply of two exact f32 values, so the CPU reference can reproduce it bit for bit.
  let angle = f32(positions[t]) * freqs[pair];
  let cs = cos_sin(angle);
  let c = cs.x;
  let s = cs.y;
  let a = x[ia];
  let b = x[ib];
  x[ia] = a * c - b * s;
  x[ib] = a * s + b * c;
}
