//! Datasets: one in-memory form for everything a lab trains on (shipped MNIST, Iris, the lectures' letters,
//! generated data, natural-image patches, the user's own MNIST / CIFAR-10 files), and the preprocessing that
//! turns its samples into the f32 rows the kernels read.
//!
//! Samples are kept as loaded (bytes for image files, so full CIFAR-10 takes 184 MB and not four times that)
//! and converted to f32 a batch at a time. Images are channel-major (C×H×W), as CIFAR-10 stores them.
pub mod cifar;
pub mod generate;
pub mod idx;
pub mod letters;
pub mod loader;
pub mod photos;
pub mod preprocess;
pub mod shipped;
pub mod source;
pub mod store;
pub mod tar;
pub mod view;
pub mod zca;

use crate::error::{Error, Result};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

/// The most bytes one dataset may take in memory. Full CIFAR-10 (train and test) needs 184 MB; a header that
/// asks for more than this is refused before anything is allocated, since a browser tab cannot hold it anyway.
pub const MAX_DATASET_BYTES: u64 = 512 << 20;

/// The most characters of a file or member name that a message quotes.
const SHOWN_NAME: usize = 60;

/// A file or archive member name as messages quote it: whole when short, else its start and end around an
/// ellipsis. Names come from the user's files (a crafted archive can name a member with 4 KB), and a
/// message must fit the page's box.
pub fn shown_name(name: &str) -> String {
    let chars = name.chars().count();
    if chars <= SHOWN_NAME {
        return name.to_owned();
    }
    let head: String = name.chars().take(SHOWN_NAME / 2).collect();
    let tail: String = name.chars().skip(chars - (SHOWN_NAME / 2 - 1)).collect();
    format!("{head}…{tail}")
}

/// Channels × height × width of one sample. Tabular data is 1 × 1 × features.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    pub channels: u32,
    pub height: u32,
    pub width: u32,
}

impl Shape {
    pub const fn image(channels: u32, height: u32, width: u32) -> Self {
        Self {
            channels,
            height,
            width,
        }
    }

    pub const fn table(features: u32) -> Self {
        Self::image(1, 1, features)
    }

    /// Values per sample.
    pub fn dim(&self) -> usize {
        self.channels as usize * self.height as usize * self.width as usize
    }

    /// Whether samples are pictures (drawn as images) rather than feature vectors.
    pub fn is_image(&self) -> bool {
        self.height > 1
    }

    pub fn describe(&self) -> String {
        if self.is_image() {
            format!("{}×{}×{}", self.channels, self.height, self.width)
        } else {
            format!("{} features", self.width)
        }
    }
}

/// Which part of a dataset a sample belongs to. Every dataset has a fixed, documented rule (see each source).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Split {
    Train = 0,
    Validation = 1,
    Test = 2,
}

impl Split {
    pub const ALL: [Split; 3] = [Split::Train, Split::Validation, Split::Test];

    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Validation => "validation",
            Split::Test => "test",
        }
    }

    /// The rule for the shipped and generated datasets, stratified by class: the k-th sample of its class goes
    /// to validation when k ≡ 8 (mod 10), to test when k ≡ 9, to train otherwise (80 / 10 / 10).
    pub fn of_class_position(k: usize) -> Split {
        match k % 10 {
            8 => Split::Validation,
            9 => Split::Test,
            _ => Split::Train,
        }
    }

    /// Splits for labels in dataset order by [`Split::of_class_position`].
    pub fn stratified(labels: &[u8]) -> Vec<Split> {
        let mut seen = [0usize; 256];
        labels
            .iter()
            .map(|&l| {
                let k = seen[l as usize];
                seen[l as usize] += 1;
                Split::of_class_position(k)
            })
            .collect()
    }

    /// The rule used for the files that come with a training part and a test part (MNIST IDX, CIFAR-10, the
    /// shipped digits): in file order, every fifth training sample (index ≡ 4 mod 5) is held out for
    /// validation, so the split is 80 / 20 as in the MNIST tutorial (003) and the same on every machine.
    pub fn of_training_sample(index: usize) -> Split {
        if index % 5 == 4 {
            Split::Validation
        } else {
            Split::Train
        }
    }
}

/// Sample values as loaded.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    /// Bytes; the value of a byte b is `b as f32 * scale` (1/255 puts images in [0, 1]).
    Bytes { data: Vec<u8>, scale: f32 },
    /// Real values (tables, generated data, patches).
    Real(Vec<f32>),
}

impl Values {
    fn len(&self) -> usize {
        match self {
            Values::Bytes { data, .. } => data.len(),
            Values::Real(v) => v.len(),
        }
    }
}

/// A labelled (or unlabelled) set of samples with its split.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// What the user sees as the dataset's name, e.g. "MNIST (10,000 digits shipped with the playground)".
    pub name: String,
    /// Where it came from: attribution, file names.
    pub source: String,
    pub shape: Shape,
    /// Class names; empty when the data has no labels.
    pub classes: Vec<String>,
    pub values: Values,
    /// One label per sample (index into `classes`); empty when unlabelled.
    pub labels: Vec<u8>,
    /// One split per sample.
    pub splits: Vec<Split>,
}

