// The online self-organising map on resident tensors (see kernels/som.rs; CPU twin nets::som::Som, its
// train_sample: winner search, then the neighbourhood's instar update through plasticity_delta). One sample is
// three dispatches, recorded many to a submit: `distance` (‖x − w_u‖² of every unit), `argmin` (the winner: the
// first unit of smallest distance; it also records the sample's winner and distance and moves the cursor to the
// next sample), `update` (the winner's neighbourhood moves towards x).
//
// Layouts (row-major): the data x [n, dim], uploaded once per run; the weights w [units, dim], unit i at map
// (i / cols, i % cols); `ix`: the cursor (position of the next sample in the order), the sample in progress (its
// data row, its position, its winner), then the order (data rows of the epoch's samples); `sched`: per position in
// the order, `stride` floats: the rate, then the box's radius or the Gaussian's factors e^(−t²/2σ²), t = 0 … side;
// `out`: per position, the winner and the bits of its squared distance.

struct Dims {
    units: u32,
    rows: u32,
    cols: u32,
    dim: u32,
    // The lanes' pairwise sum starts at this width (16, or the next power of two of a shorter dim).
    used: u32,
    // 1: Gaussian neighbourhood, 0: the lecture's box.
    gaussian: u32,
    // Floats of `sched` per sample.
    stride: u32,
    _pad: u32,
}

// The header of `ix` before the order.
const IX_CURSOR: u32 = 0u;
const IX_ROW: u32 = 1u;
const IX_AT: u32 = 2u;
const IX_WINNER: u32 = 3u;
const IX_ORDER: u32 = 4u;
// Partial sums per unit, as nets::som::dist2 (lane l takes i ≡ l mod 16).
const LANES: u32 = 16u;
// Units whose distances a workgroup of `distance` computes at once.
const SLOTS: u32 = 4u;
const NONE: u32 = 0xffffffffu;
// The largest finite f32 (a squared distance below +∞ is at most this), and the bits of +∞.
const FINITE: f32 = 0x1.fffffep+127f;
const INF_BITS: u32 = 0x7f800000u;

@group(0) @binding(0) var<uniform> dims: Dims;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> ix: array<u32>;
@group(0) @binding(4) var<storage, read_write> dist: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<u32>;
@group(0) @binding(6) var<storage, read> sched: array<f32>;

var<workgroup> lanes: array<f32, 64>;

// ‖x − w_u‖² of every unit for the sample at the cursor: sixteen invocations per unit, lane l summing the
// components i ≡ l mod 16 in increasing order, then the lanes pairwise from width `used` down, so that each
// distance is the CPU's `dist2` operation for operation. Workgroups step through the units four at a time.
@compute @workgroup_size(64)
fn distance(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) ng: vec3<u32>,
            @builtin(local_invocation_index) li: u32) {
    let slot = li / LANES;
    let lane = li % LANES;
    let row = ix[IX_ORDER + ix[IX_CURSOR]] * dims.dim;
    for (var first = wg.x * SLOTS; first < dims.units; first += ng.x * SLOTS) {
        let u = first + slot;
        var acc = 0.0;
        if (u < dims.units) {
            let base = u * dims.dim;
            for (var i = lane; i < dims.dim; i += LANES) {
                let d = x[row + i] - w[base + i];
                acc += d * d;
            }
        }
        lanes[li] = acc;
        workgroupBarrier();
        for (var width = dims.used / 2u; width > 0u; width /= 2u) {
            if (lane < width) {
                lanes[li] = lanes[li] + lanes[li + width];
            }
            workgroupBarrier();
        }
        if (lane == 0u && u < dims.units) {
            dist[u] = lanes[li];
        }
        workgroupBarrier();
    }
}

var<workgroup> best_d: array<f32, 256>;
var<workgroup> best_i: array<u32, 256>;

