// Checkerboard Metropolis half-sweeps of the periodic Ising lattice (see kernels/ising.rs, whose CPU twin
// makes the same decisions from the same integers).
//
// One invocation updates a quad: four consecutive sites of the current colour, indexed colour-locally
// (l = i·k/2 + j/2), with the four words of one Philox draw at counter (quad, sweep, colour, 0).

// Which half-sweep runs: advanced by `tick` between dispatches, so one command buffer holds many sweeps.
struct Step {
    sweep: u32,
    colour: u32,
}

struct Params {
    k: u32,
    // Sites per row of one colour (k / 2) and per colour (k² / 2).
    half: u32,
    sites: u32,
    seed: u32,
    stream: u32,
    // The sweep whose changes go to records[0..2]: slots are relative to the chunk.
    base_sweep: u32,
    _pad0: u32,
    _pad1: u32,
    // Acceptance probability at index 2·(neighbour sum + 4)/2 + (spin + 1)/2 (ten entries used).
    table: array<vec4<f32>, 3>,
}

@group(0) @binding(0) var<storage, read_write> step: Step;
@group(0) @binding(1) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read_write> spins: array<i32>;
// Per sweep of the chunk: the exact change of Σ s and of Σ_bonds s·s' (both colours add to one slot).
@group(0) @binding(3) var<storage, read_write> records: array<atomic<i32>>;

var<workgroup> wg_delta: array<atomic<i32>, 2>;

@compute @workgroup_size(64)
fn half_sweep(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let quad = gid.x;
    let sweep = step.sweep;
    let colour = step.colour;
    let k = params.k;
    var d_spin = 0i;
    var d_bond = 0i;
    if (quad * 4u < params.sites) {
        let x = philox4x32(vec4<u32>(quad, sweep, colour, 0u), vec2<u32>(params.seed, params.stream));
        for (var lane = 0u; lane < 4u; lane++) {
            let l = quad * 4u + lane;
            if (l >= params.sites) {
                break;
            }
            let i = l / params.half;
            let j = 2u * (l % params.half) + ((i + colour) & 1u);
            let row = i * k;
            let up = ((i + k - 1u) % k) * k;
            let down = ((i + 1u) % k) * k;
            let s = spins[row + j];
            // Same-colour sites are never neighbours (k even), so these reads see no concurrent writes.
            let ns = spins[up + j] + spins[down + j] + spins[row + (j + k - 1u) % k] + spins[row + (j + 1u) % k];
            let t = u32(ns + 4) + u32(s + 1) / 2u;
            if (rng_uniform(x[lane]) < params.table[t / 4u][t % 4u]) {
                spins[row + j] = -s;
                d_spin -= 2 * s;
                d_bond -= 2 * s * ns;
            }
        }
    }
    // Flips of one colour share no bond, so the sweep's changes are the sums of the flips' changes:
    // gathered per workgroup, then one atomic per workgroup into the sweep's slot (integers: exact, any order).
    atomicAdd(&wg_delta[0], d_spin);
    atomicAdd(&wg_delta[1], d_bond);
    workgroupBarrier();
    if (lid == 0u) {
        let slot = 2u * (sweep - params.base_sweep);
        atomicAdd(&records[slot], atomicLoad(&wg_delta[0]));
        atomicAdd(&records[slot + 1u], atomicLoad(&wg_delta[1]));
    }
}

// Moves to the next half-sweep: black → white of the same sweep, white → black of the next.
@compute @workgroup_size(1)
fn tick() {
    step.colour ^= 1u;
    if (step.colour == 0u) {
        step.sweep += 1u;
    }
}
