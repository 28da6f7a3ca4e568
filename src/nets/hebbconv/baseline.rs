//! The end-to-end backprop baseline of the Hebbian CNN (architecture H, notes §2 H and §3): A's shapes with
//! zero-padded `nn.Conv2d(bias=False)` layers, ReLU instead of the Triangle, BatchNorm without affine
//! parameters, the same pools and the same Flatten → Dropout(0.5) → Linear head, every parameter trained by
//! Adam (lr 1e-2) on softmax cross-entropy. Forward from the layers of conv.rs and layers.rs, backward from
//! backward.rs.
use super::backward::{self, DROPOUT};
use super::conv::{self, ConvSpec};
use super::layers::{self, BatchNorm};
use super::presets::{Arch, ConvLayer, Op, Preset};
use crate::error::{Error, Result};
use crate::nets::linear::{self, Linear};
use crate::nets::optim::Adam;
use crate::rng::{self, Purpose};
use ndarray::{Array1, Array2, Array4, ArrayView2, ArrayView4};

/// Adam's learning rate for the whole network (notes §3, "Backprop baseline").
pub const LEARNING_RATE: f32 = 1e-2;

/// One layer of the baseline with its parameters or running statistics.
#[derive(Clone, Debug, PartialEq)]
pub enum Layer {
    BatchNorm(BatchNorm),
    /// A convolution (zero padding, no bias) and its weights [c_out, c_in, k, k].
    Conv {
        layer: ConvLayer,
        w: Array4<f32>,
    },
    Relu,
    MaxPool {
        k: usize,
        stride: usize,
        pad: usize,
    },
    AvgPool {
        k: usize,
        stride: usize,
        pad: usize,
    },
}

/// Gradients of a loss with respect to every parameter and, when asked, the input.
#[derive(Clone, Debug, PartialEq)]
pub struct Gradients {
    /// dL/dw of each convolution, in the network's order.
    pub conv: Vec<Array4<f32>>,
    /// dL/dw [classes, features] and dL/db of the head's Linear.
    pub head_w: Array2<f32>,
    pub head_b: Array1<f32>,
    /// dL/dx of the input images.
    pub x: Option<Array4<f32>>,
}

impl Gradients {
    /// Every gradient flat, in the order of [`Baseline::params_mut`].
    pub fn flat(&self) -> Vec<&[f32]> {
        let mut out: Vec<&[f32]> = self
            .conv
            .iter()
            .map(|g| g.as_slice().expect("gradients are fresh arrays"))
            .collect();
        out.push(self.head_w.as_slice().expect("a fresh array"));
        out.push(self.head_b.as_slice().expect("a fresh array"));
        out
    }
}

/// Loss and accuracy of the network on labelled images.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    /// Mean softmax cross-entropy.
    pub loss: f32,
    /// Fraction of images whose largest logit is their label.
    pub accuracy: f32,
}

/// Architecture H with its parameters, BatchNorm statistics and optimiser state.
#[derive(Clone, Debug)]
pub struct Baseline {
    pub preset: Preset,
    pub seed: u32,
    // Private so that every tensor stays in standard layout: Adam and the flat views walk them as slices.
    layers: Vec<Layer>,
    head: Linear,
    adam: Adam,
}

/// What a forward pass keeps for the backward pass: each layer's input, the head's features and dropout mask.
struct Tape {
    inputs: Vec<Array4<f32>>,
    out_shape: (usize, usize, usize, usize),
    feats: Array2<f32>,
    mask: Option<Array2<f32>>,
}

