//! Lab "Datasets": every dataset the playground ships, generates or reads from the user's files, with the
//! preprocessing the later labs use (003's `restrict_classes`, binarisation, the bipolar map, corruption, ZCA
//! whitening). Step 0 shows the data as loaded; the single update applies the preprocessing to the training
//! split and shows the result, so a student sees exactly what a network would be fed.
use super::budget::{Chunk, Cost};
use super::whitening::{zca_cost, zca_fit_rows};
use super::{Lab, LabRun};
use crate::data::preprocess::{Alphabet, Corruption, Preprocess};
use crate::data::source::{Source, SourceKind};
use crate::data::store::DataStore;
use crate::data::store::Need;
use crate::data::view::{as_ink, dataset_view, pick_examples};
use crate::data::zca::Zca;
use crate::data::{Dataset, Split};
use crate::engine::Engine;
use crate::error::{FieldError, Result};
use crate::protocol::{Cell, Frame, LabInfo, Metric};
use crate::state::{StateDoc, View};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// ZCA whitening settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Whitening {
    /// Whiten the (preprocessed) training split: W = U (S + εI)^−½ Uᵀ.
    #[schemars(title = "ZCA whitening")]
    pub enabled: bool,
    /// ε of the whitening (the thesis uses 10⁻³).
    #[schemars(title = "ε", range(min = 0.0000001, max = 10.0))]
    pub eps: f32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    pub source: Source,
    pub preprocess: Preprocess,
    pub corruption: Corruption,
    pub zca: Whitening,
    /// Examples per class in the grids.
    #[schemars(title = "examples per class", range(min = 1, max = 16))]
    pub examples: u32,
}

/// The lab.
pub struct Datasets;

impl Lab for Datasets {
    const ID: &'static str = "datasets";
    const THEORY: bool = false;
    type Params = Params;
    type Run = Run;

    fn info() -> LabInfo {
        LabInfo {
            id: Self::ID,
            title: "Datasets",
            summary: "MNIST digits, Iris, the lectures' letters, generated data, natural-image patches and your own \
                      MNIST / CIFAR-10 files, with the preprocessing the labs use: class restriction, binarisation, \
                      corruption and ZCA whitening.",
            source: "003_23940436095eb99d.txt, 004_01ab2769c1683046.txt, 001_33e6d0cb8d17f010.txt",
        }
    }

    fn cells() -> Vec<Cell> {
        let text = super::text::LabText::parse(include_str!("datasets.md"));
        vec![
            text.prose("intro"),
            text.teacher("goals"),
            Cell::Controls {
                title: "Dataset".into(),
                fields: vec!["source".into()],
            },
            Cell::PatternEditor {
                path: "source/letters/patterns".into(),
                title: "Draw your patterns".into(),
            },
            Cell::Dataset { id: "data".into() },
            Cell::Controls {
                title: "Preprocessing".into(),
                fields: vec![
                    "preprocess".into(),
                    "corruption".into(),
                    "zca".into(),
                    "examples".into(),
                ],
            },
            Cell::Run,
            Cell::Dataset {
                id: "prepared".into(),
            },
            Cell::Metrics {
                title: "After preprocessing".into(),
            },
            text.exercise("restrict"),
            text.exercise("corrupt"),
            text.exercise("whitening"),
            text.prose("sources"),
        ]
    }

    fn default_params() -> Params {
        Params {
            source: Source::new(SourceKind::Mnist),
            preprocess: Preprocess {
                threshold: 0.2,
                ..Default::default()
            },
            corruption: Corruption::default(),
            zca: Whitening {
                enabled: false,
                eps: 1e-3,
            },
            examples: 8,
        }
    }

    /// One step shows the data as loaded, the next the preprocessed result.
    fn default_view() -> View {
        View {
            speed: 1,
            theory: false,
        }
    }

