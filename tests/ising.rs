//! The Ising model (nets/ising.rs) and its checkerboard kernel (kernels/ising.rs): identical lattices from
//! the CPU twin and the GPU (lavapipe in CI), the physics on both sides of T_c, the energy's bookkeeping,
//! input checks, the CPU fallback, and an ignored benchmark.
mod common;

use hebbian_playground::engine::Engine;
use hebbian_playground::error::Error;
use hebbian_playground::kernels::ising as kernel;
use hebbian_playground::labs::budget::Chunk;
use hebbian_playground::labs::ising::{
    self as lab, IsingLab, Mode, Params, SweepStart, elliptic_k_e, onsager_heat_capacity,
    onsager_magnetisation,
};
use hebbian_playground::labs::{self, Lab as _, Run};
use hebbian_playground::nets::ising::{Ising, Lattice, Observables, Start, T_C};
use hebbian_playground::protocol::{Frame, PlotBody};
use hebbian_playground::rng;
use hebbian_playground::state::StateDoc;
use pollster::block_on;

const HALF: Start = Start::Random { p_up: 0.5 };

fn ising(k: usize, kt: f64, h: f64, seed: u32, start: Start) -> Ising {
    Ising::new(k, kt, h, seed, start).expect("valid parameters")
}

/// The fields of an `Error::Invalid`, or a panic.
fn invalid_fields(result: Result<Ising, Error>) -> Vec<String> {
    match result {
        Err(Error::Invalid(fields)) => fields.into_iter().map(|f| f.path).collect(),
        other => panic!(
            "expected invalid parameters, got {:?}",
            other.map(|i| i.k())
        ),
    }
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0), |(s, n), v| (s + v, n + 1));
    sum / f64::from(n)
}

#[test]
fn cpu_and_gpu_give_identical_lattices() {
    let Some(gpu) = common::gpu() else { return };
    let mut configs = 0;
    for k in [2, 8, 16, 34] {
        for kt in [1.0, T_C, 3.5] {
            // h = 0 uses two distinct ΔE > 0; h ≠ 0 all ten table entries.
            for h in [0.0, 0.3, -0.7] {
                let seed = (k * 31) as u32 ^ kt.to_bits() as u32;
                let (mut cpu, mut on_gpu) =
                    (ising(k, kt, h, seed, HALF), ising(k, kt, h, seed, HALF));
                let before = cpu.spins().to_vec();
                // Several calls: the lattice stays on the GPU between them.
                for sweeps in [1, 3, 5] {
                    let c = cpu.advance_cpu(sweeps);
                    let g = block_on(on_gpu.advance_gpu(&gpu, sweeps)).expect("gpu sweeps");
                    assert_eq!(c, g, "observables, k {k} kT {kt} h {h}");
                    assert_eq!(cpu.spins(), on_gpu.spins(), "lattice, k {k} kT {kt} h {h}");
                }
                // k = 2 may well end where it started.
                if k > 2 {
                    assert_ne!(cpu.spins(), &before[..], "nothing flipped: k {k} kT {kt}");
                }
                assert_eq!(cpu.sweep(), 9);
                assert_eq!(on_gpu.sweep(), 9);
                configs += 1;
            }
        }
    }
    assert_eq!(configs, 36);
}

#[test]
fn cpu_and_gpu_agree_across_command_buffers_and_after_a_cpu_step() {
    let Some(gpu) = common::gpu() else { return };
    let (mut cpu, mut mixed) = (ising(8, 2.5, 0.1, 3, HALF), ising(8, 2.5, 0.1, 3, HALF));
    // 300 sweeps need two command buffers of at most 256 sweeps.
    let c = cpu.advance_cpu(300);
    let g = block_on(mixed.advance_gpu(&gpu, 300)).expect("gpu");
    assert_eq!(c, g);
    assert_eq!(cpu.spins(), mixed.spins());
    // A CPU step in between makes the GPU's copy stale: it must be uploaded again.
    cpu.advance_cpu(4);
    mixed.advance_cpu(2);
    block_on(mixed.advance_gpu(&gpu, 2)).expect("gpu");
    assert_eq!(cpu.spins(), mixed.spins());
    // So does a new temperature or field: the table is sent with every call.
    for run in [&mut cpu, &mut mixed] {
        run.set_kt(1.2).expect("kT");
        run.set_h(-0.4).expect("h");
    }
    let c = cpu.advance_cpu(6);
    let g = block_on(mixed.advance_gpu(&gpu, 6)).expect("gpu");
    assert_eq!(c, g);
    assert_eq!(cpu.spins(), mixed.spins());
    assert_eq!(
        block_on(mixed.advance_gpu(&gpu, 0)).expect("no sweeps"),
        vec![]
    );
}

