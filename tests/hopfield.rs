//! Hopfield networks: the lectures' reference cases (TC-07 to TC-10, TC-16), the energy and overlap
//! conventions, capacity against theory, and the recall kernel on the native GPU (lavapipe in CI) against its
//! CPU twin.
mod common;

use hebbian_playground::data::letters::lecture_letters;
use hebbian_playground::engine::Engine;
use hebbian_playground::error::Error;
use hebbian_playground::kernels::recall::{self, MAX_PROBES};
use hebbian_playground::nets::hopfield::{
    self, Dynamics, Outcome, RecallParams, StateKind, Storage, SweepSpec, Tie,
};
use ndarray::{Array1, Array2, ArrayView2, array, s};
use std::collections::HashMap;

fn rows(values: &[&[f32]]) -> Array2<f32> {
    Array2::from_shape_fn((values.len(), values[0].len()), |(i, j)| values[i][j])
}

fn binary_to_bipolar(b: &[f32]) -> Vec<f32> {
    b.iter().map(|&v| 2.0 * v - 1.0).collect()
}

fn params(kind: StateKind, dynamics: Dynamics, max_sweeps: u32, seed: u32) -> RecallParams {
    RecallParams::new(kind, dynamics, max_sweeps, seed)
}

/// Letters T, U, C of 004 as bipolar rows.
fn tuc() -> Array2<f32> {
    let l = lecture_letters();
    rows(&[&l[0].bipolar(), &l[1].bipolar(), &l[2].bipolar()])
}

/// Whether no unit of `s` would change under the sign rule (then every visiting order keeps it).
fn is_fixed(w: ArrayView2<f32>, s: &Array1<f32>, kind: StateKind) -> bool {
    (0..s.len()).all(|i| {
        let mut t = s.clone();
        !hopfield::update_unit(w, t.view_mut(), i, kind).flipped
    })
}

/// Repeated asynchronous sweeps in one fixed order until a sweep changes nothing.
fn sweeps_in_order(w: ArrayView2<f32>, s: &mut Array1<f32>, order: &[usize], kind: StateKind) {
    for _ in 0..100 {
        let mut changed = false;
        for &i in order {
            changed |= hopfield::update_unit(w, s.view_mut(), i, kind).flipped;
        }
        if !changed {
            return;
        }
    }
    panic!("order {order:?} did not settle in 100 sweeps");
}

/// Checks that every one of the N! fixed visiting orders (repeated sweeps in that order) takes `probe` to
/// `target`; returns how many orders were checked. Orders are walked depth-first, sharing the first-sweep
/// updates of their common prefix. Where every order below a node ends its first sweep on the target (a fixed
/// point, which later sweeps keep), that depends only on the node's state and the units left, not on the
/// prefix, so it is remembered; orders that end their first sweep elsewhere are swept on in full.
fn every_order_reaches(
    w: ArrayView2<f32>,
    probe: &Array1<f32>,
    target: &Array1<f32>,
    kind: StateKind,
) -> usize {
    assert!(is_fixed(w, target, kind), "the target is a fixed point");
    struct Walk<'a> {
        w: ArrayView2<'a, f32>,
        target: &'a Array1<f32>,
        kind: StateKind,
        order: Vec<usize>,
        settled: HashMap<(u32, u32), usize>,
    }
    impl Walk<'_> {
        /// (orders below, whether all of them end their first sweep on the target).
        fn visit(&mut self, s: &Array1<f32>) -> (usize, bool) {
            let n = s.len();
            if self.order.len() == n {
                if s == self.target {
                    return (1, true);
                }
                let mut again = s.clone();
                sweeps_in_order(self.w, &mut again, &self.order, self.kind);
                assert_eq!(&again, self.target, "order {:?}", self.order);
                return (1, false);
            }
            let bits = s
                .iter()
                .enumerate()
                .fold(0u32, |b, (i, &v)| b | (u32::from(v == 1.0) << i));
            let used = self.order.iter().fold(0u32, |b, &i| b | (1 << i));
            if let Some(&count) = self.settled.get(&(bits, used)) {
                return (count, true);
            }
            let (mut count, mut all) = (0, true);
            for i in (0..n).filter(|i| used & (1 << i) == 0) {
                let mut next = s.clone();
                hopfield::update_unit(self.w, next.view_mut(), i, self.kind);
                self.order.push(i);
                let (c, a) = self.visit(&next);
                self.order.pop();
                count += c;
                all &= a;
            }
            if all {
                self.settled.insert((bits, used), count);
            }
            (count, all)
        }
    }
    let mut walk = Walk {
        w,
        target,
        kind,
        order: Vec::new(),
        settled: HashMap::new(),
    };
    walk.visit(probe).0
}

// TC-07: the worked 5-neuron example of 004 §2-2 (binary states, binary fields, ties kept).
#[test]
fn tc07_five_neuron_example() {
    let patterns = rows(&[
        &binary_to_bipolar(&[0., 1., 0., 1., 1.]),
        &binary_to_bipolar(&[1., 0., 1., 1., 0.]),
    ]);
    let w = hopfield::weights(patterns.view(), Storage::Hebb).unwrap();
    let expected = array![
        [0., -2., 2., 0., -2.],
        [-2., 0., -2., 0., 2.],
        [2., -2., 0., 0., -2.],
        [0., 0., 0., 0., 0.],
        [-2., 2., -2., 0., 0.]
    ];
    assert_eq!(w, expected);
    let probe = array![0., 1., 0., 1., 0.];
    let s1 = array![0., 1., 0., 1., 1.];
    // The slides' order i = 1, 3, 5, 2, 4 (1-based) with fields −2, −2, +2, +2, 0.
    let mut s = probe.clone();
    let steps: Vec<(f64, f32)> = [0, 2, 4, 1, 3]
        .iter()
        .map(|&i| {
            let u = hopfield::update_unit(w.view(), s.view_mut(), i, StateKind::Binary);
            (u.field, s[i])
        })
        .collect();
    assert_eq!(
        steps,
        vec![(-2.0, 0.0), (-2.0, 0.0), (2.0, 1.0), (2.0, 1.0), (0.0, 1.0)]
    );
    assert_eq!(s, s1);
    // All 120 orders.
    assert_eq!(
        every_order_reaches(w.view(), &probe, &s1, StateKind::Binary),
        120
    );
    // And the random orders of the recall itself.
    let probes = Array2::from_shape_fn((50, 5), |(_, j)| probe[j]);
    let r = recall::recall_cpu(
        w.view(),
        probes.view(),
        &params(StateKind::Binary, Dynamics::Asynchronous, 10, 7),
    )
    .unwrap();
    for (b, state) in r.states.rows().into_iter().enumerate() {
        assert_eq!(state, s1.view(), "probe {b}");
        assert_eq!(r.outcome[b], Outcome::FixedPoint);
    }
}

// TC-08: `4.Hopfield(1).py`, T and U stored, corrupted T and U recalled on binary states.
#[test]
fn tc08_letters_t_and_u() {
    let l = lecture_letters();
    let patterns = rows(&[&l[0].bipolar(), &l[1].bipolar()]);
    let w = hopfield::weights(patterns.view(), Storage::Hebb).unwrap();
    let printed = array![
        [0., 0., 2., 0., 0., 0., 0., 2., 0.],
        [0., 0., 0., -2., 2., -2., -2., 0., -2.],
        [2., 0., 0., 0., 0., 0., 0., 2., 0.],
        [0., -2., 0., 0., -2., 2., 2., 0., 2.],
        [0., 2., 0., -2., 0., -2., -2., 0., -2.],
        [0., -2., 0., 2., -2., 0., 2., 0., 2.],
        [0., -2., 0., 2., -2., 2., 0., 0., 2.],
        [2., 0., 2., 0., 0., 0., 0., 0., 0.],
        [0., -2., 0., 2., -2., 2., 2., 0., 0.]
    ];
    assert_eq!(w, printed);
    let t = Array1::from(
        l[0].binary()
            .iter()
            .map(|&b| f32::from(b))
            .collect::<Vec<_>>(),
    );
    let u = Array1::from(
        l[1].binary()
            .iter()
            .map(|&b| f32::from(b))
            .collect::<Vec<_>>(),
    );
    let t_bad = array![1., 0., 1., 0., 1., 0., 0., 1., 0.];
    let u_bad = array![1., 0., 1., 0., 0., 1., 1., 1., 0.];
    // Every fixed order (9! each) …
    assert_eq!(
        every_order_reaches(w.view(), &t_bad, &t, StateKind::Binary),
        362_880
    );
    assert_eq!(
        every_order_reaches(w.view(), &u_bad, &u, StateKind::Binary),
        362_880
    );
    // … and 200 seeded random orders each (a fresh order every sweep, 10 sweeps as in the listing).
    let probes = Array2::from_shape_fn(
        (400, 9),
        |(b, j)| {
            if b % 2 == 0 { t_bad[j] } else { u_bad[j] }
        },
    );
    let r = recall::recall_cpu(
        w.view(),
        probes.view(),
        &params(StateKind::Binary, Dynamics::Asynchronous, 10, 2024),
    )
    .unwrap();
    for (b, state) in r.states.rows().into_iter().enumerate() {
        let target = if b % 2 == 0 { &t } else { &u };
        assert_eq!(state, target.view(), "probe {b}");
        assert_eq!(r.outcome[b], Outcome::FixedPoint, "probe {b}");
    }
}

