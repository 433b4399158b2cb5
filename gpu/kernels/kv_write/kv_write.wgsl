// KV WRITE: store this forward pass's keys (or values) into the paged KV pool through a slot mapping.
//   src:   [T, kvDim] f32   the new K or V rows (kvDim = nKvHeads · headDim)
//   slots: [T] u32          the physical slot of each token: block · blockSize + offset, from the block manager
//   pool:  [nSlots, kvDim] f32   one layer's K (or V) pool, one row per physical slot
// pool[slots[t], :] = src[t, :]. Tokens may belong to different sequences (a batch): the slot mapping says
// where each goes, so nothing here knows about sequences or positions. A slot ≥ nSlots (e.g. 0xFFFFFFFF for a
// padding token) is skipped, never written; rows t ≥ step.nTokens are skipped too, so a dispatch sized for T
// serves shorter passes. Slots of one pass must be distinct (two tokens writing one slot would race).

struct KvWriteParams {
  nTokens: u32, // T the grid was sized for
  kvDim: u32,
  nSlots: u32,  // rows in the pool
}

// The per-pass uniform shared with RoPE and attention (gpu/kernels/step.ts); only nTokens is used here.
struct StepParams {
  nTokens: u32,
  pos0: u32,
}

// Invocations per workgroup.
override WorkgroupSize: u32 = 256u;

@group(0) @binding(0) var<uniform> params: KvWriteParams;
@group(0) @binding(1) var<uniform> step_params: StepParams;        // written per forward pass
@group(0) @binding(2) var<storage, read> slots: array<u32>;        // [T]
@group(0) @binding(3) var<storage, read> src: array<f32>;          // [T, kvDim]
@group(0) @binding(4) var<storage, read_write> pool: array<f32>;   // [nSlots, kvDim]

@compute @workgroup_size(WorkgroupSize)
fn main(@builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  // One invocation per element of src; the grid may be 2-D (see grid1d in dispatch.ts).
  let i = (wid.x + wid.y * nwg.x) * WorkgroupSize + lid;
  let t = i / params.kvDim; // token within this pass
  let c = i % params.kvDim; // element within the row
  if (t >= min(params.nTokens, step_params.nTokens)) {
    return; // past this pass's tokens
  }
  let slot = slots[t];
  if (slot >= params.nSlots) {
    return; // out of the pool: skipped, never written
  }
  pool[slot * params.kvDim + c] = src[i];
}
