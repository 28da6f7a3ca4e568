//! The convolution's reverse-mode kernels (kernels/hebbback.rs: hebbconv.wgsl's correlate and input_grad) on
//! lavapipe against their CPU twins (`backward::conv_backward`, itself checked against finite differences in tests/hebbconv_grad.rs), with zero and
//! reflect padding on awkward sizes: channels on both sides of the 64-wide tile, odd sides, stride 2 with rows
//! no window reaches, a batch of one, reflect padding up to the image's edge (an input pixel read from three
//! padded places per axis), a 1 × 1 layer, and a weight gradient whose reduction is split across workgroups.
mod common;

use common::conv::{filled, spec_of};
use hebbian_playground::kernels::hebbback::{input_grad_gpu, weight_grad_gpu};
use hebbian_playground::kernels::hebbconv::ConvShape;
use hebbian_playground::nets::hebbconv::backward;
use hebbian_playground::nets::hebbconv::presets::Padding;
use ndarray::Array4;

/// |cpu − gpu| ≤ 1e-5·(1 + max|cpu|) everywhere: both sides add the same terms in different orders (a GEMM then
/// col2im and the padding's fold on the CPU, one gather per entry on the GPU), so rounding follows the size of
/// the partial sums, which the largest entry measures, not the size of each result (a border pixel of a
/// reflect-padded input sums up to nine copies of its terms, mostly cancelling).
fn assert_close_to_scale(cpu: &Array4<f32>, gpu: &Array4<f32>, what: &str) {
    assert_eq!(cpu.dim(), gpu.dim(), "{what}");
    let scale = cpu.iter().fold(0f32, |m, v| m.max(v.abs()));
    for (i, (a, b)) in cpu.iter().zip(gpu).enumerate() {
        assert!(
            (a - b).abs() <= 1e-5 * (1.0 + scale),
            "{what}, element {i}: cpu {a} gpu {b} (largest {scale})"
        );
    }
}

