//! The credit-assignment lab's perceptron on the GPU (kernels/mlp.wgsl) with its weights resident between
//! steps, for every rule. CPU twin: `nets::mlp` ([`Mlp::update`] and [`Sgd::step`]), checked by tests/mlp_gpu.rs
//! natively and in Chromium.
//!
//! One training step is one submit: the batch and its labels are written, then the forward pass, the loss, the
//! rule's gradients and the optimiser are recorded (11 to 25 dispatches, by rule and biases). The losses and hits
//! of every step accumulate on the device; [`MlpGpu::download`] reads them with the weights (at the end of an
//! epoch).
//! Node and weight perturbation draw their noise on the device from the CPU twin's Philox counters, keyed by the
//! seed and step [`MlpGpu::train`] is given, so both engines jitter by the same numbers (within float rounding).
use crate::engine::{Gpu, Kernel, Recorder, Tensor, f32_bytes};
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
    sigma: f32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Batch {
    n: u32,
    seed: u32,
    step_lo: u32,
    step_hi: u32,
}

pub fn source() -> String {
    format!(
        "{}\nconst NOISE_STREAM: u32 = {}u;\n{}",
        super::prelude::library(),
        crate::nets::mlp::noise_stream(),
        include_str!("mlp.wgsl")
    )
}

pub(crate) fn layouts() -> Vec<super::prelude::Layout> {
    vec![
        super::prelude::layout!("mlp", "Dims", Dims, m, k, p, flags, lr, wd, act, sigma),
        super::prelude::layout!("mlp", "Batch", Batch, n, seed, step_lo, step_hi),
    ]
}

