//! SoftHebb's per-neuron weight norms during one unsupervised pass over shipped MNIST digits: mean, min and max
//! ‖w_k‖ per layer every few batches, for the plain activation with w_nrm (the default) and the cosine one.
//! `cargo run --release --example hebbconv_norms -- [width divisor] [train images] [seed]`
use hebbian_playground::data::{Split, shipped};
use hebbian_playground::nets::hebbconv::conv::{Activation, Cosine};
use hebbian_playground::nets::hebbconv::presets::{Arch, Preset};
use hebbian_playground::nets::hebbconv::{HebbConfig, Network};
use hebbian_playground::plasticity::competition::Competition;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (div, n, seed) = (arg(1, 4), arg(2, 2048), arg(3, 0) as u32);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/data");
    let d = shipped::mnist_from_dir(&dir).expect("shipped MNIST");
    // Every 3rd training digit (the set is sorted by class), so that the classes mix.
    let idx: Vec<usize> = d
        .indices(Split::Train)
        .into_iter()
        .step_by(3)
        .take(n)
        .collect();
    let preset = Preset::new(Arch::A, [1, 28, 28], div, 10).expect("preset");
    for (name, act) in [
        ("plain + w_nrm", Activation::Linear),
        ("cosine (filter)", Activation::Cosine(Cosine::Filter)),
    ] {
        let mut config = HebbConfig::thesis(Competition::SoftWta);
        config.activation = act;
        let mut net = Network::new(preset.clone(), config, seed);
        println!("{name}");
        for (b, chunk) in idx.chunks(64).enumerate() {
            if b % 8 == 0 {
                let line: Vec<String> = net
                    .weights()
                    .iter()
                    .map(|w| {
                        let v: Vec<f32> = w
                            .outer_iter()
                            .map(|f| f.iter().map(|x| x * x).sum::<f32>().sqrt())
                            .collect();
                        let mean = v.iter().sum::<f32>() / v.len() as f32;
                        let lo = v.iter().copied().fold(f32::INFINITY, f32::min);
                        let hi = v.iter().copied().fold(0.0, f32::max);
                        format!("{mean:.2} [{lo:.2}, {hi:.2}]")
                    })
                    .collect();
                println!("  batch {b:3}: {}", line.join("  "));
            }
            let x = d
                .rows(chunk)
                .into_shape_with_order((chunk.len(), 1, 28, 28))
                .expect("digits");
            net.unsupervised_step(x.view()).expect("step");
        }
    }
}
