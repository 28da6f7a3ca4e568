//! `hebbian`: the playground's labs from the command line (list, schema, default state, headless runs,
//! permalinks). Runs give the same numbers as the browser's CPU path for the same state.
use clap::{Parser, Subcommand};
use hebbian_playground::checkpoint;
use hebbian_playground::data::loader::{self, Kind};
use hebbian_playground::data::photos::{self, Photo};
use hebbian_playground::data::shipped;
use hebbian_playground::data::store::{DataStore, Need};
use hebbian_playground::engine::{BackendChoice, Engine};
use hebbian_playground::error::{Error, FieldError, Result};
use hebbian_playground::labs::budget::{self, Chunk, Cost, Limits};
use hebbian_playground::labs::{self, Run};
use hebbian_playground::protocol::Plot;
use hebbian_playground::state::{self, AnyState};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "hebbian", version, about = "Hebbian Playground labs, headless")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the labs.
    Labs {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print the JSON Schema of a lab's state document.
    Schema { lab: String },
    /// Print a lab's default state as JSON (a starting point for scripted variations).
    State { lab: String },
    /// Run an experiment given as a permalink URL, a fragment (s=…), a state JSON file or a checkpoint file
    /// (.safetensors: the run resumes where it was saved); print a JSON report.
    Run {
        state: String,
        /// Accept runs estimated up to this many hours on the reference machine (default 1, the page's limit);
        /// with --checkpoint a long run can be stopped and resumed.
        #[arg(long, default_value_t = 1.0)]
        max_hours: f64,
        /// Accept runs estimated to hold up to this many GiB of memory (default 1, the page's limit).
        #[arg(long, default_value_t = 1.0)]
        max_gib: f64,
        /// Save what the run learns to this checkpoint file (safetensors), every minute and at the end, for
        /// labs that save checkpoints; resume with `run FILE`.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// Compute engine.
        #[arg(long, default_value = "auto")]
        backend: String,
        /// Include the plot data in the report.
        #[arg(long)]
        plots: bool,
        /// Include the wall time of the run (makes the report differ between runs).
        #[arg(long)]
        timing: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Read dataset files (your own MNIST IDX or CIFAR-10 binary files, or the shipped data) and print a
    /// summary with the parse throughput; malformed files give the same messages as in the page.
    Data {
        /// What the files are: mnist_idx or cifar10; omit to summarise the shipped MNIST digits and Iris.
        #[arg(long)]
        format: Option<Kind>,
        files: Vec<PathBuf>,
        #[arg(long, default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
    },
    /// Print the permalink of a state JSON file.
    Link {
        file: String,
        /// Address the playground is served at.
        #[arg(long, default_value = "http://127.0.0.1:8080/")]
        base: String,
    },
}

/// The CLI looks at its progress about once a second (the page, every 80 ms).
const CLI_CHUNK_MS: f64 = 1000.0;
/// A run given `--checkpoint` saves it this often (and at its end).
const CHECKPOINT_EVERY_S: u64 = 60;

/// The estimate and a progress bar on stderr, for runs estimated over a few seconds (a bar that redraws in
/// place on a terminal, a line per 10 % otherwise).
struct Progress {
    shown: bool,
    terminal: bool,
    estimate: f64,
    last_tenth: u64,
}

impl Progress {
    fn new(cost: &Cost) -> Self {
        let shown = cost.seconds >= 3.0;
        if shown {
            eprintln!(
                "estimated {} on the reference machine's CPU, {} of memory",
                budget::duration(cost.seconds),
                budget::bytes(cost.bytes)
            );
        }
        Self {
            shown,
            terminal: std::io::stderr().is_terminal(),
            estimate: cost.seconds,
            last_tenth: 0,
        }
    }

    fn show(&mut self, step: u64, total: u64, seconds: f64) {
        if !self.shown || total == 0 {
            return;
        }
        let done = step as f64 / total as f64;
        let line = format!(
            "[{:<30}] {:>3.0} %  {} of about {}",
            "=".repeat((done * 30.0) as usize),
            done * 100.0,
            budget::duration(seconds),
            budget::duration(self.estimate.max(seconds))
        );
        let tenth = (done * 10.0) as u64;
        if self.terminal {
            eprint!("\r{line}");
        } else if tenth > self.last_tenth {
            self.last_tenth = tenth;
            eprintln!("{line}");
        }
    }

    fn finish(&self) {
        if self.shown && self.terminal {
            eprintln!();
        }
    }
}

/// The most memory this process has held (Linux's VmHWM), for comparing runs with their estimates; 0 elsewhere.
fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Where scripts/setup.sh puts the shipped data (the page serves the same files as data/).
const DEFAULT_DATA_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/target/data");

/// Where a run's datasets come from.
#[derive(clap::Args)]
struct DataArgs {
    /// Folder of the shipped data (MNIST asset, photographs).
    #[arg(long, default_value = DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    /// Your own MNIST IDX files (plain or .gz), for states whose source is user_mnist.
    #[arg(long, num_args = 1..)]
    mnist: Vec<PathBuf>,
    /// Your own CIFAR-10 binary files (.tar.gz or data_batch_N.bin / test_batch.bin), for user_cifar10.
    #[arg(long, num_args = 1..)]
    cifar: Vec<PathBuf>,
}

impl DataArgs {
    /// A store holding what `need` asks for.
    fn store(&self, need: Option<Need>) -> Result<DataStore> {
        let mut store = DataStore::default();
        match need {
            None => {}
            Some(Need::Mnist) => store.set_mnist(shipped::mnist_from_dir(&self.data_dir)?),
            Some(Need::Photos) => {
                for photo in read_photos(&self.data_dir)? {
                    store.add_photo(photo);
                }
            }
            Some(Need::User { format }) => {
                let files = match format {
                    Kind::MnistIdx => &self.mnist,
                    Kind::Cifar10 => &self.cifar,
                };
                if files.is_empty() {
                    let flag = if format == Kind::MnistIdx {
                        "--mnist"
                    } else {
                        "--cifar"
                    };
                    return Err(Error::Data(format!(
                        "this experiment uses {}: give them with {flag} FILE…",
                        need.map_or_else(String::new, Need::describe)
                    )));
                }
                store.set_user(format, loader::load_paths(format, files)?);
            }
        }
        Ok(store)
    }
}

fn read_photos(dir: &Path) -> Result<Vec<Photo>> {
    photos::shipped()
        .into_iter()
        .map(|(file, title, _)| {
            let path = dir.join("photos").join(file);
            let bytes = std::fs::read(&path).map_err(|e| {
                Error::Data(format!(
                    "cannot read the photograph {}: {e} (scripts/setup.sh installs them)",
                    path.display()
                ))
            })?;
            Photo::from_png(file, title, &bytes)
        })
        .collect()
}

fn main() -> ExitCode {
    match pollster::block_on(run(Cli::parse().command)) {
        Ok(out) => {
            // A closed pipe (`| head`) is not an error worth a panic.
            let _ = writeln!(std::io::stdout(), "{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn json(v: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string_pretty(v).map_err(|e| Error::Io(e.to_string()))
}

/// A state from a file path, a permalink URL or a bare fragment. Files are read up to the size a state can
/// have, so a huge or wrong file is refused before parsing.
fn load_state(arg: &str) -> Result<AnyState> {
    let path = Path::new(arg);
    if path.is_file() {
        let cap = state::MAX_STATE_TEXT as u64;
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if len > cap {
            return Err(Error::Io(format!(
                "{arg} is {:.1} MB; a state file is kilobytes (at most 1 MiB is read)",
                len as f64 / 1e6
            )));
        }
        let mut text = String::new();
        std::fs::File::open(path)
            .and_then(|f| {
                std::io::Read::read_to_string(&mut std::io::Read::take(f, cap + 1), &mut text)
            })
            .map_err(|e| Error::Io(format!("cannot read {arg}: {e}")))?;
        return state::decode(&text);
    }
    let fragment = arg.split_once('#').map_or(arg, |(_, f)| f);
    let looks_like_state =
        fragment.trim_start().starts_with("s=") || fragment.trim_start().starts_with('{');
    if !looks_like_state {
        return Err(Error::Io(format!(
            "no file named {}, and it is not a link either (links hold '#s=…')",
            arg.chars().take(80).collect::<String>()
        )));
    }
    state::decode(fragment)
}

/// The state and checkpoint of a checkpoint file (a safetensors file: its first 8 bytes give the length of a
/// JSON header that follows); None for anything else (a state file, a link).
fn read_checkpoint(
    arg: &str,
    limits: Limits,
) -> Result<Option<(AnyState, checkpoint::Checkpoint)>> {
    let path = Path::new(arg);
    let mut head = [0u8; 9];
    let is_checkpoint = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok_and(|()| head[8] == b'{' && u64::from_le_bytes(head[..8].try_into().unwrap()) > 0);
    if !is_checkpoint {
        return Ok(None);
    }
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    if size > checkpoint::MAX_BYTES as u64 {
        return Err(Error::Data(format!(
            "{arg} is {:.0} MB; a checkpoint holds at most {} MB",
            size as f64 / 1e6,
            checkpoint::MAX_BYTES / 1_000_000
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::Io(format!("cannot read {arg}: {e}")))?;
    let (state, ck) = checkpoint::decode(&bytes)?;
    refuse(labs::validate_within(&state, limits))?;
    Ok(Some((state, ck)))
}

/// Writes the run's checkpoint to `path` through a temporary file, so an interrupted write never leaves a
/// damaged checkpoint in place of the last good one. Nothing is written before the run has learnt anything.
fn write_checkpoint(path: &Path, run: &mut Run, state: &AnyState) -> Result<()> {
    let Some(bytes) = run.save(state)? else {
        return Ok(());
    };
    let tmp = path.with_extension("safetensors.part");
    std::fs::write(&tmp, &bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            Error::Io(format!(
                "cannot write the checkpoint {}: {e}",
                path.display()
            ))
        })
}

/// A state that `link` and `run` both accept (`run` with its time limit): one function, so that they cannot
/// disagree.
fn load_valid_state(arg: &str, limits: Limits) -> Result<AnyState> {
    let s = load_state(arg)?;
    refuse(labs::validate_within(&s, limits))?;
    Ok(s)
}

/// Validation errors as the CLI reports them: a run over the time limit says how to accept it.
fn refuse(mut errs: Vec<FieldError>) -> Result<()> {
    if errs.is_empty() {
        return Ok(());
    }
    for e in &mut errs {
        if e.message.contains("this run would take") {
            e.message.push_str(
                " (or accept it with --max-hours; --checkpoint FILE lets it stop and resume)",
            );
        }
        if e.message.contains("this run would hold") {
            e.message
                .push_str(" (or accept it with --max-gib if this computer has the memory)");
        }
    }
    Err(Error::Invalid(errs))
}

async fn run(command: Command) -> Result<String> {
    match command {
        Command::Labs { json: true } => json(&labs::catalog()),
        Command::Labs { json: false } => Ok(labs::catalog()
            .iter()
            .map(|l| format!("{:<10} {}: {}", l.id, l.title, l.summary))
            .collect::<Vec<_>>()
            .join("\n")),
        Command::Schema { lab } => json(&labs::schema(&lab)?),
        Command::State { lab } => json(&labs::default_state(&lab)?),
        Command::Link { file, base } => {
            let s = load_valid_state(&file, Limits::default())?;
            Ok(format!(
                "{base}?lab={}#{}",
                s.lab,
                state::encode_fragment(&s)?
            ))
        }
        Command::Run {
            state,
            max_hours,
            max_gib,
            checkpoint,
            backend,
            plots,
            timing,
            data,
        } => {
            // Before the engine starts or data loads: a refused state costs nothing.
            for (flag, v) in [("--max-hours", max_hours), ("--max-gib", max_gib)] {
                if !(v > 0.0 && v.is_finite()) {
                    return Err(Error::Io(format!(
                        "{flag} must be a positive number, not {v}"
                    )));
                }
            }
            let limits = Limits {
                seconds: max_hours * 3600.0,
                bytes: max_gib * f64::from(1u32 << 30),
            };
            let resumed = read_checkpoint(&state, limits)?;
            let s = match &resumed {
                Some((s, _)) => s.clone(),
                None => load_valid_state(&state, limits)?,
            };
            if checkpoint.is_some() && !labs::manifest(&s.lab)?.checkpoints {
                return Err(Error::Io(format!(
                    "the {} lab saves no checkpoints: its link reproduces a run as quickly",
                    s.lab
                )));
            }
            let choice: BackendChoice = backend.parse()?;
            let cost = labs::estimate(&s)?;
            let mut progress = Progress::new(&cost);
            let mut engine = Engine::new(choice).await?;
            let store = data.store(labs::needs(&s))?;
            // The start is timed too: some labs compute their first cells there.
            let started = std::time::Instant::now();
            let mut run = match resumed {
                Some((_, ck)) => Run::resume(&s, ck, &store, limits)?,
                None => Run::start_within(&s, &store, limits)?,
            };
            let clock = || started.elapsed().as_secs_f64() * 1e3;
            let mut saved = std::time::Instant::now();
            // Chunks as in the page (plots that changed since the last chunk, notices raised in it), kept whole.
            let (mut drawn, mut datasets, mut notices) = (Vec::new(), Vec::new(), Vec::new());
            let frame = loop {
                let mut frame = run
                    .advance(&mut engine, &Chunk::new(0, CLI_CHUNK_MS, &clock))
                    .await?;
                for plot in std::mem::take(&mut frame.plots) {
                    drawn.retain(|p: &Plot| p.id != plot.id);
                    drawn.push(plot);
                }
                datasets.append(&mut frame.datasets);
                notices.append(&mut frame.notices);
                progress.show(frame.step, frame.total, started.elapsed().as_secs_f64());
                if let Some(path) = &checkpoint
                    && (frame.done || saved.elapsed().as_secs() >= CHECKPOINT_EVERY_S)
                {
                    write_checkpoint(path, &mut run, &s)?;
                    saved = std::time::Instant::now();
                }
                if frame.done {
                    break frame;
                }
            };
            progress.finish();
            let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
            let mut report = serde_json::json!({
                "lab": s.lab,
                "seed": s.seed,
                "engine": engine.info(),
                "step": frame.step,
                "metrics": frame.metrics,
                "notices": notices,
            });
            if plots {
                report["plots"] =
                    serde_json::to_value(&drawn).map_err(|e| Error::Io(e.to_string()))?;
                report["datasets"] =
                    serde_json::to_value(&datasets).map_err(|e| Error::Io(e.to_string()))?;
            }
            if timing {
                report["elapsed_ms"] = elapsed_ms.into();
                report["estimate"] =
                    serde_json::to_value(&cost).map_err(|e| Error::Io(e.to_string()))?;
                report["peak_rss_bytes"] = peak_rss_bytes().into();
            }
            json(&report)
        }
        Command::Data {
            format,
            files,
            data_dir,
        } => {
            let started = std::time::Instant::now();
            let (datasets, bytes) = match format {
                Some(kind) => {
                    let bytes: u64 = files
                        .iter()
                        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
                        .sum();
                    (vec![loader::load_paths(kind, &files)?], bytes)
                }
                None => (
                    vec![shipped::mnist_from_dir(&data_dir)?, shipped::iris()],
                    0,
                ),
            };
            let seconds = started.elapsed().as_secs_f64();
            let mut report = serde_json::json!({
                "datasets": datasets.iter().map(|d| d.summary()).collect::<Vec<_>>(),
            });
            if bytes > 0 {
                report["file_bytes"] = bytes.into();
                report["seconds"] = seconds.into();
                report["mb_per_s"] = (bytes as f64 / 1e6 / seconds.max(1e-9)).into();
            }
            json(&report)
        }
    }
}
