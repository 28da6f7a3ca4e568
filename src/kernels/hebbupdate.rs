//! The Hebbian update of a convolution layer on the GPU (kernels/hebbupdate.wgsl), after the competition modes
//! of `plasticity::competition` (its CPU twin): competition across channels at every position (none, hard-WTA,
//! SoftHebb's soft-WTA, anti-hard), the decay coefficients, Δw_k = Σ r·x − c_k·w_k from the layer's correlation
//! (kernels/hebbconv), the global max-abs normalisation and the step with a layer rate or SoftHebb's per-neuron
//! rates, optionally under Dale's principle.
//!
//! [`UpdateGpu`] binds a [`ConvGpu`]'s resident tensors once; a training step records
//! `record_compete`, the layer's `record_correlate`, then `record_step`, all in one submit. A depthwise layer
//! ([`DepthwiseGpu`]) binds the same way, its units competing over the positions of each channel rather than
//! across channels at each position (notes §1.14).
use super::hebbconv::ConvGpu;
use super::hebbdepthwise::DepthwiseGpu;
use crate::engine::{Gpu, Kernel, Recorder, Tensor};
use crate::error::Result;

const WG: usize = 256;

/// Competition across channels at each position, as `plasticity::competition::Competition`'s per-position modes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Compete {
    /// r = y, c_k = Σ r (Grossberg instar).
    None,
    /// r = y at the argmax channel, 0 elsewhere; c_k = Σ r.
    HardWta,
    /// r = ±softmax(t_inv·y) (+ for the argmax), c_k = Σ r·y (SoftHebb).
    SoftWta { t_inv: f32 },
    /// r = ±y (+ for the argmax), c_k = Σ r·y.
    AntiHard,
}

/// The step's learning rate: one for the layer, or SoftHebb's lr0·(|‖w_k‖ − 1| + 1e-10)^power per neuron.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rate {
    Layer(f32),
    SoftHebb { lr0: f32, power: f32 },
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct UpdateParams {
    n: u32,
    k: u32,
    p: u32,
    f: u32,
    mode: u32,
    t_inv: f32,
    lr: f32,
    power: f32,
    per_neuron: u32,
    dale: u32,
    partials: u32,
    _pad: u32,
}

pub fn source() -> String {
    include_str!("hebbupdate.wgsl").to_string()
}

pub(crate) fn layouts() -> Vec<super::prelude::Layout> {
    vec![super::prelude::layout!(
        "hebbupdate",
        "UpdateParams",
        UpdateParams,
        n,
        k,
        p,
        f,
        mode,
        t_inv,
        lr,
        power,
        per_neuron,
        dale,
        partials
    )]
}

/// One layer's update kernels and scratch tensors, bound to its [`ConvGpu`] once per run.
pub struct UpdateGpu {
    compete: Kernel,
    decay_sums: Kernel,
    combine: Kernel,
    reduce_max: Kernel,
    filter_rates: Kernel,
    step: Kernel,
    groups: UpdateGroups,
    /// Per-neuron rates of the last step (for the page's plots of SoftHebb's convergence).
    pub rates: Tensor,
    _scratch: [Tensor; 5],
}

struct UpdateGroups {
    /// Of the competition: one invocation per competing group of units.
    compete: u32,
    channels: u32,
    weights: u32,
}

/// The layer tensors an update reads and writes, and their sizes: y and r [N, K, P], the correlation and w
/// [K, F].
struct Target<'a> {
    y: &'a Tensor,
    r: &'a Tensor,
    correlation: &'a Tensor,
    w: &'a Tensor,
    n: usize,
    k: usize,
    p: usize,
    f: usize,
    /// Units compete over the P positions of each (n, k) (depthwise) instead of over the K channels of each
    /// (n, p).
    over_positions: bool,
}

impl UpdateGpu {
    /// The update of a convolution: competition across channels at every position.
    pub async fn new(
        gpu: &Gpu,
        layer: &ConvGpu,
        compete: Compete,
        rate: Rate,
        dale: bool,
    ) -> Result<Self> {
        let s = layer.shape;
        let target = Target {
            y: &layer.y,
            r: &layer.r,
            correlation: &layer.correlation,
            w: &layer.w,
            n: s.n,
            k: s.c_out,
            p: s.ho() * s.wo(),
            f: s.filter_len(),
            over_positions: false,
        };
        Self::bind(gpu, target, compete, rate, dale).await
    }

    /// The update of a depthwise layer: competition over the positions of each channel (hebb_depthwise.py,
    /// notes §1.14); the decay coefficients, Δw and the step stay per channel.
    pub async fn depthwise(
        gpu: &Gpu,
        layer: &DepthwiseGpu,
        compete: Compete,
        rate: Rate,
        dale: bool,
    ) -> Result<Self> {
        let s = layer.shape;
        let target = Target {
            y: &layer.y,
            r: &layer.r,
            correlation: &layer.correlation,
            w: &layer.w,
            n: s.n,
            k: s.c_in,
            p: s.ho() * s.wo(),
            f: s.k * s.k,
            over_positions: true,
        };
        Self::bind(gpu, target, compete, rate, dale).await
    }

