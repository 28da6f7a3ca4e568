//! Preprocessing between a dataset and a lab: class restriction and subsets (003's `restrict_classes`), seeded
//! shuffling and batching, scaling, binarisation, the bipolar map and corruption. Everything random draws from
//! the experiment seed (stream group per transform), so a permalink reproduces the same batches and the same
//! corrupted bits. ZCA whitening, the one step heavy enough for the GPU, lives in `zca.rs`.
//!
//! The value transforms know the [`Alphabet`] of their input, read from the values themselves: the bipolar map
//! 2v − 1 is for values in [0, 1] (it is skipped, with a notice, on data that is already ±1 or lies outside
//! [0, 1]), and a flip stays inside the data's alphabet (1 − v on 0/1, −v on ±1, the mirror image in the middle
//! of the value range on other data).
use super::{Dataset, Shape, Split};
use crate::error::FieldError;
use crate::rng::{self, Purpose};
use ndarray::{Array2, Axis};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Stream groups of the random transforms.
const SHUFFLE: u32 = 17;
const FLIP: u32 = 18;
const NOISE: u32 = 19;

/// How values are rescaled, feature-wise statistics taken over the rows being transformed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// As loaded (images in [0, 1]).
    #[default]
    None,
    /// Subtract each feature's mean.
    Center,
    // As the self-organising-map lecture standardises Iris.
    /// Subtract each feature's mean, divide by its (population) standard deviation; a constant feature is only
    /// centred.
    Standardise,
    /// Divide by the largest absolute value, into [−1, 1].
    MaxAbs,
}

/// Classes kept, subset size and the value transforms, in the order they are applied.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Preprocess {
    // The credit-assignment notebook's `restrict_classes`.
    /// Keep only these classes (empty: all).
    pub classes: Vec<u32>,
    /// At most this many samples per split, taken after a seeded shuffle (0: all).
    pub per_split: u32,
    pub scale: Scale,
    /// Binarise: 1 where the value exceeds `threshold`, else 0.
    #[schemars(title = "binarise to 0/1 (1 above the threshold)")]
    pub binarise: bool,
    /// The binarisation threshold (the lectures use 0.2 on MNIST).
    #[schemars(title = "binarisation threshold")]
    pub threshold: f32,
    /// Map values in [0, 1] to 2v − 1: 0/1 becomes −1/+1. Data that is already ±1 (e.g. the letters as ±1) is
    /// left as it is, with a notice, and so is data outside [0, 1].
    #[schemars(title = "map 0/1 to ±1 (2v − 1)")]
    pub bipolar: bool,
}

/// The values a set of rows takes, as far as the transforms need to know: what a flip means, and whether the
/// bipolar map applies.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Alphabet {
    /// Only 0 and 1 (binary units): a flip is 1 − v.
    Binary,
    /// Only −1 and +1 (bipolar units): a flip is −v.
    Bipolar,
    /// Any other values, within [lo, hi]: a flip is the mirror image lo + hi − v in the middle of that range
    /// (for images in [0, 1], 1 − v, the negative).
    Real { lo: f32, hi: f32 },
}

impl Alphabet {
    /// The alphabet of `values`. Values that fit both binary and bipolar data (only 1s, or none) take `tie`.
    pub fn of<'a>(values: impl IntoIterator<Item = &'a f32>, tie: Alphabet) -> Alphabet {
        Self::read(values).unwrap_or(tie)
    }

    /// The alphabet of `values`; None when they fit both binary and bipolar data (only 1s, or none).
    pub fn read<'a>(values: impl IntoIterator<Item = &'a f32>) -> Option<Alphabet> {
        let (mut zero, mut minus, mut other) = (false, false, false);
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for &v in values {
            lo = lo.min(v);
            hi = hi.max(v);
            if v == 0.0 {
                zero = true;
            } else if v == -1.0 {
                minus = true;
            } else if v != 1.0 {
                other = true;
            }
        }
        match (zero, minus, other) {
            (false, false, false) => None,
            (true, false, false) => Some(Alphabet::Binary),
            (false, true, false) => Some(Alphabet::Bipolar),
            _ => Some(Alphabet::Real { lo, hi }),
        }
    }

    /// The flipped value of `v`, inside the alphabet.
    pub fn flip(self, v: f32) -> f32 {
        match self {
            Alphabet::Binary => 1.0 - v,
            Alphabet::Bipolar => -v,
            Alphabet::Real { lo, hi } => lo + hi - v,
        }
    }

    /// In words, for the summary line and notices: "0/1", "±1" or "real values".
    pub fn describe(self) -> &'static str {
        match self {
            Alphabet::Binary => "0/1",
            Alphabet::Bipolar => "±1",
            Alphabet::Real { .. } => "real values",
        }
    }
}

