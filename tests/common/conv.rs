//! Convolutions by direct nested loops over their definition (in f64), the oracle of the Hebbian convolution
//! kernels natively and in the browser.
use hebbian_playground::kernels::hebbconv::ConvShape;
use hebbian_playground::nets::hebbconv::conv::ConvSpec;
use ndarray::{Array4, ArrayView4};

/// The CPU's description of a GPU convolution shape (stride and padding kept; never depthwise).
pub fn spec_of(s: &ConvShape) -> ConvSpec {
    ConvSpec {
        stride: s.stride,
        ..ConvSpec::new(s.c_in, s.c_out, s.k, s.pad)
    }
}

/// PyTorch's reflect padding, written out separately from the library's: index i of the padded axis (i may be
/// negative) in 0..n.
fn reflect(i: isize, n: usize) -> usize {
    let last = n as isize - 1;
    let j = i.abs();
    (if j > last { 2 * last - j } else { j }) as usize
}

/// The padded input's value at (img, c, y, x) in padded coordinates.
fn padded(x: ArrayView4<f32>, img: usize, c: usize, y: usize, x0: usize, pad: usize) -> f32 {
    let (_, _, h, w) = x.dim();
    x[[
        img,
        c,
        reflect(y as isize - pad as isize, h),
        reflect(x0 as isize - pad as isize, w),
    ]]
}

/// y[n, co, oy, ox] = Σ w[co, ci, ky, kx] · x_pad[n, ci, oy·s + ky, ox·s + kx] (depthwise: ci = co), in f64.
pub fn forward_loops(x: ArrayView4<f32>, w: ArrayView4<f32>, s: &ConvSpec) -> Array4<f32> {
    let (n, _, h, wd) = x.dim();
    let ho = (h + 2 * s.pad - s.k) / s.stride + 1;
    let wo = (wd + 2 * s.pad - s.k) / s.stride + 1;
    Array4::from_shape_fn((n, s.c_out, ho, wo), |(img, co, oy, ox)| {
        let mut sum = 0f64;
        for ky in 0..s.k {
            for kx in 0..s.k {
                let (y, x0) = (oy * s.stride + ky, ox * s.stride + kx);
                if s.depthwise {
                    sum +=
                        f64::from(w[[co, 0, ky, kx]]) * f64::from(padded(x, img, co, y, x0, s.pad));
                } else {
                    for ci in 0..s.c_in {
                        sum += f64::from(w[[co, ci, ky, kx]])
                            * f64::from(padded(x, img, ci, y, x0, s.pad));
                    }
                }
            }
        }
        sum as f32
    })
}

/// c[co, ci, ky, kx] = Σ_{n, oy, ox} r[n, co, oy, ox] · x_pad[n, ci, oy·s + ky, ox·s + kx] (depthwise: ci = co),
/// in f64.
pub fn correlate_loops(x: ArrayView4<f32>, r: ArrayView4<f32>, s: &ConvSpec) -> Array4<f32> {
    let (n, _, ho, wo) = r.dim();
    Array4::from_shape_fn(s.weight_shape(), |(co, ci, ky, kx)| {
        let ch = if s.depthwise { co } else { ci };
        let mut sum = 0f64;
        for img in 0..n {
            for oy in 0..ho {
                for ox in 0..wo {
                    let v = padded(x, img, ch, oy * s.stride + ky, ox * s.stride + kx, s.pad);
                    sum += f64::from(r[[img, co, oy, ox]]) * f64::from(v);
                }
            }
        }
        sum as f32
    })
}

/// Deterministic values in [−1, 1) without a generator (a fixed integer hash).
pub fn filled(dim: (usize, usize, usize, usize), salt: u32) -> Array4<f32> {
    let mut i = 0u32;
    Array4::from_shape_fn(dim, |_| {
        i = i.wrapping_add(1);
        let h = (i ^ salt)
            .wrapping_mul(0x9E37_79B9)
            .rotate_left(13)
            .wrapping_mul(0x85EB_CA6B);
        (h >> 8) as f32 / (1u32 << 23) as f32 - 1.0
    })
}
