//! In-browser tests (wasm-bindgen-test in headless Chromium, WebGPU on SwiftShader): every kernel against
//! its CPU twin on the browser's WebGPU, and the CPU path's bits equal to the native ones.
#![cfg(target_arch = "wasm32")]

#[allow(dead_code)] // assert_within serves the native twins
#[path = "common/compare.rs"]
mod compare;
#[path = "common/conv.rs"]
mod conv;
#[path = "common/golden.rs"]
mod golden;

use compare::assert_close;
use hebbian_playground::engine::{BackendChoice, Engine, Gpu};
use hebbian_playground::kernels::random;
use hebbian_playground::kernels::trajectories::{self, Dist, Job, Traj};
use hebbian_playground::labs::budget::Chunk;
use hebbian_playground::labs::{self, Run};
use hebbian_playground::plasticity::Rule;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

async fn gpu() -> Gpu {
    Gpu::new()
        .await
        .expect("the test browser must offer WebGPU (see webdriver.json)")
}

/// The reverse mode of BatchNorm (training and evaluation), ReLU, Triangle and the pools against their CPU
/// twins (`nets::hebbconv::backward`) on the browser's WebGPU: odd sides, 67
/// channels, a window with ties, 2,049 features over two row tiles.
#[wasm_bindgen_test]
async fn layer_gradients_match_their_cpu_twins_on_webgpu() {
    use hebbian_playground::kernels::hebblayers::{
        PoolKind, batch_norm_backward_gpu, pool_backward_gpu, relu_backward_gpu,
        triangle_backward_gpu,
    };
    use hebbian_playground::nets::hebbconv::backward;
    use hebbian_playground::nets::hebbconv::layers::{self, BatchNorm};
    let gpu = gpu().await;
    let x = conv::filled((2, 67, 9, 7), 90).mapv(|v| (4.0 * v + 0.6).round() / 2.0);
    let dy = conv::filled((2, 67, 9, 7), 91);
    let mut bn = BatchNorm::new(67);
    bn.running_var.mapv_inplace(|_| 1.7);
    for train in [true, false] {
        let got = batch_norm_backward_gpu(&gpu, &bn, x.view(), dy.view(), train)
            .await
            .expect("gpu");
        let want = backward::batch_norm_backward(&bn, x.view(), dy.view(), train);
        assert_close(&want, &got, 1e-4, &format!("BatchNorm, train {train}"));
    }
    let got = relu_backward_gpu(&gpu, x.view(), dy.view())
        .await
        .expect("gpu");
    assert_close(
        &backward::relu_backward(x.view(), dy.view()),
        &got,
        1e-6,
        "ReLU",
    );
    let got = triangle_backward_gpu(&gpu, x.view(), dy.view(), 0.7)
        .await
        .expect("gpu");
    let want = backward::triangle_backward(x.view(), dy.view(), 0.7);
    assert_close(&want, &got, 1e-4, "Triangle 0.7");
    for (kind, k, stride, pad) in [(PoolKind::Max, 4, 2, 1), (PoolKind::Avg, 2, 2, 0)] {
        let out = if kind == PoolKind::Max {
            layers::max_pool(x.view(), k, stride, pad)
        } else {
            layers::avg_pool(x.view(), k, stride, pad)
        };
        let g = conv::filled(out.dim(), 92);
        let got = pool_backward_gpu(&gpu, x.view(), g.view(), kind, k, stride, pad)
            .await
            .expect("gpu");
        let want = if kind == PoolKind::Max {
            backward::max_pool_backward(x.view(), g.view(), k, stride, pad)
        } else {
            backward::avg_pool_backward(g.view(), 9, 7, k, stride, pad)
        };
        assert_close(&want, &got, 1e-5, &format!("{kind:?} pool"));
    }
}

/// The backprop baseline's head (dropout, linear, softmax cross-entropy, reverse mode) and Adam against their
/// CPU twins, then architecture H trained for two steps on the browser's WebGPU against the CPU: losses, and the
/// gradients the first step applied (Adam's first moment is 0.1·g after one step).
#[wasm_bindgen_test]
async fn the_backprop_baseline_matches_the_cpu_on_webgpu() {
    use hebbian_playground::kernels::backprop::{HeadMode, adam_gpu, head_gpu};
    use hebbian_playground::nets::hebbconv::backward::{self, DROPOUT};
    use hebbian_playground::nets::hebbconv::baseline::Baseline;
    use hebbian_playground::nets::hebbconv::baseline_gpu::GpuBaseline;
    use hebbian_playground::nets::linear::{self, Linear};
    use hebbian_playground::nets::optim::Adam;
    let gpu = gpu().await;
    let scaled = |want: &[f32], got: &[f32], what: &str| {
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert_close(want, got, 1e-5 * (1.0 + scale), what);
    };
    let (n, f) = (65, 2049);
    let lin = Linear::thesis(f, 10, 7);
    let x = conv::filled((n, f, 1, 1), 93);
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    let mask = backward::dropout_mask(n, f, DROPOUT, 2, 5);
    let (feats, logits) = backward::head_forward(&lin, x.view(), Some(mask.view()));
    let (loss, dl) = linear::softmax_cross_entropy(logits.view(), &labels);
    let want = backward::head_backward(
        &lin,
        feats.view(),
        Some(mask.view()),
        dl.view(),
        (n, f, 1, 1),
        true,
    );
    let x2 = x.into_shape_with_order((n, f)).expect("2-D");
    let mode = HeadMode::Train {
        seed: 2,
        batch: 5,
        p: DROPOUT,
    };
    let got = head_gpu(&gpu, &lin, x2.view(), &labels, mode)
        .await
        .expect("head");
    assert_close(&logits, &got.logits, 1e-5, "logits");
    assert!(
        (loss - got.loss).abs() < 1e-5 * (1.0 + loss),
        "loss {loss} vs {}",
        got.loss
    );
    scaled(want.w.as_slice().unwrap(), got.dw.as_slice().unwrap(), "dw");
    scaled(want.b.as_slice().unwrap(), got.db.as_slice().unwrap(), "db");
    let dx = want.x.expect("dx").into_raw_vec_and_offset().0;
    scaled(&dx, got.dx.as_slice().unwrap(), "dx");

    let mut cpu = Adam::new(1e-2, &[300]);
    let mut on_gpu = cpu.clone();
    let mut p = conv::filled((1, 1, 1, 300), 5).into_raw_vec_and_offset().0;
    let mut q = vec![p.clone()];
    for step in 0..2 {
        let g = conv::filled((1, 1, 1, 300), 6 + step)
            .into_raw_vec_and_offset()
            .0;
        cpu.step(&mut [&mut p], &[&g]);
        q = adam_gpu(&gpu, &mut on_gpu, &q, &[g]).await.expect("adam");
        assert_close(&p, &q[0], 1e-6, &format!("Adam step {step}"));
    }

    let mut net = Baseline::new([3, 13, 11], 16, 10, 3).expect("H/16");
    let mut on_gpu = GpuBaseline::new(&gpu, &net, 3).await.expect("upload");
    for step in 0..2u32 {
        let x = conv::filled((3, 3, 13, 11), 100 + step);
        let labels = [step as u8, 4, 9];
        let (_, grads) = net
            .clone()
            .gradients(x.view(), &labels, true, false)
            .expect("gradients");
        let want = net.train_step(x.view(), &labels).expect("cpu");
        let got = on_gpu
            .train_step(&gpu, x.view(), &labels)
            .await
            .expect("gpu");
        assert!(
            (want - got).abs() <= 1e-4 * (1.0 + want),
            "step {step}: loss {want} vs {got}"
        );
        if step == 0 {
            let mut back = net.clone();
            on_gpu.download(&gpu, &mut back).await.expect("download");
            for (i, (g, (m, _))) in grads.flat().iter().zip(back.adam().moments()).enumerate() {
                let from_gpu: Vec<f32> = m.iter().map(|v| v / 0.1).collect();
                let scale = g.iter().fold(0f32, |a, v| a.max(v.abs()));
                assert_close(
                    *g,
                    &from_gpu,
                    1e-4 * (1.0 + scale),
                    &format!("gradient {i}"),
                );
            }
        }
    }
}

