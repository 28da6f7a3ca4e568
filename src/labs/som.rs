//! Lab "Self-organising maps" (004 §7; Kohonen 1982): the lecture's square neighbourhood drawn on a map beside a
//! Gaussian one (TC-14), then a map trained on Iris or on MNIST digits with the lecture's schedule (a box of
//! radius d shrinking by one every few epochs, constant rate; TC-15) and with MiniSom's Gaussian neighbourhood
//! and decaying rates, side by side from the same initial weights and the same samples, each in its own colour:
//! the lecture's error, the quantization and topographic errors (MiniSom's definitions) per epoch, the
//! U-matrices, component planes and hit maps coloured by class.
//!
//! The update w ← w + α h(i, winner) (x − w) is the instar rule of `plasticity` with v = α h (see `nets::som`).
//! Where we differ from the lecture's code, on purpose: a unit's row is its index divided by the number of
//! columns (the code divides by the number of rows, which is right only on square maps); the samples of every
//! epoch come from the seeded generator, so that a link reproduces the run.
//!
//! With a GPU engine each variant's map trains on the device (`kernels::som`): the samples stay in order, and
//! each epoch's winners and distances come back with its submits; the weights come back once per epoch, for the
//! errors and maps, which the CPU measures.
use super::budget::{Chunk, Cost};
use super::digits::{Images, SHIPPED_TRAIN};
use super::{Lab, LabRun};
use crate::data::store::{DataStore, Need};
use crate::data::{Dataset, Split, preprocess, shipped};
use crate::engine::{Engine, Gpu};
use crate::error::{Error, FieldError, Result};
use crate::kernels::som::{SomData, SomGpu};
use crate::nets::som::{self, Eval, Hood, Som};
use crate::protocol::{
    Cell, Frame, Heatmap, Image, LabInfo, Mark, Metric, PALETTE, Plot, PlotBody, Series,
};
use crate::state::StateDoc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The neighbourhood drawn on a small map (no training).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Neighbourhood {
    #[schemars(title = "map rows", range(min = 1, max = 100))]
    pub rows: u32,
    #[schemars(title = "map columns", range(min = 1, max = 100))]
    pub cols: u32,
    /// The winner's row (0 at the bottom).
    #[schemars(title = "winner's row", range(min = 0, max = 99))]
    pub row: u32,
    #[schemars(title = "winner's column", range(min = 0, max = 99))]
    pub col: u32,
    /// The lecture's k: units within this many rows and columns of the winner are neighbours.
    #[schemars(title = "radius k", range(min = 0, max = 100))]
    pub radius: u32,
    /// The Gaussian's width, in map units.
    #[schemars(title = "Gaussian σ", range(min = 0.1, max = 100.0))]
    pub sigma: f64,
}

/// What the map learns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Fisher's 150 irises, each feature z-scored (population standard deviation), as the lecture.
    #[schemars(title = "Iris (z-scored)")]
    Iris,
    /// The shipped MNIST digits, pixels mapped to [−1, 1] as the lecture.
    #[schemars(title = "MNIST digits (shipped)")]
    Digits,
    /// Your own MNIST files, pixels mapped to [−1, 1].
    #[schemars(title = "your MNIST files")]
    UserMnist,
}

/// The ways of training, each on its own copy of the same initial map.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Variants {
    /// The lecture's: a box of radius d (every unit in it learns at rate α), d shrinking on schedule.
    #[schemars(title = "the lecture's box schedule")]
    pub lecture: bool,
    /// MiniSom's default: a Gaussian of width σ(t), rate α(t), both decaying as x₀ / (1 + t / (T/2)).
    #[schemars(title = "Gaussian, decaying (MiniSom)")]
    pub gaussian: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("x-step" = "epoch", "x-steps" = "epochs"))]
pub struct Params {
    #[schemars(title = "the neighbourhood")]
    pub neighbourhood: Neighbourhood,
    #[schemars(title = "data")]
    pub data: Source,
    /// MNIST only: the first training digits, the classes in turn (the lecture takes 2,000).
    #[schemars(title = "digits (MNIST)", range(min = 10, max = 8000), extend("x-unit" = "digits"))]
    pub digits: u32,
    #[schemars(title = "map rows", range(min = 2, max = 200))]
    pub rows: u32,
    #[schemars(title = "map columns", range(min = 2, max = 200))]
    pub cols: u32,
    #[schemars(title = "train")]
    pub variants: Variants,
    /// Each epoch draws this many samples at random, with replacement (the lecture: 100 on Iris, 500 on MNIST).
    #[schemars(title = "samples per epoch", range(min = 1, max = 10000), extend("x-unit" = "samples"))]
    pub samples: u32,
    #[schemars(title = "epochs", range(min = 1, max = 10000), extend("x-unit" = "epochs"))]
    pub epochs: u32,
    /// The initial weights' standard deviation: w ~ N(0, 0.1²) in the lecture.
    #[schemars(title = "initial weight scale", range(min = 0.0, max = 5.0))]
    pub init_std: f64,
    /// The lecture's constant α.
    #[schemars(title = "box: rate α", range(min = 0.001, max = 1.0))]
    pub rate: f64,
    /// The lecture's initial d.
    #[schemars(title = "box: initial radius d", range(min = 0, max = 200))]
    pub radius: u32,
    /// d drops by 1 after every epoch i (from 0) with i mod this = 0 (the lecture: 3 on Iris, 2 on MNIST).
    #[schemars(title = "box: d − 1 every", range(min = 1, max = 1000), extend("x-unit" = "epochs"))]
    pub every: u32,
    /// σ₀ of the Gaussian, in map units.
    #[schemars(title = "Gaussian: initial σ₀", range(min = 0.1, max = 100.0))]
    pub sigma: f64,
    /// α₀ of the Gaussian variant (MiniSom's default 0.5).
    #[schemars(title = "Gaussian: initial rate α₀", range(min = 0.001, max = 10.0))]
    pub gaussian_rate: f64,
    /// The quantization and topographic errors and the maps are measured on the first this many samples.
    #[schemars(title = "samples measured", range(min = 1, max = 8000), extend("x-unit" = "samples"))]
    pub measured: u32,
}

/// The lab.
pub struct SomLab;