#[test]
fn the_counted_observables_equal_the_lattice_recomputed() {
    for h in [0.0, 0.45] {
        let mut run = ising(24, 2.3, h, 11, HALF);
        for o in run.advance_cpu(20) {
            assert!(o.magnetisation.abs() <= 1.0 && o.energy >= -2.0 - h.abs());
        }
        assert_eq!(run.magnetisation(), run.lattice().magnetisation());
        assert_eq!(run.energy(), run.lattice().energy(h));
        assert_eq!(
            run.observables(),
            Observables {
                sweep: 20,
                magnetisation: run.lattice().magnetisation(),
                energy: run.lattice().energy(h)
            }
        );
    }
}

#[test]
fn ordered_below_t_c_stays_magnetised() {
    let mut run = ising(32, 1.0, 0.0, 5, Start::Up);
    let trace = run.advance_cpu(200);
    let least = trace.iter().map(|o| o.magnetisation).fold(1.0, f64::min);
    assert!(least > 0.9, "m fell to {least} at kT = 1");
    // Onsager's energy at kT = 1 is −1.997 per spin; the ground state is −2.
    let e = mean(trace[150..].iter().map(|o| o.energy));
    assert!((-2.0..-1.95).contains(&e), "e = {e} at kT = 1");
}

#[test]
fn above_t_c_the_magnetisation_decays_from_any_start() {
    for start in [Start::Up, Start::Down, HALF, Start::Random { p_up: 0.9 }] {
        let mut run = ising(64, 5.0, 0.0, 8, start);
        let trace = run.advance_cpu(200);
        let m = mean(trace[150..].iter().map(|o| o.magnetisation.abs()));
        assert!(m < 0.2, "⟨|m|⟩ = {m} at kT = 5 from {start:?}");
    }
}

#[test]
fn at_high_temperature_the_energy_is_near_zero() {
    // e ≈ −2 tanh(1/kT) = −0.02 at kT = 100, with fluctuations of about √2 / 64 per sweep. (At kT ≫ 100
    // nearly every flip is accepted, a sweep flips nearly the whole lattice, and an ordered start
    // decorrelates only through the rare refusals: see nets/ising.rs.)
    for start in [Start::Up, HALF] {
        let mut run = ising(64, 100.0, 0.0, 2, start);
        let trace = run.advance_cpu(200);
        let e = mean(trace[150..].iter().map(|o| o.energy));
        assert!(e.abs() < 0.05, "e = {e} at kT = 100 from {start:?}");
    }
}

/// Onsager's energy per spin of the infinite lattice at h = 0: −coth 2β [1 + (2/π)(2 tanh² 2β − 1) K(κ)],
/// κ = 2 sinh 2β / cosh² 2β, with K the complete elliptic integral of the first kind (by the AGM).
fn onsager_energy(kt: f64) -> f64 {
    let b2 = 2.0 / kt;
    let kappa = 2.0 * b2.sinh() / b2.cosh().powi(2);
    let (mut a, mut g) = (1.0f64, (1.0 - kappa * kappa).sqrt());
    while (a - g).abs() > 1e-15 {
        (a, g) = ((a + g) / 2.0, (a * g).sqrt());
    }
    let k = std::f64::consts::FRAC_PI_2 / a;
    -(1.0 + std::f64::consts::FRAC_2_PI * (2.0 * b2.tanh().powi(2) - 1.0) * k) / b2.tanh()
}

