//! What labs hand to the page and the CLI: lab manifests (cells), plot specifications and run frames.
//!
//! The page is a generic renderer of these types; it knows nothing about any learning rule. Every type
//! serialises to plain JSON. Natively every type also derives ts-rs's `TS`: `tests/typescript.rs` writes their
//! TypeScript declarations to www/types/protocol.d.ts, which the page's JavaScript is type-checked against
//! (not on wasm, where the derive would only add weight).
use serde::Serialize;

/// Colours of things in plots, in the order labs hand them out (Okabe and Ito's palette: every pair stays
/// distinguishable under protanopia, deuteranopia and tritanopia, which `tests/colours.rs` checks).
/// www/plot-common.js gives series without a colour the same list in the same order.
pub const PALETTE: [&str; 7] = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000",
];

/// The colour of a vector drawn as an arrow (a weight vector), the palette's vermillion.
pub const ARROW: &str = PALETTE[5];

/// Reference lines shared by every series (a bound, a ground state): grey, which no palette colour is.
pub const REFERENCE: &str = "#555555";

/// One line in the lab list.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
pub struct LabInfo {
    pub id: &'static str,
    pub title: &'static str,
    pub summary: &'static str,
    /// Which source document the lab follows.
    pub source: &'static str,
}

/// Everything the page needs to lay out a lab: its cells in reading order and the JSON Schema of its state.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
pub struct Manifest {
    pub info: LabInfo,
    pub cells: Vec<Cell>,
    /// JSON Schema of the state document; controls are generated from `properties.params`.
    #[cfg_attr(not(target_arch = "wasm32"), ts(type = "StateSchema"))]
    pub schema: serde_json::Value,
    /// Whether runs save what they learnt to a file and load it back (the page then offers both).
    pub checkpoints: bool,
}

/// One notebook cell.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Cell {
    /// Sanitised HTML rendered from Markdown; TeX sits in `<span class="math" data-display="0|1">` elements.
    Prose { html: String },
    /// Controls for these params keys (top-level names in the params object), generated from the schema.
    Controls { title: String, fields: Vec<String> },
    /// The run bar: Run / Pause / Step / Reset, progress, engine badge.
    Run,
    /// A plot slot filled by frames carrying a plot with this id.
    Plot { id: String },
    /// Plot slots side by side (small multiples, e.g. one panel per distribution); empty slots stay hidden.
    PlotRow { ids: Vec<String> },
    /// An exercise prompt with hints revealed one by one, and its answer for the teacher's view.
    Exercise {
        title: String,
        prompt_html: String,
        hints_html: Vec<String>,
        /// Shown only in the teacher's view (`?teacher=1`).
        answer_html: Option<String>,
    },
    /// Notes for teachers (learning goals, expected observations), shown only in the teacher's view.
    Teacher { title: String, html: String },
    /// A table of the run's metrics (keys of `Frame::metrics`).
    Metrics { title: String },
    /// A dataset: summary line, example images per class and class counts per split, filled by frames carrying
    /// a [`DatasetView`] with this id.
    Dataset { id: String },
    /// A drawable editor of the binary patterns at this params path (e.g. `source/letters/patterns`).
    PatternEditor { path: String, title: String },
}

/// A snapshot of a run: progress, the plots that changed since the previous frame, the metrics so far.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
pub struct Frame {
    pub step: u64,
    pub total: u64,
    pub done: bool,
    pub plots: Vec<Plot>,
    /// Flat name -> value table; `null` where a value is undefined (e.g. angle on isotropic input).
    pub metrics: Vec<Metric>,
    /// Warnings for the user (a diverging rule, a switch from GPU to CPU ...).
    pub notices: Vec<String>,
    /// Dataset cells to fill (sent once, with the frame that first knows the data).
    pub datasets: Vec<DatasetView>,
}

/// What a dataset cell shows.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
pub struct DatasetView {
    pub id: String,
    pub summary: crate::data::Summary,
    /// The summary as one line of text.
    pub line: String,
    /// Example images per class (or the first samples when unlabelled); for tables, a scatter of two features.
    pub examples: Plot,
    /// Samples per class in each split; absent when unlabelled.
    pub classes: Option<Plot>,
}

/// One named number of the report.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
pub struct Metric {
    pub name: String,
    pub value: Option<f64>,
    pub unit: &'static str,
}

