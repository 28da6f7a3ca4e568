// Restricted Boltzmann machines trained by CD-k or persistent CD on resident tensors (see kernels/rbm.rs; CPU twin
// nets::rbm::Trainer::update). Needs the prelude's rng library. Each kernel loops over its outputs with a grid
// stride; every sum runs over its index in increasing order.
//
// Layouts (row-major): the batch x [rows, visible]; the chains' visible states v [chains, visible] and hidden
// states h [chains, hidden]; W [visible, hidden]; p(h | x) of the batch [rows, hidden] and of the chains
// [chains, hidden]. A Bernoulli draw of unit j of row r at sweep s and phase φ compares word j mod 4 of
// philox([r, s, j/4, φ], (seed, stream)) with its probability, as nets::rbm::Draws.

struct Dims {
    // sample_hidden / sample_visible: the sweep's offset from the update's first step.
    offset: u32,
    // hidden_probs: 0 the batch (x into ph), 1 the chains (v into qh).
    which: u32,
    visible: u32,
    hidden: u32,
    lr: f32,
    momentum: f32,
    decay: f32,
    // loss: 0 the sampled reconstruction error (CD), 1 the mean-field one (PCD).
    mean_field: u32,
}

// The update's sizes and the key of its draws.
struct Update {
    rows: u32,
    chains: u32,
    seed: u32,
    stream: u32,
    step: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<uniform> upd: Update;
@group(0) @binding(2) var<storage, read_write> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> b: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;
@group(0) @binding(5) var<storage, read> x: array<f32>;
@group(0) @binding(6) var<storage, read_write> v: array<f32>;
@group(0) @binding(7) var<storage, read_write> h: array<f32>;
// p(h | x) of the batch (ph) and of the chains (qh); the loss kernel's mean-field reconstruction reuses h.
@group(0) @binding(8) var<storage, read_write> ph: array<f32>;
@group(0) @binding(9) var<storage, read_write> qh: array<f32>;
// Velocities of W, b, c (momentum).
@group(0) @binding(10) var<storage, read_write> vel: array<f32>;
// Loss sum and updates since the last read.
@group(0) @binding(11) var<storage, read_write> stats: array<f32>;

fn stride(ng: vec3<u32>) -> u32 {
    return ng.x * 64u;
}

fn sigmoid(t: f32) -> f32 {
    return 1.0 / (1.0 + exp(-t));
}

// The uniform of unit j of row r at sweep `sweep` and phase `phase`.
fn uniform_at(r: u32, sweep: u32, j: u32, phase: u32) -> f32 {
    let words = philox4x32(vec4<u32>(r, sweep, j / 4u, phase), vec2<u32>(upd.seed, upd.stream));
    return rng_uniform(words[j % 4u]);
}

// vW + c of row r (of the chains) at hidden unit j.
fn chain_hidden_input(r: u32, j: u32) -> f32 {
    var s = 0.0;
    for (var i = 0u; i < dims.visible; i++) {
        s += v[r * dims.visible + i] * w[i * dims.hidden + j];
    }
    return s + c[j];
}

// Phase 0 of a Gibbs sweep: h ~ p(h | v) for every chain.
@compute @workgroup_size(64)
fn sample_hidden(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) ng: vec3<u32>) {
    for (var idx = gid.x; idx < upd.chains * dims.hidden; idx += stride(ng)) {
        let r = idx / dims.hidden;
        let j = idx % dims.hidden;
        let p = sigmoid(chain_hidden_input(r, j));
        h[idx] = select(0.0, 1.0, uniform_at(r, upd.step + dims.offset, j, 0u) < p);
    }
}

// Phase 1: v ~ p(v | h) for every chain.
@compute @workgroup_size(64)
fn sample_visible(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) ng: vec3<u32>) {
    for (var idx = gid.x; idx < upd.chains * dims.visible; idx += stride(ng)) {
        let r = idx / dims.visible;
        let i = idx % dims.visible;
        var s = 0.0;
        for (var j = 0u; j < dims.hidden; j++) {
            s += h[r * dims.hidden + j] * w[i * dims.hidden + j];
        }
        let p = sigmoid(s + b[i]);
        v[idx] = select(0.0, 1.0, uniform_at(r, upd.step + dims.offset, i, 1u) < p);
    }
}