/// The convolution's reverse-mode kernels against their CPU twin (`backward::conv_backward`, checked against
/// finite differences natively) on the browser's WebGPU: zero and reflect padding, a batch of one with stride 2,
/// and 67 input channels (two row tiles of the input gradient).
#[wasm_bindgen_test]
async fn convolution_gradients_match_their_cpu_twin_on_webgpu() {
    use hebbian_playground::kernels::hebbback::{input_grad_gpu, weight_grad_gpu};
    use hebbian_playground::kernels::hebbconv::ConvShape;
    use hebbian_playground::nets::hebbconv::backward;
    use hebbian_playground::nets::hebbconv::presets::Padding;
    let gpu = gpu().await;
    for s in [
        ConvShape {
            n: 1,
            c_in: 5,
            h: 8,
            w: 7,
            c_out: 6,
            k: 3,
            stride: 2,
            pad: 1,
        },
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
    ] {
        for padding in [Padding::Zero, Padding::Reflect] {
            let x = conv::filled((s.n, s.c_in, s.h, s.w), 31);
            let w = conv::filled((s.c_out, s.c_in, s.k, s.k), 32);
            let dy = conv::filled((s.n, s.c_out, s.ho(), s.wo()), 33);
            let cpu = backward::conv_backward(
                x.view(),
                w.view(),
                dy.view(),
                &conv::spec_of(&s),
                padding,
                true,
            );
            let dx = input_grad_gpu(&gpu, x.dim(), w.view(), dy.view(), s.stride, s.pad, padding)
                .await
                .expect("input gradient");
            // Both sides add the same terms in different orders: rounding follows the largest entry.
            let want = cpu.x.expect("dx");
            let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert_close(&want, &dx, 1e-5 * (1.0 + scale), "input gradient");
            let dw = weight_grad_gpu(&gpu, x.view(), dy.view(), s.k, s.stride, s.pad, padding)
                .await
                .expect("weight gradient");
            let scale = cpu.w.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert_close(&cpu.w, &dw, 1e-5 * (1.0 + scale), "weight gradient");
        }
    }
}

#[wasm_bindgen_test]
async fn hebbian_convolution_kernels_match_the_definition_on_webgpu() {
    use hebbian_playground::kernels::hebbconv::{ConvShape, correlate_gpu, forward_gpu};
    let gpu = gpu().await;
    // Odd sides, stride 2, a batch of one; and 70 filters of 67 channels (two tiles each way).
    for s in [
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
        ConvShape {
            n: 2,
            c_in: 67,
            h: 5,
            w: 6,
            c_out: 70,
            k: 3,
            stride: 1,
            pad: 1,
        },
    ] {
        let x = conv::filled((s.n, s.c_in, s.h, s.w), 1);
        let w = conv::filled((s.c_out, s.c_in, s.k, s.k), 2);
        let r = conv::filled((s.n, s.c_out, s.ho(), s.wo()), 3);
        let y = forward_gpu(&gpu, x.view(), w.view(), s.stride, s.pad)
            .await
            .expect("forward");
        assert_close(
            &conv::forward_loops(x.view(), w.view(), &conv::spec_of(&s)),
            &y,
            1e-5,
            "forward",
        );
        let c = correlate_gpu(&gpu, x.view(), r.view(), s.k, s.stride, s.pad)
            .await
            .expect("correlate");
        assert_close(
            &conv::correlate_loops(x.view(), r.view(), &conv::spec_of(&s)),
            &c,
            1e-5,
            "correlation",
        );
    }
}

