//! Lab "Hopfield networks" (002's exercise and 004 part 2): weights from memories, iterations from a probe with a
//! chosen overlap, the mirror attractor, capacity sweeps for Hebb, pseudo-inverse and Storkey storage against
//! the theory lines, and the lectures' worked examples (5 neurons; letters T, U, C) step by step.
//!
//! Step 0 shows everything that is quick (weights, iterations, worked example); Run computes the capacity sweep,
//! one storage rule after the other, a block of trials per step (sized so that a step stays short), so its
//! heatmaps fill in live and a long sweep shows its progress.
//!
//! Differences from the sources, on purpose: 002 defines sgn(0) = +1 while 004's code keeps a unit on a zero
//! field; both are offered (`Tie`), keeping the unit by default, which only matters on exact ties. 002's listings
//! for the capacity sweeps take `np.sign` of M and multiply the update by the old state (typos); we iterate eq. 1
//! as written. 002's memory-storage estimate takes 80 years for 31 536 000 s (one year); the exercise redoes the
//! arithmetic. The lectures' digits are `x[:100]` in data order; ours are the first training digits of each class
//! in turn (for up to 10 digits, one of each class), so that few digits are already diverse.
use super::budget::{Chunk, Cost};
use super::{Lab, LabRun};
use crate::data::letters::{self, Pattern};
use crate::data::store::DataStore;
use crate::data::store::Need;
use crate::data::{Dataset, Split};
use crate::engine::Engine;
use crate::error::{FieldError, Result};
use crate::nets::hopfield::{
    self, Dynamics, RETRIEVAL_THRESHOLDS, RecallParams, StateKind, Storage, SweepCursor, SweepSpec,
    Tie, Trace,
};
use crate::protocol::{
    BarSeries, Cell, Frame, Heatmap, Image, LabInfo, Mark, Metric, PALETTE, Plot, PlotBody, Series,
};
use crate::state::{StateDoc, View};
use ndarray::{Array2, ArrayView2, Axis};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Cells 1–3: one network, one probe.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Iterations {
    #[schemars(title = "N (units)", range(min = 4, max = 1024))]
    pub n: u32,
    #[schemars(title = "P (memories)", range(min = 1, max = 200))]
    pub memories: u32,
    #[schemars(title = "storage rule")]
    pub storage: Storage,
    #[schemars(title = "updates")]
    pub dynamics: Dynamics,
    /// Overlap q(0) of the probe with memory 1.
    #[schemars(title = "q(0)", range(min = -1.0, max = 1.0))]
    pub q0: f32,
    /// Iterations T at most (the run stops earlier at a fixed point).
    #[schemars(title = "T (sweeps at most)", range(min = 1, max = 200))]
    pub sweeps: u32,
    /// A unit on a zero field keeps its state (as the second lecture's code does) or goes to +1 (the first
    /// lecture's sgn(0) = +1).
    #[serde(default)]
    #[schemars(title = "on a zero field")]
    pub tie: Tie,
}

/// Cells 4–5: the capacity sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Capacity {
    #[schemars(title = "N (units)", range(min = 4, max = 1024))]
    pub n: u32,
    /// P runs from 1 to this.
    #[schemars(title = "largest P", range(min = 1, max = 400))]
    pub p_max: u32,
    /// q(0) runs over this many evenly spaced values up to 1 (e.g. 10: 0.1, 0.2, …, 1.0).
    #[schemars(title = "q(0) values", range(min = 1, max = 20))]
    pub q0_steps: u32,
    /// Independent networks per P.
    #[schemars(title = "trials", range(min = 1, max = 200))]
    pub trials: u32,
    #[schemars(title = "updates")]
    pub dynamics: Dynamics,
    #[schemars(title = "sweeps at most", range(min = 1, max = 200))]
    pub max_sweeps: u32,
    /// A unit on a zero field keeps its state (as the second lecture's code does) or goes to +1 (the first
    /// lecture's sgn(0) = +1).
    #[serde(default)]
    #[schemars(title = "on a zero field")]
    pub tie: Tie,
    /// The first lecture's q(t) curves: for each of these P (up to four), q(t) of memory 1 from every q(0)
    /// value, in the network of the sweep's first trial (its probes, too). Empty: none.
    #[serde(default)]
    #[schemars(
        title = "q(t) curves for P =",
        length(max = 4),
        inner(range(min = 1, max = 400))
    )]
    pub qt_p: Vec<u32>,
    /// The storage rule of the q(t) curves.
    #[serde(default = "hebb")]
    #[schemars(title = "q(t) curves: storage rule")]
    pub qt_storage: Storage,
}

fn hebb() -> Storage {
    Storage::Hebb
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Example {
    /// The second lecture's 5-neuron network: memories s1 = 01011 and s2 = 10110, probe 01010.
    FiveNeurons,
    /// The letters below (T, U, C by default; draw your own), one of them corrupted.
    Letters,
}

/// The order in which a worked example's asynchronous sweeps visit the units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UpdateOrder {
    /// A fresh seeded random order every sweep.
    #[default]
    Random,
    /// The lecture's fixed order, every sweep: 1, 3, 5, 2, 4 for the five neurons, 2, 3, 8, 5, 1, 6, 4, 7, 9
    /// for 3 × 3 letters.
    Lecture,
}

/// The unit states of a worked example.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkedStates {
    /// As the lecture works the example: 0/1 for the five neurons, ±1 for the letters.
    #[default]
    Example,
    /// 0 / 1, fields from the binary state (the lecture's first letter code recalls T and U this way).
    Binary,
    /// −1 / +1.
    Bipolar,
}

/// The lecture's visiting orders (1-based, as printed).
const FIVE_NEURON_ORDER: [usize; 5] = [1, 3, 5, 2, 4];
const LETTER_ORDER: [usize; 9] = [2, 3, 8, 5, 1, 6, 4, 7, 9];

/// Cell 6: worked examples.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Worked {
    #[schemars(title = "example")]
    pub kind: Example,
    #[schemars(extend("x-when" = "letters"))]
    pub letters: Vec<Pattern>,
    /// The letter the probe damages, by its name as the editor below shows it (the first letter of that name).
    #[schemars(title = "probe letter", length(min = 1, max = 24))]
    pub probe: String,
    /// Units flipped in the probe (the noise level), at seeded places.
    #[schemars(title = "flipped units", range(min = 0, max = 1024))]
    pub flips: u32,
    #[schemars(title = "storage rule")]
    pub storage: Storage,
    /// Recall from the probe drawn below instead (corrupt it by clicking its cells).
    #[schemars(title = "draw the probe")]
    pub draw_probe: bool,
    /// The drawn probe (one pattern on the letters' grid).
    #[schemars(extend("x-when" = "letters"))]
    pub probe_drawing: Vec<Pattern>,
    /// The order of the asynchronous updates.
    #[serde(default)]
    #[schemars(title = "update order")]
    pub order: UpdateOrder,
    /// 0/1 or ±1 units.
    #[serde(default)]
    #[schemars(title = "states")]
    pub states: WorkedStates,
    /// The threshold U_i = U of every unit: s_i → high if h_i > U, low if h_i < U.
    #[serde(default)]
    #[schemars(title = "threshold U", range(min = -20.0, max = 20.0))]
    pub threshold: f32,
    /// A unit with h_i = U keeps its state (as the second lecture's code does) or goes high (the first
    /// lecture's sgn(0) = +1).
    #[serde(default)]
    #[schemars(title = "at h = U")]
    pub tie: Tie,
}

impl Worked {
    /// The position of the probe letter among the letters: the first of its name.
    pub fn probe_index(&self) -> Option<usize> {
        self.letters.iter().position(|l| l.name == self.probe)
    }
}

