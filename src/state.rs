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
/// 2: the Datasets lab's corruption lost its `bipolar` box (a flip now follows the data's own values).
/// 3: the Hopfield lab's probe letter is chosen by its name, not by its index.
pub const VERSION: u32 = 3;

/// Upper bound on a state document as compact JSON, the form a link carries: refused before inflating further
/// (a link is not a place for megabytes), and the same bound for state files and the embed API, so that every
/// state that runs also has a link.
pub const MAX_STATE_BYTES: usize = 64 * 1024;

/// Upper bound on the text handed to [`decode`] (a state file, pretty-printed, or a link), checked before
/// parsing: a 50 MB file would otherwise take gigabytes to parse before its first error.
pub const MAX_STATE_TEXT: usize = 1 << 20;

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

/// The fragment (without `#`) for a state: `s=<version>.<base64url(deflate(json))>.<check>`, where `check` is
/// the base64url CRC-32 of the compressed bytes, so that a damaged link is refused instead of opening with, say,
/// another seed. Refused when the state is larger than a link may hold.
pub fn encode_fragment(state: &AnyState) -> Result<String> {
    let json = serde_json::to_vec(state).map_err(|e| Error::Link(e.to_string()))?;
    check_size(json.len())?;
    let packed = miniz_oxide::deflate::compress_to_vec(&json, 9);
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    Ok(format!(
        "s={VERSION}.{}.{}",
        b64.encode(&packed),
        b64.encode(crc32fast::hash(&packed).to_be_bytes())
    ))
}

fn check_size(json_bytes: usize) -> Result<()> {
    if json_bytes > MAX_STATE_BYTES {
        return Err(Error::Link(format!(
            "the state holds {} KiB; a state (and so its link) holds at most 64 KiB",
            json_bytes.div_ceil(1024)
        )));
    }
    Ok(())
}

/// Reads a fragment (with or without `#`) or a plain JSON state document.
pub fn decode(text: &str) -> Result<AnyState> {
    if text.len() > MAX_STATE_TEXT {
        return Err(Error::Link(format!(
            "the state is {:.1} MB of text; a state is kilobytes (at most 1 MiB of text is read)",
            text.len() as f64 / 1e6
        )));
    }
    let text = text.trim();
    let text = text.strip_prefix('#').unwrap_or(text);
    let json: serde_json::Value = if text.starts_with('{') {
        serde_json::from_str(text)
            .map_err(|e| Error::Link(format!("the state document is not valid JSON: {e}")))?
    } else {
        let body = text.strip_prefix("s=").ok_or_else(|| {
            Error::Link("the link does not hold an experiment (expected '#s=…')".into())
        })?;
        let (version, rest) = body
            .split_once('.')
            .ok_or_else(|| Error::Link("the link is damaged: no version before the data".into()))?;
        match version.parse::<u32>() {
            Ok(v) if (1..=VERSION).contains(&v) => {}
            Ok(v) if v > VERSION => {
                return Err(Error::Link(format!(
                    "this link was made by a newer release (link version {v}; this page reads up to {VERSION})"
                )));
            }
            _ => {
                return Err(Error::Link(format!(
                    "the link is damaged: '{}' is not a link version",
                    version.chars().take(12).collect::<String>()
                )));
            }
        }
        // Links made before the checksum have none; they open as before.
        let (payload, check) = rest
            .split_once('.')
            .map_or((rest, None), |(p, c)| (p, Some(c)));
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let packed = b64.decode(payload.trim_end_matches('=')).map_err(|_| {
            Error::Link("the link is damaged: its data is not valid base64url".into())
        })?;
        if let Some(check) = check
            && b64.decode(check).ok().as_deref()
                != Some(&crc32fast::hash(&packed).to_be_bytes()[..])
        {
            return Err(Error::Link(
                "the link is damaged: its checksum does not match its data (was it cut or retyped?)".into(),
            ));
        }
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
    let state: AnyState = serde_path_to_error::deserialize(json).map_err(|e| {
        Error::Link(format!(
            "the state document is malformed: {}",
            field_message(&e.path().to_string(), e.inner())
        ))
    })?;
    check_size(serde_json::to_vec(&state).map_or(usize::MAX, |j| j.len()))?;
    Ok(state)
}

/// "`path`: what was expected, what came", in plain words instead of serde's Rust type names
/// (`params.steps: expected a whole number, got the string "2000"`).
pub fn field_message(path: &str, e: &serde_json::Error) -> String {
    let text = e.to_string();
    // serde_json appends " at line L column C"; the path says where, and values have no lines.
    let text = text.split(" at line ").next().unwrap_or(&text);
    let plain = match text
        .strip_prefix("invalid type: ")
        .or_else(|| text.strip_prefix("invalid value: "))
        .and_then(|t| t.split_once(", expected "))
    {
        Some((got, expected)) => format!(
            "expected {}, got {}",
            plain_type(expected),
            plain_value(got)
        ),
        None => text.to_string(),
    };
    if path.is_empty() || path == "." {
        plain
    } else {
        format!("{path}: {plain}")
    }
}

fn plain_type(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number ≥ 0".into(),
        "i8" | "i16" | "i32" | "i64" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" | "bool" => "true or false".into(),
        "a sequence" => "a list".into(),
        e if e.starts_with("struct ") || e == "a map" => "an object".into(),
        e => e.to_string(),
    }
}

