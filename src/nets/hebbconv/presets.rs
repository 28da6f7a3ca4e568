//! Architectures A-H of the thesis (notes §2) as data: the layer list with widths, kernels, pads, pools,
//! Triangle powers, per-layer inverse temperatures and SoftHebb learning rates, for any input shape and any
//! width divisor (1 = the thesis's network; 4 or 8 for laptops and CI).
use super::conv::ConvSpec;
use super::layers::pool_side;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// The thesis's architectures (notes §2, appendix tables 5-11).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Arch {
    /// "SoftHebb": 96/384/1536, k 5/3/3, reflect pads 2/1/1, MaxPool(4,2,1) ×2, AvgPool(2,2). 5,893,162 params.
    A,
    /// "HardHebb": A without padding and without pool 2. 6,031,402 params.
    B,
    /// "Lagani short": 96/128/192, no padding, powers 1. 386,986 params.
    C,
    /// "Lagani" long: C plus conv4 192→256. 804,394 params.
    D,
    /// Depthwise-separable SoftHebb. 883,978 params.
    E,
    /// Depthwise HardHebb (E without padding and pool 2). 1,022,218 params.
    F,
    /// Residual inverted bottlenecks (expansion 4). 4,030,378 params.
    G,
    /// The end-to-end backprop baseline: A's shapes, zero padding, ReLU. 5,893,162 params.
    H,
}

impl Arch {
    pub const ALL: [Arch; 8] = [
        Arch::A,
        Arch::B,
        Arch::C,
        Arch::D,
        Arch::E,
        Arch::F,
        Arch::G,
        Arch::H,
    ];
}

/// How a convolution pads its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Padding {
    /// PyTorch 'reflect' (every Hebbian layer).
    Reflect,
    /// Zeros (`nn.Conv2d`, the backprop baseline).
    Zero,
}

/// One convolution of a preset and its per-layer learning settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConvLayer {
    pub conv: ConvSpec,
    pub padding: Padding,
    /// Soft-WTA's inverse temperature (1, 0.65, 0.25 by depth).
    pub t_inv: f32,
    /// SoftHebb's base learning rate lr0 (0.08, 0.005, 0.01 by depth).
    pub lr_soft: f32,
    /// The plain SGD rate of every other competition (0.1).
    pub lr: f32,
}

/// One step of a network.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// `BatchNorm2d(channels, affine=False)`.
    BatchNorm(usize),
    /// A (Hebbian, or for H backprop) convolution.
    Conv(ConvLayer),
    /// `ReLU(y − mean_c y)^power`.
    Triangle(f32),
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
    /// Inverted bottleneck: out = Triangle_power(body(x) + shortcut(x)).
    Residual {
        body: Vec<Op>,
        shortcut: Vec<Op>,
        power: f32,
    },
}

/// An architecture for an input shape and width divisor: its ops, feature count and classes.
#[derive(Clone, Debug, PartialEq)]
pub struct Preset {
    pub arch: Arch,
    /// Input [channels, height, width] (CIFAR-10 [3, 32, 32], MNIST [1, 28, 28]).
    pub input: [usize; 3],
    /// Every width (not the input's channels) divided by this, rounded up.
    pub width_div: usize,
    pub classes: usize,
    pub ops: Vec<Op>,
    /// Output shape of the last op [C, H, W]; the linear head sees C·H·W features.
    pub out: [usize; 3],
}

/// Per-depth settings of the three-stage networks: (t_inv, SoftHebb lr0).
const DEPTH: [(f32, f32); 4] = [(1.0, 0.08), (0.65, 0.005), (0.25, 0.01), (0.25, 0.01)];

fn conv(c_in: usize, c_out: usize, k: usize, pad: usize, depth: usize) -> Op {
    Op::Conv(ConvLayer {
        conv: ConvSpec::new(c_in, c_out, k, pad),
        padding: Padding::Reflect,
        t_inv: DEPTH[depth].0,
        lr_soft: DEPTH[depth].1,
        lr: 0.1,
    })
}

fn dw(c: usize, k: usize, pad: usize, depth: usize) -> Op {
    Op::Conv(ConvLayer {
        conv: ConvSpec::depthwise(c, k, pad),
        padding: Padding::Reflect,
        t_inv: DEPTH[depth].0,
        lr_soft: DEPTH[depth].1,
        lr: 0.1,
    })
}

fn max(k: usize, stride: usize, pad: usize) -> Op {
    Op::MaxPool { k, stride, pad }
}

fn avg(k: usize, stride: usize, pad: usize) -> Op {
    Op::AvgPool { k, stride, pad }
}

