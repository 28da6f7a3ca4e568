//! Telling runs apart by their metrics (the credit lab's "which rule is this?"): multinomial logistic regression
//! on z-scored metric vectors, scored by leave-one-group-out cross-validation, and the vectors' two principal
//! components for a scatter plot.
//!
//! The data are tiny (tens of runs, tens of metrics), so the regression is full-batch gradient descent in f64
//! with plain loops and libm's `exp`: the same bits natively and in the page's wasm, so that a permalink gives
//! the same confusion matrix on both CPU engines. The principal components only place points in a plot and use
//! faer's eigensolver.
use super::probe::Confusion;
use ndarray::{Array1, Array2, ArrayView2, Axis};

/// Column means and standard deviations of a set of rows; columns that do not vary map to 0.
#[derive(Clone, Debug)]
pub struct Scaler {
    mean: Array1<f64>,
    std: Array1<f64>,
}

impl Scaler {
    pub fn fit(x: ArrayView2<f64>) -> Self {
        let n = x.nrows().max(1) as f64;
        let mean = x.sum_axis(Axis(0)) / n;
        let std = x
            .axis_iter(Axis(1))
            .zip(&mean)
            .map(|(c, m)| (c.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n).sqrt())
            .collect();
        Self { mean, std }
    }

    pub fn apply(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let mut z = x.to_owned();
        for (mut c, (m, s)) in z
            .axis_iter_mut(Axis(1))
            .zip(self.mean.iter().zip(&self.std))
        {
            // A metric that is the same in every training run carries no information (and would divide by 0).
            c.mapv_inplace(|v| if *s > 1e-12 { (v - m) / s } else { 0.0 });
        }
        z
    }
}

/// p(class | x) ∝ exp(w_c·x + b_c).
#[derive(Clone, Debug)]
pub struct SoftmaxRegression {
    /// [classes, features].
    pub w: Array2<f64>,
    pub b: Array1<f64>,
}

/// L2 penalty on the weights: with fewer runs than metrics the classes are often separable, and the penalty
/// keeps the weights finite and the fit unique.
const L2: f64 = 1e-2;
const ITERATIONS: usize = 2000;

impl SoftmaxRegression {
    /// Minimises the mean cross-entropy + L2/2·‖w‖² by gradient descent from zero, with the step 1/L for L a
    /// bound on the gradient's Lipschitz constant (½ the trace of xᵀx/n, plus the penalty), so it never diverges.
    pub fn fit(x: ArrayView2<f64>, labels: &[u8], classes: usize) -> Self {
        let (n, f) = x.dim();
        let mut w = Array2::<f64>::zeros((classes, f));
        let mut b = Array1::<f64>::zeros(classes);
        let trace = x.iter().map(|v| v * v).sum::<f64>() / n.max(1) as f64;
        let step = 1.0 / (0.5 * (trace + 1.0) + L2);
        for _ in 0..ITERATIONS {
            let mut gw = Array2::<f64>::zeros((classes, f));
            let mut gb = Array1::<f64>::zeros(classes);
            for (row, &label) in x.axis_iter(Axis(0)).zip(labels) {
                let p = softmax(
                    &(0..classes)
                        .map(|c| dot(&w.row(c), &row) + b[c])
                        .collect::<Vec<_>>(),
                );
                for (c, pc) in p.into_iter().enumerate() {
                    let d = (pc - f64::from(u8::from(usize::from(label) == c))) / n as f64;
                    gw.row_mut(c).scaled_add(d, &row);
                    gb[c] += d;
                }
            }
            gw.scaled_add(L2, &w);
            w.scaled_add(-step, &gw);
            b.scaled_add(-step, &gb);
        }
        Self { w, b }
    }

    /// The most probable class of each row (the first of equal scores).
    pub fn predict(&self, x: ArrayView2<f64>) -> Vec<u8> {
        x.axis_iter(Axis(0))
            .map(|row| {
                let mut best = (0, f64::NEG_INFINITY);
                for c in 0..self.w.nrows() {
                    let s = dot(&self.w.row(c), &row) + self.b[c];
                    if s > best.1 {
                        best = (c, s);
                    }
                }
                best.0 as u8
            })
            .collect()
    }
}

fn dot(a: &ndarray::ArrayView1<f64>, b: &ndarray::ArrayView1<f64>) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn softmax(s: &[f64]) -> Vec<f64> {
    let max = s.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
    let e: Vec<f64> = s.iter().map(|&v| libm::exp(v - max)).collect();
    let sum: f64 = e.iter().sum();
    e.into_iter().map(|v| v / sum).collect()
}

/// Cross-validated predictions: for each group (e.g. a seed, which gave one run of every class), a classifier
/// fitted on the other groups' rows (z-scored with their statistics) predicts that group's rows. Returns the
/// prediction of every row and their confusion matrix. Every group must leave rows of other groups to fit.
pub fn leave_one_group_out(
    x: ArrayView2<f64>,
    labels: &[u8],
    groups: &[u32],
    classes: usize,
) -> (Vec<u8>, Confusion) {
    let mut predicted = vec![0u8; labels.len()];
    let mut held: Vec<u32> = groups.to_vec();
    held.sort_unstable();
    held.dedup();
    for g in held {
        let (test, train): (Vec<usize>, Vec<usize>) =
            (0..labels.len()).partition(|&i| groups[i] == g);
        let xt = x.select(Axis(0), &train);
        let scaler = Scaler::fit(xt.view());
        let lt: Vec<u8> = train.iter().map(|&i| labels[i]).collect();
        let model = SoftmaxRegression::fit(scaler.apply(xt.view()).view(), &lt, classes);
        let guess = model.predict(scaler.apply(x.select(Axis(0), &test).view()).view());
        for (&i, p) in test.iter().zip(guess) {
            predicted[i] = p;
        }
    }
    let mut confusion = Confusion::new(classes);
    confusion.add(labels, &predicted);
    (predicted, confusion)
}