/// Cell 7: MNIST digits as memories.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Digits {
    /// Memories: the first training digit of each class 0, 1, 2, …, then the second of each class, and so on
    /// (correlated patterns: all share a dark background). The lecture stores 100 digits with the
    /// pseudo-inverse rule and 50 with Storkey's.
    #[schemars(title = "digits stored", range(min = 1, max = 100))]
    pub count: u32,
    /// Which stored digit the probe damages (0 = the first).
    #[schemars(title = "probe digit", range(min = 0, max = 99))]
    pub probe: u32,
    /// Pixels above this grey level are +1, the rest −1 (the lecture: > 0).
    #[schemars(title = "binarise above", range(min = 0.0, max = 0.99))]
    pub threshold: f32,
    /// Rows from this one to the bottom are set to −1 (the lecture blanks rows 18–27); 28: none.
    #[schemars(title = "blank from row", range(min = 0, max = 28))]
    pub blank_from: u32,
    /// Percentage of pixels flipped on top.
    #[schemars(title = "flip %", range(min = 0.0, max = 50.0), extend("x-unit" = "%"))]
    pub flip_percent: f32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub iterations: Iterations,
    pub capacity: Capacity,
    pub worked: Worked,
    pub digits: Digits,
}

/// The lab.
pub struct Hopfield;

impl Lab for Hopfield {
    const ID: &'static str = "hopfield";
    type Params = Params;
    type Run = Run;

    fn info() -> LabInfo {
        LabInfo {
            id: Self::ID,
            title: "Hopfield networks",
            summary: "Store memories in a network of ±1 units, recall them from damaged cues, find where recall fails \
                      as memories are added, and compare Hebb, pseudo-inverse and Storkey storage.",
            source: "002_d2834d1b93b7e24e.txt, 004_01ab2769c1683046.txt",
        }
    }

    /// The notebook, in reading order.
    fn cells() -> Vec<Cell> {
        let text = super::text::LabText::parse(include_str!("hopfield.md"));
        let plot = |id: &str| Cell::Plot { id: id.into() };
        let row = |ids: &[&str]| Cell::PlotRow {
            ids: ids.iter().map(|&id| id.into()).collect(),
        };
        vec![
            text.prose("intro"),
            text.teacher("goals"),
            Cell::Controls {
                title: "One network, one probe".into(),
                fields: vec!["iterations".into()],
            },
            plot("weights"),
            text.exercise("ex1"),
            row(&["raster", "raster_inverse"]),
            plot("overlap"),
            text.exercise("ex2"),
            Cell::Controls {
                title: "Capacity sweep".into(),
                fields: vec!["capacity".into()],
            },
            Cell::Run,
            row(&["capacity_hebb", "capacity_pinv", "capacity_storkey"]),
            plot("capacity_curve"),
            row(&["capacity_retrieval", "capacity_basin"]),
            row(&[
                "capacity_qt_1",
                "capacity_qt_2",
                "capacity_qt_3",
                "capacity_qt_4",
            ]),
            text.exercise("ex3"),
            text.exercise("ex4"),
            Cell::Controls {
                title: "Worked examples (the second lecture)".into(),
                fields: vec!["worked".into()],
            },
            Cell::PatternEditor {
                path: "worked/letters".into(),
                title: "Draw the memories".into(),
            },
            Cell::PatternEditor {
                path: "worked/probe_drawing".into(),
                title:
                    "Draw the probe (used when \"draw the probe\" is on): click cells to corrupt it"
                        .into(),
            },
            plot("worked_images"),
            row(&["worked_weights", "worked_energy", "worked_steps"]),
            text.exercise("ex5"),
            Cell::Controls {
                title: "MNIST digits as memories".into(),
                fields: vec!["digits".into()],
            },
            plot("digits_images"),
            plot("digits_energy"),
            text.exercise("ex6"),
            text.exercise("ex7"),
            Cell::Metrics {
                title: "Results".into(),
            },
            text.prose("sources"),
        ]
    }

    fn default_params() -> Params {
        let tuc = letters::lecture_letters().into_iter().take(3).collect();
        Params {
            iterations: Iterations {
                n: 100,
                memories: 1,
                storage: Storage::Hebb,
                dynamics: Dynamics::Synchronous,
                q0: 0.4,
                sweeps: 10,
                tie: Tie::Keep,
            },
            capacity: Capacity {
                n: 100,
                p_max: 30,
                q0_steps: 10,
                trials: 100,
                dynamics: Dynamics::Asynchronous,
                max_sweeps: 20,
                tie: Tie::Keep,
                qt_p: vec![1, 10, 15, 25],
                qt_storage: Storage::Hebb,
            },
            worked: Worked {
                kind: Example::Letters,
                letters: tuc,
                probe: "T".into(),
                flips: 2,
                storage: Storage::Hebb,
                // 004's worked recall (TC-09): its corrupted T′, visited in its order, so that the student sees
                // the lecture's energies −12, −32 and the rejected −24.
                draw_probe: true,
                // 004's corrupted T′: T (111 010 010) with unit 2 flipped off.
                probe_drawing: vec![Pattern::new("probe", 3, 3, &[1, 0, 1, 0, 1, 0, 0, 1, 0])],
                order: UpdateOrder::Lecture,
                states: WorkedStates::Example,
                threshold: 0.0,
                tie: Tie::Keep,
            },
            digits: Digits {
                count: 3,
                probe: 0,
                threshold: 0.0,
                blank_from: 18,
                flip_percent: 0.0,
            },
        }
    }

    /// One step of the capacity sweep per frame: its heatmaps fill block by block.
    fn default_view() -> View {
        View {
            speed: 1,
            theory: true,
        }
    }

    /// Rules across fields: memories within N, letters and probes that fit.
    fn validate(p: &Params) -> Vec<FieldError> {
        let mut e = Vec::new();
        let it = &p.iterations;
        if it.memories > it.n {
            e.push(FieldError::new(
                "iterations/memories",
                format!("at most N = {} memories (got {})", it.n, it.memories),
            ));
        }
        let c = &p.capacity;
        if c.p_max >= c.n {
            e.push(FieldError::new(
                "capacity/p_max",
                format!(
                    "at most N − 1 memories (the pseudo-inverse needs P < N; got {})",
                    c.p_max
                ),
            ));
        }
        for (k, &qp) in c.qt_p.iter().enumerate() {
            if qp >= c.n {
                e.push(FieldError::new(
                    format!("capacity/qt_p/{k}"),
                    format!("P = {qp}: choose fewer memories than the N = {} units", c.n),
                ));
            }
        }
        let w = &p.worked;
        if w.kind == Example::Letters {
            if w.order == UpdateOrder::Lecture
                && let Some(l) = w.letters.first()
                && l.rows * l.cols != LETTER_ORDER.len() as u32
            {
                e.push(FieldError::new(
                    "worked/order",
                    format!(
                        "the lecture's order visits the 9 units of 3 × 3 letters; these letters are {}×{}: \
                         choose the random order",
                        l.rows, l.cols
                    ),
                ));
            }
            e.extend(letters::validate(&w.letters, "worked/letters"));
            if w.draw_probe {
                e.extend(letters::validate(&w.probe_drawing, "worked/probe_drawing"));
                if let (Some(p), Some(l)) = (w.probe_drawing.first(), w.letters.first())
                    && (p.rows, p.cols) != (l.rows, l.cols)
                {
                    e.push(FieldError::new(
                        "worked/probe_drawing",
                        format!(
                            "the probe is {}×{} but the letters are {}×{}: draw it on the same grid",
                            p.rows, p.cols, l.rows, l.cols
                        ),
                    ));
                }
            }
            if w.probe_index().is_none() {
                let names: Vec<&str> = w.letters.iter().map(|l| l.name.as_str()).collect();
                e.push(FieldError::new(
                    "worked/probe",
                    format!(
                        "no letter is named '{}'; the letters are {}",
                        w.probe,
                        names.join(", ")
                    ),
                ));
            }
            if let Some(l) = w.letters.first()
                && w.flips > l.rows * l.cols
            {
                e.push(FieldError::new(
                    "worked/flips",
                    format!(
                        "a {}×{} pattern has {} units",
                        l.rows,
                        l.cols,
                        l.rows * l.cols
                    ),
                ));
            }
        }
        let d = &p.digits;
        if d.probe >= d.count {
            e.push(FieldError::new(
                "digits/probe",
                format!(
                    "choose one of the {} stored digits (0 to {})",
                    d.count,
                    d.count.saturating_sub(1)
                ),
            ));
        }
        e
    }

