// LINEAR, reduction part (subgroup variant): adds up each invocation's Values partial sums across the whole
// workgroup with subgroup operations. The host puts this file in front of linear.wgsl (so that `enable`
// comes first) when the device has the `subgroups` feature; linear_reduce_workgroup.wgsl is the fallback
// with the same two functions, reduce_values and total.
//
// Why it is safe for any subgroup size (4 … 128) and any lane layout: every invocation of a workgroup works
// on the same Rows rows, so a subgroup may hold any mix of invocations and its sum is still a sum of
// partials of the same values. Nothing here assumes which local_invocation_index a lane has.
enable subgroups;

// Subgroups per workgroup at most: WorkgroupSize / the device's smallest subgroup size (set by the host).
override MaxSubgroups: u32 = 64u;

var<workgroup> subgroup_count: atomic<u32>;                            // subgroups that have published
var<workgroup> subgroup_sums: array<f32, MaxSubgroups * Values>;       // [subgroup, Values], one row each
var<workgroup> totals: array<f32, Values>;                             // [Values] the workgroup's sums

// After this returns, total(v) is the sum of acc[v] over every invocation of the workgroup.
fn reduce_values(acc: ptr<function, array<f32, Values>>, lid: u32) {
  // 1. Inside each subgroup: subgroupAdd returns the sum over the subgroup's active lanes to every lane.
  //    It is called in uniform control flow (a loop with a constant bound), as WGSL requires.
  var sums: array<f32, Values>;
  for (var v = 0u; v < Values; v++) {
    sums[v] = subgroupAdd((*acc)[v]);
  }
  // 2. One elected lane per subgroup claims a row of subgroup_sums (the atomic hands out 0, 1, 2, …) and
  //    stores its subgroup's sums there.
  if (subgroupElect()) {
    let slot = atomicAdd(&subgroup_count, 1u);
    for (var v = 0u; v < Values; v++) {
      subgroup_sums[slot * Values + v] = sums[v];
    }
  }
  workgroupBarrier();
  // 3. Across subgroups: invocation v adds up column v (a handful of rows: 4 or 8 on a GPU with 32 lanes).
  let n_sub = atomicLoad(&subgroup_count);
  for (var v = lid; v < Values; v += WorkgroupSize) {
    var s = 0.0;
    for (var j = 0u; j < n_sub; j++) {
      s += subgroup_sums[j * Values + v];
    }
    totals[v] = s;
  }
  workgroupBarrier(); // totals are complete before the epilogue reads them
}

fn total(v: u32) -> f32 {
  return totals[v];
}
