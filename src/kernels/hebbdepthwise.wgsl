// Depthwise Hebbian convolution (see kernels/hebbdepthwise.rs; CPU twin: nets::hebbconv::conv with a depthwise
// ConvSpec): channel c convolved with its own k × k filter, reflect padding and stride, optionally the cosine
// activation's division by the channel's own patch norm; and the depthwise correlation Σ_{n,p} r[n,c,p] ·
// patch_{n,p}(x[c]), the diagonal of the full correlation that hebb_depthwise.py keeps.
//
// Layouts (row-major): x [N, C, H, W]; w and the correlation [C, k·k]; y and r [N, C, Ho·Wo].
// Matrix-vector shaped work (k² multiply-adds per output), so one invocation per output and one workgroup per
// weight rather than hebbconv.wgsl's GEMM tiles.

struct DepthwiseParams {
    n: u32,
    c: u32,
    h: u32,
    w: u32,
    k: u32,
    stride: u32,
    pad: u32,
    ho: u32,
    wo: u32,
    // 1: y is divided by sqrt(Σ patch² + 1e-8) of the channel's own patch (the cosine activation, whose
    // normalised weights come from hebblayers' forward_weights).
    cosine: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: DepthwiseParams;
// forward: the weights the forward pass uses; correlate: the post-synaptic coefficients r.
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
// forward: y; correlate: the correlation.
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

const WG: u32 = 256u;
var<workgroup> scratch: array<f32, 256>;

// PyTorch's 'reflect' padding (pad < n), as in hebbconv.wgsl.
fn reflect(i: i32, n: u32) -> u32 {
    var j = abs(i);
    let last = i32(n) - 1;
    if (j > last) {
        j = 2 * last - j;
    }
    return u32(j);
}

// One invocation per output (grid stride): y[n, c, oy, ox] = Σ_{ky,kx} w[c, ky, kx] · x_pad[n, c, oy·s + ky,
// ox·s + kx], summed in the kernel's row-major order as the CPU does.
@compute @workgroup_size(256)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let positions = params.ho * params.wo;
    let total = params.n * params.c * positions;
    for (var i = gid.x; i < total; i += nwg.x * WG) {
        let plane = i / positions;
        let ch = plane % params.c;
        let p = i % positions;
        let oy = p / params.wo;
        let ox = p % params.wo;
        var acc = 0.0;
        var sq = 0.0;
        for (var ky = 0u; ky < params.k; ky++) {
            let iy = reflect(i32(oy * params.stride + ky) - i32(params.pad), params.h);
            for (var kx = 0u; kx < params.k; kx++) {
                let ix = reflect(i32(ox * params.stride + kx) - i32(params.pad), params.w);
                let v = x[(plane * params.h + iy) * params.w + ix];
                acc += a[(ch * params.k + ky) * params.k + kx] * v;
                sq += v * v;
            }
        }
        if (params.cosine == 1u) {
            acc = acc / sqrt(sq + 1e-8);
        }
        out[i] = acc;
    }
}

// One workgroup per weight (c, ky, kx): Σ_{n, oy, ox} r[n, c, oy, ox] · x_pad[n, c, oy·s + ky, ox·s + kx].
@compute @workgroup_size(256)
fn correlate(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let kk = params.k * params.k;
    let ch = wg.x / kk;
    let ky = (wg.x % kk) / params.k;
    let kx = wg.x % params.k;
    let positions = params.ho * params.wo;
    var s = 0.0;
    for (var j = li; j < params.n * positions; j += WG) {
        let plane = (j / positions) * params.c + ch;
        let p = j % positions;
        let iy = reflect(i32((p / params.wo) * params.stride + ky) - i32(params.pad), params.h);
        let ix = reflect(i32((p % params.wo) * params.stride + kx) - i32(params.pad), params.w);
        s += a[plane * positions + p] * x[(plane * params.h + iy) * params.w + ix];
    }
    scratch[li] = s;
    workgroupBarrier();
    for (var half = WG / 2u; half > 0u; half /= 2u) {
        if (li < half) {
            scratch[li] += scratch[li + half];
        }
        workgroupBarrier();
    }
    if (li == 0u) {
        out[wg.x] = scratch[0];
    }
}