// TC-09: T, U, C stored (bipolar); the energies of 004 §2-6 and ΔE = 2 s_i h_i.
#[test]
fn tc09_energies_of_t_u_c() {
    let p = tuc();
    let w = hopfield::weights(p.view(), Storage::Hebb).unwrap();
    let expected = array![
        [0., 1., 3., 1., -1., -1., 1., 3., 1.],
        [1., 0., 1., -1., 1., -3., -1., 1., -1.],
        [3., 1., 0., 1., -1., -1., 1., 3., 1.],
        [1., -1., 1., 0., -3., 1., 3., 1., 3.],
        [-1., 1., -1., -3., 0., -1., -3., -1., -3.],
        [-1., -3., -1., 1., -1., 0., 1., -1., 1.],
        [1., -1., 1., 3., -3., 1., 0., 1., 3.],
        [3., 1., 3., 1., -1., -1., 1., 0., 1.],
        [1., -1., 1., 3., -3., 1., 3., 1., 0.]
    ];
    assert_eq!(w, expected);
    let w = w.view();
    let b = StateKind::Bipolar;
    let mut s = array![1., -1., 1., -1., 1., -1., -1., 1., -1.];
    assert_eq!(hopfield::energy(w, s.view()), -12.0);
    // s2 (index 1): ΔE = −20, flipped, E = −32.
    let u = hopfield::update_unit(w, s.view_mut(), 1, b);
    assert!(u.flipped);
    assert_eq!(u.delta_energy, -20.0);
    assert_eq!(hopfield::energy(w, s.view()), -32.0);
    // s3 (index 2): flipping would give −24 (ΔE +8), so it stays.
    let u = hopfield::update_unit(w, s.view_mut(), 2, b);
    assert!(!u.flipped);
    assert_eq!(u.delta_energy, 8.0);
    assert_eq!(hopfield::energy(w, s.view()), -32.0);
    assert_eq!(s, p.row(0), "one flip turned T' into T");
    for (row, e) in p.rows().into_iter().zip([-32.0, -44.0, -40.0]) {
        assert_eq!(hopfield::energy(w, row), e);
        assert!(is_fixed(w, &row.to_owned(), b));
        for i in 0..9 {
            assert!(
                f64::from(row[i]) * hopfield::field(w, row)[i] > 0.0,
                "s_i h_i > 0"
            );
        }
    }
    let r = recall::recall_cpu(w, p.view(), &params(b, Dynamics::Asynchronous, 5, 1)).unwrap();
    assert_eq!(r.states, p);
    assert_eq!(r.sweeps_used, vec![1, 1, 1]);
    // ΔE of a flip equals 2 s_i h_i and the energy difference, for every unit of several states.
    let states = [
        p.row(0).to_owned(),
        p.row(1).to_owned(),
        array![1., -1., 1., -1., 1., -1., -1., 1., -1.],
        array![-1., -1., 1., 1., 1., -1., 1., -1., 1.],
    ];
    for st in &states {
        let h = hopfield::field(w, st.view());
        for i in 0..9 {
            let de = hopfield::flip_delta_energy(w, st.view(), i, b);
            assert_eq!(de, 2.0 * f64::from(st[i]) * h[i]);
            let mut f = st.clone();
            f[i] = -f[i];
            assert_eq!(
                de,
                hopfield::energy(w, f.view()) - hopfield::energy(w, st.view())
            );
        }
    }
}

// TC-10: T', C', U' on the T/U/C weights reach T, C, U for all 9! = 362 880 fixed sweep orders.
#[test]
fn tc10_every_order_recalls_t_c_u() {
    let p = tuc();
    let w = hopfield::weights(p.view(), Storage::Hebb).unwrap();
    let bip = |b: [f32; 9]| Array1::from(binary_to_bipolar(&b));
    let cases = [
        (
            bip([1., 0., 1., 0., 1., 0., 0., 1., 0.]),
            p.row(0).to_owned(),
        ),
        (
            bip([0., 1., 1., 1., 0., 0., 0., 1., 1.]),
            p.row(2).to_owned(),
        ),
        (
            bip([1., 0., 1., 0., 0., 1., 1., 1., 0.]),
            p.row(1).to_owned(),
        ),
    ];
    for (probe, target) in &cases {
        assert_eq!(
            every_order_reaches(w.view(), probe, target, StateKind::Bipolar),
            362_880
        );
    }
}

// TC-16: the capacity lines.
#[test]
fn tc16_capacity_bounds() {
    let near = |a: f64, b: f64| (a - b).abs() < 5e-3;
    let c9 = hopfield::capacity_bounds(9);
    assert!(
        near(c9.hebb_exact, 2.048) && near(c9.storkey, 4.29),
        "{c9:?}"
    );
    let c100 = hopfield::capacity_bounds(100);
    assert!(
        near(c100.hebb_exact, 10.857) && near(c100.storkey, 32.95),
        "{c100:?}"
    );
    assert!(near(c100.hebb_with_errors, 13.8));
    let c784 = hopfield::capacity_bounds(784);
    assert!(
        near(c784.hebb_exact, 58.82) && near(c784.storkey, 214.74),
        "{c784:?}"
    );
    assert_eq!(c784.pseudo_inverse, 784.0);
}

/// A random symmetric W with zero diagonal and entries k/8 (|k| ≤ 16): every field is exact in f32 and every
/// energy exact in f64, so "never increases" can be checked without a tolerance.
fn dyadic_weights(n: usize, seed: u32) -> Array2<f32> {
    let mut w = Array2::zeros((n, n));
    for i in 0..n {
        for j in i + 1..n {
            let x = hebbian_playground::rng::philox4x32([i as u32, j as u32, 0, 0], [seed, 99])[0];
            let v = (x % 33) as f32 / 8.0 - 2.0;
            w[[i, j]] = v;
            w[[j, i]] = v;
        }
    }
    w
}

#[test]
fn energy_never_increases_under_asynchronous_updates() {
    let n = 24;
    let mut flips = 0;
    for seed in 0..40u32 {
        let w = dyadic_weights(n, seed);
        let kind = if seed % 2 == 0 {
            StateKind::Bipolar
        } else {
            StateKind::Binary
        };
        let probe = Array1::from_shape_fn(n, |i| {
            let x = hebbian_playground::rng::philox4x32([i as u32, 0, 0, 0], [seed, 7])[0];
            if x >> 31 == 1 { 1.0 } else { kind.low() }
        });
        let t = hopfield::recall_trace(
            w.view(),
            probe.view(),
            Array2::zeros((0, n)).view(),
            &params(kind, Dynamics::Asynchronous, 50, seed),
            seed,
        )
        .unwrap();
        assert_eq!(t.outcome, Outcome::FixedPoint, "seed {seed}");
        assert_eq!(t.energy.len(), 1 + n * t.sweeps_used as usize);
        for pair in t.energy.windows(2) {
            assert!(
                pair[1] <= pair[0],
                "seed {seed}: {} then {}",
                pair[0],
                pair[1]
            );
        }
        // The energies the trace adds up are the energies of its states.
        for (k, state) in t.states.rows().into_iter().enumerate() {
            assert_eq!(
                t.energy[k * n],
                hopfield::energy(w.view(), state),
                "seed {seed}, sweep {k}"
            );
        }
        for u in &t.updates {
            assert_eq!(
                u.flipped,
                u.delta_energy < 0.0,
                "a unit flips exactly when that lowers E"
            );
        }
        flips += t.updates.iter().filter(|u| u.flipped).count();
    }
    assert!(flips > 100, "the probes did move ({flips} flips)");
}

