// Element-wise kernel template, four elements per invocation. The executor fills in the
// placeholders in double braces, per row of the op table (src/ops.rs) and element type:
//   T       the element type: f32, i32 or u32
//   INPUTS  one `var<storage, read>` declaration per input array (a at binding 1, b at 2,
//           c at 4)
//   LOADS   `let a = a_in[i];` and so on, one per input
//   EXPR    the op's expression over vec4<T> values a, b, c, s0, s1
//
// The executor packs every task of a slab back to back (each padded to a multiple of four
// elements), so one dispatch covers all of them; tasks of one slab share their scalars.
// `WORKGROUP_SIZE` is an override constant set per size bucket.

override WORKGROUP_SIZE: u32 = 64u;

struct Params {
    // Number of vec4 elements to compute.
    len4: u32,
    // The task's scalars, as bit patterns of the element type.
    s0: u32,
    s1: u32,
    s2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
{{INPUTS}}
@group(0) @binding(3) var<storage, read_write> out: array<vec4<{{T}}>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    // Dispatches beyond 65,535 workgroups spill into the y dimension.
    let i = gid.x + gid.y * groups.x * WORKGROUP_SIZE;
    if (i < params.len4) {
        let s0 = vec4<{{T}}>(bitcast<{{T}}>(params.s0));
        let s1 = vec4<{{T}}>(bitcast<{{T}}>(params.s1));
{{LOADS}}
        out[i] = {{EXPR}};
    }
}
