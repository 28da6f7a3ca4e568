//! Lab "Competitive learning" (004 §6; Rumelhart & Zipser 1985): the lecture's worked winner example (TC-06) as
//! tables; its three Gaussian blobs clustered by three units with the centroids' paths live, the winner by
//! smallest distance (the lecture's code) beside the winner by largest activation; dead units and two remedies,
//! DeSieno's conscience and leaky learning, side by side with plain winner-take-all; and MNIST digits clustered by
//! ten units, with each unit's centroid image, its nearest digits and its purity.
//!
//! Every update is the instar rule Δw_i = α (x − w_i) of the winner (`plasticity::Rule::Instar` with v = 1, see
//! `nets::competitive`). Where we differ from the lecture's code, on purpose: its blobs come from a library
//! generator, ours from the playground's seeded one (same centres, spread and count; presented in one seeded
//! order, the same in every epoch, as its loop does), so its printed errors (0.2240, then 0.1888) are matched in
//! size, not in digits; its digits are all 70,000, ours the 8,000 shipped training digits (or your MNIST files).
//!
//! Placement: the sequential rule is one sample after another, each update depending on the previous winner. With
//! a GPU engine every network trains on the device (`kernels::competitive`: one workgroup presents the samples in
//! order, many samples per dispatch), with its weights and samples resident; the presentations' records come back
//! with each submit (the errors and wins), the weights once per epoch (the plots, the digits' clusters, which are
//! measured on the CPU). A lost device hands the run to the CPU from the last epoch's end.
use super::budget::{Chunk, Cost};
use super::digits::{Images, SHIPPED_TRAIN};
use super::{Lab, LabRun};
use crate::data::generate::Blobs;
use crate::data::store::{DataStore, Need};
use crate::data::{Dataset, Split, preprocess};
use crate::engine::{Engine, Gpu};
use crate::error::{Error, FieldError, Result};
use crate::kernels::competitive::CompetitiveGpu;
use crate::nets::competitive::{Competitive, Step, Variant, Winner, squared_distance};
use crate::protocol::{
    BarSeries, Cell, Frame, Image, LabInfo, Mark, Metric, PALETTE, Plot, PlotBody, REFERENCE,
    Series,
};
use crate::state::StateDoc;
use ndarray::Array2;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The lecture's worked example: two units, two inputs of three values, one learning rate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Worked {
    /// Unit 1's weights (the lecture's first column of W).
    #[schemars(title = "weights w₁")]
    pub w1: [f64; 3],
    #[schemars(title = "weights w₂")]
    pub w2: [f64; 3],
    /// The first input, presented first.
    #[schemars(title = "input x₁")]
    pub x1: [f64; 3],
    #[schemars(title = "input x₂")]
    pub x2: [f64; 3],
    #[schemars(title = "learning rate α", range(min = 0.0, max = 1.0))]
    pub rate: f64,
}

/// The lecture's three Gaussian blobs and the network that clusters them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BlobParams {
    /// Points per blob (the lecture: 500 each, 1,500 in all), around (0, 0), (0.5, 0.5) and (1, 0).
    #[schemars(title = "points per blob", range(min = 1, max = 10000), extend("x-unit" = "points"))]
    pub count: u32,
    /// The standard deviation of every blob (the lecture: 0.15).
    #[schemars(title = "blob spread σ", range(min = 0.01, max = 1.0))]
    pub spread: f64,
    /// Competing units, each with its own colour (weights drawn from U[0, 1)).
    #[schemars(title = "units", range(min = 1, max = 6), extend("x-unit" = "units"))]
    pub units: u32,
    #[schemars(title = "learning rate α", range(min = 0.0001, max = 1.0))]
    pub rate: f64,
    /// Passes over the points, in the same order each time.
    #[schemars(title = "epochs", range(min = 1, max = 1000), extend("x-unit" = "epochs"))]
    pub epochs: u32,
    /// Trains a second copy of the same initial network whose winner is the unit of largest activation w·x.
    #[schemars(title = "also: winner by largest activation")]
    pub activation: bool,
}

/// Where the dead-units experiment starts its weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// U[0, 1)², over the blobs (the lecture's initialisation).
    #[schemars(title = "U[0, 1), over the data")]
    Data,
    /// U[1, 2)², beside the blobs.
    #[schemars(title = "U[1, 2), beside the data")]
    Far,
}

/// Dead units on the blobs: more units, or a bad start, and the remedies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadParams {
    #[schemars(title = "units", range(min = 2, max = 12), extend("x-unit" = "units"))]
    pub units: u32,
    #[schemars(title = "initial weights")]
    pub init: Init,
    #[schemars(title = "plain winner-take-all")]
    pub plain: bool,
    #[schemars(title = "conscience (DeSieno)")]
    pub conscience: bool,
    #[schemars(title = "leaky learning")]
    pub leaky: bool,
    /// C of the conscience's bias b_i = C (1/N − p_i), in squared distance units.
    #[schemars(title = "conscience strength C", range(min = 0.0, max = 1000.0))]
    pub c: f64,
    /// β of the win frequencies p_i ← p_i + β (y_i − p_i) (DeSieno: 0.0001).
    #[schemars(title = "frequency rate β", range(min = 0.00001, max = 0.1))]
    pub beta: f64,
    /// The losers' learning rate in leaky learning (the winner's is the blobs' α).
    #[schemars(title = "losers' rate (leaky)", range(min = 0.00001, max = 0.1))]
    pub leak: f64,
    #[schemars(title = "epochs", range(min = 1, max = 1000), extend("x-unit" = "epochs"))]
    pub epochs: u32,
}

/// How the digits' network learns besides its winner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Remedy {
    #[schemars(title = "plain winner-take-all")]
    Plain,
    #[schemars(title = "conscience (DeSieno)")]
    Conscience,
    #[schemars(title = "leaky learning")]
    Leaky,
}

/// MNIST digits clustered by competing units.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DigitParams {
    /// Cluster digits at all (they must be loaded first).
    #[schemars(title = "cluster digits")]
    pub on: bool,
    #[schemars(title = "digits from")]
    pub images: Images,
    /// Training digits, the first of a seeded shuffle (the shipped digits hold 8,000).
    #[schemars(title = "digits", range(min = 10, max = 60000), extend("x-unit" = "digits"))]
    pub digits: u32,
    #[schemars(title = "units", range(min = 1, max = 50), extend("x-unit" = "units"))]
    pub units: u32,
    #[schemars(title = "learning rate α", range(min = 0.0001, max = 1.0))]
    pub rate: f64,
    /// The initial weights' standard deviation (the lecture's N(0, 0.1)).
    #[schemars(title = "initial weight σ", range(min = 0.0, max = 1.0))]
    pub init_std: f64,
    #[schemars(title = "epochs", range(min = 1, max = 100), extend("x-unit" = "epochs"))]
    pub epochs: u32,
    #[schemars(title = "remedy for dead units")]
    pub remedy: Remedy,
    /// C of the conscience on the digits (squared distances between digits are about 40).
    #[schemars(title = "conscience strength C", range(min = 0.0, max = 10000.0))]
    pub c: f64,
    #[schemars(title = "losers' rate (leaky)", range(min = 0.00001, max = 0.1))]
    pub leak: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("x-step" = "epoch", "x-steps" = "epochs"))]
