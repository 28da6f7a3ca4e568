//! Restricted Boltzmann machines (nets::rbm) on the CPU: the source's toy RBM (TC-13) by enumeration, the
//! free-energy identity, the exact likelihood gradient against finite differences, CD-k approaching the exact
//! gradient as k grows, AIS against the exact log Z, the pseudo-likelihood's definition and the seeded Bernoulli
//! sampler.
use hebbian_playground::nets::rbm::{self, Draws, Rbm, group};
use hebbian_playground::rng;
use ndarray::{Array1, Array2, array, stack};

/// The toy RBM of notes §4-2 (L2521-2677).
fn toy() -> Rbm {
    Rbm {
        w: array![[-0.1f32, 0.2], [0.3, 0.1], [0.1, -0.3]],
        b: array![0.1f32, 0.2, 0.1],
        c: array![0.3f32, 0.2],
    }
}

/// An RBM with weights N(0, scale²) and biases N(0, 0.5²) from a fixed Philox stream.
fn random_rbm(visible: usize, hidden: usize, scale: f32, key: u32) -> Rbm {
    let z = |i: usize| rng::normal4([i as u32, 0, 0, 0], [key, 99])[0];
    Rbm {
        w: Array2::from_shape_fn((visible, hidden), |(i, j)| scale * z(i * hidden + j)),
        b: Array1::from_shape_fn(visible, |i| 0.5 * z(10_000 + i)),
        c: Array1::from_shape_fn(hidden, |j| 0.5 * z(20_000 + j)),
    }
}

/// Every binary state of n units as rows (state s: unit i is bit i of s).
fn states(n: usize) -> Array2<f32> {
    let rows: Vec<_> = (0..1 << n).map(|s| rbm::state(s, n)).collect();
    let views: Vec<_> = rows.iter().map(|r| r.view()).collect();
    stack(ndarray::Axis(0), &views).expect("rows")
}

/// Z by enumerating every joint state (v, h) with the energy.
fn joint_z(m: &Rbm) -> f64 {
    let (v, h) = (states(m.visible()), states(m.hidden()));
    let mut z = 0.0;
    for vi in v.rows() {
        let vv = vi.broadcast((h.nrows(), vi.len())).expect("rows");
        z += m
            .energy(vv, h.view())
            .iter()
            .map(|e| (-e).exp())
            .sum::<f64>();
    }
    z
}

fn close(a: f64, b: f64, tol: f64, what: &str) {
    assert!((a - b).abs() <= tol, "{what}: {a} vs {b}");
}

/// TC-13: the source's table and conditionals, to the digits the notes give.
#[test]
fn toy_rbm_matches_the_source_table() {
    let m = toy();
    let v101 = array![[1.0f32, 0.0, 1.0]];
    close(
        m.energy(v101.view(), array![[0.0f32, 1.0]].view())[0],
        -0.3,
        1e-6,
        "E",
    );
    let z = joint_z(&m);
    close(z, 57.684, 1e-3, "Z by the joint enumeration");
    close(
        m.log_z().expect("small").exp(),
        z,
        1e-6 * z,
        "Z by free energies",
    );
    close(0.3f64.exp() / z, 0.0234, 1e-4, "p(101, 01)");
    let lp = m
        .log_prob(array![[1.0f32, 1.0, 1.0]].view())
        .expect("small");
    close(lp[0].exp(), 0.1621, 1e-4, "p(v = 111)");
    let v001 = array![[0.0f32, 0.0, 1.0]];
    close(
        f64::from(m.hidden_probs(v001.view())[[0, 0]]),
        0.598688,
        1e-6,
        "p(h1|001)",
    );
    let h01 = array![[0.0f32, 1.0]];
    close(
        f64::from(m.visible_probs(h01.view())[[0, 0]]),
        0.574443,
        1e-6,
        "p(v1|01)",
    );
    // The conditional partition functions Σ_h exp(−E(001, h)) and Σ_v exp(−E(v, 01)) are exp(−F).
    close(
        (-m.free_energy(v001.view())[0]).exp(),
        5.2457,
        1e-4,
        "Z(h|001)",
    );
    close(
        (-m.free_energy_hidden(h01.view())[0]).exp(),
        12.2662,
        1e-4,
        "Z(v|01)",
    );
    // exp(−F(v))/Z is the enumerated marginal Σ_h exp(−E(v, h))/Z for all 8 v.
    let (v, h) = (states(3), states(2));
    let p = m.log_prob(v.view()).expect("small").mapv(f64::exp);
    for (i, vi) in v.rows().into_iter().enumerate() {
        let vv = vi.broadcast((4, 3)).expect("rows");
        let joint: f64 = m.energy(vv, h.view()).iter().map(|e| (-e).exp()).sum();
        close(p[i], joint / z, 1e-7, "p(v)");
    }
}

