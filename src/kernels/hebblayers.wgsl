// The layers around a Hebbian convolution on resident tensors (see kernels/hebblayers.rs; CPU twins in
// nets::hebbconv::{layers, conv}): BatchNorm2d without affine parameters (batch statistics with the running
// averages' update, or the running statistics), the Triangle activation, a residual block's sum, max and
// average pooling, the surround-modulation DoG, and the two halves of the cosine activation that are not the convolution: the
// forward pass's weights (|w| and/or normalised) and the division by each patch's norm.
//
// Layouts (row-major): activations [N, C, H, W]; BatchNorm statistics [2C] (C means, then C variances);
// weights [C_out, C_in·k·k].
//
// Element-wise kernels loop with a grid stride (the host caps their workgroups, so any batch fits the
// portable limit of 65,535 workgroups per dimension).

struct LayerParams {
    n: u32,
    // Channels of the input (C_in for the convolution's kernels).
    c: u32,
    h: u32,
    w: u32,
    // Output sides (pools, the cosine's positions).
    ho: u32,
    wo: u32,
    // Window side, stride and padding (pools: zero / −∞ padding; the cosine's patches: reflect padding).
    k: u32,
    stride: u32,
    pad: u32,
    // The convolution's output channels (cosine, forward weights).
    c_out: u32,
    // Pools: POOL_*; forward weights: NORM_*.
    mode: u32,
    // Forward weights: 1 takes |w| first (Dale's principle).
    abs_w: u32,
    // Triangle's exponent.
    power: f32,
    // BatchNorm's weight of the new batch in the running averages, and its ε.
    momentum: f32,
    eps: f32,
    // Pre-synaptic competition: which weights compete (PRE_OVER_*; `mode` is then PRE_*).
    over: u32,
}

const POOL_MAX: u32 = 0u;
const POOL_AVG: u32 = 1u;
const NORM_NONE: u32 = 0u;
const NORM_FILTER: u32 = 1u;
const NORM_POSITION: u32 = 2u;

@group(0) @binding(0) var<uniform> params: LayerParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
// BatchNorm: what `bn_apply` normalises with (this batch's mean and biased variance, or the running ones).
@group(0) @binding(3) var<storage, read_write> stats: array<f32>;
// BatchNorm's running mean and unbiased running variance.
@group(0) @binding(4) var<storage, read_write> running: array<f32>;
// The surround-modulation kernel, 5 × 5 row-major (computed once on the host by layers::dog_kernel).
@group(0) @binding(5) var<storage, read> dog: array<f32>;
// The second addend of `add`.
@group(0) @binding(6) var<storage, read> other: array<f32>;

const WG: u32 = 256u;
var<workgroup> scratch: array<f32, 256>;

// Tree sum of scratch[0..256] into scratch[0] (every invocation of the workgroup calls it).
fn reduce_sum(li: u32) {
    for (var half = WG / 2u; half > 0u; half /= 2u) {
        if (li < half) {
            scratch[li] += scratch[li + half];
        }
        workgroupBarrier();
    }
}

// The sum of every invocation's v (every invocation gets it; scratch is free again afterwards).
fn workgroup_total(li: u32, v: f32) -> f32 {
    scratch[li] = v;
    workgroupBarrier();
    reduce_sum(li);
    let t = scratch[0];
    workgroupBarrier();
    return t;
}

// Index in an [N, C, H, W] tensor of entry j of channel ch's N·H·W entries.
fn channel_entry(ch: u32, j: u32) -> u32 {
    let hw = params.h * params.w;
    return ((j / hw) * params.c + ch) * hw + j % hw;
}

// Channel ch of src over (N, H, W), on one workgroup: its mean, then the sum of squared deviations from it
// (a second pass, as the CPU's).
fn channel_moments(ch: u32, li: u32) -> vec2<f32> {
    let count = params.n * params.h * params.w;
    var s = 0.0;
    for (var j = li; j < count; j += WG) {
        s += src[channel_entry(ch, j)];
    }
    let mean = workgroup_total(li, s) / f32(count);
    var q = 0.0;
    for (var j = li; j < count; j += WG) {
        let d = src[channel_entry(ch, j)] - mean;
        q += d * d;
    }
    return vec2<f32>(mean, workgroup_total(li, q));
}