/// Points recorded per error curve at most (each measures the map on every measured sample).
const MAX_POINTS: u32 = 100;
/// Nanoseconds per multiply-add of a distance or an update, natively on the reference machine (measured on
/// 100 × 100 × 784: 0.4 ns).
const NS_PER_OP: f64 = 0.5;
/// Nanoseconds per unit visited (a distance's pairwise sum and the winner's comparison, an update's rate), beyond
/// its multiply-adds (measured on the default state: 5 to 6 ns per unit of 4 weights in all).
const NS_PER_UNIT: f64 = 4.0;
/// How much slower the page's CPU engine (wasm, one thread, no AVX) is: measured on the lecture's MNIST map
/// (100 × 100 × 784, one epoch of 500 samples), the page's CPU engine in headless Chromium (`BENCH_ONLY=som node
/// tests/e2e/bench.mjs`) then the native CLI right after, on the loaded 2-core development machine: box 0.0562
/// against 0.416 epochs/s (7.4×), Gaussian 0.0318 against 0.200 (6.3×).
const BROWSER_SLOWER: f64 = 7.0;
/// Iris's size.
const IRIS: u32 = 150;
/// Units per side of the grid of unit pictures (MNIST's component planes).
const PICTURES: usize = 10;

/// The ways to train, in the order the lab lists and colours them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Lecture,
    Gaussian,
}

const KINDS: [Kind; 2] = [Kind::Lecture, Kind::Gaussian];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Lecture => "lecture's box",
            Self::Gaussian => "Gaussian",
        }
    }

    fn id(self) -> &'static str {
        match self {
            Self::Lecture => "lecture",
            Self::Gaussian => "gaussian",
        }
    }

    /// One colour per variant across the lab (the classes take the palette's first colours).
    fn colour(self) -> &'static str {
        match self {
            Self::Lecture => PALETTE[6],
            Self::Gaussian => PALETTE[3],
        }
    }
}

impl Variants {
    fn chosen(&self) -> Vec<Kind> {
        super::switched_on(KINDS, [self.lecture, self.gaussian])
    }
}

/// Class `c`'s colour in the hit maps: the palette's blue, orange and green for the three irises; for the ten
/// digits, Paul Tol's "muted" scheme (nine colours chosen to stay apart for colour-blind readers) and its grey,
/// so that no two digits share a colour (the palette has seven, and the variants' black and pink stay theirs).
fn class_colour(c: usize, classes: usize) -> &'static str {
    const DIGITS: [&str; 10] = [
        "#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677", "#882255",
        "#AA4499", "#BBBBBB",
    ];
    if classes <= 3 {
        PALETTE[c % PALETTE.len()]
    } else {
        DIGITS[c % DIGITS.len()]
    }
}

impl Params {
    fn units(&self) -> f64 {
        f64::from(self.rows) * f64::from(self.cols)
    }

    fn dim(&self) -> f64 {
        if self.data == Source::Iris {
            4.0
        } else {
            784.0
        }
    }

    /// Samples in the data set.
    fn size(&self) -> u32 {
        if self.data == Source::Iris {
            IRIS
        } else {
            self.digits
        }
    }

    /// Epochs between two measured points of the curves.
    fn every_point(&self) -> u32 {
        self.epochs.div_ceil(MAX_POINTS).max(1)
    }

    /// Units the lecture's box updates in epoch `e`, at most.
    fn box_units(&self, e: u32) -> f64 {
        let d = f64::from(som::lecture_radius(self.radius, self.every, e));
        let side = 2.0 * d + 1.0;
        side.min(f64::from(self.rows)) * side.min(f64::from(self.cols))
    }
}

impl Lab for SomLab {
    const ID: &'static str = "som";
    const DEFAULT_SEED: u32 = 1;
    const THEORY: bool = false;
    type Params = Params;
    type Run = Run;

    fn info() -> LabInfo {
        LabInfo {
            id: Self::ID,
            title: "Self-organising maps",
            summary: "A grid of units learns a map of the data: the winner and its map neighbours move towards \
                      each sample. Draw the lecture's square neighbourhood beside a Gaussian, then train Iris or \
                      MNIST maps with the lecture's shrinking box and with MiniSom's decaying Gaussian side by \
                      side: errors, U-matrix, component planes and hit maps.",
            source: "004_01ab2769c1683046.txt",
        }
    }

    fn cells() -> Vec<Cell> {
        let text = super::text::LabText::parse(include_str!("som.md"));
        vec![
            text.prose("intro"),
            text.teacher("goals"),
            text.prose("hood"),
            Cell::Controls {
                title: "The neighbourhood".into(),
                fields: vec!["neighbourhood".into()],
            },
            Cell::PlotRow {
                ids: vec!["hood_box".into(), "hood_gauss".into()],
            },
            Cell::Plot {
                id: "hood_counts".into(),
            },
            text.exercise("ex1"),
            text.prose("training"),
            Cell::Controls {
                title: "Training a map".into(),
                fields: vec![
                    "data".into(),
                    "digits".into(),
                    "rows".into(),
                    "cols".into(),
                    "variants".into(),
                    "samples".into(),
                    "epochs".into(),
                    "init_std".into(),
                    "rate".into(),
                    "radius".into(),
                    "every".into(),
                    "sigma".into(),
                    "gaussian_rate".into(),
                    "measured".into(),
                ],
            },
            Cell::Run,
            Cell::Plot {
                id: "schedule".into(),
            },
            Cell::PlotRow {
                ids: vec!["errors".into(), "te".into()],
            },
            text.prose("maps"),
            Cell::PlotRow {
                ids: vec!["umatrix_lecture".into(), "umatrix_gaussian".into()],
            },
            Cell::PlotRow {
                ids: vec!["hits_lecture".into(), "hits_gaussian".into()],
            },
            Cell::PlotRow {
                ids: vec!["planes_lecture".into(), "planes_gaussian".into()],
            },
            Cell::Metrics {
                title: "Results".into(),
            },
            text.exercise("ex2"),
            text.exercise("ex3"),
            text.exercise("ex4"),
            text.exercise("ex5"),
            text.prose("sources"),
        ]
    }

