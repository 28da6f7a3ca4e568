//! Lab "Hebb's rule, weight decay and prototypes" (004 §1): one-layer Hebbian classifiers (`nets::hebbrule`).
//! The lecture's worked examples on 3×3 letters, computed when a run starts: bipolar T vs U with a bias (TC-01),
//! the multiclass T/U/C net (TC-02), plain Hebb's unbounded growth and the lecture's z-normalisation after every
//! update (TC-03), the instar and outstar decay rules (TC-04), α = 1/t as the running mean (TC-05) and the
//! geometric picture of w moving toward each input. Then the run: MNIST digits classified by ten class
//! prototypes learnt with Hebb + decay, `w[y] += α(x − w[y])`, one epoch per step, with test accuracy by the
//! lecture's dot product and by the nearest prototype.
//!
//! Where we differ from the lecture's code, on purpose: see `nets::hebbrule` for the letters; on MNIST the
//! training digits are reshuffled every epoch with a seeded order by default (its code walks one fixed order;
//! that is the option "one fixed order"), and the lab trains on the shipped 8,000 digits (or the user's MNIST
//! files), not 52,500.
//!
//! With a GPU engine the prototypes train on the device (`kernels::hebbrule`), with the training digits resident:
//! an epoch is one dispatch, one invocation per weight walking its class's digits in the epoch's order (each
//! update reads the previous one, so that chain stays sequential); the weights are read back once per epoch for
//! the test accuracy, measured on the CPU, and the plots. A lost device hands the run to the CPU from the last
//! epoch's end.
use super::budget::{Chunk, Cost};
use super::digits::Images;
use super::{Lab, LabRun};
use crate::data::letters::{self, Pattern, lecture_letters};
use crate::data::store::{DataStore, Need};
use crate::data::{Dataset, Split, preprocess};
use crate::engine::{Engine, Gpu};
use crate::error::{Error, FieldError, Result};
use crate::kernels::hebbrule::HebbruleGpu;
use crate::nets::hebbrule::{self as net, Layer};
use crate::plasticity::Rule;
use crate::protocol::{
    ARROW, BarSeries, Cell, Frame, Heatmap, Image, LabInfo, Mark, Metric, PALETTE, Plot, PlotBody,
    REFERENCE, Series,
};
use crate::rng::{self, Purpose};
use crate::state::{StateDoc, View};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Cell 1: bipolar T (+1) vs U (−1) with a bias.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bipolar {
    /// α of w ← w + α x y and b ← b + α y (the lecture's 1).
    #[schemars(title = "learning rate α", range(min = 0.01, max = 10.0))]
    pub rate: f64,
    /// The letters to classify after training, ±1 pixels ('#' is +1): click cells to corrupt them.
    pub probes: Vec<Pattern>,
}

/// Cell 2: T, U, C with one-hot targets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Multiclass {
    /// Passes of plain Hebb (α = 1) over T, U, C: ‖W‖ after each is plotted.
    #[schemars(title = "passes of plain Hebb", range(min = 1, max = 10000), extend("x-unit" = "passes"))]
    pub passes: u32,
    /// α of the normalised variant (the lecture's code: 0.1).
    #[schemars(title = "learning rate α (normalised)", range(min = 0.001, max = 10.0))]
    pub rate: f64,
    /// Passes over T, U, C of the normalised variant, each update followed by the z-normalisation (the
    /// lecture's code: 100).
    #[schemars(title = "passes (normalised)", range(min = 1, max = 10000), extend("x-unit" = "passes"))]
    pub iterations: u32,
    /// The corrupted letters to classify (binary pixels): click cells to change them.
    pub probes: Vec<Pattern>,
}

/// Cell 3: weight decay.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Decay {
    /// α of the instar and outstar rules on T, U, C (the lecture's code: 0.1). Above 2, |1 − α| > 1 and every
    /// update overshoots further: the range stops at 2.
    #[schemars(title = "learning rate α", range(min = 0.001, max = 2.0))]
    pub rate: f64,
    /// Epochs over T, U, C (the lecture's code: 100).
    #[schemars(title = "epochs", range(min = 1, max = 100000), extend("x-unit" = "epochs"))]
    pub epochs: u32,
    /// Inputs of the running-mean and geometric plots, drawn around a centre with the seed.
    #[schemars(title = "2-D inputs", range(min = 2, max = 500), extend("x-unit" = "inputs"))]
    pub inputs: u32,
    /// The constant α the geometric picture compares with α = 1/t.
    #[schemars(title = "constant α of the picture", range(min = 0.01, max = 1.0))]
    pub step: f64,
}

/// The order the training digits are visited in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// A new seeded shuffle every epoch.
    #[schemars(title = "reshuffled every epoch")]
    Reshuffled,
    /// One seeded shuffle, walked in every epoch (the lecture's one pass in data order).
    #[schemars(title = "one fixed order (the lecture's)")]
    Fixed,
    /// The order the data holds them in (the shipped split is stored class by class).
    #[schemars(title = "as stored")]
    Stored,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("x-step" = "epoch", "x-steps" = "epochs"))]
pub struct Params {
    #[schemars(title = "T vs U")]
    pub bipolar: Bipolar,
    #[schemars(title = "T, U, C")]
    pub multiclass: Multiclass,
    #[schemars(title = "weight decay")]
    pub decay: Decay,
    #[schemars(title = "images")]
    pub images: Images,
    /// Training digits, the classes in turn where the split holds more (the lecture trains on 52,500).
    #[schemars(title = "training images", range(min = 10, max = 60000), extend("x-unit" = "images"))]
    pub train_images: u32,
    /// Test digits, the classes in turn.
    #[schemars(title = "test images", range(min = 10, max = 10000), extend("x-unit" = "images"))]
    pub test_images: u32,
    /// α of w[y] ← w[y] + α (x − w[y]) (the lecture's 0.01).
    #[schemars(title = "learning rate α", range(min = 0.0001, max = 10.0))]
    pub rate: f64,
    #[schemars(title = "epochs", range(min = 1, max = 500), extend("x-unit" = "epochs"))]
    pub epochs: u32,
    #[schemars(title = "order of the digits")]
    pub order: Order,
}

