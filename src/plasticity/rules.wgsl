// Learning rules, one synapse at a time: Δw for post-synaptic activity v, pre-synaptic activity u, the weight
// w between them, the running mean ū of u (covariance rule) and the post-synaptic threshold θ (BCM). Every kernel
// that learns includes this file after the generated prelude (which defines the RULE_* ids); the CPU twin is
// `plasticity::delta` in src/plasticity/mod.rs, with the arithmetic in the same order.
// Clipped Hebb's Δw is Hebb's; the clip acts on the whole weight vector afterwards (`plasticity::clip`).
fn plasticity_delta(rule: u32, v: f32, u: f32, w: f32, ubar: f32, theta: f32) -> f32 {
    switch rule {
        case RULE_OJA: { return v * (u - v * w); }
        case RULE_COVARIANCE: { return v * (u - ubar); }
        case RULE_BCM: { return (v * (v - theta)) * u; }
        case RULE_INSTAR: { return v * (u - w); }
        case RULE_OUTSTAR: { return u * (v - w); }
        default: { return v * u; }
    }
}
