//! CPU speed of the Hebbian convolution against this machine's sgemm (matrixmultiply through ndarray, one thread):
//! GFLOP/s of `conv::forward`, `conv::correlate` (also the weight gradient of backprop) and the input gradient
//! `backward::conv_input_grad_padded` on the layer shapes of architecture A (batch 64), images per second of the
//! unsupervised step on reduced presets, and of the backprop baseline's training step (H). Not a test: run it with
//! `cargo run --release --example hebbconv_bench`.
use hebbian_playground::nets::hebbconv::backward;
use hebbian_playground::nets::hebbconv::baseline::Baseline;
use hebbian_playground::nets::hebbconv::conv::{self, ConvSpec};
use hebbian_playground::nets::hebbconv::presets::{Arch, Preset};
use hebbian_playground::nets::hebbconv::{HebbConfig, Network};
use hebbian_playground::plasticity::competition::Competition;
use ndarray::{Array2, Array4};
use std::time::Instant;

fn fill(shape: (usize, usize, usize, usize), k: f32) -> Array4<f32> {
    let mut i = 0u32;
    Array4::from_shape_simple_fn(shape, || {
        i = i.wrapping_add(1);
        ((i as f32) * k).sin()
    })
}

/// Best of `reps` timings of `f`, in seconds.
fn best(reps: usize, mut f: impl FnMut()) -> f64 {
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    // The yardstick: sgemm on a square product and on the conv2 GEMM shape.
    for (m, k, n) in [(1024, 1024, 1024), (384, 864, 4096), (1536, 3456, 1024)] {
        let a = Array2::<f32>::from_shape_fn((m, k), |(i, j)| ((i * 7 + j) as f32).sin());
        let b = Array2::<f32>::from_shape_fn((k, n), |(i, j)| ((i + 3 * j) as f32).cos());
        let t = best(3, || {
            std::hint::black_box(a.dot(&b));
        });
        println!(
            "sgemm {m}×{k}·{k}×{n}: {:.1} GFLOP/s",
            2.0 * (m * k * n) as f64 / t / 1e9
        );
    }
    // Architecture A's three convolutions, batch 64.
    let layers = [
        (
            "A conv1 3→96 k5 p2 32²",
            ConvSpec::new(3, 96, 5, 2),
            (64, 3, 32, 32),
        ),
        (
            "A conv2 96→384 k3 p1 16²",
            ConvSpec::new(96, 384, 3, 1),
            (64, 96, 16, 16),
        ),
        (
            "A conv3 384→1536 k3 p1 8²",
            ConvSpec::new(384, 1536, 3, 1),
            (64, 384, 8, 8),
        ),
        (
            "E dw 384 k3 p1 8²",
            ConvSpec::depthwise(384, 3, 1),
            (64, 384, 8, 8),
        ),
    ];
    for (name, spec, xs) in layers {
        let x = fill(xs, 0.37);
        let [a, b, c, d] = spec.weight_shape();
        let w = fill((a, b, c, d), 0.91);
        let y = conv::forward(x.view(), w.view(), &spec);
        let flop = 2.0 * y.len() as f64 * spec.fan_in() as f64;
        let tf = best(3, || {
            std::hint::black_box(conv::forward(x.view(), w.view(), &spec));
        });
        let tc = best(3, || {
            std::hint::black_box(conv::correlate(x.view(), y.view(), &spec));
        });
        let (hp, wp) = (xs.2 + 2 * spec.pad, xs.3 + 2 * spec.pad);
        let td = best(3, || {
            std::hint::black_box(backward::conv_input_grad_padded(
                w.view(),
                y.view(),
                &spec,
                hp,
                wp,
            ));
        });
        println!(
            "{name}: forward {:.1} GFLOP/s ({:.0} ms), correlate {:.1} GFLOP/s ({:.0} ms), input gradient {:.1} GFLOP/s ({:.0} ms)",
            flop / tf / 1e9,
            tf * 1e3,
            flop / tc / 1e9,
            tc * 1e3,
            flop / td / 1e9,
            td * 1e3
        );
    }
    // The whole unsupervised step (forward + every layer's update), batch 64.
    for (arch, div, input) in [
        (Arch::A, 4, [3, 32, 32]),
        (Arch::A, 4, [1, 28, 28]),
        (Arch::A, 1, [3, 32, 32]),
    ] {
        let preset = Preset::new(arch, input, div, 10).expect("preset");
        for mode in [Competition::HardWta, Competition::SoftWta] {
            let mut net = Network::new(preset.clone(), HebbConfig::thesis(mode), 0);
            let x = fill((64, input[0], input[1], input[2]), 0.13);
            let reps = if div == 1 { 1 } else { 3 };
            let t = best(reps, || net.unsupervised_step(x.view()).expect("step"));
            let tf = best(reps, || {
                std::hint::black_box(net.features(x.view()).expect("features"));
            });
            println!(
                "{arch:?}/{div} on {input:?}, {mode:?}: unsupervised step {:.0} images/s, features {:.0} images/s",
                64.0 / t,
                64.0 / tf
            );
        }
    }
    // The backprop baseline's training step (forward, backward, Adam), batch 64.
    for (div, input) in [(4, [3, 32, 32]), (16, [1, 28, 28]), (1, [3, 32, 32])] {
        let mut net = Baseline::new(input, div, 10, 0).expect("H");
        let x = fill((64, input[0], input[1], input[2]), 0.13);
        let labels: Vec<u8> = (0..64).map(|i| (i % 10) as u8).collect();
        let reps = if div == 1 { 1 } else { 3 };
        let t = best(reps, || {
            net.train_step(x.view(), &labels).expect("step");
        });
        println!(
            "H/{div} on {input:?}: backprop training step {:.0} images/s",
            64.0 / t
        );
    }
}