    /// The source's own rules, and class restrictions that name classes the source has.
    fn validate(p: &Params) -> Vec<FieldError> {
        let mut e = p.source.validate("source");
        let classes = match p.source.kind {
            SourceKind::Mnist | SourceKind::UserMnist | SourceKind::UserCifar10 => Some(10),
            SourceKind::Iris => Some(3),
            SourceKind::Letters => Some(p.source.letters.patterns.len()),
            SourceKind::Blobs => Some(p.source.blobs.centres.len()),
            SourceKind::Gaussians => Some(p.source.gaussians.gaussians.len()),
            SourceKind::Patches => Some(crate::data::photos::shipped().len()),
            SourceKind::RandomPatterns | SourceKind::Ising => Some(0),
        };
        e.extend(p.preprocess.validate(classes, "preprocess"));
        // The user's files' shape is known once loaded: the run's start checks the rows to blank then.
        let shape = p
            .source
            .shape()
            .unwrap_or(crate::data::Shape::image(1, u32::MAX, 1));
        e.extend(p.corruption.validate(shape, "corruption"));
        // A covariance needs two samples; a class restriction can leave fewer still, which the start checks.
        let (samples, _) = samples_and_dim(&p.source);
        if p.zca.enabled && (samples < 2.0 || p.preprocess.per_split == 1) {
            e.push(FieldError::new("zca/enabled", ZCA_TOO_FEW));
        }
        e
    }

    /// Generating or converting the samples, preprocessing the training split and, with ZCA, the covariance
    /// (fit rows × d² products), its eigendecomposition (about d³) and the whitening (rows × d²). The user's
    /// files are counted at their format's largest training split (48,000 MNIST digits, 40,000 CIFAR-10 images).
    fn cost(p: &Params) -> Cost {
        let (samples, dim) = samples_and_dim(&p.source);
        let train = if p.preprocess.per_split > 0 {
            samples.min(f64::from(p.preprocess.per_split))
        } else {
            samples
        };
        let mut cost = Cost::default()
            .work(
                "values generated or read",
                "source",
                samples * dim,
                NS_PER_VALUE,
            )
            .work(
                "values preprocessed",
                "preprocess",
                train * dim,
                NS_PER_VALUE,
            )
            .memory("the dataset", "source", samples * dim * 4.0)
            .memory(
                "the preprocessed training split",
                "preprocess/per_split",
                train * dim * 4.0,
            );
        if p.zca.enabled {
            cost = zca_cost(cost, "zca", train, train, dim);
        }
        cost
    }

    fn needs(p: &Params) -> Option<Need> {
        p.source.needs()
    }

    fn start(state: StateDoc<Params>, store: &DataStore) -> Result<Run> {
        Run::new(state, store)
    }
}

/// Samples and values per sample a source gives (for the user's files, the largest its format allows).
fn samples_and_dim(s: &Source) -> (f64, f64) {
    let dim = s.shape().map_or(0.0, |sh| sh.dim() as f64);
    match s.kind {
        SourceKind::Mnist => (10_000.0, dim),
        SourceKind::Iris => (150.0, dim),
        SourceKind::Letters => (s.letters.patterns.len() as f64, dim),
        SourceKind::Blobs => (f64::from(s.blobs.count) * s.blobs.centres.len() as f64, dim),
        SourceKind::Gaussians => (
            f64::from(s.gaussians.count) * s.gaussians.gaussians.len() as f64,
            dim,
        ),
        SourceKind::RandomPatterns => (f64::from(s.random_patterns.count), dim),
        SourceKind::Ising => (f64::from(s.ising.count), dim),
        SourceKind::Patches => (f64::from(s.patches.count), dim),
        SourceKind::UserMnist => (48_000.0, 784.0),
        SourceKind::UserCifar10 => (40_000.0, 3072.0),
    }
}

/// Nanoseconds per value generated, read or preprocessed on the reference machine's CPU (native release; see
/// README, "Budgets").
const NS_PER_VALUE: f64 = 10.0;
const ZCA_TOO_FEW: &str = "whitening estimates a covariance from the training samples: it needs at least 2 (take more samples)";

