//! Boltzmann machines (nets::boltzmann) against the lecture's reference cases (notes TC-11, TC-12), the Gibbs
//! sampler against the exact Boltzmann distribution (χ² tests), the exact statistics with hidden units against
//! finite differences of the log-likelihood, and learning the letters T, U, L, H (004 §3-3) with recall of the
//! lecture's corrupted probes.
use hebbian_playground::data::letters::lecture_letters;
use hebbian_playground::nets::boltzmann::{self, Boltzmann, Chains, Exact, GROUP_FREE, Statistics};
use ndarray::{Array1, Array2, array};

/// The lecture's 3-unit machine (L2258): w12 = 0.2, w13 = 0.1, w23 = 0.3, every b = `b`, T = 1.
fn three(b: f32) -> Boltzmann {
    let w = array![[0.0, 0.2, 0.1], [0.2, 0.0, 0.3], [0.1, 0.3, 0.0]];
    Boltzmann::from_parts(w, Array1::from_elem(3, b), 3, 1.0).expect("valid")
}

fn states(rows: &[[u8; 3]]) -> Array2<u8> {
    Array2::from_shape_fn((rows.len(), 3), |(i, j)| rows[i][j])
}

/// TC-11: the enumeration table, in the lecture's state order (s1 the most significant bit).
#[test]
fn tc11_enumeration() {
    let exact = three(1.0).exact().expect("3 units");
    let expected = [0.0, 1.0, 1.0, 1.7, 1.0, 1.9, 1.8, 2.4];
    for (k, (e, x)) in exact.energies.iter().zip(expected).enumerate() {
        assert!(
            (e - x).abs() < 1e-6,
            "state {:?}: {e} vs {x}",
            Exact::state(3, k)
        );
    }
    // The slide's Z = 2.70 sums the rounded terms; the exact value is 2.6919.
    assert!((exact.z() - 2.6919).abs() < 5e-5, "Z {}", exact.z());
    let p = exact.probabilities();
    assert!((p[0] - 0.371).abs() < 5e-4, "p(000) {}", p[0]);
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    // The slide's rounded p column.
    for (q, x) in p
        .iter()
        .zip([0.37, 0.14, 0.14, 0.07, 0.14, 0.06, 0.06, 0.03])
    {
        assert!((q - x).abs() <= 0.005 + 1e-9, "{q} vs {x}");
    }
}

/// TC-12: the moments of the 10 data and 10 sampled states, the update of w12, and the ΔE / p table of the
/// random model states (b = 0, T = 1).
#[test]
fn tc12_statistics_and_update() {
    let data = states(&[
        [0, 1, 0],
        [1, 0, 0],
        [0, 1, 0],
        [1, 1, 0],
        [1, 0, 0],
        [1, 1, 1],
        [1, 0, 1],
        [1, 1, 1],
        [0, 1, 0],
        [0, 0, 1],
    ]);
    let sampled = states(&[
        [1, 1, 1],
        [0, 1, 0],
        [0, 0, 1],
        [1, 0, 1],
        [1, 1, 0],
        [1, 1, 1],
        [1, 1, 1],
        [1, 0, 0],
        [1, 0, 0],
        [1, 0, 1],
    ]);
    let (d, m) = (
        boltzmann::moments(data.view()),
        boltzmann::moments(sampled.view()),
    );
    let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    close(d[[0, 1]], 0.3);
    close(m[[0, 1]], 0.4);
    close(d[[0, 2]], 0.3);
    close(m[[0, 2]], 0.5);
    close(d[[1, 2]], 0.2);
    close(m[[1, 2]], 0.3);
    let mut net = three(0.0);
    net.learn(&d, &m, 0.1);
    let w = net.weights();
    for ((i, j), x) in [((0, 1), 0.19), ((0, 2), 0.08), ((1, 2), 0.29)] {
        assert!(
            (w[[i, j]] - x).abs() < 1e-6,
            "w{}{} = {}",
            i + 1,
            j + 1,
            w[[i, j]]
        );
        assert_eq!(w[[i, j]], w[[j, i]], "w stays symmetric");
    }
    // b −= α(⟨s_i⟩_data − ⟨s_i⟩_model): ⟨s1⟩ 0.6 vs 0.8.
    assert!((net.biases()[0] - 0.02).abs() < 1e-6);

    let model = three(0.0);
    let rows = [
        ([1, 1, 0], [0.2, 0.2, 0.4], [0.55, 0.55, 0.60]),
        ([0, 0, 1], [0.1, 0.3, 0.0], [0.52, 0.57, 0.50]),
        ([0, 1, 1], [0.3, 0.3, 0.3], [0.57, 0.57, 0.57]),
        ([1, 0, 0], [0.0, 0.2, 0.1], [0.50, 0.55, 0.52]),
        ([1, 1, 0], [0.2, 0.2, 0.4], [0.55, 0.55, 0.60]),
        ([1, 0, 1], [0.1, 0.5, 0.1], [0.52, 0.62, 0.52]),
        ([0, 0, 1], [0.1, 0.3, 0.0], [0.52, 0.57, 0.50]),
        ([1, 0, 1], [0.1, 0.5, 0.1], [0.52, 0.62, 0.52]),
        ([0, 1, 0], [0.2, 0.0, 0.3], [0.55, 0.50, 0.57]),
        ([1, 0, 0], [0.0, 0.2, 0.1], [0.50, 0.55, 0.52]),
    ];
    for (s, gaps, ps) in rows {
        for i in 0..3 {
            let (g, p) = (model.energy_gap(&s, i), model.p_on(&s, i));
            assert!((g - gaps[i]).abs() < 1e-6, "{s:?} ΔE{}: {g}", i + 1);
            assert!((p - ps[i]).abs() <= 0.005 + 1e-6, "{s:?} p{}: {p}", i + 1);
        }
    }
}

