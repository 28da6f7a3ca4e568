//! Lab "Boltzmann machines" (004 §3; Ackley, Hinton & Sejnowski 1985): the three-unit machine enumerated state
//! by state (TC-11) and the lecture's worked update of w₁₂ from its ten data and ten sampled rows (TC-12); then
//! a machine of 9 visible units (and up to 7 hidden ones) learning the letters T, U, L, H, with its model
//! statistics from exact enumeration, persistent Gibbs chains or the lecture's one sampling step from random
//! states, side by side from the same initial weights, each in its own colour: the letters' mean energy and
//! exact log-likelihood per epoch, the model's probability of each letter, the weights, and recall of the
//! lecture's four corrupted probes.
//!
//! Where we differ from the lecture's code, on purpose (see `nets::boltzmann`): the weights stay symmetric and
//! every pair learns in every epoch (its code updates 100 random w[i, j] per epoch, one entry of each pair); the
//! biases learn too (its code has none); recall descends the energy at zero temperature until nothing changes
//! (its code takes one synchronous step without biases). Its model statistics, one step from uniformly random
//! states, are kept as the variant "the lecture's one step" so that students see them fail.
//!
//! With a GPU engine the persistent-chain variant trains on the device (`kernels::boltzmann`, the chains and
//! weights resident, read back after each epoch for the curves and the overflow check); exact enumeration and
//! the lecture's one step stay on the CPU.
use super::budget::{Chunk, Cost};
use super::{Lab, LabRun};
use crate::data::letters::lecture_letters;
use crate::data::store::DataStore;
use crate::engine::Engine;
use crate::error::{Error, FieldError, Result};
use crate::kernels::boltzmann::{self as boltzmann_gpu, BoltzmannGpu};
use crate::nets::boltzmann::{self, Boltzmann, Chains, GROUP_FREE, MAX_EXACT_UNITS, Statistics};
use crate::protocol::{
    BarSeries, Cell, Frame, Heatmap, Image, LabInfo, Mark, Metric, PALETTE, Plot, PlotBody,
    REFERENCE, Series,
};
use crate::state::StateDoc;
use ndarray::{Array1, Array2};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The three-unit machine of the lecture's enumeration table, and the learning rate of its worked update.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Three {
    #[schemars(title = "w12", range(min = -5.0, max = 5.0))]
    pub w12: f64,
    #[schemars(title = "w13", range(min = -5.0, max = 5.0))]
    pub w13: f64,
    #[schemars(title = "w23", range(min = -5.0, max = 5.0))]
    pub w23: f64,
    /// One bias for all three units, as the lecture; it enters the energy with +.
    #[schemars(title = "bias b", range(min = -5.0, max = 5.0))]
    pub b: f64,
    #[schemars(title = "temperature T", range(min = 0.05, max = 20.0))]
    pub temperature: f64,
    /// α of the worked update w_ij ← w_ij + α(E_data − E_model).
    #[schemars(
        title = "learning rate α (worked update)",
        range(min = 0.001, max = 10.0)
    )]
    pub rate: f64,
}

/// Which of the lecture's letters the machine learns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Letters {
    #[schemars(title = "T")]
    pub t: bool,
    #[schemars(title = "U")]
    pub u: bool,
    #[schemars(title = "L")]
    pub l: bool,
    #[schemars(title = "H")]
    pub h: bool,
}

impl Letters {
    fn chosen(&self) -> [bool; 4] {
        [self.t, self.u, self.l, self.h]
    }
}

/// Where the model's statistics ⟨s_i s_j⟩_model come from; each chosen way trains its own copy of the same
/// initial machine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Variants {
    /// Sums over every state (at most 16 units): the true gradient of the log-likelihood.
    #[schemars(title = "exact enumeration")]
    pub exact: bool,
    /// Gibbs chains that keep sweeping from one epoch to the next (persistent contrastive divergence).
    #[schemars(title = "persistent Gibbs chains")]
    pub chains: bool,
    /// The lecture's code: one sampling step from uniformly random states in every epoch.
    #[schemars(title = "the lecture's one step")]
    pub lecture: bool,
}

/// The ways to estimate the model's statistics, in the order the lab lists and colours them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Exact,
    Chains,
    Lecture,
}