    fn default_params() -> Params {
        Params {
            neighbourhood: Neighbourhood {
                rows: 10,
                cols: 10,
                row: 1,
                col: 1,
                radius: 2,
                sigma: 2.0,
            },
            data: Source::Iris,
            digits: 2000,
            rows: 50,
            cols: 50,
            variants: Variants {
                lecture: true,
                gaussian: true,
            },
            samples: 100,
            epochs: 300,
            init_std: 0.1,
            rate: 0.05,
            radius: 20,
            every: 3,
            sigma: 10.0,
            gaussian_rate: 0.5,
            measured: 150,
        }
    }

    fn validate(p: &Params) -> Vec<FieldError> {
        let mut e = Vec::new();
        let h = &p.neighbourhood;
        if h.row >= h.rows {
            e.push(FieldError::new(
                "neighbourhood/row",
                format!("the map has rows 0 to {}", h.rows.saturating_sub(1)),
            ));
        }
        if h.col >= h.cols {
            e.push(FieldError::new(
                "neighbourhood/col",
                format!("the map has columns 0 to {}", h.cols.saturating_sub(1)),
            ));
        }
        if p.variants.chosen().is_empty() {
            e.push(FieldError::new(
                "variants",
                "choose at least one way to train",
            ));
        }
        if p.data == Source::Digits && p.digits > SHIPPED_TRAIN {
            e.push(FieldError::new(
                "digits",
                format!(
                    "the shipped digits have {SHIPPED_TRAIN} training digits (got {})",
                    p.digits
                ),
            ));
        }
        if p.measured > p.size() {
            let what = if p.data == Source::Iris {
                format!("Iris has {IRIS} samples")
            } else {
                format!("the run takes {} digits", p.digits)
            };
            e.push(FieldError::new(
                "measured",
                format!("at most {}: {what}", p.size()),
            ));
        }
        e
    }

    /// Counted in units visited, at [`NS_PER_UNIT`] plus [`NS_PER_OP`] per weight: each training sample's
    /// distances to every unit and its neighbourhood's update (the box's units in each epoch; every unit for the
    /// Gaussian), and each measured point's distances of every measured sample to every unit.
    fn cost(p: &Params) -> Cost {
        let units = p.units();
        let ns = NS_PER_UNIT + NS_PER_OP * p.dim();
        let browser = ns * BROWSER_SLOWER;
        let samples = f64::from(p.samples);
        let epochs = f64::from(p.epochs);
        let points = f64::from(p.epochs / p.every_point() + 2);
        let variants = p.variants.chosen();
        let mut cost = Cost::default()
            .work_in(
                "unit distances of the winner searches",
                "epochs",
                epochs * samples * units * variants.len() as f64,
                ns,
                browser,
            )
            .work_in(
                "unit distances of the measured errors",
                "measured",
                points * f64::from(p.measured) * units * variants.len() as f64,
                ns,
                browser,
            )
            .memory(
                "the maps' weights (and a copy to fall back on)",
                "rows",
                2.0 * units * p.dim() * 4.0 * variants.len() as f64,
            )
            .memory("the data", "digits", f64::from(p.size()) * p.dim() * 4.0);
        for v in variants {
            let updated = match v {
                Kind::Lecture => (0..p.epochs).map(|e| p.box_units(e)).sum::<f64>(),
                Kind::Gaussian => epochs * units,
            };
            cost = cost.work_in(
                "unit updates of the neighbourhoods",
                "epochs",
                updated * samples,
                ns,
                browser,
            );
        }
        cost
    }

    fn needs(p: &Params) -> Option<Need> {
        match p.data {
            Source::Iris => None,
            Source::Digits => Some(Images::Digits.need()),
            Source::UserMnist => Some(Images::UserMnist.need()),
        }
    }

    fn start(state: StateDoc<Params>, store: &DataStore) -> Result<Run> {
        let data = match state.params.data {
            Source::Iris => Data::iris(),
            Source::Digits => Data::digits(&Images::Digits.load(store)?, state.params.digits)?,
            Source::UserMnist => {
                Data::digits(&Images::UserMnist.load(store)?, state.params.digits)?
            }
        };
        Run::new(state, data)
    }
}

/// The samples a map learns, prepared as the lecture does.
pub struct Data {
    /// Rows of `dim` values.
    pub x: Vec<f32>,
    pub dim: usize,
    pub labels: Vec<u8>,
    pub classes: Vec<String>,
    /// Feature names (Iris) or None for 28×28 images.
    pub features: Option<Vec<String>>,
}

impl Data {
    /// Iris, each feature z-scored over the 150 samples (population standard deviation).
    pub fn iris() -> Self {
        let d = shipped::iris();
        let idx: Vec<usize> = (0..d.len()).collect();
        let mut x = d.rows(&idx);
        preprocess::scale(&mut x, preprocess::Scale::Standardise);
        Self {
            x: x.iter().copied().collect(),
            dim: d.dim(),
            labels: d.labels.clone(),
            classes: d.classes.clone(),
            features: Some(
                ["sepal length", "sepal width", "petal length", "petal width"]
                    .map(String::from)
                    .into(),
            ),
        }
    }

    /// The first `n` training digits, the classes in turn (the shipped split is stored class by class), pixels
    /// x ∈ [0, 1] mapped to 2x − 1 as the lecture.
    pub fn digits(d: &Arc<Dataset>, n: u32) -> Result<Self> {
        if d.dim() != 784 {
            return Err(Error::Data(format!(
                "{} holds {} values per sample; this lab takes 28×28 digits",
                d.name,
                d.dim()
            )));
        }
        let mut idx = preprocess::classes_in_turn(d, &d.indices(Split::Train));
        if idx.len() < n as usize {
            return Err(Error::Data(format!(
                "{} has {} training digits; the run asks for {n}",
                d.name,
                idx.len()
            )));
        }
        idx.truncate(n as usize);
        let x = d.rows(&idx);
        Ok(Self {
            x: x.iter().map(|v| v * 2.0 - 1.0).collect(),
            dim: 784,
            labels: idx.iter().map(|&i| d.labels[i]).collect(),
            classes: d.classes.clone(),
            features: None,
        })
    }