/// The lab.
pub struct HebbRuleLab;

const CLASSES: usize = 10;
const INPUTS: usize = 784;
/// The lecture's test accuracy (52,500 training digits, 50 epochs, α 0.01).
const LECTURE_ACCURACY: f64 = 0.64;
/// Probes a letter cell takes at most.
const MAX_PROBES: usize = 4;
/// A weight past this ends the MNIST run (pixels are in [0, 1]: a prototype that leaves [0, 1] by this much
/// has overshot at α > 2 and keeps growing).
const MAX_WEIGHT: f32 = 1e6;
/// Cost constants, measured natively on the reference machine (see the report): ns per synapse update of an
/// epoch (conversion of the pixel included) and per multiply-add of the evaluation (dot product and distance).
const NS_PER_UPDATE: f64 = 2.0;
const NS_PER_MAC: f64 = 1.0;
/// ns per weight update of the letters' examples (Hebb, normalisation, decay).
const NS_PER_LETTER_OP: f64 = 3.0;
/// The colours of the two ways to classify, across the lab.
const DOT: &str = PALETTE[0];
const NEAREST: &str = PALETTE[1];
/// The α = 1/t path and the constant-α path of the decay pictures.
const MEAN_PATH: &str = PALETTE[4];
const CONST_PATH: &str = ARROW;
/// The seeded 2-D inputs' group of the samples stream.
const INPUTS_GROUP: u32 = 41;

fn letter(name: &str) -> Pattern {
    lecture_letters()
        .into_iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| Pattern::new(name, 3, 3, &[0; 9]))
}

fn tuc() -> Vec<Pattern> {
    ["T", "U", "C"].iter().map(|n| letter(n)).collect()
}

fn binary(p: &Pattern) -> Vec<f32> {
    p.binary().into_iter().map(f32::from).collect()
}

