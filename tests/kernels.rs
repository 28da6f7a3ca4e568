//! CPU twins against their WGSL kernels on the native GPU (lavapipe in CI), and the GPU's failure paths.
mod common;

use common::compare::assert_close;

use hebbian_playground::engine::Engine;
use hebbian_playground::error::Error;
use hebbian_playground::kernels::random;
use hebbian_playground::kernels::trajectories::{self, Dist, Job, Traj};
use hebbian_playground::plasticity::Rule;

fn dists() -> Vec<Dist> {
    let rho: f32 = 0.9;
    vec![
        Dist::new([0.0, 0.0], [1.0, 0.0, 1.0]),
        Dist::new([0.0, 0.0], [1.0, rho, (1.0 - rho * rho).sqrt()]),
        Dist::new([1.0, 0.5], [0.5, 0.2, 0.7]),
    ]
}

fn trajs(n: usize) -> Vec<Traj> {
    (0..n)
        .map(|i| Traj::new([(i as f32 * 0.37).cos(), (i as f32 * 0.37).sin()], 0.5))
        .collect()
}

#[test]
fn random_field_matches_cpu() {
    let Some(gpu) = common::gpu() else { return };
    for len in [1usize, 7, 1000, 4099] {
        let cpu = random::fill_normals_cpu(42, 7, len);
        let gpu_out =
            pollster::block_on(random::fill_normals_gpu(&gpu, 42, 7, len)).expect("gpu fill");
        assert_eq!(cpu.len(), gpu_out.len());
        assert_close(&cpu, &gpu_out, 1e-5, &format!("normals, len {len}"));
    }
}

/// The lab's path: trajectories resident on the GPU across chunks (made once, then advanced in place).
#[test]
fn every_rule_matches_cpu_over_chunks() {
    let Some(gpu) = common::gpu() else { return };
    let mut engine = Engine::Gpu(Box::new(gpu));
    let d = dists();
    let trials = 5u32;
    for rule in Rule::ALL {
        let n = d.len() * trials as usize;
        let (mut cpu_t, mut gpu_t) = (trajs(n), trajs(n));
        let mut resident = None;
        // Three chunks, the last one shorter than the record interval multiple, as the lab does.
        for (start, steps) in [(0u32, 300u32), (300, 300), (600, 155)] {
            let job =
                Job::new(rule, 9, trials, n as u32, start, steps, 10).with_rates(2e-3, 1.5, 50.0);
            let cpu_r = trajectories::advance_cpu(&job, &d, &mut cpu_t);
            let (gpu_r, notice) = pollster::block_on(trajectories::advance(
                &mut engine,
                &job,
                &d,
                &mut gpu_t,
                &mut resident,
            ))
            .expect("gpu chunk");
            assert!(notice.is_none(), "{notice:?}");
            assert!(resident.is_some(), "the trajectories stay on the GPU");
            assert_eq!(cpu_r.dim(), gpu_r.dim());
            assert_close(&cpu_r, &gpu_r, 1e-3, &format!("{rule:?} chunk at {start}"));
        }
        for (a, b) in cpu_t.iter().zip(&gpu_t) {
            assert_close(&a.w, &b.w, 1e-3, &format!("{rule:?} final w"));
            assert_eq!(a.diverged_at, b.diverged_at, "{rule:?}");
        }
    }
}

#[test]
fn divergence_freezes_at_the_same_step_on_both() {
    let Some(gpu) = common::gpu() else { return };
    let d = dists();
    let (mut cpu_t, mut gpu_t) = (trajs(6), trajs(6));
    let job = Job::new(Rule::Hebb, 3, 2, 6, 0, 4000, 10).with_rates(0.5, 1.0, 10.0);
    trajectories::advance_cpu(&job, &d, &mut cpu_t);
    pollster::block_on(trajectories::advance_gpu(&gpu, &job, &d, &mut gpu_t)).expect("gpu");
    for (a, b) in cpu_t.iter().zip(&gpu_t) {
        assert_ne!(
            a.diverged_at,
            trajectories::NOT_DIVERGED,
            "η = 0.5 must diverge"
        );
        assert!(
            a.w.iter().all(|x| x.is_finite()),
            "the last finite state is kept: {a:?}"
        );
        assert!(
            (i64::from(a.diverged_at) - i64::from(b.diverged_at)).abs() <= 2,
            "{a:?} vs {b:?}"
        );
    }
}

