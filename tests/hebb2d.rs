//! Lab 1 against theory: Oja finds ±e₁ with ‖w‖ → 1, clipped Hebb stays bounded and aligns, simple Hebb's
//! ln‖w‖ grows at η λ₁, runs are bit-exact repeatable on the CPU and agree with the GPU.
mod common;

use hebbian_playground::engine::Engine;
use hebbian_playground::labs::Lab as _;
use hebbian_playground::labs::budget::Chunk;
use hebbian_playground::labs::hebb2d::{self, Params};
use hebbian_playground::labs::{self, Run};
use hebbian_playground::plasticity::Rule;
use hebbian_playground::protocol::{Frame, Mark, PlotBody};
use hebbian_playground::state::StateDoc;

fn state(f: impl FnOnce(&mut Params)) -> StateDoc<Params> {
    let mut s = hebb2d::Hebb2d::default_state();
    f(&mut s.params);
    s
}

fn run_with(engine: &mut Engine, s: &StateDoc<Params>) -> Frame {
    let any = s.to_any();
    assert!(
        labs::validate(&any).is_empty(),
        "{:?}",
        labs::validate(&any)
    );
    let mut run = Run::start(&any, &Default::default()).expect("start");
    pollster::block_on(run.advance(engine, &Chunk::steps(0))).expect("run")
}

fn run(s: &StateDoc<Params>) -> Frame {
    run_with(&mut Engine::cpu("test"), s)
}

fn metric(frame: &Frame, name: &str) -> f64 {
    frame
        .metrics
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no metric {name}"))
        .value
        .unwrap_or(f64::NAN)
}

#[test]
fn oja_converges_to_the_principal_eigenvector_with_unit_norm() {
    // 10 000 updates: from any start the angle to e₁ shrinks by e^(−η(λ₁−λ₂)t) = e^(−18).
    for seed in [1, 2, 3] {
        let mut s = state(|p| {
            p.rule = Rule::Oja;
            p.steps = 10_000;
            p.trials = 32;
        });
        s.seed = seed;
        let f = run(&s);
        assert!(
            metric(&f, "Σ3 min |cos(w, e₁)|") > 0.99,
            "seed {seed}: {}",
            metric(&f, "Σ3 min |cos(w, e₁)|")
        );
        let norm = metric(&f, "Σ3 ‖w‖ (run 1)");
        assert!((norm - 1.0).abs() < 0.1, "seed {seed}: ‖w‖ = {norm}");
    }
}

#[test]
fn clipped_hebb_never_exceeds_w_max_and_aligns() {
    for w_max in [1.0, 2.0] {
        let f = run(&state(|p| {
            p.rule = Rule::HebbClip;
            p.w_max = w_max;
            p.steps = 10_000;
            p.trials = 32;
        }));
        for d in 1..=3 {
            let max = metric(&f, &format!("Σ{d} max ‖w‖ over all runs and updates"));
            assert!(max <= w_max * (1.0 + 1e-6), "Σ{d}: max ‖w‖ {max} > {w_max}");
        }
        assert!(
            metric(&f, "Σ3 min |cos(w, e₁)|") > 0.98,
            "{}",
            metric(&f, "Σ3 min |cos(w, e₁)|")
        );
        assert!((metric(&f, "Σ3 ‖w‖ (run 1)") - w_max).abs() < 1e-3 * w_max);
    }
}

#[test]
fn simple_hebb_log_norm_grows_at_eta_lambda_max() {
    // Theory: ⟨Δw⟩ = η Q w, so once w lies on e₁, ln‖w‖ grows by η λ₁ per update; the second-order term
    // is about −η(3λ₁² − ½E[y²‖u‖²])/λ₁ ≈ −0.3 % of it on Σ3. The rate holds once w has turned onto e₁
    // (tan of the angle shrinks as e^(−η(λ₁−λ₂)t)), so runs are 10 000 updates long and the fit uses the
    // second half (for Σ2, λ₁ − λ₂ = 0.8: the exercise's 2000 updates are too short, see the lab's hint).
    // Tolerance: 2 % of η λ₁ on the mean over 32 runs, for each of three seeds.
    for seed in [7, 8, 9] {
        let mut s = state(|p| {
            p.steps = 10_000;
            p.trials = 32;
        });
        s.seed = seed;
        let f = run(&s);
        for (d, lambda) in [(1, 1.0), (2, 1.4), (3, 1.9)] {
            let measured = metric(&f, &format!("Σ{d} growth rate of ln‖w‖ (mean)"));
            let theory = 1e-3 * lambda;
            assert!((metric(&f, &format!("Σ{d} theory η λ₁")) - theory).abs() < 1e-12);
            let rel = (measured - theory).abs() / theory;
            assert!(
                rel < 0.02,
                "seed {seed} Σ{d}: measured {measured:.6} vs theory {theory:.6} ({:.2} %)",
                rel * 100.0
            );
        }
    }
}