#[test]
fn energy_never_increases_with_real_valued_weights() {
    // Storkey weights are not integers: the recall's f32 fields round, so allow rounding (1e-9 relative).
    let patterns = hopfield::random_patterns(12, 60, 5, 0).unwrap();
    let w = hopfield::weights(patterns.view(), Storage::Storkey).unwrap();
    for index in 0..20u32 {
        let probe =
            hopfield::probe_with_overlap(patterns.row(index as usize % 12), 0.2, 5, index).unwrap();
        let t = hopfield::recall_trace(
            w.view(),
            probe.view(),
            patterns.view(),
            &params(StateKind::Bipolar, Dynamics::Asynchronous, 50, 3),
            index,
        )
        .unwrap();
        let scale = t.energy.iter().fold(1.0f64, |m, e| m.max(e.abs()));
        for (k, state) in t.states.rows().into_iter().enumerate().skip(1) {
            let before = hopfield::energy(w.view(), t.states.row(k - 1));
            let after = hopfield::energy(w.view(), state);
            assert!(
                after <= before + 1e-9 * scale,
                "probe {index}, sweep {k}: {before} then {after}"
            );
            assert!(
                (t.energy[k * 60] - after).abs() <= 1e-6 * scale,
                "{} vs {after}, scale {scale}",
                t.energy[k * 60]
            );
        }
    }
}

#[test]
fn synchronous_two_cycles_are_detected() {
    // Two units that each want the other's state: synchronous updates swap them forever.
    let w = array![[0., 1.], [1., 0.]];
    let probe = array![[1., -1.]];
    let sync = params(StateKind::Bipolar, Dynamics::Synchronous, 20, 0);
    let r = recall::recall_cpu(w.view(), probe.view(), &sync).unwrap();
    assert_eq!(r.outcome, vec![Outcome::Cycle2]);
    assert_eq!(r.sweeps_used, vec![2]);
    assert_eq!(r.states.row(0), probe.row(0), "state(2) = state(0)");
    let t = hopfield::recall_trace(
        w.view(),
        probe.row(0),
        Array2::zeros((0, 2)).view(),
        &sync,
        0,
    )
    .unwrap();
    assert_eq!(t.states, array![[1., -1.], [-1., 1.], [1., -1.]]);
    assert_eq!(t.energy, vec![1.0, 1.0, 1.0]);
    // One sweep is not enough to tell: still changing.
    let one = params(StateKind::Bipolar, Dynamics::Synchronous, 1, 0);
    let r = recall::recall_cpu(w.view(), probe.view(), &one).unwrap();
    assert_eq!((r.outcome[0], r.sweeps_used[0]), (Outcome::MaxSweeps, 1));
    // Asynchronous updates of the same network settle on a fixed point.
    let r = recall::recall_cpu(
        w.view(),
        probe.view(),
        &params(StateKind::Bipolar, Dynamics::Asynchronous, 20, 0),
    )
    .unwrap();
    assert_eq!(r.outcome, vec![Outcome::FixedPoint]);
    assert_eq!(r.states[[0, 0]], r.states[[0, 1]]);
    // A stored pattern with half its units flipped, in a Hebbian network of two patterns.
    let p = hopfield::random_patterns(2, 40, 1, 0).unwrap();
    let w = hopfield::weights(p.view(), Storage::Hebb).unwrap();
    let mut probes = Array2::zeros((64, 40));
    for b in 0..64 {
        probes
            .row_mut(b)
            .assign(&hopfield::probe_with_overlap(p.row(b % 2), 0.0, 4, b as u32).unwrap());
    }
    let r = recall::recall_cpu(w.view(), probes.view(), &sync).unwrap();
    for (b, o) in r.outcome.iter().enumerate() {
        if *o == Outcome::Cycle2 {
            let t =
                hopfield::recall_trace(w.view(), probes.row(b), p.view(), &sync, b as u32).unwrap();
            let k = t.sweeps_used as usize;
            assert_eq!(t.states.row(k), t.states.row(k - 2));
            assert_ne!(t.states.row(k), t.states.row(k - 1));
        }
    }
    assert!(r.outcome.iter().all(|o| *o != Outcome::MaxSweeps));
    // The GPU kernel detects the same cycles, after the same sweeps.
    if let Some(gpu) = common::gpu() {
        assert!(r.outcome.contains(&Outcome::Cycle2), "{:?}", r.outcome);
        let on_gpu =
            pollster::block_on(recall::recall_gpu(&gpu, w.view(), probes.view(), &sync)).unwrap();
        assert_eq!(on_gpu, r);
        let swap = array![[0., 1.], [1., 0.]];
        let pair = array![[1., -1.]];
        let out =
            pollster::block_on(recall::recall_gpu(&gpu, swap.view(), pair.view(), &sync)).unwrap();
        assert_eq!((out.outcome[0], out.sweeps_used[0]), (Outcome::Cycle2, 2));
    }
}

#[test]
fn probes_have_exactly_the_requested_overlap() {
    for &n in &[1usize, 9, 100, 784] {
        let p = hopfield::random_patterns(1, n, 11, 3).unwrap();
        for &q0 in &[-1.0f32, -0.3, 0.0, 0.2, 0.5, 0.9, 1.0] {
            let probe = hopfield::probe_with_overlap(p.row(0), q0, 9, 17).unwrap();
            let flips = hopfield::flips_for_overlap(n, q0);
            assert_eq!(
                probe.iter().zip(p.row(0)).filter(|(a, b)| a != b).count(),
                flips
            );
            let q = hopfield::overlaps(p.view(), probe.view(), StateKind::Bipolar)[0];
            assert_eq!(q, (1.0 - 2.0 * flips as f64 / n as f64) as f32);
            assert!(
                (q - q0).abs() <= 1.0 / n as f32 + 1e-6,
                "n {n}: asked {q0}, got {q}"
            );
            assert_eq!(
                probe,
                hopfield::probe_with_overlap(p.row(0), q0, 9, 17).unwrap()
            );
        }
    }
    let p = hopfield::random_patterns(1, 100, 1, 0).unwrap();
    let a = hopfield::probe_with_overlap(p.row(0), 0.5, 1, 0).unwrap();
    let b = hopfield::probe_with_overlap(p.row(0), 0.5, 1, 1).unwrap();
    assert_ne!(a, b, "each index flips its own units");
    assert_eq!(hopfield::flips_for_overlap(100, 0.2), 40);
    // Binary overlaps map 0/1 to −1/+1 first.
    let q = hopfield::overlaps(
        array![[1., -1., 1., 1.]].view(),
        array![1., 0., 0., 1.].view(),
        StateKind::Binary,
    );
    assert_eq!(q[0], 0.5);
}

