// The credit-assignment lab's perceptron on resident tensors (see kernels/mlp.rs; CPU twin nets::mlp): the
// forward pass, softmax cross-entropy, the error-driven updates (backprop, feedback alignment, Kolen-Pollack),
// the Hebbian updates (Hebb or Oja, centred over the units and negated, clamped or not) and the optimiser.
//
// Layouts (row-major): a batch x [n, inputs]; W1 [hidden, inputs]; W2 [classes, hidden]; the feedback matrix
// B [hidden, classes]; activations [n, units]. The layer sizes are at most a few thousand and the batch at most
// 1,024, so products are plain loops, one invocation per output element (a tiled GEMM would not pay at these
// shapes). Sizes that depend on the batch read its row count `n` from the shared `batch` uniform, so that one
// set of bind groups serves the short last batch of an epoch too.

struct Dims {
    // Rows of C (0: the batch's n), the inner dimension (0: n), columns of C; for element-wise kernels m counts
    // elements or rows and p columns.
    m: u32,
    k: u32,
    p: u32,
    // gemm: bit 0 op(A) = Aᵀ (A stored k×m), bit 1 op(B) = Bᵀ (B stored p×k), bit 2 divide by n;
    // add_bias: unused; hebbian_finish: bit 0 Oja; sgd: bit 0 the gradient is stored transposed (p×m).
    flags: u32,
    lr: f32,
    wd: f32,
    // 0 sigmoid, 1 tanh, 2 ReLU, 3 identity.
    act: u32,
    _pad: u32,
}

struct Batch {
    n: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<uniform> batch: Batch;
// gemm: C = op(A)·op(B) (divided by n with flag bit 2).
@group(0) @binding(2) var<storage, read> ga: array<f32>;
@group(0) @binding(3) var<storage, read> gb: array<f32>;
@group(0) @binding(4) var<storage, read_write> gc: array<f32>;
// add_bias (in place on `dest`), activate (`source` → `dest`).
@group(0) @binding(5) var<storage, read> src_in: array<f32>;
@group(0) @binding(6) var<storage, read> bias: array<f32>;
@group(0) @binding(7) var<storage, read_write> dest: array<f32>;
// softmax_xent.
@group(0) @binding(8) var<storage, read> logits: array<f32>;
@group(0) @binding(9) var<storage, read> labels: array<u32>;
@group(0) @binding(10) var<storage, read_write> probs: array<f32>;
@group(0) @binding(11) var<storage, read_write> targets: array<f32>;
@group(0) @binding(12) var<storage, read_write> dlogits: array<f32>;
// Each row's loss and whether its argmax is its label; the run's sums (loss, correct, rows) since the host last
// cleared them.
@group(0) @binding(13) var<storage, read_write> rowstats: array<f32>;
@group(0) @binding(14) var<storage, read_write> stats: array<f32>;
// derivative: delta ⊙= f′(pre, post).
@group(0) @binding(15) var<storage, read> act_pre: array<f32>;
@group(0) @binding(16) var<storage, read> act_post: array<f32>;
@group(0) @binding(17) var<storage, read_write> delta: array<f32>;
// hebbian_finish, bias_hebbian, bias_sum: a layer's gradient from its post-synaptic activity (and weights).
@group(0) @binding(18) var<storage, read_write> grad: array<f32>;
@group(0) @binding(19) var<storage, read> post: array<f32>;
@group(0) @binding(20) var<storage, read> weights: array<f32>;
// sgd.
@group(0) @binding(21) var<storage, read_write> param: array<f32>;
@group(0) @binding(22) var<storage, read> pgrad: array<f32>;

const WG: u32 = 64u;

fn batch_or(v: u32) -> u32 {
    if (v == 0u) {
        return batch.n;
    }
    return v;
}

fn stride(ng: vec3<u32>) -> u32 {
    return ng.x * WG;
}

fn op_a(i: u32, t: u32, m: u32, k: u32) -> f32 {
    if ((dims.flags & 1u) != 0u) {
        return ga[t * m + i];
    }
    return ga[i * k + t];
}

fn op_b(t: u32, j: u32, k: u32, p: u32) -> f32 {
    if ((dims.flags & 2u) != 0u) {
        return gb[j * k + t];
    }
    return gb[t * p + j];
}

@compute @workgroup_size(64)
fn gemm(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) ng: vec3<u32>) {
    let m = batch_or(dims.m);
    let k = batch_or(dims.k);
    let p = dims.p;
    for (var idx = gid.x; idx < m * p; idx += stride(ng)) {
        let i = idx / p;
        let j = idx % p;
        var acc = 0.0;
        for (var t = 0u; t < k; t++) {
            acc += op_a(i, t, m, k) * op_b(t, j, k, p);
        }
        if ((dims.flags & 4u) != 0u) {
            acc = acc / f32(batch.n);
        }
        gc[idx] = acc;
    }
}

@compute @workgroup_size(64)
fn add_bias(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) ng: vec3<u32>) {
    let p = dims.p;
    for (var idx = gid.x; idx < batch.n * p; idx += stride(ng)) {
        dest[idx] = dest[idx] + bias[idx % p];
    }
}

fn activation(x: f32) -> f32 {
    switch dims.act {
        case 0u: {
            return 1.0 / (1.0 + exp(-x));
        }
        case 1u: {
            return tanh(x);
        }
        case 2u: {
            return max(x, 0.0);
        }
        default: {
            return x;
        }
    }
}

