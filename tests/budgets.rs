//! Every state is refused or runs within its estimate. Each lab's numeric fields are set to their extremes one
//! at a time, and the sizes of one group (the params object they sit in) to their maxima two at a time; each
//! state that validation accepts is run by the release CLI for up to `WATCH` seconds (`LONG_WATCH` where the
//! estimate is too long for its timing to be checked in `WATCH`; those untimed runs go `UNTIMED_AT_ONCE` at a
//! time, after the timed ones, which run alone). A run that ends must have taken at most
//! `SLACK` × its estimate (plus the process's start), a run still going must have been estimated long, and
//! neither may hold much more memory than estimated.
//!
//! Timing needs the optimised build the estimates were measured with: `scripts/test.sh` runs every native test
//! with `cargo test --profile budgets` (optimised like release, built faster; see Cargo.toml); a debug
//! `cargo test` skips this file's test.
mod common;

use hebbian_playground::labs;
use hebbian_playground::state::AnyState;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a run is watched before it counts as "still going".
const WATCH: f64 = 3.0;
/// How long a run estimated beyond [`WATCH`] (whose timing is then unchecked) is watched: long enough to start,
/// load its data and allocate, so that its memory and a crash at the start are still checked.
const LONG_WATCH: f64 = 2.0;
/// Untimed runs watched at once: they share the machine, which only slows what they do in [`LONG_WATCH`]
/// (three on the reference machine's two cores), and the several hundred of them take a third of the time.
const UNTIMED_AT_ONCE: usize = 3;
/// How far a measured time may exceed the estimate (the machine is shared with other tests and builds).
const SLACK: f64 = 3.0;
/// Starting the process, the engine and loading the shipped digits, beyond any estimate.
const START_SECONDS: f64 = 1.0;
/// Memory beyond the estimate that any run holds: the binary, the allocator, the shipped data as loaded.
const BASE_BYTES: f64 = 150e6;

/// Switches that add work when on (ZCA whitening: the Datasets lab's and the CNN lab's), tried on with every base
/// that has them.
const WORK_SWITCHES: &[&str] = &["/zca/enabled", "/zca"];

/// The default state, and one per variant of each dataset choice (the Datasets lab's source `kind`, the CNN
/// lab's `images`) other than the user's own files (which the test does not have); each also with every
/// [`WORK_SWITCHES`] on.
fn bases(id: &str) -> Vec<(String, AnyState)> {
    let mut base = labs::default_state(id).expect("lab");
    base.view.speed = 0;
    let schema = labs::schema(id).expect("schema");
    let mut out = vec![("default".to_string(), base.clone())];
    let choices: [(&str, &[&str]); 2] = [
        (
            "/source/kind",
            &[
                "mnist",
                "iris",
                "letters",
                "blobs",
                "gaussians",
                "random_patterns",
                "ising",
                "patches",
            ],
        ),
        ("/images", &["photos"]),
    ];
    for (pointer, kinds) in choices {
        let Some(current) = base.params.pointer(pointer).cloned() else {
            continue;
        };
        let text = schema.to_string();
        for &kind in kinds {
            if current != kind && text.contains(&format!("\"{kind}\"")) {
                let mut s = base.clone();
                *s.params.pointer_mut(pointer).expect("kind") = kind.into();
                out.push((format!("{pointer} = {kind}"), s));
            }
        }
    }
    let switched: Vec<_> = out
        .iter()
        .flat_map(|(name, s)| {
            WORK_SWITCHES.iter().filter_map(move |w| {
                let mut s = s.clone();
                let switch = s.params.pointer_mut(w).filter(|v| v.is_boolean())?;
                *switch = true.into();
                Some((format!("{name}, {w} on"), s))
            })
        })
        .collect();
    out.extend(switched);
    out
}

