// Batched Hopfield recall (see kernels/recall.rs): one workgroup per probe, its 64 invocations sharing the units
// (invocation t owns units t, t + 64, t + 128, …). The fields h = W s are computed once and then kept up to
// date: when unit i changes by d, field j gains d · W[j][i]. Every step below has its twin in recall.rs, with
// the same f32 operations in the same order per unit, so the CPU and the GPU reach the same states.
// Needs rng.wgsl (prepended by recall::source).

struct RecallParams {
    n: u32,
    probes: u32,
    // Stream index of this dispatch's first probe: probe b draws its visiting orders from index first + b.
    first: u32,
    // 1: states are −1 / +1; 0: states are 0 / 1.
    bipolar: u32,
    // 1: synchronous sweeps; 0: asynchronous sweeps in a fresh random order each.
    synchronous: u32,
    max_sweeps: u32,
    seed: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: RecallParams;
// Transposed weight matrices, one N × N block per network: wt[w0 + i·N + j] = W[j][i], so that the column of W
// that a flip of unit i adds to the fields is one contiguous row here.
@group(0) @binding(1) var<storage, read> wt: array<f32>;
// The network (block of wt) of each probe.
@group(0) @binding(2) var<storage, read> net: array<u32>;
// probes × N: the probes in, the final states out.
@group(0) @binding(3) var<storage, read_write> states: array<f32>;
// probes × N: the fields of the current state.
@group(0) @binding(4) var<storage, read_write> fields: array<f32>;
// probes × N: asynchronous, the sweep's visiting order; synchronous, 1 where the unit flipped in the last sweep
// (zero-filled by wgpu before the first).
@group(0) @binding(5) var<storage, read_write> scratch: array<u32>;
// probes × 2: sweeps used and outcome (0 fixed point, 1 two-cycle, 2 max sweeps reached).
@group(0) @binding(6) var<storage, read_write> result: array<u32>;

const WG: u32 = 64u;
// rng::Purpose::Hopfield and recall::Stream::Order.
const PURPOSE_HOPFIELD: u32 = 6u;
const STREAM_ORDER: u32 = 1u;

// Synchronous sweeps: bit 0 set when a unit flipped, bit 1 when a unit's flip differs from the last sweep's.
var<workgroup> flags: atomic<u32>;
// What the whole workgroup branches on at the end of a sweep (written by invocation 0).
var<workgroup> status: u32;

fn low() -> f32 {
    return select(0.0, -1.0, params.bipolar == 1u);
}

// The sign rule with threshold 0; a field of exactly 0 keeps the state (the lectures' code does the same).
fn decide(h: f32, s: f32) -> f32 {
    if (h > 0.0) {
        return 1.0;
    }
    if (h < 0.0) {
        return low();
    }
    return s;
}

// The visiting order of one sweep, as recall::sweep_order: Fisher–Yates from the identity, draw m (m = 0 … N−2)
// from counter [sweep, m / 4, 0, 0], word m % 4, scaled to [0, k] by the high word of x · (k + 1).
fn shuffle(base: u32, n: u32, sweep: u32, key: vec2<u32>) {
    for (var k = 0u; k < n; k++) {
        scratch[base + k] = k;
    }
    var x = vec4<u32>(0u);
    for (var m = 0u; m + 1u < n; m++) {
        if (m % 4u == 0u) {
            x = philox4x32(vec4<u32>(sweep, m / 4u, 0u, 0u), key);
        }
        let k = n - 1u - m;
        let j = mulhilo(x[m % 4u], k + 1u).x;
        let tmp = scratch[base + k];
        scratch[base + k] = scratch[base + j];
        scratch[base + j] = tmp;
    }
}

@compute @workgroup_size(64)
fn recall(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
    let b = wg.x;
    let n = params.n;
    let base = b * n;
    let w0 = net[b] * n * n;
    let key = vec2<u32>(params.seed, rng_stream(PURPOSE_HOPFIELD, STREAM_ORDER, params.first + b));

    // h_j = Σ_k W[j][k] s_k, k ascending (the products are exact: s is 0 or ±1).
    for (var j = tid; j < n; j += WG) {
        var h = 0.0;
        for (var k = 0u; k < n; k++) {
            h += wt[w0 + k * n + j] * states[base + k];
        }
        fields[base + j] = h;
    }

    var sweeps = params.max_sweeps;
    var outcome = 2u;
    for (var t = 0u; t < params.max_sweeps; t++) {
        workgroupBarrier();
        storageBarrier();
        if (params.synchronous == 1u) {
            // Every unit from the old fields; each invocation writes only its own units.
            var bits = 0u;
            for (var j = tid; j < n; j += WG) {
                let s = states[base + j];
                let next = decide(fields[base + j], s);
                let flipped = select(0u, 1u, next != s);
                if (flipped != scratch[base + j]) {
                    bits |= 2u;
                }
                bits |= flipped;
                scratch[base + j] = flipped;
                states[base + j] = next;
            }
            atomicOr(&flags, bits);
            storageBarrier();
            // The flips' columns, unit i ascending for every field (as the CPU twin).
            for (var i = 0u; i < n; i++) {
                if (scratch[base + i] == 1u) {
                    let d = 2.0 * states[base + i] - 1.0 - low();
                    let row = w0 + i * n;
                    for (var j = tid; j < n; j += WG) {
                        fields[base + j] += d * wt[row + j];
                    }
                }
            }
            workgroupBarrier();
            if (tid == 0u) {
                status = atomicLoad(&flags);
                atomicStore(&flags, 0u);
            }
        } else {
            if (tid == 0u) {
                shuffle(base, n, t, key);
            }
            storageBarrier();
            // Every invocation reads the same state and field of unit i and so takes the same decision.
            var changed = 0u;
            for (var m = 0u; m < n; m++) {
                let i = scratch[base + m];
                let s = states[base + i];
                let next = decide(fields[base + i], s);
                if (next != s) {
                    let d = next - s;
                    let row = w0 + i * n;
                    // Field i itself would gain d · W[i][i] = 0 (the diagonal is zero, checked on the host);
                    // skipping it means no invocation writes what the others are reading.
                    for (var j = tid; j < n; j += WG) {
                        if (j != i) {
                            fields[base + j] += d * wt[row + j];
                        }
                    }
                    changed = 1u;
                }
                storageBarrier();
                // After the barrier nobody reads state i again in this sweep.
                if (tid == 0u && next != s) {
                    states[base + i] = next;
                }
            }
            if (tid == 0u) {
                status = changed;
            }
        }
        let st = workgroupUniformLoad(&status);
        if ((st & 1u) == 0u) {
            sweeps = t + 1u;
            outcome = 0u;
            break;
        }
        if (params.synchronous == 1u && (st & 2u) == 0u) {
            // The same units flipped as in the last sweep: state(t + 1) = state(t − 1) ≠ state(t).
            sweeps = t + 1u;
            outcome = 1u;
            break;
        }
    }
    if (tid == 0u) {
        result[2u * b] = sweeps;
        result[2u * b + 1u] = outcome;
    }
}
