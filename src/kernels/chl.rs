//! Contrastive Hebbian learning on the GPU (kernels/chl.wgsl) with the weights and biases resident between
//! batches. CPU twin: `nets::chl::Chl` (`free`, `clamped`, `update_with`, whose rule is
//! `plasticity::contrastive`), checked by tests/chl_gpu.rs natively and in Chromium.
//!
//! The run's images and their targets are uploaded once; an epoch's order (positions among them) once per epoch,
//! and batches are addressed by their place in it. Several batches go into one submit: each records its states
//! cleared, the input's drive x_0 W_0, the free phase (every Euler step, layers 1 … L one dispatch each, in
//! order), the clamped phase (layers 1 … L − 1), the update of every layer, and a one-invocation kernel that
//! counts the free phase's hits and moves the cursor to the next batch. The weights are read back only when
//! asked (the lab: once per epoch). Evaluation runs the free phase on blocks of images and reads the output
//! back. Nothing is drawn: the GPU gives the CPU's numbers within float rounding (its sums of products run in
//! another order than `nets::dense`'s).
use crate::engine::{Gpu, Kernel, Recorder, Tensor, f32_bytes};
use crate::error::{Error, Result};
use crate::nets::chl::{Chl, Settings};
use ndarray::{Array1, Array2, ArrayView2};

/// Invocations per workgroup, as in chl.wgsl.
const WG: usize = 64;
/// The most workgroups a kernel is dispatched over (they loop with a grid stride).
const MAX_GROUPS: usize = 4096;
/// Where an operand lives (SRC_* in chl.wgsl).
const SRC_IMAGES: u32 = 0;
const SRC_STATES: u32 = 1;
const SRC_TARGETS: u32 = 2;
/// The header of the index buffer before the order (IX_* in chl.wgsl): cursor, rows, hits, rows seen.
const IX_ORDER: usize = 4;

#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Dims {
    n_a: u32,
    n_b: u32,
    n_c: u32,
    src_a: u32,
    off_a: u32,
    src_b: u32,
    off_b: u32,
    src_c: u32,
    off_c: u32,
    src_d: u32,
    off_d: u32,
    w_a: u32,
    w_c: u32,
    bias: u32,
    drive: u32,
    stride: u32,
    gamma: f32,
    dt: f32,
    rate: f32,
    _pad: u32,
}

pub fn source() -> String {
    include_str!("chl.wgsl").to_string()
}

pub(crate) fn layouts() -> Vec<super::prelude::Layout> {
    vec![super::prelude::layout!(
        "chl", "Dims", Dims, n_a, n_b, n_c, src_a, off_a, src_b, off_b, src_c, off_c, src_d, off_d,
        w_a, w_c, bias, drive, stride, gamma, dt, rate
    )]
}

fn groups_for(total: usize) -> u32 {
    total.div_ceil(WG).clamp(1, MAX_GROUPS) as u32
}

/// One kernel with what its dispatch covers: outputs per row of a batch (times the rows dispatched) or a fixed
/// count.
struct Step {
    kernel: Kernel,
    per_row: usize,
    fixed: usize,
}

impl Step {
    fn groups(&self, rows: usize) -> u32 {
        if self.fixed > 0 {
            groups_for(self.fixed)
        } else {
            groups_for(rows * self.per_row)
        }
    }
}

/// A CHL network on the device, with a run's images, for batches of `batch` rows and evaluation blocks of up to
/// `block` rows.
pub struct ChlGpu {
    sizes: Vec<usize>,
    images: usize,
    batch: usize,
    block: usize,
    stride: usize,
    /// Column of the free phase's output x_L in a row of the states.
    out: usize,
    steps: usize,
    ix: Tensor,
    w: Tensor,
    b: Tensor,
    s: Tensor,
    zero: Step,
    drive: Step,
    /// Layers 1 … L of a free step, 1 … L − 1 of a clamped step, the update of W_0 … W_{L−1}.
    free: Vec<Step>,
    clamped: Vec<Step>,
    update: Vec<Step>,
    finish: Kernel,
    _held: Vec<Tensor>,
}

