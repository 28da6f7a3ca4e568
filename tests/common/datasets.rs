//! A Datasets-lab run on the CPU to its end, for the tests that check what the lab prepares.
use hebbian_playground::data::source::SourceKind;
use hebbian_playground::data::store::DataStore;
use hebbian_playground::engine::Engine;
use hebbian_playground::labs::Lab as _;
use hebbian_playground::labs::budget::Chunk;
use hebbian_playground::labs::{self, Run, datasets};
use hebbian_playground::protocol::Frame;

/// The default Datasets state with source `kind` and `edit` applied, validated and run to the end; the frame
/// carries the prepared view (step 0 carries the data as loaded).
pub fn run_datasets(
    kind: SourceKind,
    edit: impl FnOnce(&mut datasets::Params),
    store: &DataStore,
) -> Frame {
    let mut s = datasets::Datasets::default_state();
    s.params.source.kind = kind;
    edit(&mut s.params);
    let any = s.to_any();
    assert!(
        labs::validate(&any).is_empty(),
        "{:?}",
        labs::validate(&any)
    );
    let mut engine = Engine::cpu("test");
    let mut run = Run::start(&any, store).expect("start");
    let first = run.snapshot();
    assert_eq!(first.datasets.len(), 1);
    let frame = pollster::block_on(run.advance(&mut engine, &Chunk::steps(0))).expect("advance");
    assert!(frame.done);
    assert_eq!(frame.datasets.len(), 1, "the prepared view");
    frame
}
