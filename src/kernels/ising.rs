//! Checkerboard Metropolis sweeps of the periodic k × k Ising lattice (J = 1, field h): CPU twin and GPU
//! dispatch of kernels/ising.wgsl. The model, its starts and observables live in `nets::ising`.
//!
//! A sweep updates all black sites (i + j even) at once, then all white ones. With k even no two sites of
//! one colour are neighbours, so a colour's updates are independent and the order within it is irrelevant:
//! that is what makes the parallel update a valid Metropolis step, and what lets the CPU twin update in
//! place and still make the GPU's decisions.
//!
//! Bit-identical on both: the site's uniform comes from Philox at counter (quad, sweep, colour, 0) with key
//! (seed, `stream()`), where quad = l / 4 and the lane is l % 4 for the colour-local index l = i·k/2 + j/2
//! (one draw serves four sites); the acceptance probabilities are computed once on the host for the ten
//! possible (neighbour sum, spin) pairs and passed as a table; the kernel only compares the u32-derived
//! uniform (exact in f32) with the table entry. The changes of Σ s and Σ_bonds s·s' are counted exactly as
//! integers, per sweep, on both.
use crate::engine::{Gpu, Kernel, Tensor};
use crate::error::{Error, Result};
use crate::rng::{self, Purpose};
use std::num::NonZeroU32;

/// Stream group of the Metropolis draws under `Purpose::Ising` (the random starts use `GROUP_START`).
pub const GROUP_METROPOLIS: u32 = 0;
/// Stream group of the random starts under `Purpose::Ising`.
pub const GROUP_START: u32 = 1;

/// Sweeps per command buffer at most (the size of the per-sweep records).
const MAX_CHUNK_SWEEPS: u32 = 256;
/// Site updates per command buffer at most: 16 sweeps of 1024 × 1024, far below the ~2 s after which
/// desktop drivers reset the GPU, and a bound on the work queued ahead of the host.
const CHUNK_SITE_UPDATES: usize = 1 << 24;

/// Acceptance probability of a flip, at `table_index(neighbour sum, spin)`.
pub type Table = [f32; 10];

/// The key's stream id of the Metropolis draws.
pub fn stream() -> u32 {
    rng::stream(Purpose::Ising, GROUP_METROPOLIS, 0)
}

/// Where (neighbour sum ∈ {−4, −2, 0, 2, 4}, spin ∈ {−1, 1}) sits in a `Table` (as in the WGSL).
pub fn table_index(neighbour_sum: i32, spin: i32) -> usize {
    ((neighbour_sum + 4) + (spin + 1) / 2) as usize
}

/// min(1, exp(−ΔE/kT)) for ΔE = 2 s (J Σ_nbrs s' + h), J = 1, for every entry. Computed in f64 with libm
/// and rounded once, so both engines (and native and wasm) compare with the same f32. Flips with ΔE ≤ 0
/// get 1, which every uniform in (0, 1) is below.
pub fn acceptance(kt: f64, h: f64) -> Table {
    let mut table = [0.0; 10];
    for ns in [-4, -2, 0, 2, 4] {
        for s in [-1, 1] {
            let de = 2.0 * f64::from(s) * (f64::from(ns) + h);
            table[table_index(ns, s)] = if de <= 0.0 {
                1.0
            } else {
                libm::exp(-de / kt) as f32
            };
        }
    }
    table
}

/// The exact change of the lattice's sums over one sweep: Σ s and Σ over bonds (each once) of s·s'.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delta {
    pub spin: i64,
    pub bond: i64,
}

/// CPU twin: one sweep (black, then white) of the row-major `spins` (k × k, k even) in place. Walks the
/// sites of a colour row by row, in colour-local order, so that no division is needed per site.
pub fn sweep_cpu(spins: &mut [i8], k: usize, seed: u32, sweep: u32, table: &Table) -> Delta {
    let key = [seed, stream()];
    let half = k / 2;
    let wrap = |x: usize, step_up: bool| match (step_up, x) {
        (true, x) if x + 1 == k => 0,
        (true, x) => x + 1,
        (false, 0) => k - 1,
        (false, x) => x - 1,
    };
    let mut delta = Delta::default();
    for colour in 0..2 {
        // The current quad and its draw, made when the colour-local index enters a new quad.
        let mut draw = (usize::MAX, [0u32; 4]);
        for i in 0..k {
            let (row, up, down) = (i * k, wrap(i, false) * k, wrap(i, true) * k);
            for m in 0..half {
                let l = i * half + m;
                if draw.0 != l / 4 {
                    let counter = [(l / 4) as u32, sweep, colour as u32, 0];
                    draw = (l / 4, rng::philox4x32(counter, key));
                }
                let j = 2 * m + ((i + colour) & 1);
                let s = i32::from(spins[row + j]);
                let ns = i32::from(spins[up + j])
                    + i32::from(spins[down + j])
                    + i32::from(spins[row + wrap(j, false)])
                    + i32::from(spins[row + wrap(j, true)]);
                if rng::uniform(draw.1[l % 4]) < table[table_index(ns, s)] {
                    spins[row + j] = -spins[row + j];
                    delta.spin -= i64::from(2 * s);
                    delta.bond -= i64::from(2 * s * ns);
                }
            }
        }
    }
    delta
}

/// The uniform parameters of ising.wgsl.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    k: u32,
    half: u32,
    sites: u32,
    seed: u32,
    stream: u32,
    base_sweep: u32,
    _pad: [u32; 2],
    table: [f32; 12],
}

