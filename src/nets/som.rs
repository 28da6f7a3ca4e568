//! Self-organising maps (Kohonen 1982; 004 §7): a rows × cols map of units with weight vectors, the lecture's
//! square neighbourhood (TC-14) and its radius schedule (TC-15), MiniSom's Gaussian neighbourhood with its
//! asymptotic decay, one training step per sample (winner search, then the neighbourhood's update through the
//! instar rule of `plasticity`), and the map's measures: the lecture's error, the quantization and topographic
//! errors (MiniSom 2.3's definitions), the U-matrix and the winners of a data set.
//!
//! Units are numbered row by row: unit i sits at (i / cols, i % cols). The lecture's code converts with
//! `winner // m_rows`, which is right only on square maps; we divide by the number of columns.
//!
//! Squared distances sum in sixteen interleaved partial sums reduced in a fixed tree (as `nets::dense`), and the
//! winner is the first unit of smallest distance, so that the page's CPU engine (wasm) gives the CLI's bits.
use crate::error::{Error, Result};
use crate::lanes::LANES;
use crate::plasticity::{self, Rule};
use crate::rng::{self, Purpose};
use rayon::prelude::*;

/// The stream group of the map's random draws (initial weights under `Purpose::InitialWeights`, the samples of
/// each epoch under `Purpose::Inputs`).
pub const GROUP: u32 = 60;

/// Maps with at least this many weights search and update their units in parallel (rows of units per task; the
/// order of every sum stays fixed).
const PARALLEL_WEIGHTS: usize = 1 << 16;

/// A self-organising map: `rows × cols` units, each with a weight vector of `dim` values.
#[derive(Clone, Debug, PartialEq)]
pub struct Som {
    rows: usize,
    cols: usize,
    dim: usize,
    /// Unit i's weights are `w[i·dim .. (i+1)·dim]`.
    w: Vec<f32>,
}

/// Which units learn from a sample, and how much.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Hood {
    /// The lecture's "stovepipe hat": every unit within Chebyshev distance `radius` of the winner (the square
    /// window, clipped at the borders) learns at the full rate.
    Box { radius: u32 },
    /// MiniSom's Gaussian: unit (r, c) learns at rate · e^(−(r−r*)²/2σ²) · e^(−(c−c*)²/2σ²).
    Gaussian { sigma: f64 },
}

/// What a map makes of a data set.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Eval {
    /// Mean ‖x − w_bmu‖ (MiniSom's `quantization_error`).
    pub qe: f64,
    /// Fraction of samples whose best and second-best units are not adjacent (MiniSom's rectangular
    /// `topographic_error`: map distance above 1.42, i.e. not among the 8 neighbours).
    pub te: f64,
    /// Every sample's best-matching unit.
    pub winners: Vec<usize>,
}

/// Unit `unit`'s (row, col) on a map with `cols` columns.
pub fn coords(cols: usize, unit: usize) -> (usize, usize) {
    (unit / cols.max(1), unit % cols.max(1))
}

/// The lecture's `find_neighbors(winner, k)`: the units of the square window of half-width `k` around the winner
/// (Chebyshev distance ≤ k), clipped at the borders, with no wrap-around, in row order (TC-14).
pub fn neighbours(rows: usize, cols: usize, winner: usize, k: usize) -> Vec<usize> {
    let (r, c) = coords(cols, winner);
    let (r0, r1) = (r.saturating_sub(k), (r + k + 1).min(rows));
    let (c0, c1) = (c.saturating_sub(k), (c + k + 1).min(cols));
    (r0..r1)
        .flat_map(|i| (c0..c1).map(move |j| i * cols + j))
        .collect()
}

/// The lecture's radius during epoch `epoch` (from 0): it starts at `start` and, after every epoch i with
/// i mod `every` = 0, drops by 1 (never below 0).
pub fn lecture_radius(start: u32, every: u32, epoch: u32) -> u32 {
    start.saturating_sub(epoch.div_ceil(every.max(1)))
}

/// The radius the lecture's code prints after epoch `epoch` (from 0), once that epoch's drop is made (TC-15).
pub fn lecture_printed(start: u32, every: u32, epoch: u32) -> u32 {
    start.saturating_sub(epoch / every.max(1) + 1)
}

/// MiniSom's `asymptotic_decay`: x₀ / (1 + t / (T/2)), down to a third of x₀ at t = T.
pub fn asymptotic(x0: f64, t: f64, total: f64) -> f64 {
    x0 / (1.0 + t / (total.max(1.0) / 2.0))
}

