//! The backprop baseline (architecture H, `baseline.rs`) trained on the GPU with resident tensors: every
//! activation, gradient, weight, BatchNorm statistic and Adam moment stays on the device for the run, and one
//! training step (forward in training mode, softmax cross-entropy, backward, Adam) is one submit whose only
//! readback is the batch's per-image losses. The CPU [`Baseline`] is the twin: it starts the run (weights,
//! statistics, optimiser state are uploaded) and receives it back ([`GpuBaseline::download`]).
use super::backward::DROPOUT;
use super::baseline::{Baseline, Evaluation, Layer};
use crate::engine::{Gpu, Recorder, Tensor};
use crate::error::{Error, Result};
use crate::kernels::backprop::{AdamGpu, HeadGpu, HeadMode, mean_loss};
use crate::kernels::hebbback::{ConvBackGpu, ConvIo};
use crate::kernels::hebbconv::{ConvShape, values};
use crate::kernels::hebblayers::{BatchNormGpu, LayerKernel, PoolKind};
use crate::nets::hebbconv::layers::pool_side;
use crate::nets::optim::Adam;
use ndarray::{Array1, Array2, Array4, ArrayView4, Axis};

/// One layer on the device: its forward kernels and the reverse mode's.
enum Node {
    Conv(ConvBackGpu),
    BatchNorm(BatchNormGpu, LayerKernel),
    /// ReLU or a pool: one kernel each way.
    Fixed(LayerKernel, LayerKernel),
}

/// Architecture H on the GPU for batches of a fixed size.
pub struct GpuBaseline {
    input_shape: [usize; 3],
    classes: usize,
    seed: u32,
    batch: usize,
    input: Tensor,
    nodes: Vec<Node>,
    /// Layers below the first convolution need no reverse mode (nothing below it learns).
    first_conv: usize,
    head: HeadGpu,
    adam: AdamGpu,
    /// The optimiser's constants (its moments are on the device).
    optimiser: Adam,
    /// Optimiser steps taken.
    steps: i32,
}

fn f32_bytes(shape: [usize; 4]) -> u64 {
    (shape.iter().product::<usize>().max(1) * 4) as u64
}

