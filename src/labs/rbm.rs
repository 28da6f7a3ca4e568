//! Lab "RBMs and deep belief nets" (004 §4): the lecture's toy RBM enumerated state by state (energies,
//! probabilities, Z, the conditionals by enumeration and in closed form, the free-energy identity), an RBM
//! learning binarised digits with CD-1, CD-k and persistent CD side by side (reconstruction error per epoch,
//! the annealed-importance-sampling estimate of the log-likelihood of training and held-out digits, filters,
//! hidden activations, samples, and the reconstruction of digits with blanked rows), and a deep belief net
//! pre-trained greedily with a softmax read-out per depth (`nets::rbm`).
//!
//! As the lecture's code: digits binarised at 0.2, minibatches in order, w ~ N(0, 0.01²), the statistics with
//! probabilities for h and sampled v, the loss mean((v − v̂)²) per epoch, rows 18+ blanked and the reconstruction
//! shown as p(v|h) > 0.2 with h sampled. Where we differ: the 100 digits are a seeded sample over all classes
//! (the shipped digits are stored by class; the lecture's first 100 of MNIST are mixed); the matrix the
//! lecture's loss list also collects every batch is not kept; the default trains 50 epochs, not 2,000 (the page
//! must stay responsive; the lecture's setting is an exercise).
//!
//! With a GPU engine, every variant trains on the device (`kernels::rbm`): the weights, velocities and chains
//! stay there through an epoch and come back at its end with its summed loss; AIS, the samples, the
//! reconstructions and the deep belief net use the CPU.
use super::budget::{Chunk, Cost};
use super::{Lab, LabRun};
use crate::data::store::{DataStore, Need};
use crate::data::{Dataset, Split, preprocess};
use crate::engine::Engine;
use crate::error::{Error, FieldError, Result};
use crate::kernels::rbm::RbmGpu;
use crate::nets::rbm::{self, Dbn, Draws, Rbm, TrainConfig, Trainer, group};
use crate::protocol::{
    BarSeries, Cell, Frame, Image, LabInfo, Mark, Metric, PALETTE, Plot, PlotBody, REFERENCE,
    Series,
};
use crate::state::{StateDoc, View};
use ndarray::{Array1, Array2, Axis, array, s};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The toy model's parameters (the lecture's b, c and W by default).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Toy {
    #[schemars(title = "b₁", range(min = -3.0, max = 3.0))]
    pub b1: f64,
    #[schemars(title = "b₂", range(min = -3.0, max = 3.0))]
    pub b2: f64,
    #[schemars(title = "b₃", range(min = -3.0, max = 3.0))]
    pub b3: f64,
    #[schemars(title = "c₁", range(min = -3.0, max = 3.0))]
    pub c1: f64,
    #[schemars(title = "c₂", range(min = -3.0, max = 3.0))]
    pub c2: f64,
    #[schemars(title = "W₁₁", range(min = -3.0, max = 3.0))]
    pub w11: f64,
    #[schemars(title = "W₁₂", range(min = -3.0, max = 3.0))]
    pub w12: f64,
    #[schemars(title = "W₂₁", range(min = -3.0, max = 3.0))]
    pub w21: f64,
    #[schemars(title = "W₂₂", range(min = -3.0, max = 3.0))]
    pub w22: f64,
    #[schemars(title = "W₃₁", range(min = -3.0, max = 3.0))]
    pub w31: f64,
    #[schemars(title = "W₃₂", range(min = -3.0, max = 3.0))]
    pub w32: f64,
}

impl Toy {
    fn lecture() -> Self {
        Self {
            b1: 0.1,
            b2: 0.2,
            b3: 0.1,
            c1: 0.3,
            c2: 0.2,
            w11: -0.1,
            w12: 0.2,
            w21: 0.3,
            w22: 0.1,
            w31: 0.1,
            w32: -0.3,
        }
    }

    fn rbm(&self) -> Rbm {
        let f = |x: f64| x as f32;
        Rbm {
            w: array![
                [f(self.w11), f(self.w12)],
                [f(self.w21), f(self.w22)],
                [f(self.w31), f(self.w32)]
            ],
            b: array![f(self.b1), f(self.b2), f(self.b3)],
            c: array![f(self.c1), f(self.c2)],
        }
    }
}

/// The training variants, in the order the lab lists and colours them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    #[schemars(title = "CD-1")]
    Cd1,
    #[schemars(title = "CD-k")]
    Cdk,
    #[schemars(title = "persistent CD")]
    Pcd,
}

const VARIANTS: [Variant; 3] = [Variant::Cd1, Variant::Cdk, Variant::Pcd];

impl Variant {
    fn name(self, k: u32) -> String {
        match self {
            Self::Cd1 => "CD-1".into(),
            Self::Cdk => format!("CD-{k}"),
            Self::Pcd => "persistent CD".into(),
        }
    }

    fn colour(self) -> &'static str {
        PALETTE[match self {
            Self::Cd1 => 0,
            Self::Cdk => 1,
            Self::Pcd => 2,
        }]
    }
}

/// Which variants train, each its own copy of the same initial RBM over the same batches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Variants {
    /// One Gibbs sweep from each digit (the lecture's).
    #[schemars(title = "CD-1")]
    pub cd1: bool,
    /// k Gibbs sweeps from each digit.
    #[schemars(title = "CD-k")]
    pub cdk: bool,
    /// The negative phase continues chains carried from one update to the next (one sweep per update).
    #[schemars(title = "persistent CD")]
    pub pcd: bool,
}

impl Variants {
    fn chosen(&self) -> Vec<Variant> {
        super::switched_on(VARIANTS, [self.cd1, self.cdk, self.pcd])
    }
}

/// Annealed importance sampling: the estimate of log Z behind the log-likelihood curves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AisSettings {
    /// Independent annealing runs averaged (more: a smaller spread).
    #[schemars(title = "AIS runs", range(min = 2, max = 1000))]
    pub runs: u32,
    /// Intermediate models between the base model and the RBM (more: a less biased estimate).
    #[schemars(title = "AIS temperatures", range(min = 1, max = 20000))]
    pub temperatures: u32,
    /// Estimates during training, evenly spaced, besides the untrained model's.
    #[schemars(title = "estimates during training", range(min = 1, max = 20))]
    pub points: u32,
}

