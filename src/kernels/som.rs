//! The online self-organising map on the GPU (kernels/som.wgsl) with the map's weights and the data resident
//! between samples. CPU twin: `nets::som::Som::train_sample` (winner search, then the neighbourhood's instar
//! update through `plasticity`), checked by tests/som_gpu.rs natively and in Chromium.
//!
//! Training stays sequential, as the online SOM is: every sample is three dispatches (distances, winner, update)
//! and many samples go into one submit. An epoch's samples (rows of the data) and each sample's neighbourhood and
//! rate are uploaded once per epoch; a submit trains the next samples of the epoch and reads back their winners and
//! squared distances (the lecture's error). The weights are read back only when asked (the lab: once per epoch,
//! for its measures and maps, which the CPU computes). Each distance is summed in the CPU's order (sixteen lanes,
//! then pairwise) and each update is the CPU's instar step, so the two agree to the bit where the compiler fuses
//! no multiply-add; the Gaussian's factors are multiplied in f32 here, in f64 on the CPU (an ulp apart).
use crate::engine::{Gpu, Kernel, Tensor, f32_bytes};
use crate::error::{Error, Result};
use crate::lanes::LANES;
use crate::nets::som::{Hood, Som};

/// Units whose distances one workgroup of `distance` computes at once (SLOTS in som.wgsl).
const SLOTS: usize = 4;
/// Invocations per workgroup of `update`.
const WG: usize = 64;
/// The most workgroups a kernel is dispatched over (they loop with a grid stride).
const MAX_GROUPS: usize = 4096;
/// The header of the index buffer before the order (IX_ORDER in som.wgsl).
const IX_ORDER: usize = 4;

#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Dims {
    units: u32,
    rows: u32,
    cols: u32,
    dim: u32,
    used: u32,
    gaussian: u32,
    stride: u32,
    _pad: u32,
}

pub fn source() -> String {
    format!(
        "{}\n{}",
        super::prelude::library(),
        include_str!("som.wgsl")
    )
}

pub(crate) fn layouts() -> Vec<super::prelude::Layout> {
    vec![super::prelude::layout!(
        "som", "Dims", Dims, units, rows, cols, dim, used, gaussian, stride
    )]
}

/// A data set on the device (rows of `dim` values), shared by the maps that learn it.
pub struct SomData {
    x: Tensor,
    rows: usize,
    dim: usize,
}

impl SomData {
    /// Uploads `x` (rows of `dim` values); refuses what the device cannot hold.
    pub fn new(gpu: &Gpu, x: &[f32], dim: usize) -> Result<Self> {
        if dim == 0 || x.is_empty() || !x.len().is_multiple_of(dim) {
            return Err(Error::Gpu(format!(
                "{} values are no whole rows of {dim}",
                x.len()
            )));
        }
        gpu.check_values("the map's data", x.len())?;
        Ok(Self {
            x: gpu.tensor_from("SOM data", bytemuck::cast_slice(x))?,
            rows: x.len() / dim,
            dim,
        })
    }
}

/// A map on the device training with one kind of neighbourhood (the lecture's box or MiniSom's Gaussian), for
/// epochs of up to `capacity` samples.
pub struct SomGpu {
    rows: usize,
    cols: usize,
    dim: usize,
    gaussian: bool,
    stride: usize,
    data_rows: usize,
    capacity: usize,
    w: Tensor,
    ix: Tensor,
    sched: Tensor,
    out: Tensor,
    distance: Kernel,
    argmin: Kernel,
    update: Kernel,
    /// Workgroups of each sample's update in the epoch set (the box's window depends on its radius).
    groups: Vec<u32>,
    _held: Vec<Tensor>,
}

impl SomGpu {
    /// Uploads `som`'s weights and binds the kernels to `data` for a `gaussian` neighbourhood (else the box).
    /// Refuses sizes over the device's limits before allocating.
    pub async fn new(
        gpu: &Gpu,
        som: &Som,
        gaussian: bool,
        data: &SomData,
        capacity: usize,
    ) -> Result<Self> {
        let (rows, cols, dim, units) = (som.rows(), som.cols(), som.dim(), som.units());
        if data.dim != dim || capacity == 0 {
            return Err(Error::Gpu(format!(
                "a {rows} × {cols} map of {dim} inputs for data of {} values per row, epochs of {capacity} samples",
                data.dim
            )));
        }
        let stride = if gaussian { 1 + rows.max(cols) } else { 2 };
        for (what, values) in [
            ("the map's weights", units * dim),
            ("the map's distances", units),
            ("an epoch's neighbourhoods", capacity * stride),
            ("an epoch's samples", IX_ORDER + capacity),
            ("an epoch's winners", 2 * capacity),
        ] {
            gpu.check_values(what, values)?;
        }
        let w = gpu.tensor_from("SOM weights", bytemuck::cast_slice(som.weights()))?;
        let ix = gpu.tensor("SOM order", f32_bytes(IX_ORDER + capacity))?;
        let sched = gpu.tensor("SOM neighbourhoods", f32_bytes(capacity * stride))?;
        let out = gpu.tensor("SOM winners", f32_bytes(2 * capacity))?;
        let dist = gpu.tensor("SOM distances", f32_bytes(units))?;
        let dims = Dims {
            units: units as u32,
            rows: rows as u32,
            cols: cols as u32,
            dim: dim as u32,
            // As nets::som::dist2: the pairwise sum of the lanes starts at the first width that adds a value.
            used: if dim >= LANES {
                LANES as u32
            } else {
                dim.next_power_of_two() as u32
            },
            gaussian: u32::from(gaussian),
            stride: stride as u32,
            _pad: 0,
        };
        let d = gpu.uniform_tensor("SOM dimensions", size_of::<Dims>() as u64)?;
        gpu.write(&d, bytemuck::bytes_of(&dims));
        let x = data.x.share();
        let src = source();
        // Each entry point is bound to what it uses (auto layouts hold only those).
        let distance = gpu
            .kernel_at(
                "som_distance",
                &src,
                "distance",
                &[(0, &d), (1, &x), (2, &w), (3, &ix), (4, &dist)],
            )
            .await?;
        let argmin = gpu
            .kernel_at(
                "som_argmin",
                &src,
                "argmin",
                &[(0, &d), (3, &ix), (4, &dist), (5, &out)],
            )
            .await?;
        let update = gpu
            .kernel_at(
                "som_update",
                &src,
                "update",
                &[(0, &d), (1, &x), (2, &w), (3, &ix), (6, &sched)],
            )
            .await?;
        Ok(Self {
            rows,
            cols,
            dim,
            gaussian,
            stride,
            data_rows: data.rows,
            capacity,
            w,
            ix,
            sched,
            out,
            distance,
            argmin,
            update,
            groups: Vec::new(),
            _held: vec![d, x, dist],
        })
    }