#[test]
fn the_energy_follows_onsager_away_from_t_c() {
    // 64 × 64, 100 sweeps to equilibrate, the mean of the next 200: within 0.006 of the exact curve for
    // three seeds in a trial run; finite-size effects are far smaller away from T_c.
    assert!((onsager_energy(1.0) + 1.997_16).abs() < 1e-5);
    for kt in [1.5, 2.0, 3.0, 5.0] {
        let mut run = ising(64, kt, 0.0, 1, Start::Up);
        let trace = run.advance_cpu(300);
        let e = mean(trace[100..].iter().map(|o| o.energy));
        let exact = onsager_energy(kt);
        assert!(
            (e - exact).abs() < 0.015,
            "kT {kt}: e = {e}, Onsager {exact}"
        );
    }
}

#[test]
fn near_zero_temperature_no_flip_raises_the_energy() {
    let table = kernel::acceptance(0.01, 0.0);
    for ns in [-4, -2, 0, 2, 4] {
        for s in [-1, 1] {
            let p = table[kernel::table_index(ns, s)];
            let de = 2 * s * ns;
            assert_eq!(p, if de <= 0 { 1.0 } else { 0.0 }, "ΔE = {de}");
        }
    }
    // Flips of one colour share no bond, so a sweep's energy change is the sum of its flips' ΔE.
    let mut run = ising(32, 0.01, 0.0, 9, HALF);
    let mut last = run.energy();
    for o in run.advance_cpu(50) {
        assert!(o.energy <= last, "sweep {}: {last} → {}", o.sweep, o.energy);
        last = o.energy;
    }
    assert!(last < -1.0, "a quench lowers the energy: {last}");
}

#[test]
fn a_flips_energy_change_matches_the_energy_function() {
    for (k, seed) in [(2, 1), (4, 2), (6, 3), (10, 4)] {
        for h in [0.0, 0.37, -1.2] {
            let lattice = Lattice::new(k, HALF, seed).expect("lattice");
            let e0 = lattice.energy(h);
            for i in 0..k {
                for j in 0..k {
                    let mut spins = lattice.spins().to_vec();
                    spins[i * k + j] *= -1;
                    let flipped = Lattice::from_spins(k, spins).expect("flipped");
                    let by_energy = (flipped.energy(h) - e0) * (k * k) as f64;
                    let de = lattice.flip_energy(i, j, h);
                    assert!(
                        (by_energy - de).abs() < 1e-9,
                        "k {k} h {h} ({i}, {j}): {by_energy} vs {de}"
                    );
                }
            }
        }
    }
}

#[test]
fn the_source_conventions_hold() {
    // TC-17: all +1 on k × k: the source's double-counted energy is −4k², the physical one −2k²; the
    // checkerboard (even k) gives +2k² physically (the source's +4k²).
    let k = 10;
    let up = Lattice::new(k, Start::Up, 0).expect("up");
    assert_eq!(up.energy(0.0), -2.0);
    assert_eq!(up.magnetisation(), 1.0);
    assert_eq!(up.flip_energy(3, 4, 0.0), 8.0);
    let board = (0..k * k)
        .map(|p| if (p / k + p % k) % 2 == 0 { 1 } else { -1 })
        .collect();
    let board = Lattice::from_spins(k, board).expect("board");
    assert_eq!(board.energy(0.0), 2.0);
    assert_eq!(board.magnetisation(), 0.0);
    assert_eq!(
        Lattice::new(4, Start::Down, 0).expect("down").energy(0.5),
        -1.5
    );
    assert!((T_C - 2.0 / (1.0 + 2f64.sqrt()).ln()).abs() < 1e-15);
}

#[test]
fn random_starts_are_seeded_and_have_the_asked_fraction() {
    for p_up in [0.0, 0.3, 0.5, 1.0] {
        let a = Lattice::new(64, Start::Random { p_up }, 4).expect("a");
        let up = a.spins().iter().filter(|&&s| s == 1).count() as f64 / 4096.0;
        // Binomial standard deviation ≤ 0.008: 0.03 is about four of them.
        assert!((up - p_up).abs() < 0.03, "p_up {p_up}: {up}");
        assert_eq!(
            a,
            Lattice::new(64, Start::Random { p_up }, 4).expect("again")
        );
    }
    let (a, b) = (Lattice::new(16, HALF, 1), Lattice::new(16, HALF, 2));
    assert_ne!(a.expect("a"), b.expect("b"));
    // The start's stream is not the Metropolis stream.
    assert_ne!(
        rng::stream(rng::Purpose::Ising, kernel::GROUP_START, 0),
        kernel::stream()
    );
}

