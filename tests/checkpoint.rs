//! Checkpoints: a Hebbian-CNN run saved in the middle of its unsupervised epoch (networks with BCM thresholds
//! and a temporal-competition history among them) and resumed from the file ends with exactly the numbers of the
//! run that never stopped; one saved after the epoch resumes at its end; damaged, foreign and mismatched files
//! are refused with a message that says why; labs whose runs are quick save none; a whitened run refits its
//! ZCA on resuming.
//!
//! Seconds in an optimised build, a minute and more unoptimised: `scripts/test.sh` runs this file with `cargo
//! test --profile budgets --test checkpoint`; a debug `cargo test` skips it.
mod common;

use common::runs::store;
use hebbian_playground::checkpoint::{self, Checkpoint, Tensor};
use hebbian_playground::data::store::DataStore;
use hebbian_playground::engine::Engine;
use hebbian_playground::labs::budget::Chunk;
use hebbian_playground::labs::{self, Run};
use hebbian_playground::protocol::Metric;
use hebbian_playground::state::AnyState;
use serde_json::json;

/// A small comparison: SoftHebb, a second network of `rule`, the random floor; 64 training images in batches
/// of 16 (4 batches × 3 networks = 12 unsupervised steps), a 2-epoch probe.
fn small(rule: &str) -> AnyState {
    let mut s = labs::default_state("hebbconv").expect("lab");
    let p = &mut s.params;
    p["width_div"] = json!(16);
    p["train_images"] = json!(64);
    p["test_images"] = json!(48);
    p["batch"] = json!(16);
    p["probe_epochs"] = json!(2);
    p["second"] = json!({ "kind": "compare", "rule": rule, "surround": false });
    s
}

fn advance(run: &mut Run, steps: u32) {
    pollster::block_on(run.advance(&mut Engine::cpu("test"), &Chunk::steps(steps)))
        .expect("advance");
}

fn finish(mut run: Run) -> Vec<Metric> {
    while !run.done() {
        advance(&mut run, 0);
    }
    run.metrics()
}

/// Every metric but the speeds (wall-clock figures).
fn numbers(m: &[Metric]) -> Vec<(String, Option<f64>)> {
    m.iter()
        .filter(|x| !x.name.starts_with("images per second"))
        .map(|x| (x.name.clone(), x.value))
        .collect()
}

/// A run of `state` after `steps` steps, and its checkpoint file.
fn saved_after(state: &AnyState, store: &DataStore, steps: u32) -> (Run, Vec<u8>) {
    let mut run = Run::start(state, store).expect("start");
    advance(&mut run, steps);
    let bytes = run.save(state).expect("save").expect("a checkpoint");
    (run, bytes)
}

