//! A first learning check of the Hebbian convolutional network on the shipped MNIST digits (target/data): one
//! unsupervised epoch (batch 64) on a shuffled subset of the training split for several competition modes, then
//! a linear probe (softmax regression, dropout 0.5, Adam 1e-3, batch 64) on frozen features, tested on the
//! shipped test split. The random-filter network (BatchNorm statistics from one pass, no learning) is the
//! floor. Features are cached here (a few thousand images); the product's probe streams them.
//!
//! `cargo run --release --example hebbconv_mnist -- [arch A-H] [width divisor] [train images] [seed] [probe epochs]`
use hebbian_playground::data::{Split, shipped};
use hebbian_playground::nets::hebbconv::presets::{Arch, Preset};
use hebbian_playground::nets::hebbconv::{HebbConfig, Network, Pass};
use hebbian_playground::plasticity::competition::Competition;
use hebbian_playground::rng;
use ndarray::{Array1, Array2, Array4, Axis, s};
use std::time::Instant;

/// A Philox permutation of 0..n (Fisher-Yates), keyed by seed and `round`.
fn shuffle(n: usize, seed: u32, round: u32) -> Vec<usize> {
    let key = [seed, rng::stream(rng::Purpose::Data, 0xC1, round)];
    let mut v: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let u = rng::uniform(rng::philox4x32([i as u32, 0, 0, 0], key)[0]);
        let j = ((u * (i + 1) as f32) as usize).min(i);
        v.swap(i, j);
    }
    v
}

fn images(d: &hebbian_playground::data::Dataset, idx: &[usize]) -> Array4<f32> {
    let rows = d.rows(idx);
    rows.into_shape_with_order((idx.len(), 1, 28, 28))
        .expect("28 × 28 digits")
}

fn features(
    net: &mut Network,
    d: &hebbian_playground::data::Dataset,
    idx: &[usize],
) -> Array2<f32> {
    let mut out = Array2::zeros((idx.len(), net.preset.features()));
    for (b, chunk) in idx.chunks(64).enumerate() {
        let f = net.features(images(d, chunk).view()).expect("features");
        out.slice_mut(s![b * 64..b * 64 + chunk.len(), ..])
            .assign(&f);
    }
    out
}