impl ChlGpu {
    /// Uploads `net`, the run's `images` [N, n_0] and their `targets` [N, n_L] and binds the kernels of the
    /// phases with `settings` and the update with `rates` (one per weight layer, as `Chl::update_with`). Refuses
    /// sizes over the device's limits.
    #[allow(clippy::too_many_arguments)] // the net, its dynamics, its rates, its data and two row counts
    pub async fn new(
        gpu: &Gpu,
        net: &Chl,
        settings: &Settings,
        rates: &[f32],
        images: ArrayView2<'_, f32>,
        targets: ArrayView2<'_, f32>,
        batch: usize,
        block: usize,
    ) -> Result<Self> {
        let sizes = net.sizes();
        let l = net.layers();
        let n = images.nrows();
        if l < 1
            || rates.len() != l
            || batch == 0
            || block == 0
            || images.ncols() != sizes[0]
            || targets.ncols() != sizes[l]
            || targets.nrows() != n
        {
            return Err(Error::Gpu(format!(
                "a CHL net of {sizes:?} with {} rates for {} × {} images, {} × {} targets, batches of {batch} and \
                 blocks of {block}",
                rates.len(),
                n,
                images.ncols(),
                targets.nrows(),
                targets.ncols()
            )));
        }
        let rows = batch.max(block);
        // Columns of a row of the states: free x_1 … x_L, clamped x_1 … x_{L−1}, the drive.
        let mut free_at = vec![0usize; l + 1];
        let mut clamped_at = vec![0usize; l + 1];
        let mut stride = 0;
        for k in 1..=l {
            free_at[k] = stride;
            stride += sizes[k];
        }
        for k in 1..l {
            clamped_at[k] = stride;
            stride += sizes[k];
        }
        let drive_at = stride;
        stride += sizes[1];
        let weights: usize = sizes.windows(2).map(|p| p[0] * p[1]).sum();
        let biases: usize = sizes[1..].iter().sum();
        for (what, values) in [
            ("the images", n * sizes[0]),
            ("the targets", n * sizes[l]),
            ("the weights", weights),
            ("the states of a batch", rows * stride),
            ("the order", IX_ORDER + n + block),
        ] {
            gpu.check_values(what, values)?;
        }
        let flat =
            |a: ArrayView2<f32>| a.as_standard_layout().iter().copied().collect::<Vec<f32>>();
        let x = gpu.tensor_from("CHL images", bytemuck::cast_slice(&flat(images)))?;
        let t = gpu.tensor_from("CHL targets", bytemuck::cast_slice(&flat(targets)))?;
        let ix = gpu.tensor("CHL order", f32_bytes(IX_ORDER + n + block))?;
        let w = gpu.tensor("CHL weights", f32_bytes(weights))?;
        let b = gpu.tensor("CHL biases", f32_bytes(biases))?;
        let s = gpu.tensor("CHL states", f32_bytes(rows * stride))?;
        let mut w_at = vec![0usize; l];
        let mut b_at = vec![0usize; l];
        for k in 1..l {
            w_at[k] = w_at[k - 1] + sizes[k - 1] * sizes[k];
            b_at[k] = b_at[k - 1] + sizes[k];
        }

        let src = source();
        let u = |v: usize| v as u32;
        let base = Dims {
            stride: u(stride),
            gamma: settings.gamma,
            dt: settings.dt,
            ..Dims::default()
        };
        // Layer k's state in a phase: (source, column).
        let at = |k: usize, clamped: bool| -> (u32, u32) {
            if k == 0 {
                (SRC_IMAGES, 0)
            } else if k == l && clamped {
                (SRC_TARGETS, 0)
            } else if clamped {
                (SRC_STATES, u(clamped_at[k]))
            } else {
                (SRC_STATES, u(free_at[k]))
            }
        };
        let settle = |k: usize, clamped: bool| {
            let (src_a, off_a) = at(k - 1, clamped);
            let (src_c, off_c) = if k < l { at(k + 1, clamped) } else { (0, 0) };
            Dims {
                n_a: u(sizes[k - 1]),
                n_b: u(sizes[k]),
                n_c: if k < l { u(sizes[k + 1]) } else { 0 },
                src_a,
                off_a,
                src_b: SRC_STATES,
                off_b: at(k, clamped).1,
                src_c,
                off_c,
                src_d: SRC_STATES,
                off_d: u(drive_at),
                w_a: u(w_at[k - 1]),
                w_c: if k < l { u(w_at[k]) } else { 0 },
                bias: u(b_at[k - 1]),
                drive: u32::from(k == 1),
                ..base
            }
        };
        let mut held = Vec::new();
        let mut bind = async |name: &'static str, entry: &str, dims: Dims| -> Result<Kernel> {
            let d = gpu.uniform_tensor("CHL dimensions", size_of::<Dims>() as u64)?;
            gpu.write(&d, bytemuck::bytes_of(&dims));
            let used: &[(u32, &Tensor)] = &[
                (0, &d),
                (1, &x),
                (2, &t),
                (3, &ix),
                (4, &w),
                (5, &b),
                (6, &s),
            ];
            // Each entry point is bound to what it uses (auto layouts hold only those).
            let wanted: &[u32] = match entry {
                "zero" => &[0, 3, 6],
                "drive" => &[0, 1, 2, 3, 4, 6],
                "finish" => &[0, 1, 2, 3, 6],
                _ => &[0, 1, 2, 3, 4, 5, 6],
            };
            let tensors: Vec<(u32, &Tensor)> = used
                .iter()
                .filter(|(i, _)| wanted.contains(i))
                .copied()
                .collect();
            let kernel = gpu.kernel_at(name, &src, entry, &tensors).await?;
            held.push(d);
            Ok(kernel)
        };
        let zero = Step {
            kernel: bind("chl_zero", "zero", base).await?,
            per_row: stride,
            fixed: 0,
        };
        let drive = Step {
            kernel: bind(
                "chl_drive",
                "drive",
                Dims {
                    n_a: u(sizes[0]),
                    n_b: u(sizes[1]),
                    src_a: SRC_IMAGES,
                    off_b: u(drive_at),
                    w_a: 0,
                    ..base
                },
            )
            .await?,
            per_row: sizes[1],
            fixed: 0,
        };
        let mut free = Vec::new();
        let mut clamped = Vec::new();
        for (k, &width) in sizes.iter().enumerate().skip(1) {
            free.push(Step {
                kernel: bind("chl_settle", "settle", settle(k, false)).await?,
                per_row: width,
                fixed: 0,
            });
        }
        for (k, &width) in sizes.iter().enumerate().take(l).skip(1) {
            clamped.push(Step {
                kernel: bind("chl_settle", "settle", settle(k, true)).await?,
                per_row: width,
                fixed: 0,
            });
        }
        let mut update = Vec::new();
        for k in 0..l {
            let (src_a, off_a) = at(k, true);
            let (src_c, off_c) = at(k + 1, true);
            let (src_b, off_b) = at(k, false);
            let (src_d, off_d) = at(k + 1, false);
            let dims = Dims {
                n_a: u(sizes[k]),
                n_c: u(sizes[k + 1]),
                src_a,
                off_a,
                src_b,
                off_b,
                src_c,
                off_c,
                src_d,
                off_d,
                w_c: u(w_at[k]),
                bias: u(b_at[k]),
                rate: rates[k],
                ..base
            };
            update.push(Step {
                kernel: bind("chl_update", "update", dims).await?,
                per_row: 0,
                fixed: sizes[k] * sizes[k + 1] + sizes[k + 1],
            });
        }
        let finish = bind(
            "chl_finish",
            "finish",
            Dims {
                n_b: u(sizes[l]),
                off_b: u(free_at[l]),
                ..base
            },
        )
        .await?;
        let mut out = Self {
            sizes,
            images: n,
            batch,
            block,
            stride,
            out: free_at[l],
            steps: settings.steps(),
            ix,
            w,
            b,
            s,
            zero,
            drive,
            free,
            clamped,
            update,
            finish,
            _held: held,
        };
        out.upload(gpu, net)?;
        out._held.extend([x, t]);
        Ok(out)
    }

    /// Replaces the device's weights and biases with `net`'s (of the same sizes).
    pub fn upload(&mut self, gpu: &Gpu, net: &Chl) -> Result<()> {
        if net.sizes() != self.sizes {
            return Err(Error::Gpu(format!(
                "a CHL net of {:?} for a device net of {:?}",
                net.sizes(),
                self.sizes
            )));
        }
        let w: Vec<f32> = net
            .w
            .iter()
            .flat_map(|w| w.as_standard_layout().iter().copied().collect::<Vec<_>>())
            .collect();
        let b: Vec<f32> = net.b.iter().flat_map(|b| b.iter().copied()).collect();
        gpu.write(&self.w, bytemuck::cast_slice(&w));
        gpu.write(&self.b, bytemuck::cast_slice(&b));
        Ok(())
    }

    fn write_ix(&self, gpu: &Gpu, at: usize, values: &[u32]) {
        if !values.is_empty() {
            gpu.queue().write_buffer(
                self.ix.buffer(),
                (at * 4) as u64,
                bytemuck::cast_slice(values),
            );
        }
    }

    /// Sets the training order: positions among the images, batch after batch (at most one per image).
    pub fn set_order(&self, gpu: &Gpu, order: &[u32]) -> Result<()> {
        if order.len() > self.images || order.iter().any(|&i| i as usize >= self.images) {
            return Err(Error::Gpu(format!(
                "an order of {} positions among {} images",
                order.len(),
                self.images
            )));
        }
        self.write_ix(gpu, IX_ORDER, order);
        Ok(())
    }

    /// `count` training batches from batch `first` of the order, in one submit, as `Chl::free`, `Chl::clamped`
    /// and `Chl::update_with` on each.
    pub async fn train(&self, gpu: &Gpu, first: usize, count: usize) -> Result<()> {
        if (first + count) * self.batch > self.images {
            return Err(Error::Gpu(format!(
                "batches {first} to {} of {} rows among {} images",
                first + count,
                self.batch,
                self.images
            )));
        }
        self.write_ix(gpu, 0, &[(first * self.batch) as u32, self.batch as u32]);
        let mut rec = gpu.record();
        for _ in 0..count {
            self.record_free(&mut rec, self.batch);
            for _ in 0..self.steps {
                for st in &self.clamped {
                    rec.dispatch(&st.kernel, st.groups(self.batch));
                }
            }
            for st in &self.update {
                rec.dispatch(&st.kernel, st.groups(self.batch));
            }
            rec.dispatch(&self.finish, 1);
        }
        rec.submit().await?;
        Ok(())
    }

    /// The states cleared, the drive, and the free phase's steps for `rows` rows.
    fn record_free(&self, rec: &mut Recorder<'_>, rows: usize) {
        rec.dispatch(&self.zero.kernel, self.zero.groups(rows));
        rec.dispatch(&self.drive.kernel, self.drive.groups(rows));
        for _ in 0..self.steps {
            for st in &self.free {
                rec.dispatch(&st.kernel, st.groups(rows));
            }
        }
    }

    /// The free phase's output x_L [rows, n_L] of the images at `positions`, in blocks.
    pub async fn outputs(&self, gpu: &Gpu, positions: &[u32]) -> Result<Array2<f32>> {
        if positions.iter().any(|&i| i as usize >= self.images) {
            return Err(Error::Gpu(format!(
                "positions beyond the {} images",
                self.images
            )));
        }
        let nl = self.sizes[self.sizes.len() - 1];
        let mut out = Vec::with_capacity(positions.len() * nl);
        for part in positions.chunks(self.block) {
            let rows = part.len();
            let at = self.images;
            self.write_ix(gpu, 0, &[at as u32, rows as u32]);
            self.write_ix(gpu, IX_ORDER + at, part);
            let mut rec = gpu.record();
            self.record_free(&mut rec, rows);
            rec.read(&self.s, f32_bytes(rows * self.stride));
            let back = rec.submit().await?;
            let s: Vec<f32> = bytemuck::pod_collect_to_vec(&back[0]);
            for r in 0..rows {
                let from = r * self.stride + self.out;
                out.extend_from_slice(&s[from..from + nl]);
            }
        }
        Array2::from_shape_vec((positions.len(), nl), out)
            .map_err(|e| Error::Gpu(format!("unexpected result layout: {e}")))
    }

    /// Reads the weights and biases into `net`; returns the training batches' free-phase hits and rows since the
    /// last download (which clears them).
    pub async fn download(&self, gpu: &Gpu, net: &mut Chl) -> Result<(usize, usize)> {
        let mut rec = gpu.record();
        rec.read(&self.w, self.w.bytes());
        rec.read(&self.b, self.b.bytes());
        rec.read(&self.ix, 16);
        let out = rec.submit().await?;
        self.write_ix(gpu, 2, &[0, 0]);
        let w: Vec<f32> = bytemuck::pod_collect_to_vec(&out[0]);
        let b: Vec<f32> = bytemuck::pod_collect_to_vec(&out[1]);
        let counts: Vec<u32> = bytemuck::pod_collect_to_vec(&out[2]);
        let (mut wi, mut bi) = (0, 0);
        let mut ws = Vec::new();
        let mut bs = Vec::new();
        for p in self.sizes.windows(2) {
            let m = Array2::from_shape_vec((p[0], p[1]), w[wi..wi + p[0] * p[1]].to_vec())
                .map_err(|e| Error::Gpu(format!("unexpected result layout: {e}")))?;
            ws.push(m);
            bs.push(Array1::from(b[bi..bi + p[1]].to_vec()));
            wi += p[0] * p[1];
            bi += p[1];
        }
        net.w = ws;
        net.b = bs;
        Ok((counts[2] as usize, counts[3] as usize))
    }
}