const KINDS: [Kind; 3] = [Kind::Exact, Kind::Chains, Kind::Lecture];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Chains => "chains",
            Self::Lecture => "lecture's one step",
        }
    }

    /// The name under a small picture.
    fn short(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Chains => "chains",
            Self::Lecture => "lecture",
        }
    }

    /// One colour per variant across the lab.
    fn colour(self) -> &'static str {
        PALETTE[match self {
            Self::Exact => 0,
            Self::Chains => 1,
            Self::Lecture => 5,
        }]
    }
}

impl Variants {
    fn chosen(&self) -> Vec<Kind> {
        super::switched_on(KINDS, [self.exact, self.chains, self.lecture])
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("x-step" = "epoch", "x-steps" = "epochs"))]
pub struct Params {
    #[schemars(title = "three-unit machine")]
    pub three: Three,
    #[schemars(title = "letters to learn")]
    pub letters: Letters,
    /// Hidden units after the 9 visible ones: at most 7, so that the 16 units' 2¹⁶ states can still be
    /// enumerated and the log-likelihood computed exactly.
    #[schemars(title = "hidden units", range(min = 0, max = 7))]
    pub hidden: u32,
    #[schemars(title = "model statistics from")]
    pub statistics: Variants,
    /// Persistent chains of the model (and the lecture's random states per epoch).
    #[schemars(title = "chains", range(min = 1, max = 10000), extend("x-unit" = "chains"))]
    pub chains: u32,
    /// Gibbs sweeps of the chains (and of the clamped chains) per epoch.
    #[schemars(title = "sweeps per epoch", range(min = 1, max = 100), extend("x-unit" = "sweeps"))]
    pub sweeps: u32,
    /// With hidden units, the sampled variants fill them in with this many chains per letter, the letter
    /// clamped on the visible units (exact enumeration needs none).
    #[schemars(title = "clamped chains per letter", range(min = 1, max = 100), extend("x-unit" = "chains"))]
    pub copies: u32,
    #[schemars(title = "learning rate α", range(min = 0.0001, max = 10.0))]
    pub rate: f64,
    /// Epochs: one update of every weight and bias each.
    #[schemars(title = "epochs", range(min = 1, max = 100000), extend("x-unit" = "epochs"))]
    pub epochs: u32,
    #[schemars(title = "temperature T", range(min = 0.1, max = 10.0))]
    pub temperature: f64,
    /// The initial weights' standard deviation (the lecture's N(0, 1) at 1).
    #[schemars(title = "initial weight scale", range(min = 0.0, max = 3.0))]
    pub init_scale: f64,
}

/// The lab.
pub struct BoltzmannLab;

/// Points recorded per curve at most (the log-likelihood needs an enumeration of every state).
const MAX_POINTS: u32 = 200;
/// Nanoseconds per unit-pair operation (an energy-gap term, a moment term) on the reference machine, natively;
/// measured on the default state and on 16 units with exact statistics (README, "Budgets").
const NS_PER_OP: f64 = 2.0;
/// The lecture's corrupted probes T′, U′, L′, H′, each one pixel off its letter.
pub const PROBES: [[u8; 9]; 4] = [
    [1, 1, 1, 0, 1, 0, 0, 0, 0],
    [1, 0, 1, 0, 0, 1, 1, 1, 1],
    [1, 0, 0, 1, 0, 0, 0, 1, 1],
    [1, 0, 1, 0, 1, 1, 1, 0, 1],
];
const LETTER_NAMES: [&str; 4] = ["T", "U", "L", "H"];
/// The lecture's worked example: ten data rows and the ten states sampled from its random initial states.
const WORKED_DATA: [[u8; 3]; 10] = [
    [0, 1, 0],
    [1, 0, 0],
    [0, 1, 0],
    [1, 1, 0],
    [1, 0, 0],
    [1, 1, 1],
    [1, 0, 1],
    [1, 1, 1],
    [0, 1, 0],
    [0, 0, 1],
];
const WORKED_SAMPLES: [[u8; 3]; 10] = [
    [1, 1, 1],
    [0, 1, 0],
    [0, 0, 1],
    [1, 0, 1],
    [1, 1, 0],
    [1, 1, 1],
    [1, 1, 1],
    [1, 0, 0],
    [1, 0, 0],
    [1, 0, 1],
];