/// The rows' coordinates on the first two principal components of their z-scored columns (each axis's sign
/// chosen so that its largest loading is positive); zeros where the data have fewer dimensions.
pub fn principal_plane(x: ArrayView2<f64>) -> Array2<f64> {
    let (n, f) = x.dim();
    let z = Scaler::fit(x).apply(x);
    let cov = z.t().dot(&z) / n.max(1) as f64;
    let mut out = Array2::zeros((n, 2));
    let Ok(eigen) =
        faer::Mat::from_fn(f, f, |i, j| cov[[i, j]]).self_adjoint_eigen(faer::Side::Lower)
    else {
        return out;
    };
    let s = eigen.S().column_vector();
    let u = eigen.U();
    let mut order: Vec<usize> = (0..f).collect();
    order.sort_by(|&a, &b| s[b].total_cmp(&s[a]));
    for (axis, &k) in order.iter().take(2).enumerate() {
        let largest = (0..f).max_by(|&i, &j| u[(i, k)].abs().total_cmp(&u[(j, k)].abs()));
        let sign = largest.map_or(1.0, |i| u[(i, k)].signum());
        for (r, row) in z.axis_iter(Axis(0)).enumerate() {
            out[[r, axis]] = sign * (0..f).map(|i| row[i] * u[(i, k)]).sum::<f64>();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng;

    /// Three well-separated Gaussian clusters in 5 dimensions, `per` rows each, one row of each class per
    /// group.
    fn clusters(per: usize, spread: f64) -> (Array2<f64>, Vec<u8>, Vec<u32>) {
        let mut rows = Vec::new();
        let (mut labels, mut groups) = (Vec::new(), Vec::new());
        for g in 0..per {
            for c in 0..3u8 {
                let z = rng::normal4([g as u32, u32::from(c), 0, 0], [3, 4]);
                let z2 = rng::normal4([g as u32, u32::from(c), 1, 0], [3, 4]);
                let centre = [f64::from(c), -f64::from(c), 0.5 * f64::from(c), 0.0, 0.0];
                for (k, m) in centre.iter().enumerate() {
                    let noise = if k < 4 { z[k] } else { z2[0] };
                    rows.push(m + spread * f64::from(noise));
                }
                labels.push(c);
                groups.push(g as u32);
            }
        }
        (
            Array2::from_shape_vec((3 * per, 5), rows).unwrap(),
            labels,
            groups,
        )
    }

    #[test]
    fn separable_runs_are_told_apart_and_noise_is_not() {
        let (x, labels, groups) = clusters(8, 0.1);
        let (_, c) = leave_one_group_out(x.view(), &labels, &groups, 3);
        assert_eq!(c.accuracy(), 1.0, "{:?}", c.counts);
        // The same rows with labels that do not depend on them: near chance (1/3), far from 1.
        let (x, _, groups) = clusters(20, 1.0);
        let shuffled: Vec<u8> = (0..60).map(|i| ((i * 7 + i / 3) % 3) as u8).collect();
        let (_, c) = leave_one_group_out(x.view(), &shuffled, &groups, 3);
        assert!(
            c.accuracy() < 0.6,
            "accuracy {} on labels unrelated to the data",
            c.accuracy()
        );
    }

    #[test]
    fn the_regression_fits_a_known_boundary() {
        // One feature, class 1 above 0: the fitted boundary −b/w lies between the classes' nearest points.
        let x = Array2::from_shape_vec((6, 1), vec![-3.0, -2.0, -0.5, 0.5, 2.0, 3.0]).unwrap();
        let m = SoftmaxRegression::fit(x.view(), &[0, 0, 0, 1, 1, 1], 2);
        let (w, b) = (m.w[[1, 0]] - m.w[[0, 0]], m.b[1] - m.b[0]);
        assert!(w > 0.0 && (-b / w).abs() < 0.5, "w {w}, b {b}");
        assert_eq!(m.predict(x.view()), vec![0, 0, 0, 1, 1, 1]);
    }

    #[test]
    fn the_principal_plane_is_the_widest() {
        // Points along (1, 1, 0) with small noise in the other directions; the third column is constant.
        let x = Array2::from_shape_fn((50, 3), |(i, j)| {
            let t = i as f64 - 25.0;
            match j {
                0 => t + 0.1 * ((i * 13) % 7) as f64,
                1 => t - 0.1 * ((i * 5) % 3) as f64,
                _ => 4.0,
            }
        });
        let p = principal_plane(x.view());
        let spread = |k: usize| p.column(k).iter().map(|v| v * v).sum::<f64>();
        // z-scored, the first component holds almost all of the variance of two unit columns.
        assert!(
            spread(0) / 50.0 > 1.95,
            "first axis variance {}",
            spread(0) / 50.0
        );
        assert!(
            spread(1) / 50.0 < 0.05,
            "second axis variance {}",
            spread(1) / 50.0
        );
        // The first coordinate grows with t (the largest loading is positive).
        assert!(p[[49, 0]] > p[[0, 0]]);
    }
}
