//! Labs: the `Lab` and `LabRun` traits every lab implements, and the registry that turns the list of labs
//! into the dispatch the page, the worker and the CLI use. A new lab is one file (`<id>.rs` with its prose in
//! `<id>.md`) and one line in `registry!` below; `tests/labs.rs` then checks it without further code.
pub mod boltzmann;
pub mod budget;
pub mod chl;
pub mod competitive;
pub mod credit;
pub mod datasets;
pub mod digits;
pub mod hebb2d;
pub mod hebbconv;
pub mod hebbrule;
pub mod hopfield;
pub mod ising;
pub mod ranges;
pub mod rbm;
pub mod som;
pub mod text;
pub mod whitening;

use crate::checkpoint::{self, Checkpoint};
use crate::data::store::{DataStore, Need};
use crate::engine::Engine;
use crate::error::{Error, FieldError, Result};
use crate::protocol::{Cell, Frame, LabInfo, Manifest, Metric};
use crate::state::{AnyState, StateDoc, VERSION, View};
use budget::{Chunk, Cost, Limits};
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// A lab: typed parameters with their ranges (in the schema), defaults, notebook cells, rules across fields,
/// the data it needs, and how a run starts.
pub trait Lab {
    /// The id in links and URLs (`?lab=ID`); never changes once published.
    const ID: &'static str;
    /// The seed of the default experiment (a lab picks one whose draws make its exercises' point).
    const DEFAULT_SEED: u32 = 42;
    /// Whether runs save what they learnt to a checkpoint file and load it back ([`LabRun::checkpoint`]):
    /// labs whose runs last minutes or more; a quick run's link reproduces it as fast.
    const CHECKPOINTS: bool = false;
    /// Whether the lab draws theory (predicted lines, fixed points) that the view's "show theory" switches: a
    /// lab without offers no such control.
    const THEORY: bool = true;
    type Params: Clone + Serialize + DeserializeOwned + JsonSchema;
    type Run: LabRun;

    /// The line in the lab list.
    fn info() -> LabInfo;
    /// The notebook cells in reading order.
    fn cells() -> Vec<Cell>;
    fn default_params() -> Self::Params;
    fn default_view() -> View {
        View::default()
    }
    /// Rules across fields (ranges come from the schema and are checked by [`validate`] for every lab).
    fn validate(params: &Self::Params) -> Vec<FieldError>;
    /// The lab's cost model: the work and memory these parameters ask for (see [`budget`]). Called on states
    /// whose fields are in range; the rules across fields may not hold yet.
    fn cost(params: &Self::Params) -> Cost;
    /// What must be loaded before a run can start; None when nothing.
    fn needs(_params: &Self::Params) -> Option<Need> {
        None
    }
    /// Prepares step 0 of a state that has passed validation.
    fn start(state: StateDoc<Self::Params>, store: &DataStore) -> Result<Self::Run>;

    fn default_state() -> StateDoc<Self::Params> {
        StateDoc {
            version: VERSION,
            lab: Self::ID.into(),
            seed: Self::DEFAULT_SEED,
            params: Self::default_params(),
            view: Self::default_view(),
            hidden: vec![],
        }
    }
}

