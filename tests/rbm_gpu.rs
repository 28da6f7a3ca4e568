//! RBM training on the GPU (kernels/rbm) against its CPU twin (`nets::rbm::Trainer`): CD-1, CD-3 and persistent
//! CD with momentum and weight decay, on odd sizes (37 visible, 11 hidden) over three updates whose last batch is
//! short; the weights, biases, velocities, persistent chains, step and loss agree. The Bernoulli draws come from
//! the same counters, so the chains agree unit for unit (a unit could differ only where its probability lies
//! within float rounding of its uniform; none does here). Also: bad batches are refused.
mod common;

use hebbian_playground::kernels::rbm::RbmGpu;
use hebbian_playground::nets::rbm::{Draws, Rbm, TrainConfig, Trainer};
use ndarray::{Array2, s};
use pollster::block_on;

fn data() -> Array2<f32> {
    let draws = Draws::new(3, 2, 9);
    let p = Array2::from_shape_fn((13, 37), |(i, j)| if (i + j) % 3 == 0 { 0.8 } else { 0.3 });
    draws.bernoulli(p.view(), 0, 0)
}

fn close(what: &str, cpu: impl IntoIterator<Item = f32>, gpu: impl IntoIterator<Item = f32>) {
    let (cpu, gpu): (Vec<f32>, Vec<f32>) = (cpu.into_iter().collect(), gpu.into_iter().collect());
    assert_eq!(cpu.len(), gpu.len(), "{what}: lengths");
    let scale = cpu.iter().fold(0f32, |m, v| m.max(v.abs()));
    for (i, (a, b)) in cpu.iter().zip(&gpu).enumerate() {
        assert!(
            (a - b).abs() <= 2e-5 * (1.0 + scale),
            "{what}, element {i}: cpu {a} gpu {b} (largest {scale})"
        );
    }
}

#[test]
fn cd_and_persistent_cd_train_as_on_the_cpu() {
    let Some(gpu) = common::gpu() else { return };
    let x = data();
    for (k, persistent) in [(1, false), (3, false), (2, true)] {
        let config = TrainConfig {
            k,
            learning_rate: 0.1,
            momentum: 0.5,
            weight_decay: 0.01,
            persistent,
        };
        let mut rbm = Rbm::new(37, 11, 4, 0);
        // Larger weights than the source's 0.01 so that the samples depend on them.
        rbm.w.mapv_inplace(|w| 30.0 * w);
        let mut cpu = rbm.clone();
        let mut trainer = Trainer::new(&cpu, config, 6, 0);
        let mut dev = block_on(RbmGpu::new(&gpu, &rbm, &trainer, 5)).expect("RBM on the GPU");
        let mut loss = 0.0f64;
        // Batches of 5, 5 and 3.
        for start in [0, 5, 10] {
            let batch = x.slice(s![start..(start + 5).min(13), ..]);
            loss += f64::from(trainer.update(&mut cpu, batch));
            block_on(dev.train(&gpu, batch)).expect("an update");
        }
        let what = format!("CD-{k}, persistent {persistent}");
        let mut back = rbm.clone();
        let mut back_trainer = Trainer::new(&back, config, 6, 0);
        let (gpu_loss, updates) =
            block_on(dev.download(&gpu, &mut back, &mut back_trainer)).expect("download");
        close(
            &format!("{what}: W"),
            cpu.w.iter().copied(),
            back.w.iter().copied(),
        );
        close(
            &format!("{what}: b"),
            cpu.b.iter().copied(),
            back.b.iter().copied(),
        );
        close(
            &format!("{what}: c"),
            cpu.c.iter().copied(),
            back.c.iter().copied(),
        );
        close(
            &format!("{what}: velocities"),
            trainer.velocity.flat(),
            back_trainer.velocity.flat(),
        );
        assert_eq!(back_trainer.step, trainer.step, "{what}: step");
        assert_eq!(
            back_trainer.chains, trainer.chains,
            "{what}: the persistent chains, unit for unit"
        );
        assert_eq!(updates, 3, "{what}: updates");
        assert!(
            (gpu_loss - loss).abs() <= 1e-5 * loss.max(1.0),
            "{what}: loss {gpu_loss} vs {loss}"
        );
        // The weights moved: the comparison is not of two untouched copies.
        assert!(
            cpu.w.iter().zip(&rbm.w).any(|(a, b)| (a - b).abs() > 1e-3),
            "{what}: the weights did not move"
        );
    }
}

#[test]
fn bad_batches_are_refused() {
    let Some(gpu) = common::gpu() else { return };
    let rbm = Rbm::new(37, 11, 1, 0);
    let trainer = Trainer::new(&rbm, TrainConfig::source(), 1, 0);
    let mut dev = block_on(RbmGpu::new(&gpu, &rbm, &trainer, 4)).expect("RBM");
    let x = data();
    assert!(
        block_on(dev.train(&gpu, x.slice(s![0..5, ..]))).is_err(),
        "more rows than the batch"
    );
    assert!(
        block_on(dev.train(&gpu, x.slice(s![0..2, 0..30]))).is_err(),
        "the wrong width"
    );
}
