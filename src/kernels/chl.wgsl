// Contrastive Hebbian learning on resident tensors (see kernels/chl.rs; CPU twin nets::chl::Chl, its settle and
// update_with, whose rule is plasticity::contrastive). Each kernel loops over its outputs with a grid stride;
// every sum runs over its index in increasing order. No draws: the phases are deterministic.
//
// Layouts (row-major): the images x [images, n_0] and their targets t [images, n_L], uploaded once per run; W
// (every W_k [n_k, n_{k+1}] one after another) and b (every b_k [n_{k+1}]); the states of a batch, row r of
// the batch holding, at column offsets given by the host, the free phase's x_1 … x_L, the clamped phase's
// x_1 … x_{L−1} and the input's drive x_0 W_0 ([rows, stride]). Row r of a batch is image order[cursor + r];
// `ix` holds cursor, rows, the training hits and rows counted, then the order.

struct Dims {
    // Widths of the operands a, b, c.
    n_a: u32,
    n_b: u32,
    n_c: u32,
    // Where each operand lives (SRC_*) and its column offset in the states (or 0 for the images and targets).
    src_a: u32,
    off_a: u32,
    src_b: u32,
    off_b: u32,
    src_c: u32,
    off_c: u32,
    src_d: u32,
    off_d: u32,
    // Offsets of the weights below (a·W_a) and above (c·W_cᵀ) in w, and of the bias in b.
    w_a: u32,
    w_c: u32,
    bias: u32,
    // settle: 1 when the input from below is the drive stored at off_d (layer 1).
    drive: u32,
    // Floats per row of the states.
    stride: u32,
    gamma: f32,
    dt: f32,
    rate: f32,
    _pad: u32,
}

const SRC_IMAGES: u32 = 0u;
const SRC_STATES: u32 = 1u;
const SRC_TARGETS: u32 = 2u;
// The header of `ix` before the order.
const IX_CURSOR: u32 = 0u;
const IX_ROWS: u32 = 1u;
const IX_HITS: u32 = 2u;
const IX_SEEN: u32 = 3u;
const IX_ORDER: u32 = 4u;

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> t: array<f32>;
@group(0) @binding(3) var<storage, read_write> ix: array<u32>;
@group(0) @binding(4) var<storage, read_write> w: array<f32>;
@group(0) @binding(5) var<storage, read_write> b: array<f32>;
@group(0) @binding(6) var<storage, read_write> s: array<f32>;

fn stride(ng: vec3<u32>) -> u32 {
    return ng.x * 64u;
}

fn sigmoid(v: f32) -> f32 {
    return 1.0 / (1.0 + exp(-v));
}

// Unit i (of a layer n wide) of batch row r, from the images, the targets or the states at column `off`.
fn unit(src: u32, off: u32, n: u32, r: u32, i: u32) -> f32 {
    if (src == SRC_IMAGES) {
        return x[ix[IX_ORDER + ix[IX_CURSOR] + r] * n + i];
    }
    if (src == SRC_TARGETS) {
        return t[ix[IX_ORDER + ix[IX_CURSOR] + r] * n + i];
    }
    return s[r * dims.stride + off + i];
}

// The batch's states start at 0: its first rows of the states are cleared.
@compute @workgroup_size(64)
fn zero(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) ng: vec3<u32>) {
    for (var idx = gid.x; idx < ix[IX_ROWS] * dims.stride; idx += stride(ng)) {
        s[idx] = 0.0;
    }
}

// The input's drive x_0 W_0 into b (n_b wide), computed once per batch: both phases share it.
@compute @workgroup_size(64)
fn drive(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) ng: vec3<u32>) {
    for (var idx = gid.x; idx < ix[IX_ROWS] * dims.n_b; idx += stride(ng)) {
        let r = idx / dims.n_b;
        let j = idx % dims.n_b;
        var sum = 0.0;
        for (var i = 0u; i < dims.n_a; i++) {
            sum += unit(dims.src_a, dims.off_a, dims.n_a, r, i) * w[dims.w_a + i * dims.n_b + j];
        }
        s[r * dims.stride + dims.off_b + j] = sum;
    }
}

