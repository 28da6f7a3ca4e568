// A convolution as implicit GEMMs (see kernels/hebbconv.rs and kernels/hebbback.rs): the forward pass
// y = conv(pad(x), w), the correlation Σ_{n,p} r[n,k,p]·patch_{n,p}(x) (the Hebbian update's, and with r = dy the
// weight gradient), and the input gradient dx[ci, j'] = Σ_kk w[kk, ci]·dy_at(j', kk), for reflect padding (the
// Hebbian layers) or zero padding (nn.Conv2d, the backprop baseline). All read straight from x, w and dy through
// a padding index map: no padded copy, no unfolded patch matrix, and no scatter (each dx entry gathers its
// terms, so no atomics are needed).
//
// Layouts (row-major): x and dx [N, C_in, H, W]; w [C_out, C_in·k·k]; y, r and dy [N, C_out, Ho·Wo]. Column j of
// the forward GEMM is an output position of one image, j = n·Ho·Wo + oy·Wo + ox; row kk of the patch matrix is
// kk = ci·k·k + ky·k + kx, the order of w's columns. The input gradient's GEMM has rows ci, columns the input
// positions j' = n·H·W + iy·W + ix and a reduction over kk' = co·k·k + ky·k + kx.
//
// One workgroup of 16×16 invocations computes a 64×64 tile of its product; each invocation owns a 4×4 grid of it
// with stride 16, and the reduction goes through workgroup memory 16 at a time (two 16×64 tiles, 8 KiB of the
// portable 16 KiB), as in matmul.wgsl.
//
// The correlation sums over N·Ho·Wo positions, far more than the C_out × C_in·k² tiles it has: it is split into
// `splits` slices of `j_per_split` positions, each workgroup writing its slice's partial sums, and `sum_splits`
// adds the slices (split-K), so that small first layers still fill the device.

