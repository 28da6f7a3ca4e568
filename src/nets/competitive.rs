//! Competitive (winner-take-all) networks (004 §6; Rumelhart & Zipser 1985): one layer of units whose weight
//! vectors compete for each input. The winner is the unit of largest activation y_i = w_i · x or of smallest
//! distance ‖x − w_i‖; only the winner learns, by the instar rule Δw_i = α v_i (x − w_i) with v_i = 1 for the
//! winner and 0 for the others (`plasticity::Rule::Instar`). Two remedies for dead units (units that never win):
//! DeSieno's (1988) conscience, a bias against units that win more than their share, and leaky learning, where
//! the losers move too, with a smaller rate.
//!
//! The weights are stored one row per unit (units × inputs): row i is the lecture's column W[:, i]. Distances and
//! activations sum their products in eight fixed lanes, so that the page's CPU engine (wasm) gives the CLI's bits.
use crate::error::{Error, Result};
use crate::plasticity::{self, Rule};
use crate::rng::{self, Purpose};
use ndarray::{Array2, ArrayView1};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How the winner is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Winner {
    /// The unit nearest to the input: argmin ‖x − w_i‖ (the lecture's code).
    #[schemars(title = "smallest distance")]
    Distance,
    /// The unit of largest activation: argmax w_i · x (the same winner only when every ‖w_i‖ is equal).
    #[schemars(title = "largest activation")]
    Activation,
}

/// What learns besides the winner, and how the winner is chosen among equals.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Variant {
    /// Plain winner-take-all: only the winner moves.
    Plain,
    /// DeSieno's conscience: each unit tracks its win frequency p_i ← p_i + β (y_i − p_i) (y_i = 1 for the
    /// nearest unit) and the winner is argmin ‖x − w_i‖² − b_i with the bias b_i = C (1/N − p_i).
    Conscience { beta: f32, c: f32 },
    /// Leaky learning: the losers move towards the input too, with the rate `leak`.
    Leaky { leak: f32 },
}

/// What one presentation of an input did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Step {
    /// The unit that learnt (the winner).
    pub winner: usize,
    /// The nearest unit before the update.
    pub nearest: usize,
    /// ‖x − w_nearest‖ before the update: the quantisation error of this input.
    pub distance: f32,
}

/// One competitive layer: weights (units × inputs) and the conscience's win frequencies.
#[derive(Clone, Debug, PartialEq)]
pub struct Competitive {
    pub w: Array2<f32>,
    /// p_i, the running frequency with which unit i is the nearest (conscience; starts at 1/N).
    pub freq: Vec<f32>,
}

/// Σ a_k b_k in eight fixed lanes, then the lanes in order: the same bits natively and in wasm.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            lanes[k] += x[k] * y[k];
        }
    }
    for (k, (x, y)) in ra.iter().zip(rb).enumerate() {
        lanes[k] += x * y;
    }
    lanes.iter().sum()
}

/// ‖a − b‖² in eight fixed lanes, as [`dot`].
#[inline]
pub fn squared_distance(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            let d = x[k] - y[k];
            lanes[k] += d * d;
        }
    }
    for (k, (x, y)) in ra.iter().zip(rb).enumerate() {
        let d = x - y;
        lanes[k] += d * d;
    }
    lanes.iter().sum()
}

/// The index of the smallest value (the first of equal ones).
fn argmin(v: impl Iterator<Item = f32>) -> usize {
    v.enumerate()
        .fold(
            (0, f32::INFINITY),
            |best, (i, x)| {
                if x < best.1 { (i, x) } else { best }
            },
        )
        .0
}

impl Competitive {
    /// A layer with the given weights (units × inputs).
    pub fn new(w: Array2<f32>) -> Result<Self> {
        let units = w.nrows();
        if units == 0 || w.ncols() == 0 {
            return Err(Error::Data(format!(
                "a competitive layer needs at least one unit and one input (got {} × {})",
                units,
                w.ncols()
            )));
        }
        Ok(Self {
            w,
            freq: vec![1.0 / units as f32; units],
        })
    }

    fn key(seed: u32, index: u32) -> [u32; 2] {
        [seed, rng::stream(Purpose::Competitive, 0, index)]
    }

    /// Weights drawn uniformly from [lo, hi) (the lecture's U[0, 1) for the blobs); `index` tells apart the
    /// networks of one run.
    pub fn uniform(
        units: usize,
        inputs: usize,
        lo: f32,
        hi: f32,
        seed: u32,
        index: u32,
    ) -> Result<Self> {
        let key = Self::key(seed, index);
        let w = Array2::from_shape_fn((units, inputs), |(i, j)| {
            let k = (i * inputs + j) as u32;
            let u = rng::uniform(rng::philox4x32([k / 4, 0, 0, 0], key)[(k % 4) as usize]);
            lo + (hi - lo) * u
        });
        Self::new(w)
    }

    /// Weights drawn from N(0, std²) (the lecture's N(0, 0.1) for the digits).
    pub fn normal(units: usize, inputs: usize, std: f32, seed: u32, index: u32) -> Result<Self> {
        let key = Self::key(seed, index);
        let w = Array2::from_shape_fn((units, inputs), |(i, j)| {
            let k = (i * inputs + j) as u32;
            std * rng::normal4([k / 4, 1, 0, 0], key)[(k % 4) as usize]
        });
        Self::new(w)
    }

