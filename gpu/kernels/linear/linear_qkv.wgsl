// LINEAR, the attention input projections in one pass (appended to linear.wgsl for this mode):
//   q = RoPE(wq · x')  → q [T, qDim]
//   k = RoPE(wk · x')  → k_pool[slots[t], :]        v = wv · x'  → v_pool[slots[t], :]
// exactly what separate matmuls, createRope (q and k) and createKvWrite (k and v) compute, without writing
// k and v to a scratch buffer first. x' is the RMSNorm'd input when HasNorm is on.
//   wq: [qDim, K] f32   wk, wv: [kvDim, K] f32   pools: [nSlots, kvDim] f32   slots, positions: [T] u32
//
// RoPE rotates pairs of rows, so a workgroup owns whole pairs: Rows / 2 of them, and both rows of a pair are
// reduced by the same workgroup, which can rotate before writing. Pair p of a matrix is element i = p % half
// of head h = p / half (half = headDim / 2), i.e. rows (h·headDim + 2i, +1) for Interleaved (llama2.c), or
// (h·headDim + i, + half) for Hugging Face's rotate_half. V is split into pairs the same way, unrotated.
// Workgroups [0, qGroups) do q, the next kvGroups do k, the next kvGroups do v: the matrix is uniform per
// workgroup, so the switch in load_w never diverges.

// Pairing convention, as in gpu/kernels/rope.
override Interleaved: bool = true;

@group(0) @binding(7) var<storage, read> wk: array<vec4f>;                // [kvDim, K / 4]
@group(0) @binding(8) var<storage, read> wv: array<vec4f>;                // [kvDim, K / 4]
// (wq is `w`, binding 5; q is `y`, binding 9: [T, qDim])
@group(0) @binding(10) var<storage, read_write> k_pool: array<f32>;       // [nSlots, kvDim]
@group(0) @binding(11) var<storage, read_write> v_pool: array<f32>;       // [nSlots, kvDim]
@group(0) @binding(12) var<storage, read> slots: array<u32>;              // [T] physical slot per token
@group(0) @binding(13) var<storage, read> positions: array<u32>;          // [T] absolute position per token
// freqs[i] = theta^(-2i / headDim), made on the host in f32 (ropeFrequencies in rope.ts), 4 per vec4f
// because uniform arrays have a 16-byte stride. A uniform, not a storage buffer, to stay within 8–10
// storage buffers per stage on common devices.
@group(0) @binding(14) var<uniform> freqs: array<vec4f, 64>;              // [headDim / 2 ≤ 256]

fn load_w(m: u32, at: u32) -> vec4f {
  switch m {
    case 0u: { return w[at]; }
    case 1u: { return wk[at]; }
    default: { return wv[at]; }
  }
}

// Row of W for element `which` (0 or 1) of pair p.
fn pair_row(p: u32, which: u32) -> u32 {
  let half = params.headDim / 2u;
  let head = p / half;
  let i = p % half;
  if (Interleaved) {
    return head * params.headDim + 2u * i + which;
  }
  return head * params.headDim + i + which * half;
}

// (cos(angle), sin(angle)) for angle ≥ 0 — the same range reduction and polynomials as rope.wgsl (read the
// comment there), so the fused kernel rotates bit for bit as createRope does.
const HALF_PI_HI: f32 = 1.5703125;
const HALF_PI_MID: f32 = 4.83826792e-4;
const HALF_PI_LO: f32 = 2.56328292e-12;
const TWO_OVER_PI: f32 = 0.636619747;

fn sin_poly(r: f32) -> f32 {
  let z = r * r;
  return ((-1.9515295891e-4 * z + 8.3321608736e-3) * z - 1.6666654611e-1) * z * r + r;
}

fn cos_poly(r: f32) -> f32 {
  let z = r * r;
  return ((2.443315711809948e-5 * z - 1.388731625493765e-3) * z + 4.166664568298827e-2) * z * z - 0.5 * z + 1.0;
}

