// The Hebbian update of a convolution layer after its correlation (see kernels/hebbupdate.rs; CPU twin:
// plasticity::competition): competition across channels at every position (or across the positions of each
// channel in a depthwise layer), with BCM's sliding thresholds, the temporal threshold's history and the
// statistical threshold where the mode asks; the decay coefficients, the raw update Δw_k = Σ r·x − c_k·w_k,
// the layer's global max-abs normalisation and the step w += lr_k·Δw/max|Δw|.
//
// Layouts: y, r and ru [N, K, P] (batch, channels, positions); w, corr and dw [K, F] (F = C_in·k², or k² for
// a depthwise layer). A competition "view" sample is [J, Q]: J competing units at each of Q places, [K, P]
// across channels, [P, K] across positions.

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
    // BCM's θ decay d.
    bcm_decay: f32,
    // The statistical threshold's c in mean + c·std.
    stats_c: f32,
    // 1: the thresholds' top-1 multiplies the winner by itself (the printed code's quirk, TopOne::Multiply).
    multiply: u32,
    // Samples the temporal history holds at most.
    window: u32,
    // 1: units compete over the positions of each channel (depthwise layers).
    over_positions: u32,
}

const COMPETE_NONE: u32 = 0u;
const COMPETE_HARD: u32 = 1u;
const COMPETE_SOFT: u32 = 2u;
const COMPETE_ANTI_HARD: u32 = 3u;
// Hard-WTA here; `bcm` then gates r by θ.
const COMPETE_BCM: u32 = 4u;
const COMPETE_TEMPORAL: u32 = 5u;
// y is bound to the similarity conv(x, w)/‖w_k‖ (see `similarity`).
const COMPETE_STATISTICAL: u32 = 6u;

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
// BCM's thresholds θ_k.
@group(0) @binding(10) var<storage, read_write> theta: array<f32>;
// The temporal threshold's last `window` view samples, a ring of [window, J·Q] (slot order is irrelevant to a
// median), and its counters: ring[0] samples held, ring[1] the slot the next one goes to.
@group(0) @binding(11) var<storage, read_write> history: array<f32>;
@group(0) @binding(12) var<storage, read_write> ring: array<u32>;
// The history's median of each view entry [J·Q], then each place's threshold τ_q [Q].
@group(0) @binding(13) var<storage, read_write> thresholds: array<f32>;
// The statistical threshold's similarity [N, K, P] (conv(x, w) until `similarity` divides it) and ‖w_k‖.
@group(0) @binding(14) var<storage, read_write> sim: array<f32>;
@group(0) @binding(15) var<storage, read_write> norms: array<f32>;

const WG: u32 = 256u;
var<workgroup> scratch: array<f32, 256>;