/// A lattice kept on the GPU between calls, with the buffers and bind groups of its sweeps. Tied to the
/// device it was made on (`is_on`).
#[derive(Debug)]
pub struct GpuLattice {
    device: wgpu::Device,
    k: usize,
    step: Tensor,
    params: Tensor,
    spins: Tensor,
    records: Tensor,
    sweep: Kernel,
    tick: Kernel,
}

pub fn source() -> String {
    format!(
        "{}\n{}",
        super::prelude::library(),
        include_str!("ising.wgsl")
    )
}

pub(crate) fn layouts() -> Vec<super::prelude::Layout> {
    vec![super::prelude::layout!(
        "ising", "Params", Params, k, half, sites, seed, stream, base_sweep, table
    )]
}

impl GpuLattice {
    /// Uploads `spins` (k × k, row-major, ±1), refusing sizes beyond the device's limits first.
    pub async fn new(gpu: &Gpu, k: usize, spins: &[i8]) -> Result<Self> {
        let bytes = (k * k * 4) as u64;
        gpu.check_size("the Ising lattice", bytes)?;
        gpu.check_workgroups("the Ising lattice", workgroups(k))?;
        let wide: Vec<i32> = spins.iter().map(|&s| i32::from(s)).collect();
        let step = gpu.tensor("ising step", 8)?;
        let params = gpu.uniform_tensor("ising params", size_of::<Params>() as u64)?;
        let spins = gpu.tensor_from("ising lattice", bytemuck::cast_slice(&wide))?;
        let records = gpu.tensor("ising records", u64::from(MAX_CHUNK_SWEEPS) * 8)?;
        let source = source();
        let sweep = gpu
            .kernel(
                "ising",
                &source,
                "half_sweep",
                &[&step, &params, &spins, &records],
            )
            .await?;
        let tick = gpu.kernel("ising tick", &source, "tick", &[&step]).await?;
        Ok(Self {
            device: gpu.device().clone(),
            k,
            step,
            params,
            spins,
            records,
            sweep,
            tick,
        })
    }

    /// Whether this lattice lives on `gpu`'s device.
    pub fn is_on(&self, gpu: &Gpu) -> bool {
        self.device == *gpu.device()
    }

    /// `sweeps` sweeps numbered from `first`: the change of the sums per sweep, and the lattice read back
    /// once at the end. Sweeps go in chunks of one command buffer each; only the small per-sweep records
    /// come back between chunks. On an error the device lattice may be partly advanced: drop it.
    pub async fn advance(
        &self,
        gpu: &Gpu,
        seed: u32,
        first: u32,
        sweeps: NonZeroU32,
        table: &Table,
    ) -> Result<(Vec<Delta>, Vec<i8>)> {
        let k = self.k;
        let per_chunk = u32::try_from(CHUNK_SITE_UPDATES / (k * k))
            .unwrap_or(u32::MAX)
            .clamp(1, MAX_CHUNK_SWEEPS);
        let mut deltas = Vec::with_capacity(sweeps.get() as usize);
        let mut done = 0;
        loop {
            let n = (sweeps.get() - done).min(per_chunk);
            let last = done + n == sweeps.get();
            let base = first.wrapping_add(done);
            let read = self.chunk(gpu, seed, base, n, table, last).await?;
            let records: Vec<i32> = bytemuck::pod_collect_to_vec(&read[0]);
            deltas.extend(records.chunks_exact(2).map(|r| Delta {
                spin: i64::from(r[0]),
                bond: i64::from(r[1]),
            }));
            done += n;
            if last {
                let wide: Vec<i32> = bytemuck::pod_collect_to_vec(&read[1]);
                let spins = wide.iter().map(|&s| s as i8).collect();
                return Ok((deltas, spins));
            }
        }
    }

    /// One submit of `n` ≥ 1 sweeps from sweep `base`: every half-sweep followed by a `tick` (but the last),
    /// then the records read back (and the lattice when `read_lattice`).
    async fn chunk(
        &self,
        gpu: &Gpu,
        seed: u32,
        base: u32,
        n: u32,
        table: &Table,
        read_lattice: bool,
    ) -> Result<Vec<Vec<u8>>> {
        if gpu.is_lost() {
            return Err(Error::Gpu("the GPU device was lost".into()));
        }
        let k = self.k;
        let mut padded = [0.0; 12];
        padded[..10].copy_from_slice(table);
        let params = Params {
            k: k as u32,
            half: (k / 2) as u32,
            sites: (k * k / 2) as u32,
            seed,
            stream: stream(),
            base_sweep: base,
            _pad: [0; 2],
            table: padded,
        };
        gpu.write(&self.params, bytemuck::bytes_of(&params));
        gpu.write(&self.step, bytemuck::cast_slice(&[base, 0u32]));
        let groups = workgroups(k);
        let mut rec = gpu.record();
        rec.clear(&self.records);
        for _ in 1..2 * n {
            rec.dispatch(&self.sweep, groups);
            rec.dispatch(&self.tick, 1);
        }
        rec.dispatch(&self.sweep, groups);
        rec.read(&self.records, u64::from(n) * 8);
        if read_lattice {
            rec.read(&self.spins, (k * k * 4) as u64);
        }
        rec.submit().await
    }
}

/// Workgroups of 64 quads covering one colour (k² / 2 sites).
fn workgroups(k: usize) -> u32 {
    (k * k / 2).div_ceil(4).div_ceil(64) as u32
}
