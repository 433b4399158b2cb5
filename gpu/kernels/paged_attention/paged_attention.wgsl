// PAGED ATTENTION: causal grouped-query attention whose keys and values live in a pool of fixed-size blocks,
// found through a block table (vLLM's PagedAttention), with the same online softmax as attention.wgsl.
//   q:            [T, nHeads, HeadDim] f32               this pass's queries (RoPE already applied)
//   k_pool:       [nBlocks · KvBlockSize, nKvHeads, HeadDim] f32   one layer's keys, one row per physical slot
//   v_pool:       same layout, values
//   block_tables: [nSeqs, maxBlocksPerSeq] u32            row s: the physical blocks of sequence s, in order
//   token_seq:    [T] u32                                 which sequence (row of block_tables) query t belongs to
//   token_pos:    [T] u32                                 absolute position p of query t within its sequence
//   out:          [T, nHeads, HeadDim] f32
//
// Query t of sequence s at position p looks at keys 0..p of s (causal). Key j of s sits in logical block
// j / KvBlockSize, at offset j % KvBlockSize, so its physical slot is
//   slot(j) = block_tables[s, j / KvBlockSize] · KvBlockSize + j % KvBlockSize.
// Prefill (T tokens of one sequence at p0..p0+T−1, over its cached prefix) and decode (one query for each of
// many sequences) are the same kernel: only token_seq and token_pos differ.
//
// One workgroup computes one (token, head) pair. Keys are visited in tiles of TileSize · KeysPerInvocation
// keys (each invocation scores KeysPerInvocation of them, TileSize apart): a tile's reductions cost the same
// log2(TileSize) barriers whatever its keys, so one big tile over a context beats several small ones. In the scoring step each invocation finds its key's slot through the block table (neighbouring
// invocations read the same table entry, one cached load) and leaves the slot in workgroup memory, so the value
// step reads no table at all: the indirection costs one u32 load per key.

struct PagedAttentionParams {
  nTokens: u32,         // T the dispatch was prepared for
  nHeads: u32,
  nKvHeads: u32,
  nSeqs: u32,           // rows of block_tables
  maxBlocksPerSeq: u32, // columns of block_tables
  nBlocks: u32,         // physical blocks in each pool; a table entry ≥ nBlocks marks a missing block
  scale: f32,           // 1 / sqrt(HeadDim)
}

// The per-pass uniform shared with RoPE and the KV kernels (gpu/kernels/step.ts). Only nTokens is used here:
// positions come per token from token_pos.
struct StepParams {
  nTokens: u32, // tokens in this pass; queries t ≥ nTokens are skipped
  pos0: u32,    // unused by this kernel
}

// Floats per head, fixed when the pipeline is made (at most 256, checked by the host).
override HeadDim: u32 = 64u;
// Invocations per workgroup; a power of two for the tree reductions.
override TileSize: u32 = 64u;
// Keys each invocation scores per tile: a tile holds TileSize · KeysPerInvocation keys.
override KeysPerInvocation: u32 = 1u;
// Token slots per KV block (1..128); a constant, so j / KvBlockSize and j % KvBlockSize are cheap.
override KvBlockSize: u32 = 16u;

// Stands in for −∞ as the "no maximum yet" value and the score of a key past p: exp(NEG_BIG − m) is 0.
const NEG_BIG: f32 = -3.0e38;

@group(0) @binding(0) var<uniform> params: PagedAttentionParams;
@group(0) @binding(1) var<uniform> step_params: StepParams;
@group(0) @binding(2) var<storage, read> q: array<f32>;              // [T, nHeads, HeadDim]
@group(0) @binding(3) var<storage, read> k_pool: array<vec4<f32>>;   // [nSlots, nKvHeads, HeadDim / 4]
@group(0) @binding(4) var<storage, read> v_pool: array<vec4<f32>>;   // [nSlots, nKvHeads, HeadDim / 4]
@group(0) @binding(5) var<storage, read> block_tables: array<u32>;   // [nSeqs, maxBlocksPerSeq]
@group(0) @binding(6) var<storage, read> token_seq: array<u32>;      // [T]
@group(0) @binding(7) var<storage, read> token_pos: array<u32>;      // [T]
@group(0) @binding(8) var<storage, read_write> out: array<f32>;      // [T, nHeads, HeadDim]

