// Finish kernel of a reduction whose result goes to a resident buffer: one invocation per
// task combines the task's block partials (written by shaders/reduce.wgsl into the slab's
// output) in block order and writes the result straight into the buffer. The host does
// this in f64 when the result lands in host memory; here sums are compensated (Neumaier),
// so the f32 result is as good as the partials allow. The executor fills in, per reduction
// of the op table (src/ops.rs):
//   COMBINE   combines f32 values x and y (`x + y`, a NaN-propagating min or max)
//   IDENTITY  the value that changes nothing
//   SUM       `true` when the reduction sums (then compensated)
//   FINISH    the result from the combined value r and the element count n (`r`,
//             `r / f32(n)`, `sqrt(r)`)
//
// The table (u32): [tasks, 0, 0, 0], then per task [first partial, partials, output
// element in the buffer, element count].

@group(0) @binding(1) var<storage, read> partials: array<f32>;
@group(0) @binding(3) var<storage, read_write> out_mem: array<f32>;
@group(0) @binding(5) var<storage, read> table: array<u32>;

fn is_nan(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

fn finite(v: f32) -> bool {
    return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u;
}

fn combine(x: f32, y: f32) -> f32 {
    return {{COMBINE}};
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let task = gid.x;
    if (task >= table[0]) {
        return;
    }
    let e = 4u + 4u * task;
    let first = table[e];
    let count = table[e + 1u];
    var acc = {{IDENTITY}};
    var compensation = 0.0;
    for (var i = 0u; i < count; i++) {
        let x = partials[first + i];
        if ({{SUM}}) {
            let t = acc + x;
            if (abs(acc) >= abs(x)) {
                compensation += (acc - t) + x;
            } else {
                compensation += (x - t) + acc;
            }
            acc = t;
        } else {
            acc = combine(acc, x);
        }
    }
    // An infinite or NaN sum has no meaningful compensation.
    var r = acc;
    if ({{SUM}} && finite(acc)) {
        r = acc + compensation;
    }
    let n = table[e + 3u];
    out_mem[table[e + 2u]] = {{FINISH}};
}
