//! CIFAR-10's binary version: batch files of records, each one label byte then a 32×32 colour image as three
//! 1024-byte planes (red, green, blue), i.e. channel-major C×H×W, the order [`Dataset`] keeps.
//!
//! The files are `data_batch_1.bin` … `data_batch_5.bin` (training), `test_batch.bin` and `batches.meta.txt`
//! (the class names), loose (plain or gzipped) or inside the official `cifar-10-binary.tar.gz`. Which batch a
//! file is comes from its name; records are split into labels and pixels as they stream past, so the dataset
//! is built without a second copy of the records.
use super::loader::{Collect, Name, Part, reserve_within};
use super::{Dataset, MAX_DATASET_BYTES, Shape, Split, Values, check_size};
use crate::error::{Error, Result};

/// Bytes of one image: 3 planes of 32×32.
pub const PIXELS: usize = 3 * 32 * 32;
/// Bytes of one record: the label, then the image.
pub const RECORD: usize = 1 + PIXELS;
/// The class names when no `batches.meta.txt` is given, in label order.
pub const CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// The batch files in dataset order: five training batches, then the test batch.
const BATCHES: [&str; 6] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
    "test_batch.bin",
];
const TEST: usize = 5;
const META: &str = "batches.meta.txt";
/// The official `batches.meta.txt` is 61 bytes; a bigger one is not a list of ten class names.
const MAX_META: usize = 4096;
/// How many skipped archive members an error lists, and in how many characters at most (beyond the first,
/// which is listed whatever its length): the message must fit the page's box.
const LISTED: usize = 5;
const LISTED_CHARS: usize = 160;

/// One batch file's labels and pixels.
struct Batch {
    file: String,
    labels: Vec<u8>,
    pixels: Vec<u8>,
}

/// Reads one batch file as its bytes arrive, checking each label as its record starts.
pub(super) struct Reader {
    file: String,
    /// Bytes consumed so far.
    offset: u64,
    /// Bytes held by the dataset's other files, which count towards the size limit.
    held: u64,
    labels: Vec<u8>,
    pixels: Vec<u8>,
}

impl Reader {
    fn new(file: &str, size: Option<u64>, held: u64) -> Result<Self> {
        let mut reader = Self {
            file: file.to_owned(),
            offset: 0,
            held,
            labels: Vec::new(),
            pixels: Vec::new(),
        };
        if let Some(size) = size {
            if !size.is_multiple_of(RECORD as u64) {
                return Err(reader.cut_off(size));
            }
            let records = size / RECORD as u64;
            check_size(file, held.saturating_add(size))?;
            // Below the size limit, so these fit in usize on every target.
            reader.labels.reserve_exact(records as usize);
            reader.pixels.reserve_exact((size - records) as usize);
        }
        Ok(reader)
    }

    fn push(&mut self, mut bytes: &[u8]) -> Result<()> {
        while let Some(&first) = bytes.first() {
            let at = (self.offset % RECORD as u64) as usize;
            let n = if at == 0 {
                let record = self.offset / RECORD as u64;
                if usize::from(first) >= CLASSES.len() {
                    return Err(Error::Data(format!(
                        "{}: record {record} has label {first}; CIFAR-10 labels are 0–9",
                        self.file
                    )));
                }
                let held = self.held + self.labels.len() as u64 + self.pixels.len() as u64;
                check_size(&self.file, held + RECORD as u64)?;
                // The most the pixels may take: what they hold plus what the limit leaves.
                let limit = (self.pixels.len() as u64 + MAX_DATASET_BYTES.saturating_sub(held))
                    .try_into()
                    .unwrap_or(usize::MAX);
                reserve_within(&mut self.pixels, PIXELS, limit);
                self.labels.push(first);
                1
            } else {
                let n = (RECORD - at).min(bytes.len());
                self.pixels.extend_from_slice(&bytes[..n]);
                n
            };
            self.offset += n as u64;
            bytes = &bytes[n..];
        }
        Ok(())
    }

    fn finish(self) -> Result<Batch> {
        if self.offset == 0 {
            return Err(Error::Data(format!("{} is empty", self.file)));
        }
        if !self.offset.is_multiple_of(RECORD as u64) {
            return Err(self.cut_off(self.offset));
        }
        Ok(Batch {
            file: self.file,
            labels: self.labels,
            pixels: self.pixels,
        })
    }

    fn cut_off(&self, size: u64) -> Error {
        let record = RECORD as u64;
        Error::Data(format!(
            "{}: {size} bytes is not a whole number of {record}-byte records: record {} has only {} bytes \
             (truncated?)",
            self.file,
            size / record,
            size % record
        ))
    }
}

