// Tiled f32 matrix product C (+)= op(A) · op(B) (see kernels/matmul.rs). All matrices are row-major.
//
// One workgroup of 16×16 invocations computes a 64×64 tile of C; each invocation owns a 4×4 grid of it with
// stride 16 (rows ty + 16r, columns tx + 16c), so neighbouring invocations touch neighbouring addresses. The
// inner dimension goes through workgroup memory 16 at a time: two 16×64 tiles, 8 KiB of the portable 16 KiB.
//
// Sums are compensated, so that a long inner dimension costs no accuracy: a plain f32 running sum over k terms
// loses up to k·u of the terms' magnitude (u = 2^-24; a 4096-row Gram block lost ~90 u in practice), and ZCA
// amplifies covariance errors by up to ε^-3/2 / 2 ≈ 16 000. Each group of 16 products is summed plainly (at
// most 16 u of its magnitude), then added to the running sum with its exact rounding error kept in a second
// value (Knuth's two-sum, additions only, so a contracted multiply-add cannot change it). Across the
// dispatches of a Gram matrix, `c_lo` keeps the rounding error of `c` the same way; the host adds the two.

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
    // Always 1.0. Multiplying by it keeps compilers from simplifying the two-sums below: with the inexact
    // algebra shader compilers may use, (s + x) − s is x and the rounding error comes out as 0 (lavapipe did
    // exactly that), but a value only known when the kernel runs cannot be folded.
    one: f32,
}

@group(0) @binding(0) var<uniform> params: GemmParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
// The rounding error of `c` when accumulating (c + c_lo is the sum); unused otherwise.
@group(0) @binding(4) var<storage, read_write> c_lo: array<f32>;

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

// Adds x to the compensated sum (s, e): afterwards s + e is the exact total, up to the rounding of e.
fn two_sum(s: ptr<function, vec4<f32>>, e: ptr<function, vec4<f32>>, x: vec4<f32>) {
    let one = params.one;
    let t = (*s + x) * one;
    let z = (t - *s) * one;
    *e += (*s - (t - z) * one) * one + (x - z) * one;
    *s = t;
}

// Stores (or accumulates) row i of the tile: the sum v with its compensation e.
fn store_row(i: u32, j0: u32, v: vec4<f32>, e: vec4<f32>) {
    if (i >= params.m) {
        return;
    }
    for (var q = 0u; q < 4u; q++) {
        let j = j0 + 16u * q;
        if (j < params.p) {
            let idx = i * params.p + j;
            if (params.accumulate == 1u) {
                let one = params.one;
                let s = c[idx];
                let t = (s + v[q]) * one;
                let z = (t - s) * one;
                c_lo[idx] += ((s - (t - z) * one) * one + (v[q] - z) * one) + e[q];
                c[idx] = t;
            } else {
                c[idx] = v[q] + e[q];
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

    var sum0 = vec4<f32>(0.0);
    var sum1 = vec4<f32>(0.0);
    var sum2 = vec4<f32>(0.0);
    var sum3 = vec4<f32>(0.0);
    var err0 = vec4<f32>(0.0);
    var err1 = vec4<f32>(0.0);
    var err2 = vec4<f32>(0.0);
    var err3 = vec4<f32>(0.0);
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
        var acc0 = vec4<f32>(0.0);
        var acc1 = vec4<f32>(0.0);
        var acc2 = vec4<f32>(0.0);
        var acc3 = vec4<f32>(0.0);
        for (var kk = 0u; kk < KT; kk++) {
            let base = kk * TILE;
            let bv = vec4<f32>(b_tile[base + tx], b_tile[base + tx + 16u], b_tile[base + tx + 32u], b_tile[base + tx + 48u]);
            acc0 += a_tile[base + ty] * bv;
            acc1 += a_tile[base + ty + 16u] * bv;
            acc2 += a_tile[base + ty + 32u] * bv;
            acc3 += a_tile[base + ty + 48u] * bv;
        }
        two_sum(&sum0, &err0, acc0);
        two_sum(&sum1, &err1, acc1);
        two_sum(&sum2, &err2, acc2);
        two_sum(&sum3, &err3, acc3);
        workgroupBarrier();
    }
    store_row(i0 + ty, j0 + tx, sum0, err0);
    store_row(i0 + ty + 16u, j0 + tx, sum1, err1);
    store_row(i0 + ty + 32u, j0 + tx, sum2, err2);
    store_row(i0 + ty + 48u, j0 + tx, sum3, err3);
}