const SHAPES: [ConvShape; 6] = [
    // The thesis's first layer on odd sides: 3 channels, 5 × 5 filters, padding 2, 70 filters (two tiles).
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
    // A batch of one, stride 2, no padding: the last row and column are in no window.
    ConvShape {
        n: 1,
        c_in: 5,
        h: 8,
        w: 8,
        c_out: 6,
        k: 3,
        stride: 2,
        pad: 0,
    },
    // 67 input channels (two row tiles of the input gradient), padding 1.
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
    // Padding at its largest (pad = H − 1): with reflect padding the middle row is read three times.
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
    // Stride 2 with padding, k 5, odd sides.
    ConvShape {
        n: 2,
        c_in: 5,
        h: 9,
        w: 7,
        c_out: 3,
        k: 5,
        stride: 2,
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
fn gradients_are_the_cpu_twins_on_awkward_sizes() {
    let Some(gpu) = common::gpu() else { return };
    for (i, s) in SHAPES.iter().enumerate() {
        for padding in [Padding::Zero, Padding::Reflect] {
            let what = format!("{s:?} {padding:?}");
            let spec = spec_of(s);
            let x = filled((s.n, s.c_in, s.h, s.w), 1 + i as u32);
            let w = filled((s.c_out, s.c_in, s.k, s.k), 100 + i as u32);
            let dy = filled((s.n, s.c_out, s.ho(), s.wo()), 300 + i as u32);
            let cpu = backward::conv_backward(x.view(), w.view(), dy.view(), &spec, padding, true);
            let dx = pollster::block_on(input_grad_gpu(
                &gpu,
                x.dim(),
                w.view(),
                dy.view(),
                s.stride,
                s.pad,
                padding,
            ))
            .expect("input gradient on the GPU");
            let want = cpu.x.expect("asked for dx");
            assert_close_to_scale(&want, &dx, &format!("input gradient {what}"));
            let dw = pollster::block_on(weight_grad_gpu(
                &gpu,
                x.view(),
                dy.view(),
                s.k,
                s.stride,
                s.pad,
                padding,
            ))
            .expect("weight gradient on the GPU");
            assert_close_to_scale(&cpu.w, &dw, &format!("weight gradient {what}"));
        }
    }
}

/// A weight gradient over many positions (64 images of 16 × 16: 16,384), split across workgroups, with zero
/// padding (the baseline's first layer on CIFAR-sized inputs, narrower).
#[test]
fn a_split_weight_gradient_adds_up() {
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
    let dy = filled((s.n, s.c_out, s.ho(), s.wo()), 12);
    let w = filled((s.c_out, s.c_in, s.k, s.k), 13);
    let cpu = backward::conv_backward(
        x.view(),
        w.view(),
        dy.view(),
        &spec_of(&s),
        Padding::Zero,
        false,
    );
    let got = pollster::block_on(weight_grad_gpu(
        &gpu,
        x.view(),
        dy.view(),
        s.k,
        s.stride,
        s.pad,
        Padding::Zero,
    ))
    .expect("weight gradient on the GPU");
    // 16,384 terms of magnitude ≤ 1 summed in f32 in two different orders: a few units in the 5th digit of
    // the sums' scale.
    let scale = cpu.w.iter().fold(0f32, |m, v| m.max(v.abs()));
    for (a, b) in cpu.w.iter().zip(&got) {
        assert!((a - b).abs() <= 2e-4 * scale.max(1.0), "cpu {a} gpu {b}");
    }
}

#[test]
fn mismatched_tensors_are_refused() {
    let Some(gpu) = common::gpu() else { return };
    let s = SHAPES[1];
    let w = filled((s.c_out, s.c_in, s.k, s.k), 1);
    let dy = filled((s.n, s.c_out, s.ho() + 1, s.wo()), 2);
    let x = filled((s.n, s.c_in, s.h, s.w), 3);
    let dims = (s.n, s.c_in, s.h, s.w);
    for padding in [Padding::Zero, Padding::Reflect] {
        assert!(
            pollster::block_on(input_grad_gpu(
                &gpu,
                dims,
                w.view(),
                dy.view(),
                s.stride,
                s.pad,
                padding
            ))
            .is_err()
        );
        assert!(
            pollster::block_on(weight_grad_gpu(
                &gpu,
                x.view(),
                dy.view(),
                s.k,
                s.stride,
                s.pad,
                padding
            ))
            .is_err()
        );
    }
    let dy = filled((s.n, s.c_out, s.ho(), s.wo()), 2);
    let narrow = filled((s.c_out, s.c_in - 1, s.k, s.k), 1);
    assert!(
        pollster::block_on(input_grad_gpu(
            &gpu,
            dims,
            narrow.view(),
            dy.view(),
            s.stride,
            s.pad,
            Padding::Zero
        ))
        .is_err()
    );
}

/// The reverse mode of the layers around the convolutions (kernels/hebblayers.wgsl) against
/// `nets::hebbconv::backward`: BatchNorm in training (through the batch's statistics) and evaluation, ReLU
/// (inputs exactly 0 included), Triangle of powers 0.7, 1 and 1.4, and the thesis's pools (4/2/1 max, 2/2/0
/// average) and a 3/2/1 max pool with ties, on odd sides, a batch of one and 67 channels.
#[test]
fn layer_gradients_are_the_cpu_twins() {
    use hebbian_playground::kernels::hebblayers::{
        PoolKind, batch_norm_backward_gpu, pool_backward_gpu, relu_backward_gpu,
        triangle_backward_gpu,
    };
    use hebbian_playground::nets::hebbconv::layers::{self, BatchNorm};
    use pollster::block_on;
    let Some(gpu) = common::gpu() else { return };
    for (i, dim) in [(3, 5, 9, 7), (1, 67, 4, 5), (2, 3, 11, 8)]
        .into_iter()
        .enumerate()
    {
        let salt = 90 + 4 * i as u32;
        let x = filled(dim, salt).mapv(|v| 2.0 * v + 0.3);
        let dy = filled(dim, salt + 1);
        let what = format!("{dim:?}");
        let mut bn = BatchNorm::new(dim.1);
        bn.running_var.mapv_inplace(|_| 1.7);
        for train in [true, false] {
            let got = block_on(batch_norm_backward_gpu(
                &gpu,
                &bn,
                x.view(),
                dy.view(),
                train,
            ))
            .expect("gpu");
            let want = backward::batch_norm_backward(&bn, x.view(), dy.view(), train);
            assert_close_to_scale(&want, &got, &format!("BatchNorm, train {train}, {what}"));
        }
        // A quarter of the inputs exactly 0: ReLU passes no gradient there.
        let xr = x.mapv(|v| if v.abs() < 0.5 { 0.0 } else { v });
        let got = block_on(relu_backward_gpu(&gpu, xr.view(), dy.view())).expect("gpu");
        assert_close_to_scale(
            &backward::relu_backward(xr.view(), dy.view()),
            &got,
            &format!("ReLU {what}"),
        );
        for power in [0.7, 1.0, 1.4] {
            let got =
                block_on(triangle_backward_gpu(&gpu, x.view(), dy.view(), power)).expect("gpu");
            let want = backward::triangle_backward(x.view(), dy.view(), power);
            assert_close_to_scale(&want, &got, &format!("Triangle {power}, {what}"));
        }
        // Ties: values rounded to a coarse grid, so windows hold equal maxima.
        let tied = x.mapv(|v| (v * 2.0).round());
        for (kind, k, stride, pad) in [
            (PoolKind::Max, 4, 2, 1),
            (PoolKind::Avg, 2, 2, 0),
            (PoolKind::Max, 3, 2, 1),
        ] {
            let (_, _, h, w) = dim;
            let out = if kind == PoolKind::Max {
                layers::max_pool(tied.view(), k, stride, pad)
            } else {
                layers::avg_pool(tied.view(), k, stride, pad)
            };
            let g = filled(out.dim(), salt + 2);
            let got = block_on(pool_backward_gpu(
                &gpu,
                tied.view(),
                g.view(),
                kind,
                k,
                stride,
                pad,
            ))
            .expect("gpu");
            let want = if kind == PoolKind::Max {
                backward::max_pool_backward(tied.view(), g.view(), k, stride, pad)
            } else {
                backward::avg_pool_backward(g.view(), h, w, k, stride, pad)
            };
            assert_close_to_scale(
                &want,
                &got,
                &format!("{kind:?} pool {k}/{stride}/{pad}, {what}"),
            );
        }
    }
}