#[test]
fn thumbnails_average_blocks() {
    let lattice = Lattice::new(10, HALF, 6).expect("lattice");
    let (side, same) = lattice.thumbnail(64);
    assert_eq!(side, 10);
    assert!(
        same.iter()
            .zip(lattice.spins())
            .all(|(&v, &s)| v == f32::from(s))
    );
    // b = ⌈10 / 4⌉ = 3: blocks of 3, 3, 3 and 1 rows and columns.
    let (side, small) = lattice.thumbnail(4);
    assert_eq!((side, small.len()), (4, 16));
    let s = |i: usize, j: usize| f32::from(lattice.spins()[i * 10 + j]);
    let top_left: f32 = (0..3)
        .flat_map(|i| (0..3).map(move |j| (i, j)))
        .map(|(i, j)| s(i, j))
        .sum();
    assert!((small[0] - top_left / 9.0).abs() < 1e-6);
    let right_edge: f32 = (0..3).map(|i| s(i, 9)).sum();
    assert!((small[3] - right_edge / 3.0).abs() < 1e-6);
    assert_eq!(small[15], s(9, 9));
    let (side, one) = Lattice::new(8, Start::Up, 0).expect("up").thumbnail(0);
    assert_eq!((side, one), (1, vec![1.0]));
}

#[test]
fn bad_parameters_are_refused_with_the_field_named() {
    // Odd sides break the checkerboard; sizes beyond 1024 are refused before anything is allocated
    // (k = 10⁶ would be 10¹² spins).
    for k in [0, 1, 3, 33, 1026, 4096, 1_000_000] {
        assert_eq!(
            invalid_fields(Ising::new(k, 2.0, 0.0, 1, Start::Up)),
            ["k"],
            "k = {k}"
        );
    }
    let Err(Error::Invalid(fields)) = Ising::new(33, 2.0, 0.0, 1, Start::Up) else {
        panic!("odd k accepted")
    };
    assert!(fields[0].message.contains("even"), "{}", fields[0].message);
    for kt in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert_eq!(invalid_fields(Ising::new(8, kt, 0.0, 1, Start::Up)), ["kt"]);
    }
    for h in [f64::NAN, f64::NEG_INFINITY] {
        assert_eq!(invalid_fields(Ising::new(8, 1.0, h, 1, Start::Up)), ["h"]);
    }
    for p_up in [-0.1, 1.5, f64::NAN] {
        let start = Start::Random { p_up };
        assert_eq!(
            invalid_fields(Ising::new(8, 1.0, 0.0, 1, start)),
            ["start.p_up"]
        );
    }
    // Everything wrong at once is reported at once.
    let start = Start::Random { p_up: 2.0 };
    assert_eq!(
        invalid_fields(Ising::new(7, 0.0, f64::NAN, 1, start)),
        ["k", "kt", "h", "start.p_up"]
    );
    let mut run = ising(8, 2.0, 0.0, 1, Start::Up);
    assert!(run.set_kt(-2.0).is_err() && run.set_h(f64::NAN).is_err());
    assert_eq!(
        (run.kt(), run.h()),
        (2.0, 0.0),
        "a refused value leaves the run as it was"
    );
    assert!(Lattice::from_spins(4, vec![1; 15]).is_err());
    assert!(Lattice::from_spins(4, vec![0; 16]).is_err());
}

#[test]
fn a_lost_device_continues_on_the_cpu_with_identical_numbers() {
    let Some(gpu) = common::gpu() else { return };
    let mut expected = ising(16, 2.0, 0.1, 7, HALF);
    let (first, second) = (expected.advance_cpu(5), expected.advance_cpu(5));
    let mut engine = Engine::Gpu(Box::new(gpu));
    let mut run = ising(16, 2.0, 0.1, 7, HALF);
    let (o, notice) = block_on(run.advance(&mut engine, 5)).expect("gpu");
    assert_eq!((o, notice), (first, None));
    engine.gpu().expect("gpu").simulate_loss();
    let (o, notice) = block_on(run.advance(&mut engine, 5)).expect("fallback");
    assert!(notice.expect("a notice").contains("continues on the CPU"));
    assert_eq!(engine.info().kind, "cpu");
    assert_eq!(
        o, second,
        "the CPU redoes the sweeps from the unchanged run"
    );
    assert_eq!(run.spins(), expected.spins());
    assert_eq!(run.sweep(), 10);
}

