//! Generated datasets, every number drawn from the experiment's seed through the counter-based generator, so
//! that a permalink regenerates them bit for bit. Each generator uses its own stream group (see `rng::stream`).
use super::{Dataset, Shape, Split, Values};
use crate::error::{FieldError, Result};
use crate::rng::{self, Purpose};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// At most this many generated samples (and values) per dataset: generous for a lab, small for a tab.
pub const MAX_SAMPLES: u32 = 100_000;
pub const MAX_VALUES: u64 = 16 << 20;

/// Stream groups of the generators (bits 20..28 of the stream id).
#[repr(u32)]
enum Group {
    Blobs = 1,
    Gaussians = 2,
    Patterns = 3,
    Ising = 4,
}

fn key(seed: u32, group: Group, index: u32) -> [u32; 2] {
    [seed, rng::stream(Purpose::Data, group as u32, index)]
}

/// The j-th standard normal of stream (seed, group, index).
fn normal(k: [u32; 2], j: u32) -> f32 {
    rng::normal4([j / 4, 0, 0, 0], k)[(j % 4) as usize]
}

/// The j-th uniform in (0, 1) of stream (seed, group, index).
fn uniform(k: [u32; 2], j: u32) -> f32 {
    rng::uniform(rng::philox4x32([j / 4, 0, 0, 0], k)[(j % 4) as usize])
}

/// Isotropic Gaussian blobs in 2-D, one class per centre.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Blobs {
    pub centres: Vec<[f32; 2]>,
    /// Standard deviation of every blob.
    pub spread: f32,
    /// Samples per blob.
    #[schemars(range(min = 1, max = 100000))]
    pub count: u32,
}

/// Correlated 2-D Gaussians, one class each: mean, variances and correlation ρ.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Gaussian2d {
    pub mean: [f32; 2],
    pub var: [f32; 2],
    pub rho: f32,
}

/// Random ±1 patterns (Hopfield memories): each unit is +1 with probability `p_on`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RandomPatterns {
    #[schemars(range(min = 1, max = 100000))]
    pub count: u32,
    /// Units per pattern, shown as a rows × cols grid.
    #[schemars(range(min = 1, max = 32))]
    pub rows: u32,
    #[schemars(range(min = 1, max = 32))]
    pub cols: u32,
    #[schemars(range(min = 0.0, max = 1.0))]
    pub p_on: f32,
}

/// Random spin configurations of an L × L Ising lattice (a "hot" start): each spin +1 with probability `p_up`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IsingLattices {
    #[schemars(range(min = 2, max = 256))]
    pub side: u32,
    #[schemars(range(min = 1, max = 100000))]
    pub count: u32,
    #[schemars(range(min = 0.0, max = 1.0))]
    pub p_up: f32,
}

fn check(errors: &mut Vec<FieldError>, ok: bool, path: &str, message: String) {
    if !ok {
        errors.push(FieldError::new(path, message));
    }
}

fn finite_pos(x: f32) -> bool {
    x.is_finite() && x > 0.0
}

impl Blobs {
    pub fn validate(&self, path: &str) -> Vec<FieldError> {
        let mut e = Vec::new();
        let k = self.centres.len();
        check(
            &mut e,
            (1..=10).contains(&k),
            &format!("{path}/centres"),
            format!("1 to 10 centres (got {k})"),
        );
        check(
            &mut e,
            self.centres
                .iter()
                .flatten()
                .all(|c| c.is_finite() && c.abs() <= 1e3),
            &format!("{path}/centres"),
            "centres must be finite numbers within ±1000".into(),
        );
        check(
            &mut e,
            finite_pos(self.spread) && self.spread <= 1e3,
            &format!("{path}/spread"),
            format!("spread must be in (0, 1000] (got {})", self.spread),
        );
        check(
            &mut e,
            (1..=MAX_SAMPLES).contains(&self.count)
                && u64::from(self.count) * k as u64 <= u64::from(MAX_SAMPLES),
            &format!("{path}/count"),
            format!(
                "1 to {MAX_SAMPLES} samples in all (got {} × {k})",
                self.count
            ),
        );
        e
    }

    pub fn generate(&self, seed: u32) -> Result<Dataset> {
        let mut values = Vec::new();
        let mut labels = Vec::new();
        for (c, centre) in self.centres.iter().enumerate() {
            let k = key(seed, Group::Blobs, c as u32);
            for i in 0..self.count {
                values.push(centre[0] + self.spread * normal(k, 2 * i));
                values.push(centre[1] + self.spread * normal(k, 2 * i + 1));
                labels.push(c as u8);
            }
        }
        let splits = Split::stratified(&labels);
        Dataset::new(
            "Gaussian blobs",
            format!("generated from seed {seed}"),
            Shape::table(2),
            (1..=self.centres.len())
                .map(|c| format!("blob {c}"))
                .collect(),
            Values::Real(values),
            labels,
            splits,
        )
    }
}

