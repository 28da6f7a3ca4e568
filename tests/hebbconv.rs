//! Hebbian convolutional networks (issue 14, CPU reference): parameter counts of architectures A-H, the DoG
//! kernel, convolution and correlation against naive loops on odd sizes, reflect padding, the competition
//! rules' known answers (one-hot masks, soft-WTA signs, max|Δw| = 1, the instar fixed point, BCM's θ), the
//! fixed layers' known values, and seeded initialisation.
mod common;

use common::conv::{correlate_loops, forward_loops};
use hebbian_playground::nets::hebbconv::conv::{self, Activation, ConvSpec, Cosine};
use hebbian_playground::nets::hebbconv::layers::{self, BatchNorm};
use hebbian_playground::nets::hebbconv::presets::{Arch, Preset};
use hebbian_playground::nets::hebbconv::{HebbConfig, Network, Pass};
use hebbian_playground::plasticity::competition::{
    self, Competition, CompetitionParams, CompetitionState, Rates, TopOne,
};
use ndarray::{Array1, Array3, Array4, ArrayView4, array};

/// Deterministic, irregular values in about [−1, 1].
fn seq4(shape: (usize, usize, usize, usize), k: f32) -> Array4<f32> {
    let mut i = 0u32;
    Array4::from_shape_simple_fn(shape, || {
        i += 1;
        ((i as f32) * k).sin() * 0.9 + 0.05 * ((i % 7) as f32 - 3.0)
    })
}

fn close(a: ArrayView4<f32>, b: ArrayView4<f32>, tol: f32, what: &str) {
    assert_eq!(a.dim(), b.dim(), "{what}: shapes");
    for (i, (x, y)) in a.iter().zip(b.iter()).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "{what}: element {i}: {x} vs {y}"
        );
    }
}

fn odd_specs() -> Vec<(ConvSpec, (usize, usize, usize, usize))> {
    let sp = |c_in, c_out, k, stride, pad, depthwise| ConvSpec {
        c_in,
        c_out,
        k,
        stride,
        pad,
        depthwise,
    };
    vec![
        (sp(3, 7, 5, 1, 2, false), (2, 3, 11, 9)),
        (sp(5, 11, 3, 2, 1, false), (3, 5, 9, 13)),
        (sp(1, 3, 3, 1, 0, false), (1, 1, 7, 7)),
        (sp(13, 5, 1, 1, 0, false), (2, 13, 5, 3)),
        (sp(6, 6, 3, 1, 1, true), (2, 6, 7, 9)),
        (sp(5, 5, 3, 2, 1, true), (1, 5, 9, 7)),
        (sp(4, 9, 4, 3, 2, false), (2, 4, 10, 11)),
    ]
}

#[test]
fn parameter_counts_of_the_thesis_architectures() {
    let expect = [
        (Arch::A, 5_893_162),
        (Arch::B, 6_031_402),
        (Arch::C, 386_986),
        (Arch::D, 804_394),
        (Arch::E, 883_978),
        (Arch::F, 1_022_218),
        (Arch::G, 4_030_378),
        (Arch::H, 5_893_162),
    ];
    for (arch, n) in expect {
        let p = Preset::cifar(arch);
        assert_eq!(p.param_count(), n, "{arch:?}");
    }
    // Feature counts of the heads (notes §2): 24,576 / 38,400 / 4,800 / 2,304.
    assert_eq!(Preset::cifar(Arch::A).features(), 24_576);
    assert_eq!(Preset::cifar(Arch::B).features(), 38_400);
    assert_eq!(Preset::cifar(Arch::C).features(), 4_800);
    assert_eq!(Preset::cifar(Arch::D).features(), 2_304);
    // Every reduced variant builds, on CIFAR's shape and on MNIST's.
    for arch in Arch::ALL {
        for div in [4, 8] {
            let p = Preset::reduced(arch, div).expect("reduced CIFAR");
            assert!(p.param_count() < Preset::cifar(arch).param_count());
            Preset::new(arch, [1, 28, 28], div, 10).expect("reduced MNIST");
        }
    }
    // A/4: widths 24/96/384: 24·75 + 96·216 + 384·864 + 384·16·10 + 10.
    assert_eq!(
        Preset::reduced(Arch::A, 4).unwrap().param_count(),
        1800 + 20_736 + 331_776 + 61_450
    );
}

