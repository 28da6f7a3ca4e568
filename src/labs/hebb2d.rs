//! Lab "Hebbian plasticity in 2-D" (source 000_96160589e547365b.txt): a linear neuron v = wᵀu on correlated
//! 2-D Gaussian inputs, learning by Hebb, clipped Hebb, Oja, covariance, BCM and instar rules.
//!
//! Host-side f64 math (metrics, fits) goes through `libm` so that CPU runs give the same bits natively
//! and in wasm, where std's transcendental functions come from different implementations.
//!
//! Differences from the source listing, on purpose: the listing's `hebb_update` computes `v = w * u`
//! elementwise and its first activation plot multiplies elementwise; we use the dot product v = wᵀu that the
//! equations define. The listing clips with w_max = 1 while the text asks for 2; w_max is a parameter
//! (default 2, the text's value).
use super::budget::{Chunk, Cost};
use super::{Lab, LabRun};
use crate::data::store::DataStore;
use crate::engine::Engine;
use crate::error::{FieldError, Result};
use crate::kernels::trajectories::{self, Dist, GpuTrajectories, Job, NOT_DIVERGED, Traj};
use crate::plasticity::{Rule, theory};
use crate::protocol::{
    BarSeries, Cell, Frame, Heatmap, LabInfo, Mark, Metric, Plot, PlotBody, Series,
};
use crate::rng::{self, Purpose};
use crate::state::StateDoc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Parameters of the lab.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The input distributions, one panel each (the exercise's Σ1, Σ2, Σ3 by default).
    #[schemars(length(min = 1, max = 4))]
    #[schemars(title = "input distributions", extend("x-item-label" = "Σ"))]
    pub inputs: Vec<Gaussian>,
    /// Samples per distribution in the scatter plots.
    #[schemars(range(min = 10, max = 5000), extend("x-unit" = "samples"))]
    #[schemars(title = "scatter samples")]
    pub samples: u32,
    /// Learning rule.
    #[schemars(title = "rule")]
    pub rule: Rule,
    /// Learning rate η.
    #[schemars(range(min = 0.000001, max = 1.0))]
    #[schemars(title = "η (learning rate)")]
    pub eta: f64,
    /// Updates, one freshly drawn input each.
    #[schemars(range(min = 1, max = 1000000), extend("x-unit" = "updates"))]
    #[schemars(title = "updates")]
    pub steps: u32,
    /// Largest ‖w‖ allowed by clipped Hebb.
    #[schemars(range(min = 0.01, max = 100.0))]
    #[schemars(title = "w_max (clip)")]
    pub w_max: f64,
    /// Time constant of the running means ū (covariance rule) and θ = ⟨v²⟩ (BCM).
    #[schemars(range(min = 1.0, max = 100000.0), extend("x-unit" = "updates"))]
    #[schemars(title = "τ (running means)")]
    pub tau: f64,
    // The notebook's code normalises w₀ this way.
    /// Rescale each initial w₀ ~ N(0, I) to unit length.
    #[schemars(title = "unit-length w₀")]
    pub normalise_init: bool,
    /// Independent runs per distribution (different w₀ and inputs); plots show the first, metrics average all.
    #[schemars(range(min = 1, max = 1024), extend("x-unit" = "runs"))]
    #[schemars(title = "runs per distribution")]
    pub trials: u32,
    /// Record w every this many updates (the exercise marks every 10).
    #[schemars(range(min = 1, max = 1000), extend("x-unit" = "updates"))]
    #[schemars(title = "record every")]
    pub record_every: u32,
}

/// A 2-D Gaussian given by its variances, correlation and mean.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Gaussian {
    /// Variance of u₁.
    #[schemars(range(min = 0.0, max = 10.0))]
    #[schemars(title = "var u₁")]
    pub var_x: f64,
    /// Variance of u₂.
    #[schemars(range(min = 0.0, max = 10.0))]
    #[schemars(title = "var u₂")]
    pub var_y: f64,
    /// Correlation ρ of u₁ and u₂ (|ρ| ≤ 1 for a valid covariance).
    #[schemars(range(min = -1.0, max = 1.0))]
    #[schemars(title = "correlation ρ")]
    pub corr: f64,
    /// Mean of u₁.
    #[schemars(range(min = -3.0, max = 3.0))]
    #[schemars(title = "mean u₁")]
    pub mean_x: f64,
    /// Mean of u₂.
    #[schemars(range(min = -3.0, max = 3.0))]
    #[schemars(title = "mean u₂")]
    pub mean_y: f64,
}