pub struct Params {
    #[schemars(title = "worked example")]
    pub worked: Worked,
    #[schemars(title = "blobs")]
    pub blobs: BlobParams,
    #[schemars(title = "dead units")]
    pub dead: DeadParams,
    #[schemars(title = "digits")]
    pub digits: DigitParams,
}

/// The lab.
pub struct CompetitiveLab;

/// The lecture's blob centres.
const CENTRES: [[f32; 2]; 3] = [[0.0, 0.0], [0.5, 0.5], [1.0, 0.0]];
/// Centroid positions recorded per epoch at most (the paths).
const TRACE_POINTS: usize = 30;
/// Nearest digits shown per unit.
const NEAREST: usize = 10;
/// Digits trained between two looks at the clock.
const BLOCK: usize = 500;
/// Digits presented per submit on the GPU, between two looks at the clock: two dispatches, a quarter of a second
/// on a software adapter (SwiftShader presents about 2,200 digits a second), so Pause still acts promptly.
const GPU_BLOCK: usize = 512;
/// Nanoseconds per distance term (one sample, one unit, one input: a subtraction and a multiply-add), natively
/// on the reference machine; measured on the default state (README, "Budgets").
const NS_PER_TERM: f64 = 0.5;
/// Nanoseconds per term in the page's CPU engine (wasm).
const BROWSER_NS_PER_TERM: f64 = 1.5;
/// A weight beyond this (or not finite) stops the network: learning went wrong.
const MAX_WEIGHT: f32 = 1e6;

/// The plain and the remedied variants of the dead-units experiment, in the order the lab lists and colours them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Plain,
    Conscience,
    Leaky,
    /// The blobs' second network: the winner by largest activation.
    Activation,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Plain => "plain WTA",
            Self::Conscience => "conscience",
            Self::Leaky => "leaky",
            Self::Activation => "largest activation",
        }
    }

    /// One colour per variant across the lab (the units take the palette's first colours).
    fn colour(self) -> &'static str {
        match self {
            Self::Plain => PALETTE[6],
            Self::Conscience => PALETTE[3],
            Self::Leaky => PALETTE[4],
            Self::Activation => PALETTE[5],
        }
    }
}

/// Unit i's colour in the scatter plots.
fn unit_colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// A palette colour made translucent, for the points under the paths.
fn translucent(hex: &str) -> String {
    let byte = |k: usize| u8::from_str_radix(&hex[k..k + 2], 16).unwrap_or(0);
    format!("rgba({}, {}, {}, 0.35)", byte(1), byte(3), byte(5))
}

