//! The compute engine: a runtime choice between the CPU (ndarray) and the GPU (wgpu), with the reason shown
//! to the user. Labs call kernels through `Engine`; a kernel that fails on the GPU continues on the CPU.
mod gpu;
mod recorder;

pub use gpu::{Gpu, f32_bytes};
pub use recorder::{Kernel, Recorder, Tensor};

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Which engine the user asked for (URL `?backend=`, CLI `--backend`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendChoice {
    /// GPU when an adapter is available, CPU otherwise.
    #[default]
    Auto,
    Cpu,
    Gpu,
}

impl std::str::FromStr for BackendChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "gpu" => Ok(Self::Gpu),
            other => Err(Error::Link(format!(
                "unknown backend '{other}' (use auto, cpu or gpu)"
            ))),
        }
    }
}

/// What is running and why, for the engine badge and the CLI report.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
pub struct EngineInfo {
    /// "cpu" or "gpu".
    #[cfg_attr(not(target_arch = "wasm32"), ts(type = "'cpu' | 'gpu'"))]
    pub kind: &'static str,
    /// One sentence a user can read: why this engine.
    pub reason: String,
    /// Adapter name and backend when on the GPU.
    pub adapter: Option<String>,
}

/// The active engine.
pub enum Engine {
    Cpu { reason: String },
    Gpu(Box<Gpu>),
}

impl Engine {
    /// Picks an engine. `Gpu` fails when no adapter can be had; `Auto` takes the GPU unless there is none or it
    /// is a software renderer on the processor (measured 10–20× slower than the CPU engine there: hebb2d's
    /// default run 28 s vs 2.8 s in Chromium on SwiftShader), and says why in words a student reads.
    pub async fn new(choice: BackendChoice) -> Result<Self> {
        match choice {
            BackendChoice::Cpu => Ok(Self::Cpu {
                reason: "CPU chosen explicitly".into(),
            }),
            BackendChoice::Gpu => Ok(Self::Gpu(Box::new(Gpu::new().await?))),
            BackendChoice::Auto => match Gpu::new().await {
                Ok(gpu) if gpu.is_software() => Ok(Self::Cpu {
                    reason: format!(
                        "WebGPU here runs on the processor, not on a graphics card ({}): the CPU engine is \
                         faster, so it runs the labs",
                        gpu.adapter_name()
                    ),
                }),
                Ok(gpu) => Ok(Self::Gpu(Box::new(gpu))),
                Err(e) => Ok(Self::Cpu {
                    reason: format!("{e}: running on CPU"),
                }),
            },
        }
    }

    /// Leaves a working GPU for the CPU engine, which `measured` found faster on the work at hand.
    pub fn prefer_cpu(&mut self, reason: impl Into<String>) {
        *self = Self::cpu(reason);
    }

    pub fn cpu(reason: impl Into<String>) -> Self {
        Self::Cpu {
            reason: reason.into(),
        }
    }

    pub fn info(&self) -> EngineInfo {
        match self {
            Self::Cpu { reason } => EngineInfo {
                kind: "cpu",
                reason: reason.clone(),
                adapter: None,
            },
            Self::Gpu(gpu) => EngineInfo {
                kind: "gpu",
                reason: format!("running on {} through WebGPU", gpu.device_name()),
                adapter: Some(gpu.adapter_name()),
            },
        }
    }

    pub fn gpu(&self) -> Option<&Gpu> {
        match self {
            Self::Gpu(gpu) => Some(gpu),
            Self::Cpu { .. } => None,
        }
    }