    /// The capacity sweep dominates: for each of the three storage rules, every trial grows a network from
    /// P = 1 to P_max (an update of W and a copy of it per P, about N² each, Storkey's and the pseudo-inverse's
    /// costlier per unit than Hebb's matrix product) and recalls one probe per q(0) from each (N² for the first
    /// fields, then N per flip). The digits cell stores up to 100 digits in a 784-unit network; the rest is small.
    fn cost(p: &Params) -> Cost {
        let c = &p.capacity;
        let n2 = f64::from(c.n) * f64::from(c.n);
        let networks = f64::from(c.trials) * f64::from(c.p_max);
        let digits = 784.0 * 784.0 * (f64::from(p.digits.count) + 1.0);
        Cost::default()
            .work(
                "weight updates while storing (3 rules)",
                "capacity/trials",
                RULES.len() as f64 * networks * n2,
                NS_PER_BUILD_N2,
            )
            .work(
                "recall operations",
                "capacity/q0_steps",
                RULES.len() as f64 * networks * f64::from(c.q0_steps) * n2,
                NS_PER_RECALL_N2,
            )
            .work(
                "weight updates storing digits",
                "digits/count",
                digits,
                NS_PER_BUILD_N2,
            )
            .memory(
                "one batch of networks and probes, and one trial's learner",
                "capacity/n",
                hopfield::BATCH_BYTES as f64 + n2 * 8.0 + f64::from(c.p_max) * f64::from(c.n) * 4.0,
            )
            .memory(
                "the shipped digits and the digits' network",
                "digits/count",
                10_000.0 * 784.0 * 5.0,
            )
    }

    /// The MNIST cell needs the shipped digits.
    fn needs(_p: &Params) -> Option<Need> {
        Some(Need::Mnist)
    }

    fn start(state: StateDoc<Params>, store: &DataStore) -> Result<Run> {
        Run::new(state, store)
    }
}

/// Memories drawn in the digits cell (all are stored).
const SHOWN_DIGITS: usize = 10;

const RULES: [Storage; 3] = [Storage::Hebb, Storage::PseudoInverse, Storage::Storkey];

fn rule_name(s: Storage) -> &'static str {
    match s {
        Storage::Hebb => "Hebb",
        Storage::HebbNormalised => "Hebb / N",
        Storage::PseudoInverse => "pseudo-inverse",
        Storage::Storkey => "Storkey",
    }
}

/// Work of one step of the capacity sweep, in probes × N² (a probe's recall costs about N² for its first fields
/// and N per flip after): about 0.1 s of wasm CPU time (the default sweep, 9 × 10⁷ of it, takes 0.45 s in the
/// browser benchmark), so that animated frames come often; a step holds at least one whole trial.
const STEP_WORK: usize = 1 << 24;
/// Work between two looks at the chunk's clock, in the same unit: about 25 ms of wasm, so that even a step of
/// one trial of N = 1024 hands back control in time.
const PIECE_WORK: usize = 1 << 22;
/// Nanoseconds per N² of a network update (the three rules' mean, with the copy into the batch: 14.6 measured
/// at N = 1024 and N = 256) and of a probe's recall (the first fields are one matrix product; the flips after
/// cost 0.75 at N = 1024, 20 sweeps at most), on the reference machine's CPU (native release; see README,
/// "Budgets").
const NS_PER_BUILD_N2: f64 = 15.0;
const NS_PER_RECALL_N2: f64 = 1.0;

/// The capacity sweep of one rule, over the trials run so far.
struct Done {
    rule: Storage,
    sweep: hopfield::Sweep,
}

pub struct Run {
    state: StateDoc<Params>,
    step: u32,
    /// Trials per step of the capacity sweep (the last block of a rule may be shorter).
    block: u32,
    q0_values: Vec<f32>,
    sweeps: Vec<Done>,
    /// The step of the capacity sweep in progress, when a chunk's deadline cut it.
    cursor: Option<SweepCursor>,
    /// The first sweep whose heatmap the next frame must draw.
    undrawn: usize,
    /// Static plots not yet sent (weights, iterations, worked example).
    pending: Vec<Plot>,
    notices: Vec<String>,
    worked_metrics: Vec<Metric>,
    /// The shipped digits (cell 7).
    mnist: std::sync::Arc<Dataset>,
}

impl Run {
    fn new(state: StateDoc<Params>, store: &DataStore) -> Result<Self> {
        let c = &state.params.capacity;
        let q0_values = (1..=c.q0_steps)
            .map(|k| k as f32 / c.q0_steps as f32)
            .collect();
        let n = c.n as usize;
        let per_trial = (c.p_max * c.q0_steps) as usize * n * n;
        let block = (STEP_WORK / per_trial.max(1)).clamp(1, c.trials as usize) as u32;
        let mut run = Self {
            state,
            step: 0,
            block,
            q0_values,
            sweeps: Vec::new(),
            cursor: None,
            undrawn: 0,
            pending: Vec::new(),
            notices: Vec::new(),
            worked_metrics: Vec::new(),
            mnist: store.mnist()?,
        };
        run.prepare()?;
        Ok(run)
    }

    /// Cells 1–3 and 6.
    fn prepare(&mut self) -> Result<()> {
        let seed = self.state.seed;
        let it = self.state.params.iterations.clone();
        let n = it.n as usize;
        let patterns = hopfield::random_patterns(it.memories as usize, n, seed, 0)?;
        let w = hopfield::weights(patterns.view(), it.storage)?;
        let params = RecallParams {
            tie: it.tie,
            ..RecallParams::new(StateKind::Bipolar, it.dynamics, it.sweeps, seed)
        };
        let target = patterns.row(0);
        let forward = hopfield::recall_trace(
            w.view(),
            hopfield::probe_with_overlap(target, it.q0, seed, 0)?.view(),
            patterns.view(),
            &params,
            0,
        )?;
        let mirror = hopfield::recall_trace(
            w.view(),
            hopfield::probe_with_overlap(target, -it.q0.abs().max(0.5), seed, 1)?.view(),
            patterns.view(),
            &params,
            1,
        )?;
        let mut plots = vec![matrix_heatmap(
            "weights",
            &format!(
                "Weights W (N = {n}, P = {}, {})",
                it.memories,
                rule_name(it.storage)
            ),
            w.view(),
        )];
        plots.push(raster_plot(
            "raster",
            &format!("v(t) from q(0) = {:.2}", forward.overlaps[[0, 0]]),
            &forward,
        ));
        plots.push(raster_plot(
            "raster_inverse",
            &format!("v(t) from near −v¹, q(0) = {:.2}", mirror.overlaps[[0, 0]]),
            &mirror,
        ));
        plots.push(overlap_plot(&forward, &mirror));
        self.worked_metrics = vec![
            Metric::new(
                "final q from the probe",
                f64::from(forward.overlaps[[forward.overlaps.nrows() - 1, 0]]),
                "",
            ),
            Metric::new(
                "sweeps used from the probe",
                f64::from(forward.sweeps_used),
                "",
            ),
            Metric::new(
                "final q from near −v¹",
                f64::from(mirror.overlaps[[mirror.overlaps.nrows() - 1, 0]]),
                "",
            ),
        ];
        plots.extend(self.qt_curves()?);
        plots.extend(self.worked()?);
        plots.extend(self.digits()?);
        self.pending = plots;
        Ok(())
    }