#[test]
fn dog_kernel_matches_the_notes() {
    let want = [
        [-0.1254, -0.1093, -0.0583, -0.1093, -0.1254],
        [-0.1093, 0.2196, 0.5178, 0.2196, -0.1093],
        [-0.0583, 0.5178, 1.0000, 0.5178, -0.0583],
        [-0.1093, 0.2196, 0.5178, 0.2196, -0.1093],
        [-0.1254, -0.1093, -0.0583, -0.1093, -0.1254],
    ];
    let k = layers::dog_kernel();
    let mut sum = 0.0;
    for i in 0..5 {
        for j in 0..5 {
            assert!(
                (k[i][j] - want[i][j]).abs() < 6e-5,
                "[{i}][{j}] {}",
                k[i][j]
            );
            sum += k[i][j];
        }
    }
    assert_eq!(k[2][2], 1.0);
    assert!((sum - 2.3407).abs() < 2e-4, "sum {sum}");
    // Applied depthwise with zero padding 2: a single 1 reproduces the kernel around it, per channel.
    let mut y = Array4::zeros((1, 2, 7, 7));
    y[[0, 1, 3, 3]] = 1.0;
    let s = layers::surround(y.view());
    assert_eq!(s[[0, 1, 3, 3]], 1.0);
    assert_eq!(s[[0, 1, 1, 1]], k[0][0]);
    assert_eq!(s[[0, 1, 2, 3]], k[1][2]);
    assert!(s.slice(ndarray::s![0, 0, .., ..]).iter().all(|&v| v == 0.0));
}

#[test]
fn reflect_padding_by_hand() {
    // PyTorch: F.pad(torch.arange(12.).view(1,1,3,4), (2,2,2,2), mode='reflect')[0,0,0] = [10, 9, 8, 9, 10, 11, 10, 9].
    let x = Array4::from_shape_fn((1, 1, 3, 4), |(_, _, i, j)| (i * 4 + j) as f32);
    let p = conv::reflect_pad(x.view(), 2);
    assert_eq!(p.dim(), (1, 1, 7, 8));
    let row = |r: usize| p.slice(ndarray::s![0, 0, r, ..]).to_vec();
    assert_eq!(row(0), vec![10., 9., 8., 9., 10., 11., 10., 9.]);
    assert_eq!(row(2), vec![2., 1., 0., 1., 2., 3., 2., 1.]);
    assert_eq!(row(6), vec![2., 1., 0., 1., 2., 3., 2., 1.]);
    assert_eq!(row(3), vec![6., 5., 4., 5., 6., 7., 6., 5.]);
    assert_eq!(conv::reflect_pad(x.view(), 0), x);
}

#[test]
fn forward_and_correlate_match_naive_loops_on_odd_sizes() {
    for (s, xs) in odd_specs() {
        let x = seq4(xs, 0.731);
        let w = seq4(
            (
                s.weight_shape()[0],
                s.weight_shape()[1],
                s.weight_shape()[2],
                s.weight_shape()[3],
            ),
            1.379,
        );
        let y = conv::forward(x.view(), w.view(), &s);
        close(
            y.view(),
            forward_loops(x.view(), w.view(), &s).view(),
            1e-5,
            &format!("forward {s:?}"),
        );
        let r = seq4(y.dim(), 0.413);
        let dw = conv::correlate(x.view(), r.view(), &s);
        close(
            dw.view(),
            correlate_loops(x.view(), r.view(), &s).view(),
            1e-5,
            &format!("correlate {s:?}"),
        );
    }
}