fn groups_for(total: usize) -> u32 {
    total.div_ceil(WG).clamp(1, MAX_GROUPS) as u32
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
    /// Uploads `net` and binds every kernel of one step of `rule` with `opt`. Refuses sizes over the device's
    /// limits.
    pub async fn new(gpu: &Gpu, net: &Mlp, rule: Rule, opt: &Sgd, batch: usize) -> Result<Self> {
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
            ("the second layer's weights", classes * hidden),
            ("the logits", batch * classes),
        ] {
            gpu.check_values(what, values)?;
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

        // One layer of a forward pass: out [n, cols] = input·Wᵀ (+ b).
        macro_rules! layer {
            ($input:expr, $w:expr, $b:expr, $out:expr, $fan_in:expr, $cols:expr) => {{
                push!(
                    "gemm",
                    gemm(N, $fan_in, $cols as u32, TRANS_B),
                    per_batch($cols),
                    true,
                    [(2, $input), (3, $w), (4, $out)]
                );
                if let Some(b) = $b {
                    push!(
                        "add_bias",
                        cols($cols),
                        per_batch($cols),
                        true,
                        [(6, b), (7, $out)]
                    );
                }
            }};
        }

        // Forward: pre1 = x·W1ᵀ (+ b1), h = f(pre1), logits = h·W2ᵀ (+ b2).
        layer!(&x, &w1, b1.as_ref(), &pre1, inp, hidden);
        push!(
            "activate",
            cols(hidden),
            per_batch(hidden),
            true,
            [(5, &pre1), (7, &h)]
        );
        layer!(&h, &w2, b2.as_ref(), &logits, hid, classes);
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

        // The dims of a kernel that draws: p values (per row for node perturbation's), perturbation `index`, σ.
        let noise = |p: usize, index: u32, sigma: f32| Dims {
            p: p as u32,
            flags: index,
            act,
            sigma,
            ..Dims::default()
        };
        // Kernels that draw go over Philox blocks of four values.
        let per_block = |len: usize| groups_for(len.div_ceil(4));
        // Node perturbation (nets::mlp's node_perturbation): its estimates ĝ₁ into d1 and ĝ₂ into dlogits, which
        // the error-driven products below turn into the updates (ĝᵀ·the layer's clean input; column sums).
        if let Rule::NodePerturbation { sigma } = rule {
            let hn = zeros("noisy hidden activity", batch * hidden)?;
            let nlogits = zeros("noisy logits", batch * classes)?;
            let row_scale = zeros("row loss changes", batch)?;
            push!(
                "np_hidden",
                noise(hidden, 0, sigma),
                per_block(batch * hidden),
                true,
                [(23, &pre1), (24, &hn), (25, &d1)]
            );
            layer!(&hn, &w2, b2.as_ref(), &nlogits, hid, classes);
            push!(
                "np_output",
                noise(classes, 1, sigma),
                groups_for(batch),
                true,
                [
                    (9, &labels),
                    (13, &rowstats),
                    (24, &nlogits),
                    (25, &dlogits),
                    (26, &row_scale)
                ]
            );
            push!(
                "scale_rows",
                cols(hidden),
                per_batch(hidden),
                true,
                [(25, &d1), (26, &row_scale)]
            );
            held.extend([hn, nlogits, row_scale]);
        }
        // Weight perturbation (nets::mlp's weight_perturbation): a forward pass through jittered copies of the
        // parameters, k = ΔL/σ, and the updates k·Ξ written where the other rules' products write theirs.
        if let Rule::WeightPerturbation { sigma } = rule {
            let w1n = zeros("jittered first-layer weights", hidden * inputs)?;
            let w2n = zeros("jittered second-layer weights", classes * hidden)?;
            let b1n = b1
                .as_ref()
                .map(|_| zeros("jittered first-layer biases", hidden))
                .transpose()?;
            let b2n = b2
                .as_ref()
                .map(|_| zeros("jittered second-layer biases", classes))
                .transpose()?;
            let pre1n = zeros("noisy hidden pre-activations", batch * hidden)?;
            let hn = zeros("noisy hidden activity", batch * hidden)?;
            let nlogits = zeros("noisy logits", batch * classes)?;
            let k = zeros("loss change over sigma", 1)?;
            // (parameter, its jittered copy, its update, values, perturbation index as on the CPU).
            let mut params = vec![
                (&w1, &w1n, &gw1, hidden * inputs, 0),
                (&w2, &w2n, &gw2, classes * hidden, 2),
            ];
            if let (Some(b), Some(bn)) = (&b1, &b1n) {
                params.push((b, bn, &gb1, hidden, 1));
            }
            if let (Some(b), Some(bn)) = (&b2, &b2n) {
                params.push((b, bn, &gb2, classes, 3));
            }
            for &(clean, jittered, _, len, index) in &params {
                push!(
                    "wp_noisy",
                    noise(len, index, sigma),
                    per_block(len),
                    true,
                    [(23, clean), (24, jittered)]
                );
            }
            layer!(&x, &w1n, b1n.as_ref(), &pre1n, inp, hidden);
            push!(
                "activate",
                cols(hidden),
                per_batch(hidden),
                true,
                [(5, &pre1n), (7, &hn)]
            );
            layer!(&hn, &w2n, b2n.as_ref(), &nlogits, hid, classes);
            push!(
                "wp_k",
                noise(classes, 0, sigma),
                1,
                true,
                [(9, &labels), (13, &rowstats), (24, &nlogits), (26, &k)]
            );
            for &(_, _, update, len, index) in &params {
                push!(
                    "wp_update",
                    noise(len, index, sigma),
                    per_block(len),
                    true,
                    [(25, update), (26, &k)]
                );
            }
            held.extend([w1n, w2n, pre1n, hn, nlogits, k]);
            held.extend(b1n.into_iter().chain(b2n));
        }

        // The second layer's gradient: from the logit errors (node perturbation's ĝ₂ in their place), or Hebbian.
        let oja = matches!(rule, Rule::Hebbian { oja: true, .. });
        match rule {
            Rule::WeightPerturbation { .. } => {}
            Rule::Hebbian { clamp, .. } => {
                let post2 = if clamp { &targets } else { &probs };
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
            _ => {
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
            }
        }
        // The first layer's: Hebbian, or from the hidden units' errors (node perturbation's ĝ₁ in their place).
        match rule {
            Rule::WeightPerturbation { .. } => {}
            Rule::Hebbian { .. } | Rule::Hybrid => {
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
            }
            _ => {
                // The error sent back: through W2 (backprop), or through B [hidden, classes] read transposed.
                let back = match rule {
                    Rule::NodePerturbation { .. } => None,
                    Rule::FeedbackAlignment | Rule::KolenPollack => Some((&feedback, TRANS_B)),
                    _ => Some((&w2, 0)),
                };
                if let Some((back, flags)) = back {
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
                }
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

    /// One training step on the batch x [n ≤ batch, inputs] with its labels (each below the number of classes);
    /// `seed` and `step` key the perturbations' noise, as in [`Mlp::update`].
    pub async fn train(
        &self,
        gpu: &Gpu,
        x: ArrayView2<'_, f32>,
        labels: &[u8],
        seed: u32,
        step: u64,
    ) -> Result<()> {
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
            seed,
            step_lo: step as u32,
            step_hi: (step >> 32) as u32,
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