/// The states to try: from each base, extremes one field at a time and pairs of sizes of one group at their
/// maxima.
fn states(id: &str) -> Vec<(String, AnyState)> {
    let mut out = Vec::new();
    for (name, base) in bases(id) {
        out.extend(
            variations(id, &base)
                .into_iter()
                .map(|(v, s)| (format!("{name}; {v}"), s)),
        );
    }
    out
}

fn variations(id: &str, base: &AnyState) -> Vec<(String, AnyState)> {
    // A dataset source's fields matter only when it is the chosen one.
    let kind = base
        .params
        .pointer("/source/kind")
        .and_then(Value::as_str)
        .unwrap_or("");
    let fields: Vec<_> = common::states::numeric_fields(id)
        .into_iter()
        .filter(|(path, _)| {
            path.strip_prefix("/source/")
                .is_none_or(|rest| rest.split('/').next() == Some(kind))
        })
        .collect();
    let bound = |schema: &Value, key: &str| {
        schema
            .get(key)
            .and_then(Value::as_f64)
            .filter(|b| b.abs() < 1e9)
    };
    let set = |s: &AnyState, path: &str, schema: &Value, v: f64| -> Option<AnyState> {
        let mut s = s.clone();
        let slot = s.params.pointer_mut(path)?;
        *slot = if schema["type"] == "integer" {
            serde_json::json!(v as i64)
        } else {
            serde_json::json!(v)
        };
        Some(s)
    };
    let mut out = vec![("as is".to_string(), base.clone())];
    for (path, schema) in &fields {
        for key in ["minimum", "maximum"] {
            if let Some(s) = bound(schema, key).and_then(|b| set(base, path, schema, b)) {
                out.push((format!("{path} = {key}"), s));
            }
        }
    }
    // Sizes: whole-number fields spanning at least two decades.
    let sizes: Vec<_> = fields
        .iter()
        .filter(|(_, s)| s["type"] == "integer" && bound(s, "maximum").is_some_and(|m| m >= 100.0))
        .collect();
    for (i, (a, sa)) in sizes.iter().enumerate() {
        for (b, sb) in &sizes[i + 1..] {
            let group = |p: &str| {
                p.rsplit_once('/')
                    .map_or(String::new(), |(g, _)| g.to_string())
            };
            if group(a) != group(b) {
                continue;
            }
            let both = set(base, a, sa, bound(sa, "maximum").unwrap_or(0.0))
                .and_then(|s| set(&s, b, sb, bound(sb, "maximum").unwrap_or(0.0)));
            if let Some(s) = both {
                out.push((format!("{a} and {b} = maximum"), s));
            }
        }
    }
    out
}

/// VmHWM of a running process, in bytes.
fn peak_rss(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024.0)
}

/// Whether a run estimated at `seconds` is too long for [`WATCH`] to time it.
fn untimed(seconds: f64) -> bool {
    SLACK * seconds + START_SECONDS > WATCH
}

/// One run of the CLI being watched.
struct Watched {
    line: String,
    estimate: f64,
    bytes: f64,
    watch: f64,
    child: Child,
    started: Instant,
    peak: f64,
    /// The state file, removed when the run ends.
    file: PathBuf,
}

impl Watched {
    fn start(lab: &str, name: String, state: &AnyState, dir: &Path, n: usize) -> Self {
        let cost = labs::estimate(state).expect("estimate");
        let watch = if untimed(cost.seconds) {
            LONG_WATCH
        } else {
            WATCH
        };
        let file = dir.join(format!("state-{n}.json"));
        std::fs::write(&file, serde_json::to_string(state).expect("json")).expect("write");
        let child = Command::new(env!("CARGO_BIN_EXE_hebbian"))
            .args(["run", "--backend", "cpu", file.to_str().expect("utf-8")])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run hebbian");
        Self {
            line: format!(
                "{lab:<9} {name}: estimated {:.2} s, {:.0} MB",
                cost.seconds,
                cost.bytes / 1e6
            ),
            estimate: cost.seconds,
            bytes: cost.bytes,
            watch,
            child,
            started: Instant::now(),
            peak: 0.0,
            file,
        }
    }