    /// 002's q(t) curves: for each chosen P, the network of the capacity sweep's first trial (its first P
    /// patterns, stored by `qt_storage`), and q(t) of memory 1 from every q(0) of the sweep. The probes and the
    /// visiting orders are those of the sweep's trial 0 (stream index (P − 1) · |q(0)| + j), so with the sweep's
    /// rule a curve ends where that trial ended.
    fn qt_curves(&mut self) -> Result<Vec<Plot>> {
        let c = self.state.params.capacity.clone();
        let seed = self.state.seed;
        let Some(&most) = c.qt_p.iter().max() else {
            return Ok(Vec::new());
        };
        let n = c.n as usize;
        let patterns = hopfield::random_patterns(most as usize, n, seed, 0)?;
        let params = RecallParams {
            tie: c.tie,
            ..RecallParams::new(StateKind::Bipolar, c.dynamics, c.max_sweeps, seed)
        };
        let nq = self.q0_values.len();
        let mut plots = Vec::new();
        for (k, &p) in c.qt_p.iter().enumerate() {
            let stored = patterns.slice(ndarray::s![..p as usize, ..]);
            let w = match hopfield::weights(stored, c.qt_storage) {
                Ok(w) => w,
                Err(e) => {
                    self.notices.push(format!(
                        "q(t) curves, P = {p}, {}: {e}",
                        rule_name(c.qt_storage)
                    ));
                    continue;
                }
            };
            let target = stored.row(0);
            let mut traces = Vec::new();
            for (j, &q0) in self.q0_values.iter().enumerate() {
                let index = ((p as usize - 1) * nq + j) as u32;
                let probe = hopfield::probe_with_overlap(target, q0, seed, index)?;
                traces.push(hopfield::recall_trace(
                    w.view(),
                    probe.view(),
                    stored,
                    &params,
                    index,
                )?);
            }
            let longest = traces.iter().map(|t| t.overlaps.nrows()).max().unwrap_or(1);
            let series = traces
                .iter()
                .enumerate()
                .map(|(j, t)| {
                    let q: Vec<f32> = t.overlaps.index_axis(Axis(1), 0).to_vec();
                    // A fixed point stays put: drawn on to the longest curve, as 002's plots run T sweeps.
                    let until = if t.outcome == hopfield::Outcome::FixedPoint {
                        longest
                    } else {
                        q.len()
                    };
                    Series {
                        name: format!("q(0) = {:.2}", q[0]),
                        mark: Mark::Line,
                        band: None,
                        // Ten curves and more: a colour ramp in q(0) order (the palette has seven colours).
                        color: Some(ramp(j as f64 / (nq.max(2) - 1) as f64)),
                        points: (0..until)
                            .map(|i| [i as f64, f64::from(q[i.min(q.len() - 1)])])
                            .collect(),
                    }
                })
                .collect();
            plots.push(Plot {
                id: format!("capacity_qt_{}", k + 1),
                title: format!(
                    "q(t) with P = {p} (α = {:.2}, {}, N = {n})",
                    f64::from(p) / n as f64,
                    rule_name(c.qt_storage)
                ),
                x_label: "sweep t".into(),
                y_label: "q(t)".into(),
                body: PlotBody::Xy {
                    x_range: Some([0.0, (longest - 1).max(1) as f64]),
                    y_range: Some([-1.05, 1.05]),
                    equal_aspect: false,
                    series,
                    heatmap: None,
                },
            });
        }
        Ok(plots)
    }

    /// Cell 6: the worked example's memories, probe and recall, with the energy after every update.
    fn worked(&mut self) -> Result<Vec<Plot>> {
        let wk = self.state.params.worked.clone();
        let seed = self.state.seed;
        // Patterns (±1), the probe (±1), the lecture's state kind and order, the grid.
        let (names, patterns, probe, lecture_kind, lecture_order, rows, cols) = match wk.kind {
            Example::FiveNeurons => {
                let p =
                    ndarray::arr2(&[[-1.0f32, 1.0, -1.0, 1.0, 1.0], [1.0, -1.0, 1.0, 1.0, -1.0]]);
                (
                    vec!["s1".to_string(), "s2".to_string()],
                    p,
                    // The probe 01010 (004 §2-2).
                    ndarray::arr1(&[-1.0f32, 1.0, -1.0, 1.0, -1.0]),
                    StateKind::Binary,
                    &FIVE_NEURON_ORDER[..],
                    1,
                    5,
                )
            }
            Example::Letters => {
                let l = &wk.letters;
                let p = Array2::from_shape_vec(
                    (l.len(), (l[0].rows * l[0].cols) as usize),
                    l.iter().flat_map(Pattern::bipolar).collect(),
                )
                .map_err(|e| crate::error::Error::Data(e.to_string()))?;
                // Validation found the letter.
                let target = p.row(wk.probe_index().unwrap_or(0));
                let n = target.len();
                let q0 = 1.0 - 2.0 * wk.flips.min(n as u32) as f32 / n as f32;
                let probe = match wk.probe_drawing.first() {
                    Some(drawn) if wk.draw_probe => ndarray::Array1::from(drawn.bipolar()),
                    _ => hopfield::probe_with_overlap(target, q0, seed, 2)?,
                };
                (
                    l.iter().map(|x| x.name.clone()).collect(),
                    p,
                    probe,
                    StateKind::Bipolar,
                    &LETTER_ORDER[..],
                    l[0].rows,
                    l[0].cols,
                )
            }
        };
        let kind = match wk.states {
            WorkedStates::Example => lecture_kind,
            WorkedStates::Binary => StateKind::Binary,
            WorkedStates::Bipolar => StateKind::Bipolar,
        };
        let probe = probe.mapv(|v| kind.from_bipolar(v));
        let w = hopfield::weights(patterns.view(), wk.storage)?;
        let params = RecallParams {
            threshold: wk.threshold,
            tie: wk.tie,
            ..RecallParams::new(kind, Dynamics::Asynchronous, 50, seed)
        };
        let trace = match wk.order {
            UpdateOrder::Random => {
                hopfield::recall_trace(w.view(), probe.view(), patterns.view(), &params, 2)?
            }
            UpdateOrder::Lecture => {
                let order: Vec<usize> = lecture_order.iter().map(|i| i - 1).collect();
                hopfield::recall_trace_in_order(
                    w.view(),
                    probe.view(),
                    patterns.view(),
                    &params,
                    &order,
                )?
            }
        };
        let last = trace.states.row(trace.states.nrows() - 1);
        let mut images: Vec<Image> = names
            .iter()
            .zip(patterns.rows())
            .map(|(name, p)| Image {
                label: format!("memory {name}"),
                pixels: p.iter().map(|&v| f64::from(kind.from_bipolar(v))).collect(),
            })
            .collect();
        images.push(Image {
            label: "probe".into(),
            pixels: probe.iter().map(|&v| f64::from(v)).collect(),
        });
        images.push(Image {
            label: "recalled".into(),
            pixels: last.iter().map(|&v| f64::from(v)).collect(),
        });
        let recalled = patterns.rows().into_iter().position(|p| {
            p.iter()
                .zip(last.iter())
                .all(|(&a, &b)| kind.from_bipolar(a) == b)
        });
        self.worked_metrics.push(Metric::new(
            "worked example: recalled memory (index, −1: none)",
            recalled.map_or(-1.0, |i| i as f64),
            "",
        ));
        self.worked_metrics.push(Metric::new(
            "worked example: energy of the probe",
            trace.energy[0],
            "",
        ));
        self.worked_metrics.push(Metric::new(
            "worked example: final energy",
            *trace.energy.last().unwrap_or(&f64::NAN),
            "",
        ));
        let low = f64::from(kind.low());
        let grid = Plot {
            id: "worked_images".into(),
            title: "Memories, probe and recalled state".into(),
            x_label: String::new(),
            y_label: String::new(),
            body: PlotBody::Images {
                cols: images.len() as u32,
                width: cols,
                height: rows,
                channels: 1,
                // Ink on paper: on (+1) black, off (0 or −1) white, every unit in its own cell.
                value_range: [1.0, low],
                grid: true,
                images,
            },
        };
        let energy = Plot {
            id: "worked_energy".into(),
            title: if wk.threshold == 0.0 {
                "Energy E = −½ sᵀWs after every update".into()
            } else {
                format!(
                    "Energy E = −½ sᵀWs + U Σ s (U = {}) after every update",
                    wk.threshold
                )
            },
            x_label: "update".into(),
            y_label: "E".into(),
            body: PlotBody::Xy {
                x_range: None,
                y_range: None,
                equal_aspect: false,
                series: vec![Series {
                    name: "E".into(),
                    mark: Mark::Trajectory,
                    band: None,
                    color: Some(PALETTE[5].into()),
                    points: trace
                        .energy
                        .iter()
                        .enumerate()
                        .map(|(t, &e)| [t as f64, e])
                        .collect(),
                }],
                heatmap: None,
            },
        };
        // The first sweep's updates, as the lectures work them: the field, and ΔE = 2 s_i h_i of a flip.
        let first: Vec<_> = trace.updates.iter().take(patterns.ncols()).collect();
        let order = match wk.order {
            UpdateOrder::Random => "a random order",
            UpdateOrder::Lecture => "the lecture's order",
        };
        let steps = Plot {
            id: "worked_steps".into(),
            title: format!(
                "ΔE of a flip, first sweep in {order} (✓ flipped: ΔE < 0{})",
                if wk.tie == Tie::Up { " or h = U" } else { "" }
            ),
            x_label: "unit visited (in order)".into(),
            y_label: "ΔE".into(),
            body: PlotBody::Bars {
                categories: first
                    .iter()
                    .map(|u| format!("i={}{}", u.unit + 1, if u.flipped { " ✓" } else { "" }))
                    .collect(),
                series: vec![BarSeries {
                    name: "ΔE".into(),
                    values: first.iter().map(|u| u.delta_energy).collect(),
                    color: None,
                }],
            },
        };
        let weights = matrix_heatmap(
            "worked_weights",
            &format!("W of {} ({})", names.join(", "), rule_name(wk.storage)),
            w.view(),
        );
        Ok(vec![grid, weights, energy, steps])
    }

