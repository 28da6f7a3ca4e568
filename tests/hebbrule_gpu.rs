//! The Hebb's-rule lab's class prototypes on the GPU (kernels/hebbrule) against their CPU twin
//! (`nets::hebbrule::Layer::instar_row` over an epoch's order): 300 shipped digits, two epochs in two seeded
//! orders; every weight equal bit for bit (one invocation per weight performs the CPU's operations on it in the
//! CPU's order, and lavapipe does not contract a multiply-add). Also: bad arguments are refused, the lab on the
//! GPU engine gives the CPU engine's figures, a diverging rate stops both engines alike, and a device lost
//! mid-run hands the run to the CPU.
mod common;

use common::runs::{assert_same_figures, metric, on_both_engines, run_to_end, store};
use hebbian_playground::data::{Split, preprocess};
use hebbian_playground::engine::{BackendChoice, Engine};
use hebbian_playground::kernels::hebbrule::HebbruleGpu;
use hebbian_playground::labs::{self, Run, budget::Chunk};
use hebbian_playground::nets::hebbrule::Layer;
use ndarray::Array2;
use pollster::block_on;

#[test]
fn two_epochs_train_the_prototypes_as_on_the_cpu() {
    let Some(gpu) = common::gpu() else { return };
    let d = store().mnist().expect("the shipped digits");
    let train: Vec<usize> = preprocess::shuffled(&d.indices(Split::Train), 0, 0)[..300].to_vec();
    let x = d.rows(&train);
    let labels: Vec<u8> = train.iter().map(|&i| d.labels[i]).collect();
    let start = Layer::zeros(10, 784);
    let rate = 0.05;
    let dev =
        block_on(HebbruleGpu::new(&gpu, &start, x.view(), &labels, rate)).expect("on the GPU");
    let mut cpu = start.clone();
    for epoch in 0..2 {
        let order: Vec<usize> =
            preprocess::shuffled(&(0..train.len()).collect::<Vec<_>>(), 3, epoch);
        for &p in &order {
            cpu.instar_row(
                usize::from(labels[p]),
                x.row(p).as_slice().expect("a row"),
                rate,
            );
        }
        let positions: Vec<u32> = order.iter().map(|&p| p as u32).collect();
        block_on(dev.epoch(&gpu, &positions)).expect("an epoch");
        let mut back = start.clone();
        block_on(dev.download(&gpu, &mut back)).expect("download");
        let differ = cpu
            .w
            .iter()
            .zip(&back.w)
            .filter(|(a, b)| a.to_bits() != b.to_bits())
            .count();
        let worst = cpu
            .w
            .iter()
            .zip(&back.w)
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        assert_eq!(
            differ, 0,
            "epoch {epoch}: {differ} weights differ, by up to {worst}"
        );
    }
    let moved = cpu.w.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(moved > 0.5, "the prototypes moved only {moved}");
}

#[test]
fn bad_arguments_are_refused() {
    let Some(gpu) = common::gpu() else { return };
    let net = Layer::zeros(3, 4);
    let x = Array2::<f32>::zeros((5, 4));
    let new = |x: &Array2<f32>, labels: &[u8]| {
        block_on(HebbruleGpu::new(&gpu, &net, x.view(), labels, 0.1))
    };
    assert!(
        new(&Array2::zeros((5, 3)), &[0, 1, 2, 0, 1]).is_err(),
        "digits of another width"
    );
    assert!(new(&x, &[0, 1, 2, 0]).is_err(), "a label missing");
    assert!(
        new(&x, &[0, 1, 3, 0, 1]).is_err(),
        "a label beyond the classes"
    );
    let dev = new(&x, &[0, 1, 2, 0, 1]).expect("valid");
    assert!(
        block_on(dev.epoch(&gpu, &[0, 5])).is_err(),
        "a position beyond the digits"
    );
    assert!(block_on(dev.epoch(&gpu, &[1, 1])).is_err(), "a digit twice");
    assert!(
        dev.upload(&gpu, &Layer::zeros(2, 4)).is_err(),
        "another shape"
    );
}

