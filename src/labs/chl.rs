//! Lab "Contrastive Hebbian learning" (004 §5): a layered network of sigmoid units (`nets::chl`) that settles
//! twice per batch, free (the digit clamped) and clamped (the digit and its one-hot label clamped), and learns
//! from the difference of the two phases' Hebbian products. The plots: one test digit's activity over the Euler
//! steps of both phases before training and now, test and training accuracy per epoch against the lecture's
//! 0.9675, the first layer's weights as images, and the test accuracy per class.
//!
//! As the lecture's code does: pixels in [0, 1], one-hot targets, every state starting at 0, ⌈T/dt⌉ Euler steps,
//! weights' updates summed over the batch and biases' averaged, the prediction the argmax of the free phase's
//! output. Where we differ: the training digits are reshuffled every epoch with a seeded order (the lecture's
//! code walks them in one fixed order), the training accuracy is that of the free phases computed for the
//! updates (each batch judged just before it is learnt, as they were seen), and a switch turns the γ^{k−L} rate
//! scaling off for the exercise that asks what it is for.
//!
//! With the GPU engine the phases, updates and tests run on the device (`kernels::chl`, the CPU's numbers within
//! float rounding): the training and test digits are uploaded once, ten batches go into one submit, and the
//! weights and the training hits are read back at each epoch's end for the plots, the traced digit (settled on
//! the CPU from those weights) and the divergence check, which on the GPU is therefore once per epoch.
use super::budget::{Chunk, Cost};
use super::digits::Images;
use super::{Lab, LabRun};
use crate::data::store::{DataStore, Need};
use crate::data::{Dataset, Split, preprocess};
use crate::engine::{Engine, Gpu};
use crate::error::{Error, FieldError, Result};
use crate::kernels::chl::ChlGpu;
use crate::nets::chl::{self, Chl, Settings, Trace};
use crate::protocol::{
    BarSeries, Cell, Frame, Image, LabInfo, Mark, Metric, PALETTE, Plot, PlotBody, REFERENCE,
    Series,
};
use crate::state::{StateDoc, View};
use ndarray::{Array2, Axis};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("x-step" = "batch", "x-steps" = "batches"))]
pub struct Params {
    #[schemars(title = "images")]
    pub images: Images,
    /// Training digits per epoch, taken after a seeded shuffle; the lecture trains on 52,500.
    #[schemars(title = "training images", range(min = 1, max = 60000), extend("x-unit" = "images"))]
    pub train_images: u32,
    /// The first test digits, which the accuracy is measured on.
    #[schemars(title = "test images", range(min = 1, max = 10000), extend("x-unit" = "images"))]
    pub test_images: u32,
    /// Units of each hidden layer, input side first (one to three layers, comma-separated): 784 inputs, these,
    /// then 10 outputs.
    #[schemars(
        title = "hidden layers",
        length(min = 1, max = 3),
        inner(range(min = 1, max = 2000))
    )]
    pub hidden: Vec<u32>,
    /// The feedback gain: how strongly each layer hears the layer above it.
    #[schemars(title = "feedback gain γ", range(min = 0.01, max = 4.0))]
    pub gamma: f64,
    /// The learning rate η; layer k learns at η γ^{k−L} when the scaling is on.
    #[schemars(title = "learning rate η", range(min = 1e-5, max = 1.0))]
    pub rate: f64,
    /// Scale each layer's rate by γ^{k−L}: the layers further from the output, whose phase differences arrive
    /// through more feedback steps of gain γ, learn faster.
    #[schemars(title = "rate scaling γ^(k−L)")]
    pub scale_rates: bool,
    /// The simulated time T of each phase.
    #[schemars(title = "settling time T", range(min = 0.1, max = 100.0))]
    pub time: f64,
    /// The Euler step: each phase takes ⌈T/dt⌉ steps (at most 200).
    #[schemars(title = "Euler step dt", range(min = 0.01, max = 1.0))]
    pub dt: f64,
    /// Digits per update; the weights' update is summed over the batch, as in the lecture's code.
    #[schemars(title = "batch size", range(min = 1, max = 1000), extend("x-unit" = "images"))]
    pub batch: u32,
    #[schemars(title = "epochs", range(min = 1, max = 100))]
    pub epochs: u32,
    /// Which test digit (0: the first) the phase plots trace.
    #[schemars(title = "traced test digit", range(min = 0, max = 9999))]
    pub traced: u32,
}

