//! Running lab states to the end in tests, on the shipped data.
use hebbian_playground::data::shipped;
use hebbian_playground::data::store::DataStore;
use hebbian_playground::engine::Engine;
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

/// Runs `state` to the end on `engine`: its metrics and its last frame of every plot.
pub fn run_to_end(
    state: &AnyState,
    store: &DataStore,
    engine: &mut Engine,
) -> (Vec<Metric>, Frame) {
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
