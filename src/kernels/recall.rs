//! Batched Hopfield recall: many probes relaxed at once, one GPU workgroup per probe (kernels/recall.wgsl),
//! its CPU twin, and the dispatcher that falls back from the one to the other.
//!
//! Dynamics (004 §2-1, 002 eq. 1): the sign rule with threshold U (the same U_i = U for every unit, 0 by
//! default), s_i ← high if h_i > U, low if h_i < U; on a tie h_i = U the unit keeps its state (004's code, the
//! default) or goes high (002's sgn(0) = +1), as `RecallParams::tie` says (types in `nets::hopfield`). Binary
//! states (0/1) use the binary state in the field, as in the worked example of 004 §2-2. The weights must have
//! a zero diagonal: Hopfield units do not feed back onto themselves, and the energy argument (a flip changes
//! E = −½ sᵀWs + U Σ s by −Δs (h_i − U), never upwards) rests on it.
//! - Asynchronous: a sweep visits every unit once, in a fresh random order per sweep (or, on the CPU only, a
//!   fixed order given by the caller: the lectures' worked examples), each unit seeing the flips before it. A
//!   sweep without a flip is a fixed point.
//! - Synchronous: every unit from the same old state. Besides fixed points, a symmetric W can settle into a
//!   two-cycle (state(t) = state(t−2) ≠ state(t−1)); that is detected and reported.
//!
//! Fields are kept incrementally: h = W s is computed once (k ascending for every unit), and when unit i changes
//! by d (±2 bipolar, ±1 binary) field j gains d · W[j][i]. A sweep then costs N reads plus N per flip instead of
//! N², and near a fixed point almost nothing flips. It also makes the GPU and the CPU do the same f32 operations
//! in the same order: the products d · w and w · s are exact (d and s are 0, ±1 or ±2), so a fused multiply-add
//! cannot change a bit either, and the final states agree exactly for every storage rule, not only for integer
//! weights. (A GPU that flushed subnormal fields to zero could still differ; fields near 1e-38 do not occur
//! with these weights.) The incremental fields carry the rounding of their updates, of the same size as the
//! rounding of a direct sum; with integer weights (unnormalised Hebb) they are exact.
//!
//! On the GPU the fields are computed by one invocation per (probe, unit); then one workgroup per probe relaxes
//! it, for a bounded number of loop iterations per dispatch (see `LOOP_BUDGET`), saving its place so that the
//! next dispatch resumes exactly where it stopped.
//!
//! Random visiting orders: Fisher–Yates over 0..N from the identity, draw m (m = 0 … N−2) from Philox counter
//! [sweep, m / 4, 0, 0], word m % 4, key [seed, stream(Hopfield, Order, probe index)], scaled to [0, k] by the
//! high word of x · (k + 1) (its bias, below k / 2³², is invisible here; it avoids a rejection loop that the
//! GPU's invocation 0 would stall on).
use crate::engine::{Engine, Gpu};
use crate::error::{Error, FieldError, Result};
use crate::nets::hopfield::{Dynamics, Outcome, RecallParams, StateKind, Tie};
use crate::rng::{self, Purpose};
use ndarray::{Array2, ArrayView2, s};

/// The most units of a network: 6144² f32 weights are 144 MiB, which the CPU holds; the portable GPU binding
/// (128 MiB) holds W up to N = 5792, beyond which recall runs on the CPU with a notice.
pub const MAX_UNITS: usize = 6144;
/// The most probes of one recall: the probe index is the 20-bit index of its random stream.
pub const MAX_PROBES: usize = 1 << 20;
/// The most sweeps one recall may run.
pub const MAX_SWEEPS: u32 = 10_000;
/// Loop iterations one invocation of the `relax` kernel may run per dispatch. lavapipe (Mesa's Vulkan on the
/// CPU: CI, and machines without a GPU) ends every loop of a shader once the loops of one invocation have run
/// 65 535 iterations in total (gallivm's LP_MAX_TGSI_LOOP_ITERATIONS), which silently cut recalls short after
/// about 20 sweeps at N = 784. So the kernel stops at this budget, counted conservatively, saves its place and
/// is dispatched again; that also bounds the time of one dispatch on any GPU.
const LOOP_BUDGET: u32 = 60_000;
/// Invocations per workgroup, as recall.wgsl.
const WORKGROUP: usize = 64;
/// Probes per chunk of dispatches: with at most `LOOP_BUDGET` iterations each, a dispatch of 2048 workgroups
/// stays well below the couple of seconds after which drivers and browsers reset the GPU, even on integrated
/// graphics (a guess, not a measurement). Larger batches are split into chunks.
const PROBES_PER_CHUNK: usize = 2048;
/// Asynchronous sweeps of every probe that a round of dispatches should cover before the host reads the
/// progress back (most recalls settle within a few sweeps).
const SWEEPS_PER_ROUND: usize = 8;

