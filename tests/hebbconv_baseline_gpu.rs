//! The backprop baseline on the GPU against its CPU twin on lavapipe: the head's kernels (dropout, linear,
//! softmax cross-entropy and their reverse mode) and Adam on odd sizes, then architecture H trained end to end
//! (nets::hebbconv::baseline_gpu::GpuBaseline against nets::hebbconv::baseline::Baseline): losses, gradients,
//! weights, BatchNorm statistics and Adam's state after a few steps, and evaluation on a short last batch.
mod common;

use common::compare::assert_close;
use common::conv::filled;
use hebbian_playground::kernels::backprop::{HeadMode, adam_gpu, head_gpu};
use hebbian_playground::nets::hebbconv::backward::{self, DROPOUT};
use hebbian_playground::nets::hebbconv::baseline::{Baseline, Layer};
use hebbian_playground::nets::hebbconv::baseline_gpu::GpuBaseline;
use hebbian_playground::nets::linear::{self, Linear};
use hebbian_playground::nets::optim::Adam;
use ndarray::Array4;
use pollster::block_on;

/// |cpu − gpu| ≤ rel·(1 + max|cpu|): for sums whose terms cancel, rounding follows the partial sums' size.
fn assert_close_to_scale<'a>(
    cpu: impl IntoIterator<Item = &'a f32> + Clone,
    gpu: impl IntoIterator<Item = &'a f32>,
    rel: f32,
    what: &str,
) {
    let scale = cpu.clone().into_iter().fold(0f32, |m, v| m.max(v.abs()));
    let mut n = 0;
    for (i, (a, b)) in cpu.into_iter().zip(gpu).enumerate() {
        assert!(
            (a - b).abs() <= rel * (1.0 + scale),
            "{what}, element {i}: cpu {a} gpu {b} (largest {scale})"
        );
        n += 1;
    }
    assert!(n > 0, "{what}: nothing compared");
}

#[test]
fn head_matches_the_cpu_with_and_without_dropout() {
    let Some(gpu) = common::gpu() else { return };
    // The thesis's ten classes over 2,049 features for 65 images; features not a multiple of the 256-wide
    // workgroup with seven classes; a batch of one.
    for (n, f, classes) in [(65, 2049, 10), (5, 300, 7), (1, 37, 3)] {
        let lin = Linear::thesis(f, classes, 11);
        let x = filled((1, 1, n, f), 9)
            .into_shape_with_order((n, f))
            .unwrap();
        let labels: Vec<u8> = (0..n).map(|i| (i * 3 % classes) as u8).collect();
        for (mode, mask) in [
            (HeadMode::Eval, None),
            (
                HeadMode::Train {
                    seed: 4,
                    batch: 6,
                    p: DROPOUT,
                },
                Some(backward::dropout_mask(n, f, DROPOUT, 4, 6)),
            ),
        ] {
            let what = format!("{n}×{f}→{classes} {mode:?}");
            let x4 = x.clone().into_shape_with_order((n, f, 1, 1)).unwrap();
            let (feats, logits) =
                backward::head_forward(&lin, x4.view(), mask.as_ref().map(|m| m.view()));
            let (loss, dlogits) = linear::softmax_cross_entropy(logits.view(), &labels);
            let want = backward::head_backward(
                &lin,
                feats.view(),
                mask.as_ref().map(|m| m.view()),
                dlogits.view(),
                (n, f, 1, 1),
                true,
            );
            let got = block_on(head_gpu(&gpu, &lin, x.view(), &labels, mode)).expect("gpu");
            assert_close(&logits, &got.logits, 1e-5, &format!("{what}: logits"));
            assert!(
                (loss - got.loss).abs() <= 1e-5 * (1.0 + loss),
                "{what}: loss {loss} vs {}",
                got.loss
            );
            assert_close_to_scale(&want.w, &got.dw, 1e-5, &format!("{what}: dw"));
            assert_close_to_scale(&want.b, &got.db, 1e-5, &format!("{what}: db"));
            let dx = want.x.expect("asked for");
            assert_close_to_scale(&dx, &got.dx, 1e-5, &format!("{what}: dx"));
            if mask.is_some() {
                // The mask drops about half of the features, the same ones on both sides.
                let dropped = got.dx.iter().filter(|v| **v == 0.0).count();
                assert_eq!(dropped, dx.iter().filter(|v| **v == 0.0).count(), "{what}");
                assert!(
                    dropped > n * f / 4,
                    "{what}: {dropped} of {} dropped",
                    n * f
                );
            }
        }
    }
}

