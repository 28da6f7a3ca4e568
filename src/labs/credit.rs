//! Lab "Credit assignment" (003): one multilayer perceptron on digits, trained side by side by several learning
//! rules from the same initial weights over the same batches (`nets::mlp`), with the metrics that tell the rules
//! apart: loss and accuracy curves, accuracy per class, the first layer's weights before and after, the
//! gradient signal-to-noise ratio of each rule before training, each rule's cosine similarity to backprop per
//! layer per epoch, and the angle between the feedback matrix and W₂ᵀ for feedback alignment and Kolen-Pollack.
//! After training, "which rule is this?": short runs of every rule with other seeds, and a linear classifier
//! (`nets::metric_classifier`) that guesses each run's rule from its metrics, cross-validated by seed.
//!
//! As the notebook does: inputs standardised by MNIST's mean and deviation (0.1307, 0.3081), classes restricted
//! to the first k digits, epoch 0 a baseline without training, training loss and accuracy averaged over the
//! epoch's batches as they were seen, validation after each epoch, cosine similarities on the validation
//! batches. Where we differ: the shuffled batch order is seeded (the same for every rule), and a class can be
//! withheld from training for the first epochs (the notebook's non-stationary scenario, which it leaves as an
//! exercise).
//!
//! With a GPU engine, every rule trains on the device (`kernels::mlp`): the weights stay there through an epoch
//! and come back at its end with the epoch's summed loss and hits, so the curves, pictures and angles move once
//! per epoch; evaluation, the metrics and the rule-identification runs use the CPU.
use super::budget::{Chunk, Cost};
use super::digits::Images;
use super::{Lab, LabRun};
use crate::data::store::{DataStore, Need};
use crate::data::view::dataset_view;
use crate::data::{Dataset, Split, preprocess};
use crate::engine::Engine;
use crate::error::{Error, FieldError, Result};
use crate::kernels::mlp::MlpGpu;
use crate::nets::linear::argmax_rows;
use crate::nets::metric_classifier::{leave_one_group_out, principal_plane};
use crate::nets::mlp::{self, Activation, Mlp, Rule, Sgd};
use crate::nets::probe::Confusion;
use crate::protocol::{
    BarSeries, Cell, DatasetView, Frame, Image, LabInfo, Mark, Metric, PALETTE, Plot, PlotBody,
    Series,
};
use crate::state::{StateDoc, View};
use ndarray::{Array2, Axis, s};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The learning rules, in the order the lab lists and colours them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    #[schemars(title = "backprop")]
    Backprop,
    #[schemars(title = "Hebbian")]
    Hebbian,
    #[schemars(title = "Hebbian + backprop (hybrid)")]
    Hybrid,
    #[schemars(title = "node perturbation")]
    NodePerturbation,
    #[schemars(title = "weight perturbation")]
    WeightPerturbation,
    #[schemars(title = "feedback alignment")]
    FeedbackAlignment,
    #[schemars(title = "Kolen-Pollack")]
    KolenPollack,
}

const KINDS: [RuleKind; 7] = [
    RuleKind::Backprop,
    RuleKind::Hebbian,
    RuleKind::Hybrid,
    RuleKind::NodePerturbation,
    RuleKind::WeightPerturbation,
    RuleKind::FeedbackAlignment,
    RuleKind::KolenPollack,
];

impl RuleKind {
    fn name(self) -> &'static str {
        match self {
            Self::Backprop => "backprop",
            Self::Hebbian => "Hebbian",
            Self::Hybrid => "hybrid",
            Self::NodePerturbation => "node perturbation",
            Self::WeightPerturbation => "weight perturbation",
            Self::FeedbackAlignment => "feedback alignment",
            Self::KolenPollack => "Kolen-Pollack",
        }
    }

    /// One colour per rule across the lab (seven rules, seven palette colours); the default experiment's four
    /// rules get the four most distinct (blue, orange, green, black).
    fn colour(self) -> &'static str {
        PALETTE[match self {
            Self::Backprop => 0,
            Self::Hebbian => 1,
            Self::FeedbackAlignment => 2,
            Self::KolenPollack => 6,
            Self::Hybrid => 3,
            Self::NodePerturbation => 4,
            Self::WeightPerturbation => 5,
        }]
    }

    /// Whether the rule sends errors back through a feedback matrix.
    fn has_feedback(self) -> bool {
        matches!(self, Self::FeedbackAlignment | Self::KolenPollack)
    }
}

/// Which rules train, each its own copy of the same initial network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// The loss's exact gradient, sent back through W₂ᵀ.
    #[schemars(title = "backprop")]
    pub backprop: bool,
    /// Each layer moves by the outer product of its output and its input (see the Hebbian settings).
    #[schemars(title = "Hebbian")]
    pub hebbian: bool,
    /// Hebbian first layer, backprop second layer.
    #[schemars(title = "Hebbian + backprop (hybrid)")]
    pub hybrid: bool,
    /// The units' inputs are jittered; the change of the loss, times the jitter, estimates the gradient.
    #[schemars(title = "node perturbation")]
    pub node_perturbation: bool,
    /// Every weight is jittered at once; the change of the loss, times the jitter, estimates the gradient.
    #[schemars(title = "weight perturbation")]
    pub weight_perturbation: bool,
    /// Backprop with the error sent back through a fixed random matrix B instead of W₂ᵀ.
    #[schemars(title = "feedback alignment")]
    pub feedback_alignment: bool,
    /// Feedback alignment where B learns with W₂'s update transposed and the same weight decay.
    #[schemars(title = "Kolen-Pollack")]
    pub kolen_pollack: bool,
}

impl Rules {
    fn chosen(&self) -> Vec<RuleKind> {
        let on = [
            self.backprop,
            self.hebbian,
            self.hybrid,
            self.node_perturbation,
            self.weight_perturbation,
            self.feedback_alignment,
            self.kolen_pollack,
        ];
        super::switched_on(KINDS, on)
    }
}

/// The Hebbian rule's settings (also the hybrid's first layer).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Hebbian {
    /// The output layer learns from the one-hot targets instead of its own output: the only place labels enter.
    #[schemars(title = "clamp the outputs to the targets")]
    pub clamp: bool,
    /// Oja's rule, Δw = ⟨y (x − y w)⟩, instead of Hebb's Δw = ⟨y x⟩ (not used by the hybrid).
    #[schemars(title = "Oja's rule")]
    pub oja: bool,
    /// Hebbian updates are far larger than gradients, so their rates are far smaller.
    #[schemars(title = "learning rate, first layer", range(min = 1e-8, max = 1.0))]
    pub lr1: f64,
    #[schemars(title = "learning rate, second layer", range(min = 1e-8, max = 1.0))]
    pub lr2: f64,
}

/// Whether a class is left out of the first epochs (non-stationary data).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WithheldKind {
    /// Every class from the start.
    #[schemars(title = "off")]
    Off,
    /// One class is missing from the training images until a later epoch.
    #[schemars(title = "withhold one class")]
    Withhold,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Withheld {
    #[schemars(title = "non-stationary data")]
    pub kind: WithheldKind,
    #[schemars(title = "withheld class", range(min = 0, max = 9), extend("x-when" = "withhold"))]
    pub class: u32,
    /// The first epoch whose training images include the class again.
    #[schemars(
        title = "introduced at epoch",
        range(min = 2, max = 100),
        extend("x-when" = "withhold")
    )]
    pub from_epoch: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("x-step" = "batch", "x-steps" = "batches"))]