// One workgroup per channel: the batch's mean over (N, H, W), then the biased variance from a second pass
// over the deviations (as the CPU's two passes), and the running averages moved by `momentum` with the
// unbiased variance (PyTorch's BatchNorm2d in training mode).
@compute @workgroup_size(256)
fn bn_stats(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let ch = wg.x;
    let count = params.n * params.h * params.w;
    let moments = channel_moments(ch, li);
    let mean = moments.x;
    if (li == 0u) {
        let biased = moments.y / f32(count);
        var unbiased = biased;
        if (count > 1u) {
            unbiased = moments.y / f32(count - 1u);
        }
        stats[ch] = mean;
        stats[params.c + ch] = biased;
        let m = params.momentum;
        running[ch] = (1.0 - m) * running[ch] + m * mean;
        running[params.c + ch] = (1.0 - m) * running[params.c + ch] + m * unbiased;
    }
}

// dst = (src − mean_c) / sqrt(var_c + ε) per element.
@compute @workgroup_size(256)
fn bn_apply(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let hw = params.h * params.w;
    let total = params.n * params.c * hw;
    for (var i = gid.x; i < total; i += nwg.x * WG) {
        let ch = (i / hw) % params.c;
        let inv = 1.0 / sqrt(stats[params.c + ch] + params.eps);
        dst[i] = (src[i] - stats[ch]) * inv;
    }
}

// The mean over channels of src at the position whose channel 0 is src[base] (channels hw apart), summed in
// channel order as the CPU does.
fn channel_mean(base: u32, hw: u32) -> f32 {
    var s = 0.0;
    for (var ch = 0u; ch < params.c; ch++) {
        s += src[base + ch * hw];
    }
    return s / f32(params.c);
}

// Triangle: dst = ReLU(src − mean_c src)^power, the mean over channels at each (n, h, w), summed in channel
// order as the CPU does.
@compute @workgroup_size(256)
fn triangle(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let hw = params.h * params.w;
    for (var j = gid.x; j < params.n * hw; j += nwg.x * WG) {
        let base = (j / hw) * params.c * hw + j % hw;
        let mean = channel_mean(base, hw);
        for (var ch = 0u; ch < params.c; ch++) {
            let r = max(src[base + ch * hw] - mean, 0.0);
            var v = r;
            // pow is exp2(power·log2 r): 0 must stay 0 rather than depend on how log2(0) is handled.
            if (params.power != 1.0 && r > 0.0) {
                v = pow(r, params.power);
            }
            dst[base + ch * hw] = v;
        }
    }
}

// A residual block's sum: dst = src + other over [N, C, H, W] (the body's and the shortcut's outputs).
@compute @workgroup_size(256)
fn add(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var j = gid.x; j < params.n * params.c * params.h * params.w; j += nwg.x * WG) {
        dst[j] = src[j] + other[j];
    }
}

// MaxPool2d / AvgPool2d (ceil_mode false): padding never wins a max and counts as zero in an average, whose
// divisor is k² (count_include_pad), as PyTorch's defaults.
@compute @workgroup_size(256)
fn pool(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let out_plane = params.ho * params.wo;
    let total = params.n * params.c * out_plane;
    for (var i = gid.x; i < total; i += nwg.x * WG) {
        let plane = (i / out_plane) * params.h * params.w;
        let oy = (i % out_plane) / params.wo;
        let ox = i % params.wo;
        // The lowest finite f32 (as an exact hex literal: Chromium refuses a decimal that rounds past it), below
        // every activation, like the CPU's −∞.
        var acc = -0x1.fffffep+127f;
        if (params.mode == POOL_AVG) {
            acc = 0.0;
        }
        for (var ky = 0u; ky < params.k; ky++) {
            let yy = i32(oy * params.stride + ky) - i32(params.pad);
            if (yy < 0 || yy >= i32(params.h)) {
                continue;
            }
            for (var kx = 0u; kx < params.k; kx++) {
                let xx = i32(ox * params.stride + kx) - i32(params.pad);
                if (xx >= 0 && xx < i32(params.w)) {
                    let v = src[plane + u32(yy) * params.w + u32(xx)];
                    if (params.mode == POOL_AVG) {
                        acc += v;
                    } else {
                        acc = max(acc, v);
                    }
                }
            }
        }
        if (params.mode == POOL_AVG) {
            acc = acc / f32(params.k * params.k);
        }
        dst[i] = acc;
    }
}

// Surround modulation: every channel cross-correlated with the 5 × 5 DoG, zero padding 2 (shape kept),
// summed in the kernel's row-major order as the CPU does.
@compute @workgroup_size(256)
fn surround(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let hw = params.h * params.w;
    let total = params.n * params.c * hw;
    for (var i = gid.x; i < total; i += nwg.x * WG) {
        let plane = (i / hw) * hw;
        let oy = i32((i % hw) / params.w);
        let ox = i32(i % params.w);
        var acc = 0.0;
        for (var ky = 0; ky < 5; ky++) {
            let yy = oy + ky - 2;
            if (yy < 0 || yy >= i32(params.h)) {
                continue;
            }
            for (var kx = 0; kx < 5; kx++) {
                let xx = ox + kx - 2;
                if (xx >= 0 && xx < i32(params.w)) {
                    acc += dog[ky * 5 + kx] * src[plane + u32(yy) * params.w + u32(xx)];
                }
            }
        }
        dst[i] = acc;
    }
}