    /// Samples the run's memory; once it has ended or outstayed its watch, its report line and its failures.
    fn poll(&mut self) -> Option<(String, Vec<String>)> {
        self.peak = self.peak.max(peak_rss(self.child.id()).unwrap_or(0.0));
        let status = match self.child.try_wait().expect("wait") {
            Some(status) => Some(status),
            None if self.started.elapsed().as_secs_f64() > self.watch => {
                self.child.kill().expect("kill");
                self.child.wait().expect("reap");
                None
            }
            None => return None,
        };
        std::fs::remove_file(&self.file).ok();
        let seconds = self.started.elapsed().as_secs_f64();
        let line = format!(
            "{}; {} after {seconds:.2} s, peak {:.0} MB",
            self.line,
            if status.is_some() {
                "done"
            } else {
                "still going"
            },
            self.peak / 1e6
        );
        let mut failures = Vec::new();
        match status {
            Some(s) if !s.success() => {
                let mut err = String::new();
                std::io::Read::read_to_string(
                    &mut self.child.stderr.take().expect("stderr"),
                    &mut err,
                )
                .ok();
                failures.push(format!("{line}: exit {s}: {err}"));
            }
            Some(_) if seconds > SLACK * self.estimate + START_SECONDS => {
                failures.push(format!("{line}: slower than estimated"));
            }
            None if SLACK * self.estimate + START_SECONDS < self.watch => {
                failures.push(format!("{line}: still going, though estimated short"));
            }
            _ => {}
        }
        if self.peak > 1.5 * self.bytes + BASE_BYTES {
            failures.push(format!("{line}: more memory than estimated"));
        }
        Some((line, failures))
    }
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "timing needs an optimised build: cargo test --profile budgets --test budgets"
)]
fn every_state_is_refused_or_runs_within_its_estimate() {
    let dir = std::env::temp_dir().join(format!("hebbian-budgets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let mut report = Vec::new();
    let mut failures = Vec::new();
    // HEBBIAN_BUDGET_LAB=id checks one lab (while working on it); CI checks them all.
    let only = std::env::var("HEBBIAN_BUDGET_LAB").ok();
    // Timed runs go one at a time, alone on the machine; untimed ones (estimated beyond the watch) queue for
    // a pool of [`UNTIMED_AT_ONCE`] after them.
    let mut queued = Vec::new();
    let mut n = 0;
    for lab in labs::catalog() {
        if only.as_deref().is_some_and(|id| id != lab.id) {
            continue;
        }
        for (name, state) in states(lab.id) {
            let errs = labs::validate(&state);
            if !errs.is_empty() {
                assert!(
                    errs.iter().all(|e| !e.message.is_empty()),
                    "{name}: {errs:?}"
                );
                continue;
            }
            if untimed(labs::estimate(&state).expect("estimate").seconds) {
                queued.push((lab.id, name, state));
                continue;
            }
            n += 1;
            let mut run = Watched::start(lab.id, name, &state, &dir, n);
            let (line, failed) = loop {
                if let Some(done) = run.poll() {
                    break done;
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            report.push(line);
            failures.extend(failed);
        }
    }
    let mut pool: Vec<Watched> = Vec::new();
    let mut queue = queued.into_iter();
    loop {
        while pool.len() < UNTIMED_AT_ONCE {
            let Some((lab, name, state)) = queue.next() else {
                break;
            };
            n += 1;
            pool.push(Watched::start(lab, name, &state, &dir, n));
        }
        if pool.is_empty() {
            break;
        }
        let mut i = 0;
        while i < pool.len() {
            if let Some((line, failed)) = pool[i].poll() {
                report.push(line);
                failures.extend(failed);
                pool.swap_remove(i);
            } else {
                i += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    println!("{}", report.join("\n"));
    assert!(report.len() > 20, "too few states ran: {report:?}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