/// On a random 5 × 4 RBM: exp(−F(v)) = Σ_h exp(−E(v, h)) for every v, the same for F(h), log Z by either layer,
/// and p(v) sums to 1.
#[test]
fn free_energy_identity_on_a_random_rbm() {
    let m = random_rbm(5, 4, 1.0, 3);
    let (v, h) = (states(5), states(4));
    let fv = m.free_energy(v.view());
    for (i, vi) in v.rows().into_iter().enumerate() {
        let vv = vi.broadcast((16, 5)).expect("rows");
        let s: f64 = m.energy(vv, h.view()).iter().map(|e| (-e).exp()).sum();
        close((-fv[i]).exp(), s, 1e-5 * s, "exp(-F(v))");
    }
    let fh = m.free_energy_hidden(h.view());
    for (j, hj) in h.rows().into_iter().enumerate() {
        let hh = hj.broadcast((32, 4)).expect("rows");
        let s: f64 = m.energy(v.view(), hh).iter().map(|e| (-e).exp()).sum();
        close((-fh[j]).exp(), s, 1e-5 * s, "exp(-F(h))");
    }
    let (a, b) = (
        m.log_z().expect("small"),
        m.transposed().log_z().expect("small"),
    );
    close(a, b, 1e-9, "log Z of the model and its transpose");
    close(a, joint_z(&m).ln(), 1e-6, "log Z by the joint");
    let total: f64 = m.log_prob(v.view()).expect("small").mapv(f64::exp).sum();
    close(total, 1.0, 1e-6, "Σ p(v)");
    assert!(Rbm::new(21, 30, 0, 0).log_z().is_err(), "21 units refused");
    assert!(
        Rbm::new(30, 12, 0, 0).log_z().is_ok(),
        "the smaller layer enumerated"
    );
}

/// The exact gradient of the mean log-likelihood against central differences, with the smaller layer either side.
#[test]
fn exact_gradient_matches_finite_differences() {
    for (nv, nh) in [(4, 6), (6, 3)] {
        let m = random_rbm(nv, nh, 0.8, 5);
        let data = Array2::from_shape_fn((7, nv), |(r, i)| ((r * 3 + i * 5) % 4 == 0) as u8 as f32);
        let ll = |m: &Rbm| {
            m.log_prob(data.view())
                .expect("small")
                .mean()
                .expect("rows")
        };
        let g = m.exact_gradient(data.view()).expect("small");
        let h = 1e-2f32;
        let check = |analytic: f32, plus: &Rbm, minus: &Rbm| {
            let numeric = (ll(plus) - ll(minus)) / (2.0 * f64::from(h));
            close(f64::from(analytic), numeric, 2e-4, "gradient");
        };
        for (i, j) in [(0, 0), (nv - 1, nh - 1), (1, 2)] {
            let (mut p, mut q) = (m.clone(), m.clone());
            p.w[[i, j]] += h;
            q.w[[i, j]] -= h;
            check(g.w[[i, j]], &p, &q);
        }
        for i in [0, nv - 1] {
            let (mut p, mut q) = (m.clone(), m.clone());
            p.b[i] += h;
            q.b[i] -= h;
            check(g.b[i], &p, &q);
        }
        for j in [0, nh - 1] {
            let (mut p, mut q) = (m.clone(), m.clone());
            p.c[j] += h;
            q.c[j] -= h;
            check(g.c[j], &p, &q);
        }
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(x * y)).sum();
    let n = |v: &[f32]| v.iter().map(|x| f64::from(x * x)).sum::<f64>().sqrt();
    dot / (n(a) * n(b))
}

fn distance(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from((x - y) * (x - y)))
        .sum::<f64>()
        .sqrt()
}

