//! The 2-D Ising model (lecture 004 §2-4): ±1 spins on a periodic k × k lattice, J = 1, field h, sampled at
//! temperature kT by checkerboard Metropolis sweeps (kernels/ising.rs) on the GPU or the CPU, with the same
//! lattice from both.
//!
//! Energy: E = −J Σ_<ij> s_i s_j − h Σ_i s_i with every nearest-neighbour bond counted once (2k² bonds).
//! The source's `calculate_energy` sums s·(4 neighbours) over sites, which counts each bond twice; we
//! report the physical energy per spin, e = E / k², whose ground state is −2 (at h = 0).
//!
//! k must be even: the checkerboard update needs a bipartite lattice, and a periodic lattice with an odd
//! side is not (the wrap joins two sites of one colour, which would then be updated at the same time).
//!
//! Metropolis in a fixed order mixes slowly at kT ≫ 8J: nearly every flip is accepted, so a sweep flips
//! nearly the whole lattice and an ordered start decorrelates only through the rare refusals (at kT = 1000
//! a 64² ordered start still has |e| ≈ 0.3 after 200 sweeps; at kT = 100 it is at equilibrium).
use crate::engine::{Engine, Gpu};
use crate::error::{Error, FieldError, Result};
use crate::kernels::ising::{self as kernel, Delta, GpuLattice};
use crate::rng::{self, Purpose};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::num::NonZeroU32;

/// The critical temperature of the infinite 2-D lattice at h = 0 (Onsager): 2 / ln(1 + √2).
pub const T_C: f64 = 2.269_185_314_213_022;
/// The smallest side. At k = 2 a site's up and down neighbours are one site (so are left and right): its
/// two bonds to it count separately, as on any periodic lattice.
pub const MIN_SIDE: usize = 2;
/// The largest side: 1024² spins, 4 MiB on the GPU.
pub const MAX_SIDE: usize = 1024;

/// How the lattice starts.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Start {
    /// Every spin +1: the ordered start.
    Up,
    /// Every spin −1.
    Down,
    /// Each spin +1 with probability `p_up`, independently (seeded; its own stream).
    Random { p_up: f64 },
}

/// A k × k lattice of ±1 spins, row-major (site (i, j) at i·k + j), periodic in both directions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lattice {
    k: usize,
    spins: Vec<i8>,
}

impl Lattice {
    /// A start of side `k`; a random start draws from (seed, `Purpose::Ising`, group `GROUP_START`).
    pub fn new(k: usize, start: Start, seed: u32) -> Result<Self> {
        Self::new_numbered(k, start, seed, 0)
    }

    /// As [`Lattice::new`], with a random start from stream index `number` (0 is `new`'s): the starts of a
    /// temperature sweep's temperatures, each its own draw.
    pub fn new_numbered(k: usize, start: Start, seed: u32, number: u32) -> Result<Self> {
        invalid(
            check_side(k)
                .into_iter()
                .chain(check_start(start))
                .collect(),
        )?;
        let spins = match start {
            Start::Up => vec![1; k * k],
            Start::Down => vec![-1; k * k],
            Start::Random { p_up } => {
                let key = [
                    seed,
                    rng::stream(Purpose::Ising, kernel::GROUP_START, number),
                ];
                let p = p_up as f32;
                (0..k * k)
                    .map(|i| {
                        let x = rng::philox4x32([(i / 4) as u32, 0, 0, 0], key);
                        if rng::uniform(x[i % 4]) < p { 1 } else { -1 }
                    })
                    .collect()
            }
        };
        Ok(Self { k, spins })
    }

    /// A given configuration (e.g. to test energies): `spins` row-major, each ±1.
    pub fn from_spins(k: usize, spins: Vec<i8>) -> Result<Self> {
        invalid(check_side(k).into_iter().collect())?;
        if spins.len() != k * k || spins.iter().any(|&s| s != 1 && s != -1) {
            return Err(Error::Invalid(vec![FieldError::new(
                "spins",
                format!("must be k² = {} values, each +1 or −1", k * k),
            )]));
        }
        Ok(Self { k, spins })
    }

    pub fn k(&self) -> usize {
        self.k
    }

    /// The spins, row-major.
    pub fn spins(&self) -> &[i8] {
        &self.spins
    }

    /// Magnetisation per spin, Σ s / k².
    pub fn magnetisation(&self) -> f64 {
        self.spin_sum() as f64 / self.n()
    }

    /// Energy per spin, −(Σ_<ij> s_i s_j + h Σ s) / k², each bond once.
    pub fn energy(&self, h: f64) -> f64 {
        energy(self.spin_sum(), self.bond_sum(), h, self.n())
    }

