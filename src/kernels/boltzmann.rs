//! Boltzmann machine training on the GPU (kernels/boltzmann.wgsl) by persistent contrastive divergence, with the
//! weights, biases, the persistent free chains, the clamped chains and the patterns resident between updates.
//! CPU twin: `Boltzmann::train_step` with `Statistics::Sampled`, checked by tests/boltzmann_gpu.rs natively and
//! in Chromium.
//!
//! One update is one submit of three dispatches: the clamped chains (started afresh from the patterns and the
//! step's random hidden units, swept over the hidden units), the free chains (swept on from where they were),
//! each chain counting its s_i s_j into exact integer moments, then the weight and bias step. The draws come from
//! the CPU's counters and the energy gap is summed in the CPU's order, so the chains agree unit for unit; a unit
//! could still come out differently where σ(ΔE/T) lies within a rounding of its uniform (the device's exp need not
//! be libm's), after which that chain parts ways.
use crate::engine::{Gpu, Kernel, Tensor};
use crate::error::{Error, Result};
use crate::nets::boltzmann::{Boltzmann, Chains, GROUP_CLAMPED, GROUP_START};
use crate::rng::{self, Purpose};
use ndarray::{Array1, Array2, ArrayView2};

/// Invocations (chains) per workgroup, as in boltzmann.wgsl.
const WG: usize = 256;
/// The most units: the weights and the counts of one workgroup fit its 256 invocations and workgroup memory.
pub const MAX_UNITS: usize = 16;

#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    units: u32,
    visible: u32,
    copies: u32,
    sweeps: u32,
    chains: u32,
    clamped: u32,
    seed: u32,
    step: u32,
    free_sweep: u32,
    free_round: u32,
    free_stream: u32,
    clamped_stream: u32,
    start_stream: u32,
    clamped_group: u32,
    temperature: f32,
    rate: f32,
}

pub fn source() -> String {
    format!(
        "{}\n{}",
        super::prelude::library(),
        include_str!("boltzmann.wgsl")
    )
}

pub(crate) fn layouts() -> Vec<super::prelude::Layout> {
    vec![super::prelude::layout!(
        "boltzmann",
        "Params",
        Params,
        units,
        visible,
        copies,
        sweeps,
        chains,
        clamped,
        seed,
        step,
        free_sweep,
        free_round,
        free_stream,
        clamped_stream,
        start_stream,
        clamped_group,
        temperature,
        rate
    )]
}

/// A Boltzmann machine, its persistent chains and its patterns on the device, trained as
/// `train_step(data, Statistics::Sampled { copies, sweeps }, chains, rate, seed, step)` with the step counting up
/// from the one given.
pub struct BoltzmannGpu {
    units: usize,
    visible: usize,
    temperature: f32,
    chains: usize,
    free_group: u32,
    params: Params,
    prm: Tensor,
    w: Tensor,
    b: Tensor,
    free: Tensor,
    kernels: Vec<(Kernel, u32)>,
    _held: Vec<Tensor>,
}

