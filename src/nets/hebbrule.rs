//! One-layer Hebbian classifiers (004 §1): the lecture's small nets on 3×3 letters and its MNIST classifier of
//! class prototypes. Every update goes through `plasticity::delta` (Hebb, instar, outstar), one synapse at a
//! time, in a fixed order, so that the page's CPU engine gives the CLI's bits.
//!
//! Weights are stored as `w[i][j]` (output i, input j), row-major `classes × inputs`: the lecture's first slides
//! write `w_ji` (input j to output i) as a 9 × 3 matrix, its decay code a 3 × 9 one; the numbers are the same.
//!
//! Where we differ from the lecture's code, on purpose: the normalised Hebb of TC-03 uses the target of the
//! pattern being learnt (its code indexes the targets with the outer loop's counter, which fails after three
//! iterations); the corrupted C is the one its printed output comes from (`[0,1,1,1,0,0,0,1,1]`).
use crate::plasticity::{self, Rule};

/// Inputs of a 3×3 letter.
pub const LETTER_INPUTS: usize = 9;

/// One step of bipolar Hebb with a bias (TC-01): the weights and the bias after it.
#[derive(Clone, Debug, PartialEq)]
pub struct BiasStep {
    pub w: Vec<f32>,
    pub b: f32,
}

/// Hebb's rule with a bias, w ← w + α x y, b ← b + α y, one pattern after another from w = 0, b = 0 (004 §1-3
/// (1)): the weights after every update.
pub fn hebb_with_bias(xs: &[Vec<f32>], ys: &[f32], rate: f32) -> Vec<BiasStep> {
    let n = xs.first().map_or(0, Vec::len);
    let mut w = vec![0.0f32; n];
    let mut b = 0.0f32;
    let mut out = Vec::with_capacity(xs.len());
    for (x, &y) in xs.iter().zip(ys) {
        for (wj, &xj) in w.iter_mut().zip(x) {
            *wj += rate * plasticity::delta(Rule::Hebb, y, xj, *wj, 0.0, 0.0);
        }
        // The bias is a weight from an input that is always 1.
        b += rate * plasticity::delta(Rule::Hebb, y, 1.0, b, 0.0, 0.0);
        out.push(BiasStep { w: w.clone(), b });
    }
    out
}

/// w·x + b in a fixed order.
pub fn score(w: &[f32], b: f32, x: &[f32]) -> f32 {
    w.iter().zip(x).fold(0.0f32, |s, (a, c)| s + a * c) + b
}

/// A one-layer net of `classes × inputs` weights, w[i][j] from input j to output i.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    pub classes: usize,
    pub inputs: usize,
    pub w: Vec<f32>,
}

impl Layer {
    pub fn zeros(classes: usize, inputs: usize) -> Self {
        Self {
            classes,
            inputs,
            w: vec![0.0; classes * inputs],
        }
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.w[i * self.inputs..(i + 1) * self.inputs]
    }

    /// Every output's score x·w_i, summed in input order.
    pub fn scores(&self, x: &[f32]) -> Vec<f32> {
        (0..self.classes)
            .map(|i| score(self.row(i), 0.0, x))
            .collect()
    }

    /// ‖x − w_i‖² of every output (nearest-prototype classification).
    pub fn distances(&self, x: &[f32]) -> Vec<f32> {
        (0..self.classes)
            .map(|i| {
                self.row(i)
                    .iter()
                    .zip(x)
                    .fold(0.0f32, |s, (a, c)| s + (c - a) * (c - a))
            })
            .collect()
    }

    /// One update of every synapse by `rule`, post-synaptic activity `y` (one per output), pre-synaptic `x`:
    /// w_ij ← w_ij + α Δw(y_i, x_j, w_ij). Hebb: Δw = y x; instar: Δw = y (x − w); outstar: Δw = x (y − w).
    pub fn learn(&mut self, rule: Rule, x: &[f32], y: &[f32], rate: f32) {
        for (i, &yi) in y.iter().enumerate().take(self.classes) {
            let row = &mut self.w[i * self.inputs..(i + 1) * self.inputs];
            for (wij, &xj) in row.iter_mut().zip(x) {
                *wij += rate * plasticity::delta(rule, yi, xj, *wij, 0.0, 0.0);
            }
        }
    }

    /// The instar update of one class's row only, w_c ← w_c + α (x − w_c): the other rows' post-synaptic
    /// activity is 0, so they do not move (the lecture's `w[y] += α(x − w[y])`). Equal to [`Layer::learn`] with
    /// a one-hot y, at a tenth of the work.
    pub fn instar_row(&mut self, class: usize, x: &[f32], rate: f32) {
        let row = &mut self.w[class * self.inputs..(class + 1) * self.inputs];
        for (wij, &xj) in row.iter_mut().zip(x) {
            *wij += rate * plasticity::delta(Rule::Instar, 1.0, xj, *wij, 0.0, 0.0);
        }
    }