/// At most three decimals, no trailing zeros.
fn number(x: f64) -> String {
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

fn vector(v: &[f64]) -> String {
    format!(
        "({})",
        v.iter()
            .map(|&x| format!("{x:.2}"))
            .collect::<Vec<_>>()
            .join(",")
    )
}

impl Params {
    fn blob_variants(&self) -> Vec<Kind> {
        if self.blobs.activation {
            vec![Kind::Plain, Kind::Activation]
        } else {
            vec![Kind::Plain]
        }
    }

    fn dead_variants(&self) -> Vec<Kind> {
        super::switched_on(
            [Kind::Plain, Kind::Conscience, Kind::Leaky],
            [self.dead.plain, self.dead.conscience, self.dead.leaky],
        )
    }

    fn points(&self) -> u32 {
        self.blobs.count * CENTRES.len() as u32
    }

    fn digit_epochs(&self) -> u32 {
        if self.digits.on {
            self.digits.epochs
        } else {
            0
        }
    }

    fn total(&self) -> u32 {
        self.blobs.epochs + self.dead.epochs + self.digit_epochs()
    }

    fn digit_variant(&self) -> Variant {
        let d = &self.digits;
        match d.remedy {
            Remedy::Plain => Variant::Plain,
            Remedy::Conscience => Variant::Conscience {
                beta: self.dead.beta as f32,
                c: d.c as f32,
            },
            Remedy::Leaky => Variant::Leaky {
                leak: d.leak as f32,
            },
        }
    }
}

impl Lab for CompetitiveLab {
    const ID: &'static str = "competitive";
    const DEFAULT_SEED: u32 = 9;
    const THEORY: bool = false;
    type Params = Params;
    type Run = Run;

    fn info() -> LabInfo {
        LabInfo {
            id: Self::ID,
            title: "Competitive learning",
            summary: "Units compete for each input and only the winner learns: work through the lecture's \
                      winner example, watch three units find three blobs, see dead units and cure them with a \
                      conscience or leaky learning, and cluster MNIST digits.",
            source: "004_01ab2769c1683046.txt",
        }
    }

    fn cells() -> Vec<Cell> {
        let text = super::text::LabText::parse(include_str!("competitive.md"));
        vec![
            text.prose("intro"),
            text.teacher("goals"),
            text.prose("worked"),
            Cell::Controls {
                title: "The worked example".into(),
                fields: vec!["worked".into()],
            },
            Cell::Plot {
                id: "worked_before".into(),
            },
            Cell::Plot {
                id: "worked_updates".into(),
            },
            text.exercise("ex1"),
            text.prose("blobs"),
            Cell::Controls {
                title: "Clustering blobs".into(),
                fields: vec!["blobs".into()],
            },
            Cell::Run,
            Cell::PlotRow {
                ids: vec!["blobs_distance".into(), "blobs_activation".into()],
            },
            Cell::Plot {
                id: "blob_error".into(),
            },
            text.exercise("ex2"),
            text.prose("dead"),
            Cell::Controls {
                title: "Dead units".into(),
                fields: vec!["dead".into()],
            },
            Cell::PlotRow {
                ids: vec!["dead_map".into(), "dead_error".into()],
            },
            Cell::Plot {
                id: "dead_wins".into(),
            },
            text.exercise("ex3"),
            text.prose("digits"),
            Cell::Controls {
                title: "Clustering digits".into(),
                fields: vec!["digits".into()],
            },
            Cell::Plot {
                id: "digits_centroids".into(),
            },
            Cell::PlotRow {
                ids: vec!["digits_units".into(), "digits_error".into()],
            },
            Cell::Metrics {
                title: "Results".into(),
            },
            text.exercise("ex4"),
            text.exercise("ex5"),
            text.prose("sources"),
        ]
    }

    fn default_params() -> Params {
        Params {
            worked: Worked {
                w1: [0.7, 0.1, 0.8],
                w2: [0.2, 0.8, 0.1],
                x1: [0.8, 0.1, 0.9],
                x2: [0.1, 0.9, 0.2],
                rate: 0.5,
            },
            blobs: BlobParams {
                count: 500,
                spread: 0.15,
                units: 3,
                rate: 0.01,
                epochs: 10,
                activation: true,
            },
            dead: DeadParams {
                units: 4,
                init: Init::Far,
                plain: true,
                conscience: true,
                leaky: true,
                c: 3.0,
                beta: 0.001,
                leak: 0.001,
                epochs: 10,
            },
            digits: DigitParams {
                on: true,
                images: Images::Digits,
                digits: 8000,
                units: 10,
                rate: 0.01,
                init_std: 0.1,
                epochs: 10,
                remedy: Remedy::Plain,
                c: 100.0,
                leak: 0.0001,
            },
        }
    }

    fn validate(p: &Params) -> Vec<FieldError> {
        let mut e = Vec::new();
        let w = &p.worked;
        for (name, v) in [("w1", w.w1), ("w2", w.w2), ("x1", w.x1), ("x2", w.x2)] {
            if !v.iter().all(|x| x.is_finite() && x.abs() <= 10.0) {
                e.push(FieldError::new(
                    format!("worked/{name}"),
                    "three numbers, each between −10 and 10",
                ));
            }
        }
        if p.dead_variants().is_empty() {
            e.push(FieldError::new(
                "dead/plain",
                "choose at least one of plain winner-take-all, conscience and leaky learning",
            ));
        }
        let d = &p.digits;
        if d.on && d.images == Images::Digits && d.digits > SHIPPED_TRAIN {
            e.push(FieldError::new(
                "digits/digits",
                format!(
                    "the shipped digits hold {SHIPPED_TRAIN} training digits (got {}); load your MNIST files for \
                     up to 60000",
                    d.digits
                ),
            ));
        }
        e
    }

    /// Counted in distance terms (one sample, one unit, one input): each presentation measures every unit (and
    /// moves one, or all with leaky learning); each digit epoch measures every digit once more to find the
    /// clusters and nearest digits.
    fn cost(p: &Params) -> Cost {
        let points = f64::from(p.points());
        let b = &p.blobs;
        let dead = &p.dead;
        let d = &p.digits;
        let mut cost = Cost::default()
            .work_in(
                "distance terms (blobs)",
                "blobs/epochs",
                f64::from(b.epochs) * points * f64::from(b.units) * 2.0 * 2.0,
                NS_PER_TERM,
                BROWSER_NS_PER_TERM,
            )
            .work_in(
                "distance terms (dead units)",
                "dead/epochs",
                f64::from(dead.epochs)
                    * points
                    * f64::from(dead.units)
                    * 2.0
                    * 3.0
                    * p.dead_variants().len() as f64,
                NS_PER_TERM,
                BROWSER_NS_PER_TERM,
            )
            .memory(
                "the blobs and the paths",
                "blobs/count",
                points * 16.0
                    + f64::from(b.epochs + dead.epochs) * TRACE_POINTS as f64 * 12.0 * 16.0,
            );
        if d.on {
            let terms = f64::from(d.digits) * f64::from(d.units) * 784.0;
            let leaky = if d.remedy == Remedy::Leaky { 2.0 } else { 1.0 };
            cost = cost
                .work_in(
                    "distance terms (digits)",
                    "digits/epochs",
                    f64::from(d.epochs) * terms * (2.0 + leaky),
                    NS_PER_TERM,
                    BROWSER_NS_PER_TERM,
                )
                .memory(
                    "the training digits",
                    "digits/digits",
                    f64::from(d.digits) * 784.0 * 4.0,
                );
        }
        cost
    }

    fn needs(p: &Params) -> Option<Need> {
        p.digits.on.then(|| p.digits.images.need())
    }

    fn start(state: StateDoc<Params>, store: &DataStore) -> Result<Run> {
        let data = if state.params.digits.on {
            Some(state.params.digits.images.load(store)?)
        } else {
            None
        };
        Run::new(state, data)
    }
}

/// One network trained on the blobs, with its history.
struct Learner {
    kind: Kind,
    net: Competitive,
    winner: Winner,
    variant: Variant,
    /// Mean quantisation error per epoch (epoch, error).
    error: Vec<[f64; 2]>,
    /// Each unit's path.
    paths: Vec<Vec<[f64; 2]>>,
    /// Wins per unit in the last epoch.
    wins: Vec<u32>,
    stopped: bool,
    /// The network on the device when the engine has a GPU; `net` then holds the weights of the last epoch's end.
    gpu: Option<CompetitiveGpu>,
}

impl Learner {
    fn new(kind: Kind, net: Competitive, winner: Winner, variant: Variant) -> Self {
        let paths = (0..net.units())
            .map(|i| vec![[f64::from(net.w[[i, 0]]), f64::from(net.w[[i, 1]])]])
            .collect();
        let units = net.units();
        Self {
            kind,
            net,
            winner,
            variant,
            error: Vec::new(),
            paths,
            wins: vec![0; units],
            stopped: false,
            gpu: None,
        }
    }

    /// One pass over `x` (rows) in order; records the paths `TRACE_POINTS` times. Returns a message when the
    /// weights went wrong (they are rolled back to the epoch's start).
    fn epoch(&mut self, x: &Array2<f32>, rate: f32, epoch: u32) -> Option<String> {
        let mut net = self.net.clone();
        let every = trace_every(x.nrows());
        let mut steps = Vec::with_capacity(x.nrows());
        let mut snapshots = Vec::new();
        for (k, row) in x.rows().into_iter().enumerate() {
            steps.push(net.step(
                row.as_slice().unwrap_or(&[]),
                rate,
                self.winner,
                self.variant,
            ));
            if (k + 1) % every == 0 || k + 1 == x.nrows() {
                snapshots.push(net.w.clone());
            }
        }
        self.close_epoch(net, &steps, &snapshots, epoch, "")
    }

    /// The same epoch on the device (or on the CPU when the network is not there): one submit presents it, one
    /// reads the weights and their snapshots back.
    async fn epoch_on(
        &mut self,
        gpu: &Gpu,
        x: &Array2<f32>,
        rate: f32,
        epoch: u32,
    ) -> Result<Option<String>> {
        let Some(dev) = &self.gpu else {
            return Ok(self.epoch(x, rate, epoch));
        };
        let steps = dev.train(gpu, 0, x.nrows()).await?;
        let mut net = self.net.clone();
        let snapshots = dev.download(gpu, &mut net).await?;
        let message = self.close_epoch(
            net,
            &steps,
            &snapshots,
            epoch,
            " (on the GPU, checked at the epoch's end)",
        );
        if message.is_some() {
            self.gpu = None;
        }
        Ok(message)
    }

    /// Keeps an epoch's end `net`, its presentations and its snapshots of the weights, unless the weights went
    /// wrong: then the network stops with the weights of the epoch before, and the message says so.
    fn close_epoch(
        &mut self,
        net: Competitive,
        steps: &[Step],
        snapshots: &[Array2<f32>],
        epoch: u32,
        where_: &str,
    ) -> Option<String> {
        if !tame(&net) {
            self.stopped = true;
            return Some(format!(
                "{}: the weights overflowed in epoch {}{where_}; this network stopped and keeps the weights of \
                 epoch {epoch}.",
                self.kind.name(),
                epoch + 1
            ));
        }
        self.wins.iter_mut().for_each(|w| *w = 0);
        let mut sum = 0.0f64;
        for s in steps {
            sum += f64::from(s.distance);
            self.wins[s.winner] += 1;
        }
        for w in snapshots {
            for (i, path) in self.paths.iter_mut().enumerate() {
                path.push([f64::from(w[[i, 0]]), f64::from(w[[i, 1]])]);
            }
        }
        self.net = net;
        self.error
            .push([f64::from(epoch + 1), sum / steps.len().max(1) as f64]);
        None
    }

    fn dead(&self) -> usize {
        self.wins.iter().filter(|&&w| w == 0).count()
    }

    fn last_error(&self) -> f64 {
        self.error.last().map_or(f64::NAN, |e| e[1])
    }
}

/// Presentations between two points of a unit's path.
fn trace_every(samples: usize) -> usize {
    samples.div_ceil(TRACE_POINTS).max(1)
}

fn tame(net: &Competitive) -> bool {
    net.w.iter().all(|v| v.is_finite() && v.abs() <= MAX_WEIGHT)
}

/// What one look at every training digit found.
#[derive(Clone, Debug, Default)]
struct DigitEval {
    /// Digits nearest to each unit.
    wins: Vec<u32>,
    /// Per unit, the count of each label among its digits.
    labels: Vec<[u32; 10]>,
    /// Per unit, the nearest digits (index into the training rows, distance), nearest first.
    nearest: Vec<Vec<(usize, f32)>>,
}

impl DigitEval {
    fn purity(&self) -> f64 {
        let total: u32 = self.wins.iter().sum();
        let majority: u32 = self
            .labels
            .iter()
            .map(|l| l.iter().copied().max().unwrap_or(0))
            .sum();
        f64::from(majority) / f64::from(total.max(1))
    }

    fn dead(&self) -> usize {
        self.wins.iter().filter(|&&w| w == 0).count()
    }
}

/// The digits' network and its history.
struct Digits {
    x: Array2<f32>,
    labels: Vec<u8>,
    net: Competitive,
    variant: Variant,
    rate: f32,
    /// The next digit of the epoch in progress, and the running sum of its errors.
    pos: usize,
    sum: f64,
    error: Vec<[f64; 2]>,
    eval: DigitEval,
    stopped: bool,
    /// The network on the device when the engine has a GPU; `net` then holds the weights of the last epoch's end.
    gpu: Option<CompetitiveGpu>,
}

impl Digits {
    fn evaluate(&mut self) {
        let units = self.net.units();
        let mut eval = DigitEval {
            wins: vec![0; units],
            labels: vec![[0; 10]; units],
            nearest: vec![Vec::new(); units],
        };
        for (k, row) in self.x.rows().into_iter().enumerate() {
            let x = row.as_slice().unwrap_or(&[]);
            let d2 = self.net.squared_distances(x);
            let win = d2
                .iter()
                .enumerate()
                .fold(
                    (0, f32::INFINITY),
                    |b, (i, &d)| if d < b.1 { (i, d) } else { b },
                )
                .0;
            eval.wins[win] += 1;
            eval.labels[win][usize::from(self.labels[k]).min(9)] += 1;
            for (i, &d) in d2.iter().enumerate() {
                let list = &mut eval.nearest[i];
                if list.len() < NEAREST || d < list[NEAREST - 1].1 {
                    let at = list.partition_point(|&(_, e)| e <= d);
                    list.insert(at, (k, d));
                    list.truncate(NEAREST);
                }
            }
        }
        self.eval = eval;
    }
}

/// A run in progress.
pub struct Run {
    state: StateDoc<Params>,
    /// The blobs, in the order they are presented.
    points: Array2<f32>,
    blobs: Vec<Learner>,
    dead: Vec<Learner>,
    digits: Option<Digits>,
    /// Epochs done, all phases together.
    step: u32,
    notices: Vec<String>,
    /// (ms, samples) of digit training, and the last whole digit epoch's ms.
    timing: (f64, f64),
    epoch_ms: f64,
    epoch_started: Option<f64>,
    /// Whether placing the networks on the GPU has been tried.
    placed: bool,
}

impl Run {
    fn new(state: StateDoc<Params>, data: Option<Arc<Dataset>>) -> Result<Self> {
        let p = &state.params;
        let seed = state.seed;
        let blobs = Blobs {
            centres: CENTRES.to_vec(),
            spread: p.blobs.spread as f32,
            count: p.blobs.count,
        }
        .generate(seed)?;
        let order = preprocess::shuffled(&(0..blobs.len()).collect::<Vec<_>>(), seed, 0);
        let points = blobs.rows(&order);
        let units = p.blobs.units as usize;
        let start = Competitive::uniform(units, 2, 0.0, 1.0, seed, 0)?;
        let blob_learners = p
            .blob_variants()
            .into_iter()
            .map(|k| {
                let how = if k == Kind::Activation {
                    Winner::Activation
                } else {
                    Winner::Distance
                };
                Learner::new(k, start.clone(), how, Variant::Plain)
            })
            .collect();
        let d = &p.dead;
        let (lo, hi) = match d.init {
            Init::Data => (0.0, 1.0),
            Init::Far => (1.0, 2.0),
        };
        let dead_start = Competitive::uniform(d.units as usize, 2, lo, hi, seed, 1)?;
        let dead = p
            .dead_variants()
            .into_iter()
            .map(|k| {
                let v = match k {
                    Kind::Conscience => Variant::Conscience {
                        beta: d.beta as f32,
                        c: d.c as f32,
                    },
                    Kind::Leaky => Variant::Leaky {
                        leak: d.leak as f32,
                    },
                    _ => Variant::Plain,
                };
                Learner::new(k, dead_start.clone(), Winner::Distance, v)
            })
            .collect();
        let mut notices = Vec::new();
        let digits = match data {
            Some(data) => Some(Self::digits(&state, &data, &mut notices)?),
            None => None,
        };
        Ok(Self {
            state,
            points,
            blobs: blob_learners,
            dead,
            digits,
            step: 0,
            notices,
            timing: (0.0, 0.0),
            epoch_ms: f64::NAN,
            epoch_started: None,
            placed: false,
        })
    }

    fn digits(
        state: &StateDoc<Params>,
        data: &Dataset,
        notices: &mut Vec<String>,
    ) -> Result<Digits> {
        let p = &state.params.digits;
        if data.dim() != 784 || data.classes.len() < 10 {
            return Err(Error::Data(format!(
                "{} holds {} values per sample in {} classes; this lab takes 28×28 digits in 10 classes",
                data.name,
                data.dim(),
                data.classes.len()
            )));
        }
        let mut train = preprocess::shuffled(&data.indices(Split::Train), state.seed, 0);
        if train.len() < p.digits as usize {
            notices.push(format!(
                "{} has {} training digits: the run clusters all of them.",
                data.name,
                train.len()
            ));
        }
        train.truncate(p.digits as usize);
        if train.is_empty() {
            return Err(Error::Data(format!("{} has no training digits", data.name)));
        }
        let mut digits = Digits {
            x: data.rows(&train),
            labels: train.iter().map(|&i| data.labels[i]).collect(),
            net: Competitive::normal(p.units as usize, 784, p.init_std as f32, state.seed, 2)?,
            variant: state.params.digit_variant(),
            rate: p.rate as f32,
            pos: 0,
            sum: 0.0,
            error: Vec::new(),
            eval: DigitEval::default(),
            stopped: false,
            gpu: None,
        };
        digits.evaluate();
        Ok(digits)
    }

    /// The digits' epoch in progress, from 0 (the blobs' and the dead units' epochs come first).
    fn digit_epoch(&self) -> u32 {
        self.step - self.state.params.blobs.epochs - self.state.params.dead.epochs
    }

    /// Advances the digits' epoch in progress by blocks until it ends or the chunk is over; true when it ended.
    fn digit_blocks(&mut self, chunk: &Chunk<'_>) -> bool {
        let epoch = self.digit_epoch();
        let Some(d) = self.digits.as_mut() else {
            return true;
        };
        let t0 = chunk.now();
        if d.pos == 0 {
            self.epoch_started = Some(t0);
        }
        let n = d.x.nrows();
        loop {
            let end = (d.pos + BLOCK).min(n);
            let before = d.net.clone();
            for k in d.pos..end {
                let row = d.x.row(k);
                let s = d.net.step(
                    row.as_slice().unwrap_or(&[]),
                    d.rate,
                    Winner::Distance,
                    d.variant,
                );
                d.sum += f64::from(s.distance);
            }
            if !tame(&d.net) {
                d.net = before;
                d.stopped = true;
                self.notices.push(format!(
                    "digits: the weights overflowed in epoch {}; the network stopped and keeps what it had \
                     learnt before digit {}.",
                    epoch + 1,
                    d.pos + 1
                ));
                d.evaluate();
                return true;
            }
            self.timing.1 += (end - d.pos) as f64;
            d.pos = end;
            if d.pos == n {
                break;
            }
            if chunk.over() {
                self.timing.0 += chunk.now() - t0;
                return false;
            }
        }
        self.end_digit_epoch(chunk, t0);
        true
    }

    /// Closes the digits' epoch in progress: its error, its time, and the clusters measured with its weights.
    fn end_digit_epoch(&mut self, chunk: &Chunk<'_>, t0: f64) {
        let epoch = self.digit_epoch();
        let Some(d) = self.digits.as_mut() else {
            return;
        };
        let t1 = chunk.now();
        self.timing.0 += t1 - t0;
        d.error
            .push([f64::from(epoch + 1), d.sum / d.x.nrows().max(1) as f64]);
        (d.pos, d.sum) = (0, 0.0);
        if let Some(s) = self.epoch_started.take() {
            self.epoch_ms = t1 - s;
        }
        d.evaluate();
    }

    /// [`Self::digit_blocks`] on the device (or on the CPU when the network is not there): submits of
    /// `GPU_BLOCK` digits until the epoch ends or the chunk is over, the records read back with each (the error),
    /// the weights at the epoch's end, where they are checked: weights gone wrong stop the network with those of
    /// the epoch before.
    async fn digit_blocks_on(&mut self, gpu: &Gpu, chunk: &Chunk<'_>) -> Result<bool> {
        let epoch = self.digit_epoch();
        let Some(d) = self.digits.as_mut() else {
            return Ok(true);
        };
        let Some(dev) = &d.gpu else {
            return Ok(self.digit_blocks(chunk));
        };
        let t0 = chunk.now();
        if d.pos == 0 {
            self.epoch_started = Some(t0);
        }
        let n = d.x.nrows();
        loop {
            let end = (d.pos + GPU_BLOCK).min(n);
            for s in dev.train(gpu, d.pos, end - d.pos).await? {
                d.sum += f64::from(s.distance);
            }
            self.timing.1 += (end - d.pos) as f64;
            d.pos = end;
            if d.pos == n {
                break;
            }
            if chunk.over() {
                self.timing.0 += chunk.now() - t0;
                return Ok(false);
            }
        }
        let mut net = d.net.clone();
        dev.download(gpu, &mut net).await?;
        if !tame(&net) {
            d.gpu = None;
            d.stopped = true;
            self.notices.push(format!(
                "digits: the weights overflowed in epoch {} (on the GPU, checked at the epoch's end); the network \
                 stopped and keeps what it had learnt by the end of epoch {epoch}.",
                epoch + 1
            ));
            return Ok(true);
        }
        d.net = net;
        self.end_digit_epoch(chunk, t0);
        Ok(true)
    }

    /// Puts every network and its samples on the GPU (once per run, when the engine has one). The digits go
    /// separately: a training set too large for the device leaves them on the CPU with a notice and the blobs on
    /// the GPU.
    async fn place_on_gpu(&mut self, engine: &mut Engine) -> Result<()> {
        if engine.gpu().is_none() || std::mem::replace(&mut self.placed, true) {
            return Ok(());
        }
        let rate = self.state.params.blobs.rate as f32;
        let ((), notice) = engine
            .run(
                self,
                async |gpu, run| {
                    let every = trace_every(run.points.nrows());
                    for l in run.blobs.iter_mut().chain(run.dead.iter_mut()) {
                        let dev = CompetitiveGpu::new(
                            gpu,
                            &l.net,
                            run.points.view(),
                            l.winner,
                            l.variant,
                            rate,
                            every,
                        )
                        .await?;
                        l.gpu = Some(dev);
                    }
                    Ok(())
                },
                |run| {
                    for l in run.blobs.iter_mut().chain(run.dead.iter_mut()) {
                        l.gpu = None;
                    }
                    Ok(())
                },
            )
            .await?;
        self.notices.extend(notice);
        if self.digits.is_none() {
            return Ok(());
        }
        let ((), notice) = engine
            .run(
                self,
                async |gpu, run| {
                    if let Some(d) = run.digits.as_mut() {
                        let dev = CompetitiveGpu::new(
                            gpu,
                            &d.net,
                            d.x.view(),
                            Winner::Distance,
                            d.variant,
                            d.rate,
                            0,
                        )
                        .await?;
                        d.gpu = Some(dev);
                    }
                    Ok(())
                },
                |_| Ok(()),
            )
            .await?;
        self.notices.extend(notice);
        Ok(())
    }

    /// Epoch `epoch` of the blobs' (or the dead units') network `i`, on the device when it is there; a failed
    /// device hands it, and the rest of the run, to the CPU from the epoch's start.
    async fn learner_epoch(
        &mut self,
        engine: &mut Engine,
        dead: bool,
        i: usize,
        epoch: u32,
    ) -> Result<()> {
        let rate = self.state.params.blobs.rate as f32;
        let (message, notice) = engine
            .run(
                self,
                async |gpu, run| {
                    let l = if dead {
                        &mut run.dead[i]
                    } else {
                        &mut run.blobs[i]
                    };
                    l.epoch_on(gpu, &run.points, rate, epoch).await
                },
                |run| {
                    run.drop_gpu();
                    let l = if dead {
                        &mut run.dead[i]
                    } else {
                        &mut run.blobs[i]
                    };
                    Ok(l.epoch(&run.points, rate, epoch))
                },
            )
            .await?;
        self.notices.extend(notice);
        self.notices.extend(message);
        Ok(())
    }

    /// Forgets every network on the device (after a GPU failure, which moved the engine to the CPU).
    fn drop_gpu(&mut self) {
        for l in self.blobs.iter_mut().chain(self.dead.iter_mut()) {
            l.gpu = None;
        }
        if let Some(d) = self.digits.as_mut() {
            d.gpu = None;
        }
    }

    fn worked_rows(&self) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
        let w = &self.state.params.worked;
        let xs = [w.x1, w.x2];
        let mut units = [w.w1, w.w2];
        let dot = |a: &[f64; 3], b: &[f64; 3]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        let dist = |a: &[f64; 3], b: &[f64; 3]| {
            libm::sqrt(a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>())
        };
        let pick = |v: [f64; 2], max: bool| {
            if (v[1] > v[0]) == max && v[1] != v[0] {
                2
            } else {
                1
            }
        };
        let before = xs
            .iter()
            .enumerate()
            .map(|(k, x)| {
                let y = [dot(x, &units[0]), dot(x, &units[1])];
                let d = [dist(x, &units[0]), dist(x, &units[1])];
                vec![
                    format!("x{}", ["₁", "₂"][k]),
                    format!("{:.2}", y[0]),
                    format!("{:.2}", y[1]),
                    format!("{:.4}", d[0]),
                    format!("{:.4}", d[1]),
                    format!("{}", pick(y, true)),
                    format!("{}", pick(d, false)),
                ]
            })
            .collect();
        let row = |label: String, units: &[[f64; 3]; 2]| {
            let mut r = vec![label, vector(&units[0]), vector(&units[1])];
            for x in &xs {
                r.push(format!(
                    "{}, {}",
                    number(dot(x, &units[0])),
                    number(dot(x, &units[1]))
                ));
            }
            r
        };
        let mut updates = vec![row("start".into(), &units)];
        for (k, x) in xs.iter().enumerate() {
            let d = [dist(x, &units[0]), dist(x, &units[1])];
            let win = pick(d, false) - 1;
            for (wj, xj) in units[win].iter_mut().zip(x) {
                *wj += w.rate * (xj - *wj);
            }
            updates.push(row(format!("x{} → {}", ["₁", "₂"][k], win + 1), &units));
        }
        (before, updates)
    }

    fn worked_plots(&self) -> [Plot; 2] {
        let (before, updates) = self.worked_rows();
        let table = |id: &str, title: String, columns: &[&str], rows| Plot {
            id: id.into(),
            title,
            x_label: String::new(),
            y_label: String::new(),
            body: PlotBody::Table {
                columns: columns.iter().map(|c| (*c).to_string()).collect(),
                rows,
            },
        };
        [
            table(
                "worked_before",
                "Activations, distances, winners".into(),
                &[
                    "input",
                    "x·w₁",
                    "x·w₂",
                    "‖x−w₁‖",
                    "‖x−w₂‖",
                    "win: x·w",
                    "win: ‖·‖",
                ],
                before,
            ),
            table(
                "worked_updates",
                format!("Updates at α = {}", number(self.state.params.worked.rate)),
                &["after", "w₁", "w₂", "x₁·W", "x₂·W"],
                updates,
            ),
        ]
    }

    /// The blobs coloured by their winner under `l`'s current weights, with the units' paths and the centres.
    fn scatter(&self, id: &str, title: &str, l: Option<&Learner>, by_unit: bool) -> Plot {
        let mut series = Vec::new();
        let range = Some([-0.6, 1.6]);
        if let Some(l) = l {
            let units = l.net.units();
            if by_unit {
                let mut groups = vec![Vec::new(); units];
                for row in self.points.rows() {
                    let x = row.as_slice().unwrap_or(&[]);
                    groups[l.net.winner(x, l.winner)].push([f64::from(x[0]), f64::from(x[1])]);
                }
                for (i, g) in groups.into_iter().enumerate() {
                    series.push(Series {
                        name: format!("unit {}", i + 1),
                        mark: Mark::Scatter,
                        color: Some(translucent(unit_colour(i))),
                        points: g,
                        band: None,
                    });
                }
            } else {
                series.push(Series {
                    name: "points".into(),
                    mark: Mark::Scatter,
                    color: Some("rgba(153, 153, 153, 0.35)".into()),
                    points: self
                        .points
                        .rows()
                        .into_iter()
                        .map(|r| [f64::from(r[0]), f64::from(r[1])])
                        .collect(),
                    band: None,
                });
            }
            for (i, path) in l.paths.iter().enumerate() {
                series.push(Series {
                    name: if by_unit {
                        format!("unit {}", i + 1)
                    } else {
                        String::new()
                    },
                    mark: Mark::Line,
                    color: Some(unit_colour(i).into()),
                    points: path.clone(),
                    band: None,
                });
            }
            series.push(Series {
                name: "centroids".into(),
                mark: Mark::Scatter,
                color: Some(PALETTE[6].into()),
                points: (0..units)
                    .map(|i| [f64::from(l.net.w[[i, 0]]), f64::from(l.net.w[[i, 1]])])
                    .collect(),
                band: None,
            });
        }
        series.push(Series {
            name: "blob centres".into(),
            mark: Mark::Scatter,
            color: Some(REFERENCE.into()),
            points: CENTRES
                .iter()
                .map(|c| [f64::from(c[0]), f64::from(c[1])])
                .collect(),
            band: None,
        });
        Plot {
            id: id.into(),
            title: if l.is_some() {
                title.into()
            } else {
                format!("{title} (not trained)")
            },
            x_label: "x₁".into(),
            y_label: "x₂".into(),
            body: PlotBody::Xy {
                x_range: range,
                y_range: range,
                equal_aspect: true,
                series,
                heatmap: None,
            },
        }
    }

    /// The final centroids and paths of every dead-units variant, each in its colour.
    fn dead_map(&self) -> Plot {
        let mut series = vec![Series {
            name: "points".into(),
            mark: Mark::Scatter,
            color: Some("rgba(153, 153, 153, 0.35)".into()),
            points: self
                .points
                .rows()
                .into_iter()
                .map(|r| [f64::from(r[0]), f64::from(r[1])])
                .collect(),
            band: None,
        }];
        for l in &self.dead {
            for path in &l.paths {
                series.push(Series {
                    name: l.kind.name().into(),
                    mark: Mark::Line,
                    color: Some(l.kind.colour().into()),
                    points: path.clone(),
                    band: None,
                });
            }
            series.push(Series {
                name: l.kind.name().into(),
                mark: Mark::Scatter,
                color: Some(l.kind.colour().into()),
                points: (0..l.net.units())
                    .map(|i| [f64::from(l.net.w[[i, 0]]), f64::from(l.net.w[[i, 1]])])
                    .collect(),
                band: None,
            });
        }
        let range = Some([-0.6, 2.1]);
        Plot {
            id: "dead_map".into(),
            title: "Units' paths and ends".into(),
            x_label: "x₁".into(),
            y_label: "x₂".into(),
            body: PlotBody::Xy {
                x_range: range,
                y_range: range,
                equal_aspect: true,
                series,
                heatmap: None,
            },
        }
    }

    fn error_plot(&self, id: &str, title: &str, learners: &[Learner], epochs: u32) -> Plot {
        Plot {
            id: id.into(),
            title: title.into(),
            x_label: "epoch".into(),
            y_label: "mean distance to nearest unit".into(),
            body: PlotBody::Xy {
                x_range: Some([0.0, f64::from(epochs)]),
                y_range: None,
                equal_aspect: false,
                series: learners
                    .iter()
                    .map(|l| Series {
                        name: l.kind.name().into(),
                        mark: Mark::Trajectory,
                        color: Some(l.kind.colour().into()),
                        points: l.error.clone(),
                        band: None,
                    })
                    .collect(),
                heatmap: None,
            },
        }
    }

    fn dead_wins(&self) -> Plot {
        let units = self.state.params.dead.units as usize;
        Plot {
            id: "dead_wins".into(),
            title: "Wins per unit, last epoch".into(),
            x_label: "unit".into(),
            y_label: "wins".into(),
            body: PlotBody::Bars {
                categories: (1..=units).map(|i| i.to_string()).collect(),
                series: self
                    .dead
                    .iter()
                    .map(|l| BarSeries {
                        name: l.kind.name().into(),
                        values: l.wins.iter().map(|&w| f64::from(w)).collect(),
                        color: Some(l.kind.colour().into()),
                    })
                    .collect(),
            },
        }
    }

    fn digit_plots(&self) -> [Plot; 3] {
        let epochs = self.state.params.digits.epochs;
        let remedy = match self.state.params.digits.remedy {
            Remedy::Plain => Kind::Plain,
            Remedy::Conscience => Kind::Conscience,
            Remedy::Leaky => Kind::Leaky,
        };
        let Some(d) = &self.digits else {
            let off = |id: &str, title: &str| Plot {
                id: id.into(),
                title: format!("{title} (digits off)"),
                x_label: String::new(),
                y_label: String::new(),
                body: PlotBody::Table {
                    columns: vec![],
                    rows: vec![],
                },
            };
            return [
                off("digits_centroids", "Centroids"),
                off("digits_units", "Units"),
                off("digits_error", "Error"),
            ];
        };
        let mut images = Vec::new();
        for (i, near) in d.eval.nearest.iter().enumerate() {
            images.push(Image {
                label: format!("C{}", i + 1),
                pixels: d.net.unit(i).iter().map(|&v| f64::from(v)).collect(),
            });
            for k in 0..NEAREST {
                images.push(match near.get(k) {
                    Some(&(j, _)) => Image {
                        label: d.labels[j].to_string(),
                        pixels: d.x.row(j).iter().map(|&v| f64::from(v)).collect(),
                    },
                    None => Image {
                        label: String::new(),
                        pixels: vec![0.0; 784],
                    },
                });
            }
        }
        let rows = (0..d.net.units())
            .map(|i| {
                let wins = d.eval.wins[i];
                let labels = d.eval.labels[i];
                let (major, count) = labels
                    .iter()
                    .enumerate()
                    .fold((0, 0), |b, (k, &c)| if c > b.1 { (k, c) } else { b });
                if wins == 0 {
                    vec![
                        format!("{}", i + 1),
                        "0".into(),
                        "— (dead)".into(),
                        "—".into(),
                    ]
                } else {
                    vec![
                        format!("{}", i + 1),
                        wins.to_string(),
                        major.to_string(),
                        format!("{:.0}%", 100.0 * f64::from(count) / f64::from(wins)),
                    ]
                }
            })
            .collect();
        let error = Plot {
            id: "digits_error".into(),
            title: "Digits: quantisation error".into(),
            x_label: "epoch".into(),
            y_label: "mean distance to nearest unit".into(),
            body: PlotBody::Xy {
                x_range: Some([0.0, f64::from(epochs)]),
                y_range: None,
                equal_aspect: false,
                series: vec![Series {
                    name: remedy.name().into(),
                    mark: Mark::Trajectory,
                    color: Some(remedy.colour().into()),
                    points: d.error.clone(),
                    band: None,
                }],
                heatmap: None,
            },
        };
        [
            Plot {
                id: "digits_centroids".into(),
                title: "Centroids and their nearest digits".into(),
                x_label: String::new(),
                y_label: String::new(),
                body: PlotBody::Images {
                    cols: 1 + NEAREST as u32,
                    width: 28,
                    height: 28,
                    channels: 1,
                    value_range: [0.0, 1.0],
                    grid: false,
                    images,
                },
            },
            Plot {
                id: "digits_units".into(),
                title: format!("Units: purity {:.0}%", 100.0 * d.eval.purity()),
                x_label: String::new(),
                y_label: String::new(),
                body: PlotBody::Table {
                    columns: ["unit", "digits", "majority", "purity"]
                        .map(String::from)
                        .into(),
                    rows,
                },
            },
            error,
        ]
    }

    /// The largest distance from a blob centre to its nearest centroid.
    fn centre_miss(l: &Learner) -> f64 {
        CENTRES
            .iter()
            .map(|c| {
                (0..l.net.units())
                    .map(|i| {
                        let w = l.net.unit(i);
                        f64::from(squared_distance(&[w[0], w[1]], c)).sqrt()
                    })
                    .fold(f64::INFINITY, f64::min)
            })
            .fold(0.0, f64::max)
    }
}

