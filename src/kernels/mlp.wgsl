// The credit-assignment lab's perceptron on resident tensors (see kernels/mlp.rs; CPU twin nets::mlp): the
// forward pass, softmax cross-entropy, the error-driven updates (backprop, feedback alignment, Kolen-Pollack),
// the Hebbian updates (Hebb or Oja, centred over the units and negated, clamped or not), the perturbation
// estimates (node and weight perturbation, their noise drawn here from nets::mlp's Philox counters) and the
// optimiser. Needs the prelude's rng library and NOISE_STREAM (prepended by mlp::source).
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
    // add_bias: unused; hebbian_finish: bit 0 Oja; sgd: bit 0 the gradient is stored transposed (p×m);
    // the kernels that draw noise: the perturbation's index (the counter's last word).
    flags: u32,
    lr: f32,
    wd: f32,
    // 0 sigmoid, 1 tanh, 2 ReLU, 3 identity.
    act: u32,
    // The perturbations' standard deviation.
    sigma: f32,
}

// The step's batch rows, and the run's seed and step number that key the perturbations.
struct Batch {
    n: u32,
    seed: u32,
    step_lo: u32,
    step_hi: u32,
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
// Perturbations. np_hidden: `clean` pre-activations in, the noisy hidden activity and ξ₁ out; np_output: the
// noisy logits (noise added in place), ĝ₂ and each row's ΔL_n/(σ·N) out; scale_rows: ξ₁ scaled into ĝ₁;
// wp_noisy: a `clean` parameter jittered into `noisy`; wp_k: the noisy logits in, k = ΔL/σ out; wp_update: k·Ξ.
@group(0) @binding(23) var<storage, read> clean: array<f32>;
@group(0) @binding(24) var<storage, read_write> noisy: array<f32>;
@group(0) @binding(25) var<storage, read_write> estimate: array<f32>;
@group(0) @binding(26) var<storage, read_write> scale: array<f32>;

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

// Standard normals 4q … 4q+3 of perturbation dims.flags at this step, as nets::mlp::normals: word l of
// normal4([step, step >> 32, q, index], (seed, NOISE_STREAM)).
fn noise4(q: u32) -> vec4<f32> {
    let w = philox4x32(vec4<u32>(batch.step_lo, batch.step_hi, q, dims.flags), vec2<u32>(batch.seed, NOISE_STREAM));
    return vec4<f32>(normal_pair(w.x, w.y), normal_pair(w.z, w.w));
}

// Node perturbation's hidden layer, over the n × p pre-activations four at a time (one Philox block each):
// ξ₁ into `estimate`, f(pre1 + σ·ξ₁) into `noisy`.
@compute @workgroup_size(64)
fn np_hidden(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) ng: vec3<u32>) {
    let len = batch.n * dims.p;
    for (var q = gid.x; q < (len + 3u) / 4u; q += stride(ng)) {
        let z = noise4(q);
        for (var l = 0u; l < 4u; l++) {
            let j = 4u * q + l;
            if (j < len) {
                estimate[j] = z[l];
                noisy[j] = activation(clean[j] + dims.sigma * z[l]);
            }
        }
    }
}

// Row r's loss −log softmax(noisy logits)[label] over c classes, as softmax_xent (and nets::mlp::losses).
fn noisy_loss(r: u32, c: u32) -> f32 {
    let row = r * c;
    var top = noisy[row];
    for (var j = 1u; j < c; j++) {
        top = max(top, noisy[row + j]);
    }
    var sum = 0.0;
    for (var j = 0u; j < c; j++) {
        sum += exp(noisy[row + j] - top);
    }
    return top + log(sum) - noisy[row + labels[r]];
}

// Node perturbation's output layer, one invocation per row: the logits jittered by σ·ξ₂, ΔL_n against the clean
// loss in rowstats, and ĝ₂ = ξ₂·ΔL_n/(σ·N) into `estimate` (the place of the logit errors); ΔL_n/(σ·N) into
// `scale` for the hidden layer's ĝ₁.
@compute @workgroup_size(64)
fn np_output(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) ng: vec3<u32>) {
    let c = dims.p;
    let n = batch.n;
    for (var r = gid.x; r < n; r += stride(ng)) {
        for (var j = r * c; j < (r + 1u) * c; j++) {
            let z = noise4(j / 4u)[j % 4u];
            estimate[j] = z;
            noisy[j] = noisy[j] + dims.sigma * z;
        }
        let s = (noisy_loss(r, c) - rowstats[2u * r]) / (dims.sigma * f32(n));
        for (var j = r * c; j < (r + 1u) * c; j++) {
            estimate[j] = estimate[j] * s;
        }
        scale[r] = s;
    }
}

// ĝ₁ = ξ₁ times its row's ΔL_n/(σ·N), over the n × p hidden units.
@compute @workgroup_size(64)
fn scale_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) ng: vec3<u32>) {
    for (var idx = gid.x; idx < batch.n * dims.p; idx += stride(ng)) {
        estimate[idx] = estimate[idx] * scale[idx / dims.p];
    }
}

// Weight perturbation: a parameter of p values jittered by σ·Ξ (Ξ perturbation dims.flags), four at a time.
@compute @workgroup_size(64)
fn wp_noisy(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) ng: vec3<u32>) {
    let len = dims.p;
    for (var q = gid.x; q < (len + 3u) / 4u; q += stride(ng)) {
        let z = noise4(q);
        for (var l = 0u; l < 4u; l++) {
            let j = 4u * q + l;
            if (j < len) {
                noisy[j] = clean[j] + dims.sigma * z[l];
            }
        }
    }
}

// One invocation: k = (mean noisy loss − mean clean loss)/σ over the batch's p-class rows, into scale[0].
@compute @workgroup_size(1)
fn wp_k() {
    let n = batch.n;
    var noisy_sum = 0.0;
    var clean_sum = 0.0;
    for (var r = 0u; r < n; r++) {
        noisy_sum += noisy_loss(r, dims.p);
        clean_sum += rowstats[2u * r];
    }
    scale[0] = (noisy_sum / f32(n) - clean_sum / f32(n)) / dims.sigma;
}

// Weight perturbation's estimate k·Ξ of a parameter of p values (Ξ drawn again, perturbation dims.flags).
@compute @workgroup_size(64)
fn wp_update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) ng: vec3<u32>) {
    let len = dims.p;
    for (var q = gid.x; q < (len + 3u) / 4u; q += stride(ng)) {
        let z = noise4(q);
        for (var l = 0u; l < 4u; l++) {
            let j = 4u * q + l;
            if (j < len) {
                estimate[j] = z[l] * scale[0];
            }
        }
    }
}
