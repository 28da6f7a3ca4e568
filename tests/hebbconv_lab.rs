//! The Hebbian-CNN lab's default experiment on the shipped digits (seed 1: architecture A with widths ÷ 8, one
//! unsupervised epoch over 1,000 training images, a 10-epoch linear probe tested on 500 test images): SoftHebb's
//! features beat the same network without competition by a wide margin, the random-filter floor is reported
//! beside them, SoftHebb's first-layer weight norms move from their initial ~25 toward 1. (tests/e2e/hebbconv.test.mjs
//! checks that the page's CPU engine gives the CLI's numbers within float rounding.)
//!
//! Measured: SoftHebb 95.0 %, no competition 67.2 %, random filters 94.2 % test accuracy (seed 1, the default);
//! seeds 2 and 3 give 94.8 / 81.4 / 95.6 and 95.2 / 68.8 / 95.2 (as the lab's teacher notes say). The network
//! without competition is the one sensitive to rounding: when the CPU path's element-wise passes took their own
//! exp and ln (2026-12-02, for vector units chosen at run time) its figures moved by up to 2 points (from 68.8 /
//! 79.4 / 67.6), while SoftHebb, random filters, every other rule and the weight norms kept theirs.
//!
//! Half a minute in an optimised build: `scripts/test.sh` runs this file with `cargo test --profile budgets
//! --test hebbconv_lab`; a debug `cargo test` skips it.
mod common;

use common::runs::{metric, run_to_end, store};
use hebbian_playground::data::store::DataStore;
use hebbian_playground::engine::Engine;
use hebbian_playground::labs::budget::Chunk;
use hebbian_playground::labs::{self, Run};
use hebbian_playground::protocol::{Frame, Metric, PlotBody};
use std::path::Path;

/// Runs the default state to the end: its metrics and its last frame of every plot.
fn run_default(store: &DataStore) -> (Vec<Metric>, Frame) {
    let state = labs::default_state("hebbconv").expect("lab");
    run_to_end(&state, store, &mut Engine::cpu("test"))
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "half a minute optimised: cargo test --profile budgets --test hebbconv_lab"
)]
fn softhebb_beats_no_competition_and_its_norms_move_toward_one() {
    let store = store();
    let (m, frame) = run_default(&store);
    let soft = metric(&m, "test accuracy, SoftHebb");
    let none = metric(&m, "test accuracy, no competition");
    let random = metric(&m, "test accuracy, random filters");
    eprintln!(
        "test accuracy: SoftHebb {soft:.1} %, no competition {none:.1} %, random filters {random:.1} %"
    );
    assert!(soft > none + 8.0, "SoftHebb {soft} vs none {none}");
    assert!(soft > 88.0 && random > 80.0, "{soft} {random}");
    let f1 = metric(&m, "macro-F1, SoftHebb");
    assert!(
        (f1 - soft / 100.0).abs() < 0.05,
        "macro-F1 {f1} near accuracy {soft}"
    );

    // Layer 1's norms: the SoftHebb series' band (10th to 90th percentile) at the start and the end.
    let norms = frame
        .plots
        .iter()
        .find(|p| p.id == "norms_1")
        .expect("norms plot");
    let PlotBody::Xy { series, .. } = &norms.body else {
        panic!("xy")
    };
    let soft_series = series
        .iter()
        .find(|s| s.name.starts_with("SoftHebb"))
        .expect("SoftHebb norms");
    let band = soft_series.band.as_ref().expect("band");
    let (first, last) = (band[0], band[band.len() - 1]);
    eprintln!("layer 1 norms, 10th–90th percentile: {first:?} → {last:?}");
    assert!(first[0] > 15.0, "initial norms near 25: {first:?}");
    assert!(
        last[0] < 0.8 * first[0],
        "the lower norms move toward 1: {first:?} → {last:?}"
    );
}

/// The GPU engine (lavapipe here) trains SoftHebb beside hard-WTA with surround inhibition, BCM or the temporal
/// threshold on the device, and the residual architecture G, with no notice of a network left on the CPU, and
/// gives the CPU engine's numbers: weight norms within float rounding, probe accuracies within two points (the
/// probe's argmax can flip on a few images).
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "the CPU reference unoptimised: cargo test --profile budgets --test hebbconv_lab"
)]
fn the_gpu_engine_gives_the_cpu_engines_numbers() {
    if common::gpu().is_none() {
        return;
    }
    let store = store();
    let mut state = labs::default_state("hebbconv").expect("lab");
    for (key, value) in [
        ("width_div", 16),
        ("train_images", 160),
        ("test_images", 64),
    ] {
        state.params[key] = value.into();
    }
    state.params["probe_epochs"] = 3.into();
    for (arch, second, surround) in [
        ("a", "hard_wta", true),
        ("a", "bcm", false),
        ("a", "temporal", false),
        ("g", "hard_wta", false),
    ] {
        state.params["arch"] = arch.into();
        state.params["second"] =
            serde_json::json!({"kind": "compare", "rule": second, "surround": surround});
        let (cpu, _) = run_to_end(&state, &store, &mut Engine::cpu("test"));
        let mut run = Run::start(&state, &store).expect("start");
        let mut engine = Engine::Gpu(Box::new(common::gpu().expect("gpu")));
        let mut notices = Vec::new();
        while !run.done() {
            let f =
                pollster::block_on(run.advance(&mut engine, &Chunk::steps(0))).expect("advance");
            notices.extend(f.notices);
        }
        assert!(engine.gpu().is_some(), "the run left the GPU: {notices:?}");
        assert!(!notices.iter().any(|n| n.contains("GPU")), "{notices:?}");
        for (c, g) in cpu.iter().zip(run.metrics()) {
            assert_eq!(c.name, g.name);
            if c.name.starts_with("images per second") {
                continue;
            }
            let (a, b) = (c.value.expect("value"), g.value.expect("value"));
            let tol = if c.name.starts_with("test accuracy") {
                2.0
            } else if c.name.starts_with("macro-F1") {
                0.03
            } else if c.name.starts_with("probe training loss") {
                0.05 * a.abs() + 0.01
            } else {
                1e-3 * a.abs()
            };
            assert!((a - b).abs() <= tol, "{}: CPU {a}, GPU {b}", c.name);
        }
    }
}

