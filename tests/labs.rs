//! Checks every lab in the catalogue gets without writing them: its default state validates and runs to the end
//! on the CPU, every plot and dataset cell it lays out is filled by some frame, every parameter has a control,
//! every block of its Markdown is used once, and ranges come from the schema. A new lab is covered by adding
//! it to the registry.
mod common;

use common::runs::store;
use hebbian_playground::engine::Engine;
use hebbian_playground::labs::budget::Chunk;
use hebbian_playground::labs::{self, Run};
use hebbian_playground::protocol::{Cell, Frame, PALETTE, PlotBody};
use std::collections::BTreeSet;
use std::path::Path;

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

/// Series colours of a frame that are neither from the colour-blind-safe palette (or a translucent palette
/// colour) nor grey.
fn off_palette(frame: &Frame) -> Vec<String> {
    let rgb = |c: &str| -> Option<[u8; 3]> {
        if let Some(hex) = c.strip_prefix('#').filter(|h| h.len() == 6) {
            let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
            return Some([byte(0)?, byte(2)?, byte(4)?]);
        }
        let inner = c.strip_prefix("rgba(").or_else(|| c.strip_prefix("rgb("))?;
        let v: Vec<u8> = inner
            .trim_end_matches(')')
            .split(',')
            .take(3)
            .map(|x| x.trim().parse().ok())
            .collect::<Option<_>>()?;
        Some([v[0], v[1], v[2]])
    };
    let ok = |c: &str| {
        rgb(c).is_some_and(|[r, g, b]| {
            (r == g && g == b) || PALETTE.iter().any(|p| rgb(p) == Some([r, g, b]))
        })
    };
    frame
        .plots
        .iter()
        .filter_map(|p| match &p.body {
            PlotBody::Xy { series, .. } => Some(series),
            _ => None,
        })
        .flatten()
        .filter_map(|s| s.color.clone())
        .filter(|c| !ok(c))
        .collect()
}

/// Runs every lab's default experiment (or a lighter one) to the end: seconds each when optimised, so the
/// debug build skips it and `scripts/test.sh` runs it with the budgets profile.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "optimised: cargo test --profile budgets --test labs"
)]
fn every_default_state_validates_and_runs_to_the_end_filling_its_cells() {
    let store = store();
    for id in ids() {
        let mut state = labs::default_state(id).expect("default state");
        assert_eq!(labs::validate(&state), vec![], "{id}");
        if id == "hebbconv" {
            // Its default run takes half a minute (tests/hebbconv_lab.rs runs it); here the same cells from a
            // few images.
            for (key, value) in [("width_div", 48), ("train_images", 70), ("test_images", 30)] {
                state.params[key] = value.into();
            }
            state.params["probe_epochs"] = 2.into();
        }
        if id == "chl" {
            // Half a minute optimised; unoptimised, the same cells from a small network on few digits.
            for (key, value) in [("train_images", 100), ("test_images", 50), ("epochs", 2)] {
                state.params[key] = value.into();
            }
            state.params["hidden"] = serde_json::json!([16]);
        }
        if id == "credit" {
            // Eight seconds (tests/credit_lab.rs runs it); here the same cells from fewer digits.
            for (key, value) in [
                ("train_images", 300),
                ("valid_images", 100),
                ("snr_examples", 40),
            ] {
                state.params[key] = value.into();
            }
            for (key, value) in [("runs", 2), ("train_images", 60), ("epochs", 1)] {
                state.params["identify"][key] = value.into();
            }
        }
        if id == "rbm" {
            for (key, value) in [
                ("digits", 20),
                ("held_out", 10),
                ("hidden", 16),
                ("epochs", 2),
            ] {
                state.params[key] = value.into();
            }
            state.params["sweeps"] = 3.into();
            for (key, value) in [("runs", 2), ("temperatures", 3), ("points", 1)] {
                state.params["ais"][key] = value.into();
            }
            for (key, value) in [("layer1", 8), ("layer2", 4), ("digits", 40), ("epochs", 1)] {
                state.params["dbn"][key] = value.into();
            }
            state.params["dbn"]["readout_epochs"] = 1.into();
        }
        let manifest = labs::manifest(id).expect("manifest");
        let mut engine = Engine::cpu("test");
        let mut run = Run::start(&state, &store).expect("start");
        let mut seen = BTreeSet::new();
        filled(&run.snapshot(), &mut seen);
        let mut colours = BTreeSet::new();
        let mut frames = 0;
        while !run.done() {
            let f =
                pollster::block_on(run.advance(&mut engine, &Chunk::steps(0))).expect("advance");
            filled(&f, &mut seen);
            colours.extend(off_palette(&f));
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
            // One norm plot per convolution, up to four; the default architecture has three.
            .filter(|s| !(id == "hebbconv" && s == "norms_4"))
            .collect();
        assert!(missing.is_empty(), "{id}: cells never filled: {missing:?}");
        assert!(seen.iter().any(|s| s.starts_with("traj_")) || id != "hebb2d");
        assert!(
            colours.is_empty(),
            "{id}: colours outside the palette: {colours:?}"
        );
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
                l.starts_with("<!-- prose ")
                    || l.starts_with("<!-- exercise ")
                    || l.starts_with("<!-- teacher ")
            })
            .count();
        let cells = labs::manifest(id).expect("manifest").cells;
        let texts: Vec<String> = cells
            .iter()
            .filter_map(|c| match c {
                Cell::Prose { html } => Some(html.clone()),
                Cell::Exercise { prompt_html, .. } => Some(prompt_html.clone()),
                Cell::Teacher { html, .. } => Some(html.clone()),
                _ => None,
            })
            .collect();
        let distinct: BTreeSet<_> = texts.iter().collect();
        assert_eq!(texts.len(), blocks, "{id}: cells vs Markdown blocks");
        assert_eq!(distinct.len(), blocks, "{id}: a block is used twice");
    }
}