    /// ΔE of flipping site (i, j): 2 s (Σ_nbrs s' + h), in total (not per spin) energy.
    pub fn flip_energy(&self, i: usize, j: usize, h: f64) -> f64 {
        let k = self.k;
        let s = |i: usize, j: usize| f64::from(self.spins[(i % k) * k + j % k]);
        let ns = s(i + k - 1, j) + s(i + 1, j) + s(i, j + k - 1) + s(i, j + 1);
        2.0 * s(i, j) * (ns + h)
    }

    /// The lattice for display at most `max_side` pixels wide (at least 1): the mean spin of each b × b
    /// block, b = ⌈k / max_side⌉ (blocks at the right and bottom edges may be smaller). Row-major, in
    /// [−1, 1]; returns (side, values).
    pub fn thumbnail(&self, max_side: usize) -> (usize, Vec<f32>) {
        let k = self.k;
        let b = k.div_ceil(max_side.max(1));
        let side = k.div_ceil(b);
        let mut sums = vec![0i32; side * side];
        for (i, row) in self.spins.chunks_exact(k).enumerate() {
            for (j, &s) in row.iter().enumerate() {
                sums[(i / b) * side + j / b] += i32::from(s);
            }
        }
        let extent = |block: usize| (k - block * b).min(b) as f32;
        let values = sums
            .iter()
            .enumerate()
            .map(|(p, &sum)| sum as f32 / (extent(p / side) * extent(p % side)))
            .collect();
        (side, values)
    }

    fn n(&self) -> f64 {
        (self.k * self.k) as f64
    }

    fn spin_sum(&self) -> i64 {
        self.spins.iter().map(|&s| i64::from(s)).sum()
    }

    /// Σ over bonds of s·s': each site with its right and lower neighbour.
    fn bond_sum(&self) -> i64 {
        let k = self.k;
        let s = |i: usize, j: usize| i64::from(self.spins[(i % k) * k + j % k]);
        (0..k)
            .flat_map(|i| (0..k).map(move |j| (i, j)))
            .map(|(i, j)| s(i, j) * (s(i, j + 1) + s(i + 1, j)))
            .sum()
    }
}

/// Magnetisation and energy per spin after a sweep.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Observables {
    /// Sweeps done when measured (0 before the first).
    pub sweep: u32,
    pub magnetisation: f64,
    pub energy: f64,
}

/// An Ising run: the lattice, its parameters and the sweeps done. The lattice stays on the GPU between
/// `advance_gpu` calls; the host copy is brought up to date at the end of each call.
#[derive(Debug)]
pub struct Ising {
    lattice: Lattice,
    kt: f64,
    h: f64,
    seed: u32,
    sweep: u32,
    /// Σ s and Σ_bonds s·s' of `lattice`, kept exactly by the sweeps' integer changes.
    spin_sum: i64,
    bond_sum: i64,
    /// The GPU's copy; `None` until the first GPU sweep and whenever the host copy has moved past it.
    device: Option<GpuLattice>,
}

impl Ising {
    /// Checks every parameter (all problems reported at once), then builds the start.
    pub fn new(k: usize, kt: f64, h: f64, seed: u32, start: Start) -> Result<Self> {
        invalid(
            check_side(k)
                .into_iter()
                .chain(check_kt(kt))
                .chain(check_h(h))
                .chain(check_start(start))
                .collect(),
        )?;
        let lattice = Lattice::new(k, start, seed)?;
        Ok(Self {
            spin_sum: lattice.spin_sum(),
            bond_sum: lattice.bond_sum(),
            lattice,
            kt,
            h,
            seed,
            sweep: 0,
            device: None,
        })
    }

    pub fn k(&self) -> usize {
        self.lattice.k
    }

    pub fn kt(&self) -> f64 {
        self.kt
    }

    pub fn h(&self) -> f64 {
        self.h
    }

    pub fn seed(&self) -> u32 {
        self.seed
    }

    /// Sweeps done so far (wraps after 2³² − 1; the counter then repeats draws).
    pub fn sweep(&self) -> u32 {
        self.sweep
    }

    /// Changes the temperature between sweeps (the lattice is kept).
    pub fn set_kt(&mut self, kt: f64) -> Result<()> {
        invalid(check_kt(kt).into_iter().collect())?;
        self.kt = kt;
        Ok(())
    }

    /// Changes the field between sweeps (the lattice is kept).
    pub fn set_h(&mut self, h: f64) -> Result<()> {
        invalid(check_h(h).into_iter().collect())?;
        self.h = h;
        Ok(())
    }

    pub fn lattice(&self) -> &Lattice {
        &self.lattice
    }

    /// Replaces the lattice by a fresh start (random starts from stream index `number`, see
    /// [`Lattice::new_numbered`]) and keeps the sweep counter, so that the sweeps that follow draw numbers no
    /// earlier sweep drew: a temperature sweep restarts this way at each temperature.
    pub fn restart(&mut self, start: Start, number: u32) -> Result<()> {
        let lattice = Lattice::new_numbered(self.lattice.k, start, self.seed, number)?;
        self.spin_sum = lattice.spin_sum();
        self.bond_sum = lattice.bond_sum();
        self.lattice = lattice;
        self.device = None;
        Ok(())
    }

