//! The Hebbian update of a convolution layer on the GPU (kernels/hebbupdate.wgsl), after the competition modes
//! of `plasticity::competition` (its CPU twin): competition across channels at every position (none, hard-WTA,
//! SoftHebb's soft-WTA, anti-hard, BCM, the temporal and the statistical thresholds), the decay coefficients,
//! Δw_k = Σ r·x − c_k·w_k from the layer's correlation (kernels/hebbconv), the global max-abs normalisation and
//! the step with a layer rate or SoftHebb's per-neuron rates, optionally under Dale's principle.
//!
//! [`UpdateGpu`] binds a [`ConvGpu`]'s resident tensors once; a training step records
//! `record_compete`, the layer's `record_correlate`, then `record_step`, all in one submit. A depthwise layer
//! ([`DepthwiseGpu`]) binds the same way, its units competing over the positions of each channel rather than
//! across channels at each position (notes §1.14). What a competition remembers between batches (BCM's θ, the
//! temporal threshold's history) stays on the device too: [`UpdateGpu::upload`] puts a CPU layer's memory
//! there, [`UpdateGpu::record_reads`] and [`UpdateGpu::store`] bring it back.
use super::hebbconv::ConvGpu;
use super::hebbdepthwise::DepthwiseGpu;
use crate::engine::{Gpu, Kernel, Recorder, Tensor};
use crate::error::{Error, Result};
use crate::plasticity::competition::CompetitionState;
use ndarray::Array1;

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
    /// Hard-WTA, then BCM: θ_k ← (1 − decay)·θ_k + decay·mean_{n,p} r², r ← r·(r − θ_k); c_k = 0.
    Bcm { decay: f32 },
    /// y ⊙ 1[y > τ_q], τ_q the mean over the competing units of each one's median over the last `window`
    /// samples, then top-1 (the winner squared when `multiply`); c_k = Σ r.
    Temporal { window: usize, multiply: bool },
    /// sim = conv(x, w)/‖w_k‖ (the convolution with the stored weights comes in as the layer's similarity
    /// tensor), sim ⊙ 1[sim > mean + c·std over the competing units], then top-1; c_k = Σ r.
    Statistical { c: f32, multiply: bool },
}

impl Compete {
    /// The kernels' mode number (COMPETE_* in hebbupdate.wgsl).
    fn mode(self) -> u32 {
        match self {
            Compete::None => 0,
            Compete::HardWta => 1,
            Compete::SoftWta { .. } => 2,
            Compete::AntiHard => 3,
            Compete::Bcm { .. } => 4,
            Compete::Temporal { .. } => 5,
            Compete::Statistical { .. } => 6,
        }
    }
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
    bcm_decay: f32,
    stats_c: f32,
    multiply: u32,
    window: u32,
    over_positions: u32,
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
        partials,
        bcm_decay,
        stats_c,
        multiply,
        window,
        over_positions
    )]
}

/// One layer's update kernels and scratch tensors, bound to its [`ConvGpu`] once per run.
pub struct UpdateGpu {
    /// Kernels run before `compete` (the similarity, the temporal thresholds) and after it (BCM).
    before: Vec<(Kernel, u32)>,
    compete: Kernel,
    after: Vec<(Kernel, u32)>,
    memory: Memory,
    decay_sums: Kernel,
    combine: Kernel,
    reduce_max: Kernel,
    filter_rates: Kernel,
    step: Kernel,
    groups: UpdateGroups,
    /// Per-neuron rates of the last step (for the page's plots of SoftHebb's convergence).
    pub rates: Tensor,
    _scratch: Vec<Tensor>,
}

struct UpdateGroups {
    /// Of the competition: one invocation per competing group of units.
    compete: u32,
    channels: u32,
    weights: u32,
}

/// What a competition remembers between batches, on the device.
enum Memory {
    None,
    /// BCM's θ [K].
    Theta(Tensor),
    /// The temporal threshold's ring of view samples [window, K·P] and its counters [held, next slot].
    History {
        ring: Tensor,
        counters: Tensor,
        window: usize,
        per: usize,
    },
}