impl Dataset {
    /// Checks that the parts agree with each other, so that every later index is in range.
    pub fn new(
        name: impl Into<String>,
        source: impl Into<String>,
        shape: Shape,
        classes: Vec<String>,
        values: Values,
        labels: Vec<u8>,
        splits: Vec<Split>,
    ) -> Result<Self> {
        let d = Self {
            name: name.into(),
            source: source.into(),
            shape,
            classes,
            values,
            labels,
            splits,
        };
        let dim = d.shape.dim();
        if dim == 0 {
            return Err(Error::Data(format!("{}: samples have no values", d.name)));
        }
        if !d.values.len().is_multiple_of(dim) {
            return Err(Error::Data(format!(
                "{}: {} values do not make whole samples of {}",
                d.name,
                d.values.len(),
                d.shape.describe()
            )));
        }
        let n = d.values.len() / dim;
        if d.splits.len() != n {
            return Err(Error::Data(format!(
                "{}: {} samples but {} split marks",
                d.name,
                n,
                d.splits.len()
            )));
        }
        if !d.labels.is_empty() {
            if d.labels.len() != n {
                return Err(Error::Data(format!(
                    "{}: {} samples but {} labels",
                    d.name,
                    n,
                    d.labels.len()
                )));
            }
            if let Some(&bad) = d.labels.iter().find(|&&l| l as usize >= d.classes.len()) {
                return Err(Error::Data(format!(
                    "{}: label {bad} is not one of the {} classes",
                    d.name,
                    d.classes.len()
                )));
            }
        }
        Ok(d)
    }

    pub fn len(&self) -> usize {
        self.splits.len()
    }

    pub fn is_empty(&self) -> bool {
        self.splits.is_empty()
    }

    pub fn dim(&self) -> usize {
        self.shape.dim()
    }

    pub fn is_labelled(&self) -> bool {
        !self.labels.is_empty()
    }

    /// Copies sample `i` as f32 into `out` (length `dim`).
    pub fn row_into(&self, i: usize, out: &mut [f32]) {
        let d = self.dim();
        match &self.values {
            Values::Bytes { data, scale } => {
                for (o, &b) in out.iter_mut().zip(&data[i * d..(i + 1) * d]) {
                    *o = f32::from(b) * scale;
                }
            }
            Values::Real(v) => out.copy_from_slice(&v[i * d..(i + 1) * d]),
        }
    }

    /// The samples at `indices` as rows of an f32 matrix.
    pub fn rows(&self, indices: &[usize]) -> Array2<f32> {
        let mut m = Array2::zeros((indices.len(), self.dim()));
        for (mut row, &i) in m.rows_mut().into_iter().zip(indices) {
            self.row_into(i, row.as_slice_mut().expect("fresh arrays are contiguous"));
        }
        m
    }

    /// Sample indices of one split, in dataset order.
    pub fn indices(&self, split: Split) -> Vec<usize> {
        (0..self.len())
            .filter(|&i| self.splits[i] == split)
            .collect()
    }

    /// Samples per class in one split (empty when unlabelled).
    pub fn class_counts(&self, split: Split) -> Vec<u32> {
        let mut counts = vec![0u32; self.classes.len()];
        if self.is_labelled() {
            for (l, s) in self.labels.iter().zip(&self.splits) {
                if *s == split {
                    counts[*l as usize] += 1;
                }
            }
        }
        counts
    }

    /// Smallest and largest value over all samples.
    pub fn value_range(&self) -> (f32, f32) {
        match &self.values {
            Values::Bytes { data, scale } => {
                let lo = data.iter().copied().min().unwrap_or(0);
                let hi = data.iter().copied().max().unwrap_or(0);
                (f32::from(lo) * scale, f32::from(hi) * scale)
            }
            Values::Real(v) => v
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &x| {
                    (lo.min(x), hi.max(x))
                }),
        }
    }

    /// The summary line of the dataset cell.
    pub fn summary(&self) -> Summary {
        let (min, max) = self.value_range();
        let per_split = Split::ALL.map(|s| self.splits.iter().filter(|&&x| x == s).count());
        Summary {
            name: self.name.clone(),
            count: self.len(),
            train: per_split[0],
            validation: per_split[1],
            test: per_split[2],
            shape: self.shape.describe(),
            classes: self.classes.len(),
            min,
            max,
            source: self.source.clone(),
        }
    }
}

/// Count, shape, value range and source, for the dataset cell and `hebbian data`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
pub struct Summary {
    pub name: String,
    pub count: usize,
    pub train: usize,
    pub validation: usize,
    pub test: usize,
    pub shape: String,
    pub classes: usize,
    pub min: f32,
    pub max: f32,
    pub source: String,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} samples ({} train / {} validation / {} test), {}, ",
            self.name, self.count, self.train, self.validation, self.test, self.shape
        )?;
        if self.classes > 0 {
            write!(f, "{} classes, ", self.classes)?;
        }
        write!(
            f,
            "values {}…{}; source: {}",
            self.min, self.max, self.source
        )
    }
}

/// Refuses a size before allocating it: `what` names the thing in the message.
pub fn check_size(what: &str, bytes: u64) -> Result<()> {
    if bytes > MAX_DATASET_BYTES {
        return Err(Error::Data(format!(
            "{what} would need {} MB, more than the {} MB a dataset may take in the playground",
            bytes.div_ceil(1 << 20),
            MAX_DATASET_BYTES >> 20
        )));
    }
    Ok(())
}