/// The four lecture letters T, U, L, H as 9 binary pixels.
fn lecture_four() -> Vec<Vec<u8>> {
    let all = lecture_letters();
    LETTER_NAMES
        .iter()
        .map(|n| {
            all.iter()
                .find(|p| p.name == *n)
                .map_or(vec![0; 9], |p| p.binary())
        })
        .collect()
}

impl Params {
    fn units(&self) -> usize {
        9 + self.hidden as usize
    }

    /// Epochs between two recorded points of the curves.
    fn every(&self) -> u32 {
        self.epochs.div_ceil(MAX_POINTS).max(1)
    }

    fn three_machine(&self) -> Result<Boltzmann> {
        let t = &self.three;
        let (a, b, c) = (t.w12 as f32, t.w13 as f32, t.w23 as f32);
        let w = ndarray::array![[0.0, a, b], [a, 0.0, c], [b, c, 0.0]];
        Boltzmann::from_parts(w, Array1::from_elem(3, t.b as f32), 3, t.temperature as f32)
    }
}

impl Lab for BoltzmannLab {
    const ID: &'static str = "boltzmann";
    const DEFAULT_SEED: u32 = 4;
    const THEORY: bool = false;
    type Params = Params;
    type Run = Run;

    fn info() -> LabInfo {
        LabInfo {
            id: Self::ID,
            title: "Boltzmann machines",
            summary: "Stochastic binary units with symmetric weights: enumerate a three-unit machine's states and \
                      Z, work through one learning update by hand, then learn the letters T, U, L, H with exact, \
                      chain-sampled or the lecture's one-step statistics side by side, and recall corrupted \
                      letters.",
            source: "004_01ab2769c1683046.txt",
        }
    }