impl BoltzmannGpu {
    /// Uploads `net`, its persistent `chains` and the patterns `data` [patterns, visible], and binds one update's
    /// kernels; the first update is learning step `step`. Refuses nets over [`MAX_UNITS`] units or without visible units, no copies, and
    /// sizes over the device's limits.
    #[allow(clippy::too_many_arguments)] // train_step's arguments, plus the device
    pub async fn new(
        gpu: &Gpu,
        net: &Boltzmann,
        data: ArrayView2<'_, u8>,
        chains: &Chains,
        copies: usize,
        sweeps: u32,
        rate: f32,
        seed: u32,
        step: u32,
    ) -> Result<Self> {
        let (n, visible) = (net.units(), net.visible());
        let states = chains.states();
        let clamped = data.nrows() * copies;
        if visible == 0 || n > MAX_UNITS {
            return Err(Error::Gpu(format!(
                "the Boltzmann kernel takes 1 to {MAX_UNITS} units with at least one visible; this net has {n} ({visible} visible)"
            )));
        }
        if states.ncols() != n || states.nrows() == 0 || clamped == 0 || data.ncols() != visible {
            return Err(Error::Gpu(format!(
                "{} chains of {} units, {} patterns of {} values and {copies} copies for a net of {n} units ({visible} visible)",
                states.nrows(),
                states.ncols(),
                data.nrows(),
                data.ncols()
            )));
        }
        if data.iter().any(|&v| v > 1) {
            return Err(Error::Gpu("patterns must be 0 or 1".into()));
        }
        // The learning step forms cd·N_free − cm·N_clamped in 32 bits.
        let rows = states.nrows().max(clamped);
        if (states.nrows() as u64) * (clamped as u64) >= 1 << 31 {
            return Err(Error::Gpu(format!(
                "{} free × {clamped} clamped chains overflow the kernel's 32-bit counts",
                states.nrows()
            )));
        }
        let groups = rows.div_ceil(WG);
        gpu.check_workgroups("Boltzmann chains", groups as u32)?;
        let u32s = |v: ArrayView2<'_, u8>| v.iter().map(|&x| u32::from(x)).collect::<Vec<u32>>();
        let bytes = |what: &str, v: &[u32]| gpu.tensor_from(what, bytemuck::cast_slice(v));
        let prm = gpu.uniform_tensor("Boltzmann parameters", size_of::<Params>() as u64)?;
        let w = gpu.tensor_from(
            "Boltzmann weights",
            bytemuck::cast_slice(&net.weights().iter().copied().collect::<Vec<f32>>()),
        )?;
        let b = gpu.tensor_from(
            "Boltzmann biases",
            bytemuck::cast_slice(&net.biases().to_vec()),
        )?;
        let free = bytes("free chains", &u32s(states))?;
        let clamped_states = gpu.tensor("clamped chains", (clamped * n * 4) as u64)?;
        let patterns = bytes("patterns", &u32s(data))?;
        let counts = gpu.tensor("moment counts", (2 * n * n * 4) as u64)?;
        let params = Params {
            units: n as u32,
            visible: visible as u32,
            copies: copies as u32,
            sweeps,
            chains: states.nrows() as u32,
            clamped: clamped as u32,
            seed,
            step,
            free_sweep: chains.sweeps(),
            free_round: chains.round(),
            free_stream: rng::stream(Purpose::Boltzmann, chains.group(), 0),
            clamped_stream: rng::stream(Purpose::Boltzmann, GROUP_CLAMPED, 0),
            start_stream: rng::stream(Purpose::Boltzmann, GROUP_START, step),
            clamped_group: GROUP_CLAMPED,
            temperature: net.temperature(),
            rate,
        };
        let src = source();
        let all: [(u32, &Tensor); 7] = [
            (0, &prm),
            (1, &w),
            (2, &b),
            (3, &free),
            (4, &clamped_states),
            (5, &patterns),
            (6, &counts),
        ];
        // Each entry point is bound to what it uses (auto layouts hold only those bindings).
        let plan: [(&str, &'static str, &[u32], usize); 3] = [
            (
                "clamped_chains",
                "boltzmann_clamped_chains",
                &[0, 1, 2, 4, 5, 6],
                clamped.div_ceil(WG),
            ),
            (
                "free_chains",
                "boltzmann_free_chains",
                &[0, 1, 2, 3, 6],
                states.nrows().div_ceil(WG),
            ),
            ("learn", "boltzmann_learn", &[0, 1, 2, 6], 1),
        ];
        let mut kernels = Vec::new();
        for (entry, name, used, groups) in plan {
            let bind: Vec<(u32, &Tensor)> = all
                .iter()
                .filter(|(i, _)| used.contains(i))
                .copied()
                .collect();
            kernels.push((
                gpu.kernel_at(name, &src, entry, &bind).await?,
                groups as u32,
            ));
        }
        Ok(Self {
            units: n,
            visible,
            temperature: net.temperature(),
            chains: states.nrows(),
            free_group: chains.group(),
            params,
            prm,
            w,
            b,
            free,
            kernels,
            _held: vec![clamped_states, patterns, counts],
        })
    }

    /// One learning step, as `train_step` with sampled statistics: one submit.
    pub async fn train(&mut self, gpu: &Gpu) -> Result<()> {
        gpu.write(&self.prm, bytemuck::bytes_of(&self.params));
        let mut rec = gpu.record();
        for (kernel, groups) in &self.kernels {
            rec.dispatch(kernel, *groups);
        }
        rec.submit().await?;
        let p = &mut self.params;
        p.free_sweep = p.free_sweep.wrapping_add(p.sweeps);
        p.step = p.step.wrapping_add(1);
        p.start_stream = rng::stream(Purpose::Boltzmann, GROUP_START, p.step);
        Ok(())
    }

    /// The net and its persistent chains as they stand on the device.
    pub async fn download(&self, gpu: &Gpu) -> Result<(Boltzmann, Chains)> {
        let mut rec = gpu.record();
        for t in [&self.w, &self.b, &self.free] {
            rec.read(t, t.bytes());
        }
        let out = rec.submit().await?;
        let n = self.units;
        let shape = |e: ndarray::ShapeError| Error::Gpu(format!("unexpected result layout: {e}"));
        let w = Array2::from_shape_vec((n, n), bytemuck::pod_collect_to_vec::<u8, f32>(&out[0]))
            .map_err(shape)?;
        let b = Array1::from(bytemuck::pod_collect_to_vec::<u8, f32>(&out[1]));
        let states: Vec<u8> = bytemuck::pod_collect_to_vec::<u8, u32>(&out[2])
            .into_iter()
            .map(|v| v as u8)
            .collect();
        let states = Array2::from_shape_vec((self.chains, n), states).map_err(shape)?;
        let net = Boltzmann::from_parts(w, b, self.visible, self.temperature)?;
        let chains = Chains::from_parts(
            states,
            self.free_group,
            self.params.free_round,
            self.params.free_sweep,
        )?;
        Ok((net, chains))
    }
}
