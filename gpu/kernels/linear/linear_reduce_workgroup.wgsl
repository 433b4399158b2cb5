// LINEAR, reduction part (workgroup-memory variant, for devices without `subgroups`): adds up each
// invocation's Values partial sums across the workgroup with a tree in workgroup memory. The host puts this
// file in front of linear.wgsl; linear_reduce_subgroup.wgsl has the same two functions.

// [WorkgroupSize, Values]: row i holds invocation i's partial sums; after the tree, row 0 holds the totals.
var<workgroup> partials: array<f32, WorkgroupSize * Values>;

// After this returns, total(v) is the sum of acc[v] over every invocation of the workgroup.
fn reduce_values(acc: ptr<function, array<f32, Values>>, lid: u32) {
  for (var v = 0u; v < Values; v++) {
    partials[lid * Values + v] = (*acc)[v];
  }
  workgroupBarrier();
  // Tree: each round adds the upper half of the rows onto the lower half, so log2(WorkgroupSize) rounds
  // (WorkgroupSize is a power of two). The half·Values additions of a round are spread over all invocations,
  // and neighbouring invocations touch neighbouring words.
  for (var half = WorkgroupSize / 2u; half > 0u; half = half / 2u) {
    for (var j = lid; j < half * Values; j += WorkgroupSize) {
      partials[j] += partials[j + half * Values];
    }
    workgroupBarrier();
  }
}

fn total(v: u32) -> f32 {
  return partials[v];
}