/// CD-k's estimate from 1,000 chains started at the data: with k = 200 it is the exact gradient up to sampling
/// noise (cosine > 0.95, relative error < 0.2); CD-1's is further away. Measured (seed 4): CD-200 cosine 0.997,
/// relative error 0.100; CD-1 cosine 0.952, relative error 0.314.
#[test]
fn long_cd_approaches_the_exact_gradient() {
    let m = random_rbm(5, 3, 1.5, 11);
    let patterns = array![[1.0f32, 1.0, 0.0, 0.0, 1.0], [0.0, 0.0, 1.0, 1.0, 0.0]];
    let data = Array2::from_shape_fn((1000, 5), |(r, i)| patterns[[r % 2, i]]);
    let exact = m.exact_gradient(data.view()).expect("small").flat();
    let draws = Draws::new(4, group::TRAIN, 0);
    let cd = |k| {
        let (v, _) = m.gibbs(data.clone(), k, draws, 0);
        rbm::contrast(&m, data.view(), v.view()).flat()
    };
    let (long, short) = (cd(200), cd(1));
    let norm = exact.iter().map(|x| f64::from(x * x)).sum::<f64>().sqrt();
    let (cos, err) = (cosine(&long, &exact), distance(&long, &exact) / norm);
    let err1 = distance(&short, &exact) / norm;
    assert!(
        cos > 0.95 && err < 0.2,
        "CD-200: cosine {cos}, relative error {err}"
    );
    assert!(
        err1 > 2.0 * err,
        "CD-1 relative error {err1} vs CD-200 {err}"
    );
    eprintln!(
        "CD-200: cosine {cos:.4}, relative error {err:.4}; CD-1: cosine {:.4}, relative error {err1:.4}",
        cosine(&short, &exact)
    );
}

/// AIS on a 12 × 8 RBM (weights N(0, 1)) agrees with the enumerated log Z within 0.1 nats and 3 standard errors.
/// Measured (100 runs, 300 temperatures, seed 1): 23.9017 ± 0.0212 against the exact 23.8746.
#[test]
fn ais_agrees_with_the_exact_partition_function() {
    let m = random_rbm(12, 8, 1.0, 21);
    let exact = m.log_z().expect("small");
    let mean = Array1::from_elem(12, 0.4f32);
    let est = m
        .ais(mean.view(), 100, 300, Draws::new(1, group::AIS, 0))
        .expect("ais");
    let gap = (est.log_z - exact).abs();
    assert!(
        gap < 0.1 && gap < 3.0 * est.std_err.max(0.01),
        "AIS {} ± {} vs exact {exact}",
        est.log_z,
        est.std_err
    );
    eprintln!(
        "AIS {:.4} ± {:.4} vs exact {exact:.4}",
        est.log_z, est.std_err
    );
    assert!(est.three_sigma.0 < est.log_z && est.log_z < est.three_sigma.1);
    assert!(
        m.ais(mean.view(), 1, 10, Draws::new(1, group::AIS, 0))
            .is_err()
    );
}

/// The pseudo-likelihood of a row is visible · log p(v_i | v_−i) for its flipped bit i.
#[test]
fn pseudo_likelihood_is_the_flipped_bits_conditional() {
    let m = random_rbm(6, 4, 1.0, 8);
    let v = Array2::from_shape_fn((10, 6), |(r, i)| ((r + i) % 3 == 0) as u8 as f32);
    let pl = m.pseudo_likelihood(v.view(), Draws::new(2, group::PSEUDO, 0), 7);
    let lp = m.log_prob(v.view()).expect("small");
    for r in 0..10 {
        let matches = (0..6).any(|i| {
            let mut f = v.row(r).to_owned();
            f[i] = 1.0 - f[i];
            let lf = m
                .log_prob(f.insert_axis(ndarray::Axis(0)).view())
                .expect("small")[0];
            let cond = lp[r]
                - (lp[r].max(lf)
                    + ((lp[r] - lp[r].max(lf)).exp() + (lf - lp[r].max(lf)).exp()).ln());
            (pl[r] - 6.0 * cond).abs() < 1e-6
        });
        assert!(matches, "row {r}: {}", pl[r]);
    }
}