impl GpuBaseline {
    /// `net` on the GPU for batches of `batch` images: its weights, BatchNorm running statistics and Adam state
    /// uploaded, so that the run continues where the CPU left it. Any buffer over the device's limits is
    /// refused before it is allocated.
    pub async fn new(gpu: &Gpu, net: &Baseline, batch: usize) -> Result<Self> {
        if batch == 0 {
            return Err(Error::Data(
                "a GPU network needs a batch of at least one image".into(),
            ));
        }
        let [c, h, w] = net.preset.input;
        let mut shape = [batch, c, h, w];
        let input = gpu.tensor("input batch", f32_bytes(shape))?;
        // The gradient of each layer's input; the first one is written by nothing that is read.
        let mut grad = gpu.tensor("input gradient", f32_bytes(shape))?;
        let mut act = input.share();
        let mut nodes = Vec::with_capacity(net.layers().len());
        for l in net.layers() {
            let (node, out) = match l {
                Layer::Conv { layer, w } => {
                    let spec = &layer.conv;
                    let s = ConvShape {
                        n: batch,
                        c_in: spec.c_in,
                        h: shape[2],
                        w: shape[3],
                        c_out: spec.c_out,
                        k: spec.k,
                        stride: spec.stride,
                        pad: spec.pad,
                    };
                    s.check()?;
                    let out = [batch, s.c_out, s.ho(), s.wo()];
                    let io = ConvIo {
                        x: act.share(),
                        y: gpu.tensor("convolution output", f32_bytes(out))?,
                        dy: gpu.tensor("output gradient", f32_bytes(out))?,
                        dx: grad.share(),
                    };
                    let conv = ConvBackGpu::with(gpu, s, layer.padding, io).await?;
                    gpu.write(&conv.w, bytemuck::cast_slice(&values(w.view())));
                    (Node::Conv(conv), out)
                }
                Layer::BatchNorm(bn) => {
                    let (y, dy) = pair(gpu, "BatchNorm", shape)?;
                    let fwd = BatchNormGpu::new(gpu, shape, bn, &act, &y).await?;
                    let back = LayerKernel::bn_backward(
                        gpu,
                        shape,
                        true,
                        bn.eps,
                        &fwd.running,
                        &act,
                        &dy,
                        &grad,
                    )
                    .await?;
                    nodes.push(Node::BatchNorm(fwd, back));
                    (act, grad) = (y, dy);
                    continue;
                }
                Layer::Relu => {
                    let (y, dy) = pair(gpu, "ReLU", shape)?;
                    let fwd = LayerKernel::relu(gpu, shape, &act, &y).await?;
                    let back = LayerKernel::relu_backward(gpu, shape, &act, &dy, &grad).await?;
                    nodes.push(Node::Fixed(fwd, back));
                    (act, grad) = (y, dy);
                    continue;
                }
                &Layer::MaxPool { k, stride, pad } | &Layer::AvgPool { k, stride, pad } => {
                    let kind = match l {
                        Layer::MaxPool { .. } => PoolKind::Max,
                        _ => PoolKind::Avg,
                    };
                    let out = [
                        batch,
                        shape[1],
                        pool_side(shape[2], k, stride, pad),
                        pool_side(shape[3], k, stride, pad),
                    ];
                    let (y, dy) = pair(gpu, "pool", out)?;
                    let fwd = LayerKernel::pool(gpu, shape, kind, k, stride, pad, &act, &y).await?;
                    let back = LayerKernel::pool_backward(
                        gpu, shape, kind, k, stride, pad, &act, &dy, &grad,
                    )
                    .await?;
                    nodes.push(Node::Fixed(fwd, back));
                    (act, grad, shape) = (y, dy, out);
                    continue;
                }
            };
            if let Node::Conv(conv) = &node {
                (act, grad) = (conv.io.y.share(), conv.io.dy.share());
            }
            nodes.push(node);
            shape = out;
        }
        let features = shape[1] * shape[2] * shape[3];
        let classes = net.preset.classes;
        let head = HeadGpu::new(gpu, batch, features, classes, &act, &grad).await?;
        let lin = net.head();
        gpu.write(
            &head.w,
            bytemuck::cast_slice(lin.w.as_slice().expect("standard layout")),
        );
        gpu.write(
            &head.b,
            bytemuck::cast_slice(lin.b.as_slice().expect("standard layout")),
        );
        let mut pairs: Vec<(&Tensor, &Tensor)> = nodes
            .iter()
            .filter_map(|n| match n {
                Node::Conv(c) => Some((&c.w, &c.dw)),
                _ => None,
            })
            .collect();
        pairs.extend([(&head.w, &head.dw), (&head.b, &head.db)]);
        let adam = AdamGpu::new(gpu, &pairs, net.adam()).await?;
        let first_conv = nodes
            .iter()
            .position(|n| matches!(n, Node::Conv(_)))
            .unwrap_or(0);
        Ok(Self {
            input_shape: net.preset.input,
            classes,
            seed: net.seed,
            batch,
            input,
            nodes,
            first_conv,
            head,
            adam,
            optimiser: constants(net.adam()),
            steps: net.steps(),
        })
    }

    /// Images per training step (and per submit of the evaluation).
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Optimiser steps taken, on the CPU before the upload and here since.
    pub fn steps(&self) -> i32 {
        self.steps
    }

    fn check(&self, x: &ArrayView4<'_, f32>, labels: Option<&[u8]>) -> Result<()> {
        let (n, c, h, w) = x.dim();
        if [c, h, w] != self.input_shape || n == 0 {
            return Err(Error::Data(format!(
                "the baseline takes a batch of {:?} images, not {n} of {c}×{h}×{w}",
                self.input_shape
            )));
        }
        if let Some(labels) = labels {
            if labels.len() != n {
                return Err(Error::Data(format!(
                    "{} labels for {n} images",
                    labels.len()
                )));
            }
            if let Some(&bad) = labels.iter().find(|&&l| usize::from(l) >= self.classes) {
                return Err(Error::Data(format!(
                    "label {bad} outside the {} classes",
                    self.classes
                )));
            }
        }
        Ok(())
    }

