//! Loading the user's own dataset files, pushed chunk by chunk as they arrive.
//!
//! The browser reads a picked file as a stream of chunks, and CIFAR-10 is a 163 MB download that unpacks to
//! 185 MB: holding the compressed file and its unpacked copy at once would double the memory a tab needs.
//! So everything here is push-style: [`Loader::push`] takes any chunk (down to one byte) and passes it through
//! gunzip (when the file starts with gzip's magic bytes, whatever its name), then a tar reader (when the
//! content starts with a valid tar header), into the parser of the chosen [`Kind`] (IDX for MNIST, record
//! batches for CIFAR-10), which keeps only the samples. Every size is checked against
//! [`MAX_DATASET_BYTES`](super::MAX_DATASET_BYTES) as soon as a header reveals it, before allocating.
//!
//! Every malformed input is an [`Error::Data`] naming the file and what is wrong; nothing here panics on input.
use super::{Dataset, MAX_DATASET_BYTES, cifar, idx, shown_name, tar};
use crate::error::{Error, Result};
use flate2::write::GzDecoder;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::str::FromStr;

/// What the user says they are loading; the files' contents must then match it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
// "Kind" alone says little among the page's types.
#[cfg_attr(
    not(target_arch = "wasm32"),
    derive(ts_rs::TS),
    ts(rename = "DataFormat")
)]
pub enum Kind {
    /// MNIST-format IDX files (MNIST, Fashion-MNIST): a train pair and/or a test pair, plain or gzipped.
    MnistIdx,
    /// CIFAR-10's binary version: `cifar-10-binary.tar.gz`, or any of its batch files, plain or gzipped.
    Cifar10,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::MnistIdx, Kind::Cifar10];

    /// The name used in JSON, links and the CLI.
    pub fn id(self) -> &'static str {
        match self {
            Kind::MnistIdx => "mnist_idx",
            Kind::Cifar10 => "cifar10",
        }
    }
}

impl FromStr for Kind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Kind::ALL.into_iter().find(|k| k.id() == s).ok_or_else(|| {
            let known: Vec<_> = Kind::ALL.iter().map(|k| k.id()).collect();
            Error::Data(format!(
                "unknown dataset file kind '{}' (known: {})",
                shown_name(s),
                known.join(", ")
            ))
        })
    }
}

/// How far loading has come, for a progress bar.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// The file being read, if one is open (shortened as messages show it).
    pub file: Option<String>,
    /// Bytes of it received so far, as stored (compressed, for gzipped files).
    pub file_bytes: u64,
    /// Its size, when the caller knew it.
    pub file_size: Option<u64>,
    /// Bytes received over all files.
    pub bytes: u64,
    /// Files completed.
    pub files_done: usize,
}

/// Takes the user's files chunk by chunk and turns them into a [`Dataset`].
///
/// Call [`begin_file`](Self::begin_file), any number of [`push`](Self::push)es, [`end_file`](Self::end_file)
/// for each file, then [`finish`](Self::finish). After the first error every further call fails with it.
pub struct Loader {
    kind: Kind,
    feed: Box<dyn Feed + Send>,
    progress: Progress,
    names: Vec<String>,
    failed: Option<String>,
}