impl Gaussian {
    fn zero_mean(corr: f64) -> Self {
        Self {
            var_x: 1.0,
            var_y: 1.0,
            corr,
            mean_x: 0.0,
            mean_y: 0.0,
        }
    }

    fn cov_xy(&self) -> f64 {
        self.corr * (self.var_x * self.var_y).sqrt()
    }

    /// Lower Cholesky factor of Σ = [[vx, c], [c, vy]] (valid for |ρ| ≤ 1, variances ≥ 0).
    fn dist(&self) -> Dist {
        let sx = self.var_x.sqrt();
        let sy = self.var_y.sqrt();
        let l11 = sy * (1.0 - self.corr * self.corr).max(0.0).sqrt();
        Dist::new(
            [self.mean_x as f32, self.mean_y as f32],
            [sx as f32, (self.corr * sy) as f32, l11 as f32],
        )
    }

    /// The matrix whose principal axis the rule's average update follows.
    fn drive(&self, rule: Rule) -> [[f64; 2]; 2] {
        let c = self.cov_xy();
        theory::drive(
            rule,
            [[self.var_x, c], [c, self.var_y]],
            [self.mean_x, self.mean_y],
        )
    }
}

/// The lab.
pub struct Hebb2d;

impl Lab for Hebb2d {
    const ID: &'static str = "hebb2d";
    // Seed 42 starts Σ1 and Σ2 on the diagonal, where all three runs end: the isotropic input's lack of a
    // preferred direction would not show. Seed 55 starts all three about 60° away from it (104°, 112°, 108°).
    const DEFAULT_SEED: u32 = 55;
    type Params = Params;
    type Run = Run;

    fn info() -> LabInfo {
        LabInfo {
            id: Self::ID,
            title: "Hebbian plasticity in 2-D",
            summary: "Watch a weight vector learn from correlated Gaussian inputs: Hebb grows without bound, \
                      clipping and Oja's rule find the principal axis.",
            source: "000_96160589e547365b.txt",
        }
    }

    /// The notebook, in reading order.
    fn cells() -> Vec<Cell> {
        let text = super::text::LabText::parse(include_str!("hebb2d.md"));
        vec![
            text.prose("intro"),
            text.teacher("goals"),
            Cell::Controls {
                title: "Inputs".into(),
                fields: vec!["inputs".into(), "samples".into()],
            },
            text.prose("ex1_heading"),
            Cell::PlotRow {
                ids: vec!["inputs".into(), "activation".into()],
            },
            text.exercise("ex1"),
            text.prose("dynamics"),
            Cell::Controls {
                title: "Learning".into(),
                fields: vec![
                    "rule".into(),
                    "eta".into(),
                    "steps".into(),
                    "w_max".into(),
                    "tau".into(),
                    "normalise_init".into(),
                    "trials".into(),
                    "record_every".into(),
                ],
            },
            Cell::Run,
            // One panel per distribution, side by side as in the notebook's figures.
            Cell::PlotRow {
                ids: (1..=4).map(|d| format!("traj_{d}")).collect(),
            },
            text.exercise("ex2a"),
            text.exercise("ex2b"),
            Cell::PlotRow {
                ids: vec!["norm".into(), "angle".into()],
            },
            Cell::Plot {
                id: "growth".into(),
            },
            text.exercise("theory"),
            text.exercise("beyond"),
            Cell::Metrics {
                title: "Report".into(),
            },
            text.prose("sources"),
        ]
    }

    fn default_params() -> Params {
        Params {
            inputs: vec![
                Gaussian::zero_mean(0.0),
                Gaussian::zero_mean(0.4),
                Gaussian::zero_mean(0.9),
            ],
            samples: 500,
            rule: Rule::Hebb,
            eta: 1e-3,
            steps: 2000,
            w_max: 2.0,
            tau: 100.0,
            normalise_init: true,
            trials: 16,
            record_every: 10,
        }
    }

