// C[M×N] = A[M×K] · B[K×N], row-major f32 (B given as N×K when TRANSPOSE_B is set), for a
// batch of same-shaped products packed into one slab: product z's arrays start at element
// z * stride of each binding, and the dispatch's z dimension runs over them.
//
// Three entry points, the shape classes:
//   tile128 a workgroup of 16×16 invocations computes a 128×128 tile of C, each invocation
//           an 8×8 block, stepping through K 16 at a time with both operands' tiles in
//           workgroup memory (M and N both at least 128);
//   tile64  the same with 64×64 tiles and 4×4 blocks (M and N both at least 64);
//   tile16  each invocation computes one element of a 16×16 tile (small or thin shapes).

struct Params {
    m: u32,
    k: u32,
    n: u32,
    // Bit 0: B is stored transposed (N×K).
    flags: u32,
    // Elements between consecutive products in each binding.
    stride: u32,
    // Products in this slab.
    count: u32,
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

// A[row][col] of product z, 0 outside the matrix.
fn load_a(base: u32, row: u32, col: u32) -> f32 {
    if (row < params.m && col < params.k) {
        return a[base + row * params.k + col];
    }
    return 0.0;
}

// B[row][col] (row in K, col in N) of product z, 0 outside the matrix.
fn load_b(base: u32, row: u32, col: u32) -> f32 {
    if (row < params.k && col < params.n) {
        if ((params.flags & 1u) != 0u) {
            return b[base + col * params.k + row];
        }
        return b[base + row * params.n + col];
    }
    return 0.0;
}

// 64×64 tiles, 16 steps of K per round. as4[kk * 16 + r] holds rows 4r..4r+3 of the A tile
// at depth kk; bs4[kk * 16 + q] columns 4q..4q+3 of the B tile.
var<workgroup> as4: array<vec4<f32>, 256>;
var<workgroup> bs4: array<vec4<f32>, 256>;

@compute @workgroup_size(16, 16)
fn tile64(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let base = wid.z * params.stride;
    let row0 = wid.y * 64u;
    let col0 = wid.x * 64u;
    let t = lid.y * 16u + lid.x;
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var k0 = 0u; k0 < params.k; k0 = k0 + 16u) {
        // Each invocation loads one vec4 of each tile: neighbours read neighbouring memory.
        let kk = t % 16u;
        let rq = t / 16u;
        let r = row0 + rq * 4u;
        as4[kk * 16u + rq] = vec4<f32>(
            load_a(base, r, k0 + kk),
            load_a(base, r + 1u, k0 + kk),
            load_a(base, r + 2u, k0 + kk),
            load_a(base, r + 3u, k0 + kk),
        );
        let bk = t / 16u;
        let cq = t % 16u;
        let cc = col0 + cq * 4u;
        bs4[bk * 16u + cq] = vec4<f32>(
            load_b(base, k0 + bk, cc),
            load_b(base, k0 + bk, cc + 1u),
            load_b(base, k0 + bk, cc + 2u),
            load_b(base, k0 + bk, cc + 3u),
        );
        workgroupBarrier();
        for (var d = 0u; d < 16u; d = d + 1u) {
            let av = as4[d * 16u + lid.y];
            let bv = bs4[d * 16u + lid.x];
            acc0 = fma(vec4<f32>(av.x), bv, acc0);
            acc1 = fma(vec4<f32>(av.y), bv, acc1);
            acc2 = fma(vec4<f32>(av.z), bv, acc2);
            acc3 = fma(vec4<f32>(av.w), bv, acc3);
        }
        workgroupBarrier();
    }
    var rows = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
    for (var i = 0u; i < 4u; i = i + 1u) {
        let row = row0 + lid.y * 4u + i;
        if (row < params.m) {
            for (var j = 0u; j < 4u; j = j + 1u) {
                let col = col0 + lid.x * 4u + j;
                if (col < params.n) {
                    c[base + row * params.n + col] = rows[i][j];
                }
            }
        }
    }
}

var<workgroup> as16: array<f32, 256>;
var<workgroup> bs16: array<f32, 256>;

@compute @workgroup_size(16, 16)
fn tile16(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let base = wid.z * params.stride;
    let row = wid.y * 16u + lid.y;
    let col = wid.x * 16u + lid.x;
    var acc = 0.0;
    for (var k0 = 0u; k0 < params.k; k0 = k0 + 16u) {
        as16[lid.y * 16u + lid.x] = load_a(base, row, k0 + lid.x);
        bs16[lid.y * 16u + lid.x] = load_b(base, k0 + lid.y, col);
        workgroupBarrier();
        for (var d = 0u; d < 16u; d = d + 1u) {
            acc = fma(as16[lid.y * 16u + d], bs16[d * 16u + lid.x], acc);
        }
        workgroupBarrier();
    }
    if (row < params.m && col < params.n) {
        c[base + row * params.n + col] = acc;
    }
}

// 128×128 tiles: a8[kk * 32 + r] holds rows 4r..4r+3 of the A tile at depth kk, b8[kk * 32
// + q] columns 4q..4q+3 of the B tile. Invocation (x, y) computes rows 8y..8y+7 and
// columns 8x..8x+7 of the tile.
var<workgroup> a8: array<vec4<f32>, 512>;
var<workgroup> b8: array<vec4<f32>, 512>;

