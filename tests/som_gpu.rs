//! The self-organising map on the GPU (kernels/som) against its CPU twin (`nets::som::Som::train_sample`): the
//! lecture's box and MiniSom's Gaussian on square and non-square maps, inputs shorter than the sixteen lanes and
//! not a multiple of them, windows clipped at the borders, tens of samples over several submits: the same winners,
//! and distances and weights within float rounding. Also: ties go to the lowest unit, a longer Iris run ends
//! at the CPU's quantization error, bad arguments and oversized maps are refused, the lab on the GPU engine gives
//! the CPU engine's figures, and a device lost inside an epoch sends that epoch back to its start on the CPU.
mod common;

use common::compare::assert_within;
use common::runs::{metric, on_both_engines, store};
use hebbian_playground::engine::{BackendChoice, Engine, Gpu};
use hebbian_playground::error::Error;
use hebbian_playground::kernels::som::{SomData, SomGpu};
use hebbian_playground::labs::budget::Chunk;
use hebbian_playground::labs::{self, Run, som::Data};
use hebbian_playground::nets::som::{self, Hood, Som};
use pollster::block_on;

/// `n` rows of `dim` standard normals (seeded).
fn normals(n: usize, dim: usize, seed: u32) -> Vec<f32> {
    Som::random(1, n, dim, 1.0, seed).weights().to_vec()
}

/// Trains `start` on `data` with `hoods` (one per sample of `picks`) on the CPU and on the GPU (the samples in
/// submits split at `splits`); asserts the same winners, and distances and weights within `tol`. Returns the
/// winners.
fn twins(
    gpu: &Gpu,
    start: &Som,
    data: &[f32],
    picks: &[usize],
    hoods: &[(Hood, f32)],
    splits: &[usize],
    tol: f32,
) -> Vec<usize> {
    let dim = start.dim();
    let what = format!(
        "{} × {} × {dim}, {:?}",
        start.rows(),
        start.cols(),
        hoods[0].0
    );
    let gaussian = matches!(hoods[0].0, Hood::Gaussian { .. });
    let dev_data = SomData::new(gpu, data, dim).expect("data");
    let mut dev = block_on(SomGpu::new(gpu, start, gaussian, &dev_data, picks.len())).expect("map");
    dev.set_epoch(gpu, picks, hoods).expect("epoch");
    let mut cpu = start.clone();
    let mut scratch = Vec::new();
    let want: Vec<(usize, f32)> = picks
        .iter()
        .zip(hoods)
        .map(|(&i, &(hood, rate))| {
            let (win, d) =
                cpu.train_sample(&data[i * dim..(i + 1) * dim], hood, rate, &mut scratch);
            (win, d * d)
        })
        .collect();
    let mut got = Vec::new();
    let mut from = 0;
    for &to in splits.iter().chain([&picks.len()]) {
        got.extend(block_on(dev.train(gpu, from, to - from)).expect("train"));
        from = to;
    }
    let winners: Vec<usize> = want.iter().map(|p| p.0).collect();
    assert_eq!(
        winners,
        got.iter().map(|p| p.0).collect::<Vec<_>>(),
        "{what}: winners"
    );
    // The CPU's distance is the square root of its sum; squared back it is within a few ulp of the sum.
    let (a, b): (Vec<f32>, Vec<f32>) = want.iter().zip(&got).map(|(p, q)| (p.1, q.1)).unzip();
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-5 * (1.0 + x),
            "{what}: sample {i}'s distance² cpu {x} gpu {y}"
        );
    }
    let back = block_on(dev.download(gpu)).expect("download");
    assert_within(
        &format!("{what}: weights"),
        cpu.weights(),
        back.weights(),
        tol,
    );
    let moved = cpu
        .weights()
        .iter()
        .zip(start.weights())
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(moved > 0.05, "{what}: the weights moved only {moved}");
    winners
}

/// Whether some winner's box of `radius` is clipped by a border of the map.
fn clipped(som: &Som, winners: &[usize], radius: usize) -> bool {
    winners.iter().any(|&w| {
        som::neighbours(som.rows(), som.cols(), w, radius).len() < (2 * radius + 1).pow(2)
    })
}