    /// Cell 7: the chosen digits stored by each rule, one damaged digit recalled by each.
    fn digits(&mut self) -> Result<Vec<Plot>> {
        let d = self.mnist.clone();
        let dg = self.state.params.digits.clone();
        let seed = self.state.seed;
        let train = d.indices(Split::Train);
        // Memory k is training digit number ⌊k / 10⌋ of class k mod 10: one of each class first.
        let picks: Vec<usize> = (0..dg.count as usize)
            .map(|k| {
                let c = (k % 10) as u8;
                train
                    .iter()
                    .copied()
                    .filter(|&i| d.labels[i] == c)
                    .nth(k / 10)
                    .ok_or_else(|| {
                        crate::error::Error::Data(format!(
                            "fewer than {} training digits {c}",
                            k / 10 + 1
                        ))
                    })
            })
            .collect::<Result<_>>()?;
        let mut patterns = d.rows(&picks);
        patterns.mapv_inplace(|v| if v > dg.threshold { 1.0 } else { -1.0 });
        let n = patterns.ncols();
        let mut probe = patterns.row(dg.probe as usize).to_owned();
        for r in dg.blank_from.min(28) as usize..28 {
            probe
                .slice_mut(ndarray::s![r * 28..(r + 1) * 28])
                .fill(-1.0);
        }
        let flips = hopfield::flips_for_overlap(n, 1.0 - 2.0 * dg.flip_percent / 100.0);
        if flips > 0 {
            probe = hopfield::probe_with_overlap(
                probe.view(),
                1.0 - 2.0 * flips as f32 / n as f32,
                seed,
                3,
            )?;
        }
        let params = RecallParams::new(StateKind::Bipolar, Dynamics::Asynchronous, 30, seed);
        // The first ten memories (and the damaged one), then the probe and the recalls.
        let mut images: Vec<Image> = patterns
            .rows()
            .into_iter()
            .enumerate()
            .filter(|&(k, _)| k < SHOWN_DIGITS || k == dg.probe as usize)
            .map(|(k, p)| Image {
                label: format!("memory {k}"),
                pixels: p.iter().map(|&v| f64::from(v)).collect(),
            })
            .collect();
        images.push(Image {
            label: "probe".into(),
            pixels: probe.iter().map(|&v| f64::from(v)).collect(),
        });
        let mut energy = Vec::new();
        for rule in RULES {
            let w = match hopfield::weights(patterns.view(), rule) {
                Ok(w) => w,
                Err(e) => {
                    self.notices.push(format!("{}: {e}", rule_name(rule)));
                    continue;
                }
            };
            let t = hopfield::recall_trace(w.view(), probe.view(), patterns.view(), &params, 3)?;
            let last = t.overlaps.row(t.overlaps.nrows() - 1);
            let q = f64::from(last[dg.probe as usize]);
            self.worked_metrics.push(Metric::new(
                format!(
                    "digits, {}: final overlap with the damaged digit",
                    rule_name(rule)
                ),
                q,
                "",
            ));
            images.push(Image {
                label: format!("{} (q = {q:.2})", rule_name(rule)),
                pixels: t
                    .states
                    .row(t.states.nrows() - 1)
                    .iter()
                    .map(|&v| f64::from(v))
                    .collect(),
            });
            // Energies of different rules differ in scale: each curve is divided by its |E| at the start.
            let e0 = t.energy[0].abs().max(f64::MIN_POSITIVE);
            let stride = (t.energy.len() / 500).max(1);
            energy.push(Series {
                name: rule_name(rule).into(),
                mark: Mark::Line,
                band: None,
                color: None,
                points: t
                    .energy
                    .iter()
                    .enumerate()
                    .step_by(stride)
                    .map(|(k, &e)| [k as f64, e / e0])
                    .collect(),
            });
        }
        let grid = Plot {
            id: "digits_images".into(),
            title: if dg.count as usize > SHOWN_DIGITS {
                format!(
                    "{} digits stored (the first {SHOWN_DIGITS} shown); digit {} damaged and recalled by each rule",
                    dg.count, dg.probe
                )
            } else {
                format!(
                    "{} digits stored; digit {} damaged and recalled by each rule",
                    dg.count, dg.probe
                )
            },
            x_label: String::new(),
            y_label: String::new(),
            body: PlotBody::Images {
                cols: (images.len() as u32).min(8),
                width: 28,
                height: 28,
                channels: 1,
                value_range: [-1.0, 1.0],
                grid: false,
                images,
            },
        };
        let curve = Plot {
            id: "digits_energy".into(),
            title: "Energy during recall, divided by |E(probe)|".into(),
            x_label: "update".into(),
            y_label: "E / |E(0)|".into(),
            body: PlotBody::Xy {
                x_range: None,
                y_range: None,
                equal_aspect: false,
                series: energy,
                heatmap: None,
            },
        };
        Ok(vec![grid, curve])
    }

    /// Steps per storage rule.
    fn blocks(&self) -> u32 {
        self.state.params.capacity.trials.div_ceil(self.block)
    }

    fn total(&self) -> u32 {
        RULES.len() as u32 * self.blocks()
    }