    /// The lecture's normalisation after each update of its Hebb code: the whole matrix z-scored,
    /// w ← (w − mean) / std with the population std (every weight, not per output).
    pub fn z_normalise(&mut self) {
        let n = self.w.len().max(1) as f64;
        let mean = self.w.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = self
            .w
            .iter()
            .map(|&v| (f64::from(v) - mean) * (f64::from(v) - mean))
            .sum::<f64>()
            / n;
        let sd = libm::sqrt(var);
        if sd > 0.0 {
            for v in &mut self.w {
                *v = ((f64::from(*v) - mean) / sd) as f32;
            }
        }
    }

    /// The Frobenius norm ‖W‖.
    pub fn norm(&self) -> f64 {
        libm::sqrt(self.w.iter().map(|&v| f64::from(v) * f64::from(v)).sum())
    }

    pub fn finite(&self) -> bool {
        self.w.iter().all(|v| v.is_finite())
    }
}

/// One-hot targets of `classes` outputs.
pub fn one_hot(class: usize, classes: usize) -> Vec<f32> {
    (0..classes)
        .map(|c| f32::from(u8::from(c == class)))
        .collect()
}

/// softmax of scores, in f64 with libm (the page's CPU engine gives the same digits).
pub fn softmax(scores: &[f32]) -> Vec<f64> {
    let top = scores
        .iter()
        .fold(f64::NEG_INFINITY, |m, &s| m.max(f64::from(s)));
    let e: Vec<f64> = scores
        .iter()
        .map(|&s| libm::exp(f64::from(s) - top))
        .collect();
    let z: f64 = e.iter().sum();
    e.into_iter().map(|v| v / z).collect()
}

/// The index of the largest value (the first of equal ones), as numpy's argmax.
pub fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &s)| {
            if s > best.1 { (i, s) } else { best }
        })
        .0
}

/// The index of the smallest value (the first of equal ones).
pub fn argmin(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .fold(
            (0, f32::INFINITY),
            |best, (i, &s)| {
                if s < best.1 { (i, s) } else { best }
            },
        )
        .0
}

/// `passes` passes of Hebb's rule over the patterns with one-hot targets, from W = 0 (004 §1-3 (2), §1-4):
/// ‖W‖ after every pass; with `normalise`, the lecture's z-normalisation after every single update (TC-03).
pub fn hebb_passes(xs: &[Vec<f32>], rate: f32, passes: u32, normalise: bool) -> (Layer, Vec<f64>) {
    let k = xs.len();
    let mut net = Layer::zeros(k, xs.first().map_or(0, Vec::len));
    let mut norms = Vec::with_capacity(passes as usize);
    for _ in 0..passes {
        for (c, x) in xs.iter().enumerate() {
            net.learn(Rule::Hebb, x, &one_hot(c, k), rate);
            if normalise {
                net.z_normalise();
            }
        }
        norms.push(net.norm());
    }
    (net, norms)
}

/// `epochs` passes of a decay rule (instar or outstar) over the patterns with one-hot targets, from W = 0
/// (004 §1-5, TC-04).
pub fn decay_epochs(xs: &[Vec<f32>], rule: Rule, rate: f32, epochs: u32) -> Layer {
    let k = xs.len();
    let mut net = Layer::zeros(k, xs.first().map_or(0, Vec::len));
    for _ in 0..epochs {
        for (c, x) in xs.iter().enumerate() {
            net.learn(rule, x, &one_hot(c, k), rate);
        }
    }
    net
}

/// The instar rule with α = 1/t on a sequence (TC-05): w after every input, from w = 0. With α = 1/t,
/// w_t = w_{t−1} + (x_t − w_{t−1}) / t is the running mean of x_1 … x_t.
pub fn running_instar(xs: &[Vec<f32>], rate: Option<f32>) -> Vec<Vec<f32>> {
    let n = xs.first().map_or(0, Vec::len);
    let mut net = Layer::zeros(1, n);
    xs.iter()
        .enumerate()
        .map(|(t, x)| {
            let a = rate.unwrap_or(1.0 / (t + 1) as f32);
            net.instar_row(0, x, a);
            net.w.clone()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_argmax_takes_the_first() {
        let s = softmax(&[1.0, 2.0, 2.0]);
        assert!((s.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(argmax(&[1.0, 2.0, 2.0]), 1);
        assert_eq!(argmin(&[3.0, 1.0, 1.0]), 1);
    }

    #[test]
    fn instar_row_equals_learn_with_one_hot() {
        let x = vec![0.2, 0.7, 1.0];
        let mut a = Layer::zeros(2, 3);
        let mut b = a.clone();
        a.instar_row(1, &x, 0.3);
        b.learn(Rule::Instar, &x, &one_hot(1, 2), 0.3);
        assert_eq!(a, b);
    }
}