impl LabRun for Run {
    async fn advance(&mut self, engine: &mut Engine, chunk: &Chunk<'_>) -> Result<Frame> {
        if !self.done() {
            self.place_on_gpu(engine).await?;
        }
        let p = self.state.params.clone();
        let mut todo = chunk.take(p.total() - self.step);
        while todo > 0 && !self.done() {
            let s = self.step;
            if s < p.blobs.epochs + p.dead.epochs {
                let (dead, e) = if s < p.blobs.epochs {
                    (false, s)
                } else {
                    (true, s - p.blobs.epochs)
                };
                let count = if dead {
                    self.dead.len()
                } else {
                    self.blobs.len()
                };
                for i in 0..count {
                    let stopped = if dead { &self.dead } else { &self.blobs }[i].stopped;
                    if !stopped {
                        self.learner_epoch(engine, dead, i, e).await?;
                    }
                }
                self.step += 1;
            } else {
                if self.digits.as_ref().is_some_and(|d| d.stopped) {
                    self.step = p.total();
                    break;
                }
                let (ended, notice) = engine
                    .run(
                        self,
                        async |gpu, run| run.digit_blocks_on(gpu, chunk).await,
                        |run| {
                            // The digits learnt on the device since the epoch's start are lost with it.
                            if let Some(d) = run.digits.as_mut()
                                && d.gpu.is_some()
                            {
                                (d.pos, d.sum) = (0, 0.0);
                            }
                            run.drop_gpu();
                            Ok(run.digit_blocks(chunk))
                        },
                    )
                    .await?;
                if let Some(notice) = notice {
                    self.notices.push(format!(
                        "{notice} The digits learnt on the GPU in this epoch were lost with it: the CPU starts the \
                         epoch again from its start."
                    ));
                }
                if !ended {
                    break;
                }
                self.step += 1;
            }
            todo -= 1;
            if chunk.over() {
                break;
            }
        }
        Ok(self.frame())
    }