/// A machine of `n` units with weights N(0, 0.8²) and biases in [−0.5, 0.5], at temperature `t`.
fn random_machine(n: usize, hidden: usize, t: f32, seed: u32) -> Boltzmann {
    let net = Boltzmann::random(n - hidden, hidden, 0.8, t, seed).expect("valid");
    let b = Array1::from_shape_fn(n, |i| ((i as f32 * 1.7 + seed as f32).sin()) * 0.5);
    Boltzmann::from_parts(net.weights().clone(), b, n - hidden, t).expect("valid")
}

/// Pearson's χ² of the final states of `chains` independent chains after `sweeps` sweeps against `p`.
fn chi_square(net: &Boltzmann, p: &[f64], chains: usize, sweeps: u32, seed: u32) -> f64 {
    let n = net.units();
    let mut c = Chains::random(chains, n, seed, GROUP_FREE, 0);
    for _ in 0..sweeps {
        net.sweep(&mut c, 0, seed);
    }
    let mut counts = vec![0usize; 1 << n];
    for s in c.states().rows() {
        counts[s.iter().fold(0usize, |k, &x| (k << 1) | usize::from(x))] += 1;
    }
    counts
        .iter()
        .zip(p)
        .map(|(&o, &q)| {
            let e = q * chains as f64;
            (o as f64 - e).powi(2) / e
        })
        .sum()
}

/// Detailed balance: the final states of 4,000 independent chains after 12 sweeps follow the exact
/// distribution. Pearson's χ² over all 2ⁿ states has 2ⁿ − 1 degrees of freedom; we require it below the
/// 0.999 quantile (p > 0.001): 37.70 for 4 units (15 d.o.f.), 61.10 for 5 units (31 d.o.f.). Measured:
/// 10.09 (4 units, T = 1), 26.89 (5 units, T = 2), 8.37 (4 units, T = 1.5). The test can fail: the T = 2
/// samples against the T = 1 distribution give χ² = 1,219.6.
#[test]
fn gibbs_sampler_matches_the_boltzmann_distribution() {
    for (n, t, threshold) in [(4, 1.0, 37.70), (5, 2.0, 61.10), (4, 1.5, 37.70)] {
        let net = random_machine(n, 0, t, 11);
        let p = net.exact().expect("small").probabilities();
        assert!(p.iter().all(|&q| q * 4000.0 > 5.0), "expected counts ≥ 5");
        let chi2 = chi_square(&net, &p, 4000, 12, 3);
        assert!(
            chi2 < threshold,
            "{n} units, T = {t}: χ² {chi2:.2} ≥ {threshold}"
        );
        eprintln!("{n} units, T = {t}: χ² {chi2:.2} < {threshold}");
    }
    let hot = random_machine(5, 0, 2.0, 11);
    let cold = random_machine(5, 0, 1.0, 11)
        .exact()
        .expect("small")
        .probabilities();
    let chi2 = chi_square(&hot, &cold, 4000, 12, 3);
    eprintln!("T = 2 samples against T = 1: χ² {chi2:.2}");
    assert!(chi2 > 200.0, "T = 2 samples against T = 1: χ² {chi2:.2}");
}

