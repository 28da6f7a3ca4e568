// Online competitive learning (see kernels/competitive.rs; CPU twin nets::competitive::Competitive::step). One
// workgroup presents the samples one after another, as the CPU does: for each sample, its invocations split the
// distances (and activations) of every unit into the CPU's eight lanes (lane l of unit i sums the inputs j ≡ l
// mod 8 in increasing order), each unit's lanes are added in order, one invocation picks the nearest unit and the
// winner (the first of equal values) and moves the conscience's frequencies, and the invocations split the
// winner's row (every row with leaky learning) for the instar update of the plasticity module. So every float
// operation is the CPU's, in the CPU's order.
//
// Layouts (row-major): the samples x [samples, dim] (an epoch, presented in row order), the weights w
// [units, dim], the frequencies p [units]; `cursor` holds the next sample, the end of this submit's run and the
// sample whose record is out[0]; `out` holds per sample (winner, nearest, bits of ‖x − w_nearest‖²); `trace`
// holds snapshots of w after every `trace_every`-th sample of the epoch and after its last (slot k / trace_every).

struct Params {
    units: u32,
    dim: u32,
    samples: u32,
    per_dispatch: u32,
    // WIN_* and VARIANT_* below.
    how: u32,
    variant: u32,
    // 0: no snapshots.
    trace_every: u32,
    _pad: u32,
    rate: f32,
    beta: f32,
    c: f32,
    leak: f32,
}

const WIN_DISTANCE: u32 = 0u;
const WIN_ACTIVATION: u32 = 1u;
const VARIANT_PLAIN: u32 = 0u;
const VARIANT_CONSCIENCE: u32 = 1u;
const VARIANT_LEAKY: u32 = 2u;
const WG: u32 = 128u;
// The most units (the workgroup arrays below: 9 KiB of the 16 KiB a workgroup may hold).
const MAX_UNITS: u32 = 128u;
const LANES: u32 = 8u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> p: array<f32>;
@group(0) @binding(4) var<storage, read_write> cursor: array<u32>;
@group(0) @binding(5) var<storage, read_write> out: array<u32>;
@group(0) @binding(6) var<storage, read_write> trace: array<f32>;

// Lane sums of the squared distances and of the activations, then each unit's totals and its competition score.
var<workgroup> lane_d2: array<f32, 1024>;
var<workgroup> lane_y: array<f32, 1024>;
var<workgroup> d2: array<f32, 128>;
var<workgroup> score: array<f32, 128>;
var<workgroup> wg_first: u32;
var<workgroup> wg_last: u32;
var<workgroup> wg_winner: u32;

// The index of the smallest value, the first of equal ones (the CPU's argmin; it differs only where a value is
// NaN, after which the weights are lost anyway).
fn argmin_d2() -> u32 {
    var best = 0u;
    for (var i = 1u; i < params.units; i++) {
        if (d2[i] < d2[best]) {
            best = i;
        }
    }
    return best;
}

fn argmin_score() -> u32 {
    var best = 0u;
    for (var i = 1u; i < params.units; i++) {
        if (score[i] < score[best]) {
            best = i;
        }
    }
    return best;
}

@compute @workgroup_size(128)
fn present(@builtin(local_invocation_index) t: u32) {
    let units = params.units;
    let dim = params.dim;
    if (t == 0u) {
        wg_first = cursor[0];
        wg_last = min(cursor[1], cursor[0] + params.per_dispatch);
    }
    let lo = workgroupUniformLoad(&wg_first);
    let hi = workgroupUniformLoad(&wg_last);
    for (var k = lo; k < hi; k++) {
        let row = k * dim;
        // The eight lanes of every unit.
        for (var q = t; q < units * LANES; q += WG) {
            let i = q / LANES;
            var sd = 0.0;
            var sy = 0.0;
            for (var j = q % LANES; j < dim; j += LANES) {
                let wj = w[i * dim + j];
                let xj = x[row + j];
                let d = wj - xj;
                sd += d * d;
                sy += wj * xj;
            }
            lane_d2[q] = sd;
            lane_y[q] = sy;
        }
        workgroupBarrier();
        if (t < units) {
            var sd = 0.0;
            var sy = 0.0;
            for (var l = 0u; l < LANES; l++) {
                sd += lane_d2[t * LANES + l];
                sy += lane_y[t * LANES + l];
            }
            d2[t] = sd;
            if (params.variant == VARIANT_CONSCIENCE) {
                // DeSieno's bias b_i = C (1/N − p_i), with the frequencies before this sample.
                score[t] = sd - params.c * (1.0 / f32(units) - p[t]);
            } else if (params.how == WIN_ACTIVATION) {
                score[t] = -sy;
            } else {
                score[t] = sd;
            }
        }
        workgroupBarrier();
        storageBarrier();
        if (t == 0u) {
            let nearest = argmin_d2();
            wg_winner = argmin_score();
            if (params.variant == VARIANT_CONSCIENCE) {
                for (var i = 0u; i < units; i++) {
                    let y = select(0.0, 1.0, i == nearest);
                    p[i] = p[i] + params.beta * (y - p[i]);
                }
            }
            let at = (k - cursor[2]) * 3u;
            out[at] = wg_winner;
            out[at + 1u] = nearest;
            out[at + 2u] = bitcast<u32>(d2[nearest]);
        }
        let win = workgroupUniformLoad(&wg_winner);
        // The instar update Δw_i = v (x − w_i) with v = 1: the winner at the rate, the losers (leaky) at the leak.
        var rows = 1u;
        if (params.variant == VARIANT_LEAKY) {
            rows = units;
        }
        for (var q = t; q < rows * dim; q += WG) {
            var i = win;
            var rate = params.rate;
            if (params.variant == VARIANT_LEAKY) {
                i = q / dim;
                if (i != win) {
                    rate = params.leak;
                }
            }
            let j = q % dim;
            let at = i * dim + j;
            w[at] = w[at] + rate * plasticity_delta(RULE_INSTAR, 1.0, x[row + j], w[at], 0.0, 0.0);
        }
        storageBarrier();
        workgroupBarrier();
        let every = params.trace_every;
        if (every > 0u && ((k + 1u) % every == 0u || k + 1u == params.samples)) {
            let slot = (k / every) * units * dim;
            for (var q = t; q < units * dim; q += WG) {
                trace[slot + q] = w[q];
            }
        }
    }
    if (t == 0u) {
        cursor[0] = hi;
    }
}