pub struct Run {
    state: StateDoc<Params>,
    data: Arc<Dataset>,
    step: u32,
    metrics: Vec<Metric>,
    /// The dataset cells not yet sent.
    views: Vec<crate::protocol::DatasetView>,
    notices: Vec<String>,
}

impl Run {
    fn new(state: StateDoc<Params>, store: &DataStore) -> Result<Self> {
        let data = state.params.source.build(state.seed, store)?;
        let p = &state.params;
        if p.zca.enabled && p.preprocess.indices(&data, Split::Train, state.seed).len() < 2 {
            return Err(crate::error::Error::Invalid(vec![FieldError::new(
                "zca/enabled",
                ZCA_TOO_FEW,
            )]));
        }
        // The user's files' shape is known only now (validation checked every other source's).
        let errs = state.params.corruption.validate(data.shape, "corruption");
        if !errs.is_empty() {
            return Err(crate::error::Error::Invalid(errs));
        }
        let mut run = Self {
            state,
            data,
            step: 0,
            metrics: Vec::new(),
            views: Vec::new(),
            notices: Vec::new(),
        };
        run.reset();
        Ok(run)
    }
}

impl LabRun for Run {
    fn reset(&mut self) {
        self.step = 0;
        let d = &self.data;
        let idx = d.indices(Split::Train);
        let per_class = self.state.params.examples as usize;
        let shown: Vec<usize> = pick_examples(d, &idx, per_class)
            .into_iter()
            .map(|p| idx[p])
            .collect();
        let shown = if d.shape.is_image() {
            shown
        } else {
            idx.clone()
        };
        let rows = d.rows(&shown);
        let splits = Split::ALL.map(|s| d.indices(s));
        let mut view = dataset_view("data", d, &shown, &rows, per_class, &splits);
        if self.state.params.source.is_drawn() {
            as_ink(&mut view.examples);
        }
        self.views = vec![view];
        self.metrics = Vec::new();
    }

    fn done(&self) -> bool {
        self.step >= 1
    }

    /// Applies the preprocessing to the training split (one step; nothing more to do after it).
    /// One step that cannot be cut: its cost is bounded by the budget instead (the eigendecomposition of ZCA
    /// is one library call).
    async fn advance(&mut self, engine: &mut Engine, _chunk: &Chunk<'_>) -> Result<Frame> {
        if self.done() {
            return Ok(self.frame());
        }
        let p = &self.state.params;
        let d = self.data.clone();
        let seed = self.state.seed;
        let train = p.preprocess.indices(&d, Split::Train, seed);
        let prepared = p.preprocess.rows(&d, &train);
        let mapped = prepared.mapped;
        self.notices.extend(prepared.notices);
        let mut x = prepared.x;
        let mut whitened_offdiag = None;
        if p.zca.enabled {
            let fit_rows = zca_fit_rows(x.nrows(), d.dim());
            if fit_rows < x.nrows() {
                self.notices.push(format!(
                    "ZCA was fitted on the first {fit_rows} of {} training samples (the page's limit for {} features).",
                    x.nrows(),
                    d.dim()
                ));
            }
            let (zca, notice) = Zca::fit(
                engine,
                x.slice(ndarray::s![..fit_rows, ..]),
                p.zca.eps,
                false,
            )
            .await?;
            self.notices.extend(notice);
            zca.apply_cpu(x.view_mut())?;
            whitened_offdiag = Some(max_offdiag_cov(&x));
        }
        // Flips stay in the alphabet of the rows as they are now (whitened rows are real values).
        let alphabet = if p.zca.enabled {
            Alphabet::of(x.iter(), prepared.alphabet)
        } else {
            prepared.alphabet
        };
        p.corruption.apply(&mut x, d.shape, seed, 0, alphabet);
        let per_class = p.examples as usize;
        let picked = pick_examples(&d, &train, per_class);
        let (shown_idx, shown_rows) = if d.shape.is_image() {
            (
                picked.iter().map(|&q| train[q]).collect::<Vec<_>>(),
                x.select(ndarray::Axis(0), &picked),
            )
        } else {
            (train.clone(), x.clone())
        };
        let splits = Split::ALL.map(|s| p.preprocess.indices(&d, s, seed));
        let mut view = dataset_view("prepared", &d, &shown_idx, &shown_rows, per_class, &splits);
        if p.source.is_drawn() {
            as_ink(&mut view.examples);
        }
        view.examples.title = format!("Examples as the labs see them ({})", describe(p, mapped));
        // The summary line describes the data as the labs get it: the samples kept, the training split's values
        // after every transform.
        let (lo, hi) = x
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        prepared_summary(&mut view, &splits, lo, hi, Alphabet::of(x.iter(), alphabet));
        self.views.push(view);
        self.metrics = vec![
            Metric::new("training samples after restriction", train.len() as f64, ""),
            Metric::new("features", d.dim() as f64, ""),
            Metric::new("smallest value", f64::from(lo), ""),
            Metric::new("largest value", f64::from(hi), ""),
            Metric::new("mean value", x.mean().map_or(f64::NAN, f64::from), ""),
        ];
        if let Some(off) = whitened_offdiag {
            self.metrics.push(Metric::new(
                "largest |off-diagonal covariance| after ZCA",
                off,
                "",
            ));
        }
        self.step = 1;
        Ok(self.frame())
    }