/// 1,000 training and 500 test digits, α = 0.05, 4 epochs reshuffled.
fn small_state() -> hebbian_playground::state::AnyState {
    let mut state = labs::default_state("hebbrule").expect("lab");
    let p = &mut state.params;
    p["train_images"] = 1000.into();
    p["test_images"] = 500.into();
    p["epochs"] = 4.into();
    p["rate"] = 0.05.into();
    state
}

/// The lab on the GPU engine trains on the device (no notice) and gives the CPU engine's metrics and plots,
/// equal.
#[test]
fn the_lab_on_the_gpu_engine_gives_the_cpu_engines_figures() {
    if common::gpu().is_none() {
        return;
    }
    let ((a, fa), (b, fb), _) = on_both_engines(&small_state(), &store());
    assert!(
        metric(&a, "MNIST test accuracy, nearest prototype") > 50.0,
        "the run learnt: {a:?}"
    );
    assert_same_figures(&a, &b, "GPU engine");
    assert_eq!(
        serde_json::to_value(&fa.plots).expect("plots"),
        serde_json::to_value(&fb.plots).expect("plots"),
        "the plots"
    );
}

/// α = 2.5 overshoots further with every update: both engines stop after the first epoch with the same message
/// and keep the untrained prototypes.
#[test]
fn a_diverging_rate_stops_both_engines_alike() {
    if common::gpu().is_none() {
        return;
    }
    let mut state = small_state();
    state.params["rate"] = 2.5.into();
    let store = store();
    let mut notices = Vec::new();
    let mut metrics = Vec::new();
    for choice in [BackendChoice::Cpu, BackendChoice::Gpu] {
        let mut engine = block_on(Engine::new(choice)).expect("engine");
        let mut run = Run::start(&state, &store).expect("start");
        let mut seen = Vec::new();
        while !run.done() {
            seen.extend(
                block_on(run.advance(&mut engine, &Chunk::steps(0)))
                    .expect("advance")
                    .notices,
            );
        }
        notices.push(seen);
        metrics.push(run.metrics());
        assert_eq!(run.snapshot().step, 0, "{choice:?}: no epoch counted");
    }
    assert!(
        notices[0].iter().any(|n| n.contains("diverged in epoch 1")),
        "{:?}",
        notices[0]
    );
    assert_eq!(notices[0], notices[1]);
    assert_eq!(
        metric(&metrics[0], "MNIST test accuracy, dot product"),
        metric(&metrics[1], "MNIST test accuracy, dot product")
    );
}

/// A device lost after the first epoch: the run goes on on the CPU, says so, and ends with the CPU engine's
/// figures.
#[test]
fn a_lost_device_hands_the_run_to_the_cpu() {
    let Some(gpu) = common::gpu() else { return };
    let state = small_state();
    let store = store();
    let mut cpu = block_on(Engine::new(BackendChoice::Cpu)).expect("cpu");
    let (want, _) = run_to_end(&state, &store, &mut cpu);
    let mut engine = Engine::Gpu(Box::new(gpu));
    let mut run = Run::start(&state, &store).expect("start");
    let mut notices = block_on(run.advance(&mut engine, &Chunk::steps(1)))
        .expect("advance")
        .notices;
    engine.gpu().expect("gpu").simulate_loss();
    while !run.done() {
        notices.extend(
            block_on(run.advance(&mut engine, &Chunk::steps(1)))
                .expect("advance")
                .notices,
        );
    }
    assert_eq!(engine.info().kind, "cpu");
    assert!(
        notices.iter().any(|n| n.contains("continues on the CPU")),
        "{notices:?}"
    );
    assert_same_figures(&want, &run.metrics(), "after the fallback");
}