/// The user's CIFAR-10 files.
#[derive(Default)]
pub(super) struct Cifar {
    batches: [Option<Batch>; 6],
    meta: Option<(String, Vec<String>)>,
    /// The first few archive members that are not CIFAR-10 files, for the message when no batch was found:
    /// only these few, since an archive may hold millions.
    skipped: Vec<String>,
    /// How many members were skipped in all.
    skipped_count: usize,
    held: u64,
}

pub(super) enum CifarPart {
    Batch(usize, Reader),
    Meta { file: String, text: Vec<u8> },
}

impl Part for CifarPart {
    fn push(&mut self, bytes: &[u8]) -> Result<()> {
        match self {
            CifarPart::Batch(_, reader) => reader.push(bytes),
            CifarPart::Meta { file, text } => {
                if text.len() + bytes.len() > MAX_META {
                    return Err(Error::Data(format!(
                        "{file} is over {MAX_META} bytes; expected the ten class names, one per line"
                    )));
                }
                text.extend_from_slice(bytes);
                Ok(())
            }
        }
    }
}

impl Collect for Cifar {
    type Part = CifarPart;

    fn open(&mut self, name: &Name, size: Option<u64>) -> Result<Option<CifarPart>> {
        if let Some(slot) = BATCHES.iter().position(|b| *b == name.base) {
            if let Some(other) = &self.batches[slot] {
                return Err(Error::Data(format!(
                    "two files hold {}: {} and {}",
                    BATCHES[slot], other.file, name.shown
                )));
            }
            let reader = Reader::new(&name.shown, size, self.held)?;
            return Ok(Some(CifarPart::Batch(slot, reader)));
        }
        if name.base == META {
            return Ok(Some(CifarPart::Meta {
                file: name.shown.clone(),
                text: Vec::new(),
            }));
        }
        if name.archived {
            let listed: usize = self.skipped.iter().map(|n| n.chars().count() + 2).sum();
            if self.skipped.is_empty()
                || (self.skipped.len() < LISTED
                    && listed + name.shown.chars().count() <= LISTED_CHARS)
            {
                self.skipped.push(name.shown.clone());
            }
            self.skipped_count += 1;
            return Ok(None);
        }
        Err(Error::Data(format!(
            "{} is not a CIFAR-10 binary file: expected data_batch_1.bin … data_batch_5.bin, test_batch.bin, \
             batches.meta.txt (each possibly .gz) or cifar-10-binary.tar.gz",
            name.shown
        )))
    }

    fn close(&mut self, part: CifarPart) -> Result<()> {
        match part {
            CifarPart::Batch(slot, reader) => {
                let batch = reader.finish()?;
                self.held += (batch.labels.len() + batch.pixels.len()) as u64;
                self.batches[slot] = Some(batch);
            }
            CifarPart::Meta { file, text } => {
                if let Some((other, _)) = &self.meta {
                    return Err(Error::Data(format!(
                        "two files hold {META}: {other} and {file}"
                    )));
                }
                let text = String::from_utf8(text).map_err(|_| {
                    Error::Data(format!("{file} is not text (expected class names)"))
                })?;
                let names: Vec<String> = text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect();
                if names.len() != CLASSES.len() {
                    return Err(Error::Data(format!(
                        "{file} lists {} class names; CIFAR-10 has {}",
                        names.len(),
                        CLASSES.len()
                    )));
                }
                self.meta = Some((file, names));
            }
        }
        Ok(())
    }

    fn finish(self, source: String) -> Result<Dataset> {
        if self.batches.iter().all(Option::is_none) {
            let mut found = String::new();
            if !self.skipped.is_empty() {
                let more = self.skipped_count - self.skipped.len();
                found = format!(" (found only {}", self.skipped.join(", "));
                if more > 0 {
                    found += &format!(" and {more} more");
                }
                found += ")";
            }
            return Err(Error::Data(format!(
                "no CIFAR-10 batches found{found}: expected data_batch_1.bin … data_batch_5.bin or test_batch.bin"
            )));
        }
        let (mut labels, mut pixels, mut splits) = (Vec::new(), Vec::new(), Vec::new());
        let mut trained = 0;
        for (slot, batch) in self.batches.into_iter().enumerate() {
            let Some(batch) = batch else { continue };
            for _ in &batch.labels {
                splits.push(if slot == TEST {
                    Split::Test
                } else {
                    trained += 1;
                    Split::of_training_sample(trained - 1)
                });
            }
            labels.extend_from_slice(&batch.labels);
            if pixels.is_empty() {
                pixels = batch.pixels;
            } else {
                pixels.extend_from_slice(&batch.pixels);
            }
        }
        let classes = match self.meta {
            Some((_, names)) => names,
            None => CLASSES.map(str::to_owned).to_vec(),
        };
        Dataset::new(
            "CIFAR-10 (your files)",
            source,
            Shape::image(3, 32, 32),
            classes,
            Values::Bytes {
                data: pixels,
                scale: 1.0 / 255.0,
            },
            labels,
            splits,
        )
    }
}
