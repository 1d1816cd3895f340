// Element-wise kernel over resident buffers, straight from and to their memory. The
// executor fills in the placeholders in double braces, per row of the op table
// (src/ops.rs) and element type:
//   T       the element type: f32, i32 or u32
//   INPUTS  one `var<storage, read_write>` declaration per input buffer (a at binding 1,
//           b at 2, c at 4); read_write because an input may share its GPU buffer with
//           the output, and one buffer may not be bound read-only and writable at once
//   LOADS   each input's first element (`let a_at = base.x;` …), then for each round q
//           (0 to 3) and input x: `let x{q} = vec4<T>(x_mem[x_at + i{q}.x], …,
//           x_mem[x_at + i{q}.w]);`, skipped for rounds past the block's end
//   STORES  for each round q: the op's expression over a{q}, b{q}, c{q} (as a, b, c) and
//           s0, s1, each lane stored if it lies inside the block
//
// Many tasks share one dispatch. The table (one array of u32) holds a header, one entry
// per task with its operands' element offsets, and one word per block naming its entry:
//   header  [blocks, s0, s1, s2, entries, index_at, 0, 0]
//   entry e at 8 + 8e: [a, b, c, out, count, first_block, 0, 0]
//   index   at index_at + block: the block's entry
// One workgroup runs one block of up to 4,096 elements: 256 invocations of 16 elements
// each. Offsets are any element, so loads and stores are scalar; lane l of round q of
// invocation t touches element t + 256 * (4q + l) of the block, so neighbouring
// invocations touch neighbouring elements (coalesced). Every load of all four rounds is
// issued before the first store: the compiler may not move loads past stores to a buffer
// that might alias them, and sixteen loads in flight per input keep the memory system
// busy.

override WORKGROUP_SIZE: u32 = 256u;

const BLOCK: u32 = 4096u;

{{INPUTS}}
@group(0) @binding(3) var<storage, read_write> out_mem: array<{{T}}>;
@group(0) @binding(5) var<storage, read> table: array<u32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    // Dispatches beyond 65,535 workgroups spill into the y dimension.
    let index = wid.x + wid.y * groups.x;
    if (index >= table[0]) {
        return;
    }
    let entry = 8u + 8u * table[table[5] + index];
    // This block's first element within its task.
    let start = (index - table[entry + 5u]) * BLOCK;
    let count = min(table[entry + 4u] - start, BLOCK);
    // An invocation's first element is its index: past the count it has nothing to do.
    if (lid >= count) {
        return;
    }
    let base = vec4<u32>(table[entry], table[entry + 1u], table[entry + 2u], table[entry + 3u]) + start;
    let s0 = vec4<{{T}}>(bitcast<{{T}}>(table[1]));
    let s1 = vec4<{{T}}>(bitcast<{{T}}>(table[2]));
    let i0 = vec4<u32>(0u, 1u, 2u, 3u) * WORKGROUP_SIZE + lid;
    let i1 = i0 + 4u * WORKGROUP_SIZE;
    let i2 = i1 + 4u * WORKGROUP_SIZE;
    let i3 = i2 + 4u * WORKGROUP_SIZE;
{{LOADS}}
{{STORES}}
}
