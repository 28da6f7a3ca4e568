//! The lab registry: ids, manifests, default states, schemas, validation, and runs.
pub mod datasets;
pub mod hebb2d;
pub mod hopfield;
pub mod ising;
pub mod text;

use crate::data::store::DataStore;
use crate::engine::Engine;
use crate::error::{Error, FieldError, Result};
use crate::protocol::{Frame, LabInfo, Manifest, Metric};
use crate::state::{AnyState, StateDoc};

/// The labs that work, in the order the landing page lists them.
pub fn catalog() -> Vec<LabInfo> {
    vec![
        hebb2d::info(),
        datasets::info(),
        hopfield::info(),
        ising::info(),
    ]
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
        datasets::ID => Ok(Manifest {
            info: datasets::info(),
            cells: datasets::cells(),
            schema: schema(id)?,
        }),
        ising::ID => Ok(Manifest {
            info: ising::info(),
            cells: ising::cells(),
            schema: schema(id)?,
        }),
        hopfield::ID => Ok(Manifest {
            info: hopfield::info(),
            cells: hopfield::cells(),
            schema: schema(id)?,
        }),
        _ => Err(unknown(id)),
    }
}

pub fn default_state(id: &str) -> Result<AnyState> {
    match id {
        hebb2d::ID => Ok(hebb2d::default_state().to_any()),
        datasets::ID => Ok(datasets::default_state().to_any()),
        ising::ID => Ok(ising::default_state().to_any()),
        hopfield::ID => Ok(hopfield::default_state().to_any()),
        _ => Err(unknown(id)),
    }
}

/// JSON Schema of the lab's state document.
pub fn schema(id: &str) -> Result<serde_json::Value> {
    let s = match id {
        hebb2d::ID => schemars::schema_for!(StateDoc<hebb2d::Params>),
        datasets::ID => schemars::schema_for!(StateDoc<datasets::Params>),
        ising::ID => schemars::schema_for!(StateDoc<ising::Params>),
        hopfield::ID => schemars::schema_for!(StateDoc<hopfield::Params>),
        _ => return Err(unknown(id)),
    };
    serde_json::to_value(s).map_err(|e| Error::Io(e.to_string()))
}

/// Every problem with a state: unknown lab, params that do not parse, values out of range.
pub fn validate(state: &AnyState) -> Vec<FieldError> {
    match typed(state) {
        Ok(Typed::Hebb2d(s)) => hebb2d::validate(&s.params),
        Ok(Typed::Datasets(s)) => datasets::validate(&s.params),
        Ok(Typed::Ising(s)) => ising::validate(&s.params),
        Ok(Typed::Hopfield(s)) => hopfield::validate(&s.params),
        Err(Error::Invalid(errs)) => errs,
        Err(e) => vec![FieldError::new("", e.to_string())],
    }
}

enum Typed {
    Hebb2d(StateDoc<hebb2d::Params>),
    Datasets(StateDoc<datasets::Params>),
    Ising(StateDoc<ising::Params>),
    Hopfield(StateDoc<hopfield::Params>),
}

fn typed(state: &AnyState) -> Result<Typed> {
    fn with<P: serde::de::DeserializeOwned>(state: &AnyState) -> Result<StateDoc<P>> {
        let params = serde_json::from_value(state.params.clone())
            .map_err(|e| Error::Invalid(vec![FieldError::new("params", e.to_string())]))?;
        Ok(StateDoc {
            version: state.version,
            lab: state.lab.clone(),
            seed: state.seed,
            params,
            view: state.view.clone(),
            hidden: state.hidden.clone(),
        })
    }
    match state.lab.as_str() {
        hebb2d::ID => Ok(Typed::Hebb2d(with(state)?)),
        datasets::ID => Ok(Typed::Datasets(with(state)?)),
        ising::ID => Ok(Typed::Ising(with(state)?)),
        hopfield::ID => Ok(Typed::Hopfield(with(state)?)),
        other => Err(unknown(other)),
    }
}

/// What must be loaded (shipped assets, the user's files) before `state` can start; None when nothing.
pub fn needs(state: &AnyState) -> Option<crate::data::store::Need> {
    match typed(state).ok()? {
        Typed::Hebb2d(_) => None,
        Typed::Datasets(s) => s.params.source.needs(),
        Typed::Ising(_) => None,
        // The MNIST cell needs the shipped digits.
        Typed::Hopfield(_) => Some(crate::data::store::Need::Mnist),
    }
}

/// A lab run in progress.
pub enum Run {
    Hebb2d(Box<hebb2d::Run>),
    Datasets(Box<datasets::Run>),
    Ising(Box<ising::Run>),
    Hopfield(Box<hopfield::Run>),
}

impl Run {
    /// Checks the state and prepares step 0 (sizes are checked against the engine before any allocation).
    /// Data comes from `store`; see [`needs`] for what must be in it.
    pub fn start(state: &AnyState, engine: &Engine, store: &DataStore) -> Result<Self> {
        let run = match typed(state)? {
            Typed::Hebb2d(s) => Self::Hebb2d(Box::new(hebb2d::Run::new(s)?)),
            Typed::Datasets(s) => Self::Datasets(Box::new(datasets::Run::new(s, store)?)),
            Typed::Ising(s) => Self::Ising(Box::new(ising::Run::new(s)?)),
            Typed::Hopfield(s) => Self::Hopfield(Box::new(hopfield::Run::new(s, store)?)),
        };
        match &run {
            Self::Hebb2d(r) => r.check_limits(engine)?,
            Self::Datasets(r) => r.check_limits(engine)?,
            Self::Ising(r) => r.check_limits(engine)?,
            Self::Hopfield(r) => r.check_limits(engine)?,
        }
        Ok(run)
    }

    pub async fn advance(&mut self, engine: &mut Engine, max_steps: u32) -> Result<Frame> {
        match self {
            Self::Hebb2d(r) => r.advance(engine, max_steps).await,
            Self::Datasets(r) => r.advance(engine, max_steps).await,
            Self::Ising(r) => r.advance(engine, max_steps).await,
            Self::Hopfield(r) => r.advance(engine, max_steps).await,
        }
    }

    /// The current frame, computing nothing.
    pub fn snapshot(&mut self) -> Frame {
        match self {
            Self::Hebb2d(r) => r.frame(Vec::new()),
            Self::Datasets(r) => r.frame(),
            Self::Ising(r) => r.frame(Vec::new()),
            Self::Hopfield(r) => r.frame(),
        }
    }

    pub fn reset(&mut self) {
        match self {
            Self::Hebb2d(r) => r.reset(),
            Self::Datasets(r) => r.reset(),
            Self::Ising(r) => r.reset(),
            Self::Hopfield(r) => r.reset(),
        }
    }

    pub fn done(&self) -> bool {
        match self {
            Self::Hebb2d(r) => r.done(),
            Self::Datasets(r) => r.done(),
            Self::Ising(r) => r.done(),
            Self::Hopfield(r) => r.done(),
        }
    }

    pub fn metrics(&self) -> Vec<Metric> {
        match self {
            Self::Hebb2d(r) => r.metrics(),
            Self::Datasets(r) => r.metrics(),
            Self::Ising(r) => r.metrics(),
            Self::Hopfield(r) => r.metrics(),
        }
    }
}