// One unit's (r, r·u) in a competition whose largest value is `best` (won by this unit when `win`) and whose
// softmax denominator is z.
fn outcome(v: f32, win: bool, best: f32, z: f32) -> vec2<f32> {
    switch params.mode {
        case COMPETE_HARD, COMPETE_BCM: {
            let out = select(0.0, v, win);
            return vec2<f32>(out, out);
        }
        case COMPETE_TEMPORAL, COMPETE_STATISTICAL: {
            // v is already gated by the threshold.
            let out = select(0.0, select(v, v * v, params.multiply == 1u), win);
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

// The threshold the units at place q must exceed to compete (temporal: τ_q; statistical: mean + c·std of
// the units), or none.
struct Gate {
    on: bool,
    tau: f32,
}

fn gate_of(base: u32, stride: u32, count: u32, q: u32) -> Gate {
    if (params.mode == COMPETE_TEMPORAL) {
        return Gate(true, thresholds[params.k * params.p + q]);
    }
    if (params.mode == COMPETE_STATISTICAL) {
        var s = 0.0;
        for (var j = 0u; j < count; j++) {
            s += y[base + j * stride];
        }
        let mean = s / f32(count);
        var ss = 0.0;
        for (var j = 0u; j < count; j++) {
            let d = y[base + j * stride] - mean;
            ss += d * d;
        }
        // torch.std's unbiased estimate.
        return Gate(true, mean + params.stats_c * sqrt(ss / f32(max(count, 2u) - 1u)));
    }
    return Gate(false, 0.0);
}

fn gated(v: f32, g: Gate) -> f32 {
    return select(v, select(0.0, v, v > g.tau), g.on);
}

// The competition among `count` units y[base + j·stride] at place q: the first largest (gated) value wins,
// as the CPU's argmax.
fn compete_among(base: u32, stride: u32, count: u32, q: u32) {
    let g = gate_of(base, stride, count, q);
    var win = 0u;
    var best = gated(y[base], g);
    for (var j = 1u; j < count; j++) {
        let v = gated(y[base + j * stride], g);
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
        let o = outcome(gated(y[i], g), j == win, best, z);
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
    let q = gid.x % params.p;
    compete_among(img * params.k * params.p + q, params.p, params.k, q);
}

// Depthwise layers, one invocation per (n, k): the competition over the P positions of channel k.
@compute @workgroup_size(256)
fn compete_positions(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= params.n * params.k) {
        return;
    }
    compete_among(gid.x * params.p, 1u, params.p, gid.x % params.k);
}

// Sum of `v` over the workgroup (every invocation gets it); scratch is free again afterwards.
fn workgroup_sum(li: u32, v: f32) -> f32 {
    scratch[li] = v;
    workgroupBarrier();
    for (var half = WG / 2u; half > 0u; half /= 2u) {
        if (li < half) {
            scratch[li] += scratch[li + half];
        }
        workgroupBarrier();
    }
    let s = scratch[0];
    workgroupBarrier();
    return s;
}

// BCM, one workgroup per channel, after the hard-WTA competition: θ_k ← (1 − d)·θ_k + d·mean_{n,p} r², then
// r ← r·(r − θ_k) with the new θ (its decay term is zero: see `decay_sums`).
@compute @workgroup_size(256)
fn bcm(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let ch = wg.x;
    let count = params.n * params.p;
    var s = 0.0;
    for (var j = li; j < count; j += WG) {
        let v = r[((j / params.p) * params.k + ch) * params.p + j % params.p];
        s += v * v;
    }
    let mean_sq = workgroup_sum(li, s) / f32(max(count, 1u));
    let t = (1.0 - params.bcm_decay) * theta[ch] + params.bcm_decay * mean_sq;
    // Every invocation has read θ_k before it changes.
    storageBarrier();
    if (li == 0u) {
        theta[ch] = t;
    }
    for (var j = li; j < count; j += WG) {
        let i = ((j / params.p) * params.k + ch) * params.p + j % params.p;
        let v = r[i];
        r[i] = v * (v - t);
    }
}

// Index in y of entry e of image s's competition view.
fn view_index(s: u32, e: u32) -> u32 {
    if (params.over_positions == 1u) {
        // [P, K]: e = p·K + k.
        return (s * params.k + e % params.k) * params.p + e / params.k;
    }
    return s * params.k * params.p + e;
}

// Temporal threshold, one invocation per entry of the batch's last min(N, window) samples: the samples go
// into the ring from its next slot on (`temporal_advance` then moves the counters).
@compute @workgroup_size(256)
fn temporal_append(@builtin(global_invocation_id) gid: vec3<u32>) {
    let per = params.k * params.p;
    let m = min(params.n, params.window);
    if (gid.x >= m * per) {
        return;
    }
    let t = gid.x / per;
    let e = gid.x % per;
    let slot = (ring[1] + t) % params.window;
    history[slot * per + e] = y[view_index(params.n - m + t, e)];
}

// One invocation: the ring's counters after `temporal_append`.
@compute @workgroup_size(1)
fn temporal_advance() {
    let m = min(params.n, params.window);
    ring[0] = min(ring[0] + m, params.window);
    ring[1] = (ring[1] + m) % params.window;
}

// Keys that order as f32::total_cmp orders the values.
fn order_key(v: f32) -> u32 {
    let b = bitcast<u32>(v);
    return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

fn key_value(k: u32) -> f32 {
    return bitcast<f32>(select(~k, k & 0x7fffffffu, (k & 0x80000000u) != 0u));
}

// One invocation per view entry: the lower median of its held samples (torch.median's), found bit by bit as
// the smallest key that at least (held − 1)/2 + 1 samples do not exceed; no sorting, no private array.
@compute @workgroup_size(256)
fn temporal_median(@builtin(global_invocation_id) gid: vec3<u32>) {
    let per = params.k * params.p;
    if (gid.x >= per) {
        return;
    }
    let held = ring[0];
    let need = (held - 1u) / 2u + 1u;
    var answer = 0u;
    for (var bit = 31i; bit >= 0i; bit--) {
        let below = answer | ((1u << u32(bit)) - 1u);
        var count = 0u;
        for (var t = 0u; t < held; t++) {
            count += u32(order_key(history[t * per + gid.x]) <= below);
        }
        if (count < need) {
            answer |= 1u << u32(bit);
        }
    }
    thresholds[gid.x] = key_value(answer);
}

// One invocation per place q: τ_q, the mean over the J competing units of their medians.
@compute @workgroup_size(256)
fn temporal_threshold(@builtin(global_invocation_id) gid: vec3<u32>) {
    var units = params.k;
    var places = params.p;
    if (params.over_positions == 1u) {
        units = params.p;
        places = params.k;
    }
    if (gid.x >= places) {
        return;
    }
    var s = 0.0;
    for (var j = 0u; j < units; j++) {
        s += thresholds[j * places + gid.x];
    }
    thresholds[params.k * params.p + gid.x] = s / f32(units);
}

// Statistical threshold, one workgroup per filter: ‖w_k‖ (at least 1e-12).
@compute @workgroup_size(256)
fn filter_norms(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    var s = 0.0;
    for (var j = li; j < params.f; j += WG) {
        let v = w[wg.x * params.f + j];
        s += v * v;
    }
    let total = workgroup_sum(li, s);
    if (li == 0u) {
        norms[wg.x] = max(sqrt(total), 1e-12);
    }
}

// One invocation per entry: sim = conv(x, w)/‖w_k‖.
@compute @workgroup_size(256)
fn similarity(@builtin(global_invocation_id) gid: vec3<u32>) {
    if (gid.x >= params.n * params.k * params.p) {
        return;
    }
    sim[gid.x] = sim[gid.x] / norms[(gid.x / params.p) % params.k];
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
        // BCM has no decay term.
        c[ch] = select(scratch[0], 0.0, params.mode == COMPETE_BCM);
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