    fn heatmap(&self, d: &Done) -> Plot {
        let c = &self.state.params.capacity;
        let (nx, ny) = (c.p_max, c.q0_steps);
        let dq = 1.0 / f64::from(ny);
        let mean = d.sweep.mean_overlap();
        // Rows of the heatmap from the bottom: q(0) ascending; columns: P ascending.
        let values = (0..ny as usize)
            .flat_map(|iy| (0..nx as usize).map(move |ix| (ix, iy)))
            .map(|(ix, iy)| f64::from(mean[[ix, iy]]))
            .collect();
        Plot {
            id: format!("capacity_{}", rule_id(d.rule)),
            title: if d.sweep.trials < c.trials as usize {
                format!(
                    "{}: mean final overlap (N = {}, {} of {} trials so far)",
                    rule_name(d.rule),
                    c.n,
                    d.sweep.trials,
                    c.trials
                )
            } else {
                format!(
                    "{}: mean final overlap (N = {}, {} trials)",
                    rule_name(d.rule),
                    c.n,
                    c.trials
                )
            },
            x_label: "P (memories)".into(),
            y_label: "q(0)".into(),
            body: PlotBody::Xy {
                x_range: Some([0.5, f64::from(nx) + 0.5]),
                y_range: Some([dq / 2.0, 1.0 + dq / 2.0]),
                equal_aspect: false,
                series: Vec::new(),
                heatmap: Some(Heatmap {
                    x_range: [0.5, f64::from(nx) + 0.5],
                    y_range: [dq / 2.0, 1.0 + dq / 2.0],
                    nx,
                    ny,
                    values,
                    label: "mean final q".into(),
                    // One colour scale for the three rules, side by side (a mean below 0 takes the end colour).
                    value_range: Some([0.0, 1.0]),
                }),
            },
        }
    }

    fn capacity_plot(&self) -> Plot {
        let c = &self.state.params.capacity;
        let top = self.q0_values.len() - 1;
        let mut series: Vec<Series> = self
            .sweeps
            .iter()
            .map(|d| {
                let exact = d.sweep.exact_fraction();
                let se = d.sweep.fraction_std_err(&exact);
                Series {
                    // The title says what is plotted: short names keep the legend on few rows on a phone.
                    name: rule_name(d.rule).into(),
                    mark: Mark::Trajectory,
                    band: Some(fraction_band(
                        (0..c.p_max as usize).map(|i| (exact[[i, top]], se[[i, top]])),
                    )),
                    color: Some(rule_color(d.rule).into()),
                    points: (0..c.p_max as usize)
                        .map(|i| [(i + 1) as f64, f64::from(exact[[i, top]])])
                        .collect(),
                }
            })
            .collect();
        if self.state.view.theory {
            series.extend(theory_lines(c.n, f64::from(c.p_max) * 1.05, false));
        }
        Plot {
            id: "capacity_curve".into(),
            title: format!(
                "Fraction of trials recalled exactly from q(0) = 1 (N = {}; bands: ± 1 standard error over {})",
                c.n,
                trials_so_far(&self.sweeps, c.trials)
            ),
            x_label: "P (memories)".into(),
            y_label: "fraction exact".into(),
            body: PlotBody::Xy {
                x_range: Some([0.0, f64::from(c.p_max) + 1.0]),
                y_range: Some([-0.02, 1.02]),
                equal_aspect: false,
                series,
                heatmap: None,
            },
        }
    }

    /// The q(0) column of the 20 %-corrupted probes (Takasaki's retrieval rate, 004 §2-7): the q(0) value whose
    /// realised overlap is nearest 0.6.
    fn retrieval_column(&self, sweep: &hopfield::Sweep) -> usize {
        let dist = |q: f32| (f64::from(q) - RETRIEVAL_Q0).abs();
        (0..sweep.realised_q0.len())
            .min_by(|&a, &b| dist(sweep.realised_q0[a]).total_cmp(&dist(sweep.realised_q0[b])))
            .unwrap_or(0)
    }

    /// The retrieval rate against α = P/N from 20 %-corrupted probes, for overlap thresholds 0.95 and 0.90.
    fn retrieval_plot(&self) -> Plot {
        let c = &self.state.params.capacity;
        let n = f64::from(c.n);
        let mut q0 = RETRIEVAL_Q0;
        let mut series = Vec::new();
        for d in &self.sweeps {
            let j = self.retrieval_column(&d.sweep);
            q0 = f64::from(d.sweep.realised_q0[j]);
            for (k, (num, den)) in RETRIEVAL_THRESHOLDS.iter().enumerate() {
                let rate = d.sweep.retrieval_rate(k);
                let se = d.sweep.fraction_std_err(&rate);
                series.push(Series {
                    name: format!(
                        "{}: final q ≥ {:.2}",
                        rule_name(d.rule),
                        *num as f64 / *den as f64
                    ),
                    // One colour per rule; the stricter threshold with markers.
                    mark: if k == 0 { Mark::Trajectory } else { Mark::Line },
                    band: Some(fraction_band(
                        (0..c.p_max as usize).map(|i| (rate[[i, j]], se[[i, j]])),
                    )),
                    color: Some(rule_color(d.rule).into()),
                    points: (0..c.p_max as usize)
                        .map(|i| [(i + 1) as f64 / n, f64::from(rate[[i, j]])])
                        .collect(),
                });
            }
        }
        let top = (f64::from(c.p_max) + 1.0) / n;
        if self.state.view.theory {
            series.extend(theory_lines(c.n, top * n, true));
        }
        Plot {
            id: "capacity_retrieval".into(),
            title: format!(
                "Retrieval rate from probes with {:.0} % of units flipped (q(0) = {q0:.2}, N = {}; bands: ± 1 \
                 standard error over {})",
                (1.0 - q0) * 50.0,
                c.n,
                trials_so_far(&self.sweeps, c.trials)
            ),
            x_label: "α = P / N".into(),
            y_label: "fraction retrieved".into(),
            body: PlotBody::Xy {
                x_range: Some([0.0, top]),
                y_range: Some([-0.02, 1.02]),
                equal_aspect: false,
                series,
                heatmap: None,
            },
        }
    }

    /// Per P, the smallest q(0) of the grid from which recall still recovers the memory: the mean final overlap
    /// is ≥ 0.9 from it and from every larger q(0). None when even q(0) = 1 fails.
    fn smallest_q0(&self, sweep: &hopfield::Sweep) -> Vec<Option<f64>> {
        self.smallest_q0_shifted(sweep, 0.0)
    }

    /// [`Self::smallest_q0`] with the mean final overlap moved by `shift` standard errors: +1 and −1 give the
    /// ends of its band.
    fn smallest_q0_shifted(&self, sweep: &hopfield::Sweep, shift: f32) -> Vec<Option<f64>> {
        let mut mean = sweep.mean_overlap();
        if shift != 0.0 {
            mean.scaled_add(shift, &sweep.overlap_std_err());
        }
        let n = sweep.n;
        mean.rows()
            .into_iter()
            .map(|row| {
                let from = row
                    .iter()
                    .rposition(|&q| q < RECOVERED)
                    .map_or(0, |j| j + 1);
                // The probes' overlap (N − 2k) / N in f64 (0.1, not 0.1 widened from f32).
                self.q0_values.get(from).map(|&q0| {
                    (n as f64 - 2.0 * hopfield::flips_for_overlap(n, q0) as f64) / n as f64
                })
            })
            .collect()
    }