/// Σ (x_i − w_i)² in sixteen partial sums (lane l takes i ≡ l mod 16), then the lanes pairwise.
pub fn dist2(x: &[f32], w: &[f32]) -> f32 {
    lanes_dist2(x, w)
}

/// [`dist2`]'s body, compiled into each vector unit's version of its callers. Below sixteen values the lanes
/// past the vector's length hold 0, and adding 0 changes nothing: the pairwise sum starts at the first width that
/// adds a value (the same bits, fewer operations on short vectors such as Iris's four features).
#[inline(always)]
fn lanes_dist2(x: &[f32], w: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let chunks = x.len() / LANES;
    for c in 0..chunks {
        let a: &[f32; LANES] = x[c * LANES..(c + 1) * LANES].try_into().expect("chunk");
        let b: &[f32; LANES] = w[c * LANES..(c + 1) * LANES].try_into().expect("chunk");
        for l in 0..LANES {
            let d = a[l] - b[l];
            acc[l] += d * d;
        }
    }
    let tail = chunks * LANES;
    for (l, (a, b)) in x[tail..].iter().zip(&w[tail..]).enumerate() {
        let d = a - b;
        acc[l] += d * d;
    }
    let used = if chunks > 0 {
        LANES
    } else {
        x.len().max(1).next_power_of_two()
    };
    let mut width = used / 2;
    while width > 0 {
        for l in 0..width {
            acc[l] += acc[l + width];
        }
        width /= 2;
    }
    acc[0]
}

/// ‖x − w_i‖² of every unit of `w` (units of x.len() weights) into `out`.
#[multiversion::multiversion(targets("x86_64+avx512f", "x86_64+avx2"))]
fn dist2_units(x: &[f32], w: &[f32], out: &mut [f32]) {
    for (o, w) in out.iter_mut().zip(w.chunks_exact(x.len())) {
        *o = lanes_dist2(x, w);
    }
}

/// w ← w + v (u − w) for every unit of `w` (units of u.len() weights), v its entry of `v`: the instar rule
/// Δw = v (u − w) of `plasticity::delta` with η = 1. A unit with v = 0 stays as it is.
#[multiversion::multiversion(targets("x86_64+avx512f", "x86_64+avx2"))]
fn instar_units(w: &mut [f32], u: &[f32], v: &[f32]) {
    for (w, &v) in w.chunks_exact_mut(u.len()).zip(v) {
        if v != 0.0 {
            for (w, &u) in w.iter_mut().zip(u) {
                *w += plasticity::delta(Rule::Instar, v, u, *w, 0.0, 0.0);
            }
        }
    }
}

impl Som {
    /// The lecture's start: w ~ N(0, std²) (numpy's `normal(0, 0.1)` takes the standard deviation). Normals from
    /// stream InitialWeights/[`GROUP`], four per counter [block, 0, 0, 0].
    pub fn random(rows: usize, cols: usize, dim: usize, std: f32, seed: u32) -> Self {
        let key = [seed, rng::stream(Purpose::InitialWeights, GROUP, 0)];
        let n = rows * cols * dim;
        let mut w = Vec::with_capacity(n + 3);
        for block in 0..n.div_ceil(4) {
            w.extend(rng::normal4([block as u32, 0, 0, 0], key).map(|z| std * z));
        }
        w.truncate(n);
        Self { rows, cols, dim, w }
    }

