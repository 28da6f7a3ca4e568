//! The Hebbian CNN on the GPU (nets::hebbconv::gpu) against the CPU network: images per second of the
//! unsupervised step and of probe features, batch 64, on reduced presets, the depthwise E included (and
//! architecture A at full width with `full`). Not a test: `cargo run --release --example hebbconv_gpu_bench
//! [-- full]`. On a software adapter (lavapipe, SwiftShader) the GPU path is expected to lose; the figures are
//! for comparing machines.
//!
//! `-- json [--divs 8,4,1] [--gpu-divs 8,4,1] [--inputs mnist,cifar]` instead prints one JSON line per
//! measurement for scripts/bench.sh and scripts/bench-gpu.sh, which set them beside
//! benches/hebbconv_torch.py (the same networks in PyTorch): architecture A with SoftHebb at each width
//! divisor, then the backprop baseline H's training step at the same widths, CPU then GPU (`--gpu-divs none`
//! skips the GPU), and this machine's sgemm for reference.
use hebbian_playground::engine::Gpu;
use hebbian_playground::kernels::matmul;
use hebbian_playground::nets::hebbconv::baseline::Baseline;
use hebbian_playground::nets::hebbconv::baseline_gpu::GpuBaseline;
use hebbian_playground::nets::hebbconv::gpu::GpuNetwork;
use hebbian_playground::nets::hebbconv::presets::{Arch, Op, Preset};
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
    if std::env::args().any(|a| a == "json") {
        return json_mode();
    }
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

/// Forward-convolution FLOPs per image of a preset without residual blocks (2·outputs·fan-in per layer),
/// counted as benches/hebbconv_torch.py counts them so that GFLOP/s compare.
fn conv_flops(preset: &Preset) -> f64 {
    let [_, mut h, mut w] = preset.input;
    let mut flops = 0.0;
    for op in &preset.ops {
        match op {
            Op::Conv(l) => {
                let s = l.conv;
                h = h + 2 * s.pad - s.k + 1;
                w = w + 2 * s.pad - s.k + 1;
                flops += 2.0 * (s.c_out * h * w * s.fan_in()) as f64;
            }
            Op::MaxPool { k, stride, pad } | Op::AvgPool { k, stride, pad } => {
                h = (h + 2 * pad - k) / stride + 1;
                w = (w + 2 * pad - k) / stride + 1;
            }
            Op::Residual { .. } => panic!("conv_flops counts plain stacks only"),
            _ => {}
        }
    }
    flops
}

fn list(flag: &str, default: &str) -> Vec<String> {
    let args: Vec<String> = std::env::args().collect();
    let v = args
        .iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .map_or(default, String::as_str);
    if v == "none" {
        return Vec::new();
    }
    v.split(',').map(str::to_owned).collect()
}

#[allow(clippy::too_many_arguments)]
fn line(
    device: &str,
    adapter: &str,
    input: &str,
    div: usize,
    flops: f64,
    step: f64,
    features: f64,
    setup: Option<f64>,
) {
    let setup = setup.map_or(String::new(), |s| format!(",\"setup_s\":{s:.2}"));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "{{\"bench\":\"hebbconv\",\"impl\":\"hebbian\",\"device\":\"{device}\",\"adapter\":{adapter:?},\
         \"threads\":{threads},\"arch\":\"A\",\"input\":\"{input}\",\"width_div\":{div},\"batch\":{BATCH},\
         \"step_images_per_s\":{:.1},\"features_images_per_s\":{:.1},\"step_conv_gflops\":{:.2},\
         \"features_conv_gflops\":{:.2}{setup}}}",
        BATCH as f64 / step,
        BATCH as f64 / features,
        2.0 * flops * BATCH as f64 / step / 1e9,
        flops * BATCH as f64 / features / 1e9,
    );
}

/// One JSON line of the backprop baseline's training step (forward, backward, Adam, the loss read back).
fn backprop_line(device: &str, adapter: &str, input: &str, div: usize, step: f64) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "{{\"bench\":\"hebbconv backprop\",\"impl\":\"hebbian\",\"device\":\"{device}\",\
         \"adapter\":{adapter:?},\"threads\":{threads},\"arch\":\"H\",\"input\":\"{input}\",\
         \"width_div\":{div},\"batch\":{BATCH},\"train_images_per_s\":{:.1}}}",
        BATCH as f64 / step
    );
}

