//! MNIST's IDX format (also used by Fashion-MNIST), and pairing the user's IDX files into a dataset.
//!
//! An IDX file is a big-endian magic number `00 00 type ndims`, `ndims` u32 big-endian dimensions, then the
//! elements. MNIST uses unsigned bytes (type 0x08): images with 3 dimensions (count, rows, cols) and labels
//! with 1 (count), so only those are read. The header gives the exact size of what follows, so the data is
//! checked against the size limit, and allocated, once, before it arrives.
//!
//! Which split a file belongs to comes from its name (the official `t10k-…` and any name containing `test`
//! are the test split, the rest train), whether it holds images or labels from its header.
use super::loader::{Collect, Name, Part, reserve_within};
use super::{Dataset, Shape, Split, Values, check_size, shown_name};
use crate::error::{Error, Result};

/// The element type code of unsigned bytes.
pub const U8: u8 = 0x08;

/// Labels are digits.
const CLASSES: usize = 10;

/// The dimensions and bytes of one IDX file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Idx {
    pub dims: Vec<u32>,
    pub data: Vec<u8>,
}

/// Writes an IDX file of unsigned bytes. `data` must hold the product of `dims` bytes.
pub fn encode(dims: &[u32], data: &[u8]) -> Vec<u8> {
    debug_assert_eq!(
        dims.iter().map(|&d| d as usize).product::<usize>(),
        data.len()
    );
    let mut out = Vec::with_capacity(4 + 4 * dims.len() + data.len());
    out.extend_from_slice(&[0, 0, U8, dims.len() as u8]);
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

/// Reads a whole IDX file of images or labels held in memory; `file` names it in messages.
pub fn decode(file: &str, bytes: &[u8]) -> Result<Idx> {
    let mut reader = Reader::new(file, Some(bytes.len() as u64), 0);
    reader.push(bytes)?;
    reader.finish()
}

/// Reads one IDX file of images (3 dimensions) or labels (1) as its bytes arrive.
pub struct Reader {
    file: String,
    /// The file's size when known up front, checked against the header before the data arrives.
    size: Option<u64>,
    /// Bytes already held by the dataset's other files, which count towards the size limit.
    held: u64,
    header: Vec<u8>,
    /// Empty until the header is complete.
    dims: Vec<u32>,
    /// Data bytes the header announces.
    expected: u64,
    data: Vec<u8>,
}

impl Reader {
    pub fn new(file: &str, size: Option<u64>, held: u64) -> Self {
        Self {
            file: shown_name(file),
            size,
            held,
            header: Vec::with_capacity(16),
            dims: Vec::new(),
            expected: 0,
            data: Vec::new(),
        }
    }

    pub fn push(&mut self, mut bytes: &[u8]) -> Result<()> {
        while !bytes.is_empty() {
            let n = if self.dims.is_empty() {
                let n = (self.header_len() - self.header.len()).min(bytes.len());
                self.header.extend_from_slice(&bytes[..n]);
                if self.header.len() == 4 {
                    self.check_magic()?;
                }
                if self.header.len() == self.header_len() {
                    self.start_data()?;
                }
                n
            } else {
                let room = self.expected - self.data.len() as u64;
                if room == 0 {
                    return Err(Error::Data(format!(
                        "{}: more bytes than its header announces ({})",
                        self.file,
                        self.describe()
                    )));
                }
                let n = usize::try_from(room).unwrap_or(usize::MAX).min(bytes.len());
                // Below the size limit (checked at the header), so it fits in usize on every target.
                reserve_within(&mut self.data, n, self.expected as usize);
                self.data.extend_from_slice(&bytes[..n]);
                n
            };
            bytes = &bytes[n..];
        }
        Ok(())
    }

    /// Checks that the file is complete.
    pub fn finish(self) -> Result<Idx> {
        if self.header.is_empty() {
            return Err(Error::Data(format!("{} is empty", self.file)));
        }
        if self.dims.is_empty() {
            return Err(Error::Data(format!(
                "{}: truncated: the IDX header needs {} bytes, got {}",
                self.file,
                self.header_len(),
                self.header.len()
            )));
        }
        if (self.data.len() as u64) < self.expected {
            let header = self.header.len() as u64;
            return Err(Error::Data(format!(
                "{}: truncated: expected {} bytes ({}), got {}",
                self.file,
                header + self.expected,
                self.describe(),
                header + self.data.len() as u64
            )));
        }
        Ok(Idx {
            dims: self.dims,
            data: self.data,
        })
    }

    /// The header's length: the magic number, then 4 bytes per dimension once the magic is known.
    fn header_len(&self) -> usize {
        match self.header.get(3) {
            Some(&ndims) => 4 + 4 * usize::from(ndims),
            None => 4,
        }
    }

    fn check_magic(&self) -> Result<()> {
        let m = &self.header[..4];
        let found = format!("{:02x} {:02x} {:02x} {:02x}", m[0], m[1], m[2], m[3]);
        let type_name = match m[2] {
            0x08 => "unsigned bytes",
            0x09 => "signed bytes",
            0x0b => "16-bit integers",
            0x0c => "32-bit integers",
            0x0d => "32-bit floats",
            0x0e => "64-bit floats",
            _ => "",
        };
        if m[0] != 0 || m[1] != 0 || type_name.is_empty() {
            return Err(Error::Data(format!(
                "{}: not an IDX file: wrong magic number {found}, expected 00 00 08 03 (images) or 00 00 08 01 \
                 (labels)",
                self.file
            )));
        }
        if m[2] != U8 {
            return Err(Error::Data(format!(
                "{}: unsupported IDX element type 0x{:02x} ({type_name}); only unsigned bytes (0x08) are read",
                self.file, m[2]
            )));
        }
        if m[3] != 1 && m[3] != 3 {
            return Err(Error::Data(format!(
                "{}: an IDX file with {} dimensions is neither images (3 dimensions) nor labels (1)",
                self.file, m[3]
            )));
        }
        Ok(())
    }

    /// The header is complete: checks the announced size before anything is allocated. The data is reserved
    /// at once when the file's size confirms the header, else as it arrives (a corrupt header in a gzipped
    /// file would otherwise reserve hundreds of MB for nothing).
    fn start_data(&mut self) -> Result<()> {
        let dims: Vec<u32> = self.header[4..]
            .chunks_exact(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let expected = dims
            .iter()
            .try_fold(1u64, |n, &d| n.checked_mul(u64::from(d)))
            .unwrap_or(u64::MAX);
        if dims.len() == 3 && (dims[1] == 0 || dims[2] == 0) {
            return Err(Error::Data(format!(
                "{}: images of {}×{} pixels",
                self.file, dims[1], dims[2]
            )));
        }
        self.dims = dims;
        self.expected = expected;
        check_size(&self.file, self.held.saturating_add(expected))?;
        let total = (self.header.len() as u64).saturating_add(expected);
        match self.size {
            Some(size) if size < total => {
                return Err(Error::Data(format!(
                    "{}: truncated: expected {total} bytes ({}), got {size}",
                    self.file,
                    self.describe()
                )));
            }
            Some(size) if size > total => {
                return Err(Error::Data(format!(
                    "{}: {size} bytes, but its header announces {total} ({})",
                    self.file,
                    self.describe()
                )));
            }
            _ => {}
        }
        if self.size.is_some() {
            // Below the size limit, so it fits in usize on every target.
            self.data.reserve_exact(expected as usize);
        }
        Ok(())
    }

    /// What the header announces, e.g. "60000 images of 28×28".
    fn describe(&self) -> String {
        match self.dims[..] {
            [n, rows, cols] => format!("{n} images of {rows}×{cols}"),
            [n] => format!("{n} labels"),
            _ => format!("dimensions {:?}", self.dims),
        }
    }
}

/// The role of an IDX file: split from its name, content from its header.
const TRAIN: usize = 0;
const TEST: usize = 1;
const IMAGES: usize = 0;
const LABELS: usize = 1;
const ROLES: [&str; 2] = ["train", "test"];
const CONTENTS: [&str; 2] = ["images", "labels"];

/// The user's IDX files, by split (train, test) and content (images, labels).
#[derive(Default)]
pub(super) struct Mnist {
    files: [[Option<(String, Idx)>; 2]; 2],
    held: u64,
}

pub(super) struct MnistPart {
    file: String,
    role: usize,
    reader: Reader,
}

impl Part for MnistPart {
    fn push(&mut self, bytes: &[u8]) -> Result<()> {
        self.reader.push(bytes)
    }
}

impl Collect for Mnist {
    type Part = MnistPart;

    fn open(&mut self, name: &Name, size: Option<u64>) -> Result<Option<MnistPart>> {
        // In an archive, only the IDX files (named like `train-images-idx3-ubyte`); macOS adds `._` twins.
        if name.archived && (!name.base.contains("idx") || name.base.starts_with("._")) {
            return Ok(None);
        }
        let test = name.base.starts_with("t10k") || name.base.contains("test");
        Ok(Some(MnistPart {
            file: name.shown.clone(),
            role: if test { TEST } else { TRAIN },
            reader: Reader::new(&name.shown, size, self.held),
        }))
    }

    fn close(&mut self, part: MnistPart) -> Result<()> {
        let idx = part.reader.finish()?;
        let content = if idx.dims.len() == 3 { IMAGES } else { LABELS };
        if content == LABELS
            && let Some((i, l)) = idx
                .data
                .iter()
                .enumerate()
                .find(|(_, l)| usize::from(**l) >= CLASSES)
        {
            return Err(Error::Data(format!(
                "{}: label {l} at index {i} is not a digit 0–9",
                part.file
            )));
        }
        if let Some((other, _)) = &self.files[part.role][content] {
            return Err(Error::Data(format!(
                "two files hold {} {}: {other} and {}",
                ROLES[part.role], CONTENTS[content], part.file
            )));
        }
        self.held += idx.data.len() as u64;
        self.files[part.role][content] = Some((part.file, idx));
        Ok(())
    }

    fn finish(self, source: String) -> Result<Dataset> {
        let mut shape: Option<(u32, u32, String)> = None;
        let (mut pixels, mut labels, mut splits) = (Vec::new(), Vec::new(), Vec::new());
        for (role, [images, labelled]) in self.files.into_iter().enumerate() {
            let ((image_file, images), (label_file, label_idx)) = match (images, labelled) {
                (Some(i), Some(l)) => (i, l),
                (None, None) => continue,
                (Some((file, _)), None) => {
                    return Err(Error::Data(format!(
                        "{file} holds {} images, but no {} labels file was given",
                        ROLES[role], ROLES[role]
                    )));
                }
                (None, Some((file, _))) => {
                    return Err(Error::Data(format!(
                        "{file} holds {} labels, but no {} images file was given",
                        ROLES[role], ROLES[role]
                    )));
                }
            };
            let (n, rows, cols) = (images.dims[0], images.dims[1], images.dims[2]);
            if label_idx.dims[0] != n {
                return Err(Error::Data(format!(
                    "{image_file} has {n} images but {label_file} has {} labels",
                    label_idx.dims[0]
                )));
            }
            match &shape {
                Some((r, c, first)) if (*r, *c) != (rows, cols) => {
                    return Err(Error::Data(format!(
                        "images are {r}×{c} in {first} but {rows}×{cols} in {image_file}"
                    )));
                }
                Some(_) => {}
                None => shape = Some((rows, cols, image_file)),
            }
            splits.extend((0..n as usize).map(|i| {
                if role == TEST {
                    Split::Test
                } else {
                    Split::of_training_sample(i)
                }
            }));
            if pixels.is_empty() {
                pixels = images.data;
            } else {
                pixels.extend_from_slice(&images.data);
            }
            labels.extend_from_slice(&label_idx.data);
        }
        let Some((rows, cols, _)) = shape else {
            return Err(Error::Data("no IDX files were given".into()));
        };
        if splits.is_empty() {
            return Err(Error::Data("the IDX files hold no images".into()));
        }
        Dataset::new(
            "MNIST-format digits (your IDX files)",
            source,
            Shape::image(1, rows, cols),
            (0..CLASSES).map(|c| c.to_string()).collect(),
            Values::Bytes {
                data: pixels,
                scale: 1.0 / 255.0,
            },
            labels,
            splits,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip() {
        let data: Vec<u8> = (0..2 * 3 * 4).map(|i| i as u8).collect();
        let bytes = encode(&[2, 3, 4], &data);
        assert_eq!(&bytes[..4], &[0, 0, 8, 3]);
        let idx = decode("x", &bytes).expect("valid");
        assert_eq!(idx.dims, vec![2, 3, 4]);
        assert_eq!(idx.data, data);
    }

    #[test]
    fn absurd_dimensions_are_refused_before_allocating() {
        let mut bytes = vec![0, 0, 8, 3];
        for d in [1u32 << 31, 28, 28] {
            bytes.extend_from_slice(&d.to_be_bytes());
        }
        let mut r = Reader::new("big", None, 0);
        let err = r.push(&bytes).expect_err("too big").to_string();
        assert!(err.contains("big would need"), "{err}");
        assert_eq!(r.data.capacity(), 0);
    }
}
