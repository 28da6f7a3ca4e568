//! The credit-assignment lab's learning outcomes on the shipped digits (8,000 training, 1,000 validation):
//!
//! - the default experiment (seed 1: 10 classes, 100 sigmoid units, batch 32, rate 0.01, 4 epochs): backprop
//!   82.0 %, Kolen-Pollack 80.4 %, feedback alignment 78.7 %, Hebbian 9.7 % (chance 10 %); the Hebbian first
//!   layer's gradient SNR 0.345 against backprop's 0.110 (the source's observation); Kolen-Pollack's feedback
//!   closer to W₂ᵀ than feedback alignment's (35° vs 48°); the rules of runs with unseen seeds guessed from
//!   their metrics 75 % right (chance 25 %), and 90 % for three error-driven rules trained longer;
//! - the clamped Hebbian 2-class task (digits 0 and 1, rate 10⁻⁴) with as many updates as the source makes
//!   (27 epochs of 1,600 digits): 97.6 / 99.5 / 52.8 / 99.5 / 52.8 % for seeds 1–5, so it succeeds in most seeds;
//!   unclamped it succeeds in none (47.2 / 52.8 / 52.8 / 52.8 / 52.8 %). The source's formulas written in
//!   PyTorch and run on the same digits for 28 epochs succeed clamped in 1 of PyTorch's seeds 0–4 (100 %, the
//!   others one class) and unclamped in none: there too, success depends on the seed.
//!
//! A few seconds each in an optimised build: `scripts/test.sh` runs this file with `cargo test --profile budgets
//! --test credit_lab`; a debug `cargo test` skips it. (tests/e2e/credit.test.mjs checks that the page's CPU
//! engine gives the CLI's numbers.)
mod common;

use common::runs::{metric, run_to_end, store};
use hebbian_playground::engine::Engine;
use hebbian_playground::labs;

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "seconds optimised: cargo test --profile budgets --test credit_lab"
)]
fn error_driven_rules_learn_and_hebbian_does_not_on_ten_classes() {
    let m = run_to_end(
        &labs::default_state("credit").expect("lab"),
        &store(),
        &mut Engine::cpu("test"),
    )
    .0;
    let acc = |rule: &str| metric(&m, &format!("validation accuracy, {rule}"));
    let (bp, kp, fa, hebb) = (
        acc("backprop"),
        acc("Kolen-Pollack"),
        acc("feedback alignment"),
        acc("Hebbian"),
    );
    eprintln!(
        "backprop {bp:.1} %, Kolen-Pollack {kp:.1} %, feedback alignment {fa:.1} %, Hebbian {hebb:.1} %"
    );
    assert!(bp > 75.0 && kp > 75.0, "backprop {bp}, Kolen-Pollack {kp}");
    assert!(
        bp - fa < 6.0 && fa > 70.0,
        "feedback alignment {fa} vs backprop {bp}"
    );
    assert!(hebb < 20.0, "Hebbian on ten classes: {hebb}");
    let snr = |rule: &str| metric(&m, &format!("gradient SNR, first layer, {rule}"));
    assert!(snr("Hebbian") > 2.0 * snr("backprop"));
    let angle = |rule: &str| metric(&m, &format!("feedback angle to W₂ᵀ, {rule}"));
    assert!(angle("Kolen-Pollack") < angle("feedback alignment"));
    assert!(angle("feedback alignment") < 60.0, "alignment happened");
    let cos = metric(
        &m,
        "cosine similarity to backprop, first layer, Kolen-Pollack",
    );
    assert!(cos > 0.6, "{cos}");
    // Which rule is this? 6 seeds of the four rules: 75 % of the runs guessed right (chance 25 %).
    let id = metric(&m, "rule identification accuracy on unseen seeds");
    eprintln!("rule identification {id:.1} %");
    assert!(id >= 50.0, "rule identification {id} %");
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "seconds optimised: cargo test --profile budgets --test credit_lab"
)]
fn longer_runs_tell_feedback_alignment_from_kolen_pollack() {
    // Backprop, feedback alignment and Kolen-Pollack, 10 seeds of 1,000 digits for 4 epochs: 90 % right
    // (chance 33 %; with 2 epochs of 500 digits the last two are confused half of the time).
    let mut state = labs::default_state("credit").expect("lab");
    let p = &mut state.params;
    p["epochs"] = 1.into();
    p["train_images"] = 1000.into();
    p["snr_examples"] = 0.into();
    p["rules"]["hebbian"] = false.into();
    p["identify"]["runs"] = 10.into();
    p["identify"]["train_images"] = 1000.into();
    p["identify"]["epochs"] = 4.into();
    let m = run_to_end(&state, &store(), &mut Engine::cpu("test")).0;
    let id = metric(&m, "rule identification accuracy on unseen seeds");
    eprintln!("rule identification, three error-driven rules: {id:.1} %");
    assert!(id >= 80.0, "rule identification {id} %");
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "seconds optimised: cargo test --profile budgets --test credit_lab"
)]
fn clamped_hebbian_two_class_task_succeeds_in_most_seeds() {
    let store = store();
    let mut state = labs::default_state("credit").expect("lab");
    let p = &mut state.params;
    p["classes"] = 2.into();
    p["epochs"] = 27.into();
    p["snr_examples"] = 0.into();
    p["pictures"] = "hebbian".into();
    for (rule, on) in p["rules"].as_object_mut().expect("rules") {
        *on = (rule == "hebbian").into();
    }
    let mut successes = [0, 0];
    for (k, clamp) in [true, false].into_iter().enumerate() {
        state.params["hebbian"]["clamp"] = clamp.into();
        for seed in 1..=5 {
            state.seed = seed;
            let acc = metric(
                &run_to_end(&state, &store, &mut Engine::cpu("test")).0,
                "validation accuracy, Hebbian",
            );
            eprintln!("clamped {clamp}, seed {seed}: {acc:.1} %");
            successes[k] += usize::from(acc > 90.0);
        }
    }
    assert!(successes[0] >= 3, "clamped: {} of 5 seeds", successes[0]);
    assert_eq!(successes[1], 0, "unclamped: {} of 5 seeds", successes[1]);
}
