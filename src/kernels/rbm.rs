//! RBM training on the GPU (kernels/rbm.wgsl) with the weights, biases, momentum and persistent chains resident
//! between updates. CPU twin: `nets::rbm::Trainer::update`, checked by tests/rbm_gpu.rs natively and in Chromium.
//!
//! One update is one submit: the batch is written (and, for CD or the first PCD update, copied to the chains),
//! then k Gibbs sweeps, the probabilities of the hidden units for the batch and the chains, the loss, and the
//! steps of W and the biases are recorded. The Bernoulli draws come from the CPU's counters, so both engines draw
//! the same uniforms; a unit can still come out differently where its probability lies within float rounding
//! of its uniform (the two sum their products in different orders), after which the chains part ways.
use crate::engine::{Gpu, Kernel, Recorder, Tensor, f32_bytes};
use crate::error::{Error, Result};
use crate::nets::rbm::{Rbm, Trainer};
use ndarray::{Array1, Array2, ArrayView2};

/// Invocations per workgroup, as in rbm.wgsl.
const WG: usize = 64;
/// The most workgroups a kernel is dispatched over (they loop with a grid stride).
const MAX_GROUPS: usize = 4096;

#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Dims {
    offset: u32,
    which: u32,
    visible: u32,
    hidden: u32,
    lr: f32,
    momentum: f32,
    decay: f32,
    mean_field: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Update {
    rows: u32,
    chains: u32,
    seed: u32,
    stream: u32,
    step: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

pub fn source() -> String {
    format!(
        "{}\n{}",
        super::prelude::library(),
        include_str!("rbm.wgsl")
    )
}

pub(crate) fn layouts() -> Vec<super::prelude::Layout> {
    vec![
        super::prelude::layout!(
            "rbm", "Dims", Dims, offset, which, visible, hidden, lr, momentum, decay, mean_field
        ),
        super::prelude::layout!("rbm", "Update", Update, rows, chains, seed, stream, step),
    ]
}

fn groups_for(total: usize) -> u32 {
    total.div_ceil(WG).clamp(1, MAX_GROUPS) as u32
}

/// An RBM and its trainer's state on the device, for batches of up to `batch` rows.
pub struct RbmGpu {
    visible: usize,
    hidden: usize,
    batch: usize,
    persistent: bool,
    k: u32,
    update: Tensor,
    x: Tensor,
    w: Tensor,
    b: Tensor,
    c: Tensor,
    v: Tensor,
    vel: Tensor,
    stats: Tensor,
    /// The persistent chains' rows once they have started (the first batch's), else None.
    chains: Option<usize>,
    /// The trainer's step (sweeps drawn) and draws, carried here between downloads.
    step: u32,
    seed: u32,
    stream: u32,
    kernels: Vec<(Kernel, u32)>,
    _held: Vec<Tensor>,
}

impl RbmGpu {
    /// Uploads `rbm` and `trainer`'s state (velocities, chains, step) and binds one update's kernels. Refuses sizes
    /// over the device's limits.
    pub async fn new(gpu: &Gpu, rbm: &Rbm, trainer: &Trainer, batch: usize) -> Result<Self> {
        let (visible, hidden) = (rbm.visible(), rbm.hidden());
        let chains = trainer.chains.as_ref().map(|c| c.nrows());
        let rows = batch.max(chains.unwrap_or(0));
        if batch == 0 || visible == 0 || hidden == 0 || trainer.config.k == 0 {
            return Err(Error::Gpu(format!(
                "an RBM of {visible} × {hidden} for batches of {batch} with {} sweeps",
                trainer.config.k
            )));
        }
        for (what, values) in [
            ("the batch", rows * visible),
            ("the weights", visible * hidden),
            ("the hidden states", rows * hidden),
        ] {
            gpu.check_values(what, values)?;
        }
        let vec2 = |a: &Array2<f32>| a.as_standard_layout().iter().copied().collect::<Vec<f32>>();
        let upload = |what: &str, data: &[f32]| gpu.tensor_from(what, bytemuck::cast_slice(data));
        let zeros = |what: &str, n: usize| gpu.tensor(what, f32_bytes(n));
        let update = gpu.uniform_tensor("RBM update", size_of::<Update>() as u64)?;
        let x = zeros("batch", rows * visible)?;
        let w = upload("RBM weights", &vec2(&rbm.w))?;
        let b = upload("visible biases", &rbm.b.to_vec())?;
        let c = upload("hidden biases", &rbm.c.to_vec())?;
        let v = match &trainer.chains {
            Some(ch) => upload("chains' visible states", &vec2(ch))?,
            None => zeros("chains' visible states", rows * visible)?,
        };
        let h = zeros("chains' hidden states", rows * hidden)?;
        let ph = zeros("the batch's hidden probabilities", rows * hidden)?;
        let qh = zeros("the chains' hidden probabilities", rows * hidden)?;
        let velocity: Vec<f32> = trainer
            .velocity
            .w
            .iter()
            .chain(&trainer.velocity.b)
            .chain(&trainer.velocity.c)
            .copied()
            .collect();
        let vel = upload("velocities", &velocity)?;
        let stats = zeros("loss and updates", 2)?;

        let src = source();
        let cfg = trainer.config;
        let base = Dims {
            visible: visible as u32,
            hidden: hidden as u32,
            lr: cfg.learning_rate,
            momentum: cfg.momentum,
            decay: cfg.weight_decay,
            mean_field: u32::from(cfg.persistent),
            ..Dims::default()
        };
        let mut held = Vec::new();
        let mut kernels = Vec::new();
        let all: [(u32, &Tensor); 11] = [
            (1, &update),
            (2, &w),
            (3, &b),
            (4, &c),
            (5, &x),
            (6, &v),
            (7, &h),
            (8, &ph),
            (9, &qh),
            (10, &vel),
            (11, &stats),
        ];
        // Each entry point is bound to what it uses (WebGPU allows 8 storage buffers per stage).
        // (entry point, pipeline name, bindings).
        let uses: &[(&str, &'static str, &[u32])] = &[
            ("sample_hidden", "rbm_sample_hidden", &[1, 2, 4, 6, 7]),
            ("sample_visible", "rbm_sample_visible", &[1, 2, 3, 6, 7]),
            ("hidden_probs", "rbm_hidden_probs", &[1, 2, 4, 5, 6, 8, 9]),
            ("loss", "rbm_loss", &[1, 2, 3, 5, 6, 8, 11]),
            ("update_w", "rbm_update_w", &[1, 2, 5, 6, 8, 9, 10]),
            (
                "update_biases",
                "rbm_update_biases",
                &[1, 3, 4, 5, 6, 8, 9, 10],
            ),
        ];
        // The update in order: k sweeps, the hidden probabilities of the batch and the chains, the loss (with the
        // weights before the step), then the steps.
        let mut plan: Vec<(&str, Dims, u32)> = Vec::new();
        for s in 0..cfg.k {
            let sweep = Dims { offset: s, ..base };
            plan.push(("sample_hidden", sweep, groups_for(rows * hidden)));
            plan.push(("sample_visible", sweep, groups_for(rows * visible)));
        }
        for which in [0, 1] {
            plan.push((
                "hidden_probs",
                Dims { which, ..base },
                groups_for(rows * hidden),
            ));
        }
        plan.push(("loss", base, 1));
        plan.push(("update_w", base, groups_for(visible * hidden)));
        plan.push(("update_biases", base, groups_for(visible + hidden)));
        for (entry, dims, groups) in plan {
            let (_, name, used) = uses
                .iter()
                .find(|(e, _, _)| *e == entry)
                .expect("every entry point lists its bindings");
            let d = gpu.uniform_tensor("RBM dimensions", size_of::<Dims>() as u64)?;
            gpu.write(&d, bytemuck::bytes_of(&dims));
            let mut bind: Vec<(u32, &Tensor)> = vec![(0, &d)];
            bind.extend(all.iter().filter(|(i, _)| used.contains(i)).copied());
            kernels.push((gpu.kernel_at(name, &src, entry, &bind).await?, groups));
            held.push(d);
        }
        held.extend([h, ph, qh]);
        Ok(Self {
            visible,
            hidden,
            batch,
            persistent: cfg.persistent,
            k: cfg.k,
            update,
            x,
            w,
            b,
            c,
            v,
            vel,
            stats,
            chains,
            step: trainer.step,
            seed: trainer.draws.seed,
            stream: trainer.draws.stream,
            kernels,
            _held: held,
        })
    }

    /// One update on a minibatch [rows ≤ batch, visible] of binary values, as `Trainer::update`.
    pub async fn train(&mut self, gpu: &Gpu, batch: ArrayView2<'_, f32>) -> Result<()> {
        let rows = batch.nrows();
        if rows == 0 || rows > self.batch || batch.ncols() != self.visible {
            return Err(Error::Gpu(format!(
                "a batch of {rows} × {} for an RBM of {} visible units and batches of {}",
                batch.ncols(),
                self.visible,
                self.batch
            )));
        }
        let data = batch.as_standard_layout();
        let bytes = bytemuck::cast_slice(data.as_slice().expect("standard"));
        gpu.write(&self.x, bytes);
        // CD starts its chains at the batch; PCD at its first batch, then carries them on.
        let chains = match (self.persistent, self.chains) {
            (true, Some(m)) => m,
            _ => {
                gpu.write(&self.v, bytes);
                if self.persistent {
                    self.chains = Some(rows);
                }
                rows
            }
        };
        let u = Update {
            rows: rows as u32,
            chains: chains as u32,
            seed: self.seed,
            stream: self.stream,
            step: self.step,
            ..Update::default()
        };
        gpu.write(&self.update, bytemuck::bytes_of(&u));
        let mut rec = gpu.record();
        self.record(&mut rec);
        rec.submit().await?;
        self.step = self.step.wrapping_add(self.k);
        Ok(())
    }

    fn record(&self, rec: &mut Recorder<'_>) {
        for (kernel, groups) in &self.kernels {
            rec.dispatch(kernel, *groups);
        }
    }

    /// Reads the model into `rbm` and the trainer's state (velocities, chains, step) into `trainer`; returns the
    /// loss sum and the number of updates since the last download (which clears them).
    pub async fn download(
        &self,
        gpu: &Gpu,
        rbm: &mut Rbm,
        trainer: &mut Trainer,
    ) -> Result<(f64, usize)> {
        let mut rec = gpu.record();
        for t in [&self.w, &self.b, &self.c, &self.vel] {
            rec.read(t, t.bytes());
        }
        if let Some(m) = self.chains {
            rec.read(&self.v, f32_bytes(m * self.visible));
        }
        rec.read(&self.stats, 8);
        rec.clear(&self.stats);
        let out = rec.submit().await?;
        let floats = |bytes: &[u8]| bytemuck::pod_collect_to_vec::<u8, f32>(bytes);
        let matrix = |data: Vec<f32>, dim: (usize, usize)| {
            Array2::from_shape_vec(dim, data)
                .map_err(|e| Error::Gpu(format!("unexpected result layout: {e}")))
        };
        let (nv, nh) = (self.visible, self.hidden);
        rbm.w = matrix(floats(&out[0]), (nv, nh))?;
        rbm.b = Array1::from(floats(&out[1]));
        rbm.c = Array1::from(floats(&out[2]));
        let vel = floats(&out[3]);
        trainer.velocity.w = matrix(vel[..nv * nh].to_vec(), (nv, nh))?;
        trainer.velocity.b = Array1::from(vel[nv * nh..nv * nh + nv].to_vec());
        trainer.velocity.c = Array1::from(vel[nv * nh + nv..nv * nh + nv + nh].to_vec());
        let mut rest = out[4..].iter();
        if let Some(m) = self.chains {
            trainer.chains = Some(matrix(floats(rest.next().expect("chains")), (m, nv))?);
        }
        trainer.step = self.step;
        let s = floats(rest.next().expect("the statistics"));
        Ok((f64::from(s[0]), s[1].round() as usize))
    }
}