    /// A map with the given weights (unit by unit, row by row).
    pub fn from_weights(rows: usize, cols: usize, dim: usize, w: Vec<f32>) -> Result<Self> {
        if rows == 0 || cols == 0 || dim == 0 || w.len() != rows * cols * dim {
            return Err(Error::Data(format!(
                "a {rows} × {cols} map of {dim} inputs needs {} weights, got {}",
                rows * cols * dim,
                w.len()
            )));
        }
        Ok(Self { rows, cols, dim, w })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn units(&self) -> usize {
        self.rows * self.cols
    }

    pub fn weights(&self) -> &[f32] {
        &self.w
    }

    /// Unit `i`'s weight vector.
    pub fn unit(&self, i: usize) -> &[f32] {
        &self.w[i * self.dim..(i + 1) * self.dim]
    }

    /// Whether every weight is finite.
    pub fn finite(&self) -> bool {
        self.w.iter().all(|v| v.is_finite())
    }

    /// ‖x − w_i‖² of every unit into `out`.
    pub fn distances2(&self, x: &[f32], out: &mut [f32]) {
        let dim = self.dim;
        if self.w.len() >= PARALLEL_WEIGHTS {
            let per = (self.cols * 4).max(1);
            out.par_chunks_mut(per)
                .zip(self.w.par_chunks(per * dim))
                .for_each(|(o, w)| dist2_units(x, w, o));
        } else {
            dist2_units(x, &self.w, out);
        }
    }

    /// The best-matching unit of `x` and its distance ‖x − w‖ (the first unit of smallest distance, as numpy's
    /// `argmin`); `scratch` holds the units' squared distances.
    pub fn winner(&self, x: &[f32], scratch: &mut Vec<f32>) -> (usize, f32) {
        scratch.resize(self.units(), 0.0);
        self.distances2(x, scratch);
        let (best, d2) = argmin(scratch);
        (best, libm::sqrtf(d2))
    }

    /// Trains on `x`: finds its winner, then moves the neighbourhood's units towards x by the instar rule
    /// Δw = v (x − w) with v = rate · h(unit, winner). Returns the winner and its distance before the update (the
    /// lecture's error).
    pub fn train_sample(
        &mut self,
        x: &[f32],
        hood: Hood,
        rate: f32,
        scratch: &mut Vec<f32>,
    ) -> (usize, f32) {
        let (win, dist) = self.winner(x, scratch);
        self.update(x, win, hood, rate);
        (win, dist)
    }

    /// The neighbourhood update of `winner` towards `x` (the lecture's `update_weights` on each neighbour, or
    /// MiniSom's `update`).
    pub fn update(&mut self, x: &[f32], winner: usize, hood: Hood, rate: f32) {
        let (wr, wc) = coords(self.cols, winner);
        let (dim, cols) = (self.dim, self.cols);
        match hood {
            Hood::Box { radius } => {
                let k = radius as usize;
                let (r0, r1) = (wr.saturating_sub(k), (wr + k + 1).min(self.rows));
                let (c0, c1) = (wc.saturating_sub(k), (wc + k + 1).min(cols));
                let rows = &mut self.w[r0 * cols * dim..r1 * cols * dim];
                let v = vec![rate; c1 - c0];
                let row_update =
                    |row: &mut [f32]| instar_units(&mut row[c0 * dim..c1 * dim], x, &v);
                if rows.len() >= PARALLEL_WEIGHTS {
                    rows.par_chunks_mut(cols * dim).for_each(row_update);
                } else {
                    rows.chunks_mut(cols * dim).for_each(row_update);
                }
            }
            Hood::Gaussian { sigma } => {
                let d = 2.0 * sigma * sigma;
                let g = |a: usize, b: usize| {
                    let t = a as f64 - b as f64;
                    libm::exp(-(t * t) / d)
                };
                let ar: Vec<f64> = (0..self.rows).map(|r| g(r, wr)).collect();
                let ac: Vec<f64> = (0..cols).map(|c| g(c, wc)).collect();
                let rate = f64::from(rate);
                let row_update = |(r, row): (usize, &mut [f32])| {
                    let v: Vec<f32> = ac.iter().map(|&a| (rate * ar[r] * a) as f32).collect();
                    instar_units(row, x, &v);
                };
                if self.w.len() >= PARALLEL_WEIGHTS {
                    self.w
                        .par_chunks_mut(cols * dim)
                        .enumerate()
                        .for_each(row_update);
                } else {
                    self.w
                        .chunks_mut(cols * dim)
                        .enumerate()
                        .for_each(row_update);
                }
            }
        }
    }

    /// The quantization and topographic errors of `data` (rows of `dim` values) and every sample's winner, as
    /// MiniSom 2.3 defines them for a rectangular map.
    pub fn evaluate(&self, data: &[f32]) -> Eval {
        let n = data.len() / self.dim.max(1);
        let mut scratch = vec![0.0; self.units()];
        let (mut qe, mut errors) = (0.0f64, 0usize);
        let mut winners = Vec::with_capacity(n);
        for x in data.chunks_exact(self.dim) {
            self.distances2(x, &mut scratch);
            let (best, d2) = argmin(&scratch);
            qe += f64::from(libm::sqrtf(d2));
            winners.push(best);
            if self.units() > 1 {
                let second = second_best(&scratch, best);
                let (a, b) = (coords(self.cols, best), coords(self.cols, second));
                if a.0.abs_diff(b.0) > 1 || a.1.abs_diff(b.1) > 1 {
                    errors += 1;
                }
            }
        }
        let count = n.max(1) as f64;
        Eval {
            qe: qe / count,
            te: if self.units() > 1 {
                errors as f64 / count
            } else {
                f64::NAN
            },
            winners,
        }
    }

    /// The U-matrix: every unit's mean distance ‖w_i − w_j‖ to its (up to 8) neighbours on the map.
    pub fn u_matrix(&self) -> Vec<f32> {
        (0..self.units())
            .map(|i| {
                let (sum, count) = neighbours(self.rows, self.cols, i, 1)
                    .into_iter()
                    .filter(|&j| j != i)
                    .fold((0.0f32, 0u32), |(s, k), j| {
                        (s + libm::sqrtf(dist2(self.unit(i), self.unit(j))), k + 1)
                    });
                if count == 0 { 0.0 } else { sum / count as f32 }
            })
            .collect()
    }
}

/// The first index of the smallest value, and the value.
pub fn argmin(v: &[f32]) -> (usize, f32) {
    let mut best = (0, f32::INFINITY);
    for (i, &d) in v.iter().enumerate() {
        if d < best.1 {
            best = (i, d);
        }
    }
    best
}

/// The first index of the smallest value other than `best`.
fn second_best(v: &[f32], best: usize) -> usize {
    let mut second = (usize::from(best == 0), f32::INFINITY);
    for (i, &d) in v.iter().enumerate() {
        if i != best && d < second.1 {
            second = (i, d);
        }
    }
    second.0
}

/// The index of a sample drawn uniformly from `n` with one random word (⌊word · n / 2³²⌋).
pub fn draw(word: u32, n: usize) -> usize {
    ((u64::from(word) * n as u64) >> 32) as usize
}

/// The `count` samples of epoch `epoch`, drawn from `n` with replacement (the lecture's `np.random.choice(n,
/// count)`), from stream Inputs/[`GROUP`], counter [epoch, k / 4, 0, 0], word k mod 4.
pub fn epoch_samples(seed: u32, epoch: u32, count: usize, n: usize) -> Vec<usize> {
    let key = [seed, rng::stream(Purpose::Inputs, GROUP, 0)];
    (0..count.div_ceil(4))
        .flat_map(|q| rng::philox4x32([epoch, q as u32, 0, 0], key))
        .take(count)
        .map(|w| draw(w, n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dist2_matches_a_plain_sum() {
        let x: Vec<f32> = (0..37).map(|i| (i as f32 * 0.3).sin()).collect();
        let w: Vec<f32> = (0..37).map(|i| (i as f32 * 0.7).cos()).collect();
        let plain: f32 = x.iter().zip(&w).map(|(a, b)| (a - b) * (a - b)).sum();
        assert!((dist2(&x, &w) - plain).abs() < 1e-5);
    }

    #[test]
    fn box_update_moves_exactly_the_window() {
        let mut som = Som::from_weights(4, 5, 1, vec![0.0; 20]).expect("map");
        som.update(&[1.0], 7, Hood::Box { radius: 1 }, 0.5);
        let moved: Vec<usize> = (0..20).filter(|&i| som.unit(i)[0] != 0.0).collect();
        assert_eq!(moved, neighbours(4, 5, 7, 1));
        assert!(moved.iter().all(|&i| som.unit(i)[0] == 0.5));
    }

    #[test]
    fn gaussian_update_is_minisoms() {
        let mut som = Som::from_weights(3, 3, 1, vec![0.0; 9]).expect("map");
        som.update(&[1.0], 4, Hood::Gaussian { sigma: 1.0 }, 0.5);
        // Corner: 0.5·e^(−1/2)·e^(−1/2) = 0.5/e.
        assert!((som.unit(0)[0] - 0.5 / std::f32::consts::E).abs() < 1e-6);
        assert_eq!(som.unit(4)[0], 0.5);
    }

    #[test]
    fn samples_are_in_range_and_seeded() {
        let a = epoch_samples(3, 0, 100, 150);
        assert!(a.iter().all(|&i| i < 150));
        assert_eq!(a, epoch_samples(3, 0, 100, 150));
        assert_ne!(a, epoch_samples(3, 1, 100, 150));
    }
}