/// The deep belief net: up to three layers pre-trained one after the other with CD-1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Deep {
    #[schemars(title = "layer 1 units (0: no layers)", range(min = 0, max = 1000))]
    pub layer1: u32,
    #[schemars(title = "layer 2 units (0: none)", range(min = 0, max = 1000))]
    pub layer2: u32,
    #[schemars(title = "layer 3 units (0: none)", range(min = 0, max = 1000))]
    pub layer3: u32,
    /// Training digits of the deep belief net and its read-outs (the same seeded sample as above, longer).
    #[schemars(title = "training digits", range(min = 10, max = 8000), extend("x-unit" = "digits"))]
    pub digits: u32,
    #[schemars(title = "pre-training epochs per layer", range(min = 1, max = 200))]
    pub epochs: u32,
    /// The layers' CD-1 learning rate (the weight decay and batch size are those above).
    #[schemars(title = "pre-training learning rate", range(min = 1e-5, max = 1.0))]
    pub lr: f64,
    #[schemars(title = "pre-training momentum", range(min = 0.0, max = 0.99))]
    pub momentum: f64,
    /// Passes of each softmax read-out over the training digits' features.
    #[schemars(title = "read-out epochs", range(min = 1, max = 200))]
    pub readout_epochs: u32,
}

impl Deep {
    fn layers(&self) -> Vec<usize> {
        [self.layer1, self.layer2, self.layer3]
            .into_iter()
            .take_while(|&h| h > 0)
            .map(|h| h as usize)
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("x-step" = "step"))]
pub struct Params {
    #[schemars(title = "toy model")]
    pub toy: Toy,
    /// Training digits, a seeded sample over all classes (the lecture's 100; up to the 8,000 shipped).
    #[schemars(title = "training digits", range(min = 1, max = 8000), extend("x-unit" = "digits"))]
    pub digits: u32,
    /// Validation digits whose log-likelihood tells whether the model generalises.
    #[schemars(title = "held-out digits", range(min = 1, max = 1000), extend("x-unit" = "digits"))]
    pub held_out: u32,
    /// A pixel is on when its grey value is above this (the lecture's 0.2).
    #[schemars(title = "binarisation threshold", range(min = 0.0, max = 0.99))]
    pub threshold: f64,
    #[schemars(title = "hidden units", range(min = 1, max = 2000))]
    pub hidden: u32,
    #[schemars(title = "training variants")]
    pub variants: Variants,
    /// Gibbs sweeps per update of the CD-k variant.
    #[schemars(title = "k of CD-k", range(min = 2, max = 100))]
    pub k: u32,
    #[schemars(title = "learning rate", range(min = 1e-5, max = 1.0))]
    pub lr: f64,
    #[schemars(title = "momentum", range(min = 0.0, max = 0.99))]
    pub momentum: f64,
    /// Every update also shrinks each weight by rate × decay × weight.
    #[schemars(title = "weight decay", range(min = 0.0, max = 0.1))]
    pub weight_decay: f64,
    #[schemars(title = "batch size", range(min = 1, max = 1000), extend("x-unit" = "digits"))]
    pub batch: u32,
    #[schemars(title = "epochs", range(min = 1, max = 5000))]
    pub epochs: u32,
    #[schemars(title = "likelihood estimate")]
    pub ais: AisSettings,
    /// Which variant's RBM the filters, samples and reconstructions show.
    #[schemars(title = "pictures of")]
    pub pictures: Variant,
    /// Gibbs sweeps of the sample chains, from random visible states.
    #[schemars(title = "sampling sweeps", range(min = 1, max = 10000))]
    pub sweeps: u32,
    /// The first image row set to 0 in the reconstruction test (the lecture's 18).
    #[schemars(title = "blank rows from", range(min = 1, max = 27))]
    pub blank_from: u32,
    #[schemars(title = "deep belief net")]
    pub dbn: Deep,
}

/// The lab.
pub struct RbmLab;

/// Nanoseconds per multiply-add of the RBM's matrix products with the work around them (sigmoids, draws),
/// natively on the reference machine and in the page's CPU engine.
const NS_PER_MAC: f64 = 0.25;
const BROWSER_NS_PER_MAC: f64 = 1.0;
/// Nanoseconds per weight per update beyond the products (the velocity and the step).
const NS_PER_WEIGHT_UPDATE: f64 = 1.5;
/// Nanoseconds per Bernoulli draw (a Philox word and a comparison).
const NS_PER_DRAW: f64 = 4.0;
/// Hidden units drawn as filters, sample chains, reconstructed digits, histogram bins.
const FILTERS: usize = 100;
const CHAINS: usize = 20;
const RECONSTRUCTED: usize = 10;
const BINS: usize = 10;
/// The shipped validation digits the deep belief net's read-outs are scored on.
const DBN_VALID: usize = 1000;

impl Lab for RbmLab {
    const ID: &'static str = "rbm";
    const DEFAULT_SEED: u32 = 1;
    const THEORY: bool = false;
    type Params = Params;
    type Run = Run;

    fn info() -> LabInfo {
        LabInfo {
            id: Self::ID,
            title: "RBMs and deep belief nets",
            summary: "A restricted Boltzmann machine, first small enough to list all its states, then learning \
                      digits with contrastive divergence (CD-1, CD-k, persistent CD) compared by their \
                      likelihood; stacked, its hidden layers become the features of a deep belief net.",
            source: "004_01ab2769c1683046.txt",
        }
    }

    fn cells() -> Vec<Cell> {
        let text = super::text::LabText::parse(include_str!("rbm.md"));
        vec![
            text.prose("intro"),
            text.teacher("goals"),
            text.prose("toy"),
            Cell::Controls {
                title: "The toy model".into(),
                fields: vec!["toy".into()],
            },
            Cell::Run,
            Cell::Plot {
                id: "toy_table".into(),
            },
            Cell::PlotRow {
                ids: vec!["toy_conditionals".into(), "toy_free_energy".into()],
            },
            text.exercise("ex1"),
            text.prose("digits"),
            Cell::Controls {
                title: "Learning digits".into(),
                fields: [
                    "digits",
                    "held_out",
                    "threshold",
                    "hidden",
                    "variants",
                    "k",
                    "lr",
                    "momentum",
                    "weight_decay",
                    "batch",
                    "epochs",
                    "ais",
                    "pictures",
                    "sweeps",
                    "blank_from",
                ]
                .map(String::from)
                .into(),
            },
            Cell::PlotRow {
                ids: vec!["recon".into(), "loglik".into()],
            },
            Cell::Metrics {
                title: "Results".into(),
            },
            text.exercise("ex2"),
            text.exercise("ex3"),
            text.prose("pictures"),
            Cell::Plot {
                id: "filters".into(),
            },
            Cell::Plot {
                id: "activations".into(),
            },
            Cell::PlotRow {
                ids: vec!["samples".into(), "reconstruction".into()],
            },
            text.exercise("ex4"),
            text.exercise("ex5"),
            text.prose("dbn"),
            Cell::Controls {
                title: "Deep belief net".into(),
                fields: vec!["dbn".into()],
            },
            Cell::Plot { id: "dbn".into() },
            text.exercise("ex6"),
            text.prose("sources"),
        ]
    }