    /// Rules across fields: Σ positive semidefinite, total work and recorded points within budget.
    fn validate(p: &Params) -> Vec<FieldError> {
        let mut errs = Vec::new();
        for (i, g) in p.inputs.iter().enumerate() {
            let det = g.var_x * g.var_y * (1.0 - g.corr * g.corr);
            if g.var_x < 0.0 || g.var_y < 0.0 || g.corr.abs() > 1.0 {
                errs.push(FieldError::new(
                    format!("inputs/{i}/corr"),
                    format!(
                        "Σ{} = [[{}, {:.3}], [{:.3}, {}]] is not positive semidefinite (determinant {det:.3}); \
                         variances must be ≥ 0 and |ρ| ≤ 1",
                        i + 1,
                        g.var_x,
                        g.cov_xy(),
                        g.cov_xy(),
                        g.var_y
                    ),
                ));
            }
        }
        if p.record_every > 0 && p.steps / p.record_every > MAX_RECORDS {
            errs.push(FieldError::new(
                "record_every",
                format!(
                    "{} recorded points per run exceed {MAX_RECORDS}; record less often",
                    p.steps / p.record_every
                ),
            ));
        }
        errs
    }

    /// One update of one run is a few flops and four random draws; the recorded path of each distribution's
    /// first run and the runs' states are what a run holds.
    fn cost(p: &Params) -> Cost {
        let runs = f64::from(p.trials) * p.inputs.len() as f64;
        let records = f64::from(p.steps / p.record_every.max(1) + 1);
        Cost::default()
            .work(
                "weight updates",
                "steps",
                f64::from(p.steps) * runs,
                NS_PER_UPDATE,
            )
            .memory(
                "the recorded paths",
                "record_every",
                p.inputs.len() as f64 * records * PATH_POINT_BYTES,
            )
            .memory(
                "the runs' states and one piece of recorded weights",
                "trials",
                runs * (2 * std::mem::size_of::<Traj>() + std::mem::size_of::<SlopeFit>()) as f64
                    + PIECE_UPDATES as f64 * 8.0,
            )
    }

    fn start(state: StateDoc<Params>, _store: &DataStore) -> Result<Run> {
        Run::new(state)
    }
}

/// Nanoseconds per weight update on the reference machine's CPU (native release, simple Hebb, the costliest
/// rule: 139 ns measured over 64 × 3 runs of 100,000 updates; see README, "Budgets").
const NS_PER_UPDATE: f64 = 140.0;
/// A recorded point of a path as held (step and w) and as sent in a frame's JSON.
const PATH_POINT_BYTES: f64 = 12.0 + 40.0;
/// Updates (over all runs) computed between two looks at the chunk's clock: about 30 ms of wasm.
const PIECE_UPDATES: u32 = 1 << 16;
/// Recorded points per trajectory beyond which the plots become unreadable and memory grows.
const MAX_RECORDS: u32 = 100_000;

/// A large number as the page's metrics table writes it (JavaScript's `toExponential(4)`: "1.8447e+19").
fn like_the_page(x: f64) -> String {
    let text = format!("{x:.4e}");
    match text.split_once('e') {
        Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
        _ => text,
    }
}

/// Least-squares slope of ln‖w‖ against the step, over the second half of the run.
#[derive(Clone, Copy, Default)]
struct SlopeFit {
    n: f64,
    st: f64,
    sy: f64,
    stt: f64,
    sty: f64,
}

impl SlopeFit {
    fn add(&mut self, t: f64, y: f64) {
        self.n += 1.0;
        self.st += t;
        self.sy += y;
        self.stt += t * t;
        self.sty += t * y;
    }

    fn slope(&self) -> Option<f64> {
        let den = self.n * self.stt - self.st * self.st;
        (self.n >= 2.0 && den > 0.0).then(|| (self.n * self.sty - self.st * self.sy) / den)
    }
}

/// A run in progress: trajectory states, the first trial's recorded path per distribution, fits.
pub struct Run {
    state: StateDoc<Params>,
    dists: Vec<Dist>,
    init: Vec<Traj>,
    trajs: Vec<Traj>,
    step: u32,
    /// Recorded (step, w) of trial 0, per distribution.
    paths: Vec<Vec<(u32, [f32; 2])>>,
    fits: Vec<SlopeFit>,
    samples: Vec<Vec<[f64; 2]>>,
    /// Exercise 1's random weight vector.
    w_demo: [f64; 2],
    reported_divergence: Vec<bool>,
    sent_static: bool,
    /// The trajectories on the GPU between chunks (None on the CPU, and after a reset until the next chunk).
    resident: Option<GpuTrajectories>,
}