/// `cargo test --release --test ising -- --ignored --nocapture`: sweeps per second on the CPU for k = 64
/// … 1024 and 100, and on the GPU (unless it is a software adapter; HEBBIAN_BENCH_SOFTWARE_GPU=1 runs it
/// anyway), with the lattice read back once per call of `per_call` sweeps. One JSON line per measurement.
#[test]
#[ignore]
fn ising_benchmark() {
    let sides = [64, 100, 128, 256, 512, 1024];
    let report = |backend: &str, k: usize, per_call: u32, sweeps: u32, seconds: f64| {
        let rate = f64::from(sweeps) / seconds;
        println!(
            r#"{{"bench":"ising sweeps","backend":"{backend}","k":{k},"sweeps_per_call":{per_call},"sweeps":{sweeps},"seconds":{seconds:.3},"sweeps_per_s":{rate:.1},"spin_updates_per_s":{:.3e}}}"#,
            rate * (k * k) as f64
        );
    };
    // Calls of `per_call` sweeps until a second has passed (after one call to warm up).
    let measure = |advance: &mut dyn FnMut(u32), per_call: u32| {
        advance(per_call);
        let (t, mut sweeps) = (std::time::Instant::now(), 0);
        while t.elapsed().as_secs_f64() < 1.0 {
            advance(per_call);
            sweeps += per_call;
        }
        (sweeps, t.elapsed().as_secs_f64())
    };
    for k in sides {
        let mut run = ising(k, T_C, 0.0, 1, HALF);
        let per_call = (1 << 20) / (k * k) as u32 + 1;
        let (sweeps, s) = measure(&mut |n| drop(run.advance_cpu(n)), per_call);
        report("cpu", k, per_call, sweeps, s);
    }
    let Some(gpu) = common::gpu() else { return };
    let backend = gpu.adapter_name().replace('"', "'");
    if backend.ends_with(", Cpu)") && std::env::var("HEBBIAN_BENCH_SOFTWARE_GPU").is_err() {
        println!(
            r#"{{"bench":"ising sweeps","backend":"{backend}","skipped":"software adapter; set HEBBIAN_BENCH_SOFTWARE_GPU=1 to run"}}"#
        );
        return;
    }
    for k in sides {
        for per_call in [1, 100] {
            let mut run = ising(k, T_C, 0.0, 1, HALF);
            let mut advance = |n| drop(block_on(run.advance_gpu(&gpu, n)).expect("gpu"));
            let (sweeps, s) = measure(&mut advance, per_call);
            report(&format!("gpu: {backend}"), k, per_call, sweeps, s);
        }
    }
}

// ------------------------------------------------------------------------------------------------------------
// The lab's temperature sweep (labs/ising.rs) and Onsager's exact curves.

#[test]
fn onsagers_energy_has_its_known_values() {
    // u(T_c) = −√2 exactly (the elliptic term's factor vanishes there); u → −2 as T → 0.
    assert!((lab::onsager_energy(T_C) + std::f64::consts::SQRT_2).abs() < 1e-9);
    assert!((lab::onsager_energy(0.05) + 2.0).abs() < 1e-12);
    assert!((lab::onsager_energy(0.5) + 2.0).abs() < 1e-6);
    // Against the formula in 30-digit arithmetic (mpmath's ellipk).
    for (kt, u) in [
        (1.0, -1.997_160_204_112_251_1),
        (1.5, -1.951_116_573_078_376_8),
        (2.0, -1.745_564_575_312_554),
        (2.5, -1.106_079_203_745_791),
        (3.0, -0.817_309_592_502_420_1),
        (20.0, -0.100_418_010_620_293_66),
    ] {
        assert!(
            (lab::onsager_energy(kt) - u).abs() < 1e-12,
            "kT {kt}: {}",
            lab::onsager_energy(kt)
        );
    }
    // The same numbers as the test's own formula (std functions) away from T_c, and continuous through T_c.
    for i in 1..400 {
        let kt = 0.05 + f64::from(i) * 0.05;
        assert!(
            (lab::onsager_energy(kt) - onsager_energy(kt)).abs() < 1e-9,
            "kT {kt}"
        );
    }
    for d in [1e-3, 1e-6, 1e-9] {
        for kt in [T_C - d, T_C + d] {
            assert!(
                (lab::onsager_energy(kt) + std::f64::consts::SQRT_2).abs() < 20.0 * d.sqrt(),
                "kT {kt}: {}",
                lab::onsager_energy(kt)
            );
        }
    }
}

