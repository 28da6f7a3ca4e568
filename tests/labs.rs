//! Checks every lab in the catalogue gets without writing them: its default state validates and runs to the end
//! on the CPU, every plot and dataset cell it lays out is filled by some frame, every parameter has a control,
//! every block of its Markdown is used once, and ranges come from the schema. A new lab is covered by adding
//! it to the registry.
use hebbian_playground::data::shipped;
use hebbian_playground::data::store::DataStore;
use hebbian_playground::engine::Engine;
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
        let mut run = Run::start(&state, &engine, &store).expect("start");
        let mut seen = BTreeSet::new();
        filled(&run.snapshot(), &mut seen);
        let mut frames = 0;
        while !run.done() {
            let f = pollster::block_on(run.advance(&mut engine, 0)).expect("advance");
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

/// Numeric fields reachable through objects (not arrays or enums), with their schemas.
fn numeric_fields(
    root: &serde_json::Value,
    schema: &serde_json::Value,
    path: &str,
    out: &mut Vec<(String, serde_json::Value)>,
) {
    let schema = match schema.get("$ref").and_then(serde_json::Value::as_str) {
        Some(r) => root.pointer(&r[1..]).expect("$ref target"),
        None => schema,
    };
    if let Some(props) = schema
        .get("properties")
        .and_then(serde_json::Value::as_object)
    {
        for (k, sub) in props {
            numeric_fields(root, sub, &format!("{path}/{k}"), out);
        }
    } else if schema.get("minimum").is_some() || schema.get("maximum").is_some() {
        out.push((path.to_string(), schema.clone()));
    }
}

/// Every numeric bound of every lab's schema is enforced: a value just outside it is refused at its field.
#[test]
fn every_schema_bound_is_enforced_at_its_field() {
    for id in ids() {
        let state = labs::default_state(id).expect("default state");
        let schema = labs::schema(id).expect("schema");
        let mut fields = Vec::new();
        numeric_fields(&schema, &schema["properties"]["params"], "", &mut fields);
        let mut tried = 0;
        for (path, sub) in fields {
            for (bound, delta) in [("minimum", -1.0), ("maximum", 1.0)] {
                let Some(b) = sub.get(bound).and_then(serde_json::Value::as_f64) else {
                    continue;
                };
                let integer = sub["type"] == "integer";
                if b.abs() >= 1e9 || (integer && bound == "minimum" && b == 0.0) {
                    continue; // machine-width bounds, and unsigned zero: serde refuses those
                }
                let mut bad = state.clone();
                let out = if integer {
                    serde_json::json!((b + delta) as i64)
                } else {
                    serde_json::json!(b + delta * b.abs().max(1e-3))
                };
                let Some(slot) = bad.params.pointer_mut(&path) else {
                    continue; // a field of an enum variant the default does not use
                };
                *slot = out.clone();
                let errs = labs::validate(&bad);
                let field = &path[1..];
                assert!(
                    errs.iter().any(|e| e.path == field),
                    "{id}: {field} = {out} not refused at its field: {errs:?}"
                );
                tried += 1;
            }
        }
        assert!(tried > 0, "{id}: no bounds tried");
    }
}
