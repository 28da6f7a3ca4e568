//! Running lab states to the end in tests, on the shipped data.
use hebbian_playground::data::shipped;
use hebbian_playground::data::store::DataStore;
use hebbian_playground::engine::{BackendChoice, Engine};
use hebbian_playground::labs::Run;
use hebbian_playground::labs::budget::Chunk;
use hebbian_playground::protocol::{Frame, Metric};
use hebbian_playground::state::AnyState;
use std::path::Path;

/// A data store holding the shipped MNIST digits (built by scripts/setup.sh into target/data).
pub fn store() -> DataStore {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/data");
    let mut store = DataStore::default();
    store.set_mnist(shipped::mnist_from_dir(&dir).expect("the shipped digits (scripts/setup.sh)"));
    store
}

/// A finished run's metrics and its last frame of every plot.
pub type Ran = (Vec<Metric>, Frame);

/// Runs `state` to the end on `engine`: its metrics and its last frame of every plot.
pub fn run_to_end(state: &AnyState, store: &DataStore, engine: &mut Engine) -> Ran {
    let mut run = Run::start(state, store).expect("start");
    while !run.done() {
        pollster::block_on(run.advance(engine, &Chunk::steps(0))).expect("advance");
    }
    (run.metrics(), run.snapshot())
}

/// The value of the metric `name` (panics when it is missing or undefined).
pub fn metric(m: &[Metric], name: &str) -> f64 {
    m.iter()
        .find(|x| x.name == name)
        .and_then(|x| x.value)
        .unwrap_or_else(|| panic!("metric {name} in {m:?}"))
}

/// Whether the metric `name` is a timing (a duration or a speed), which no two runs share.
pub fn timing(name: &str) -> bool {
    name.contains("time") || name.contains("per second")
}

/// Asserts that `got` has every figure of `want` exactly, timings aside.
pub fn assert_same_figures(want: &[Metric], got: &[Metric], what: &str) {
    for m in want.iter().filter(|m| !timing(&m.name)) {
        assert_eq!(
            metric(want, &m.name),
            metric(got, &m.name),
            "{what}: {}",
            m.name
        );
    }
}

/// Runs `state` to the end on the CPU engine and on the GPU engine, having checked that the GPU engine stayed on
/// the device and said nothing (no fallback, no "computes on the CPU"): the CPU's metrics and last frame, the
/// GPU's, and the GPU engine for further runs.
pub fn on_both_engines(state: &AnyState, store: &DataStore) -> (Ran, Ran, Engine) {
    let mut cpu = pollster::block_on(Engine::new(BackendChoice::Cpu)).expect("cpu");
    let mut gpu = pollster::block_on(Engine::new(BackendChoice::Gpu)).expect("gpu");
    let on_cpu = run_to_end(state, store, &mut cpu);
    let on_gpu = run_to_end(state, store, &mut gpu);
    assert!(gpu.gpu().is_some(), "the GPU engine stayed on the GPU");
    assert!(on_gpu.1.notices.is_empty(), "{:?}", on_gpu.1.notices);
    (on_cpu, on_gpu, gpu)
}