    fn default_params() -> Params {
        Params {
            toy: Toy::lecture(),
            digits: 100,
            held_out: 100,
            threshold: 0.2,
            hidden: 500,
            variants: Variants {
                cd1: true,
                cdk: true,
                pcd: true,
            },
            k: 5,
            lr: 0.01,
            momentum: 0.0,
            weight_decay: 0.0,
            batch: 20,
            epochs: 50,
            ais: AisSettings {
                runs: 16,
                temperatures: 200,
                points: 4,
            },
            pictures: Variant::Cd1,
            sweeps: 200,
            blank_from: 18,
            dbn: Deep {
                layer1: 200,
                layer2: 200,
                layer3: 0,
                digits: 1000,
                epochs: 5,
                lr: 0.1,
                momentum: 0.5,
                readout_epochs: 10,
            },
        }
    }

    /// A frame per 10 steps (batches).
    fn default_view() -> View {
        View {
            speed: 10,
            theory: false,
        }
    }

    fn validate(p: &Params) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let chosen = p.variants.chosen();
        if chosen.is_empty() {
            errs.push(FieldError::new(
                "variants",
                "choose at least one training variant",
            ));
        } else if !chosen.contains(&p.pictures) {
            errs.push(FieldError::new(
                "pictures",
                format!(
                    "{} does not train; choose one of: {}",
                    p.pictures.name(p.k),
                    chosen
                        .iter()
                        .map(|v| v.name(p.k))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        if p.ais.points > p.epochs {
            errs.push(FieldError::new(
                "ais/points",
                format!(
                    "the run trains {} epochs: at most one estimate per epoch ({} here)",
                    p.epochs, p.epochs
                ),
            ));
        }
        if p.dbn.layer1 == 0 && (p.dbn.layer2 > 0 || p.dbn.layer3 > 0)
            || p.dbn.layer2 == 0 && p.dbn.layer3 > 0
        {
            errs.push(FieldError::new(
                "dbn/layer2",
                "layers stack from the first: a layer needs every layer below it (set the later ones to 0)",
            ));
        }
        errs
    }

    fn cost(p: &Params) -> Cost {
        let (v, h) = (784.0, f64::from(p.hidden));
        let vh = v * h;
        let digits = f64::from(p.digits);
        let held = f64::from(p.held_out);
        let epochs = f64::from(p.epochs);
        let batches = (digits / f64::from(p.batch)).ceil();
        let chosen = p.variants.chosen();
        // Per row of an update: k sweeps of two products, then four products for the statistics.
        let sweeps: f64 = chosen
            .iter()
            .map(|&c| f64::from(if c == Variant::Cdk { p.k } else { 1 }))
            .sum();
        let products = 2.0 * sweeps + 4.0 * chosen.len() as f64;
        let rows = epochs * digits;
        let ais = &p.ais;
        let estimates = (f64::from(ais.points) + 1.0) * chosen.len() as f64;
        let ais_macs = estimates
            * (2.0 * f64::from(ais.runs) * f64::from(ais.temperatures) + digits + held)
            * vh;
        let ais_draws = estimates * f64::from(ais.runs) * f64::from(ais.temperatures) * (v + h);
        let sample_macs = 2.0 * CHAINS as f64 * f64::from(p.sweeps) * vh
            + (digits + 2.0 * RECONSTRUCTED as f64) * vh * (1.0 + chosen.len() as f64);
        let d = &p.dbn;
        let layers = d.layers();
        let dbn_digits = f64::from(d.digits);
        let (mut dbn_macs, mut readout_macs, mut dbn_bytes) = (0.0, 0.0, 0.0);
        let mut below = v;
        let mut readout_width = v;
        for &units in &layers {
            let lvh = below * units as f64;
            dbn_macs += f64::from(d.epochs) * dbn_digits * 6.0 * lvh
                + (dbn_digits + DBN_VALID as f64) * lvh * 4.0;
            dbn_bytes += 3.0 * lvh * 4.0 + (dbn_digits + DBN_VALID as f64) * units as f64 * 8.0;
            readout_width += units as f64;
            below = units as f64;
        }
        readout_macs += 4.0 * f64::from(d.readout_epochs) * dbn_digits * readout_width * 10.0;
        Cost::default()
            .work_in(
                "multiply-adds of training",
                "epochs",
                products * rows * vh,
                NS_PER_MAC,
                BROWSER_NS_PER_MAC,
            )
            .work(
                "Bernoulli draws of training",
                "epochs",
                2.0 * sweeps * rows * (v + h),
                NS_PER_DRAW,
            )
            .work_in(
                "multiply-adds of the reconstruction error after each epoch",
                "digits",
                2.0 * epochs * digits * vh * chosen.len() as f64,
                NS_PER_MAC,
                BROWSER_NS_PER_MAC,
            )
            .work(
                "per-update work on every weight (velocity, step)",
                "batch",
                epochs * batches * chosen.len() as f64 * vh,
                NS_PER_WEIGHT_UPDATE,
            )
            .work_in(
                "multiply-adds of the likelihood estimates",
                "ais/temperatures",
                ais_macs,
                NS_PER_MAC,
                BROWSER_NS_PER_MAC,
            )
            .work(
                "Bernoulli draws of the likelihood estimates",
                "ais/temperatures",
                ais_draws,
                NS_PER_DRAW,
            )
            .work_in(
                "multiply-adds of the samples, reconstructions and histograms",
                "sweeps",
                sample_macs,
                NS_PER_MAC,
                BROWSER_NS_PER_MAC,
            )
            .work(
                "Bernoulli draws of the samples",
                "sweeps",
                2.0 * CHAINS as f64 * f64::from(p.sweeps) * (v + h),
                NS_PER_DRAW,
            )
            .work_in(
                "multiply-adds of the deep belief net's pre-training",
                "dbn/epochs",
                dbn_macs,
                NS_PER_MAC,
                BROWSER_NS_PER_MAC,
            )
            .work_in(
                "multiply-adds of the read-outs",
                "dbn/readout_epochs",
                readout_macs,
                NS_PER_MAC * 4.0,
                BROWSER_NS_PER_MAC * 4.0,
            )
            .memory(
                "the variants' weights, velocities and copies",
                "hidden",
                chosen.len() as f64 * 4.0 * vh * 4.0,
            )
            .memory(
                "the products of a batch and of the likelihood runs",
                "ais/runs",
                (f64::from(p.batch).max(f64::from(ais.runs)) * 6.0 + digits + held) * (v + h) * 4.0,
            )
            .memory(
                "the deep belief net, its digits and their features",
                "dbn/digits",
                dbn_bytes + (dbn_digits + DBN_VALID as f64) * v * 8.0,
            )
    }

    fn needs(_p: &Params) -> Option<Need> {
        Some(Need::Mnist)
    }

    fn start(state: StateDoc<Params>, store: &DataStore) -> Result<Run> {
        Run::with_data(state, store.mnist()?)
    }
}

/// One variant's RBM, trainer and records.
struct Learner {
    variant: Variant,
    rbm: Rbm,
    trainer: Trainer,
    /// The RBM at the start of the epoch in progress, to keep if the epoch diverges.
    saved: Rbm,
    stopped: bool,
    /// (epoch, the lecture's loss averaged over the epoch's batches).
    recon: Vec<[f64; 2]>,
    /// The epoch's loss sum and batches so far (CPU).
    running: (f64, usize),
    /// (epoch, mean log p of the training digits, of the held-out digits, log Z).
    loglik: Vec<[f64; 4]>,
    gpu: Option<RbmGpu>,
}

/// The deep belief net in progress.
struct DeepRun {
    layers: Vec<usize>,
    dbn: Dbn,
    /// The current layer's input (the training digits' features below it).
    x: Array2<f32>,
    rbm: Option<(Rbm, Trainer)>,
    accuracies: Vec<f64>,
}

/// A run: the toy model, every variant over the same batches, the samples, the deep belief net.
pub struct Run {
    state: StateDoc<Params>,
    data: Arc<Dataset>,
    /// The training digits (binarised) and the held-out ones.
    x: Array2<f32>,
    held: Array2<f32>,
    mean: Array1<f32>,
    learners: Vec<Learner>,
    deep: DeepRun,
    dbn_train: Vec<usize>,
    step: u64,
    /// Milliseconds and row-updates of training (every variant's), for the speed metric.
    timing: (f64, f64),
    /// Milliseconds and sweeps of the sample chains.
    sampling: (f64, f64),
    samples: Option<Array2<f32>>,
    rebuilt: Option<(Array2<f32>, Array2<f32>, Array2<f32>)>,
    notices: Vec<String>,
    changed: bool,
    placed: bool,
}

impl Run {
    fn with_data(state: StateDoc<Params>, data: Arc<Dataset>) -> Result<Self> {
        let p = &state.params;
        if data.dim() != 784 {
            return Err(Error::Data(format!(
                "{} holds {} values per sample; this lab takes 28×28 digits",
                data.name,
                data.dim()
            )));
        }
        let train = preprocess::shuffled(&data.indices(Split::Train), state.seed, 0);
        let valid = preprocess::shuffled(&data.indices(Split::Validation), state.seed, 1);
        let take = |v: &[usize], n: usize| v[..n.min(v.len())].to_vec();
        let level = p.threshold as f32;
        let x = rbm::threshold(data.rows(&take(&train, p.digits as usize)).view(), level);
        let held = rbm::threshold(data.rows(&take(&valid, p.held_out as usize)).view(), level);
        if x.nrows() == 0 || held.nrows() == 0 {
            return Err(Error::Data(format!(
                "{} has no training or no validation digits",
                data.name
            )));
        }
        let mean = x.mean_axis(Axis(0)).unwrap_or_else(|| Array1::zeros(784));
        let template = Rbm::new(784, p.hidden as usize, state.seed, 0);
        let learners = p
            .variants
            .chosen()
            .into_iter()
            .map(|variant| {
                let config = Self::config(p, variant);
                Learner {
                    variant,
                    trainer: Trainer::new(&template, config, state.seed, 0),
                    rbm: template.clone(),
                    saved: template.clone(),
                    stopped: false,
                    recon: Vec::new(),
                    running: (0.0, 0),
                    loglik: Vec::new(),
                    gpu: None,
                }
            })
            .collect();
        let dbn_train = take(&train, p.dbn.digits as usize);
        let deep = DeepRun {
            layers: p.dbn.layers(),
            dbn: Dbn { layers: Vec::new() },
            x: Array2::zeros((0, 0)),
            rbm: None,
            accuracies: Vec::new(),
        };
        Ok(Self {
            state,
            data,
            x,
            held,
            mean,
            learners,
            deep,
            dbn_train,
            step: 0,
            timing: (0.0, 0.0),
            sampling: (0.0, 0.0),
            samples: None,
            rebuilt: None,
            notices: Vec::new(),
            changed: true,
            placed: false,
        })
    }

    fn config(p: &Params, variant: Variant) -> TrainConfig {
        TrainConfig {
            k: if variant == Variant::Cdk { p.k } else { 1 },
            learning_rate: p.lr as f32,
            momentum: p.momentum as f32,
            weight_decay: p.weight_decay as f32,
            persistent: variant == Variant::Pcd,
        }
    }

    fn batch(&self) -> usize {
        self.state.params.batch as usize
    }

    fn batches(&self) -> u64 {
        self.x.nrows().div_ceil(self.batch()) as u64
    }

    /// Step 0: the untrained model's likelihood; then one step per batch of every epoch.
    fn training_total(&self) -> u64 {
        1 + u64::from(self.state.params.epochs) * self.batches()
    }

    /// Training, then one step for the samples and reconstructions, one per pre-training epoch of each layer
    /// of the deep belief net, and one for the read-outs.
    fn total(&self) -> u64 {
        let d = &self.state.params.dbn;
        self.training_total() + 2 + self.deep.layers.len() as u64 * u64::from(d.epochs)
    }

    /// Whether epoch `e` (1-based) ends with a likelihood estimate.
    fn estimates_at(&self, e: u32) -> bool {
        let (n, points) = (self.state.params.epochs, self.state.params.ais.points);
        (1..=points)
            .any(|i| (u64::from(n) * u64::from(i)).div_ceil(u64::from(points)) == u64::from(e))
    }

    /// The AIS estimate of log Z and the mean log p of the training and held-out digits, for every variant
    /// that has not stopped.
    fn estimate(&mut self, epoch: u32) -> Result<()> {
        let a = &self.state.params.ais;
        let draws = Draws::new(self.state.seed, group::AIS, 0);
        for l in &mut self.learners {
            if l.stopped && !l.loglik.is_empty() {
                continue;
            }
            let ais = l
                .rbm
                .ais(self.mean.view(), a.runs as usize, a.temperatures, draws)?;
            let mean_lp =
                |x: &Array2<f32>| l.rbm.free_energy(x.view()).mapv(|f| -f - ais.log_z).mean();
            l.loglik.push([
                f64::from(epoch),
                mean_lp(&self.x).unwrap_or(f64::NAN),
                mean_lp(&self.held).unwrap_or(f64::NAN),
                ais.log_z,
            ]);
        }
        self.changed = true;
        Ok(())
    }

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
                l.gpu = Some(RbmGpu::new(gpu, &l.rbm, &l.trainer, batch).await?);
            }
        }
        Ok(())
    }