/// The layers around the Hebbian convolution (kernels/hebblayers) and the depthwise layers
/// (kernels/hebbdepthwise) against their CPU twins on the browser's WebGPU, on odd sizes: BatchNorm in training
/// (running statistics included) and evaluation, Triangle, both pools, surround modulation, the cosine
/// activation with its normalised weights, and the depthwise forward pass and correlation.
#[wasm_bindgen_test]
async fn hebbian_layers_match_the_cpu_on_webgpu() {
    use hebbian_playground::kernels::hebbdepthwise::{
        depthwise_activate_gpu, depthwise_correlate_gpu,
    };
    use hebbian_playground::kernels::hebblayers::{
        PoolKind, activate_gpu, batch_norm_gpu, pool_gpu, surround_gpu, triangle_gpu,
    };
    use hebbian_playground::nets::hebbconv::conv::{
        self as cpu_conv, Activation, ConvSpec, Cosine,
    };
    use hebbian_playground::nets::hebbconv::layers::{self, BatchNorm};
    let gpu = gpu().await;
    let x = conv::filled((3, 5, 7, 9), 11).mapv(|v| 3.0 * v + 1.5);
    let mut cpu_bn = BatchNorm::new(5);
    let mut gpu_bn = cpu_bn.clone();
    for train in [true, false] {
        let want = cpu_bn.forward(x.view(), train);
        let got = batch_norm_gpu(&gpu, x.view(), &mut gpu_bn, train)
            .await
            .expect("BatchNorm");
        assert_close(&want, &got, 1e-4, &format!("BatchNorm, training {train}"));
        assert_close(
            &cpu_bn.running_var,
            &gpu_bn.running_var,
            1e-5,
            "running variance",
        );
    }
    let y = conv::filled((2, 70, 7, 5), 12);
    for power in [0.7, 1.4] {
        let got = triangle_gpu(&gpu, y.view(), power).await.expect("Triangle");
        assert_close(&layers::triangle(y.view(), power), &got, 1e-4, "Triangle");
    }
    for (k, stride, pad) in [(4, 2, 1), (2, 2, 0), (3, 2, 1)] {
        let got = pool_gpu(&gpu, y.view(), PoolKind::Max, k, stride, pad)
            .await
            .expect("max pool");
        assert_close(
            &layers::max_pool(y.view(), k, stride, pad),
            &got,
            1e-6,
            "max pool",
        );
        let got = pool_gpu(&gpu, y.view(), PoolKind::Avg, k, stride, pad)
            .await
            .expect("average pool");
        assert_close(
            &layers::avg_pool(y.view(), k, stride, pad),
            &got,
            1e-6,
            "average pool",
        );
    }
    let got = surround_gpu(&gpu, y.view()).await.expect("surround");
    assert_close(&layers::surround(y.view()), &got, 1e-5, "surround");
    let spec = ConvSpec::new(67, 70, 3, 1);
    let xc = conv::filled((1, 67, 5, 6), 13);
    let w = conv::filled((70, 67, 3, 3), 14);
    for mode in [Cosine::Filter, Cosine::PerPosition] {
        let act = Activation::Cosine(mode);
        let got = activate_gpu(&gpu, xc.view(), w.view(), 1, 1, act)
            .await
            .expect("cosine");
        assert_close(
            &cpu_conv::activate(xc.view(), w.view(), &spec, act),
            &got,
            1e-5,
            &format!("{act:?}"),
        );
    }
    // Depthwise: 70 channels of 7 × 5, stride 2, no padding.
    let dw = ConvSpec {
        stride: 2,
        ..ConvSpec::depthwise(70, 3, 0)
    };
    let wd = conv::filled((70, 1, 3, 3), 15);
    for act in [Activation::Linear, Activation::Cosine(Cosine::Filter)] {
        let got = depthwise_activate_gpu(&gpu, y.view(), wd.view(), 2, 0, act)
            .await
            .expect("depthwise");
        assert_close(
            &cpu_conv::activate(y.view(), wd.view(), &dw, act),
            &got,
            1e-5,
            &format!("depthwise {act:?}"),
        );
    }
    let r = conv::filled((2, 70, 3, 2), 16);
    let got = depthwise_correlate_gpu(&gpu, y.view(), r.view(), 3, 2, 0)
        .await
        .expect("depthwise correlation");
    assert_close(
        &conv::correlate_loops(y.view(), r.view(), &dw),
        &got,
        1e-5,
        "depthwise correlation",
    );
}

/// Reduced Hebbian networks (architecture C on 16×16 images) on the browser's WebGPU against the CPU network
/// in wasm, for hard-WTA with surround modulation, BCM, the temporal threshold (a window of 3 samples, passed by
/// the second batch), the statistical threshold and pre-synaptic competition (over the input channels of colour
/// images), and the residual architecture G: features, then weights and the competition's memory after two
/// unsupervised steps.
#[wasm_bindgen_test]
async fn hebbian_network_matches_the_cpu_on_webgpu() {
    use hebbian_playground::nets::hebbconv::gpu::GpuNetwork;
    use hebbian_playground::nets::hebbconv::presets::{Arch, Preset};
    use hebbian_playground::nets::hebbconv::{HebbConfig, Network, Node};
    use hebbian_playground::plasticity::competition::{Competition, PreDim, PreKind};
    let gpu = gpu().await;
    let mut temporal = HebbConfig::thesis(Competition::Temporal);
    temporal.competition.temporal_window = 3;
    let surround = HebbConfig {
        surround: true,
        ..HebbConfig::thesis(Competition::HardWta)
    };
    let configs = [
        (Arch::C, 1, surround),
        (Arch::C, 1, HebbConfig::thesis(Competition::Bcm)),
        (Arch::C, 1, temporal),
        (Arch::C, 1, HebbConfig::thesis(Competition::Statistical)),
        (
            Arch::C,
            3,
            HebbConfig {
                presynaptic: Some((PreKind::Softmax, PreDim::Input)),
                ..HebbConfig::thesis(Competition::HardWta)
            },
        ),
        (Arch::G, 1, surround),
    ];
    for (arch, channels, config) in configs {
        let what = format!(
            "{arch:?}, {:?}, {channels} channels",
            config.competition.mode
        );
        let preset = Preset::new(arch, [channels, 16, 16], 8, 10).expect("preset");
        let mut cpu = Network::new(preset, config, 3);
        let mut net = GpuNetwork::new(&gpu, &cpu, 2).await.expect("GPU network");
        let images = |n, salt| conv::filled((n, channels, 16, 16), salt).mapv(|v| 0.5 * (v + 1.0));
        let probe = images(3, 20);
        let got = net.features(&gpu, probe.view()).await.expect("features");
        assert_close(
            &cpu.features(probe.view()).expect("cpu"),
            &got,
            1e-3,
            &format!("{what}: features"),
        );
        for step in 0..2 {
            let x = images(2, 21 + step);
            cpu.unsupervised_step(x.view()).expect("cpu step");
            net.unsupervised_step(&gpu, x.view())
                .await
                .expect("gpu step");
        }
        let mut back = cpu.clone();
        net.download(&gpu, &mut back).await.expect("download");
        for (a, b) in cpu.nodes.iter().zip(&back.nodes) {
            if let (Node::Conv(a), Node::Conv(b)) = (a, b) {
                assert_close(
                    &a.w,
                    &b.w,
                    1e-3,
                    &format!("{what}: weights after two steps"),
                );
                if let (Some(x), Some(y)) = (&a.state.theta, &b.state.theta) {
                    assert_close(x, y, 1e-3, &format!("{what}: θ"));
                }
                assert_eq!(a.state.theta.is_some(), b.state.theta.is_some());
                assert_eq!(a.state.history_len, b.state.history_len, "{what}");
                if a.state.history_len > 0 {
                    assert_close(
                        &a.state.history,
                        &b.state.history,
                        1e-3,
                        &format!("{what}: history"),
                    );
                }
            }
        }
    }
}

