// Residual add: x += y, element by element (the skip connection around attention and the MLP).
//   x: [n] f32, updated in place      y: [n] f32
// One invocation per element. The grid may be 2-D when n is large (see grid1d in dispatch.ts), so each
// invocation rebuilds its linear element index from the workgroup's (x, y) position and bounds-checks it.

struct AddParams {
  n: u32,
}

// Invocations per workgroup.
override WorkgroupSize: u32 = 256u;

@group(0) @binding(0) var<uniform> params: AddParams;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;  // [n]
@group(0) @binding(2) var<storage, read> y: array<f32>;        // [n]

@compute @workgroup_size(WorkgroupSize)
fn main(@builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  // Linear workgroup number, then this invocation's element.
  let i = (wid.x + wid.y * nwg.x) * WorkgroupSize + lid;
  if (i >= params.n) {
    return; // the last workgroup usually sticks out past n
  }
  x[i] += y[i];
}