    /// One batch for every variant that has not stopped (on the device for those placed there).
    async fn train_step(&mut self, engine: &Engine, b: usize) -> Result<()> {
        let rows = self.x.nrows();
        let range = b * self.batch()..((b + 1) * self.batch()).min(rows);
        let batch = self.x.slice(s![range, ..]);
        for l in &mut self.learners {
            if l.stopped {
                continue;
            }
            if let (Some(dev), Some(gpu)) = (&mut l.gpu, engine.gpu()) {
                dev.train(gpu, batch).await?;
                continue;
            }
            let loss = l.trainer.update(&mut l.rbm, batch);
            l.running.0 += f64::from(loss);
            l.running.1 += 1;
        }
        Ok(())
    }

    /// Closes epoch `e` for every variant: reads the device's weights back, records the loss, and stops a
    /// variant whose weights left the finite numbers (keeping the previous epoch's RBM).
    async fn end_epoch(&mut self, engine: &Engine, e: u32) -> Result<()> {
        for l in &mut self.learners {
            if l.stopped {
                continue;
            }
            if let (Some(dev), Some(gpu)) = (&l.gpu, engine.gpu()) {
                let (sum, updates) = dev.download(gpu, &mut l.rbm, &mut l.trainer).await?;
                l.running = (sum, updates);
            }
            // The plotted error is the mean-field one of every training digit, the same measure for every
            // variant (the lecture's sampled loss is not defined for persistent chains).
            let _ = std::mem::take(&mut l.running);
            let loss = f64::from(l.rbm.reconstruction_error(self.x.view()));
            if finite(&l.rbm) && loss.is_finite() {
                l.recon.push([f64::from(e), loss]);
                l.saved = l.rbm.clone();
            } else {
                l.rbm = l.saved.clone();
                l.stopped = true;
                l.gpu = None;
                self.notices.push(format!(
                    "{} diverged in epoch {e} (its weights left the finite numbers): it stopped there and keeps \
                     what it had learnt by the end of the epoch before. Lower the learning rate and run again.",
                    l.variant.name(self.state.params.k)
                ));
            }
        }
        self.changed = true;
        Ok(())
    }