pub struct Params {
    #[schemars(title = "images")]
    pub images: Images,
    /// Keep the digits 0 to k − 1: the network has k outputs.
    #[schemars(title = "classes", range(min = 2, max = 10))]
    pub classes: u32,
    /// Training digits (of the kept classes) per epoch, taken after a seeded shuffle.
    #[schemars(title = "training images", range(min = 1, max = 60000), extend("x-unit" = "images"))]
    pub train_images: u32,
    #[schemars(title = "validation images", range(min = 1, max = 20000), extend("x-unit" = "images"))]
    pub valid_images: u32,
    /// Subtract MNIST's mean pixel (0.1307) and divide by its deviation (0.3081), as the notebook does.
    #[schemars(title = "standardise the pixels")]
    pub standardise: bool,
    #[schemars(title = "hidden units", range(min = 1, max = 2000))]
    pub hidden: u32,
    #[schemars(title = "hidden activation")]
    pub activation: Activation,
    #[schemars(title = "biases")]
    pub bias: bool,
    #[schemars(title = "learning rules")]
    pub rules: Rules,
    #[schemars(title = "Hebbian settings")]
    pub hebbian: Hebbian,
    /// The standard deviation of the jitter of node and weight perturbation.
    #[schemars(title = "perturbation size σ", range(min = 1e-5, max = 1.0))]
    pub sigma: f64,
    /// The learning rate of both layers for backprop, perturbation, feedback alignment and Kolen-Pollack, and of
    /// the hybrid's second layer.
    #[schemars(title = "learning rate", range(min = 1e-6, max = 10.0))]
    pub lr: f64,
    /// Every step also shrinks each weight by rate × decay × weight.
    #[schemars(title = "weight decay", range(min = 0.0, max = 1.0))]
    pub weight_decay: f64,
    /// Images per update; 1 is online learning.
    #[schemars(title = "batch size", range(min = 1, max = 1024), extend("x-unit" = "images"))]
    pub batch: u32,
    /// Epochs of training after epoch 0, the untrained baseline.
    #[schemars(title = "epochs", range(min = 1, max = 100))]
    pub epochs: u32,
    #[schemars(title = "non-stationary data")]
    pub withheld: Withheld,
    /// Validation digits whose single-example updates measure each rule's gradient signal-to-noise ratio on
    /// the untrained network (0: not measured).
    #[schemars(title = "examples for the gradient SNR", range(min = 0, max = 2000), extend("x-unit" = "images"))]
    pub snr_examples: u32,
    /// Which rule's network the weight images and the examples by predicted class show.
    #[schemars(title = "pictures of")]
    pub pictures: RuleKind,
    /// After training, short seeded runs of every rule and a classifier that guesses the rule from their
    /// metrics. Links made before it existed run it with the defaults.
    #[serde(default)]
    #[schemars(title = "identification runs")]
    pub identify: Identify,
}

/// Whether the rule-identification runs follow the training.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdentifyKind {
    #[schemars(title = "off")]
    Off,
    /// Train every chosen rule again with other seeds, then guess each run's rule from its metrics.
    #[schemars(title = "after training")]
    Run,
}

/// The "which rule is this?" experiment: `runs` runs of every chosen rule (seeds seed + 1 to seed + runs, the
/// lab's settings but these images and epochs, on the CPU), each described by a vector of metrics per epoch; a
/// linear classifier fitted on the other seeds' runs guesses the rule of each run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Identify {
    #[schemars(title = "identify the rules")]
    pub kind: IdentifyKind,
    /// Seeds, each giving one run of every chosen rule; each seed's runs are guessed by a classifier fitted on
    /// the other seeds' runs.
    #[schemars(title = "seeds", range(min = 2, max = 50), extend("x-when" = "run"))]
    pub runs: u32,
    #[schemars(
        title = "training images per run",
        range(min = 10, max = 60000),
        extend("x-when" = "run", "x-unit" = "images")
    )]
    pub train_images: u32,
    #[schemars(title = "epochs per run", range(min = 1, max = 20), extend("x-when" = "run"))]
    pub epochs: u32,
    /// Training loss and validation accuracy after each epoch.
    #[schemars(title = "metrics: performance", extend("x-when" = "run"))]
    pub performance: bool,
    /// How far each layer's weights moved in each epoch, relative to their size.
    #[schemars(title = "metrics: weight changes", extend("x-when" = "run"))]
    pub weights: bool,
    /// Mean and spread of the hidden units' activity on the validation digits after each epoch.
    #[schemars(title = "metrics: hidden activity", extend("x-when" = "run"))]
    pub activity: bool,
}

impl Default for Identify {
    fn default() -> Self {
        Self {
            kind: IdentifyKind::Run,
            runs: 6,
            train_images: 500,
            epochs: 2,
            performance: true,
            weights: true,
            activity: true,
        }
    }
}

impl Params {
    /// Whether the rule-identification runs follow the training: asked for, and two rules or more to tell
    /// apart (with one, the plots say so; refusing the state would block every one-rule experiment).
    fn identifies(&self) -> bool {
        self.identify.kind == IdentifyKind::Run && self.rules.chosen().len() >= 2
    }
}

impl Identify {
    /// The metrics per epoch chosen, as indices into [`Run::identify_metrics`]'s six.
    fn columns(&self) -> Vec<usize> {
        [self.performance, self.weights, self.activity]
            .iter()
            .enumerate()
            .filter(|(_, on)| **on)
            .flat_map(|(g, _)| [2 * g, 2 * g + 1])
            .collect()
    }
}

/// The lab.
pub struct Credit;

/// Nanoseconds per multiply-add of the network's matrix products with the work around them, natively on the
/// reference machine and in the page's CPU engine (measured with the default state).
const NS_PER_MAC: f64 = 0.1;
const BROWSER_NS_PER_MAC: f64 = 0.45;
/// Nanoseconds per normal number drawn for weight perturbation.
const NS_PER_DRAW: f64 = 6.0;
/// The notebook's standardisation of MNIST pixels.
const MNIST_MEAN: f32 = 0.1307;
const MNIST_STD: f32 = 0.3081;
/// Examples per predicted class in the examples plot, and hidden units drawn as weight images.
const PER_CLASS: usize = 8;
const MAX_UNITS: usize = 100;
/// Feedback angles recorded per epoch.
const ANGLES_PER_EPOCH: usize = 10;
/// Images per block of the evaluations' forward passes.
const BLOCK: usize = 1024;
/// Nanoseconds per weight per rule per update beyond the products (the optimiser, the copy kept to undo a
/// diverging step, the update's allocation): what dominates online learning.
const NS_PER_WEIGHT_UPDATE: f64 = 3.0;
/// The most validation digits of each rule-identification run (drawn like the lab's, with the run's seed).
const IDENTIFY_VALID: usize = 500;
/// The metrics of an epoch of a rule-identification run: training loss, validation accuracy, the relative
/// change of each layer's weights, and the mean and deviation of the hidden activity.
const IDENTIFY_METRICS: usize = 6;

/// The counter offset of the perturbations drawn on validation batches (training steps count from 0).
const VALID_STEPS: u64 = 1 << 40;

impl Lab for Credit {
    const ID: &'static str = "credit";
    const DEFAULT_SEED: u32 = 1;
    const THEORY: bool = false;
    type Params = Params;
    type Run = Run;

    fn info() -> LabInfo {
        LabInfo {
            id: Self::ID,
            title: "Credit assignment: learning rules beyond backprop",
            summary: "One small network learns digits by backprop, by Hebbian learning, by perturbing its units or \
                      weights, and by sending its errors back through random or learnt feedback; their gradient \
                      noise and agreement with backprop show why some rules learn and others do not.",
            source: "003_23940436095eb99d.txt",
        }
    }

