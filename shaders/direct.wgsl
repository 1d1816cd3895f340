// Element-wise kernel over resident buffers, straight from and to their memory. The
// executor fills in the placeholders in double braces, per row of the op table
// (src/ops.rs) and element type:
//   T       the element type: f32, i32 or u32
//   INPUTS  one `var<storage, read_write>` declaration per input buffer (a at binding 1,
//           b at 2, c at 4); read_write because an input may share its GPU buffer with
//           the output, and one buffer may not be bound read-only and writable at once
//   LOADS   for each round q (0 to 3) and input x: `let x{q} = vec4<T>(x_mem[blk.x + i{q}.x],
//           …, x_mem[blk.x + i{q}.w]);`
//   STORES  for each round q: the op's expression over a{q}, b{q}, c{q} (as a, b, c) and
//           s0, s1, each lane stored if it lies inside the block
//
// Many tasks share one dispatch: the table lists blocks of up to 4,096 elements, each
// with its operands' element offsets, and one workgroup runs one block: 256 invocations
// of 16 elements each. Offsets are any element, so loads and stores are scalar; lane l of
// round q of invocation t touches element t + 256 * (4q + l), so neighbouring
// invocations touch neighbouring elements (coalesced). Every load of all four rounds is
// issued before the first store: the compiler may not move loads past stores to a
// buffer that might alias them, and sixteen loads in flight per input keep the memory
// system busy.

override WORKGROUP_SIZE: u32 = 256u;

struct Block {
    a: u32,
    b: u32,
    c: u32,
    out: u32,
    count: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

struct Table {
    blocks: u32,
    // The tasks' scalars, as bit patterns of the element type.
    s0: u32,
    s1: u32,
    s2: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
    pad3: u32,
    block: array<Block>,
}

{{INPUTS}}
@group(0) @binding(3) var<storage, read_write> out_mem: array<{{T}}>;
@group(0) @binding(5) var<storage, read> table: Table;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    // Dispatches beyond 65,535 workgroups spill into the y dimension.
    let index = wid.x + wid.y * groups.x;
    if (index >= table.blocks) {
        return;
    }
    let blk = table.block[index];
    // An invocation's first element is its index: past the count it has nothing to do.
    if (lid >= blk.count) {
        return;
    }
    let s0 = vec4<{{T}}>(bitcast<{{T}}>(table.s0));
    let s1 = vec4<{{T}}>(bitcast<{{T}}>(table.s1));
    let i0 = vec4<u32>(0u, 1u, 2u, 3u) * WORKGROUP_SIZE + lid;
    let i1 = i0 + 4u * WORKGROUP_SIZE;
    let i2 = i1 + 4u * WORKGROUP_SIZE;
    let i3 = i2 + 4u * WORKGROUP_SIZE;
{{LOADS}}
{{STORES}}
}