/// PyTorch's default `nn.Conv2d` initialisation, kaiming_uniform(a = √5): U(−1/√fan_in, 1/√fan_in), fan_in =
/// C_in·k². Layer `index` draws from stream (Readout, 3, index): the j-th weight (row-major) is
/// 2·uniform(word j mod 4 of philox([j/4, 0, 0, 0], key)) − 1 times the bound. (The thesis's run used the
/// Hebbian init 25/√fan_in·N(0, 1); it reports about 70 % with PyTorch's default too, L1286.)
pub fn init_weights(spec: &ConvSpec, seed: u32, index: u32) -> Array4<f32> {
    let key = [seed, rng::stream(Purpose::Readout, 3, index)];
    let bound = 1.0 / (spec.fan_in().max(1) as f32).sqrt();
    let mut w = Array4::zeros(spec.weight_shape());
    let mut words = [0u32; 4];
    for (j, v) in w.iter_mut().enumerate() {
        if j % 4 == 0 {
            words = rng::philox4x32([(j / 4) as u32, 0, 0, 0], key);
        }
        *v = bound * (2.0 * rng::uniform(words[j % 4]) - 1.0);
    }
    w
}

/// The parameter tensors of `layers` and `head` flat, in Adam's order (see [`Baseline::params_mut`]).
fn params<'a>(layers: &'a mut [Layer], head: &'a mut Linear) -> Vec<&'a mut [f32]> {
    const LAYOUT: &str = "parameters are kept in standard layout";
    let mut out: Vec<&mut [f32]> = layers
        .iter_mut()
        .filter_map(|l| match l {
            Layer::Conv { w, .. } => Some(w.as_slice_mut().expect(LAYOUT)),
            _ => None,
        })
        .collect();
    out.push(head.w.as_slice_mut().expect(LAYOUT));
    out.push(head.b.as_slice_mut().expect(LAYOUT));
    out
}

impl Baseline {
    /// Architecture H for images [C, H, W], widths divided by `width_div`, `classes` outputs, parameters from
    /// `seed` (convolutions [`init_weights`], head [`Linear::thesis`]).
    pub fn new(input: [usize; 3], width_div: usize, classes: usize, seed: u32) -> Result<Self> {
        let preset = Preset::new(Arch::H, input, width_div, classes)?;
        let mut layers = Vec::with_capacity(preset.ops.len());
        let mut convs = 0u32;
        for op in &preset.ops {
            layers.push(match op {
                Op::BatchNorm(c) => Layer::BatchNorm(BatchNorm::new(*c)),
                Op::Conv(l) => {
                    let w = init_weights(&l.conv, seed, convs);
                    convs += 1;
                    Layer::Conv { layer: *l, w }
                }
                Op::Relu => Layer::Relu,
                &Op::MaxPool { k, stride, pad } => Layer::MaxPool { k, stride, pad },
                &Op::AvgPool { k, stride, pad } => Layer::AvgPool { k, stride, pad },
                Op::Triangle(_) | Op::Residual { .. } => {
                    return Err(Error::Data(format!(
                        "the backprop baseline has no {op:?} layer"
                    )));
                }
            });
        }
        let head = Linear::thesis(preset.features(), classes, seed);
        let mut sizes: Vec<usize> = layers
            .iter()
            .filter_map(|l| match l {
                Layer::Conv { w, .. } => Some(w.len()),
                _ => None,
            })
            .collect();
        sizes.extend([head.w.len(), head.b.len()]);
        Ok(Self {
            preset,
            seed,
            layers,
            head,
            adam: Adam::new(LEARNING_RATE, &sizes),
        })
    }

    /// The layers, in order.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The head's Linear.
    pub fn head(&self) -> &Linear {
        &self.head
    }

    /// Optimiser steps taken (also the batch index of the next dropout mask).
    pub fn steps(&self) -> i32 {
        self.adam.steps()
    }

    /// The optimiser (its constants, step count and moments).
    pub fn adam(&self) -> &Adam {
        &self.adam
    }

    /// The layers, the head and the optimiser, for a copy of the network held elsewhere (the GPU's) to write
    /// back into.
    pub(super) fn parts_mut(&mut self) -> (&mut [Layer], &mut Linear, &mut Adam) {
        (&mut self.layers, &mut self.head, &mut self.adam)
    }