/// Pre-synaptic competition and Dale's principle, chosen per network: the networks are named after them, the
/// Dale network's weights stay excitatory through the epoch (read from a checkpoint), the two learn
/// differently, and a network with both is refused with a message on the field.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "seconds optimised: cargo test --profile budgets --test hebbconv_lab"
)]
fn presynaptic_competition_and_dale_are_chosen_per_network() {
    let store = store();
    let mut state = labs::default_state("hebbconv").expect("lab");
    for (key, value) in [("width_div", 16), ("train_images", 96), ("test_images", 48)] {
        state.params[key] = value.into();
    }
    state.params["probe_epochs"] = 2.into();
    state.params["rule"] = "hard_wta".into();
    state.params["pre_synaptic"] = "input_channels".into();
    state.params["second"] = serde_json::json!({
        "kind": "compare", "rule": "hard_wta", "surround": true, "dale": true
    });
    assert!(
        labs::validate(&state).is_empty(),
        "{:?}",
        labs::validate(&state)
    );
    let mut run = Run::start(&state, &store).expect("start");
    let mut engine = Engine::cpu("test");
    while !run.done() {
        pollster::block_on(run.advance(&mut engine, &Chunk::steps(0))).expect("advance");
    }
    let m = run.metrics();
    let pre = metric(
        &m,
        "test accuracy, hard-WTA + pre-synaptic (input channels)",
    );
    let dale = metric(&m, "test accuracy, hard-WTA + surround + Dale");
    eprintln!("hard-WTA + pre-synaptic {pre:.1} %, hard-WTA + surround + Dale {dale:.1} %");
    let bytes = run.save(&state).expect("save").expect("a checkpoint");
    let (_, ck) = hebbian_playground::checkpoint::decode(&bytes).expect("decode");
    let weights = |net: &str| {
        ck.tensors
            .iter()
            .filter(|t| t.name.starts_with(net) && t.name.ends_with(".weight"))
            .flat_map(|t| t.data.iter().copied())
            .collect::<Vec<f32>>()
    };
    let (first, second) = (weights("net0.conv"), weights("net1.conv"));
    assert!(!second.is_empty() && second.iter().all(|&v| v >= 0.0));
    assert!(
        first.iter().any(|&v| v < 0.0),
        "without Dale, weights of both signs"
    );

    state.params["second"]["pre_synaptic"] = "layer".into();
    let errs = labs::validate(&state);
    assert!(
        errs.iter()
            .any(|e| e.path == "second/pre_synaptic" && e.message.contains("Dale")),
        "{errs:?}"
    );
    state.params["dale"] = true.into();
    assert!(
        labs::validate(&state)
            .iter()
            .any(|e| e.path == "pre_synaptic")
    );
}

/// Natural-image patches from the shipped photographs: the networks learn from 28×28 grey patches and the
/// probe tells which photograph a patch came from, far above chance (1 in 7; measured: SoftHebb 69.3 %,
/// random filters 67.9 %); too many images are refused on the field that asks for them.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "seconds optimised: cargo test --profile budgets --test hebbconv_lab"
)]
fn natural_image_patches_train_the_networks_and_the_probe_tells_the_photographs() {
    use hebbian_playground::data::photos::{self, Photo};
    let mut store = store();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/data/photos");
    for (f, t, _) in photos::shipped() {
        let bytes = std::fs::read(dir.join(f)).expect("the shipped photographs (scripts/setup.sh)");
        store.add_photo(Photo::from_png(f, t, &bytes).expect("png"));
    }
    let mut state = labs::default_state("hebbconv").expect("lab");
    state.params["images"] = "photos".into();
    for (key, value) in [("train_images", 400), ("test_images", 140)] {
        state.params[key] = value.into();
    }
    state.params["probe_epochs"] = 5.into();
    assert!(labs::validate(&state).is_empty());
    let (m, _) = run_to_end(&state, &store, &mut Engine::cpu("test"));
    let soft = metric(&m, "test accuracy, SoftHebb");
    let random = metric(&m, "test accuracy, random filters");
    eprintln!("photograph patches: SoftHebb {soft:.1} %, random filters {random:.1} %");
    assert!(soft > 2.0 * 100.0 / 7.0, "{soft}");

    state.params["test_images"] = 5000.into();
    let errs = labs::validate(&state);
    assert!(
        errs.iter()
            .any(|e| e.path == "test_images" && e.message.contains("at most 2139")),
        "{errs:?}"
    );
}