/// The result of recalling a batch of probes.
#[derive(Clone, Debug, PartialEq)]
pub struct Recall {
    /// Final states, one row per probe, in the probes' kind.
    pub states: Array2<f32>,
    /// Sweeps run per probe, the last one included (a probe that is already a fixed point uses 1).
    pub sweeps_used: Vec<u32>,
    pub outcome: Vec<Outcome>,
}

impl Recall {
    /// The probes as they are before any sweep.
    fn start(probes: ArrayView2<'_, f32>) -> Self {
        Self {
            states: probes.to_owned(),
            sweeps_used: vec![0; probes.nrows()],
            outcome: vec![Outcome::MaxSweeps; probes.nrows()],
        }
    }
}

/// What a `Purpose::Hopfield` stream feeds: its group (bits 20..28 of the stream id), so that no two uses of a
/// seed share numbers. The index (bits 0..20) is given with each use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Stream {
    /// Asynchronous visiting orders; index: probe.
    Order = 1,
    /// Random ±1 patterns (`hopfield::random_patterns`); index: pattern set (a trial of a capacity sweep).
    Patterns = 2,
    /// Which units a probe flips (`hopfield::probe_with_overlap`); index: probe.
    Probe = 3,
}

/// The Philox key of a stream.
pub fn key(seed: u32, stream: Stream, index: u32) -> [u32; 2] {
    [seed, rng::stream(Purpose::Hopfield, stream as u32, index)]
}

/// A random word scaled to 0 … bound − 1: the high word of x · bound.
pub fn below(x: u32, bound: u32) -> u32 {
    ((u64::from(x) * u64::from(bound)) >> 32) as u32
}

/// The units in the order sweep `sweep` of probe `index` visits them (see the module docs), written to `order`.
pub fn sweep_order(order: &mut [u32], seed: u32, index: u32, sweep: u32) {
    let n = order.len();
    for (k, o) in order.iter_mut().enumerate() {
        *o = k as u32;
    }
    let key = key(seed, Stream::Order, index);
    let mut x = [0u32; 4];
    for m in 0..n.saturating_sub(1) {
        if m % 4 == 0 {
            x = rng::philox4x32([sweep, (m / 4) as u32, 0, 0], key);
        }
        let k = n - 1 - m;
        order.swap(k, below(x[m % 4], k as u32 + 1) as usize);
    }
}

pub(crate) fn layouts() -> Vec<super::prelude::Layout> {
    vec![super::prelude::layout!(
        "recall",
        "RecallParams",
        GpuParams,
        n,
        probes,
        first,
        bipolar,
        synchronous,
        max_sweeps,
        seed,
        budget,
        threshold,
        tie_up
    )]
}

pub fn source() -> String {
    format!(
        "{}\n{}",
        super::prelude::library(),
        include_str!("recall.wgsl")
    )
}

/// Weight matrices of N units each, stored transposed (see recall.wgsl): the networks of one batch.
pub(crate) struct Networks {
    n: usize,
    wt: Vec<f32>,
}

impl Networks {
    pub(crate) fn new(n: usize) -> Self {
        Self { n, wt: Vec::new() }
    }

    /// One network with weights `w`.
    pub(crate) fn single(w: ArrayView2<'_, f32>) -> Self {
        let wt = w.t().as_standard_layout().iter().copied().collect();
        Self { n: w.nrows(), wt }
    }

    /// Adds a symmetric W (its own transpose), returning its index.
    pub(crate) fn push_symmetric(&mut self, w: ArrayView2<'_, f32>) -> u32 {
        self.wt.extend(w.iter());
        self.count() as u32 - 1
    }

