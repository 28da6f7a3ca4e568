// The backprop baseline's read-out head and optimiser on resident tensors (see kernels/backprop.rs; CPU twins
// in nets::hebbconv::backward's head, nets::linear and nets::optim): Flatten → Dropout → Linear, softmax
// cross-entropy with its gradient, the head's reverse mode, and one Adam step of a parameter tensor.
//
// Layouts (row-major): the flattened activation and the features [N, F]; weights [classes, F]; logits and
// their gradient [N, classes]. Element-wise kernels loop with a grid stride (the host caps their workgroups).

struct HeadParams {
    n: u32,
    f: u32,
    classes: u32,
    // 1: training (dropout with the mask of batch `batch_lo + 2^32·batch_hi`); 0: evaluation (identity).
    train: u32,
    // The dropout mask's Philox key: the run's seed and the stream (Readout, 1, 0).
    seed: u32,
    stream: u32,
    batch_lo: u32,
    batch_hi: u32,
    // The dropout probability.
    p: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

struct AdamParams {
    // lr / (1 − β1^t) and √(1 − β2^t), computed on the host as the CPU twin does.
    step_size: f32,
    bias2_sqrt: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: HeadParams;
// The last layer's output, flattened.
@group(0) @binding(1) var<storage, read> x: array<f32>;
// What the Linear sees: x times the dropout mask.
@group(0) @binding(2) var<storage, read_write> feats: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read> b: array<f32>;
@group(0) @binding(5) var<storage, read_write> logits: array<f32>;
@group(0) @binding(6) var<storage, read> labels: array<u32>;
// dL/dlogits of the mean cross-entropy, and each row's loss (the host adds them in f64, as the twin does).
@group(0) @binding(7) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(8) var<storage, read_write> losses: array<f32>;
@group(0) @binding(9) var<storage, read_write> dw: array<f32>;
@group(0) @binding(10) var<storage, read_write> db: array<f32>;
@group(0) @binding(11) var<storage, read_write> dx: array<f32>;

@group(0) @binding(12) var<uniform> adam: AdamParams;
@group(0) @binding(13) var<storage, read_write> param: array<f32>;
@group(0) @binding(14) var<storage, read> grad: array<f32>;
@group(0) @binding(15) var<storage, read_write> moment1: array<f32>;
@group(0) @binding(16) var<storage, read_write> moment2: array<f32>;

const WG: u32 = 256u;
var<workgroup> scratch: array<f32, 256>;

// Dropout's factor for feature i of the batch: 1/(1 − p) where the i-th uniform of the batch's Philox blocks
// (counter [batch, i/4], word i mod 4) is at least p, else 0; 1 in evaluation.
fn mask(i: u32) -> f32 {
    if (params.train == 0u) {
        return 1.0;
    }
    let words = philox4x32(vec4<u32>(params.batch_lo, params.batch_hi, i / 4u, 0u),
                           vec2<u32>(params.seed, params.stream));
    if (rng_uniform(words[i % 4u]) >= params.p) {
        return 1.0 / (1.0 - params.p);
    }
    return 0.0;
}

@compute @workgroup_size(256)
fn dropout(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var i = gid.x; i < params.n * params.f; i += nwg.x * WG) {
        feats[i] = x[i] * mask(i);
    }
}

// logits[n, c] = b[c] + Σ_f feats[n, f]·w[c, f]: one workgroup per (n, c), a tree sum over its invocations'
// strided partial sums.
@compute @workgroup_size(256)
fn linear_forward(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let row = wg.x / params.classes;
    let c = wg.x % params.classes;
    var s = 0.0;
    for (var f = li; f < params.f; f += WG) {
        s += feats[row * params.f + f] * w[c * params.f + f];
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
        logits[wg.x] = b[c] + scratch[0];
    }
}

// One invocation per row: −log softmax of the label as max + ln Σ exp(v − max) − v_label (finite where the
// label's probability underflows), and the mean loss's gradient (softmax − one-hot)/N.
@compute @workgroup_size(64)
fn softmax_xent(@builtin(global_invocation_id) gid: vec3<u32>) {
    let row = gid.x;
    if (row >= params.n) {
        return;
    }
    let base = row * params.classes;
    var top = logits[base];
    for (var c = 1u; c < params.classes; c++) {
        top = max(top, logits[base + c]);
    }
    var sum = 0.0;
    for (var c = 0u; c < params.classes; c++) {
        sum += exp(logits[base + c] - top);
    }
    let label = labels[row];
    losses[row] = top - logits[base + label] + log(sum);
    let n = f32(params.n);
    for (var c = 0u; c < params.classes; c++) {
        var g = exp(logits[base + c] - top) / sum / n;
        if (c == label) {
            g -= 1.0 / n;
        }
        dlogits[base + c] = g;
    }
}

// dw[c, f] = Σ_n dlogits[n, c]·feats[n, f], then db[c] = Σ_n dlogits[n, c]: one invocation per entry.
@compute @workgroup_size(256)
fn head_weight_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let weights = params.classes * params.f;
    for (var i = gid.x; i < weights + params.classes; i += nwg.x * WG) {
        var s = 0.0;
        if (i < weights) {
            let c = i / params.f;
            let f = i % params.f;
            for (var row = 0u; row < params.n; row++) {
                s += dlogits[row * params.classes + c] * feats[row * params.f + f];
            }
            dw[i] = s;
        } else {
            let c = i - weights;
            for (var row = 0u; row < params.n; row++) {
                s += dlogits[row * params.classes + c];
            }
            db[c] = s;
        }
    }
}

// dx[n, f] = mask(n, f)·Σ_c dlogits[n, c]·w[c, f]: through the Linear and the dropout back to the activation.
@compute @workgroup_size(256)
fn head_input_grad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var i = gid.x; i < params.n * params.f; i += nwg.x * WG) {
        let row = i / params.f;
        let f = i % params.f;
        var s = 0.0;
        for (var c = 0u; c < params.classes; c++) {
            s += dlogits[row * params.classes + c] * w[c * params.f + f];
        }
        dx[i] = s * mask(i);
    }
}

// One Adam step of a whole parameter tensor, PyTorch's order of operations (the twin's).
@compute @workgroup_size(256)
fn adam_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    for (var i = gid.x; i < arrayLength(&param); i += nwg.x * WG) {
        let g = grad[i];
        let m = adam.beta1 * moment1[i] + (1.0 - adam.beta1) * g;
        let v = adam.beta2 * moment2[i] + (1.0 - adam.beta2) * g * g;
        moment1[i] = m;
        moment2[i] = v;
        param[i] -= adam.step_size * m / (sqrt(v) / adam.bias2_sqrt + adam.eps);
    }
}