/// Issue 9's teaching conventions: every exercise has an answer for the teacher's view, every lab has learning
/// goals for teachers and ends with a "Sources" note, and nothing a student reads names our source files or
/// their listings (the Sources note names the documents by what they are).
#[test]
fn every_lab_teaches_with_answers_goals_and_sources_and_no_file_names() {
    let mut problems = Vec::new();
    for id in ids() {
        let manifest = labs::manifest(id).expect("manifest");
        let mut student = format!("{}\n{}\n", manifest.info.title, manifest.info.summary);
        // Field titles and descriptions are the controls' labels and help text.
        student += &manifest.schema.to_string();
        let mut goals = 0;
        for cell in &manifest.cells {
            match cell {
                Cell::Exercise {
                    title,
                    prompt_html,
                    hints_html,
                    answer_html,
                } => {
                    if answer_html.as_ref().is_none_or(|a| a.len() <= 40) {
                        problems.push(format!("{id}: exercise '{title}' has no answer"));
                    }
                    student += &format!("{title}\n{prompt_html}\n{}\n", hints_html.join("\n"));
                }
                Cell::Prose { html } => student += html,
                Cell::Controls { title, .. }
                | Cell::Metrics { title }
                | Cell::PatternEditor { title, .. } => student += title,
                Cell::Teacher { .. } => goals += 1,
                _ => {}
            }
        }
        if goals == 0 {
            problems.push(format!("{id}: no notes for teachers"));
        }
        if !matches!(manifest.cells.last(), Some(Cell::Prose { html }) if html.contains(">Sources<"))
        {
            problems.push(format!("{id}: the last cell is not the Sources note"));
        }
        let hits = source_names(&student);
        if !hits.is_empty() {
            problems.push(format!("{id}: a student reads {hits:?}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Words of `text` that name our source documents: their numbers (002, 004's …, but not the 000 of "10 000"),
/// file names, "listing", "the source's".
fn source_names(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let is_word = |c: char| c.is_alphanumeric() || "_.'".contains(c);
    let mut hits = Vec::new();
    let mut previous = "";
    let mut rest = lower.as_str();
    while let Some(start) = rest.find(is_word) {
        let gap = &rest[..start];
        rest = &rest[start..];
        let end = rest.find(|c| !is_word(c)).unwrap_or(rest.len());
        let word = rest[..end].trim_matches('.');
        let thousands =
            (gap == " " || gap == ",") && previous.ends_with(|c: char| c.is_ascii_digit());
        let number =
            word.len() >= 3 && word.starts_with("00") && word.as_bytes()[2].is_ascii_digit();
        if (number && !thousands)
            || word.ends_with(".txt")
            || word.starts_with("listing")
            || word == "source's"
        {
            hits.push(word.to_string());
        }
        previous = word;
        rest = &rest[end..];
    }
    hits
}

#[test]
fn source_names_are_found() {
    assert_eq!(
        source_names(
            "As 004's code (the source's listing) and 002 say; 2002, 10 000, 10,000 and 0.004 are fine."
        ),
        ["004's", "source's", "listing", "002"]
    );
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