#[test]
fn cosine_activation_variants() {
    let s = ConvSpec::new(3, 4, 3, 1);
    let x = seq4((2, 3, 6, 5), 0.57);
    let w = seq4((4, 3, 3, 3), 0.91);
    let norms = conv::patch_norms(x.view(), &s);
    assert_eq!(norms.dim(), (2, 1, 6, 5));
    // Filter: a true cosine (|y| ≤ 1), equal to conv(x, w)/(‖w_k‖·‖patch‖).
    let y = conv::activate(x.view(), w.view(), &s, Activation::Cosine(Cosine::Filter));
    let plain = conv::forward(x.view(), w.view(), &s);
    for ((b, k, i, j), &v) in y.indexed_iter() {
        let wn = w
            .slice(ndarray::s![k, .., .., ..])
            .iter()
            .map(|v| v * v)
            .sum::<f32>()
            .sqrt();
        let want = plain[[b, k, i, j]] / wn / norms[[b, 0, i, j]];
        assert!(
            (v - want).abs() < 1e-5 && v.abs() <= 1.0 + 1e-5,
            "{v} vs {want}"
        );
    }
    // PerPosition: each (k, i, j) column of w normalised over input channels separately.
    let wp = conv::normalise_weights(w.view(), Cosine::PerPosition);
    for k in 0..4 {
        for i in 0..3 {
            for j in 0..3 {
                let n: f32 = (0..3).map(|c| wp[[k, c, i, j]].powi(2)).sum();
                assert!((n - 1.0).abs() < 1e-5);
            }
        }
    }
    // Depthwise PerPosition is sign(w).
    let wd = array![[[[0.5f32, -2.0], [3.0, -0.1]]]];
    let sd = conv::normalise_weights(wd.view(), Cosine::PerPosition);
    assert_eq!(sd, array![[[[1.0f32, -1.0], [1.0, -1.0]]]]);
}

#[test]
fn hard_wta_masks_are_one_hot_over_channels() {
    let y = Array3::from_shape_fn((3, 5, 7), |(n, k, p)| {
        ((n * 31 + k * 17 + p * 7) as f32 * 0.37).sin()
    });
    let m = competition::hard_wta_mask(y.view());
    for n in 0..3 {
        for p in 0..7 {
            let col: Vec<f32> = (0..5).map(|k| m[[n, k, p]]).collect();
            assert_eq!(col.iter().sum::<f32>(), 1.0);
            let win = col.iter().position(|&v| v == 1.0).unwrap();
            let best = (0..5)
                .map(|k| y[[n, k, p]])
                .fold(f32::NEG_INFINITY, f32::max);
            assert_eq!(y[[n, win, p]], best);
        }
    }
    let r = competition::hard_wta(y.view());
    for ((n, k, p), &v) in r.indexed_iter() {
        assert_eq!(v, m[[n, k, p]] * y[[n, k, p]]);
    }
}

#[test]
fn soft_wta_signs_and_magnitudes() {
    let y = array![[[0.2f32], [1.5], [-0.3], [0.9]]]; // [N=1, K=4, P=1], winner k = 1
    let t = 0.65;
    let r = competition::soft_wta(y.view(), t);
    let e: Vec<f32> = y.iter().map(|v| (t * v).exp()).collect();
    let z: f32 = e.iter().sum();
    for k in 0..4 {
        let s = e[k] / z;
        let want = if k == 1 { s } else { -s };
        assert!((r[[0, k, 0]] - want).abs() < 1e-6, "k {k}");
    }
    assert!(r[[0, 1, 0]] > 0.0);
    assert!([0, 2, 3].iter().all(|&k| r[[0, k, 0]] < 0.0));
    let a = competition::anti_hard(y.view());
    assert_eq!(a, array![[[-0.2f32], [1.5], [0.3], [-0.9]]]);
}

#[test]
fn update_is_max_abs_normalised() {
    let s = ConvSpec::new(3, 5, 3, 1);
    let x = seq4((2, 3, 7, 6), 0.77);
    let w = seq4((5, 3, 3, 3), 0.33);
    let y = conv::forward(x.view(), w.view(), &s);
    let xp = conv::reflect_pad(x.view(), 1);
    for mode in Competition::ALL {
        let mut params = CompetitionParams::new(mode);
        // Five competitors never pass mean + 2·std (see competition::statistical): use c = 1 here.
        params.stats_c = 1.0;
        let mut state = CompetitionState::default();
        let mut dw = competition::delta(&params, &mut state, xp.view(), &y, Some(&y), w.view(), &s);
        competition::max_abs_normalise(&mut dw);
        let m = dw.iter().fold(0.0f32, |a, v| a.max(v.abs()));
        assert!((m - 1.0).abs() < 1e-6, "{mode:?}: max |Δw| = {m}");
    }
    let mut z = Array4::<f32>::zeros((2, 1, 1, 1));
    competition::max_abs_normalise(&mut z);
    assert!(z.iter().all(|&v| v == 0.0));
}