impl Run {
    /// `steps` more updates of every run.
    async fn piece(
        &mut self,
        engine: &mut Engine,
        steps: u32,
        notices: &mut Vec<String>,
    ) -> Result<()> {
        let p = &self.state.params;
        let re = p.record_every;
        let job = Job::new(
            p.rule,
            self.state.seed,
            p.trials,
            self.trajs.len() as u32,
            self.step,
            steps,
            re,
        )
        .with_rates(p.eta as f32, p.w_max as f32, p.tau as f32);
        let (records, notice) = trajectories::advance(
            engine,
            &job,
            &self.dists,
            &mut self.trajs,
            &mut self.resident,
        )
        .await?;
        notices.extend(notice);
        let half = p.steps / 2;
        let trials = p.trials as usize;
        let first_slot = self.step / re;
        for i in 0..self.trajs.len() {
            for s in 0..job.n_slots {
                let at = (first_slot + s + 1) * re;
                let w = [records[[i, s as usize, 0]], records[[i, s as usize, 1]]];
                if i % trials == 0 {
                    self.paths[i / trials].push((at, w));
                }
                let norm = libm::hypot(f64::from(w[0]), f64::from(w[1]));
                if at >= half && norm > 0.0 && self.trajs[i].diverged_at == NOT_DIVERGED {
                    self.fits[i].add(f64::from(at), libm::log(norm));
                }
            }
        }
        self.step += steps;
        notices.extend(self.divergence_notices());
        Ok(())
    }

    /// Step 0 of a validated state.
    fn new(state: StateDoc<Params>) -> Result<Self> {
        let p = &state.params;
        let seed = state.seed;
        let dists: Vec<Dist> = p.inputs.iter().map(Gaussian::dist).collect();
        let mut init = Vec::new();
        for (d, g) in p.inputs.iter().enumerate() {
            let q = g.drive(p.rule);
            for r in 0..p.trials {
                let key = [seed, rng::stream(Purpose::InitialWeights, d as u32, r)];
                let x = rng::philox4x32([0; 4], key);
                let mut w = rng::normal_pair(x[0], x[1]);
                if p.normalise_init {
                    let n = libm::sqrtf(w[0] * w[0] + w[1] * w[1]);
                    w = [w[0] / n, w[1] / n];
                }
                // θ starts at ⟨v²⟩ for w₀ and ū at the input mean, as if the neuron had been watching already.
                let (wx, wy) = (f64::from(w[0]), f64::from(w[1]));
                let theta = wx * wx * q[0][0] + 2.0 * wx * wy * q[0][1] + wy * wy * q[1][1];
                let mut t = Traj::new(w, theta as f32);
                t.ubar = [g.mean_x as f32, g.mean_y as f32];
                init.push(t);
            }
        }
        let samples = dists
            .iter()
            .enumerate()
            .map(|(d, dist)| {
                let key = [seed, rng::stream(Purpose::Samples, d as u32, 0)];
                (0..p.samples)
                    .map(|j| {
                        let z = rng::normal4([j / 2, 0, 0, 0], key);
                        let lane = 2 * (j % 2) as usize;
                        let u = dist.sample([z[lane], z[lane + 1]]);
                        [f64::from(u[0]), f64::from(u[1])]
                    })
                    .collect()
            })
            .collect();
        let z = rng::normal4(
            [0; 4],
            [seed, rng::stream(Purpose::InitialWeights, 0xFF, 0)],
        );
        let n_dists = dists.len();
        let mut run = Self {
            trajs: init.clone(),
            init,
            dists,
            step: 0,
            paths: vec![],
            fits: vec![],
            samples,
            w_demo: [f64::from(z[0]), f64::from(z[1])],
            reported_divergence: vec![false; n_dists],
            sent_static: false,
            resident: None,
            state,
        };
        run.reset();
        Ok(run)
    }

    pub fn step(&self) -> u32 {
        self.step
    }

    fn divergence_notices(&mut self) -> Vec<String> {
        let trials = self.state.params.trials as usize;
        let mut out = Vec::new();
        for d in 0..self.dists.len() {
            let runs = &self.trajs[d * trials..(d + 1) * trials];
            let first = runs
                .iter()
                .filter_map(|t| (t.diverged_at != NOT_DIVERGED).then_some(t.diverged_at))
                .min();
            if let Some(at) = first
                && !self.reported_divergence[d]
            {
                self.reported_divergence[d] = true;
                // The number the metrics table shows (max ‖w‖), written as the page writes it.
                let max = runs
                    .iter()
                    .map(|t| f64::from(t.max_norm))
                    .fold(0.0, f64::max);
                out.push(format!(
                    "The rule diverged on Σ{} at update {at}: the next update would have taken ‖w‖ past 10³⁰, so \
                     that run stopped there (the table's max ‖w‖, {} so far, is its last finite value). Lower η \
                     or the number of updates, or pick a bounded rule (clipped Hebb, Oja).",
                    d + 1,
                    like_the_page(max)
                ));
            }
        }
        out
    }