    fn cells() -> Vec<Cell> {
        let text = super::text::LabText::parse(include_str!("credit.md"));
        vec![
            text.prose("intro"),
            text.teacher("goals"),
            Cell::Controls {
                title: "Data".into(),
                fields: [
                    "images",
                    "classes",
                    "train_images",
                    "valid_images",
                    "standardise",
                    "withheld",
                ]
                .map(String::from)
                .into(),
            },
            Cell::Dataset { id: "data".into() },
            text.prose("network"),
            Cell::Controls {
                title: "Network and learning rules".into(),
                fields: [
                    "hidden",
                    "activation",
                    "bias",
                    "rules",
                    "lr",
                    "hebbian",
                    "sigma",
                    "weight_decay",
                    "batch",
                    "epochs",
                    "snr_examples",
                    "pictures",
                ]
                .map(String::from)
                .into(),
            },
            Cell::Controls {
                title: "After training: which rule is this?".into(),
                fields: vec!["identify".into()],
            },
            Cell::Run,
            Cell::PlotRow {
                ids: vec!["loss".into(), "accuracy".into()],
            },
            Cell::Plot {
                id: "per_class".into(),
            },
            Cell::Metrics {
                title: "Results".into(),
            },
            text.exercise("ex1"),
            text.prose("weights"),
            Cell::PlotRow {
                ids: vec![
                    "weights_before".into(),
                    "weights_after".into(),
                    "weights_change".into(),
                ],
            },
            Cell::Plot {
                id: "predicted".into(),
            },
            text.exercise("ex2"),
            text.exercise("ex3"),
            text.prose("metrics"),
            Cell::Plot { id: "snr".into() },
            Cell::PlotRow {
                ids: vec!["cosine_1".into(), "cosine_2".into()],
            },
            Cell::Plot { id: "angle".into() },
            text.exercise("ex4"),
            text.exercise("ex5"),
            text.exercise("ex6"),
            text.prose("identify"),
            Cell::PlotRow {
                ids: vec!["identify_confusion".into(), "identify_plane".into()],
            },
            text.exercise("ex7"),
            text.prose("sources"),
        ]
    }

    fn default_params() -> Params {
        Params {
            images: Images::Digits,
            classes: 10,
            train_images: 8000,
            valid_images: 1000,
            standardise: true,
            hidden: 100,
            activation: Activation::Sigmoid,
            bias: false,
            rules: Rules {
                backprop: true,
                hebbian: true,
                hybrid: false,
                node_perturbation: false,
                weight_perturbation: false,
                feedback_alignment: true,
                kolen_pollack: true,
            },
            hebbian: Hebbian {
                clamp: true,
                oja: false,
                lr1: 1e-4,
                lr2: 1e-4,
            },
            sigma: 1e-2,
            lr: 0.01,
            weight_decay: 0.0,
            batch: 32,
            epochs: 4,
            withheld: Withheld {
                kind: WithheldKind::Off,
                class: 9,
                from_epoch: 3,
            },
            snr_examples: 500,
            pictures: RuleKind::Backprop,
            identify: Identify::default(),
        }
    }

    /// A frame per 25 batches: the curves move within an epoch's evaluation, the weights as they learn.
    fn default_view() -> View {
        View {
            speed: 25,
            theory: false,
        }
    }