/// With hidden units, the exact data moments (hidden units from p(h | v)) minus the exact model moments are
/// the log-likelihood's gradient: ∂/∂w_ij = ⟨s_i s_j⟩_data − ⟨s_i s_j⟩_model, ∂/∂b_i = −(⟨s_i⟩_data −
/// ⟨s_i⟩_model), checked by central differences. The clamped Gibbs chains estimate the same data moments.
#[test]
fn exact_statistics_are_the_likelihood_gradient_and_clamped_chains_estimate_them() {
    let net = random_machine(6, 2, 1.0, 5);
    let data = array![[1u8, 0, 1, 1], [0, 1, 1, 0], [1, 1, 0, 0]];
    let d = net.data_moments_exact(data.view()).expect("small");
    let m = net.exact().expect("small").moments();
    let ll = |w: Array2<f32>, b: Array1<f32>| {
        Boltzmann::from_parts(w, b, 4, 1.0)
            .expect("valid")
            .log_likelihood(data.view())
            .expect("small")
    };
    let h = 1e-2f32;
    for i in 0..6 {
        for j in i..6 {
            let (plus, minus) = if i == j {
                let mut bp = net.biases().clone();
                let mut bm = bp.clone();
                bp[i] += h;
                bm[i] -= h;
                (ll(net.weights().clone(), bp), ll(net.weights().clone(), bm))
            } else {
                let mut wp = net.weights().clone();
                let mut wm = wp.clone();
                for (a, b) in [(i, j), (j, i)] {
                    wp[[a, b]] += h;
                    wm[[a, b]] -= h;
                }
                (ll(wp, net.biases().clone()), ll(wm, net.biases().clone()))
            };
            let fd = (plus - minus) / (2.0 * f64::from(h));
            let sign = if i == j { -1.0 } else { 1.0 };
            let g = sign * (d[[i, j]] - m[[i, j]]);
            assert!(
                (fd - g).abs() < 2e-3,
                "({i}, {j}): finite difference {fd}, moments {g}"
            );
        }
    }
    let sampled = net
        .data_moments_sampled(data.view(), 2000, 20, 9, 0)
        .expect("valid");
    let worst = (&sampled - &d).iter().fold(0.0f64, |a, v| a.max(v.abs()));
    assert!(
        worst < 0.03,
        "clamped chains vs exact: largest difference {worst}"
    );
}

#[test]
fn exact_enumeration_refuses_large_nets() {
    let net = Boltzmann::random(17, 0, 1.0, 1.0, 0).expect("valid");
    assert!(net.exact().is_err());
    assert!(
        Boltzmann::random(16, 0, 1.0, 1.0, 0)
            .expect("valid")
            .exact()
            .is_ok()
    );
    let asymmetric = array![[0.0, 1.0], [0.5, 0.0]];
    assert!(Boltzmann::from_parts(asymmetric, Array1::zeros(2), 2, 1.0).is_err());
}

/// The lecture's letters T, U, L, H as rows of 9 binary pixels.
fn letters() -> Array2<u8> {
    let l: Vec<Vec<u8>> = lecture_letters()
        .into_iter()
        .filter(|p| ["T", "U", "L", "H"].contains(&p.name.as_str()))
        .map(|p| p.binary())
        .collect();
    Array2::from_shape_fn((4, 9), |(i, j)| l[i][j])
}

/// The lecture's corrupted probes T', U', L', H' (L2440), each one pixel off its letter.
const PROBES: [[u8; 9]; 4] = [
    [1, 1, 1, 0, 1, 0, 0, 0, 0],
    [1, 0, 1, 0, 0, 1, 1, 1, 1],
    [1, 0, 0, 1, 0, 0, 0, 1, 1],
    [1, 0, 1, 0, 1, 1, 1, 0, 1],
];

/// How many probes zero-temperature recall turns into their letters.
fn restored(net: &Boltzmann, data: &Array2<u8>) -> usize {
    PROBES
        .iter()
        .zip(data.rows())
        .filter(|(p, l)| net.recall(&p[..], 20)[..9] == l.to_vec()[..])
        .count()
}

