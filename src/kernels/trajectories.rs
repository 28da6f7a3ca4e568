//! A two-input neuron v = wᵀu learning by any rule of `crate::plasticity`, for many independent trajectories:
//! CPU twin and GPU dispatch of kernels/trajectories.wgsl. Trajectory i follows distribution i / trials with its
//! own input stream, one freshly drawn input per step.
use crate::engine::{Engine, Gpu, Kernel, Tensor};
use crate::error::{Error, Result};
use crate::plasticity::{self, Rule};
use crate::rng;
use ndarray::Array3;

/// A 2-D Gaussian as mean and lower Cholesky factor [l00, l10, l11] of its covariance.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Dist {
    pub mean: [f32; 2],
    pub l00: f32,
    pub l10: f32,
    pub l11: f32,
    _pad: f32,
}

impl Dist {
    pub fn new(mean: [f32; 2], chol: [f32; 3]) -> Self {
        Self {
            mean,
            l00: chol[0],
            l10: chol[1],
            l11: chol[2],
            _pad: 0.0,
        }
    }

    /// The input for standard normals z (same arithmetic as the kernel).
    pub fn sample(&self, z: [f32; 2]) -> [f32; 2] {
        [
            self.mean[0] + self.l00 * z[0],
            self.mean[1] + self.l10 * z[0] + self.l11 * z[1],
        ]
    }
}

/// Per-trajectory state carried between chunks (identical layout in WGSL).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Traj {
    pub w: [f32; 2],
    /// Running mean of u (covariance rule).
    pub ubar: [f32; 2],
    /// Sliding threshold, running mean of v² (BCM).
    pub theta: f32,
    /// Largest ‖w‖ after any update so far.
    pub max_norm: f32,
    /// Step at which ‖w‖ left the finite range, or `NOT_DIVERGED`.
    pub diverged_at: u32,
    _pad: u32,
}

pub const NOT_DIVERGED: u32 = u32::MAX;
/// Norm beyond which a trajectory counts as diverged (far below f32 overflow, so the state stays finite).
pub const DIVERGENCE_NORM: f32 = 1e30;

impl Traj {
    pub fn new(w: [f32; 2], theta: f32) -> Self {
        let n = libm::sqrtf(w[0] * w[0] + w[1] * w[1]);
        Self {
            w,
            ubar: [0.0; 2],
            theta,
            max_norm: n,
            diverged_at: NOT_DIVERGED,
            _pad: 0,
        }
    }
}

/// One chunk of work: `steps` updates from global step `start` for every trajectory.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Job {
    pub rule: u32,
    pub n_traj: u32,
    pub start: u32,
    pub steps: u32,
    pub record_every: u32,
    pub n_slots: u32,
    pub seed: u32,
    pub trials: u32,
    pub eta: f32,
    pub w_max: f32,
    pub tau: f32,
    _pad: f32,
}

impl Job {
    /// `start` must be a multiple of `record_every` so that record slots line up across chunks.
    pub fn new(
        rule: Rule,
        seed: u32,
        trials: u32,
        n_traj: u32,
        start: u32,
        steps: u32,
        record_every: u32,
    ) -> Self {
        let n_slots = (start + steps) / record_every - start / record_every;
        Self {
            rule: rule as u32,
            n_traj,
            start,
            steps,
            record_every,
            n_slots,
            seed,
            trials,
            eta: 0.0,
            w_max: f32::INFINITY,
            tau: 1.0,
            _pad: 0.0,
        }
    }

    pub fn with_rates(mut self, eta: f32, w_max: f32, tau: f32) -> Self {
        self.eta = eta;
        self.w_max = w_max;
        self.tau = tau;
        self
    }
}

pub fn source() -> String {
    format!(
        "{}\n{}",
        super::prelude::library(),
        include_str!("trajectories.wgsl")
    )
}