#[test]
fn elliptic_integrals_and_the_heat_capacity_are_right() {
    let (k, e) = elliptic_k_e(0.0);
    assert!((k - std::f64::consts::FRAC_PI_2).abs() < 1e-15);
    assert!((e - std::f64::consts::FRAC_PI_2).abs() < 1e-15);
    // Tabulated values at κ = 1/√2 (Abramowitz & Stegun 17.3).
    let (k, e) = elliptic_k_e(std::f64::consts::FRAC_1_SQRT_2);
    assert!((k - 1.854_074_677_301_372).abs() < 1e-13, "K = {k}");
    assert!((e - 1.350_643_881_047_675_5).abs() < 1e-12, "E = {e}");
    // c = du/dT, by central differences.
    for kt in [0.8, 1.0, 1.5, 2.0, 2.2, 2.25, 2.3, 2.5, 3.0, 5.0] {
        let d = 1e-5;
        let numeric = (lab::onsager_energy(kt + d) - lab::onsager_energy(kt - d)) / (2.0 * d);
        let c = onsager_heat_capacity(kt).expect("away from T_c");
        assert!(
            (c - numeric).abs() < 1e-5 * c.max(1.0),
            "kT {kt}: c = {c}, du/dT = {numeric}"
        );
    }
    assert_eq!(onsager_heat_capacity(T_C), None);
}

fn sweep_state(f: impl FnOnce(&mut Params)) -> StateDoc<Params> {
    let mut s = IsingLab::default_state();
    s.params.kind = Mode::TemperatureSweep;
    f(&mut s.params);
    s
}

fn run_sweep(engine: &mut Engine, s: &StateDoc<Params>) -> Frame {
    let any = s.to_any();
    assert_eq!(labs::validate(&any), vec![]);
    let mut run = Run::start(&any, &Default::default()).expect("start");
    let f = block_on(run.advance(engine, &Chunk::steps(0))).expect("run");
    assert!(f.done && run.done());
    f
}

/// The points of series `name` in plot `id`.
fn series(frame: &Frame, id: &str, name: &str) -> Vec<[f64; 2]> {
    let plot = frame.plots.iter().find(|p| p.id == id).expect("plot");
    let PlotBody::Xy { series, .. } = &plot.body else {
        panic!("{id} is not an xy plot")
    };
    series
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("{id} has no series {name}"))
        .points
        .clone()
}

fn metric(frame: &Frame, name: &str) -> Option<f64> {
    frame
        .metrics
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no metric {name}"))
        .value
}