    fn basin_plot(&self) -> Plot {
        let c = &self.state.params.capacity;
        let series = self
            .sweeps
            .iter()
            .map(|d| {
                let (low, high) = (
                    self.smallest_q0_shifted(&d.sweep, 1.0),
                    self.smallest_q0_shifted(&d.sweep, -1.0),
                );
                let (points, band) = self
                    .smallest_q0(&d.sweep)
                    .iter()
                    .enumerate()
                    .filter_map(|(i, q)| {
                        // A mean one standard error lower may recover from no q(0) at all: the band then
                        // reaches the top of the grid.
                        q.map(|q| {
                            let top = 1.0f64;
                            (
                                [(i + 1) as f64, q],
                                [low[i].unwrap_or(q).min(q), high[i].unwrap_or(top).max(q)],
                            )
                        })
                    })
                    .unzip();
                Series {
                    name: rule_name(d.rule).into(),
                    mark: Mark::Trajectory,
                    band: Some(band),
                    color: Some(rule_color(d.rule).into()),
                    points,
                }
            })
            .collect();
        Plot {
            id: "capacity_basin".into(),
            title: format!(
                "Smallest q(0) that still recovers the memory (mean final q ≥ {RECOVERED} from it up to 1; N = {}; \
                 bands: the same with the mean ± 1 standard error over {})",
                c.n,
                trials_so_far(&self.sweeps, c.trials)
            ),
            x_label: "P (memories)".into(),
            y_label: "smallest q(0)".into(),
            body: PlotBody::Xy {
                x_range: Some([0.0, f64::from(c.p_max) + 1.0]),
                y_range: Some([0.0, 1.05]),
                equal_aspect: false,
                series,
                heatmap: None,
            },
        }
    }
}

impl LabRun for Run {
    fn reset(&mut self) {
        self.step = 0;
        self.cursor = None;
        self.sweeps.clear();
        self.undrawn = 0;
        if let Err(e) = self.prepare() {
            self.notices.push(e.to_string());
        }
    }

    fn done(&self) -> bool {
        self.step >= self.total()
    }

    /// Steps of the capacity sweep (a block of trials of one rule each), in pieces of about [`PIECE_WORK`], until
    /// the chunk's step limit or deadline; a step cut by the deadline goes on from where it was.
    async fn advance(&mut self, engine: &mut Engine, chunk: &Chunk<'_>) -> Result<Frame> {
        let mut todo = chunk.take(self.total() - self.step);
        while todo > 0 {
            let (rule_index, block) = (self.step / self.blocks(), self.step % self.blocks());
            let rule = RULES[rule_index as usize];
            let cursor = match &mut self.cursor {
                Some(cursor) => cursor,
                slot @ None => {
                    let c = &self.state.params.capacity;
                    let first = (block * self.block) as usize;
                    slot.insert(SweepCursor::new(SweepSpec {
                        n: c.n as usize,
                        storage: rule,
                        p_values: (1..=c.p_max as usize).collect(),
                        q0_values: self.q0_values.clone(),
                        trials: first..(first + self.block as usize).min(c.trials as usize),
                        dynamics: c.dynamics,
                        max_sweeps: c.max_sweeps,
                        seed: self.state.seed,
                        tie: c.tie,
                    })?)
                }
            };
            cursor.advance(engine, PIECE_WORK).await?;
            if cursor.done()
                && let Some(cursor) = self.cursor.take()
            {
                let mut part = cursor.finish();
                self.notices.extend(part.notice.take());
                match self.sweeps.last_mut() {
                    Some(done) if block > 0 => done.sweep.merge(part)?,
                    _ => self.sweeps.push(Done { rule, sweep: part }),
                }
                self.step += 1;
                todo -= 1;
            }
            if chunk.over() {
                break;
            }
        }
        Ok(self.frame())
    }

    fn frame(&mut self) -> Frame {
        let mut plots = std::mem::take(&mut self.pending);
        // Every rule that progressed since the last frame (one advance can finish several when run to the end);
        // the last may still be filling, so it is drawn again next time.
        for done in &self.sweeps[self.undrawn.min(self.sweeps.len())..] {
            plots.push(self.heatmap(done));
        }
        self.undrawn = self.sweeps.len().saturating_sub(1);
        if !self.sweeps.is_empty() {
            plots.push(self.capacity_plot());
            plots.push(self.retrieval_plot());
            plots.push(self.basin_plot());
        }
        Frame {
            step: u64::from(self.step),
            total: u64::from(self.total()),
            done: self.done(),
            plots,
            metrics: self.metrics(),
            notices: std::mem::take(&mut self.notices),
            datasets: Vec::new(),
        }
    }

    fn metrics(&self) -> Vec<Metric> {
        let mut m = self.worked_metrics.clone();
        let c = &self.state.params.capacity;
        let b = hopfield::capacity_bounds(c.n as usize);
        m.push(Metric::new("N / (2 ln N)", b.hebb_exact, "memories"));
        m.push(Metric::new("0.138 N", b.hebb_with_errors, "memories"));

        let top = self.q0_values.len() - 1;
        // Only finished rules: a rule's numbers over part of its trials would read as final.
        for d in self
            .sweeps
            .iter()
            .filter(|d| d.sweep.trials == c.trials as usize)
        {
            let (mean, exact) = (d.sweep.mean_overlap(), d.sweep.exact_fraction());
            // The first P whose recall from the memory itself (q(0) = 1) ends below overlap 0.9 on average.
            let fails = (0..c.p_max as usize)
                .find(|&i| mean[[i, top]] < 0.9)
                .map_or(f64::NAN, |i| (i + 1) as f64);
            m.push(Metric::new(
                format!(
                    "{}: first P with mean final q < 0.9 from q(0) = 1",
                    rule_name(d.rule)
                ),
                fails,
                "memories",
            ));
            let exact = (0..c.p_max as usize)
                .take_while(|&i| exact[[i, top]] >= 0.9)
                .count();
            m.push(Metric::new(
                format!("{}: largest P with ≥ 90 % exact recall", rule_name(d.rule)),
                exact as f64,
                "memories",
            ));
        }
        // The newer capacity numbers come after all of the older ones, which keep their order (tested with a
        // link from before them).
        m.push(Metric::new(
            "N / (4 ln N): every memory exact at once",
            b.hebb_exact_all,
            "memories",
        ));
        m.push(Metric::new(
            "0.14 N: the lecture's capacity",
            f64::from(c.n) * 14.0 / 100.0,
            "memories",
        ));
        for d in self
            .sweeps
            .iter()
            .filter(|d| d.sweep.trials == c.trials as usize)
        {
            let j = self.retrieval_column(&d.sweep);
            for (k, (num, den)) in RETRIEVAL_THRESHOLDS.iter().enumerate() {
                let rate = d.sweep.retrieval_rate(k);
                let largest = (0..c.p_max as usize)
                    .take_while(|&i| rate[[i, j]] >= 0.9)
                    .count();
                m.push(Metric::new(
                    format!(
                        "{}: largest α = P/N with ≥ 90 % retrieved (final q ≥ {:.2}) from q(0) = {:.2}",
                        rule_name(d.rule),
                        *num as f64 / *den as f64,
                        d.sweep.realised_q0[j]
                    ),
                    largest as f64 / f64::from(c.n),
                    "",
                ));
            }
            // Per P up to the first P that no q(0) recovers.
            for (i, q) in self.smallest_q0(&d.sweep).iter().enumerate() {
                m.push(Metric::new(
                    format!(
                        "{}: smallest q(0) recovering P = {}",
                        rule_name(d.rule),
                        i + 1
                    ),
                    q.unwrap_or(f64::NAN),
                    "",
                ));
                if q.is_none() {
                    break;
                }
            }
        }
        m
    }
}

/// q(0) of the probes with 20 % of their units flipped (004 §2-7, after Takasaki 2007).
const RETRIEVAL_Q0: f64 = 0.6;
/// The mean final overlap from which a memory counts as recovered.
const RECOVERED: f32 = 0.9;

