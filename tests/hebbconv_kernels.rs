//! The Hebbian convolution kernels (kernels/hebbconv.wgsl) on lavapipe against direct nested loops over the
//! definition, on awkward sizes: channels on both sides of the 64-wide tile, odd image sides, stride 2, a batch of
//! one, reflect padding up to the image's edge, and a correlation whose reduction is split across workgroups.
mod common;

use common::compare::assert_close;
use common::conv::{correlate_loops, filled, forward_loops, spec_of};
use hebbian_playground::kernels::hebbconv::{ConvShape, correlate_gpu, forward_gpu};

const SHAPES: [ConvShape; 5] = [
    // A first layer: 3 channels, 5 × 5 filters, padding 2 (the thesis's conv1), odd sides, 70 filters (two tiles).
    ConvShape {
        n: 3,
        c_in: 3,
        h: 9,
        w: 11,
        c_out: 70,
        k: 5,
        stride: 1,
        pad: 2,
    },
    // A batch of one, stride 2, no padding.
    ConvShape {
        n: 1,
        c_in: 5,
        h: 7,
        w: 8,
        c_out: 6,
        k: 3,
        stride: 2,
        pad: 0,
    },
    // Filters longer than a tile (67 · 9 = 603 entries), padding 1.
    ConvShape {
        n: 2,
        c_in: 67,
        h: 5,
        w: 6,
        c_out: 9,
        k: 3,
        stride: 1,
        pad: 1,
    },
    // Reflect padding at its largest (pad = H − 1) and a 1 × 1 layer.
    ConvShape {
        n: 2,
        c_in: 4,
        h: 3,
        w: 4,
        c_out: 3,
        k: 3,
        stride: 1,
        pad: 2,
    },
    ConvShape {
        n: 4,
        c_in: 13,
        h: 6,
        w: 5,
        c_out: 17,
        k: 1,
        stride: 1,
        pad: 0,
    },
];

#[test]
fn the_forward_pass_is_the_convolution_on_awkward_sizes() {
    let Some(gpu) = common::gpu() else { return };
    for (i, s) in SHAPES.iter().enumerate() {
        let x = filled((s.n, s.c_in, s.h, s.w), 1 + i as u32);
        let w = filled((s.c_out, s.c_in, s.k, s.k), 100 + i as u32);
        let want = forward_loops(x.view(), w.view(), &spec_of(s));
        let got = pollster::block_on(forward_gpu(&gpu, x.view(), w.view(), s.stride, s.pad))
            .expect("forward on the GPU");
        assert_eq!(got.dim(), want.dim(), "{s:?}");
        assert_close(&want, &got, 1e-5, &format!("forward {s:?}"));
    }
}

#[test]
fn the_correlation_is_the_hebbian_yx_term_on_awkward_sizes() {
    let Some(gpu) = common::gpu() else { return };
    for (i, s) in SHAPES.iter().enumerate() {
        let x = filled((s.n, s.c_in, s.h, s.w), 7 + i as u32);
        let r = filled((s.n, s.c_out, s.ho(), s.wo()), 300 + i as u32);
        let want = correlate_loops(x.view(), r.view(), &spec_of(s));
        let got = pollster::block_on(correlate_gpu(
            &gpu,
            x.view(),
            r.view(),
            s.k,
            s.stride,
            s.pad,
        ))
        .expect("correlation on the GPU");
        assert_eq!(got.dim(), want.dim(), "{s:?}");
        assert_close(&want, &got, 1e-5, &format!("correlation {s:?}"));
    }
}

/// A reduction over many positions, split across workgroups (64 images of 16 × 16: 16,384 positions).
#[test]
fn a_split_correlation_adds_up() {
    let Some(gpu) = common::gpu() else { return };
    let s = ConvShape {
        n: 64,
        c_in: 3,
        h: 16,
        w: 16,
        c_out: 8,
        k: 5,
        stride: 1,
        pad: 2,
    };
    let x = filled((s.n, s.c_in, s.h, s.w), 11);
    let r = filled((s.n, s.c_out, s.ho(), s.wo()), 12);
    let want = correlate_loops(x.view(), r.view(), &spec_of(&s));
    let got = pollster::block_on(correlate_gpu(
        &gpu,
        x.view(),
        r.view(),
        s.k,
        s.stride,
        s.pad,
    ))
    .expect("correlation on the GPU");
    // 16,384 terms of magnitude ≤ 1 summed in f32: a few units in the 5th digit of the sums' scale.
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    for (a, b) in want.iter().zip(&got) {
        assert!(
            (a - b).abs() <= 2e-5 * scale.max(1.0) * 10.0,
            "cpu {a} gpu {b}"
        );
    }
}

#[test]
fn shapes_the_kernels_do_not_define_are_refused() {
    let ok = SHAPES[0];
    assert!(ok.check().is_ok());
    for bad in [
        ConvShape { pad: 9, ..ok },
        ConvShape { k: 14, ..ok },
        ConvShape { stride: 0, ..ok },
        ConvShape { n: 0, ..ok },
    ] {
        assert!(bad.check().is_err(), "{bad:?}");
    }
}
