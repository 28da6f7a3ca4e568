//! Online competitive learning on the GPU (kernels/competitive) against its CPU twin
//! (`nets::competitive::Competitive::step`): every variant (plain, conscience, leaky) and both winner modes, on
//! the lab's blobs (dead-units start, U[1, 2)²) and on 300 shipped digits (10 units from N(0, 0.1²)), two epochs,
//! the first in two submits of uneven size. Every presentation's winner and nearest unit are the same; the
//! distances, the weights, the conscience's frequencies and the snapshots of the weights are equal bit for bit:
//! the kernel sums in the CPU's lanes and order, and lavapipe does not contract its multiply-adds (a device that
//! does would differ in the last bits; the browser's twin in tests/web.rs has a tolerance for that). Also: bad arguments are refused, the lab on the GPU
//! engine gives the CPU engine's figures, and a device lost mid-run hands the run to the CPU.
mod common;

use common::compare::assert_within;
use common::runs::{assert_same_figures, metric, on_both_engines, run_to_end, store, timing};
use hebbian_playground::data::generate::Blobs;
use hebbian_playground::data::{Split, preprocess};
use hebbian_playground::engine::{BackendChoice, Engine};
use hebbian_playground::kernels::competitive::{CompetitiveGpu, MAX_UNITS};
use hebbian_playground::labs::{self, Run, budget::Chunk};
use hebbian_playground::nets::competitive::{Competitive, Variant, Winner};
use ndarray::{Array2, ArrayView2};
use pollster::block_on;

/// Snapshots every `TRACE` presentations (and after the last), as the lab's paths.
const TRACE: usize = 7;

/// The lab's blobs (seed 9, 500 per blob, in its seeded order).
fn blobs() -> Array2<f32> {
    let data = Blobs {
        centres: vec![[0.0, 0.0], [0.5, 0.5], [1.0, 0.0]],
        spread: 0.15,
        count: 500,
    }
    .generate(9)
    .expect("blobs");
    let order = preprocess::shuffled(&(0..data.len()).collect::<Vec<_>>(), 9, 0);
    data.rows(&order)
}

/// 300 shipped training digits in a seeded order.
fn digits() -> Array2<f32> {
    let d = store().mnist().expect("the shipped digits");
    let train = preprocess::shuffled(&d.indices(Split::Train), 0, 0);
    d.rows(&train[..300])
}

/// Two epochs of `net` on `x` on the CPU and on the GPU (the first epoch in two submits, split at `split`);
/// asserts the same winners and nearest units and the rest within `tol` (0: equal). Returns the worst difference.
fn twins(
    what: &str,
    net: &Competitive,
    x: ArrayView2<f32>,
    how: Winner,
    variant: Variant,
    rate: f32,
    tol: f32,
) -> f32 {
    let Some(gpu) = common::gpu() else {
        return 0.0;
    };
    let n = x.nrows();
    let split = n / 3 + 1;
    let dev = block_on(CompetitiveGpu::new(&gpu, net, x, how, variant, rate, TRACE))
        .expect("competitive learning on the GPU");
    let mut cpu = net.clone();
    let mut worst = 0f32;
    for epoch in 0..2 {
        let mut steps = Vec::new();
        let mut snapshots = Vec::new();
        for (k, row) in x.rows().into_iter().enumerate() {
            steps.push(cpu.step(row.as_slice().expect("a row"), rate, how, variant));
            if (k + 1) % TRACE == 0 || k + 1 == n {
                snapshots.push(cpu.w.clone());
            }
        }
        let mut got = if epoch == 0 {
            block_on(dev.train(&gpu, 0, split)).expect("the first part")
        } else {
            Vec::new()
        };
        let from = got.len();
        got.extend(block_on(dev.train(&gpu, from, n - from)).expect("the rest"));
        assert_eq!(got.len(), n, "{what}: records");
        for (k, (a, b)) in steps.iter().zip(&got).enumerate() {
            assert_eq!(
                (a.winner, a.nearest),
                (b.winner, b.nearest),
                "{what}, epoch {epoch}, sample {k}: winner and nearest (cpu, gpu)"
            );
            worst = worst.max(assert_within(
                &format!("{what}: distance {k}"),
                &[a.distance],
                &[b.distance],
                tol,
            ));
        }
        let mut back = net.clone();
        let traced = block_on(dev.download(&gpu, &mut back)).expect("download");
        worst = worst.max(assert_within(
            &format!("{what}: weights"),
            &cpu.w,
            &back.w,
            tol,
        ));
        worst = worst.max(assert_within(
            &format!("{what}: frequencies"),
            &cpu.freq,
            &back.freq,
            tol,
        ));
        assert_eq!(traced.len(), snapshots.len(), "{what}: snapshots");
        for (a, b) in snapshots.iter().zip(&traced) {
            worst = worst.max(assert_within(&format!("{what}: snapshot"), a, b, tol));
        }
    }
    // The weights moved: the comparison is not of two untouched copies.
    let moved = cpu
        .w
        .iter()
        .zip(&net.w)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(moved > 1e-2, "{what}: the weights moved only {moved}");
    let wins = (0..net.units())
        .filter(|&i| cpu.w.row(i) != net.w.row(i))
        .count();
    eprintln!("{what}: max |cpu − gpu| = {worst:e}; {wins} units moved, by up to {moved}");
    worst
}

