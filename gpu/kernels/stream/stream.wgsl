// STREAM READ: reads a whole f32 buffer once, as fast as the device can, and writes one number per workgroup
// — the sum of what it read, so the compiler cannot drop the loads. Its time says how many bytes per second
// this device can really read; a GEMV that reads its weights at a large fraction of that is as fast as it
// can be (cli benches and benchGemvBandwidth compare the two).
//   src: [n / 4] vec4f (n f32, n % 4 == 0)      out: [workgroups] f32, out[g] = Σ of the elements g read
// Grid-stride loop: invocation i reads vec4s i, i + S, i + 2S, … where S is the number of invocations in
// the grid, so at every step neighbouring invocations read neighbouring 16-byte words (full memory
// transactions), and a fixed, moderate grid covers a buffer of any size. Four loads are issued per round
// before any is added, so each invocation keeps several reads in flight.

struct StreamParams {
  n4: u32,         // vec4s in src
  workgroups: u32, // workgroups that take part (the grid may be padded to 2-D)
}

// Invocations per workgroup; a power of two for the tree below.
override WorkgroupSize: u32 = 256u;

@group(0) @binding(0) var<uniform> params: StreamParams;
@group(0) @binding(1) var<storage, read> src: array<vec4f>;      // [n / 4]
@group(0) @binding(2) var<storage, read_write> out: array<f32>;  // [workgroups]

var<workgroup> partial: array<f32, WorkgroupSize>;  // one partial sum per invocation

@compute @workgroup_size(WorkgroupSize)
fn main(@builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= params.workgroups) {
    return; // padding of the 2-D grid; uniform across the workgroup
  }
  let stride = params.workgroups * WorkgroupSize; // S
  var i = g * WorkgroupSize + lid;
  var acc = vec4f(0.0);
  // Four independent loads per round (unrolled by hand), then the remainder one at a time.
  while (i + 3u * stride < params.n4) {
    let a = src[i];
    let b = src[i + stride];
    let c = src[i + 2u * stride];
    let d = src[i + 3u * stride];
    acc += (a + b) + (c + d);
    i += 4u * stride;
  }
  while (i < params.n4) {
    acc += src[i];
    i += stride;
  }
  partial[lid] = (acc.x + acc.y) + (acc.z + acc.w);
  workgroupBarrier();
  for (var half = WorkgroupSize / 2u; half > 0u; half = half / 2u) {
    if (lid < half) {
      partial[lid] += partial[lid + half];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    out[g] = partial[0];
  }
}