/// The band of a fraction of trials: fraction ± its standard error, within [0, 1].
fn fraction_band(values: impl Iterator<Item = (f32, f32)>) -> Vec<[f64; 2]> {
    values
        .map(|(f, se)| {
            let (f, se) = (f64::from(f), f64::from(se));
            [(f - se).max(0.0), (f + se).min(1.0)]
        })
        .collect()
}

/// "10 trials", or "4 trials so far" while the sweeps in progress have not all of them.
fn trials_so_far(sweeps: &[Done], trials: u32) -> String {
    match sweeps.iter().map(|d| d.sweep.trials).min() {
        Some(t) if t < trials as usize => format!("{t} trials so far"),
        _ => format!("{trials} trials"),
    }
}

/// The theory lines at P ≤ `p_top` as vertical dashed lines from 0 to 1, at P (or at α = P / N with `alpha`).
fn theory_lines(n: u32, p_top: f64, alpha: bool) -> Vec<Series> {
    let b = hopfield::capacity_bounds(n as usize);
    [
        (
            "the lecture's 0.14 N (large N: 0.138 N)",
            b.hebb_with_errors,
            PALETTE[5],
        ),
        ("N / (2 ln N): one memory exact", b.hebb_exact, PALETTE[3]),
        (
            "N / (4 ln N): all memories exact",
            b.hebb_exact_all,
            PALETTE[6],
        ),
        // The bounds of the other rules in their rule's colour.
        (
            "N / √(2 ln N): Storkey",
            b.storkey,
            rule_color(Storage::Storkey),
        ),
        (
            "N: pseudo-inverse",
            b.pseudo_inverse,
            rule_color(Storage::PseudoInverse),
        ),
    ]
    .into_iter()
    .filter(|&(_, x, _)| x <= p_top)
    .map(|(name, x, color)| {
        let (name, x) = if alpha {
            let a = x / f64::from(n);
            (format!("{name}: α = {a:.3}"), a)
        } else {
            (format!("{name} = {x:.1}"), x)
        };
        Series {
            name,
            mark: Mark::Dashed,
            band: None,
            color: Some(color.into()),
            points: vec![[x, 0.0], [x, 1.0]],
        }
    })
    .collect()
}

/// A colour of the heatmaps' viridis map at `t` in [0, 1], up to its green (its yellow end is too light for a
/// line on white): dark blue for 0.
fn ramp(t: f64) -> String {
    const STOPS: [[f64; 3]; 8] = [
        [68.0, 1.0, 84.0],
        [72.0, 40.0, 120.0],
        [62.0, 73.0, 137.0],
        [49.0, 104.0, 142.0],
        [38.0, 130.0, 142.0],
        [31.0, 158.0, 137.0],
        [53.0, 183.0, 121.0],
        [110.0, 206.0, 88.0],
    ];
    let x = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f64;
    let (i, f) = (
        (x.floor() as usize).min(STOPS.len() - 2),
        x - x.floor().min((STOPS.len() - 2) as f64),
    );
    let c: Vec<u8> = (0..3)
        .map(|k| (STOPS[i][k] + (STOPS[i + 1][k] - STOPS[i][k]) * f).round() as u8)
        .collect();
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

fn rule_color(s: Storage) -> &'static str {
    match s {
        Storage::Hebb | Storage::HebbNormalised => PALETTE[0],
        Storage::PseudoInverse => PALETTE[1],
        Storage::Storkey => PALETTE[2],
    }
}

fn rule_id(s: Storage) -> &'static str {
    match s {
        Storage::Hebb => "hebb",
        Storage::HebbNormalised => "hebb_normalised",
        Storage::PseudoInverse => "pinv",
        Storage::Storkey => "storkey",
    }
}

/// Cells per axis of a drawn matrix at most: larger matrices are shown as means over square blocks of units
/// (a heatmap draws one rectangle per cell).
const MAX_CELLS: usize = 128;

/// Means of `rows × cols` values over blocks of `br × bc`, row-major from the first row.
fn block_means(v: ArrayView2<'_, f32>, br: usize, bc: usize) -> (usize, usize, Vec<f64>) {
    let (r, c) = v.dim();
    let (nr, nc) = (r.div_ceil(br), c.div_ceil(bc));
    let mut out = Vec::with_capacity(nr * nc);
    for i in 0..nr {
        for j in 0..nc {
            let block = v.slice(ndarray::s![
                i * br..((i + 1) * br).min(r),
                j * bc..((j + 1) * bc).min(c)
            ]);
            out.push(block.iter().map(|&x| f64::from(x)).sum::<f64>() / block.len() as f64);
        }
    }
    (nr, nc, out)
}

/// A weight matrix as a heatmap: presynaptic unit j across, unit i up (unit 1 at the bottom), w_ij in the cell.
fn matrix_heatmap(id: &str, title: &str, w: ArrayView2<'_, f32>) -> Plot {
    let n = w.nrows();
    let b = n.div_ceil(MAX_CELLS);
    let (ny, nx, values) = block_means(w, b, b);
    let top = (ny * b) as f64 + 0.5;
    let right = (nx * b) as f64 + 0.5;
    let title = if b > 1 {
        format!("{title} (means over {b} × {b} blocks)")
    } else {
        title.to_string()
    };
    Plot {
        id: id.into(),
        title,
        x_label: "j (presynaptic unit)".into(),
        y_label: "i (unit)".into(),
        body: PlotBody::Xy {
            x_range: Some([0.5, right]),
            y_range: Some([0.5, top]),
            equal_aspect: true,
            series: Vec::new(),
            heatmap: Some(Heatmap {
                x_range: [0.5, right],
                y_range: [0.5, top],
                nx: nx as u32,
                ny: ny as u32,
                values,
                label: "w_ij".into(),
                value_range: None,
            }),
        },
    }
}

/// 002's N × T matrix as a heatmap: iteration t across, unit a up (unit 1 at the bottom), v_a(t) in the cell.
fn raster_plot(id: &str, title: &str, t: &Trace) -> Plot {
    let (steps, n) = t.states.dim();
    let b = n.div_ceil(MAX_CELLS);
    // Rows of the heatmap are units: the states transposed, N × (T + 1).
    let (ny, nx, values) = block_means(t.states.t(), b, 1);
    let top = (ny * b) as f64 + 0.5;
    let title = if b > 1 {
        format!("{title} (means over {b} units)")
    } else {
        title.to_string()
    };
    Plot {
        id: id.into(),
        title,
        x_label: format!("time t (iterations 0 … {})", steps - 1),
        y_label: "unit a".into(),
        body: PlotBody::Xy {
            x_range: Some([-0.5, nx as f64 - 0.5]),
            y_range: Some([0.5, top]),
            equal_aspect: false,
            series: Vec::new(),
            heatmap: Some(Heatmap {
                x_range: [-0.5, nx as f64 - 0.5],
                y_range: [0.5, top],
                nx: nx as u32,
                ny: ny as u32,
                values,
                label: "v_a(t)".into(),
                value_range: Some([-1.0, 1.0]),
            }),
        },
    }
}

fn overlap_plot(forward: &Trace, mirror: &Trace) -> Plot {
    let curve = |name: &str, t: &Trace| Series {
        name: name.into(),
        mark: Mark::Trajectory,
        band: None,
        color: None,
        points: t
            .overlaps
            .index_axis(Axis(1), 0)
            .iter()
            .enumerate()
            .map(|(i, &q)| [i as f64, f64::from(q)])
            .collect(),
    };
    Plot {
        id: "overlap".into(),
        title: "Overlap q(t) = v(t)·v¹ / N".into(),
        x_label: "time t (iterations)".into(),
        y_label: "q(t)".into(),
        body: PlotBody::Xy {
            x_range: None,
            y_range: Some([-1.05, 1.05]),
            equal_aspect: false,
            series: vec![
                curve("from the probe", forward),
                curve("from near −v¹", mirror),
            ],
            heatmap: None,
        },
    }
}
