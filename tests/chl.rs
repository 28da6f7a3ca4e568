//! Contrastive Hebbian learning (nets::chl): the listing's schedule constants (notes TC-18), the phases'
//! Euler dynamics against a plain f64 reference of the listing's loops, the free phase's closed-form iterate
//! and fixed point for one layer, and the update's sign.
use hebbian_playground::nets::chl::{self, Chl, Settings};
use ndarray::{Array1, Array2, ArrayView1, array};

/// TC-18: 20 Euler steps for T = 10, dt = 0.5 (the length of `np.arange(1, T + 1, dt)`); C_k = η γ^{k−L}:
/// C0 = 0.04, C1 = 0.02 for η = 0.01, γ = 0.5, L = 2; 52,500 training digits in batches of 10 give 5,250.
#[test]
fn tc18_schedule() {
    let s = Settings::default();
    assert_eq!((s.rate, s.gamma, s.time, s.dt), (0.01, 0.5, 10.0, 0.5));
    assert_eq!(s.steps(), 20);
    assert_eq!(chl::euler_steps(10.0, 0.5), 20);
    // arange's length is ⌈T/dt⌉: a last partial step counts.
    assert_eq!(chl::euler_steps(10.0, 0.3), 34);
    assert_eq!(chl::euler_steps(1.0, 0.1), 10);
    assert!((chl::layer_rate(0.01, 0.5, 0, 2) - 0.04).abs() < 1e-9);
    assert!((chl::layer_rate(0.01, 0.5, 1, 2) - 0.02).abs() < 1e-9);
    assert_eq!(chl::batches(52_500, 10), 5_250);
    assert_eq!(chl::batches(8_005, 10), 800);
    let net = Chl::new(&[784, 128, 10], 0).expect("valid");
    assert_eq!(net.sizes(), vec![784, 128, 10]);
    // N(0, 0.01²): numpy's second argument is the standard deviation.
    let w = &net.w[0];
    let std = (w.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / w.len() as f64).sqrt();
    assert!((std - 0.01).abs() < 2e-4, "initial std {std}");
    assert!(Chl::new(&[3], 0).is_err() && Chl::new(&[3, 0, 2], 0).is_err());
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The listing's `forward_phase` / `backward_phase` for one example in f64, every step recorded.
fn reference(
    net: &Chl,
    input: ArrayView1<f32>,
    target: Option<ArrayView1<f32>>,
    s: &Settings,
) -> Vec<Vec<Vec<f64>>> {
    let l = net.layers();
    let mut x: Vec<Vec<f64>> = net.sizes().iter().map(|&m| vec![0.0; m]).collect();
    x[0] = input.iter().map(|&v| f64::from(v)).collect();
    if let Some(t) = target {
        x[l] = t.iter().map(|&v| f64::from(v)).collect();
    }
    let last = if target.is_some() { l - 1 } else { l };
    let mut out = vec![x.clone()];
    let (gamma, dt) = (f64::from(s.gamma), f64::from(s.dt));
    for _ in 0..s.steps() {
        for k in 1..=last {
            for j in 0..x[k].len() {
                let mut a = f64::from(net.b[k - 1][j]);
                for (i, &xi) in x[k - 1].iter().enumerate() {
                    a += xi * f64::from(net.w[k - 1][[i, j]]);
                }
                if k < l {
                    for (m, &xm) in x[k + 1].iter().enumerate() {
                        a += gamma * xm * f64::from(net.w[k][[j, m]]);
                    }
                }
                x[k][j] += dt * (-x[k][j] + sigmoid(a));
            }
        }
        out.push(x.clone());
    }
    out
}

/// A small net with weights large enough for the feedback to matter.
fn small(sizes: &[usize]) -> Chl {
    let mut net = Chl::new(sizes, 7).expect("valid");
    for w in &mut net.w {
        w.mapv_inplace(|v| v * 100.0);
    }
    net
}

/// Both phases' every step equals the listing's loops: layers in order within a step (layer 2 sees layer 1's
/// new state, layer 1 sees layer 2's old one), the output without feedback, the clamped phase moving hidden
/// layers only, input and target held.
#[test]
fn phases_follow_the_listing_step_by_step() {
    let net = small(&[5, 4, 3, 2]);
    let s = Settings {
        gamma: 0.7,
        ..Settings::default()
    };
    let input = array![0.9f32, 0.1, 0.0, 0.5, 1.0];
    let target = array![0.0f32, 1.0];
    let trace = net.trace(input.view(), target.view(), &s);
    assert_eq!(trace.free.len(), 21);
    assert_eq!(trace.clamped.len(), 21);
    for (got, want) in [
        (&trace.free, reference(&net, input.view(), None, &s)),
        (
            &trace.clamped,
            reference(&net, input.view(), Some(target.view()), &s),
        ),
    ] {
        for (t, (g, w)) in got.iter().zip(&want).enumerate() {
            for (k, (g, w)) in g.iter().zip(w).enumerate() {
                for (a, b) in g.iter().zip(w) {
                    assert!(
                        (f64::from(*a) - b).abs() < 1e-5,
                        "step {t}, layer {k}: {a} vs {b}"
                    );
                }
            }
        }
    }
    for x in &trace.clamped {
        assert_eq!(x[0], input);
        assert_eq!(x[3], target);
    }
    // The batched phases give the trace's last states.
    let batch = input.clone().insert_axis(ndarray::Axis(0));
    let free = net.free(batch.view(), &s);
    for (a, b) in free.iter().zip(&trace.free[20]) {
        assert_eq!(a.row(0), b.view());
    }
}

/// One layer, no feedback: x_1 after t steps is V (1 − (1 − dt)^t) with V = f(x_0 W_0 + b_0), so the free phase
/// converges to V.
#[test]
fn one_layer_free_phase_is_the_closed_form_euler_iterate() {
    let net = small(&[6, 3]);
    let input = array![0.2f32, 0.0, 1.0, 0.4, 0.7, 0.1];
    for (time, dt) in [(10.0, 0.5), (30.0, 0.25)] {
        let s = Settings {
            time,
            dt,
            ..Settings::default()
        };
        let trace = net.trace(input.view(), array![0.0f32, 0.0, 0.0].view(), &s);
        let v: Vec<f64> = (0..3)
            .map(|j| {
                let a: f64 = f64::from(net.b[0][j])
                    + (0..6)
                        .map(|i| f64::from(input[i]) * f64::from(net.w[0][[i, j]]))
                        .sum::<f64>();
                sigmoid(a)
            })
            .collect();
        for (t, x) in trace.free.iter().enumerate() {
            let decay = (1.0 - f64::from(dt)).powi(t as i32);
            for (a, v) in x[1].iter().zip(&v) {
                assert!(
                    (f64::from(*a) - v * (1.0 - decay)).abs() < 1e-5,
                    "step {t}: {a}"
                );
            }
        }
        let last = trace.free.last().expect("steps");
        for (a, v) in last[1].iter().zip(&v) {
            assert!((f64::from(*a) - v).abs() < 2e-6, "fixed point {v}: {a}");
        }
    }
}

/// A clamped output equal to the free output changes nothing (one layer: nothing else settles differently);
/// a target above the output raises the bias and the weights from active inputs, by C·Σ x_0ᵀ(target − x̌_1) and
/// C·mean(target − x̌_1).
#[test]
fn the_update_vanishes_at_agreement_and_follows_the_target() {
    let net = small(&[4, 3]);
    let s = Settings::default();
    let input = array![[1.0f32, 0.0, 0.5, 0.2], [0.3, 0.9, 0.0, 1.0]];
    let free = net.free(input.view(), &s);
    let mut same = net.clone();
    same.train_batch(input.view(), free[1].view(), &s);
    assert_eq!(
        same, net,
        "a target equal to the free output gives no update"
    );

    let target: Array2<f32> = free[1].mapv(|v| (v + 0.2).min(1.0));
    let mut up = net.clone();
    up.train_batch(input.view(), target.view(), &s);
    let c = chl::layer_rate(s.rate, s.gamma, 0, 1);
    assert!((c - 0.02).abs() < 1e-9);
    let diff = &target - &free[1];
    let db: Array1<f32> = diff.mean_axis(ndarray::Axis(0)).expect("rows") * c;
    for j in 0..3 {
        assert!(up.b[0][j] > net.b[0][j]);
        assert!((up.b[0][j] - net.b[0][j] - db[j]).abs() < 1e-6);
        for i in 0..4 {
            let dw: f32 = (0..2).map(|n| input[[n, i]] * diff[[n, j]]).sum::<f32>() * c;
            assert!(
                (up.w[0][[i, j]] - net.w[0][[i, j]] - dw).abs() < 1e-6,
                "w[{i}, {j}]"
            );
        }
    }
}

/// `update_with` takes each layer's rate as given: with η γ^{k−L} it is `update`, with η everywhere (the lab's
/// switch off) layer k's step is γ^{L−k} times smaller than the scaled one.
#[test]
fn update_with_takes_each_layers_rate() {
    let net = small(&[4, 3, 2]);
    let s = Settings::default();
    let input = array![[1.0f32, 0.0, 0.5, 0.2], [0.3, 0.9, 0.0, 1.0]];
    let target = array![[1.0f32, 0.0], [0.0, 1.0]];
    let free = net.free(input.view(), &s);
    let clamped = net.clamped(input.view(), target.view(), &s);
    let mut scaled = net.clone();
    scaled.update(&free, &clamped, &s);
    let mut given = net.clone();
    let rates = [
        chl::layer_rate(s.rate, s.gamma, 0, 2),
        chl::layer_rate(s.rate, s.gamma, 1, 2),
    ];
    given.update_with(&free, &clamped, &rates);
    assert_eq!(given, scaled);
    let mut flat = net.clone();
    flat.update_with(&free, &clamped, &[s.rate, s.rate]);
    for (k, rate) in rates.iter().enumerate() {
        let ratio = rate / s.rate;
        for (i, ((f, sc), n)) in flat.w[k]
            .iter()
            .zip(scaled.w[k].iter())
            .zip(net.w[k].iter())
            .enumerate()
        {
            let (df, ds) = (f - n, sc - n);
            assert!(
                (ds - ratio * df).abs() <= 1e-3 * ds.abs() + 1e-7,
                "W{k}[{i}]: {ds} vs {ratio} × {df}"
            );
        }
    }
}