#[test]
fn update_equals_the_instar_formula() {
    // Δw_k = Σ r x − (Σ r) w_k for hard-WTA, checked against naive correlation.
    let s = ConvSpec::new(2, 3, 3, 1);
    let x = seq4((2, 2, 5, 5), 0.61);
    let w = seq4((3, 2, 3, 3), 0.29);
    let y = conv::forward(x.view(), w.view(), &s);
    let xp = conv::reflect_pad(x.view(), 1);
    let params = CompetitionParams::new(Competition::HardWta);
    let dw = competition::delta(
        &params,
        &mut CompetitionState::default(),
        xp.view(),
        &y,
        None,
        w.view(),
        &s,
    );
    let y3 = y.clone().into_shape_with_order((2, 3, 25)).unwrap();
    let r = competition::hard_wta(y3.view())
        .into_shape_with_order((2, 3, 5, 5))
        .unwrap();
    let mut want = correlate_loops(x.view(), r.view(), &s);
    for k in 0..3 {
        let c: f32 = r.slice(ndarray::s![.., k, .., ..]).sum();
        let mut f = want.slice_mut(ndarray::s![k, .., .., ..]);
        f.zip_mut_with(&w.slice(ndarray::s![k, .., .., ..]), |d, &wv| *d -= c * wv);
    }
    close(dw.view(), want.view(), 1e-5, "instar");
}

#[test]
fn instar_converges_to_a_constant_input() {
    // One 1×1 unit, one input position of 4 channels: y = w·x > 0, Δw = y(x − w).
    let s = ConvSpec::new(4, 1, 1, 0);
    let x = Array4::from_shape_vec((1, 4, 1, 1), vec![0.3, -0.2, 0.8, 0.5]).unwrap();
    let mut w = Array4::from_shape_vec((1, 4, 1, 1), vec![0.5, 0.1, 0.2, 0.9]).unwrap();
    let params = CompetitionParams::new(Competition::HardWta);
    let mut state = CompetitionState::default();
    let dist = |w: &Array4<f32>| {
        w.iter()
            .zip(x.iter())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max)
    };
    // Without normalisation (small rate): geometric convergence.
    for _ in 0..400 {
        let y = conv::forward(x.view(), w.view(), &s);
        let dw = competition::delta(&params, &mut state, x.view(), &y, None, w.view(), &s);
        competition::apply(&mut w, dw.view(), &Rates::Layer(0.5), false);
    }
    assert!(dist(&w) < 1e-5, "distance {}", dist(&w));
    // x is a fixed point of the full step (Δw = 0 survives the normalisation).
    let mut w2 = x.clone();
    let y = conv::forward(x.view(), w2.view(), &s);
    let mut dw = competition::delta(&params, &mut state, x.view(), &y, None, w2.view(), &s);
    competition::max_abs_normalise(&mut dw);
    competition::apply(&mut w2, dw.view(), &Rates::Layer(0.1), false);
    assert_eq!(w2, x);
}

#[test]
fn bcm_theta_arithmetic() {
    // θ ← 0.5·θ + 0.5·mean(y_wta²), before use; r = y_wta(y_wta − θ).
    let y = array![[[2.0f32, 0.0], [0.0, 1.0]], [[0.0, 3.0], [1.0, 0.0]]]; // [N=2, K=2, P=2], already one-hot
    let mut theta = Array1::from_elem(2, 1.0f32);
    let r = competition::bcm(y.view(), &mut theta, 0.5);
    // Channel 0: mean(4, 0, 0, 9) = 3.25 → θ = 0.5 + 1.625 = 2.125; channel 1: mean(0, 1, 1, 0) = 0.5 → 0.75.
    assert_eq!(theta, array![2.125f32, 0.75]);
    assert_eq!(r[[0, 0, 0]], 2.0 * (2.0 - 2.125));
    assert_eq!(r[[1, 0, 1]], 3.0 * (3.0 - 2.125));
    assert_eq!(r[[0, 1, 1]], 1.0 * (1.0 - 0.75));
    assert_eq!(r[[0, 0, 1]], 0.0);
    let r2 = competition::bcm(y.view(), &mut theta, 0.5);
    assert_eq!(theta, array![2.6875f32, 0.625]);
    assert_eq!(r2[[0, 0, 0]], 2.0 * (2.0 - 2.6875));
}