#[test]
fn sizes_beyond_the_device_limits_are_refused_before_allocating() {
    let Some(gpu) = common::gpu() else { return };
    let mut t = trajs(4096);
    // 4096 trajectories × 100 000 records × 8 bytes ≈ 3.3 GB, far above the portable 128 MiB binding.
    let job = Job::new(Rule::Hebb, 1, 1024, 4096, 0, 100_000, 1).with_rates(1e-3, 1.0, 1.0);
    match pollster::block_on(trajectories::advance_gpu(&gpu, &job, &dists(), &mut t)) {
        Err(Error::TooLarge { needed, limit, .. }) => assert!(needed > limit),
        other => panic!("expected a size error, got {:?}", other.map(|r| r.dim())),
    }
}

#[test]
fn a_lost_device_continues_on_the_cpu_with_a_notice() {
    let Some(gpu) = common::gpu() else { return };
    let d = dists();
    let job = Job::new(Rule::Oja, 5, 2, 6, 0, 200, 10).with_rates(1e-2, 1.0, 10.0);
    let mut expected = trajs(6);
    let expected_r = trajectories::advance_cpu(&job, &d, &mut expected);
    let mut engine = Engine::Gpu(Box::new(gpu));
    engine.gpu().expect("gpu").simulate_loss();
    let mut t = trajs(6);
    let (records, notice) = pollster::block_on(trajectories::advance(
        &mut engine,
        &job,
        &d,
        &mut t,
        &mut None,
    ))
    .expect("fallback");
    assert!(notice.expect("a notice").contains("continues on the CPU"));
    assert_eq!(engine.info().kind, "cpu");
    assert_eq!(
        records, expected_r,
        "the CPU redoes the chunk from the unchanged state"
    );
    assert_eq!(t, expected);
}

/// Benchmark (reported, not a test; `--ignored`): the cost of a small dispatch when each one builds its bind
/// group, submits alone and pops its own error scopes (`Gpu::dispatch`, as every kernel did before), against
/// dispatches of a kernel bound once, recorded into one submit (`Recorder`).
#[test]
#[ignore]
fn bench_dispatch_overhead() {
    let Some(gpu) = common::gpu() else { return };
    let source = random::source();
    let n = 256usize;
    let dispatches = 512u32;
    let params = gpu.uniform_tensor("params", 16).expect("params");
    gpu.write(&params, bytemuck::cast_slice(&[1u32, 2, n as u32, 0]));
    let out = gpu.tensor("field", (n * 4) as u64).expect("field");
    let kernel =
        pollster::block_on(gpu.kernel("random", &source, "fill_normals", &[&params, &out]))
            .expect("kernel");
    let pipeline = pollster::block_on(gpu.pipeline("random", &source, "fill_normals")).expect("p");
    let groups = n.div_ceil(64) as u32;
    for round in 0..2 {
        let t = std::time::Instant::now();
        for i in 0..dispatches {
            let read: &[(&wgpu::Buffer, u64)] = if i + 1 == dispatches {
                &[(out.buffer(), 4)]
            } else {
                &[]
            };
            pollster::block_on(gpu.dispatch(
                &pipeline,
                &[params.buffer(), out.buffer()],
                groups,
                read,
            ))
            .expect("dispatch");
        }
        let alone = t.elapsed().as_secs_f64() * 1e6 / f64::from(dispatches);
        let t = std::time::Instant::now();
        let mut rec = gpu.record();
        for _ in 0..dispatches {
            rec.dispatch(&kernel, groups);
        }
        rec.read(&out, 4);
        pollster::block_on(rec.submit()).expect("submit");
        let batched = t.elapsed().as_secs_f64() * 1e6 / f64::from(dispatches);
        if round == 1 {
            println!(
                "{{\"bench\":\"dispatch overhead\",\"adapter\":\"{}\",\"dispatches\":{dispatches},\"us_per_dispatch_alone\":{alone:.1},\"us_per_dispatch_recorded\":{batched:.1}}}",
                gpu.adapter_name()
            );
        }
    }
}