    fn validate(p: &Params) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let chosen = p.rules.chosen();
        if chosen.is_empty() {
            errs.push(FieldError::new(
                "rules",
                "choose at least one learning rule",
            ));
        } else if !chosen.contains(&p.pictures) {
            errs.push(FieldError::new(
                "pictures",
                format!(
                    "{} is not among the rules that train; choose one of: {}",
                    p.pictures.name(),
                    chosen
                        .iter()
                        .map(|k| k.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        if p.identify.kind == IdentifyKind::Run && p.identify.columns().is_empty() {
            errs.push(FieldError::new(
                "identify/performance",
                "choose at least one kind of metric for the classifier",
            ));
        }
        if p.withheld.kind == WithheldKind::Withhold {
            if p.withheld.class >= p.classes {
                errs.push(FieldError::new(
                    "withheld/class",
                    format!(
                        "the run keeps classes 0 to {}; the withheld class must be one of them",
                        p.classes.saturating_sub(1)
                    ),
                ));
            }
            if p.withheld.from_epoch > p.epochs {
                errs.push(FieldError::new(
                    "withheld/from_epoch",
                    format!(
                        "the run trains {} epochs; the class must come back by epoch {} at the latest",
                        p.epochs, p.epochs
                    ),
                ));
            }
        }
        errs
    }

    fn cost(p: &Params) -> Cost {
        let (inputs, hidden, classes) = (784.0, f64::from(p.hidden), f64::from(p.classes));
        let macs = inputs * hidden + hidden * classes;
        let params = macs + hidden + classes;
        let chosen = p.rules.chosen();
        let rules = chosen.len() as f64;
        let train = f64::from(p.train_images);
        let valid = f64::from(p.valid_images);
        let epochs = f64::from(p.epochs);
        let steps = epochs * (train / f64::from(p.batch)).ceil();
        let wp = f64::from(u8::from(p.rules.weight_perturbation));
        let snr = f64::from(p.snr_examples);
        let id = &p.identify;
        let identify_runs = if p.identifies() {
            f64::from(id.runs)
        } else {
            0.0
        };
        let identify_valid = valid.min(IDENTIFY_VALID as f64);
        Cost::default()
            .work_in(
                "multiply-adds of training",
                "train_images",
                3.0 * rules * epochs * train * macs,
                NS_PER_MAC,
                BROWSER_NS_PER_MAC,
            )
            .work_in(
                "multiply-adds of validation and the cosine similarities",
                "valid_images",
                7.0 * rules * (epochs + 1.0) * valid * macs + train * macs * rules,
                NS_PER_MAC,
                BROWSER_NS_PER_MAC,
            )
            .work_in(
                "multiply-adds of the single-example updates for the gradient SNR",
                "snr_examples",
                4.0 * rules * snr * macs,
                NS_PER_MAC,
                BROWSER_NS_PER_MAC,
            )
            .work(
                "per-update work on every weight (optimiser, copies)",
                "batch",
                rules
                    * (steps + (epochs + 1.0) * 2.0 * (valid / f64::from(p.batch)).ceil())
                    * params,
                NS_PER_WEIGHT_UPDATE,
            )
            .work(
                "random numbers of weight perturbation",
                "batch",
                wp * (steps + snr + epochs * (valid / f64::from(p.batch)).ceil()) * params,
                NS_PER_DRAW,
            )
            .work_in(
                "multiply-adds of the rule-identification runs",
                "identify/runs",
                identify_runs
                    * rules
                    * f64::from(id.epochs)
                    * (3.0 * f64::from(id.train_images) + 2.0 * identify_valid)
                    * macs,
                NS_PER_MAC,
                BROWSER_NS_PER_MAC,
            )
            .work(
                "per-update work on every weight in the rule-identification runs",
                "identify/runs",
                identify_runs
                    * rules
                    * f64::from(id.epochs)
                    * (f64::from(id.train_images) / f64::from(p.batch)).ceil()
                    * params,
                NS_PER_WEIGHT_UPDATE,
            )
            .work(
                "random numbers of weight perturbation in the rule-identification runs",
                "identify/runs",
                wp * identify_runs
                    * f64::from(id.epochs)
                    * (f64::from(id.train_images) / f64::from(p.batch)).ceil()
                    * params,
                NS_PER_DRAW,
            )
            .memory(
                "the networks, their updates and first weights",
                "hidden",
                rules * params * 4.0 * 6.0,
            )
            .memory(
                "the activations of a batch and of a block of evaluated images",
                "hidden",
                (f64::from(p.batch) + BLOCK as f64) * (inputs + 3.0 * hidden + 3.0 * classes) * 4.0,
            )
            .memory(
                "a rule-identification run's networks, their weights a step and an epoch before, and its \
                 validation images",
                "identify/kind",
                f64::from(u8::from(p.identifies()))
                    * (rules * params * 4.0 * 8.0 + identify_valid * inputs * 4.0),
            )
            .memory(
                "the validation images",
                "valid_images",
                valid * inputs * 4.0,
            )
            .memory(
                "the running statistics of the gradient SNR",
                "hidden",
                params * 16.0,
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

/// One evaluated epoch of one rule.
#[derive(Clone, Debug)]
struct EpochRow {
    epoch: u32,
    train_loss: f64,
    train_accuracy: f64,
    valid_loss: f64,
    valid_accuracy: f64,
    /// Validation accuracy per class.
    per_class: Vec<f64>,
    /// Cosine similarity of the rule's update to backprop's gradient on the validation batches, per layer.
    cosine: [f64; 2],
}

/// One rule's network and records.
struct Learner {
    kind: RuleKind,
    rule: Rule,
    net: Mlp,
    opt: Sgd,
    /// Stopped after a step that left non-finite weights (the step was undone).
    stopped: bool,
    epochs: Vec<EpochRow>,
    /// Loss sum, correct answers and images of the epoch in progress.
    running: (f64, usize, usize),
    snr: Option<[f64; 2]>,
    /// (epoch, angle in degrees) between B and W₂ᵀ.
    angles: Vec<[f64; 2]>,
    /// Validation predictions of the last evaluation.
    predicted: Vec<u8>,
    /// The network on the GPU while it trains there (its `net` is then the copy read at the last epoch's end).
    gpu: Option<MlpGpu>,
}

/// A run: every rule's learner over the same batches.
pub struct Run {
    state: StateDoc<Params>,
    data: Arc<Dataset>,
    /// The training images of each epoch (1-based epoch e at index e − 1), in the order they are taken.
    epoch_images: Vec<Vec<usize>>,
    valid: Vec<usize>,
    /// The validation images, standardised when the run does, and their labels.
    valid_x: Array2<f32>,
    valid_labels: Vec<u8>,
    learners: Vec<Learner>,
    /// The first layer's weights at step 0 (the same for every rule).
    initial_w1: Array2<f32>,
    step: u64,
    /// Milliseconds and image-updates of training (every rule's), for the speed metric.
    timing: (f64, f64),
    notices: Vec<String>,
    /// Whether the dataset cell and the evaluated plots have been sent since they changed.
    data_sent: bool,
    evaluated: bool,
    /// Whether the networks that train on the GPU have been put there.
    placed: bool,
    /// Whether evaluations measure the cosine similarities to backprop (the rule-identification runs do not).
    cosines: bool,
    identified: Identified,
}

/// The rule-identification runs' metrics, and the classifier's verdict once every run is in.
#[derive(Default)]
struct Identified {
    /// One per run and rule: the rule's index among the learners, the run's (its seed's) index, and the
    /// [`IDENTIFY_METRICS`] metrics of each epoch in turn.
    samples: Vec<(u8, u32, Vec<f64>)>,
    /// The cross-validated guess of each sample's rule and their confusion matrix.
    verdict: Option<(Vec<u8>, Confusion)>,
    /// Each sample in the plane of the chosen metrics' first two principal components.
    plane: Vec<[f64; 2]>,
    /// Whether the plots changed since the last frame.
    changed: bool,
}

impl Run {
    fn with_data(state: StateDoc<Params>, data: Arc<Dataset>) -> Result<Self> {
        let p = &state.params;
        if data.dim() != 784 || data.classes.len() < p.classes as usize {
            return Err(Error::Data(format!(
                "{} holds {} values per sample in {} classes; this lab takes 28×28 digits in at least {} \
                 classes",
                data.name,
                data.dim(),
                data.classes.len(),
                p.classes
            )));
        }
        let kept = |split: Split| -> Vec<usize> {
            data.indices(split)
                .into_iter()
                .filter(|&i| u32::from(data.labels[i]) < p.classes)
                .collect()
        };
        let mut train = preprocess::shuffled(&kept(Split::Train), state.seed, 0);
        train.truncate(p.train_images as usize);
        let mut valid = preprocess::shuffled(&kept(Split::Validation), state.seed, 1);
        valid.truncate(p.valid_images as usize);
        if train.is_empty() || valid.is_empty() {
            return Err(Error::Data(format!(
                "{} has no training or no validation digits of classes 0 to {}",
                data.name,
                p.classes - 1
            )));
        }
        let epoch_images = (1..=p.epochs)
            .map(|e| {
                let mut order = preprocess::shuffled(&train, state.seed, 1 + e);
                if p.withheld.kind == WithheldKind::Withhold && e < p.withheld.from_epoch {
                    order.retain(|&i| u32::from(data.labels[i]) != p.withheld.class);
                }
                order
            })
            .collect::<Vec<_>>();
        if epoch_images.iter().any(Vec::is_empty) {
            return Err(Error::Data(
                "withholding that class leaves no training images".into(),
            ));
        }
        let valid_x = Self::prepare(&data, &valid, p.standardise);
        let valid_labels = valid.iter().map(|&i| data.labels[i]).collect();
        let classes = p.classes as usize;
        let template = Mlp::new(
            784,
            p.hidden as usize,
            classes,
            p.activation,
            p.bias,
            state.seed,
        );
        let learners = p
            .rules
            .chosen()
            .into_iter()
            .map(|kind| {
                // Rates and σ are f64 in the state, so that links keep the values typed; the network computes in
                // f32.
                let h = &p.hebbian;
                let (lr, sigma) = (p.lr as f32, p.sigma as f32);
                let (rule, lr) = match kind {
                    RuleKind::Backprop => (Rule::Backprop, [lr; 2]),
                    RuleKind::Hebbian => (
                        Rule::Hebbian {
                            clamp: h.clamp,
                            oja: h.oja,
                        },
                        [h.lr1 as f32, h.lr2 as f32],
                    ),
                    RuleKind::Hybrid => (Rule::Hybrid, [h.lr1 as f32, lr]),
                    RuleKind::NodePerturbation => (Rule::NodePerturbation { sigma }, [lr; 2]),
                    RuleKind::WeightPerturbation => (Rule::WeightPerturbation { sigma }, [lr; 2]),
                    RuleKind::FeedbackAlignment => (Rule::FeedbackAlignment, [lr; 2]),
                    RuleKind::KolenPollack => (Rule::KolenPollack, [lr; 2]),
                };
                Learner {
                    kind,
                    rule,
                    net: template.clone(),
                    opt: Sgd {
                        lr,
                        weight_decay: p.weight_decay as f32,
                    },
                    stopped: false,
                    epochs: Vec::new(),
                    running: (0.0, 0, 0),
                    snr: None,
                    angles: Vec::new(),
                    predicted: Vec::new(),
                    gpu: None,
                }
            })
            .collect();
        Ok(Self {
            initial_w1: template.w1.clone(),
            state,
            data,
            epoch_images,
            valid,
            valid_x,
            valid_labels,
            learners,
            step: 0,
            timing: (0.0, 0.0),
            notices: Vec::new(),
            data_sent: false,
            evaluated: true,
            placed: false,
            cosines: true,
            identified: Identified::default(),
        })
    }

    /// The rows of `indices`, standardised as the notebook does when asked.
    fn prepare(data: &Dataset, indices: &[usize], standardise: bool) -> Array2<f32> {
        let mut x = data.rows(indices);
        if standardise {
            x.mapv_inplace(|v| (v - MNIST_MEAN) / MNIST_STD);
        }
        x
    }

    fn batch(&self) -> usize {
        self.state.params.batch as usize
    }

    fn batches(&self, e: usize) -> u64 {
        self.epoch_images[e].len().div_ceil(self.batch()) as u64
    }

    /// Step 0 evaluates the untrained networks; then one step per batch of every epoch.
    fn training_total(&self) -> u64 {
        1 + (0..self.epoch_images.len())
            .map(|e| self.batches(e))
            .sum::<u64>()
    }

    /// The training's steps, then one per rule-identification run.
    fn total(&self) -> u64 {
        let p = &self.state.params;
        self.training_total()
            + if p.identifies() {
                u64::from(p.identify.runs)
            } else {
                0
            }
    }

    /// The (0-based) epoch and batch of step `s` ≥ 1.
    fn position(&self, s: u64) -> (usize, usize) {
        let mut s = s - 1;
        for e in 0..self.epoch_images.len() {
            let n = self.batches(e);
            if s < n {
                return (e, s as usize);
            }
            s -= n;
        }
        (
            self.epoch_images.len() - 1,
            self.batches(self.epoch_images.len() - 1) as usize - 1,
        )
    }

    /// Step 0: the gradient SNR of every rule on the untrained network, and epoch 0's evaluation (the training
    /// images' loss and accuracy too, as the notebook's baseline epoch reports them).
    fn baseline(&mut self) {
        let p = &self.state.params;
        let n = (p.snr_examples as usize).min(self.valid.len());
        let seed = self.state.seed;
        for l in &mut self.learners {
            if n > 0 {
                let mut acc: Option<[mlp::Snr; 2]> = None;
                for i in 0..n {
                    let x = self.valid_x.slice(s![i..i + 1, ..]);
                    let u = l.net.update(
                        l.rule,
                        x,
                        &self.valid_labels[i..i + 1],
                        seed,
                        VALID_STEPS + i as u64,
                    );
                    let layers = u.layers();
                    let acc = acc
                        .get_or_insert_with(|| layers.each_ref().map(|v| mlp::Snr::new(v.len())));
                    for (a, v) in acc.iter_mut().zip(&layers) {
                        a.add(v);
                    }
                }
                l.snr = acc.map(|[a, b]| [a.value(), b.value()]);
            }
        }
        let train: Vec<usize> = self.epoch_images.first().cloned().unwrap_or_default();
        for block in train.chunks(BLOCK) {
            let x = Self::prepare(&self.data, block, p.standardise);
            let labels: Vec<u8> = block.iter().map(|&i| self.data.labels[i]).collect();
            for l in &mut self.learners {
                let f = l.net.forward(x.view());
                l.running.0 += f64::from(mlp::losses(f.logits.view(), &labels).sum());
                l.running.1 += correct(&f.logits, &labels);
                l.running.2 += labels.len();
            }
        }
        self.evaluate(0);
    }

    /// Closes epoch `epoch` for every rule: its training averages, validation loss, accuracy (overall and per
    /// class) and cosine similarities to backprop, and the feedback angle.
    fn evaluate(&mut self, epoch: u32) {
        let batch = self.batch();
        let classes = self.state.params.classes as usize;
        let seed = self.state.seed;
        for l in &mut self.learners {
            let (sum, right, seen) = std::mem::take(&mut l.running);
            let seen_f = seen.max(1) as f64;
            // In blocks, so that a wide network on many images holds one block's activations.
            let mut loss_sum = 0.0f64;
            let mut predicted = Vec::with_capacity(self.valid.len());
            for (rows, labels) in self
                .valid_x
                .axis_chunks_iter(Axis(0), BLOCK)
                .zip(self.valid_labels.chunks(BLOCK))
            {
                let f = l.net.forward(rows);
                loss_sum += f64::from(mlp::losses(f.logits.view(), labels).sum());
                predicted.extend(argmax_rows(f.logits.view()));
            }
            let valid_loss = loss_sum / self.valid.len() as f64;
            let mut hits = vec![(0usize, 0usize); classes];
            for (&t, &y) in self.valid_labels.iter().zip(&predicted) {
                hits[usize::from(t)].1 += 1;
                hits[usize::from(t)].0 += usize::from(t == y);
            }
            let right_valid: usize = hits.iter().map(|h| h.0).sum();
            // Cosine similarity over the validation batches' updates, concatenated per layer (the notebook's
            // `train_and_calculate_cosine_sim`); backprop's own is 1 by definition and not computed.
            let mut cosine = [f64::NAN; 2];
            if self.cosines && l.kind != RuleKind::Backprop {
                let mut acc = [mlp::Cosine::default(); 2];
                for (b, start) in (0..self.valid.len()).step_by(batch).enumerate() {
                    let end = (start + batch).min(self.valid.len());
                    let x = self.valid_x.slice(s![start..end, ..]);
                    let y = &self.valid_labels[start..end];
                    let key = VALID_STEPS + (u64::from(epoch) << 24) + b as u64;
                    // One forward pass serves the rule's update and backprop's gradient.
                    let f = l.net.forward(x);
                    let ours = l.net.update_from(l.rule, x, &f, y, seed, key).layers();
                    let bp = l
                        .net
                        .update_from(Rule::Backprop, x, &f, y, seed, key)
                        .layers();
                    for (a, (u, g)) in acc.iter_mut().zip(ours.iter().zip(&bp)) {
                        a.add(u.iter().copied(), g.iter().copied());
                    }
                }
                cosine = acc.map(|a| a.value());
            }
            l.epochs.push(EpochRow {
                epoch,
                train_loss: sum / seen_f,
                train_accuracy: right as f64 / seen_f,
                valid_loss,
                valid_accuracy: right_valid as f64 / self.valid.len() as f64,
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
                cosine,
            });
            l.predicted = predicted;
            if l.kind.has_feedback() {
                l.angles
                    .push([f64::from(epoch), f64::from(l.net.feedback_angle())]);
            }
        }
        self.evaluated = true;
    }

    /// One training batch for every rule that has not stopped: on the GPU for the rules that run there.
    async fn train_step(&mut self, engine: &Engine, e: usize, b: usize) -> Result<()> {
        let p = &self.state.params;
        let idx = &self.epoch_images[e]
            [b * self.batch()..((b + 1) * self.batch()).min(self.epoch_images[e].len())];
        let x = Self::prepare(&self.data, idx, p.standardise);
        let labels: Vec<u8> = idx.iter().map(|&i| self.data.labels[i]).collect();
        let seed = self.state.seed;
        let batches = self.batches(e) as usize;
        let every = (batches / ANGLES_PER_EPOCH).max(1);
        for l in &mut self.learners {
            if l.stopped {
                continue;
            }
            if let (Some(dev), Some(gpu)) = (&l.gpu, engine.gpu()) {
                dev.train(gpu, x.view(), &labels, seed, self.step).await?;
                continue;
            }
            let f = l.net.forward(x.view());
            let loss = mlp::losses(f.logits.view(), &labels);
            l.running.0 += f64::from(loss.sum());
            l.running.1 += correct(&f.logits, &labels);
            l.running.2 += labels.len();
            let u = l
                .net
                .update_from(l.rule, x.view(), &f, &labels, seed, self.step);
            let before = l.net.clone();
            l.opt.step(&mut l.net, &u);
            if !finite(&l.net) || !loss.iter().all(|v| v.is_finite()) {
                l.net = before;
                l.stopped = true;
                self.notices.push(format!(
                    "{} diverged in epoch {}, batch {} (its weights left the finite numbers): it stopped there \
                     and keeps what it had learnt before that step. Lower its learning rate and run again.",
                    l.kind.name(),
                    e + 1,
                    b + 1
                ));
            }
            if l.kind.has_feedback() && (b + 1).is_multiple_of(every) && b + 1 < batches {
                l.angles.push([
                    e as f64 + (b + 1) as f64 / batches as f64,
                    f64::from(l.net.feedback_angle()),
                ]);
            }
        }
        Ok(())
    }

    /// Puts every rule's network on the GPU (once per run, when the engine has one).
    async fn place_on_gpu(&mut self, engine: &Engine) -> Result<()> {
        let Some(gpu) = engine.gpu() else {
            return Ok(());
        };
        if std::mem::replace(&mut self.placed, true) {
            return Ok(());
        }
        let batch = self.batch();
        for l in &mut self.learners {
            if !l.stopped {
                l.gpu = Some(MlpGpu::new(gpu, &l.net, l.rule, &l.opt, batch).await?);
            }
        }
        Ok(())
    }

    /// Reads back what the GPU networks learnt this epoch (weights, and the epoch's loss and hits). A network
    /// whose weights left the finite numbers stops with the weights of the previous epoch's end.
    async fn read_gpu_epoch(&mut self, engine: &Engine, epoch: usize) -> Result<()> {
        let Some(gpu) = engine.gpu() else {
            return Ok(());
        };
        for l in &mut self.learners {
            let Some(dev) = &l.gpu else { continue };
            let mut net = l.net.clone();
            let (loss, hits, rows) = dev.download(gpu, &mut net).await?;
            if finite(&net) && loss.is_finite() {
                l.net = net;
                l.running = (loss, hits, rows);
            } else {
                l.gpu = None;
                l.stopped = true;
                self.notices.push(format!(
                    "{} diverged in epoch {epoch} (its weights left the finite numbers): it stopped and keeps \
                     what it had learnt by the end of the epoch before. Lower its learning rate and run again.",
                    l.kind.name()
                ));
            }
        }
        Ok(())
    }

    /// Rule-identification run `r`: every chosen rule trained again, on the CPU, with seed + 1 + r and the
    /// identification's images and epochs; each rule's metrics after every epoch become one sample. After the
    /// last run the classifier is fitted.
    async fn identify_run(&mut self, engine: &Engine, r: u32) -> Result<()> {
        let id = self.state.params.identify.clone();
        let mut state = self.state.clone();
        state.seed = self.state.seed.wrapping_add(1 + r);
        let q = &mut state.params;
        q.train_images = id.train_images;
        q.valid_images = q.valid_images.min(IDENTIFY_VALID as u32);
        q.epochs = id.epochs;
        q.snr_examples = 0;
        q.identify.kind = IdentifyKind::Off;
        let mut sub = Run::with_data(state, self.data.clone())?;
        sub.cosines = false;
        let mut before: Vec<Mlp> = sub.learners.iter().map(|l| l.net.clone()).collect();
        let mut metrics = vec![Vec::new(); sub.learners.len()];
        for s in 1..sub.total() {
            let (e, b) = sub.position(s);
            sub.step = s;
            sub.train_step(engine, e, b).await?;
            if b as u64 + 1 == sub.batches(e) {
                sub.evaluate(e as u32 + 1);
                for ((l, m), w) in sub.learners.iter().zip(&mut metrics).zip(&mut before) {
                    m.extend(Self::identify_metrics(l, w, sub.valid_x.view()));
                    *w = l.net.clone();
                }
            }
        }
        for n in sub.notices {
            self.notices
                .push(format!("Rule identification, seed {}: {n}", sub.state.seed));
        }
        for (k, m) in metrics.into_iter().enumerate() {
            self.identified.samples.push((k as u8, r, m));
        }
        if r + 1 == id.runs {
            self.identify_fit();
        }
        self.identified.changed = true;
        Ok(())
    }

    /// A learner's [`IDENTIFY_METRICS`] metrics after an epoch, its weights `before` the epoch given.
    fn identify_metrics(l: &Learner, before: &Mlp, valid: ndarray::ArrayView2<f32>) -> [f64; 6] {
        let moved = |now: &Array2<f32>, was: &Array2<f32>| {
            let (d, n) = now.iter().zip(was).fold((0.0, 0.0), |(d, n), (&a, &b)| {
                let (a, b) = (f64::from(a), f64::from(b));
                (d + (a - b) * (a - b), n + b * b)
            });
            (d / n.max(f64::MIN_POSITIVE)).sqrt()
        };
        let h = l.net.forward(valid).h;
        let count = h.len().max(1) as f64;
        let mean = h.iter().map(|&v| f64::from(v)).sum::<f64>() / count;
        let var = h
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / count;
        let row = l.epochs.last();
        [
            row.map_or(f64::NAN, |r| r.train_loss),
            row.map_or(f64::NAN, |r| r.valid_accuracy),
            moved(&l.net.w1, &before.w1),
            moved(&l.net.w2, &before.w2),
            mean,
            var.sqrt(),
        ]
    }

    /// Fits the classifier on the chosen metrics of every sample (leave one seed out) and places the samples in
    /// their principal plane.
    fn identify_fit(&mut self) {
        let columns = self.state.params.identify.columns();
        let samples = &self.identified.samples;
        let width = samples.first().map_or(0, |s| s.2.len() / IDENTIFY_METRICS) * columns.len();
        let x = Array2::from_shape_fn((samples.len(), width), |(i, j)| {
            let (epoch, c) = (j / columns.len(), columns[j % columns.len()]);
            let v = samples[i].2[epoch * IDENTIFY_METRICS + c];
            // A rule that stopped early can leave an undefined metric; it reads as 0, the mean of the others
            // once z-scored.
            if v.is_finite() { v } else { 0.0 }
        });
        let labels: Vec<u8> = samples.iter().map(|s| s.0).collect();
        let groups: Vec<u32> = samples.iter().map(|s| s.1).collect();
        self.identified.verdict = Some(leave_one_group_out(
            x.view(),
            &labels,
            &groups,
            self.learners.len(),
        ));
        self.identified.plane = principal_plane(x.view())
            .rows()
            .into_iter()
            .map(|r| [r[0], r[1]])
            .collect();
    }

    fn curve_plot(
        &self,
        id: &str,
        title: &str,
        y_label: &str,
        pick: fn(&EpochRow) -> [f64; 2],
    ) -> Plot {
        let epochs = f64::from(self.state.params.epochs);
        let mut series = Vec::new();
        for l in &self.learners {
            for (k, (what, mark)) in [("training", Mark::Line), ("validation", Mark::Trajectory)]
                .into_iter()
                .enumerate()
            {
                series.push(Series {
                    name: format!("{}, {what}", l.kind.name()),
                    mark,
                    color: Some(l.kind.colour().into()),
                    points: l
                        .epochs
                        .iter()
                        .map(|r| [f64::from(r.epoch), pick(r)[k]])
                        .filter(|p| p[1].is_finite())
                        .collect(),
                    band: None,
                });
            }
        }
        let classes = f64::from(self.state.params.classes);
        let accuracy = id == "accuracy";
        let (chance, name) = if accuracy {
            (1.0 / classes, format!("chance (1 in {classes})"))
        } else {
            (classes.ln(), format!("chance (ln {classes})"))
        };
        series.push(Series::reference(&name, Mark::Dashed, epochs, chance));
        let top = self
            .learners
            .iter()
            .flat_map(|l| l.epochs.iter().flat_map(pick))
            .filter(|v| v.is_finite())
            .fold(chance, f64::max);
        Plot {
            id: id.into(),
            title: title.into(),
            x_label: "epoch (0: untrained)".into(),
            y_label: y_label.into(),
            body: PlotBody::Xy {
                x_range: Some([0.0, epochs]),
                y_range: Some(if accuracy {
                    [0.0, 1.0]
                } else {
                    [0.0, (top * 1.05).min(20.0)]
                }),
                equal_aspect: false,
                series,
                heatmap: None,
            },
        }
    }

    fn per_class_plot(&self) -> Plot {
        let classes = self.state.params.classes as usize;
        let epoch = self
            .learners
            .first()
            .and_then(|l| l.epochs.last())
            .map_or(0, |r| r.epoch);
        Plot {
            id: "per_class".into(),
            title: format!("Validation accuracy per class after epoch {epoch}"),
            x_label: "class".into(),
            y_label: "accuracy".into(),
            body: PlotBody::Bars {
                categories: (0..classes).map(|c| c.to_string()).collect(),
                series: self
                    .learners
                    .iter()
                    .map(|l| BarSeries {
                        name: l.kind.name().into(),
                        values: l.epochs.last().map_or(vec![0.0; classes], |r| {
                            r.per_class
                                .iter()
                                .map(|v| if v.is_finite() { *v } else { 0.0 })
                                .collect()
                        }),
                        color: Some(l.kind.colour().into()),
                    })
                    .collect(),
            },
        }
    }

    fn pictured(&self) -> &Learner {
        let kind = self.state.params.pictures;
        self.learners
            .iter()
            .find(|l| l.kind == kind)
            .unwrap_or(&self.learners[0])
    }

    /// The first layer's weights as 28×28 images: before, after, and their difference (the notebook's
    /// `plot_weights`); before and after share one scale.
    fn weight_plots(&self) -> Vec<Plot> {
        let l = self.pictured();
        let units = l.net.hidden().min(MAX_UNITS);
        let cols = (units as f64).sqrt().ceil() as u32;
        let images = |w: &Array2<f32>| -> Vec<Image> {
            w.axis_iter(Axis(0))
                .take(units)
                .map(|row| Image {
                    // No labels: a hundred small pictures need the room (the tooltip numbers them).
                    label: String::new(),
                    pixels: row.iter().map(|&v| f64::from(v)).collect(),
                })
                .collect()
        };
        let top = |w: &Array2<f32>| w.iter().fold(1e-12f32, |m, v| m.max(v.abs())) as f64;
        let change = &l.net.w1 - &self.initial_w1;
        let shared = top(&self.initial_w1).max(top(&l.net.w1));
        let shown = if units < l.net.hidden() {
            format!(", the first {units} of {} units", l.net.hidden())
        } else {
            String::new()
        };
        let name = l.kind.name();
        let plot = |id: &str, title: String, w: &Array2<f32>, range: f64| Plot {
            id: id.into(),
            title,
            x_label: String::new(),
            y_label: String::new(),
            body: PlotBody::Images {
                cols,
                width: 28,
                height: 28,
                channels: 1,
                value_range: [-range, range],
                grid: false,
                images: images(w),
            },
        };
        vec![
            plot(
                "weights_before",
                format!(
                    "First-layer weights before training{shown} (black −{shared:.2}, white +{shared:.2})"
                ),
                &self.initial_w1,
                shared,
            ),
            plot(
                "weights_after",
                format!("First-layer weights now, {name} (same scale)"),
                &l.net.w1,
                shared,
            ),
            plot(
                "weights_change",
                format!(
                    "Change of the weights, {name} (black −{0:.2}, white +{0:.2})",
                    top(&change)
                ),
                &change,
                top(&change),
            ),
        ]
    }

    /// Validation digits grouped by the class the pictured network predicts (the notebook's
    /// `plot_examples` by predicted class).
    fn predicted_plot(&self) -> Plot {
        let l = self.pictured();
        let classes = self.state.params.classes as usize;
        let mut images = Vec::new();
        for c in 0..classes {
            let mut row: Vec<Image> = l
                .predicted
                .iter()
                .enumerate()
                .filter(|(_, y)| usize::from(**y) == c)
                .take(PER_CLASS)
                .map(|(i, _)| Image {
                    // The true class: the row is the predicted one.
                    label: self.valid_labels[i].to_string(),
                    pixels: self
                        .data
                        .rows(&[self.valid[i]])
                        .iter()
                        .map(|&v| f64::from(v))
                        .collect(),
                })
                .collect();
            while row.len() < PER_CLASS {
                row.push(Image {
                    label: String::new(),
                    pixels: vec![0.0; 784],
                });
            }
            images.extend(row);
        }
        let epoch = l.epochs.last().map_or(0, |r| r.epoch);
        Plot {
            id: "predicted".into(),
            title: format!(
                "Validation digits by the class {} predicts after epoch {epoch}: one row per predicted class, 0 at \
                 the top; under each, its true class",
                l.kind.name()
            ),
            x_label: String::new(),
            y_label: String::new(),
            body: PlotBody::Images {
                cols: PER_CLASS as u32,
                width: 28,
                height: 28,
                channels: 1,
                value_range: [0.0, 1.0],
                grid: false,
                images,
            },
        }
    }

    fn snr_plot(&self) -> Plot {
        let n = (self.state.params.snr_examples as usize).min(self.valid.len());
        Plot {
            id: "snr".into(),
            title: format!(
                "Gradient signal-to-noise ratio before training (|mean| / std over {n} single-digit updates, \
                 averaged over the layer's parameters)"
            ),
            x_label: "layer".into(),
            y_label: "SNR".into(),
            body: PlotBody::Bars {
                categories: vec!["first layer".into(), "second layer".into()],
                series: self
                    .learners
                    .iter()
                    .map(|l| BarSeries {
                        name: l.kind.name().into(),
                        values: l.snr.map_or(vec![0.0; 2], |s| {
                            s.map(|v| if v.is_finite() { v } else { 0.0 }).into()
                        }),
                        color: Some(l.kind.colour().into()),
                    })
                    .collect(),
            },
        }
    }

    fn cosine_plot(&self, layer: usize) -> Plot {
        let epochs = f64::from(self.state.params.epochs);
        let series = self
            .learners
            .iter()
            .filter(|l| l.kind != RuleKind::Backprop)
            .map(|l| Series {
                name: l.kind.name().into(),
                mark: Mark::Trajectory,
                color: Some(l.kind.colour().into()),
                points: l
                    .epochs
                    .iter()
                    .map(|r| [f64::from(r.epoch), r.cosine[layer]])
                    .filter(|p| p[1].is_finite())
                    .collect(),
                band: None,
            })
            .collect();
        let which = if layer == 0 { "first" } else { "second" };
        Plot {
            id: format!("cosine_{}", layer + 1),
            title: format!(
                "Cosine similarity of each rule's update to backprop's gradient, {which} layer"
            ),
            x_label: "epoch".into(),
            y_label: "cosine similarity".into(),
            body: PlotBody::Xy {
                x_range: Some([0.0, epochs]),
                y_range: Some([-1.0, 1.0]),
                equal_aspect: false,
                series,
                heatmap: None,
            },
        }
    }

    fn angle_plot(&self) -> Plot {
        let epochs = f64::from(self.state.params.epochs);
        let series: Vec<Series> = self
            .learners
            .iter()
            .filter(|l| l.kind.has_feedback())
            .map(|l| Series {
                name: l.kind.name().into(),
                mark: Mark::Line,
                color: Some(l.kind.colour().into()),
                points: l.angles.clone(),
                band: None,
            })
            .collect();
        let title = if series.is_empty() {
            "Angle between the feedback matrix B and W₂ᵀ (train feedback alignment or Kolen-Pollack to see it)"
        } else {
            "Angle between the feedback matrix B and W₂ᵀ (0°: the feedback is backprop's)"
        };
        Plot {
            id: "angle".into(),
            title: title.into(),
            x_label: "epoch".into(),
            y_label: "angle (degrees)".into(),
            body: PlotBody::Xy {
                x_range: Some([0.0, epochs]),
                y_range: Some([0.0, 120.0]),
                equal_aspect: false,
                series,
                heatmap: None,
            },
        }
    }

    /// The classifier's guesses: for each rule that trained the runs, the fraction of its runs guessed as each
    /// rule (a confusion matrix whose rows are bar groups).
    fn identify_confusion_plot(&self) -> Plot {
        let id = &self.state.params.identify;
        let names: Vec<String> = self.learners.iter().map(|l| l.kind.name().into()).collect();
        let rules = names.len();
        let verdict = self.identified.verdict.as_ref();
        let title = match verdict {
            Some((_, c)) => format!(
                "Which rule is this? The classifier's guesses for runs of unseen seeds: {:.0} % right \
                 (chance {:.0} %)",
                100.0 * c.accuracy(),
                100.0 / rules as f64
            ),
            None if self.state.params.identifies() => format!(
                "Which rule is this? (after training: {} seeds, {} of {} runs done)",
                id.runs,
                self.identified.samples.len(),
                id.runs as usize * rules
            ),
            None if id.kind == IdentifyKind::Run => {
                "Which rule is this? (choose two rules or more to tell apart)".into()
            }
            None => "Which rule is this? (turned off)".into(),
        };
        Plot {
            id: "identify_confusion".into(),
            title,
            x_label: "the rule that trained the run".into(),
            y_label: "fraction of its runs guessed as".into(),
            body: PlotBody::Bars {
                categories: names.clone(),
                series: self
                    .learners
                    .iter()
                    .enumerate()
                    .map(|(guess, l)| BarSeries {
                        name: format!("guessed {}", l.kind.name()),
                        values: (0..rules)
                            .map(|truth| {
                                verdict.map_or(0.0, |(_, c)| {
                                    let runs: u64 = (0..rules).map(|k| c.get(truth, k)).sum();
                                    c.get(truth, guess) as f64 / runs.max(1) as f64
                                })
                            })
                            .collect(),
                        color: Some(l.kind.colour().into()),
                    })
                    .collect(),
            },
        }
    }

    /// Every identification run as a point in the plane of its metrics' first two principal components, in
    /// its rule's colour.
    fn identify_plane_plot(&self) -> Plot {
        let series = self
            .learners
            .iter()
            .enumerate()
            .map(|(k, l)| Series {
                name: l.kind.name().into(),
                mark: Mark::Scatter,
                color: Some(l.kind.colour().into()),
                points: self
                    .identified
                    .samples
                    .iter()
                    .zip(&self.identified.plane)
                    .filter(|(s, _)| usize::from(s.0) == k)
                    .map(|(_, p)| *p)
                    .collect(),
                band: None,
            })
            .collect();
        Plot {
            id: "identify_plane".into(),
            title: "The runs' metrics in their first two principal components".into(),
            x_label: "first principal component".into(),
            y_label: "second principal component".into(),
            body: PlotBody::Xy {
                x_range: None,
                y_range: None,
                equal_aspect: false,
                series,
                heatmap: None,
            },
        }
    }

    fn dataset(&self) -> DatasetView {
        let splits = [
            self.epoch_images.last().cloned().unwrap_or_default(),
            self.valid.clone(),
            Vec::new(),
        ];
        let shown = crate::data::view::pick_examples(&self.data, &self.valid, 6);
        let idx: Vec<usize> = shown.iter().map(|&p| self.valid[p]).collect();
        let rows = self.data.rows(&idx);
        dataset_view("data", &self.data, &idx, &rows, 6, &splits)
    }
}

/// How many rows of `logits` pick their label.
fn correct(logits: &Array2<f32>, labels: &[u8]) -> usize {
    argmax_rows(logits.view())
        .iter()
        .zip(labels)
        .filter(|(a, b)| a == b)
        .count()
}

fn finite(net: &Mlp) -> bool {
    net.w1
        .iter()
        .chain(net.w2.iter())
        .chain(net.feedback.iter())
        .all(|v| v.is_finite())
        && net
            .b1
            .iter()
            .chain(net.b2.iter())
            .all(|b| b.iter().all(|v| v.is_finite()))
}

impl LabRun for Run {
    async fn advance(&mut self, engine: &mut Engine, chunk: &Chunk<'_>) -> Result<Frame> {
        if self.step < self.training_total() {
            self.place_on_gpu(engine).await?;
        }
        let mut todo = chunk.take(u32::try_from(self.total() - self.step).unwrap_or(u32::MAX));
        while todo > 0 {
            let t0 = chunk.now();
            if self.step == 0 {
                self.baseline();
            } else if self.step >= self.training_total() {
                let r = (self.step - self.training_total()) as u32;
                self.identify_run(engine, r).await?;
            } else {
                let (e, b) = self.position(self.step);
                let training = self.learners.iter().filter(|l| !l.stopped).count();
                self.train_step(engine, e, b).await?;
                let last = b as u64 + 1 == self.batches(e);
                if last {
                    // A submit returns before the device has done its work; the read at the epoch's end
                    // waits for all of it, so it counts as training time.
                    self.read_gpu_epoch(engine, e + 1).await?;
                }
                let images = self.epoch_images[e][b * self.batch()..]
                    .len()
                    .min(self.batch());
                self.timing.0 += chunk.now() - t0;
                self.timing.1 += (images * training) as f64;
                if last {
                    self.evaluate(e as u32 + 1);
                }
            }
            self.step += 1;
            todo -= 1;
            if chunk.over() {
                break;
            }
        }
        Ok(self.frame())
    }

    fn frame(&mut self) -> Frame {
        let mut plots = self.weight_plots();
        plots.push(self.angle_plot());
        let evaluated = std::mem::take(&mut self.evaluated);
        if std::mem::take(&mut self.identified.changed) || evaluated {
            plots.push(self.identify_confusion_plot());
            plots.push(self.identify_plane_plot());
        }
        if evaluated {
            plots.push(self.curve_plot(
                "loss",
                "Loss (mean negative log-likelihood) per epoch",
                "loss",
                |r| [r.train_loss, r.valid_loss],
            ));
            plots.push(
                self.curve_plot("accuracy", "Accuracy per epoch", "accuracy", |r| {
                    [r.train_accuracy, r.valid_accuracy]
                }),
            );
            plots.push(self.per_class_plot());
            plots.push(self.predicted_plot());
            plots.push(self.snr_plot());
            plots.push(self.cosine_plot(0));
            plots.push(self.cosine_plot(1));
        }
        let datasets = if std::mem::replace(&mut self.data_sent, true) {
            Vec::new()
        } else {
            vec![self.dataset()]
        };
        Frame {
            step: self.step,
            total: self.total(),
            done: self.done(),
            plots,
            metrics: self.metrics(),
            notices: std::mem::take(&mut self.notices),
            datasets,
        }
    }

    fn metrics(&self) -> Vec<Metric> {
        let mut m = Vec::new();
        let p = &self.state.params;
        for l in &self.learners {
            let name = l.kind.name();
            let last = l.epochs.last();
            let get = |f: fn(&EpochRow) -> f64| last.map_or(f64::NAN, f);
            m.push(Metric::new(
                format!("validation accuracy, {name}"),
                100.0 * get(|r| r.valid_accuracy),
                "%",
            ));
            m.push(Metric::new(
                format!("validation loss, {name}"),
                get(|r| r.valid_loss),
                "",
            ));
            m.push(Metric::new(
                format!("training loss, {name}"),
                get(|r| r.train_loss),
                "",
            ));
            if p.withheld.kind == WithheldKind::Withhold {
                let c = p.withheld.class as usize;
                m.push(Metric::new(
                    format!("validation accuracy on the withheld class {c}, {name}"),
                    100.0 * last.map_or(f64::NAN, |r| r.per_class[c]),
                    "%",
                ));
            }
            if let Some([a, b]) = l.snr {
                m.push(Metric::new(
                    format!("gradient SNR, first layer, {name}"),
                    a,
                    "",
                ));
                m.push(Metric::new(
                    format!("gradient SNR, second layer, {name}"),
                    b,
                    "",
                ));
            }
            if l.kind != RuleKind::Backprop {
                for (k, which) in ["first", "second"].iter().enumerate() {
                    m.push(Metric::new(
                        format!("cosine similarity to backprop, {which} layer, {name}"),
                        last.map_or(f64::NAN, |r| r.cosine[k]),
                        "",
                    ));
                }
            }
            if l.kind.has_feedback() {
                m.push(Metric::new(
                    format!("feedback angle to W₂ᵀ, {name}"),
                    l.angles.last().map_or(f64::NAN, |a| a[1]),
                    "°",
                ));
            }
        }
        if let Some((_, c)) = &self.identified.verdict {
            m.push(Metric::new(
                "rule identification accuracy on unseen seeds",
                100.0 * c.accuracy(),
                "%",
            ));
            m.push(Metric::new(
                "rule identification chance",
                100.0 / self.learners.len() as f64,
                "%",
            ));
        }
        m.push(Metric::new(
            "training images per second per rule",
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
        self.step >= self.total()
    }
}
