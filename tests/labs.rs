//! Checks every lab in the catalogue gets without writing them: its default state validates and runs to the end
//! on the CPU, every plot and dataset cell it lays out is filled by some frame, every parameter has a control,
//! every block of its Markdown is used once, and ranges come from the schema. A new lab is covered by adding
//! it to the registry.
mod common;

use hebbian_playground::data::shipped;
use hebbian_playground::data::store::DataStore;
use hebbian_playground::engine::Engine;
use hebbian_playground::labs::budget::Chunk;
use hebbian_playground::labs::{self, Run};
use hebbian_playground::protocol::{Cell, Frame};
use std::collections::BTreeSet;
use std::path::Path;

fn store() -> DataStore {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/data");
    let mut store = DataStore::default();
    store.set_mnist(
        shipped::mnist_from_dir(&dir).expect("the shipped MNIST asset (run scripts/setup.sh)"),
    );
    store
}

fn ids() -> Vec<&'static str> {
    labs::catalog().iter().map(|l| l.id).collect()
}

/// Plot and dataset ids the lab's cells lay out.
fn slots(cells: &[Cell]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for c in cells {
        match c {
            Cell::Plot { id } | Cell::Dataset { id } => {
                out.insert(id.clone());
            }
            Cell::PlotRow { ids } => out.extend(ids.iter().cloned()),
            _ => {}
        }
    }
    out
}

fn filled(frame: &Frame, seen: &mut BTreeSet<String>) {
    seen.extend(frame.plots.iter().map(|p| p.id.clone()));
    seen.extend(frame.datasets.iter().map(|d| d.id.clone()));
}

#[test]
fn every_default_state_validates_and_runs_to_the_end_filling_its_cells() {
    let store = store();
    for id in ids() {
        let state = labs::default_state(id).expect("default state");
        assert_eq!(labs::validate(&state), vec![], "{id}");
        let manifest = labs::manifest(id).expect("manifest");
        let mut engine = Engine::cpu("test");
        let mut run = Run::start(&state, &store).expect("start");
        let mut seen = BTreeSet::new();
        filled(&run.snapshot(), &mut seen);
        let mut frames = 0;
        while !run.done() {
            let f =
                pollster::block_on(run.advance(&mut engine, &Chunk::steps(0))).expect("advance");
            filled(&f, &mut seen);
            frames += 1;
            assert!(frames < 10_000, "{id}: a run to the end never ends");
        }
        assert!(!run.metrics().is_empty(), "{id}: no metrics");
        // Plot rows may hold more slots than a state fills (one panel per distribution, up to four).
        let missing: Vec<_> = slots(&manifest.cells)
            .into_iter()
            .filter(|s| !seen.contains(s))
            .filter(|s| !(id == "hebb2d" && s.starts_with("traj_")))
            // The temperature sweep's plots (tests/ising.rs fills them) belong to the other mode.
            .filter(|s| !(id == "ising" && s.starts_with("sweep_")))
            .collect();
        assert!(missing.is_empty(), "{id}: cells never filled: {missing:?}");
        assert!(seen.iter().any(|s| s.starts_with("traj_")) || id != "hebb2d");
    }
}

#[test]
fn every_parameter_has_a_control() {
    for id in ids() {
        let m = labs::manifest(id).expect("manifest");
        let mut shown = BTreeSet::new();
        for c in &m.cells {
            match c {
                Cell::Controls { fields, .. } => shown.extend(fields.iter().cloned()),
                // A pattern editor edits the params at its path; its top-level key counts as shown.
                Cell::PatternEditor { path, .. } => {
                    shown.insert(path.split('/').next().unwrap_or_default().to_string());
                }
                _ => {}
            }
        }
        let state = labs::default_state(id).expect("default state");
        let params = state.params.as_object().expect("params object");
        for key in params.keys() {
            assert!(
                shown.contains(key),
                "{id}: parameter '{key}' has no control"
            );
        }
        for f in &shown {
            assert!(params.contains_key(f), "{id}: control for unknown '{f}'");
        }
    }
}

#[test]
fn every_markdown_block_is_used_once() {
    for id in ids() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("src/labs/{id}.md"));
        let md = std::fs::read_to_string(&path).expect("the lab's Markdown");
        let blocks = md
            .lines()
            .filter(|l| {
                let l = l.trim();
                l.starts_with("<!-- prose ") || l.starts_with("<!-- exercise ")
            })
            .count();
        let cells = labs::manifest(id).expect("manifest").cells;
        let texts: Vec<String> = cells
            .iter()
            .filter_map(|c| match c {
                Cell::Prose { html } => Some(html.clone()),
                Cell::Exercise { prompt_html, .. } => Some(prompt_html.clone()),
                _ => None,
            })
            .collect();
        let distinct: BTreeSet<_> = texts.iter().collect();
        assert_eq!(texts.len(), blocks, "{id}: cells vs Markdown blocks");
        assert_eq!(distinct.len(), blocks, "{id}: a block is used twice");
    }
}

/// Every numeric bound of every lab's schema is enforced: a value just outside it is refused at its field.
#[test]
fn every_schema_bound_is_enforced_at_its_field() {
    for id in ids() {
        let cases = common::states::out_of_range(id);
        assert!(!cases.is_empty(), "{id}: no bounds tried");
        for (bad, field) in cases {
            let errs = labs::validate(&bad);
            assert!(
                errs.iter().any(|e| e.path == field),
                "{id}: {field} out of range not refused at its field: {errs:?}"
            );
        }
    }
}