    pub(crate) fn count(&self) -> usize {
        self.wt.len() / (self.n * self.n).max(1)
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.wt.len() as u64 * 4
    }

    /// Wᵀ of network k, row-major.
    pub(crate) fn transposed(&self, k: u32) -> &[f32] {
        let size = self.n * self.n;
        &self.wt[k as usize * size..(k as usize + 1) * size]
    }
}

/// One step of a CPU recall, for observers (the traced recall of `hopfield::recall_trace`).
pub(crate) enum Event<'a> {
    /// Unit `unit` was updated from `before` to `after` (equal when it kept its state) with field `field`.
    /// Synchronous sweeps report every unit from the old state before any changes.
    Update {
        unit: usize,
        field: f32,
        before: f32,
        after: f32,
    },
    /// A sweep ended with this state.
    Swept(&'a [f32]),
}

/// The sign rule: high above the threshold, low below it, and on the threshold as `params.tie` says. Comparing
/// h with U (not h − U with 0) is exact, so the GPU decides the same.
fn decide(h: f32, s: f32, params: &RecallParams) -> f32 {
    if h > params.threshold {
        1.0
    } else if h < params.threshold {
        params.kind.low()
    } else {
        match params.tie {
            Tie::Keep => s,
            Tie::Up => 1.0,
        }
    }
}

/// Relaxes state `s` of probe `index` with weights `wt` (transposed, row-major, N × N): the CPU twin of one
/// workgroup of recall.wgsl. `fixed_order` (a permutation of 0..N, checked by the caller) replaces the seeded
/// visiting orders of asynchronous sweeps: every sweep visits the units in that order. Returns the sweeps used
/// and the outcome.
pub(crate) fn relax(
    wt: &[f32],
    s: &mut [f32],
    params: &RecallParams,
    index: u32,
    fixed_order: Option<&[u32]>,
    observe: &mut impl FnMut(Event<'_>),
) -> (u32, Outcome) {
    let n = s.len();
    let low = params.kind.low();
    let mut h = vec![0.0f32; n];
    for (k, row) in wt.chunks_exact(n).enumerate() {
        let sk = s[k];
        for (hj, w) in h.iter_mut().zip(row) {
            *hj += w * sk;
        }
    }
    match params.dynamics {
        Dynamics::Asynchronous => {
            let mut order = vec![0u32; n];
            for t in 0..params.max_sweeps {
                match fixed_order {
                    Some(fixed) => order.copy_from_slice(fixed),
                    None => sweep_order(&mut order, params.seed, index, t),
                }
                let mut changed = false;
                for &i in &order {
                    let i = i as usize;
                    let before = s[i];
                    let after = decide(h[i], before, params);
                    observe(Event::Update {
                        unit: i,
                        field: h[i],
                        before,
                        after,
                    });
                    if after != before {
                        let d = after - before;
                        let row = &wt[i * n..(i + 1) * n];
                        for (j, (hj, w)) in h.iter_mut().zip(row).enumerate() {
                            if j != i {
                                *hj += d * w;
                            }
                        }
                        s[i] = after;
                        changed = true;
                    }
                }
                observe(Event::Swept(s));
                if !changed {
                    return (t + 1, Outcome::FixedPoint);
                }
            }
        }
        Dynamics::Synchronous => {
            let mut flipped = vec![false; n];
            let mut next = vec![0.0f32; n];
            for t in 0..params.max_sweeps {
                let (mut any, mut same) = (false, true);
                for j in 0..n {
                    next[j] = decide(h[j], s[j], params);
                    observe(Event::Update {
                        unit: j,
                        field: h[j],
                        before: s[j],
                        after: next[j],
                    });
                    let f = next[j] != s[j];
                    any |= f;
                    same &= f == flipped[j];
                    flipped[j] = f;
                }
                s.copy_from_slice(&next);
                for (i, row) in wt.chunks_exact(n).enumerate() {
                    if flipped[i] {
                        let d = 2.0 * s[i] - 1.0 - low;
                        for (hj, w) in h.iter_mut().zip(row) {
                            *hj += d * w;
                        }
                    }
                }
                observe(Event::Swept(s));
                if !any {
                    return (t + 1, Outcome::FixedPoint);
                }
                if same {
                    return (t + 1, Outcome::Cycle2);
                }
            }
        }
    }
    (params.max_sweeps, Outcome::MaxSweeps)
}

pub(crate) fn check_params(params: &RecallParams) -> Result<()> {
    let mut e = Vec::new();
    if !(1..=MAX_SWEEPS).contains(&params.max_sweeps) {
        e.push(FieldError::new(
            "max_sweeps",
            format!("{} sweeps; choose 1 to {MAX_SWEEPS}", params.max_sweeps),
        ));
    }
    if !params.threshold.is_finite() {
        e.push(FieldError::new(
            "threshold",
            format!(
                "the threshold U is {}; it must be a finite number",
                params.threshold
            ),
        ));
    }
    if e.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(e))
    }
}

