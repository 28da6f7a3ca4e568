//! Convolutions by direct nested loops over their definition (in f64), the oracle of the Hebbian convolution
//! kernels natively and in the browser.
use hebbian_playground::kernels::hebbconv::ConvShape;
use ndarray::{Array4, ArrayView4};

/// PyTorch's reflect padding: index i of the padded axis (i may be negative) in 0..n.
fn reflect(i: isize, n: usize) -> usize {
    let last = n as isize - 1;
    let j = i.abs();
    (if j > last { 2 * last - j } else { j }) as usize
}

fn patch_value(
    x: ArrayView4<f32>,
    s: &ConvShape,
    img: usize,
    ci: usize,
    y: usize,
    x0: usize,
) -> f32 {
    let iy = reflect(y as isize - s.pad as isize, s.h);
    let ix = reflect(x0 as isize - s.pad as isize, s.w);
    x[[img, ci, iy, ix]]
}

/// y[n, co, oy, ox] = Σ w[co, ci, ky, kx] · x_pad[n, ci, oy·s + ky, ox·s + kx], in f64.
pub fn forward_loops(x: ArrayView4<f32>, w: ArrayView4<f32>, s: &ConvShape) -> Array4<f32> {
    Array4::from_shape_fn((s.n, s.c_out, s.ho(), s.wo()), |(img, co, oy, ox)| {
        let mut sum = 0f64;
        for ci in 0..s.c_in {
            for ky in 0..s.k {
                for kx in 0..s.k {
                    let v = patch_value(x, s, img, ci, oy * s.stride + ky, ox * s.stride + kx);
                    sum += f64::from(w[[co, ci, ky, kx]]) * f64::from(v);
                }
            }
        }
        sum as f32
    })
}

/// c[co, ci, ky, kx] = Σ_{n, oy, ox} r[n, co, oy, ox] · x_pad[n, ci, oy·s + ky, ox·s + kx], in f64.
pub fn correlate_loops(x: ArrayView4<f32>, r: ArrayView4<f32>, s: &ConvShape) -> Array4<f32> {
    Array4::from_shape_fn((s.c_out, s.c_in, s.k, s.k), |(co, ci, ky, kx)| {
        let mut sum = 0f64;
        for img in 0..s.n {
            for oy in 0..s.ho() {
                for ox in 0..s.wo() {
                    let v = patch_value(x, s, img, ci, oy * s.stride + ky, ox * s.stride + kx);
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
