//! What a run may cost, and how it hands back control.
//!
//! Each lab states its cost model ([`super::Lab::cost`]): the work its parameters ask for, counted in the lab's
//! own unit (spin updates, weight updates, products of a matrix product …) and converted to seconds with a
//! constant measured on the reference machine (the CI machine: 2 cores, native release build, CPU engine), and
//! the bytes it will hold. Validation refuses a state over [`MAX_SECONDS`] or [`MAX_BYTES`] at the field that
//! weighs most; the page asks before starting a run estimated over [`ASK_SECONDS`] in the browser; the CLI
//! prints the estimate and a progress bar. Runs advance in [`Chunk`]s bounded in time, so that Pause, Reset
//! and edits take effect within one.
use crate::error::FieldError;
use serde::Serialize;

/// The longest run a state may ask for, in seconds of the reference machine's CPU: long enough for the sweeps
/// a class would leave running over a lecture, short of a run nobody could wait for.
pub const MAX_SECONDS: f64 = 3600.0;

/// The most memory a run may hold: a browser tab's wasm memory is at most 4 GiB and in practice a fraction of it
/// on a student's laptop.
pub const MAX_BYTES: f64 = (1u64 << 30) as f64;

/// The time and memory a run may take: [`MAX_SECONDS`] and [`MAX_BYTES`] in the page, what its user accepts in
/// the CLI (`--max-hours`, `--max-gib`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    pub seconds: f64,
    pub bytes: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            seconds: MAX_SECONDS,
            bytes: MAX_BYTES,
        }
    }
}

/// The page asks before starting a run estimated over this many seconds in the browser.
pub const ASK_SECONDS: f64 = 60.0;

/// How much slower the page's CPU engine (wasm, one thread) is than the native reference, on the reference
/// machine: Ising 39 vs 15 ns per spin at 100² and 32 vs 17 at 1024², the Hopfield default 0.45–0.56 s vs
/// 0.17 s (headless Chromium figures in README's benchmarks).
pub const BROWSER_FACTOR: f64 = 3.0;

/// A chunk of a run ends after about this long, so that the worker reads Pause, Reset and edits in between.
pub const CHUNK_MS: f64 = 80.0;

/// One part of a run's cost: work (units × seconds per unit) and memory, blamed on the field that drives it.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
pub struct Part {
    /// What is counted ("spin updates", "the recorded trajectories").
    pub what: String,
    /// The parameter that refusing this part names (a params path as validation uses).
    pub field: String,
    /// Units of work (0 for a memory-only part).
    pub units: f64,
    /// Estimated seconds on the reference machine's CPU.
    pub seconds: f64,
    /// Bytes held while the run lives.
    pub bytes: f64,
}

/// A run's estimated cost, the sum of its parts.
#[derive(Clone, Debug, Default, Serialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
pub struct Cost {
    pub parts: Vec<Part>,
    /// Seconds on the reference machine's CPU, natively.
    pub seconds: f64,
    /// Seconds in the page's CPU engine (wasm).
    pub browser_seconds: f64,
    pub bytes: f64,
}

impl Cost {
    /// Adds `units` of work at `ns` nanoseconds each (a constant measured on the reference machine), and
    /// [`BROWSER_FACTOR`] times that in the page.
    #[must_use]
    pub fn work(self, what: &str, field: &str, units: f64, ns: f64) -> Self {
        self.work_in(what, field, units, ns, ns * BROWSER_FACTOR)
    }

    /// Adds work whose browser constant was measured on its own (vectorised, multithreaded native code, such
    /// as matrix products, gains more than [`BROWSER_FACTOR`] over wasm).
    #[must_use]
    pub fn work_in(
        mut self,
        what: &str,
        field: &str,
        units: f64,
        ns: f64,
        browser_ns: f64,
    ) -> Self {
        self.browser_seconds += units * browser_ns * 1e-9;
        self.push(Part {
            what: what.into(),
            field: field.into(),
            units,
            seconds: units * ns * 1e-9,
            bytes: 0.0,
        });
        self
    }

    /// Adds memory held while the run lives.
    #[must_use]
    pub fn memory(mut self, what: &str, field: &str, bytes: f64) -> Self {
        self.push(Part {
            what: what.into(),
            field: field.into(),
            units: 0.0,
            seconds: 0.0,
            bytes,
        });
        self
    }

    fn push(&mut self, part: Part) {
        self.seconds += part.seconds;
        self.bytes += part.bytes;
        self.parts.push(part);
    }

