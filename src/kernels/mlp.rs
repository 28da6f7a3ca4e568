//! The credit-assignment lab's perceptron on the GPU (kernels/mlp.wgsl) with its weights resident between
//! steps. CPU twin: `nets::mlp` ([`Mlp::update`] and [`Sgd::step`]), checked by tests/mlp_gpu.rs natively and in
//! Chromium.
//!
//! One training step is one submit: the batch and its labels are written, then the forward pass, the loss, the
//! rule's gradients and the optimiser are recorded (about fifteen dispatches). The losses and hits of every
//! step accumulate on the device; [`MlpGpu::download`] reads them with the weights (at the end of an epoch).
//! Rules that draw perturbations (node and weight perturbation) have no kernels here: they run on the CPU.
use crate::engine::{Gpu, Kernel, Recorder, Tensor};
use crate::error::{Error, Result};
use crate::nets::mlp::{Activation, Mlp, Rule, Sgd};
use ndarray::{Array1, Array2, ArrayView2};

/// Invocations per workgroup, as in mlp.wgsl.
const WG: usize = 64;
/// The most workgroups a kernel is dispatched over (they loop with a grid stride).
const MAX_GROUPS: usize = 4096;

#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Dims {
    m: u32,
    k: u32,
    p: u32,
    flags: u32,
    lr: f32,
    wd: f32,
    act: u32,
    _pad: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct Batch {
    n: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

pub fn source() -> String {
    include_str!("mlp.wgsl").to_string()
}

pub(crate) fn layouts() -> Vec<super::prelude::Layout> {
    vec![
        super::prelude::layout!("mlp", "Dims", Dims, m, k, p, flags, lr, wd, act),
        super::prelude::layout!("mlp", "Batch", Batch, n),
    ]
}

fn groups_for(total: usize) -> u32 {
    total.div_ceil(WG).clamp(1, MAX_GROUPS) as u32
}

fn f32_bytes(n: usize) -> u64 {
    (n.max(1) * 4) as u64
}

/// Whether `rule` has kernels here (the perturbation rules draw noise and run on the CPU).
pub fn runs_on_gpu(rule: Rule) -> bool {
    !matches!(
        rule,
        Rule::NodePerturbation { .. } | Rule::WeightPerturbation { .. }
    )
}

fn act_code(a: Activation) -> u32 {
    match a {
        Activation::Sigmoid => 0,
        Activation::Tanh => 1,
        Activation::Relu => 2,
        Activation::Identity => 3,
    }
}

/// gemm flags.
const TRANS_A: u32 = 1;
const TRANS_B: u32 = 2;
const OVER_N: u32 = 4;
/// A size that is the batch's row count.
const N: u32 = 0;

/// A network on the device for batches of up to `batch` rows, trained by one rule with one optimiser.
pub struct MlpGpu {
    inputs: usize,
    hidden: usize,
    classes: usize,
    batch: usize,
    batch_params: Tensor,
    x: Tensor,
    labels: Tensor,
    w1: Tensor,
    w2: Tensor,
    feedback: Tensor,
    b1: Option<Tensor>,
    b2: Option<Tensor>,
    stats: Tensor,
    /// The recorded step, in order, with each kernel's workgroups.
    step: Vec<(Kernel, u32)>,
    /// Uniforms and intermediate tensors the kernels are bound to.
    _held: Vec<Tensor>,
}

impl MlpGpu {
    /// Uploads `net` and binds every kernel of one step of `rule` with `opt`. Refuses the perturbation rules and
    /// sizes over the device's limits.
    pub async fn new(gpu: &Gpu, net: &Mlp, rule: Rule, opt: &Sgd, batch: usize) -> Result<Self> {
        if !runs_on_gpu(rule) {
            return Err(Error::Gpu(format!(
                "{rule:?} has no GPU kernels; it runs on the CPU"
            )));
        }
        let (inputs, hidden, classes) = (net.inputs(), net.hidden(), net.classes());
        if batch == 0 || inputs == 0 || hidden == 0 || classes == 0 {
            return Err(Error::Gpu(format!(
                "a network of {inputs} → {hidden} → {classes} for batches of {batch}"
            )));
        }
        for (what, values) in [
            ("the batch", batch * inputs),
            ("the first layer's weights", hidden * inputs),
            ("the hidden activity", batch * hidden),
        ] {
            if values >= u32::MAX as usize / 2 {
                return Err(Error::Gpu(format!(
                    "{what} holds too many values for 32-bit indices"
                )));
            }
            gpu.check_size(what, f32_bytes(values))?;
        }
        let upload2 = |what: &str, a: &Array2<f32>| {
            let a = a.as_standard_layout();
            gpu.tensor_from(what, bytemuck::cast_slice(a.as_slice().expect("standard")))
        };
        let upload1 =
            |what: &str, a: &Array1<f32>| gpu.tensor_from(what, bytemuck::cast_slice(&a.to_vec()));
        let zeros = |what: &str, n: usize| gpu.tensor(what, f32_bytes(n));
        let batch_params = gpu.uniform_tensor("batch rows", size_of::<Batch>() as u64)?;
        let x = zeros("batch", batch * inputs)?;
        let labels = zeros("labels", batch)?;
        let w1 = upload2("first-layer weights", &net.w1)?;
        let w2 = upload2("second-layer weights", &net.w2)?;
        let feedback = upload2("feedback weights", &net.feedback)?;
        let b1 = net
            .b1
            .as_ref()
            .map(|b| upload1("first-layer biases", b))
            .transpose()?;
        let b2 = net
            .b2
            .as_ref()
            .map(|b| upload1("second-layer biases", b))
            .transpose()?;
        let pre1 = zeros("hidden pre-activations", batch * hidden)?;
        let h = zeros("hidden activity", batch * hidden)?;
        let logits = zeros("logits", batch * classes)?;
        let probs = zeros("probabilities", batch * classes)?;
        let targets = zeros("targets", batch * classes)?;
        let dlogits = zeros("logit errors", batch * classes)?;
        let rowstats = zeros("row losses and hits", 2 * batch)?;
        let stats = zeros("loss, hits and rows", 4)?;
        let d1 = zeros("hidden errors", batch * hidden)?;
        let gw1 = zeros("first-layer update", hidden * inputs)?;
        let gw2 = zeros("second-layer update", classes * hidden)?;
        let gb1 = zeros("first-layer bias update", hidden)?;
        let gb2 = zeros("second-layer bias update", classes)?;

        let src = source();
        let mut held: Vec<Tensor> = Vec::new();
        let mut step: Vec<(Kernel, u32)> = Vec::new();
        let act = act_code(net.activation);
        // One kernel of the step: its own dims uniform, then (binding, tensor) pairs.
        macro_rules! push {
            ($entry:literal, $dims:expr, $groups:expr, $uses_batch:expr, [$(($b:expr, $t:expr)),* $(,)?]) => {{
                let dims = gpu.uniform_tensor("mlp dimensions", size_of::<Dims>() as u64)?;
                gpu.write(&dims, bytemuck::bytes_of(&$dims));
                let mut bind: Vec<(u32, &Tensor)> = vec![(0, &dims)];
                if $uses_batch {
                    bind.push((1, &batch_params));
                }
                $(bind.push(($b, $t));)*
                let kernel = gpu.kernel_at(concat!("mlp_", $entry), &src, $entry, &bind).await?;
                step.push((kernel, $groups));
                held.push(dims);
            }};
        }
        let gemm = |m: u32, k: u32, p: u32, flags: u32| Dims {
            m,
            k,
            p,
            flags,
            ..Dims::default()
        };
        let cols = |p: usize| Dims {
            p: p as u32,
            act,
            ..Dims::default()
        };
        let (hid, inp, cls) = (hidden as u32, inputs as u32, classes as u32);
        let per_batch = |cols: usize| groups_for(batch * cols);

        // Forward: pre1 = x·W1ᵀ (+ b1), h = f(pre1), logits = h·W2ᵀ (+ b2).
        push!(
            "gemm",
            gemm(N, inp, hid, TRANS_B),
            per_batch(hidden),
            true,
            [(2, &x), (3, &w1), (4, &pre1)]
        );
        if let Some(b1) = &b1 {
            push!(
                "add_bias",
                cols(hidden),
                per_batch(hidden),
                true,
                [(6, b1), (7, &pre1)]
            );
        }
        push!(
            "activate",
            cols(hidden),
            per_batch(hidden),
            true,
            [(5, &pre1), (7, &h)]
        );
        push!(
            "gemm",
            gemm(N, hid, cls, TRANS_B),
            per_batch(classes),
            true,
            [(2, &h), (3, &w2), (4, &logits)]
        );
        if let Some(b2) = &b2 {
            push!(
                "add_bias",
                cols(classes),
                per_batch(classes),
                true,
                [(6, b2), (7, &logits)]
            );
        }
        push!(
            "softmax_xent",
            cols(classes),
            groups_for(batch),
            true,
            [
                (8, &logits),
                (9, &labels),
                (10, &probs),
                (11, &targets),
                (12, &dlogits),
                (13, &rowstats)
            ]
        );
        {
            let kernel = gpu
                .kernel_at(
                    "mlp_accumulate",
                    &src,
                    "accumulate",
                    &[(1, &batch_params), (13, &rowstats), (14, &stats)],
                )
                .await?;
            step.push((kernel, 1));
        }

        // The rule's gradients.
        let hebbian_first = matches!(rule, Rule::Hebbian { .. } | Rule::Hybrid);
        let oja = matches!(rule, Rule::Hebbian { oja: true, .. });
        let error_second = !matches!(rule, Rule::Hebbian { .. });
        if error_second {
            push!(
                "gemm",
                gemm(cls, N, hid, TRANS_A),
                groups_for(classes * hidden),
                true,
                [(2, &dlogits), (3, &h), (4, &gw2)]
            );
            if b2.is_some() {
                push!(
                    "bias_sum",
                    cols(classes),
                    groups_for(classes),
                    true,
                    [(18, &gb2), (19, &dlogits)]
                );
            }
        } else {
            let post2 = if matches!(rule, Rule::Hebbian { clamp: true, .. }) {
                &targets
            } else {
                &probs
            };
            push!(
                "gemm",
                gemm(cls, N, hid, TRANS_A | OVER_N),
                groups_for(classes * hidden),
                true,
                [(2, post2), (3, &h), (4, &gw2)]
            );
            let finish = Dims {
                m: cls,
                p: hid,
                flags: u32::from(oja),
                ..Dims::default()
            };
            push!(
                "hebbian_finish",
                finish,
                groups_for(hidden),
                true,
                [(18, &gw2), (19, post2), (20, &w2)]
            );
            if b2.is_some() {
                push!(
                    "bias_hebbian",
                    cols(classes),
                    1,
                    true,
                    [(18, &gb2), (19, post2)]
                );
            }
        }
        if hebbian_first {
            push!(
                "gemm",
                gemm(hid, N, inp, TRANS_A | OVER_N),
                groups_for(hidden * inputs),
                true,
                [(2, &h), (3, &x), (4, &gw1)]
            );
            let finish = Dims {
                m: hid,
                p: inp,
                flags: u32::from(oja),
                ..Dims::default()
            };
            push!(
                "hebbian_finish",
                finish,
                groups_for(inputs),
                true,
                [(18, &gw1), (19, &h), (20, &w1)]
            );
            if b1.is_some() {
                push!(
                    "bias_hebbian",
                    cols(hidden),
                    1,
                    true,
                    [(18, &gb1), (19, &h)]
                );
            }
        } else {
            // The error sent back: through W2 (backprop), or through B [hidden, classes] read transposed.
            let (back, flags) = match rule {
                Rule::FeedbackAlignment | Rule::KolenPollack => (&feedback, TRANS_B),
                _ => (&w2, 0),
            };
            push!(
                "gemm",
                gemm(N, cls, hid, flags),
                per_batch(hidden),
                true,
                [(2, &dlogits), (3, back), (4, &d1)]
            );
            push!(
                "derivative",
                cols(hidden),
                per_batch(hidden),
                true,
                [(15, &pre1), (16, &h), (17, &d1)]
            );
            push!(
                "gemm",
                gemm(hid, N, inp, TRANS_A),
                groups_for(hidden * inputs),
                true,
                [(2, &d1), (3, &x), (4, &gw1)]
            );
            if b1.is_some() {
                push!(
                    "bias_sum",
                    cols(hidden),
                    groups_for(hidden),
                    true,
                    [(18, &gb1), (19, &d1)]
                );
            }
        }

        // The optimiser, every gradient computed from the weights before this step.
        let sgd = |m: usize, p: usize, lr: f32, transposed: bool| Dims {
            m: m as u32,
            p: p as u32,
            flags: u32::from(transposed),
            lr,
            wd: opt.weight_decay,
            ..Dims::default()
        };
        let [lr1, lr2] = opt.lr;
        push!(
            "sgd",
            sgd(hidden, inputs, lr1, false),
            groups_for(hidden * inputs),
            false,
            [(21, &w1), (22, &gw1)]
        );
        push!(
            "sgd",
            sgd(classes, hidden, lr2, false),
            groups_for(classes * hidden),
            false,
            [(21, &w2), (22, &gw2)]
        );
        if let Some(b1) = &b1 {
            push!(
                "sgd",
                sgd(1, hidden, lr1, false),
                groups_for(hidden),
                false,
                [(21, b1), (22, &gb1)]
            );
        }
        if let Some(b2) = &b2 {
            push!(
                "sgd",
                sgd(1, classes, lr2, false),
                groups_for(classes),
                false,
                [(21, b2), (22, &gb2)]
            );
        }
        if rule == Rule::KolenPollack {
            push!(
                "sgd",
                sgd(hidden, classes, lr2, true),
                groups_for(hidden * classes),
                false,
                [(21, &feedback), (22, &gw2)]
            );
        }
        held.extend([
            pre1, h, logits, probs, targets, dlogits, rowstats, d1, gw1, gw2, gb1, gb2,
        ]);
        Ok(Self {
            inputs,
            hidden,
            classes,
            batch,
            batch_params,
            x,
            labels,
            w1,
            w2,
            feedback,
            b1,
            b2,
            stats,
            step,
            _held: held,
        })
    }

    /// One training step on the batch x [n ≤ batch, inputs] with its labels (each below the number of classes).
    pub async fn train(&self, gpu: &Gpu, x: ArrayView2<'_, f32>, labels: &[u8]) -> Result<()> {
        let n = x.nrows();
        if n == 0 || n > self.batch || x.ncols() != self.inputs || labels.len() != n {
            return Err(Error::Gpu(format!(
                "a batch of {n} × {} with {} labels for a network of {} inputs and batches of {}",
                x.ncols(),
                labels.len(),
                self.inputs,
                self.batch
            )));
        }
        if let Some(&l) = labels.iter().find(|&&l| usize::from(l) >= self.classes) {
            return Err(Error::Gpu(format!("label {l} of {} classes", self.classes)));
        }
        let xs = x.as_standard_layout();
        gpu.write(
            &self.x,
            bytemuck::cast_slice(xs.as_slice().expect("standard")),
        );
        let ls: Vec<u32> = labels.iter().map(|&l| u32::from(l)).collect();
        gpu.write(&self.labels, bytemuck::cast_slice(&ls));
        let b = Batch {
            n: n as u32,
            ..Batch::default()
        };
        gpu.write(&self.batch_params, bytemuck::bytes_of(&b));
        let mut rec = gpu.record();
        self.record(&mut rec);
        rec.submit().await?;
        Ok(())
    }

    fn record(&self, rec: &mut Recorder<'_>) {
        for (kernel, groups) in &self.step {
            rec.dispatch(kernel, *groups);
        }
    }

    /// Reads the weights into `net` and returns the loss sum, hits and rows since the last download (which
    /// clears them).
    pub async fn download(&self, gpu: &Gpu, net: &mut Mlp) -> Result<(f64, usize, usize)> {
        let mut rec = gpu.record();
        for t in [&self.w1, &self.w2, &self.feedback] {
            rec.read(t, t.bytes());
        }
        for t in [&self.b1, &self.b2].into_iter().flatten() {
            rec.read(t, t.bytes());
        }
        rec.read(&self.stats, 12);
        rec.clear(&self.stats);
        let out = rec.submit().await?;
        let matrix = |bytes: &[u8], dim: (usize, usize)| {
            Array2::from_shape_vec(dim, bytemuck::pod_collect_to_vec(bytes))
                .map_err(|e| Error::Gpu(format!("unexpected result layout: {e}")))
        };
        net.w1 = matrix(&out[0], (self.hidden, self.inputs))?;
        net.w2 = matrix(&out[1], (self.classes, self.hidden))?;
        net.feedback = matrix(&out[2], (self.hidden, self.classes))?;
        let mut rest = out[3..].iter();
        for b in [&mut net.b1, &mut net.b2].into_iter().flatten() {
            *b = Array1::from(bytemuck::pod_collect_to_vec::<u8, f32>(
                rest.next().expect("a bias read"),
            ));
        }
        let s: Vec<f32> = bytemuck::pod_collect_to_vec(rest.next().expect("the statistics"));
        Ok((
            f64::from(s[0]),
            s[1].round() as usize,
            s[2].round() as usize,
        ))
    }
}
