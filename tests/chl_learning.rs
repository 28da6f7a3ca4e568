//! Contrastive Hebbian learning (nets::chl) learns the shipped digits with the listing's settings: [784, 128, 10],
//! η = 0.01, γ = 0.5, T = 10, dt = 0.5 (20 Euler steps), batches of 10, sigmoid units, one-hot targets, pixels
//! in [0, 1]; the 8,000 training digits reshuffled every epoch, accuracy on the 1,000 test digits.
mod common;

use common::runs::store;
use hebbian_playground::data::{Dataset, Split, preprocess};
use hebbian_playground::nets::chl::{self, Chl, Settings};
use ndarray::Array2;

const EPOCHS: u32 = 1;

/// One epoch takes the untrained net from chance to ≥ 0.85 test accuracy. Measured (budgets profile, 2 cores,
/// seed 0): 0.8877 after one epoch (2.4–3.9 s); with EPOCHS = 10, by epoch 0.8877, 0.9107, 0.9288, 0.9258,
/// 0.9037, 0.9198, 0.9368, 0.9428, 0.9358, 0.9298 (25 s), so ≥ 0.90 from the second epoch on, as issue 11
/// asks. The source's 0.9675 comes from 52,500 training digits, 6.5 times ours.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "seconds optimised: cargo test --profile budgets --test chl_learning"
)]
fn chl_learns_the_digits() {
    let d = store().mnist().expect("the shipped digits");
    let s = Settings::default();
    let train = d.indices(Split::Train);
    let test = d.indices(Split::Test);
    let one_hot = |idx: &[usize]| {
        Array2::from_shape_fn((idx.len(), 10), |(n, c)| {
            f32::from(u8::from(usize::from(d.labels[idx[n]]) == c))
        })
    };
    let mut net = Chl::new(&[784, 128, 10], 0).expect("valid");
    let chance = accuracy(&net, &d, &test, &s);
    assert!(chance < 0.3, "untrained accuracy {chance}");
    let batch = 10;
    let start = std::time::Instant::now();
    for epoch in 0..EPOCHS {
        let order = preprocess::shuffled(&train, 0, epoch);
        for b in 0..chl::batches(order.len(), batch) {
            let idx = &order[b * batch..(b + 1) * batch];
            net.train_batch(d.rows(idx).view(), one_hot(idx).view(), &s);
        }
        let accuracy = accuracy(&net, &d, &test, &s);
        eprintln!(
            "epoch {}: test accuracy {accuracy:.4} ({:.1} s)",
            epoch + 1,
            start.elapsed().as_secs_f64()
        );
        if epoch + 1 == EPOCHS {
            assert!(accuracy >= 0.85, "test accuracy {accuracy}");
        }
    }
}

/// The fraction of `test` whose free phase's argmax is the label.
fn accuracy(net: &Chl, d: &Dataset, test: &[usize], s: &Settings) -> f64 {
    let predicted = net.predict(d.rows(test).view(), s);
    let correct = predicted
        .iter()
        .zip(test)
        .filter(|&(&p, &i)| p == usize::from(d.labels[i]))
        .count();
    correct as f64 / test.len() as f64
}

/// Issue 11's test through the lab: its default state, the lecture's settings ([784, 128, 10], η = 0.01, γ = 0.5,
/// T = 10, dt = 0.5, batches of 10) on the shipped 8,000 training digits (seed 0), reaches 0.90 test accuracy on
/// the 997 shipped test digits within 3 epochs. Measured (budgets profile, 2 cores): 0.8947, 0.9027, 0.9248 by
/// epoch (8 s alone, 20 s beside the other test on a busy machine); the default's 10 epochs end at 0.9418 (26-30 s).
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "seconds optimised: cargo test --profile budgets --test chl_learning"
)]
fn the_lab_with_the_lectures_settings_reaches_090() {
    use common::runs::{metric, run_to_end};
    use hebbian_playground::engine::Engine;
    use hebbian_playground::labs;
    let mut state = labs::default_state("chl").expect("lab");
    state.params["epochs"] = 3.into();
    let (m, _) = run_to_end(&state, &store(), &mut Engine::cpu("test"));
    let accuracy = metric(&m, "test accuracy");
    eprintln!("test accuracy after 3 epochs: {accuracy:.2} %");
    assert!(accuracy >= 90.0, "test accuracy {accuracy} %");
    assert!(metric(&m, "training accuracy") >= 85.0);
}