    pub fn len(&self) -> usize {
        self.x.len() / self.dim
    }

    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }

    fn row(&self, i: usize) -> &[f32] {
        &self.x[i * self.dim..(i + 1) * self.dim]
    }
}

/// One variant's map and history.
struct Learner {
    kind: Kind,
    som: Som,
    /// The lecture's error (mean winner distance before each update) per epoch.
    error: Vec<[f64; 2]>,
    qe: Vec<[f64; 2]>,
    te: Vec<[f64; 2]>,
    last: Eval,
    stopped: Option<String>,
    /// The map on the device when the engine has a GPU; `som` then holds the weights read back at the last
    /// epoch's end.
    gpu: Option<SomGpu>,
}

/// A run in progress.
pub struct Run {
    state: StateDoc<Params>,
    data: Data,
    learners: Vec<Learner>,
    epoch: u32,
    notices: Vec<String>,
    /// (ms spent training, epochs trained over all variants).
    timing: (f64, f64),
    scratch: Vec<f32>,
    /// The epoch in progress, when a chunk ended inside it.
    current: Option<Epoch>,
    /// Whether placing the maps on the GPU has been tried.
    placed: bool,
    /// Samples per submit on the GPU, sized from the last submit's time (the numbers do not depend on it).
    per_submit: usize,
}

/// An epoch that may span several chunks (an MNIST epoch on a 100 × 100 map takes seconds): its samples, each
/// variant's neighbourhood and rate for each of them, how many are done, and per learner the error so far and the
/// map at the epoch's start (which a variant whose weights overflow goes back to).
struct Epoch {
    picks: Vec<usize>,
    hoods: Vec<Vec<(Hood, f32)>>,
    done: usize,
    err: Vec<f64>,
    before: Vec<Som>,
}

/// Samples trained between two looks at the clock.
const SAMPLES_PER_LOOK: usize = 16;
/// The most samples per submit on the GPU (three dispatches each), between two looks at the clock.
const GPU_SAMPLES: usize = 128;
/// The milliseconds a submit aims at: on a software adapter a sample of the lecture's MNIST map takes 70 to
/// 250 ms (lavapipe), and 128 of them would keep Pause waiting for half a minute.
const GPU_SUBMIT_MS: f64 = 100.0;

impl Run {
    /// A run of `state` on `data` (prepared by [`Data`]).
    pub fn new(state: StateDoc<Params>, data: Data) -> Result<Self> {
        let p = &state.params;
        let som = Som::random(
            p.rows as usize,
            p.cols as usize,
            data.dim,
            p.init_std as f32,
            state.seed,
        );
        let measured = &data.x[..(p.measured as usize).min(data.len()) * data.dim];
        let first = som.evaluate(measured);
        let learners = p
            .variants
            .chosen()
            .into_iter()
            .map(|kind| Learner {
                kind,
                som: som.clone(),
                error: Vec::new(),
                qe: vec![[0.0, first.qe]],
                te: vec![[0.0, first.te]],
                last: first.clone(),
                stopped: None,
                gpu: None,
            })
            .collect();
        Ok(Self {
            state,
            data,
            learners,
            epoch: 0,
            notices: Vec::new(),
            timing: (0.0, 0.0),
            scratch: Vec::new(),
            current: None,
            placed: false,
            per_submit: 1,
        })
    }

    fn measured(&self) -> &[f32] {
        let n = (self.state.params.measured as usize).min(self.data.len());
        &self.data.x[..n * self.data.dim]
    }

    /// The neighbourhood and rate of variant `kind` for sample `j` of epoch `e`.
    fn hood(&self, kind: Kind, e: u32, j: usize) -> (Hood, f32) {
        let p = &self.state.params;
        match kind {
            Kind::Lecture => (
                Hood::Box {
                    radius: som::lecture_radius(p.radius, p.every, e),
                },
                p.rate as f32,
            ),
            Kind::Gaussian => {
                let total = f64::from(p.epochs) * f64::from(p.samples);
                let t = f64::from(e) * f64::from(p.samples) + j as f64;
                (
                    Hood::Gaussian {
                        sigma: som::asymptotic(p.sigma, t, total),
                    },
                    som::asymptotic(p.gaussian_rate, t, total) as f32,
                )
            }
        }
    }

    /// The next epoch's samples and schedules, and every learner's map at its start.
    fn start_epoch(&self) -> Epoch {
        let p = &self.state.params;
        let e = self.epoch;
        let picks = som::epoch_samples(self.state.seed, e, p.samples as usize, self.data.len());
        let hoods = KINDS
            .iter()
            .map(|&k| (0..picks.len()).map(|j| self.hood(k, e, j)).collect())
            .collect();
        Epoch {
            picks,
            hoods,
            done: 0,
            err: vec![0.0; self.learners.len()],
            before: self.learners.iter().map(|l| l.som.clone()).collect(),
        }
    }

    /// Trains every variant still training on the same samples until the epoch ends or the chunk does (the
    /// epoch then goes on in the next chunk; each variant sees its samples in the same order either way).
    fn train(&mut self, chunk: &Chunk) {
        let t0 = chunk.now();
        let mut ep = self.current.take().unwrap_or_else(|| self.start_epoch());
        let n = ep.picks.len();
        while ep.done < n {
            let end = (ep.done + SAMPLES_PER_LOOK).min(n);
            for (l, err) in self.learners.iter_mut().zip(&mut ep.err) {
                if l.stopped.is_some() {
                    continue;
                }
                let hoods = &ep.hoods[l.kind as usize][ep.done..end];
                for (&(hood, rate), &i) in hoods.iter().zip(&ep.picks[ep.done..end]) {
                    let (_, d) =
                        l.som
                            .train_sample(self.data.row(i), hood, rate, &mut self.scratch);
                    *err += f64::from(d) / n as f64;
                }
            }
            ep.done = end;
            if ep.done < n && chunk.over() {
                self.timing.0 += chunk.now() - t0;
                self.current = Some(ep);
                return;
            }
        }
        self.timing.0 += chunk.now() - t0;
        self.finish_epoch(ep);
    }

