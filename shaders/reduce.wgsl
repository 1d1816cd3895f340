// Reduction kernel template: one workgroup of 256 invocations reduces one block of up to
// 4096 elements to one partial, with a tree in workgroup memory; the host combines a task's
// partials in f64. The executor fills in the placeholders in double braces, per reduction
// of the op table (src/ops.rs):
//   INPUTS    one `var<storage, read>` declaration per input array (a at 1, b at 2)
//   LOADS     `let a = a_in[i];` and so on, one per input
//   MAP       the value reduced, over vec4<f32> values a, b (e.g. `a * b` for DOT)
//   COMBINE   combines f32 values x and y (`x + y`, a NaN-propagating min or max)
//   IDENTITY  the value that changes nothing
//
// Blocks come from a table the host writes: (first element, element count) per block, the
// first element a multiple of four, so every block lies within one task.

const GROUP: u32 = 256u;

struct Params {
    // Number of blocks (workgroups that have work).
    blocks: u32,
    s0: u32,
    s1: u32,
    s2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
{{INPUTS}}
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read> blocks: array<vec2<u32>>;

var<workgroup> partial: array<f32, GROUP>;

fn is_nan(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

fn combine(x: f32, y: f32) -> f32 {
    return {{COMBINE}};
}

@compute @workgroup_size(GROUP)
fn main(
    @builtin(local_invocation_index) t: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    // Grids beyond 65,535 workgroups spill into the y dimension.
    let block = wid.x + wid.y * groups.x;
    var acc = {{IDENTITY}};
    if (block < params.blocks) {
        let first = blocks[block].x;
        let count = blocks[block].y;
        // Four vec4 per invocation, strided so neighbours read neighbouring memory.
        for (var j = 0u; j < 4u; j++) {
            let e = (t + j * GROUP) * 4u;
            if (e < count) {
                let i = (first + e) / 4u;
{{LOADS}}
                let v = {{MAP}};
                let valid = count - e;
                acc = combine(acc, v.x);
                if (valid > 1u) { acc = combine(acc, v.y); }
                if (valid > 2u) { acc = combine(acc, v.z); }
                if (valid > 3u) { acc = combine(acc, v.w); }
            }
        }
    }
    partial[t] = acc;
    workgroupBarrier();
    for (var stride = GROUP / 2u; stride > 0u; stride = stride / 2u) {
        if (t < stride) {
            partial[t] = combine(partial[t], partial[t + stride]);
        }
        workgroupBarrier();
    }
    if (t == 0u && block < params.blocks) {
        out[block] = partial[0];
    }
}