fn residual(c_in: usize, c_out: usize, power: f32, depth: usize) -> Op {
    let hidden = c_in * 4;
    Op::Residual {
        body: vec![
            Op::BatchNorm(c_in),
            conv(c_in, hidden, 1, 0, depth),
            Op::Triangle(power),
            Op::BatchNorm(hidden),
            dw(hidden, 3, 1, depth),
            Op::Triangle(power),
            Op::BatchNorm(hidden),
            conv(hidden, c_out, 1, 0, depth),
        ],
        shortcut: vec![Op::BatchNorm(c_in), conv(c_in, c_out, 1, 0, depth)],
        power,
    }
}

/// The layer list of `arch` for `c` input channels and widths divided by `div` (one line per stage).
#[rustfmt::skip]
pub fn ops(arch: Arch, c: usize, div: usize) -> Vec<Op> {
    let d = |w: usize| w.div_ceil(div.max(1)).max(1);
    let (w1, w2, w3) = (d(96), d(384), d(1536));
    use Op::{BatchNorm as Bn, Triangle as T};
    match arch {
        Arch::A => vec![
            Bn(c), conv(c, w1, 5, 2, 0), T(0.7), max(4, 2, 1),
            Bn(w1), conv(w1, w2, 3, 1, 1), T(1.4), max(4, 2, 1),
            Bn(w2), conv(w2, w3, 3, 1, 2), T(1.0), avg(2, 2, 0),
        ],
        Arch::B => vec![
            Bn(c), conv(c, w1, 5, 0, 0), T(0.7), max(2, 2, 0),
            Bn(w1), conv(w1, w2, 3, 0, 1), T(1.4),
            Bn(w2), conv(w2, w3, 3, 0, 2), T(1.0), avg(2, 2, 0),
        ],
        Arch::C | Arch::D => {
            let (l1, l2, l3, l4) = (d(96), d(128), d(192), d(256));
            let mut v = vec![
                Bn(c), conv(c, l1, 5, 0, 0), T(1.0), max(2, 2, 0),
                Bn(l1), conv(l1, l2, 3, 0, 1), T(1.0),
                Bn(l2), conv(l2, l3, 3, 0, 2), T(1.0), avg(2, 2, 0),
            ];
            if arch == Arch::D {
                v.extend([Bn(l3), conv(l3, l4, 3, 0, 3), T(1.0)]);
            }
            v
        }
        Arch::E => vec![
            Bn(c), conv(c, w1, 5, 2, 0), T(0.7), max(4, 2, 1),
            Bn(w1), dw(w1, 3, 1, 1), Bn(w1), conv(w1, w2, 1, 0, 1), T(1.4), max(4, 2, 1),
            Bn(w2), dw(w2, 3, 1, 2), Bn(w2), conv(w2, w3, 1, 0, 2), T(1.0), avg(2, 2, 0),
        ],
        Arch::F => vec![
            Bn(c), conv(c, w1, 5, 0, 0), T(0.7), max(2, 2, 0),
            Bn(w1), dw(w1, 3, 0, 1), Bn(w1), conv(w1, w2, 1, 0, 1), T(1.4),
            Bn(w2), dw(w2, 3, 0, 2), Bn(w2), conv(w2, w3, 1, 0, 2), T(1.0), avg(2, 2, 0),
        ],
        Arch::G => vec![
            Bn(c), conv(c, w1, 5, 2, 0), T(0.7), max(4, 2, 1),
            residual(w1, w2, 1.4, 1), max(4, 2, 1),
            residual(w2, w3, 1.0, 2), avg(2, 2, 0),
        ],
        Arch::H => ops(Arch::A, c, div)
            .into_iter()
            .map(|op| match op {
                Op::Conv(mut l) => {
                    l.padding = Padding::Zero;
                    Op::Conv(l)
                }
                Op::Triangle(_) => Op::Relu,
                other => other,
            })
            .collect(),
    }
}

/// Output shape [C, H, W] of `ops` on an input of that shape, or an error naming the op that does not fit.
pub fn out_shape(ops: &[Op], input: [usize; 3]) -> Result<[usize; 3]> {
    walk(ops, input, &mut |_, _| {})
}

