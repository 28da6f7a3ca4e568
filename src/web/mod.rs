//! The browser edge: wasm-bindgen exports for the page's main thread (labs, manifests, links, validation)
//! and for the engine worker (`WorkerEngine`). Everything else in the crate is target-independent.
use crate::checkpoint;
use crate::data::loader::{Kind, Loader};
use crate::data::photos::{self, Photo};
use crate::data::shipped;
use crate::data::store::{DataStore, Need};
use crate::engine::{BackendChoice, Engine, Measured};
use crate::error::Error;
use crate::labs::budget::Chunk;
use crate::labs::{self, Run};
use crate::state::{self, AnyState};
use serde::Serialize;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// Panics (bugs) reach the console with a stack instead of "unreachable executed".
#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsError::new(&format!("cannot pass results to the page: {e}")))
}

fn js_err(e: Error) -> JsError {
    JsError::new(&e.to_string())
}

fn from_js(state: JsValue) -> Result<AnyState, JsError> {
    serde_wasm_bindgen::from_value(state)
        .map_err(|e| JsError::new(&format!("not a state document: {e}")))
}

/// The labs that work: `[{id, title, summary, source}]`.
#[wasm_bindgen]
pub fn labs() -> Result<JsValue, JsError> {
    to_js(&labs::catalog())
}

/// A lab's cells and state schema.
#[wasm_bindgen]
pub fn manifest(lab: &str) -> Result<JsValue, JsError> {
    to_js(&labs::manifest(lab).map_err(js_err)?)
}

#[wasm_bindgen]
pub fn default_state(lab: &str) -> Result<JsValue, JsError> {
    to_js(&labs::default_state(lab).map_err(js_err)?)
}

/// What a link holds: `{state, errors}` for a URL fragment or a plain JSON state document, `errors`
/// (`[{path, message}]`) empty when the state can run; throws an Error whose message says what is wrong with an
/// unreadable link (an unknown state version included).
///
/// It validates here, on the decoded JSON, and not later on the JS object: turned into a JS object, a
/// `"__proto__"` key sets the object's prototype instead of becoming a field, so `validate` would never see
/// that unknown field, which the CLI refuses.
#[wasm_bindgen]
pub fn decode_link(text: &str) -> Result<JsValue, JsError> {
    #[derive(Serialize)]
    struct Decoded {
        errors: Vec<crate::error::FieldError>,
        state: AnyState,
    }
    let state = labs::normalise(state::decode(text).map_err(js_err)?);
    to_js(&Decoded {
        errors: labs::validate(&state),
        state,
    })
}

/// The URL fragment (without `#`) of a state.
#[wasm_bindgen]
pub fn encode_link(state: JsValue) -> Result<String, JsError> {
    state::encode_fragment(&from_js(state)?).map_err(js_err)
}

/// The estimated cost of a run of `state`: `{parts, seconds, browser_seconds, bytes}` (the page asks before
/// starting a run estimated over `ask_seconds()` in the browser).
#[wasm_bindgen]
pub fn estimate(state: JsValue) -> Result<JsValue, JsError> {
    to_js(&labs::estimate(&from_js(state)?).map_err(js_err)?)
}

/// Browser seconds beyond which the page asks before starting a run.
#[wasm_bindgen]
pub fn ask_seconds() -> f64 {
    crate::labs::budget::ASK_SECONDS
}

/// `[{path, message}]`, empty when the state can run.
#[wasm_bindgen]
pub fn validate(state: JsValue) -> Result<JsValue, JsError> {
    to_js(&labs::validate(&from_js(state)?))
}

/// What a checkpoint file holds, from its header: `{state, step}` (the state as a link's, normalised), or
/// throws with what is wrong with the file.
#[wasm_bindgen]
pub fn checkpoint_header(bytes: &[u8]) -> Result<JsValue, JsError> {
    let (state, step, _) = checkpoint::header(bytes).map_err(js_err)?;
    to_js(&serde_json::json!({ "state": labs::normalise(state), "step": step }))
}

struct Inner {
    engine: Engine,
    /// The state of `run`.
    state: Option<AnyState>,
    /// Why the GPU runs the lab, once `auto` has measured it against the CPU (the engine's own reason otherwise).
    gpu_note: Option<String>,
    run: Option<Run>,
    store: DataStore,
    /// The files being streamed in, and what they are for.
    loading: Option<(Need, Loader)>,
}