#[wasm_bindgen_test]
async fn random_field_matches_cpu_on_webgpu() {
    let gpu = gpu().await;
    let cpu = random::fill_normals_cpu(42, 7, 1001);
    let out = random::fill_normals_gpu(&gpu, 42, 7, 1001)
        .await
        .expect("gpu fill");
    // rng.wgsl brings its own sin/cos, so SwiftShader's loose built-ins do not widen the tolerance.
    assert_close(&cpu, &out, 1e-5, "normals");
}

#[wasm_bindgen_test]
async fn plasticity_matches_cpu_on_webgpu() {
    let gpu = gpu().await;
    let d = vec![
        Dist::new([0.0, 0.0], [1.0, 0.9, 0.4359]),
        Dist::new([1.0, 0.5], [0.5, 0.2, 0.7]),
    ];
    for rule in Rule::ALL {
        let start: Vec<Traj> = (0..8)
            .map(|i| Traj::new([(i as f32).cos(), (i as f32).sin()], 0.5))
            .collect();
        let (mut c, mut g) = (start.clone(), start);
        let job = Job::new(rule, 3, 4, 8, 0, 500, 10).with_rates(2e-3, 1.5, 50.0);
        let rc = trajectories::advance_cpu(&job, &d, &mut c);
        let rg = trajectories::advance_gpu(&gpu, &job, &d, &mut g)
            .await
            .expect("gpu chunk");
        assert_close(&rc, &rg, 1e-3, &format!("{rule:?}"));
    }
}

#[wasm_bindgen_test]
async fn the_cpu_path_in_wasm_gives_the_native_bits() {
    let mut state = labs::default_state("hebb2d").expect("lab");
    state.seed = golden::SEED;
    let mut engine = Engine::new(BackendChoice::Cpu).await.expect("cpu");
    let mut run = Run::start(&state, &Default::default()).expect("start");
    let frame = run
        .advance(&mut engine, &Chunk::steps(0))
        .await
        .expect("run");
    let bits = |name: &str| {
        frame
            .metrics
            .iter()
            .find(|m| m.name == name)
            .and_then(|m| m.value)
            .expect(name)
            .to_bits()
    };
    assert_eq!(bits("Σ3 w₁ (run 1)"), golden::SIGMA3_W1);
    assert_eq!(bits("Σ3 w₂ (run 1)"), golden::SIGMA3_W2);
    assert_eq!(bits("Σ3 growth rate of ln‖w‖ (mean)"), golden::SIGMA3_RATE);
}

#[wasm_bindgen_test]
async fn the_whole_lab_agrees_between_webgpu_and_cpu() {
    let state = labs::default_state("hebb2d").expect("lab");
    let mut cpu = Engine::new(BackendChoice::Cpu).await.expect("cpu");
    let mut gpu = Engine::new(BackendChoice::Gpu).await.expect("webgpu");
    let a = Run::start(&state, &Default::default())
        .expect("start")
        .advance(&mut cpu, &Chunk::steps(0))
        .await
        .expect("cpu run");
    let b = Run::start(&state, &Default::default())
        .expect("start")
        .advance(&mut gpu, &Chunk::steps(0))
        .await
        .expect("gpu run");
    assert!(b.notices.is_empty(), "{:?}", b.notices);
    for (x, y) in a.metrics.iter().zip(&b.metrics) {
        let (u, v) = (x.value.unwrap_or(0.0), y.value.unwrap_or(0.0));
        assert!(
            (u - v).abs() <= 1e-3 * (1.0 + u.abs()),
            "{}: cpu {u} gpu {v}",
            x.name
        );
    }
}

#[wasm_bindgen_test]
async fn matmul_and_zca_match_cpu_on_webgpu() {
    use hebbian_playground::data::zca::Zca;
    use hebbian_playground::kernels::matmul;
    let gpu = gpu().await;
    let normals = |rows: usize, cols: usize, seed: u32| {
        ndarray::Array2::from_shape_fn((rows, cols), |(i, j)| {
            hebbian_playground::rng::normal4([i as u32, j as u32, 0, 0], [seed, 0x5ca])[0]
        })
    };
    let (a, b) = (normals(130, 37, 1), normals(37, 70, 2));
    // Blocks of 48 rows: three dispatches, the last one partial.
    let g = matmul::gram_gpu(&gpu, a.view(), 48).await.expect("gram");
    assert_close(&matmul::gram_cpu(a.view()), &g, 1e-4, "AᵀA");
    let p = matmul::product_gpu(&gpu, a.view(), b.view(), 48)
        .await
        .expect("product");
    assert_close(&matmul::product_cpu(a.view(), b.view()), &p, 1e-4, "A·B");
    // The eigensolve (faer) runs in wasm too.
    let cpu = Zca::fit_cpu(a.view(), 1e-3, true).expect("cpu fit");
    let out = Zca::fit_gpu(&gpu, a.view(), 1e-3, true)
        .await
        .expect("gpu fit");
    assert_close(&cpu.matrix, &out.matrix, 1e-3, "ZCA matrix");
}

/// The dataset parsers and generators run in wasm: a gzipped IDX pair streamed in small chunks, and seeded
/// generated data that repeats exactly.
#[wasm_bindgen_test]
fn dataset_parsers_and_generators_run_in_wasm() {
    use flate2::{Compression, write::GzEncoder};
    use hebbian_playground::data::generate::RandomPatterns;
    use hebbian_playground::data::idx;
    use hebbian_playground::data::loader::{Kind, Loader};
    use std::io::Write;
    let gz = |bytes: &[u8]| {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(bytes).expect("gzip");
        e.finish().expect("gzip")
    };
    let pixels: Vec<u8> = (0..4 * 784).map(|i| (i % 256) as u8).collect();
    let files = [
        (
            "train-images-idx3-ubyte.gz",
            gz(&idx::encode(&[4, 28, 28], &pixels)),
        ),
        (
            "train-labels-idx1-ubyte.gz",
            gz(&idx::encode(&[4], &[3, 1, 4, 1])),
        ),
    ];
    let mut loader = Loader::new(Kind::MnistIdx);
    for (name, bytes) in &files {
        loader
            .begin_file(name, Some(bytes.len() as u64))
            .expect("begin");
        for chunk in bytes.chunks(7) {
            loader.push(chunk).expect("push");
        }
        loader.end_file().expect("end");
    }
    let d = loader.finish().expect("dataset");
    assert_eq!(
        (d.len(), d.dim(), d.labels.clone()),
        (4, 784, vec![3, 1, 4, 1])
    );
    let p = RandomPatterns {
        count: 3,
        rows: 4,
        cols: 4,
        p_on: 0.5,
    };
    let a = p.generate(9).expect("patterns");
    assert_eq!(
        a.rows(&[0, 1, 2]),
        p.generate(9).expect("patterns").rows(&[0, 1, 2])
    );
}

