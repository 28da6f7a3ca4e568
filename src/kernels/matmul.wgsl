// Tiled f32 matrix product C (+)= op(A) · B (see kernels/matmul.rs). All matrices are row-major.
//
// One workgroup of 16×16 invocations computes a 64×64 tile of C; each invocation owns a 4×4 grid of it with
// stride 16 (rows ty + 16r, columns tx + 16c), so neighbouring invocations touch neighbouring addresses. The
// inner dimension goes through workgroup memory 16 at a time: two 16×64 tiles, 8 KiB of the portable 16 KiB.

struct GemmParams {
    // Rows of op(A) and of C.
    m: u32,
    // The inner dimension: columns of op(A), rows of B.
    k: u32,
    // Columns of B and of C.
    p: u32,
    // 1: op(A) = Aᵀ with A stored k×m (Gram matrices AᵀA); 0: op(A) = A stored m×k.
    trans_a: u32,
    // 1: C += op(A)·B (accumulating over row blocks); 0: C = op(A)·B.
    accumulate: u32,
    // 1: only tiles on or above the diagonal are computed (C symmetric, m == p); the host mirrors the rest.
    upper: u32,
    // Column tiles of C: ceil(p / 64).
    tiles_p: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: GemmParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

const TILE: u32 = 64u;
const KT: u32 = 16u;

// a_tile[kk * TILE + i] = op(A)[i0 + i, k0 + kk]; b_tile[kk * TILE + j] = B[k0 + kk, j0 + j].
var<workgroup> a_tile: array<f32, 1024>;
var<workgroup> b_tile: array<f32, 1024>;

// op(A)[i, kk], zero outside the matrix so that edge tiles need no special case in the product loop.
fn load_a(i: u32, kk: u32) -> f32 {
    if (i >= params.m || kk >= params.k) {
        return 0.0;
    }
    if (params.trans_a == 1u) {
        return a[kk * params.m + i];
    }
    return a[i * params.k + kk];
}

fn load_b(kk: u32, j: u32) -> f32 {
    if (kk >= params.k || j >= params.p) {
        return 0.0;
    }
    return b[kk * params.p + j];
}

fn store_row(i: u32, j0: u32, v: vec4<f32>) {
    if (i >= params.m) {
        return;
    }
    for (var q = 0u; q < 4u; q++) {
        let j = j0 + 16u * q;
        if (j < params.p) {
            let idx = i * params.p + j;
            if (params.accumulate == 1u) {
                c[idx] += v[q];
            } else {
                c[idx] = v[q];
            }
        }
    }
}

@compute @workgroup_size(16, 16)
fn gemm(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    // Which tile: row-major over the whole grid, or over its upper triangle (row ti holds tiles_p − ti tiles).
    var ti = 0u;
    var tj = 0u;
    if (params.upper == 1u) {
        var rest = wg.x;
        while (rest >= params.tiles_p - ti) {
            rest -= params.tiles_p - ti;
            ti += 1u;
        }
        tj = ti + rest;
    } else {
        ti = wg.x / params.tiles_p;
        tj = wg.x % params.tiles_p;
    }
    let i0 = ti * TILE;
    let j0 = tj * TILE;
    let tx = lid.x;
    let ty = lid.y;

    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var k0 = 0u; k0 < params.k; k0 += KT) {
        // 1024 values per tile, four per invocation. Consecutive invocations read consecutive addresses:
        // along i for Aᵀ and along kk for A (both stored row-major), along j for B.
        for (var e = 0u; e < 4u; e++) {
            let idx = li + 256u * e;
            if (params.trans_a == 1u) {
                let kk = idx / TILE;
                let i = idx % TILE;
                a_tile[kk * TILE + i] = load_a(i0 + i, k0 + kk);
            } else {
                let i = idx / KT;
                let kk = idx % KT;
                a_tile[kk * TILE + i] = load_a(i0 + i, k0 + kk);
            }
            let kb = idx / TILE;
            let j = idx % TILE;
            b_tile[kb * TILE + j] = load_b(k0 + kb, j0 + j);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < KT; kk++) {
            let base = kk * TILE;
            let bv = vec4<f32>(b_tile[base + tx], b_tile[base + tx + 16u], b_tile[base + tx + 32u], b_tile[base + tx + 48u]);
            acc0 += a_tile[base + ty] * bv;
            acc1 += a_tile[base + ty + 16u] * bv;
            acc2 += a_tile[base + ty + 32u] * bv;
            acc3 += a_tile[base + ty + 48u] * bv;
        }
        workgroupBarrier();
    }
    store_row(i0 + ty, j0 + tx, acc0);
    store_row(i0 + ty + 16u, j0 + tx, acc1);
    store_row(i0 + ty + 32u, j0 + tx, acc2);
    store_row(i0 + ty + 48u, j0 + tx, acc3);
}