#[test]
fn storage_rules_match_their_formulas() {
    let p = hopfield::random_patterns(4, 12, 8, 0).unwrap();
    let (np, n) = p.dim();
    // Hebb normalised is Hebb / N.
    let hebb = hopfield::weights(p.view(), Storage::Hebb).unwrap();
    let norm = hopfield::weights(p.view(), Storage::HebbNormalised).unwrap();
    assert_eq!(norm, hebb.mapv(|v| v / n as f32));
    // Storkey, written out as in the paper: explicit sums over k ≠ i, j, sequential over patterns.
    let mut w = vec![vec![0.0f64; n]; n];
    for m in 0..np {
        let x: Vec<f64> = p.row(m).iter().map(|&v| f64::from(v)).collect();
        let old = w.clone();
        let h = |i: usize, j: usize| -> f64 {
            (0..n)
                .filter(|&k| k != i && k != j)
                .map(|k| old[i][k] * x[k])
                .sum()
        };
        for i in 0..n {
            for j in 0..n {
                if i != j {
                    w[i][j] =
                        old[i][j] + (x[i] * x[j] - x[i] * h(j, i) - h(i, j) * x[j]) / n as f64;
                }
            }
        }
    }
    let storkey = hopfield::weights(p.view(), Storage::Storkey).unwrap();
    for i in 0..n {
        for j in 0..n {
            assert!(
                (f64::from(storkey[[i, j]]) - w[i][j]).abs() < 1e-6,
                "({i}, {j})"
            );
        }
    }
    // Pseudo-inverse: Ξᵀ (Ξ Ξᵀ)⁻¹ Ξ with the overlap matrix inverted by Gauss–Jordan, diagonal zeroed.
    let x = p.mapv(f64::from);
    let g = x.dot(&x.t());
    let mut a = ndarray::concatenate![ndarray::Axis(1), g, Array2::<f64>::eye(np)];
    for c in 0..np {
        let pivot = a[[c, c]];
        a.row_mut(c).mapv_inplace(|v| v / pivot);
        for r in 0..np {
            if r != c {
                let f = a[[r, c]];
                let row_c = a.row(c).to_owned();
                a.row_mut(r).zip_mut_with(&row_c, |v, pc| *v -= f * pc);
            }
        }
    }
    let inv = a.slice(s![.., np..]).to_owned();
    let m = x.t().dot(&inv).dot(&x);
    let pinv = hopfield::weights(p.view(), Storage::PseudoInverse).unwrap();
    for i in 0..n {
        for j in 0..n {
            let expected = if i == j { 0.0 } else { m[[i, j]] };
            assert!(
                (f64::from(pinv[[i, j]]) - expected).abs() < 1e-6,
                "({i}, {j})"
            );
        }
    }
    for w in [&hebb, &storkey, &pinv] {
        assert_eq!(w, &w.t(), "symmetric");
        assert!(w.diag().iter().all(|&d| d == 0.0));
    }
}

#[test]
fn invalid_inputs_are_refused_with_the_field_named() {
    let msg = |e: Error| e.to_string();
    // A repeated (or negated) pattern makes the overlap matrix singular.
    let p = hopfield::random_patterns(3, 20, 1, 0).unwrap();
    let mut repeated = p.clone();
    repeated.row_mut(2).assign(&p.row(0).mapv(|v| -v));
    let e = msg(hopfield::weights(repeated.view(), Storage::PseudoInverse).unwrap_err());
    assert!(
        e.contains("pattern 2") && e.contains("linearly independent"),
        "{e}"
    );
    assert!(hopfield::weights(repeated.view(), Storage::Hebb).is_ok());
    let e = msg(hopfield::weights(array![[1., 0.5]].view(), Storage::Hebb).unwrap_err());
    assert!(e.contains("pattern 0, unit 1 is 0.5"), "{e}");
    let e = msg(hopfield::weights(Array2::zeros((0, 4)).view(), Storage::Hebb).unwrap_err());
    assert!(e.contains("patterns:"), "{e}");
    let e = msg(hopfield::probe_with_overlap(p.row(0), 1.5, 0, 0).unwrap_err());
    assert!(e.contains("q0: q(0) is 1.5"), "{e}");
    let w = hopfield::weights(p.view(), Storage::Hebb).unwrap();
    let probes = p.slice(s![0..1, ..]);
    let e = msg(recall::recall_cpu(
        w.view(),
        probes,
        &params(StateKind::Bipolar, Dynamics::Synchronous, 0, 0),
    )
    .unwrap_err());
    assert!(e.contains("max_sweeps"), "{e}");
    let e = msg(recall::recall_cpu(
        w.view(),
        probes,
        &params(StateKind::Binary, Dynamics::Synchronous, 5, 0),
    )
    .unwrap_err());
    assert!(e.contains("binary states are 0 or 1"), "{e}");
    let mut diag = w.clone();
    diag[[3, 3]] = 1.0;
    let e = msg(recall::recall_cpu(
        diag.view(),
        probes,
        &params(StateKind::Bipolar, Dynamics::Synchronous, 5, 0),
    )
    .unwrap_err());
    assert!(e.contains("weight (3, 3)") && e.contains("diagonal"), "{e}");
    let e = msg(recall::recall_cpu(
        w.slice(s![..19, ..19]),
        probes,
        &params(StateKind::Bipolar, Dynamics::Synchronous, 5, 0),
    )
    .unwrap_err());
    assert!(e.contains("needs 19 units"), "{e}");
    let spec = SweepSpec {
        n: 10,
        storage: Storage::PseudoInverse,
        p_values: vec![4, 4, 11],
        q0_values: vec![0.5, -2.0],
        trials: 0..0,
        dynamics: Dynamics::Asynchronous,
        max_sweeps: 10,
        seed: 0,
        tie: Tie::Keep,
    };
    let e = msg(spec.validate().unwrap_err());
    for field in ["p_values/1", "p_values/2", "q0_values/1", "trials"] {
        assert!(e.contains(field), "{field} in {e}");
    }
    assert!(e.contains("never linearly independent"), "{e}");
    let spec = SweepSpec {
        n: 0,
        p_values: vec![1],
        q0_values: vec![1.0],
        trials: 0..1,
        ..spec
    };
    assert!(msg(spec.validate().unwrap_err()).contains("n: 0 units"));
    // Probe numbers run on across the trials before the first one run: they must stay below MAX_PROBES.
    let spec = SweepSpec {
        n: 10,
        p_values: vec![1, 2],
        trials: MAX_PROBES / 2..MAX_PROBES / 2 + 1,
        ..spec
    };
    let e = msg(spec.validate().unwrap_err());
    assert!(e.contains("trials") && e.contains("probe numbers"), "{e}");
}

#[test]
fn traced_recall_matches_the_batched_recall() {
    let p = hopfield::random_patterns(6, 50, 2, 0).unwrap();
    for storage in [Storage::Hebb, Storage::Storkey] {
        let w = hopfield::weights(p.view(), storage).unwrap();
        for dynamics in [Dynamics::Asynchronous, Dynamics::Synchronous] {
            let pr = params(StateKind::Bipolar, dynamics, 30, 4);
            let mut probes = Array2::zeros((6, 50));
            for b in 0..6 {
                probes
                    .row_mut(b)
                    .assign(&hopfield::probe_with_overlap(p.row(b), 0.3, 4, b as u32).unwrap());
            }
            let r = recall::recall_cpu(w.view(), probes.view(), &pr).unwrap();
            for b in 0..6 {
                let t = hopfield::recall_trace(w.view(), probes.row(b), p.view(), &pr, b as u32)
                    .unwrap();
                let last = t.sweeps_used as usize;
                assert_eq!(t.states.row(last), r.states.row(b));
                assert_eq!((t.sweeps_used, t.outcome), (r.sweeps_used[b], r.outcome[b]));
                assert_eq!(t.states.row(0), probes.row(b));
                assert_eq!(t.overlaps.dim(), (last + 1, 6));
                let flips = hopfield::flips_for_overlap(50, 0.3);
                assert_eq!(t.overlaps[[0, b]], (1.0 - 2.0 * flips as f64 / 50.0) as f32);
                assert_eq!(t.updates.len(), 50 * last);
                let energies = match dynamics {
                    Dynamics::Asynchronous => 1 + 50 * last,
                    Dynamics::Synchronous => 1 + last,
                };
                assert_eq!(t.energy.len(), energies);
            }
        }
    }
}

fn sweep(
    n: usize,
    storage: Storage,
    p_values: Vec<usize>,
    q0: Vec<f32>,
    trials: usize,
) -> SweepSpec {
    SweepSpec {
        n,
        storage,
        p_values,
        q0_values: q0,
        trials: 0..trials,
        dynamics: Dynamics::Asynchronous,
        max_sweeps: 50,
        seed: 31,
        tie: Tie::Keep,
    }
}