    fn frame(&mut self) -> Frame {
        Frame {
            step: u64::from(self.step),
            total: 1,
            done: self.done(),
            plots: Vec::new(),
            metrics: self.metrics.clone(),
            notices: std::mem::take(&mut self.notices),
            datasets: std::mem::take(&mut self.views),
        }
    }

    fn metrics(&self) -> Vec<Metric> {
        self.metrics.clone()
    }
}

/// The prepared view's summary line: the samples per split after restriction and subsets, and the value range
/// (and, for 0/1 or ±1 data, the alphabet) of the training split after every transform.
fn prepared_summary(
    view: &mut crate::protocol::DatasetView,
    splits: &[Vec<usize>; 3],
    lo: f32,
    hi: f32,
    alphabet: Alphabet,
) {
    let s = &mut view.summary;
    s.name = format!("{}, after preprocessing", s.name);
    [s.train, s.validation, s.test] = [splits[0].len(), splits[1].len(), splits[2].len()];
    s.count = s.train + s.validation + s.test;
    if lo <= hi {
        (s.min, s.max) = (lo, hi);
    }
    view.line = s.to_string();
    if matches!(alphabet, Alphabet::Binary | Alphabet::Bipolar) {
        view.line = view.line.replacen(
            &format!("values {}…{}", s.min, s.max),
            &format!("values {}…{} ({} only)", s.min, s.max, alphabet.describe()),
            1,
        );
    }
}

fn describe(p: &Params, mapped: bool) -> String {
    let mut parts = Vec::new();
    if !p.preprocess.classes.is_empty() {
        parts.push(format!("classes {:?}", p.preprocess.classes));
    }
    if p.preprocess.binarise {
        parts.push(format!("binarised at {}", p.preprocess.threshold));
    }
    if mapped {
        parts.push("0/1 mapped to ±1".into());
    }
    if p.zca.enabled {
        parts.push(format!("ZCA ε = {}", p.zca.eps));
    }
    if p.corruption != Corruption::default() {
        parts.push("corrupted".into());
    }
    if parts.is_empty() {
        "as loaded".into()
    } else {
        parts.join(", ")
    }
}

/// Largest |off-diagonal| entry of the sample covariance (f64 accumulation).
fn max_offdiag_cov(x: &ndarray::Array2<f32>) -> f64 {
    let x = x.mapv(f64::from);
    let n = x.nrows() as f64;
    let mean = x.mean_axis(ndarray::Axis(0)).expect("rows");
    let c = (&x - &mean).t().dot(&(&x - &mean)) / (n - 1.0).max(1.0);
    let mut m = 0.0f64;
    for ((i, j), v) in c.indexed_iter() {
        if i != j {
            m = m.max(v.abs());
        }
    }
    m
}