@compute @workgroup_size(64)
fn activate(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) ng: vec3<u32>) {
    for (var idx = gid.x; idx < batch.n * dims.p; idx += stride(ng)) {
        dest[idx] = activation(src_in[idx]);
    }
}

// Probabilities, one-hot targets, dL/dlogits of the mean loss ((p − t)/n), and each row's loss and hit.
@compute @workgroup_size(64)
fn softmax_xent(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) ng: vec3<u32>) {
    let c = dims.p;
    let n = batch.n;
    for (var r = gid.x; r < n; r += stride(ng)) {
        let row = r * c;
        var top = logits[row];
        var best = 0u;
        for (var j = 1u; j < c; j++) {
            if (logits[row + j] > top) {
                top = logits[row + j];
                best = j;
            }
        }
        var sum = 0.0;
        for (var j = 0u; j < c; j++) {
            sum += exp(logits[row + j] - top);
        }
        let label = labels[r];
        for (var j = 0u; j < c; j++) {
            let p = exp(logits[row + j] - top) / sum;
            let t = select(0.0, 1.0, j == label);
            probs[row + j] = p;
            targets[row + j] = t;
            dlogits[row + j] = (p - t) / f32(n);
        }
        rowstats[2u * r] = top + log(sum) - logits[row + label];
        rowstats[2u * r + 1u] = select(0.0, 1.0, best == label);
    }
}

// One invocation: the batch's losses, hits and rows added to the running sums.
@compute @workgroup_size(1)
fn accumulate() {
    var loss = 0.0;
    var hits = 0.0;
    for (var r = 0u; r < batch.n; r++) {
        loss += rowstats[2u * r];
        hits += rowstats[2u * r + 1u];
    }
    stats[0] = stats[0] + loss;
    stats[1] = stats[1] + hits;
    stats[2] = stats[2] + f32(batch.n);
}

fn derivative_at(pre: f32, post: f32) -> f32 {
    switch dims.act {
        case 0u: {
            return post * (1.0 - post);
        }
        case 1u: {
            return 1.0 - post * post;
        }
        case 2u: {
            return select(0.0, 1.0, pre > 0.0);
        }
        default: {
            return 1.0;
        }
    }
}

@compute @workgroup_size(64)
fn derivative(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) ng: vec3<u32>) {
    for (var idx = gid.x; idx < batch.n * dims.p; idx += stride(ng)) {
        delta[idx] = delta[idx] * derivative_at(act_pre[idx], act_post[idx]);
    }
}

// A Hebbian gradient [m units, p inputs] holding postᵀ·pre/n: with Oja, minus ⟨post_i²⟩·w_i; then centred over
// the units for every input and negated (the optimiser subtracts it). One invocation per input column.
@compute @workgroup_size(64)
fn hebbian_finish(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) ng: vec3<u32>) {
    let m = dims.m;
    let p = dims.p;
    let n = batch.n;
    for (var j = gid.x; j < p; j += stride(ng)) {
        var mean = 0.0;
        for (var i = 0u; i < m; i++) {
            var g = grad[i * p + j];
            if ((dims.flags & 1u) != 0u) {
                var sq = 0.0;
                for (var r = 0u; r < n; r++) {
                    let y = post[r * m + i];
                    sq += y * y;
                }
                g = g - weights[i * p + j] * (sq / f32(n));
                grad[i * p + j] = g;
            }
            mean += g;
        }
        mean = mean / f32(m);
        for (var i = 0u; i < m; i++) {
            grad[i * p + j] = -(grad[i * p + j] - mean);
        }
    }
}

// One invocation: the Hebbian bias gradient −(⟨post_j⟩ − its mean over the p units).
@compute @workgroup_size(1)
fn bias_hebbian() {
    let p = dims.p;
    let n = batch.n;
    var centre = 0.0;
    for (var j = 0u; j < p; j++) {
        var s = 0.0;
        for (var r = 0u; r < n; r++) {
            s += post[r * p + j];
        }
        grad[j] = s / f32(n);
        centre += grad[j];
    }
    centre = centre / f32(p);
    for (var j = 0u; j < p; j++) {
        grad[j] = -(grad[j] - centre);
    }
}

// An error-driven bias gradient: the column sums of the units' error (which already carries 1/n).
@compute @workgroup_size(64)
fn bias_sum(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) ng: vec3<u32>) {
    let p = dims.p;
    for (var j = gid.x; j < p; j += stride(ng)) {
        var s = 0.0;
        for (var r = 0u; r < batch.n; r++) {
            s += post[r * p + j];
        }
        grad[j] = s;
    }
}

// The source's BasicOptimizer: w ← w − lr·(g + wd·w); with flag bit 0 the gradient is stored transposed
// (Kolen-Pollack's B [m, p] learns with W2's gradient [p, m]).
@compute @workgroup_size(64)
fn sgd(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) ng: vec3<u32>) {
    let m = dims.m;
    let p = dims.p;
    for (var idx = gid.x; idx < m * p; idx += stride(ng)) {
        var g = pgrad[idx];
        if ((dims.flags & 1u) != 0u) {
            g = pgrad[(idx % p) * m + idx / p];
        }
        param[idx] = param[idx] - dims.lr * (g + dims.wd * param[idx]);
    }
}