// Capacity, N = 100, asynchronous updates from q(0) = 1 (the stored pattern itself), 40 trials per P.
// Theory: N/(2 ln N) = 10.9 patterns for exact recall of every pattern, 0.138 N = 13.8 with a few per cent of
// errors, Storkey N/√(2 ln N) = 33. Rates measured with 400 trials (seed 5): Hebb exact 100% at P = 5, 98% at
// P = 10, 45% at P = 20, 17% at P = 25; Storkey 100% at P = 20 and 25. Required here: Hebb ≥ 90% exact at
// P = 5 and 10 ("nearly all"); Storkey ≥ 90% at P = 20 and 25, where Hebb is at least 25 points lower at P = 20
// and ≤ 40% at P = 25. With 40 trials each bound is several standard errors from the measured rate.
#[test]
fn capacity_of_hebb_and_storkey_at_n_100() {
    let mut engine = Engine::cpu("test");
    let trials = 40;
    let hebb = pollster::block_on(hopfield::capacity_sweep(
        &mut engine,
        &sweep(100, Storage::Hebb, vec![5, 10, 20, 25], vec![1.0], trials),
    ))
    .unwrap();
    let storkey = pollster::block_on(hopfield::capacity_sweep(
        &mut engine,
        &sweep(100, Storage::Storkey, vec![20, 25], vec![1.0], trials),
    ))
    .unwrap();
    let (h, st) = (
        hebb.exact_fraction().column(0).to_vec(),
        storkey.exact_fraction().column(0).to_vec(),
    );
    eprintln!("exact: hebb {h:?}, storkey {st:?}");
    assert!(h[0] >= 0.9 && h[1] >= 0.9, "{h:?}");
    assert!(st[0] >= 0.9 && st[1] >= 0.9, "{st:?}");
    assert!(st[0] - h[2] >= 0.25 && h[3] <= 0.4, "{h:?} {st:?}");
    assert_eq!(hebb.realised_q0, vec![1.0]);
    assert_eq!(hebb.mean_overlap()[[0, 0]], 1.0);
}

// Hebb beyond a quarter of N: most trials end below overlap 0.9 (the sweep reports means, so the trials are
// recalled directly here). Measured with 300 trials at N = 100: 62% below 0.9 at P = 25, 83% at P = 30. Required:
// more than half, with 120 trials at P = 25 (the binomial chance of ≤ 60 at a rate of 62% is about 1%), 40 at
// P = 30, and 5 at N = 784, P = 196 (the mean final overlap there is about 0.35).
#[test]
fn hebb_loses_the_pattern_beyond_a_quarter_of_n() {
    for &(n, p, trials) in &[(100usize, 25usize, 120usize), (100, 30, 40), (784, 196, 5)] {
        let mut below = 0;
        for t in 0..trials {
            let pats = hopfield::random_patterns(p, n, 77, t as u32).unwrap();
            let w = hopfield::weights(pats.view(), Storage::Hebb).unwrap();
            let r = recall::recall_cpu(
                w.view(),
                pats.slice(s![0..1, ..]),
                &params(StateKind::Bipolar, Dynamics::Asynchronous, 50, t as u32),
            )
            .unwrap();
            let q = hopfield::overlaps(
                pats.slice(s![0..1, ..]),
                r.states.row(0),
                StateKind::Bipolar,
            )[0];
            below += usize::from(q < 0.9);
        }
        eprintln!("N {n}, P {p}: {below} of {trials} below 0.9");
        assert!(
            below * 2 > trials,
            "N {n}, P {p}: {below} of {trials} below 0.9"
        );
    }
}

// The pseudo-inverse rule makes every stored pattern a fixed point for every P < N (h_i = (1 − M_ii) ξ_i with
// M the projector onto the patterns, M_ii < 1).
#[test]
fn pseudo_inverse_stores_every_pattern_up_to_n_minus_1() {
    let n = 100;
    for p in [10, 50, 90, 99] {
        let pats = hopfield::random_patterns(p, n, 13, p as u32).unwrap();
        let w = hopfield::weights(pats.view(), Storage::PseudoInverse).unwrap();
        let r = recall::recall_cpu(
            w.view(),
            pats.view(),
            &params(StateKind::Bipolar, Dynamics::Asynchronous, 5, 0),
        )
        .unwrap();
        assert_eq!(r.states, pats, "P = {p}");
        assert!(r.sweeps_used.iter().all(|&s| s == 1), "P = {p}");
    }
}

// N = 784, kept cheap (the weights are the cost): Hebb at P = 40 < N/(2 ln N) = 58.8 recalls exactly from
// q(0) = 1 and from q(0) = 0.6 in at least 7 of 8 trials (the Gaussian crosstalk estimate puts a pattern's chance
// of an unstable unit near 0.4%).
#[test]
fn capacity_of_hebb_at_n_784() {
    let mut engine = Engine::cpu("test");
    let s = pollster::block_on(hopfield::capacity_sweep(
        &mut engine,
        &sweep(784, Storage::Hebb, vec![40], vec![0.6, 1.0], 8),
    ))
    .unwrap();
    eprintln!(
        "N 784, P 40: exact {:?}, overlap {:?}",
        s.exact_fraction(),
        s.mean_overlap()
    );
    assert!(s.exact_fraction().iter().all(|&f| f >= 7.0 / 8.0));
    assert_eq!(
        s.realised_q0,
        vec![0.5994898, 1.0],
        "q(0) = 1 − 2 · 157 / 784"
    );
}

// -- GPU against CPU (lavapipe natively) --------------------------------------------------------------------

fn probes_for(p: ArrayView2<f32>, count: usize, kind: StateKind, seed: u32) -> Array2<f32> {
    let mut probes = Array2::zeros((count, p.ncols()));
    for b in 0..count {
        let q0 = [1.0, 0.8, 0.5, 0.2, 0.0, -0.4][b % 6];
        let probe = hopfield::probe_with_overlap(p.row(b % p.nrows()), q0, seed, b as u32).unwrap();
        probes
            .row_mut(b)
            .assign(&probe.mapv(|v| kind.from_bipolar(v)));
    }
    probes
}

#[test]
fn gpu_recall_matches_cpu() {
    let Some(gpu) = common::gpu() else { return };
    let n = 70;
    let p = hopfield::random_patterns(9, n, 21, 0).unwrap();
    let (mut same, mut total) = (0, 0);
    for storage in [
        Storage::Hebb,
        Storage::HebbNormalised,
        Storage::PseudoInverse,
        Storage::Storkey,
    ] {
        let w = hopfield::weights(p.view(), storage).unwrap();
        for kind in [StateKind::Bipolar, StateKind::Binary] {
            for dynamics in [Dynamics::Asynchronous, Dynamics::Synchronous] {
                let pr = params(kind, dynamics, 40, 5);
                let probes = probes_for(p.view(), 18, kind, 3);
                let cpu = recall::recall_cpu(w.view(), probes.view(), &pr).unwrap();
                let out =
                    pollster::block_on(recall::recall_gpu(&gpu, w.view(), probes.view(), &pr))
                        .unwrap();
                let what = format!("{storage:?} {kind:?} {dynamics:?}");
                if storage == Storage::Hebb {
                    // Integer weights: exact fields on both, so everything must agree.
                    assert_eq!(cpu, out, "{what}");
                } else {
                    for b in 0..probes.nrows() {
                        total += 1;
                        same += usize::from(cpu.states.row(b) == out.states.row(b));
                    }
                }
            }
        }
    }
    // The kernel and its twin do the same f32 operations in the same order, so they agree exactly in practice;
    // the tolerance leaves room for a GPU that flushes subnormal fields to zero.
    eprintln!("{same} of {total} real-valued recalls identical");
    assert!(same * 100 >= total * 99, "{same} of {total}");
}

// Long recalls and large batches take several dispatches: the kernel stops after a budget of loop iterations
// (lavapipe ends a shader's loops after 65 535 in total) and resumes, and batches beyond 2048 probes are split
// into chunks. Neither may change a result. At N = 784 a dispatch covers about five sweeps of a probe, and
// probes from q(0) ≤ 0.2 at P = 0.1 N take 15 to 40.
#[test]
fn gpu_recall_resumes_across_dispatches_and_chunks() {
    let Some(gpu) = common::gpu() else { return };
    let p = hopfield::random_patterns(78, 784, 1, 0).unwrap();
    let w = hopfield::weights(p.view(), Storage::Hebb).unwrap();
    let mut probes = Array2::zeros((8, 784));
    for b in 0..8 {
        let q0 = if b % 2 == 0 { 0.2 } else { 0.0 };
        probes
            .row_mut(b)
            .assign(&hopfield::probe_with_overlap(p.row(b), q0, 2, b as u32).unwrap());
    }
    for dynamics in [Dynamics::Asynchronous, Dynamics::Synchronous] {
        let pr = params(StateKind::Bipolar, dynamics, 60, 1);
        let cpu = recall::recall_cpu(w.view(), probes.view(), &pr).unwrap();
        let out =
            pollster::block_on(recall::recall_gpu(&gpu, w.view(), probes.view(), &pr)).unwrap();
        assert_eq!(cpu, out, "{dynamics:?}");
        let longest = *cpu.sweeps_used.iter().max().unwrap();
        assert!(
            longest >= 10,
            "{dynamics:?}: some recall spans several dispatches ({longest} sweeps)"
        );
    }
    let p = hopfield::random_patterns(3, 16, 4, 0).unwrap();
    let w = hopfield::weights(p.view(), Storage::Hebb).unwrap();
    let probes = probes_for(p.view(), 2100, StateKind::Binary, 6);
    let pr = params(StateKind::Binary, Dynamics::Asynchronous, 20, 3);
    let cpu = recall::recall_cpu(w.view(), probes.view(), &pr).unwrap();
    let out = pollster::block_on(recall::recall_gpu(&gpu, w.view(), probes.view(), &pr)).unwrap();
    assert_eq!(cpu, out, "2100 probes in two chunks");
}