/// Validates and generates a list of correlated 2-D Gaussians, `count` samples each.
pub fn gaussians_validate(list: &[Gaussian2d], count: u32, path: &str) -> Vec<FieldError> {
    let mut e = Vec::new();
    check(
        &mut e,
        (1..=10).contains(&list.len()),
        &format!("{path}/gaussians"),
        format!("1 to 10 Gaussians (got {})", list.len()),
    );
    for (i, g) in list.iter().enumerate() {
        let at = format!("{path}/gaussians/{i}");
        check(
            &mut e,
            g.mean.iter().all(|m| m.is_finite() && m.abs() <= 1e3),
            &format!("{at}/mean"),
            "means must be finite, within ±1000".into(),
        );
        check(
            &mut e,
            g.var.iter().all(|&v| finite_pos(v) && v <= 1e4),
            &format!("{at}/var"),
            "variances must be in (0, 10000]".into(),
        );
        check(
            &mut e,
            g.rho.is_finite() && g.rho.abs() < 1.0,
            &format!("{at}/rho"),
            format!(
                "the correlation ρ must be in (−1, 1) for a proper Gaussian (got {})",
                g.rho
            ),
        );
    }
    check(
        &mut e,
        (1..=MAX_SAMPLES).contains(&count)
            && u64::from(count) * list.len() as u64 <= u64::from(MAX_SAMPLES),
        &format!("{path}/count"),
        format!(
            "1 to {MAX_SAMPLES} samples in all (got {count} × {})",
            list.len()
        ),
    );
    e
}

pub fn gaussians(list: &[Gaussian2d], count: u32, seed: u32) -> Result<Dataset> {
    let mut values = Vec::new();
    let mut labels = Vec::new();
    for (c, g) in list.iter().enumerate() {
        // u = mean + L z with L the Cholesky factor of [[v1, ρ√(v1 v2)], [ρ√(v1 v2), v2]].
        let (s1, s2) = (g.var[0].sqrt(), g.var[1].sqrt());
        let (l11, l21, l22) = (s1, g.rho * s2, s2 * (1.0 - g.rho * g.rho).sqrt());
        let k = key(seed, Group::Gaussians, c as u32);
        for i in 0..count {
            let (z1, z2) = (normal(k, 2 * i), normal(k, 2 * i + 1));
            values.push(g.mean[0] + l11 * z1);
            values.push(g.mean[1] + l21 * z1 + l22 * z2);
            labels.push(c as u8);
        }
    }
    let splits = Split::stratified(&labels);
    Dataset::new(
        "Correlated 2-D Gaussians",
        format!("generated from seed {seed}"),
        Shape::table(2),
        (1..=list.len()).map(|c| format!("Σ{c}")).collect(),
        Values::Real(values),
        labels,
        splits,
    )
}

impl RandomPatterns {
    pub fn validate(&self, path: &str) -> Vec<FieldError> {
        let mut e = Vec::new();
        let side = 1..=super::letters::MAX_SIDE;
        check(
            &mut e,
            side.contains(&self.rows) && side.contains(&self.cols),
            path,
            format!("rows and columns must be 1 to {}", super::letters::MAX_SIDE),
        );
        check(
            &mut e,
            (1..=MAX_SAMPLES).contains(&self.count),
            &format!("{path}/count"),
            format!("1 to {MAX_SAMPLES} patterns (got {})", self.count),
        );
        check(
            &mut e,
            u64::from(self.count) * u64::from(self.rows) * u64::from(self.cols) <= MAX_VALUES,
            path,
            format!("at most {MAX_VALUES} units in all"),
        );
        check(
            &mut e,
            (0.0..=1.0).contains(&self.p_on),
            &format!("{path}/p_on"),
            format!("p_on is a probability in [0, 1] (got {})", self.p_on),
        );
        e
    }

    /// Unlabelled, all in the training split.
    pub fn generate(&self, seed: u32) -> Result<Dataset> {
        let dim = self.rows * self.cols;
        let values = spins(seed, Group::Patterns, self.count, dim, self.p_on);
        Dataset::new(
            "Random ±1 patterns",
            format!("generated from seed {seed}, P(+1) = {}", self.p_on),
            Shape::image(1, self.rows, self.cols),
            Vec::new(),
            Values::Real(values),
            Vec::new(),
            vec![Split::Train; self.count as usize],
        )
    }
}