#[test]
fn the_sweep_follows_onsager_on_a_large_lattice() {
    // 64 × 64, kT = 1.5, 2.5, 3.5 heated from the ordered lattice, 200 sweeps discarded and 800 averaged per
    // temperature. Away from T_c finite-size effects are small: |m| within 0.01 of m₀ = 0.9865 at 1.5, near 0
    // at 3.5 (|m| ~ √(χ kT / k²) ≈ 0.03), the energy within 0.01 of u.
    let s = sweep_state(|p| {
        p.side = 64;
        p.sweep.kt_from = 1.5;
        p.sweep.kt_to = 3.5;
        p.sweep.temperatures = 3;
        p.sweep.equilibration = 200;
        p.sweep.measurement = 800;
    });
    let f = run_sweep(&mut Engine::cpu("test"), &s);
    let m = series(&f, "sweep_m", "measured ⟨|m|⟩");
    let e = series(&f, "sweep_e", "measured ⟨e⟩");
    assert_eq!(m.iter().map(|p| p[0]).collect::<Vec<_>>(), [1.5, 2.5, 3.5]);
    let m0 = onsager_magnetisation(1.5).expect("below T_c");
    assert!(
        (m[0][1] - m0).abs() < 0.01,
        "|m| = {} at 1.5, m₀ {m0}",
        m[0][1]
    );
    assert!(m[2][1] < 0.08, "|m| = {} at 3.5", m[2][1]);
    for p in [e[0], e[2]] {
        let u = lab::onsager_energy(p[0]);
        assert!(
            (p[1] - u).abs() < 0.01,
            "kT {}: e = {}, u = {u}",
            p[0],
            p[1]
        );
    }
    // Above T_c (2.5) the measured |m| is small and the energy still close to u.
    assert!(m[1][1] < 0.3, "|m| = {} at 2.5", m[1][1]);
    assert!((e[1][1] - lab::onsager_energy(2.5)).abs() < 0.02);
    // The crossing of ½ lies between 1.5 and 2.5; the standard errors are small and the curves drawn.
    let tc =
        metric(&f, "T_c estimate: kT where mean |m| first falls below 0.5").expect("a crossing");
    assert!((1.5..2.5).contains(&tc), "{tc}");
    assert!(metric(&f, "largest standard error of mean energy").expect("se") < 0.01);
    assert_eq!(metric(&f, "temperatures done"), Some(3.0));
    assert!(series(&f, "sweep_m", "Onsager's m₀ (infinite lattice)").len() > 200);
    assert!(series(&f, "sweep_c", "Onsager's c (infinite lattice)").len() > 200);
    let band = series(&f, "sweep_m", "± 1 standard error (10 batch means)");
    assert_eq!(band.len(), 3, "one of the two band lines");
}

#[test]
fn the_sweep_is_identical_on_the_gpu_and_the_cpu_for_every_start() {
    let Some(gpu) = common::gpu() else { return };
    let mut on_gpu = Engine::Gpu(Box::new(gpu));
    for start in [
        SweepStart::ContinueFromPrevious,
        SweepStart::Ordered,
        SweepStart::Random,
    ] {
        for h in [0.0, 0.2] {
            let s = sweep_state(|p| {
                p.side = 16;
                p.h = h;
                p.sweep.kt_from = 1.0;
                p.sweep.kt_to = 3.0;
                p.sweep.temperatures = 4;
                p.sweep.equilibration = 7;
                p.sweep.measurement = 30;
                p.sweep.start = start;
            });
            let c = run_sweep(&mut Engine::cpu("test"), &s);
            let g = run_sweep(&mut on_gpu, &s);
            assert_eq!(on_gpu.info().kind, "gpu");
            let json = |f: &Frame| serde_json::to_string(&(&f.plots, &f.metrics)).expect("json");
            assert_eq!(json(&c), json(&g), "{start:?}, h {h}");
        }
    }
}

#[test]
fn sweep_starts_differ_as_asked() {
    let frame = |start, from: f64, to: f64| {
        let s = sweep_state(|p| {
            p.side = 16;
            p.sweep.kt_from = from;
            p.sweep.kt_to = to;
            p.sweep.temperatures = 2;
            p.sweep.equilibration = 0;
            p.sweep.measurement = 3;
            p.sweep.start = start;
        });
        series(
            &run_sweep(&mut Engine::cpu("test"), &s),
            "sweep_m",
            "measured ⟨|m|⟩",
        )
    };
    // kT = 4 then 5: an annealed sweep enters kT = 5 with the disordered lattice kT = 4 left, an ordered one
    // with all spins +1 again (the first temperature is the same for both).
    let ordered = frame(SweepStart::Ordered, 4.0, 5.0);
    let annealed = frame(SweepStart::ContinueFromPrevious, 4.0, 5.0);
    assert_eq!(ordered[0], annealed[0]);
    assert!(
        ordered[1][1] > annealed[1][1] + 0.1,
        "{ordered:?} {annealed:?}"
    );
    // At kT = 1 a random start stays disordered over three sweeps, an ordered one ordered.
    let random = frame(SweepStart::Random, 1.0, 2.0);
    let ordered = frame(SweepStart::Ordered, 1.0, 2.0);
    assert!(
        random[0][1] < 0.5 && ordered[0][1] > 0.95,
        "{random:?} {ordered:?}"
    );
}