/// Checks a weight matrix: square, 1 to MAX_UNITS units, finite, zero diagonal. Returns N.
pub(crate) fn check_weights(w: ArrayView2<'_, f32>) -> Result<usize> {
    let n = check_shape(w)?;
    check_values(w)?;
    Ok(n)
}

fn check_shape(w: ArrayView2<'_, f32>) -> Result<usize> {
    let n = w.nrows();
    if w.ncols() != n || n == 0 {
        return Err(Error::Data(format!(
            "the weight matrix is {}×{}; it must be square with at least one unit",
            w.nrows(),
            w.ncols()
        )));
    }
    if n > MAX_UNITS {
        return Err(Error::Data(format!(
            "the network has {n} units; at most {MAX_UNITS} are supported"
        )));
    }
    Ok(n)
}

fn check_values(w: ArrayView2<'_, f32>) -> Result<()> {
    if let Some(((i, j), v)) = w.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(Error::Data(format!("weight ({i}, {j}) is {v}")));
    }
    if let Some(i) = (0..w.nrows()).find(|&i| w[[i, i]] != 0.0) {
        return Err(Error::Data(format!(
            "weight ({i}, {i}) is {}; the diagonal must be zero (units do not feed back onto themselves)",
            w[[i, i]]
        )));
    }
    Ok(())
}

/// Checks that `states` are rows of N values of `kind`; `what` names a row ("probe", "pattern").
pub(crate) fn check_states(
    states: ArrayView2<'_, f32>,
    n: usize,
    kind: StateKind,
    what: &str,
) -> Result<()> {
    if states.ncols() != n {
        return Err(Error::Data(format!(
            "each {what} needs {n} units (one per row of the weights) but has {}",
            states.ncols()
        )));
    }
    let ok = |v: f32| v == 1.0 || v == kind.low();
    if let Some(((r, i), v)) = states.indexed_iter().find(|(_, v)| !ok(**v)) {
        return Err(Error::Data(format!(
            "{what} {r}, unit {i} is {v}; {}",
            kind.describe()
        )));
    }
    Ok(())
}

fn check_batch(probes: ArrayView2<'_, f32>) -> Result<()> {
    if probes.nrows() > MAX_PROBES {
        return Err(Error::Invalid(vec![FieldError::new(
            "probes",
            format!("{} probes; at most {MAX_PROBES} per recall", probes.nrows()),
        )]));
    }
    Ok(())
}

/// Recalls every probe (a row of `probes`, in `params.kind`) on the CPU. Probe b draws its visiting orders
/// from stream index b.
pub fn recall_cpu(
    w: ArrayView2<'_, f32>,
    probes: ArrayView2<'_, f32>,
    params: &RecallParams,
) -> Result<Recall> {
    let n = check_weights(w)?;
    check_params(params)?;
    check_states(probes, n, params.kind, "probe")?;
    check_batch(probes)?;
    let nets = Networks::single(w);
    let mut out = Recall::start(probes);
    relax_cpu_from(&nets, &vec![0; probes.nrows()], params, 0, &mut out, 0);
    Ok(out)
}

