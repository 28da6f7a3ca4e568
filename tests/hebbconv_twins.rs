//! The Hebbian convolution's GPU kernels against their CPU twins (nets::hebbconv::conv and
//! plasticity::competition) on lavapipe: the forward pass, the correlation, and one whole update step (competition,
//! decay, Δw, max-abs normalisation, the step) for every competition mode (BCM's θ, the temporal history and the
//! statistical threshold's similarity included), with a layer rate and with SoftHebb's per-neuron rates, and under
//! Dale's principle; the same for depthwise layers (competition over positions), their cosine activation
//! included. Several steps in a row, with the memory carried, are in hebbconv_network_gpu.
mod common;

use common::compare::assert_close;
use common::conv::{filled, spec_of};
use hebbian_playground::engine::{Gpu, Tensor};
use hebbian_playground::kernels::hebbconv::{
    ConvGpu, ConvShape, Shared, correlate_gpu, forward_gpu,
};
use hebbian_playground::kernels::hebbdepthwise::{
    DepthwiseGpu, depthwise_activate_gpu, depthwise_correlate_gpu,
};
use hebbian_playground::kernels::hebbupdate::{Compete, Rate, UpdateGpu};
use hebbian_playground::nets::hebbconv::conv::{self, Activation, ConvSpec, Cosine};
use hebbian_playground::plasticity::competition::{
    self, Competition, CompetitionParams, CompetitionState, Rates, TopOne,
};
use ndarray::{Array4, Axis};

const SHAPES: [ConvShape; 3] = [
    ConvShape {
        n: 2,
        c_in: 3,
        h: 9,
        w: 7,
        c_out: 70,
        k: 5,
        stride: 1,
        pad: 2,
    },
    ConvShape {
        n: 1,
        c_in: 5,
        h: 8,
        w: 8,
        c_out: 6,
        k: 3,
        stride: 2,
        pad: 0,
    },
    ConvShape {
        n: 3,
        c_in: 19,
        h: 5,
        w: 6,
        c_out: 9,
        k: 3,
        stride: 1,
        pad: 1,
    },
];

#[test]
fn forward_and_correlation_match_the_cpu_twins() {
    let Some(gpu) = common::gpu() else { return };
    for (i, s) in SHAPES.iter().enumerate() {
        let spec = spec_of(s);
        let x = filled((s.n, s.c_in, s.h, s.w), 21 + i as u32);
        let w = filled((s.c_out, s.c_in, s.k, s.k), 22 + i as u32);
        let r = filled((s.n, s.c_out, s.ho(), s.wo()), 23 + i as u32);
        let y_gpu = pollster::block_on(forward_gpu(&gpu, x.view(), w.view(), s.stride, s.pad))
            .expect("gpu");
        assert_close(
            &conv::forward(x.view(), w.view(), &spec),
            &y_gpu,
            1e-5,
            &format!("forward {s:?}"),
        );
        let c_gpu = pollster::block_on(correlate_gpu(
            &gpu,
            x.view(),
            r.view(),
            s.k,
            s.stride,
            s.pad,
        ))
        .expect("gpu");
        assert_close(
            &conv::correlate(x.view(), r.view(), &spec),
            &c_gpu,
            1e-5,
            &format!("correlate {s:?}"),
        );
    }
}

/// Every competition mode, the CPU's and the GPU's, with SoftHebb's inverse temperature 0.65.
fn every_mode() -> [(Competition, Compete); 7] {
    [
        (Competition::None, Compete::None),
        (Competition::HardWta, Compete::HardWta),
        (Competition::SoftWta, Compete::SoftWta { t_inv: 0.65 }),
        (Competition::AntiHard, Compete::AntiHard),
        (Competition::Bcm, Compete::Bcm { decay: 0.5 }),
        (
            Competition::Temporal,
            Compete::Temporal {
                window: 500,
                multiply: false,
            },
        ),
        (
            Competition::Statistical,
            Compete::Statistical {
                c: 2.0,
                multiply: false,
            },
        ),
    ]
}

/// The statistical threshold's similarity tensor for a layer whose y is its linear convolution: y itself
/// (the update divides by ‖w_k‖), else none.
fn similarity(gpu: &Gpu, compete: Compete, y: &Array4<f32>) -> Option<Tensor> {
    let flat: Vec<f32> = y.iter().copied().collect();
    matches!(compete, Compete::Statistical { .. }).then(|| {
        gpu.tensor_from("similarity", bytemuck::cast_slice(&flat))
            .expect("sim")
    })
}