/// The JSON lines of the Hebbian-CNN comparison (see the module comment). Same timing discipline as the
/// PyTorch side: one warm-up call, then the best of a few rounds.
fn json_mode() -> Result<(), Box<dyn std::error::Error>> {
    // The reference product: our CPU GEMM (faer) on 1024², as tests/kernels.rs's bench_cpu_gemm measures it.
    let n = 1024;
    let a = ndarray::Array2::from_shape_fn((n, n), |(i, j)| ((i * 31 + j * 17) % 97) as f32 / 97.0);
    let b = a.t().to_owned();
    std::hint::black_box(matmul::product_cpu(a.view(), b.view()));
    let gemm = per_call(3, 2, || {
        std::hint::black_box(matmul::product_cpu(a.view(), b.view()));
    });
    println!(
        "{{\"bench\":\"cpu gemm\",\"impl\":\"hebbian (faer)\",\"n\":{n},\"gflops\":{:.1}}}",
        2.0 * (n as f64).powi(3) / gemm / 1e9
    );
    let inputs = list("--inputs", "mnist,cifar");
    let divs = list("--divs", "8,4,1");
    let gpu_divs = list("--gpu-divs", "8,4,1");
    let shape = |name: &str| match name {
        "mnist" => Ok([1, 28, 28]),
        "cifar" => Ok([3, 32, 32]),
        other => Err(format!("unknown input {other}: mnist or cifar")),
    };
    let mode = Competition::SoftWta;
    for name in &inputs {
        let input = shape(name)?;
        for div in &divs {
            let div: usize = div.parse()?;
            let preset = Preset::new(Arch::A, input, div, 10)?;
            let x = fill((BATCH, input[0], input[1], input[2]), 0.13);
            let mut cpu = Network::new(preset.clone(), HebbConfig::thesis(mode), 0);
            cpu.unsupervised_step(x.view())?;
            std::hint::black_box(cpu.features(x.view())?);
            let (reps, calls) = if div == 1 { (2, 1) } else { (3, 3) };
            let step = per_call(reps, calls, || {
                cpu.unsupervised_step(x.view()).expect("CPU step");
            });
            let features = per_call(reps, calls, || {
                std::hint::black_box(cpu.features(x.view()).expect("CPU features"));
            });
            line(
                "cpu",
                "cpu",
                name,
                div,
                conv_flops(&preset),
                step,
                features,
                None,
            );
            let labels = labels();
            let mut net = Baseline::new(input, div, 10, 0)?;
            net.train_step(x.view(), &labels)?;
            let step = per_call(reps, calls, || {
                net.train_step(x.view(), &labels)
                    .expect("CPU backprop step");
            });
            backprop_line("cpu", "cpu", name, div, step);
        }
    }
    if gpu_divs.is_empty() {
        return Ok(());
    }
    let gpu = block_on(Gpu::new())?;
    let adapter = gpu.adapter_name();
    for name in &inputs {
        let input = shape(name)?;
        for div in &gpu_divs {
            let div: usize = div.parse()?;
            let preset = Preset::new(Arch::A, input, div, 10)?;
            let x = fill((BATCH, input[0], input[1], input[2]), 0.13);
            let cpu = Network::new(preset.clone(), HebbConfig::thesis(mode), 0);
            let t = Instant::now();
            let mut net = block_on(GpuNetwork::new(&gpu, &cpu, BATCH))?;
            block_on(net.unsupervised_step(&gpu, x.view()))?;
            block_on(net.features(&gpu, x.view()))?;
            gpu.device().poll(wgpu::PollType::wait_indefinitely())?;
            let setup = t.elapsed().as_secs_f64();
            // Steps return once submitted: waiting for the device after a round times the work itself.
            // Features read back, so each call already waits.
            let calls = if div == 1 { 2 } else { 5 };
            let step = per_call(2, 1, || {
                for _ in 0..calls {
                    block_on(net.unsupervised_step(&gpu, x.view())).expect("GPU step");
                }
                gpu.device()
                    .poll(wgpu::PollType::wait_indefinitely())
                    .expect("GPU work");
            }) / calls as f64;
            let features = per_call(2, calls, || {
                std::hint::black_box(block_on(net.features(&gpu, x.view())).expect("GPU features"));
            });
            let flops = conv_flops(&preset);
            line(
                "gpu",
                &adapter,
                name,
                div,
                flops,
                step,
                features,
                Some(setup),
            );
            let labels = labels();
            let mut net = block_on(GpuBaseline::new(
                &gpu,
                &Baseline::new(input, div, 10, 0)?,
                BATCH,
            ))?;
            block_on(net.train_step(&gpu, x.view(), &labels))?;
            // Each step reads its loss back, so each call waits for the device.
            let step = per_call(2, calls, || {
                block_on(net.train_step(&gpu, x.view(), &labels)).expect("GPU backprop step");
            });
            backprop_line("gpu", &adapter, name, div, step);
        }
    }
    Ok(())
}

/// Labels of a benchmark batch: 0–9 in turn.
fn labels() -> Vec<u8> {
    (0..BATCH).map(|i| (i % 10) as u8).collect()
}