    fn name(d: usize) -> String {
        format!("Σ{}", d + 1)
    }

    /// Σd's colour in every plot of the lab (the page's palette without its red, which marks w and the axes).
    fn colour(d: usize) -> String {
        crate::protocol::PALETTE[d % 4].into()
    }

    fn axis(&self, d: usize) -> (f64, f64, Option<[f64; 2]>) {
        theory::principal_axis(self.state.params.inputs[d].drive(self.state.params.rule))
    }

    /// Dashed line through the origin along the principal axis, long enough to cross the plot.
    fn axis_series(&self, d: usize, half_len: f64) -> Option<Series> {
        let (_, _, e) = self.axis(d);
        e.filter(|_| self.state.view.theory).map(|e| Series {
            name: format!("principal axis of {}", Self::name(d)),
            mark: Mark::Dashed,
            band: None,
            color: Some(Self::colour(d)),
            points: vec![
                [-half_len * e[0], -half_len * e[1]],
                [half_len * e[0], half_len * e[1]],
            ],
        })
    }

    fn inputs_plot(&self) -> Plot {
        let mut series: Vec<Series> = self
            .samples
            .iter()
            .enumerate()
            .map(|(d, s)| Series {
                name: Self::name(d),
                mark: Mark::Scatter,
                band: None,
                color: Some(Self::colour(d)),
                points: s.clone(),
            })
            .collect();
        series.push(Series {
            name: "weight vector w".into(),
            mark: Mark::Arrows,
            band: None,
            color: Some(crate::protocol::ARROW.into()),
            points: vec![[0.0, 0.0], self.w_demo],
        });
        Plot {
            id: "inputs".into(),
            title: "Inputs u drawn from each distribution, and a random weight vector".into(),
            x_label: "u₁".into(),
            y_label: "u₂".into(),
            body: PlotBody::Xy {
                x_range: Some([-5.0, 5.0]),
                y_range: Some([-5.0, 5.0]),
                equal_aspect: true,
                series,
                heatmap: None,
            },
        }
    }

    fn activation_plot(&self) -> Plot {
        let n = 61u32;
        // Values at cell centres: the heatmap tiles [-3, 3]² with n × n cells.
        let at = |k: u32| -3.0 + 6.0 * (f64::from(k) + 0.5) / f64::from(n);
        let values = (0..n)
            .flat_map(|iy| (0..n).map(move |ix| (at(ix), at(iy))))
            .map(|(x, y)| self.w_demo[0] * x + self.w_demo[1] * y)
            .collect();
        Plot {
            id: "activation".into(),
            title: "Linear activation v = w·u over the input plane".into(),
            x_label: "u₁".into(),
            y_label: "u₂".into(),
            body: PlotBody::Xy {
                x_range: Some([-3.0, 3.0]),
                y_range: Some([-3.0, 3.0]),
                equal_aspect: true,
                series: vec![Series {
                    name: "weight vector w".into(),
                    mark: Mark::Arrows,
                    band: None,
                    color: Some(crate::protocol::ARROW.into()),
                    points: vec![[0.0, 0.0], self.w_demo],
                }],
                heatmap: Some(Heatmap {
                    x_range: [-3.0, 3.0],
                    y_range: [-3.0, 3.0],
                    nx: n,
                    ny: n,
                    values,
                    label: "v = w·u".into(),
                    value_range: None,
                }),
            },
        }
    }