/// Batched Hopfield recall on the browser's WebGPU against the CPU twin in wasm: identical final states for
/// integer (Hebbian) weights, and for real-valued ones too in practice (the kernel repeats the twin's f32
/// operations in order; ≥ 99% is required, leaving room for a GPU that flushes subnormals).
#[wasm_bindgen_test]
async fn hopfield_recall_matches_cpu_on_webgpu() {
    use hebbian_playground::nets::hopfield::{self, Dynamics, RecallParams, StateKind, Storage};
    let gpu = gpu().await;
    let n = 40;
    let p = hopfield::random_patterns(5, n, 3, 0).expect("patterns");
    let (mut same, mut total) = (0, 0);
    for storage in [Storage::Hebb, Storage::Storkey, Storage::PseudoInverse] {
        let w = hopfield::weights(p.view(), storage).expect("weights");
        for dynamics in [Dynamics::Asynchronous, Dynamics::Synchronous] {
            let kind = if dynamics == Dynamics::Synchronous {
                StateKind::Binary
            } else {
                StateKind::Bipolar
            };
            let params = RecallParams::new(kind, dynamics, 30, 8);
            let mut probes = ndarray::Array2::zeros((10, n));
            for b in 0..10 {
                let probe =
                    hopfield::probe_with_overlap(p.row(b % 5), 0.4, 2, b as u32).expect("probe");
                probes
                    .row_mut(b)
                    .assign(&probe.mapv(|v| kind.from_bipolar(v)));
            }
            let cpu =
                hebbian_playground::kernels::recall::recall_cpu(w.view(), probes.view(), &params)
                    .expect("cpu");
            let out = hebbian_playground::kernels::recall::recall_gpu(
                &gpu,
                w.view(),
                probes.view(),
                &params,
            )
            .await
            .expect("gpu recall");
            if storage == Storage::Hebb {
                assert_eq!(cpu, out, "{dynamics:?}");
            } else {
                for b in 0..10 {
                    total += 1;
                    same += usize::from(cpu.states.row(b) == out.states.row(b));
                }
            }
        }
    }
    assert!(same * 100 >= total * 99, "{same} of {total}");
}

/// A capacity sweep batches many networks into each dispatch; on WebGPU it gives the CPU's numbers.
#[wasm_bindgen_test]
async fn hopfield_capacity_sweep_matches_cpu_on_webgpu() {
    use hebbian_playground::nets::hopfield::{self, Dynamics, Storage, SweepSpec};
    let spec = SweepSpec {
        n: 36,
        storage: Storage::Hebb,
        p_values: vec![1, 4, 9],
        q0_values: vec![1.0, 0.4],
        trials: 0..3,
        dynamics: Dynamics::Asynchronous,
        max_sweeps: 30,
        seed: 5,
        tie: hopfield::Tie::Keep,
    };
    let mut gpu_engine = Engine::new(BackendChoice::Gpu).await.expect("gpu");
    let on_gpu = hopfield::capacity_sweep(&mut gpu_engine, &spec)
        .await
        .expect("gpu sweep");
    assert!(on_gpu.notice.is_none(), "{:?}", on_gpu.notice);
    let mut cpu = Engine::new(BackendChoice::Cpu).await.expect("cpu");
    let on_cpu = hopfield::capacity_sweep(&mut cpu, &spec)
        .await
        .expect("cpu sweep");
    assert_eq!(on_gpu, on_cpu);
    assert_eq!(
        on_cpu.exact_fraction()[[0, 0]],
        1.0,
        "one pattern is always recalled from itself"
    );
}

/// The Ising lattice on WebGPU is the CPU twin's, sweep for sweep, across calls; and the CPU path in wasm
/// gives the native numbers (integers and a libm table: nothing may differ).
#[wasm_bindgen_test]
async fn ising_lattices_match_cpu_on_webgpu() {
    use hebbian_playground::nets::ising::{Ising, Start};
    let gpu = gpu().await;
    let start = Start::Random { p_up: 0.5 };
    for (k, kt, h) in [(16, 2.2, 0.2), (34, 1.5, 0.0)] {
        let mut cpu = Ising::new(k, kt, h, 5, start).expect("params");
        let mut on_gpu = Ising::new(k, kt, h, 5, start).expect("params");
        for sweeps in [3, 7] {
            let c = cpu.advance_cpu(sweeps);
            let g = on_gpu.advance_gpu(&gpu, sweeps).await.expect("gpu sweeps");
            assert_eq!(c, g, "k {k}");
            assert_eq!(cpu.spins(), on_gpu.spins(), "k {k}");
        }
    }
    let mut run = Ising::new(16, 2.2, 0.2, 5, start).expect("params");
    run.advance_cpu(10);
    let weighted: i64 = (1..).zip(run.spins()).map(|(i, &s)| i * i64::from(s)).sum();
    assert_eq!(
        (run.magnetisation(), run.energy(), weighted),
        (0.8828125, -1.8015625, 29642),
        "the native run's numbers"
    );
}

