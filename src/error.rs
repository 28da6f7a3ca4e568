//! One error type for the whole crate: every message names the bad value so the page can show it as is.
use thiserror::Error;

/// Everything that can go wrong between a link, a parameter, the GPU and a run.
#[derive(Debug, Error)]
pub enum Error {
    /// A permalink or state document that cannot be read.
    #[error("{0}")]
    Link(String),
    /// Parameters outside their ranges or inconsistent with each other (one line per field).
    #[error("invalid parameters: {}", .0.iter().map(|e| format!("{}: {}", e.path, e.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// No lab with that id.
    #[error("unknown lab '{0}' (known labs: {1})")]
    UnknownLab(String, String),
    /// The GPU could not be used, or failed during a run.
    #[error("GPU: {0}")]
    Gpu(String),
    /// A size that the device's limits cannot hold, checked before allocating.
    #[error(
        "{what} needs {needed} bytes but this GPU allows at most {limit} bytes per buffer; choose smaller sizes"
    )]
    TooLarge {
        what: String,
        needed: u64,
        limit: u64,
    },
    /// Reading or writing a file (CLI).
    #[error("{0}")]
    Io(String),
    /// A dataset file that cannot be read as what it claims to be, or a dataset request that cannot be met.
    #[error("{0}")]
    Data(String),
}

/// One invalid field: a JSON-pointer-like path into the params and a readable reason.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

impl FieldError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