    fn trajectory_plot(&self, d: usize) -> Plot {
        let path: Vec<[f64; 2]> = self.paths[d]
            .iter()
            .map(|(_, w)| [f64::from(w[0]), f64::from(w[1])])
            .collect();
        let reach = path
            .iter()
            .chain(self.samples[d].iter())
            .map(|p| p[0].abs().max(p[1].abs()))
            .fold(3.0f64, f64::max);
        let lim = nice_ceil(reach * 1.05).min(1e31);
        let last = path.last().copied().unwrap_or([0.0, 0.0]);
        let mut series = vec![
            Series {
                name: "inputs".into(),
                mark: Mark::Scatter,
                band: None,
                color: Some("rgba(128,128,128,0.35)".into()),
                points: self.samples[d].clone(),
            },
            Series {
                name: format!("w every {} updates", self.state.params.record_every),
                mark: Mark::Trajectory,
                band: None,
                color: Some(Self::colour(d)),
                points: path,
            },
            Series {
                name: "current w".into(),
                mark: Mark::Arrows,
                band: None,
                color: Some(crate::protocol::ARROW.into()),
                points: vec![[0.0, 0.0], last],
            },
        ];
        series.extend(self.axis_series(d, lim * 2.0));
        Plot {
            id: format!("traj_{}", d + 1),
            title: format!(
                "Weight trajectory on {} ({})",
                Self::name(d),
                self.describe(d)
            ),
            x_label: "w₁ (and u₁)".into(),
            y_label: "w₂ (and u₂)".into(),
            body: PlotBody::Xy {
                x_range: Some([-lim, lim]),
                y_range: Some([-lim, lim]),
                equal_aspect: true,
                series,
                heatmap: None,
            },
        }
    }

    fn describe(&self, d: usize) -> String {
        let g = &self.state.params.inputs[d];
        let mut s = format!("var {}, {}, ρ = {}", g.var_x, g.var_y, g.corr);
        if g.mean_x != 0.0 || g.mean_y != 0.0 {
            s.push_str(&format!(", mean ({}, {})", g.mean_x, g.mean_y));
        }
        s
    }

    fn norm_plot(&self) -> Plot {
        let p = &self.state.params;
        let mut series: Vec<Series> = self
            .paths
            .iter()
            .enumerate()
            .map(|(d, path)| Series {
                name: Self::name(d),
                mark: Mark::Line,
                band: None,
                color: Some(Self::colour(d)),
                points: path
                    .iter()
                    .map(|(t, w)| {
                        [
                            f64::from(*t),
                            libm::log(libm::hypot(f64::from(w[0]), f64::from(w[1]))),
                        ]
                    })
                    .collect(),
            })
            .collect();
        if self.state.view.theory {
            let steps = f64::from(p.steps);
            for d in 0..self.dists.len() {
                let line = match p.rule {
                    // Theory: ⟨Δw⟩ = η Q w, so ln‖w‖ grows at η λ₁ per update once w is on the principal axis.
                    // The line is anchored at the first trial's value halfway through the run.
                    Rule::Hebb => self.paths[d]
                        .iter()
                        .find(|(t, _)| f64::from(*t) >= steps / 2.0)
                        .map(|(t0, w)| {
                            let y0 = libm::log(libm::hypot(f64::from(w[0]), f64::from(w[1])));
                            let rate = theory::hebb_growth_rate(p.eta, self.axis(d).0);
                            vec![
                                [f64::from(*t0), y0],
                                [steps, y0 + rate * (steps - f64::from(*t0))],
                            ]
                        }),
                    Rule::HebbClip => {
                        Some(vec![[0.0, libm::log(p.w_max)], [steps, libm::log(p.w_max)]])
                    }
                    Rule::Oja => Some(vec![[0.0, 0.0], [steps, 0.0]]),
                    _ => None,
                };
                if let Some(points) = line {
                    let name = match p.rule {
                        Rule::Hebb => format!("theory: slope ηλ₁ on {}", Self::name(d)),
                        Rule::HebbClip => "w_max".into(),
                        _ => "‖w‖ = 1".into(),
                    };
                    if p.rule == Rule::Hebb || d == 0 {
                        // A distribution's theory line is dashed in its colour; a bound shared by all is grey.
                        let color = if p.rule == Rule::Hebb {
                            Self::colour(d)
                        } else {
                            crate::protocol::REFERENCE.into()
                        };
                        series.push(Series {
                            name,
                            mark: Mark::Dashed,
                            band: None,
                            color: Some(color),
                            points,
                        });
                    }
                }
            }
        }
        Plot {
            id: "norm".into(),
            title: "Length of w over time (first run of each distribution)".into(),
            x_label: "update".into(),
            y_label: "ln ‖w‖".into(),
            body: PlotBody::Xy {
                x_range: Some([0.0, f64::from(p.steps)]),
                y_range: None,
                equal_aspect: false,
                series,
                heatmap: None,
            },
        }
    }

