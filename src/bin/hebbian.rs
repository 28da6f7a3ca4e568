//! `hebbian`: the playground's labs from the command line (list, schema, default state, headless runs,
//! permalinks). Runs give the same numbers as the browser's CPU path for the same state.
use clap::{Parser, Subcommand};
use hebbian_playground::engine::{BackendChoice, Engine};
use hebbian_playground::error::{Error, Result};
use hebbian_playground::labs::{self, Run};
use hebbian_playground::state::{self, AnyState};
use std::io::Write;
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
    /// Run an experiment given as a permalink URL, a fragment (s=…) or a state JSON file; print a JSON report.
    Run {
        state: String,
        /// Compute engine.
        #[arg(long, default_value = "auto")]
        backend: String,
        /// Include the plot data in the report.
        #[arg(long)]
        plots: bool,
        /// Include the wall time of the run (makes the report differ between runs).
        #[arg(long)]
        timing: bool,
    },
    /// Print the permalink of a state JSON file.
    Link {
        file: String,
        /// Address the playground is served at.
        #[arg(long, default_value = "http://127.0.0.1:8080/")]
        base: String,
    },
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

/// A state from a file path, a permalink URL or a bare fragment.
fn load_state(arg: &str) -> Result<AnyState> {
    let path = std::path::Path::new(arg);
    if path.is_file() {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Io(format!("cannot read {arg}: {e}")))?;
        return state::decode(&text);
    }
    let fragment = arg.split_once('#').map_or(arg, |(_, f)| f);
    state::decode(fragment)
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
            let s = load_state(&file)?;
            let errs = labs::validate(&s);
            if !errs.is_empty() {
                return Err(Error::Invalid(errs));
            }
            Ok(format!(
                "{base}?lab={}#{}",
                s.lab,
                state::encode_fragment(&s)
            ))
        }
        Command::Run {
            state,
            backend,
            plots,
            timing,
        } => {
            let s = load_state(&state)?;
            let choice: BackendChoice = backend.parse()?;
            let mut engine = Engine::new(choice).await?;
            let mut run = Run::start(&s, &engine)?;
            let started = std::time::Instant::now();
            let frame = run.advance(&mut engine, 0).await?;
            let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
            let mut report = serde_json::json!({
                "lab": s.lab,
                "seed": s.seed,
                "engine": engine.info(),
                "step": frame.step,
                "metrics": frame.metrics,
                "notices": frame.notices,
            });
            if plots {
                report["plots"] =
                    serde_json::to_value(&frame.plots).map_err(|e| Error::Io(e.to_string()))?;
            }
            if timing {
                report["elapsed_ms"] = elapsed_ms.into();
            }
            json(&report)
        }
    }
}