/// Benchmark (reported; `--ignored`): the CPU matrix product every GEMM-shaped CPU twin goes through, in
/// GFLOP/s on square f32 matrices (scripts/bench.sh runs NumPy's on the same sizes right after).
#[test]
#[ignore]
fn bench_cpu_gemm() {
    use hebbian_playground::kernels::matmul;
    for n in [256usize, 512, 1024] {
        let a =
            ndarray::Array2::from_shape_fn((n, n), |(i, j)| ((i * 31 + j * 17) % 97) as f32 / 97.0);
        let b = a.t().to_owned();
        let reps = (2048 / n).pow(2).max(1);
        // Ours, and ndarray's own product (matrixmultiply: the routine before faer) as the yardstick.
        let ours = |a: &ndarray::Array2<f32>, b: &ndarray::Array2<f32>| {
            matmul::product_cpu(a.view(), b.view())
        };
        let ndarray_dot = |a: &ndarray::Array2<f32>, b: &ndarray::Array2<f32>| a.dot(b);
        for (name, f) in [
            ("hebbian (faer)", &ours as &dyn Fn(_, _) -> _),
            ("ndarray dot", &ndarray_dot),
        ] {
            let _ = f(&a, &b);
            let t = std::time::Instant::now();
            for _ in 0..reps {
                std::hint::black_box(f(&a, &b));
            }
            let s = t.elapsed().as_secs_f64() / reps as f64;
            println!(
                "{{\"bench\":\"cpu gemm\",\"impl\":\"{name}\",\"n\":{n},\"gflops\":{:.1}}}",
                2.0 * (n as f64).powi(3) / s / 1e9
            );
        }
    }
}

/// Benchmark (reported; `--ignored`): the 2-D lab's animated run on the GPU, 100 frames of 20 updates for its
/// 3 × 16 trajectories, with the tensors made afresh every frame (as before the resident engine: buffers,
/// bind group, upload) against trajectories resident on the device with the kernel bound once.
#[test]
#[ignore]
fn bench_resident_trajectories() {
    let Some(gpu) = common::gpu() else { return };
    let d = dists();
    let n = 48usize;
    let job =
        |k: u32| Job::new(Rule::Oja, 3, 16, n as u32, 20 * k, 20, 10).with_rates(1e-3, 2.0, 100.0);
    let mut engine = Engine::Gpu(Box::new(gpu));
    for round in 0..2 {
        let mut t = trajs(n);
        let start = std::time::Instant::now();
        for k in 0..100 {
            let gpu = engine.gpu().expect("gpu");
            pollster::block_on(trajectories::advance_gpu(gpu, &job(k), &d, &mut t)).expect("chunk");
        }
        let fresh = start.elapsed().as_secs_f64() * 1e3;
        let mut t = trajs(n);
        let mut resident = None;
        let start = std::time::Instant::now();
        for k in 0..100 {
            pollster::block_on(trajectories::advance(
                &mut engine,
                &job(k),
                &d,
                &mut t,
                &mut resident,
            ))
            .expect("chunk");
        }
        let kept = start.elapsed().as_secs_f64() * 1e3;
        if round == 1 {
            println!(
                "{{\"bench\":\"hebb2d frames on the GPU\",\"frames\":100,\"ms_fresh_tensors\":{fresh:.1},\"ms_resident\":{kept:.1}}}"
            );
        }
    }
}
