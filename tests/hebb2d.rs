//! Lab 1 against theory: Oja finds ±e₁ with ‖w‖ → 1, clipped Hebb stays bounded and aligns, simple Hebb's
//! ln‖w‖ grows at η λ₁, runs are bit-exact repeatable on the CPU and agree with the GPU.
mod common;

use hebbian_playground::engine::Engine;
use hebbian_playground::labs::Lab as _;
use hebbian_playground::labs::hebb2d::{self, Params};
use hebbian_playground::labs::{self, Run};
use hebbian_playground::plasticity::Rule;
use hebbian_playground::protocol::Frame;
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
    let mut run = Run::start(&any, engine, &Default::default()).expect("start");
    pollster::block_on(run.advance(engine, 0)).expect("run")
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
    let mut whole = Run::start(&s, &engine, &Default::default()).expect("start");
    let one = pollster::block_on(whole.advance(&mut engine, 0)).expect("run");
    let mut chunked = Run::start(&s, &engine, &Default::default()).expect("start");
    let mut last = None;
    while !chunked.done() {
        last = Some(pollster::block_on(chunked.advance(&mut engine, 37)).expect("chunk"));
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
    assert!(Run::start(&bad.to_any(), &Engine::cpu("test"), &Default::default()).is_err());
    let huge = state(|p| {
        p.steps = 1_000_000;
        p.trials = 1024;
    });
    assert!(
        labs::validate(&huge.to_any())
            .iter()
            .any(|e| e.message.contains("exceeds"))
    );
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
    let f = run(&hebb2d::Hebb2d::default_state());
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
