//! Online competitive learning on the GPU (kernels/competitive.wgsl) with the weights, the conscience's
//! frequencies and the samples resident for a run. CPU twin: `nets::competitive::Competitive::step`, checked by
//! tests/competitive_gpu.rs natively and in Chromium.
//!
//! Each sample's winner depends on the previous sample's update, so the samples cannot be spread over
//! workgroups: one workgroup presents a run of samples in order inside one dispatch (its invocations share each
//! sample's units × inputs work), and a submit holds several such dispatches, each taking the next samples from
//! a cursor on the device. What each presentation did (winner, nearest unit, its squared distance) is read back
//! with the submit; the weights only when asked (the lab: once per epoch), with the snapshots of the weights
//! taken along the epoch for the plots of the units' paths. Nothing is drawn and every sum runs in the CPU's
//! lanes and order, so both engines give the same winners and weights up to the device's float contraction.
use crate::engine::{Gpu, Kernel, Tensor, f32_bytes};
use crate::error::{Error, Result};
use crate::nets::competitive::{Competitive, Step, Variant, Winner};
use ndarray::{Array2, ArrayView2};

/// The most units one workgroup's memory holds (MAX_UNITS in competitive.wgsl).
pub const MAX_UNITS: usize = 128;
/// Samples one dispatch presents: the dispatches of a submit stay short on a device with a watchdog.
const PER_DISPATCH: usize = 256;
/// Words of one presentation's record: winner, nearest, bits of the squared distance.
const RECORD: usize = 3;

#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    units: u32,
    dim: u32,
    samples: u32,
    per_dispatch: u32,
    how: u32,
    variant: u32,
    trace_every: u32,
    _pad: u32,
    rate: f32,
    beta: f32,
    c: f32,
    leak: f32,
}

pub fn source() -> String {
    format!(
        "{}\n{}",
        super::prelude::library(),
        include_str!("competitive.wgsl")
    )
}

pub(crate) fn layouts() -> Vec<super::prelude::Layout> {
    vec![super::prelude::layout!(
        "competitive",
        "Params",
        Params,
        units,
        dim,
        samples,
        per_dispatch,
        how,
        variant,
        trace_every,
        rate,
        beta,
        c,
        leak
    )]
}

/// A competitive layer on the device with an epoch's samples, presented in row order.
pub struct CompetitiveGpu {
    units: usize,
    dim: usize,
    samples: usize,
    trace_every: usize,
    w: Tensor,
    p: Tensor,
    cursor: Tensor,
    out: Tensor,
    trace: Tensor,
    kernel: Kernel,
    _held: Vec<Tensor>,
}

impl CompetitiveGpu {
    /// Uploads `net` and the samples `x` [samples, inputs] for `how` and `variant` at `rate`, with a snapshot of
    /// the weights after every `trace_every`-th sample of an epoch and after its last (0: none). Refuses sizes
    /// over the device's limits before allocating.
    #[allow(clippy::too_many_arguments)] // the net, its data, its competition, its rate and its trace
    pub async fn new(
        gpu: &Gpu,
        net: &Competitive,
        x: ArrayView2<'_, f32>,
        how: Winner,
        variant: Variant,
        rate: f32,
        trace_every: usize,
    ) -> Result<Self> {
        let (units, dim, samples) = (net.units(), net.inputs(), x.nrows());
        if units > MAX_UNITS || x.ncols() != dim || samples == 0 {
            return Err(Error::Gpu(format!(
                "a competitive layer of {units} units × {dim} inputs (at most {MAX_UNITS} units on the GPU) for \
                 {samples} samples of {} values",
                x.ncols()
            )));
        }
        let slots = if trace_every > 0 {
            samples.div_ceil(trace_every)
        } else {
            0
        };
        for (what, values) in [
            ("the samples", samples * dim),
            ("the weights", units * dim),
            ("the presentations' records", samples * RECORD),
            ("the weights' snapshots", slots * units * dim),
        ] {
            gpu.check_values(what, values)?;
        }
        let (beta, c, leak, kind) = match variant {
            Variant::Plain => (0.0, 0.0, 0.0, 0),
            Variant::Conscience { beta, c } => (beta, c, 0.0, 1),
            Variant::Leaky { leak } => (0.0, 0.0, leak, 2),
        };
        let params = Params {
            units: units as u32,
            dim: dim as u32,
            samples: samples as u32,
            per_dispatch: PER_DISPATCH as u32,
            how: match how {
                Winner::Distance => 0,
                Winner::Activation => 1,
            },
            variant: kind,
            trace_every: trace_every as u32,
            _pad: 0,
            rate,
            beta,
            c,
            leak,
        };
        let u = gpu.uniform_tensor("competitive parameters", size_of::<Params>() as u64)?;
        gpu.write(&u, bytemuck::bytes_of(&params));
        let flat: Vec<f32> = x.as_standard_layout().iter().copied().collect();
        let xs = gpu.tensor_from("the samples", bytemuck::cast_slice(&flat))?;
        let w = gpu.tensor("the weights", f32_bytes(units * dim))?;
        let p = gpu.tensor("the win frequencies", f32_bytes(units))?;
        let cursor = gpu.tensor("the competitive cursor", f32_bytes(3))?;
        let out = gpu.tensor("the presentations' records", f32_bytes(samples * RECORD))?;
        let trace = gpu.tensor("the weights' snapshots", f32_bytes(slots * units * dim))?;
        let kernel = gpu
            .kernel(
                "competitive_present",
                &source(),
                "present",
                &[&u, &xs, &w, &p, &cursor, &out, &trace],
            )
            .await?;
        let dev = Self {
            units,
            dim,
            samples,
            trace_every,
            w,
            p,
            cursor,
            out,
            trace,
            kernel,
            _held: vec![u, xs],
        };
        dev.upload(gpu, net)?;
        Ok(dev)
    }