pub(crate) fn layouts() -> Vec<super::prelude::Layout> {
    use super::prelude::layout;
    vec![
        layout!(
            "trajectories",
            "Params",
            Job,
            rule,
            n_traj,
            start,
            steps,
            record_every,
            n_slots,
            seed,
            trials,
            eta,
            w_max,
            tau
        ),
        layout!("trajectories", "Dist", Dist, mean, l00, l10, l11),
        layout!(
            "trajectories",
            "Traj",
            Traj,
            w,
            ubar,
            theta,
            max_norm,
            diverged_at
        ),
    ]
}

/// CPU twin of `advance` in plasticity.wgsl. Returns the recorded w, shape (n_traj, n_slots, 2).
pub fn advance_cpu(job: &Job, dists: &[Dist], trajs: &mut [Traj]) -> Array3<f32> {
    let slots = job.n_slots as usize;
    let mut records = Array3::<f32>::zeros((trajs.len(), slots, 2));
    let first_slot = job.start / job.record_every;
    let rule = Rule::ALL[job.rule as usize];
    for (i, t) in trajs.iter_mut().enumerate() {
        let d = i as u32 / job.trials;
        let r = i as u32 % job.trials;
        let dist = dists[d as usize];
        let key = [job.seed, rng::stream(rng::Purpose::Inputs, d, r)];
        for k in 0..job.steps {
            let step = job.start + k;
            if t.diverged_at == NOT_DIVERGED {
                let x = rng::philox4x32([step, 0, 0, 0], key);
                let u = dist.sample(rng::normal_pair(x[0], x[1]));
                let v = t.w[0] * u[0] + t.w[1] * u[1];
                let dw = [
                    plasticity::delta(rule, v, u[0], t.w[0], t.ubar[0], t.theta),
                    plasticity::delta(rule, v, u[1], t.w[1], t.ubar[1], t.theta),
                ];
                let mut w_new = [t.w[0] + job.eta * dw[0], t.w[1] + job.eta * dw[1]];
                let mut n = libm::sqrtf(w_new[0] * w_new[0] + w_new[1] * w_new[1]);
                if rule == Rule::HebbClip {
                    n = plasticity::clip(&mut w_new, n, job.w_max);
                }
                // A diverged trajectory keeps its last finite state.
                if n.is_nan() || n > DIVERGENCE_NORM {
                    t.diverged_at = step;
                } else {
                    t.w = w_new;
                    t.ubar = [
                        t.ubar[0] + (u[0] - t.ubar[0]) / job.tau,
                        t.ubar[1] + (u[1] - t.ubar[1]) / job.tau,
                    ];
                    t.theta += (v * v - t.theta) / job.tau;
                    t.max_norm = t.max_norm.max(n);
                }
            }
            if (step + 1).is_multiple_of(job.record_every) {
                let slot = ((step + 1) / job.record_every - 1 - first_slot) as usize;
                records[[i, slot, 0]] = t.w[0];
                records[[i, slot, 1]] = t.w[1];
            }
        }
    }
    records
}

/// Trajectories kept on the GPU between chunks: the distributions, every trajectory's state and the record slots
/// of a chunk, with the kernel bound to them once per run. Tied to the device it was made on (`is_on`).
pub struct GpuTrajectories {
    device: wgpu::Device,
    n_traj: usize,
    params: Tensor,
    trajs: Tensor,
    records: Tensor,
    /// Record slots per trajectory that `records` holds.
    slots: u32,
    kernel: Kernel,
}

