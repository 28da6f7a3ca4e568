//! The experiment state document and its permalink form.
//!
//! A state is `{version, lab, seed, params, view, hidden}`. The URL fragment carries it as
//! `s=<version>.<base64url(deflate(json))>`. Decoding never trusts the link: every failure becomes a readable
//! message, and old versions are migrated so that links stay valid across releases.
use crate::error::{Error, Result};
use base64::Engine as _;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The current state-document version. Bump it with a step in `migrate` when the document changes shape.
pub const VERSION: u32 = 1;

/// Upper bound on a decoded state, refused before inflating further (a link is not a place for megabytes).
const MAX_STATE_BYTES: usize = 64 * 1024;

/// One experiment: which lab, its seed, its parameters and how it is shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
pub struct StateDoc<P> {
    /// State-document version (links made by older releases are migrated).
    pub version: u32,
    /// Lab id.
    pub lab: String,
    /// Seed of every random draw of the experiment.
    pub seed: u32,
    /// The lab's parameters.
    pub params: P,
    /// How results are shown; never changes the numbers.
    pub view: View,
    /// Parameter names hidden from students (classroom links).
    #[serde(default)]
    pub hidden: Vec<String>,
}

/// A state whose params are not yet checked against the lab's schema.
pub type AnyState = StateDoc<serde_json::Value>;

/// View options common to every lab.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[cfg_attr(not(target_arch = "wasm32"), derive(ts_rs::TS))]
pub struct View {
    /// Updates computed between two redraws, rounded up to a whole number of recording intervals; 0 runs to
    /// the end without animation.
    #[schemars(title = "speed", range(min = 0, max = 100000), extend("x-unit" = "updates/frame"))]
    pub speed: u32,
    /// Overlay theory: principal eigenvectors, predicted growth and fixed points.
    #[schemars(title = "show theory")]
    pub theory: bool,
}

impl Default for View {
    fn default() -> Self {
        Self {
            speed: 20,
            theory: true,
        }
    }
}

impl<P: Serialize> StateDoc<P> {
    pub fn to_any(&self) -> AnyState {
        AnyState {
            version: self.version,
            lab: self.lab.clone(),
            seed: self.seed,
            params: serde_json::to_value(&self.params).unwrap_or(serde_json::Value::Null),
            view: self.view.clone(),
            hidden: self.hidden.clone(),
        }
    }
}

/// The fragment (without `#`) for a state.
pub fn encode_fragment(state: &AnyState) -> String {
    let json = serde_json::to_vec(state).unwrap_or_default();
    let packed = miniz_oxide::deflate::compress_to_vec(&json, 9);
    format!(
        "s={VERSION}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(packed)
    )
}

/// Reads a fragment (with or without `#`) or a plain JSON state document.
pub fn decode(text: &str) -> Result<AnyState> {
    let text = text.trim();
    let text = text.strip_prefix('#').unwrap_or(text);
    let json: serde_json::Value = if text.starts_with('{') {
        serde_json::from_str(text)
            .map_err(|e| Error::Link(format!("the state document is not valid JSON: {e}")))?
    } else {
        let body = text.strip_prefix("s=").ok_or_else(|| {
            Error::Link("the link does not hold an experiment (expected '#s=…')".into())
        })?;
        let (_, payload) = body
            .split_once('.')
            .ok_or_else(|| Error::Link("the link is damaged: no version before the data".into()))?;
        let packed = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .map_err(|_| {
                Error::Link("the link is damaged: its data is not valid base64url".into())
            })?;
        let bytes = miniz_oxide::inflate::decompress_to_vec_with_limit(&packed, MAX_STATE_BYTES)
            .map_err(|e| {
                Error::Link(match e.status {
                    miniz_oxide::inflate::TINFLStatus::HasMoreOutput => {
                        "the link holds more than 64 KiB of state".into()
                    }
                    _ => "the link is truncated or damaged: its compressed data does not decode"
                        .to_string(),
                })
            })?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::Link(format!("the link's data is not a state document: {e}")))?
    };
    let json = migrate(json)?;
    serde_json::from_value(json)
        .map_err(|e| Error::Link(format!("the link's state document is malformed: {e}")))
}

/// Brings an older state document to `VERSION`.
pub fn migrate(mut doc: serde_json::Value) -> Result<serde_json::Value> {
    let version = doc
        .get("version")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| Error::Link("the state document has no version number".into()))?;
    match version {
        // Version 1 is the first published shape; future steps go here as `1 => { …; version = 2 }`.
        1 => {}
        v if v > u64::from(VERSION) => {
            return Err(Error::Link(format!(
                "this link was made by a newer release (state version {v}; this page reads up to {VERSION})"
            )));
        }
        v => return Err(Error::Link(format!("unknown state version {v}"))),
    }
    if let Some(obj) = doc.as_object_mut() {
        obj.insert("version".into(), VERSION.into());
    }
    Ok(doc)
}
