//! The CPU path's deterministic products (`nets::dense`) beside ndarray's `dot` (matrixmultiply's sgemm, the
//! yardstick for this machine's limit) at the shapes the labs use, in GFLOP/s:
//! `cargo run --profile budgets --example dense_bench`.
use hebbian_playground::nets::dense;
use ndarray::Array2;
use std::time::Instant;

fn m(r: usize, c: usize, k: f32) -> Array2<f32> {
    Array2::from_shape_fn((r, c), |(i, j)| ((i * c + j) as f32 * k).sin())
}

/// GFLOP/s of `f` (2·n·i·o operations per call), best of five rounds.
fn rate(flop: f64, mut f: impl FnMut() -> f32) -> f64 {
    let reps = (2e9 / flop).clamp(5.0, 2000.0) as usize;
    (0..5)
        .map(|_| {
            let t = Instant::now();
            let s: f32 = (0..reps).map(|_| f()).sum();
            std::hint::black_box(s);
            flop * reps as f64 / t.elapsed().as_secs_f64() / 1e9
        })
        .fold(0.0, f64::max)
}

fn main() {
    // (batch, inputs, outputs): the RBM's CD-1 on digits, the credit lab's MLP, CHL's first layer.
    for (n, i, o) in [(20, 784, 500), (100, 784, 100), (10, 784, 128)] {
        let (v, w, h) = (m(n, i, 0.3), m(i, o, 0.7), m(n, o, 0.2));
        let flop = 2.0 * (n * i * o) as f64;
        println!(
            "{n} × {i} × {o}: a·b {:.1} (sgemm {:.1}), aᵀ·b {:.1} (sgemm {:.1}), a·bᵀ {:.1} (sgemm {:.1})",
            rate(flop, || dense::nn(v.view(), w.view())[[0, 0]]),
            rate(flop, || v.dot(&w)[[0, 0]]),
            rate(flop, || dense::tn(v.view(), h.view())[[0, 0]]),
            rate(flop, || v.t().dot(&h)[[0, 0]]),
            rate(flop, || dense::nt(h.view(), w.view())[[0, 0]]),
            rate(flop, || h.dot(&w.t())[[0, 0]]),
        );
    }
}