#[test]
fn adam_matches_the_cpu_over_several_steps() {
    let Some(gpu) = common::gpu() else { return };
    // Two tensors, one of a single value; gradients of mixed signs and magnitudes, one exactly zero.
    let mut params = vec![
        filled((1, 1, 1, 515), 3).into_raw_vec_and_offset().0,
        vec![0.5],
    ];
    let mut cpu = Adam::new(1e-2, &[515, 1]);
    let mut gpu_adam = cpu.clone();
    let mut on_gpu = params.clone();
    for step in 0..3u32 {
        let mut grads = vec![
            filled((1, 1, 1, 515), 20 + step)
                .mapv(|v| v * 10f32.powi((v * 4.0) as i32))
                .into_raw_vec_and_offset()
                .0,
            vec![0.0],
        ];
        grads[0][7] = 0.0;
        {
            let mut views: Vec<&mut [f32]> = params.iter_mut().map(|p| p.as_mut_slice()).collect();
            let g: Vec<&[f32]> = grads.iter().map(|g| g.as_slice()).collect();
            cpu.step(&mut views, &g);
        }
        on_gpu = block_on(adam_gpu(&gpu, &mut gpu_adam, &on_gpu, &grads)).expect("gpu");
        for (i, (p, q)) in params.iter().zip(&on_gpu).enumerate() {
            assert_close(p, q, 1e-6, &format!("step {step}, tensor {i}"));
        }
        assert_eq!(gpu_adam.steps(), cpu.steps());
        for (i, ((m, v), (gm, gv))) in cpu.moments().iter().zip(gpu_adam.moments()).enumerate() {
            assert_close(m, gm, 1e-6, &format!("step {step}, first moment {i}"));
            assert_close(v, gv, 1e-6, &format!("step {step}, second moment {i}"));
        }
    }
}

/// Images and labels of batch `b` for H/16 on 13 × 11 colour images.
fn batch(n: usize, b: u32) -> (Array4<f32>, Vec<u8>) {
    (
        filled((n, 3, 13, 11), 100 + b),
        (0..n).map(|i| ((i as u32 * 7 + b) % 10) as u8).collect(),
    )
}

#[test]
fn the_baseline_trains_on_the_gpu_as_on_the_cpu() {
    let Some(gpu) = common::gpu() else { return };
    // Odd sides (13 × 11), a batch of five: every layer of H (zero-padded convolutions, BatchNorm, ReLU, max
    // and average pools, the head) at a size no tile divides.
    let n = 5;
    let mut cpu = Baseline::new([3, 13, 11], 16, 10, 3).expect("H/16");
    let mut on_gpu = block_on(GpuBaseline::new(&gpu, &cpu, n)).expect("upload");
    for step in 0..3 {
        let (x, labels) = batch(n, step);
        // The gradients the step applies, from a copy (computing them moves BatchNorm's statistics).
        let (_, grads) = cpu
            .clone()
            .gradients(x.view(), &labels, true, false)
            .expect("gradients");
        let want = cpu.train_step(x.view(), &labels).expect("cpu step");
        let got = block_on(on_gpu.train_step(&gpu, x.view(), &labels)).expect("gpu step");
        assert!(
            (want - got).abs() <= 1e-4 * (1.0 + want),
            "step {step}: loss {want} on the CPU, {got} on the GPU"
        );
        let mut back = cpu.clone();
        block_on(on_gpu.download(&gpu, &mut back)).expect("download");
        assert_eq!(back.steps(), cpu.steps());
        if step == 0 {
            // After one step Adam's first moment is (1 − β1)·g: the GPU's gradients, exactly scaled.
            let flat = grads.flat();
            for (i, (g, (m, _))) in flat.iter().zip(back.adam().moments()).enumerate() {
                let from_gpu: Vec<f32> = m.iter().map(|v| v / 0.1).collect();
                assert_close_to_scale(*g, &from_gpu, 1e-4, &format!("gradient of tensor {i}"));
            }
        }
        // Adam moves each parameter by about lr·sign(m): only where a gradient is nearly zero can rounding
        // flip the sign, so compare where the first moment is well above rounding.
        let moments = cpu.adam().moments().to_vec();
        for (i, ((p, q), (m, _))) in cpu
            .params_mut()
            .iter()
            .zip(back.params_mut())
            .zip(&moments)
            .enumerate()
        {
            let scale = m.iter().fold(0f32, |a, v| a.max(v.abs()));
            for (j, ((a, b), mv)) in p.iter().zip(q.iter()).zip(m).enumerate() {
                if mv.abs() > 1e-3 * scale {
                    assert!(
                        (a - b).abs() <= 1e-4,
                        "step {step}, tensor {i}[{j}]: cpu {a} gpu {b}"
                    );
                }
            }
        }
        for (a, b) in cpu.layers().iter().zip(back.layers()) {
            if let (Layer::BatchNorm(a), Layer::BatchNorm(b)) = (a, b) {
                assert_close(&a.running_mean, &b.running_mean, 1e-4, "running mean");
                assert_close(&a.running_var, &b.running_var, 1e-4, "running variance");
            }
        }
    }
    // Evaluation of seven images: a whole batch of five, then a short one of two.
    let (x, labels) = batch(7, 9);
    let want = cpu.logits(x.view()).expect("cpu");
    let got = block_on(on_gpu.logits(&gpu, x.view())).expect("gpu");
    // The weights differ where Adam's sign flipped on a vanishing gradient; the logits barely.
    assert_close_to_scale(&want, &got, 1e-2, "logits");
    let e = block_on(on_gpu.evaluate(&gpu, x.view(), &labels)).expect("gpu");
    assert_eq!(e, Baseline::score(got.view(), &labels));
    // A batch of another size is refused with the reason, and the run goes on.
    let (x4, l4) = batch(4, 1);
    let err = block_on(on_gpu.train_step(&gpu, x4.view(), &l4)).expect_err("wrong batch");
    assert!(err.to_string().contains("batches of 5"), "{err}");
    let (x, mut labels) = batch(n, 5);
    labels[0] = 10;
    assert!(block_on(on_gpu.train_step(&gpu, x.view(), &labels)).is_err());
    assert_eq!(on_gpu.steps(), 3);
}