impl IsingLattices {
    pub fn validate(&self, path: &str) -> Vec<FieldError> {
        let mut e = Vec::new();
        check(
            &mut e,
            (2..=256).contains(&self.side),
            &format!("{path}/side"),
            format!("the lattice side must be 2 to 256 (got {})", self.side),
        );
        check(
            &mut e,
            (1..=MAX_SAMPLES).contains(&self.count),
            &format!("{path}/count"),
            format!("1 to {MAX_SAMPLES} lattices (got {})", self.count),
        );
        check(
            &mut e,
            u64::from(self.count) * u64::from(self.side).pow(2) <= MAX_VALUES,
            path,
            format!("at most {MAX_VALUES} spins in all"),
        );
        check(
            &mut e,
            (0.0..=1.0).contains(&self.p_up),
            &format!("{path}/p_up"),
            format!("p_up is a probability in [0, 1] (got {})", self.p_up),
        );
        e
    }

    pub fn generate(&self, seed: u32) -> Result<Dataset> {
        let values = spins(
            seed,
            Group::Ising,
            self.count,
            self.side * self.side,
            self.p_up,
        );
        Dataset::new(
            "Ising lattices",
            format!("random spins from seed {seed}, P(up) = {}", self.p_up),
            Shape::image(1, self.side, self.side),
            Vec::new(),
            Values::Real(values),
            Vec::new(),
            vec![Split::Train; self.count as usize],
        )
    }
}

/// `count` vectors of `dim` spins, +1 with probability `p`; vector i uses stream index i.
fn spins(seed: u32, group: Group, count: u32, dim: u32, p: f32) -> Vec<f32> {
    let group = group as u32;
    (0..count)
        .flat_map(|i| {
            let k = [seed, rng::stream(Purpose::Data, group, i)];
            (0..dim).map(move |j| if uniform(k, j) < p { 1.0 } else { -1.0 })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaussians_have_the_asked_moments() {
        let g = [Gaussian2d {
            mean: [1.0, -2.0],
            var: [2.0, 0.5],
            rho: 0.6,
        }];
        assert!(gaussians_validate(&g, 20_000, "").is_empty());
        let d = gaussians(&g, 20_000, 7).unwrap();
        let x = d.rows(&(0..d.len()).collect::<Vec<_>>());
        let m = x.mean_axis(ndarray::Axis(0)).unwrap();
        let c = x.t().dot(&x) / x.nrows() as f32
            - m.view()
                .insert_axis(ndarray::Axis(1))
                .dot(&m.view().insert_axis(ndarray::Axis(0)));
        assert!(
            (m[0] - 1.0).abs() < 0.03 && (m[1] + 2.0).abs() < 0.02,
            "{m}"
        );
        assert!(
            (c[[0, 0]] - 2.0).abs() < 0.06 && (c[[1, 1]] - 0.5).abs() < 0.02,
            "{c}"
        );
        assert!((c[[0, 1]] - 0.6).abs() < 0.03, "{c}");
        assert_eq!(d.class_counts(Split::Test), vec![2000]);
    }

    #[test]
    fn generators_are_seeded_and_checked() {
        let p = RandomPatterns {
            count: 50,
            rows: 10,
            cols: 10,
            p_on: 0.5,
        };
        assert_eq!(p.generate(3).unwrap().values, p.generate(3).unwrap().values);
        assert_ne!(p.generate(3).unwrap().values, p.generate(4).unwrap().values);
        let ising = IsingLattices {
            side: 16,
            count: 10,
            p_up: 1.0,
        };
        assert_eq!(ising.generate(1).unwrap().value_range(), (1.0, 1.0));
        let b = Blobs {
            centres: vec![[0.0, 0.0], [5.0, 5.0]],
            spread: 0.5,
            count: 100,
        };
        assert_eq!(
            b.generate(1).unwrap().class_counts(Split::Train),
            vec![80, 80]
        );
        let bad = Blobs {
            centres: vec![],
            spread: -1.0,
            count: 0,
        };
        assert_eq!(bad.validate("/b").len(), 3);
        assert!(
            !gaussians_validate(
                &[Gaussian2d {
                    mean: [0.0; 2],
                    var: [1.0, 1.0],
                    rho: 1.0
                }],
                10,
                ""
            )
            .is_empty()
        );
        assert!(
            !(IsingLattices {
                side: 256,
                count: 100_000,
                p_up: 0.5
            })
            .validate("")
            .is_empty()
        );
    }
}