/// hebbupdate.wgsl for one layer: every entry point takes the layer's parameters at binding 0.
struct Module<'a> {
    gpu: &'a Gpu,
    src: String,
    uniform: &'a Tensor,
}

impl Module<'_> {
    /// `entry` with the parameters and `bound` at their bindings.
    async fn entry(
        &self,
        name: &'static str,
        entry: &str,
        bound: &[(u32, &Tensor)],
    ) -> Result<Kernel> {
        let mut all = vec![(0, self.uniform)];
        all.extend_from_slice(bound);
        self.gpu.kernel_at(name, &self.src, entry, &all).await
    }
}

/// The layer tensors an update reads and writes, and their sizes: y and r [N, K, P], the correlation and w
/// [K, F]; the statistical threshold's conv(x, w) [N, K, P].
struct Target<'a> {
    y: &'a Tensor,
    similarity: Option<&'a Tensor>,
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
    /// The update of a convolution: competition across channels at every position. `similarity` is the
    /// statistical threshold's conv(x, w) with the stored weights (that mode only).
    pub async fn new(
        gpu: &Gpu,
        layer: &ConvGpu,
        compete: Compete,
        rate: Rate,
        dale: bool,
        similarity: Option<&Tensor>,
    ) -> Result<Self> {
        let s = layer.shape;
        let target = Target {
            y: &layer.y,
            similarity,
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
        similarity: Option<&Tensor>,
    ) -> Result<Self> {
        let s = layer.shape;
        let target = Target {
            y: &layer.y,
            similarity,
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
        let per = k * p;
        let (t_inv, bcm_decay, stats_c, multiply, window) = match compete {
            Compete::SoftWta { t_inv } => (t_inv, 0.0, 0.0, false, 1),
            Compete::Bcm { decay } => (1.0, decay, 0.0, false, 1),
            Compete::Temporal { window, multiply } => (1.0, 0.0, 0.0, multiply, window.max(1)),
            Compete::Statistical { c, multiply } => (1.0, 0.0, c, multiply, 1),
            Compete::None | Compete::HardWta | Compete::AntiHard => (1.0, 0.0, 0.0, false, 1),
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
            mode: compete.mode(),
            t_inv,
            lr,
            power,
            per_neuron,
            dale: u32::from(dale),
            partials: partials as u32,
            bcm_decay,
            stats_c,
            multiply: u32::from(multiply),
            window: u32::try_from(window)
                .map_err(|_| Error::Gpu(format!("a history of {window} samples")))?,
            over_positions: u32::from(layer.over_positions),
        };
        let uniform = gpu.uniform_tensor("update parameters", size_of::<UpdateParams>() as u64)?;
        gpu.write(&uniform, bytemuck::bytes_of(&params));
        let f32s = |len: usize| (len * 4) as u64;
        let ru = gpu.tensor("decay terms", f32s(n * k * p))?;
        let c = gpu.tensor("decay coefficients", f32s(k))?;
        let dw = gpu.tensor("weight update", f32s(weights))?;
        let maxima = gpu.tensor("largest updates", f32s(partials))?;
        let rates = gpu.tensor("learning rates", f32s(k))?;
        // The temporal threshold's medians and per-place thresholds; one unused value otherwise (the
        // competition kernel binds it in every mode).
        let places = if layer.over_positions { k } else { p };
        let thresholds_len = match compete {
            Compete::Temporal { .. } => per + places,
            _ => 1,
        };
        let thresholds = gpu.tensor("temporal thresholds", f32s(thresholds_len))?;
        let module = Module {
            gpu,
            src: source(),
            uniform: &uniform,
        };
        let elementwise = |len: usize| len.div_ceil(WG) as u32;
        let mut before = Vec::new();
        let mut after = Vec::new();
        let mut held = vec![uniform.share(), ru.share(), c.share(), dw.share()];
        held.extend([maxima.share(), thresholds.share()]);
        // The values units compete with: y, or the statistical threshold's similarity.
        let mut values = layer.y;
        let memory = match compete {
            Compete::Bcm { .. } => {
                let theta = gpu.tensor("BCM thresholds", f32s(k))?;
                let bcm = module
                    .entry("hebbupdate_bcm", "bcm", &[(2, layer.r), (10, &theta)])
                    .await?;
                after.push((bcm, k as u32));
                Memory::Theta(theta)
            }
            Compete::Temporal { .. } => {
                let ring = gpu.tensor("temporal history", f32s(window * per))?;
                let counters = gpu.tensor("temporal history counters", 8)?;
                let append = module
                    .entry(
                        "hebbupdate_temporal_append",
                        "temporal_append",
                        &[(1, layer.y), (11, &ring), (12, &counters)],
                    )
                    .await?;
                let advance = module
                    .entry(
                        "hebbupdate_temporal_advance",
                        "temporal_advance",
                        &[(12, &counters)],
                    )
                    .await?;
                let median = module
                    .entry(
                        "hebbupdate_temporal_median",
                        "temporal_median",
                        &[(11, &ring), (12, &counters), (13, &thresholds)],
                    )
                    .await?;
                let threshold = module
                    .entry(
                        "hebbupdate_temporal_threshold",
                        "temporal_threshold",
                        &[(13, &thresholds)],
                    )
                    .await?;
                before.push((append, elementwise(n.min(window) * per)));
                before.push((advance, 1));
                before.push((median, elementwise(per)));
                before.push((threshold, elementwise(places)));
                Memory::History {
                    ring,
                    counters,
                    window,
                    per,
                }
            }
            Compete::Statistical { .. } => {
                let sim = layer.similarity.ok_or_else(|| {
                    Error::Gpu(
                        "the statistical threshold needs the layer's similarity tensor".into(),
                    )
                })?;
                let norms = gpu.tensor("filter norms", f32s(k))?;
                let filter_norms = module
                    .entry(
                        "hebbupdate_filter_norms",
                        "filter_norms",
                        &[(6, layer.w), (15, &norms)],
                    )
                    .await?;
                let similarity = module
                    .entry(
                        "hebbupdate_similarity",
                        "similarity",
                        &[(14, sim), (15, &norms)],
                    )
                    .await?;
                before.push((filter_norms, k as u32));
                before.push((similarity, elementwise(n * k * p)));
                held.push(norms);
                values = sim;
                Memory::None
            }
            Compete::None | Compete::HardWta | Compete::SoftWta { .. } | Compete::AntiHard => {
                Memory::None
            }
        };
        let (name, entry, groups) = if layer.over_positions {
            ("hebbupdate_compete_positions", "compete_positions", n * k)
        } else {
            ("hebbupdate_compete", "compete", n * p)
        };
        let compete = module
            .entry(
                name,
                entry,
                &[(1, values), (2, layer.r), (3, &ru), (13, &thresholds)],
            )
            .await?;
        let decay_sums = module
            .entry("hebbupdate_decay_sums", "decay_sums", &[(3, &ru), (4, &c)])
            .await?;
        let combine = module
            .entry(
                "hebbupdate_combine",
                "combine",
                &[
                    (4, &c),
                    (5, layer.correlation),
                    (6, layer.w),
                    (7, &dw),
                    (8, &maxima),
                ],
            )
            .await?;
        let reduce_max = module
            .entry("hebbupdate_reduce_max", "reduce_max", &[(8, &maxima)])
            .await?;
        let filter_rates = module
            .entry(
                "hebbupdate_filter_rates",
                "filter_rates",
                &[(6, layer.w), (9, &rates)],
            )
            .await?;
        let step = module
            .entry(
                "hebbupdate_step",
                "step",
                &[(6, layer.w), (7, &dw), (8, &maxima), (9, &rates)],
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
        ]
        .into_iter()
        .chain(
            before
                .iter()
                .chain(&after)
                .map(|(_, g)| ("competition", *g)),
        ) {
            gpu.check_workgroups(&format!("the layer's {what}"), g)?;
        }
        Ok(Self {
            before,
            compete,
            after,
            memory,
            decay_sums,
            combine,
            reduce_max,
            filter_rates,
            step,
            groups,
            rates,
            _scratch: held,
        })
    }

    /// r (and the decay terms) from the layer's output y (the statistical threshold: from its similarity,
    /// which the layer's forward pass with the stored weights has just written).
    pub fn record_compete(&self, rec: &mut Recorder<'_>) {
        for (k, g) in &self.before {
            rec.dispatch(k, *g);
        }
        rec.dispatch(&self.compete, self.groups.compete);
        for (k, g) in &self.after {
            rec.dispatch(k, *g);
        }
    }

    /// After the layer's correlation of r: Δw, its normalisation and the step on the layer's weights.
    pub fn record_step(&self, rec: &mut Recorder<'_>) {
        rec.dispatch(&self.decay_sums, self.groups.channels);
        rec.dispatch(&self.combine, self.groups.weights);
        rec.dispatch(&self.reduce_max, 1);
        rec.dispatch(&self.filter_rates, self.groups.channels);
        rec.dispatch(&self.step, self.groups.weights);
    }

    /// Puts a CPU layer's competition memory on the device: BCM's θ (`theta0` everywhere when it has none
    /// yet), the temporal history (its last `window` samples, oldest in slot 0).
    pub fn upload(&self, gpu: &Gpu, state: &CompetitionState, theta0: f32) -> Result<()> {
        match &self.memory {
            Memory::None => {}
            Memory::Theta(theta) => {
                let k = (theta.bytes() / 4) as usize;
                let values = match &state.theta {
                    Some(t) if t.len() == k => t.to_vec(),
                    Some(t) => {
                        return Err(Error::Data(format!(
                            "BCM thresholds for {} neurons, not {k}",
                            t.len()
                        )));
                    }
                    None => vec![theta0; k],
                };
                gpu.write(theta, bytemuck::cast_slice(&values));
            }
            Memory::History {
                ring,
                counters,
                window,
                per,
                ..
            } => {
                // A history of another shape is forgotten, as the CPU does.
                let held = if state.history.len() == state.history_len * per {
                    state.history_len.min(*window)
                } else {
                    0
                };
                let start = (state.history_len - held) * per;
                gpu.write(
                    ring,
                    bytemuck::cast_slice(&state.history[start..start + held * per]),
                );
                let next = (held % window) as u32;
                gpu.write(counters, bytemuck::cast_slice(&[held as u32, next]));
            }
        }
        Ok(())
    }

    /// Queues reads of the competition memory (none, θ, or the history's counters and ring) for [`Self::store`].
    pub fn record_reads(&self, rec: &mut Recorder<'_>) {
        match &self.memory {
            Memory::None => {}
            Memory::Theta(theta) => rec.read(theta, theta.bytes()),
            Memory::History { ring, counters, .. } => {
                rec.read(counters, counters.bytes());
                rec.read(ring, ring.bytes());
            }
        }
    }

    /// The memory read by [`Self::record_reads`] into a CPU layer's state (the history oldest first).
    pub fn store(
        &self,
        reads: &mut impl Iterator<Item = Vec<u8>>,
        state: &mut CompetitionState,
    ) -> Result<()> {
        let mut next = || {
            reads
                .next()
                .ok_or_else(|| Error::Gpu("a competition memory read is missing".into()))
        };
        match &self.memory {
            Memory::None => {}
            Memory::Theta(_) => {
                let theta: Vec<f32> = bytemuck::pod_collect_to_vec(&next()?);
                state.theta = Some(Array1::from(theta));
            }
            Memory::History { window, per, .. } => {
                let counters: Vec<u32> = bytemuck::pod_collect_to_vec(&next()?);
                let ring: Vec<f32> = bytemuck::pod_collect_to_vec(&next()?);
                let (held, slot) = match counters[..] {
                    [held, slot] if held as usize <= *window && (slot as usize) < *window => {
                        (held as usize, slot as usize)
                    }
                    _ => return Err(Error::Gpu(format!("history counters {counters:?}"))),
                };
                // Until the ring is full its samples sit in slots 0..held in order; then the oldest is the
                // one the next sample replaces.
                let first = if held == *window { slot } else { 0 };
                state.history = (0..held)
                    .flat_map(|t| {
                        let s = (first + t) % window;
                        ring[s * per..(s + 1) * per].iter().copied()
                    })
                    .collect();
                state.history_len = held;
            }
        }
        Ok(())
    }
}