    /// Runs one piece of work under the fallback rule every kernel family shares. On the GPU when the engine has
    /// one: a size this device cannot hold ([`Error::TooLarge`]) sends this piece to the CPU with a notice and
    /// keeps the GPU for the next; any other GPU failure (a lost device, out of memory, a rejected kernel) moves
    /// the engine to the CPU for the rest of the run, with a notice. Either way `cpu` carries on from `state` as
    /// the GPU left it, so GPU work commits results to `state` only when they are complete, or records there
    /// how far it got. (Runs larger than the host's memory budget are refused before they start, by the labs'
    /// cost models: see `labs::budget`.)
    pub async fn run<S: ?Sized, T>(
        &mut self,
        state: &mut S,
        gpu: impl AsyncFnOnce(&Gpu, &mut S) -> Result<T>,
        cpu: impl FnOnce(&mut S) -> Result<T>,
    ) -> Result<(T, Option<String>)> {
        let failure = match self.gpu() {
            Some(g) => match gpu(g, state).await {
                Ok(t) => return Ok((t, None)),
                Err(e) => Some(e),
            },
            None => None,
        };
        let notice = failure.map(|e| match e {
            Error::TooLarge { .. } => format!("{e}: this part ran on the CPU instead."),
            e => self.fall_back_to_cpu(&e),
        });
        Ok((cpu(state)?, notice))
    }

    /// Leaves the GPU after a failure (device lost, out of memory); returns the notice for the user.
    fn fall_back_to_cpu(&mut self, cause: &Error) -> String {
        let notice =
            format!("The GPU failed ({cause}); the run continues on the CPU from where it was.");
        *self = Self::Cpu {
            reason: format!("switched to CPU after a GPU failure: {cause}"),
        };
        notice
    }
}

/// The two engines measured on one lab's work (steps per millisecond, see `labs::throughput`): how `auto`
/// chooses when the adapter is a graphics card, where either may win (a small lab on a laptop's integrated GPU
/// can run faster on the CPU, whose work needs no submission and readback).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Measured {
    pub cpu: f64,
    pub gpu: f64,
}

impl Measured {
    /// The CPU must win clearly: within 10 % the GPU stays (it keeps the processor free for the page).
    pub fn cpu_is_faster(&self) -> bool {
        self.cpu > 1.1 * self.gpu
    }

    /// Why this engine runs the lab, in words a student reads. `earlier`: the figures were measured on an
    /// earlier visit and remembered by this browser.
    pub fn reason(&self, adapter: &str, earlier: bool) -> String {
        let when = if earlier {
            "measured earlier in this browser"
        } else {
            "measured just now"
        };
        if self.cpu_is_faster() {
            format!(
                "the CPU engine runs this lab {} faster than WebGPU on {adapter} ({when}), so it runs it",
                times(self.cpu / self.gpu)
            )
        } else {
            format!(
                "WebGPU on {adapter} runs this lab {} the speed of the CPU engine ({when})",
                times(self.gpu / self.cpu)
            )
        }
    }
}

/// "3.2×" for a ratio, "about 1×" near even.
fn times(ratio: f64) -> String {
    if !ratio.is_finite() {
        "far".into()
    } else if ratio < 1.15 {
        "about 1×".into()
    } else {
        format!("{:.1}×", ratio)
    }
}

#[cfg(test)]
mod tests {
    use super::Measured;

    #[test]
    fn the_measured_choice_says_why_in_words() {
        let cpu_wins = Measured { cpu: 3.2, gpu: 1.0 };
        assert!(cpu_wins.cpu_is_faster());
        assert_eq!(
            cpu_wins.reason("SwiftShader", false),
            "the CPU engine runs this lab 3.2× faster than WebGPU on SwiftShader (measured just now), so it runs it"
        );
        let gpu_wins = Measured { cpu: 1.0, gpu: 8.0 };
        assert!(!gpu_wins.cpu_is_faster());
        assert!(
            gpu_wins
                .reason("Intel Iris", true)
                .contains("8.0× the speed")
        );
        // Near even, the GPU stays.
        assert!(
            !Measured {
                cpu: 1.05,
                gpu: 1.0
            }
            .cpu_is_faster()
        );
        assert!(
            Measured {
                cpu: 1.05,
                gpu: 1.0
            }
            .reason("A", false)
            .contains("about 1×")
        );
    }
}
