// The Hebbian update of a convolution layer after its correlation (see kernels/hebbupdate.rs; CPU twin:
// plasticity::competition): competition across channels at every position, the decay coefficients, the raw
// update Δw_k = Σ r·x − c_k·w_k, the layer's global max-abs normalisation and the step w += lr_k·Δw/max|Δw|.
//
// Layouts: y, r and ru [N, K, P] (batch, channels, positions); w, corr and dw [K, F] (F = C_in·k², or k² for
// a depthwise layer).

struct UpdateParams {
    n: u32,
    k: u32,
    p: u32,
    // Entries of one filter, C_in·k².
    f: u32,
    // COMPETE_* below.
    mode: u32,
    // SoftHebb's inverse temperature.
    t_inv: f32,
    // The layer's rate, or SoftHebb's base rate lr0 when per_neuron = 1.
    lr: f32,
    // SoftHebb's exponent of |‖w_k‖ − 1| (0.5).
    power: f32,
    per_neuron: u32,
    // 1: w ← |w + lr·Δw| (Dale's principle).
    dale: u32,
    // Workgroups of `combine` (partial maxima to reduce).
    partials: u32,
    _pad: u32,
}

const COMPETE_NONE: u32 = 0u;
const COMPETE_HARD: u32 = 1u;
const COMPETE_SOFT: u32 = 2u;
const COMPETE_ANTI_HARD: u32 = 3u;

@group(0) @binding(0) var<uniform> params: UpdateParams;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> r: array<f32>;
// r·u per entry: r itself where the decay term sums r (none, hard-WTA), r·y where it weighs by y (SoftHebb,
// anti-hard).
@group(0) @binding(3) var<storage, read_write> ru: array<f32>;
// The decay coefficients c_k = Σ_{n,p} ru.
@group(0) @binding(4) var<storage, read_write> c: array<f32>;
@group(0) @binding(5) var<storage, read> corr: array<f32>;
@group(0) @binding(6) var<storage, read_write> w: array<f32>;
@group(0) @binding(7) var<storage, read_write> dw: array<f32>;
// Per-workgroup maxima of |Δw|, then (entry 0, after `reduce_max`) the layer's maximum.
@group(0) @binding(8) var<storage, read_write> maxima: array<f32>;
@group(0) @binding(9) var<storage, read_write> rates: array<f32>;

const WG: u32 = 256u;
var<workgroup> scratch: array<f32, 256>;

// One unit's (r, r·u) in a competition whose largest value is `best` (won by this unit when `win`) and whose
// softmax denominator is z.
fn outcome(v: f32, win: bool, best: f32, z: f32) -> vec2<f32> {
    switch params.mode {
        case COMPETE_HARD: {
            let out = select(0.0, v, win);
            return vec2<f32>(out, out);
        }
        case COMPETE_SOFT: {
            let s = exp(params.t_inv * v - params.t_inv * best) / z;
            let out = select(-s, s, win);
            return vec2<f32>(out, out * v);
        }
        case COMPETE_ANTI_HARD: {
            let out = select(-v, v, win);
            return vec2<f32>(out, out * v);
        }
        default: {
            return vec2<f32>(v, v);
        }
    }
}

// The competition among `count` units y[base + j·stride]: the first largest value wins, as the CPU's argmax.
fn compete_among(base: u32, stride: u32, count: u32) {
    var win = 0u;
    var best = y[base];
    for (var j = 1u; j < count; j++) {
        let v = y[base + j * stride];
        if (v > best) {
            best = v;
            win = j;
        }
    }
    var z = 0.0;
    if (params.mode == COMPETE_SOFT) {
        for (var j = 0u; j < count; j++) {
            z += exp(params.t_inv * y[base + j * stride] - params.t_inv * best);
        }
    }
    for (var j = 0u; j < count; j++) {
        let i = base + j * stride;
        let o = outcome(y[i], j == win, best, z);
        r[i] = o.x;
        ru[i] = o.y;
    }
}