/// The lecture's box on a square map (5 × 5, 20 inputs: one run of sixteen lanes and a tail) and a non-square
/// one (4 × 7, 3 inputs: fewer than the lanes), 40 samples in three submits, radius 1 then 2. Well-separated
/// random weights (σ = 1) keep the winners apart from ties. Measured on lavapipe: the winners equal, the
/// weights and distances bit for bit (max |cpu − gpu| = 0); the tolerance 1e-6 leaves room for a fused multiply-add.
#[test]
fn the_box_trains_as_on_the_cpu() {
    let Some(gpu) = common::gpu() else { return };
    for (rows, cols, dim, radius) in [(5, 5, 20, 1u32), (4, 7, 3, 2)] {
        let start = Som::random(rows, cols, dim, 1.0, 3);
        let data = normals(30, dim, 9);
        let picks = som::epoch_samples(5, 0, 40, 30);
        let hoods: Vec<(Hood, f32)> = (0..40)
            .map(|j| {
                (
                    Hood::Box {
                        radius: radius - u32::from(j >= 30),
                    },
                    0.3,
                )
            })
            .collect();
        let winners = twins(&gpu, &start, &data, &picks, &hoods, &[13, 30], 1e-6);
        assert!(
            clipped(&start, &winners, radius as usize),
            "a window at a border"
        );
    }
}

/// MiniSom's Gaussian with a σ and a rate decaying sample by sample, on maps taller than wide (6 × 4, 37 inputs)
/// and wider than tall (3 × 9, 16 inputs), so that rows and columns cannot be swapped unseen. Measured on lavapipe:
/// the winners equal, max |cpu − gpu| 2.4e-7 and 1.2e-7 in the weights (the factors multiplied in f32 rather than
/// f64: one ulp of weights up to 2); tolerance 1e-6.
#[test]
fn the_gaussian_trains_as_on_the_cpu() {
    let Some(gpu) = common::gpu() else { return };
    for (rows, cols, dim) in [(6, 4, 37), (3, 9, 16)] {
        let start = Som::random(rows, cols, dim, 1.0, 4);
        let data = normals(25, dim, 11);
        let picks = som::epoch_samples(6, 0, 40, 25);
        let hoods: Vec<(Hood, f32)> = (0..40)
            .map(|j| {
                let t = j as f64;
                (
                    Hood::Gaussian {
                        sigma: som::asymptotic(2.0, t, 40.0),
                    },
                    som::asymptotic(0.5, t, 40.0) as f32,
                )
            })
            .collect();
        twins(&gpu, &start, &data, &picks, &hoods, &[1, 22], 1e-6);
    }
}

/// Units with equal weights tie exactly: the first of them wins, as numpy's argmin, also when the tied units are
/// far apart in a map of more units than the winner search has invocations (20 × 20 = 400 > 256).
#[test]
fn ties_go_to_the_lowest_unit() {
    let Some(gpu) = common::gpu() else { return };
    let (rows, cols, dim) = (20, 20, 5);
    let mut w = vec![9.0f32; rows * cols * dim];
    let data = normals(4, dim, 13);
    // Sample s sits on units 3s + 1 and 399 − 3s … and on 300 + s: its first copy, 3s + 1, must win.
    for s in 0..4 {
        for unit in [3 * s + 1, 399 - 3 * s, 300 + s] {
            w[unit * dim..(unit + 1) * dim].copy_from_slice(&data[s * dim..(s + 1) * dim]);
        }
    }
    let start = Som::from_weights(rows, cols, dim, w).expect("map");
    let picks = vec![3, 0, 2, 1];
    let hoods = vec![(Hood::Box { radius: 0 }, 0.5); 4];
    let dev_data = SomData::new(&gpu, &data, dim).expect("data");
    let mut dev = block_on(SomGpu::new(&gpu, &start, false, &dev_data, 4)).expect("map");
    dev.set_epoch(&gpu, &picks, &hoods).expect("epoch");
    let got = block_on(dev.train(&gpu, 0, 4)).expect("train");
    let winners: Vec<usize> = got.iter().map(|p| p.0).collect();
    assert_eq!(winners, vec![10, 1, 7, 4]);
    assert!(got.iter().all(|p| p.1 == 0.0), "{got:?}");
}

