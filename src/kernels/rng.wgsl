// Philox4x32-10 and Box-Muller normals: the same integers as src/rng.rs (floats agree within ulps).
// Library code only: prepended to kernels that draw random numbers.

const PHILOX_M0: u32 = 0xD2511F53u;
const PHILOX_M1: u32 = 0xCD9E8D57u;
const PHILOX_W0: u32 = 0x9E3779B9u;
const PHILOX_W1: u32 = 0xBB67AE85u;

// High and low words of the 64-bit product a * b (WGSL has no u64).
fn mulhilo(a: u32, b: u32) -> vec2<u32> {
    let a_lo = a & 0xFFFFu;
    let a_hi = a >> 16u;
    let b_lo = b & 0xFFFFu;
    let b_hi = b >> 16u;
    let lo_lo = a_lo * b_lo;
    let hi_lo = a_hi * b_lo;
    let lo_hi = a_lo * b_hi;
    let hi_hi = a_hi * b_hi;
    let cross = (lo_lo >> 16u) + (hi_lo & 0xFFFFu) + (lo_hi & 0xFFFFu);
    let hi = hi_hi + (hi_lo >> 16u) + (lo_hi >> 16u) + (cross >> 16u);
    return vec2<u32>(hi, a * b);
}

fn philox4x32(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    var c = counter;
    var k = key;
    for (var round = 0u; round < 10u; round++) {
        if (round > 0u) {
            k = vec2<u32>(k.x + PHILOX_W0, k.y + PHILOX_W1);
        }
        let p0 = mulhilo(PHILOX_M0, c.x);
        let p1 = mulhilo(PHILOX_M1, c.z);
        c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
    }
    return c;
}

fn rng_uniform(x: u32) -> f32 {
    return (f32(x >> 9u) + 0.5) * (1.0 / 8388608.0);
}

// (sin, cos) of 2π·u for u in [0, 1), to about one ulp. WGSL promises only 2^-11 absolute error for the
// built-in sin/cos (SwiftShader's differ from libm by 1.5e-4), so the angle is reduced to [-π/4, π/4] by
// quarter turns and evaluated with Taylor polynomials.
fn sincos_turns(u: f32) -> vec2<f32> {
    let t = u * 4.0;
    let q = floor(t + 0.5);
    let r = (t - q) * 1.5707964;
    let r2 = r * r;
    let s = r * (1.0 + r2 * (-1.6666667e-1 + r2 * (8.3333333e-3 + r2 * (-1.9841270e-4 + r2 * 2.7557319e-6))));
    let c = 1.0 + r2 * (-0.5 + r2 * (4.1666668e-2 + r2 * (-1.3888889e-3 + r2 * (2.4801587e-5 - r2 * 2.7557319e-7))));
    switch (u32(q) & 3u) {
        case 0u: { return vec2<f32>(s, c); }
        case 1u: { return vec2<f32>(c, -s); }
        case 2u: { return vec2<f32>(-s, -c); }
        default: { return vec2<f32>(-c, s); }
    }
}

fn normal_pair(x0: u32, x1: u32) -> vec2<f32> {
    let r = sqrt(-2.0 * log(rng_uniform(x0)));
    let sc = sincos_turns(rng_uniform(x1));
    return vec2<f32>(r * sc.y, r * sc.x);
}

// Stream id layout, as rng::stream: purpose << 28 | group << 20 | index.
fn rng_stream(purpose: u32, group: u32, index: u32) -> u32 {
    return (purpose << 28u) | ((group & 0xFFu) << 20u) | (index & 0xFFFFFu);
}