    fn cells() -> Vec<Cell> {
        let text = super::text::LabText::parse(include_str!("boltzmann.md"));
        vec![
            text.prose("intro"),
            text.teacher("goals"),
            text.prose("three"),
            Cell::Controls {
                title: "A three-unit machine".into(),
                fields: vec!["three".into()],
            },
            Cell::Plot {
                id: "three_table".into(),
            },
            Cell::Plot {
                id: "worked_update".into(),
            },
            text.exercise("ex1"),
            text.prose("letters"),
            Cell::Controls {
                title: "Learning letters".into(),
                fields: vec![
                    "letters".into(),
                    "hidden".into(),
                    "statistics".into(),
                    "chains".into(),
                    "sweeps".into(),
                    "copies".into(),
                    "rate".into(),
                    "epochs".into(),
                    "temperature".into(),
                    "init_scale".into(),
                ],
            },
            Cell::Run,
            Cell::PlotRow {
                ids: vec!["energy".into(), "likelihood".into()],
            },
            Cell::Plot {
                id: "probabilities".into(),
            },
            Cell::PlotRow {
                ids: vec![
                    "weights_exact".into(),
                    "weights_chains".into(),
                    "weights_lecture".into(),
                ],
            },
            Cell::Plot {
                id: "recall".into(),
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
            three: Three {
                w12: 0.2,
                w13: 0.1,
                w23: 0.3,
                b: 1.0,
                temperature: 1.0,
                rate: 0.1,
            },
            letters: Letters {
                t: true,
                u: true,
                l: true,
                h: true,
            },
            hidden: 0,
            statistics: Variants {
                exact: true,
                chains: true,
                lecture: true,
            },
            chains: 200,
            sweeps: 1,
            copies: 20,
            rate: 0.1,
            epochs: 1000,
            temperature: 1.0,
            init_scale: 1.0,
        }
    }

    fn validate(p: &Params) -> Vec<FieldError> {
        let mut e = Vec::new();
        if !p.letters.chosen().iter().any(|&c| c) {
            e.push(FieldError::new(
                "letters",
                "choose at least one letter to learn",
            ));
        }
        if p.statistics.chosen().is_empty() {
            e.push(FieldError::new(
                "statistics",
                "choose at least one way to estimate the model's statistics",
            ));
        }
        if p.units() > MAX_EXACT_UNITS {
            e.push(FieldError::new(
                "hidden",
                format!(
                    "at most {} hidden units: 9 visible + hidden must stay within {MAX_EXACT_UNITS} units for exact \
                     enumeration (got {})",
                    MAX_EXACT_UNITS - 9,
                    p.hidden
                ),
            ));
        }
        e
    }

    /// Counted in unit-pair operations: an exact update enumerates 2ⁿ states (energy and moments, about 1.5 n²
    /// each) plus the letters' hidden states; a recorded point enumerates once more per variant; a chains update
    /// sweeps its free and clamped chains (n² per sweep) and sums their moments; the lecture's step is one sweep
    /// of its random states and their moments.
    fn cost(p: &Params) -> Cost {
        let n = p.units() as f64;
        let states = 2f64.powi(p.units() as i32);
        let k = p.letters.chosen().iter().filter(|&&c| c).count().max(1) as f64;
        let epochs = f64::from(p.epochs);
        let hidden_states = 2f64.powi(p.hidden as i32);
        let clamped = if p.hidden > 0 {
            f64::from(p.copies) * k
        } else {
            0.0
        };
        let chains = f64::from(p.chains);
        let sweeps = f64::from(p.sweeps);
        let points = f64::from(p.epochs / p.every() + 2);
        let variants = p.statistics.chosen();
        let mut cost = Cost::default()
            .work(
                "state evaluations for the recorded log-likelihood",
                "epochs",
                points * variants.len() as f64 * states * (n * n + 4.0 * n),
                NS_PER_OP,
            )
            .memory(
                "the enumerated states",
                "hidden",
                states * 8.0 * 4.0 * variants.len() as f64,
            )
            .memory(
                "the chains",
                "chains",
                (chains + clamped) * n * variants.len() as f64,
            );
        for v in variants {
            cost = match v {
                Kind::Exact => cost.work(
                    "unit-pair operations of exact statistics",
                    "hidden",
                    epochs * (states * 2.5 * n * n + k * hidden_states * 2.5 * n * n),
                    NS_PER_OP,
                ),
                Kind::Chains => cost.work(
                    "unit-pair operations of Gibbs sweeps",
                    "chains",
                    epochs * (chains + clamped) * (sweeps + 1.0) * n * n,
                    NS_PER_OP,
                ),
                Kind::Lecture => cost.work(
                    "unit-pair operations of the lecture's step",
                    "chains",
                    epochs * (chains * 2.0 + clamped * (sweeps + 1.0)) * n * n,
                    NS_PER_OP,
                ),
            };
        }
        cost
    }

    fn start(state: StateDoc<Params>, _store: &DataStore) -> Result<Run> {
        Run::new(state)
    }
}

/// What one evaluation of a machine on the letters gives.
#[derive(Clone, Debug, Default)]
struct Eval {
    /// Mean energy of the letters (their free energy −T ln Σ_h e^{−E(v,h)/T} with hidden units).
    energy: f64,
    /// Mean ln p(letter), exact.
    likelihood: f64,
    /// p(v) of every visible state.
    marginal: Vec<f64>,
}

/// One variant's machine and history.
struct Learner {
    kind: Kind,
    net: Boltzmann,
    chains: Chains,
    /// Why it stopped, when it did.
    stopped: Option<String>,
    energy: Vec<[f64; 2]>,
    likelihood: Vec<[f64; 2]>,
    last: Eval,
    /// The "chains" variant's net and chains on the device, when the engine has a GPU.
    gpu: Option<BoltzmannGpu>,
}

/// A run in progress.
pub struct Run {
    state: StateDoc<Params>,
    /// The chosen letters, [k, 9].
    data: Array2<u8>,
    /// Their indices among T, U, L, H.
    which: Vec<usize>,
    learners: Vec<Learner>,
    epoch: u32,
    notices: Vec<String>,
    /// (ms spent training, variant-epochs trained).
    timing: (f64, f64),
    /// Whether the "chains" variant has been offered to the GPU.
    placed: bool,
}

fn evaluate(net: &Boltzmann, data: &Array2<u8>) -> Result<Eval> {
    let exact = net.exact()?;
    let marginal = exact.visible_marginal(net.visible());
    let t = f64::from(net.temperature());
    let (mut energy, mut likelihood) = (0.0, 0.0);
    for v in data.rows() {
        let k = v.iter().fold(0usize, |k, &x| (k << 1) | usize::from(x));
        let lp = libm::log(marginal[k]);
        likelihood += lp;
        energy += -t * (lp + exact.log_z);
    }
    let n = data.nrows().max(1) as f64;
    Ok(Eval {
        energy: energy / n,
        likelihood: likelihood / n,
        marginal,
    })
}

fn finite(net: &Boltzmann) -> bool {
    net.weights()
        .iter()
        .chain(net.biases().iter())
        .all(|v| v.is_finite())
}

/// At most three decimals, no trailing zeros.
fn number(x: f64) -> String {
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

impl Run {
    fn new(state: StateDoc<Params>) -> Result<Self> {
        let p = &state.params;
        let four = lecture_four();
        let which: Vec<usize> = (0..4).filter(|&i| p.letters.chosen()[i]).collect();
        let data = Array2::from_shape_fn((which.len(), 9), |(r, c)| four[which[r]][c]);
        let net = Boltzmann::random(
            9,
            p.hidden as usize,
            p.init_scale as f32,
            p.temperature as f32,
            state.seed,
        )?;
        let first = evaluate(&net, &data)?;
        let learners = p
            .statistics
            .chosen()
            .into_iter()
            .map(|kind| Learner {
                kind,
                net: net.clone(),
                chains: Chains::random(p.chains as usize, p.units(), state.seed, GROUP_FREE, 0),
                stopped: None,
                energy: vec![[0.0, first.energy]],
                likelihood: vec![[0.0, first.likelihood]],
                last: first.clone(),
                gpu: None,
            })
            .collect();
        Ok(Self {
            state,
            data,
            which,
            learners,
            epoch: 0,
            notices: Vec::new(),
            timing: (0.0, 0.0),
            placed: false,
        })
    }

    /// Puts the "chains" variant on the engine's GPU once, where its net fits the kernel (at most
    /// [`boltzmann_gpu::MAX_UNITS`] units, at least one clamped copy); the other variants stay on the CPU (exact
    /// enumeration and the lecture's one-step statistics have no kernel).
    async fn place_on_gpu(&mut self, engine: &Engine) -> Result<()> {
        let Some(gpu) = engine.gpu() else {
            return Ok(());
        };
        if std::mem::replace(&mut self.placed, true) {
            return Ok(());
        }
        let p = &self.state.params;
        if p.units() > boltzmann_gpu::MAX_UNITS || p.copies == 0 {
            return Ok(());
        }
        for l in &mut self.learners {
            if l.kind == Kind::Chains && l.stopped.is_none() {
                l.gpu = Some(
                    BoltzmannGpu::new(
                        gpu,
                        &l.net,
                        self.data.view(),
                        &l.chains,
                        p.copies as usize,
                        p.sweeps,
                        p.rate as f32,
                        self.state.seed,
                        self.epoch,
                    )
                    .await?,
                );
            }
        }
        Ok(())
    }

    /// One epoch of every variant still training. The "chains" variant, when on the GPU, reads its net and chains
    /// back after each update: every epoch's weights are checked for overflow (and rolled back) as on the CPU, and
    /// the plots and evaluations read them.
    async fn train_epoch(&mut self, engine: &Engine) -> Result<()> {
        let p = &self.state.params;
        let seed = self.state.seed;
        let step = self.epoch;
        let record = (step + 1).is_multiple_of(p.every()) || step + 1 == p.epochs;
        let rate = p.rate as f32;
        let sampled = Statistics::Sampled {
            copies: p.copies as usize,
            sweeps: p.sweeps,
        };
        for l in self.learners.iter_mut().filter(|l| l.stopped.is_none()) {
            let before = l.net.clone();
            let data = self.data.view();
            let mut overflowed = false;
            match l.kind {
                Kind::Exact => {
                    l.net
                        .train_step(data, Statistics::Exact, &mut l.chains, rate, seed, step)?
                }
                Kind::Chains => match (&mut l.gpu, engine.gpu()) {
                    (Some(dev), Some(gpu)) => {
                        dev.train(gpu).await?;
                        match dev.download(gpu).await {
                            Ok((net, chains)) => (l.net, l.chains) = (net, chains),
                            // Weights that overflowed fail the net's checks: the variant stops below, as on
                            // the CPU.
                            Err(Error::Invalid(_)) => overflowed = true,
                            Err(e) => return Err(e),
                        }
                    }
                    _ => l
                        .net
                        .train_step(data, sampled, &mut l.chains, rate, seed, step)?,
                },
                Kind::Lecture => {
                    let d = l.net.data_moments_sampled(
                        data,
                        p.copies as usize,
                        p.sweeps,
                        seed,
                        step,
                    )?;
                    let mut m = l.net.model_moments_one_step(p.chains as usize, seed, step);
                    // The lecture's code has no biases: they stay at 0.
                    for i in 0..m.nrows() {
                        m[[i, i]] = d[[i, i]];
                    }
                    l.net.learn(&d, &m, rate);
                }
            }
            self.timing.1 += 1.0;
            if overflowed || !finite(&l.net) {
                l.net = before;
                l.gpu = None;
                let msg = format!(
                    "{}: the weights overflowed in epoch {}; this variant stopped and keeps the weights of epoch \
                     {step}. Lower the learning rate.",
                    l.kind.name(),
                    step + 1
                );
                l.stopped = Some(msg.clone());
                self.notices.push(msg);
                continue;
            }
            if record {
                let e = evaluate(&l.net, &self.data)?;
                let x = f64::from(step + 1);
                l.energy.push([x, e.energy]);
                l.likelihood.push([x, e.likelihood]);
                l.last = e;
            }
        }
        self.epoch += 1;
        Ok(())
    }

    /// Every state of the three-unit machine with its energy, Boltzmann weight and probability (TC-11).
    fn three_table(&self) -> Plot {
        let t = self.state.params.three.temperature;
        let (rows, title) = match self
            .state
            .params
            .three_machine()
            .and_then(|net| net.exact())
        {
            Ok(ex) => {
                let probs = ex.probabilities();
                let rows = (0..8)
                    .map(|k| {
                        let s: String = boltzmann::Exact::state(3, k)
                            .iter()
                            .map(|b| char::from(b'0' + b))
                            .collect();
                        let e = ex.energies[k];
                        vec![
                            s,
                            format!("{e:.2}"),
                            format!("{:.4}", libm::exp(-e / t)),
                            format!("{:.4}", probs[k]),
                        ]
                    })
                    .collect();
                (rows, format!("The 8 states (Z = {:.4})", ex.z()))
            }
            Err(e) => (Vec::new(), e.to_string()),
        };
        Plot {
            id: "three_table".into(),
            title,
            x_label: String::new(),
            y_label: String::new(),
            body: PlotBody::Table {
                columns: ["s₁s₂s₃", "E(s)", "e^(−E/T)", "p(s)"]
                    .map(String::from)
                    .into(),
                rows,
            },
        }
    }

    /// E_data, E_model, and the weights before and after the worked update.
    fn worked(&self) -> [[f64; 4]; 3] {
        let t = &self.state.params.three;
        let rows = |r: &[[u8; 3]; 10]| Array2::from_shape_fn((10, 3), |(i, j)| r[i][j]);
        let d = boltzmann::moments(rows(&WORKED_DATA).view());
        let m = boltzmann::moments(rows(&WORKED_SAMPLES).view());
        let w = [t.w12, t.w13, t.w23];
        let pairs = [(0, 1), (0, 2), (1, 2)];
        let mut out = [[0.0; 4]; 3];
        for (k, &(i, j)) in pairs.iter().enumerate() {
            out[k] = [
                d[[i, j]],
                m[[i, j]],
                w[k],
                w[k] + t.rate * (d[[i, j]] - m[[i, j]]),
            ];
        }
        out
    }

    /// The worked update of every weight (TC-12): the pair's data and model averages, the weight before and
    /// after.
    fn worked_plot(&self) -> Plot {
        let rows = self.worked();
        let names = ["w₁₂", "w₁₃", "w₂₃"];
        Plot {
            id: "worked_update".into(),
            title: format!(
                "Worked update at α = {}",
                number(self.state.params.three.rate)
            ),
            x_label: String::new(),
            y_label: String::new(),
            body: PlotBody::Table {
                columns: ["weight", "E_data", "E_model", "before", "after"]
                    .map(String::from)
                    .into(),
                rows: rows
                    .iter()
                    .zip(names)
                    .map(|(r, n)| {
                        let mut row = vec![n.to_string()];
                        row.extend(r.iter().map(|&v| number(v)));
                        row
                    })
                    .collect(),
            },
        }
    }

    fn curve(&self, id: &str) -> Plot {
        let epochs = f64::from(self.state.params.epochs);
        let mut series: Vec<Series> = self
            .learners
            .iter()
            .map(|l| Series {
                name: l.kind.name().into(),
                mark: Mark::Line,
                color: Some(l.kind.colour().into()),
                points: if id == "energy" {
                    l.energy.clone()
                } else {
                    l.likelihood.clone()
                },
                band: None,
            })
            .collect();
        let (title, y) = if id == "energy" {
            ("Mean energy of the letters", "energy per letter")
        } else {
            let bound = -libm::log(self.data.nrows() as f64);
            series.push(Series {
                name: "bound ln(1/letters)".into(),
                mark: Mark::Dashed,
                color: Some(REFERENCE.into()),
                points: vec![[0.0, bound], [epochs, bound]],
                band: None,
            });
            ("Log-likelihood per letter (exact)", "mean ln p(letter)")
        };
        Plot {
            id: id.into(),
            title: title.into(),
            x_label: "epoch".into(),
            y_label: y.into(),
            body: PlotBody::Xy {
                x_range: Some([0.0, epochs]),
                y_range: None,
                equal_aspect: false,
                series,
                heatmap: None,
            },
        }
    }

    fn probabilities_plot(&self) -> Plot {
        let mut categories: Vec<String> =
            self.which.iter().map(|&i| LETTER_NAMES[i].into()).collect();
        categories.push("every other state".into());
        let index = |v: &[u8]| v.iter().fold(0usize, |k, &x| (k << 1) | usize::from(x));
        let four = lecture_four();
        let k = self.which.len() as f64;
        let mut series = vec![BarSeries {
            name: "data".into(),
            values: self.which.iter().map(|_| 1.0 / k).chain([0.0]).collect(),
            color: Some(REFERENCE.into()),
        }];
        for l in &self.learners {
            let on: Vec<f64> = self
                .which
                .iter()
                .map(|&i| l.last.marginal.get(index(&four[i])).copied().unwrap_or(0.0))
                .collect();
            let rest = 1.0 - on.iter().sum::<f64>();
            series.push(BarSeries {
                name: l.kind.name().into(),
                values: on.into_iter().chain([rest.max(0.0)]).collect(),
                color: Some(l.kind.colour().into()),
            });
        }
        Plot {
            id: "probabilities".into(),
            title: "The model's probability of each letter".into(),
            x_label: "visible state".into(),
            y_label: "p(v)".into(),
            body: PlotBody::Bars { categories, series },
        }
    }

    /// The largest |w| over every variant: one symmetric scale for every weight picture.
    fn weight_scale(&self) -> f64 {
        self.learners
            .iter()
            .flat_map(|l| l.net.weights().iter().map(|w| f64::from(w.abs())))
            .fold(0.0, f64::max)
            .max(1e-6)
    }

    fn weights_plot(&self, kind: Kind) -> Plot {
        let scale = self.weight_scale();
        let learner = self.learners.iter().find(|l| l.kind == kind);
        let n = self.state.params.units();
        let side = n as f64 + 0.5;
        let heatmap = learner.map(|l| Heatmap {
            x_range: [0.5, side],
            y_range: [0.5, side],
            nx: n as u32,
            ny: n as u32,
            values: l.net.weights().iter().map(|&w| f64::from(w)).collect(),
            label: "w_ij".into(),
            value_range: Some([-scale, scale]),
        });
        let title = match learner {
            Some(_) => format!("Weights, {}", kind.name()),
            None => format!("Weights, {} (not trained)", kind.name()),
        };
        Plot {
            id: format!(
                "weights_{}",
                match kind {
                    Kind::Exact => "exact",
                    Kind::Chains => "chains",
                    Kind::Lecture => "lecture",
                }
            ),
            title,
            x_label: "unit j".into(),
            y_label: "unit i".into(),
            body: PlotBody::Xy {
                x_range: Some([0.5, side]),
                y_range: Some([0.5, side]),
                equal_aspect: true,
                series: vec![],
                heatmap,
            },
        }
    }

    /// Each learner's zero-temperature recall of the four probes (visible units).
    fn recalls(&self, l: &Learner) -> Vec<Vec<u8>> {
        PROBES
            .iter()
            .map(|p| l.net.recall(p, 100)[..9].to_vec())
            .collect()
    }

    fn recall_correct(&self, l: &Learner) -> usize {
        let four = lecture_four();
        let r = self.recalls(l);
        self.which.iter().filter(|&&i| r[i] == four[i]).count()
    }

    fn recall_plot(&self) -> Plot {
        let four = lecture_four();
        let recalls: Vec<_> = self.learners.iter().map(|l| self.recalls(l)).collect();
        let mut images = Vec::new();
        for (i, probe) in PROBES.iter().enumerate() {
            images.push(Image {
                label: format!("{}′ probe", LETTER_NAMES[i]),
                pixels: probe.iter().map(|&b| f64::from(b)).collect(),
            });
            for (l, r) in self.learners.iter().zip(&recalls) {
                let got = four
                    .iter()
                    .position(|f| *f == r[i])
                    .map_or("other", |k| LETTER_NAMES[k]);
                images.push(Image {
                    label: format!("{}: {got}", l.kind.short()),
                    pixels: r[i].iter().map(|&b| f64::from(b)).collect(),
                });
            }
        }
        Plot {
            id: "recall".into(),
            title: "Recall of the corrupted letters".into(),
            x_label: String::new(),
            y_label: String::new(),
            body: PlotBody::Images {
                cols: 1 + self.learners.len() as u32,
                width: 3,
                height: 3,
                channels: 1,
                value_range: [1.0, 0.0],
                grid: true,
                images,
            },
        }
    }
}

impl LabRun for Run {
    async fn advance(&mut self, engine: &mut Engine, chunk: &Chunk<'_>) -> Result<Frame> {
        let mut todo = chunk.take(self.state.params.epochs - self.epoch);
        if todo > 0 && !self.done() {
            self.place_on_gpu(engine).await?;
        }
        while todo > 0 && !self.done() {
            let t0 = chunk.now();
            self.train_epoch(engine).await?;
            self.timing.0 += chunk.now() - t0;
            todo -= 1;
            if self.learners.iter().all(|l| l.stopped.is_some()) {
                break;
            }
            if chunk.over() {
                break;
            }
        }
        Ok(self.frame())
    }

    fn frame(&mut self) -> Frame {
        let plots = vec![
            self.three_table(),
            self.worked_plot(),
            self.curve("energy"),
            self.curve("likelihood"),
            self.probabilities_plot(),
            self.weights_plot(Kind::Exact),
            self.weights_plot(Kind::Chains),
            self.weights_plot(Kind::Lecture),
            self.recall_plot(),
        ];
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
        let mut m = Vec::new();
        if let Ok(ex) = self.state.params.three_machine().and_then(|n| n.exact()) {
            m.push(Metric::new("Z, three units", ex.z(), ""));
            m.push(Metric::new(
                "p(000), three units",
                ex.probabilities()[0],
                "",
            ));
        }
        let w = self.worked();
        m.push(Metric::new("w12 after the worked update", w[0][3], ""));
        let k = self.which.len() as f64;
        for l in &self.learners {
            let name = l.kind.name();
            m.push(Metric::new(
                format!("mean energy of the letters, {name}"),
                l.last.energy,
                "",
            ));
            m.push(Metric::new(
                format!("log-likelihood per letter, {name}"),
                l.last.likelihood,
                "nats",
            ));
            m.push(Metric::new(
                format!("KL(data ‖ model), {name}"),
                -libm::log(k) - l.last.likelihood,
                "nats",
            ));
            m.push(Metric::new(
                format!("recall correct (of {}), {name}", self.which.len()),
                self.recall_correct(l) as f64,
                "letters",
            ));
        }
        m.push(Metric::new(
            "updates per second",
            self.timing.1 / (self.timing.0 / 1000.0),
            "updates/s",
        ));
        m
    }

    fn reset(&mut self) {
        if let Ok(fresh) = Run::new(self.state.clone()) {
            *self = fresh;
        }
    }

    fn done(&self) -> bool {
        self.epoch >= self.state.params.epochs || self.learners.iter().all(|l| l.stopped.is_some())
    }
}