// PyTorch's 'reflect' padding (pad < n), as in hebbconv.wgsl: index i of a padded axis mapped into 0..n.
fn reflect(i: i32, n: u32) -> u32 {
    var j = abs(i);
    let last = i32(n) - 1;
    if (j > last) {
        j = 2 * last - j;
    }
    return u32(j);
}

// The cosine activation's denominator: at each output position (n, oy, ox) of the convolution whose input
// is src, the patch's norm sqrt(Σ_{c, ky, kx} x_pad² + 1e-8) over all input channels; the convolution's
// output dst [N, C_out, Ho, Wo] is divided by it in place.
@compute @workgroup_size(256)
fn cosine(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let positions = params.ho * params.wo;
    for (var j = gid.x; j < params.n * positions; j += nwg.x * WG) {
        let img = j / positions;
        let p = j % positions;
        let oy = p / params.wo;
        let ox = p % params.wo;
        var s = 0.0;
        for (var ci = 0u; ci < params.c; ci++) {
            let plane = (img * params.c + ci) * params.h * params.w;
            for (var ky = 0u; ky < params.k; ky++) {
                let iy = reflect(i32(oy * params.stride + ky) - i32(params.pad), params.h);
                for (var kx = 0u; kx < params.k; kx++) {
                    let ix = reflect(i32(ox * params.stride + kx) - i32(params.pad), params.w);
                    let v = src[plane + iy * params.w + ix];
                    s += v * v;
                }
            }
        }
        let d = sqrt(s + 1e-8);
        for (var co = 0u; co < params.c_out; co++) {
            let i = (img * params.c_out + co) * positions + p;
            dst[i] = dst[i] / d;
        }
    }
}

const PRE_LINEAR: u32 = 0u;
const PRE_SOFTMAX: u32 = 1u;
const PRE_L2: u32 = 2u;
const PRE_OVER_OUTPUT: u32 = 0u;
const PRE_OVER_INPUT: u32 = 1u;
const PRE_OVER_SPATIAL: u32 = 2u;
const PRE_OVER_GLOBAL: u32 = 3u;

// Pre-synaptic competition's groups of w [c_out, c, k, k]: group g is the weights first + j·step, j < count.
struct PreGroup {
    first: u32,
    step: u32,
    count: u32,
}

fn pre_group(g: u32) -> PreGroup {
    let kk = params.k * params.k;
    let f = params.c * kk;
    switch params.over {
        // Every output channel's weight at one (input channel, position).
        case PRE_OVER_OUTPUT: {
            return PreGroup(g, f, params.c_out);
        }
        // Every input channel's weight at one (output channel, position).
        case PRE_OVER_INPUT: {
            return PreGroup((g / kk) * f + g % kk, kk, params.c);
        }
        // The k × k positions of one (output, input) pair.
        case PRE_OVER_SPATIAL: {
            return PreGroup(g * kk, 1u, kk);
        }
        default: {
            return PreGroup(0u, 1u, params.c_out * f);
        }
    }
}

fn coupling(i: u32) -> f32 {
    return 1.0 / (abs(src[i]) + 1e-6);
}

// What group members j0, j0 + by, … of `g` add to the normalisation's sum (for the softmax, less `most`).
fn pre_partial(g: PreGroup, j0: u32, by: u32, most: f32) -> f32 {
    var s = 0.0;
    for (var j = j0; j < g.count; j += by) {
        let m = coupling(g.first + j * g.step);
        switch params.mode {
            case PRE_LINEAR: {
                s += m;
            }
            case PRE_L2: {
                s += m * m;
            }
            default: {
                s += exp(m - most);
            }
        }
    }
    return s;
}

fn pre_largest(g: PreGroup, j0: u32, by: u32) -> f32 {
    var most = 0.0;
    for (var j = j0; j < g.count; j += by) {
        most = max(most, coupling(g.first + j * g.step));
    }
    return most;
}