#[test]
fn gpu_capacity_sweep_matches_cpu() {
    let Some(gpu) = common::gpu() else { return };
    let mut engine = Engine::Gpu(Box::new(gpu));
    for storage in [Storage::Hebb, Storage::Storkey, Storage::PseudoInverse] {
        let mut spec = sweep(48, storage, vec![2, 6, 12], vec![1.0, 0.5, 0.1], 3);
        spec.dynamics = if storage == Storage::Storkey {
            Dynamics::Synchronous
        } else {
            Dynamics::Asynchronous
        };
        let on_gpu = pollster::block_on(hopfield::capacity_sweep(&mut engine, &spec)).unwrap();
        assert!(on_gpu.notice.is_none(), "{:?}", on_gpu.notice);
        let on_cpu =
            pollster::block_on(hopfield::capacity_sweep(&mut Engine::cpu("test"), &spec)).unwrap();
        assert_eq!(on_gpu, on_cpu, "{storage:?}");
    }
    assert_eq!(engine.info().kind, "gpu");
}

// A sweep run in parts (as the lab does, a block of trials per step) merges into exactly the whole's numbers,
// on either engine; parts that do not belong together are refused.
#[test]
fn a_sweep_in_parts_merges_into_the_whole() {
    let mut cpu = Engine::cpu("test");
    let whole = sweep(40, Storage::Hebb, vec![2, 5, 9], vec![0.4, 1.0], 7);
    let expected = pollster::block_on(hopfield::capacity_sweep(&mut cpu, &whole)).unwrap();
    assert_eq!(expected.trials, 7);
    let mut engines = vec![Engine::cpu("test")];
    engines.extend(common::gpu().map(|g| Engine::Gpu(Box::new(g))));
    for mut engine in engines {
        let mut merged: Option<hopfield::Sweep> = None;
        for trials in [0..3, 3..4, 4..7] {
            let spec = SweepSpec {
                trials,
                ..whole.clone()
            };
            let part = pollster::block_on(hopfield::capacity_sweep(&mut engine, &spec)).unwrap();
            match &mut merged {
                Some(m) => m.merge(part).unwrap(),
                None => merged = Some(part),
            }
        }
        assert_eq!(merged.as_ref(), Some(&expected), "{}", engine.info().kind);
    }
    // The parts really differ: the last trials alone do not give the whole's means.
    let tail = SweepSpec {
        trials: 4..7,
        ..whole.clone()
    };
    let tail = pollster::block_on(hopfield::capacity_sweep(&mut cpu, &tail)).unwrap();
    assert_eq!(tail.trials, 3);
    let other = SweepSpec {
        n: 41,
        trials: 0..1,
        ..whole
    };
    let mut other = pollster::block_on(hopfield::capacity_sweep(&mut cpu, &other)).unwrap();
    let e = other.merge(tail).unwrap_err().to_string();
    assert!(e.contains("N = 40") && e.contains("N = 41"), "{e}");
}

// The standard errors behind the lab's bands: the trials' sample standard deviation over √trials, as computed
// from each trial's own final overlap (one-trial sweeps) and its own exact recall.
#[test]
fn standard_errors_are_those_of_the_trials() {
    let mut cpu = Engine::cpu("test");
    let whole = sweep(40, Storage::Hebb, vec![2, 5, 9], vec![0.4, 1.0], 7);
    let all = pollster::block_on(hopfield::capacity_sweep(&mut cpu, &whole)).unwrap();
    let each: Vec<_> = (0..7)
        .map(|t| {
            let spec = SweepSpec {
                trials: t..t + 1,
                ..whole.clone()
            };
            pollster::block_on(hopfield::capacity_sweep(&mut cpu, &spec)).unwrap()
        })
        .collect();
    let se = all.overlap_std_err();
    let exact = all.exact_fraction();
    let exact_se = all.fraction_std_err(&exact);
    let sample_se = |xs: &[f64]| {
        let m = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (xs.len() - 1) as f64;
        (var / xs.len() as f64).sqrt()
    };
    let mut spread = false;
    for i in 0..3 {
        for j in 0..2 {
            let q: Vec<f64> = each
                .iter()
                .map(|s| f64::from(s.mean_overlap()[[i, j]]))
                .collect();
            let hit: Vec<f64> = each
                .iter()
                .map(|s| f64::from(s.exact_count[[i, j]]))
                .collect();
            assert!(
                (f64::from(se[[i, j]]) - sample_se(&q)).abs() < 1e-6,
                "({i}, {j})"
            );
            assert!(
                (f64::from(exact_se[[i, j]]) - sample_se(&hit)).abs() < 1e-6,
                "({i}, {j})"
            );
            spread |= se[[i, j]] > 0.0;
        }
    }
    assert!(spread, "some cell's trials differ");
    // One trial has no spread to measure.
    assert!(each[0].overlap_std_err().iter().all(|&e| e == 0.0));
}

#[test]
fn gpu_refuses_weights_larger_than_a_binding_before_allocating() {
    let Some(gpu) = common::gpu() else { return };
    // 6000² f32 = 137 MiB, above the portable 128 MiB binding (a broadcast view: nothing allocated here).
    let zero = Array2::<f32>::zeros((1, 1));
    let w = zero.broadcast((6000, 6000)).unwrap();
    let probe = Array2::<f32>::ones((1, 6000));
    let pr = params(StateKind::Bipolar, Dynamics::Asynchronous, 1, 0);
    match pollster::block_on(recall::recall_gpu(&gpu, w, probe.view(), &pr)) {
        Err(Error::TooLarge { needed, limit, .. }) => assert!(needed > limit),
        other => panic!("expected a size error, got {:?}", other.map(|r| r.outcome)),
    }
}

#[test]
fn a_lost_device_continues_on_the_cpu_with_a_notice() {
    let Some(gpu) = common::gpu() else { return };
    let p = hopfield::random_patterns(5, 40, 3, 0).unwrap();
    let w = hopfield::weights(p.view(), Storage::Storkey).unwrap();
    let probes = probes_for(p.view(), 12, StateKind::Bipolar, 1);
    let pr = params(StateKind::Bipolar, Dynamics::Asynchronous, 20, 9);
    let expected = recall::recall_cpu(w.view(), probes.view(), &pr).unwrap();
    let mut engine = Engine::Gpu(Box::new(gpu));
    engine.gpu().expect("gpu").simulate_loss();
    let (r, notice) =
        pollster::block_on(recall::recall(&mut engine, w.view(), probes.view(), &pr)).unwrap();
    assert!(notice.expect("a notice").contains("continues on the CPU"));
    assert_eq!(engine.info().kind, "cpu");
    assert_eq!(r, expected);
}