/// A run in progress. Frames carry the plots that changed since the previous frame, and the notices raised
/// while computing them.
#[allow(async_fn_in_trait)] // Runs live in one thread (the worker, or the CLI's); no Send bound is wanted.
pub trait LabRun {
    /// Advances by the steps `chunk` allows, handing back control once its deadline has passed, and returns the
    /// frame to draw.
    async fn advance(&mut self, engine: &mut Engine, chunk: &Chunk<'_>) -> Result<Frame>;
    /// The current frame, computing nothing (every plot, as after a reset of the page).
    fn frame(&mut self) -> Frame;
    fn metrics(&self) -> Vec<Metric>;
    /// Back to step 0 with the same initial state.
    fn reset(&mut self);
    fn done(&self) -> bool;
    /// What the run has learnt so far, to resume from (labs with [`Lab::CHECKPOINTS`]; None otherwise).
    fn checkpoint(&mut self) -> Option<Checkpoint> {
        None
    }
    /// Continues from `ck`, which a run of this state saved (its step and what it had learnt).
    fn restore(&mut self, _ck: Checkpoint) -> Result<()> {
        Err(Error::Data(
            "this lab's runs are reproduced from their link; it loads no checkpoints".into(),
        ))
    }
}

/// The items whose switch is on, in their order: the variants a lab trains side by side, chosen by check boxes
/// (the credit lab's rules, the Boltzmann and RBM labs' statistics).
pub(crate) fn switched_on<T: Copy, const N: usize>(items: [T; N], on: [bool; N]) -> Vec<T> {
    items
        .into_iter()
        .zip(on)
        .filter(|(_, on)| *on)
        .map(|(item, _)| item)
        .collect()
}

/// The whole params check of lab `L`: parse, ranges from the schema (params and view), and the lab's rules
/// across fields. Where the lab explains a field itself (e.g. a correlation that makes Σ indefinite), its message
/// replaces the bare range message. Labs' rules must therefore accept out-of-range values without panicking.
fn validate_lab<L: Lab>(state: &AnyState, limits: Limits) -> Vec<FieldError> {
    let schema = schema_of::<L>();
    let mut ranges = Vec::new();
    let props = &schema["properties"];
    ranges::check(&schema, &props["params"], &state.params, "", &mut ranges);
    if let Ok(view) = serde_json::to_value(&state.view) {
        ranges::check(&schema, &props["view"], &view, "view", &mut ranges);
    }
    let typed = typed::<L>(state);
    let rules = match &typed {
        Ok(s) => L::validate(&s.params),
        Err(Error::Invalid(parse)) => parse.clone(),
        Err(e) => vec![FieldError::new("", e.to_string())],
    };
    ranges.retain(|r| !rules.iter().any(|e| e.path == r.path));
    ranges.extend(rules);
    // The budget last: its model may assume the fields are in range and consistent.
    if let (true, Ok(s)) = (ranges.is_empty(), &typed) {
        ranges.extend(L::cost(&s.params).check(limits));
    }
    ranges.extend(check_hidden(&props["params"], &schema, &state.hidden));
    ranges
}

/// A classroom link hides parameters by name: each must be one of the lab's parameters, once (which also
/// bounds the list a link can carry).
fn check_hidden(
    params: &serde_json::Value,
    root: &serde_json::Value,
    hidden: &[String],
) -> Vec<FieldError> {
    let params = ranges::resolve(root, params);
    let known = params["properties"].as_object();
    let mut errs = Vec::new();
    for (i, name) in hidden.iter().enumerate() {
        let shown: String = name.chars().take(40).collect();
        if !known.is_some_and(|k| k.contains_key(name)) {
            errs.push(FieldError::new(
                "hidden",
                format!("'{shown}' is not a parameter of this lab"),
            ));
        } else if hidden[..i].contains(name) {
            errs.push(FieldError::new(
                "hidden",
                format!("'{shown}' is listed twice"),
            ));
        }
        if errs.len() >= 3 {
            break;
        }
    }
    errs
}

/// The JSON Schema of lab `L`'s state, generated once per thread: validation reads it on every edit in the
/// page and every start.
fn schema_of<L: Lab>() -> Rc<serde_json::Value> {
    thread_local! {
        static SCHEMAS: RefCell<HashMap<&'static str, Rc<serde_json::Value>>> = RefCell::default();
    }
    SCHEMAS.with_borrow_mut(|schemas| {
        schemas
            .entry(L::ID)
            .or_insert_with(|| {
                let mut schema = serde_json::to_value(schemars::schema_for!(StateDoc<L::Params>))
                    .unwrap_or(serde_json::Value::Null);
                if !L::THEORY
                    && let Some(theory) = schema.pointer_mut("/$defs/View/properties/theory")
                {
                    // The field stays in the state (links keep one shape); only its control goes.
                    theory["x-hidden"] = true.into();
                }
                Rc::new(schema)
            })
            .clone()
    })
}

fn typed<L: Lab>(state: &AnyState) -> Result<StateDoc<L::Params>> {
    let params = serde_path_to_error::deserialize(state.params.clone()).map_err(|e| {
        // Paths in field errors join with `/` ("worked/probe"), as the page's controls are addressed.
        let path = e
            .path()
            .to_string()
            .replace(['.', '['], "/")
            .replace(']', "");
        let path = path.trim_matches('/').to_string();
        let message = crate::state::field_message("", e.inner());
        Error::Invalid(vec![FieldError::new(path, message)])
    })?;
    Ok(StateDoc {
        version: state.version,
        lab: state.lab.clone(),
        seed: state.seed,
        params,
        view: state.view.clone(),
        hidden: state.hidden.clone(),
    })
}

/// Starting a run validates (ranges, rules, budget), whatever the entry point (page, worker, embed API, CLI,
/// link).
fn start_lab<L: Lab>(state: &AnyState, store: &DataStore, limits: Limits) -> Result<L::Run> {
    let errs = validate_lab::<L>(state, limits);
    if !errs.is_empty() {
        return Err(Error::Invalid(errs));
    }
    L::start(typed::<L>(state)?, store)
}

fn estimate_lab<L: Lab>(state: &AnyState) -> Result<Cost> {
    Ok(L::cost(&typed::<L>(state)?.params))
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

/// Generates, from the list of labs, the lab-id dispatch and the [`Run`] enum.
macro_rules! registry {
    ($($variant:ident => $lab:ty),* $(,)?) => {
        /// The labs that work, in the order the landing page lists them.
        pub fn catalog() -> Vec<LabInfo> {
            vec![$(<$lab>::info()),*]
        }

        pub fn manifest(id: &str) -> Result<Manifest> {
            $(if id == <$lab>::ID {
                return Ok(Manifest {
                    info: <$lab>::info(),
                    cells: <$lab>::cells(),
                    schema: (*schema_of::<$lab>()).clone(),
                    checkpoints: <$lab>::CHECKPOINTS,
                });
            })*
            Err(unknown(id))
        }

        pub fn default_state(id: &str) -> Result<AnyState> {
            $(if id == <$lab>::ID {
                return Ok(<$lab>::default_state().to_any());
            })*
            Err(unknown(id))
        }

        /// JSON Schema of the lab's state document.
        pub fn schema(id: &str) -> Result<serde_json::Value> {
            $(if id == <$lab>::ID {
                return Ok((*schema_of::<$lab>()).clone());
            })*
            Err(unknown(id))
        }

        /// Every problem with a state: unknown lab, params that do not parse, values out of range, rules
        /// across fields.
        pub fn validate(state: &AnyState) -> Vec<FieldError> {
            validate_within(state, Limits::default())
        }

        /// [`validate`] with other limits (the CLI's `--max-hours` and `--max-gib`; the page keeps the defaults).
        pub fn validate_within(state: &AnyState, limits: Limits) -> Vec<FieldError> {
            $(if state.lab == <$lab>::ID {
                return validate_lab::<$lab>(state, limits);
            })*
            vec![FieldError::new("", unknown(&state.lab).to_string())]
        }

        /// `state` with its params as the lab reads them: every field present, with the defaults of fields
        /// that a link made before they existed lacks (the page builds its controls from the params it holds).
        /// A state whose params do not parse comes back as it is.
        pub fn normalise(state: AnyState) -> AnyState {
            $(if state.lab == <$lab>::ID {
                return match typed::<$lab>(&state) {
                    Ok(typed) => typed.to_any(),
                    Err(_) => state,
                };
            })*
            state
        }

        /// What must be loaded (shipped assets, the user's files) before `state` can start; None when nothing.
        pub fn needs(state: &AnyState) -> Option<Need> {
            $(if state.lab == <$lab>::ID {
                return <$lab>::needs(&typed::<$lab>(state).ok()?.params);
            })*
            None
        }

        /// The estimated cost of a run of `state` (see [`budget`]).
        pub fn estimate(state: &AnyState) -> Result<Cost> {
            $(if state.lab == <$lab>::ID {
                return estimate_lab::<$lab>(state);
            })*
            Err(unknown(&state.lab))
        }

        /// A lab run in progress.
        pub enum Run {
            $($variant(Box<<$lab as Lab>::Run>)),*
        }

        impl Run {
            /// Validates the state (its budget included, so no allocation exceeds it) and prepares step 0.
            /// Data comes from `store`; see [`needs`] for what must be in it.
            pub fn start(state: &AnyState, store: &DataStore) -> Result<Self> {
                Self::start_within(state, store, Limits::default())
            }

            /// [`Run::start`] with other limits (see [`validate_within`]).
            pub fn start_within(state: &AnyState, store: &DataStore, limits: Limits) -> Result<Self> {
                $(if state.lab == <$lab>::ID {
                    return Ok(Self::$variant(Box::new(start_lab::<$lab>(state, store, limits)?)));
                })*
                Err(unknown(&state.lab))
            }

            pub async fn advance(&mut self, engine: &mut Engine, chunk: &Chunk<'_>) -> Result<Frame> {
                match self { $(Self::$variant(r) => r.advance(engine, chunk).await),* }
            }

            /// The current frame, computing nothing.
            pub fn snapshot(&mut self) -> Frame {
                match self { $(Self::$variant(r) => r.frame()),* }
            }

            pub fn reset(&mut self) {
                match self { $(Self::$variant(r) => r.reset()),* }
            }

            pub fn done(&self) -> bool {
                match self { $(Self::$variant(r) => r.done()),* }
            }

            pub fn metrics(&self) -> Vec<Metric> {
                match self { $(Self::$variant(r) => r.metrics()),* }
            }

            /// The checkpoint file of this run of `state` (None when its lab saves none, or nothing is learnt).
            pub fn save(&mut self, state: &AnyState) -> Result<Option<Vec<u8>>> {
                let ck = match self { $(Self::$variant(r) => r.checkpoint()),* };
                ck.map(|ck| checkpoint::encode(state, &ck)).transpose()
            }

            /// Starts the run of a checkpoint ([`checkpoint::decode`]): its state, checked as any state (within
            /// `limits`), at its step.
            pub fn resume(state: &AnyState, ck: Checkpoint, store: &DataStore, limits: Limits) -> Result<Self> {
                let mut run = Self::start_within(state, store, limits)?;
                match &mut run { $(Self::$variant(r) => r.restore(ck)?),* }
                Ok(run)
            }
        }
    };
}

/// How fast `engine` runs `state`: steps per millisecond of `clock` over about `budget_ms`, after a first step
/// that is not counted (it compiles pipelines and uploads data); None when the run ends within that step. The
/// automatic engine choice compares the engines on the lab at hand with it (see web/mod.rs).
pub async fn throughput(
    state: &AnyState,
    store: &DataStore,
    engine: &mut Engine,
    budget_ms: f64,
    clock: &dyn Fn() -> f64,
) -> Result<Option<f64>> {
    let mut run = Run::start(state, store)?;
    let warm = run
        .advance(engine, &Chunk::new(1, f64::INFINITY, clock))
        .await?;
    if run.done() {
        return Ok(None);
    }
    let t0 = clock();
    let frame = run
        .advance(engine, &Chunk::new(0, budget_ms, clock))
        .await?;
    let ms = (clock() - t0).max(1e-3);
    Ok(Some((frame.step - warm.step) as f64 / ms))
}

registry! {
    Hebb2d => hebb2d::Hebb2d,
    Datasets => datasets::Datasets,
    Hopfield => hopfield::Hopfield,
    Ising => ising::IsingLab,
    HebbConv => hebbconv::HebbConv,
    Credit => credit::Credit,
    Boltzmann => boltzmann::BoltzmannLab,
    Rbm => rbm::RbmLab,
    Chl => chl::ChlLab,
    HebbRule => hebbrule::HebbRuleLab,
    Competitive => competitive::CompetitiveLab,
    Som => som::SomLab,
}
