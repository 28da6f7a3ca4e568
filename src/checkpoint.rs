//! Checkpoints: what a run has learnt, saved to a file and loaded back, so that a long training phase survives
//! a closed tab or an interrupted CLI run. The file is a safetensors file (a header of tensor names, shapes and
//! offsets, then little-endian f32 data; PyTorch and NumPy read it with `safetensors.{torch,numpy}.load_file`).
//! Its metadata holds the experiment's state document (the JSON of its permalink), the step the run resumes
//! at, and what the lab keeps besides tensors (plot histories), so a checkpoint alone reproduces the run.
use crate::error::{Error, Result};
use crate::state::{self, AnyState};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};

/// Written into every checkpoint's metadata; a file without it is not ours.
const FORMAT: &str = "hebbian-playground checkpoint";
/// Bumped when the layout of the metadata changes; older files are then migrated or refused by name.
const FORMAT_VERSION: u32 = 1;
/// The largest file read: the largest run a lab's budget admits holds less (see `labs::budget`).
pub const MAX_BYTES: usize = 1 << 30;

/// One named tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Tensor {
    pub fn new(name: impl Into<String>, shape: &[usize], data: Vec<f32>) -> Self {
        Self {
            name: name.into(),
            shape: shape.to_vec(),
            data,
        }
    }
}

/// What a lab saves of a run: the step it resumes at, its tensors and its other memory (JSON).
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    pub step: u64,
    pub tensors: Vec<Tensor>,
    pub extra: serde_json::Value,
}

impl Checkpoint {
    /// The tensor named `name`, with exactly `shape`; the error names both shapes.
    pub fn take(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let i = self
            .tensors
            .iter()
            .position(|t| t.name == name)
            .ok_or_else(|| mismatch(format!("it has no tensor {name}")))?;
        let t = self.tensors.swap_remove(i);
        if t.shape != shape {
            return Err(mismatch(format!(
                "{name} is {:?} in the file, {shape:?} in this experiment",
                t.shape
            )));
        }
        Ok(t.data)
    }

    /// Every tensor was taken: a file with more than the run holds is not this run's.
    pub fn finish(&self) -> Result<()> {
        match self.tensors.first() {
            None => Ok(()),
            Some(t) => Err(mismatch(format!(
                "it holds {}, which this experiment does not have",
                t.name
            ))),
        }
    }
}

/// A checkpoint that does not fit the experiment it claims to be.
pub fn mismatch(why: String) -> Error {
    Error::Data(format!(
        "the checkpoint does not match its experiment: {why}"
    ))
}

/// The file's bytes: the tensors, with `state` and the checkpoint's step and extra memory as metadata.
pub fn encode(state: &AnyState, ck: &Checkpoint) -> Result<Vec<u8>> {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = ck
        .tensors
        .iter()
        .map(|t| {
            let b = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
            (t.name.clone(), t.shape.clone(), b)
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(name, shape, b)| {
            TensorView::new(Dtype::F32, shape.clone(), b)
                .map(|v| (name.as_str(), v))
                .map_err(|e| Error::Data(format!("tensor {name}: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let metadata = [
        ("format".to_string(), FORMAT.to_string()),
        ("format_version".into(), FORMAT_VERSION.to_string()),
        ("state".into(), to_json(state)?),
        ("step".into(), ck.step.to_string()),
        ("extra".into(), to_json(&ck.extra)?),
    ];
    safetensors::serialize(views, Some(metadata.into_iter().collect()))
        .map_err(|e| Error::Data(format!("the checkpoint could not be written: {e}")))
}

fn to_json(v: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(v)
        .map_err(|e| Error::Data(format!("the checkpoint could not be written: {e}")))
}

/// What a checkpoint file says it is, from its header alone (cheap: the tensors are not read): the state it
/// was saved from (checked as a link is), its step, and the lab's extra memory.
pub fn header(bytes: &[u8]) -> Result<(AnyState, u64, serde_json::Value)> {
    if bytes.len() > MAX_BYTES {
        return Err(Error::Data(format!(
            "the file is {:.0} MB; a checkpoint holds at most {} MB",
            bytes.len() as f64 / 1e6,
            MAX_BYTES / 1_000_000
        )));
    }
    let (_, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| not_ours(format!("not a safetensors file: {e}")))?;
    let meta = header
        .metadata()
        .as_ref()
        .ok_or_else(|| not_ours("a safetensors file without our metadata".into()))?;
    if meta.get("format").map(String::as_str) != Some(FORMAT) {
        return Err(not_ours(
            "a safetensors file saved by other software".into(),
        ));
    }
    let version: u32 = meta
        .get("format_version")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| not_ours("no format version".into()))?;
    if version > FORMAT_VERSION {
        return Err(Error::Data(format!(
            "this checkpoint was saved by a newer release (format {version}; this page reads up to {FORMAT_VERSION})"
        )));
    }
    let field = |key: &str| {
        meta.get(key)
            .ok_or_else(|| not_ours(format!("its metadata has no {key}")))
    };
    let state = state::decode(field("state")?)?;
    let step = field("step")?
        .parse()
        .map_err(|_| not_ours("its step is not a whole number".into()))?;
    let extra = serde_json::from_str(field("extra")?)
        .map_err(|e| not_ours(format!("its extra metadata is not JSON: {e}")))?;
    Ok((state, step, extra))
}

fn not_ours(why: String) -> Error {
    Error::Data(format!(
        "this file is not a Hebbian Playground checkpoint ({why})"
    ))
}

/// Reads a checkpoint file: the state it was saved from and what the run had learnt.
pub fn decode(bytes: &[u8]) -> Result<(AnyState, Checkpoint)> {
    let (state, step, extra) = header(bytes)?;
    let tensors = SafeTensors::deserialize(bytes)
        .map_err(|e| not_ours(e.to_string()))?
        .tensors()
        .into_iter()
        .map(|(name, v)| {
            if v.dtype() != Dtype::F32 {
                return Err(mismatch(format!(
                    "{name} holds {} values; checkpoints hold F32",
                    v.dtype()
                )));
            }
            let data = v
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            Ok(Tensor {
                name,
                shape: v.shape().to_vec(),
                data,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((
        state,
        Checkpoint {
            step,
            tensors,
            extra,
        },
    ))
}