    /// Puts the data and every variant's map on the GPU (once per run, when the engine has one; a map too large
    /// for the device stays on the CPU with a notice).
    async fn place_on_gpu(&mut self, engine: &mut Engine) -> Result<()> {
        if engine.gpu().is_none() || std::mem::replace(&mut self.placed, true) {
            return Ok(());
        }
        let ((), notice) = engine
            .run(
                self,
                async |gpu, run| {
                    let data = SomData::new(gpu, &run.data.x, run.data.dim)?;
                    let samples = run.state.params.samples as usize;
                    let mut maps = Vec::new();
                    for l in &run.learners {
                        let gaussian = l.kind == Kind::Gaussian;
                        maps.push(SomGpu::new(gpu, &l.som, gaussian, &data, samples).await?);
                    }
                    for (l, dev) in run.learners.iter_mut().zip(maps) {
                        l.gpu = Some(dev);
                    }
                    Ok(())
                },
                |_| Ok(()),
            )
            .await?;
        self.notices.extend(notice);
        Ok(())
    }

    /// As [`Run::train`] with the maps on the device: up to [`GPU_SAMPLES`] samples per submit (as many as the
    /// last submits' pace fits in [`GPU_SUBMIT_MS`]), each variant's winners and distances read back with them,
    /// its weights at the epoch's end. An error leaves every map as it was at the epoch's start and the epoch not
    /// begun: the CPU then trains it again from there.
    async fn train_on_gpu(&mut self, gpu: &Gpu, chunk: &Chunk<'_>) -> Result<()> {
        let t0 = chunk.now();
        let mut ep = self.current.take().unwrap_or_else(|| self.start_epoch());
        let n = ep.picks.len();
        if ep.done == 0 {
            for l in &mut self.learners {
                if let Some(dev) = &mut l.gpu {
                    dev.set_epoch(gpu, &ep.picks, &ep.hoods[l.kind as usize])?;
                }
            }
        }
        while ep.done < n {
            let end = (ep.done + self.per_submit).min(n);
            let t = chunk.now();
            for (l, err) in self.learners.iter_mut().zip(&mut ep.err) {
                // Every variant still training has its map there: they are placed together, and a map leaves
                // the device only when its variant stops or the device is lost (all of them then).
                let (None, Some(dev)) = (&l.stopped, &l.gpu) else {
                    continue;
                };
                for (_, d2) in dev.train(gpu, ep.done, end - ep.done).await? {
                    // The CPU's distance and sum, as `Run::train`.
                    *err += f64::from(libm::sqrtf(d2)) / n as f64;
                }
            }
            let ms_per_sample = (chunk.now() - t) / (end - ep.done) as f64;
            self.per_submit =
                (GPU_SUBMIT_MS / ms_per_sample).clamp(1.0, GPU_SAMPLES as f64) as usize;
            ep.done = end;
            if ep.done < n && chunk.over() {
                self.timing.0 += chunk.now() - t0;
                self.current = Some(ep);
                return Ok(());
            }
        }
        let mut maps = Vec::new();
        for l in &self.learners {
            maps.push(match (&l.gpu, &l.stopped) {
                (Some(dev), None) => Some(dev.download(gpu).await?),
                _ => None,
            });
        }
        for (l, map) in self.learners.iter_mut().zip(maps) {
            if let Some(map) = map {
                l.som = map;
            }
        }
        self.timing.0 += chunk.now() - t0;
        self.finish_epoch(ep);
        Ok(())
    }

    /// Closes an epoch: each variant's error, a variant whose weights overflowed back to its map at the epoch's
    /// start and stopped, the measured errors when this epoch is recorded.
    fn finish_epoch(&mut self, ep: Epoch) {
        let p = &self.state.params;
        let e = self.epoch;
        let record = (e + 1).is_multiple_of(p.every_point()) || e + 1 == p.epochs;
        let mut learners = std::mem::take(&mut self.learners);
        for ((l, err), before) in learners.iter_mut().zip(ep.err).zip(ep.before) {
            if l.stopped.is_some() {
                continue;
            }
            self.timing.1 += 1.0;
            if !l.som.finite() || !err.is_finite() {
                l.som = before;
                l.gpu = None;
                let msg = format!(
                    "{}: the weights overflowed in epoch {}; this variant stopped and keeps the map of epoch {e}. \
                     Lower its rate (a rate above 2 overshoots the sample further every time).",
                    l.kind.name(),
                    e + 1
                );
                l.stopped = Some(msg.clone());
                self.notices.push(msg);
                continue;
            }
            let x = f64::from(e + 1);
            l.error.push([x, err]);
            if record {
                l.last = l.som.evaluate(self.measured());
                l.qe.push([x, l.last.qe]);
                l.te.push([x, l.last.te]);
            }
        }
        self.learners = learners;
        self.epoch += 1;
    }

    fn map_plot_ranges(rows: usize, cols: usize) -> ([f64; 2], [f64; 2]) {
        ([-0.5, cols as f64 - 0.5], [-0.5, rows as f64 - 0.5])
    }

    /// The neighbourhood on the small map: the box (1 inside, 0 outside) or the Gaussian's weights.
    fn hood_plot(&self, gaussian: bool) -> Plot {
        let h = &self.state.params.neighbourhood;
        let (rows, cols) = (h.rows as usize, h.cols as usize);
        let (wr, wc) = (h.row as usize, h.col as usize);
        let inside = |r: usize, c: usize| {
            r.abs_diff(wr) <= h.radius as usize && c.abs_diff(wc) <= h.radius as usize
        };
        let values: Vec<f64> = (0..rows * cols)
            .map(|i| {
                let (r, c) = som::coords(cols, i);
                if gaussian {
                    let d = 2.0 * h.sigma * h.sigma;
                    let (a, b) = (r as f64 - wr as f64, c as f64 - wc as f64);
                    libm::exp(-(a * a) / d) * libm::exp(-(b * b) / d)
                } else {
                    f64::from(u8::from(inside(r, c)))
                }
            })
            .collect();
        let count = if h.row < h.rows && h.col < h.cols {
            som::neighbours(rows, cols, wr * cols + wc, h.radius as usize).len()
        } else {
            0
        };
        let (xr, yr) = Self::map_plot_ranges(rows, cols);
        let title = if gaussian {
            format!("Gaussian, σ = {}", number(h.sigma))
        } else {
            format!("Box, k = {}: {count} units", h.radius)
        };
        Plot {
            id: if gaussian { "hood_gauss" } else { "hood_box" }.into(),
            title,
            x_label: "column".into(),
            y_label: "row".into(),
            body: PlotBody::Xy {
                x_range: Some(xr),
                y_range: Some(yr),
                equal_aspect: true,
                series: vec![Series {
                    name: "winner".into(),
                    mark: Mark::Scatter,
                    color: Some(PALETTE[5].into()),
                    points: vec![[wc as f64, wr as f64]],
                    band: None,
                }],
                heatmap: Some(Heatmap {
                    x_range: xr,
                    y_range: yr,
                    nx: cols as u32,
                    ny: rows as u32,
                    values,
                    label: if gaussian {
                        "h = e^(−d²/2σ²)"
                    } else {
                        "learns"
                    }
                    .into(),
                    value_range: Some([0.0, 1.0]),
                }),
            },
        }
    }