    /// The budget check validation runs: one error at the field of the part that weighs most, saying the
    /// estimate and the limit.
    pub fn check(&self, limits: Limits) -> Vec<FieldError> {
        let (max_seconds, max_bytes) = (limits.seconds, limits.bytes);
        let mut errs = Vec::new();
        let heaviest = |key: fn(&Part) -> f64| {
            self.parts
                .iter()
                .max_by(|a, b| key(a).total_cmp(&key(b)))
                .map_or("", |p| p.field.as_str())
        };
        // NaN (from a field serde let through as infinite) is over budget too.
        if self.seconds.is_nan() || self.seconds > max_seconds {
            let what = self
                .parts
                .iter()
                .filter(|p| p.units > 0.0)
                .map(|p| format!("{} {}", short(p.units), p.what));
            errs.push(FieldError::new(
                heaviest(|p| p.seconds),
                format!(
                    "this run would take about {} ({}); the limit is {}: choose smaller sizes",
                    duration(self.seconds),
                    what.collect::<Vec<_>>().join(", "),
                    duration(max_seconds)
                ),
            ));
        }
        if self.bytes.is_nan() || self.bytes > max_bytes {
            errs.push(FieldError::new(
                heaviest(|p| p.bytes),
                format!(
                    "this run would hold about {} of memory; the limit is {}: choose smaller sizes",
                    bytes(self.bytes),
                    bytes(max_bytes)
                ),
            ));
        }
        errs
    }
}

/// "3.2 × 10⁹"-style short numbers for messages, plain below 10⁴.
pub fn short(x: f64) -> String {
    if x < 1e4 {
        return format!("{x:.0}");
    }
    let e = x.log10().floor();
    let digits: String = format!("{e:.0}")
        .chars()
        .map(|c| match c {
            '0' => '⁰',
            '1' => '¹',
            '2' => '²',
            '3' => '³',
            '4' => '⁴',
            '5' => '⁵',
            '6' => '⁶',
            '7' => '⁷',
            '8' => '⁸',
            _ => '⁹',
        })
        .collect();
    format!("{:.1} × 10{digits}", x / 10f64.powf(e))
}

/// "45 s", "12 min", "1 h", "2.5 h".
pub fn duration(seconds: f64) -> String {
    if seconds < 90.0 {
        format!("{seconds:.0} s")
    } else if seconds < 3570.0 {
        format!("{:.0} min", seconds / 60.0)
    } else {
        format!("{:.1} h", seconds / 3600.0).replace(".0 h", " h")
    }
}

/// "320 MB", "1.1 GB".
pub fn bytes(b: f64) -> String {
    if b < 1e9 {
        format!("{:.0} MB", b / 1e6)
    } else {
        format!("{:.1} GB", b / 1e9)
    }
}

/// When a chunk of a run must hand back control: after `max_steps` steps (0: no limit), or once the clock has
/// passed the deadline, whichever comes first; a chunk always makes some progress. The clock comes from the
/// edge (the CLI's `Instant`, the worker's `Date.now`), so the labs stay target-independent.
pub struct Chunk<'a> {
    pub max_steps: u32,
    clock: &'a dyn Fn() -> f64,
    until_ms: f64,
}

impl<'a> Chunk<'a> {
    /// A chunk of up to `max_steps` steps (0: to the end) that ends `budget_ms` after now on `clock` (ms).
    pub fn new(max_steps: u32, budget_ms: f64, clock: &'a dyn Fn() -> f64) -> Self {
        Self {
            max_steps,
            clock,
            until_ms: clock() + budget_ms,
        }
    }

    /// Up to `max_steps` steps with no deadline (tests, and a run wanted in one piece).
    pub fn steps(max_steps: u32) -> Chunk<'static> {
        Chunk {
            max_steps,
            clock: &|| 0.0,
            until_ms: f64::INFINITY,
        }
    }

    /// The clock's time in ms (0 for a chunk of [`Chunk::steps`]): labs time their phases with it.
    pub fn now(&self) -> f64 {
        (self.clock)()
    }

    /// Whether the deadline has passed: the run should stop at the next point where it can.
    pub fn over(&self) -> bool {
        (self.clock)() >= self.until_ms
    }

    /// Steps to take out of `remaining`: all of them when there is no step limit.
    pub fn take(&self, remaining: u32) -> u32 {
        if self.max_steps == 0 {
            remaining
        } else {
            self.max_steps.min(remaining)
        }
    }
}