    fn frame(&mut self) -> Frame {
        let p = &self.state.params;
        let [before, updates] = self.worked_plots();
        let plain = self.blobs.iter().find(|l| l.kind == Kind::Plain);
        let act = self.blobs.iter().find(|l| l.kind == Kind::Activation);
        let mut plots = vec![
            before,
            updates,
            self.scatter("blobs_distance", "Winner: smallest distance", plain, true),
            self.scatter("blobs_activation", "Winner: largest activation", act, true),
            self.error_plot(
                "blob_error",
                "Blobs: quantisation error",
                &self.blobs,
                p.blobs.epochs,
            ),
            self.dead_map(),
            self.error_plot("dead_error", "Dead units: error", &self.dead, p.dead.epochs),
            self.dead_wins(),
        ];
        plots.extend(self.digit_plots());
        Frame {
            step: u64::from(self.step),
            total: u64::from(p.total()),
            done: self.done(),
            plots,
            metrics: self.metrics(),
            notices: std::mem::take(&mut self.notices),
            datasets: Vec::new(),
        }
    }

    fn metrics(&self) -> Vec<Metric> {
        let mut m = Vec::new();
        let (_, updates) = self.worked_rows();
        if let Some(last) = updates.last() {
            // x₁·w₁ after both updates (the lecture: 1.375).
            if let Some(v) = last[3]
                .split(',')
                .next()
                .and_then(|s| s.trim().parse().ok())
            {
                m.push(Metric::new(
                    "worked example: x₁·w₁ after the updates",
                    v,
                    "",
                ));
            }
        }
        for l in &self.blobs {
            let name = l.kind.name();
            if let Some(first) = l.error.first() {
                m.push(Metric::new(
                    format!("blobs, {name}: error in epoch 1"),
                    first[1],
                    "",
                ));
            }
            m.push(Metric::new(
                format!("blobs, {name}: error in the last epoch"),
                l.last_error(),
                "",
            ));
            m.push(Metric::new(
                format!("blobs, {name}: farthest centre from its nearest centroid"),
                Self::centre_miss(l),
                "",
            ));
            m.push(Metric::new(
                format!("blobs, {name}: dead units"),
                l.dead() as f64,
                "units",
            ));
        }
        for l in &self.dead {
            let name = l.kind.name();
            m.push(Metric::new(
                format!("dead units, {name}: error in the last epoch"),
                l.last_error(),
                "",
            ));
            m.push(Metric::new(
                format!("dead units, {name}: dead units"),
                l.dead() as f64,
                "units",
            ));
        }
        if let Some(d) = &self.digits {
            m.push(Metric::new(
                "digits: error in the last epoch",
                d.error.last().map_or(f64::NAN, |e| e[1]),
                "",
            ));
            m.push(Metric::new("digits: purity", d.eval.purity(), ""));
            m.push(Metric::new(
                "digits: dead units",
                d.eval.dead() as f64,
                "units",
            ));
            m.push(Metric::new(
                "digits: epoch time",
                self.epoch_ms / 1000.0,
                "s",
            ));
            m.push(Metric::new(
                "digits: samples per second",
                self.timing.1 / (self.timing.0 / 1000.0),
                "samples/s",
            ));
        }
        m
    }

    fn reset(&mut self) {
        let data = self.digits.take().map(|d| (d.x, d.labels));
        let mut state = self.state.clone();
        let on = state.params.digits.on;
        state.params.digits.on = false;
        if let Ok(mut fresh) = Run::new(state, None) {
            fresh.state.params.digits.on = on;
            if let Some((x, labels)) = data {
                let p = &fresh.state.params;
                if let Ok(net) = Competitive::normal(
                    p.digits.units as usize,
                    784,
                    p.digits.init_std as f32,
                    fresh.state.seed,
                    2,
                ) {
                    let mut d = Digits {
                        x,
                        labels,
                        net,
                        variant: p.digit_variant(),
                        rate: p.digits.rate as f32,
                        pos: 0,
                        sum: 0.0,
                        error: Vec::new(),
                        eval: DigitEval::default(),
                        stopped: false,
                        gpu: None,
                    };
                    d.evaluate();
                    fresh.digits = Some(d);
                }
            }
            *self = fresh;
        }
    }

    fn done(&self) -> bool {
        self.step >= self.state.params.total()
    }
}