    /// Every layer's forward pass and the head's (BatchNorm from batch statistics when `train`).
    fn record_forward(&self, rec: &mut Recorder<'_>, train: bool) {
        for node in &self.nodes {
            match node {
                Node::Conv(c) => c.record_forward(rec),
                Node::BatchNorm(bn, _) => bn.record(rec, train),
                Node::Fixed(fwd, _) => fwd.record(rec),
            }
        }
        self.head.record_forward(rec);
    }

    /// The head's reverse mode, then each layer's down to the first convolution (whose input gradient nothing
    /// reads).
    fn record_backward(&self, rec: &mut Recorder<'_>) {
        self.head.record_backward(rec, true);
        for (i, node) in self.nodes.iter().enumerate().rev() {
            if i < self.first_conv {
                break;
            }
            match node {
                Node::Conv(c) => {
                    c.record_weight_grad(rec);
                    if i > self.first_conv {
                        c.record_input_grad(rec);
                    }
                }
                Node::BatchNorm(_, back) | Node::Fixed(_, back) => back.record(rec),
            }
        }
    }

    /// One training step on exactly [`Self::batch`] images, as `Baseline::train_step`: forward in training
    /// mode (dropout mask of batch [`Self::steps`]), softmax cross-entropy, backward and one Adam step, in one
    /// submit. Returns the batch's loss before the step.
    pub async fn train_step(
        &mut self,
        gpu: &Gpu,
        x: ArrayView4<'_, f32>,
        labels: &[u8],
    ) -> Result<f32> {
        self.check(&x, Some(labels))?;
        if x.dim().0 != self.batch {
            return Err(Error::Data(format!(
                "this GPU network trains on batches of {} images, not {} (BatchNorm takes its statistics over \
                 the whole batch)",
                self.batch,
                x.dim().0
            )));
        }
        let step = self.steps;
        gpu.write(&self.input, bytemuck::cast_slice(&values(x)));
        self.head.set_labels(gpu, labels);
        self.head.set_mode(
            gpu,
            HeadMode::Train {
                seed: self.seed,
                batch: step as u64,
                p: DROPOUT,
            },
        );
        self.adam.set_step(gpu, &self.optimiser, step + 1);
        let mut rec = gpu.record();
        self.record_forward(&mut rec, true);
        self.record_backward(&mut rec);
        self.adam.record(&mut rec);
        rec.read(&self.head.losses, (self.batch * 4) as u64);
        let out = rec.submit().await?;
        // Counted only once the step ran, so that a failed submit can be retried with the same mask.
        self.steps += 1;
        Ok(mean_loss(&out[0], self.batch))
    }

    /// Logits [N, classes] in evaluation mode, for any number of images (one submit per [`Self::batch`]; in
    /// evaluation every image is computed on its own, so a short last batch reads back only its rows).
    pub async fn logits(&self, gpu: &Gpu, x: ArrayView4<'_, f32>) -> Result<Array2<f32>> {
        self.check(&x, None)?;
        self.head.set_mode(gpu, HeadMode::Eval);
        let mut out = Array2::zeros((x.dim().0, self.classes));
        for (chunk, mut rows) in x
            .axis_chunks_iter(Axis(0), self.batch)
            .zip(out.axis_chunks_iter_mut(Axis(0), self.batch))
        {
            let m = chunk.dim().0;
            gpu.write(&self.input, bytemuck::cast_slice(&values(chunk)));
            let mut rec = gpu.record();
            self.record_forward(&mut rec, false);
            rec.read(&self.head.logits, (m * self.classes * 4) as u64);
            let v: Vec<f32> = bytemuck::pod_collect_to_vec(&rec.submit().await?[0]);
            rows.assign(
                &Array2::from_shape_vec((m, self.classes), v)
                    .map_err(|e| Error::Gpu(format!("unexpected logits layout: {e}")))?,
            );
        }
        Ok(out)
    }

