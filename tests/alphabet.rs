//! The Datasets lab's value transforms know the alphabet of their input (issue 9): the bipolar map leaves data
//! that is already ±1 alone and says so, a flip stays in {0, 1} or {−1, +1} as the data is, and the summary
//! line of the prepared data gives the values after the transforms. No shipped data needed.
mod common;

use common::datasets::run_datasets;
use hebbian_playground::data::source::SourceKind;
use hebbian_playground::data::store::DataStore;
use hebbian_playground::labs::datasets;
use hebbian_playground::protocol::{DatasetView, Frame, PlotBody};

fn run(kind: SourceKind, edit: impl FnOnce(&mut datasets::Params)) -> Frame {
    run_datasets(kind, edit, &DataStore::default())
}

fn metric(f: &Frame, name: &str) -> f64 {
    f.metrics
        .iter()
        .find(|m| m.name == name)
        .and_then(|m| m.value)
        .unwrap_or_else(|| panic!("metric {name}"))
}

fn prepared(f: &Frame) -> &DatasetView {
    f.datasets
        .iter()
        .find(|v| v.id == "prepared")
        .expect("the prepared view")
}

/// The pixels of the prepared examples, one Vec per letter.
fn letters(f: &Frame) -> Vec<Vec<f64>> {
    let PlotBody::Images { images, .. } = &prepared(f).examples.body else {
        panic!("images")
    };
    images.iter().map(|i| i.pixels.clone()).collect()
}

fn all_in(f: &Frame, alphabet: &[f64]) -> bool {
    letters(f).iter().flatten().all(|v| alphabet.contains(v))
}

#[test]
fn the_bipolar_map_leaves_letters_that_are_already_pm1_alone_and_says_so() {
    // The letters are ±1 by default; "map 0/1 to ±1" on top used to give −3 and 1.
    let f = run(SourceKind::Letters, |p| p.preprocess.bipolar = true);
    assert!(all_in(&f, &[-1.0, 1.0]), "{:?}", letters(&f));
    assert_eq!(
        (metric(&f, "smallest value"), metric(&f, "largest value")),
        (-1.0, 1.0)
    );
    assert!(
        f.notices.iter().any(|n| n.contains("already ±1")),
        "{:?}",
        f.notices
    );
    assert!(
        !prepared(&f).examples.title.contains("mapped"),
        "{}",
        prepared(&f).examples.title
    );
    // The letters as 0/1 are mapped, without a notice.
    let f = run(SourceKind::Letters, |p| {
        p.source.letters.bipolar = false;
        p.preprocess.bipolar = true;
    });
    assert!(all_in(&f, &[-1.0, 1.0]), "{:?}", letters(&f));
    assert!(f.notices.is_empty(), "{:?}", f.notices);
    assert!(prepared(&f).examples.title.contains("0/1 mapped to ±1"));
}

#[test]
fn flips_stay_in_the_alphabet_of_the_data() {
    for (bipolar, alphabet) in [(false, [0.0, 1.0]), (true, [-1.0, 1.0])] {
        let clean = run(SourceKind::Letters, |p| p.source.letters.bipolar = bipolar);
        // With and without the "map 0/1 to ±1" box: the flips follow the data as it is after the map.
        for map in [false, true] {
            let flipped = run(SourceKind::Letters, |p| {
                p.source.letters.bipolar = bipolar;
                p.preprocess.bipolar = map;
                p.corruption.flip_percent = 20.0;
            });
            let alphabet = if map { [-1.0, 1.0] } else { alphabet };
            assert!(
                all_in(&flipped, &alphabet),
                "bipolar {bipolar}, map {map}: {:?}",
                letters(&flipped)
            );
            // 20 % of 9 units: exactly 2 changed per letter.
            for (a, b) in letters(&clean).iter().zip(letters(&flipped)) {
                let a: Vec<f64> = a
                    .iter()
                    .map(|&v| if map && !bipolar { 2.0 * v - 1.0 } else { v })
                    .collect();
                assert_eq!(a.iter().zip(&b).filter(|(x, y)| x != y).count(), 2);
            }
        }
    }
    // Random ±1 patterns and 0/1 letters flipped fully become their negatives / complements.
    let f = run(SourceKind::RandomPatterns, |p| {
        p.corruption.flip_percent = 100.0
    });
    assert_eq!(
        (metric(&f, "smallest value"), metric(&f, "largest value")),
        (-1.0, 1.0)
    );
}

#[test]
fn the_summary_line_gives_the_values_after_the_transforms() {
    // ±1 letters mapped again: the line said "values -1…1" over data that ran −3…1.
    for edit in [
        (|p: &mut datasets::Params| p.preprocess.bipolar = true) as fn(&mut datasets::Params),
        |p| {
            p.source.letters.bipolar = false;
            p.preprocess.bipolar = true;
            p.corruption.flip_percent = 20.0;
        },
        |p| {
            p.source.letters.bipolar = false;
        },
    ] {
        let f = run(SourceKind::Letters, edit);
        let v = prepared(&f);
        let (lo, hi) = (metric(&f, "smallest value"), metric(&f, "largest value"));
        assert_eq!(
            (f64::from(v.summary.min), f64::from(v.summary.max)),
            (lo, hi)
        );
        assert!(v.line.contains(&format!("values {lo}…{hi}")), "{}", v.line);
        assert!(v.line.contains("after preprocessing"), "{}", v.line);
    }
    // Iris standardised: the line gives the standardised range, not the centimetres as loaded.
    let f = run(SourceKind::Iris, |p| {
        p.preprocess.scale = hebbian_playground::data::preprocess::Scale::Standardise;
        p.preprocess.classes = vec![0, 2];
    });
    let v = prepared(&f);
    assert!(v.summary.min < -1.0 && v.summary.max > 1.0, "{}", v.line);
    assert_eq!(f64::from(v.summary.min), metric(&f, "smallest value"));
    assert_eq!(f64::from(v.summary.max), metric(&f, "largest value"));
    // The samples kept by the class restriction: 40 + 40 training, 5 + 5 in each of the others.
    assert_eq!(
        (
            v.summary.count,
            v.summary.train,
            v.summary.validation,
            v.summary.test
        ),
        (100, 80, 10, 10)
    );
    // The ±1 / 0/1 alphabets are named in the line.
    let f = run(SourceKind::Letters, |p| p.preprocess.bipolar = true);
    assert!(
        prepared(&f).line.contains("(±1 only)"),
        "{}",
        prepared(&f).line
    );
}