/// The lab.
pub struct ChlLab;

/// The most Euler steps a phase may take.
pub const MAX_STEPS: usize = 200;
/// The lecture's test accuracy and the training digits it came from.
const LECTURE_ACCURACY: f64 = 0.9675;
/// Hidden units drawn as weight images.
const MAX_UNITS: usize = 36;
/// Test images per block of the evaluation's free phases.
const BLOCK: usize = 1000;
/// Training batches per GPU submit (within a chunk and an epoch).
const GPU_BATCHES: usize = 10;
const CLASSES: usize = 10;
const INPUTS: usize = 784;
/// The largest weight a run keeps learning with. Sigmoid units keep every state in [0, 1] and so every update
/// bounded: a too-high rate does not reach infinity or NaN, it blows the weights up until every unit is pinned at
/// 0 or 1 in both phases and nothing more is learnt (η = 1, γ = 0.05 reaches ±1,257 in one epoch at chance).
/// That is this network's divergence: the run stops there. The default run's weights stay within ±WEIGHTS (see
/// the answer to exercise 1).
const MAX_WEIGHT: f32 = 100.0;

/// The cost model's constants, measured natively on the reference machine (1 epoch of 8,000 digits: the
/// default 2.9 s; 1 Euler step 1.1 s; hidden [16] 1.1 s; batches of 1 or 1,000 within 30 % of the default per
/// image; rounded up, since the machine was shared): nanoseconds per multiply-add, per unit per Euler step (the
/// sigmoid and the Euler step), and per row of a batch per product inside an Euler step (the set-up of a small
/// product, which dominates narrow layers).
const NS_PER_MAC: f64 = 0.4;
const NS_PER_UNIT_STEP: f64 = 25.0;
const NS_PER_ROW_PRODUCT: f64 = 2500.0;

impl Params {
    fn sizes(&self) -> Vec<usize> {
        let mut s = vec![INPUTS];
        s.extend(self.hidden.iter().map(|&h| h as usize));
        s.push(CLASSES);
        s
    }

    fn settings(&self) -> Settings {
        Settings {
            rate: self.rate as f32,
            gamma: self.gamma as f32,
            time: self.time as f32,
            dt: self.dt as f32,
        }
    }

    fn steps(&self) -> usize {
        chl::euler_steps(self.time as f32, self.dt as f32)
    }
}

impl Lab for ChlLab {
    const ID: &'static str = "chl";
    const DEFAULT_SEED: u32 = 0;
    const THEORY: bool = false;
    type Params = Params;
    type Run = Run;

    fn info() -> LabInfo {
        LabInfo {
            id: Self::ID,
            title: "Contrastive Hebbian learning",
            summary: "A layered network with feedback settles twice for every digit, once free and once with the \
                      answer clamped at its output; the difference of the two phases' Hebbian products teaches \
                      it to recognise digits, with no error sent backwards.",
            source: "004_01ab2769c1683046.txt",
        }
    }

    fn cells() -> Vec<Cell> {
        let text = super::text::LabText::parse(include_str!("chl.md"));
        vec![
            text.prose("intro"),
            text.teacher("goals"),
            Cell::Controls {
                title: "Data".into(),
                fields: ["images", "train_images", "test_images"]
                    .map(String::from)
                    .into(),
            },
            Cell::Controls {
                title: "Network and learning".into(),
                fields: [
                    "hidden",
                    "gamma",
                    "rate",
                    "scale_rates",
                    "time",
                    "dt",
                    "batch",
                    "epochs",
                    "traced",
                ]
                .map(String::from)
                .into(),
            },
            Cell::Run,
            Cell::PlotRow {
                ids: vec!["digit".into(), "weights".into()],
            },
            Cell::PlotRow {
                ids: vec!["free_before".into(), "clamped_before".into()],
            },
            Cell::PlotRow {
                ids: vec!["free_now".into(), "clamped_now".into()],
            },
            text.prose("phases"),
            Cell::PlotRow {
                ids: vec!["accuracy".into(), "per_class".into()],
            },
            Cell::Metrics {
                title: "Results".into(),
            },
            text.exercise("ex1"),
            text.exercise("ex2"),
            text.exercise("ex3"),
            text.exercise("ex4"),
            text.exercise("ex5"),
            text.prose("sources"),
        ]
    }