/// Bernoulli draws: frequencies within 4σ of p, and a pure function of (seed, stream, step, phase).
#[test]
fn bernoulli_sampler_is_unbiased_and_reproducible() {
    let levels = [0.01f32, 0.2, 0.5, 0.77, 0.99];
    let p = Array2::from_shape_fn((4000, 5), |(_, j)| levels[j]);
    let d = Draws::new(9, group::SAMPLE, 0);
    let x = d.bernoulli(p.view(), 3, 0);
    for (j, &q) in levels.iter().enumerate() {
        let f = x.column(j).mean().expect("rows");
        let sd = (q * (1.0 - q) / 4000.0).sqrt();
        assert!((f - q).abs() < 4.0 * sd, "p {q}: frequency {f}");
    }
    assert_eq!(x, d.bernoulli(p.view(), 3, 0));
    assert_ne!(x, d.bernoulli(p.view(), 4, 0), "another step");
    assert_ne!(x, d.bernoulli(p.view(), 3, 1), "another phase");
    assert_ne!(
        x,
        Draws::new(10, group::SAMPLE, 0).bernoulli(p.view(), 3, 0),
        "another seed"
    );
    // Each unit's uniform is word j mod 4 of the counter [row, step, j/4, phase].
    let u = d.uniforms(3, 6, 5, 1);
    let word = rng::philox4x32([2, 5, 1, 1], [9, d.stream])[1];
    assert_eq!(u[[2, 5]], rng::uniform(word));
}

/// The source's initial weights have standard deviation 0.01 and zero biases; the corruption blanks image rows
/// 18 onwards.
#[test]
fn initialisation_and_corruption_follow_the_source() {
    let m = Rbm::new(784, 50, 3, 0);
    let sd = (m.w.mapv(|w| w * w).mean().expect("weights")).sqrt();
    assert!((sd - 0.01).abs() < 5e-4, "{sd}");
    assert!(m.b.iter().chain(&m.c).all(|&x| x == 0.0));
    assert_eq!(m, Rbm::new(784, 50, 3, 0));
    assert_ne!(m, Rbm::new(784, 50, 3, 1), "another layer");
    let x = Array2::from_elem((2, 784), 1.0f32);
    let c = rbm::blank_rows(x.view(), 28, 18);
    assert_eq!(c.sum(), 2.0 * 18.0 * 28.0);
    assert_eq!(c[[1, 18 * 28 - 1]], 1.0);
    assert_eq!(c[[1, 18 * 28]], 0.0);
}

/// CD-1 and persistent CD both raise the exact log-likelihood of two patterns on a 6 × 4 RBM (rate 0.1,
/// momentum 0.5, decay 1e-4, 300 updates of 20 examples); PCD carries its chains and counts its sweeps.
#[test]
fn cd_and_pcd_raise_the_exact_likelihood() {
    let patterns = array![
        [1.0f32, 1.0, 1.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    ];
    let data = Array2::from_shape_fn((20, 6), |(r, i)| patterns[[r % 2, i]]);
    for persistent in [false, true] {
        let config = rbm::TrainConfig {
            k: 1,
            learning_rate: 0.1,
            momentum: 0.5,
            weight_decay: 1e-4,
            persistent,
        };
        let mut m = Rbm::new(6, 4, 1, 0);
        let ll = |m: &Rbm| {
            m.log_prob(data.view())
                .expect("small")
                .mean()
                .expect("rows")
        };
        let before = ll(&m);
        let mut t = rbm::Trainer::new(&m, config, 1, 0);
        let losses: Vec<f32> = (0..300).map(|_| t.update(&mut m, data.view())).collect();
        assert!(
            losses[299] < losses[0],
            "persistent {persistent}: {losses:?}"
        );
        let after = ll(&m);
        assert!(
            after > before + 2.0,
            "persistent {persistent}: {before} → {after}"
        );
        assert_eq!(t.step, 300);
        assert_eq!(t.chains.is_some(), persistent);
    }
}

/// Gibbs chains from uniformly random starts sample the model: after 50 sweeps the states of 4,000 chains on a
/// 5 × 3 RBM are within total variation 0.06 of the exact p(v) (about 0.035 from sampling noise alone; measured
/// 0.0325, seed 6).
#[test]
fn gibbs_chains_sample_the_model() {
    let m = random_rbm(5, 3, 1.0, 13);
    let d = Draws::new(6, group::SAMPLE, 0);
    let start = m.random_visible(4000, d);
    let (v, _) = m.gibbs(start, 50, d, 1);
    let mut counts = [0.0f64; 32];
    for row in v.rows() {
        let s: usize = row
            .iter()
            .enumerate()
            .map(|(i, &x)| (x as usize) << i)
            .sum();
        counts[s] += 1.0 / 4000.0;
    }
    let p = m.log_prob(states(5).view()).expect("small").mapv(f64::exp);
    let tv: f64 = counts
        .iter()
        .zip(&p)
        .map(|(c, p)| (c - p).abs())
        .sum::<f64>()
        / 2.0;
    assert!(tv < 0.06, "total variation {tv}");
    eprintln!("Gibbs chains: total variation {tv:.4} from the exact p(v)");
}
