// KV append: write this forward pass's keys (or values) into the cache, one row per token.
//   src:   [T, kvDim] f32, the new K or V rows (kvDim = nKvHeads · headDim)
//   cache: [maxSeqLen, kvDim] f32, one row per absolute position
// Token t of the pass sits at absolute position pos0 + t, so cache[pos0 + t, :] = src[t, :]. pos0 comes
// from the shared StepParams uniform, which the caller rewrites before every forward pass: the same prepared
// dispatch serves every decode step. Rows that would land at or past maxSeqLen are skipped, never written.

struct KvAppendParams {
  nTokens: u32,
  kvDim: u32,
  maxSeqLen: u32,
}

struct StepParams {
  nTokens: u32,
  pos0: u32,
}

// Invocations per workgroup.
override WorkgroupSize: u32 = 256u;

@group(0) @binding(0) var<uniform> params: KvAppendParams;
@group(0) @binding(1) var<uniform> step_params: StepParams;  // written per forward pass
@group(0) @binding(2) var<storage, read> src: array<f32>;          // [T, kvDim]
@group(0) @binding(3) var<storage, read_write> cache: array<f32>;  // [maxSeqLen, kvDim]

@compute @workgroup_size(WorkgroupSize)
fn main(@builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  // One invocation per element of src; the grid may be 2-D (see grid1d in dispatch.ts).
  let i = (wid.x + wid.y * nwg.x) * WorkgroupSize + lid;
  let t = i / params.kvDim; // token within this pass
  let c = i % params.kvDim; // element within the row
  // The grid was sized for params.nTokens; a pass may use fewer (step_params.nTokens), and the rest are left alone.
  if (t >= min(params.nTokens, step_params.nTokens)) {
    return;
  }
  // Skip rows past the end of the cache. Written as a subtraction so pos0 + t can never wrap around.
  if (step_params.pos0 >= params.maxSeqLen || t >= params.maxSeqLen - step_params.pos0) {
    return;
  }
  cache[(step_params.pos0 + t) * params.kvDim + c] = src[i];
}