/// Rows after [`Preprocess::rows`]: the values, their alphabet and what the transforms had to say (a map
/// skipped, and why).
#[derive(Clone, Debug)]
pub struct Prepared {
    pub x: Array2<f32>,
    pub alphabet: Alphabet,
    /// Whether the bipolar map was applied (asked for, and the values were in [0, 1]).
    pub mapped: bool,
    pub notices: Vec<String>,
}

impl Preprocess {
    pub fn validate(&self, dataset_classes: Option<usize>, path: &str) -> Vec<FieldError> {
        let mut e = Vec::new();
        if let (Some(n), Some(&bad)) = (
            dataset_classes,
            self.classes
                .iter()
                .find(|&&c| c as usize >= dataset_classes.unwrap_or(0)),
        ) {
            e.push(FieldError::new(
                format!("{path}/classes"),
                format!("class {bad} does not exist (the dataset has {n} classes)"),
            ));
        }
        if !self.threshold.is_finite() {
            e.push(FieldError::new(
                format!("{path}/threshold"),
                "the threshold must be a finite number",
            ));
        }
        e
    }

    /// Indices of one split after class restriction and the seeded subset.
    pub fn indices(&self, d: &Dataset, split: Split, seed: u32) -> Vec<usize> {
        let mut idx = d.indices(split);
        if !self.classes.is_empty() && d.is_labelled() {
            idx = restrict_classes(d, &idx, &self.classes, true);
        }
        if self.per_split > 0 && idx.len() > self.per_split as usize {
            idx = shuffled(&idx, seed, split as u32);
            idx.truncate(self.per_split as usize);
            idx.sort_unstable();
        }
        idx
    }

    /// The samples at `indices`, transformed, with their alphabet. Rows of only 1s are binary after
    /// binarisation, bipolar after the bipolar map, else take the alphabet of the whole dataset as loaded
    /// (bipolar when that too is only 1s).
    pub fn rows(&self, d: &Dataset, indices: &[usize]) -> Prepared {
        let mut x = d.rows(indices);
        let mut notices = Vec::new();
        let mut mapped = false;
        scale(&mut x, self.scale);
        if self.binarise {
            let t = self.threshold;
            x.mapv_inplace(|v| if v > t { 1.0 } else { 0.0 });
        }
        // Rows of only 1s: binary after binarisation, else as the dataset is (read only then: it is a scan).
        let tie = || {
            if self.binarise {
                Alphabet::Binary
            } else {
                dataset_alphabet(d)
            }
        };
        let mut alphabet = Alphabet::read(x.iter());
        if self.bipolar {
            match alphabet.unwrap_or_else(tie) {
                Alphabet::Bipolar => notices.push(
                    "The values are already ±1: \"map 0/1 to ±1\" left them as they are (2v − 1 would have \
                     made −3 and 1). Untick it; to see the map at work, start from 0/1 data (for the letters, \
                     untick \"letters as ±1\")."
                        .into(),
                ),
                Alphabet::Real { lo, hi } if lo < 0.0 || hi > 1.0 => notices.push(format!(
                    "\"map 0/1 to ±1\" is for values in 0…1; these span {}…{}, so it was skipped \
                     (binarise first, or scale with max-abs into −1…1).",
                    round(lo),
                    round(hi)
                )),
                _ => {
                    x.mapv_inplace(|v| 2.0 * v - 1.0);
                    alphabet = Some(Alphabet::read(x.iter()).unwrap_or(Alphabet::Bipolar));
                    mapped = true;
                }
            }
        }
        Prepared {
            alphabet: alphabet.unwrap_or_else(tie),
            x,
            mapped,
            notices,
        }
    }
}

/// The alphabet of the whole dataset as loaded (bipolar when it holds only 1s).
fn dataset_alphabet(d: &Dataset) -> Alphabet {
    match &d.values {
        super::Values::Real(v) => Alphabet::of(v, Alphabet::Bipolar),
        super::Values::Bytes { data, scale } => {
            if data.iter().all(|&b| b == 0 || f32::from(b) * scale == 1.0) {
                if data.contains(&0) {
                    Alphabet::Binary
                } else {
                    Alphabet::Bipolar
                }
            } else {
                let (lo, hi) = d.value_range();
                Alphabet::Real { lo, hi }
            }
        }
    }
}