#[test]
fn temporal_and_statistical_thresholds() {
    // Statistical: K = 4 values [1, 0, 0, 5]: mean 1.5, unbiased std √(17/3) ≈ 2.38, τ ≈ 6.26 with c = 2 →
    // nobody wins; with c = 1, τ ≈ 3.88 → channel 3 wins and keeps its value.
    let sim = array![[[1.0f32], [0.0], [0.0], [5.0]]];
    assert!(
        competition::statistical(sim.view(), 2.0, TopOne::Replace)
            .iter()
            .all(|&v| v == 0.0)
    );
    let r = competition::statistical(sim.view(), 1.0, TopOne::Replace);
    assert_eq!(
        r.iter().copied().collect::<Vec<_>>(),
        vec![0.0, 0.0, 0.0, 5.0]
    );
    let r = competition::statistical(sim.view(), 1.0, TopOne::Multiply);
    assert_eq!(r[[0, 3, 0]], 25.0);
    // Temporal: the history's per-(k, p) median, averaged over k, thresholds the current batch.
    let mut state = CompetitionState::default();
    let y = array![[[1.0f32], [4.0]], [[3.0], [2.0]], [[5.0], [0.0]]]; // N=3, K=2, P=1
    // Medians over 3 samples: k0 → 3, k1 → 2; τ = 2.5. Winners: n0 k1 (4), n1 k0 (3), n2 k0 (5).
    let r = competition::temporal(y.view(), &mut state, 500, TopOne::Replace);
    assert_eq!(
        r.iter().copied().collect::<Vec<_>>(),
        vec![0.0, 4.0, 3.0, 0.0, 5.0, 0.0]
    );
    assert_eq!(state.history_len, 3);
    // A window of 2 keeps the last two samples.
    let _ = competition::temporal(y.view(), &mut state, 2, TopOne::Replace);
    assert_eq!(state.history_len, 2);
    assert_eq!(state.history, vec![3.0, 2.0, 5.0, 0.0]);
}

#[test]
fn batchnorm_triangle_and_pools() {
    // BatchNorm: one channel of [1, 2, 3, 4] → (x − 2.5)/√(1.25 + 1e-5); running mean 0.25, running var
    // 0.9 + 0.1·(5/3).
    let x = Array4::from_shape_vec((2, 1, 1, 2), vec![1.0, 2.0, 3.0, 4.0]).unwrap();
    let mut bn = BatchNorm::new(1);
    let y = bn.forward(x.view(), true);
    let s = (1.25f32 + 1e-5).sqrt();
    assert!((y[[0, 0, 0, 0]] + 1.5 / s).abs() < 1e-6);
    assert!((y[[1, 0, 0, 1]] - 1.5 / s).abs() < 1e-6);
    assert!((bn.running_mean[0] - 0.25).abs() < 1e-7);
    assert!((bn.running_var[0] - (0.9 + 0.1 * 5.0 / 3.0)).abs() < 1e-6);
    let e = bn.forward(x.view(), false);
    let se = (bn.running_var[0] + 1e-5).sqrt();
    assert!((e[[0, 0, 0, 0]] - (1.0 - 0.25) / se).abs() < 1e-6);
    // Triangle: channels [1, 3, 8] at one position: mean 4 → ReLU → [0, 0, 4] → ^0.5 → [0, 0, 2].
    let t = Array4::from_shape_vec((1, 3, 1, 1), vec![1.0, 3.0, 8.0]).unwrap();
    assert_eq!(
        layers::triangle(t.view(), 0.5)
            .iter()
            .copied()
            .collect::<Vec<_>>(),
        vec![0.0, 0.0, 2.0]
    );
    assert_eq!(layers::triangle(t.view(), 1.0)[[0, 2, 0, 0]], 4.0);
    // Pools on 0..16 as a 4×4 plane.
    let p = Array4::from_shape_fn((1, 1, 4, 4), |(_, _, i, j)| (i * 4 + j) as f32);
    let m = layers::max_pool(p.view(), 4, 2, 1); // PyTorch: [[10, 11], [14, 15]]
    assert_eq!(
        m.iter().copied().collect::<Vec<_>>(),
        vec![10.0, 11.0, 14.0, 15.0]
    );
    let a = layers::avg_pool(p.view(), 2, 2, 0);
    assert_eq!(
        a.iter().copied().collect::<Vec<_>>(),
        vec![2.5, 4.5, 10.5, 12.5]
    );
    // count_include_pad: AvgPool(3, 2, 1) corner = (0 + 1 + 4 + 5)/9.
    let a = layers::avg_pool(p.view(), 3, 2, 1);
    assert_eq!(a.dim(), (1, 1, 2, 2));
    assert!((a[[0, 0, 0, 0]] - 10.0 / 9.0).abs() < 1e-6);
    // Negative values with padding: max never picks the padding.
    let neg = p.mapv(|v| -v - 1.0);
    assert_eq!(layers::max_pool(neg.view(), 4, 2, 1)[[0, 0, 0, 0]], -1.0);
}

