//! Reverse mode of the Hebbian CNN's layers on the CPU (NCHW, f32): for an upstream gradient dL/dy, the input
//! gradient dL/dx of every layer and the weight gradient of the convolution. The end-to-end backprop baseline
//! (architecture H, `baseline.rs`) trains with them; the input gradients (Triangle included) also serve
//! gradient-based views of Hebbian networks.
//!
//! The convolution's two gradients are GEMMs over the same im2col blocks as the forward (conv.rs): dL/dw is the
//! Hebbian correlation Σ_{n,p} dy·patch (`conv::correlate_padded`, dy[K, B·P] · colsᵀ), and dL/dx is
//! Wᵀ[C·k², K] · dy[K, B·P] scattered back onto the padded input (col2im, the transpose of im2col), then the
//! padding's own backward: zero padding crops, reflect padding also folds the border onto the pixels it copied.
//! The other layers are elementwise or windowed and follow PyTorch's autograd formulas, tie rules included.
use super::conv::{self, ConvSpec, block_images, gather_block, reflect_index};
use super::layers::BatchNorm;
use super::presets::Padding;
use crate::kernels::matmul::gemm_into;
use crate::nets::linear::Linear;
use crate::rng::{self, Purpose};
use ndarray::{Array1, Array2, Array4, ArrayView2, ArrayView4, ArrayViewMut2, Axis, s};
use rayon::prelude::*;

/// What the backward pass of a convolution gives: the weights' gradient and, when asked, the input's.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvGrads {
    /// dL/dw, the shape of the weights.
    pub w: Array4<f32>,
    /// dL/dx of the unpadded input.
    pub x: Option<Array4<f32>>,
}

/// `x` padded by `pad` as `padding` says (the forward's first step).
pub fn pad(x: ArrayView4<f32>, pad: usize, padding: Padding) -> Array4<f32> {
    match padding {
        Padding::Reflect => conv::reflect_pad(x, pad),
        Padding::Zero => conv::zero_pad(x, pad),
    }
}

/// dL/dx of a padding, from the gradient `dxp` of the padded tensor: its interior, and for reflect padding also
/// every border entry added to the pixel it was copied from (PyTorch's `reflection_pad2d_backward`).
pub fn pad_backward(dxp: ArrayView4<f32>, pad: usize, padding: Padding) -> Array4<f32> {
    let (n, c, hp, wp) = dxp.dim();
    let (h, w) = (hp - 2 * pad, wp - 2 * pad);
    let interior = dxp.slice(s![.., .., pad..pad + h, pad..pad + w]);
    if pad == 0 || padding == Padding::Zero {
        return interior.to_owned();
    }
    let rows: Vec<usize> = (0..hp)
        .map(|i| reflect_index(i as isize - pad as isize, h))
        .collect();
    let cols: Vec<usize> = (0..wp)
        .map(|j| reflect_index(j as isize - pad as isize, w))
        .collect();
    let mut dx = Array4::zeros((n, c, h, w));
    for (src, mut dst) in dxp.outer_iter().zip(dx.outer_iter_mut()) {
        for (sp, mut dp) in src.outer_iter().zip(dst.outer_iter_mut()) {
            for (i, srow) in sp.outer_iter().enumerate() {
                let mut drow = dp.row_mut(rows[i]);
                for (&g, &cj) in srow.iter().zip(&cols) {
                    drow[cj] += g;
                }
            }
        }
    }
    dx
}