    /// The neighbour counts (TC-14): the chosen winner, a corner and the centre of the small map, and the
    /// training map at its initial radius.
    fn counts_plot(&self) -> Plot {
        let h = &self.state.params.neighbourhood;
        let p = &self.state.params;
        let mut rows = Vec::new();
        let mut row = |map: (usize, usize), what: &str, unit: usize, k: usize| {
            let (r, c) = som::coords(map.1, unit);
            let n = som::neighbours(map.0, map.1, unit, k).len();
            rows.push(vec![
                format!("{} × {}", map.0, map.1),
                what.to_string(),
                format!("{unit} = ({r}, {c})"),
                k.to_string(),
                n.to_string(),
            ]);
        };
        let small = (h.rows as usize, h.cols as usize);
        if h.row < h.rows && h.col < h.cols {
            row(
                small,
                "winner",
                (h.row * h.cols + h.col) as usize,
                h.radius as usize,
            );
        }
        row(small, "corner", 0, h.radius as usize);
        row(
            small,
            "centre",
            (small.0 / 2) * small.1 + small.1 / 2,
            h.radius as usize,
        );
        let big = (p.rows as usize, p.cols as usize);
        row(big, "corner", 0, p.radius as usize);
        row(
            big,
            "centre",
            (big.0 / 2) * big.1 + big.1 / 2,
            p.radius as usize,
        );
        Plot {
            id: "hood_counts".into(),
            title: "Neighbours in the window".into(),
            x_label: String::new(),
            y_label: String::new(),
            body: PlotBody::Table {
                columns: ["map", "unit", "index = (row, col)", "k", "units"]
                    .map(String::from)
                    .into(),
                rows,
            },
        }
    }

    /// The lecture's radius d per epoch and the Gaussian's σ at the start of each epoch (TC-15).
    fn schedule_plot(&self) -> Plot {
        let p = &self.state.params;
        let n = p.epochs;
        let step = n.div_ceil(500).max(1);
        let epochs: Vec<u32> = (0..n).step_by(step as usize).chain([n - 1]).collect();
        let total = f64::from(p.epochs) * f64::from(p.samples);
        let mut series = Vec::new();
        if p.variants.lecture {
            series.push(Series {
                name: "box radius d".into(),
                mark: Mark::Line,
                color: Some(Kind::Lecture.colour().into()),
                points: epochs
                    .iter()
                    .map(|&e| {
                        [
                            f64::from(e + 1),
                            f64::from(som::lecture_radius(p.radius, p.every, e)),
                        ]
                    })
                    .collect(),
                band: None,
            });
        }
        if p.variants.gaussian {
            series.push(Series {
                name: "Gaussian σ".into(),
                mark: Mark::Line,
                color: Some(Kind::Gaussian.colour().into()),
                points: epochs
                    .iter()
                    .map(|&e| {
                        let t = f64::from(e) * f64::from(p.samples);
                        [f64::from(e + 1), som::asymptotic(p.sigma, t, total)]
                    })
                    .collect(),
                band: None,
            });
        }
        Plot {
            id: "schedule".into(),
            title: "Neighbourhood size per epoch".into(),
            x_label: "epoch".into(),
            y_label: "map units".into(),
            body: PlotBody::Xy {
                x_range: Some([0.0, f64::from(n)]),
                y_range: None,
                equal_aspect: false,
                series,
                heatmap: None,
            },
        }
    }

    /// The lecture's error (solid) and the quantization error (dashed) per variant, on one scale.
    fn errors_plot(&self) -> Plot {
        let mut series = Vec::new();
        for l in &self.learners {
            series.push(Series {
                name: format!("error, {}", l.kind.id()),
                mark: Mark::Line,
                color: Some(l.kind.colour().into()),
                points: l.error.clone(),
                band: None,
            });
            series.push(Series {
                name: format!("QE, {}", l.kind.id()),
                mark: Mark::Dashed,
                color: Some(l.kind.colour().into()),
                points: l.qe.clone(),
                band: None,
            });
        }
        Plot {
            id: "errors".into(),
            title: "Winner distance per epoch".into(),
            x_label: "epoch".into(),
            y_label: "mean ‖x − w_winner‖".into(),
            body: PlotBody::Xy {
                x_range: Some([0.0, f64::from(self.state.params.epochs)]),
                y_range: None,
                equal_aspect: false,
                series,
                heatmap: None,
            },
        }
    }

    fn te_plot(&self) -> Plot {
        let series = self
            .learners
            .iter()
            .map(|l| Series {
                name: l.kind.id().into(),
                mark: Mark::Line,
                color: Some(l.kind.colour().into()),
                points: l.te.clone(),
                band: None,
            })
            .collect();
        Plot {
            id: "te".into(),
            title: "Topographic error".into(),
            x_label: "epoch".into(),
            y_label: "fraction not adjacent".into(),
            body: PlotBody::Xy {
                x_range: Some([0.0, f64::from(self.state.params.epochs)]),
                y_range: Some([0.0, 1.0]),
                equal_aspect: false,
                series,
                heatmap: None,
            },
        }
    }

    fn learner(&self, kind: Kind) -> Option<&Learner> {
        self.learners.iter().find(|l| l.kind == kind)
    }

    fn untrained(kind: Kind, what: &str) -> String {
        format!("{what}, {} (not trained)", kind.id())
    }

