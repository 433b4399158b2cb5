// Token embedding: out[t, :] = table[tokens[t], :], the model's first step (token ids → vectors).
//   tokens: [T] u32      table: [vocabSize, dim] f32, row-major      out: [T, dim] f32
// One invocation copies one element of out. A token id outside the vocabulary writes a row of zeros
// instead of reading past the table, so a bad id can never read another buffer's memory.

struct EmbeddingParams {
  nTokens: u32,
  dim: u32,
  vocabSize: u32,
}

// Invocations per workgroup.
override WorkgroupSize: u32 = 256u;

@group(0) @binding(0) var<uniform> params: EmbeddingParams;
@group(0) @binding(1) var<storage, read> tokens: array<u32>;    // [T]
@group(0) @binding(2) var<storage, read> table: array<f32>;     // [vocabSize, dim]
@group(0) @binding(3) var<storage, read_write> out: array<f32>; // [T, dim]

@compute @workgroup_size(WorkgroupSize)
fn main(@builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  // The grid may be spread over x and y when T · dim is large (see grid1d in dispatch.ts).
  let i = (wid.x + wid.y * nwg.x) * WorkgroupSize + lid;
  if (i >= params.nTokens * params.dim) {
    return;
  }
  let t = i / params.dim; // which token (row of out)
  let c = i % params.dim; // which element of the row
  let id = tokens[t];
  if (id >= params.vocabSize) {
    out[i] = 0.0; // out-of-vocabulary id: zeros, and no read of the table at all
    return;
  }
  out[i] = table[id * params.dim + c];
}