/// Softmax regression with dropout 0.5 on the inputs and Adam (lr 1e-3): test accuracy and macro-F1.
fn probe(
    ftr: &Array2<f32>,
    ytr: &[u8],
    fte: &Array2<f32>,
    yte: &[u8],
    epochs: usize,
    seed: u32,
) -> (f32, f32) {
    let (n, f) = ftr.dim();
    let c = 10;
    let bound = 1.0 / (f as f32).sqrt();
    let key = [seed, rng::stream(rng::Purpose::Data, 0xC2, 0)];
    let mut w = Array2::from_shape_fn((f, c), |(i, j)| {
        let u = rng::uniform(rng::philox4x32([(i * c + j) as u32, 0, 0, 0], key)[0]);
        (2.0 * u - 1.0) * bound
    });
    let mut b = Array1::<f32>::zeros(c);
    let (mut mw, mut vw) = (Array2::<f32>::zeros((f, c)), Array2::<f32>::zeros((f, c)));
    let (mut mb, mut vb) = (Array1::<f32>::zeros(c), Array1::<f32>::zeros(c));
    let (lr, b1, b2, eps) = (1e-3f32, 0.9f32, 0.999f32, 1e-8f32);
    let mut t = 0i32;
    for epoch in 0..epochs {
        let order = shuffle(n, seed, 100 + epoch as u32);
        for (bi, chunk) in order.chunks(64).enumerate() {
            let mut x = ftr.select(Axis(0), chunk);
            let dk = [
                seed,
                rng::stream(rng::Purpose::Data, 0xC3, (epoch * 10_000 + bi) as u32),
            ];
            for (j, v) in x.iter_mut().enumerate() {
                let keep = rng::philox4x32([j as u32, 0, 0, 0], dk)[0] & 1 == 1;
                *v = if keep { *v * 2.0 } else { 0.0 };
            }
            let mut p = x.dot(&w) + &b;
            for (mut row, &i) in p.rows_mut().into_iter().zip(chunk) {
                let m = row.fold(f32::NEG_INFINITY, |a, &v| a.max(v));
                row.mapv_inplace(|v| (v - m).exp());
                let z = row.sum();
                row.mapv_inplace(|v| v / z);
                row[ytr[i] as usize] -= 1.0;
            }
            p.mapv_inplace(|v| v / chunk.len() as f32);
            let gw = x.t().dot(&p);
            let gb = p.sum_axis(Axis(0));
            t += 1;
            let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
            ndarray::Zip::from(&mut w)
                .and(&mut mw)
                .and(&mut vw)
                .and(&gw)
                .for_each(|w, m, v, &g| {
                    *m = b1 * *m + (1.0 - b1) * g;
                    *v = b2 * *v + (1.0 - b2) * g * g;
                    *w -= lr * (*m / c1) / ((*v / c2).sqrt() + eps);
                });
            ndarray::Zip::from(&mut b)
                .and(&mut mb)
                .and(&mut vb)
                .and(&gb)
                .for_each(|w, m, v, &g| {
                    *m = b1 * *m + (1.0 - b1) * g;
                    *v = b2 * *v + (1.0 - b2) * g * g;
                    *w -= lr * (*m / c1) / ((*v / c2).sqrt() + eps);
                });
        }
    }
    let logits = fte.dot(&w) + &b;
    let mut confusion = [[0u32; 10]; 10];
    for (row, &y) in logits.rows().into_iter().zip(yte) {
        let pred = row
            .iter()
            .enumerate()
            .fold(
                (0, f32::NEG_INFINITY),
                |a, (k, &v)| if v > a.1 { (k, v) } else { a },
            )
            .0;
        confusion[y as usize][pred] += 1;
    }
    let correct: u32 = (0..10).map(|k| confusion[k][k]).sum();
    let f1 = (0..10)
        .map(|k| {
            let tp = confusion[k][k] as f32;
            let fp = (0..10).map(|r| confusion[r][k]).sum::<u32>() as f32 - tp;
            let fnn = confusion[k].iter().sum::<u32>() as f32 - tp;
            if tp == 0.0 {
                0.0
            } else {
                2.0 * tp / (2.0 * tp + fp + fnn)
            }
        })
        .sum::<f32>()
        / 10.0;
    (correct as f32 / yte.len() as f32, f1)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arch = match args.get(1).map(String::as_str).unwrap_or("A") {
        "B" => Arch::B,
        "C" => Arch::C,
        "D" => Arch::D,
        "E" => Arch::E,
        "F" => Arch::F,
        "G" => Arch::G,
        _ => Arch::A,
    };
    let arg = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (div, n_train, seed, epochs) = (arg(2, 4), arg(3, 4000), arg(4, 0) as u32, arg(5, 5));
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/data");
    let d = shipped::mnist_from_dir(&dir).expect("the shipped MNIST digits (scripts/setup.sh)");
    let train_all = d.indices(Split::Train);
    let perm = shuffle(train_all.len(), seed, 0);
    let train: Vec<usize> = perm.iter().take(n_train).map(|&i| train_all[i]).collect();
    let test = d.indices(Split::Test);
    let ytr: Vec<u8> = train.iter().map(|&i| d.labels[i]).collect();
    let yte: Vec<u8> = test.iter().map(|&i| d.labels[i]).collect();
    let preset = Preset::new(arch, [1, 28, 28], div, 10).expect("preset");
    println!(
        "{arch:?}/{div} on MNIST 1×28×28: {} parameters, {} features; {} training digits, {} test digits, seed {seed}, {epochs} probe epochs",
        preset.param_count(),
        preset.features(),
        train.len(),
        test.len()
    );
    let modes: [(&str, Option<Competition>); 4] = [
        ("random filters", None),
        ("no competition", Some(Competition::None)),
        ("hard-WTA (cos)", Some(Competition::HardWta)),
        ("SoftHebb", Some(Competition::SoftWta)),
    ];
    for (name, mode) in modes {
        let t0 = Instant::now();
        let config = HebbConfig::thesis(mode.unwrap_or(Competition::None));
        let mut net = Network::new(preset.clone(), config, seed);
        for chunk in train.chunks(64) {
            let x = images(&d, chunk);
            if mode.is_some() {
                net.unsupervised_step(x.view()).expect("step");
            } else {
                net.forward(x.view(), Pass::Train).expect("forward");
            }
        }
        let t1 = Instant::now();
        let ftr = features(&mut net, &d, &train);
        let fte = features(&mut net, &d, &test);
        let t2 = Instant::now();
        let (acc, f1) = probe(&ftr, &ytr, &fte, &yte, epochs, seed);
        let mean_norms: Vec<String> = net
            .weights()
            .iter()
            .map(|w| {
                let n: Vec<f32> = w
                    .outer_iter()
                    .map(|f| f.iter().map(|v| v * v).sum::<f32>().sqrt())
                    .collect();
                format!("{:.2}", n.iter().sum::<f32>() / n.len() as f32)
            })
            .collect();
        let mean_norm = mean_norms.join(" / ");
        println!(
            "{name:16} test accuracy {:.2} %, macro-F1 {:.3}; mean ‖w_k‖ per layer {mean_norm}; epoch {:.1} s, features {:.1} s, probe {:.1} s",
            100.0 * acc,
            f1,
            (t1 - t0).as_secs_f64(),
            (t2 - t1).as_secs_f64(),
            t2.elapsed().as_secs_f64()
        );
    }
}