// Writes 8 consecutive elements of one row of C (bounds checked), from two vec4s.
fn store8(base: u32, row: u32, col: u32, lo: vec4<f32>, hi: vec4<f32>) {
    if (row >= params.m) {
        return;
    }
    let o = base + row * params.n;
    if (col < params.n) { c[o + col] = lo.x; }
    if (col + 1u < params.n) { c[o + col + 1u] = lo.y; }
    if (col + 2u < params.n) { c[o + col + 2u] = lo.z; }
    if (col + 3u < params.n) { c[o + col + 3u] = lo.w; }
    if (col + 4u < params.n) { c[o + col + 4u] = hi.x; }
    if (col + 5u < params.n) { c[o + col + 5u] = hi.y; }
    if (col + 6u < params.n) { c[o + col + 6u] = hi.z; }
    if (col + 7u < params.n) { c[o + col + 7u] = hi.w; }
}

// The 8×8 block of each invocation lives in 16 named vec4s, never indexed at run time, so
// the compiler can keep it in registers.
@compute @workgroup_size(16, 16)
fn tile128(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let base = wid.z * params.stride;
    let row0 = wid.y * 128u;
    let col0 = wid.x * 128u;
    let t = lid.y * 16u + lid.x;
    var c00 = vec4<f32>(0.0); var c01 = vec4<f32>(0.0);
    var c10 = vec4<f32>(0.0); var c11 = vec4<f32>(0.0);
    var c20 = vec4<f32>(0.0); var c21 = vec4<f32>(0.0);
    var c30 = vec4<f32>(0.0); var c31 = vec4<f32>(0.0);
    var c40 = vec4<f32>(0.0); var c41 = vec4<f32>(0.0);
    var c50 = vec4<f32>(0.0); var c51 = vec4<f32>(0.0);
    var c60 = vec4<f32>(0.0); var c61 = vec4<f32>(0.0);
    var c70 = vec4<f32>(0.0); var c71 = vec4<f32>(0.0);
    for (var k0 = 0u; k0 < params.k; k0 = k0 + 16u) {
        for (var l = 0u; l < 2u; l = l + 1u) {
            let idx = t + l * 256u;
            // A: consecutive invocations read consecutive k of one row.
            let kk = idx % 16u;
            let rq = idx / 16u;
            let r = row0 + rq * 4u;
            a8[kk * 32u + rq] = vec4<f32>(
                load_a(base, r, k0 + kk),
                load_a(base, r + 1u, k0 + kk),
                load_a(base, r + 2u, k0 + kk),
                load_a(base, r + 3u, k0 + kk),
            );
            // B: consecutive invocations read consecutive columns of one row.
            let cq = idx % 32u;
            let bk = idx / 32u;
            let cc = col0 + cq * 4u;
            b8[bk * 32u + cq] = vec4<f32>(
                load_b(base, k0 + bk, cc),
                load_b(base, k0 + bk, cc + 1u),
                load_b(base, k0 + bk, cc + 2u),
                load_b(base, k0 + bk, cc + 3u),
            );
        }
        workgroupBarrier();
        for (var d = 0u; d < 16u; d = d + 1u) {
            let a_lo = a8[d * 32u + lid.y * 2u];
            let a_hi = a8[d * 32u + lid.y * 2u + 1u];
            let b_lo = b8[d * 32u + lid.x * 2u];
            let b_hi = b8[d * 32u + lid.x * 2u + 1u];
            c00 = fma(vec4<f32>(a_lo.x), b_lo, c00); c01 = fma(vec4<f32>(a_lo.x), b_hi, c01);
            c10 = fma(vec4<f32>(a_lo.y), b_lo, c10); c11 = fma(vec4<f32>(a_lo.y), b_hi, c11);
            c20 = fma(vec4<f32>(a_lo.z), b_lo, c20); c21 = fma(vec4<f32>(a_lo.z), b_hi, c21);
            c30 = fma(vec4<f32>(a_lo.w), b_lo, c30); c31 = fma(vec4<f32>(a_lo.w), b_hi, c31);
            c40 = fma(vec4<f32>(a_hi.x), b_lo, c40); c41 = fma(vec4<f32>(a_hi.x), b_hi, c41);
            c50 = fma(vec4<f32>(a_hi.y), b_lo, c50); c51 = fma(vec4<f32>(a_hi.y), b_hi, c51);
            c60 = fma(vec4<f32>(a_hi.z), b_lo, c60); c61 = fma(vec4<f32>(a_hi.z), b_hi, c61);
            c70 = fma(vec4<f32>(a_hi.w), b_lo, c70); c71 = fma(vec4<f32>(a_hi.w), b_hi, c71);
        }
        workgroupBarrier();
    }
    let r = row0 + lid.y * 8u;
    let col = col0 + lid.x * 8u;
    store8(base, r, col, c00, c01);
    store8(base, r + 1u, col, c10, c11);
    store8(base, r + 2u, col, c20, c21);
    store8(base, r + 3u, col, c30, c31);
    store8(base, r + 4u, col, c40, c41);
    store8(base, r + 5u, col, c50, c51);
    store8(base, r + 6u, col, c60, c61);
    store8(base, r + 7u, col, c70, c71);
}