    fn pictured(&self) -> &Learner {
        let v = self.state.params.pictures;
        self.learners
            .iter()
            .find(|l| l.variant == v)
            .unwrap_or(&self.learners[0])
    }

    /// Gibbs chains from random visible states, and the reconstruction of blanked digits, by the pictured RBM.
    fn pictures(&mut self, now: &dyn Fn() -> f64) {
        let p = &self.state.params;
        let seed = self.state.seed;
        let m = &self.pictured().rbm;
        let t0 = now();
        let start = m.random_visible(CHAINS, Draws::new(seed, group::SAMPLE, 0));
        let (_, pv) = m.gibbs(start, p.sweeps, Draws::new(seed, group::SAMPLE, 0), 1);
        let ms = now() - t0;
        let originals = self
            .held
            .slice(s![..RECONSTRUCTED.min(self.held.nrows()), ..]);
        let blanked = rbm::blank_rows(originals, 28, p.blank_from as usize);
        let shown = rbm::threshold(
            m.reconstruct(blanked.view(), Draws::new(seed, group::SAMPLE, 1), 0)
                .view(),
            0.2,
        );
        self.sampling = (ms, f64::from(p.sweeps));
        self.samples = Some(pv);
        self.rebuilt = Some((originals.to_owned(), blanked, shown));
        self.changed = true;
    }

    /// One pre-training epoch of the deep belief net's current layer (`i` counts them from 0).
    fn dbn_epoch(&mut self, i: u64) {
        let p = &self.state.params;
        let epochs = u64::from(p.dbn.epochs);
        let layer = (i / epochs.max(1)) as usize;
        let seed = self.state.seed;
        let d = &mut self.deep;
        if d.rbm.is_none() {
            if layer == 0 {
                d.x = rbm::threshold(self.data.rows(&self.dbn_train).view(), p.threshold as f32);
            }
            let m = Rbm::new(d.x.ncols(), d.layers[layer], seed, layer as u32);
            let config = TrainConfig {
                learning_rate: p.dbn.lr as f32,
                momentum: p.dbn.momentum as f32,
                ..Self::config(p, Variant::Cd1)
            };
            let t = Trainer::new(&m, config, seed, layer as u32);
            d.rbm = Some((m, t));
        }
        if let Some((m, t)) = &mut d.rbm {
            t.epoch(m, d.x.view(), p.batch as usize);
        }
        if (i + 1).is_multiple_of(epochs.max(1))
            && let Some((m, _)) = d.rbm.take()
        {
            d.x = m.hidden_probs(d.x.view());
            d.dbn.layers.push(m);
        }
    }

