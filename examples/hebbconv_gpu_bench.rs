//! The Hebbian CNN on the GPU (nets::hebbconv::gpu) against the CPU network: images per second of the
//! unsupervised step and of probe features, batch 64, on reduced presets, the depthwise E included (and
//! architecture A at full width with `full`). Not a test: `cargo run --release --example hebbconv_gpu_bench
//! [-- full]`. On a software adapter (lavapipe, SwiftShader) the GPU path is expected to lose; the figures are
//! for comparing machines.
use hebbian_playground::engine::Gpu;
use hebbian_playground::nets::hebbconv::gpu::GpuNetwork;
use hebbian_playground::nets::hebbconv::presets::{Arch, Preset};
use hebbian_playground::nets::hebbconv::{HebbConfig, Network};
use hebbian_playground::plasticity::competition::Competition;
use ndarray::Array4;
use pollster::block_on;
use std::time::Instant;

const BATCH: usize = 64;

fn fill(shape: (usize, usize, usize, usize), k: f32) -> Array4<f32> {
    let mut i = 0u32;
    Array4::from_shape_simple_fn(shape, || {
        i = i.wrapping_add(1);
        0.5 + 0.5 * ((i as f32) * k).sin()
    })
}

/// Seconds per call of `f`, the best of `reps` rounds of `calls` calls each.
fn per_call(reps: usize, calls: usize, mut f: impl FnMut()) -> f64 {
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..calls {
                f();
            }
            t.elapsed().as_secs_f64() / calls as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let gpu = block_on(Gpu::new())?;
    println!("GPU: {}", gpu.adapter_name());
    let mut runs = vec![
        (Arch::A, 8, [1, 28, 28]),
        (Arch::C, 4, [1, 28, 28]),
        (Arch::A, 4, [3, 32, 32]),
        (Arch::E, 4, [3, 32, 32]),
    ];
    if std::env::args().any(|a| a == "full") {
        runs.push((Arch::A, 1, [3, 32, 32]));
    }
    for (arch, div, input) in runs {
        let preset = Preset::new(arch, input, div, 10)?;
        let x = fill((BATCH, input[0], input[1], input[2]), 0.13);
        for mode in [Competition::HardWta, Competition::SoftWta] {
            let mut cpu = Network::new(preset.clone(), HebbConfig::thesis(mode), 0);
            let t = Instant::now();
            let mut net = block_on(GpuNetwork::new(&gpu, &cpu, BATCH))?;
            // Pipelines are built in `new`; a first step and features pay the driver's first dispatches.
            block_on(net.unsupervised_step(&gpu, x.view()))?;
            block_on(net.features(&gpu, x.view()))?;
            let setup = t.elapsed().as_secs_f64();
            let calls = if div == 1 { 2 } else { 5 };
            // Steps return once submitted (nothing is read back): waiting for the device after them times
            // the work itself.
            let gpu_step = per_call(2, 1, || {
                for _ in 0..calls {
                    block_on(net.unsupervised_step(&gpu, x.view())).expect("GPU step");
                }
                gpu.device()
                    .poll(wgpu::PollType::wait_indefinitely())
                    .expect("GPU work");
            }) / calls as f64;
            let gpu_features = per_call(2, calls, || {
                block_on(net.features(&gpu, x.view())).expect("GPU features");
            });
            let cpu_calls = if div == 1 { 1 } else { 3 };
            let cpu_step = per_call(1, cpu_calls, || {
                cpu.unsupervised_step(x.view()).expect("CPU step");
            });
            let cpu_features = per_call(1, cpu_calls, || {
                std::hint::black_box(cpu.features(x.view()).expect("CPU features"));
            });
            let ips = |s: f64| BATCH as f64 / s;
            println!(
                "{arch:?}/{div} on {input:?}, {mode:?}, batch {BATCH}: unsupervised step GPU {:.0} images/s, \
                 CPU {:.0} images/s; features GPU {:.0} images/s, CPU {:.0} images/s (GPU set-up {:.2} s)",
                ips(gpu_step),
                ips(cpu_step),
                ips(gpu_features),
                ips(cpu_features),
                setup
            );
        }
    }
    Ok(())
}