impl Loader {
    pub fn new(kind: Kind) -> Self {
        let feed: Box<dyn Feed + Send> = match kind {
            Kind::MnistIdx => Box::new(Stream::new(idx::Mnist::default())),
            Kind::Cifar10 => Box::new(Stream::new(cifar::Cifar::default())),
        };
        Self {
            kind,
            feed,
            progress: Progress::default(),
            names: Vec::new(),
            failed: None,
        }
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Starts a file. `name` is its file name (a path is fine: roles come from the last component), `size` its
    /// length in bytes when known, which lets a plain file's sizes be checked before its data arrives.
    pub fn begin_file(&mut self, name: &str, size: Option<u64>) -> Result<()> {
        self.run(|l| {
            let shown = shown_name(name);
            if let Some(open) = &l.progress.file {
                return Err(Error::Data(format!(
                    "cannot start {shown} while {open} is still being read"
                )));
            }
            l.feed.begin(name, size);
            l.names.push(shown.clone());
            l.progress.file = Some(shown);
            l.progress.file_bytes = 0;
            l.progress.file_size = size;
            Ok(())
        })
    }

    /// The next bytes of the open file, in any chunk size.
    pub fn push(&mut self, chunk: &[u8]) -> Result<()> {
        self.run(|l| {
            if l.progress.file.is_none() {
                return Err(Error::Data("bytes pushed without an open file".into()));
            }
            l.feed.push(chunk)?;
            l.progress.file_bytes += chunk.len() as u64;
            l.progress.bytes += chunk.len() as u64;
            Ok(())
        })
    }

    /// The open file is complete: checks that it ended where its format says it ends.
    pub fn end_file(&mut self) -> Result<()> {
        self.run(|l| {
            let Some(name) = l.progress.file.take() else {
                return Err(Error::Data("end_file without an open file".into()));
            };
            if let Some(size) = l.progress.file_size
                && size != l.progress.file_bytes
            {
                return Err(Error::Data(format!(
                    "{name}: truncated: expected {size} bytes, got {}",
                    l.progress.file_bytes
                )));
            }
            l.feed.end()?;
            l.progress.files_done += 1;
            Ok(())
        })
    }

    pub fn progress(&self) -> Progress {
        self.progress.clone()
    }

    /// Pairs and merges the files into one dataset (train samples first, then test).
    pub fn finish(mut self) -> Result<Dataset> {
        self.run(|l| match &l.progress.file {
            Some(open) => Err(Error::Data(format!("{open} was not ended"))),
            None => Ok(()),
        })?;
        let source = format!("your files: {}", self.names.join(", "));
        self.feed.finish(source)
    }

    /// Runs one step unless an earlier one failed, and remembers its failure.
    fn run<T>(&mut self, step: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if let Some(first) = &self.failed {
            return Err(Error::Data(format!(
                "loading stopped at an earlier error: {first}"
            )));
        }
        step(self).inspect_err(|e| self.failed = Some(e.to_string()))
    }
}

/// Loads files already in memory: `(name, bytes)` pairs.
pub fn load_files(kind: Kind, files: &[(String, Vec<u8>)]) -> Result<Dataset> {
    let mut loader = Loader::new(kind);
    for (name, bytes) in files {
        loader.begin_file(name, Some(bytes.len() as u64))?;
        loader.push(bytes)?;
        loader.end_file()?;
    }
    loader.finish()
}

/// Loads files from disk, reading each in chunks so that no file is held whole.
pub fn load_paths(kind: Kind, paths: &[PathBuf]) -> Result<Dataset> {
    let mut loader = Loader::new(kind);
    let mut buffer = vec![0; 1 << 20];
    for path in paths {
        let name = path.display().to_string();
        let io = |e: std::io::Error| Error::Io(format!("{}: {e}", shown_name(&name)));
        let mut file = std::fs::File::open(path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        loader.begin_file(&name, Some(size))?;
        loop {
            let n = file.read(&mut buffer).map_err(io)?;
            if n == 0 {
                break;
            }
            loader.push(&buffer[..n])?;
        }
        loader.end_file()?;
    }
    loader.finish()
}

/// A file or archive member as the format parsers see it.
pub(super) struct Name {
    /// How messages name it, e.g. `data_batch_1.bin (in cifar-10-binary.tar.gz)`; long names shortened.
    pub shown: String,
    /// Its bare file name in lower case, without folders or a `.gz` suffix: what roles are read from.
    pub base: String,
    /// Whether it is a member of an archive (which may hold files that are not part of the dataset).
    pub archived: bool,
}

impl Name {
    fn loose(name: &str) -> Self {
        let base = base_name(name);
        Self {
            shown: shown_name(name),
            base: base.strip_suffix(".gz").map(str::to_owned).unwrap_or(base),
            archived: false,
        }
    }

    /// `archive` as already shown.
    fn member(member: &str, archive: &str) -> Self {
        Self {
            shown: format!("{} (in {archive})", shown_name(member)),
            base: base_name(member),
            archived: true,
        }
    }
}

fn base_name(path: &str) -> String {
    path.rsplit(['/', '\\'])
        .next()
        .unwrap_or(path)
        .to_lowercase()
}

/// Makes room for `extra` more bytes, doubling the capacity (so that pushes stay cheap) but never past `limit`
/// bytes in all: a header, or a stream of unknown length, cannot make the loader reserve more than it allows.
pub(super) fn reserve_within(v: &mut Vec<u8>, extra: usize, limit: usize) {
    if v.capacity() - v.len() < extra {
        let needed = v.len().saturating_add(extra);
        let target = v.len().saturating_mul(2).min(limit).max(needed);
        v.reserve_exact(target - v.len());
    }
}

/// What one kind of dataset does with its files; the loader handles gzip and tar around them.
pub(super) trait Collect {
    type Part: Part;
    /// A file (or archive member) starts, `size` bytes long when known. `None` skips it: only done for archive
    /// members that are not part of the dataset, such as CIFAR-10's `readme.html`.
    fn open(&mut self, name: &Name, size: Option<u64>) -> Result<Option<Self::Part>>;
    /// A file is complete.
    fn close(&mut self, part: Self::Part) -> Result<()>;
    /// All files are in.
    fn finish(self, source: String) -> Result<Dataset>;
}

/// One file being parsed.
pub(super) trait Part {
    fn push(&mut self, bytes: &[u8]) -> Result<()>;
}

/// The loader's steps, without the kind's types, so that [`Loader`] needs no type parameter.
trait Feed {
    fn begin(&mut self, name: &str, size: Option<u64>);
    fn push(&mut self, bytes: &[u8]) -> Result<()>;
    fn end(&mut self) -> Result<()>;
    fn finish(self: Box<Self>, source: String) -> Result<Dataset>;
}

/// The files of one kind, and the file being read.
struct Stream<C: Collect> {
    files: C,
    open: Option<(Decoder, Content<C::Part>)>,
    /// Bytes produced by gunzip over all files: capped, so that a small file cannot unpack forever.
    inflated: u64,
}

impl<C: Collect> Stream<C> {
    fn new(files: C) -> Self {
        Self {
            files,
            open: None,
            inflated: 0,
        }
    }
}

impl<C: Collect> Feed for Stream<C> {
    fn begin(&mut self, name: &str, size: Option<u64>) {
        let file = Name::loose(name);
        self.open = Some((Decoder::new(&file.shown, size), Content::new(file)));
    }

    fn push(&mut self, bytes: &[u8]) -> Result<()> {
        let Self {
            files,
            open,
            inflated,
        } = self;
        let Some((decoder, content)) = open else {
            return Err(Error::Data("bytes pushed without an open file".into()));
        };
        decoder.push(bytes, inflated, &mut |out, size| {
            content.push(files, out, size)
        })
    }

    fn end(&mut self) -> Result<()> {
        let Some((decoder, mut content)) = self.open.take() else {
            return Err(Error::Data("end_file without an open file".into()));
        };
        let files = &mut self.files;
        let size = decoder.finish(&mut self.inflated, &mut |out, size| {
            content.push(files, out, size)
        })?;
        content.finish(files, size)
    }

    fn finish(self: Box<Self>, source: String) -> Result<Dataset> {
        self.files.finish(source)
    }
}

/// gzip's magic bytes: how a compressed file is recognised, whatever its name.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Receives a file's decoded bytes, with the file's size when the bytes are the file itself (not gunzipped).
type Sink<'a> = dyn FnMut(&[u8], Option<u64>) -> Result<()> + 'a;

/// Gunzips a file that starts with gzip's magic bytes, and passes any other file through.
struct Decoder {
    /// As messages show it.
    name: String,
    size: Option<u64>,
    /// The first bytes, until there are enough to tell.
    head: Vec<u8>,
    codec: Option<Codec>,
}

enum Codec {
    Plain,
    /// `flate2`'s write-side decoder is push-style: compressed bytes go in, and the decompressed ones collect
    /// in its `Vec`, which is drained after every call so that it holds at most one call's output.
    Gzip(Box<GzDecoder<Vec<u8>>>),
}

impl Decoder {
    fn new(name: &str, size: Option<u64>) -> Self {
        Self {
            name: name.to_owned(),
            size,
            head: Vec::with_capacity(GZIP_MAGIC.len()),
            codec: None,
        }
    }

    fn push(&mut self, mut bytes: &[u8], inflated: &mut u64, sink: &mut Sink) -> Result<()> {
        let mut head = Vec::new();
        let codec = match &mut self.codec {
            Some(codec) => codec,
            None => {
                let n = (GZIP_MAGIC.len() - self.head.len()).min(bytes.len());
                self.head.extend_from_slice(&bytes[..n]);
                bytes = &bytes[n..];
                if self.head.len() < GZIP_MAGIC.len() {
                    return Ok(());
                }
                head = std::mem::take(&mut self.head);
                self.codec.insert(if head == GZIP_MAGIC {
                    Codec::Gzip(Box::new(GzDecoder::new(Vec::new())))
                } else {
                    Codec::Plain
                })
            }
        };
        for bytes in [&head[..], bytes] {
            match codec {
                Codec::Plain => sink(bytes, self.size)?,
                Codec::Gzip(gz) => inflate(gz, &self.name, bytes, inflated, sink)?,
            }
        }
        Ok(())
    }

    /// Ends the file (checking that a gzip stream is complete and its checksum right); returns the size to
    /// hand the parsers, known for plain files only.
    fn finish(self, inflated: &mut u64, sink: &mut Sink) -> Result<Option<u64>> {
        match self.codec {
            None => {
                sink(&self.head, self.size)?;
                Ok(self.size)
            }
            Some(Codec::Plain) => Ok(self.size),
            Some(Codec::Gzip(mut gz)) => {
                gz.try_finish().map_err(|e| gzip_error(&self.name, &e))?;
                drain(&mut gz, &self.name, inflated, sink)?;
                Ok(None)
            }
        }
    }
}

/// Feeds compressed bytes to `gz`, handing on what comes out after each call.
fn inflate(
    gz: &mut GzDecoder<Vec<u8>>,
    name: &str,
    mut bytes: &[u8],
    inflated: &mut u64,
    sink: &mut Sink,
) -> Result<()> {
    while !bytes.is_empty() {
        let n = gz.write(bytes).map_err(|e| gzip_error(name, &e))?;
        // The decoder takes nothing once its stream (and 8-byte trailer) is complete.
        let rest = bytes.get(n..).filter(|_| n > 0).ok_or_else(|| {
            Error::Data(format!(
                "corrupt gzip in {name}: data after the end of the gzip stream (concatenated gzip files are not \
                 supported)"
            ))
        })?;
        bytes = rest;
        drain(gz, name, inflated, sink)?;
    }
    Ok(())
}

fn drain(
    gz: &mut GzDecoder<Vec<u8>>,
    name: &str,
    inflated: &mut u64,
    sink: &mut Sink,
) -> Result<()> {
    let mut out = std::mem::take(gz.get_mut());
    *inflated += out.len() as u64;
    if *inflated > MAX_DATASET_BYTES {
        return Err(Error::Data(format!(
            "{name} decompresses to more than {} MB, more than a dataset may take in the playground",
            MAX_DATASET_BYTES >> 20
        )));
    }
    sink(&out, None)?;
    out.clear();
    *gz.get_mut() = out;
    Ok(())
}

fn gzip_error(name: &str, e: &std::io::Error) -> Error {
    let what = if e.kind() == std::io::ErrorKind::UnexpectedEof {
        "the stream is truncated (it ends before its end marker)".to_owned()
    } else if e.to_string().contains("checksum") {
        "CRC mismatch: the checksum at the end does not match the data (corrupt or truncated file)"
            .to_owned()
    } else {
        e.to_string()
    };
    Error::Data(format!("corrupt gzip in {name}: {what}"))
}

/// A file's decoded content: a tar archive when it starts with a valid tar header, else one dataset file.
struct Content<P> {
    file: Name,
    /// The first block, until it is complete (or the file ends).
    head: Vec<u8>,
    route: Option<Route<P>>,
}

enum Route<P> {
    Tar {
        reader: Box<tar::Reader>,
        /// The member being read, unless it is skipped.
        member: Option<P>,
    },
    /// `None`: skipped.
    File(Option<P>),
}

impl<P: Part> Content<P> {
    fn new(file: Name) -> Self {
        Self {
            file,
            head: Vec::new(),
            route: None,
        }
    }

    fn push<C: Collect<Part = P>>(
        &mut self,
        files: &mut C,
        mut bytes: &[u8],
        size: Option<u64>,
    ) -> Result<()> {
        let mut head = Vec::new();
        let route = match &mut self.route {
            Some(route) => route,
            None => {
                let n = (tar::BLOCK - self.head.len()).min(bytes.len());
                self.head.extend_from_slice(&bytes[..n]);
                bytes = &bytes[n..];
                if self.head.len() < tar::BLOCK {
                    return Ok(());
                }
                head = std::mem::take(&mut self.head);
                self.route
                    .insert(Route::new(files, &self.file, &head, size)?)
            }
        };
        route.push(files, &self.file.shown, &head)?;
        route.push(files, &self.file.shown, bytes)
    }

    fn finish<C: Collect<Part = P>>(self, files: &mut C, size: Option<u64>) -> Result<()> {
        let route = match self.route {
            Some(route) => route,
            None => {
                let mut route = Route::new(files, &self.file, &self.head, size)?;
                route.push(files, &self.file.shown, &self.head)?;
                route
            }
        };
        match route {
            Route::Tar { reader, .. } => {
                reader.finish()?;
                if reader.files() == 0 {
                    return Err(Error::Data(format!(
                        "{}: the tar archive is empty (it holds no files)",
                        self.file.shown
                    )));
                }
                Ok(())
            }
            Route::File(Some(part)) => files.close(part),
            Route::File(None) => Ok(()),
        }
    }
}

impl<P: Part> Route<P> {
    fn new<C: Collect<Part = P>>(
        files: &mut C,
        file: &Name,
        head: &[u8],
        size: Option<u64>,
    ) -> Result<Self> {
        Ok(if tar::is_header(head) {
            Route::Tar {
                reader: Box::new(tar::Reader::new(&file.shown)),
                member: None,
            }
        } else {
            Route::File(files.open(file, size)?)
        })
    }

    /// `name`: the file as messages show it.
    fn push<C: Collect<Part = P>>(
        &mut self,
        files: &mut C,
        name: &str,
        bytes: &[u8],
    ) -> Result<()> {
        match self {
            Route::Tar { reader, member } => reader.push(
                bytes,
                &mut Members {
                    files,
                    member,
                    archive: name,
                },
            ),
            Route::File(Some(part)) => part.push(bytes),
            Route::File(None) => Ok(()),
        }
    }
}

/// Routes an archive's members to the kind's parsers.
struct Members<'a, C: Collect> {
    files: &'a mut C,
    member: &'a mut Option<C::Part>,
    archive: &'a str,
}

impl<C: Collect> tar::Visitor for Members<'_, C> {
    fn begin(&mut self, name: &str, size: u64) -> Result<()> {
        *self.member = self
            .files
            .open(&Name::member(name, self.archive), Some(size))?;
        Ok(())
    }

    fn data(&mut self, bytes: &[u8]) -> Result<()> {
        match self.member {
            Some(part) => part.push(bytes),
            None => Ok(()),
        }
    }

    fn end(&mut self) -> Result<()> {
        match self.member.take() {
            Some(part) => self.files.close(part),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_and_serialise_alike() {
        for kind in Kind::ALL {
            assert_eq!(kind.id().parse::<Kind>().ok(), Some(kind));
            assert_eq!(
                serde_json::to_string(&kind).ok(),
                Some(format!("\"{}\"", kind.id()))
            );
        }
        assert!("mnist".parse::<Kind>().is_err());
    }

    #[test]
    fn roles_come_from_the_bare_name() {
        let n = Name::loose("C:\\data\\tests\\Train-Images-idx3-ubyte.gz");
        assert_eq!(n.base, "train-images-idx3-ubyte");
        let m = Name::member("cifar-10-batches-bin/data_batch_1.bin", "c.tar.gz");
        assert_eq!(m.base, "data_batch_1.bin");
        assert!(m.shown.contains("(in c.tar.gz)"));
    }
}