/// Learning T, U, L, H (9 visible units, no hidden units, T = 1, weights from N(0, 1) as the listing) by
/// persistent contrastive divergence (200 chains, 1 sweep per step, α = 0.1, 400 steps) raises the exact
/// log-likelihood toward its bound log ¼ = −1.386 (seed 4: −9.446 → −1.826; seeds 0–4 end between −1.83 and
/// −1.76), and zero-temperature recall then restores all four probes T', U', L', H', where the untrained
/// nets of seeds 0–5 restore none. Σ E(data) falls from 0.89 to −54.1; it keeps falling, ever more slowly,
/// because the likelihood's supremum lies at infinite weights (exact statistics: −32, −53, −67, −77, −83 after
/// 100, 400, 1,000, 2,000, 3,000 steps, log-likelihood −2.74, −1.79, −1.55, −1.47, −1.44), against the
/// listing's steady fall to −296.
#[test]
fn learning_letters_raises_the_likelihood_and_recall_fixes_the_probes() {
    let data = letters();
    let mut net = Boltzmann::random(9, 0, 1.0, 1.0, 4).expect("valid");
    let before = net.log_likelihood(data.view()).expect("small");
    assert_eq!(restored(&net, &data), 0, "the untrained net");
    let mut chains = Chains::random(200, 9, 4, GROUP_FREE, 0);
    let how = Statistics::Sampled {
        copies: 1,
        sweeps: 1,
    };
    let energy = |net: &Boltzmann| -> f64 {
        data.rows()
            .into_iter()
            .map(|s| net.energy(s.as_slice().expect("row")))
            .sum()
    };
    let mut energies = vec![energy(&net)];
    for step in 0..400 {
        net.train_step(data.view(), how, &mut chains, 0.1, 4, step)
            .expect("valid");
        if step % 100 == 99 {
            energies.push(energy(&net));
        }
    }
    let after = net.log_likelihood(data.view()).expect("small");
    eprintln!("log-likelihood {before:.3} → {after:.3}; Σ E(data) every 100 steps {energies:.2?}");
    assert!(
        after > before + 2.0 && after > -2.5,
        "log-likelihood {before} → {after}"
    );
    assert_eq!(restored(&net, &data), 4);
}

/// With 2 hidden units (11 in all), learning from sampled statistics (20 clamped chains per letter and the
/// persistent model chains, 2 sweeps each per step, 100 steps) raises the exact log-likelihood too (measured:
/// −13.15 → −2.68; −2.05 after 200 steps, as with exact statistics, −2.06).
#[test]
fn learning_with_hidden_units_raises_the_likelihood() {
    let data = letters();
    let mut net = Boltzmann::random(9, 2, 1.0, 1.0, 4).expect("valid");
    let before = net.log_likelihood(data.view()).expect("small");
    let mut chains = Chains::random(200, 11, 4, GROUP_FREE, 0);
    let how = Statistics::Sampled {
        copies: 20,
        sweeps: 2,
    };
    for step in 0..100 {
        net.train_step(data.view(), how, &mut chains, 0.1, 4, step)
            .expect("valid");
    }
    let after = net.log_likelihood(data.view()).expect("small");
    eprintln!("hidden units: log-likelihood {before:.3} → {after:.3}");
    assert!(after > before + 8.0, "log-likelihood {before} → {after}");
}

/// The lecture's model statistics (one synchronous step from uniformly random states) miss the model's moments
/// of a strongly coupled machine, where persistent chains and enumeration agree; the same seed and round give
/// the same numbers.
#[test]
fn one_step_statistics_miss_the_model_moments() {
    let net = Boltzmann::random(9, 0, 2.0, 1.0, 4).expect("valid");
    let exact = net.exact().expect("small").moments();
    let one_step = net.model_moments_one_step(2000, 4, 7);
    assert_eq!(one_step, net.model_moments_one_step(2000, 4, 7));
    assert_ne!(one_step, net.model_moments_one_step(2000, 4, 8));
    let mut chains = Chains::random(2000, 9, 4, GROUP_FREE, 0);
    let sampled = net.model_moments_sampled(&mut chains, 50, 4);
    let worst = |m: &Array2<f64>| {
        m.iter()
            .zip(exact.iter())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max)
    };
    let (miss, chains_miss) = (worst(&one_step), worst(&sampled));
    eprintln!("largest moment error: one step {miss:.3}, persistent chains {chains_miss:.3}");
    assert!(miss > 0.1 && chains_miss < 0.05, "{miss} vs {chains_miss}");
}

/// Benchmark, not a check: Gibbs sweeps per second of 1,000 chains of 16 units on the CPU path (the figure
/// README compares with the lecture's NumPy code, benches/boltzmann_numpy.py). Run it optimised:
/// `cargo test --profile budgets --test boltzmann -- --ignored --nocapture sweeps_per_second`. The GPU kernel's
/// figure is tests/boltzmann_gpu.rs, `sweeps_per_second_on_the_gpu`.
#[test]
#[ignore = "benchmark: run with --ignored in an optimised build"]
fn sweeps_per_second() {
    let net = Boltzmann::random(16, 0, 1.0, 1.0, 0).expect("valid");
    let mut chains = Chains::random(1000, 16, 0, GROUP_FREE, 0);
    net.sweep(&mut chains, 0, 0);
    let sweeps = 200;
    let t0 = std::time::Instant::now();
    for _ in 0..sweeps {
        net.sweep(&mut chains, 0, 0);
    }
    let s = t0.elapsed().as_secs_f64();
    eprintln!(
        "CPU: {:.0} sweeps/s of 1,000 chains × 16 units ({:.3e} unit updates/s)",
        f64::from(sweeps) / s,
        f64::from(sweeps) * 1000.0 * 16.0 / s
    );
}