#[test]
fn a_diverging_rule_is_reported_not_propagated() {
    let f = run(&state(|p| p.eta = 0.5));
    assert!(
        f.notices.iter().any(|n| n.contains("diverged")),
        "{:?}",
        f.notices
    );
    assert!(metric(&f, "Σ3 diverged runs") > 0.0);
    assert!(f.metrics.iter().all(|m| m.value.is_none_or(f64::is_finite)));
}

#[test]
fn bcm_on_zero_mean_gaussians_shrinks_the_principal_component() {
    // ⟨v²u⟩ = 0 for zero-mean symmetric inputs, so with θ ≈ ⟨v²⟩ = wᵀQw: ⟨Δw⟩ = −η θ Q w.
    // On Σ1 (Q = I) that is d‖w‖/dt = −η‖w‖³, so ‖w‖ = (1 + 2ηt)^(−1/2) = 0.302 after 5000 updates.
    // On Σ3 the e₁ component dies first (rate ∝ λ₁ = 1.9) and w turns away from the principal axis.
    let f = run(&state(|p| {
        p.rule = Rule::Bcm;
        p.steps = 5000;
        p.tau = 10.0;
        p.trials = 32;
    }));
    let n1 = metric(&f, "Σ1 ‖w‖ (run 1)");
    assert!((n1 - 0.302).abs() < 0.05, "Σ1 ‖w‖ = {n1}");
    assert!(
        metric(&f, "Σ3 mean |cos(w, e₁)|") < 0.5,
        "{}",
        metric(&f, "Σ3 mean |cos(w, e₁)|")
    );
}

#[test]
fn same_state_same_numbers_bit_for_bit() {
    let s = state(|p| p.rule = Rule::Covariance);
    let (a, b) = (run(&s), run(&s));
    let bits = |f: &Frame| {
        f.metrics
            .iter()
            .map(|m| m.value.map(f64::to_bits))
            .collect::<Vec<_>>()
    };
    assert_eq!(bits(&a), bits(&b));
    let mut other = s.clone();
    other.seed += 1;
    assert_ne!(bits(&a), bits(&run(&other)), "the seed must matter");
}

#[test]
fn chunked_runs_equal_one_shot_runs() {
    // The page advances frame by frame; the CLI runs in one go. Both must give the same numbers.
    let s = state(|p| p.rule = Rule::Instar).to_any();
    let mut engine = Engine::cpu("test");
    let mut whole = Run::start(&s, &Default::default()).expect("start");
    let one = pollster::block_on(whole.advance(&mut engine, &Chunk::steps(0))).expect("run");
    let mut chunked = Run::start(&s, &Default::default()).expect("start");
    let mut last = None;
    while !chunked.done() {
        last = Some(
            pollster::block_on(chunked.advance(&mut engine, &Chunk::steps(37))).expect("chunk"),
        );
    }
    let last = last.expect("frames");
    let values = |f: &Frame| {
        f.metrics
            .iter()
            .map(|m| m.value.map(f64::to_bits))
            .collect::<Vec<_>>()
    };
    assert_eq!(values(&one), values(&last));
}

#[test]
fn cpu_and_gpu_agree_on_the_whole_lab() {
    let Some(gpu) = common::gpu() else { return };
    let s = state(|p| p.rule = Rule::Oja);
    let cpu = run(&s);
    let g = run_with(&mut Engine::Gpu(Box::new(gpu)), &s);
    assert!(g.notices.is_empty(), "{:?}", g.notices);
    for (a, b) in cpu.metrics.iter().zip(&g.metrics) {
        let (x, y) = (a.value.unwrap_or(0.0), b.value.unwrap_or(0.0));
        assert!(
            (x - y).abs() <= 1e-3 * (1.0 + x.abs()),
            "{}: cpu {x} gpu {y}",
            a.name
        );
    }
}

