// Batched Hopfield recall (see kernels/recall.rs). `init_fields` computes h = W s for every probe; `relax` then
// runs one workgroup per probe, its 64 invocations sharing the units (invocation t owns units t, t + 64, …),
// and keeps the fields up to date: when unit i changes by d, field j gains d · W[j][i]. Every step has its twin
// in recall.rs, with the same f32 operations in the same order per unit, so the CPU and the GPU agree.
//
// `relax` stops when an invocation has used `budget` loop iterations (counted conservatively) and saves its
// place in `progress`; the host dispatches it again until every probe has finished. Resuming changes nothing:
// the next dispatch carries on from the saved unit with the saved fields and flags.
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
    // Loop iterations one invocation of `relax` may run in one dispatch.
    budget: u32,
    // The threshold U of every unit.
    threshold: f32,
    // 1: a unit whose field equals the threshold goes high (002's sgn(0) = +1); 0: it keeps its state.
    tie_up: u32,
    _pad0: u32,
    _pad1: u32,
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
// probes × 4, zero-filled before the first dispatch: sweeps completed, outcome (an OUTCOME_* code),
// position in the sweep (asynchronous: the next unit of the order; synchronous: the next flipped column to
// add), and flags (bit 0: a unit flipped in this sweep; synchronous, bit 1: a flip differs from the last
// sweep's, bit 2: this sweep's units are decided).
@group(0) @binding(6) var<storage, read_write> progress: array<vec4<u32>>;

const WG: u32 = 64u;
// PURPOSE_HOPFIELD, STREAM_ORDER and the OUTCOME_* codes come from the generated prelude.
const FLIPPED: u32 = 1u;
const MISMATCH: u32 = 2u;
const DECIDED: u32 = 4u;

// The probe's progress, shared with the whole workgroup.
var<workgroup> place: vec4<u32>;
// Synchronous decisions: FLIPPED and MISMATCH from every invocation.
var<workgroup> flags: atomic<u32>;
// What the whole workgroup branches on (written by invocation 0).
var<workgroup> status: u32;

// h_j = Σ_k W[j][k] s_k, k ascending (the products are exact: s is 0 or ±1); one invocation per (probe, unit).
@compute @workgroup_size(64)
fn init_fields(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n = params.n;
    let b = gid.x / n;
    let j = gid.x % n;
    if (b >= params.probes) {
        return;
    }
    let base = b * n;
    let w0 = net[b] * n * n;
    var h = 0.0;
    for (var k = 0u; k < n; k++) {
        h += wt[w0 + k * n + j] * states[base + k];
    }
    fields[base + j] = h;
}

fn low() -> f32 {
    return select(0.0, -1.0, params.bipolar == 1u);
}

// The sign rule with threshold U, as recall::decide: a field equal to U keeps the state (004's code) or, with
// tie_up, sends the unit high (002's sgn(0) = +1).
fn decide(h: f32, s: f32) -> f32 {
    if (h > params.threshold) {
        return 1.0;
    }
    if (h < params.threshold) {
        return low();
    }
    return select(s, 1.0, params.tie_up == 1u);
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
fn relax(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
    let b = wg.x;
    let n = params.n;
    let base = b * n;
    let w0 = net[b] * n * n;
    let key = vec2<u32>(params.seed, rng_stream(PURPOSE_HOPFIELD, STREAM_ORDER, params.first + b));
    // Loop iterations, per invocation: one unit's update touches at most `mine` units of each invocation; a
    // shuffle (invocation 0) runs N + (N − 1) iterations plus 10 Philox rounds per 4 draws.
    let mine = (n + WG - 1u) / WG;
    let shuffle_cost = 5u * n + 16u;
    if (tid == 0u) {
        place = progress[b];
    }
    // x: sweeps completed, y: outcome, z: position, w: flags; uniform, so the loops below may hold barriers.
    var p = workgroupUniformLoad(&place);
    var spent = 0u;
    var changed = 0u;
    loop {
        spent += 1u;
        if (p.y != OUTCOME_RUNNING) {
            break;
        }
        if (p.x == params.max_sweeps) {
            p.y = OUTCOME_MAX;
            break;
        }
        workgroupBarrier();
        storageBarrier();
        if (params.synchronous == 1u) {
            if ((p.w & DECIDED) == 0u) {
                // Every unit from the old fields; each invocation writes only its own units.
                if (spent + mine > params.budget) {
                    break;
                }
                spent += mine;
                var bits = 0u;
                for (var j = tid; j < n; j += WG) {
                    let s = states[base + j];
                    let next = decide(fields[base + j], s);
                    let flipped = select(0u, 1u, next != s);
                    if (flipped != scratch[base + j]) {
                        bits |= MISMATCH;
                    }
                    bits |= flipped;
                    scratch[base + j] = flipped;
                    states[base + j] = next;
                }
                atomicOr(&flags, bits);
                workgroupBarrier();
                storageBarrier();
                if (tid == 0u) {
                    status = atomicLoad(&flags) | DECIDED;
                    atomicStore(&flags, 0u);
                }
                p.w = workgroupUniformLoad(&status);
                p.z = 0u;
            }
            // The flips' columns, unit i ascending for every field (as the CPU twin).
            loop {
                if (p.z == n || spent + 1u + mine > params.budget) {
                    break;
                }
                spent += 1u + mine;
                let i = p.z;
                if (scratch[base + i] == 1u) {
                    let d = 2.0 * states[base + i] - 1.0 - low();
                    let row = w0 + i * n;
                    for (var j = tid; j < n; j += WG) {
                        fields[base + j] += d * wt[row + j];
                    }
                }
                p.z += 1u;
            }
        } else {
            if (p.z == 0u) {
                if (spent + shuffle_cost > params.budget) {
                    break;
                }
                spent += shuffle_cost;
                if (tid == 0u) {
                    shuffle(base, n, p.x, key);
                }
                storageBarrier();
            }
            // Every invocation reads the same state and field of unit i and so takes the same decision.
            loop {
                if (p.z == n || spent + 1u + mine > params.budget) {
                    break;
                }
                spent += 1u + mine;
                let i = scratch[base + p.z];
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
                    changed = FLIPPED;
                }
                storageBarrier();
                // After the barrier nobody reads state i again in this sweep.
                if (tid == 0u && next != s) {
                    states[base + i] = next;
                }
                p.z += 1u;
            }
            if (tid == 0u) {
                status = p.w | changed;
            }
            p.w = workgroupUniformLoad(&status);
            changed = 0u;
        }
        // Out of budget inside the sweep: resume at position z next round.
        if (p.z < n) {
            break;
        }
        // The sweep is complete.
        p.x += 1u;
        p.z = 0u;
        let st = p.w;
        p.w = 0u;
        if ((st & FLIPPED) == 0u) {
            p.y = OUTCOME_FIXED;
            break;
        }
        if (params.synchronous == 1u && (st & MISMATCH) == 0u) {
            // The same units flipped as in the last sweep: state(t + 1) = state(t − 1) ≠ state(t).
            p.y = OUTCOME_CYCLE;
            break;
        }
    }
    if (tid == 0u) {
        progress[b] = p;
    }
}