    fn default_params() -> Params {
        Params {
            images: Images::Digits,
            train_images: 8000,
            test_images: 1000,
            hidden: vec![128],
            gamma: 0.5,
            rate: 0.01,
            scale_rates: true,
            time: 10.0,
            dt: 0.5,
            batch: 10,
            epochs: 10,
            traced: 0,
        }
    }

    /// A frame per 50 batches: the progress moves; the plots change at each epoch's end.
    fn default_view() -> View {
        View {
            speed: 50,
            theory: false,
        }
    }

    fn validate(p: &Params) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let steps = p.steps();
        if steps > MAX_STEPS {
            errs.push(FieldError::new(
                "dt",
                format!(
                    "T = {} with dt = {} gives {steps} Euler steps per phase; the limit is {MAX_STEPS}: raise dt or \
                     lower T",
                    p.time, p.dt
                ),
            ));
        }
        if p.traced >= p.test_images {
            errs.push(FieldError::new(
                "traced",
                format!(
                    "the run tests {} digits: trace one of 0 to {}",
                    p.test_images,
                    p.test_images.saturating_sub(1)
                ),
            ));
        }
        if p.batch > p.train_images {
            errs.push(FieldError::new(
                "batch",
                format!(
                    "a batch of {} is more than the {} training images: a pass would have no whole batch",
                    p.batch, p.train_images
                ),
            ));
        }
        errs
    }

    fn cost(p: &Params) -> Cost {
        let sizes: Vec<f64> = p.sizes().iter().map(|&n| n as f64).collect();
        let l = sizes.len() - 1;
        let weights: f64 = sizes.windows(2).map(|w| w[0] * w[1]).sum();
        let first = sizes[0] * sizes[1];
        let last = sizes[l - 1] * sizes[l];
        let units: f64 = sizes[1..].iter().sum();
        // Out-of-range fields reach the model (validation refuses them afterwards): keep the numbers finite.
        let steps = p.steps().min(MAX_STEPS * 10) as f64;
        let test = f64::from(p.test_images);
        let epochs = f64::from(p.epochs);
        let batch = f64::from(p.batch.max(1));
        let trained = epochs * (f64::from(p.train_images) / batch).floor() * batch;
        let evaluated = (epochs + 1.0) * test;
        // Per image and phase: the input's drive once, then in every step the products forward and back through
        // the weights above the first (the clamped phase lacks the output's forward drive); per trained image
        // the update's two products of every weight.
        let free_macs = first + 2.0 * steps * (weights - first);
        let clamped_macs = first + steps * (2.0 * (weights - first) - last);
        let lf = l as f64;
        let free_rows = steps * 2.0 * (lf - 1.0);
        let clamped_rows = steps * (2.0 * lf - 3.0).max(0.0);
        let free_units = steps * units;
        let clamped_units = steps * (units - sizes[l]);
        let params = weights + units;
        Cost::default()
            .work(
                "multiply-adds of training",
                "train_images",
                trained * (free_macs + clamped_macs + 2.0 * weights),
                NS_PER_MAC,
            )
            .work(
                "multiply-adds of testing",
                "test_images",
                evaluated * free_macs,
                NS_PER_MAC,
            )
            .work(
                "unit updates of the Euler steps",
                "dt",
                trained * (free_units + clamped_units) + evaluated * free_units,
                NS_PER_UNIT_STEP,
            )
            .work(
                "products set up in the Euler steps",
                "dt",
                trained * (free_rows + clamped_rows) + evaluated * free_rows,
                NS_PER_ROW_PRODUCT,
            )
            .memory(
                "the network, its copy before each update and its first weights",
                "hidden",
                params * 4.0 * 4.0,
            )
            .memory(
                "the states of both phases for a batch and for a block of test images, and the update",
                "hidden",
                (batch * 3.0 + BLOCK.min(p.test_images as usize) as f64 * 2.0) * (sizes[0] + units) * 4.0
                    + 2.0 * weights * 4.0,
            )
            .memory(
                "the test images",
                "test_images",
                test * sizes[0] * 4.0,
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

/// One evaluated epoch.
#[derive(Clone, Debug)]
struct EpochRow {
    epoch: u32,
    /// The free phases' accuracy on the epoch's training batches, each judged before its update (NaN at 0).
    train_accuracy: f64,
    test_accuracy: f64,
    per_class: Vec<f64>,
}

/// A run: one network over the epochs' batches.
pub struct Run {
    state: StateDoc<Params>,
    data: Arc<Dataset>,
    settings: Settings,
    /// The training digits, in the order of the run's first shuffle.
    train: Vec<usize>,
    /// The current epoch's order.
    order: Vec<usize>,
    test_x: Array2<f32>,
    test_labels: Vec<u8>,
    net: Chl,
    before: Trace,
    now: Trace,
    rows: Vec<EpochRow>,
    /// Right answers and images of the free phases of the epoch in progress.
    running: (usize, usize),
    step: u64,
    /// Milliseconds and images of training, and the last whole epoch's milliseconds.
    timing: (f64, f64),
    epoch_ms: f64,
    epoch_started: f64,
    /// The index of the traced digit among the test digits.
    traced: usize,
    stopped: bool,
    notices: Vec<String>,
    /// The network on the device (with the training and test images) when the engine has a GPU; `net` then holds
    /// the weights read back at the last epoch's end.
    gpu: Option<ChlGpu>,
    /// Whether placing the network on the GPU has been tried.
    placed: bool,
    /// Whether the plots changed since the last frame.
    changed: bool,
}

fn one_hot(labels: &[u8]) -> Array2<f32> {
    Array2::from_shape_fn((labels.len(), CLASSES), |(n, c)| {
        f32::from(u8::from(usize::from(labels[n]) == c))
    })
}

/// Whether every weight and bias is finite and within ±[`MAX_WEIGHT`].
fn tame(net: &Chl) -> bool {
    let ok = |v: &f32| v.abs() <= MAX_WEIGHT;
    net.w.iter().all(|w| w.iter().all(ok)) && net.b.iter().all(|b| b.iter().all(ok))
}

/// The argmax of each row (the first of equal values), as `Chl::predict`.
fn argmax(out: &Array2<f32>) -> Vec<usize> {
    out.rows()
        .into_iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
                    if v > best.1 { (i, v) } else { best }
                })
                .0
        })
        .collect()
}