#[test]
fn sweep_settings_are_checked_at_their_fields() {
    let errors = |f: &dyn Fn(&mut Params)| {
        let s = sweep_state(f);
        labs::validate(&s.to_any())
            .into_iter()
            .map(|e| (e.path, e.message))
            .collect::<Vec<_>>()
    };
    for (from, to) in [(3.0, 1.0), (2.0, 2.0)] {
        let e = errors(&|p| {
            p.sweep.kt_from = from;
            p.sweep.kt_to = to;
        });
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].0, "sweep/kt_to");
        assert!(e[0].1.contains("above kT from"), "{}", e[0].1);
    }
    assert_eq!(
        errors(&|p| p.sweep.temperatures = 1)[0].0,
        "sweep/temperatures"
    );
    assert_eq!(
        errors(&|p| p.sweep.measurement = 0)[0].0,
        "sweep/measurement"
    );
    assert_eq!(errors(&|p| p.sweep.kt_from = 0.0)[0].0, "sweep/kt_from");
    // The budget counts every temperature's sweeps, and names the heavier of equilibration and measurement.
    let e = errors(&|p| {
        p.side = 1024;
        p.sweep.temperatures = 200;
        p.sweep.measurement = 1000;
        p.sweep.equilibration = 10;
    });
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].0, "sweep/measurement");
    assert!(e[0].1.contains("limit"), "{}", e[0].1);
    let e = errors(&|p| {
        p.side = 1024;
        p.sweep.temperatures = 50;
        p.sweep.equilibration = 5000;
    });
    assert_eq!(e[0].0, "sweep/equilibration");
    // One temperature ignores the sweep's settings (they stay in the state, hidden).
    let mut s = sweep_state(|p| p.sweep.kt_from = 5.0);
    s.params.kind = Mode::OneTemperature;
    assert_eq!(labs::validate(&s.to_any()), vec![]);
    // The estimate: k² × temperatures × (equilibration + measurement) spin updates.
    let s = sweep_state(|_| {});
    let cost = labs::estimate(&s.to_any()).expect("cost");
    let units: f64 = cost.parts.iter().map(|p| p.units).sum();
    assert_eq!(units, 100.0 * 100.0 * 21.0 * 600.0);
    // The default sweep runs well under 10 s in the browser's CPU engine.
    assert!(cost.browser_seconds < 10.0, "{}", cost.browser_seconds);
}

#[test]
fn links_made_before_the_sweep_open_as_one_temperature() {
    let mut any = IsingLab::default_state().to_any();
    let params = any.params.as_object_mut().expect("object");
    params.remove("kind");
    params.remove("sweep");
    assert_eq!(labs::validate(&any), vec![]);
    let normal = labs::normalise(any);
    assert_eq!(normal.params["kind"], "one_temperature");
    assert_eq!(normal.params["sweep"]["temperatures"], 21);
    assert_eq!(normal, IsingLab::default_state().to_any());
}

#[test]
fn a_sweep_frame_does_a_piece_of_work_at_least_and_reports_sweeps() {
    // At the lab's speed (5 sweeps per frame) a sweep's frame still holds about 2²⁰ spin updates (64 sweeps of
    // 128²), and the steps count sweeps over all temperatures.
    let s = sweep_state(|p| p.side = 128);
    let any = s.to_any();
    let mut run = Run::start(&any, &Default::default()).expect("start");
    let f = block_on(run.advance(&mut Engine::cpu("test"), &Chunk::steps(5))).expect("frame");
    assert_eq!(f.step, 64);
    assert_eq!(f.total, 21 * 600);
    let lattice = f.plots.iter().find(|p| p.id == "lattice").expect("lattice");
    assert!(
        lattice
            .title
            .starts_with("kT = 1 (temperature 1 of 21): sweep 64 of 600 at this kT"),
        "{}",
        lattice.title
    );
}