impl GpuTrajectories {
    /// Uploads the distributions and trajectories, with room for chunks of up to `slots` records each.
    pub async fn new(gpu: &Gpu, dists: &[Dist], trajs: &[Traj], slots: u32) -> Result<Self> {
        let slots = slots.max(1);
        let records_bytes = trajs.len() as u64 * u64::from(slots) * 8;
        gpu.check_size("the recorded trajectories of one frame", records_bytes)?;
        gpu.check_workgroups("the trajectories", trajs.len().div_ceil(64) as u32)?;
        let params = gpu.uniform_tensor("trajectory params", size_of::<Job>() as u64)?;
        let dists = gpu.tensor_from("distributions", bytemuck::cast_slice(dists))?;
        let trajs_t = gpu.tensor_from("trajectories", bytemuck::cast_slice(trajs))?;
        let records = gpu.tensor("records", records_bytes)?;
        let kernel = gpu
            .kernel(
                "trajectories",
                &source(),
                "advance",
                &[&params, &dists, &trajs_t, &records],
            )
            .await?;
        Ok(Self {
            device: gpu.device().clone(),
            n_traj: trajs.len(),
            params,
            trajs: trajs_t,
            records,
            slots,
            kernel,
        })
    }

    /// Whether these tensors live on `gpu`'s device and hold `n_traj` trajectories with room for `slots`.
    pub fn fits(&self, gpu: &Gpu, n_traj: usize, slots: u32) -> bool {
        self.device == *gpu.device() && self.n_traj == n_traj && slots <= self.slots
    }

    /// One chunk on the device: the trajectories advance there, and come back with the chunk's records in one
    /// submit (the frame needs both). On an error the device copy may be partly advanced: drop it.
    pub async fn advance(&self, gpu: &Gpu, job: &Job) -> Result<(Array3<f32>, Vec<Traj>)> {
        gpu.write(&self.params, bytemuck::bytes_of(job));
        let record_bytes = self.n_traj as u64 * u64::from(job.n_slots) * 8;
        let mut rec = gpu.record();
        rec.dispatch(&self.kernel, self.n_traj.div_ceil(64) as u32);
        rec.read(&self.trajs, self.trajs.bytes());
        if record_bytes > 0 {
            rec.read(&self.records, record_bytes);
        }
        let out = rec.submit().await?;
        let trajs: Vec<Traj> = bytemuck::pod_collect_to_vec(&out[0]);
        let flat: Vec<f32> = out
            .get(1)
            .map_or_else(Vec::new, |r| bytemuck::pod_collect_to_vec(r));
        let records = Array3::from_shape_vec((self.n_traj, job.n_slots as usize, 2), flat)
            .map_err(|e| Error::Gpu(format!("unexpected record layout: {e}")))?;
        Ok((records, trajs))
    }
}

/// One chunk on the GPU from scratch (tensors made for this call only); `trajs` is updated only when the
/// whole chunk succeeded.
pub async fn advance_gpu(
    gpu: &Gpu,
    job: &Job,
    dists: &[Dist],
    trajs: &mut [Traj],
) -> Result<Array3<f32>> {
    gpu.check_size("the trajectory state", std::mem::size_of_val(trajs) as u64)?;
    let device = GpuTrajectories::new(gpu, dists, trajs, job.n_slots).await?;
    let (records, new) = device.advance(gpu, job).await?;
    trajs.copy_from_slice(&new);
    Ok(records)
}

/// Runs a chunk on the active engine, keeping the trajectories on the GPU in `resident` between chunks (made on
/// first use, remade when the device or sizes changed). Failures follow `Engine::run`: the CPU redoes the chunk
/// from the unchanged `trajs`, and the notice tells the user.
pub async fn advance(
    engine: &mut Engine,
    job: &Job,
    dists: &[Dist],
    trajs: &mut [Traj],
    resident: &mut Option<GpuTrajectories>,
) -> Result<(Array3<f32>, Option<String>)> {
    engine
        .run(
            &mut (trajs, resident),
            async |gpu, (trajs, resident)| {
                let device = match resident.take() {
                    Some(d) if d.fits(gpu, trajs.len(), job.n_slots) => d,
                    _ => GpuTrajectories::new(gpu, dists, trajs, job.n_slots).await?,
                };
                let (records, new) = device.advance(gpu, job).await?;
                trajs.copy_from_slice(&new);
                **resident = Some(device);
                Ok(records)
            },
            |(trajs, _)| Ok(advance_cpu(job, dists, trajs)),
        )
        .await
}