/// Iris (z-scored) on a 10 × 10 map, 100 samples an epoch for 30 epochs, the lab's two schedules (box of radius
/// 5 shrinking every 3 epochs at rate 0.05; Gaussian σ₀ = 3, α₀ = 0.5, decaying): the weights read back once per
/// epoch, the final quantization error within 1e-4 of the CPU's (measured: the box's equal, the Gaussian's 1.1e-9
/// apart, the same topographic errors).
#[test]
fn a_longer_iris_run_ends_at_the_cpus_quantization_error() {
    let Some(gpu) = common::gpu() else { return };
    let iris = Data::iris();
    let (epochs, samples) = (30u32, 100usize);
    let start = Som::random(10, 10, iris.dim, 0.1, 1);
    let dev_data = SomData::new(&gpu, &iris.x, iris.dim).expect("data");
    for gaussian in [false, true] {
        let hood = |e: u32, j: usize| {
            if gaussian {
                let total = f64::from(epochs) * samples as f64;
                let t = f64::from(e) * samples as f64 + j as f64;
                (
                    Hood::Gaussian {
                        sigma: som::asymptotic(3.0, t, total),
                    },
                    som::asymptotic(0.5, t, total) as f32,
                )
            } else {
                (
                    Hood::Box {
                        radius: som::lecture_radius(5, 3, e),
                    },
                    0.05,
                )
            }
        };
        let mut cpu = start.clone();
        let mut dev =
            block_on(SomGpu::new(&gpu, &start, gaussian, &dev_data, samples)).expect("map");
        let mut scratch = Vec::new();
        for e in 0..epochs {
            let picks = som::epoch_samples(1, e, samples, iris.len());
            let hoods: Vec<(Hood, f32)> = (0..samples).map(|j| hood(e, j)).collect();
            for (&i, &(h, rate)) in picks.iter().zip(&hoods) {
                cpu.train_sample(
                    &iris.x[i * iris.dim..(i + 1) * iris.dim],
                    h,
                    rate,
                    &mut scratch,
                );
            }
            dev.set_epoch(&gpu, &picks, &hoods).expect("epoch");
            block_on(dev.train(&gpu, 0, 64)).expect("train");
            block_on(dev.train(&gpu, 64, samples - 64)).expect("train");
        }
        let back = block_on(dev.download(&gpu)).expect("download");
        let (a, b) = (cpu.evaluate(&iris.x), back.evaluate(&iris.x));
        eprintln!(
            "Iris, gaussian {gaussian}: QE cpu {} gpu {}, TE cpu {} gpu {}",
            a.qe, b.qe, a.te, b.te
        );
        assert!((a.qe - b.qe).abs() <= 1e-4, "QE cpu {} gpu {}", a.qe, b.qe);
        assert!(a.qe < 0.5, "the map learnt: QE {}", a.qe);
        let agree = a
            .winners
            .iter()
            .zip(&b.winners)
            .filter(|(x, y)| x == y)
            .count();
        assert!(agree >= 145, "winners agree on {agree} of 150");
    }
}

#[test]
fn bad_arguments_and_oversized_maps_are_refused() {
    let Some(gpu) = common::gpu() else { return };
    let start = Som::random(3, 4, 5, 1.0, 0);
    let data = normals(6, 5, 1);
    assert!(SomData::new(&gpu, &data[..7], 5).is_err(), "no whole rows");
    let dev_data = SomData::new(&gpu, &data, 5).expect("data");
    let other = SomData::new(&gpu, &data[..24], 4).expect("data");
    assert!(
        block_on(SomGpu::new(&gpu, &start, false, &other, 4)).is_err(),
        "other widths"
    );
    let mut dev = block_on(SomGpu::new(&gpu, &start, false, &dev_data, 4)).expect("map");
    let boxes = vec![(Hood::Box { radius: 1 }, 0.1); 5];
    assert!(
        dev.set_epoch(&gpu, &[0, 1, 2, 3, 4], &boxes).is_err(),
        "over the capacity"
    );
    assert!(
        dev.set_epoch(&gpu, &[0, 6], &boxes[..2]).is_err(),
        "a row beyond the data"
    );
    assert!(
        dev.set_epoch(&gpu, &[0], &[(Hood::Gaussian { sigma: 1.0 }, 0.1)])
            .is_err(),
        "a Gaussian for the box's map"
    );
    dev.set_epoch(&gpu, &[0, 1], &boxes[..2]).expect("epoch");
    assert!(block_on(dev.train(&gpu, 1, 2)).is_err(), "beyond the epoch");
    // 200 × 200 units of 1,024 inputs: 164 MB of weights, over every binding limit we target (128 MiB).
    let big = Som::from_weights(200, 200, 1024, vec![0.0; 200 * 200 * 1024]).expect("map");
    let wide = SomData::new(&gpu, &vec![0.0; 1024], 1024).expect("data");
    match block_on(SomGpu::new(&gpu, &big, true, &wide, 10)) {
        Err(Error::TooLarge { what, .. }) => assert_eq!(what, "the map's weights"),
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(_) => panic!("a map of 164 MB accepted"),
    }
}

