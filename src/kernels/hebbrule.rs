//! The Hebb's-rule lab's class prototypes trained on the GPU (kernels/hebbrule.wgsl), the weights and the
//! training digits resident for a run. CPU twin: `nets::hebbrule::Layer::instar_row` over an epoch's order,
//! checked by tests/hebbrule_gpu.rs natively and in Chromium.
//!
//! An epoch is one dispatch: a digit moves only its class's row, so each weight w[c][j] is updated by one
//! invocation that walks the epoch's digits of class c in order, the CPU's operations on that weight in the
//! CPU's order (the results are equal bit for bit where the device does not contract a multiply-add). The host
//! groups each epoch's order by class (positions among the uploaded digits); the weights are read back when
//! asked (the lab: once per epoch, for its test accuracy on the CPU and its plots).
use crate::engine::{Gpu, Kernel, Tensor, f32_bytes};
use crate::error::{Error, Result};
use crate::nets::hebbrule::Layer;
use ndarray::ArrayView2;

/// Invocations per workgroup, as in hebbrule.wgsl.
const WG: usize = 64;

#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    classes: u32,
    inputs: u32,
    rate: f32,
    _pad: u32,
}

pub fn source() -> String {
    format!(
        "{}\n{}",
        super::prelude::library(),
        include_str!("hebbrule.wgsl")
    )
}

pub(crate) fn layouts() -> Vec<super::prelude::Layout> {
    vec![super::prelude::layout!(
        "hebbrule", "Params", Params, classes, inputs, rate
    )]
}

/// Class prototypes on the device with a run's training digits.
pub struct HebbruleGpu {
    classes: usize,
    inputs: usize,
    labels: Vec<usize>,
    order: Tensor,
    w: Tensor,
    kernel: Kernel,
    _held: Vec<Tensor>,
}

impl HebbruleGpu {
    /// Uploads `net`, the training digits `x` [digits, inputs] and keeps their `labels` (classes of `net`) for
    /// the epochs' orders; every update at `rate`. Refuses sizes over the device's limits before allocating.
    pub async fn new(
        gpu: &Gpu,
        net: &Layer,
        x: ArrayView2<'_, f32>,
        labels: &[u8],
        rate: f32,
    ) -> Result<Self> {
        let (classes, inputs, digits) = (net.classes, net.inputs, x.nrows());
        if x.ncols() != inputs
            || labels.len() != digits
            || labels.iter().any(|&y| usize::from(y) >= classes)
        {
            return Err(Error::Gpu(format!(
                "{classes} prototypes of {inputs} inputs for {digits} digits of {} values with {} labels (each \
                 below {classes})",
                x.ncols(),
                labels.len()
            )));
        }
        let groups = (classes * inputs).div_ceil(WG);
        gpu.check_workgroups("an epoch of the prototypes", groups as u32)?;
        for (what, values) in [
            ("the training digits", digits * inputs),
            ("the epoch's order", classes + 1 + digits),
            ("the prototypes", classes * inputs),
        ] {
            gpu.check_values(what, values)?;
        }
        let params = Params {
            classes: classes as u32,
            inputs: inputs as u32,
            rate,
            _pad: 0,
        };
        let u = gpu.uniform_tensor("prototype parameters", size_of::<Params>() as u64)?;
        gpu.write(&u, bytemuck::bytes_of(&params));
        let flat: Vec<f32> = x.as_standard_layout().iter().copied().collect();
        let xs = gpu.tensor_from("the training digits", bytemuck::cast_slice(&flat))?;
        let order = gpu.tensor("the epoch's order", f32_bytes(classes + 1 + digits))?;
        let w = gpu.tensor("the prototypes", f32_bytes(classes * inputs))?;
        let kernel = gpu
            .kernel("hebbrule_epoch", &source(), "epoch", &[&u, &xs, &order, &w])
            .await?;
        let dev = Self {
            classes,
            inputs,
            labels: labels.iter().map(|&y| usize::from(y)).collect(),
            order,
            w,
            kernel,
            _held: vec![u, xs],
        };
        dev.upload(gpu, net)?;
        Ok(dev)
    }

    /// Replaces the device's prototypes with `net`'s (of the same shape).
    pub fn upload(&self, gpu: &Gpu, net: &Layer) -> Result<()> {
        if (net.classes, net.inputs) != (self.classes, self.inputs) {
            return Err(Error::Gpu(format!(
                "{} prototypes of {} inputs for a device layer of {} × {}",
                net.classes, net.inputs, self.classes, self.inputs
            )));
        }
        gpu.write(&self.w, bytemuck::cast_slice(&net.w));
        Ok(())
    }

    /// One epoch over `order` (positions among the uploaded digits, each at most once), in one submit: as
    /// `Layer::instar_row` on each digit in turn.
    pub async fn epoch(&self, gpu: &Gpu, order: &[u32]) -> Result<()> {
        let n = self.labels.len();
        let mut seen = vec![false; n];
        for &p in order {
            let p = p as usize;
            if p >= n || std::mem::replace(&mut seen[p], true) {
                return Err(Error::Gpu(format!(
                    "an order of {} positions among {n} digits, each at most once",
                    order.len()
                )));
            }
        }
        // Each class's digits in the epoch's order, the classes one after another, after their offsets.
        let mut runs = vec![Vec::new(); self.classes];
        for &p in order {
            runs[self.labels[p as usize]].push(p);
        }
        let mut words = Vec::with_capacity(self.classes + 1 + order.len());
        let mut at = 0u32;
        for r in &runs {
            words.push(at);
            at += r.len() as u32;
        }
        words.push(at);
        words.extend(runs.into_iter().flatten());
        gpu.write(&self.order, bytemuck::cast_slice(&words));
        let mut rec = gpu.record();
        rec.dispatch(
            &self.kernel,
            (self.classes * self.inputs).div_ceil(WG) as u32,
        );
        rec.submit().await?;
        Ok(())
    }

    /// Reads the prototypes into `net`.
    pub async fn download(&self, gpu: &Gpu, net: &mut Layer) -> Result<()> {
        let mut rec = gpu.record();
        rec.read(&self.w, self.w.bytes());
        let back = rec.submit().await?;
        net.w = bytemuck::pod_collect_to_vec(&back[0]);
        Ok(())
    }
}