/// The credit lab's perceptron (kernels/mlp) trained three steps (the last batch short, the steps crossing 2³²)
/// on the browser's WebGPU against its CPU twin, for backprop with biases (ReLU), Oja's Hebbian rule (sigmoid),
/// Kolen-Pollack (tanh), node perturbation with biases (sigmoid) and weight perturbation (ReLU), their noise
/// drawn on the device (σ = 0.1, as in tests/mlp_gpu.rs): weights, the feedback matrix and the summed loss.
#[wasm_bindgen_test]
async fn the_credit_perceptron_matches_the_cpu_on_webgpu() {
    use hebbian_playground::kernels::mlp::MlpGpu;
    use hebbian_playground::nets::mlp::{self, Activation, Mlp, Rule, Sgd};
    use ndarray::{Array2, s};
    let gpu = gpu().await;
    let x = Array2::from_shape_fn((13, 37), |(i, j)| ((i * 37 + j) as f32 * 0.613).sin());
    let labels: Vec<u8> = (0..13).map(|i| ((i * 7) % 3) as u8).collect();
    for (rule, act, bias) in [
        (Rule::Backprop, Activation::Relu, true),
        (
            Rule::Hebbian {
                clamp: false,
                oja: true,
            },
            Activation::Sigmoid,
            false,
        ),
        (Rule::KolenPollack, Activation::Tanh, false),
        (
            Rule::NodePerturbation { sigma: 0.1 },
            Activation::Sigmoid,
            true,
        ),
        (
            Rule::WeightPerturbation { sigma: 0.1 },
            Activation::Relu,
            false,
        ),
    ] {
        let mut cpu = Mlp::new(37, 13, 3, act, bias, 3);
        let opt = Sgd {
            lr: [0.05, 0.2],
            weight_decay: 0.01,
        };
        let dev = MlpGpu::new(&gpu, &cpu, rule, &opt, 5)
            .await
            .expect("network");
        let mut loss = 0.0f64;
        for (i, start) in [0, 5, 10].into_iter().enumerate() {
            let step = (1u64 << 32) - 1 + i as u64;
            let end = (start + 5).min(13);
            let (xb, lb) = (x.slice(s![start..end, ..]), &labels[start..end]);
            let f = cpu.forward(xb);
            loss += mlp::losses(f.logits.view(), lb)
                .iter()
                .map(|&v| f64::from(v))
                .sum::<f64>();
            let u = cpu.update_from(rule, xb, &f, lb, 3, step);
            opt.step(&mut cpu, &u);
            dev.train(&gpu, xb, lb, 3, step).await.expect("a step");
        }
        let mut back = cpu.clone();
        let (got, _, rows) = dev.download(&gpu, &mut back).await.expect("download");
        for (want, have, what) in [
            (&cpu.w1, &back.w1, "W1"),
            (&cpu.w2, &back.w2, "W2"),
            (&cpu.feedback, &back.feedback, "B"),
        ] {
            let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert_close(
                want.as_slice().expect("standard"),
                have.as_slice().expect("standard"),
                2e-5 * (1.0 + scale),
                &format!("{rule:?}: {what}"),
            );
        }
        assert_eq!(rows, 13);
        assert!(
            (got - loss).abs() < 1e-4 * loss,
            "{rule:?}: loss {got} vs {loss}"
        );
    }
}

/// RBM training (kernels/rbm) on the browser's WebGPU against its CPU twin: CD-2 with momentum and decay, and
/// persistent CD, three updates with a short last batch (as tests/rbm_gpu.rs): weights, biases and the chains,
/// which draw from the same counters.
#[wasm_bindgen_test]
async fn rbm_training_matches_the_cpu_on_webgpu() {
    use hebbian_playground::kernels::rbm::RbmGpu;
    use hebbian_playground::nets::rbm::{Draws, Rbm, TrainConfig, Trainer};
    use ndarray::{Array2, s};
    let gpu = gpu().await;
    let p = Array2::from_shape_fn((13, 37), |(i, j)| if (i + j) % 3 == 0 { 0.8 } else { 0.3 });
    let x = Draws::new(3, 2, 9).bernoulli(p.view(), 0, 0);
    for persistent in [false, true] {
        let config = TrainConfig {
            k: 2,
            learning_rate: 0.1,
            momentum: 0.5,
            weight_decay: 0.01,
            persistent,
        };
        let mut rbm = Rbm::new(37, 11, 4, 0);
        rbm.w.mapv_inplace(|w| 30.0 * w);
        let mut cpu = rbm.clone();
        let mut trainer = Trainer::new(&cpu, config, 6, 0);
        let mut dev = RbmGpu::new(&gpu, &rbm, &trainer, 5).await.expect("RBM");
        for start in [0, 5, 10] {
            let batch = x.slice(s![start..(start + 5).min(13), ..]);
            trainer.update(&mut cpu, batch);
            dev.train(&gpu, batch).await.expect("an update");
        }
        let mut back = rbm.clone();
        let mut back_trainer = Trainer::new(&back, config, 6, 0);
        dev.download(&gpu, &mut back, &mut back_trainer)
            .await
            .expect("download");
        let scale = cpu.w.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert_close(
            cpu.w.as_slice().expect("standard"),
            back.w.as_slice().expect("standard"),
            2e-5 * (1.0 + scale),
            &format!("persistent {persistent}: W"),
        );
        assert_close(
            &cpu.b.to_vec(),
            &back.b.to_vec(),
            2e-5,
            &format!("persistent {persistent}: b"),
        );
        assert_close(
            &cpu.c.to_vec(),
            &back.c.to_vec(),
            2e-5,
            &format!("persistent {persistent}: c"),
        );
        assert_eq!(
            back_trainer.chains, trainer.chains,
            "persistent {persistent}: chains"
        );
    }
}

/// Contrastive Hebbian learning (kernels/chl) on the browser's WebGPU against its CPU twin (`nets::chl::Chl`), as
/// tests/chl_gpu.rs on made-up digits: two hidden layers ([49, 12, 8, 5]) with the γ^{k−L} rates, γ = 0.8, 12
/// Euler steps, three batches of 5 in two submits; the weights, biases, training hits and the free phase's
/// outputs of held-out rows agree within 2e-6 (lavapipe: ≤ 4e-7).
#[wasm_bindgen_test]
async fn chl_training_matches_the_cpu_on_webgpu() {
    use hebbian_playground::kernels::chl::ChlGpu;
    use hebbian_playground::nets::chl::{self, Chl, Settings};
    use ndarray::{Array2, Axis, s};
    let gpu = gpu().await;
    let x = Array2::from_shape_fn((20, 49), |(i, j)| {
        (0.5 + 0.5 * ((i * 7 + j * 3) as f32 * 0.37).sin()).clamp(0.0, 1.0)
    });
    let t = Array2::from_shape_fn((20, 5), |(i, c)| f32::from(u8::from(i % 5 == c)));
    let s = Settings {
        rate: 0.2,
        gamma: 0.8,
        time: 6.0,
        dt: 0.5,
    };
    let net = Chl::new(&[49, 12, 8, 5], 3).expect("valid");
    let rates: Vec<f32> = (0..3)
        .map(|k| chl::layer_rate(s.rate, s.gamma, k, 3))
        .collect();
    let dev = ChlGpu::new(&gpu, &net, &s, &rates, x.view(), t.view(), 5, 8)
        .await
        .expect("CHL on the GPU");
    let order: Vec<u32> = vec![3, 9, 0, 14, 7, 1, 12, 5, 10, 2, 8, 13, 4, 11, 6];
    dev.set_order(&gpu, &order).expect("an order");
    let mut cpu = net.clone();
    for b in 0..3 {
        let rows: Vec<usize> = order[b * 5..(b + 1) * 5]
            .iter()
            .map(|&p| p as usize)
            .collect();
        let (xb, tb) = (x.select(Axis(0), &rows), t.select(Axis(0), &rows));
        let free = cpu.free(xb.view(), &s);
        let clamped = cpu.clamped(xb.view(), tb.view(), &s);
        cpu.update_with(&free, &clamped, &rates);
    }
    dev.train(&gpu, 0, 2).await.expect("batches 1 and 2");
    dev.train(&gpu, 2, 1).await.expect("batch 3");
    let mut back = net.clone();
    let (_, seen) = dev.download(&gpu, &mut back).await.expect("download");
    assert_eq!(seen, 15, "rows counted");
    for k in 0..3 {
        let what = format!("W_{k}");
        assert_close(&cpu.w[k], &back.w[k], 2e-6, &what);
        assert_close(&cpu.b[k], &back.b[k], 2e-6, &format!("b_{k}"));
        let moved = cpu.w[k]
            .iter()
            .zip(&net.w[k])
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(moved > 1e-4, "{what} moved only {moved}");
    }
    let out = dev
        .outputs(&gpu, &[15, 16, 17, 18, 19])
        .await
        .expect("outputs");
    let want = &cpu.free(x.slice(s![15.., ..]), &s)[3];
    assert_close(want, &out, 2e-6, "outputs");
}