/// `cargo test --release --test hopfield -- --ignored --nocapture`: recall throughput (single-unit updates per
/// second, i.e. sweeps used × N summed over probes, per second of wall time) for N = 100, 256, 784 on the CPU and
/// on the GPU when there is one (a software adapter only with HEBBIAN_BENCH_SOFTWARE_GPU=1), and the wall time of
/// a capacity sweep (N = 100, P = 1 … 30, q(0) = 0.2 … 1.0, 20 trials). One JSON line per measurement.
#[test]
#[ignore]
fn recall_benchmark() {
    let gpu = common::gpu();
    let gpu_name = gpu.as_ref().map(|g| g.adapter_name().replace('"', "'"));
    let software = gpu_name.as_deref().is_some_and(|b| b.ends_with(", Cpu)"));
    let use_gpu =
        gpu.is_some() && (!software || std::env::var("HEBBIAN_BENCH_SOFTWARE_GPU").is_ok());
    if let (Some(name), false) = (&gpu_name, use_gpu) {
        println!(
            r#"{{"bench":"recall","backend":"{name}","skipped":"software adapter; set HEBBIAN_BENCH_SOFTWARE_GPU=1 to run"}}"#
        );
    }
    let pr = params(StateKind::Bipolar, Dynamics::Asynchronous, 100, 1);
    for &n in &[100usize, 256, 784] {
        let p = hopfield::random_patterns(n / 10, n, 1, 0).unwrap();
        let w = hopfield::weights(p.view(), Storage::Hebb).unwrap();
        let count = 512;
        let probes = probes_for(p.view(), count, StateKind::Bipolar, 2);
        let report = |backend: &str, r: &recall::Recall, seconds: f64| {
            let updates: u64 = r.sweeps_used.iter().map(|&s| u64::from(s) * n as u64).sum();
            println!(
                r#"{{"bench":"recall","n":{n},"p":{},"probes":{count},"backend":"{backend}","seconds":{seconds:.4},"unit_updates_per_s":{:.3e},"probes_per_s":{:.1}}}"#,
                n / 10,
                updates as f64 / seconds,
                count as f64 / seconds
            );
        };
        let t = std::time::Instant::now();
        let cpu = recall::recall_cpu(w.view(), probes.view(), &pr).unwrap();
        report("cpu", &cpu, t.elapsed().as_secs_f64());
        if let (true, Some(g)) = (use_gpu, &gpu) {
            // The first call builds the pipeline; time the second.
            pollster::block_on(recall::recall_gpu(g, w.view(), probes.view(), &pr)).unwrap();
            let t = std::time::Instant::now();
            let out =
                pollster::block_on(recall::recall_gpu(g, w.view(), probes.view(), &pr)).unwrap();
            report(
                gpu_name.as_deref().unwrap_or("gpu"),
                &out,
                t.elapsed().as_secs_f64(),
            );
            assert_eq!(cpu, out);
        }
    }
    let spec = SweepSpec {
        n: 100,
        storage: Storage::Hebb,
        p_values: (1..=30).collect(),
        q0_values: vec![0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
        trials: 0..20,
        dynamics: Dynamics::Asynchronous,
        max_sweeps: 100,
        seed: 1,
        tie: Tie::Keep,
    };
    let mut engines = vec![("cpu".to_string(), Engine::cpu("bench"))];
    let mut bench_results = Vec::new();
    if let (true, Some(g)) = (use_gpu, gpu) {
        engines.push((
            gpu_name.clone().unwrap_or_default(),
            Engine::Gpu(Box::new(g)),
        ));
    }
    // The lab's large case: N = 784, P = 10 … 150 in steps of 10, q(0) = 0.2 … 1.0, 20 trials (1500 probes).
    let large = SweepSpec {
        n: 784,
        p_values: (1..=15).map(|k| 10 * k).collect(),
        q0_values: vec![0.2, 0.4, 0.6, 0.8, 1.0],
        ..spec.clone()
    };
    for (name, mut engine) in engines {
        let mut results = Vec::new();
        for (label, base) in [("1..30", &spec), ("10..150", &large)] {
            for storage in [Storage::Hebb, Storage::Storkey, Storage::PseudoInverse] {
                let spec = SweepSpec {
                    storage,
                    ..base.clone()
                };
                let t = std::time::Instant::now();
                let out = pollster::block_on(hopfield::capacity_sweep(&mut engine, &spec)).unwrap();
                println!(
                    r#"{{"bench":"capacity sweep","n":{},"p":"{label}","q0":{},"trials":20,"storage":"{storage:?}","backend":"{name}","seconds":{:.3}}}"#,
                    spec.n,
                    spec.q0_values.len(),
                    t.elapsed().as_secs_f64()
                );
                results.push(out);
            }
        }
        bench_results.push(results);
    }
    // The engines agree on every sweep.
    if let [cpu, gpu] = &bench_results[..] {
        assert_eq!(cpu, gpu);
    }
}

// 004's worked recalls in the lecture's own visiting orders (issue 8 §5): the fields and energies of the slides,
// step by step, through the traced recall the lab uses.
#[test]
fn lecture_orders_give_the_slides_steps() {
    // TC-07, order 1, 3, 5, 2, 4 on binary states: fields −2, −2, +2, +2, 0; only unit 5 changes.
    let patterns = rows(&[
        &binary_to_bipolar(&[0., 1., 0., 1., 1.]),
        &binary_to_bipolar(&[1., 0., 1., 1., 0.]),
    ]);
    let w = hopfield::weights(patterns.view(), Storage::Hebb).unwrap();
    let probe = array![0., 1., 0., 1., 0.];
    let pr = params(StateKind::Binary, Dynamics::Asynchronous, 10, 0);
    let t = hopfield::recall_trace_in_order(
        w.view(),
        probe.view(),
        patterns.view(),
        &pr,
        &[0, 2, 4, 1, 3],
    )
    .unwrap();
    let first: Vec<(usize, f64, bool)> = t.updates[..5]
        .iter()
        .map(|u| (u.unit, u.field, u.flipped))
        .collect();
    assert_eq!(
        first,
        vec![
            (0, -2.0, false),
            (2, -2.0, false),
            (4, 2.0, true),
            (1, 2.0, false),
            (3, 0.0, false)
        ]
    );
    assert_eq!(
        t.states.row(t.states.nrows() - 1),
        array![0., 1., 0., 1., 1.]
    );
    assert_eq!((t.sweeps_used, t.outcome), (2, Outcome::FixedPoint));
    // The second sweep repeats the order.
    let units: Vec<usize> = t.updates[5..].iter().map(|u| u.unit).collect();
    assert_eq!(units, vec![0, 2, 4, 1, 3]);

    // TC-09, order 2, 3, 8, 5, 1, 6, 4, 7, 9 on ±1 letters from T′: E = −12, −32 after s2, s3 rejected at +8.
    let p = tuc();
    let w = hopfield::weights(p.view(), Storage::Hebb).unwrap();
    let t_bad = Array1::from(binary_to_bipolar(&[1., 0., 1., 0., 1., 0., 0., 1., 0.]));
    let order = [1, 2, 7, 4, 0, 5, 3, 6, 8];
    let pr = params(StateKind::Bipolar, Dynamics::Asynchronous, 50, 0);
    let t = hopfield::recall_trace_in_order(w.view(), t_bad.view(), p.view(), &pr, &order).unwrap();
    assert_eq!(&t.energy[..3], &[-12.0, -32.0, -32.0]);
    assert_eq!(
        (
            t.updates[0].unit,
            t.updates[0].delta_energy,
            t.updates[0].flipped
        ),
        (1, -20.0, true)
    );
    assert_eq!(
        (
            t.updates[1].unit,
            t.updates[1].delta_energy,
            t.updates[1].flipped
        ),
        (2, 8.0, false)
    );
    assert_eq!(t.states.row(t.states.nrows() - 1), p.row(0));
    assert_eq!(*t.energy.last().unwrap(), -32.0);

    // TC-08 on binary states in the letters' order: T′ and U′ recall T and U.
    let l = lecture_letters();
    let tu = rows(&[&l[0].bipolar(), &l[1].bipolar()]);
    let w = hopfield::weights(tu.view(), Storage::Hebb).unwrap();
    let pr = params(StateKind::Binary, Dynamics::Asynchronous, 10, 0);
    for (bad, target) in [
        (array![1., 0., 1., 0., 1., 0., 0., 1., 0.], 0),
        (array![1., 0., 1., 0., 0., 1., 1., 1., 0.], 1),
    ] {
        let t =
            hopfield::recall_trace_in_order(w.view(), bad.view(), tu.view(), &pr, &order).unwrap();
        let last = t.states.row(t.states.nrows() - 1).to_owned();
        assert_eq!(last.mapv(|v| 2.0 * v - 1.0), tu.row(target));
    }
}

#[test]
fn fixed_orders_are_checked() {
    let p = tuc();
    let w = hopfield::weights(p.view(), Storage::Hebb).unwrap();
    let probe = p.row(0).to_owned();
    let asy = params(StateKind::Bipolar, Dynamics::Asynchronous, 5, 0);
    for bad in [
        &[0usize, 1, 2][..],
        &[0, 1, 2, 3, 4, 5, 6, 7, 7],
        &[0, 1, 2, 3, 4, 5, 6, 7, 9],
    ] {
        let e = hopfield::recall_trace_in_order(w.view(), probe.view(), p.view(), &asy, bad)
            .expect_err("not a permutation");
        assert!(e.to_string().contains("each of the 9 units once"), "{e}");
    }
    let sync = params(StateKind::Bipolar, Dynamics::Synchronous, 5, 0);
    let order: Vec<usize> = (0..9).collect();
    let e = hopfield::recall_trace_in_order(w.view(), probe.view(), p.view(), &sync, &order)
        .expect_err("synchronous");
    assert!(e.to_string().contains("asynchronous"), "{e}");
}

// 002's sgn(0) = +1 against 004's "keep": unit 4 of the five-neuron example has no input at all.
#[test]
fn the_tie_rule_decides_units_on_a_zero_field() {
    let patterns = rows(&[
        &binary_to_bipolar(&[0., 1., 0., 1., 1.]),
        &binary_to_bipolar(&[1., 0., 1., 1., 0.]),
    ]);
    let w = hopfield::weights(patterns.view(), Storage::Hebb).unwrap();
    let probe = array![[0., 1., 0., 0., 0.]];
    let keep = params(StateKind::Binary, Dynamics::Asynchronous, 10, 3);
    let up = RecallParams {
        tie: Tie::Up,
        ..keep
    };
    let k = recall::recall_cpu(w.view(), probe.view(), &keep).unwrap();
    let u = recall::recall_cpu(w.view(), probe.view(), &up).unwrap();
    assert_eq!(
        k.states.row(0),
        array![0., 1., 0., 0., 1.],
        "unit 4 kept off"
    );
    assert_eq!(
        u.states.row(0),
        array![0., 1., 0., 1., 1.],
        "sgn(0) = +1 turns it on: s1"
    );
    // Flips at a tie have ΔE = 0, so the energy never rises with either rule.
    for pr in [keep, up] {
        let t = hopfield::recall_trace(w.view(), probe.row(0), patterns.view(), &pr, 0).unwrap();
        assert!(t.energy.windows(2).all(|e| e[1] <= e[0]), "{:?}", t.energy);
        for u in &t.updates {
            assert!(!u.flipped || u.delta_energy <= 0.0, "{u:?}");
        }
    }
}

// A threshold U: units go high only above it; E = −½ sᵀWs + U Σ s never rises and the recorded energies are
// exact; fixed points satisfy s_i = high ⇔ h_i ≥ U (ties kept).
#[test]
fn thresholds_shift_the_sign_rule_and_the_energy() {
    let p = tuc();
    let w = hopfield::weights(p.view(), Storage::Hebb).unwrap();
    for kind in [StateKind::Bipolar, StateKind::Binary] {
        for u in [-2.0f32, 1.0, 2.5] {
            let pr = RecallParams {
                threshold: u,
                ..params(kind, Dynamics::Asynchronous, 50, 9)
            };
            for row in 0..3 {
                let probe = hopfield::probe_with_overlap(p.row(row), 0.6, 4, row as u32)
                    .unwrap()
                    .mapv(|v| kind.from_bipolar(v));
                let t = hopfield::recall_trace(w.view(), probe.view(), p.view(), &pr, row as u32)
                    .unwrap();
                assert!(
                    t.energy.windows(2).all(|e| e[1] <= e[0]),
                    "{kind:?} U = {u}"
                );
                let last = t.states.row(t.states.nrows() - 1);
                assert_eq!(
                    *t.energy.last().unwrap(),
                    hopfield::energy_with_threshold(w.view(), last, u),
                    "{kind:?} U = {u}"
                );
                if t.outcome == Outcome::FixedPoint {
                    let h = hopfield::field(w.view(), last);
                    for i in 0..9 {
                        let hi = f64::from(u);
                        assert!(
                            (last[i] == 1.0 && h[i] >= hi) || (last[i] != 1.0 && h[i] <= hi),
                            "{kind:?} U = {u}, unit {i}: s = {}, h = {}",
                            last[i],
                            h[i]
                        );
                    }
                }
            }
        }
    }
    // E(s) with U = 1 adds Σ s.
    let t = p.row(0);
    assert_eq!(
        hopfield::energy_with_threshold(w.view(), t, 1.0),
        -32.0 + t.sum() as f64
    );
}

// The GPU follows the threshold and the tie rule exactly (integer Hebb weights of an even number of patterns
// put many fields exactly on an even threshold).
#[test]
fn gpu_follows_the_threshold_and_the_tie_rule() {
    let Some(gpu) = common::gpu() else { return };
    let n = 40;
    let p = hopfield::random_patterns(4, n, 17, 0).unwrap();
    let w = hopfield::weights(p.view(), Storage::Hebb).unwrap();
    for kind in [StateKind::Bipolar, StateKind::Binary] {
        for dynamics in [Dynamics::Asynchronous, Dynamics::Synchronous] {
            for (threshold, tie) in [
                (0.0, Tie::Up),
                (2.0, Tie::Keep),
                (2.0, Tie::Up),
                (-3.5, Tie::Up),
            ] {
                let pr = RecallParams {
                    threshold,
                    tie,
                    ..params(kind, dynamics, 40, 5)
                };
                let probes = probes_for(p.view(), 24, kind, 6);
                let cpu = recall::recall_cpu(w.view(), probes.view(), &pr).unwrap();
                let out =
                    pollster::block_on(recall::recall_gpu(&gpu, w.view(), probes.view(), &pr))
                        .unwrap();
                assert_eq!(cpu, out, "{kind:?} {dynamics:?} U = {threshold} {tie:?}");
            }
        }
    }
    // And a capacity sweep with sgn(0) = +1 (the GPU batches many networks).
    let spec = SweepSpec {
        n: 50,
        storage: Storage::Hebb,
        p_values: vec![2, 4, 6, 8],
        q0_values: vec![1.0, 0.6, 0.2],
        trials: 0..6,
        dynamics: Dynamics::Asynchronous,
        max_sweeps: 30,
        seed: 12,
        tie: Tie::Up,
    };
    let cpu =
        pollster::block_on(hopfield::capacity_sweep(&mut Engine::cpu("test"), &spec)).unwrap();
    let g = pollster::block_on(hopfield::capacity_sweep(
        &mut Engine::Gpu(Box::new(gpu)),
        &spec,
    ))
    .unwrap();
    assert_eq!(cpu, g);
    let keep = pollster::block_on(hopfield::capacity_sweep(
        &mut Engine::cpu("test"),
        &SweepSpec {
            tie: Tie::Keep,
            ..spec
        },
    ))
    .unwrap();
    assert_ne!(
        cpu.overlap_sum, keep.overlap_sum,
        "ties occur at even P and N: the rule matters"
    );
}

// The retrieval rate (004 §2-7 after Takasaki): final overlaps ≥ 0.95 and ≥ 0.90, counted exactly.
#[test]
fn retrieval_rates_count_final_overlaps_above_the_thresholds() {
    let spec = sweep(100, Storage::Hebb, (1..=30).collect(), vec![0.6, 1.0], 20);
    let s = pollster::block_on(hopfield::capacity_sweep(&mut Engine::cpu("test"), &spec)).unwrap();
    let (r95, r90, exact) = (s.retrieval_rate(0), s.retrieval_rate(1), s.exact_fraction());
    for i in 0..30 {
        for j in 0..2 {
            assert!(
                exact[[i, j]] <= r95[[i, j]] && r95[[i, j]] <= r90[[i, j]],
                "P = {}",
                i + 1
            );
        }
    }
    // From 20 % flipped units, few memories come back; past the lecture's 0.14 N hardly any.
    assert_eq!(r95[[0, 0]], 1.0);
    assert!(r90[[4, 0]] >= 0.9, "P = 5: {}", r90[[4, 0]]);
    assert!(r95[[29, 0]] <= 0.3, "P = 30: {}", r95[[29, 0]]);
    let c = hopfield::capacity_bounds(100);
    assert!((c.hebb_exact_all - 100.0 / (4.0 * 100f64.ln())).abs() < 1e-12);
    assert!((c.hebb_exact_all - 5.43).abs() < 5e-3, "{c:?}");
}
