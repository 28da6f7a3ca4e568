//! The linear probe of the thesis's protocol (notes §3, phase 3): `Dropout(0.5) → Linear` on frozen features,
//! trained by Adam (lr 1e-3) on softmax cross-entropy, one batch at a time so that features are never held
//! whole; and the [`Confusion`] matrix with the accuracy and macro-F1 it reports.
use super::hebbconv::backward::dropout_mask;
use super::linear::{self, Linear};
use super::optim::Adam;
use ndarray::{Array2, ArrayView2};

/// A linear read-out being trained.
#[derive(Clone, Debug)]
pub struct Probe {
    pub head: Linear,
    adam: Adam,
    seed: u32,
    /// The probability that dropout zeroes a feature during training (0.5).
    pub dropout: f32,
    /// Batches trained so far: the dropout masks' counter.
    batches: u64,
}

impl Probe {
    /// The thesis's probe for `features` inputs and `classes` outputs: [`Linear::thesis`] weights, dropout 0.5,
    /// Adam lr 1e-3.
    pub fn new(features: usize, classes: usize, seed: u32) -> Self {
        let head = Linear::thesis(features, classes, seed);
        let adam = Adam::new(1e-3, &[head.w.len(), head.b.len()]);
        Self {
            head,
            adam,
            seed,
            dropout: 0.5,
            batches: 0,
        }
    }

    pub fn batches(&self) -> u64 {
        self.batches
    }

    /// One Adam step on a batch of features [N, F] with their labels; returns the batch's mean loss (with
    /// dropout, as PyTorch reports the training loss). Dropout keeps each feature with probability 1 − p and
    /// scales it by 1/(1 − p), with the mask of the batch's index ([`dropout_mask`], shared with the backprop
    /// baseline's head).
    pub fn train_batch(&mut self, x: ArrayView2<f32>, labels: &[u8]) -> f32 {
        let mut x = x.to_owned();
        if self.dropout > 0.0 {
            x *= &dropout_mask(x.nrows(), x.ncols(), self.dropout, self.seed, self.batches);
        }
        let logits = self.head.forward(x.view());
        let (loss, dy) = linear::softmax_cross_entropy(logits.view(), labels);
        let g = self.head.backward(x.view(), dy.view(), false);
        let (w, b) = (&mut self.head.w, &mut self.head.b);
        self.adam.step(
            &mut [
                w.as_slice_mut().expect("standard layout"),
                b.as_slice_mut().expect("standard layout"),
            ],
            &[
                g.w.as_slice().expect("standard layout"),
                g.b.as_slice().expect("standard layout"),
            ],
        );
        self.batches += 1;
        loss
    }

    /// Logits of features [N, F] (no dropout: evaluation).
    pub fn logits(&self, x: ArrayView2<f32>) -> Array2<f32> {
        self.head.forward(x)
    }

    pub fn predict(&self, x: ArrayView2<f32>) -> Vec<u8> {
        linear::argmax_rows(self.logits(x).view())
    }
}

/// Counts of (true class, predicted class) pairs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Confusion {
    pub classes: usize,
    /// Row-major [true][predicted].
    pub counts: Vec<u64>,
}

impl Confusion {
    pub fn new(classes: usize) -> Self {
        Self {
            classes,
            counts: vec![0; classes * classes],
        }
    }

    pub fn add(&mut self, truth: &[u8], predicted: &[u8]) {
        for (&t, &p) in truth.iter().zip(predicted) {
            self.counts[t as usize * self.classes + p as usize] += 1;
        }
    }

    pub fn get(&self, truth: usize, predicted: usize) -> u64 {
        self.counts[truth * self.classes + predicted]
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The fraction classified correctly (NaN when empty).
    pub fn accuracy(&self) -> f64 {
        let right: u64 = (0..self.classes).map(|k| self.get(k, k)).sum();
        right as f64 / self.total() as f64
    }

    /// F1 of class k, 2·TP/(2·TP + FP + FN); None when the class neither occurs nor is predicted.
    pub fn f1(&self, k: usize) -> Option<f64> {
        let tp = self.get(k, k);
        let truth: u64 = (0..self.classes).map(|p| self.get(k, p)).sum();
        let predicted: u64 = (0..self.classes).map(|t| self.get(t, k)).sum();
        let denominator = truth + predicted;
        (denominator > 0).then(|| 2.0 * tp as f64 / denominator as f64)
    }

    /// The mean F1 over the classes that occur or are predicted (scikit-learn's `f1_score(average="macro")`,
    /// which the thesis reports); NaN when empty.
    pub fn macro_f1(&self) -> f64 {
        let f: Vec<f64> = (0..self.classes).filter_map(|k| self.f1(k)).collect();
        f.iter().sum::<f64>() / f.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng;

    /// Known answer (scikit-learn): y_true [0,0,1,1,2,2], y_pred [0,1,1,1,0,2] gives accuracy 4/6 and
    /// macro-F1 mean(1/2, 4/5, 2/3) = 0.6556…
    #[test]
    fn accuracy_and_macro_f1_match_scikit_learn() {
        let mut c = Confusion::new(4);
        c.add(&[0, 0, 1, 1, 2, 2], &[0, 1, 1, 1, 0, 2]);
        assert!((c.accuracy() - 4.0 / 6.0).abs() < 1e-12);
        assert_eq!(c.f1(3), None, "class 3 neither occurs nor is predicted");
        let want = (0.5 + 0.8 + 2.0 / 3.0) / 3.0;
        assert!((c.macro_f1() - want).abs() < 1e-12, "{}", c.macro_f1());
        assert_eq!(c.get(2, 0), 1);
        assert_eq!(c.total(), 6);
    }

    /// Separable classes (the class is which third of the features is large, each signal carried by many
    /// features, so dropout cannot hide it) are learnt; the masks are seeded.
    #[test]
    fn learns_a_separable_problem_reproducibly() {
        let features = 48;
        let x = Array2::from_shape_fn((256, features), |(n, f)| {
            let noise = rng::uniform(rng::philox4x32([n as u32, f as u32, 0, 0], [1, 2])[0]);
            if f % 3 == n % 3 { 1.0 + noise } else { noise }
        });
        let labels: Vec<u8> = (0..256).map(|n| (n % 3) as u8).collect();
        let run = |seed| {
            let mut p = Probe::new(features, 3, seed);
            let mut losses = Vec::new();
            for _ in 0..30 {
                for (xb, yb) in x
                    .axis_chunks_iter(ndarray::Axis(0), 64)
                    .zip(labels.chunks(64))
                {
                    losses.push(p.train_batch(xb, yb));
                }
            }
            (p, losses)
        };
        let (p, losses) = run(7);
        let last: f32 = losses[losses.len() - 8..].iter().sum::<f32>() / 8.0;
        assert!(last < losses[0] * 0.3, "{losses:?}");
        let mut c = Confusion::new(3);
        c.add(&labels, &p.predict(x.view()));
        assert!(c.accuracy() > 0.95, "{}", c.accuracy());
        assert_eq!(run(7).1, losses, "same seed, same masks, same losses");
        assert_ne!(run(8).1, losses);
    }
}