    /// The softmax read-out's validation accuracy on each depth's features.
    fn readouts(&mut self) {
        let p = &self.state.params;
        let level = p.threshold as f32;
        let valid: Vec<usize> = self
            .data
            .indices(Split::Validation)
            .into_iter()
            .take(DBN_VALID)
            .collect();
        let x = rbm::threshold(self.data.rows(&self.dbn_train).view(), level);
        let y: Vec<u8> = self
            .dbn_train
            .iter()
            .map(|&i| self.data.labels[i])
            .collect();
        let t = rbm::threshold(self.data.rows(&valid).view(), level);
        let ty: Vec<u8> = valid.iter().map(|&i| self.data.labels[i]).collect();
        let classes = self.data.classes.len().max(2);
        self.deep.accuracies = self.deep.dbn.readout_accuracies(
            (x.view(), &y),
            (t.view(), &ty),
            classes,
            p.dbn.readout_epochs as usize,
            self.state.seed,
        );
        self.changed = true;
    }

    /// The toy model as tables (TC-13): every (v, h) state with its energy, weight and probability; the two
    /// conditionals by summing rows and in closed form; the free energy's marginal against the sum over h.
    fn toy_plots(&self) -> Vec<Plot> {
        let toy = self.state.params.toy.rbm();
        // States in the lecture's table order: v = 000 … 111, then h = 00 … 11, unit 1 first.
        let mut rows = Vec::new();
        for vs in 0..8 {
            for hs in 0..4 {
                let v = Array1::from_shape_fn(3, |i| ((vs >> (2 - i)) & 1) as f32);
                let h = Array1::from_shape_fn(2, |i| ((hs >> (1 - i)) & 1) as f32);
                let e = toy.energy(v.view().insert_axis(Axis(0)), h.view().insert_axis(Axis(0)))[0];
                rows.push((vs, hs, e));
            }
        }
        let z: f64 = rows.iter().map(|r| libm::exp(-r.2)).sum();
        let table = |id: &str, title: String, columns: &[&str], rows: Vec<Vec<String>>| Plot {
            id: id.into(),
            title,
            x_label: String::new(),
            y_label: String::new(),
            body: PlotBody::Table {
                columns: columns.iter().map(|c| c.to_string()).collect(),
                rows,
            },
        };
        let states = table(
            "toy_table",
            format!("All 32 states (Z = {z:.3})"),
            &["v₁v₂v₃", "h₁h₂", "E(v, h)", "e^−E", "p(v, h)"],
            rows.iter()
                .map(|&(vs, hs, e)| {
                    vec![
                        bits3(vs),
                        bits2(hs),
                        format!("{e:.2}"),
                        format!("{:.4}", libm::exp(-e)),
                        format!("{:.4}", libm::exp(-e) / z),
                    ]
                })
                .collect(),
        );
        let (enum_h, closed_h, enum_v, closed_v) = toy_conditionals(&toy);
        let conditionals = table(
            "toy_conditionals",
            "Conditionals: enumeration vs σ(·)".into(),
            &["conditional", "by enumeration", "σ(·)"],
            [
                ("p(h₁=1 | v=001)", enum_h, closed_h),
                ("p(v₁=1 | h=01)", enum_v, closed_v),
            ]
            .iter()
            .map(|(n, a, b)| vec![n.to_string(), format!("{a:.6}"), format!("{b:.6}")])
            .collect(),
        );
        let free = table(
            "toy_free_energy",
            "p(v): e^−F(v) / Z vs Σₕ p(v, h)".into(),
            &["v₁v₂v₃", "F(v)", "e^−F(v) / Z", "Σₕ p(v, h)"],
            (0..8)
                .map(|vs| {
                    let v = Array1::from_shape_fn(3, |i| ((vs >> (2 - i)) & 1) as f32);
                    let f = toy.free_energy(v.view().insert_axis(Axis(0)))[0];
                    let summed: f64 = rows[vs * 4..vs * 4 + 4]
                        .iter()
                        .map(|r| libm::exp(-r.2) / z)
                        .sum();
                    vec![
                        bits3(vs),
                        format!("{f:.4}"),
                        format!("{:.6}", libm::exp(-f) / z),
                        format!("{summed:.6}"),
                    ]
                })
                .collect(),
        );
        vec![states, conditionals, free]
    }

    fn name(&self, l: &Learner) -> String {
        l.variant.name(self.state.params.k)
    }

    fn recon_plot(&self) -> Plot {
        let epochs = f64::from(self.state.params.epochs);
        let series = self
            .learners
            .iter()
            .map(|l| Series {
                name: self.name(l),
                mark: Mark::Line,
                color: Some(l.variant.colour().into()),
                points: l.recon.clone(),
                band: None,
            })
            .collect();
        let top = self
            .learners
            .iter()
            .flat_map(|l| l.recon.iter().map(|p| p[1]))
            .fold(0.01, f64::max);
        Plot {
            id: "recon".into(),
            title: "Reconstruction error per epoch".into(),
            x_label: "epoch".into(),
            y_label: "mean (v − p(v|p(h|v)))²".into(),
            body: PlotBody::Xy {
                x_range: Some([0.0, epochs]),
                y_range: Some([0.0, top * 1.05]),
                equal_aspect: false,
                series,
                heatmap: None,
            },
        }
    }

    fn loglik_plot(&self) -> Plot {
        let epochs = f64::from(self.state.params.epochs);
        let mut series = Vec::new();
        for l in &self.learners {
            for (k, (what, mark)) in [("training", Mark::Trajectory), ("held-out", Mark::Dashed)]
                .into_iter()
                .enumerate()
            {
                series.push(Series {
                    name: format!("{}, {what}", self.name(l)),
                    mark,
                    color: Some(l.variant.colour().into()),
                    points: l
                        .loglik
                        .iter()
                        .map(|r| [r[0], r[1 + k]])
                        .filter(|p| p[1].is_finite())
                        .collect(),
                    band: None,
                });
            }
        }
        let uniform = -784.0 * core::f64::consts::LN_2;
        series.push(Series {
            name: "uniform model (−784 ln 2)".into(),
            mark: Mark::Dashed,
            color: Some(REFERENCE.into()),
            points: vec![[0.0, uniform], [epochs, uniform]],
            band: None,
        });
        Plot {
            id: "loglik".into(),
            title: "Mean log p(v), AIS estimate".into(),
            x_label: "epoch".into(),
            y_label: "nats per digit".into(),
            body: PlotBody::Xy {
                x_range: Some([0.0, epochs]),
                y_range: None,
                equal_aspect: false,
                series,
                heatmap: None,
            },
        }
    }