// Heads are read 4 floats at a time (the host requires HeadDim % 4 == 0): Quads = HeadDim / 4 per head.
override Quads: u32 = HeadDim / 4u;
var<workgroup> q_s: array<vec4<f32>, Quads>;     // this (token, head)'s query, read by every invocation
var<workgroup> acc: array<vec4<f32>, Quads>;     // running Σ exp(score − m) · v
var<workgroup> probs: array<f32, TileSize * KeysPerInvocation>; // the tile's scores, then exp(score − m')
var<workgroup> rows: array<u32, TileSize * KeysPerInvocation>;  // vec4 offset of each of the tile's keys in the pools (slot · kv_stride + kv_base)
var<workgroup> max_red: array<f32, TileSize>;    // scratch for the tile maximum
var<workgroup> sum_red: array<f32, TileSize>;    // scratch for the tile sum
var<workgroup> part: array<vec4<f32>, TileSize>; // per-group partial sums of the value step

@compute @workgroup_size(TileSize)
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
  let seq = token_seq[t];
  if (seq >= params.nSeqs) {
    return; // a padding query (no sequence): its output is left as it was
  }
  let p = token_pos[t];                                                    // this query's absolute position
  let n_keys = min(p + 1u, params.maxBlocksPerSeq * KvBlockSize);          // causal: keys 0..p (clamped to the table)
  let table_row = seq * params.maxBlocksPerSeq;                            // this sequence's row of block_tables
  let kv_head = h / (params.nHeads / params.nKvHeads);
  let kv_stride = params.nKvHeads * Quads;                                  // vec4s between one slot and the next
  let kv_base = kv_head * Quads;                                           // this kv head's offset within a slot
  let q_base = (t * params.nHeads + h) * HeadDim;

  for (var d = lid; d < Quads; d += TileSize) {
    q_s[d] = vec4(q[q_base + 4u * d], q[q_base + 4u * d + 1u], q[q_base + 4u * d + 2u], q[q_base + 4u * d + 3u]);
    acc[d] = vec4(0.0);
  }
  workgroupBarrier();

  var m = NEG_BIG;  // running maximum score (every invocation keeps the same copy)
  var l = 0.0;      // running Σ exp(score − m)
  let tile = TileSize * KeysPerInvocation;
  for (var start = 0u; start < n_keys; start += tile) {
    // 1. Scores: invocation lid scores keys j = start + lid + i · TileSize, found through the block table;
    //    each keeps its largest.
    var s_max = NEG_BIG;
    for (var i = 0u; i < KeysPerInvocation; i++) {
      let jt = lid + i * TileSize; // the key's index within the tile
      let j = start + jt;
      var s = NEG_BIG;
      var row = 0u;
      if (j < n_keys) {
        let block = block_tables[table_row + j / KvBlockSize];         // physical block holding key j
        if (block < params.nBlocks) {                                   // a missing block scores −∞ (never read)
          row = (block * KvBlockSize + j % KvBlockSize) * kv_stride + kv_base;
          var dot4 = vec4(0.0);
          for (var d = 0u; d < Quads; d++) {
            dot4 += q_s[d] * k_pool[row + d];
          }
          s = (dot4.x + dot4.y + dot4.z + dot4.w) * params.scale;
        }
      }
      rows[jt] = row;
      probs[jt] = s; // its own slots: read back below by the same invocation, no barrier needed
      s_max = max(s_max, s);
    }
    max_red[lid] = s_max;
    workgroupBarrier();

    // 2. The tile's maximum, by a tree reduction; the new running maximum m' = max(m, tile max).
    for (var stride = TileSize / 2u; stride > 0u; stride = stride / 2u) {
      if (lid < stride) {
        max_red[lid] = max(max_red[lid], max_red[lid + stride]);
      }
      workgroupBarrier();
    }
    let m_new = max(m, max_red[0]);

    // 3. Unnormalised probabilities exp(s − m') (0 for keys past p or in a missing block), and their sum.
    var e_sum = 0.0;
    for (var i = 0u; i < KeysPerInvocation; i++) {
      let jt = lid + i * TileSize;
      let s = probs[jt];
      let e = select(0.0, exp(s - m_new), s > NEG_BIG);
      probs[jt] = e;
      e_sum += e;
    }
    sum_red[lid] = e_sum;
    workgroupBarrier();
    for (var stride = TileSize / 2u; stride > 0u; stride = stride / 2u) {
      if (lid < stride) {
        sum_red[lid] += sum_red[lid + stride];
      }
      workgroupBarrier();
    }

    // 4. Rescale what was summed under the old maximum, then add this tile's values, reading v 4 floats at a
    //    time at the rows the scoring step left in workgroup memory (no second trip through the block table).
    //    The head's Quads vec4s take Quads invocations per key, so the tile's keys are split among
    //    G = TileSize / Quads groups — invocation lid adds quad lid % Quads over keys g, g + G, … with
    //    g = lid / Quads — and the G partial sums of each quad are added after a barrier: every invocation
    //    works, and each walks tile_keys / G keys instead of all of them. (A head wider than the workgroup,
    //    Quads > TileSize, is one group walking every key for each of its quads.)
    let correction = exp(m - m_new);  // exp(m − m') ≤ 1; 0 on the first tile
    l = l * correction + sum_red[0];
    let tile_keys = min(tile, n_keys - start);
    if (Quads <= TileSize) {
      let groups = TileSize / Quads;
      let d = lid % Quads;
      let g = lid / Quads;
      var a = vec4(0.0);
      if (g < groups) {
        // Four keys per round, so four independent loads of v are in flight at once.
        var jj = g;
        for (; jj + 3u * groups < tile_keys; jj += 4u * groups) {
          let v0 = v_pool[rows[jj] + d];
          let v1 = v_pool[rows[jj + groups] + d];
          let v2 = v_pool[rows[jj + 2u * groups] + d];
          let v3 = v_pool[rows[jj + 3u * groups] + d];
          a += probs[jj] * v0 + probs[jj + groups] * v1 + probs[jj + 2u * groups] * v2 + probs[jj + 3u * groups] * v3;
        }
        for (; jj < tile_keys; jj += groups) {
          a += probs[jj] * v_pool[rows[jj] + d];
        }
      }
      part[lid] = a;
      workgroupBarrier();
      if (lid < Quads) {
        var total = acc[lid] * correction;
        for (var gg = 0u; gg < groups; gg++) {
          total += part[gg * Quads + lid];
        }
        acc[lid] = total;
      }
    } else {
      for (var d = lid; d < Quads; d += TileSize) {
        var a = acc[d] * correction;
        for (var jj = 0u; jj < tile_keys; jj++) {
          a += probs[jj] * v_pool[rows[jj] + d];
        }
        acc[d] = a;
      }
    }
    m = m_new;
    workgroupBarrier(); // all reads of probs, rows, max_red[0] and sum_red[0] are done before the next tile writes
  }

  // 5. Normalise: out = acc / l (l ≥ 1 when any key was found; 0 / 0 is avoided for a query with none).
  for (var d = lid; d < Quads; d += TileSize) {
    let o = select(vec4(0.0), acc[d] / l, l > 0.0);
    out[q_base + 4u * d] = o.x;
    out[q_base + 4u * d + 1u] = o.y;
    out[q_base + 4u * d + 2u] = o.z;
    out[q_base + 4u * d + 3u] = o.w;
  }
}