/// What `auto` compares engines with: steps per millisecond after an uncounted first step, on both engines;
/// nothing to tell for a run that ends in its first step.
#[test]
fn throughput_is_measured_on_both_engines() {
    let clock = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs_f64()
            * 1e3
    };
    let s = state(|p| {
        p.steps = 400;
        p.trials = 2;
    })
    .to_any();
    let store = Default::default();
    let mut engines = vec![Engine::cpu("test")];
    engines.extend(common::gpu().map(|g| Engine::Gpu(Box::new(g))));
    for mut engine in engines {
        let rate = pollster::block_on(labs::throughput(&s, &store, &mut engine, 50.0, &clock))
            .expect("measured")
            .expect("a rate");
        assert!(rate.is_finite() && rate > 0.0, "{rate}");
    }
    let one = state(|p| p.steps = 1).to_any();
    let none = pollster::block_on(labs::throughput(
        &one,
        &store,
        &mut Engine::cpu("test"),
        50.0,
        &clock,
    ))
    .expect("measured");
    assert_eq!(none, None);
}

#[test]
fn impossible_parameters_get_clear_messages() {
    let bad = state(|p| {
        p.inputs[1].corr = 1.5;
        p.eta = 0.0;
    });
    let errs = labs::validate(&bad.to_any());
    let psd = errs
        .iter()
        .find(|e| e.path == "inputs/1/corr")
        .expect("PSD error");
    assert!(
        psd.message.contains("not positive semidefinite"),
        "{}",
        psd.message
    );
    assert!(errs.iter().any(|e| e.path == "eta"), "{errs:?}");
    assert!(Run::start(&bad.to_any(), &Default::default()).is_err());
    // The largest run the ranges allow stays within the budget (it is estimated, and the page asks first).
    let huge = state(|p| {
        p.steps = 1_000_000;
        p.trials = 1024;
    });
    assert!(labs::validate(&huge.to_any()).is_empty());
    let cost = labs::estimate(&huge.to_any()).expect("estimate");
    assert!(cost.browser_seconds > labs::budget::ASK_SECONDS, "{cost:?}");
}

#[test]
fn principal_axis_of_sigma3_is_the_diagonal() {
    let (l1, l2, e) =
        hebbian_playground::plasticity::theory::principal_axis([[1.0, 0.9], [0.9, 1.0]]);
    assert!((l1 - 1.9).abs() < 1e-12 && (l2 - 0.1).abs() < 1e-12);
    let e = e.expect("an axis");
    assert!((e[0] - e[1]).abs() < 1e-12 && (e[0] - 0.5f64.sqrt()).abs() < 1e-12);
    assert!(
        hebbian_playground::plasticity::theory::principal_axis([[1.0, 0.0], [0.0, 1.0]])
            .2
            .is_none(),
        "isotropic input has no axis"
    );
}

#[test]
fn the_default_run_gives_the_golden_bits() {
    let mut s = hebb2d::Hebb2d::default_state();
    s.seed = common::golden::SEED;
    let f = run(&s);
    assert_eq!(
        metric(&f, "Σ3 w₁ (run 1)").to_bits(),
        common::golden::SIGMA3_W1
    );
    assert_eq!(
        metric(&f, "Σ3 w₂ (run 1)").to_bits(),
        common::golden::SIGMA3_W2
    );
    assert_eq!(
        metric(&f, "Σ3 growth rate of ln‖w‖ (mean)").to_bits(),
        common::golden::SIGMA3_RATE
    );
}

/// Issue 9: the default experiment shows what isotropic input does. All three runs start well away from the
/// diagonal; only the correlated inputs turn w onto it, Σ3 (λ₁ − λ₂ = 1.8) furthest, while Σ1 keeps its
/// direction. (At seed 42, Σ1 and Σ2 started on the diagonal and all three plots looked alike.)
#[test]
fn the_default_run_contrasts_isotropic_and_correlated_inputs() {
    let f = run(&hebb2d::Hebb2d::default_state());
    // Angle of the line through w to the diagonal, in degrees (0…90; sign of w ignored).
    let off_diagonal = |w: [f64; 2]| {
        let a = (w[1].atan2(w[0]).to_degrees() - 45.0).rem_euclid(180.0);
        a.min(180.0 - a)
    };
    let mut first_last = Vec::new();
    for d in 1..=3 {
        let PlotBody::Xy { series, .. } = plot(&f, &format!("traj_{d}")) else {
            panic!("trajectory is an xy plot")
        };
        let traj = series
            .iter()
            .find(|s| s.mark == Mark::Trajectory)
            .expect("a trajectory");
        let (start, end) = (traj.points[0], *traj.points.last().expect("points"));
        first_last.push((off_diagonal(start), off_diagonal(end)));
    }
    for (d, (start, _)) in first_last.iter().enumerate() {
        assert!(
            *start > 45.0,
            "Σ{} starts {start:.0}° from the diagonal",
            d + 1
        );
    }
    let (s1, e1) = first_last[0];
    assert!(
        (s1 - e1).abs() < 10.0,
        "Σ1 keeps its direction: {s1:.0}° → {e1:.0}°"
    );
    assert!(
        first_last[2].1 < 10.0,
        "Σ3 ends on the diagonal: {:?}",
        first_last[2]
    );
    assert!(
        first_last[1].1 < first_last[1].0 - 20.0,
        "Σ2 turns: {:?}",
        first_last[1]
    );
}