/// Boltzmann machine training (kernels/boltzmann) on the browser's WebGPU against its CPU twin, as
/// tests/boltzmann_gpu.rs: 6 visible and 5 hidden units, 300 persistent chains, 4 patterns × 70 clamped copies,
/// 3 sweeps, 5 updates; the chains agree unit for unit and the weights and biases within float rounding.
#[wasm_bindgen_test]
async fn boltzmann_training_matches_the_cpu_on_webgpu() {
    use hebbian_playground::kernels::boltzmann::BoltzmannGpu;
    use hebbian_playground::nets::boltzmann::{Boltzmann, Chains, GROUP_FREE, Statistics};
    use ndarray::array;
    let gpu = gpu().await;
    let x = array![
        [1u8, 1, 1, 0, 1, 0],
        [1, 0, 1, 1, 0, 1],
        [0, 1, 0, 1, 1, 1],
        [1, 0, 0, 0, 1, 1]
    ];
    let (copies, sweeps, rate, seed) = (70, 3, 0.3, 11);
    let net = Boltzmann::random(6, 5, 1.5, 1.3, seed).expect("valid");
    let chains = Chains::random(300, 11, seed, GROUP_FREE, 2);
    let mut dev = BoltzmannGpu::new(&gpu, &net, x.view(), &chains, copies, sweeps, rate, seed, 7)
        .await
        .expect("Boltzmann on the GPU");
    let (mut cpu, mut cpu_chains) = (net.clone(), chains);
    for step in 7..12 {
        cpu.train_step(
            x.view(),
            Statistics::Sampled { copies, sweeps },
            &mut cpu_chains,
            rate,
            seed,
            step,
        )
        .expect("a CPU step");
        dev.train(&gpu).await.expect("a GPU step");
    }
    let (back, back_chains) = dev.download(&gpu).await.expect("download");
    assert_eq!(
        back_chains, cpu_chains,
        "the persistent chains, unit for unit"
    );
    assert_close(
        cpu.weights().as_slice().expect("standard"),
        back.weights().as_slice().expect("standard"),
        1e-5,
        "w",
    );
    assert_close(&cpu.biases().to_vec(), &back.biases().to_vec(), 1e-5, "b");
    assert!(
        cpu.weights()
            .iter()
            .zip(net.weights())
            .any(|(a, b)| (a - b).abs() > 0.05),
        "the weights moved"
    );
}

/// The Boltzmann lab's "chains" variant on the browser's WebGPU engine ends with the CPU engine's metrics (as
/// tests/boltzmann_gpu.rs natively): 3 hidden units, 2 sweeps, 40 epochs.
#[wasm_bindgen_test]
async fn the_boltzmann_lab_trains_its_chains_on_webgpu_as_on_the_cpu() {
    let mut state = labs::default_state("boltzmann").expect("lab");
    let p = &mut state.params;
    p["hidden"] = serde_json::json!(3);
    p["sweeps"] = serde_json::json!(2);
    p["epochs"] = serde_json::json!(40);
    p["statistics"] = serde_json::json!({"exact": false, "chains": true, "lecture": false});
    let mut cpu = Engine::new(BackendChoice::Cpu).await.expect("cpu");
    let mut gpu = Engine::new(BackendChoice::Gpu).await.expect("webgpu");
    let a = Run::start(&state, &Default::default())
        .expect("start")
        .advance(&mut cpu, &Chunk::steps(0))
        .await
        .expect("cpu run");
    let b = Run::start(&state, &Default::default())
        .expect("start")
        .advance(&mut gpu, &Chunk::steps(0))
        .await
        .expect("gpu run");
    assert!(gpu.gpu().is_some(), "the engine stayed on WebGPU");
    assert!(b.notices.is_empty(), "{:?}", b.notices);
    assert!(a.done && b.done, "both ran to the end");
    for (x, y) in a.metrics.iter().zip(&b.metrics) {
        let (u, v) = (x.value.unwrap_or(0.0), y.value.unwrap_or(0.0));
        assert!(
            (u - v).abs() <= 1e-4 * (1.0 + u.abs()),
            "{}: cpu {u} gpu {v}",
            x.name
        );
    }
}