// Members j0, j0 + by, … of `g` normalised: m/(Σm + 1e-6), softmax(m) (less its maximum first, as the CPU
// twin) or m/‖m‖₂, into dst.
fn pre_write(g: PreGroup, j0: u32, by: u32, most: f32, s: f32) {
    for (var j = j0; j < g.count; j += by) {
        let i = g.first + j * g.step;
        let m = coupling(i);
        switch params.mode {
            case PRE_LINEAR: {
                dst[i] = m / (s + 1e-6);
            }
            case PRE_L2: {
                dst[i] = m / max(sqrt(s), 1e-12);
            }
            default: {
                dst[i] = exp(m - most) / s;
            }
        }
    }
}

// One invocation per group (`n` groups, each at most max(C_out, C_in, k²) weights): the pre-synaptic couplings
// m = 1/(|w| + 1e-6) normalised within the group.
@compute @workgroup_size(256)
fn presynaptic(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= params.n) {
        return;
    }
    let g = pre_group(gid.x);
    let most = pre_largest(g, 0u, 1u);
    pre_write(g, 0u, 1u, most, pre_partial(g, 0u, 1u, most));
}

// The whole layer as one group, on one workgroup: its invocations share the weights (a single invocation's
// loop over a layer of 10⁵-10⁶ weights is more than drivers let a shader run; lavapipe stops loops past
// 65,535 iterations).
@compute @workgroup_size(256)
fn presynaptic_global(@builtin(local_invocation_index) li: u32) {
    let g = pre_group(0u);
    scratch[li] = pre_largest(g, li, WG);
    workgroupBarrier();
    for (var half = WG / 2u; half > 0u; half /= 2u) {
        if (li < half) {
            scratch[li] = max(scratch[li], scratch[li + half]);
        }
        workgroupBarrier();
    }
    let most = scratch[0];
    workgroupBarrier();
    scratch[li] = pre_partial(g, li, WG, most);
    workgroupBarrier();
    reduce_sum(li);
    pre_write(g, li, WG, most, scratch[0]);
}

// One entry of the weights the forward pass uses: |w| under Dale's principle, else w.
fn forward_value(i: u32) -> f32 {
    if (params.abs_w == 1u) {
        return abs(src[i]);
    }
    return src[i];
}

// One workgroup per filter: dst = the forward pass's weights, |w| or w, then normalised as F.normalize does
// (÷ max(‖·‖, 1e-12)) over the whole filter (the intended cosine, SoftHebb's w_nrm) or over the input
// channels at each kernel position (the printed code's quirk), or not at all.
@compute @workgroup_size(256)
fn forward_weights(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let kk = params.k * params.k;
    let f = params.c * kk;
    let base = wg.x * f;
    if (params.mode == NORM_FILTER) {
        var s = 0.0;
        for (var j = li; j < f; j += WG) {
            let v = forward_value(base + j);
            s += v * v;
        }
        scratch[li] = s;
        workgroupBarrier();
        reduce_sum(li);
        let norm = max(sqrt(scratch[0]), 1e-12);
        for (var j = li; j < f; j += WG) {
            dst[base + j] = forward_value(base + j) / norm;
        }
    } else if (params.mode == NORM_POSITION) {
        for (var q = li; q < kk; q += WG) {
            var s = 0.0;
            for (var ci = 0u; ci < params.c; ci++) {
                let v = forward_value(base + ci * kk + q);
                s += v * v;
            }
            let norm = max(sqrt(s), 1e-12);
            for (var ci = 0u; ci < params.c; ci++) {
                dst[base + ci * kk + q] = forward_value(base + ci * kk + q) / norm;
            }
        }
    } else {
        for (var j = li; j < f; j += WG) {
            dst[base + j] = forward_value(base + j);
        }
    }
}

// ---- Reverse mode (the backprop baseline; CPU twins in nets::hebbconv::backward). src is the layer's forward
// input x, other the upstream gradient dL/dy, dst receives dL/dx. Each entry of dx gathers what it owes, so no
// two invocations write one value.

// BatchNorm2d without affine parameters, one workgroup per channel. Training (`mode` 1): the forward's batch
// statistics again (mean, then the biased variance), then dx = (dy − mean(dy) − x̂·mean(dy·x̂))/σ; evaluation:
// dx = dy/√(running_var + ε).
@compute @workgroup_size(256)
fn bn_backward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let ch = wg.x;
    let count = params.n * params.h * params.w;
    if (params.mode == 0u) {
        let inv = 1.0 / sqrt(running[params.c + ch] + params.eps);
        for (var j = li; j < count; j += WG) {
            let i = channel_entry(ch, j);
            dst[i] = other[i] * inv;
        }
        return;
    }
    let moments = channel_moments(ch, li);
    let mean = moments.x;
    let inv = 1.0 / sqrt(moments.y / f32(count) + params.eps);
    var sg = 0.0;
    var sgx = 0.0;
    for (var j = li; j < count; j += WG) {
        let i = channel_entry(ch, j);
        sg += other[i];
        sgx += other[i] * ((src[i] - mean) * inv);
    }
    let mean_g = workgroup_total(li, sg) / f32(count);
    let mean_gx = workgroup_total(li, sgx) / f32(count);
    for (var j = li; j < count; j += WG) {
        let i = channel_entry(ch, j);
        dst[i] = inv * (other[i] - mean_g - (src[i] - mean) * inv * mean_gx);
    }
}