/// Scatter-adds the columns of im2col block `dcols` ([C·k², nb·P], row (c, i, j), column (b, oy, ox), as
/// conv.rs lays them out) onto images `n0..n0 + nb` of the padded gradient `dxp` (contiguous [N, C, hp, wp]).
fn col2im(
    dcols: &[f32],
    n0: usize,
    nb: usize,
    spec: &ConvSpec,
    out: (usize, usize),
    dxp: &mut [f32],
    padded: (usize, usize),
) {
    let ((ho, wo), (hp, wp)) = (out, padded);
    let (k, st) = (spec.k, spec.stride);
    let p = ho * wo;
    let width = nb * p;
    for c in 0..spec.c_in {
        for i in 0..k {
            for j in 0..k {
                let row = (c * k + i) * k + j;
                for b in 0..nb {
                    let plane = ((n0 + b) * spec.c_in + c) * hp * wp;
                    let base = row * width + b * p;
                    for oy in 0..ho {
                        let src = &dcols[base + oy * wo..base + (oy + 1) * wo];
                        let start = plane + (oy * st + i) * wp + j;
                        if st == 1 {
                            dxp[start..start + wo]
                                .iter_mut()
                                .zip(src)
                                .for_each(|(d, &g)| *d += g);
                        } else {
                            for (ox, &g) in src.iter().enumerate() {
                                dxp[start + ox * st] += g;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// dL/d(padded input) of `y = conv(xp, w)` (stride from `spec`, no bias) for the upstream gradient `dy`
/// [N, c_out, Ho, Wo], on a padded input of sides `hp × wp`: col2im(Wᵀ·dy) in blocks of whole images; direct
/// loops for depthwise layers (matrix-vector shaped, as their forward). Rows and columns of the padded input
/// that no window reaches (stride > 1) get zero.
pub fn conv_input_grad_padded(
    w: ArrayView4<f32>,
    dy: ArrayView4<f32>,
    spec: &ConvSpec,
    hp: usize,
    wp: usize,
) -> Array4<f32> {
    let (n, _, ho, wo) = dy.dim();
    let mut dxp = Array4::<f32>::zeros((n, spec.c_in, hp, wp));
    let p = ho * wo;
    if n == 0 || p == 0 {
        return dxp;
    }
    let (k, st) = (spec.k, spec.stride);
    if spec.depthwise {
        for b in 0..n {
            for c in 0..spec.c_in {
                let g = dy.slice(s![b, c, .., ..]);
                let f = w.slice(s![c, 0, .., ..]);
                let mut plane = dxp.slice_mut(s![b, c, .., ..]);
                for i in 0..k {
                    for j in 0..k {
                        let wij = f[[i, j]];
                        for oy in 0..ho {
                            let src = g.row(oy);
                            let mut dst = plane.row_mut(oy * st + i);
                            match (src.as_slice(), dst.as_slice_mut(), st) {
                                (Some(src), Some(dst), 1) => dst[j..j + wo]
                                    .iter_mut()
                                    .zip(src)
                                    .for_each(|(d, &v)| *d += wij * v),
                                _ => {
                                    for ox in 0..wo {
                                        dst[ox * st + j] += wij * src[ox];
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return dxp;
    }
    let rows = spec.c_in * k * k;
    let w2 = w
        .to_shape((spec.c_out, rows))
        .expect("weights [c_out, c_in, k, k]");
    let nb_max = block_images(rows + spec.c_out, p, n);
    let mut dcols = vec![0.0f32; rows * nb_max * p];
    let mut gbuf = vec![0.0f32; spec.c_out * nb_max * p];
    let dst = dxp.as_slice_mut().expect("a fresh array is contiguous");
    let mut n0 = 0;
    while n0 < n {
        let nb = nb_max.min(n - n0);
        let g = gather_block(&dy, n0, nb, &mut gbuf);
        let mut d = ArrayViewMut2::from_shape((rows, nb * p), &mut dcols[..rows * nb * p])
            .expect("sized above");
        gemm_into(w2.t(), g.view(), false, d.view_mut());
        col2im(
            &dcols[..rows * nb * p],
            n0,
            nb,
            spec,
            (ho, wo),
            dst,
            (hp, wp),
        );
        n0 += nb;
    }
    dxp
}

/// Both gradients of a convolution `y = conv(pad(x), w)` for the upstream gradient `dy`: dL/dw (the
/// correlation of dy with the padded input's patches) and, with `want_dx`, dL/dx of the unpadded input.
pub fn conv_backward(
    x: ArrayView4<f32>,
    w: ArrayView4<f32>,
    dy: ArrayView4<f32>,
    spec: &ConvSpec,
    padding: Padding,
    want_dx: bool,
) -> ConvGrads {
    let xp = pad(x, spec.pad, padding);
    let dw = conv::correlate_padded(xp.view(), dy, spec);
    let (_, _, hp, wp) = xp.dim();
    let dx = want_dx.then(|| {
        let dxp = conv_input_grad_padded(w, dy, spec, hp, wp);
        pad_backward(dxp.view(), spec.pad, padding)
    });
    ConvGrads { w: dw, x: dx }
}

/// dL/dx of `BatchNorm2d(affine=False)` at input `x`. Training mode (batch statistics, as the forward with
/// `train` computes them: mean and biased variance over N, H, W): x̂ = (x − μ)/σ with σ = √(var + ε) depends on
/// every entry of its channel through μ and σ, so dx = (dy − mean(dy) − x̂·mean(dy·x̂))/σ. Evaluation mode (the
/// running statistics, constants): dx = dy/√(running_var + ε).
pub fn batch_norm_backward(
    bn: &BatchNorm,
    x: ArrayView4<f32>,
    dy: ArrayView4<f32>,
    train: bool,
) -> Array4<f32> {
    let (n, _, h, w) = x.dim();
    let count = n * h * w;
    let mut dx = dy.to_owned();
    // The channels in parallel (each a strided view across the batch).
    let planes: Vec<_> = dx
        .axis_iter_mut(Axis(1))
        .zip(x.axis_iter(Axis(1)))
        .collect();
    planes
        .into_par_iter()
        .enumerate()
        .for_each(|(ch, (mut out, plane))| {
            if !train || count == 0 {
                let inv = 1.0 / (bn.running_var[ch] + bn.eps).sqrt();
                out.mapv_inplace(|g| g * inv);
                return;
            }
            // The forward's statistics, computed the same way (f64 sums, rounded to f32), so x̂ is the x̂ it
            // used.
            let m = plane.iter().map(|&v| f64::from(v)).sum::<f64>() / count as f64;
            let var = plane
                .iter()
                .map(|&v| (f64::from(v) - m) * (f64::from(v) - m))
                .sum::<f64>()
                / count as f64;
            let (mean, var) = (m as f32, var as f32);
            let inv = 1.0 / (var + bn.eps).sqrt();
            let (mut sg, mut sgx) = (0.0f64, 0.0f64);
            for (&v, &g) in plane.iter().zip(out.iter()) {
                sg += f64::from(g);
                sgx += f64::from(g) * f64::from((v - mean) * inv);
            }
            let (mg, mgx) = ((sg / count as f64) as f32, (sgx / count as f64) as f32);
            out.zip_mut_with(&plane, |g, &v| {
                *g = inv * (*g - mg - (v - mean) * inv * mgx);
            });
        });
    dx
}

/// dL/dx of ReLU at input `x`: dy where x > 0, else 0 (PyTorch's `threshold_backward`: zero at x = 0 too).
pub fn relu_backward(x: ArrayView4<f32>, dy: ArrayView4<f32>) -> Array4<f32> {
    let mut dx = dy.to_owned();
    dx.zip_mut_with(&x, |g, &v| {
        if v <= 0.0 {
            *g = 0.0;
        }
    });
    dx
}

/// dL/dy of the Triangle `ReLU(y − mean_c y)^power` at its input `y`. With t = y − mean_c y, the power's
/// derivative gives g = dy·power·t^(power−1) where t > 0 and 0 elsewhere (ReLU's mask, PyTorch's order: the
/// pow backward's infinity at t = 0 for power < 1 never passes the mask); the mean couples the channels of each
/// (n, h, w), ∂t_c/∂y_j = δ_cj − 1/C, so dL/dy = g − mean_c g.
pub fn triangle_backward(y: ArrayView4<f32>, dy: ArrayView4<f32>, power: f32) -> Array4<f32> {
    let mean = y.mean_axis(Axis(1)).expect("at least one channel");
    let mut g = dy.to_owned();
    for (mut gc, yc) in g.axis_iter_mut(Axis(1)).zip(y.axis_iter(Axis(1))) {
        ndarray::Zip::from(&mut gc)
            .and(&yc)
            .and(&mean)
            .for_each(|g, &v, &m| {
                let t = v - m;
                *g = if t <= 0.0 {
                    0.0
                } else if power == 1.0 {
                    *g
                } else {
                    *g * power * libm::powf(t, power - 1.0)
                };
            });
    }
    let gmean = g.mean_axis(Axis(1)).expect("at least one channel");
    for mut gc in g.axis_iter_mut(Axis(1)) {
        gc.zip_mut_with(&gmean, |v, &m| *v -= m);
    }
    g
}

/// dL/dx of `MaxPool2d(k, stride, pad)` at input `x`: each window's gradient goes to the entry the forward
/// took, by PyTorch's rule (scan rows then columns, a later entry wins only if strictly greater or NaN, so the
/// first of equal maxima); padding never wins, and overlapping windows add.
pub fn max_pool_backward(
    x: ArrayView4<f32>,
    dy: ArrayView4<f32>,
    k: usize,
    stride: usize,
    pad: usize,
) -> Array4<f32> {
    let (n, c, h, w) = x.dim();
    let x = x.as_standard_layout();
    let xs = x.as_slice().expect("standard layout");
    pool_backward_planes(
        (n, c, h, w),
        dy,
        k,
        stride,
        pad,
        |p, d, (ya, yb), (xa, xb), g| {
            let plane = &xs[p * h * w..(p + 1) * h * w];
            let mut best = ya * w + xa;
            let mut max = f32::NEG_INFINITY;
            for yy in ya..yb {
                for (i, &v) in (yy * w + xa..).zip(&plane[yy * w + xa..yy * w + xb]) {
                    // Selects rather than branches: which entry wins is data, and mispredicts cost more here
                    // than the comparisons.
                    let wins = v > max || v.is_nan();
                    max = if wins { v } else { max };
                    best = if wins { i } else { best };
                }
            }
            d[best] += g;
        },
    )
}

/// The windows of a k × k pool with `stride` and `pad` over planes of `shape` [N, C, H, W], the planes in
/// parallel: for each window inside the input, `visit(plane, dx plane, rows, columns, upstream gradient)`.
fn pool_backward_planes(
    shape: (usize, usize, usize, usize),
    dy: ArrayView4<f32>,
    k: usize,
    stride: usize,
    pad: usize,
    visit: impl Fn(usize, &mut [f32], (usize, usize), (usize, usize), f32) + Sync,
) -> Array4<f32> {
    let (_, _, h, w) = shape;
    let (_, _, ho, wo) = dy.dim();
    let mut dx = Array4::zeros(shape);
    if dx.is_empty() || dy.is_empty() {
        return dx;
    }
    let dy = dy.as_standard_layout();
    let gs = dy.as_slice().expect("standard layout");
    let window = |o: usize, side: usize| {
        let a = (o * stride) as isize - pad as isize;
        (
            a.max(0) as usize,
            ((a + k as isize).min(side as isize)).max(0) as usize,
        )
    };
    dx.as_slice_mut()
        .expect("a fresh array")
        .par_chunks_mut(h * w)
        .enumerate()
        .for_each(|(p, d)| {
            let g = &gs[p * ho * wo..(p + 1) * ho * wo];
            for oy in 0..ho {
                let rows = window(oy, h);
                for ox in 0..wo {
                    let cols = window(ox, w);
                    if rows.0 < rows.1 && cols.0 < cols.1 {
                        visit(p, d, rows, cols, g[oy * wo + ox]);
                    }
                }
            }
        });
    dx
}

/// dL/dx of `AvgPool2d(k, stride, pad)` (count_include_pad, PyTorch's default) for an input of sides `h × w`:
/// each window's gradient divided by k² on every entry of the window inside the input (the padding's share
/// goes nowhere).
pub fn avg_pool_backward(
    dy: ArrayView4<f32>,
    h: usize,
    w: usize,
    k: usize,
    stride: usize,
    pad: usize,
) -> Array4<f32> {
    let (n, c, ..) = dy.dim();
    let div = (k * k) as f32;
    pool_backward_planes(
        (n, c, h, w),
        dy,
        k,
        stride,
        pad,
        |_, d, (ya, yb), (xa, xb), g| {
            let share = g / div;
            for yy in ya..yb {
                for v in &mut d[yy * w + xa..yy * w + xb] {
                    *v += share;
                }
            }
        },
    )
}

/// The dropout probability of the thesis's head (`nn.Dropout(0.5)`).
pub const DROPOUT: f32 = 0.5;

/// The Philox key of a run's dropout masks (the GPU's head draws from it too).
pub fn dropout_key(seed: u32) -> [u32; 2] {
    [seed, rng::stream(Purpose::Readout, 1, 0)]
}

/// PyTorch's inverted dropout mask for a [rows, cols] batch of features in training mode: each entry kept with
/// probability 1 − p and then scaled by 1/(1 − p), so the mask holds 0 or 1/(1 − p). Entry j (row-major) of
/// batch b is kept when uniform(word j mod 4 of philox([b, b >> 32, j/4, (j/4) >> 32], [seed, stream(Readout,
/// 1, 0)])) ≥ p: the layout of the linear probe's masks (nets::probe), so both read one stream the same way.
pub fn dropout_mask(rows: usize, cols: usize, p: f32, seed: u32, batch: u64) -> Array2<f32> {
    let key = dropout_key(seed);
    let scale = 1.0 / (1.0 - p);
    let mut mask = Array2::zeros((rows, cols));
    let mut words = [0u32; 4];
    for (j, m) in mask.iter_mut().enumerate() {
        if j % 4 == 0 {
            let block = (j / 4) as u64;
            words = rng::philox4x32(
                [
                    batch as u32,
                    (batch >> 32) as u32,
                    block as u32,
                    (block >> 32) as u32,
                ],
                key,
            );
        }
        if rng::uniform(words[j % 4]) >= p {
            *m = scale;
        }
    }
    mask
}

/// The head's forward pass: Flatten (PyTorch's order, [N, C·H·W]) → Dropout (`mask` from [`dropout_mask`], or
/// None in evaluation mode, where dropout is the identity) → Linear. Returns the features the Linear saw and the
/// logits.
pub fn head_forward(
    lin: &Linear,
    x: ArrayView4<f32>,
    mask: Option<ArrayView2<f32>>,
) -> (Array2<f32>, Array2<f32>) {
    let n = x.dim().0;
    let f = x.len() / n.max(1);
    let mut feats = x
        .to_shape((n, f))
        .expect("an NCHW tensor flattens to [N, C·H·W]")
        .into_owned();
    if let Some(m) = mask {
        feats *= &m;
    }
    let logits = lin.forward(feats.view());
    (feats, logits)
}

/// Gradients of the head: its Linear's weights and bias, and with `want_dx` dL/dx of the NCHW input of
/// `shape` (through the dropout mask and the flatten).
#[derive(Clone, Debug, PartialEq)]
pub struct HeadGrads {
    pub w: Array2<f32>,
    pub b: Array1<f32>,
    pub x: Option<Array4<f32>>,
}

/// The head's backward pass for the logits' gradient `dlogits`, from the features [`head_forward`] returned.
pub fn head_backward(
    lin: &Linear,
    feats: ArrayView2<f32>,
    mask: Option<ArrayView2<f32>>,
    dlogits: ArrayView2<f32>,
    shape: (usize, usize, usize, usize),
    want_dx: bool,
) -> HeadGrads {
    let g = lin.backward(feats, dlogits, want_dx);
    let x = g.x.map(|mut dx| {
        if let Some(m) = mask {
            dx *= &m;
        }
        dx.into_shape_with_order(shape)
            .expect("the features are the flattened input")
    });
    HeadGrads { w: g.w, b: g.b, x }
}