/// Online competitive learning (kernels/competitive) on the browser's WebGPU against its CPU twin
/// (`Competitive::step`), as tests/competitive_gpu.rs on made-up samples: 300 samples of 19 inputs (the lanes'
/// remainders), 5 units, plain WTA by distance and by activation, the conscience and leaky learning, one epoch in
/// two submits; every winner and nearest unit equal, the weights and frequencies within 1e-5 (lavapipe: equal
/// bit for bit; a browser's compiler may contract a multiply-add).
#[wasm_bindgen_test]
async fn competitive_learning_matches_the_cpu_on_webgpu() {
    use hebbian_playground::kernels::competitive::CompetitiveGpu;
    use hebbian_playground::nets::competitive::{Competitive, Variant, Winner};
    use ndarray::Array2;
    let gpu = gpu().await;
    let x = Array2::from_shape_fn((300, 19), |(i, j)| {
        (0.5 + 0.5 * ((i * 7 + j * 3) as f32 * 0.37).sin()).clamp(0.0, 1.0)
    });
    let start = Competitive::uniform(5, 19, 0.0, 1.0, 4, 0).expect("a net");
    for (how, variant) in [
        (Winner::Distance, Variant::Plain),
        (Winner::Activation, Variant::Plain),
        (Winner::Distance, Variant::Conscience { beta: 0.01, c: 3.0 }),
        (Winner::Distance, Variant::Leaky { leak: 0.01 }),
    ] {
        let what = format!("{how:?}, {variant:?}");
        let dev = CompetitiveGpu::new(&gpu, &start, x.view(), how, variant, 0.1, 0)
            .await
            .expect("competitive learning on the GPU");
        let mut cpu = start.clone();
        let want: Vec<_> = x
            .rows()
            .into_iter()
            .map(|r| cpu.step(r.as_slice().expect("a row"), 0.1, how, variant))
            .collect();
        let mut got = dev.train(&gpu, 0, 101).await.expect("the first part");
        got.extend(dev.train(&gpu, 101, 199).await.expect("the rest"));
        for (k, (a, b)) in want.iter().zip(&got).enumerate() {
            assert_eq!(
                (a.winner, a.nearest),
                (b.winner, b.nearest),
                "{what}, sample {k}"
            );
        }
        let d: Vec<f32> = want.iter().map(|s| s.distance).collect();
        let e: Vec<f32> = got.iter().map(|s| s.distance).collect();
        assert_close(&d, &e, 1e-5, &format!("{what}: distances"));
        let mut back = start.clone();
        dev.download(&gpu, &mut back).await.expect("download");
        assert_close(&cpu.w, &back.w, 1e-5, &format!("{what}: weights"));
        assert_close(&cpu.freq, &back.freq, 1e-5, &format!("{what}: frequencies"));
        let moved = cpu
            .w
            .iter()
            .zip(&start.w)
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(moved > 0.1, "{what}: the weights moved only {moved}");
    }
}

/// The Hebb's-rule lab's class prototypes (kernels/hebbrule) on the browser's WebGPU against their CPU twin
/// (`Layer::instar_row` over each epoch's order), as tests/hebbrule_gpu.rs on made-up digits: 120 samples of 49
/// inputs in 4 classes, two epochs in two orders, α = 0.3; every weight within 1e-6 (lavapipe: equal bit for
/// bit; a browser's compiler may contract a multiply-add).
#[wasm_bindgen_test]
async fn hebbrule_prototypes_match_the_cpu_on_webgpu() {
    use hebbian_playground::kernels::hebbrule::HebbruleGpu;
    use hebbian_playground::nets::hebbrule::Layer;
    use ndarray::Array2;
    let gpu = gpu().await;
    let x = Array2::from_shape_fn((120, 49), |(i, j)| {
        (0.5 + 0.5 * ((i * 5 + j * 11) as f32 * 0.29).sin()).clamp(0.0, 1.0)
    });
    let labels: Vec<u8> = (0..120).map(|i| ((i * 7) % 4) as u8).collect();
    let start = Layer::zeros(4, 49);
    let dev = HebbruleGpu::new(&gpu, &start, x.view(), &labels, 0.3)
        .await
        .expect("the prototypes on the GPU");
    let mut cpu = start.clone();
    for epoch in 0..2u32 {
        let order: Vec<u32> = (0..120u32).map(|i| (i * 37 + epoch * 11) % 120).collect();
        for &p in &order {
            let p = p as usize;
            cpu.instar_row(
                usize::from(labels[p]),
                x.row(p).as_slice().expect("a row"),
                0.3,
            );
        }
        dev.epoch(&gpu, &order).await.expect("an epoch");
    }
    let mut back = start.clone();
    dev.download(&gpu, &mut back).await.expect("download");
    assert_close(&cpu.w, &back.w, 1e-6, "prototypes");
    assert!(cpu.w.iter().any(|v| v.abs() > 0.3), "the prototypes moved");
}

/// The self-organising map (kernels/som) on the browser's WebGPU against its CPU twin (`nets::som::Som`), as
/// tests/som_gpu.rs: the lecture's box (5 × 6 map, 20 inputs, radius 2, windows clipped at the borders) and
/// MiniSom's decaying Gaussian (6 × 4, 3 inputs), 30 samples in two submits each: the same winners, the weights
/// within 1e-6 (lavapipe: equal, or an ulp apart for the Gaussian).
#[wasm_bindgen_test]
async fn som_training_matches_the_cpu_on_webgpu() {
    use hebbian_playground::kernels::som::{SomData, SomGpu};
    use hebbian_playground::nets::som::{self, Hood, Som};
    let gpu = gpu().await;
    for (rows, cols, dim, gaussian) in [(5, 6, 20, false), (6, 4, 3, true)] {
        let start = Som::random(rows, cols, dim, 1.0, 3);
        let data = Som::random(1, 12, dim, 1.0, 9).weights().to_vec();
        let picks = som::epoch_samples(5, 0, 30, 12);
        let hoods: Vec<(Hood, f32)> = (0..30)
            .map(|j| {
                if gaussian {
                    let t = j as f64;
                    (
                        Hood::Gaussian {
                            sigma: som::asymptotic(2.0, t, 30.0),
                        },
                        som::asymptotic(0.5, t, 30.0) as f32,
                    )
                } else {
                    (Hood::Box { radius: 2 }, 0.3)
                }
            })
            .collect();
        let dev_data = SomData::new(&gpu, &data, dim).expect("data");
        let mut dev = SomGpu::new(&gpu, &start, gaussian, &dev_data, 30)
            .await
            .expect("map");
        dev.set_epoch(&gpu, &picks, &hoods).expect("epoch");
        let mut cpu = start.clone();
        let mut scratch = Vec::new();
        let want: Vec<usize> = picks
            .iter()
            .zip(&hoods)
            .map(|(&i, &(h, rate))| {
                cpu.train_sample(&data[i * dim..(i + 1) * dim], h, rate, &mut scratch)
                    .0
            })
            .collect();
        let mut got = dev.train(&gpu, 0, 17).await.expect("samples 1 to 17");
        got.extend(dev.train(&gpu, 17, 13).await.expect("samples 18 to 30"));
        let what = format!("{rows} × {cols} × {dim}, gaussian {gaussian}");
        assert_eq!(
            want,
            got.iter().map(|p| p.0).collect::<Vec<_>>(),
            "{what}: winners"
        );
        let back = dev.download(&gpu).await.expect("download");
        assert_close(cpu.weights(), back.weights(), 1e-6, &what);
        assert!(
            cpu.weights()
                .iter()
                .zip(start.weights())
                .any(|(a, b)| (a - b).abs() > 0.05),
            "{what}: the weights moved"
        );
    }
}