/// A value for a message: at most 4 significant digits.
fn round(v: f32) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

/// 003's `restrict_classes`: the indices whose label is (keep) or is not (!keep) in `classes`.
pub fn restrict_classes(d: &Dataset, indices: &[usize], classes: &[u32], keep: bool) -> Vec<usize> {
    indices
        .iter()
        .copied()
        .filter(|&i| classes.contains(&u32::from(d.labels[i])) == keep)
        .collect()
}

/// A seeded Fisher–Yates shuffle; `epoch` selects an independent permutation for each pass over the data.
pub fn shuffled(indices: &[usize], seed: u32, epoch: u32) -> Vec<usize> {
    let mut out = indices.to_vec();
    let key = [seed, rng::stream(Purpose::Data, SHUFFLE, epoch)];
    for i in (1..out.len()).rev() {
        let u = rng::uniform(rng::philox4x32([i as u32, 0, 0, 0], key)[0]);
        let j = ((u * (i + 1) as f32) as usize).min(i);
        out.swap(i, j);
    }
    out
}

/// `indices` with the classes in turn: the first of each class (in class order), then the second of each, and
/// so on, each class keeping its order. Any prefix then covers every class as evenly as the data allows, where a
/// split stored class by class (the shipped digits) would give only the first classes; the whole list is the
/// same set.
pub fn classes_in_turn(d: &Dataset, indices: &[usize]) -> Vec<usize> {
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); d.classes.len().max(1)];
    for &i in indices {
        let c = usize::from(d.labels[i]).min(by_class.len() - 1);
        by_class[c].push(i);
    }
    let longest = by_class.iter().map(Vec::len).max().unwrap_or(0);
    (0..longest)
        .flat_map(|k| by_class.iter().filter_map(move |c| c.get(k).copied()))
        .collect()
}

/// Consecutive batches of `size` (the last may be shorter).
pub fn batches(indices: &[usize], size: usize) -> impl Iterator<Item = &[usize]> {
    indices.chunks(size.max(1))
}

/// Rescales columns in place.
pub fn scale(x: &mut Array2<f32>, how: Scale) {
    let n = x.nrows().max(1) as f32;
    match how {
        Scale::None => {}
        Scale::Center | Scale::Standardise => {
            for mut col in x.axis_iter_mut(Axis(1)) {
                let mean = col.sum() / n;
                col.mapv_inplace(|v| v - mean);
                if how == Scale::Standardise {
                    let sd = (col.mapv(|v| v * v).sum() / n).sqrt();
                    if sd > 0.0 {
                        col.mapv_inplace(|v| v / sd);
                    }
                }
            }
        }
        Scale::MaxAbs => {
            let m = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            if m > 0.0 {
                x.mapv_inplace(|v| v / m);
            }
        }
    }
}

/// How to damage inputs for a recall test (Hopfield, CHL, Boltzmann machines).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Corruption {
    /// Percentage of units flipped in every sample (exactly round(p · dim / 100), at distinct places). A flip
    /// stays in the data's alphabet: 1 − v on 0/1 data, −v on ±1 data, the mirror image in the middle of the
    /// value range on other data (1 − v on images in [0, 1]).
    #[schemars(title = "flip this % of units")]
    pub flip_percent: f32,
    /// Blank this many image rows, starting at `blank_from` (set to `blank_value`).
    #[schemars(title = "blank this many rows")]
    pub blank_rows: u32,
    /// The first blanked row (0 is the top).
    #[schemars(title = "first blanked row")]
    pub blank_from: u32,
    /// What blanked units are set to (0 is "unknown" for ±1 units: no vote either way).
    #[schemars(title = "value of blanked units")]
    pub blank_value: f32,
    /// Standard deviation of added Gaussian noise.
    #[schemars(title = "noise σ")]
    pub noise_sigma: f32,
}

impl Corruption {
    pub fn validate(&self, shape: Shape, path: &str) -> Vec<FieldError> {
        let mut e = Vec::new();
        if !(0.0..=100.0).contains(&self.flip_percent) {
            e.push(FieldError::new(
                format!("{path}/flip_percent"),
                format!("a percentage in [0, 100] (got {})", self.flip_percent),
            ));
        }
        if self.blank_rows > 0
            && u64::from(self.blank_from) + u64::from(self.blank_rows) > u64::from(shape.height)
        {
            e.push(FieldError::new(
                format!("{path}/blank_rows"),
                format!(
                    "rows {}..{} do not fit in {} rows",
                    self.blank_from,
                    self.blank_from + self.blank_rows,
                    shape.height
                ),
            ));
        }
        if !(self.noise_sigma.is_finite() && self.noise_sigma >= 0.0) {
            e.push(FieldError::new(
                format!("{path}/noise_sigma"),
                "the noise level must be ≥ 0",
            ));
        }
        if !self.blank_value.is_finite() {
            e.push(FieldError::new(
                format!("{path}/blank_value"),
                "must be a finite number",
            ));
        }
        e
    }