/// The variants as the lab sets them on the blobs (its dead-units defaults).
fn variants() -> [(&'static str, Winner, Variant); 5] {
    [
        ("plain, distance", Winner::Distance, Variant::Plain),
        ("plain, activation", Winner::Activation, Variant::Plain),
        (
            "conscience",
            Winner::Distance,
            Variant::Conscience {
                beta: 0.001,
                c: 3.0,
            },
        ),
        ("leaky", Winner::Distance, Variant::Leaky { leak: 0.001 }),
        (
            "leaky, activation",
            Winner::Activation,
            Variant::Leaky { leak: 0.001 },
        ),
    ]
}

/// The blobs, 4 units started beside them (where plain WTA leaves three dead) and 3 units over them (the
/// blobs' own start), α = 0.01.
#[test]
fn every_variant_clusters_the_blobs_as_on_the_cpu() {
    let x = blobs();
    for (units, lo, hi) in [(4, 1.0, 2.0), (3, 0.0, 1.0)] {
        let net = Competitive::uniform(units, 2, lo, hi, 9, 1).expect("a net");
        for (name, how, variant) in variants() {
            twins(
                &format!("blobs, {units} units, {name}"),
                &net,
                x.view(),
                how,
                variant,
                0.01,
                0.0,
            );
        }
    }
}

/// 300 digits, 10 units, α = 0.05, the digits' conscience (C = 100) and leak (1e-4).
#[test]
fn every_variant_clusters_digits_as_on_the_cpu() {
    let x = digits();
    let net = Competitive::normal(10, 784, 0.1, 9, 2).expect("a net");
    for (name, how, variant) in variants() {
        let variant = match variant {
            Variant::Conscience { beta, .. } => Variant::Conscience { beta, c: 100.0 },
            Variant::Leaky { .. } => Variant::Leaky { leak: 1e-4 },
            v => v,
        };
        twins(
            &format!("digits, {name}"),
            &net,
            x.view(),
            how,
            variant,
            0.05,
            0.0,
        );
    }
}

/// Inputs whose width is no multiple of the eight lanes (19), 5 units: the lanes' remainders.
#[test]
fn odd_widths_sum_in_the_cpus_lanes() {
    let x = Array2::from_shape_fn((200, 19), |(i, j)| {
        (0.5 + 0.5 * ((i * 7 + j * 3) as f32 * 0.37).sin()).clamp(0.0, 1.0)
    });
    let net = Competitive::uniform(5, 19, 0.0, 1.0, 4, 0).expect("a net");
    for (name, how, variant) in variants() {
        twins(
            &format!("19 inputs, {name}"),
            &net,
            x.view(),
            how,
            variant,
            0.1,
            0.0,
        );
    }
}

#[test]
fn bad_arguments_are_refused() {
    let Some(gpu) = common::gpu() else { return };
    let x = Array2::<f32>::zeros((5, 3));
    let new = |net: &Competitive, x: ArrayView2<f32>| {
        block_on(CompetitiveGpu::new(
            &gpu,
            net,
            x,
            Winner::Distance,
            Variant::Plain,
            0.1,
            0,
        ))
    };
    let many = Competitive::new(Array2::zeros((MAX_UNITS + 1, 3))).expect("a net");
    assert!(
        new(&many, x.view()).is_err(),
        "more units than a workgroup holds"
    );
    let net = Competitive::new(Array2::zeros((2, 4))).expect("a net");
    assert!(new(&net, x.view()).is_err(), "samples of another width");
    let net = Competitive::new(Array2::zeros((2, 3))).expect("a net");
    let dev = new(&net, x.view()).expect("valid");
    assert!(
        block_on(dev.train(&gpu, 3, 3)).is_err(),
        "samples beyond the data"
    );
    let other = Competitive::new(Array2::zeros((3, 3))).expect("a net");
    assert!(dev.upload(&gpu, &other).is_err(), "another shape");
}

/// A small state of the lab: 3 epochs of blobs, 3 of dead units, 2 of 1,000 digits with the conscience.
fn small_state() -> hebbian_playground::state::AnyState {
    let mut state = labs::default_state("competitive").expect("lab");
    let p = &mut state.params;
    p["blobs"]["epochs"] = 3.into();
    p["dead"]["epochs"] = 3.into();
    p["digits"]["digits"] = 1000.into();
    p["digits"]["epochs"] = 2.into();
    p["digits"]["remedy"] = "conscience".into();
    state
}

/// `state` to the end on `engine` in chunks whose deadline has always passed (a clock that ticks 1 ms a look):
/// each chunk makes the least progress it can (one epoch of the blobs, one submit of digits). Returns the metrics,
/// the last frame and the number of chunks.
fn run_in_slices(
    state: &hebbian_playground::state::AnyState,
    store: &hebbian_playground::data::store::DataStore,
    engine: &mut Engine,
) -> (
    Vec<hebbian_playground::protocol::Metric>,
    hebbian_playground::protocol::Frame,
    usize,
) {
    let t = std::cell::Cell::new(0.0);
    let clock = || {
        t.set(t.get() + 1.0);
        t.get()
    };
    let mut run = Run::start(state, store).expect("start");
    let mut chunks = 0;
    while !run.done() {
        block_on(run.advance(engine, &Chunk::new(0, 0.0, &clock))).expect("advance");
        chunks += 1;
    }
    (run.metrics(), run.snapshot(), chunks)
}

/// The lab's run on the GPU engine trains on the device (no notice) and gives the CPU engine's figures: every
/// metric but the timings and every plot equal (the twins agree bit for bit above), in one piece and in the
/// smallest chunks (the digits' epochs cut between submits).
#[test]
fn the_lab_on_the_gpu_engine_gives_the_cpu_engines_figures() {
    if common::gpu().is_none() {
        return;
    }
    let state = small_state();
    let store = store();
    let ((a, fa), (b, fb), mut gpu) = on_both_engines(&state, &store);
    assert_eq!(fa.step, fb.step, "epochs");
    for m in a.iter().filter(|m| !timing(&m.name)) {
        let (u, v) = (metric(&a, &m.name), metric(&b, &m.name));
        eprintln!("{}: cpu {u} gpu {v}", m.name);
        assert!(
            (u - v).abs() <= 1e-6 * u.abs().max(1.0),
            "{}: cpu {u} gpu {v}",
            m.name
        );
    }
    let (pa, pb) = (
        serde_json::to_value(&fa.plots).expect("plots"),
        serde_json::to_value(&fb.plots).expect("plots"),
    );
    assert_eq!(pa, pb, "the plots");
    let (c, fc, chunks) = run_in_slices(&state, &store, &mut gpu);
    // 6 epochs of blobs and dead units, then 2 epochs of 1,000 digits in submits of 512.
    assert_eq!(chunks, 6 + 2 * 2, "chunks");
    assert!(fc.notices.is_empty(), "{:?}", fc.notices);
    assert_same_figures(&a, &c, "in chunks");
    assert_eq!(
        pa,
        serde_json::to_value(&fc.plots).expect("plots"),
        "the plots in chunks"
    );
}

/// A device lost during the digits' first epoch: the run goes on on the CPU from the epoch's start, says so, and
/// ends with the CPU engine's figures.
#[test]
fn a_lost_device_hands_the_run_to_the_cpu() {
    let Some(gpu) = common::gpu() else { return };
    let state = small_state();
    let store = store();
    let mut cpu = block_on(Engine::new(BackendChoice::Cpu)).expect("cpu");
    let (want, _) = run_to_end(&state, &store, &mut cpu);
    let mut engine = Engine::Gpu(Box::new(gpu));
    let mut run = Run::start(&state, &store).expect("start");
    let mut notices = Vec::new();
    // The blobs' and dead units' six epochs on the device; the digits' first epoch meets the lost device.
    let mut frame = block_on(run.advance(&mut engine, &Chunk::steps(6))).expect("advance");
    notices.append(&mut frame.notices);
    assert_eq!(frame.step, 6);
    engine.gpu().expect("gpu").simulate_loss();
    while !run.done() {
        let frame = block_on(run.advance(&mut engine, &Chunk::steps(1))).expect("advance");
        notices.extend(frame.notices);
    }
    assert_eq!(engine.info().kind, "cpu");
    assert!(
        notices
            .iter()
            .any(|n| n.contains("continues on the CPU") && n.contains("starts the epoch again")),
        "{notices:?}"
    );
    assert_same_figures(&want, &run.metrics(), "after the fallback");
}
