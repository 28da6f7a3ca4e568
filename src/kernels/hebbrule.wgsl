// One epoch of the Hebb's-rule lab's class prototypes (see kernels/hebbrule.rs; CPU twin
// nets::hebbrule::Layer::instar_row over the epoch's order). A digit moves only its own class's row, so the
// weights are independent: invocation (c, j) walks the epoch's digits of class c in the epoch's order and applies
// the instar update of the plasticity module to w[c][j], the CPU's sequence of float operations for that weight.
//
// Layouts: the training digits x [digits, inputs] (row-major, uploaded once per run); `order` holds, for the
// epoch, the start of each class's run (classes + 1 offsets) and then the positions of the digits, class by
// class, each class's in the epoch's order; w [classes, inputs].

struct Params {
    classes: u32,
    inputs: u32,
    rate: f32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> order: array<u32>;
@group(0) @binding(3) var<storage, read_write> w: array<f32>;

@compute @workgroup_size(64)
fn epoch(@builtin(global_invocation_id) gid: vec3<u32>) {
    let idx = gid.x;
    if (idx >= params.classes * params.inputs) {
        return;
    }
    let c = idx / params.inputs;
    let j = idx % params.inputs;
    let runs = params.classes + 1u;
    var v = w[idx];
    for (var k = order[c]; k < order[c + 1u]; k++) {
        let u = x[order[runs + k] * params.inputs + j];
        v = v + params.rate * plasticity_delta(RULE_INSTAR, 1.0, u, v, 0.0, 0.0);
    }
    w[idx] = v;
}