/// The engine and the current run, owned by the worker.
#[wasm_bindgen]
pub struct WorkerEngine {
    inner: Rc<RefCell<Inner>>,
}

#[wasm_bindgen]
impl WorkerEngine {
    /// `choice`: "auto", "cpu" or "gpu" ("gpu" falls back to the CPU with the reason when it must). With
    /// `measure_software`, `auto` keeps even a software WebGPU so that [`Self::measure`] can compare it with the
    /// CPU instead of leaving it by rule (`?calibrate=1`).
    pub async fn create(choice: String, measure_software: bool) -> Result<WorkerEngine, JsError> {
        let choice: BackendChoice = choice.parse().map_err(js_err)?;
        let engine = match choice {
            BackendChoice::Auto if measure_software => {
                match Engine::new(BackendChoice::Gpu).await {
                    Ok(engine) => Ok(engine),
                    Err(_) => Engine::new(choice).await,
                }
            }
            _ => Engine::new(choice).await,
        };
        let engine = engine.unwrap_or_else(|e| Engine::cpu(format!("{e}: running on CPU")));
        Ok(WorkerEngine {
            inner: Rc::new(RefCell::new(Inner {
                engine,
                gpu_note: None,
                state: None,
                run: None,
                store: DataStore::default(),
                loading: None,
            })),
        })
    }

    /// `{kind, reason, adapter}`.
    pub fn info(&self) -> Result<JsValue, JsError> {
        let inner = self
            .inner
            .try_borrow()
            .map_err(|_| JsError::new("the engine is busy"))?;
        let mut info = inner.engine.info();
        if let (Some(note), "gpu") = (&inner.gpu_note, info.kind) {
            info.reason = note.clone();
        }
        to_js(&info)
    }