    /// Every variant's U-matrix, on one scale.
    fn umatrix_plot(&self, kind: Kind, scale: f64) -> Plot {
        let p = &self.state.params;
        let (rows, cols) = (p.rows as usize, p.cols as usize);
        let (xr, yr) = Self::map_plot_ranges(rows, cols);
        let l = self.learner(kind);
        Plot {
            id: format!("umatrix_{}", kind.id()),
            title: match l {
                Some(_) => format!("U-matrix, {}", kind.id()),
                None => Self::untrained(kind, "U-matrix"),
            },
            x_label: "column".into(),
            y_label: "row".into(),
            body: PlotBody::Xy {
                x_range: Some(xr),
                y_range: Some(yr),
                equal_aspect: true,
                series: vec![],
                heatmap: l.map(|l| Heatmap {
                    x_range: xr,
                    y_range: yr,
                    nx: cols as u32,
                    ny: rows as u32,
                    values: l.som.u_matrix().into_iter().map(f64::from).collect(),
                    label: "mean distance to neighbours".into(),
                    value_range: Some([0.0, scale]),
                }),
            },
        }
    }

    /// Each measured sample at its winner, coloured by class (spread inside the unit's square so that a unit's
    /// samples stay visible).
    fn hits_plot(&self, kind: Kind) -> Plot {
        let p = &self.state.params;
        let (rows, cols) = (p.rows as usize, p.cols as usize);
        let (xr, yr) = Self::map_plot_ranges(rows, cols);
        let l = self.learner(kind);
        let mut series: Vec<Series> = self
            .data
            .classes
            .iter()
            .enumerate()
            .map(|(c, name)| Series {
                name: name.clone(),
                mark: Mark::Scatter,
                color: Some(class_colour(c, self.data.classes.len()).into()),
                points: Vec::new(),
                band: None,
            })
            .collect();
        if let Some(l) = l {
            for (i, &w) in l.last.winners.iter().enumerate() {
                let (r, c) = som::coords(cols, w);
                let jitter = |k: f64| ((k * 0.618_034).fract() - 0.5) * 0.6;
                let class = usize::from(self.data.labels[i]).min(series.len().saturating_sub(1));
                if let Some(s) = series.get_mut(class) {
                    s.points.push([
                        c as f64 + jitter(i as f64),
                        r as f64 + jitter(i as f64 * 1.7 + 0.3),
                    ]);
                }
            }
        }
        Plot {
            id: format!("hits_{}", kind.id()),
            title: match l {
                Some(_) => format!("Winners by class, {}", kind.id()),
                None => Self::untrained(kind, "Winners"),
            },
            x_label: "column".into(),
            y_label: "row".into(),
            body: PlotBody::Xy {
                x_range: Some(xr),
                y_range: Some(yr),
                equal_aspect: true,
                series,
                heatmap: None,
            },
        }
    }

    /// Iris: each feature's weights over the map (a component plane); MNIST: the weights of a grid of units as
    /// 28×28 pictures. The top row of every picture is the map's last row, as in the other map plots.
    fn planes_plot(&self, kind: Kind) -> Plot {
        let p = &self.state.params;
        let (rows, cols) = (p.rows as usize, p.cols as usize);
        let l = self.learner(kind);
        let id = format!("planes_{}", kind.id());
        let Some(l) = l else {
            return Plot {
                id,
                title: Self::untrained(kind, "Weights"),
                x_label: String::new(),
                y_label: String::new(),
                body: PlotBody::Images {
                    cols: 1,
                    width: 1,
                    height: 1,
                    channels: 1,
                    value_range: [0.0, 1.0],
                    grid: false,
                    images: vec![],
                },
            };
        };
        let dim = self.data.dim;
        match &self.data.features {
            Some(names) => {
                let m = l
                    .som
                    .weights()
                    .iter()
                    .fold(0.0f64, |m, &w| m.max(f64::from(w.abs())))
                    .max(1e-6);
                let images = names
                    .iter()
                    .enumerate()
                    .map(|(f, name)| Image {
                        label: name.clone(),
                        pixels: (0..rows)
                            .rev()
                            .flat_map(|r| (0..cols).map(move |c| r * cols + c))
                            .map(|u| f64::from(l.som.unit(u)[f]))
                            .collect(),
                    })
                    .collect();
                Plot {
                    id,
                    title: format!("Component planes, {}", kind.id()),
                    x_label: String::new(),
                    y_label: String::new(),
                    body: PlotBody::Images {
                        cols: names.len() as u32,
                        width: cols as u32,
                        height: rows as u32,
                        channels: 1,
                        value_range: [-m, m],
                        grid: false,
                        images,
                    },
                }
            }
            None => {
                let pick = |n: usize| -> Vec<usize> {
                    let k = PICTURES.min(n);
                    (0..k)
                        .map(|i| if k == 1 { 0 } else { i * (n - 1) / (k - 1) })
                        .collect()
                };
                let (rs, cs) = (pick(rows), pick(cols));
                let mut images = Vec::new();
                for &r in rs.iter().rev() {
                    for &c in &cs {
                        images.push(Image {
                            label: format!("({r}, {c})"),
                            pixels: l.som.unit(r * cols + c)[..dim]
                                .iter()
                                .map(|&w| f64::from(w))
                                .collect(),
                        });
                    }
                }
                Plot {
                    id,
                    title: format!("Units' weights, {}", kind.id()),
                    x_label: String::new(),
                    y_label: String::new(),
                    body: PlotBody::Images {
                        cols: cs.len() as u32,
                        width: 28,
                        height: 28,
                        channels: 1,
                        value_range: [-1.0, 1.0],
                        grid: false,
                        images,
                    },
                }
            }
        }
    }