/// One update step on the GPU from a given y: the layer's weights afterwards.
fn gpu_step(
    s: &ConvShape,
    x: &Array4<f32>,
    w: &Array4<f32>,
    y: &Array4<f32>,
    compete: Compete,
    rate: Rate,
    dale: bool,
) -> Array4<f32> {
    let gpu = common::gpu().expect("gpu");
    pollster::block_on(async {
        let layer = ConvGpu::new(&gpu, *s).await.expect("layer");
        let sim = similarity(&gpu, compete, y);
        let update = UpdateGpu::new(&gpu, &layer, compete, rate, dale, sim.as_ref())
            .await
            .expect("update");
        update
            .upload(&gpu, &CompetitionState::default(), 1.0)
            .expect("memory");
        let flat = |a: &Array4<f32>| a.iter().copied().collect::<Vec<f32>>();
        gpu.write(&layer.x, bytemuck::cast_slice(&flat(x)));
        gpu.write(&layer.w, bytemuck::cast_slice(&flat(w)));
        gpu.write(&layer.y, bytemuck::cast_slice(&flat(y)));
        let mut rec = gpu.record();
        update.record_compete(&mut rec);
        layer.record_correlate(&mut rec);
        update.record_step(&mut rec);
        rec.read(&layer.w, layer.w.bytes());
        let out = rec.submit().await.expect("submit");
        Array4::from_shape_vec(w.dim(), bytemuck::pod_collect_to_vec(&out[0])).expect("shape")
    })
}

/// The same step on the CPU (a dense or a depthwise layer, as `spec` says); y is the layer's linear
/// convolution, so the statistical threshold's similarity is y/‖w_k‖.
fn cpu_step(
    spec: &ConvSpec,
    x: &Array4<f32>,
    w: &Array4<f32>,
    y: &Array4<f32>,
    params: &CompetitionParams,
    rates: impl Fn(&Array4<f32>) -> Rates,
    dale: bool,
) -> Array4<f32> {
    let xp = conv::reflect_pad(x.view(), spec.pad);
    let mut sim = y.clone();
    for (ch, mut plane) in sim.axis_iter_mut(Axis(1)).enumerate() {
        let norm = w.index_axis(Axis(0), ch).iter().map(|v| v * v).sum::<f32>();
        plane.mapv_inplace(|v| v / norm.sqrt().max(1e-12));
    }
    let mut dw = competition::delta(
        params,
        &mut CompetitionState::default(),
        xp.view(),
        y,
        (params.mode == Competition::Statistical).then_some(&sim),
        w.view(),
        spec,
    );
    competition::max_abs_normalise(&mut dw);
    let mut w2 = w.clone();
    competition::apply(&mut w2, dw.view(), &rates(w), dale);
    w2
}

#[test]
fn one_update_step_matches_the_cpu_for_every_channel_competition() {
    if common::gpu().is_none() {
        return;
    }
    for (i, s) in SHAPES.iter().enumerate() {
        let x = filled((s.n, s.c_in, s.h, s.w), 31 + i as u32);
        let w = filled((s.c_out, s.c_in, s.k, s.k), 32 + i as u32);
        let y = conv::forward(x.view(), w.view(), &spec_of(s));
        for (mode, compete) in every_mode() {
            let params = CompetitionParams {
                t_inv: 0.65,
                ..CompetitionParams::new(mode)
            };
            let want = cpu_step(
                &spec_of(s),
                &x,
                &w,
                &y,
                &params,
                |_| Rates::Layer(0.1),
                false,
            );
            let got = gpu_step(s, &x, &w, &y, compete, Rate::Layer(0.1), false);
            assert_close(&want, &got, 1e-4, &format!("{mode:?} {s:?}"));
        }
        // SoftHebb's per-neuron rates, and Dale's |w|.
        let params = CompetitionParams {
            t_inv: 1.0,
            ..CompetitionParams::new(Competition::SoftWta)
        };
        let want = cpu_step(
            &spec_of(s),
            &x,
            &w,
            &y,
            &params,
            |w| Rates::PerNeuron(competition::softhebb_rates(w.view(), 0.08, 0.5)),
            true,
        );
        let got = gpu_step(
            s,
            &x,
            &w,
            &y,
            Compete::SoftWta { t_inv: 1.0 },
            Rate::SoftHebb {
                lr0: 0.08,
                power: 0.5,
            },
            true,
        );
        assert_close(&want, &got, 1e-4, &format!("SoftHebb rates, Dale {s:?}"));
        assert!(got.iter().all(|&v| v >= 0.0));
    }
}