    /// `auto` on a GPU: runs `state` for about `budget_ms` on each engine and keeps the faster. Resolves to
    /// `{cpu, gpu}` (steps per millisecond) for the page to remember, or null when there is nothing to compare
    /// (not on a GPU, or the run ends too soon to tell).
    #[allow(clippy::await_holding_refcell_ref)] // as in `advance`: worker.js never overlaps calls
    pub fn measure(&self, state: JsValue, budget_ms: f64) -> js_sys::Promise {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let state = from_js(state)?;
            let mut guard = inner
                .try_borrow_mut()
                .map_err(|_| JsError::new("the engine is busy"))?;
            let Inner { engine, store, .. } = &mut *guard;
            if engine.gpu().is_none() {
                return Ok(JsValue::NULL);
            }
            let clock = js_sys::Date::now;
            let gpu = labs::throughput(&state, store, engine, budget_ms, &clock).await;
            let cpu =
                labs::throughput(&state, store, &mut Engine::cpu(""), budget_ms, &clock).await;
            let (Ok(Some(gpu)), Ok(Some(cpu))) = (gpu, cpu) else {
                return Ok(JsValue::NULL);
            };
            let measured = Measured { cpu, gpu };
            drop(guard);
            Self::apply(&inner, measured, false);
            Ok(to_js(&serde_json::json!({ "cpu": cpu, "gpu": gpu }))?)
        })
    }

    /// Applies figures measured on an earlier visit (remembered by the page for this lab and adapter).
    pub fn prefer(&self, cpu: f64, gpu: f64) {
        Self::apply(&self.inner, Measured { cpu, gpu }, true);
    }

    fn apply(inner: &Rc<RefCell<Inner>>, measured: Measured, earlier: bool) {
        let Ok(mut inner) = inner.try_borrow_mut() else {
            return;
        };
        let Some(adapter) = inner.engine.gpu().map(|g| g.device_name()) else {
            return;
        };
        let reason = measured.reason(&adapter, earlier);
        if measured.cpu_is_faster() {
            inner.engine.prefer_cpu(reason);
        } else {
            inner.gpu_note = Some(reason);
        }
    }

    /// Prepares a run of `state` at step 0 (throws with the reasons when the state cannot run).
    pub fn start(&self, state: JsValue) -> Result<(), JsError> {
        let state = from_js(state)?;
        let mut inner = self
            .inner
            .try_borrow_mut()
            .map_err(|_| JsError::new("the engine is busy"))?;
        inner.run = None;
        // `Run::start` validates (ranges, rules, budget) before it allocates anything.
        let run = Run::start(&state, &inner.store).map_err(js_err)?;
        inner.run = Some(run);
        inner.state = Some(state);
        Ok(())
    }

    /// Prepares the run a checkpoint file holds, at its step; `state` is the page's copy of the file's state
    /// (from `checkpoint_header`) and must be the file's.
    pub fn resume(&self, state: JsValue, bytes: &[u8]) -> Result<(), JsError> {
        let state = labs::normalise(from_js(state)?);
        let mut inner = self
            .inner
            .try_borrow_mut()
            .map_err(|_| JsError::new("the engine is busy"))?;
        inner.run = None;
        let (saved, ck) = checkpoint::decode(bytes).map_err(js_err)?;
        if labs::normalise(saved) != state {
            return Err(JsError::new(
                "the checkpoint changed since it was read: load it again",
            ));
        }
        let run = Run::resume(&state, ck, &inner.store, Default::default()).map_err(js_err)?;
        inner.run = Some(run);
        inner.state = Some(state);
        Ok(())
    }

    /// The checkpoint file of the current run, or undefined when its lab saves none or it has learnt nothing
    /// yet.
    pub fn save(&self) -> Result<Option<Vec<u8>>, JsError> {
        let mut guard = self
            .inner
            .try_borrow_mut()
            .map_err(|_| JsError::new("the engine is busy"))?;
        let Inner { run, state, .. } = &mut *guard;
        match (run, state) {
            (Some(run), Some(state)) => run.save(state).map_err(js_err),
            _ => Ok(None),
        }
    }

    /// What `state` needs that is not loaded yet: null, `{kind:"mnist"}`, `{kind:"photos"}` or
    /// `{kind:"user", format:"mnist_idx"|"cifar10"}`.
    pub fn missing(&self, state: JsValue) -> Result<JsValue, JsError> {
        let state = from_js(state)?;
        let inner = self.borrow()?;
        let need = labs::needs(&state).filter(|n| !inner.store.has(*n));
        to_js(&need)
    }

    /// Starts streaming files for `need` (as returned by `missing`; photos go through `add_photo`).
    pub fn load_begin(&self, need: JsValue) -> Result<(), JsError> {
        let need: Need = serde_wasm_bindgen::from_value(need)
            .map_err(|e| JsError::new(&format!("not a data request: {e}")))?;
        let kind = match need {
            Need::Mnist => Kind::MnistIdx,
            Need::User { format } => format,
            Need::Photos => {
                return Err(JsError::new(
                    "photographs are added one by one with add_photo",
                ));
            }
        };
        self.borrow_mut()?.loading = Some((need, Loader::new(kind)));
        Ok(())
    }

    /// Begins the next file of the load (`size` in bytes when known, for the progress bar).
    pub fn load_file(&self, name: &str, size: Option<f64>) -> Result<(), JsError> {
        let mut inner = self.borrow_mut()?;
        let loader = Self::loader(&mut inner)?;
        let r = loader.begin_file(name, size.map(|s| s as u64));
        Self::abort_on_error(&mut inner, r)
    }

    /// Feeds the next chunk of the current file; returns the progress `{bytes, total, file}`.
    pub fn load_push(&self, chunk: &[u8]) -> Result<JsValue, JsError> {
        let mut inner = self.borrow_mut()?;
        let loader = Self::loader(&mut inner)?;
        let r = loader.push(chunk).map(|()| loader.progress());
        let progress = Self::abort_on_error(&mut inner, r)?;
        to_js(&progress)
    }

    pub fn load_end_file(&self) -> Result<(), JsError> {
        let mut inner = self.borrow_mut()?;
        let r = Self::loader(&mut inner)?.end_file();
        Self::abort_on_error(&mut inner, r)
    }

    /// Checks and keeps the loaded dataset; returns its summary line.
    pub fn load_finish(&self) -> Result<String, JsError> {
        let mut inner = self.borrow_mut()?;
        let (need, loader) = inner
            .loading
            .take()
            .ok_or_else(|| JsError::new("no load in progress"))?;
        let d = loader.finish().map_err(js_err)?;
        // load_begin takes only MNIST and the user's formats.
        let line = d.summary().to_string();
        if let Need::User { format } = need {
            inner.store.set_user(format, d);
            return Ok(line);
        }
        let d = shipped::relabel_mnist(d).map_err(js_err)?;
        let line = d.summary().to_string();
        inner.store.set_mnist(d);
        Ok(line)
    }

    /// Drops a load in progress (the user cancelled, or a file failed to read).
    pub fn load_cancel(&self) -> Result<(), JsError> {
        self.borrow_mut()?.loading = None;
        Ok(())
    }

    /// Decodes one shipped photograph (file name as in photos.tsv).
    pub fn add_photo(&self, file: &str, bytes: &[u8]) -> Result<(), JsError> {
        let title = photos::shipped()
            .into_iter()
            .find(|(f, _, _)| *f == file)
            .map_or(file, |(_, t, _)| t);
        let photo = Photo::from_png(file, title, bytes).map_err(js_err)?;
        self.borrow_mut()?.store.add_photo(photo);
        Ok(())
    }

    /// The shipped photographs' file names, for the worker to fetch.
    pub fn photo_files(&self) -> Vec<String> {
        photos::shipped()
            .into_iter()
            .map(|(f, _, _)| f.to_string())
            .collect()
    }

    /// Forgets the user's dataset of `format` ("mnist_idx" or "cifar10"); false when none was loaded.
    pub fn forget(&self, format: &str) -> Result<bool, JsError> {
        let kind: Kind = format.parse().map_err(js_err)?;
        Ok(self.borrow_mut()?.store.forget(kind))
    }

    /// `[[format, summary], …]` of the user's loaded datasets.
    pub fn user_datasets(&self) -> Result<JsValue, JsError> {
        to_js(&self.borrow()?.store.user_summaries())
    }

    fn borrow(&self) -> Result<std::cell::Ref<'_, Inner>, JsError> {
        self.inner
            .try_borrow()
            .map_err(|_| JsError::new("the engine is busy"))
    }

    fn borrow_mut(&self) -> Result<std::cell::RefMut<'_, Inner>, JsError> {
        self.inner
            .try_borrow_mut()
            .map_err(|_| JsError::new("the engine is busy"))
    }

    fn loader(inner: &mut Inner) -> Result<&mut Loader, JsError> {
        inner
            .loading
            .as_mut()
            .map(|(_, l)| l)
            .ok_or_else(|| JsError::new("no load in progress"))
    }

    /// A failed file ends the load: nothing half-read is kept.
    fn abort_on_error<T>(inner: &mut Inner, r: crate::error::Result<T>) -> Result<T, JsError> {
        r.map_err(|e| {
            inner.loading = None;
            js_err(e)
        })
    }

    /// Up to `max_steps` more updates (0: to the end), handing back control once `budget_ms` have passed;
    /// resolves to a frame.
    // The borrow spans the GPU readback on purpose: worker.js never overlaps calls, and if one did, the
    // `try_borrow_mut` above turns it into a "busy" error instead of a panic.
    #[allow(clippy::await_holding_refcell_ref)]
    pub fn advance(&self, max_steps: u32, budget_ms: f64) -> js_sys::Promise {
        let inner = self.inner.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let mut guard = inner
                .try_borrow_mut()
                .map_err(|_| JsError::new("the engine is busy"))?;
            let Inner { engine, run, .. } = &mut *guard;
            let run = run
                .as_mut()
                .ok_or_else(|| JsError::new("nothing to run: start a state first"))?;
            let clock = js_sys::Date::now;
            let chunk = Chunk::new(max_steps, budget_ms, &clock);
            let frame = run.advance(engine, &chunk).await.map_err(js_err)?;
            Ok(to_js(&frame)?)
        })
    }

    /// The current frame without computing.
    pub fn snapshot(&self) -> Result<JsValue, JsError> {
        let mut inner = self
            .inner
            .try_borrow_mut()
            .map_err(|_| JsError::new("the engine is busy"))?;
        let run = inner
            .run
            .as_mut()
            .ok_or_else(|| JsError::new("nothing to show: start a state first"))?;
        to_js(&run.snapshot())
    }

    /// Back to step 0 of the current run.
    pub fn reset(&self) -> Result<(), JsError> {
        let mut inner = self
            .inner
            .try_borrow_mut()
            .map_err(|_| JsError::new("the engine is busy"))?;
        if let Some(run) = inner.run.as_mut() {
            run.reset();
        }
        Ok(())
    }

    /// Destroys the GPU device as a driver reset would (for tests of the CPU fallback); false on the CPU.
    pub fn lose_device(&self) -> Result<bool, JsError> {
        let inner = self
            .inner
            .try_borrow()
            .map_err(|_| JsError::new("the engine is busy"))?;
        Ok(match inner.engine.gpu() {
            Some(gpu) => {
                gpu.simulate_loss();
                true
            }
            None => false,
        })
    }
}