/// The lab's run on the GPU engine (Iris, 12 × 12, both variants, 20 epochs): trained on the device (no notice)
/// with the CPU engine's figures (measured: the box's equal, the Gaussian's within 1e-8).
#[test]
fn the_lab_on_the_gpu_engine_gives_the_cpu_engines_figures() {
    if common::gpu().is_none() {
        return;
    }
    let mut state = labs::default_state("som").expect("lab");
    let p = &mut state.params;
    for (key, value) in [("rows", 12), ("cols", 12), ("epochs", 20), ("radius", 6)] {
        p[key] = value.into();
    }
    let ((a, fa), (b, fb), _) = on_both_engines(&state, &store());
    assert_eq!(fa.step, fb.step, "epochs");
    for variant in ["lecture's box", "Gaussian"] {
        for name in [
            "lecture's error (last epoch)",
            "quantization error",
            "topographic error",
        ] {
            let name = format!("{name}, {variant}");
            let (u, v) = (metric(&a, &name), metric(&b, &name));
            eprintln!("{name}: cpu {u} gpu {v}");
            assert!((u - v).abs() <= 1e-4, "{name}: cpu {u} gpu {v}");
        }
    }
}

/// A device lost inside an epoch (the first chunk ends after its first submit, one of the 300 samples): the run goes
/// on on the CPU with a notice, from that epoch's start, and ends with exactly the CPU engine's figures.
#[test]
fn a_device_lost_inside_an_epoch_sends_it_back_to_the_cpu() {
    if common::gpu().is_none() {
        return;
    }
    let mut state = labs::default_state("som").expect("lab");
    let p = &mut state.params;
    for (key, value) in [
        ("rows", 8),
        ("cols", 8),
        ("epochs", 3),
        ("radius", 4),
        ("samples", 300),
    ] {
        p[key] = value.into();
    }
    let store = store();
    let mut cpu = block_on(Engine::new(BackendChoice::Cpu)).expect("cpu");
    let (want, _) = common::runs::run_to_end(&state, &store, &mut cpu);
    let mut engine = block_on(Engine::new(BackendChoice::Gpu)).expect("gpu");
    let mut run = Run::start(&state, &store).expect("start");
    let clock = || 0.0;
    let first = block_on(run.advance(&mut engine, &Chunk::new(0, 0.0, &clock))).expect("a chunk");
    assert_eq!(first.step, 0, "the chunk ended inside the first epoch");
    engine.gpu().expect("gpu").simulate_loss();
    let mut notices = Vec::new();
    while !run.done() {
        notices.extend(
            block_on(run.advance(&mut engine, &Chunk::steps(0)))
                .expect("advance")
                .notices,
        );
    }
    assert_eq!(engine.info().kind, "cpu");
    assert!(
        notices
            .iter()
            .any(|n| n.contains("continues on the CPU") && n.contains("trains that epoch again")),
        "{notices:?}"
    );
    // Option by option: "box radius 0 after epoch" is undefined on both when the box never shrinks to 0.
    let figures = |m: &[hebbian_playground::protocol::Metric]| -> Vec<(String, Option<f64>)> {
        m.iter()
            .filter(|x| !x.name.contains("per second"))
            .map(|x| (x.name.clone(), x.value))
            .collect()
    };
    assert_eq!(figures(&run.metrics()), figures(&want));
}