/// One depthwise update step on the GPU from a given y: the layer's weights afterwards.
fn gpu_depthwise_step(
    s: &ConvShape,
    x: &Array4<f32>,
    w: &Array4<f32>,
    y: &Array4<f32>,
    compete: Compete,
    rate: Rate,
) -> Array4<f32> {
    let gpu = common::gpu().expect("gpu");
    pollster::block_on(async {
        let layer = DepthwiseGpu::with(&gpu, *s, false, Shared::default())
            .await
            .expect("layer");
        let sim = similarity(&gpu, compete, y);
        let update = UpdateGpu::depthwise(&gpu, &layer, compete, rate, false, sim.as_ref())
            .await
            .expect("update");
        update
            .upload(&gpu, &CompetitionState::default(), 1.0)
            .expect("memory");
        let flat = |a: &Array4<f32>| a.iter().copied().collect::<Vec<f32>>();
        gpu.write(&layer.x, bytemuck::cast_slice(&flat(x)));
        gpu.write(&layer.w, bytemuck::cast_slice(&flat(w)));
        gpu.write(&layer.y, bytemuck::cast_slice(&flat(y)));
        let mut rec = gpu.record();
        update.record_compete(&mut rec);
        layer.record_correlate(&mut rec);
        update.record_step(&mut rec);
        rec.read(&layer.w, layer.w.bytes());
        let out = rec.submit().await.expect("submit");
        Array4::from_shape_vec(w.dim(), bytemuck::pod_collect_to_vec(&out[0])).expect("shape")
    })
}

/// Depthwise layers (architectures E and F): the forward pass (linear, and cosine with both normalisations),
/// the diagonal correlation, and one update step with competition over each channel's positions, for every
/// mode the GPU runs; odd sides, stride 2, 70 channels, a batch of one.
#[test]
fn depthwise_layers_match_the_cpu_twins() {
    let Some(gpu) = common::gpu() else { return };
    let shapes = [
        (2, 6, 9, 7, 3, 1, 1),
        (1, 70, 5, 6, 3, 2, 0),
        (3, 5, 8, 8, 5, 1, 2),
    ];
    for (i, (n, c, h, w, k, stride, pad)) in shapes.into_iter().enumerate() {
        let s = ConvShape {
            n,
            c_in: c,
            h,
            w,
            c_out: c,
            k,
            stride,
            pad,
        };
        let spec = ConvSpec {
            stride,
            ..ConvSpec::depthwise(c, k, pad)
        };
        let salt = 41 + 3 * i as u32;
        let x = filled((n, c, h, w), salt);
        let wt = filled((c, 1, k, k), salt + 1);
        let r = filled((n, c, s.ho(), s.wo()), salt + 2);
        for act in [
            Activation::Linear,
            Activation::Cosine(Cosine::Filter),
            Activation::Cosine(Cosine::PerPosition),
        ] {
            let got = pollster::block_on(depthwise_activate_gpu(
                &gpu,
                x.view(),
                wt.view(),
                stride,
                pad,
                act,
            ))
            .expect("gpu");
            assert_close(
                &conv::activate(x.view(), wt.view(), &spec, act),
                &got,
                1e-5,
                &format!("{act:?} {s:?}"),
            );
        }
        let got = pollster::block_on(depthwise_correlate_gpu(
            &gpu,
            x.view(),
            r.view(),
            k,
            stride,
            pad,
        ))
        .expect("gpu");
        assert_close(
            &common::conv::correlate_loops(x.view(), r.view(), &spec),
            &got,
            1e-5,
            &format!("correlation {s:?}"),
        );
        let y = conv::forward(x.view(), wt.view(), &spec);
        for (mode, compete) in every_mode() {
            let params = CompetitionParams {
                t_inv: 0.65,
                ..CompetitionParams::new(mode)
            };
            let want = cpu_step(&spec, &x, &wt, &y, &params, |_| Rates::Layer(0.1), false);
            let got = gpu_depthwise_step(&s, &x, &wt, &y, compete, Rate::Layer(0.1));
            assert_close(&want, &got, 1e-4, &format!("depthwise {mode:?} {s:?}"));
        }
    }
}