// p(h = 1 | ·) of the batch (which = 0, into ph) or of the chains (which = 1, into qh).
@compute @workgroup_size(64)
fn hidden_probs(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) ng: vec3<u32>) {
    let rows = select(upd.rows, upd.chains, dims.which == 1u);
    for (var idx = gid.x; idx < rows * dims.hidden; idx += stride(ng)) {
        let r = idx / dims.hidden;
        let j = idx % dims.hidden;
        if (dims.which == 1u) {
            qh[idx] = sigmoid(chain_hidden_input(r, j));
        } else {
            var s = 0.0;
            for (var i = 0u; i < dims.visible; i++) {
                s += x[r * dims.visible + i] * w[i * dims.hidden + j];
            }
            ph[idx] = sigmoid(s + c[j]);
        }
    }
}

// One invocation: the batch's loss, mean (x − x̂)² over its values, added to stats. x̂ is the chains' sample
// (CD) or the mean-field reconstruction σ(p(h | x) Wᵀ + b) (PCD, whose chains are not the batch's).
@compute @workgroup_size(1)
fn loss() {
    var sum = 0.0;
    for (var r = 0u; r < upd.rows; r++) {
        for (var i = 0u; i < dims.visible; i++) {
            var xhat = v[r * dims.visible + i];
            if (dims.mean_field == 1u) {
                var s = 0.0;
                for (var j = 0u; j < dims.hidden; j++) {
                    s += ph[r * dims.hidden + j] * w[i * dims.hidden + j];
                }
                xhat = sigmoid(s + b[i]);
            }
            let d = x[r * dims.visible + i] - xhat;
            sum += d * d;
        }
    }
    stats[0] += sum / f32(upd.rows * dims.visible);
    stats[1] += 1.0;
}

// The weights' step: g = xᵀ ph / rows − vᵀ qh / chains, Δ ← m·Δ + η(g − λW), W ← W + Δ.
@compute @workgroup_size(64)
fn update_w(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) ng: vec3<u32>) {
    for (var idx = gid.x; idx < dims.visible * dims.hidden; idx += stride(ng)) {
        let i = idx / dims.hidden;
        let j = idx % dims.hidden;
        var pos = 0.0;
        for (var r = 0u; r < upd.rows; r++) {
            pos += x[r * dims.visible + i] * ph[r * dims.hidden + j];
        }
        var neg = 0.0;
        for (var r = 0u; r < upd.chains; r++) {
            neg += v[r * dims.visible + i] * qh[r * dims.hidden + j];
        }
        let g = pos / f32(upd.rows) - neg / f32(upd.chains);
        let d = dims.momentum * vel[idx] + dims.lr * (g - dims.decay * w[idx]);
        vel[idx] = d;
        w[idx] = w[idx] + d;
    }
}

// The biases' steps (no decay): b from mean x − mean v, c from mean ph − mean qh; their velocities follow W's.
@compute @workgroup_size(64)
fn update_biases(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) ng: vec3<u32>) {
    let nw = dims.visible * dims.hidden;
    for (var idx = gid.x; idx < dims.visible + dims.hidden; idx += stride(ng)) {
        var pos = 0.0;
        var neg = 0.0;
        if (idx < dims.visible) {
            for (var r = 0u; r < upd.rows; r++) {
                pos += x[r * dims.visible + idx];
            }
            for (var r = 0u; r < upd.chains; r++) {
                neg += v[r * dims.visible + idx];
            }
        } else {
            let j = idx - dims.visible;
            for (var r = 0u; r < upd.rows; r++) {
                pos += ph[r * dims.hidden + j];
            }
            for (var r = 0u; r < upd.chains; r++) {
                neg += qh[r * dims.hidden + j];
            }
        }
        let g = pos / f32(upd.rows) - neg / f32(upd.chains);
        let d = dims.momentum * vel[nw + idx] + dims.lr * g;
        vel[nw + idx] = d;
        if (idx < dims.visible) {
            b[idx] = b[idx] + d;
        } else {
            c[idx - dims.visible] = c[idx - dims.visible] + d;
        }
    }
}