struct ConvParams {
    n: u32,
    c_in: u32,
    h: u32,
    w: u32,
    c_out: u32,
    k: u32,
    stride: u32,
    pad: u32,
    ho: u32,
    wo: u32,
    // Column tiles of the product: ceil(N·Ho·Wo / 64) for the forward pass, ceil(C_in·k² / 64) for the
    // correlation.
    tiles_j: u32,
    // Row tiles: ceil(C_out / 64).
    tiles_i: u32,
    // Slices of the correlation's reduction, and positions per slice (a multiple of 16).
    splits: u32,
    j_per_split: u32,
    // 1: zero padding (nn.Conv2d); 0: PyTorch's 'reflect' padding.
    zero_pad: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: ConvParams;
// forward and input_grad: the weights w; correlate: the coefficients r (or dy); sum_splits: the partial sums.
@group(0) @binding(1) var<storage, read> a: array<f32>;
// forward and correlate: the input x; input_grad: dy (sum_splits binds it only to keep one binding layout for
// the family; it reads nothing there).
@group(0) @binding(2) var<storage, read> b: array<f32>;
// forward: y; correlate: the partial sums [splits, C_out, C_in·k²]; sum_splits: the correlation [C_out, C_in·k²];
// input_grad: dx.
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

const TILE: u32 = 64u;
const KT: u32 = 16u;

var<workgroup> a_tile: array<f32, 1024>;
var<workgroup> b_tile: array<f32, 1024>;

// The input index under index i of a padded axis of length n + 2·pad (pad < n): PyTorch's 'reflect' padding
// mirrors it into 0..n; zero padding gives -1 where it reads a zero.
fn source_index(i: i32, n: u32) -> i32 {
    let last = i32(n) - 1;
    if (params.zero_pad == 1u) {
        if (i < 0 || i > last) {
            return -1;
        }
        return i;
    }
    var j = i;
    if (j < 0) {
        j = -j;
    }
    if (j > last) {
        j = 2 * last - j;
    }
    return j;
}

// Entry kk of the patch of padded x under GEMM column j; 0 outside the product (so that edge tiles need no
// special case) and on zero padding.
fn patch_at(j: u32, kk: u32) -> f32 {
    let positions = params.ho * params.wo;
    let kk_all = params.c_in * params.k * params.k;
    if (j >= params.n * positions || kk >= kk_all) {
        return 0.0;
    }
    let img = j / positions;
    let p = j % positions;
    let oy = p / params.wo;
    let ox = p % params.wo;
    let kk2 = params.k * params.k;
    let ci = kk / kk2;
    let r = kk % kk2;
    let ky = r / params.k;
    let kx = r % params.k;
    let iy = source_index(i32(oy * params.stride + ky) - i32(params.pad), params.h);
    let ix = source_index(i32(ox * params.stride + kx) - i32(params.pad), params.w);
    if (iy < 0 || ix < 0) {
        return 0.0;
    }
    return b[((img * params.c_in + ci) * params.h + u32(iy)) * params.w + u32(ix)];
}

// The padded indices that read input index i of an axis of length n (at most three: the index itself and,
// with reflect padding, its mirror images in the left and right borders), with `count` of them valid.
struct Sources {
    p: array<i32, 3>,
    count: u32,
}

fn padded_sources(i: u32, n: u32) -> Sources {
    var s: Sources;
    s.p[0] = i32(i + params.pad);
    s.count = 1u;
    if (params.zero_pad == 0u) {
        // Left border: padded q < pad reads input pad − q, so input i (1 ≤ i ≤ pad) is read at q = pad − i.
        if (i >= 1u && i <= params.pad) {
            s.p[s.count] = i32(params.pad - i);
            s.count += 1u;
        }
        // Right border: padded q = pad + n − 1 + d (1 ≤ d ≤ pad) reads input n − 1 − d.
        if (i + 1u < n && i + 1u + params.pad >= n) {
            s.p[s.count] = i32(params.pad + 2u * (n - 1u) - i);
            s.count += 1u;
        }
    }
    return s;
}

// Term kk' = (co, ky, kx) of input position j' = (n, iy, ix) of the input gradient: the sum of dy[n, co, oy, ox]
// (binding b) over the padded positions (py, px) that read (iy, ix) and lie under the filter tap (ky, kx) of
// output (oy, ox), i.e. py = oy·stride + ky. 0 outside the product.
fn dy_at(jj: u32, kk: u32) -> f32 {
    let positions = params.h * params.w;
    let kk2 = params.k * params.k;
    if (jj >= params.n * positions || kk >= params.c_out * kk2) {
        return 0.0;
    }
    let img = jj / positions;
    let p = jj % positions;
    let iy = p / params.w;
    let ix = p % params.w;
    let co = kk / kk2;
    let r = kk % kk2;
    let ky = i32(r / params.k);
    let kx = i32(r % params.k);
    let st = i32(params.stride);
    let rows = padded_sources(iy, params.h);
    let cols = padded_sources(ix, params.w);
    let plane = (img * params.c_out + co) * params.ho * params.wo;
    var total = 0.0;
    for (var u = 0u; u < rows.count; u++) {
        let dy0 = rows.p[u] - ky;
        if (dy0 < 0 || dy0 % st != 0 || dy0 / st >= i32(params.ho)) {
            continue;
        }
        for (var v = 0u; v < cols.count; v++) {
            let dx0 = cols.p[v] - kx;
            if (dx0 < 0 || dx0 % st != 0 || dx0 / st >= i32(params.wo)) {
                continue;
            }
            total += b[plane + u32(dy0 / st) * params.wo + u32(dx0 / st)];
        }
    }
    return total;
}

// The 4×4 products of one 16-deep step: acc_q += a_tile[·][ty + 16q] · b_tile[·][tx + 16c].
fn tile_step(tx: u32, ty: u32, acc: ptr<function, array<vec4<f32>, 4>>) {
    for (var kk = 0u; kk < KT; kk++) {
        let base = kk * TILE;
        let bv = vec4<f32>(b_tile[base + tx], b_tile[base + tx + 16u], b_tile[base + tx + 32u], b_tile[base + tx + 48u]);
        (*acc)[0] += a_tile[base + ty] * bv;
        (*acc)[1] += a_tile[base + ty + 16u] * bv;
        (*acc)[2] += a_tile[base + ty + 32u] * bv;
        (*acc)[3] += a_tile[base + ty + 48u] * bv;
    }
}

// y[n, co, p] = Σ_kk w[co, kk] · patch_at(j, kk): rows co, columns j = (n, p).
@compute @workgroup_size(16, 16)
fn forward(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let i0 = (wg.x / params.tiles_j) * TILE;
    let j0 = (wg.x % params.tiles_j) * TILE;
    let kk_all = params.c_in * params.k * params.k;
    var acc = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    for (var k0 = 0u; k0 < kk_all; k0 += KT) {
        for (var e = 0u; e < 4u; e++) {
            let idx = li + 256u * e;
            // Weights along kk (contiguous in w), patches along j (contiguous output positions).
            let i = idx / KT;
            let kk = idx % KT;
            var wv = 0.0;
            if (i0 + i < params.c_out && k0 + kk < kk_all) {
                wv = a[(i0 + i) * kk_all + k0 + kk];
            }
            a_tile[kk * TILE + i] = wv;
            let kb = idx / TILE;
            let j = idx % TILE;
            b_tile[kb * TILE + j] = patch_at(j0 + j, k0 + kb);
        }
        workgroupBarrier();
        tile_step(lid.x, lid.y, &acc);
        workgroupBarrier();
    }
    let positions = params.ho * params.wo;
    for (var q = 0u; q < 4u; q++) {
        let co = i0 + lid.y + 16u * q;
        if (co >= params.c_out) {
            continue;
        }
        for (var c = 0u; c < 4u; c++) {
            let j = j0 + lid.x + 16u * c;
            if (j < params.n * positions) {
                out[((j / positions) * params.c_out + co) * positions + j % positions] = acc[q][c];
            }
        }
    }
}

// Partial correlation of slice s: out[s, co, kk] = Σ_{j in slice s} r[co, j] · patch_at(j, kk).
@compute @workgroup_size(16, 16)
fn correlate(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let tiles = params.tiles_i * params.tiles_j;
    let s = wg.x / tiles;
    let t = wg.x % tiles;
    let i0 = (t / params.tiles_j) * TILE;
    let kk0 = (t % params.tiles_j) * TILE;
    let positions = params.ho * params.wo;
    let j_all = params.n * positions;
    let kk_all = params.c_in * params.k * params.k;
    let j_start = s * params.j_per_split;
    let j_end = min(j_start + params.j_per_split, j_all);
    var acc = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    for (var j0 = j_start; j0 < j_end; j0 += KT) {
        for (var e = 0u; e < 4u; e++) {
            let idx = li + 256u * e;
            // r along j (contiguous positions of one channel), patches along kk.
            let i = idx / KT;
            let jj = idx % KT;
            let j = j0 + jj;
            var rv = 0.0;
            if (i0 + i < params.c_out && j < j_end) {
                rv = a[((j / positions) * params.c_out + i0 + i) * positions + j % positions];
            }
            a_tile[jj * TILE + i] = rv;
            let jb = idx / TILE;
            let kk = idx % TILE;
            var pv = 0.0;
            if (j0 + jb < j_end) {
                pv = patch_at(j0 + jb, kk0 + kk);
            }
            b_tile[jb * TILE + kk] = pv;
        }
        workgroupBarrier();
        tile_step(lid.x, lid.y, &acc);
        workgroupBarrier();
    }
    for (var q = 0u; q < 4u; q++) {
        let co = i0 + lid.y + 16u * q;
        if (co >= params.c_out) {
            continue;
        }
        for (var c = 0u; c < 4u; c++) {
            let kk = kk0 + lid.x + 16u * c;
            if (kk < kk_all) {
                out[(s * params.c_out + co) * kk_all + kk] = acc[q][c];
            }
        }
    }
}

// out[i] = Σ_s a[s·M + i] over the correlation's slices, M = C_out·C_in·k² (one invocation per weight).
@compute @workgroup_size(256)
fn sum_splits(@builtin(global_invocation_id) gid: vec3<u32>) {
    let m = params.c_out * params.c_in * params.k * params.k;
    if (gid.x >= m || arrayLength(&b) == 0u) {
        return;
    }
    var total = 0.0;
    for (var s = 0u; s < params.splits; s++) {
        total += a[s * m + gid.x];
    }
    out[gid.x] = total;
}

// dx[n, ci, p'] = Σ_kk' w[co, ci, ky, kx] · dy_at(j', kk'): rows ci, columns j' = (n, p').
@compute @workgroup_size(16, 16)
fn input_grad(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let i0 = (wg.x / params.tiles_j) * TILE;
    let j0 = (wg.x % params.tiles_j) * TILE;
    let kk2 = params.k * params.k;
    let kk_all = params.c_out * kk2;
    var acc = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    for (var k0 = 0u; k0 < kk_all; k0 += KT) {
        for (var e = 0u; e < 4u; e++) {
            let idx = li + 256u * e;
            // Weights along kk' = (co, ky, kx): w[co, ci, ky, kx] for row ci.
            let i = idx / KT;
            let kk = idx % KT;
            var wv = 0.0;
            if (i0 + i < params.c_in && k0 + kk < kk_all) {
                let co = (k0 + kk) / kk2;
                let r = (k0 + kk) % kk2;
                wv = a[(co * params.c_in + i0 + i) * kk2 + r];
            }
            a_tile[kk * TILE + i] = wv;
            let kb = idx / TILE;
            let j = idx % TILE;
            b_tile[kb * TILE + j] = dy_at(j0 + j, k0 + kb);
        }
        workgroupBarrier();
        tile_step(lid.x, lid.y, &acc);
        workgroupBarrier();
    }
    let positions = params.h * params.w;
    for (var q = 0u; q < 4u; q++) {
        let ci = i0 + lid.y + 16u * q;
        if (ci >= params.c_in) {
            continue;
        }
        for (var c = 0u; c < 4u; c++) {
            let j = j0 + lid.x + 16u * c;
            if (j < params.n * positions) {
                out[((j / positions) * params.c_in + ci) * positions + j % positions] = acc[q][c];
            }
        }
    }
}