/// The temporal threshold's competition alone, several batches in a row from an uploaded history, the ring
/// wrapping past its window: r against `competition::temporal` after every batch, and the history brought
/// back equal to the CPU's, for a dense layer (units compete across 3 channels) and a depthwise one (across
/// positions); the printed code's squared winner in the second.
#[test]
fn the_temporal_threshold_keeps_its_history_as_the_cpu_does() {
    let Some(gpu) = common::gpu() else { return };
    // Even counts (4, then 8) take the lower of the two middle values, as torch.median.
    let window = 8;
    for (depthwise, top_one) in [(false, TopOne::Replace), (true, TopOne::Multiply)] {
        let c_out = if depthwise { 2 } else { 3 };
        let s = ConvShape {
            n: 3,
            c_in: 2,
            h: 6,
            w: 5,
            c_out,
            k: 3,
            stride: 1,
            pad: 1,
        };
        let (n, k, p) = (s.n, c_out, s.ho() * s.wo());
        let compete = Compete::Temporal {
            window,
            multiply: top_one == TopOne::Multiply,
        };
        // One sample already held, of the competition's view (depthwise: [P, C]).
        let mut cpu = CompetitionState {
            history: filled((1, k, p, 1), 70).iter().map(|v| v + 0.2).collect(),
            history_len: 1,
            ..CompetitionState::default()
        };
        let flat = |a: &Array4<f32>| a.iter().copied().collect::<Vec<f32>>();
        pollster::block_on(async {
            let (y_t, r_t, update) = if depthwise {
                let l = DepthwiseGpu::with(&gpu, s, false, Shared::default())
                    .await
                    .expect("layer");
                let u = UpdateGpu::depthwise(&gpu, &l, compete, Rate::Layer(0.1), false, None)
                    .await
                    .expect("update");
                (l.y, l.r, u)
            } else {
                let l = ConvGpu::new(&gpu, s).await.expect("layer");
                let u = UpdateGpu::new(&gpu, &l, compete, Rate::Layer(0.1), false, None)
                    .await
                    .expect("update");
                (l.y, l.r, u)
            };
            update.upload(&gpu, &cpu, 1.0).expect("memory");
            for step in 0..4u32 {
                let y = filled((n, k, s.ho(), s.wo()), 80 + step).mapv(|v| v + 0.1 * step as f32);
                gpu.write(&y_t, bytemuck::cast_slice(&flat(&y)));
                let mut rec = gpu.record();
                update.record_compete(&mut rec);
                rec.read(&r_t, r_t.bytes());
                let out = rec.submit().await.expect("submit");
                let got = Array4::from_shape_vec(y.dim(), bytemuck::pod_collect_to_vec(&out[0]))
                    .expect("shape");
                let y3 = y.view().into_shape_with_order((n, k, p)).expect("y");
                let want = if depthwise {
                    competition::temporal(y3.permuted_axes([0, 2, 1]), &mut cpu, window, top_one)
                        .permuted_axes([0, 2, 1])
                        .as_standard_layout()
                        .into_owned()
                } else {
                    competition::temporal(y3, &mut cpu, window, top_one)
                };
                let want = want.into_shape_with_order(y.dim()).expect("r");
                assert!(
                    want.iter().filter(|v| **v != 0.0).count() < n * p,
                    "the threshold leaves some places without a winner"
                );
                assert_close(
                    &want,
                    &got,
                    1e-6,
                    &format!("r, depthwise {depthwise}, step {step}"),
                );
            }
            let mut rec = gpu.record();
            update.record_reads(&mut rec);
            let mut reads = rec.submit().await.expect("read").into_iter();
            let mut back = CompetitionState::default();
            update.store(&mut reads, &mut back).expect("store");
            assert_eq!(back.history_len, window);
            assert_eq!(back.history, cpu.history, "depthwise {depthwise}");
        });
    }
}