    fn filters_plot(&self) -> Plot {
        let l = self.pictured();
        let units = l.rbm.hidden().min(FILTERS);
        let top = l
            .rbm
            .w
            .slice(s![.., ..units])
            .iter()
            .fold(1e-12f32, |m, v| m.max(v.abs())) as f64;
        let images = (0..units)
            .map(|j| Image {
                label: String::new(),
                pixels: l.rbm.w.column(j).iter().map(|&v| f64::from(v)).collect(),
            })
            .collect();
        Plot {
            id: "filters".into(),
            title: format!(
                "Filters of the first {units} hidden units, {} (black −{top:.2}, white +{top:.2})",
                self.name(l)
            ),
            x_label: String::new(),
            y_label: String::new(),
            body: PlotBody::Images {
                cols: (units as f64).sqrt().ceil() as u32,
                width: 28,
                height: 28,
                channels: 1,
                value_range: [-top, top],
                grid: false,
                images,
            },
        }
    }

    /// The histogram of p(h_j = 1 | v) over hidden units and training digits, per variant.
    fn activations_plot(&self) -> Plot {
        let categories = (0..BINS)
            .map(|b| {
                format!(
                    "{:.1}–{:.1}",
                    b as f64 / BINS as f64,
                    (b + 1) as f64 / BINS as f64
                )
            })
            .collect();
        let series = self
            .learners
            .iter()
            .map(|l| {
                let ph = l.rbm.hidden_probs(self.x.view());
                let mut counts = vec![0.0; BINS];
                for &p in &ph {
                    counts[((p * BINS as f32) as usize).min(BINS - 1)] += 1.0;
                }
                let n = ph.len().max(1) as f64;
                BarSeries {
                    name: self.name(l),
                    values: counts.into_iter().map(|c| c / n).collect(),
                    color: Some(l.variant.colour().into()),
                }
            })
            .collect();
        Plot {
            id: "activations".into(),
            title: "Hidden activation probabilities on the training digits".into(),
            x_label: "p(hⱼ = 1 | v)".into(),
            y_label: "fraction of unit-digit pairs".into(),
            body: PlotBody::Bars { categories, series },
        }
    }

    fn images_plot(id: &str, title: String, cols: u32, images: Vec<Image>) -> Plot {
        Plot {
            id: id.into(),
            title,
            x_label: String::new(),
            y_label: String::new(),
            body: PlotBody::Images {
                cols,
                width: 28,
                height: 28,
                channels: 1,
                value_range: [0.0, 1.0],
                grid: false,
                images,
            },
        }
    }

    fn picture_plots(&self) -> Vec<Plot> {
        let p = &self.state.params;
        let name = self.name(self.pictured());
        let rows = |x: &Array2<f32>, label: &str| -> Vec<Image> {
            x.rows()
                .into_iter()
                .enumerate()
                .map(|(i, r)| Image {
                    label: if i == 0 { label.into() } else { String::new() },
                    pixels: r.iter().map(|&v| f64::from(v)).collect(),
                })
                .collect()
        };
        let samples = match &self.samples {
            Some(s) => rows(s, ""),
            None => Vec::new(),
        };
        let rebuilt = match &self.rebuilt {
            Some((o, b, r)) => {
                let mut v = rows(o, "held-out");
                v.extend(rows(b, "blanked"));
                v.extend(rows(r, "rebuilt"));
                v
            }
            None => Vec::new(),
        };
        vec![
            Self::images_plot(
                "samples",
                format!("Samples, {name}: p(v|h) after {} sweeps", p.sweeps),
                10,
                samples,
            ),
            Self::images_plot(
                "reconstruction",
                format!("Rows {}+ blanked, rebuilt by {name}", p.blank_from),
                RECONSTRUCTED as u32,
                rebuilt,
            ),
        ]
    }

    fn dbn_plot(&self) -> Plot {
        let d = &self.deep;
        let mut categories = vec!["pixels".to_string()];
        categories.extend(
            d.layers
                .iter()
                .enumerate()
                .map(|(i, h)| format!("layer {} ({h})", i + 1)),
        );
        let mut values = d.accuracies.clone();
        values.resize(categories.len(), 0.0);
        Plot {
            id: "dbn".into(),
            title: "Read-out validation accuracy per depth".into(),
            x_label: "features".into(),
            y_label: "accuracy".into(),
            body: PlotBody::Bars {
                categories,
                series: vec![BarSeries {
                    name: "softmax read-out".into(),
                    values,
                    color: Some(PALETTE[5].into()),
                }],
            },
        }
    }
}

fn bits3(s: usize) -> String {
    format!("{}{}{}", s >> 2 & 1, s >> 1 & 1, s & 1)
}

fn bits2(s: usize) -> String {
    format!("{}{}", s >> 1 & 1, s & 1)
}

/// The lecture's two conditionals of the toy model: p(h₁=1|v=001) and p(v₁=1|h=01), by enumeration of the
/// joint and in closed form (enumeration first in each pair).
fn toy_conditionals(toy: &Rbm) -> (f64, f64, f64, f64) {
    let e = |v: [f32; 3], h: [f32; 2]| {
        toy.energy(
            Array2::from_shape_vec((1, 3), v.to_vec())
                .expect("3")
                .view(),
            Array2::from_shape_vec((1, 2), h.to_vec())
                .expect("2")
                .view(),
        )[0]
    };
    let v = [0.0, 0.0, 1.0];
    let hs = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
    let zh: f64 = hs.iter().map(|&h| libm::exp(-e(v, h))).sum();
    let enum_h = hs
        .iter()
        .filter(|h| h[0] == 1.0)
        .map(|&h| libm::exp(-e(v, h)))
        .sum::<f64>()
        / zh;
    let closed_h = f64::from(toy.hidden_probs(array![[0.0f32, 0.0, 1.0]].view())[[0, 0]]);
    let h = [0.0, 1.0];
    let vs: Vec<[f32; 3]> = (0..8)
        .map(|s| [(s >> 2 & 1) as f32, (s >> 1 & 1) as f32, (s & 1) as f32])
        .collect();
    let zv: f64 = vs.iter().map(|&v| libm::exp(-e(v, h))).sum();
    let enum_v = vs
        .iter()
        .filter(|v| v[0] == 1.0)
        .map(|&v| libm::exp(-e(v, h)))
        .sum::<f64>()
        / zv;
    let closed_v = f64::from(toy.visible_probs(array![[0.0f32, 1.0]].view())[[0, 0]]);
    (enum_h, closed_h, enum_v, closed_v)
}