    /// Every parameter tensor flat, in Adam's order: the convolutions' weights, the head's weights, its bias.
    pub fn params_mut(&mut self) -> Vec<&mut [f32]> {
        params(&mut self.layers, &mut self.head)
    }

    /// Refuses images that are not the preset's or an empty batch, and labels that are not one per image
    /// below the number of classes.
    pub(super) fn check(&self, x: &ArrayView4<f32>, labels: Option<&[u8]>) -> Result<()> {
        let (n, c, h, w) = x.dim();
        if [c, h, w] != self.preset.input || n == 0 {
            return Err(Error::Data(format!(
                "the baseline takes a batch of {:?} images, not {n} of {c}×{h}×{w}",
                self.preset.input
            )));
        }
        if let Some(labels) = labels {
            if labels.len() != n {
                return Err(Error::Data(format!(
                    "{} labels for {n} images",
                    labels.len()
                )));
            }
            if let Some(&bad) = labels
                .iter()
                .find(|&&l| usize::from(l) >= self.preset.classes)
            {
                return Err(Error::Data(format!(
                    "label {bad} outside the {} classes",
                    self.preset.classes
                )));
            }
        }
        Ok(())
    }

    /// The forward pass. `train`: BatchNorm from batch statistics (running ones updated) and dropout with the
    /// mask of batch [`Self::steps`]; otherwise running statistics and no dropout.
    fn forward(&mut self, x: ArrayView4<f32>, train: bool) -> (Tape, Array2<f32>) {
        let mut inputs = Vec::with_capacity(self.layers.len());
        let mut a = x.to_owned();
        for l in &mut self.layers {
            let next = match l {
                Layer::BatchNorm(bn) => bn.forward(a.view(), train),
                Layer::Conv { layer, w } => {
                    let xp = backward::pad(a.view(), layer.conv.pad, layer.padding);
                    conv::forward_padded(xp.view(), w.view(), &layer.conv)
                }
                Layer::Relu => layers::relu(a.view()),
                Layer::MaxPool { k, stride, pad } => layers::max_pool(a.view(), *k, *stride, *pad),
                Layer::AvgPool { k, stride, pad } => layers::avg_pool(a.view(), *k, *stride, *pad),
            };
            inputs.push(std::mem::replace(&mut a, next));
        }
        let out_shape = a.dim();
        let mask = train.then(|| {
            let n = out_shape.0;
            backward::dropout_mask(n, a.len() / n, DROPOUT, self.seed, self.adam.steps() as u64)
        });
        let (feats, logits) =
            backward::head_forward(&self.head, a.view(), mask.as_ref().map(|m| m.view()));
        let tape = Tape {
            inputs,
            out_shape,
            feats,
            mask,
        };
        (tape, logits)
    }

    /// The backward pass from the logits' gradient through the recorded forward pass.
    fn backward(&self, tape: &Tape, dlogits: Array2<f32>, train: bool, want_dx: bool) -> Gradients {
        let head = backward::head_backward(
            &self.head,
            tape.feats.view(),
            tape.mask.as_ref().map(|m| m.view()),
            dlogits.view(),
            tape.out_shape,
            true,
        );
        let mut g = head.x.expect("asked for");
        // Below the first convolution only the input gradient needs the layers' backward passes.
        let first = self
            .layers
            .iter()
            .position(|l| matches!(l, Layer::Conv { .. }))
            .unwrap_or(0);
        let mut conv = Vec::new();
        for (i, (l, x)) in self.layers.iter().zip(&tape.inputs).enumerate().rev() {
            if i < first && !want_dx {
                break;
            }
            g = match l {
                Layer::BatchNorm(bn) => {
                    backward::batch_norm_backward(bn, x.view(), g.view(), train)
                }
                Layer::Conv { layer, w } => {
                    let grads = backward::conv_backward(
                        x.view(),
                        w.view(),
                        g.view(),
                        &layer.conv,
                        layer.padding,
                        want_dx || i > first,
                    );
                    conv.push(grads.w);
                    match grads.x {
                        Some(dx) => dx,
                        None => break,
                    }
                }
                Layer::Relu => backward::relu_backward(x.view(), g.view()),
                Layer::MaxPool { k, stride, pad } => {
                    backward::max_pool_backward(x.view(), g.view(), *k, *stride, *pad)
                }
                Layer::AvgPool { k, stride, pad } => {
                    let (_, _, h, w) = x.dim();
                    backward::avg_pool_backward(g.view(), h, w, *k, *stride, *pad)
                }
            };
        }
        conv.reverse();
        Gradients {
            conv,
            head_w: head.w,
            head_b: head.b,
            x: want_dx.then_some(g),
        }
    }