fn cos_sin(angle: f32) -> vec2f {
  let j = round(angle * TWO_OVER_PI);
  let r = ((angle - j * HALF_PI_HI) - j * HALF_PI_MID) - j * HALF_PI_LO;
  let s = sin_poly(r);
  let c = cos_poly(r);
  switch (u32(j) & 3u) {
    case 0u: { return vec2f(c, s); }
    case 1u: { return vec2f(-s, c); }
    case 2u: { return vec2f(-c, -s); }
    default: { return vec2f(s, -c); }
  }
}

@compute @workgroup_size(WorkgroupSize)
fn main_qkv(@builtin(workgroup_id) wid: vec3u,
            @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_index) lid: u32) {
  const PairsPerGroup = Rows / 2u;
  let g = wid.x + wid.y * nwg.x;
  let q_groups = (params.n / 2u + PairsPerGroup - 1u) / PairsPerGroup;
  let kv_groups = (params.kvDim / 2u + PairsPerGroup - 1u) / PairsPerGroup;
  // Which matrix (0 = q, 1 = k, 2 = v) and which of its pairs this workgroup owns.
  var m = 0u;
  var first = g;
  var dim = params.n;
  if (g >= q_groups + 2u * kv_groups) {
    return; // a padding workgroup of the 2-D grid
  } else if (g >= q_groups + kv_groups) {
    m = 2u;
    first = g - q_groups - kv_groups;
    dim = params.kvDim;
  } else if (g >= q_groups) {
    m = 1u;
    first = g - q_groups;
    dim = params.kvDim;
  }
  let pair0 = first * PairsPerGroup;
  let n_pairs = dim / 2u;
  let k4 = params.k / 4u;

  var rows: array<u32, Tokens>;
  for (var t = 0u; t < Tokens; t++) {
    rows[t] = checked_row(t, t);
  }
  var acc: array<f32, Values>; // slot r = 2·(pair within group) + which, as in main

  for (var i = lid; i < k4; i += WorkgroupSize) {
    var xs: array<vec4f, Tokens>;
    load_inputs(i, &rows, &xs, &acc);
    for (var r = 0u; r < Rows; r++) {
      let p = pair0 + r / 2u;
      if (p < n_pairs) {
        let wv4 = load_w(m, pair_row(p, r % 2u) * k4 + i);
        for (var t = 0u; t < Tokens; t++) {
          acc[r * Tokens + t] += dot(wv4, xs[t]);
        }
      }
    }
  }
  reduce_values(&acc, lid);

  // Epilogue: one invocation per (pair, token): rotate (q, k) and write both elements.
  for (var o = lid; o < PairsPerGroup * Tokens; o += WorkgroupSize) {
    let pr = o % PairsPerGroup;
    let t = o / PairsPerGroup;
    let p = pair0 + pr;
    if (p >= n_pairs || rows[t] == NoRow) {
      continue;
    }
    let scale = norm_scale(t);
    var a = scale * total(2u * pr * Tokens + t);
    var b = scale * total((2u * pr + 1u) * Tokens + t);
    let ia = pair_row(p, 0u);
    let ib = pair_row(p, 1u);
    if (m < 2u) {
      // (a, b) → (a·cos − b·sin, a·sin + b·cos), angle = position · freq, as in rope.wgsl.
      let fi = p % (params.headDim / 2u);
      let cs = cos_sin(f32(positions[t]) * freqs[fi / 4u][fi % 4u]);
      let ra = a * cs.x - b * cs.y;
      let rb = a * cs.y + b * cs.x;
      a = ra;
      b = rb;
    }
    if (m == 0u) {
      y[t * params.n + ia] = a;
      y[t * params.n + ib] = b;
    } else {
      let slot = slots[t];
      if (slot < params.nSlots) { // out-of-pool slots (e.g. 0xFFFFFFFF for padding) write nothing, as kv_write
        let at = slot * params.kvDim;
        if (m == 1u) {
          k_pool[at + ia] = a;
          k_pool[at + ib] = b;
        } else {
          v_pool[at + ia] = a;
          v_pool[at + ib] = b;
        }
      }
    }
  }
}