    /// Replaces the device's weights and frequencies with `net`'s (of the same shape).
    pub fn upload(&self, gpu: &Gpu, net: &Competitive) -> Result<()> {
        if (net.units(), net.inputs()) != (self.units, self.dim) {
            return Err(Error::Gpu(format!(
                "a competitive layer of {} × {} for a device layer of {} × {}",
                net.units(),
                net.inputs(),
                self.units,
                self.dim
            )));
        }
        let w: Vec<f32> = net.w.as_standard_layout().iter().copied().collect();
        gpu.write(&self.w, bytemuck::cast_slice(&w));
        gpu.write(&self.p, bytemuck::cast_slice(&net.freq));
        Ok(())
    }

    /// Presents samples `first` … `first + count − 1` in order, in one submit, as `Competitive::step` on each;
    /// returns each presentation's winner, nearest unit and distance (the square root taken here, as the CPU's).
    pub async fn train(&self, gpu: &Gpu, first: usize, count: usize) -> Result<Vec<Step>> {
        if first + count > self.samples {
            return Err(Error::Gpu(format!(
                "samples {first} to {} of {}",
                first + count,
                self.samples
            )));
        }
        if count == 0 {
            return Ok(Vec::new());
        }
        let at = [first as u32, (first + count) as u32, first as u32];
        gpu.write(&self.cursor, bytemuck::cast_slice(&at));
        let mut rec = gpu.record();
        for _ in 0..count.div_ceil(PER_DISPATCH) {
            rec.dispatch(&self.kernel, 1);
        }
        rec.read(&self.out, (count * RECORD * 4) as u64);
        let back = rec.submit().await?;
        let words: Vec<u32> = bytemuck::pod_collect_to_vec(&back[0]);
        Ok(words
            .chunks_exact(RECORD)
            .map(|r| Step {
                winner: r[0] as usize,
                nearest: r[1] as usize,
                distance: libm::sqrtf(f32::from_bits(r[2])),
            })
            .collect())
    }

    /// Reads the weights and frequencies into `net`, and returns the snapshots of the epoch's weights so far
    /// (one [units, inputs] array per snapshot; those of an epoch not yet presented hold the previous one's).
    pub async fn download(&self, gpu: &Gpu, net: &mut Competitive) -> Result<Vec<Array2<f32>>> {
        let mut rec = gpu.record();
        rec.read(&self.w, self.w.bytes());
        rec.read(&self.p, self.p.bytes());
        rec.read(&self.trace, self.trace.bytes());
        let back = rec.submit().await?;
        let shape = (self.units, self.dim);
        let layout = |e| Error::Gpu(format!("unexpected result layout: {e}"));
        net.w = Array2::from_shape_vec(shape, bytemuck::pod_collect_to_vec(&back[0]))
            .map_err(layout)?;
        net.freq = bytemuck::pod_collect_to_vec(&back[1]);
        if self.trace_every == 0 {
            return Ok(Vec::new());
        }
        let trace: Vec<f32> = bytemuck::pod_collect_to_vec(&back[2]);
        trace
            .chunks_exact(self.units * self.dim)
            .map(|s| Array2::from_shape_vec(shape, s.to_vec()).map_err(layout))
            .collect()
    }
}
