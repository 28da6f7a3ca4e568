//! The end-to-end backprop baseline (architecture H) on the shipped MNIST digits: epochs of Adam (lr 1e-2) over a
//! seeded subset of the training split in the thesis's order (no shuffling, batch 64 unless told), then the
//! validation and test splits in evaluation mode after every epoch, and the mean |d logit/dx| of the predicted
//! class (the saliency a gradient view would draw) on a few test digits.
//!
//! `cargo run --release --example hebbconv_backprop -- [width divisor] [train images] [epochs] [batch] [seed]`
use hebbian_playground::data::{Dataset, Split, shipped};
use hebbian_playground::nets::hebbconv::baseline::Baseline;
use hebbian_playground::rng;
use ndarray::{Array4, Axis, s};
use std::time::Instant;

/// A Philox permutation of 0..n (Fisher-Yates), keyed by seed (the subset hebbconv_mnist uses).
fn shuffle(n: usize, seed: u32) -> Vec<usize> {
    let key = [seed, rng::stream(rng::Purpose::Data, 0xC1, 0)];
    let mut v: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let u = rng::uniform(rng::philox4x32([i as u32, 0, 0, 0], key)[0]);
        let j = ((u * (i + 1) as f32) as usize).min(i);
        v.swap(i, j);
    }
    v
}

fn images(d: &Dataset, idx: &[usize]) -> Array4<f32> {
    d.rows(idx)
        .into_shape_with_order((idx.len(), 1, 28, 28))
        .expect("28 × 28 digits")
}

/// Accuracy of `net` on `idx` in evaluation mode, 500 digits at a time.
fn accuracy(net: &mut Baseline, d: &Dataset, idx: &[usize]) -> f32 {
    let mut hits = 0.0;
    for chunk in idx.chunks(500) {
        let labels: Vec<u8> = chunk.iter().map(|&i| d.labels[i]).collect();
        let e = net
            .evaluate(images(d, chunk).view(), &labels)
            .expect("evaluate");
        hits += e.accuracy * chunk.len() as f32;
    }
    hits / idx.len() as f32
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (div, n_train, epochs, batch, seed) = (
        arg(1, 4),
        arg(2, 8006),
        arg(3, 1),
        arg(4, 64),
        arg(5, 0) as u32,
    );
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/data");
    let d = shipped::mnist_from_dir(&dir).expect("the shipped MNIST digits (scripts/setup.sh)");
    let all = d.indices(Split::Train);
    let train: Vec<usize> = shuffle(all.len(), seed)
        .into_iter()
        .take(n_train)
        .map(|i| all[i])
        .collect();
    let (val, test) = (d.indices(Split::Validation), d.indices(Split::Test));
    let mut net = Baseline::new([1, 28, 28], div, 10, seed).expect("H on MNIST");
    println!(
        "H/{div} on MNIST: {} parameters; {} training digits in batches of {batch}, seed {seed}",
        net.preset.param_count(),
        train.len()
    );
    for epoch in 1..=epochs {
        let t = Instant::now();
        let mut losses = Vec::new();
        for chunk in train.chunks(batch) {
            let labels: Vec<u8> = chunk.iter().map(|&i| d.labels[i]).collect();
            losses.push(
                net.train_step(images(&d, chunk).view(), &labels)
                    .expect("step"),
            );
        }
        let secs = t.elapsed().as_secs_f64();
        // Medians: a batch whose label's probability underflows f32 reports an infinite loss (its gradient is
        // still exact), which would swamp a mean.
        let median = |l: &[f32]| {
            let mut v = l.to_vec();
            v.sort_by(f32::total_cmp);
            v[v.len() / 2]
        };
        let tenth = (losses.len() / 10).max(1);
        println!(
            "epoch {epoch}: median training loss {:.3} (first tenth of the batches) → {:.3} (last tenth), {:.0} images/s; validation {:.2} %, test {:.2} %",
            median(&losses[..tenth]),
            median(&losses[losses.len() - tenth..]),
            train.len() as f64 / secs,
            100.0 * accuracy(&mut net, &d, &val),
            100.0 * accuracy(&mut net, &d, &test)
        );
    }
    let few = &test[..test.len().min(20)];
    let x = images(&d, few);
    let logits = net.logits(x.view()).expect("logits");
    let mut total = 0.0f64;
    for (n, row) in logits.axis_iter(Axis(0)).enumerate() {
        let class = row
            .iter()
            .enumerate()
            .fold(
                (0, f32::NEG_INFINITY),
                |a, (k, &v)| if v > a.1 { (k, v) } else { a },
            )
            .0 as u8;
        let one = x.slice(s![n..n + 1, .., .., ..]);
        let g = net.input_gradient(one, class).expect("saliency");
        total += g.iter().map(|v| f64::from(v.abs())).sum::<f64>() / g.len() as f64;
    }
    println!(
        "mean |d logit/dx| of the predicted class over {} test digits: {:.4}",
        few.len(),
        total / few.len() as f64
    );
}