fn plot<'a>(f: &'a Frame, id: &str) -> &'a PlotBody {
    &f.plots
        .iter()
        .find(|p| p.id == id)
        .unwrap_or_else(|| panic!("no plot {id}"))
        .body
}

fn one_input(g: hebb2d::Gaussian, rule: Rule) -> impl FnOnce(&mut Params) {
    move |p| {
        p.inputs = vec![g];
        p.rule = rule;
    }
}

// Covariance rule Δw = η v (u − ū): on average η Σ w, so w turns to the principal axis of the covariance Σ and
// ln‖w‖ grows at η λ₁(Σ), whatever the input mean; Hebb follows ⟨uuᵀ⟩ = Σ + μμᵀ instead. Inputs with
// Σ = diag(1, 0.25) and mean (0, 2): Σ's axis is u₁, ⟨uuᵀ⟩ = diag(1, 4.25) has its axis along u₂.
#[test]
fn covariance_rule_follows_the_covariance_not_the_mean() {
    let g = hebb2d::Gaussian {
        var_x: 1.0,
        var_y: 0.25,
        corr: 0.0,
        mean_x: 0.0,
        mean_y: 2.0,
    };
    for seed in [3, 4] {
        let mut s = state(one_input(g.clone(), Rule::Covariance));
        s.params.steps = 10_000;
        s.params.trials = 32;
        s.seed = seed;
        let f = run(&s);
        let (w1, w2) = (metric(&f, "Σ1 w₁ (run 1)"), metric(&f, "Σ1 w₂ (run 1)"));
        assert!(
            w1.abs() / w1.hypot(w2) > 0.99,
            "seed {seed}: w = ({w1}, {w2})"
        );
        assert!(metric(&f, "Σ1 min |cos(w, e₁)|") > 0.99);
        assert!(
            (metric(&f, "Σ1 λ₁") - 1.0).abs() < 1e-12,
            "λ₁ of Σ, not of ⟨uuᵀ⟩"
        );
        let rate = metric(&f, "Σ1 growth rate of ln‖w‖ (mean)");
        assert!(
            (rate - 1e-3).abs() < 0.03e-3,
            "seed {seed}: rate {rate} vs η λ₁ = 1e-3"
        );
        // Hebb on the same inputs: the mean dominates, w ends along u₂ and grows at η · 4.25.
        let mut h = state(one_input(g.clone(), Rule::Hebb));
        h.params.steps = 10_000;
        h.params.trials = 32;
        h.seed = seed;
        let f = run(&h);
        let (w1, w2) = (metric(&f, "Σ1 w₁ (run 1)"), metric(&f, "Σ1 w₂ (run 1)"));
        assert!(
            w2.abs() / w1.hypot(w2) > 0.99,
            "Hebb, seed {seed}: w = ({w1}, {w2})"
        );
        let rate = metric(&f, "Σ1 growth rate of ln‖w‖ (mean)");
        assert!(
            (rate - 4.25e-3).abs() < 0.1e-3,
            "Hebb, seed {seed}: rate {rate}"
        );
    }
}

// Instar Δw = η v (u − w): on average η (Q w − (μᵀw) w) with Q = ⟨uuᵀ⟩, which vanishes at w* = λ e / (μᵀe) for an
// eigenvector e of Q (the weighted mean ⟨v u⟩ / ⟨v⟩ of the inputs). With Σ3 (ρ = 0.9) and mean (1, 1):
// Q = [[2, 1.9], [1.9, 2]], e = (1, 1)/√2 with λ = 3.9, so w* = (1.95, 1.95), stable (Jacobian eigenvalues −3.9
// and −3.8). A small η keeps the noise around w* near 0.02.
#[test]
fn instar_settles_on_its_fixed_point() {
    let g = hebb2d::Gaussian {
        var_x: 1.0,
        var_y: 1.0,
        corr: 0.9,
        mean_x: 1.0,
        mean_y: 1.0,
    };
    for seed in [5, 6, 7] {
        let mut s = state(one_input(g.clone(), Rule::Instar));
        s.params.eta = 5e-5;
        s.params.steps = 300_000;
        s.params.trials = 1;
        s.params.record_every = 100;
        s.seed = seed;
        let f = run(&s);
        let (w1, w2) = (metric(&f, "Σ1 w₁ (run 1)"), metric(&f, "Σ1 w₂ (run 1)"));
        assert!(
            (w1 - 1.95).abs() < 0.1 && (w2 - 1.95).abs() < 0.1,
            "seed {seed}: w = ({w1}, {w2}), fixed point (1.95, 1.95)"
        );
        assert_eq!(metric(&f, "Σ1 diverged runs"), 0.0);
    }
    // Zero-mean inputs have no such point (μᵀw = 0): the instar grows like Hebb there.
    let mut s = state(one_input(
        hebb2d::Gaussian {
            mean_x: 0.0,
            mean_y: 0.0,
            ..g
        },
        Rule::Instar,
    ));
    s.params.steps = 5000;
    let f = run(&s);
    assert!(metric(&f, "Σ1 ‖w‖ (run 1)") > 5.0);
}