#[test]
fn same_seed_same_weights_and_depthwise_learning_runs() {
    let preset = Preset::new(Arch::E, [1, 12, 12], 16, 10).unwrap();
    let config = HebbConfig::thesis(Competition::HardWta);
    let mut a = Network::new(preset.clone(), config, 7);
    let mut b = Network::new(preset.clone(), config, 7);
    let mut c = Network::new(preset, config, 8);
    let (wa, wb, wc) = (a.weights(), b.weights(), c.weights());
    assert_eq!(wa.len(), 5);
    for (x, y) in wa.iter().zip(&wb) {
        assert!(
            x.iter()
                .zip(y.iter())
                .all(|(p, q)| p.to_bits() == q.to_bits())
        );
    }
    assert_ne!(wa[0], wc[0]);
    // The scale is 25/√(C_in·k²): layer 0 is 1 × 5 × 5 → 5; sample std near it.
    let std = (wa[0].iter().map(|v| v * v).sum::<f32>() / wa[0].len() as f32).sqrt();
    assert!((std - 5.0).abs() < 2.0, "std {std}");
    // Learning on the same batch gives the same weights, bit for bit; every layer moves.
    let x = seq4((3, 1, 12, 12), 0.47);
    a.unsupervised_step(x.view()).unwrap();
    b.unsupervised_step(x.view()).unwrap();
    for ((x0, x1), y) in wa.iter().zip(a.weights()).zip(b.weights()) {
        assert!(
            x1.iter()
                .zip(y.iter())
                .all(|(p, q)| p.to_bits() == q.to_bits())
        );
        assert_ne!(*x0, x1);
    }
    let f = a.features(x.view()).unwrap();
    assert_eq!(f.dim(), (3, a.preset.features()));
}

#[test]
fn every_competition_and_architecture_steps() {
    for arch in [Arch::A, Arch::D, Arch::G] {
        let preset = Preset::new(arch, [3, 32, 32], 32, 10).unwrap();
        for mode in Competition::ALL {
            let mut config = HebbConfig::thesis(mode);
            config.surround = mode == Competition::HardWta;
            let mut net = Network::new(preset.clone(), config, 1);
            let x = seq4((2, 3, 32, 32), 0.29);
            net.unsupervised_step(x.view()).unwrap();
            let f = net.features(x.view()).unwrap();
            assert!(f.iter().all(|v| v.is_finite()), "{arch:?} {mode:?}");
        }
    }
    let mut h = Network::new(
        Preset::new(Arch::H, [3, 16, 16], 32, 10).unwrap(),
        HebbConfig::thesis(Competition::None),
        1,
    );
    assert!(
        h.unsupervised_step(seq4((1, 3, 16, 16), 0.3).view())
            .is_err()
    );
    assert!(
        h.forward(seq4((1, 3, 16, 16), 0.3).view(), Pass::Eval)
            .is_ok()
    );
}