/// [`out_shape`], calling `visit(op, its output shape)` for every op (inside residual blocks too).
fn walk(
    ops: &[Op],
    input: [usize; 3],
    visit: &mut dyn FnMut(&Op, [usize; 3]),
) -> Result<[usize; 3]> {
    let [mut c, mut h, mut w] = input;
    for (i, op) in ops.iter().enumerate() {
        let bad =
            |what: String| Error::Data(format!("op {i}: {what} does not fit a {c}×{h}×{w} input"));
        match op {
            Op::BatchNorm(ch) if *ch != c => {
                return Err(bad(format!("BatchNorm of {ch} channels")));
            }
            Op::Conv(l) => {
                if l.conv.c_in != c {
                    return Err(bad(format!(
                        "a convolution of {} input channels",
                        l.conv.c_in
                    )));
                }
                match (l.conv.out_side(h), l.conv.out_side(w)) {
                    (Some(a), Some(b)) if l.conv.pad < h && l.conv.pad < w => {
                        (c, h, w) = (l.conv.c_out, a, b);
                    }
                    _ => {
                        return Err(bad(format!(
                            "a {0}×{0} kernel with pad {1}",
                            l.conv.k, l.conv.pad
                        )));
                    }
                }
            }
            Op::MaxPool { k, stride, pad } | Op::AvgPool { k, stride, pad } => {
                if h + 2 * pad < *k || w + 2 * pad < *k {
                    return Err(bad(format!("a {k}×{k} pool")));
                }
                (h, w) = (
                    pool_side(h, *k, *stride, *pad),
                    pool_side(w, *k, *stride, *pad),
                );
            }
            Op::Residual { body, shortcut, .. } => {
                let a = walk(body, [c, h, w], visit)?;
                let b = walk(shortcut, [c, h, w], visit)?;
                if a != b {
                    return Err(bad(format!(
                        "a residual block whose branches give {a:?} and {b:?}"
                    )));
                }
                [c, h, w] = a;
            }
            _ => {}
        }
        visit(op, [c, h, w]);
    }
    Ok([c, h, w])
}

/// Weights of the convolutions in `ops` (BatchNorm has no affine parameters).
fn conv_params(ops: &[Op]) -> usize {
    ops.iter()
        .map(|op| match op {
            Op::Conv(l) => l.conv.params(),
            Op::Residual { body, shortcut, .. } => conv_params(body) + conv_params(shortcut),
            _ => 0,
        })
        .sum()
}

/// Every convolution of `ops`, depth first (body before shortcut): the order of the network's layers.
pub fn conv_layers(ops: &[Op]) -> Vec<ConvLayer> {
    let mut out = Vec::new();
    for op in ops {
        match op {
            Op::Conv(l) => out.push(*l),
            Op::Residual { body, shortcut, .. } => {
                out.extend(conv_layers(body));
                out.extend(conv_layers(shortcut));
            }
            _ => {}
        }
    }
    out
}

impl Preset {
    /// `arch` for an input [C, H, W], widths divided by `width_div`, a head of `classes`.
    pub fn new(arch: Arch, input: [usize; 3], width_div: usize, classes: usize) -> Result<Self> {
        if width_div == 0 || input.contains(&0) || classes == 0 {
            return Err(Error::Data(format!(
                "preset {arch:?}: input {input:?}, width divisor {width_div} and {classes} classes must all be positive"
            )));
        }
        let ops = ops(arch, input[0], width_div);
        let out = out_shape(&ops, input)?;
        Ok(Self {
            arch,
            input,
            width_div,
            classes,
            ops,
            out,
        })
    }

    /// The thesis's network on CIFAR-10 (3 × 32 × 32, 10 classes).
    pub fn cifar(arch: Arch) -> Self {
        Self::new(arch, [3, 32, 32], 1, 10).expect("every architecture fits CIFAR-10")
    }

    /// Widths divided by `div` (e.g. 4 or 8) on CIFAR-10's shape.
    pub fn reduced(arch: Arch, div: usize) -> Result<Self> {
        Self::new(arch, [3, 32, 32], div, 10)
    }

    /// Multiply-adds of the convolutions' forward pass for one image (the Hebbian correlation of a learning
    /// pass costs as many again): what the labs' cost models count.
    pub fn conv_macs(&self) -> f64 {
        let mut macs = 0.0;
        // The ops were checked against the input when the preset was made.
        let _ = walk(&self.ops, self.input, &mut |op, [c, h, w]| {
            if let Op::Conv(l) = op {
                macs += (l.conv.fan_in() * c * h * w) as f64;
            }
        });
        macs
    }

    /// Values of every op's output for one image: an upper bound on the activations a forward pass holds.
    pub fn activation_values(&self) -> f64 {
        let mut values = 0.0;
        let _ = walk(&self.ops, self.input, &mut |_, [c, h, w]| {
            values += (c * h * w) as f64;
        });
        values
    }

    /// Features the linear probe sees (C·H·W of the last op).
    pub fn features(&self) -> usize {
        self.out.iter().product()
    }

    /// Trainable parameters: every convolution's weights plus the Linear(features, classes) head with bias.
    pub fn param_count(&self) -> usize {
        conv_params(&self.ops) + self.features() * self.classes + self.classes
    }

    /// Whether the convolutions learn by backprop (architecture H) rather than by a Hebbian rule.
    pub fn is_backprop(&self) -> bool {
        self.arch == Arch::H
    }
}