    pub fn units(&self) -> usize {
        self.w.nrows()
    }

    pub fn inputs(&self) -> usize {
        self.w.ncols()
    }

    fn row(&self, i: usize) -> &[f32] {
        let n = self.inputs();
        &self.w.as_slice().expect("weights are contiguous")[i * n..(i + 1) * n]
    }

    /// The activations y_i = w_i · x.
    pub fn activations(&self, x: &[f32]) -> Vec<f32> {
        (0..self.units()).map(|i| dot(self.row(i), x)).collect()
    }

    /// The squared distances ‖x − w_i‖².
    pub fn squared_distances(&self, x: &[f32]) -> Vec<f32> {
        (0..self.units())
            .map(|i| squared_distance(self.row(i), x))
            .collect()
    }

    /// The distances ‖x − w_i‖.
    pub fn distances(&self, x: &[f32]) -> Vec<f32> {
        self.squared_distances(x)
            .into_iter()
            .map(libm::sqrtf)
            .collect()
    }

    /// The nearest unit and its distance.
    pub fn nearest(&self, x: &[f32]) -> (usize, f32) {
        let d2 = self.squared_distances(x);
        let i = argmin(d2.iter().copied());
        (i, libm::sqrtf(d2[i]))
    }

    /// The winner by `how` (no conscience).
    pub fn winner(&self, x: &[f32], how: Winner) -> usize {
        match how {
            Winner::Distance => self.nearest(x).0,
            Winner::Activation => argmin(self.activations(x).into_iter().map(|y| -y)),
        }
    }

    /// Moves unit `i` towards `x` by the instar rule, Δw_i = α v (x − w_i) with v = 1.
    pub fn instar(&mut self, i: usize, x: &[f32], rate: f32) {
        let n = self.inputs();
        let w = &mut self.w.as_slice_mut().expect("weights are contiguous")[i * n..(i + 1) * n];
        for (wj, &xj) in w.iter_mut().zip(x) {
            *wj += rate * plasticity::delta(Rule::Instar, 1.0, xj, *wj, 0.0, 0.0);
        }
    }

    /// One presentation of `x`: the competition, then the update of the winner (and of the losers, leaky).
    pub fn step(&mut self, x: &[f32], rate: f32, how: Winner, variant: Variant) -> Step {
        let d2 = self.squared_distances(x);
        let nearest = argmin(d2.iter().copied());
        let distance = libm::sqrtf(d2[nearest]);
        let winner = match (variant, how) {
            (Variant::Conscience { beta, c }, _) => {
                let n = self.units() as f32;
                // DeSieno's biased competition, with the frequencies before this input: squared distances
                // (his equations) minus b_i = C (1/N − p_i).
                let w = argmin(
                    d2.iter()
                        .zip(&self.freq)
                        .map(|(&d, &p)| d - c * (1.0 / n - p)),
                );
                for (i, p) in self.freq.iter_mut().enumerate() {
                    let y = if i == nearest { 1.0 } else { 0.0 };
                    *p += beta * (y - *p);
                }
                w
            }
            (_, Winner::Distance) => nearest,
            (_, Winner::Activation) => self.winner(x, Winner::Activation),
        };
        self.instar(winner, x, rate);
        if let Variant::Leaky { leak } = variant {
            for i in (0..self.units()).filter(|&i| i != winner) {
                self.instar(i, x, leak);
            }
        }
        Step {
            winner,
            nearest,
            distance,
        }
    }

    /// Whether every weight is finite.
    pub fn finite(&self) -> bool {
        self.w.iter().all(|v| v.is_finite())
    }

    /// Unit i's weight vector.
    pub fn unit(&self, i: usize) -> ArrayView1<'_, f32> {
        self.w.row(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_sum_every_term() {
        let a: Vec<f32> = (0..19).map(|i| i as f32 * 0.5).collect();
        let b: Vec<f32> = (0..19).map(|i| 1.0 - i as f32 * 0.1).collect();
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - plain).abs() < 1e-4);
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
        assert!((squared_distance(&a, &b) - plain).abs() < 1e-3);
    }

    #[test]
    fn leaky_losers_move_and_conscience_rotates_the_winner() {
        let w = ndarray::array![[0.0f32, 0.0], [5.0, 5.0]];
        let mut net = Competitive::new(w.clone()).unwrap();
        net.step(
            &[0.1, 0.1],
            0.5,
            Winner::Distance,
            Variant::Leaky { leak: 0.1 },
        );
        assert!((net.w[[1, 0]] - (5.0 + 0.1 * (0.1 - 5.0))).abs() < 1e-6);
        let mut net = Competitive::new(w).unwrap();
        net.freq = vec![0.9, 0.1];
        let s = net.step(
            &[0.1, 0.1],
            0.5,
            Winner::Distance,
            Variant::Conscience {
                beta: 0.0,
                c: 200.0,
            },
        );
        assert_eq!((s.nearest, s.winner), (0, 1));
    }
}