#[test]
fn softhebb_rates_shrink_toward_unit_norm() {
    let w = Array4::from_shape_vec((3, 1, 1, 2), vec![3.0, 4.0, 0.6, 0.8, 0.0, 0.5]).unwrap();
    let r = competition::softhebb_rates(w.view(), 0.08, 0.5);
    assert!((r[0] - 0.08 * 2.0).abs() < 1e-6); // ‖w‖ = 5
    assert!(r[1] < 1e-5); // ‖w‖ = 1
    assert!((r[2] - 0.08 * 0.5f32.sqrt()).abs() < 1e-6); // ‖w‖ = 0.5
    // Dale: the step keeps weights non-negative.
    let mut w = Array4::from_elem((1, 1, 1, 2), 0.05f32);
    let dw = Array4::from_shape_vec((1, 1, 1, 2), vec![-1.0, 1.0]).unwrap();
    competition::apply(&mut w, dw.view(), &Rates::Layer(0.1), true);
    assert!((w[[0, 0, 0, 0]] - 0.05).abs() < 1e-7 && (w[[0, 0, 0, 1]] - 0.15).abs() < 1e-7);
    // Pre-synaptic softmax over input channels sums to 1 per (k, i, j).
    let w = seq4((2, 3, 2, 2), 0.9);
    let p = competition::presynaptic(
        w.view(),
        competition::PreKind::Softmax,
        competition::PreDim::Input,
    );
    for k in 0..2 {
        let s: f32 = (0..3).map(|c| p[[k, c, 1, 0]]).sum();
        assert!((s - 1.0).abs() < 1e-5);
    }
}

#[test]
fn depthwise_layers_compete_over_positions_within_each_channel() {
    // Hard-WTA in a depthwise layer: r[n, c, ·] is one-hot over the positions of channel c, so Δw_c =
    // y_max·patch_at_argmax − y_max·w_c.
    let s = ConvSpec::depthwise(3, 3, 1);
    let x = seq4((2, 3, 5, 4), 0.83);
    let w = seq4((3, 1, 3, 3), 0.47);
    let y = conv::forward(x.view(), w.view(), &s);
    let xp = conv::reflect_pad(x.view(), 1);
    let params = CompetitionParams::new(Competition::HardWta);
    let dw = competition::delta(
        &params,
        &mut CompetitionState::default(),
        xp.view(),
        &y,
        None,
        w.view(),
        &s,
    );
    let mut r = Array4::<f32>::zeros(y.dim());
    for n in 0..2 {
        for c in 0..3 {
            let plane = y.slice(ndarray::s![n, c, .., ..]);
            let (mut bi, mut bv) = ((0, 0), f32::NEG_INFINITY);
            for ((i, j), &v) in plane.indexed_iter() {
                if v > bv {
                    (bi, bv) = ((i, j), v);
                }
            }
            r[[n, c, bi.0, bi.1]] = bv;
        }
    }
    let mut want = correlate_loops(x.view(), r.view(), &s);
    for c in 0..3 {
        let sum: f32 = r.slice(ndarray::s![.., c, .., ..]).sum();
        let mut f = want.slice_mut(ndarray::s![c, .., .., ..]);
        f.zip_mut_with(&w.slice(ndarray::s![c, .., .., ..]), |d, &wv| {
            *d -= sum * wv
        });
    }
    close(dw.view(), want.view(), 1e-5, "depthwise hard-WTA");
    // Soft-WTA over positions: per (n, c) one positive entry, the rest negative, |r| summing to 1.
    let y3 = y.clone().into_shape_with_order((2, 3, 20)).unwrap();
    let perm = y3.view().permuted_axes([0, 2, 1]);
    let sr = competition::soft_wta(perm, 1.0);
    for n in 0..2 {
        for c in 0..3 {
            let col: Vec<f32> = (0..20).map(|p| sr[[n, p, c]]).collect();
            assert_eq!(col.iter().filter(|&&v| v > 0.0).count(), 1);
            assert!((col.iter().map(|v| v.abs()).sum::<f32>() - 1.0).abs() < 1e-5);
        }
    }
}

