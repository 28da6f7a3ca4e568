//! A fully connected layer with softmax cross-entropy: the read-out of the Hebbian convolutional networks (the
//! linear probe on frozen features, and the head of the end-to-end backprop baseline). Forward and backward are
//! GEMMs through the crate's faer kernel.
use crate::kernels::matmul::gemm_into;
use crate::rng::{self, Purpose};
use ndarray::{Array1, Array2, ArrayView2, Axis};

/// The thesis's head weights: `0.11048543456039805 · U[0, 1)` whatever the feature count (notes §2; it equals
/// 5/√2048).
pub const THESIS_WEIGHT_SCALE: f32 = 0.110_485_43;

/// y = x·wᵀ + b.
#[derive(Clone, Debug, PartialEq)]
pub struct Linear {
    /// [outputs, inputs], PyTorch's layout.
    pub w: Array2<f32>,
    pub b: Array1<f32>,
}

/// What one backward pass gives: the parameters' gradients and, when asked, the input's.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearGrads {
    pub w: Array2<f32>,
    pub b: Array1<f32>,
    pub x: Option<Array2<f32>>,
}

impl Linear {
    /// The thesis's initialisation from the seeded generator (stream Readout/0): weights
    /// [`THESIS_WEIGHT_SCALE`]·U(0, 1), biases PyTorch's default U(−1/√inputs, 1/√inputs).
    pub fn thesis(inputs: usize, outputs: usize, seed: u32) -> Self {
        let key = [seed, rng::stream(Purpose::Readout, 0, 0)];
        let draw = |j: usize| {
            let block = (j / 4) as u64;
            let x = rng::philox4x32([block as u32, (block >> 32) as u32, 0, 0], key);
            rng::uniform(x[j % 4])
        };
        let n = inputs * outputs;
        let w = Array2::from_shape_fn((outputs, inputs), |(o, i)| {
            THESIS_WEIGHT_SCALE * draw(o * inputs + i)
        });
        let bound = 1.0 / (inputs.max(1) as f32).sqrt();
        let b = Array1::from_shape_fn(outputs, |o| bound * (2.0 * draw(n + o) - 1.0));
        Self { w, b }
    }

    pub fn inputs(&self) -> usize {
        self.w.ncols()
    }

    pub fn outputs(&self) -> usize {
        self.w.nrows()
    }

    /// Logits [N, outputs] of inputs [N, inputs].
    pub fn forward(&self, x: ArrayView2<f32>) -> Array2<f32> {
        let mut y = Array2::from_shape_fn((x.nrows(), self.outputs()), |(_, o)| self.b[o]);
        gemm_into(x, self.w.t(), true, y.view_mut());
        y
    }

    /// Gradients of a loss whose gradient with respect to the logits is `dy` [N, outputs], at inputs `x`:
    /// dw = dyᵀ·x, db = Σ_n dy, and dx = dy·w when `want_dx`.
    pub fn backward(&self, x: ArrayView2<f32>, dy: ArrayView2<f32>, want_dx: bool) -> LinearGrads {
        let mut w = Array2::zeros(self.w.raw_dim());
        gemm_into(dy.t(), x, false, w.view_mut());
        let b = dy.sum_axis(Axis(0));
        let x = want_dx.then(|| {
            let mut dx = Array2::zeros((dy.nrows(), self.inputs()));
            gemm_into(dy, self.w.view(), false, dx.view_mut());
            dx
        });
        LinearGrads { w, b, x }
    }
}

/// Mean softmax cross-entropy of `logits` [N, C] against class `labels`, and its gradient with respect to the
/// logits ((softmax − one-hot)/N), computed with the max subtracted so large logits do not overflow.
pub fn softmax_cross_entropy(logits: ArrayView2<f32>, labels: &[u8]) -> (f32, Array2<f32>) {
    assert_eq!(logits.nrows(), labels.len(), "one label per row");
    let n = logits.nrows().max(1) as f32;
    let mut grad = logits.to_owned();
    let mut loss = 0.0f64;
    for (mut row, &label) in grad.axis_iter_mut(Axis(0)).zip(labels) {
        let max = row.fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        let target = row[label as usize];
        row.mapv_inplace(|v| (v - max).exp());
        let sum = row.sum();
        // −log softmax = max + ln Σ exp(v − max) − v_label: finite even where exp(v_label − max) is 0.
        loss += f64::from(max - target) + f64::from(sum).ln();
        row.mapv_inplace(|v| v / sum / n);
        row[label as usize] -= 1.0 / n;
    }
    ((loss / f64::from(n)) as f32, grad)
}