/// The CPU twin for probes `done..` of a batch (the ones before are already in `out`).
fn relax_cpu_from(
    nets: &Networks,
    net_of: &[u32],
    params: &RecallParams,
    first: u32,
    out: &mut Recall,
    done: usize,
) {
    let rows = out.states.rows_mut().into_iter().enumerate().skip(done);
    for (b, mut row) in rows {
        let s = row
            .as_slice_mut()
            .expect("an owned array's rows are contiguous");
        let (sweeps, outcome) = relax(
            nets.transposed(net_of[b]),
            s,
            params,
            first + b as u32,
            None,
            &mut |_| {},
        );
        out.sweeps_used[b] = sweeps;
        out.outcome[b] = outcome;
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct GpuParams {
    n: u32,
    probes: u32,
    first: u32,
    bipolar: u32,
    synchronous: u32,
    max_sweeps: u32,
    seed: u32,
    budget: u32,
    threshold: f32,
    /// 1: a unit whose field equals the threshold goes high (002's sgn(0) = +1); 0: it keeps its state.
    tie_up: u32,
    _pad: [u32; 2],
}

/// Recalls every probe on the GPU, with the same results as [`recall_cpu`]. Refuses a W larger than one
/// storage binding before allocating anything.
pub async fn recall_gpu(
    gpu: &Gpu,
    w: ArrayView2<'_, f32>,
    probes: ArrayView2<'_, f32>,
    params: &RecallParams,
) -> Result<Recall> {
    // The size first: a W the GPU cannot hold is refused before its values are even read.
    let n = check_shape(w)?;
    gpu.check_size("the weight matrix", (n * n * 4) as u64)?;
    check_values(w)?;
    check_params(params)?;
    check_states(probes, n, params.kind, "probe")?;
    check_batch(probes)?;
    let nets = Networks::single(w);
    let mut out = Recall::start(probes);
    relax_gpu_from(
        gpu,
        &nets,
        &vec![0; probes.nrows()],
        params,
        0,
        &mut out,
        &mut 0,
    )
    .await?;
    Ok(out)
}

/// Recalls on the active engine. A GPU failure moves the engine to the CPU, which carries on from the first
/// probe the GPU had not finished; a W too large for the GPU is recalled on the CPU and the engine stays. The
/// notice says which happened.
pub async fn recall(
    engine: &mut Engine,
    w: ArrayView2<'_, f32>,
    probes: ArrayView2<'_, f32>,
    params: &RecallParams,
) -> Result<(Recall, Option<String>)> {
    let n = check_weights(w)?;
    check_params(params)?;
    check_states(probes, n, params.kind, "probe")?;
    check_batch(probes)?;
    let nets = Networks::single(w);
    recall_networks(engine, &nets, &vec![0; probes.nrows()], probes, params, 0).await
}

/// Recalls probe b with network `net_of[b]` and stream index `first + b`, on the active engine (as [`recall`]).
/// The caller has checked the inputs.
pub(crate) async fn recall_networks(
    engine: &mut Engine,
    nets: &Networks,
    net_of: &[u32],
    probes: ArrayView2<'_, f32>,
    params: &RecallParams,
    first: u32,
) -> Result<(Recall, Option<String>)> {
    let mut state = (Recall::start(probes), 0);
    let ((), notice) = engine
        .run(
            &mut state,
            async |gpu, (out, done)| {
                relax_gpu_from(gpu, nets, net_of, params, first, out, done).await
            },
            |(out, done)| {
                relax_cpu_from(nets, net_of, params, first, out, *done);
                Ok(())
            },
        )
        .await?;
    Ok((state.0, notice))
}

/// Probes per chunk: within `PROBES_PER_CHUNK`, one storage binding per probes × N buffer, one workgroup per probe
/// for `relax` and one invocation per unit for `init_fields`.
fn probes_per_chunk(n: usize) -> usize {
    let limits = wgpu::Limits::default();
    let binding = limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size);
    let by_binding = usize::try_from(binding / (n as u64 * 4)).unwrap_or(usize::MAX);
    let groups = limits.max_compute_workgroups_per_dimension as usize;
    PROBES_PER_CHUNK
        .min(by_binding)
        .min(groups)
        .min(groups * WORKGROUP / n)
        .max(1)
}

/// The GPU for probes `*done..`, a chunk at a time; `*done` counts the probes whose results are in `out`. Each
/// chunk: the fields once, then rounds of `relax` dispatches, each round ending with a read of the progress,
/// until every probe has finished (every dispatch moves every unfinished probe on, so this ends).
async fn relax_gpu_from(
    gpu: &Gpu,
    nets: &Networks,
    net_of: &[u32],
    params: &RecallParams,
    first: u32,
    out: &mut Recall,
    done: &mut usize,
) -> Result<()> {
    let (n, total) = (nets.n, out.states.nrows());
    if *done >= total {
        return Ok(());
    }
    gpu.check_size("the weight matrices", nets.bytes())?;
    let per = probes_per_chunk(n);
    gpu.check_size("one chunk of probe states", (per * n * 4) as u64)?;
    gpu.check_workgroups("the probes of one chunk", per as u32)?;
    let init = gpu
        .pipeline("recall_fields", &source(), "init_fields")
        .await?;
    let relax = gpu.pipeline("recall_relax", &source(), "relax").await?;
    let wt = gpu.storage("transposed weights", bytemuck::cast_slice(&nets.wt))?;
    // A unit costs at most 2 + ⌈N / 64⌉ iterations of the budget.
    let units_per_dispatch = LOOP_BUDGET as usize / (2 + n.div_ceil(WORKGROUP));
    let per_round = (SWEEPS_PER_ROUND * n).div_ceil(units_per_dispatch);
    while *done < total {
        let end = (*done + per).min(total);
        let count = end - *done;
        let bytes = (count * n * 4) as u64;
        let block = out.states.slice(s![*done..end, ..]);
        let block = block.as_standard_layout();
        let states = gpu.storage(
            "probe states",
            bytemuck::cast_slice(block.as_slice().expect("standard layout")),
        )?;
        let net = gpu.storage(
            "network of each probe",
            bytemuck::cast_slice(&net_of[*done..end]),
        )?;
        let fields = scratch_buffer(gpu, "fields", bytes);
        let scratch = scratch_buffer(gpu, "orders and flips", bytes);
        let progress = scratch_buffer(gpu, "progress", count as u64 * 16);
        let uniform = GpuParams {
            n: n as u32,
            probes: count as u32,
            first: first + *done as u32,
            bipolar: u32::from(params.kind == StateKind::Bipolar),
            synchronous: u32::from(params.dynamics == Dynamics::Synchronous),
            max_sweeps: params.max_sweeps,
            seed: params.seed,
            budget: LOOP_BUDGET,
            threshold: params.threshold,
            tie_up: u32::from(params.tie == Tie::Up),
            _pad: [0; 2],
        };
        let uniform = gpu.uniform("recall params", bytemuck::bytes_of(&uniform))?;
        let buffers = [&uniform, &wt, &net, &states, &fields, &scratch, &progress];
        let unit_groups = (count * n).div_ceil(WORKGROUP) as u32;
        gpu.dispatch(&init, &buffers[..5], unit_groups, &[]).await?;
        let codes = loop {
            for _ in 1..per_round {
                gpu.dispatch(&relax, &buffers, count as u32, &[]).await?;
            }
            let read = gpu
                .dispatch(
                    &relax,
                    &buffers,
                    count as u32,
                    &[(&progress, count as u64 * 16), (&states, bytes)],
                )
                .await?;
            let codes: Vec<u32> = bytemuck::pod_collect_to_vec(&read[0]);
            if codes.chunks_exact(4).all(|p| p[1] != 0) {
                let values: Vec<f32> = bytemuck::pod_collect_to_vec(&read[1]);
                let values = ArrayView2::from_shape((count, n), &values)
                    .map_err(|e| Error::Gpu(format!("unexpected state layout: {e}")))?;
                out.states.slice_mut(s![*done..end, ..]).assign(&values);
                break codes;
            }
        };
        for (b, p) in codes.chunks_exact(4).enumerate() {
            out.sweeps_used[*done + b] = p[0];
            out.outcome[*done + b] = Outcome::from_code(p[1])
                .ok_or_else(|| Error::Gpu(format!("unknown recall outcome {}", p[1])))?;
        }
        *done = end;
    }
    Ok(())
}

/// A buffer only the kernel writes (and the host may read back); wgpu zero-fills new buffers, so nothing is
/// uploaded.
fn scratch_buffer(gpu: &Gpu, label: &str, bytes: u64) -> wgpu::Buffer {
    gpu.device().create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.max(4),
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    })
}
