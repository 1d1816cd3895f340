// out = a + b over packed float arrays, four elements per invocation.
//
// The executor packs every task of a slab back to back (each task padded to a multiple
// of four elements), so one dispatch covers all of them. `WORKGROUP_SIZE` is an override
// constant set per size bucket when the bucket's pipeline is created.

override WORKGROUP_SIZE: u32 = 64u;

struct Params {
    // Number of vec4 elements to compute.
    len4: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    // Dispatches beyond 65,535 workgroups spill into the y dimension.
    let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
    if (i < params.len4) {
        out[i] = a[i] + b[i];
    }
}