    fn angle_plot(&self) -> Plot {
        let series = (0..self.dists.len())
            .filter_map(|d| {
                let (_, _, e) = self.axis(d);
                e.map(|e| Series {
                    name: Self::name(d),
                    mark: Mark::Line,
                    band: None,
                    color: Some(Self::colour(d)),
                    points: self.paths[d]
                        .iter()
                        .map(|(t, w)| [f64::from(*t), angle_deg(*w, e)])
                        .collect(),
                })
            })
            .collect();
        Plot {
            id: "angle".into(),
            title: "Angle between w and the principal axis (isotropic inputs have none)".into(),
            x_label: "update".into(),
            y_label: "angle (degrees)".into(),
            body: PlotBody::Xy {
                x_range: Some([0.0, f64::from(self.state.params.steps)]),
                y_range: Some([0.0, 90.0]),
                equal_aspect: false,
                series,
                heatmap: None,
            },
        }
    }

    /// Mean over trials of the fitted growth rate of ln‖w‖, per 1000 updates.
    fn growth_rates(&self) -> Vec<(Option<f64>, Option<f64>)> {
        let trials = self.state.params.trials as usize;
        (0..self.dists.len())
            .map(|d| {
                let slopes: Vec<f64> = self.fits[d * trials..(d + 1) * trials]
                    .iter()
                    .filter_map(SlopeFit::slope)
                    .collect();
                if slopes.is_empty() {
                    return (None, None);
                }
                let n = slopes.len() as f64;
                let mean = slopes.iter().sum::<f64>() / n;
                let sd = (slopes.iter().map(|s| (s - mean) * (s - mean)).sum::<f64>()
                    / (n - 1.0).max(1.0))
                .sqrt();
                (Some(mean), Some(sd))
            })
            .collect()
    }

    fn growth_plot(&self) -> Plot {
        let p = &self.state.params;
        let rates = self.growth_rates();
        let mut series = vec![BarSeries {
            name: format!("measured (mean of {} runs, second half)", p.trials),
            values: rates
                .iter()
                .map(|(m, _)| m.map_or(0.0, |m| 1000.0 * m))
                .collect(),
            color: None,
        }];
        if p.rule == Rule::Hebb && self.state.view.theory {
            series.push(BarSeries {
                name: "theory η λ₁".into(),
                values: (0..self.dists.len())
                    .map(|d| 1000.0 * theory::hebb_growth_rate(p.eta, self.axis(d).0))
                    .collect(),
                color: None,
            });
        }
        Plot {
            id: "growth".into(),
            title: "Growth rate of ln ‖w‖".into(),
            x_label: "input distribution".into(),
            y_label: "d ln‖w‖ / d update (× 1000)".into(),
            body: PlotBody::Bars {
                categories: (0..self.dists.len()).map(Self::name).collect(),
                series,
            },
        }
    }
}

impl LabRun for Run {
    /// Back to step 0 with the same initial weights.
    fn reset(&mut self) {
        self.trajs = self.init.clone();
        self.resident = None;
        self.step = 0;
        let trials = self.state.params.trials as usize;
        self.paths = (0..self.dists.len())
            .map(|d| vec![(0, self.init[d * trials].w)])
            .collect();
        self.fits = vec![SlopeFit::default(); self.trajs.len()];
        self.reported_divergence.fill(false);
        self.sent_static = false;
    }

    fn done(&self) -> bool {
        self.step >= self.state.params.steps
    }

    /// Advances by up to `chunk.max_steps` updates (0: to the end), in pieces of about [`PIECE_UPDATES`], until
    /// the chunk's deadline; returns the frame to draw.
    async fn advance(&mut self, engine: &mut Engine, chunk: &Chunk<'_>) -> Result<Frame> {
        let (steps, re) = (self.state.params.steps, self.state.params.record_every);
        let remaining = steps - self.step;
        // Animated chunks end on record boundaries, so that each frame draws up to the current step.
        let want = if chunk.max_steps == 0 {
            remaining
        } else {
            (chunk.max_steps.div_ceil(re) * re).max(re).min(remaining)
        };
        let end = self.step + want;
        // Records land at multiples of `re` whatever a piece's start, so pieces need not follow them.
        let piece = (PIECE_UPDATES / self.trajs.len() as u32).max(1);
        let mut notices = Vec::new();
        while self.step < end {
            self.piece(engine, piece.min(end - self.step), &mut notices)
                .await?;
            if chunk.over() {
                break;
            }
        }
        let mut frame = self.frame();
        frame.notices = notices;
        Ok(frame)
    }