// One Euler step of layer k (b, n_b wide, in the states) in one phase: x_k += dt (−x_k + σ(x_{k−1} W_{k−1} +
// γ x_{k+1} W_kᵀ + b_{k−1})), with x_{k−1} = a (or the drive at d) and x_{k+1} = c (none when n_c is 0). Each
// invocation writes its own unit of layer k and reads only layers k ± 1, so the layers of a step run one
// dispatch each, in order, as the CPU's loop: layer k sees layer k − 1's new state and layer k + 1's old one.
@compute @workgroup_size(64)
fn settle(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) ng: vec3<u32>) {
    for (var idx = gid.x; idx < ix[IX_ROWS] * dims.n_b; idx += stride(ng)) {
        let r = idx / dims.n_b;
        let j = idx % dims.n_b;
        var a = 0.0;
        if (dims.drive == 1u) {
            a = s[r * dims.stride + dims.off_d + j];
        } else {
            for (var i = 0u; i < dims.n_a; i++) {
                a += unit(dims.src_a, dims.off_a, dims.n_a, r, i) * w[dims.w_a + i * dims.n_b + j];
            }
        }
        if (dims.n_c > 0u) {
            var back = 0.0;
            for (var m = 0u; m < dims.n_c; m++) {
                back += unit(dims.src_c, dims.off_c, dims.n_c, r, m) * w[dims.w_c + j * dims.n_c + m];
            }
            a = a + dims.gamma * back;
        }
        a = a + b[dims.bias + j];
        let at = r * dims.stride + dims.off_b + j;
        let v = s[at];
        s[at] = v + dims.dt * (-v + sigmoid(a));
    }
}

// The update of W_k [n_a, n_c] and b_k [n_c] from both phases' final states (plasticity::contrastive with norm
// 1, as Chl::update_with): W_k += η_k (Σ_r x̂_k x̂_{k+1} − Σ_r x̌_k x̌_{k+1}) and b_k += η_k (Σ_r (x̂_{k+1} −
// x̌_{k+1})) / rows, where x̂_k = a, x̂_{k+1} = c (clamped), x̌_k = b, x̌_{k+1} = d (free) and η_k = rate.
@compute @workgroup_size(64)
fn update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) ng: vec3<u32>) {
    let rows = ix[IX_ROWS];
    let nw = dims.n_a * dims.n_c;
    for (var idx = gid.x; idx < nw + dims.n_c; idx += stride(ng)) {
        if (idx < nw) {
            let i = idx / dims.n_c;
            let j = idx % dims.n_c;
            var plus = 0.0;
            var minus = 0.0;
            for (var r = 0u; r < rows; r++) {
                plus += unit(dims.src_a, dims.off_a, dims.n_a, r, i) * unit(dims.src_c, dims.off_c, dims.n_c, r, j);
            }
            for (var r = 0u; r < rows; r++) {
                minus += unit(dims.src_b, dims.off_b, dims.n_a, r, i) * unit(dims.src_d, dims.off_d, dims.n_c, r, j);
            }
            w[dims.w_c + idx] = w[dims.w_c + idx] + dims.rate * (plus - minus);
        } else {
            let j = idx - nw;
            var sum = 0.0;
            for (var r = 0u; r < rows; r++) {
                sum += unit(dims.src_c, dims.off_c, dims.n_c, r, j) - unit(dims.src_d, dims.off_d, dims.n_c, r, j);
            }
            b[dims.bias + j] = b[dims.bias + j] + dims.rate * (sum / f32(rows));
        }
    }
}

// One invocation, after a training batch: its free phase's hits (the argmax of the output b, the first of equal
// values, against the target's) counted, and the cursor moved to the next batch.
@compute @workgroup_size(1)
fn finish() {
    let rows = ix[IX_ROWS];
    var hits = 0u;
    for (var r = 0u; r < rows; r++) {
        var best = 0u;
        var top = unit(SRC_STATES, dims.off_b, dims.n_b, r, 0u);
        var label = 0u;
        var high = unit(SRC_TARGETS, 0u, dims.n_b, r, 0u);
        for (var j = 1u; j < dims.n_b; j++) {
            let v = unit(SRC_STATES, dims.off_b, dims.n_b, r, j);
            if (v > top) {
                top = v;
                best = j;
            }
            let y = unit(SRC_TARGETS, 0u, dims.n_b, r, j);
            if (y > high) {
                high = y;
                label = j;
            }
        }
        hits += select(0u, 1u, best == label);
    }
    ix[IX_HITS] = ix[IX_HITS] + hits;
    ix[IX_SEEN] = ix[IX_SEEN] + rows;
    ix[IX_CURSOR] = ix[IX_CURSOR] + rows;
}
