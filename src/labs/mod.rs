//! The lab registry: ids, manifests, default states, schemas, validation, and runs.
pub mod hebb2d;

use crate::engine::Engine;
use crate::error::{Error, FieldError, Result};
use crate::protocol::{Frame, LabInfo, Manifest, Metric};
use crate::state::{AnyState, StateDoc};

/// The labs that work, in the order the landing page lists them.
pub fn catalog() -> Vec<LabInfo> {
    vec![hebb2d::info()]
}

fn unknown(id: &str) -> Error {
    Error::UnknownLab(
        id.into(),
        catalog()
            .iter()
            .map(|l| l.id)
            .collect::<Vec<_>>()
            .join(", "),
    )
}

pub fn manifest(id: &str) -> Result<Manifest> {
    match id {
        hebb2d::ID => Ok(Manifest {
            info: hebb2d::info(),
            cells: hebb2d::cells(),
            schema: schema(id)?,
        }),
        _ => Err(unknown(id)),
    }
}

pub fn default_state(id: &str) -> Result<AnyState> {
    match id {
        hebb2d::ID => Ok(hebb2d::default_state().to_any()),
        _ => Err(unknown(id)),
    }
}

/// JSON Schema of the lab's state document.
pub fn schema(id: &str) -> Result<serde_json::Value> {
    match id {
        hebb2d::ID => {
            let s = schemars::schema_for!(StateDoc<hebb2d::Params>);
            serde_json::to_value(s).map_err(|e| Error::Io(e.to_string()))
        }
        _ => Err(unknown(id)),
    }
}

/// Every problem with a state: unknown lab, params that do not parse, values out of range.
pub fn validate(state: &AnyState) -> Vec<FieldError> {
    match typed(state) {
        Ok(Typed::Hebb2d(s)) => hebb2d::validate(&s.params),
        Err(Error::Invalid(errs)) => errs,
        Err(e) => vec![FieldError::new("", e.to_string())],
    }
}

enum Typed {
    Hebb2d(StateDoc<hebb2d::Params>),
}

fn typed(state: &AnyState) -> Result<Typed> {
    let parse =
        |e: serde_json::Error| Error::Invalid(vec![FieldError::new("params", e.to_string())]);
    match state.lab.as_str() {
        hebb2d::ID => {
            let params = serde_json::from_value(state.params.clone()).map_err(parse)?;
            Ok(Typed::Hebb2d(StateDoc {
                version: state.version,
                lab: state.lab.clone(),
                seed: state.seed,
                params,
                view: state.view.clone(),
                hidden: state.hidden.clone(),
            }))
        }
        other => Err(unknown(other)),
    }
}

/// A lab run in progress.
pub enum Run {
    Hebb2d(Box<hebb2d::Run>),
}

impl Run {
    /// Checks the state and prepares step 0 (sizes are checked against the engine before any allocation).
    pub fn start(state: &AnyState, engine: &Engine) -> Result<Self> {
        let run = match typed(state)? {
            Typed::Hebb2d(s) => Self::Hebb2d(Box::new(hebb2d::Run::new(s)?)),
        };
        match &run {
            Self::Hebb2d(r) => r.check_limits(engine)?,
        }
        Ok(run)
    }

    pub async fn advance(&mut self, engine: &mut Engine, max_steps: u32) -> Result<Frame> {
        match self {
            Self::Hebb2d(r) => r.advance(engine, max_steps).await,
        }
    }

    /// The current frame, computing nothing.
    pub fn snapshot(&mut self) -> Frame {
        match self {
            Self::Hebb2d(r) => r.frame(Vec::new()),
        }
    }

    pub fn reset(&mut self) {
        match self {
            Self::Hebb2d(r) => r.reset(),
        }
    }

    pub fn done(&self) -> bool {
        match self {
            Self::Hebb2d(r) => r.done(),
        }
    }

    pub fn metrics(&self) -> Vec<Metric> {
        match self {
            Self::Hebb2d(r) => r.metrics(),
        }
    }
}