// Whether candidate (d, i) comes before (bd, bi): any unit before none, else the smaller distance, or as small with
// a lower index (the first unit wins ties).
fn before(d: f32, i: u32, bd: f32, bi: u32) -> bool {
    return i != NONE && (bi == NONE || d < bd || (d == bd && i < bi));
}

// The winner of the sample at the cursor, as nets::som::argmin: each invocation keeps the first smallest of its
// units (strided, in increasing order), then a tree over the invocations keeps the smaller distance or, on a tie,
// the lower index. Only finite distances win, as on the CPU (its search starts at +∞ and takes d < best); none
// (every distance NaN or +∞) gives unit 0 at +∞. One invocation then records the sample and moves the cursor.
@compute @workgroup_size(256)
fn argmin(@builtin(local_invocation_index) li: u32) {
    var bd = 0.0;
    var bi = NONE;
    for (var u = li; u < dims.units; u += 256u) {
        let d = dist[u];
        if (d <= FINITE && (bi == NONE || d < bd)) {
            bd = d;
            bi = u;
        }
    }
    best_d[li] = bd;
    best_i[li] = bi;
    workgroupBarrier();
    for (var width = 128u; width > 0u; width /= 2u) {
        if (li < width && before(best_d[li + width], best_i[li + width], best_d[li], best_i[li])) {
            best_d[li] = best_d[li + width];
            best_i[li] = best_i[li + width];
        }
        workgroupBarrier();
    }
    if (li == 0u) {
        let none = best_i[0] == NONE;
        let winner = select(best_i[0], 0u, none);
        let at = ix[IX_CURSOR];
        ix[IX_ROW] = ix[IX_ORDER + at];
        ix[IX_AT] = at;
        ix[IX_WINNER] = winner;
        out[2u * at] = winner;
        out[2u * at + 1u] = select(bitcast<u32>(best_d[0]), INF_BITS, none);
        ix[IX_CURSOR] = at + 1u;
    }
}

// The neighbourhood of the sample in progress moves towards it: w ← w + Δw, Δw = plasticity_delta(instar, v, x,
// w) with v = rate (every unit of the box of half-width k around the winner, clipped at the borders) or v = rate ·
// h(|r − r*|) · h(|c − c*|) (Gaussian, every unit). Units with v = 0 stay as they are, as on the CPU. The box is
// dispatched over the largest window of its radius and each invocation steps through the clipped window's
// weights; the Gaussian over every weight.
@compute @workgroup_size(64)
fn update(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) ng: vec3<u32>) {
    let row = ix[IX_ROW] * dims.dim;
    let s = ix[IX_AT] * dims.stride;
    let winner = ix[IX_WINNER];
    let wr = winner / dims.cols;
    let wc = winner % dims.cols;
    let rate = sched[s];
    var r0 = 0u;
    var c0 = 0u;
    var height = dims.rows;
    var width = dims.cols;
    if (dims.gaussian == 0u) {
        let k = u32(sched[s + 1u]);
        r0 = select(0u, wr - k, wr > k);
        c0 = select(0u, wc - k, wc > k);
        height = min(wr + k + 1u, dims.rows) - r0;
        width = min(wc + k + 1u, dims.cols) - c0;
    }
    let total = height * width * dims.dim;
    for (var idx = gid.x; idx < total; idx += ng.x * 64u) {
        let local = idx / dims.dim;
        let i = idx % dims.dim;
        let r = r0 + local / width;
        let c = c0 + local % width;
        var v = rate;
        if (dims.gaussian == 1u) {
            let dr = select(wr - r, r - wr, r > wr);
            let dc = select(wc - c, c - wc, c > wc);
            v = rate * sched[s + 1u + dr] * sched[s + 1u + dc];
        }
        if (v != 0.0) {
            let at = (r * dims.cols + c) * dims.dim + i;
            let old = w[at];
            w[at] = old + plasticity_delta(RULE_INSTAR, v, x[row + i], old, 0.0, 0.0);
        }
    }
}