#[test]
fn printed_quirks_and_variants_run() {
    // The printed per-position cosine, surround modulation, BCM, Dale and pre-synaptic couplings in one
    // network each, on a small E (depthwise) preset.
    let preset = Preset::new(Arch::E, [3, 12, 12], 16, 10).unwrap();
    let x = seq4((2, 3, 12, 12), 0.21);
    let mut configs = Vec::new();
    let mut c = HebbConfig::thesis(Competition::HardWta);
    c.activation = Activation::Cosine(Cosine::PerPosition);
    c.surround = true;
    configs.push(c);
    configs.push(HebbConfig::thesis(Competition::Bcm));
    let mut c = HebbConfig::thesis(Competition::HardWta);
    c.dale = true;
    configs.push(c);
    let mut c = HebbConfig::thesis(Competition::HardWta);
    c.presynaptic = Some((competition::PreKind::Softmax, competition::PreDim::Input));
    configs.push(c);
    for config in configs {
        let mut net = Network::new(preset.clone(), config, 3);
        net.unsupervised_step(x.view()).unwrap();
        net.unsupervised_step(x.view()).unwrap();
        if config.dale {
            assert!(net.weights().iter().all(|w| w.iter().all(|&v| v >= 0.0)));
        }
        let f = net.features(x.view()).unwrap();
        assert!(f.iter().all(|v| v.is_finite()), "{config:?}");
    }
}

/// The eight-lane element-wise passes (soft-WTA, Triangle, pools, BatchNorm) against scalar f64 loops, on rows
/// that are not multiples of eight (tails next to the following row), several images and channels.
#[test]
fn lane_passes_match_scalar_loops_on_odd_rows() {
    for (n, c, h, w) in [(3, 5, 3, 5), (2, 13, 7, 7), (1, 1, 1, 1), (2, 3, 4, 4)] {
        let x = seq4((n, c, h, w), 0.37);
        let p = h * w;
        // Soft-WTA over the channels at each position.
        let t = 0.65f64;
        let x3 = x.clone().into_shape_with_order((n, c, p)).unwrap();
        let r = competition::soft_wta(x3.view(), t as f32);
        for b in 0..n {
            for q in 0..p {
                let col: Vec<f64> = (0..c).map(|k| f64::from(x3[[b, k, q]])).collect();
                let win = (0..c).fold(0, |a, k| if col[k] > col[a] { k } else { a });
                let z: f64 = col.iter().map(|v| (t * (v - col[win])).exp()).sum();
                for k in 0..c {
                    let s = (t * (col[k] - col[win])).exp() / z;
                    let want = if k == win { s } else { -s };
                    let got = f64::from(r[[b, k, q]]);
                    assert!(
                        (got - want).abs() < 1e-6,
                        "soft-WTA {n}×{c}×{h}×{w} at {b},{k},{q}"
                    );
                }
            }
        }
        // Triangle with a fractional power.
        let tri = layers::triangle(x.view(), 0.7);
        for ((b, k, i, j), &got) in tri.indexed_iter() {
            let mean = (0..c).map(|m| f64::from(x[[b, m, i, j]])).sum::<f64>() / c as f64;
            let want = (f64::from(x[[b, k, i, j]]) - mean).max(0.0).powf(0.7);
            assert!(
                (f64::from(got) - want).abs() < 1e-5 * (1.0 + want),
                "Triangle {n}×{c}×{h}×{w} at {b},{k},{i},{j}: {got} vs {want}"
            );
        }
        // Max and average pooling (3, stride 2, pad 1) against the window loops.
        let (mp, ap) = (
            layers::max_pool(x.view(), 3, 2, 1),
            layers::avg_pool(x.view(), 3, 2, 1),
        );
        for ((b, k, oy, ox), &m) in mp.indexed_iter() {
            let (mut best, mut sum) = (f32::NEG_INFINITY, 0.0f64);
            for yy in (oy * 2).saturating_sub(1)..(oy * 2 + 2).min(h) {
                for xx in (ox * 2).saturating_sub(1)..(ox * 2 + 2).min(w) {
                    best = best.max(x[[b, k, yy, xx]]);
                    sum += f64::from(x[[b, k, yy, xx]]);
                }
            }
            assert_eq!(m, best, "max pool at {b},{k},{oy},{ox}");
            assert!(
                (f64::from(ap[[b, k, oy, ox]]) - sum / 9.0).abs() < 1e-6,
                "avg pool"
            );
        }
    }
}