/// A plot: title, axis labels and a kind-specific body.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
pub struct Plot {
    pub id: String,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    #[serde(flatten)]
    pub body: PlotBody,
}

/// The kinds of plot the renderer knows.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PlotBody {
    /// Cartesian plot: scatter, lines, trajectories, arrows, optionally over a heatmap with a colour bar.
    Xy {
        x_range: Option<[f64; 2]>,
        y_range: Option<[f64; 2]>,
        /// Same scale on both axes (geometry plots).
        equal_aspect: bool,
        series: Vec<Series>,
        heatmap: Option<Heatmap>,
    },
    /// Grouped bars: one group per category, one bar per series.
    Bars {
        categories: Vec<String>,
        series: Vec<BarSeries>,
    },
    /// A grid of small grey-scale or colour-mapped images (patterns, receptive fields, digits).
    Images {
        cols: u32,
        width: u32,
        height: u32,
        /// 1: grey (or colour-mapped) pixels; 3: colour, pixels channel-major (all red, then green, then blue).
        channels: u32,
        /// The values drawn black and white, in that order: [low, high] draws high values white (digits as
        /// MNIST shows them); [high, low] draws them black, ink on paper (letters).
        value_range: [f64; 2],
        /// Lines between the pixels, so that every cell of a small pattern reads as one unit.
        grid: bool,
        images: Vec<Image>,
    },
    /// A table of a worked example (states, energies, probabilities): every cell as the lab formats it, so that
    /// the page shows the digits the lab means (and the CLI reports). Rows may be shorter than `columns` (the
    /// rest blank); the renderer grows the chart to show every row.
    Table {
        columns: Vec<String>,
        rows: Vec<Vec<String>>,
    },
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Mark {
    /// Points only.
    Scatter,
    /// A polyline.
    Line,
    /// A dashed polyline (theory, reference lines).
    Dashed,
    /// A polyline with a marker on every point.
    Trajectory,
    /// Arrows: `points` holds (tail, head) pairs.
    Arrows,
}

/// One named series of (x, y) points.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
pub struct Series {
    pub name: String,
    pub mark: Mark,
    /// CSS colour; the renderer picks from its palette when absent.
    pub color: Option<String>,
    pub points: Vec<[f64; 2]>,
    /// The uncertainty of an average: (low, high) at every point (e.g. mean ± standard error over the trials),
    /// drawn as a translucent area in the series' colour. Absent (and left out of the JSON): no band.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(not(target_arch = "wasm32"), ts(optional))]
    pub band: Option<Vec<[f64; 2]>>,
}

impl Series {
    /// A grey reference line at height `y` from x = 0 to `x_end` (a lecture's figure, chance), drawn with `mark`
    /// so that two references on one plot stay apart in the legend.
    pub fn reference(name: &str, mark: Mark, x_end: f64, y: f64) -> Self {
        Self {
            name: name.into(),
            mark,
            color: Some(REFERENCE.into()),
            points: vec![[0.0, y], [x_end, y]],
            band: None,
        }
    }
}

/// Values on a regular grid, row-major from the bottom row (`values[iy * nx + ix]`).
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
pub struct Heatmap {
    pub x_range: [f64; 2],
    pub y_range: [f64; 2],
    pub nx: u32,
    pub ny: u32,
    pub values: Vec<f64>,
    /// Label of the colour bar.
    pub label: String,
    /// The values at the ends of the colour scale (values outside take the end colours). Heatmaps meant to be
    /// compared side by side give the same range; absent (and left out of the JSON): the values' own extent.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(not(target_arch = "wasm32"), ts(optional))]
    pub value_range: Option<[f64; 2]>,
}

/// One bar series.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
pub struct BarSeries {
    pub name: String,
    pub values: Vec<f64>,
    /// CSS colour, so that a thing keeps its colour across a lab's plots; the renderer picks from its palette
    /// in series order when absent (and left out of the JSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(not(target_arch = "wasm32"), ts(optional))]
    pub color: Option<String>,
}

/// One image of an image grid, row-major from the top row.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
pub struct Image {
    pub label: String,
    pub pixels: Vec<f64>,
}

impl Metric {
    pub fn new(name: impl Into<String>, value: f64, unit: &'static str) -> Self {
        Self {
            name: name.into(),
            value: value.is_finite().then_some(value),
            unit,
        }
    }
}