    /// Mean cross-entropy of `labels` and its gradients. `train` as in training (batch statistics, running
    /// statistics moved, dropout of batch [`Self::steps`]); otherwise evaluation mode. The parameters stay.
    pub fn gradients(
        &mut self,
        x: ArrayView4<f32>,
        labels: &[u8],
        train: bool,
        want_dx: bool,
    ) -> Result<(f32, Gradients)> {
        self.check(&x, Some(labels))?;
        let (tape, logits) = self.forward(x, train);
        let (loss, dlogits) = linear::softmax_cross_entropy(logits.view(), labels);
        Ok((loss, self.backward(&tape, dlogits, train, want_dx)))
    }

    /// One training step (notes §3): forward in training mode, softmax cross-entropy, backward, and one Adam
    /// step (lr 1e-2) over every parameter. Returns the batch's loss before the step.
    pub fn train_step(&mut self, x: ArrayView4<f32>, labels: &[u8]) -> Result<f32> {
        let (loss, grads) = self.gradients(x, labels, true, false)?;
        self.adam
            .step(&mut params(&mut self.layers, &mut self.head), &grads.flat());
        Ok(loss)
    }

    /// Logits [N, classes] in evaluation mode (running statistics, no dropout; nothing changes).
    pub fn logits(&mut self, x: ArrayView4<f32>) -> Result<Array2<f32>> {
        self.check(&x, None)?;
        Ok(self.forward(x, false).1)
    }

    /// Mean cross-entropy and accuracy in evaluation mode.
    pub fn evaluate(&mut self, x: ArrayView4<f32>, labels: &[u8]) -> Result<Evaluation> {
        self.check(&x, Some(labels))?;
        let logits = self.forward(x, false).1;
        Ok(Self::score(logits.view(), labels))
    }

    /// Mean cross-entropy and accuracy of logits for `labels` (one per row, checked by the caller).
    pub fn score(logits: ArrayView2<f32>, labels: &[u8]) -> Evaluation {
        let (loss, _) = linear::softmax_cross_entropy(logits, labels);
        let hits = linear::argmax_rows(logits)
            .iter()
            .zip(labels)
            .filter(|(p, l)| p == l)
            .count();
        Evaluation {
            loss,
            accuracy: hits as f32 / labels.len().max(1) as f32,
        }
    }

    /// d logit_class / d x for every image of the batch, in evaluation mode (running statistics, no dropout),
    /// where images do not interact: the saliency of `class` [N, C, H, W].
    pub fn input_gradient(&mut self, x: ArrayView4<f32>, class: u8) -> Result<Array4<f32>> {
        self.check(&x, None)?;
        if usize::from(class) >= self.preset.classes {
            return Err(Error::Data(format!(
                "class {class} outside the {} classes",
                self.preset.classes
            )));
        }
        let (tape, logits) = self.forward(x, false);
        let mut dlogits = Array2::zeros(logits.raw_dim());
        dlogits.column_mut(usize::from(class)).fill(1.0);
        let grads = self.backward(&tape, dlogits, false, true);
        Ok(grads.x.expect("asked for"))
    }
}
