// A Boltzmann machine trained by persistent contrastive divergence on resident tensors (see kernels/boltzmann.rs;
// CPU twin nets::boltzmann::Boltzmann::train_step with Statistics::Sampled). Needs the prelude's rng library.
//
// One invocation runs one chain through all of an update's sweeps, unit after unit in index order, as
// Boltzmann::sweep does: the energy gap sums w_ij over the units that are on, j in increasing order, in f32, and
// the unit turns on when u < σ(ΔE/T), u from word i % 4 of philox([chain, sweep, i / 4, round], key). The
// weights (at most 16 × 16) are copied into workgroup memory first, and each workgroup counts its chains' s_i s_j
// in workgroup atomics before adding them to the global counts, so the moments are exact integers.

struct Params {
    units: u32,
    visible: u32,
    // Clamped chains per pattern; the clamped chains number patterns × copies.
    copies: u32,
    sweeps: u32,
    chains: u32,
    clamped: u32,
    seed: u32,
    // The learning step: the clamped chains' round (of their draws and of their random starts).
    step: u32,
    // The free chains' sweeps so far (the next sweep's counter word) and their round.
    free_sweep: u32,
    free_round: u32,
    // Streams of the keys: the free chains' sweeps, the clamped chains' sweeps, the clamped chains' starts.
    free_stream: u32,
    clamped_stream: u32,
    start_stream: u32,
    clamped_group: u32,
    temperature: f32,
    rate: f32,
}

@group(0) @binding(0) var<uniform> prm: Params;
// [units, units], symmetric, zero diagonal.
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> b: array<f32>;
// The persistent free chains [chains, units] and the clamped chains [clamped, units], 0 or 1.
@group(0) @binding(3) var<storage, read_write> free_states: array<u32>;
@group(0) @binding(4) var<storage, read_write> clamped_states: array<u32>;
// The patterns [clamped / copies, visible], 0 or 1.
@group(0) @binding(5) var<storage, read> data: array<u32>;
// Counts of s_i s_j: the clamped chains' [units, units], then the free chains' [units, units].
@group(0) @binding(6) var<storage, read_write> counts: array<atomic<u32>>;

var<workgroup> wl: array<f32, 256>;
var<workgroup> local_counts: array<atomic<u32>, 256>;

// Weights into workgroup memory, local counts zeroed.
fn prepare(lid: u32) {
    let nn = prm.units * prm.units;
    if (lid < nn) {
        wl[lid] = w[lid];
    }
    atomicStore(&local_counts[lid], 0u);
    workgroupBarrier();
}

// `sweeps` sweeps of state s over units first..units with key (seed, stream), starting at counter word `sweep0`.
fn run_sweeps(s: ptr<function, array<u32, 16>>, first: u32, sweep0: u32, round: u32, c: u32, stream: u32) {
    let n = prm.units;
    let key = vec2<u32>(prm.seed, stream);
    for (var k = 0u; k < prm.sweeps; k++) {
        var words = vec4<u32>(0u);
        for (var i = first; i < n; i++) {
            if (i == first || i % 4u == 0u) {
                words = philox4x32(vec4<u32>(c, sweep0 + k, i / 4u, round), key);
            }
            var g = 0.0;
            for (var j = 0u; j < n; j++) {
                if ((*s)[j] != 0u) {
                    g += wl[i * n + j];
                }
            }
            g = g - b[i];
            let p = 1.0 / (1.0 + exp(-g / prm.temperature));
            (*s)[i] = select(0u, 1u, rng_uniform(words[i % 4u]) < p);
        }
    }
}

fn count_state(s: ptr<function, array<u32, 16>>) {
    let n = prm.units;
    for (var i = 0u; i < n; i++) {
        if ((*s)[i] != 0u) {
            for (var j = 0u; j < n; j++) {
                if ((*s)[j] != 0u) {
                    atomicAdd(&local_counts[i * n + j], 1u);
                }
            }
        }
    }
}

// The workgroup's counts into the global counts at `base`.
fn flush(lid: u32, base: u32) {
    workgroupBarrier();
    let nn = prm.units * prm.units;
    if (lid < nn) {
        let v = atomicLoad(&local_counts[lid]);
        if (v != 0u) {
            atomicAdd(&counts[base + lid], v);
        }
    }
}

// The clamped chains: visible units from their pattern, hidden units from random starts (as Chains::random of
// the clamped group with the step as round), then the sweeps over the hidden units, then their moments.
@compute @workgroup_size(256)
fn clamped_chains(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    prepare(lid);
    let c = gid.x;
    let n = prm.units;
    if (c < prm.clamped) {
        var s: array<u32, 16>;
        let start_key = vec2<u32>(prm.seed, prm.start_stream);
        let pattern = c / prm.copies;
        for (var i = 0u; i < n; i++) {
            if (i < prm.visible) {
                s[i] = data[pattern * prm.visible + i];
            } else {
                let x = philox4x32(vec4<u32>(c, i / 4u, prm.clamped_group, 0u), start_key);
                s[i] = x[i % 4u] >> 31u;
            }
        }
        run_sweeps(&s, prm.visible, 0u, prm.step, c, prm.clamped_stream);
        for (var i = 0u; i < n; i++) {
            clamped_states[c * n + i] = s[i];
        }
        count_state(&s);
    }
    flush(lid, 0u);
}

// The persistent free chains: the update's sweeps over every unit, then their moments.
@compute @workgroup_size(256)
fn free_chains(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    prepare(lid);
    let c = gid.x;
    let n = prm.units;
    if (c < prm.chains) {
        var s: array<u32, 16>;
        for (var i = 0u; i < n; i++) {
            s[i] = free_states[c * n + i];
        }
        run_sweeps(&s, 0u, prm.free_sweep, prm.free_round, c, prm.free_stream);
        for (var i = 0u; i < n; i++) {
            free_states[c * n + i] = s[i];
        }
        count_state(&s);
    }
    flush(lid, n * n);
}

// One workgroup, one invocation per (i, j): w_ij += α(data_ij − model_ij) off the diagonal, b_i −= α(data_ii −
// model_ii) on it, as Boltzmann::learn; then the counts are cleared for the next update. The difference of the
// two means is formed from integers (cd·N_m − cm·N_d, exact while below 2^24) and divided once, close to the
// CPU's f64 arithmetic (it differs at most in the last bit of the step).
@compute @workgroup_size(256)
fn learn(@builtin(local_invocation_index) lid: u32) {
    let n = prm.units;
    if (lid < n * n) {
        let i = lid / n;
        let j = lid % n;
        let cd = atomicLoad(&counts[lid]);
        let cm = atomicLoad(&counts[n * n + lid]);
        let num = f32(i32(cd * prm.chains) - i32(cm * prm.clamped));
        let d = prm.rate * (num / f32(prm.clamped * prm.chains));
        if (i == j) {
            b[i] = b[i] - d;
        } else {
            w[lid] = w[lid] + d;
        }
        atomicStore(&counts[lid], 0u);
        atomicStore(&counts[n * n + lid], 0u);
    }
}