fn plain_value(got: &str) -> String {
    let unquoted = |v: &str| v.trim_matches('`').chars().take(40).collect::<String>();
    if let Some(v) = got.strip_prefix("string ") {
        format!("the string {}", v.chars().take(40).collect::<String>())
    } else if let Some(v) = got
        .strip_prefix("integer ")
        .or_else(|| got.strip_prefix("floating point "))
    {
        format!("the number {}", unquoted(v))
    } else if let Some(v) = got.strip_prefix("boolean ") {
        unquoted(v)
    } else {
        match got {
            "sequence" => "a list".into(),
            "map" => "an object".into(),
            "unit value" | "null" => "nothing (null)".into(),
            other => other.chars().take(40).collect(),
        }
    }
}

/// Version 1 → 2: the Datasets lab's `corruption.bipolar` said whether a flip negates or computes 1 − v; a
/// flip now stays inside the alphabet the data has (0/1 or ±1), so the box is dropped. Where it disagreed with
/// the data it wrote values outside the alphabet (2s on ±1 letters), so nothing a student meant is lost.
fn from_1(doc: &mut serde_json::Value) {
    if doc.get("lab").and_then(serde_json::Value::as_str) == Some("datasets")
        && let Some(c) = doc
            .pointer_mut("/params/corruption")
            .and_then(serde_json::Value::as_object_mut)
    {
        c.remove("bipolar");
    }
}

/// Version 2 → 3: the Hopfield lab's `worked.probe` was the index of the damaged letter among
/// `worked.letters`; it is now that letter's name. An index with no letter (a document that was refused
/// before) becomes its digits as a name, and is refused as before, naming the field.
fn from_2(doc: &mut serde_json::Value) {
    if doc.get("lab").and_then(serde_json::Value::as_str) != Some("hopfield") {
        return;
    }
    let Some(worked) = doc
        .pointer_mut("/params/worked")
        .and_then(serde_json::Value::as_object_mut)
    else {
        return;
    };
    let Some(index) = worked.get("probe").and_then(serde_json::Value::as_u64) else {
        return;
    };
    let name = usize::try_from(index)
        .ok()
        .and_then(|i| {
            worked
                .get("letters")?
                .as_array()?
                .get(i)?
                .get("name")?
                .as_str()
        })
        .map_or_else(|| index.to_string(), str::to_string);
    worked.insert("probe".into(), name.into());
}

/// Brings an older state document to `VERSION`.
pub fn migrate(mut doc: serde_json::Value) -> Result<serde_json::Value> {
    let version = doc
        .get("version")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| Error::Link("the state document has no version number".into()))?;
    match version {
        v if v > u64::from(VERSION) => {
            return Err(Error::Link(format!(
                "this link was made by a newer release (state version {v}; this page reads up to {VERSION})"
            )));
        }
        0 => return Err(Error::Link("unknown state version 0".into())),
        _ => {}
    }
    // One step per version, run in turn from the document's version up to `VERSION`.
    if version < 2 {
        from_1(&mut doc);
    }
    if version < 3 {
        from_2(&mut doc);
    }
    if let Some(obj) = doc.as_object_mut() {
        obj.insert("version".into(), VERSION.into());
    }
    Ok(doc)
}