    /// Sets the epoch: the data rows of its samples in order, and each sample's neighbourhood and rate (of this
    /// map's kind). The Gaussian's factors e^(−t²/2σ²) are computed here in f64, as the CPU does.
    pub fn set_epoch(&mut self, gpu: &Gpu, picks: &[usize], hoods: &[(Hood, f32)]) -> Result<()> {
        if picks.len() > self.capacity
            || picks.len() != hoods.len()
            || picks.iter().any(|&i| i >= self.data_rows)
        {
            return Err(Error::Gpu(format!(
                "an epoch of {} samples ({} neighbourhoods) among {} rows, for epochs of up to {}",
                picks.len(),
                hoods.len(),
                self.data_rows,
                self.capacity
            )));
        }
        let side = self.rows.max(self.cols);
        let mut sched = Vec::with_capacity(picks.len() * self.stride);
        let mut groups = Vec::with_capacity(picks.len());
        for &(hood, rate) in hoods {
            sched.push(rate);
            let weights = match (hood, self.gaussian) {
                (Hood::Box { radius }, false) => {
                    sched.push(radius as f32);
                    let span = 2 * radius as usize + 1;
                    span.min(self.rows) * span.min(self.cols) * self.dim
                }
                (Hood::Gaussian { sigma }, true) => {
                    let d = 2.0 * sigma * sigma;
                    sched.extend((0..side).map(|t| {
                        let t = t as f64;
                        libm::exp(-(t * t) / d) as f32
                    }));
                    self.rows * self.cols * self.dim
                }
                _ => {
                    return Err(Error::Gpu(format!(
                        "a {hood:?} neighbourhood for a map set up for the {}",
                        if self.gaussian { "Gaussian" } else { "box" }
                    )));
                }
            };
            groups.push(weights.div_ceil(WG).clamp(1, MAX_GROUPS) as u32);
        }
        let order: Vec<u32> = picks.iter().map(|&i| i as u32).collect();
        let q = gpu.queue();
        q.write_buffer(
            self.ix.buffer(),
            (IX_ORDER * 4) as u64,
            bytemuck::cast_slice(&order),
        );
        if !sched.is_empty() {
            q.write_buffer(self.sched.buffer(), 0, bytemuck::cast_slice(&sched));
        }
        self.groups = groups;
        Ok(())
    }

    /// Trains samples `first` … `first + count − 1` of the epoch, in one submit, as `Som::train_sample` on
    /// each; returns each one's winner and squared distance before its update.
    pub async fn train(&self, gpu: &Gpu, first: usize, count: usize) -> Result<Vec<(usize, f32)>> {
        if first + count > self.groups.len() {
            return Err(Error::Gpu(format!(
                "samples {first} to {} of an epoch of {}",
                first + count,
                self.groups.len()
            )));
        }
        if count == 0 {
            return Ok(Vec::new());
        }
        gpu.queue()
            .write_buffer(self.ix.buffer(), 0, bytemuck::bytes_of(&(first as u32)));
        let units = self.rows * self.cols;
        let search = units.div_ceil(SLOTS).clamp(1, MAX_GROUPS) as u32;
        let mut rec = gpu.record();
        for &groups in &self.groups[first..first + count] {
            rec.dispatch(&self.distance, search);
            rec.dispatch(&self.argmin, 1);
            rec.dispatch(&self.update, groups);
        }
        rec.read(&self.out, f32_bytes(2 * (first + count)));
        let back = rec.submit().await?;
        let out: Vec<u32> = bytemuck::pod_collect_to_vec(&back[0]);
        Ok(out[2 * first..]
            .chunks_exact(2)
            .map(|p| (p[0] as usize, f32::from_bits(p[1])))
            .collect())
    }

    /// The map's weights as they are on the device.
    pub async fn download(&self, gpu: &Gpu) -> Result<Som> {
        let mut rec = gpu.record();
        rec.read(&self.w, self.w.bytes());
        let back = rec.submit().await?;
        Som::from_weights(
            self.rows,
            self.cols,
            self.dim,
            bytemuck::pod_collect_to_vec(&back[0]),
        )
    }
}
