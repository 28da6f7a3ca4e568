// A two-input neuron learning by any rule of src/plasticity (rules.wgsl, included with the prelude) for many
// trajectories at once. One invocation owns one trajectory and runs `steps` updates sequentially; trajectories
// run in parallel. The CPU twin is kernels/trajectories.rs::advance_cpu; keep the arithmetic in the same order.

struct Params {
    rule: u32,
    n_traj: u32,
    start: u32,
    steps: u32,
    record_every: u32,
    n_slots: u32,
    seed: u32,
    trials: u32,
    eta: f32,
    w_max: f32,
    tau: f32,
    _pad: f32,
}

struct Dist {
    mean: vec2<f32>,
    l00: f32,
    l10: f32,
    l11: f32,
    _pad: f32,
}

struct Traj {
    w: vec2<f32>,
    ubar: vec2<f32>,
    theta: f32,
    max_norm: f32,
    diverged_at: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dists: array<Dist>;
@group(0) @binding(2) var<storage, read_write> trajs: array<Traj>;
@group(0) @binding(3) var<storage, read_write> records: array<vec2<f32>>;

@compute @workgroup_size(64)
fn advance(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= params.n_traj) {
        return;
    }
    let d = i / params.trials;
    let r = i % params.trials;
    let dist = dists[d];
    let key = vec2<u32>(params.seed, rng_stream(PURPOSE_INPUTS, d, r));
    var t = trajs[i];
    let first_slot = params.start / params.record_every;
    for (var k = 0u; k < params.steps; k++) {
        let step = params.start + k;
        if (t.diverged_at == NOT_DIVERGED) {
            let x = philox4x32(vec4<u32>(step, 0u, 0u, 0u), key);
            let z = normal_pair(x.x, x.y);
            let u = vec2<f32>(dist.mean.x + dist.l00 * z.x, dist.mean.y + dist.l10 * z.x + dist.l11 * z.y);
            let v = t.w.x * u.x + t.w.y * u.y;
            let dw = vec2<f32>(
                plasticity_delta(params.rule, v, u.x, t.w.x, t.ubar.x, t.theta),
                plasticity_delta(params.rule, v, u.y, t.w.y, t.ubar.y, t.theta),
            );
            var w_new = t.w + params.eta * dw;
            var n = sqrt(w_new.x * w_new.x + w_new.y * w_new.y);
            if (params.rule == RULE_HEBB_CLIP && n > params.w_max) {
                w_new = w_new * (params.w_max / n);
                n = params.w_max;
            }
            // `!(n <= bound)` also catches NaN. A diverged trajectory keeps its last finite state.
            if (!(n <= DIVERGENCE_NORM)) {
                t.diverged_at = step;
            } else {
                t.w = w_new;
                t.ubar = t.ubar + (u - t.ubar) / params.tau;
                t.theta = t.theta + (v * v - t.theta) / params.tau;
                t.max_norm = max(t.max_norm, n);
            }
        }
        if ((step + 1u) % params.record_every == 0u) {
            let slot = (step + 1u) / params.record_every - 1u - first_slot;
            records[i * params.n_slots + slot] = t.w;
        }
    }
    trajs[i] = t;
}