    /// The spins for drawing, row-major.
    pub fn spins(&self) -> &[i8] {
        &self.lattice.spins
    }

    /// See `Lattice::thumbnail`.
    pub fn thumbnail(&self, max_side: usize) -> (usize, Vec<f32>) {
        self.lattice.thumbnail(max_side)
    }

    pub fn magnetisation(&self) -> f64 {
        self.spin_sum as f64 / self.lattice.n()
    }

    /// Energy per spin at the current h.
    pub fn energy(&self) -> f64 {
        energy(self.spin_sum, self.bond_sum, self.h, self.lattice.n())
    }

    pub fn observables(&self) -> Observables {
        Observables {
            sweep: self.sweep,
            magnetisation: self.magnetisation(),
            energy: self.energy(),
        }
    }

    /// `sweeps` sweeps on the CPU; the observables after each.
    pub fn advance_cpu(&mut self, sweeps: u32) -> Vec<Observables> {
        if sweeps > 0 {
            self.device = None;
        }
        let table = kernel::acceptance(self.kt, self.h);
        (0..sweeps)
            .map(|_| {
                let k = self.lattice.k;
                let delta =
                    kernel::sweep_cpu(&mut self.lattice.spins, k, self.seed, self.sweep, &table);
                self.apply(delta)
            })
            .collect()
    }

    /// `sweeps` sweeps on `gpu`, uploading the lattice only when the GPU has no current copy and reading it
    /// back once at the end. The run is unchanged when this fails.
    pub async fn advance_gpu(&mut self, gpu: &Gpu, sweeps: u32) -> Result<Vec<Observables>> {
        let Some(sweeps) = NonZeroU32::new(sweeps) else {
            return Ok(Vec::new());
        };
        let table = kernel::acceptance(self.kt, self.h);
        let device = match self.device.take() {
            Some(d) if d.is_on(gpu) => d,
            _ => GpuLattice::new(gpu, self.lattice.k, &self.lattice.spins).await?,
        };
        // On an error the device copy is dropped: it may be partly advanced.
        let (deltas, spins) = device
            .advance(gpu, self.seed, self.sweep, sweeps, &table)
            .await?;
        self.device = Some(device);
        self.lattice.spins = spins;
        Ok(deltas.into_iter().map(|d| self.apply(d)).collect())
    }

    /// `sweeps` sweeps on the engine's choice. After a GPU failure (`Engine::run`) the CPU redoes the sweeps from
    /// the unchanged run (so the numbers are those the GPU would have given); the notice says so.
    pub async fn advance(
        &mut self,
        engine: &mut Engine,
        sweeps: u32,
    ) -> Result<(Vec<Observables>, Option<String>)> {
        engine
            .run(
                self,
                async |gpu, run| run.advance_gpu(gpu, sweeps).await,
                |run| Ok(run.advance_cpu(sweeps)),
            )
            .await
    }

    /// Counts one sweep's changes.
    fn apply(&mut self, delta: Delta) -> Observables {
        self.spin_sum += delta.spin;
        self.bond_sum += delta.bond;
        self.sweep = self.sweep.wrapping_add(1);
        self.observables()
    }
}

fn energy(spin_sum: i64, bond_sum: i64, h: f64, n: f64) -> f64 {
    -(bond_sum as f64 + h * spin_sum as f64) / n
}

fn invalid(errors: Vec<FieldError>) -> Result<()> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(errors))
    }
}

fn check_side(k: usize) -> Option<FieldError> {
    (!(MIN_SIDE..=MAX_SIDE).contains(&k) || !k.is_multiple_of(2)).then(|| {
        FieldError::new(
            "k",
            format!(
                "must be even, from {MIN_SIDE} to {MAX_SIDE} (got {k}): the checkerboard update needs a \
                 periodic lattice whose two colours alternate across the wrap, which an odd side breaks"
            ),
        )
    })
}

fn check_kt(kt: f64) -> Option<FieldError> {
    (!(kt.is_finite() && kt > 0.0)).then(|| {
        FieldError::new(
            "kt",
            format!("the temperature must be a finite number above 0 (got {kt})"),
        )
    })
}

fn check_h(h: f64) -> Option<FieldError> {
    (!h.is_finite())
        .then(|| FieldError::new("h", format!("the field must be a finite number (got {h})")))
}

fn check_start(start: Start) -> Option<FieldError> {
    match start {
        Start::Random { p_up } if !(0.0..=1.0).contains(&p_up) => Some(FieldError::new(
            "start.p_up",
            format!("the probability of +1 must be from 0 to 1 (got {p_up})"),
        )),
        _ => None,
    }
}