// One invocation per (n, p): the competition over the K channels there.
@compute @workgroup_size(256)
fn compete(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= params.n * params.p) {
        return;
    }
    let img = gid.x / params.p;
    compete_among(img * params.k * params.p + gid.x % params.p, params.p, params.k);
}

// Depthwise layers, one invocation per (n, k): the competition over the P positions of channel k.
@compute @workgroup_size(256)
fn compete_positions(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= params.n * params.k) {
        return;
    }
    compete_among(gid.x * params.p, 1u, params.p);
}

// One workgroup per channel: c_k = Σ_{n,p} ru[n, k, p].
@compute @workgroup_size(256)
fn decay_sums(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let ch = wg.x;
    var s = 0.0;
    for (var j = li; j < params.n * params.p; j += WG) {
        s += ru[((j / params.p) * params.k + ch) * params.p + j % params.p];
    }
    scratch[li] = s;
    workgroupBarrier();
    for (var half = WG / 2u; half > 0u; half /= 2u) {
        if (li < half) {
            scratch[li] += scratch[li + half];
        }
        workgroupBarrier();
    }
    if (li == 0u) {
        c[ch] = scratch[0];
    }
}

// One invocation per weight: Δw = corr − c_k·w, and each workgroup's largest |Δw|.
@compute @workgroup_size(256)
fn combine(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>,
           @builtin(local_invocation_index) li: u32) {
    var m = 0.0;
    if (gid.x < params.k * params.f) {
        let d = corr[gid.x] - c[gid.x / params.f] * w[gid.x];
        dw[gid.x] = d;
        m = abs(d);
    }
    scratch[li] = m;
    workgroupBarrier();
    for (var half = WG / 2u; half > 0u; half /= 2u) {
        if (li < half) {
            scratch[li] = max(scratch[li], scratch[li + half]);
        }
        workgroupBarrier();
    }
    if (li == 0u) {
        maxima[wg.x] = scratch[0];
    }
}

// One workgroup: maxima[0] = the largest of the partial maxima.
@compute @workgroup_size(256)
fn reduce_max(@builtin(local_invocation_index) li: u32) {
    var m = 0.0;
    for (var j = li; j < params.partials; j += WG) {
        m = max(m, maxima[j]);
    }
    scratch[li] = m;
    workgroupBarrier();
    for (var half = WG / 2u; half > 0u; half /= 2u) {
        if (li < half) {
            scratch[li] = max(scratch[li], scratch[li + half]);
        }
        workgroupBarrier();
    }
    if (li == 0u) {
        maxima[0] = scratch[0];
    }
}

// One workgroup per filter: its rate, lr or SoftHebb's lr0·(|‖w_k‖ − 1| + 1e-10)^power (before the step).
@compute @workgroup_size(256)
fn filter_rates(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let ch = wg.x;
    var s = 0.0;
    for (var j = li; j < params.f; j += WG) {
        let v = w[ch * params.f + j];
        s += v * v;
    }
    scratch[li] = s;
    workgroupBarrier();
    for (var half = WG / 2u; half > 0u; half /= 2u) {
        if (li < half) {
            scratch[li] += scratch[li + half];
        }
        workgroupBarrier();
    }
    if (li == 0u) {
        if (params.per_neuron == 1u) {
            rates[ch] = params.lr * pow(abs(sqrt(scratch[0]) - 1.0) + 1e-10, params.power);
        } else {
            rates[ch] = params.lr;
        }
    }
}

// One invocation per weight: w += rate_k · Δw / (max|Δw| + 1e-30), kept positive under Dale's principle.
@compute @workgroup_size(256)
fn step(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= params.k * params.f) {
        return;
    }
    let scale = 1.0 / (maxima[0] + 1e-30);
    var v = w[gid.x] + rates[gid.x / params.f] * (dw[gid.x] * scale);
    if (params.dale == 1u) {
        v = abs(v);
    }
    w[gid.x] = v;
}