/// The colour and mark of output unit `c`: the palette's seven colours as lines for the digits 0 to 6, and
/// the first three again dashed for 7 to 9 (one look per class throughout the lab; the legend draws dashes, where
/// it would draw a line with markers like a plain line).
fn class_look(c: usize) -> (&'static str, Mark) {
    if c < PALETTE.len() {
        (PALETTE[c], Mark::Line)
    } else {
        (PALETTE[c - PALETTE.len()], Mark::Dashed)
    }
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
        let mut train = preprocess::shuffled(&data.indices(Split::Train), state.seed, 0);
        train.truncate(p.train_images as usize);
        // Classes in turn, so that fewer test digits than the split holds still cover every class.
        let mut test = preprocess::classes_in_turn(&data, &data.indices(Split::Test));
        test.truncate(p.test_images as usize);
        if train.len() < p.batch as usize || test.is_empty() {
            return Err(Error::Data(format!(
                "{} has {} training and {} test digits; this run needs a batch of {} and a test digit",
                data.name,
                train.len(),
                test.len(),
                p.batch
            )));
        }
        let mut notices = Vec::new();
        // The field's limit is the test images asked for; the data may hold fewer (the shipped set has 997).
        let traced = (p.traced as usize).min(test.len() - 1);
        if traced < p.traced as usize {
            notices.push(format!(
                "{} has {} test digits: the phase plots trace the last one, digit {traced}.",
                data.name,
                test.len()
            ));
        }
        let net = Chl::new(&p.sizes(), state.seed)?;
        let settings = p.settings();
        let test_x = data.rows(&test);
        let test_labels: Vec<u8> = test.iter().map(|&i| data.labels[i]).collect();
        let before = net.trace(
            test_x.row(traced),
            one_hot(&test_labels[traced..=traced]).row(0),
            &settings,
        );
        Ok(Self {
            now: before.clone(),
            before,
            order: Vec::new(),
            state,
            data,
            settings,
            train,
            test_x,
            test_labels,
            net,
            rows: Vec::new(),
            running: (0, 0),
            step: 0,
            timing: (0.0, 0.0),
            epoch_ms: f64::NAN,
            epoch_started: 0.0,
            traced,
            stopped: false,
            notices,
            gpu: None,
            placed: false,
            changed: true,
        })
    }

    fn batch(&self) -> usize {
        self.state.params.batch as usize
    }

    fn batches(&self) -> u64 {
        chl::batches(self.train.len(), self.batch()) as u64
    }

    /// Step 0 tests the untrained network; then one step per batch of every epoch.
    fn total(&self) -> u64 {
        1 + u64::from(self.state.params.epochs) * self.batches()
    }

    fn rates(&self) -> Vec<f32> {
        let l = self.net.layers();
        let s = &self.settings;
        (0..l)
            .map(|k| {
                if self.state.params.scale_rates {
                    chl::layer_rate(s.rate, s.gamma, k, l)
                } else {
                    s.rate
                }
            })
            .collect()
    }

    /// One batch: both phases, the free phase's answers counted for the training accuracy, the update. An
    /// update that leaves non-finite weights is undone and the run stops.
    fn train_step(&mut self, e: u32, b: usize) {
        let idx = &self.order[b * self.batch()..(b + 1) * self.batch()];
        let x = self.data.rows(idx);
        let labels: Vec<u8> = idx.iter().map(|&i| self.data.labels[i]).collect();
        let t = one_hot(&labels);
        let free = self.net.free(x.view(), &self.settings);
        let clamped = self.net.clamped(x.view(), t.view(), &self.settings);
        let l = self.net.layers();
        self.running.0 += argmax(&free[l])
            .iter()
            .zip(&labels)
            .filter(|(p, y)| **p == usize::from(**y))
            .count();
        self.running.1 += labels.len();
        let before = self.net.clone();
        let rates = self.rates();
        self.net.update_with(&free, &clamped, &rates);
        if !tame(&self.net) {
            self.net = before;
            self.stopped = true;
            self.notices.push(format!(
                "Training diverged in epoch {}, batch {}: a weight passed ±{MAX_WEIGHT}, where every unit is pinned \
                 at 0 or 1 and nothing more is learnt. The run stopped there and keeps the weights from before that \
                 update. Lower the learning rate η (or, with the rate scaling on, raise γ) and run again.",
                e + 1,
                b + 1
            ));
        }
    }

    /// Puts the network, the training digits and the test digits on the GPU (once per run, when the engine has
    /// one; a run too large for the device stays on the CPU with a notice).
    async fn place_on_gpu(&mut self, engine: &mut Engine) -> Result<()> {
        if engine.gpu().is_none() || std::mem::replace(&mut self.placed, true) {
            return Ok(());
        }
        let ((), notice) = engine
            .run(
                self,
                async |gpu, run| {
                    let mut x = run.data.rows(&run.train);
                    let mut labels: Vec<u8> =
                        run.train.iter().map(|&i| run.data.labels[i]).collect();
                    x.append(Axis(0), run.test_x.view())
                        .map_err(|e| Error::Gpu(format!("the digits do not stack: {e}")))?;
                    labels.extend_from_slice(&run.test_labels);
                    let rates = run.rates();
                    let block = BLOCK.min(run.test_labels.len());
                    let targets = one_hot(&labels);
                    let dev = ChlGpu::new(
                        gpu,
                        &run.net,
                        &run.settings,
                        &rates,
                        x.view(),
                        targets.view(),
                        run.batch(),
                        block,
                    )
                    .await?;
                    run.gpu = Some(dev);
                    Ok(())
                },
                |_| Ok(()),
            )
            .await?;
        self.notices.extend(notice);
        Ok(())
    }

    /// `count` batches from batch `b` of epoch `e` on the device (or on the CPU when the network is not there).
    /// The weights and the free phases' hits are read back at the epoch's end; weights that passed ±MAX_WEIGHT
    /// (checked then, once per epoch on the GPU) stop the run with the weights of the epoch before.
    async fn train_on_gpu(&mut self, gpu: &Gpu, e: u32, b: usize, count: usize) -> Result<()> {
        let Some(dev) = &self.gpu else {
            for i in 0..count {
                self.train_step(e, b + i);
            }
            return Ok(());
        };
        if b == 0 {
            // Positions among the uploaded digits: the training digits first, in `train`'s order.
            let position: std::collections::HashMap<usize, u32> = self
                .train
                .iter()
                .enumerate()
                .map(|(p, &i)| (i, p as u32))
                .collect();
            let order: Vec<u32> = self.order.iter().map(|i| position[i]).collect();
            dev.set_order(gpu, &order)?;
        }
        dev.train(gpu, b, count).await?;
        if (b + count) as u64 == self.batches() {
            let mut net = self.net.clone();
            let (hits, seen) = dev.download(gpu, &mut net).await?;
            if tame(&net) {
                self.net = net;
                self.running = (hits, seen);
            } else {
                self.gpu = None;
                self.stopped = true;
                self.notices.push(format!(
                    "Training diverged in epoch {}: a weight passed ±{MAX_WEIGHT}, where every unit is pinned at 0 or \
                     1 and nothing more is learnt. On the GPU the weights are checked at each epoch's end: the run \
                     stopped there and keeps the weights from the end of the epoch before. Lower the learning rate η \
                     (or, with the rate scaling on, raise γ) and run again.",
                    e + 1
                ));
            }
        }
        Ok(())
    }

    /// The predicted class of every test digit, on the device when the network is there.
    async fn predictions(&mut self, engine: &mut Engine) -> Result<Vec<usize>> {
        let cpu = |run: &Run| {
            let l = run.net.layers();
            let mut predicted = Vec::with_capacity(run.test_labels.len());
            for rows in run.test_x.axis_chunks_iter(Axis(0), BLOCK) {
                predicted.extend(argmax(&run.net.free(rows, &run.settings)[l]));
            }
            predicted
        };
        let (predicted, notice) = engine
            .run(
                self,
                async |gpu, run| match &run.gpu {
                    Some(dev) => {
                        let from = run.train.len() as u32;
                        let positions: Vec<u32> =
                            (from..from + run.test_labels.len() as u32).collect();
                        Ok(argmax(&dev.outputs(gpu, &positions).await?))
                    }
                    None => Ok(cpu(run)),
                },
                |run| {
                    run.gpu = None;
                    Ok(cpu(run))
                },
            )
            .await?;
        self.notices.extend(notice);
        Ok(predicted)
    }

    /// Closes epoch `epoch` with the test digits' `predicted` classes: the test accuracy (overall and per class),
    /// the training accuracy of its batches, and the traced digit's phases (on the CPU, from the weights read
    /// back).
    fn evaluate(&mut self, epoch: u32, predicted: Vec<usize>) {
        let mut hits = [(0usize, 0usize); CLASSES];
        for (&y, &p) in self.test_labels.iter().zip(&predicted) {
            let h = &mut hits[usize::from(y)];
            h.1 += 1;
            h.0 += usize::from(usize::from(y) == p);
        }
        let right: usize = hits.iter().map(|h| h.0).sum();
        let (seen_right, seen) = std::mem::take(&mut self.running);
        self.rows.push(EpochRow {
            epoch,
            train_accuracy: if seen == 0 {
                f64::NAN
            } else {
                seen_right as f64 / seen as f64
            },
            test_accuracy: right as f64 / predicted.len().max(1) as f64,
            per_class: hits
                .iter()
                .map(|&(r, n)| {
                    if n == 0 {
                        f64::NAN
                    } else {
                        r as f64 / n as f64
                    }
                })
                .collect(),
        });
        let traced = self.traced;
        self.now = self.net.trace(
            self.test_x.row(traced),
            one_hot(&self.test_labels[traced..=traced]).row(0),
            &self.settings,
        );
        self.changed = true;
    }

    fn traced_label(&self) -> usize {
        usize::from(self.test_labels[self.traced])
    }

    /// The output units' activity over the Euler steps of one phase (one look per class), and the hidden
    /// layers' mean activity dashed; every phase plot shares the y range [0, 1].
    fn trace_plot(&self, id: &str, title: String, steps: &[Vec<ndarray::Array1<f32>>]) -> Plot {
        let l = self.net.layers();
        let mut series: Vec<Series> = (0..CLASSES)
            .map(|c| {
                let (color, mark) = class_look(c);
                Series {
                    name: format!("output {c}"),
                    mark,
                    color: Some(color.into()),
                    points: steps
                        .iter()
                        .enumerate()
                        .map(|(t, x)| [t as f64, f64::from(x[l][c])])
                        .collect(),
                    band: None,
                }
            })
            .collect();
        for k in 1..l {
            let name = if l == 2 {
                "hidden mean".to_string()
            } else {
                format!("hidden {k} mean")
            };
            series.push(Series {
                name,
                mark: Mark::Dashed,
                color: Some(REFERENCE.into()),
                points: steps
                    .iter()
                    .enumerate()
                    .map(|(t, x)| [t as f64, f64::from(x[k].mean().unwrap_or(0.0))])
                    .collect(),
                band: None,
            });
        }
        Plot {
            id: id.into(),
            title,
            x_label: format!("Euler step (dt = {})", self.state.params.dt),
            y_label: "activity".into(),
            body: PlotBody::Xy {
                x_range: Some([0.0, steps.len().saturating_sub(1).max(1) as f64]),
                y_range: Some([0.0, 1.0]),
                equal_aspect: false,
                series,
                heatmap: None,
            },
        }
    }

    fn trace_plots(&self) -> Vec<Plot> {
        let y = self.traced_label();
        let epoch = self.rows.last().map_or(0, |r| r.epoch);
        vec![
            self.trace_plot(
                "free_before",
                "Free phase, untrained".into(),
                &self.before.free,
            ),
            self.trace_plot(
                "clamped_before",
                format!("Clamped phase (target {y}), untrained"),
                &self.before.clamped,
            ),
            self.trace_plot(
                "free_now",
                format!("Free phase after epoch {epoch}"),
                &self.now.free,
            ),
            self.trace_plot(
                "clamped_now",
                format!("Clamped phase (target {y}) after epoch {epoch}"),
                &self.now.clamped,
            ),
        ]
    }

    fn digit_plot(&self) -> Plot {
        let traced = self.traced;
        Plot {
            id: "digit".into(),
            title: format!(
                "Traced test digit {traced}: a {} ({} Euler steps per phase)",
                self.traced_label(),
                self.settings.steps()
            ),
            x_label: String::new(),
            y_label: String::new(),
            body: PlotBody::Images {
                cols: 1,
                width: 28,
                height: 28,
                channels: 1,
                value_range: [0.0, 1.0],
                grid: false,
                images: vec![Image {
                    label: format!("label {}", self.traced_label()),
                    pixels: self
                        .test_x
                        .row(traced)
                        .iter()
                        .map(|&v| f64::from(v))
                        .collect(),
                }],
            },
        }
    }

    fn accuracy_plot(&self) -> Plot {
        let epochs = f64::from(self.state.params.epochs);
        let curve = |name: &str, mark, color: &str, pick: fn(&EpochRow) -> f64| Series {
            name: name.into(),
            mark,
            color: Some(color.into()),
            points: self
                .rows
                .iter()
                .map(|r| [f64::from(r.epoch), pick(r)])
                .filter(|p| p[1].is_finite())
                .collect(),
            band: None,
        };
        // Both references are grey (neither is a variant of the run); the lecture's figure is solid and chance
        // dashed, so that the legend tells them apart.
        let line = |name: &str, mark, y| Series::reference(name, mark, epochs, y);
        Plot {
            id: "accuracy".into(),
            title: "Accuracy per epoch".into(),
            x_label: "epoch (0: untrained)".into(),
            y_label: "accuracy".into(),
            body: PlotBody::Xy {
                x_range: Some([0.0, epochs]),
                y_range: Some([0.0, 1.0]),
                equal_aspect: false,
                series: vec![
                    curve("test", Mark::Trajectory, PALETTE[0], |r| r.test_accuracy),
                    curve("training (as seen)", Mark::Line, PALETTE[1], |r| {
                        r.train_accuracy
                    }),
                    line(
                        "lecture: 0.9675 (52,500 training images)",
                        Mark::Line,
                        LECTURE_ACCURACY,
                    ),
                    line("chance (1 in 10)", Mark::Dashed, 0.1),
                ],
                heatmap: None,
            },
        }
    }

    /// The first layer's weights of the first hidden units as 28×28 images, black −m, white +m.
    fn weights_plot(&self) -> Plot {
        let w = &self.net.w[0];
        let units = w.ncols().min(MAX_UNITS);
        let top = w.iter().fold(1e-12f32, |m, v| m.max(v.abs())) as f64;
        let shown = if units < w.ncols() {
            format!("first {units} of {} units", w.ncols())
        } else {
            format!("{units} units")
        };
        Plot {
            id: "weights".into(),
            title: format!("First-layer weights, {shown} (±{top:.2})"),
            x_label: String::new(),
            y_label: String::new(),
            body: PlotBody::Images {
                cols: (units as f64).sqrt().ceil() as u32,
                width: 28,
                height: 28,
                channels: 1,
                value_range: [-top, top],
                grid: false,
                images: w
                    .axis_iter(Axis(1))
                    .take(units)
                    .map(|col| Image {
                        label: String::new(),
                        pixels: col.iter().map(|&v| f64::from(v)).collect(),
                    })
                    .collect(),
            },
        }
    }

    fn per_class_plot(&self) -> Plot {
        let last = self.rows.last();
        Plot {
            id: "per_class".into(),
            title: format!(
                "Test accuracy per class, epoch {}",
                last.map_or(0, |r| r.epoch)
            ),
            x_label: "class".into(),
            y_label: "accuracy".into(),
            body: PlotBody::Bars {
                categories: (0..CLASSES).map(|c| c.to_string()).collect(),
                series: vec![BarSeries {
                    name: "test".into(),
                    values: last.map_or(vec![0.0; CLASSES], |r| {
                        r.per_class
                            .iter()
                            .map(|v| if v.is_finite() { *v } else { 0.0 })
                            .collect()
                    }),
                    color: Some(PALETTE[0].into()),
                }],
            },
        }
    }

    fn plots(&self) -> Vec<Plot> {
        let mut plots = vec![self.digit_plot()];
        plots.extend(self.trace_plots());
        plots.push(self.accuracy_plot());
        plots.push(self.weights_plot());
        plots.push(self.per_class_plot());
        plots
    }

    fn make_frame(&mut self, all: bool) -> Frame {
        let plots = if std::mem::take(&mut self.changed) || all {
            self.plots()
        } else {
            Vec::new()
        };
        Frame {
            step: self.step,
            total: self.total(),
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
        if self.step < self.total() {
            self.place_on_gpu(engine).await?;
        }
        let mut todo = chunk.take(u32::try_from(self.total() - self.step).unwrap_or(u32::MAX));
        while todo > 0 && !self.done() {
            let mut count = 1;
            if self.step == 0 {
                let predicted = self.predictions(engine).await?;
                self.evaluate(0, predicted);
            } else {
                let n = self.batches();
                let (e, b) = (((self.step - 1) / n) as u32, ((self.step - 1) % n) as usize);
                let t0 = chunk.now();
                if b == 0 {
                    self.epoch_started = self.timing.0;
                    self.order = preprocess::shuffled(&self.train, self.state.seed, 1 + e);
                }
                if self.gpu.is_some() {
                    // Several batches per submit, within the chunk and the epoch.
                    count = GPU_BATCHES.min(todo as usize).min((n - b as u64) as usize);
                    let ((), notice) = engine
                        .run(
                            self,
                            async |gpu, run| run.train_on_gpu(gpu, e, b, count).await,
                            |run| {
                                // The device's weights since the last epoch's end are lost with it.
                                run.gpu = None;
                                run.running = (0, 0);
                                for i in 0..count {
                                    run.train_step(e, b + i);
                                }
                                Ok(())
                            },
                        )
                        .await?;
                    if let Some(notice) = notice {
                        self.notices.push(format!(
                            "{notice} The batches learnt on the GPU since the last epoch's end were lost with it: \
                             the CPU goes on from the weights of epoch {e}'s end."
                        ));
                    }
                } else {
                    self.train_step(e, b);
                }
                self.timing.0 += chunk.now() - t0;
                self.timing.1 += (self.batch() * count) as f64;
                let last = (b + count) as u64 == n;
                if self.stopped || last {
                    if last {
                        self.epoch_ms = self.timing.0 - self.epoch_started;
                    }
                    let predicted = self.predictions(engine).await?;
                    self.evaluate(e + 1, predicted);
                }
            }
            self.step += count as u64;
            todo -= count as u32;
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
        let last = self.rows.last();
        vec![
            Metric::new(
                "test accuracy",
                100.0 * last.map_or(f64::NAN, |r| r.test_accuracy),
                "%",
            ),
            Metric::new(
                "training accuracy",
                100.0 * last.map_or(f64::NAN, |r| r.train_accuracy),
                "%",
            ),
            Metric::new("epoch time", self.epoch_ms / 1000.0, "s"),
            Metric::new(
                "images per second",
                self.timing.1 / (self.timing.0 / 1000.0),
                "images/s",
            ),
            Metric::new("Euler steps per phase", self.settings.steps() as f64, ""),
        ]
    }

    fn reset(&mut self) {
        if let Ok(fresh) = Run::with_data(self.state.clone(), self.data.clone()) {
            *self = fresh;
        }
    }

    fn done(&self) -> bool {
        self.stopped || self.step >= self.total()
    }
}