// ReLU (the backprop baseline's activation): out = max(x, 0).
@compute @workgroup_size(256)
fn relu(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var j = gid.x; j < params.n * params.c * params.h * params.w; j += nwg.x * WG) {
        dst[j] = max(src[j], 0.0);
    }
}

// ReLU: dx = dy where x > 0, else 0 (zero at x = 0, as PyTorch's threshold_backward).
@compute @workgroup_size(256)
fn relu_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var j = gid.x; j < params.n * params.c * params.h * params.w; j += nwg.x * WG) {
        dst[j] = select(0.0, other[j], src[j] > 0.0);
    }
}

// Triangle ReLU(y − mean_c y)^power, one invocation per (n, h, w): g_c = dy_c·power·t_c^(power−1) where
// t_c = y_c − mean > 0, else 0; then dx_c = g_c − mean_c g (the mean couples the channels).
@compute @workgroup_size(256)
fn triangle_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let hw = params.h * params.w;
    for (var j = gid.x; j < params.n * hw; j += nwg.x * WG) {
        let base = (j / hw) * params.c * hw + j % hw;
        let mean = channel_mean(base, hw);
        var sg = 0.0;
        for (var ch = 0u; ch < params.c; ch++) {
            let i = base + ch * hw;
            let t = src[i] - mean;
            var g = 0.0;
            if (t > 0.0) {
                g = other[i];
                if (params.power != 1.0) {
                    g = g * params.power * pow(t, params.power - 1.0);
                }
            }
            dst[i] = g;
            sg += g;
        }
        let mean_g = sg / f32(params.c);
        for (var ch = 0u; ch < params.c; ch++) {
            dst[base + ch * hw] -= mean_g;
        }
    }
}

// The output windows of a pool that contain input row (or column) v: o from first to last inclusive (empty
// when first > last).
fn windows_over(v: u32, side_out: u32) -> vec2<i32> {
    let p = i32(v) + i32(params.pad);
    let k = i32(params.k);
    let s = i32(params.stride);
    let first = max((p - k + s) / s, 0);
    let last = min(p / s, i32(side_out) - 1);
    return vec2<i32>(first, last);
}

// MaxPool2d and AvgPool2d, one invocation per input entry: the sum of dy over the windows that contain it and
// (max) chose it, by the forward's rule (rows then columns, a later entry wins only if strictly greater, so the
// first of equal maxima; padding never wins); an average's share is dy/k² (count_include_pad).
@compute @workgroup_size(256)
fn pool_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let plane_in = params.h * params.w;
    let plane_out = params.ho * params.wo;
    for (var i = gid.x; i < params.n * params.c * plane_in; i += nwg.x * WG) {
        let plane = i / plane_in;
        let y = (i % plane_in) / params.w;
        let x = i % params.w;
        let rows = windows_over(y, params.ho);
        let cols = windows_over(x, params.wo);
        var acc = 0.0;
        for (var oy = rows.x; oy <= rows.y; oy++) {
            for (var ox = cols.x; ox <= cols.y; ox++) {
                let g = other[plane * plane_out + u32(oy) * params.wo + u32(ox)];
                if (params.mode == POOL_AVG) {
                    acc += g / f32(params.k * params.k);
                    continue;
                }
                // The window's first largest entry.
                var best = -1;
                var most = 0.0;
                for (var ky = 0u; ky < params.k; ky++) {
                    let yy = oy * i32(params.stride) + i32(ky) - i32(params.pad);
                    if (yy < 0 || yy >= i32(params.h)) {
                        continue;
                    }
                    for (var kx = 0u; kx < params.k; kx++) {
                        let xx = ox * i32(params.stride) + i32(kx) - i32(params.pad);
                        if (xx >= 0 && xx < i32(params.w)) {
                            let at = yy * i32(params.w) + xx;
                            let v = src[plane * plane_in + u32(at)];
                            if (best < 0 || v > most) {
                                best = at;
                                most = v;
                            }
                        }
                    }
                }
                if (best == i32(y * params.w + x)) {
                    acc += g;
                }
            }
        }
        dst[i] = acc;
    }
}
