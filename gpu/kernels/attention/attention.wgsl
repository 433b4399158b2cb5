// ATTENTION over a contiguous KV cache, causal, with grouped-query heads and an online softmax.
//   q:       [T, nHeads, HeadDim] f32          this pass's queries (RoPE already applied)
//   k_cache: [maxSeqLen, nKvHeads, HeadDim] f32  keys of positions 0 .. pos0 + T − 1 (this pass's appended)
//   v_cache: [maxSeqLen, nKvHeads, HeadDim] f32  values, same layout
//   out:     [T, nHeads, HeadDim] f32
//
// Query t sits at absolute position p = pos0 + t and may look at keys 0..p (causal). Head h shares the K/V
// of kv head h / (nHeads / nKvHeads) (grouped-query attention; nKvHeads = nHeads is plain multi-head).
//   score_j = q · k_j / sqrt(HeadDim)      out = Σ_j softmax(score)_j · v_j
//
// One workgroup computes one (token, head) pair. pos0 is read from the step uniform at run time, so the same
// prepared dispatch serves every decode step: nothing here depends on a sequence length fixed at creation.
//
// Online softmax: the keys are visited in blocks of BlockSize (one key per invocation), and the workgroup
// keeps a running maximum m, a running sum l = Σ exp(score − m) and a running acc = Σ exp(score − m) · v.
// When a block raises the maximum from m to m', everything summed so far is rescaled by exp(m − m'), so at
// the end acc / l equals the softmax-weighted sum, with every exp taken of a number ≤ 0 (no overflow) and no
// buffer of all scores needed — any context length fits in a few KB of workgroup memory.

struct AttentionParams {
  nTokens: u32,   // T the dispatch was prepared for
  nHeads: u32,
  nKvHeads: u32,
  maxSeqLen: u32, // rows in the caches
  scale: f32,     // 1 / sqrt(HeadDim)
}

// The per-pass uniform shared with RoPE and KV append (gpu/kernels/step.ts).
struct StepParams {
  nTokens: u32, // tokens in this pass; queries t ≥ nTokens are skipped
  pos0: u32,    // absolute position of the pass's first token
}

// Floats per head, fixed when the pipeline is made (at most 256, checked by the host).
override HeadDim: u32 = 64u;
// Keys per block = invocations per workgroup; a power of two for the tree reductions.
override BlockSize: u32 = 64u;

// Stands in for −∞ as the "no maximum yet" value and the score of a key past p: exp(NEG_BIG − m) is 0.
const NEG_BIG: f32 = -3.0e38;

@group(0) @binding(0) var<uniform> params: AttentionParams;
@group(0) @binding(1) var<uniform> step_params: StepParams;
@group(0) @binding(2) var<storage, read> q: array<f32>;             // [T, nHeads, HeadDim]
@group(0) @binding(3) var<storage, read> k_cache: array<f32>;       // [maxSeqLen, nKvHeads, HeadDim]
@group(0) @binding(4) var<storage, read> v_cache: array<f32>;       // [maxSeqLen, nKvHeads, HeadDim]
@group(0) @binding(5) var<storage, read_write> out: array<f32>;     // [T, nHeads, HeadDim]

var<workgroup> q_s: array<f32, HeadDim>;         // this (token, head)'s query, read by every invocation
var<workgroup> acc: array<f32, HeadDim>;         // running Σ exp(score − m) · v; dim d belongs to invocation d % BlockSize
var<workgroup> probs: array<f32, BlockSize>;     // exp(score − m') of the current block's keys
var<workgroup> max_red: array<f32, BlockSize>;   // scratch for the block maximum
var<workgroup> sum_red: array<f32, BlockSize>;   // scratch for the block sum

@compute @workgroup_size(BlockSize)
fn main(@builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  // Workgroup number → (token t, head h); the grid may be spread over x and y (grid1d in dispatch.ts).
  let pair = wid.x + wid.y * nwg.x;
  if (pair >= params.nTokens * params.nHeads || pair / params.nHeads >= step_params.nTokens) {
    return; // uniform across the workgroup, so the barriers below stay legal
  }
  let t = pair / params.nHeads;
  let h = pair % params.nHeads;
  let p = step_params.pos0 + t;                     // this query's absolute position
  let n_keys = min(p + 1u, params.maxSeqLen);       // causal: keys 0..p (clamped to the cache)
  let kv_head = h / (params.nHeads / params.nKvHeads);
  let kv_stride = params.nKvHeads * HeadDim;        // floats between one position and the next in a cache
  let kv_base = kv_head * HeadDim;                  // this kv head's offset within a position
  let q_base = (t * params.nHeads + h) * HeadDim;

  for (var d = lid; d < HeadDim; d += BlockSize) {
    q_s[d] = q[q_base + d];
    acc[d] = 0.0;
  }
  workgroupBarrier();

  var m = NEG_BIG;  // running maximum score (every invocation keeps the same copy)
  var l = 0.0;      // running Σ exp(score − m)
  for (var start = 0u; start < n_keys; start += BlockSize) {
    // 1. Scores: invocation lid scores key start + lid against the query.
    let j = start + lid;
    var s = NEG_BIG;
    if (j < n_keys) {
      let k_row = j * kv_stride + kv_base;
      var dot = 0.0;
      for (var d = 0u; d < HeadDim; d++) {
        dot += q_s[d] * k_cache[k_row + d];
      }
      s = dot * params.scale;
    }
    max_red[lid] = s;
    workgroupBarrier();

    // 2. The block's maximum, by a tree reduction; the new running maximum m' = max(m, block max).
    for (var stride = BlockSize / 2u; stride > 0u; stride = stride / 2u) {
      if (lid < stride) {
        max_red[lid] = max(max_red[lid], max_red[lid + stride]);
      }
      workgroupBarrier();
    }
    let m_new = max(m, max_red[0]);

    // 3. Unnormalised probabilities exp(s − m') (0 for keys past p), and their sum, by a tree reduction.
    let e = select(0.0, exp(s - m_new), j < n_keys);
    probs[lid] = e;
    sum_red[lid] = e;
    workgroupBarrier();
    for (var stride = BlockSize / 2u; stride > 0u; stride = stride / 2u) {
      if (lid < stride) {
        sum_red[lid] += sum_red[lid + stride];
      }
      workgroupBarrier();
    }

    // 4. Rescale what was summed under the old maximum, then add this block's values: invocation lid owns
    //    dims lid, lid + BlockSize, … of acc, and reads v for those dims from every key of the block.
    let correction = exp(m - m_new);  // exp(m − m') ≤ 1; 0 on the first block
    l = l * correction + sum_red[0];
    let block_keys = min(BlockSize, n_keys - start);
    for (var d = lid; d < HeadDim; d += BlockSize) {
      var a = acc[d] * correction;
      for (var jj = 0u; jj < block_keys; jj++) {
        a += probs[jj] * v_cache[(start + jj) * kv_stride + kv_base + d];
      }
      acc[d] = a;
    }
    m = m_new;
    workgroupBarrier(); // all reads of probs, max_red[0] and sum_red[0] are done before the next block writes
  }

  // 5. Normalise: out = acc / l (l ≥ 1, since the key holding the maximum contributes exp(0)).
  for (var d = lid; d < HeadDim; d += BlockSize) {
    out[q_base + d] = acc[d] / l;
  }
}