    /// Mean cross-entropy and accuracy in evaluation mode, as `Baseline::evaluate`.
    pub async fn evaluate(
        &self,
        gpu: &Gpu,
        x: ArrayView4<'_, f32>,
        labels: &[u8],
    ) -> Result<Evaluation> {
        self.check(&x, Some(labels))?;
        let logits = self.logits(gpu, x).await?;
        Ok(Baseline::score(logits.view(), labels))
    }

    /// Copies the weights, BatchNorm running statistics and Adam state into `net` (made with this network's
    /// preset), in one submit, so that a run continues on the CPU or is saved.
    pub async fn download(&self, gpu: &Gpu, net: &mut Baseline) -> Result<()> {
        if net.preset.input != self.input_shape || net.layers().len() != self.nodes.len() {
            return Err(Error::Data(format!(
                "the GPU network has {} layers for {:?} images; the CPU network given has {} for {:?}",
                self.nodes.len(),
                self.input_shape,
                net.layers().len(),
                net.preset.input
            )));
        }
        let mut rec = gpu.record();
        for node in &self.nodes {
            match node {
                Node::Conv(c) => rec.read(&c.w, c.w.bytes()),
                Node::BatchNorm(bn, _) => rec.read(&bn.running, bn.running.bytes()),
                Node::Fixed(..) => {}
            }
        }
        rec.read(&self.head.w, self.head.w.bytes());
        rec.read(&self.head.b, self.head.b.bytes());
        self.adam.record_reads(&mut rec);
        let mut out = rec.submit().await?.into_iter();
        let mut next = || {
            out.next()
                .ok_or_else(|| Error::Gpu("a read-back went missing".into()))
        };
        let (layers, head, adam) = net.parts_mut();
        for (node, layer) in self.nodes.iter().zip(layers.iter_mut()) {
            match (node, layer) {
                (Node::Conv(_), Layer::Conv { w, .. }) => {
                    *w =
                        Array4::from_shape_vec(w.raw_dim(), bytemuck::pod_collect_to_vec(&next()?))
                            .map_err(|e| Error::Gpu(format!("unexpected weights layout: {e}")))?;
                }
                (Node::BatchNorm(gpu_bn, _), Layer::BatchNorm(bn)) => gpu_bn.store(&next()?, bn)?,
                (Node::Fixed(..), Layer::Relu | Layer::MaxPool { .. } | Layer::AvgPool { .. }) => {}
                _ => {
                    return Err(Error::Data(
                        "the CPU network's layers differ from the GPU's".into(),
                    ));
                }
            }
        }
        head.w = Array2::from_shape_vec(head.w.raw_dim(), bytemuck::pod_collect_to_vec(&next()?))
            .map_err(|e| Error::Gpu(format!("unexpected head layout: {e}")))?;
        head.b = Array1::from(bytemuck::pod_collect_to_vec::<u8, f32>(&next()?));
        let mut moments = Vec::with_capacity(adam.moments().len());
        for _ in 0..adam.moments().len() {
            let (m, v) = (next()?, next()?);
            moments.push((
                bytemuck::pod_collect_to_vec(&m),
                bytemuck::pod_collect_to_vec(&v),
            ));
        }
        adam.restore(self.steps, moments)
    }
}

/// `adam`'s constants without its moments.
fn constants(adam: &Adam) -> Adam {
    let mut c = Adam::new(adam.lr, &[]);
    (c.beta1, c.beta2, c.eps) = (adam.beta1, adam.beta2, adam.eps);
    c
}

/// An activation and its gradient of one shape.
fn pair(gpu: &Gpu, what: &str, shape: [usize; 4]) -> Result<(Tensor, Tensor)> {
    Ok((
        gpu.tensor(&format!("{what} output"), f32_bytes(shape))?,
        gpu.tensor(&format!("{what} output gradient"), f32_bytes(shape))?,
    ))
}