    /// The current frame without computing anything (step 0 after a reset).
    fn frame(&mut self) -> Frame {
        let p = &self.state.params;
        let mut plots = Vec::new();
        if !self.sent_static {
            plots.push(self.inputs_plot());
            plots.push(self.activation_plot());
            self.sent_static = true;
        }
        for d in 0..self.dists.len() {
            plots.push(self.trajectory_plot(d));
        }
        plots.push(self.norm_plot());
        plots.push(self.angle_plot());
        plots.push(self.growth_plot());
        Frame {
            step: u64::from(self.step),
            total: u64::from(p.steps),
            done: self.done(),
            plots,
            metrics: self.metrics(),
            notices: Vec::new(),
            datasets: Vec::new(),
        }
    }

    /// The report: per distribution, theory and what the runs did.
    fn metrics(&self) -> Vec<Metric> {
        let p = &self.state.params;
        let trials = p.trials as usize;
        let rates = self.growth_rates();
        let mut out = vec![Metric::new("update", f64::from(self.step), "")];
        for (d, rate) in rates.iter().enumerate() {
            let n = Self::name(d);
            let (l1, l2, e) = self.axis(d);
            let runs = &self.trajs[d * trials..(d + 1) * trials];
            let w = runs[0].w;
            let cos: Vec<f64> = match e {
                Some(e) => runs.iter().map(|t| abs_cos(t.w, e)).collect(),
                None => vec![],
            };
            let mean_cos = if cos.is_empty() {
                f64::NAN
            } else {
                cos.iter().sum::<f64>() / cos.len() as f64
            };
            let min_cos = cos.iter().copied().fold(f64::INFINITY, f64::min);
            out.push(Metric::new(format!("{n} λ₁"), l1, ""));
            out.push(Metric::new(format!("{n} λ₂"), l2, ""));
            out.push(Metric::new(format!("{n} w₁ (run 1)"), f64::from(w[0]), ""));
            out.push(Metric::new(format!("{n} w₂ (run 1)"), f64::from(w[1]), ""));
            out.push(Metric::new(
                format!("{n} ‖w‖ (run 1)"),
                libm::hypot(f64::from(w[0]), f64::from(w[1])),
                "",
            ));
            out.push(Metric::new(format!("{n} mean |cos(w, e₁)|"), mean_cos, ""));
            out.push(Metric::new(
                format!("{n} min |cos(w, e₁)|"),
                if cos.is_empty() { f64::NAN } else { min_cos },
                "",
            ));
            out.push(Metric::new(
                format!("{n} max ‖w‖ over all runs and updates"),
                runs.iter()
                    .map(|t| f64::from(t.max_norm))
                    .fold(0.0, f64::max),
                "",
            ));
            out.push(Metric::new(
                format!("{n} growth rate of ln‖w‖ (mean)"),
                rate.0.unwrap_or(f64::NAN),
                "/update",
            ));
            out.push(Metric::new(
                format!("{n} growth rate of ln‖w‖ (sd)"),
                rate.1.unwrap_or(f64::NAN),
                "/update",
            ));
            out.push(Metric::new(
                format!("{n} theory η λ₁"),
                theory::hebb_growth_rate(p.eta, l1),
                "/update",
            ));
            out.push(Metric::new(
                format!("{n} diverged runs"),
                runs.iter()
                    .filter(|t| t.diverged_at != NOT_DIVERGED)
                    .count() as f64,
                "",
            ));
        }
        out
    }
}

/// The smallest of 1, 2, 2.5, 5 × 10ᵏ at or above x, so axis ends fall on round numbers.
fn nice_ceil(x: f64) -> f64 {
    let base = libm::pow(10.0, libm::log10(x).floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * base)
        .find(|v| *v >= x)
        .unwrap_or(10.0 * base)
}

fn abs_cos(w: [f32; 2], e: [f64; 2]) -> f64 {
    let (x, y) = (f64::from(w[0]), f64::from(w[1]));
    let n = libm::hypot(x, y);
    if n == 0.0 {
        f64::NAN
    } else {
        ((x * e[0] + y * e[1]) / n).abs()
    }
}

fn angle_deg(w: [f32; 2], e: [f64; 2]) -> f64 {
    libm::acos(abs_cos(w, e).min(1.0)).to_degrees()
}