    async fn bind(
        gpu: &Gpu,
        layer: Target<'_>,
        compete: Compete,
        rate: Rate,
        dale: bool,
    ) -> Result<Self> {
        let (n, k, p, f) = (layer.n, layer.k, layer.p, layer.f);
        let weights = k * f;
        let partials = weights.div_ceil(WG);
        let (mode, t_inv) = match compete {
            Compete::None => (0, 1.0),
            Compete::HardWta => (1, 1.0),
            Compete::SoftWta { t_inv } => (2, t_inv),
            Compete::AntiHard => (3, 1.0),
        };
        let (lr, power, per_neuron) = match rate {
            Rate::Layer(lr) => (lr, 0.0, 0),
            Rate::SoftHebb { lr0, power } => (lr0, power, 1),
        };
        let params = UpdateParams {
            n: n as u32,
            k: k as u32,
            p: p as u32,
            f: f as u32,
            mode,
            t_inv,
            lr,
            power,
            per_neuron,
            dale: u32::from(dale),
            partials: partials as u32,
            _pad: 0,
        };
        let uniform = gpu.uniform_tensor("update parameters", size_of::<UpdateParams>() as u64)?;
        gpu.write(&uniform, bytemuck::bytes_of(&params));
        let f32s = |len: usize| (len * 4) as u64;
        let ru = gpu.tensor("decay terms", f32s(n * k * p))?;
        let c = gpu.tensor("decay coefficients", f32s(k))?;
        let dw = gpu.tensor("weight update", f32s(weights))?;
        let maxima = gpu.tensor("largest updates", f32s(partials))?;
        let rates = gpu.tensor("learning rates", f32s(k))?;
        let src = source();
        let (name, entry, groups) = if layer.over_positions {
            ("hebbupdate_compete_positions", "compete_positions", n * k)
        } else {
            ("hebbupdate_compete", "compete", n * p)
        };
        let compete = gpu
            .kernel_at(
                name,
                &src,
                entry,
                &[(0, &uniform), (1, layer.y), (2, layer.r), (3, &ru)],
            )
            .await?;
        let decay_sums = gpu
            .kernel_at(
                "hebbupdate_decay_sums",
                &src,
                "decay_sums",
                &[(0, &uniform), (3, &ru), (4, &c)],
            )
            .await?;
        let combine = gpu
            .kernel_at(
                "hebbupdate_combine",
                &src,
                "combine",
                &[
                    (0, &uniform),
                    (4, &c),
                    (5, layer.correlation),
                    (6, layer.w),
                    (7, &dw),
                    (8, &maxima),
                ],
            )
            .await?;
        let reduce_max = gpu
            .kernel_at(
                "hebbupdate_reduce_max",
                &src,
                "reduce_max",
                &[(0, &uniform), (8, &maxima)],
            )
            .await?;
        let filter_rates = gpu
            .kernel_at(
                "hebbupdate_filter_rates",
                &src,
                "filter_rates",
                &[(0, &uniform), (6, layer.w), (9, &rates)],
            )
            .await?;
        let step = gpu
            .kernel_at(
                "hebbupdate_step",
                &src,
                "step",
                &[
                    (0, &uniform),
                    (6, layer.w),
                    (7, &dw),
                    (8, &maxima),
                    (9, &rates),
                ],
            )
            .await?;
        let groups = UpdateGroups {
            compete: groups.div_ceil(WG) as u32,
            channels: k as u32,
            weights: partials as u32,
        };
        for (what, g) in [
            ("competition", groups.compete),
            ("per-channel sums", groups.channels),
            ("weight update", groups.weights),
        ] {
            gpu.check_workgroups(&format!("the layer's {what}"), g)?;
        }
        Ok(Self {
            compete,
            decay_sums,
            combine,
            reduce_max,
            filter_rates,
            step,
            groups,
            rates,
            _scratch: [uniform, ru, c, dw, maxima],
        })
    }

    /// r (and the decay terms) from the layer's output y.
    pub fn record_compete(&self, rec: &mut Recorder<'_>) {
        rec.dispatch(&self.compete, self.groups.compete);
    }

    /// After the layer's correlation of r: Δw, its normalisation and the step on the layer's weights.
    pub fn record_step(&self, rec: &mut Recorder<'_>) {
        rec.dispatch(&self.decay_sums, self.groups.channels);
        rec.dispatch(&self.combine, self.groups.weights);
        rec.dispatch(&self.reduce_max, 1);
        rec.dispatch(&self.filter_rates, self.groups.channels);
        rec.dispatch(&self.step, self.groups.weights);
    }
}