/// The predicted class of each row (the first of equal maxima, as PyTorch's argmax).
pub fn argmax_rows(logits: ArrayView2<f32>) -> Vec<u8> {
    logits
        .axis_iter(Axis(0))
        .map(|row| {
            let mut best = 0;
            for (i, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = i;
                }
            }
            best as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn thesis_initialisation_is_in_range_and_seeded() {
        let a = Linear::thesis(50, 10, 3);
        assert_eq!(a, Linear::thesis(50, 10, 3));
        assert_ne!(a, Linear::thesis(50, 10, 4));
        assert!(a.w.iter().all(|&v| v > 0.0 && v < THESIS_WEIGHT_SCALE));
        let bound = 1.0 / 50f32.sqrt();
        assert!(a.b.iter().all(|&v| v.abs() < bound));
        let mean = a.w.mean().unwrap() / THESIS_WEIGHT_SCALE;
        assert!((mean - 0.5).abs() < 0.05, "{mean}");
    }

    #[test]
    fn cross_entropy_of_known_logits() {
        // log-softmax of [0, ln 3] is [ln ¼, ln ¾].
        let logits = array![[0.0f32, 3f32.ln()], [1000.0, 0.0]];
        let (loss, grad) = softmax_cross_entropy(logits.view(), &[1, 0]);
        let want = (-(0.75f32).ln() + 0.0) / 2.0;
        // A confident mistake costs the logit gap, not infinity.
        let (wrong, _) = softmax_cross_entropy(logits.view(), &[1, 1]);
        assert!(
            (wrong - (-(0.75f32).ln() + 1000.0) / 2.0).abs() < 1e-3,
            "{wrong}"
        );
        assert!((loss - want).abs() < 1e-6, "{loss} vs {want}");
        let g = array![[0.125f32, -0.125], [0.0, 0.0]];
        assert!((grad - g).iter().all(|d| d.abs() < 1e-6));
    }

    /// The backward pass against finite differences of the loss, for weights, biases and inputs.
    #[test]
    fn gradients_match_finite_differences() {
        let mut lin = Linear::thesis(7, 4, 1);
        lin.w.mapv_inplace(|v| v * 10.0 - 0.5);
        let x = Array2::from_shape_fn((5, 7), |(n, i)| ((n * 7 + i) as f32 * 0.37).sin());
        let labels = [0u8, 3, 1, 1, 2];
        let loss = |l: &Linear, x: &Array2<f32>| {
            softmax_cross_entropy(l.forward(x.view()).view(), &labels).0
        };
        let (_, dy) = softmax_cross_entropy(lin.forward(x.view()).view(), &labels);
        let g = lin.backward(x.view(), dy.view(), true);
        let h = 1e-2f32;
        let check = |analytic: f32, plus: f32, minus: f32| {
            let numeric = (plus - minus) / (2.0 * h);
            assert!((analytic - numeric).abs() < 2e-3, "{analytic} vs {numeric}");
        };
        for (o, i) in [(0, 0), (3, 6), (2, 4)] {
            let (mut p, mut m) = (lin.clone(), lin.clone());
            p.w[[o, i]] += h;
            m.w[[o, i]] -= h;
            check(g.w[[o, i]], loss(&p, &x), loss(&m, &x));
        }
        for o in 0..4 {
            let (mut p, mut m) = (lin.clone(), lin.clone());
            p.b[o] += h;
            m.b[o] -= h;
            check(g.b[o], loss(&p, &x), loss(&m, &x));
        }
        let dx = g.x.expect("dx");
        for (n, i) in [(0, 0), (4, 6), (2, 3)] {
            let (mut p, mut m) = (x.clone(), x.clone());
            p[[n, i]] += h;
            m[[n, i]] -= h;
            check(dx[[n, i]], loss(&lin, &p), loss(&lin, &m));
        }
    }

    #[test]
    fn argmax_takes_the_first_maximum() {
        let l = array![[1.0f32, 3.0, 3.0], [-1.0, -2.0, -3.0]];
        assert_eq!(argmax_rows(l.view()), vec![1, 0]);
    }
}