fn finite(m: &Rbm) -> bool {
    m.w.iter().chain(&m.b).chain(&m.c).all(|v| v.is_finite())
}

impl LabRun for Run {
    async fn advance(&mut self, engine: &mut Engine, chunk: &Chunk<'_>) -> Result<Frame> {
        if self.step < self.training_total() {
            self.place_on_gpu(engine).await?;
        }
        let mut todo = chunk.take(u32::try_from(self.total() - self.step).unwrap_or(u32::MAX));
        let batches = self.batches();
        while todo > 0 {
            let t0 = chunk.now();
            let training = self.training_total();
            if self.step == 0 {
                self.estimate(0)?;
            } else if self.step < training {
                let (e, b) = ((self.step - 1) / batches, (self.step - 1) % batches);
                let active = self.learners.iter().filter(|l| !l.stopped).count();
                self.train_step(engine, b as usize).await?;
                let last = b + 1 == batches;
                if last {
                    self.end_epoch(engine, e as u32 + 1).await?;
                }
                self.timing.0 += chunk.now() - t0;
                self.timing.1 += active as f64;
                if last && self.estimates_at(e as u32 + 1) {
                    self.estimate(e as u32 + 1)?;
                }
            } else if self.step == training {
                self.pictures(&|| chunk.now());
            } else if self.step + 1 < self.total() {
                self.dbn_epoch(self.step - training - 1);
            } else {
                self.readouts();
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
        let mut plots = Vec::new();
        if self.step <= 1 {
            plots.extend(self.toy_plots());
        }
        if std::mem::take(&mut self.changed) {
            plots.push(self.recon_plot());
            plots.push(self.loglik_plot());
            plots.push(self.filters_plot());
            plots.push(self.activations_plot());
            if self.samples.is_some() {
                plots.extend(self.picture_plots());
            }
            plots.push(self.dbn_plot());
        }
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

    fn metrics(&self) -> Vec<Metric> {
        let mut m = Vec::new();
        let toy = self.state.params.toy.rbm();
        let log_z = toy.log_z().unwrap_or(f64::NAN);
        m.push(Metric::new("toy model: Z", libm::exp(log_z), ""));
        let (eh, ch, ev, cv) = toy_conditionals(&toy);
        m.push(Metric::new(
            "toy model: p(h₁=1 | v=001), enumerated",
            eh,
            "",
        ));
        m.push(Metric::new("toy model: p(h₁=1 | v=001), σ(·)", ch, ""));
        m.push(Metric::new("toy model: p(v₁=1 | h=01), enumerated", ev, ""));
        m.push(Metric::new("toy model: p(v₁=1 | h=01), σ(·)", cv, ""));
        for l in &self.learners {
            let name = self.name(l);
            m.push(Metric::new(
                format!("reconstruction error, {name}"),
                l.recon.last().map_or(f64::NAN, |r| r[1]),
                "",
            ));
            let last = l.loglik.last();
            m.push(Metric::new(
                format!("log p of training digits (AIS), {name}"),
                last.map_or(f64::NAN, |r| r[1]),
                "nats",
            ));
            m.push(Metric::new(
                format!("log p of held-out digits (AIS), {name}"),
                last.map_or(f64::NAN, |r| r[2]),
                "nats",
            ));
            m.push(Metric::new(
                format!("log Z (AIS), {name}"),
                last.map_or(f64::NAN, |r| r[3]),
                "",
            ));
        }
        if let Some((o, b, r)) = &self.rebuilt {
            let from = self.state.params.blank_from as usize * 28;
            let wrong = |x: &Array2<f32>| {
                (x.slice(s![.., from..]).to_owned() - o.slice(s![.., from..]))
                    .mapv(f32::abs)
                    .sum() as f64
                    / o.nrows().max(1) as f64
            };
            m.push(Metric::new(
                "wrong pixels per digit in the blanked rows, blanked",
                wrong(b),
                "",
            ));
            m.push(Metric::new(
                "wrong pixels per digit in the blanked rows, rebuilt",
                wrong(r),
                "",
            ));
        }
        for (d, a) in self.deep.accuracies.iter().enumerate() {
            m.push(Metric::new(
                format!("read-out accuracy, depth {d}"),
                100.0 * a,
                "%",
            ));
        }
        m.push(Metric::new(
            "CD updates per second (every variant's batches)",
            self.timing.1 / (self.timing.0 / 1000.0),
            "updates/s",
        ));
        m.push(Metric::new(
            "Gibbs sweeps per second (20 chains)",
            self.sampling.1 / (self.sampling.0 / 1000.0),
            "sweeps/s",
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The rules across fields: a variant pictured must train, estimates fit the epochs, layers stack.
    #[test]
    fn impossible_combinations_are_refused_at_their_field() {
        let ok = RbmLab::default_params();
        assert!(RbmLab::validate(&ok).is_empty());
        let mut p = ok.clone();
        p.variants.cd1 = false;
        assert_eq!(RbmLab::validate(&p)[0].path, "pictures");
        let mut p = ok.clone();
        p.ais.points = p.epochs + 1;
        assert_eq!(RbmLab::validate(&p)[0].path, "ais/points");
        let mut p = ok;
        p.dbn.layer1 = 0;
        assert_eq!(RbmLab::validate(&p)[0].path, "dbn/layer2");
    }

    /// The lecture's toy model (TC-13): Z = 57.684 and the two conditionals, by enumeration and in closed form.
    #[test]
    fn the_toy_model_gives_the_lectures_numbers() {
        let toy = Toy::lecture().rbm();
        let z = libm::exp(toy.log_z().expect("small"));
        assert!((z - 57.684).abs() < 1e-3, "{z}");
        let (eh, ch, ev, cv) = toy_conditionals(&toy);
        for (a, b, want) in [(eh, ch, 0.598688), (ev, cv, 0.574443)] {
            assert!(
                (a - want).abs() < 1e-6 && (b - want).abs() < 1e-6,
                "{a} {b} {want}"
            );
        }
    }
}