/// At most three decimals, no trailing zeros.
fn number(x: f64) -> String {
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

fn row2(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.2}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn ints(v: &[f32]) -> String {
    v.iter()
        .map(|&x| number(f64::from(x)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_probes(probes: &[Pattern], path: &str) -> Vec<FieldError> {
    let mut e = letters::validate(probes, path);
    if probes.len() > MAX_PROBES {
        e.push(FieldError::new(
            path,
            format!("at most {MAX_PROBES} test letters (got {})", probes.len()),
        ));
    }
    if let Some(p) = probes.iter().find(|p| (p.rows, p.cols) != (3, 3)) {
        e.push(FieldError::new(
            path,
            format!(
                "the nets learnt 3×3 letters: '{}' is {}×{}; draw test letters on a 3×3 grid",
                p.name, p.rows, p.cols
            ),
        ));
    }
    e
}

impl Lab for HebbRuleLab {
    const ID: &'static str = "hebbrule";
    const DEFAULT_SEED: u32 = 1;
    const THEORY: bool = false;
    type Params = Params;
    type Run = Run;

    fn info() -> LabInfo {
        LabInfo {
            id: Self::ID,
            title: "Hebb's rule, weight decay and prototypes",
            summary: "One layer of Hebbian weights classifies letters and digits: T against U, then T, U and C, why \
                      plain Hebb's weights grow without bound, the instar and outstar decay rules that turn them \
                      into running means, and ten learnt digit prototypes that classify MNIST.",
            source: "004_01ab2769c1683046.txt",
        }
    }

    fn cells() -> Vec<Cell> {
        let text = super::text::LabText::parse(include_str!("hebbrule.md"));
        let plot = |id: &str| Cell::Plot { id: id.into() };
        let row = |ids: &[&str]| Cell::PlotRow {
            ids: ids.iter().map(|s| (*s).to_string()).collect(),
        };
        vec![
            text.prose("intro"),
            text.teacher("goals"),
            text.prose("bipolar"),
            Cell::Controls {
                title: "T against U".into(),
                fields: vec!["bipolar".into()],
            },
            Cell::PatternEditor {
                path: "bipolar/probes".into(),
                title: "Test letters (click cells to corrupt them)".into(),
            },
            row(&["tu_w1", "tu_w2"]),
            plot("tu_table"),
            text.exercise("ex1"),
            text.prose("multiclass"),
            Cell::Controls {
                title: "T, U and C".into(),
                fields: vec!["multiclass".into()],
            },
            Cell::PatternEditor {
                path: "multiclass/probes".into(),
                title: "Corrupted letters (click cells to change them)".into(),
            },
            plot("tuc_table"),
            row(&["tuc_norms", "tuc_weights"]),
            plot("tuc_compare"),
            plot("tuc_normalised"),
            text.prose("decay"),
            Cell::Controls {
                title: "Weight decay".into(),
                fields: vec!["decay".into()],
            },
            row(&["decay_weights", "decay_table"]),
            row(&["running_mean", "geometry"]),
            text.exercise("ex2"),
            text.prose("mnist"),
            Cell::Controls {
                title: "MNIST prototypes".into(),
                fields: [
                    "images",
                    "train_images",
                    "test_images",
                    "rate",
                    "epochs",
                    "order",
                ]
                .map(String::from)
                .into(),
            },
            Cell::Run,
            row(&["accuracy", "prototypes"]),
            row(&["per_class", "predicted"]),
            Cell::Metrics {
                title: "Results".into(),
            },
            text.exercise("ex3"),
            text.exercise("ex4"),
            text.exercise("ex5"),
            text.prose("sources"),
        ]
    }

    fn default_params() -> Params {
        Params {
            bipolar: Bipolar {
                rate: 1.0,
                probes: vec![
                    Pattern::new("T′", 3, 3, &[1, 0, 1, 0, 1, 0, 0, 1, 0]),
                    Pattern::new("U′", 3, 3, &[1, 0, 1, 0, 0, 1, 1, 1, 0]),
                ],
            },
            multiclass: Multiclass {
                passes: 100,
                rate: 0.1,
                iterations: 100,
                probes: vec![
                    Pattern::new("T′", 3, 3, &[1, 0, 1, 0, 1, 0, 0, 1, 0]),
                    Pattern::new("C′", 3, 3, &[0, 1, 1, 1, 0, 0, 0, 1, 1]),
                    Pattern::new("U′", 3, 3, &[1, 0, 1, 0, 0, 1, 1, 1, 0]),
                ],
            },
            decay: Decay {
                rate: 0.1,
                epochs: 100,
                inputs: 30,
                step: 0.3,
            },
            images: Images::Digits,
            train_images: 8000,
            test_images: 1000,
            rate: 0.01,
            epochs: 50,
            order: Order::Reshuffled,
        }
    }

    /// A frame per epoch.
    fn default_view() -> View {
        View {
            speed: 1,
            theory: false,
        }
    }

    fn validate(p: &Params) -> Vec<FieldError> {
        let mut e = check_probes(&p.bipolar.probes, "bipolar/probes");
        e.extend(check_probes(&p.multiclass.probes, "multiclass/probes"));
        e
    }

    /// Counted in synapse updates (the letters' examples, an epoch's instar updates) and multiply-adds (the
    /// evaluation's dot products and distances of every test digit with every prototype, after each epoch and
    /// before the first).
    fn cost(p: &Params) -> Cost {
        let m = &p.multiclass;
        let d = &p.decay;
        let epochs = f64::from(p.epochs);
        let test = f64::from(p.test_images);
        let w = (CLASSES * INPUTS) as f64;
        Cost::default()
            .work(
                "weight updates of plain Hebb on the letters",
                "multiclass/passes",
                f64::from(m.passes) * 3.0 * 27.0,
                NS_PER_LETTER_OP,
            )
            .work(
                "weight updates and normalisations on the letters",
                "multiclass/iterations",
                f64::from(m.iterations) * 3.0 * 27.0 * 4.0,
                NS_PER_LETTER_OP,
            )
            .work(
                "weight updates of the decay rules on the letters",
                "decay/epochs",
                f64::from(d.epochs) * 2.0 * 3.0 * 27.0,
                NS_PER_LETTER_OP,
            )
            .work(
                "synapse updates of training",
                "train_images",
                epochs * f64::from(p.train_images) * INPUTS as f64,
                NS_PER_UPDATE,
            )
            .work(
                "multiply-adds of testing",
                "test_images",
                (epochs + 1.0) * test * w * 2.0,
                NS_PER_MAC,
            )
            .memory("the test images", "test_images", test * INPUTS as f64 * 4.0)
            .memory(
                "the prototypes, their copy and the curves",
                "epochs",
                3.0 * w * 4.0 + epochs * 200.0,
            )
    }

    fn needs(p: &Params) -> Option<Need> {
        Some(p.images.need())
    }

    fn start(state: StateDoc<Params>, store: &DataStore) -> Result<Run> {
        let data = state.params.images.load(store)?;
        Run::with_data(state, data)
    }
}

/// The letters' worked examples, computed once per run.
struct Letters {
    plots: Vec<Plot>,
    metrics: Vec<Metric>,
}

/// T vs U (TC-01): the weights after each update as heatmaps on one scale, and the scores of T, U and the probes.
fn bipolar_plots(b: &Bipolar, plots: &mut Vec<Plot>, metrics: &mut Vec<Metric>) {
    let (t, u) = (letter("T").bipolar(), letter("U").bipolar());
    let rate = b.rate as f32;
    let steps = net::hebb_with_bias(&[t.clone(), u.clone()], &[1.0, -1.0], rate);
    let top = steps
        .iter()
        .flat_map(|s| s.w.iter().chain([&s.b]))
        .fold(1e-6f32, |m, v| m.max(v.abs()));
    for (k, s) in steps.iter().enumerate() {
        // Heatmap rows run from the bottom: the letter's top row is the last.
        let values = (0..9)
            .map(|i| f64::from(s.w[(2 - i / 3) * 3 + i % 3]))
            .collect();
        plots.push(Plot {
            id: format!("tu_w{}", k + 1),
            title: format!(
                "w after update {} ({}), b = {}",
                k + 1,
                ["T", "U"][k],
                number(f64::from(s.b))
            ),
            x_label: String::new(),
            y_label: String::new(),
            body: PlotBody::Xy {
                x_range: Some([0.5, 3.5]),
                y_range: Some([0.5, 3.5]),
                equal_aspect: true,
                series: vec![],
                heatmap: Some(Heatmap {
                    x_range: [0.5, 3.5],
                    y_range: [0.5, 3.5],
                    nx: 3,
                    ny: 3,
                    values,
                    label: "w".into(),
                    value_range: Some([-f64::from(top), f64::from(top)]),
                }),
            },
        });
    }
    let last = steps.last().cloned().unwrap_or(net::BiasStep {
        w: vec![0.0; 9],
        b: 0.0,
    });
    metrics.push(Metric::new("T vs U: bias b", f64::from(last.b), ""));
    let mut rows = Vec::new();
    let mut inputs = vec![("T".to_string(), t), ("U".to_string(), u)];
    inputs.extend(b.probes.iter().map(|p| (p.name.clone(), p.bipolar())));
    for (name, x) in &inputs {
        let s = net::score(&last.w, last.b, x);
        let y = libm::tanh(f64::from(s));
        rows.push(vec![
            name.clone(),
            number(f64::from(s)),
            format!("{y:.5}"),
            if s > 0.0 {
                "T (+1)".into()
            } else if s < 0.0 {
                "U (−1)".into()
            } else {
                "undecided".into()
            },
        ]);
        metrics.push(Metric::new(
            format!("T vs U: w·x + b of {name}"),
            f64::from(s),
            "",
        ));
    }
    plots.push(Plot {
        id: "tu_table".into(),
        title: format!("After T and U: w = [{}]", ints(&last.w)),
        x_label: String::new(),
        y_label: String::new(),
        body: PlotBody::Table {
            columns: ["input", "w·x + b", "tanh(w·x + b)", "class"]
                .map(String::from)
                .into(),
            rows,
        },
    });
}

/// Scores, softmax and the predicted letter of each probe under `w`.
fn predictions(w: &Layer, probes: &[Pattern]) -> Vec<(String, Vec<f32>, Vec<f64>, &'static str)> {
    probes
        .iter()
        .map(|p| {
            let s = w.scores(&binary(p));
            let sm = net::softmax(&s);
            (
                p.name.clone(),
                s.clone(),
                sm,
                ["T", "U", "C"][net::argmax(&s)],
            )
        })
        .collect()
}

fn table(id: &str, title: String, columns: &[&str], rows: Vec<Vec<String>>) -> Plot {
    Plot {
        id: id.into(),
        title,
        x_label: String::new(),
        y_label: String::new(),
        body: PlotBody::Table {
            columns: columns.iter().map(|s| (*s).to_string()).collect(),
            rows,
        },
    }
}

/// Each output's weights as a 3×3 picture (ink on paper: the largest weight black), `labels[i]` under row i.
fn weight_images(id: &str, title: String, nets: &[(&str, &Layer)], range: [f64; 2]) -> Plot {
    let mut images = Vec::new();
    for (name, w) in nets {
        for (i, l) in ["T", "U", "C"].iter().enumerate().take(w.classes) {
            images.push(Image {
                label: format!("{name} {l}"),
                pixels: w.row(i).iter().map(|&v| f64::from(v)).collect(),
            });
        }
    }
    Plot {
        id: id.into(),
        title,
        x_label: String::new(),
        y_label: String::new(),
        body: PlotBody::Images {
            cols: 3,
            width: 3,
            height: 3,
            channels: 1,
            value_range: [range[1], range[0]],
            grid: true,
            images,
        },
    }
}

/// T, U, C (TC-02, TC-03): one pass, P passes of plain Hebb (‖W‖ per pass), the z-normalised variant.
fn multiclass_plots(m: &Multiclass, plots: &mut Vec<Plot>, metrics: &mut Vec<Metric>) {
    let xs: Vec<Vec<f32>> = tuc().iter().map(binary).collect();
    let (one, _) = net::hebb_passes(&xs, 1.0, 1, false);
    let (many, norms) = net::hebb_passes(&xs, 1.0, m.passes, false);
    let (normed, normed_norms) = net::hebb_passes(&xs, m.rate as f32, m.iterations, true);
    let first = predictions(&one, &m.probes);
    plots.push(table(
        "tuc_table",
        "After one pass: W = Xᵀ".into(),
        &["probe", "scores x·W", "softmax", "letter"],
        first
            .iter()
            .map(|(n, s, sm, l)| vec![n.clone(), ints(s), row2(sm), (*l).into()])
            .collect(),
    ));
    for (n, s, sm, _) in &first {
        metrics.push(Metric::new(
            format!("T, U, C: softmax of the right letter for {n}"),
            sm[net::argmax(s)],
            "",
        ));
    }
    let later = predictions(&many, &m.probes);
    let normalised = predictions(&normed, &m.probes);
    plots.push(table(
        "tuc_compare",
        format!("After {} passes, and normalised", m.passes),
        &["probe", "scores", "softmax", "normalised softmax"],
        later
            .iter()
            .zip(&normalised)
            .map(|((n, s, sm, l), (_, _, nsm, nl))| {
                vec![
                    n.clone(),
                    ints(s),
                    format!("{} → {l}", row2(sm)),
                    format!("{} → {nl}", row2(nsm)),
                ]
            })
            .collect(),
    ));
    plots.push(table(
        "tuc_normalised",
        format!(
            "Normalised W after {} passes at α = {}",
            m.iterations,
            number(m.rate)
        ),
        &["pixel", "T", "U", "C"],
        (0..9)
            .map(|j| {
                let mut r = vec![format!("{}", j + 1)];
                r.extend((0..3).map(|i| format!("{:.3}", normed.w[i * 9 + j])));
                r
            })
            .collect(),
    ));
    let passes = f64::from(m.passes);
    let curve = |name: &str, color: &str, v: &[f64]| Series {
        name: name.into(),
        mark: Mark::Line,
        color: Some(color.into()),
        points: v
            .iter()
            .enumerate()
            .map(|(k, &y)| [(k + 1) as f64, y])
            .collect(),
        band: None,
    };
    let every = m.iterations.max(m.passes).div_ceil(500).max(1) as usize;
    let thin = |v: &[f64]| -> Vec<f64> { v.iter().step_by(every).copied().collect() };
    let mut plain = curve("plain Hebb", PALETTE[2], &thin(&norms));
    let mut z = curve("normalised", PALETTE[3], &thin(&normed_norms));
    for s in [&mut plain, &mut z] {
        for p in &mut s.points {
            p[0] = (p[0] - 1.0) * every as f64 + 1.0;
        }
    }
    plots.push(Plot {
        id: "tuc_norms".into(),
        title: "‖W‖ per pass".into(),
        x_label: "pass".into(),
        y_label: "‖W‖".into(),
        body: PlotBody::Xy {
            x_range: Some([0.0, passes.max(f64::from(m.iterations))]),
            y_range: None,
            equal_aspect: false,
            series: vec![plain, z],
            heatmap: None,
        },
    });
    let top = many.w.iter().fold(1e-6f32, |a, v| a.max(v.abs()));
    plots.push(weight_images(
        "tuc_weights",
        format!(
            "W after {} passes (black: {})",
            m.passes,
            number(f64::from(top))
        ),
        &[("Hebb", &many)],
        [0.0, f64::from(top)],
    ));
    metrics.push(Metric::new(
        format!("T, U, C: ‖W‖ after {} passes", m.passes),
        norms.last().copied().unwrap_or(f64::NAN),
        "",
    ));
    metrics.push(Metric::new(
        "T, U, C normalised: weight of T at its pixels",
        f64::from(normed.w[0]),
        "",
    ));
    for (n, _, sm, _) in &normalised {
        metrics.push(Metric::new(
            format!("T, U, C normalised: largest softmax for {n}"),
            sm.iter().fold(0.0, |a: f64, &b| a.max(b)),
            "",
        ));
    }
}

/// The seeded 2-D inputs of the decay pictures: a cloud around (2, 1).
pub fn decay_inputs(n: u32, seed: u32) -> Vec<Vec<f32>> {
    let key = [seed, rng::stream(Purpose::Samples, INPUTS_GROUP, 0)];
    (0..n)
        .map(|t| {
            let z = rng::normal4([t, 0, 0, 0], key);
            vec![2.0 + 0.8 * z[0], 1.0 + 0.8 * z[1]]
        })
        .collect()
}

/// Weight decay (TC-04, TC-05): instar and outstar on T, U, C, α = 1/t as the running mean, and w moving toward
/// each input.
fn decay_plots(
    d: &Decay,
    multiclass: &Multiclass,
    seed: u32,
    plots: &mut Vec<Plot>,
    metrics: &mut Vec<Metric>,
) {
    let letters = tuc();
    let xs: Vec<Vec<f32>> = letters.iter().map(binary).collect();
    let rate = d.rate as f32;
    let instar = net::decay_epochs(&xs, Rule::Instar, rate, d.epochs);
    let outstar = net::decay_epochs(&xs, Rule::Outstar, rate, d.epochs);
    let dev = instar
        .w
        .iter()
        .zip(xs.iter().flatten())
        .fold(0.0f64, |m, (w, x)| m.max(f64::from((w - x).abs())));
    let top = instar
        .w
        .iter()
        .chain(&outstar.w)
        .fold(1.0f32, |a, v| a.max(v.abs()));
    plots.push(weight_images(
        "decay_weights",
        format!("Rows of W after {} epochs", d.epochs),
        &[("instar", &instar), ("outstar", &outstar)],
        [0.0, f64::from(top)],
    ));
    let mut rows = Vec::new();
    for (name, w) in [("instar", &instar), ("outstar", &outstar)] {
        for (n, s, sm, l) in predictions(w, &multiclass.probes) {
            rows.push(vec![
                name.into(),
                n.clone(),
                s.iter()
                    .map(|&v| format!("{v:.2}"))
                    .collect::<Vec<_>>()
                    .join(" "),
                format!("{} → {l}", row2(&sm)),
            ]);
            metrics.push(Metric::new(
                format!("{name}: largest softmax for {n}"),
                sm.iter().fold(0.0, |a: f64, &b| a.max(b)),
                "",
            ));
        }
    }
    plots.push(table(
        "decay_table",
        format!("max |W − X| of instar = {dev:.3e}"),
        &["rule", "probe", "scores", "softmax"],
        rows,
    ));
    metrics.push(Metric::new("instar: max |W − X|", dev, ""));

    // TC-05 and the geometric picture.
    let inputs = decay_inputs(d.inputs, seed);
    let mean_path = net::running_instar(&inputs, None);
    let const_path = net::running_instar(&inputs, Some(d.step as f32));
    let mut sums = [0.0f64; 2];
    let running: Vec<[f64; 2]> = inputs
        .iter()
        .enumerate()
        .map(|(t, x)| {
            sums[0] += f64::from(x[0]);
            sums[1] += f64::from(x[1]);
            [sums[0] / (t + 1) as f64, sums[1] / (t + 1) as f64]
        })
        .collect();
    let gap = mean_path
        .iter()
        .zip(&running)
        .flat_map(|(w, m)| (0..2).map(move |c| (f64::from(w[c]) - m[c]).abs()))
        .fold(0.0, f64::max);
    metrics.push(Metric::new("α = 1/t: max |w − running mean|", gap, ""));
    if let (Some(w), Some(m)) = (const_path.last(), running.last()) {
        metrics.push(Metric::new(
            format!("α = {}: final ‖w − mean of the inputs‖", number(d.step)),
            libm::hypot(f64::from(w[0]) - m[0], f64::from(w[1]) - m[1]),
            "",
        ));
    }
    let at = |path: &[Vec<f32>], c: usize| -> Vec<[f64; 2]> {
        std::iter::once([0.0, 0.0])
            .chain(
                path.iter()
                    .enumerate()
                    .map(|(t, w)| [(t + 1) as f64, f64::from(w[c])]),
            )
            .collect()
    };
    let line = |name: String, mark, color: &str, points| Series {
        name,
        mark,
        color: Some(color.into()),
        points,
        band: None,
    };
    let a = number(d.step);
    let series = vec![
        line(
            "w₁, α = 1/t".into(),
            Mark::Line,
            MEAN_PATH,
            at(&mean_path, 0),
        ),
        line(
            "w₂, α = 1/t".into(),
            Mark::Dashed,
            MEAN_PATH,
            at(&mean_path, 1),
        ),
        line(
            "running mean of x".into(),
            Mark::Scatter,
            PALETTE[6],
            running
                .iter()
                .enumerate()
                .flat_map(|(t, m)| [[(t + 1) as f64, m[0]], [(t + 1) as f64, m[1]]])
                .collect(),
        ),
        line(
            format!("w₁, α = {a}"),
            Mark::Line,
            CONST_PATH,
            at(&const_path, 0),
        ),
        line(
            format!("w₂, α = {a}"),
            Mark::Dashed,
            CONST_PATH,
            at(&const_path, 1),
        ),
    ];
    plots.push(Plot {
        id: "running_mean".into(),
        title: "w's components, input by input".into(),
        x_label: "inputs seen t".into(),
        y_label: "w₁, w₂".into(),
        body: PlotBody::Xy {
            x_range: Some([0.0, f64::from(d.inputs)]),
            y_range: None,
            equal_aspect: false,
            series,
            heatmap: None,
        },
    });
    let path = |p: &[Vec<f32>]| -> Vec<[f64; 2]> {
        std::iter::once([0.0, 0.0])
            .chain(p.iter().map(|w| [f64::from(w[0]), f64::from(w[1])]))
            .collect()
    };
    let steps = path(&const_path);
    let arrows: Vec<[f64; 2]> = steps.windows(2).flat_map(|s| [s[0], s[1]]).collect();
    let series = vec![
        line(
            "inputs x_t".into(),
            Mark::Scatter,
            PALETTE[6],
            inputs
                .iter()
                .map(|x| [f64::from(x[0]), f64::from(x[1])])
                .collect(),
        ),
        line(format!("w, α = {a}"), Mark::Arrows, CONST_PATH, arrows),
        line(
            "w, α = 1/t".into(),
            Mark::Trajectory,
            MEAN_PATH,
            path(&mean_path),
        ),
    ];
    plots.push(Plot {
        id: "geometry".into(),
        title: "w moves toward each input".into(),
        x_label: "x₁, w₁".into(),
        y_label: "x₂, w₂".into(),
        body: PlotBody::Xy {
            x_range: None,
            y_range: None,
            equal_aspect: true,
            series,
            heatmap: None,
        },
    });
}

impl Letters {
    fn new(p: &Params, seed: u32) -> Self {
        let (mut plots, mut metrics) = (Vec::new(), Vec::new());
        bipolar_plots(&p.bipolar, &mut plots, &mut metrics);
        multiclass_plots(&p.multiclass, &mut plots, &mut metrics);
        decay_plots(&p.decay, &p.multiclass, seed, &mut plots, &mut metrics);
        Self { plots, metrics }
    }
}

/// One evaluated epoch.
#[derive(Clone, Debug)]
struct EpochRow {
    epoch: u32,
    /// Accuracy by the dot product x·w_c and by the nearest prototype.
    accuracy: [f64; 2],
    per_class: [Vec<f64>; 2],
    /// How many test digits each way assigns to each class.
    predicted: [Vec<u32>; 2],
}

/// A run: the letters' examples, then ten prototypes over the epochs.
pub struct Run {
    state: StateDoc<Params>,
    data: Arc<Dataset>,
    letters: Letters,
    train: Vec<usize>,
    test_x: Vec<f32>,
    test_labels: Vec<u8>,
    net: Layer,
    rows: Vec<EpochRow>,
    epoch: u32,
    /// Milliseconds and images of training, and the last epoch's milliseconds.
    timing: (f64, f64),
    epoch_ms: f64,
    stopped: bool,
    notices: Vec<String>,
    /// The prototypes on the device (with the training digits) when the engine has a GPU; `net` then holds the
    /// weights read back at the last epoch's end.
    gpu: Option<HebbruleGpu>,
    /// Whether placing the prototypes on the GPU has been tried.
    placed: bool,
    changed: bool,
    /// Whether a frame has carried the letters' examples (they change only with a new run).
    letters_sent: bool,
}

impl Run {
    fn with_data(state: StateDoc<Params>, data: Arc<Dataset>) -> Result<Self> {
        let p = &state.params;
        if data.dim() != INPUTS || data.classes.len() < CLASSES {
            return Err(Error::Data(format!(
                "{} holds {} values per sample in {} classes; this lab takes 28×28 digits in 10 classes",
                data.name,
                data.dim(),
                data.classes.len()
            )));
        }
        let all = data.indices(Split::Train);
        let mut notices = Vec::new();
        if all.len() < p.train_images as usize {
            notices.push(format!(
                "{} has {} training digits: the run trains on all of them.",
                data.name,
                all.len()
            ));
        }
        // The classes in turn, then back in stored order: fewer digits than the split holds still cover every
        // class (the shipped split is stored class by class, so its first N would be zeros and ones).
        let mut train = preprocess::classes_in_turn(&data, &all);
        train.truncate(p.train_images as usize);
        train.sort_unstable();
        let mut test = preprocess::classes_in_turn(&data, &data.indices(Split::Test));
        test.truncate(p.test_images as usize);
        if train.is_empty() || test.is_empty() {
            return Err(Error::Data(format!(
                "{} has {} training and {} test digits; this run needs some of each",
                data.name,
                train.len(),
                test.len()
            )));
        }
        let test_x = data.rows(&test).into_raw_vec_and_offset().0;
        let test_labels = test.iter().map(|&i| data.labels[i]).collect();
        let letters = Letters::new(p, state.seed);
        let mut run = Self {
            state,
            data,
            letters,
            train,
            test_x,
            test_labels,
            net: Layer::zeros(CLASSES, INPUTS),
            rows: Vec::new(),
            epoch: 0,
            timing: (0.0, 0.0),
            epoch_ms: f64::NAN,
            stopped: false,
            notices,
            gpu: None,
            placed: false,
            changed: true,
            letters_sent: false,
        };
        run.evaluate();
        Ok(run)
    }

    /// The order of epoch `e`'s training digits.
    fn order(&self, e: u32) -> Vec<usize> {
        match self.state.params.order {
            Order::Reshuffled => preprocess::shuffled(&self.train, self.state.seed, 1 + e),
            Order::Fixed => preprocess::shuffled(&self.train, self.state.seed, 0),
            Order::Stored => self.train.clone(),
        }
    }

    /// One epoch: every training digit's instar update of its class's row. An epoch that leaves a weight
    /// past ±[`MAX_WEIGHT`] (or not finite) is undone and the run stops.
    fn train_epoch(&mut self) {
        let e = self.epoch;
        let order = self.order(e);
        let rate = self.state.params.rate as f32;
        let before = self.net.clone();
        let mut x = vec![0.0f32; INPUTS];
        for &i in &order {
            self.data.row_into(i, &mut x);
            self.net
                .instar_row(usize::from(self.data.labels[i]), &x, rate);
        }
        self.close_epoch(before);
    }

    /// The same epoch on the device (or on the CPU when the prototypes are not there): the epoch's order as
    /// positions among the uploaded digits, one submit, the weights read back.
    async fn train_epoch_on(&mut self, gpu: &Gpu) -> Result<()> {
        let Some(dev) = &self.gpu else {
            self.train_epoch();
            return Ok(());
        };
        // `train` is sorted: a digit's position among the uploaded ones is its place in it.
        let order: Vec<u32> = self
            .order(self.epoch)
            .iter()
            .map(|i| self.train.binary_search(i).unwrap_or(usize::MAX) as u32)
            .collect();
        dev.epoch(gpu, &order).await?;
        let mut net = self.net.clone();
        dev.download(gpu, &mut net).await?;
        let before = std::mem::replace(&mut self.net, net);
        self.close_epoch(before);
        if self.stopped {
            self.gpu = None;
        }
        Ok(())
    }

    /// Counts the epoch whose weights `net` now holds, unless a weight passed ±[`MAX_WEIGHT`] (or is not
    /// finite): then the weights go back to `before` and the run stops.
    fn close_epoch(&mut self, before: Layer) {
        let e = self.epoch;
        self.epoch += 1;
        if !self.net.finite() || self.net.w.iter().any(|w| w.abs() > MAX_WEIGHT) {
            self.net = before;
            self.epoch -= 1;
            self.stopped = true;
            self.notices.push(format!(
                "The prototypes diverged in epoch {}: at α = {} each update multiplies the gap w − x by 1 − α, \
                 whose size is above 1 when α > 2, so every update overshoots further. The run stopped and \
                 keeps the prototypes of epoch {e}. Lower α below 2 (the lecture uses 0.01).",
                e + 1,
                number(self.state.params.rate)
            ));
        }
    }

    /// Puts the prototypes and the training digits on the GPU (once per run, when the engine has one; digits too
    /// many for the device stay on the CPU with a notice).
    async fn place_on_gpu(&mut self, engine: &mut Engine) -> Result<()> {
        if engine.gpu().is_none() || std::mem::replace(&mut self.placed, true) {
            return Ok(());
        }
        let ((), notice) = engine
            .run(
                self,
                async |gpu, run| {
                    let x = run.data.rows(&run.train);
                    let labels: Vec<u8> = run.train.iter().map(|&i| run.data.labels[i]).collect();
                    let rate = run.state.params.rate as f32;
                    let dev = HebbruleGpu::new(gpu, &run.net, x.view(), &labels, rate).await?;
                    run.gpu = Some(dev);
                    Ok(())
                },
                |_| Ok(()),
            )
            .await?;
        self.notices.extend(notice);
        Ok(())
    }

    fn evaluate(&mut self) {
        let mut hits = [[(0u32, 0u32); CLASSES]; 2];
        let mut predicted = [vec![0u32; CLASSES], vec![0u32; CLASSES]];
        for (x, &y) in self.test_x.chunks_exact(INPUTS).zip(&self.test_labels) {
            let y = usize::from(y);
            let guesses = [
                net::argmax(&self.net.scores(x)),
                net::argmin(&self.net.distances(x)),
            ];
            for (k, &g) in guesses.iter().enumerate() {
                hits[k][y].1 += 1;
                hits[k][y].0 += u32::from(g == y);
                predicted[k][g] += 1;
            }
        }
        let n = self.test_labels.len().max(1) as f64;
        let acc = |h: &[(u32, u32); CLASSES]| f64::from(h.iter().map(|x| x.0).sum::<u32>()) / n;
        let per = |h: &[(u32, u32); CLASSES]| -> Vec<f64> {
            h.iter()
                .map(|&(r, t)| {
                    if t == 0 {
                        f64::NAN
                    } else {
                        f64::from(r) / f64::from(t)
                    }
                })
                .collect()
        };
        self.rows.push(EpochRow {
            epoch: self.epoch,
            accuracy: [acc(&hits[0]), acc(&hits[1])],
            per_class: [per(&hits[0]), per(&hits[1])],
            predicted,
        });
        self.changed = true;
    }

    fn accuracy_plot(&self) -> Plot {
        let epochs = f64::from(self.state.params.epochs);
        let curve = |name: &str, color: &str, k: usize| Series {
            name: name.into(),
            mark: Mark::Trajectory,
            color: Some(color.into()),
            points: self
                .rows
                .iter()
                .map(|r| [f64::from(r.epoch), r.accuracy[k]])
                .collect(),
            band: None,
        };
        let line = |name: &str, mark, y| Series::reference(name, mark, epochs, y);
        Plot {
            id: "accuracy".into(),
            title: "Test accuracy per epoch".into(),
            x_label: "epoch (0: untrained)".into(),
            y_label: "accuracy".into(),
            body: PlotBody::Xy {
                x_range: Some([0.0, epochs]),
                y_range: Some([0.0, 1.0]),
                equal_aspect: false,
                series: vec![
                    curve("dot product x·w", DOT, 0),
                    curve("nearest prototype", NEAREST, 1),
                    line(
                        "lecture: 0.64 (52,500 digits)",
                        Mark::Line,
                        LECTURE_ACCURACY,
                    ),
                    line("chance (1 in 10)", Mark::Dashed, 0.1),
                ],
                heatmap: None,
            },
        }
    }

    fn prototypes_plot(&self) -> Plot {
        let top = self.net.w.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
        Plot {
            id: "prototypes".into(),
            title: format!("Prototypes w_c, epoch {}", self.epoch),
            x_label: String::new(),
            y_label: String::new(),
            body: PlotBody::Images {
                cols: 5,
                width: 28,
                height: 28,
                channels: 1,
                value_range: [0.0, f64::from(top)],
                grid: false,
                images: (0..CLASSES)
                    .map(|c| {
                        let row = self.net.row(c);
                        let ink: f64 = row.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
                        Image {
                            label: format!("{c}: ‖w‖² {ink:.0}"),
                            pixels: row.iter().map(|&v| f64::from(v)).collect(),
                        }
                    })
                    .collect(),
            },
        }
    }

    fn bars(&self, id: &str) -> Plot {
        let last = self.rows.last();
        let classes: Vec<String> = (0..CLASSES).map(|c| c.to_string()).collect();
        let names = ["dot product", "nearest prototype"];
        let colours = [DOT, NEAREST];
        let epoch = last.map_or(0, |r| r.epoch);
        let (title, y, mut series) = if id == "per_class" {
            (
                format!("Accuracy per class, epoch {epoch}"),
                "accuracy",
                (0..2)
                    .map(|k| BarSeries {
                        name: names[k].into(),
                        values: last.map_or(vec![0.0; CLASSES], |r| {
                            r.per_class[k]
                                .iter()
                                .map(|v| if v.is_finite() { *v } else { 0.0 })
                                .collect()
                        }),
                        color: Some(colours[k].into()),
                    })
                    .collect::<Vec<_>>(),
            )
        } else {
            (
                format!("Test digits given each class, epoch {epoch}"),
                "test digits",
                (0..2)
                    .map(|k| BarSeries {
                        name: names[k].into(),
                        values: last.map_or(vec![0.0; CLASSES], |r| {
                            r.predicted[k].iter().map(|&v| f64::from(v)).collect()
                        }),
                        color: Some(colours[k].into()),
                    })
                    .collect::<Vec<_>>(),
            )
        };
        if id == "predicted" {
            let mut truth = vec![0.0; CLASSES];
            for &y in &self.test_labels {
                truth[usize::from(y)] += 1.0;
            }
            series.insert(
                0,
                BarSeries {
                    name: "true class".into(),
                    values: truth,
                    color: Some(REFERENCE.into()),
                },
            );
        }
        Plot {
            id: id.into(),
            title,
            x_label: "class".into(),
            y_label: y.into(),
            body: PlotBody::Bars {
                categories: classes,
                series,
            },
        }
    }

    fn make_frame(&mut self, all: bool) -> Frame {
        let mut plots = Vec::new();
        if all || !std::mem::replace(&mut self.letters_sent, true) {
            plots.extend(self.letters.plots.iter().cloned());
        }
        if std::mem::take(&mut self.changed) || all {
            plots.push(self.accuracy_plot());
            plots.push(self.prototypes_plot());
            plots.push(self.bars("per_class"));
            plots.push(self.bars("predicted"));
        }
        Frame {
            step: u64::from(self.epoch),
            total: u64::from(self.state.params.epochs),
            done: self.done(),
            plots,
            metrics: self.metrics(),
            notices: std::mem::take(&mut self.notices),
            datasets: Vec::new(),
        }
    }
}

impl LabRun for Run {
    async fn advance(&mut self, engine: &mut Engine, chunk: &Chunk<'_>) -> Result<Frame> {
        if !self.done() {
            self.place_on_gpu(engine).await?;
        }
        let mut todo =
            chunk.take(self.state.params.epochs - self.epoch.min(self.state.params.epochs));
        while todo > 0 && !self.done() {
            let t0 = chunk.now();
            let ((), notice) = engine
                .run(
                    self,
                    async |gpu, run| run.train_epoch_on(gpu).await,
                    |run| {
                        // The epoch starts again on the CPU from the weights of the last epoch's end.
                        run.gpu = None;
                        run.train_epoch();
                        Ok(())
                    },
                )
                .await?;
            self.notices.extend(notice);
            if self.stopped {
                break;
            }
            self.epoch_ms = chunk.now() - t0;
            self.timing.0 += self.epoch_ms;
            self.timing.1 += self.train.len() as f64;
            self.evaluate();
            todo -= 1;
            if chunk.over() {
                break;
            }
        }
        Ok(self.make_frame(false))
    }

    fn frame(&mut self) -> Frame {
        self.make_frame(true)
    }

    fn metrics(&self) -> Vec<Metric> {
        let mut m = self.letters.metrics.clone();
        let last = self.rows.last();
        m.push(Metric::new(
            "MNIST test accuracy, dot product",
            100.0 * last.map_or(f64::NAN, |r| r.accuracy[0]),
            "%",
        ));
        m.push(Metric::new(
            "MNIST test accuracy, nearest prototype",
            100.0 * last.map_or(f64::NAN, |r| r.accuracy[1]),
            "%",
        ));
        m.push(Metric::new("epoch time", self.epoch_ms / 1000.0, "s"));
        m.push(Metric::new(
            "images per second",
            self.timing.1 / (self.timing.0 / 1000.0),
            "images/s",
        ));
        m
    }

    fn reset(&mut self) {
        if let Ok(fresh) = Run::with_data(self.state.clone(), self.data.clone()) {
            *self = fresh;
        }
    }

    fn done(&self) -> bool {
        self.stopped || self.epoch >= self.state.params.epochs
    }
}