    /// Corrupts rows in place; row r uses stream index `first + r`, so a sample is damaged the same way
    /// whichever batch it is in. A flip stays inside `alphabet` (that of the rows as preprocessed).
    pub fn apply(
        &self,
        x: &mut Array2<f32>,
        shape: Shape,
        seed: u32,
        first: u32,
        alphabet: Alphabet,
    ) {
        let dim = x.ncols();
        let flips = ((self.flip_percent / 100.0) * dim as f32).round() as usize;
        for (r, mut row) in x.rows_mut().into_iter().enumerate() {
            let id = first.wrapping_add(r as u32);
            if flips > 0 {
                // A partial Fisher–Yates draw of `flips` distinct units.
                let key = [seed, rng::stream(Purpose::Data, FLIP, id)];
                let mut units: Vec<usize> = (0..dim).collect();
                for k in 0..flips.min(dim) {
                    let u = rng::uniform(rng::philox4x32([k as u32, 0, 0, 0], key)[0]);
                    let j = (k + (u * (dim - k) as f32) as usize).min(dim - 1);
                    units.swap(k, j);
                    let v = &mut row[units[k]];
                    *v = alphabet.flip(*v);
                }
            }
            if self.blank_rows > 0 {
                // Channel-major images: blank the rows in every channel.
                let plane = (shape.height * shape.width) as usize;
                for c in 0..shape.channels as usize {
                    for y in self.blank_from..self.blank_from + self.blank_rows {
                        let start = c * plane + y as usize * shape.width as usize;
                        row.slice_mut(ndarray::s![start..start + shape.width as usize])
                            .fill(self.blank_value);
                    }
                }
            }
            if self.noise_sigma > 0.0 {
                let key = [seed, rng::stream(Purpose::Data, NOISE, id)];
                for (j, v) in row.iter_mut().enumerate() {
                    *v += self.noise_sigma * rng::normal4([(j / 4) as u32, 0, 0, 0], key)[j % 4];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Values;

    fn toy() -> Dataset {
        let labels: Vec<u8> = (0..40).map(|i| (i % 4) as u8).collect();
        Dataset::new(
            "toy",
            "test",
            Shape::image(1, 2, 3),
            (0..4).map(|c| c.to_string()).collect(),
            Values::Bytes {
                data: (0..240).map(|i| (i % 256) as u8).collect(),
                scale: 1.0 / 255.0,
            },
            labels.clone(),
            Split::stratified(&labels),
        )
        .unwrap()
    }

    #[test]
    fn restriction_subsets_and_shuffles() {
        let d = toy();
        let p = Preprocess {
            classes: vec![1, 3],
            per_split: 5,
            ..Default::default()
        };
        let idx = p.indices(&d, Split::Train, 9);
        assert_eq!(idx.len(), 5);
        assert!(idx.iter().all(|&i| d.labels[i] % 2 == 1));
        assert_eq!(idx, p.indices(&d, Split::Train, 9));
        let s = shuffled(&(0..100).collect::<Vec<_>>(), 1, 0);
        let mut sorted = s.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_ne!(s, shuffled(&(0..100).collect::<Vec<_>>(), 1, 1));
        assert_eq!(
            batches(&s, 30).map(<[usize]>::len).collect::<Vec<_>>(),
            vec![30, 30, 30, 10]
        );
        assert!(!p.validate(Some(2), "/p").is_empty());
    }

    #[test]
    fn classes_in_turn_cover_every_class_in_any_prefix() {
        let d = toy();
        // Stored class by class, as the shipped digits are: 0, 0, …, 1, 1, …
        let mut by_class: Vec<usize> = (0..40).collect();
        by_class.sort_by_key(|&i| (d.labels[i], i));
        let turns = classes_in_turn(&d, &by_class);
        let first: Vec<u8> = turns[..8].iter().map(|&i| d.labels[i]).collect();
        assert_eq!(first, vec![0, 1, 2, 3, 0, 1, 2, 3]);
        // Each class keeps its order, and the whole list is the same set.
        assert_eq!(turns[0], by_class[0]);
        assert_eq!(turns[4], by_class[1]);
        let mut sorted = turns.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..40).collect::<Vec<_>>());
    }

    #[test]
    fn value_transforms() {
        let d = toy();
        let p = Preprocess {
            binarise: true,
            threshold: 0.5,
            bipolar: true,
            ..Default::default()
        };
        let prepared = p.rows(&d, &[0, 30]);
        assert!(prepared.x.iter().all(|&v| v == 1.0 || v == -1.0));
        assert_eq!(prepared.alphabet, Alphabet::Bipolar);
        assert!(prepared.mapped && prepared.notices.is_empty());
        // Grey levels in [0, 1] map into [−1, 1]; standardised values (outside [0, 1]) are left, with a notice.
        let grey = Preprocess {
            bipolar: true,
            ..Default::default()
        }
        .rows(&d, &[0, 1]);
        assert!(grey.mapped && grey.x[[0, 0]] == -1.0);
        let standardised = Preprocess {
            scale: Scale::Standardise,
            bipolar: true,
            ..Default::default()
        }
        .rows(&d, &(0..40).collect::<Vec<_>>());
        assert!(!standardised.mapped);
        assert!(
            standardised.notices[0].contains("is for values in 0…1"),
            "{:?}",
            standardised.notices
        );
        let mut z = d.rows(&(0..40).collect::<Vec<_>>());
        scale(&mut z, Scale::Standardise);
        let m = z.mean_axis(Axis(0)).unwrap();
        assert!(m.iter().all(|v| v.abs() < 1e-5));
        let sd = z.mapv(|v| v * v).mean_axis(Axis(0)).unwrap();
        assert!(sd.iter().all(|v| (v - 1.0).abs() < 1e-4), "{sd}");
    }

    #[test]
    fn alphabets_are_read_from_the_values() {
        let of = |v: &[f32]| Alphabet::of(v, Alphabet::Binary);
        assert_eq!(of(&[0.0, 1.0, 1.0]), Alphabet::Binary);
        assert_eq!(of(&[-1.0, 1.0]), Alphabet::Bipolar);
        assert_eq!(of(&[1.0, 1.0]), Alphabet::Binary, "only 1s: the tie");
        assert_eq!(of(&[-1.0, 0.0, 1.0]), Alphabet::Real { lo: -1.0, hi: 1.0 });
        assert_eq!(of(&[0.5, 2.0]), Alphabet::Real { lo: 0.5, hi: 2.0 });
        assert_eq!(Alphabet::Real { lo: -3.0, hi: 1.0 }.flip(1.0), -3.0);
    }

    #[test]
    fn corruption_flips_exactly_and_blanks_rows() {
        let shape = Shape::image(1, 10, 10);
        let mut x = Array2::from_elem((3, 100), 1.0f32);
        let c = Corruption {
            flip_percent: 10.0,
            ..Default::default()
        };
        c.apply(&mut x, shape, 4, 0, Alphabet::Bipolar);
        for row in x.rows() {
            assert_eq!(row.iter().filter(|&&v| v == -1.0).count(), 10);
        }
        // The same flips on 0/1 data write 0s, and on real data the mirror image in the range's middle.
        let mut z = Array2::from_elem((3, 100), 1.0f32);
        c.apply(&mut z, shape, 4, 0, Alphabet::Binary);
        assert_eq!(z.mapv(|v| 2.0 * v - 1.0), x);
        let mut r = Array2::from_elem((1, 100), 0.25f32);
        c.apply(&mut r, shape, 4, 0, Alphabet::Real { lo: 0.0, hi: 1.0 });
        assert_eq!(r.iter().filter(|&&v| v == 0.75).count(), 10);
        let mut y = Array2::from_elem((1, 100), 1.0f32);
        let b = Corruption {
            blank_rows: 5,
            blank_from: 5,
            blank_value: 0.0,
            ..Default::default()
        };
        assert!(b.validate(shape, "").is_empty());
        b.apply(&mut y, shape, 4, 0, Alphabet::Bipolar);
        assert_eq!(y.iter().filter(|&&v| v == 0.0).count(), 50);
        assert_eq!(y[[0, 49]], 1.0);
        assert!(
            !Corruption {
                blank_rows: 6,
                blank_from: 5,
                ..Default::default()
            }
            .validate(shape, "")
            .is_empty()
        );
    }
}