    /// Iris: how many units win for setosa and for another species too, and the map distance (Chebyshev)
    /// between the nearest setosa winner and the nearest other winner.
    fn setosa(&self, l: &Learner) -> Option<(usize, usize)> {
        if self.data.features.is_none() || l.last.winners.is_empty() {
            return None;
        }
        let cols = self.state.params.cols as usize;
        let mut setosa = std::collections::BTreeSet::new();
        let mut others = std::collections::BTreeSet::new();
        for (i, &w) in l.last.winners.iter().enumerate() {
            if self.data.labels[i] == 0 {
                setosa.insert(w);
            } else {
                others.insert(w);
            }
        }
        let shared = setosa.intersection(&others).count();
        let gap = setosa
            .iter()
            .flat_map(|&a| {
                others.iter().map(move |&b| {
                    let (p, q) = (som::coords(cols, a), som::coords(cols, b));
                    p.0.abs_diff(q.0).max(p.1.abs_diff(q.1))
                })
            })
            .min()
            .unwrap_or(0);
        Some((shared, gap))
    }

    /// The fraction of measured samples whose class is the most frequent class among their unit's samples.
    fn purity(&self, l: &Learner) -> f64 {
        let k = self.data.classes.len().max(1);
        let mut counts: std::collections::HashMap<usize, Vec<u32>> = Default::default();
        for (i, &w) in l.last.winners.iter().enumerate() {
            let c = usize::from(self.data.labels[i]).min(k - 1);
            counts.entry(w).or_insert_with(|| vec![0; k])[c] += 1;
        }
        let agree: u32 = counts
            .values()
            .map(|v| v.iter().copied().max().unwrap_or(0))
            .sum();
        f64::from(agree) / l.last.winners.len().max(1) as f64
    }
}

/// At most three decimals, no trailing zeros.
fn number(x: f64) -> String {
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

impl LabRun for Run {
    async fn advance(&mut self, engine: &mut Engine, chunk: &Chunk<'_>) -> Result<Frame> {
        if !self.done() {
            self.place_on_gpu(engine).await?;
        }
        let mut todo = chunk.take(self.state.params.epochs - self.epoch);
        while todo > 0 && !self.done() {
            let epoch = self.epoch;
            if self.learners.iter().any(|l| l.gpu.is_some()) {
                let ((), notice) = engine
                    .run(
                        self,
                        async |gpu, run| run.train_on_gpu(gpu, chunk).await,
                        |run| {
                            // The maps on the device since the epoch's start are lost with it.
                            for l in &mut run.learners {
                                l.gpu = None;
                            }
                            run.train(chunk);
                            Ok(())
                        },
                    )
                    .await?;
                if let Some(notice) = notice {
                    self.notices.push(format!(
                        "{notice} What the maps learnt on the GPU in epoch {} was lost with it: the CPU trains \
                         that epoch again from its start.",
                        epoch + 1
                    ));
                }
            } else {
                self.train(chunk);
            }
            if self.epoch > epoch {
                todo -= 1;
            }
            if chunk.over() {
                break;
            }
        }
        Ok(self.frame())
    }

    fn frame(&mut self) -> Frame {
        let scale = self
            .learners
            .iter()
            .flat_map(|l| l.som.u_matrix())
            .fold(0.0f64, |m, v| m.max(f64::from(v)))
            .max(1e-6);
        let mut plots = vec![
            self.hood_plot(false),
            self.hood_plot(true),
            self.counts_plot(),
            self.schedule_plot(),
            self.errors_plot(),
            self.te_plot(),
        ];
        for k in KINDS {
            plots.push(self.umatrix_plot(k, scale));
            plots.push(self.hits_plot(k));
            plots.push(self.planes_plot(k));
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

    fn metrics(&self) -> Vec<Metric> {
        let p = &self.state.params;
        let mut m = Vec::new();
        let h = &p.neighbourhood;
        if h.row < h.rows && h.col < h.cols {
            m.push(Metric::new(
                "neighbours of the drawn winner",
                som::neighbours(
                    h.rows as usize,
                    h.cols as usize,
                    (h.row * h.cols + h.col) as usize,
                    h.radius as usize,
                )
                .len() as f64,
                "units",
            ));
        }
        if p.variants.lecture {
            let zero = (0..p.epochs).find(|&e| som::lecture_printed(p.radius, p.every, e) == 0);
            m.push(Metric::new(
                "box radius 0 after epoch",
                zero.map_or(f64::NAN, |e| f64::from(e + 1)),
                "",
            ));
        }
        for l in &self.learners {
            let name = l.kind.name();
            m.push(Metric::new(
                format!("lecture's error (last epoch), {name}"),
                l.error.last().map_or(f64::NAN, |e| e[1]),
                "",
            ));
            m.push(Metric::new(
                format!("quantization error, {name}"),
                l.last.qe,
                "",
            ));
            m.push(Metric::new(
                format!("topographic error, {name}"),
                l.last.te,
                "",
            ));
            m.push(Metric::new(
                format!("class purity of units, {name}"),
                self.purity(l),
                "",
            ));
            if let Some((shared, gap)) = self.setosa(l) {
                m.push(Metric::new(
                    format!("units shared by setosa and others, {name}"),
                    shared as f64,
                    "units",
                ));
                m.push(Metric::new(
                    format!("gap between setosa and others, {name}"),
                    gap as f64,
                    "units",
                ));
            }
        }
        m.push(Metric::new(
            "epochs per second (per variant)",
            self.timing.1 / (self.timing.0 / 1000.0),
            "epochs/s",
        ));
        m
    }

    fn reset(&mut self) {
        let data = std::mem::replace(
            &mut self.data,
            Data {
                x: Vec::new(),
                dim: 1,
                labels: Vec::new(),
                classes: Vec::new(),
                features: None,
            },
        );
        if let Ok(fresh) = Run::new(self.state.clone(), data) {
            *self = fresh;
        }
    }

    fn done(&self) -> bool {
        self.epoch >= self.state.params.epochs || self.learners.iter().all(|l| l.stopped.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_has_its_own_colour() {
        for classes in [3, 10] {
            let colours: std::collections::HashSet<_> =
                (0..classes).map(|c| class_colour(c, classes)).collect();
            assert_eq!(colours.len(), classes);
        }
        let variants = [Kind::Lecture.colour(), Kind::Gaussian.colour()];
        assert!((0..10).all(|c| !variants.contains(&class_colour(c, 10))));
    }

    #[test]
    fn the_default_cost_is_seconds() {
        let c = SomLab::cost(&SomLab::default_params());
        assert!(c.seconds < 5.0, "{}", c.seconds);
    }
}