// Exercise 1's heatmap: v = w · u at the centre of every cell of the 61 × 61 grid on [−3, 3]², for the random w
// drawn from the seed (stream InitialWeights, group 0xFF) and shown as the arrow.
#[test]
fn the_activation_heatmap_is_w_dot_u_on_the_grid() {
    use hebbian_playground::rng::{self, Purpose};
    for seed in [42, 7] {
        let mut s = hebb2d::Hebb2d::default_state();
        s.seed = seed;
        let mut run = Run::start(&s.to_any(), &Default::default()).expect("start");
        let f = pollster::block_on(run.advance(&mut Engine::cpu("test"), &Chunk::steps(1)))
            .expect("step");
        let PlotBody::Xy {
            series,
            heatmap: Some(hm),
            ..
        } = plot(&f, "activation")
        else {
            panic!("the activation plot is a heatmap")
        };
        let z = rng::normal4(
            [0; 4],
            [seed, rng::stream(Purpose::InitialWeights, 0xFF, 0)],
        );
        let w = [f64::from(z[0]), f64::from(z[1])];
        assert_eq!(series[0].points, vec![[0.0, 0.0], w], "the arrow is w");
        assert_eq!(
            (hm.nx, hm.ny, hm.x_range, hm.y_range),
            (61, 61, [-3.0, 3.0], [-3.0, 3.0])
        );
        let centre = |k: usize| -3.0 + 6.0 * (k as f64 + 0.5) / 61.0;
        for iy in 0..61 {
            for ix in 0..61 {
                let v = hm.values[iy * 61 + ix];
                let expected = w[0] * centre(ix) + w[1] * centre(iy);
                assert!(
                    (v - expected).abs() < 1e-12,
                    "cell ({ix}, {iy}): {v} vs {expected}"
                );
            }
        }
        // The middle cell is the origin (v = 0); v is largest in the corner that w points to.
        assert!(hm.values[30 * 61 + 30].abs() < 1e-12);
        let corner = |ix: usize, iy: usize| hm.values[iy * 61 + ix];
        let best = [(0, 0), (60, 0), (0, 60), (60, 60)]
            .into_iter()
            .max_by(|a, b| corner(a.0, a.1).total_cmp(&corner(b.0, b.1)))
            .unwrap();
        assert_eq!(
            best,
            (usize::from(w[0] > 0.0) * 60, usize::from(w[1] > 0.0) * 60)
        );
    }
}

/// A state whose records at speed 0 would pass the GPU's 128 MiB binding in one piece (an attack run found
/// "--backend auto" refusing it, while the CPU ran it in 15 s) runs on the GPU in pieces, with no refusal.
#[test]
fn the_largest_runs_go_to_the_gpu_in_pieces() {
    let Some(gpu) = common::gpu() else { return };
    let mut s = state(|p| {
        p.steps = 48828;
        p.trials = 1024;
        let extra = p.inputs[0].clone();
        p.inputs.push(extra);
    });
    s.view.speed = 0;
    let mut engine = Engine::Gpu(Box::new(gpu));
    let mut run = Run::start(&s.to_any(), &Default::default()).expect("start");
    let started = std::time::Instant::now();
    let clock = || started.elapsed().as_secs_f64() * 1e3;
    let frame = pollster::block_on(run.advance(&mut engine, &Chunk::new(0, 50.0, &clock)))
        .expect("a chunk");
    assert!(frame.step > 0 && frame.step < 48828, "step {}", frame.step);
    assert!(frame.notices.is_empty(), "{:?}", frame.notices);
    assert_eq!(engine.info().kind, "gpu");
}