fn resume(bytes: &[u8], store: &DataStore) -> hebbian_playground::error::Result<Run> {
    let (state, ck) = checkpoint::decode(bytes)?;
    Run::resume(&state, ck, store, Default::default())
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "a minute unoptimised: cargo test --profile budgets --test checkpoint"
)]
fn a_run_saved_mid_epoch_resumes_to_the_same_numbers() {
    let store = store();
    for rule in ["bcm", "temporal"] {
        let state = small(rule);
        let mut run = Run::start(&state, &store).expect("start");
        assert!(
            run.save(&state).expect("save").is_none(),
            "nothing learnt at step 0: nothing to save"
        );
        advance(&mut run, 7);
        let bytes = run
            .save(&state)
            .expect("save")
            .expect("a checkpoint after 7 steps");
        let (saved_state, ck) = checkpoint::decode(&bytes).expect("decode");
        assert_eq!(saved_state, state);
        assert_eq!(ck.step, 7);
        let names: Vec<&str> = ck.tensors.iter().map(|t| t.name.as_str()).collect();
        let memory = if rule == "bcm" {
            "net1.conv0.theta"
        } else {
            "net1.conv0.history"
        };
        assert!(names.contains(&memory), "{rule}: {names:?}");
        assert!(names.contains(&"net2.bn0.running_var"), "{names:?}");
        let resumed = resume(&bytes, &store).expect("resume");
        assert_eq!(numbers(&finish(resumed)), numbers(&finish(run)), "{rule}");
    }
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "a minute unoptimised: cargo test --profile budgets --test checkpoint"
)]
fn after_the_epoch_a_checkpoint_holds_the_learnt_networks_and_resumes_at_the_epochs_end() {
    let store = store();
    let state = small("hard_wta");
    // 12 unsupervised steps, then 8 of the probe.
    let (run, bytes) = saved_after(&state, &store, 20);
    let (_, ck) = checkpoint::decode(&bytes).expect("decode");
    assert_eq!(
        ck.step, 12,
        "the probe is not saved: it trains again from the learnt networks"
    );
    let mut resumed = resume(&bytes, &store).expect("resume");
    assert_eq!(resumed.snapshot().step, 12);
    assert_eq!(numbers(&finish(resumed)), numbers(&finish(run)));
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "a minute unoptimised: cargo test --profile budgets --test checkpoint"
)]
fn damaged_foreign_and_mismatched_files_are_refused_with_the_reason() {
    let store = store();
    let state = small("hard_wta");
    let (_, bytes) = saved_after(&state, &store, 3);
    let (_, good) = checkpoint::decode(&bytes).expect("decode");
    let refused = |bytes: &[u8]| match resume(bytes, &store) {
        Ok(_) => panic!("accepted"),
        Err(e) => e.to_string(),
    };
    let with = |ck: &Checkpoint, state: &AnyState| checkpoint::encode(state, ck).expect("encode");

    assert!(refused(b"not a checkpoint").contains("not a Hebbian Playground checkpoint"));
    assert!(refused(&bytes[..bytes.len() - 10]).contains("not a Hebbian Playground checkpoint"));
    let foreign = safetensors::serialize(
        [(
            "w",
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![1], &[0; 4])
                .unwrap(),
        )],
        None,
    )
    .unwrap();
    assert!(
        refused(&foreign).contains("without our metadata"),
        "{}",
        refused(&foreign)
    );

    let mut wrong_shape = good.clone();
    let w = wrong_shape
        .tensors
        .iter_mut()
        .find(|t| t.name == "net0.conv0.weight")
        .unwrap();
    w.shape = vec![w.data.len()];
    let e = refused(&with(&wrong_shape, &state));
    assert!(
        e.contains("net0.conv0.weight is [") && e.contains("in this experiment"),
        "{e}"
    );

    let mut extra_tensor = good.clone();
    extra_tensor
        .tensors
        .push(Tensor::new("net0.conv9.weight", &[1], vec![0.0]));
    assert!(refused(&with(&extra_tensor, &state)).contains("net0.conv9.weight"));

    let mut missing = good.clone();
    missing
        .tensors
        .retain(|t| t.name != "net2.bn1.running_mean");
    assert!(refused(&with(&missing, &state)).contains("no tensor net2.bn1.running_mean"));

    let mut too_far = good.clone();
    too_far.step = 13;
    assert!(refused(&with(&too_far, &state)).contains("ends at step 12"));

    // The state travels with the weights: another architecture's state does not fit them.
    let mut other = state.clone();
    other.params["width_div"] = json!(8);
    let e = refused(&with(&good, &other));
    assert!(e.contains("does not match its experiment"), "{e}");

    // A state the lab refuses is refused as its link would be.
    let mut invalid = state.clone();
    invalid.params["width_div"] = json!(500);
    assert!(refused(&with(&good, &invalid)).contains("width_div"));
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "a minute unoptimised: cargo test --profile budgets --test checkpoint"
)]
fn quick_labs_save_no_checkpoints() {
    let store = DataStore::default();
    let state = labs::default_state("hebb2d").expect("lab");
    let mut run = Run::start(&state, &store).expect("start");
    advance(&mut run, 10);
    assert!(run.save(&state).expect("save").is_none());
    assert!(!labs::manifest("hebb2d").unwrap().checkpoints);
    assert!(labs::manifest("hebbconv").unwrap().checkpoints);
    let ck = Checkpoint {
        step: 1,
        tensors: vec![],
        extra: json!({}),
    };
    let e = Run::resume(&state, ck, &store, Default::default())
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("loads no checkpoints"), "{e}");
}

/// ZCA whitening is fitted on the training images before the first step; a run resumed from a checkpoint fits
/// it again from the same images and ends with the same numbers. Whitening changes what the networks learn, and
/// its fit is in the run's cost.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "a minute unoptimised: cargo test --profile budgets --test checkpoint"
)]
fn a_whitened_run_resumes_to_the_same_numbers_and_whitening_changes_them() {
    let store = store();
    let mut state = small("hard_wta");
    state.params["zca"] = json!(true);
    let cost = labs::estimate(&state).expect("estimate");
    assert!(
        cost.parts
            .iter()
            .any(|p| p.what == "eigendecomposition steps (d³)" && p.field == "zca")
    );
    let (run, bytes) = saved_after(&state, &store, 5);
    let resumed = resume(&bytes, &store).expect("resume");
    let whitened = numbers(&finish(run));
    assert_eq!(numbers(&finish(resumed)), whitened);
    let plain = numbers(&finish(
        Run::start(&small("hard_wta"), &store).expect("start"),
    ));
    assert_ne!(whitened, plain);
    let mut one = state.clone();
    one.params["train_images"] = json!(1);
    let errs = labs::validate(&one);
    assert!(
        errs.iter()
            .any(|e| e.path == "zca" && e.message.contains("at least 2")),
        "{errs:?}"
    );
}
