//! A push-style reader for tar archives (POSIX ustar, GNU and old v7 headers), enough for
//! `cifar-10-binary.tar.gz`.
//!
//! Why not the `tar` crate: it pulls from a `Read`, while the browser hands the file over as chunks arriving
//! from a stream; feeding it would mean buffering the whole archive (185 MB for CIFAR-10) first. This reader
//! keeps one 512-byte block and hands each member's bytes on as they arrive, so any chunking works, down to
//! one byte at a time.
//!
//! Only regular files are handed on; directories, links, devices and pax headers are skipped: their bytes are
//! counted past, never kept, so an archive of any size or number of members streams in constant memory. GNU
//! long names (`././@LongLink`) are supported, since GNU tar writes them for paths over 100 bytes, up to
//! 4 KB; messages quote names shortened (`data::shown_name`).
use super::shown_name;
use crate::error::{Error, Result};

/// Tar works in blocks of 512 bytes: headers are one block, member data is padded to a whole block.
pub const BLOCK: usize = 512;

/// Longest GNU long name accepted: it is a path, and anything bigger is not worth holding in memory.
const MAX_LONG_NAME: u64 = 4096;

/// Receives the regular files of an archive as they stream past.
pub trait Visitor {
    /// A regular file starts. `size` is its header's size field: a valid number, not yet checked against any
    /// limit (the visitor does that before allocating).
    fn begin(&mut self, name: &str, size: u64) -> Result<()>;
    /// The next bytes of the file begun last.
    fn data(&mut self, bytes: &[u8]) -> Result<()>;
    /// All `size` bytes have been handed on.
    fn end(&mut self) -> Result<()>;
}

/// What the reader expects next.
enum State {
    /// The next header block (`Reader::filled` bytes of it are in `Reader::block`).
    Header,
    /// `left` more bytes of a member's data.
    Member {
        name: String,
        size: u64,
        left: u64,
        body: Body,
    },
    /// More bytes of padding up to the next block boundary.
    Padding(u64),
    /// After the end-of-archive block: only zeros may follow (tar pads archives to whole records).
    End,
}

/// What happens to a member's data.
enum Body {
    /// A regular file: handed to the visitor.
    File,
    /// A GNU long name for the next header.
    LongName(Vec<u8>),
    /// Anything else.
    Skip,
}

/// Splits a tar stream into its regular files, reporting malformed or truncated archives.
pub struct Reader {
    /// The archive's name as messages show it.
    archive: String,
    block: [u8; BLOCK],
    filled: usize,
    /// Bytes consumed so far, for messages.
    offset: u64,
    state: State,
    long_name: Option<String>,
    files: usize,
}

impl Reader {
    pub fn new(archive: &str) -> Self {
        Self {
            archive: shown_name(archive),
            block: [0; BLOCK],
            filled: 0,
            offset: 0,
            state: State::Header,
            long_name: None,
            files: 0,
        }
    }

    /// Regular files begun so far.
    pub fn files(&self) -> usize {
        self.files
    }

    /// Consumes the next bytes of the archive, calling `visitor` for the regular files in them.
    pub fn push(&mut self, mut bytes: &[u8], visitor: &mut impl Visitor) -> Result<()> {
        while !bytes.is_empty() {
            let n = match &mut self.state {
                State::Header => {
                    let n = (BLOCK - self.filled).min(bytes.len());
                    self.block[self.filled..self.filled + n].copy_from_slice(&bytes[..n]);
                    self.filled += n;
                    if self.filled == BLOCK {
                        self.filled = 0;
                        self.header(self.offset + n as u64 - BLOCK as u64, visitor)?;
                    }
                    n
                }
                State::Member { left, body, .. } => {
                    let n = usize::try_from(*left)
                        .unwrap_or(usize::MAX)
                        .min(bytes.len());
                    match body {
                        Body::File => visitor.data(&bytes[..n])?,
                        Body::LongName(name) => name.extend_from_slice(&bytes[..n]),
                        Body::Skip => {}
                    }
                    *left -= n as u64;
                    if *left == 0 {
                        self.end_member(visitor)?;
                    }
                    n
                }
                State::Padding(left) => {
                    let n = usize::try_from(*left)
                        .unwrap_or(usize::MAX)
                        .min(bytes.len());
                    *left -= n as u64;
                    if *left == 0 {
                        self.state = State::Header;
                    }
                    n
                }
                State::End => {
                    if let Some(at) = bytes.iter().position(|&b| b != 0) {
                        return Err(self.error(format!(
                            "data at byte {} after the end-of-archive block",
                            self.offset + at as u64
                        )));
                    }
                    bytes.len()
                }
            };
            self.offset += n as u64;
            bytes = &bytes[n..];
        }
        Ok(())
    }

    /// Checks that the archive ended where a tar archive may end.
    pub fn finish(&self) -> Result<()> {
        match &self.state {
            State::End => Ok(()),
            State::Header if self.filled == 0 => Err(self.error(format!(
                "the archive ends after {} bytes without its end-of-archive block (truncated?)",
                self.offset
            ))),
            State::Header => Err(self.error(format!(
                "truncated inside a header block ({} of {BLOCK} bytes)",
                self.filled
            ))),
            State::Member {
                name, size, left, ..
            } => Err(self.error(format!(
                "truncated: member {} needs {size} bytes but the archive ends after {}",
                shown_name(name),
                size - left
            ))),
            State::Padding(_) => {
                Err(self.error("truncated inside the padding after the last member"))
            }
        }
    }

    /// Handles a complete header block that started at byte `at` of the archive.
    fn header(&mut self, at: u64, visitor: &mut impl Visitor) -> Result<()> {
        let b = &self.block;
        if b.iter().all(|&x| x == 0) {
            self.state = State::End;
            return Ok(());
        }
        let stored = octal(&b[148..156]);
        let (unsigned, signed) = checksums(b);
        if stored != Some(unsigned) && stored != Some(signed) {
            return Err(self.error(format!(
                "invalid header at byte {at}: checksum field {:?}, computed {unsigned:o}",
                String::from_utf8_lossy(&b[148..156])
            )));
        }
        let Some(size) = octal(&b[124..136]) else {
            return Err(self.error(format!(
                "invalid size field {:?} in the header at byte {at}",
                String::from_utf8_lossy(&b[124..136])
            )));
        };
        let name = match self.long_name.take() {
            Some(long) => long,
            None => header_name(b),
        };
        let body = match b[156] {
            b'0' | 0 | b'7' if !name.ends_with('/') => Body::File,
            b'L' if size <= MAX_LONG_NAME => Body::LongName(Vec::new()),
            b'L' => {
                return Err(self.error(format!(
                    "a GNU long name of {size} bytes at byte {at} (at most {MAX_LONG_NAME})"
                )));
            }
            _ => Body::Skip,
        };
        if matches!(body, Body::File) {
            self.files += 1;
            visitor.begin(&name, size)?;
        }
        self.state = State::Member {
            name,
            size,
            left: size,
            body,
        };
        if size == 0 {
            self.end_member(visitor)?;
        }
        Ok(())
    }

    /// A member's data is complete: pass it on, then skip the padding.
    fn end_member(&mut self, visitor: &mut impl Visitor) -> Result<()> {
        let State::Member { size, body, .. } = std::mem::replace(&mut self.state, State::Header)
        else {
            return Ok(());
        };
        match body {
            Body::File => visitor.end()?,
            Body::LongName(name) => self.long_name = Some(c_string(&name)),
            Body::Skip => {}
        }
        let pad = (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64;
        if pad > 0 {
            self.state = State::Padding(pad);
        }
        Ok(())
    }

    fn error(&self, what: impl std::fmt::Display) -> Error {
        Error::Data(format!("{}: not a valid tar archive: {what}", self.archive))
    }
}

/// Whether `head` starts with a tar header (non-zero, with a valid checksum): how a file is recognised as an
/// archive by content rather than by name.
pub fn is_header(head: &[u8]) -> bool {
    let Some(b) = head.get(..BLOCK) else {
        return false;
    };
    if b.iter().all(|&x| x == 0) {
        return false;
    }
    let stored = octal(&b[148..156]);
    let (unsigned, signed) = checksums(b);
    stored == Some(unsigned) || stored == Some(signed)
}

/// The header's byte sum with the checksum field counted as spaces, over unsigned and (as some old tars
/// wrote it) signed bytes.
fn checksums(block: &[u8]) -> (u64, u64) {
    let (mut unsigned, mut signed) = (0u64, 0i64);
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += u64::from(b);
        signed += i64::from(b as i8);
    }
    (unsigned, signed as u64)
}

/// An octal number field: optional leading spaces, digits, then a space or NUL (or the field's end).
/// `None` for anything else, including an empty field and GNU's base-256 form (only used above 8 GB).
fn octal(field: &[u8]) -> Option<u64> {
    let start = field.iter().position(|&c| c != b' ')?;
    let digits = &field[start..];
    let end = digits
        .iter()
        .position(|&c| c == b' ' || c == 0)
        .unwrap_or(digits.len());
    if end == 0 {
        return None;
    }
    digits[..end].iter().try_fold(0u64, |value, &c| match c {
        b'0'..=b'7' => value.checked_mul(8)?.checked_add(u64::from(c - b'0')),
        _ => None,
    })
}

/// The member name: ustar's prefix joined to the name field.
fn header_name(b: &[u8; BLOCK]) -> String {
    let name = c_string(&b[..100]);
    let posix = &b[257..265] == b"ustar\x0000";
    let prefix = if posix {
        c_string(&b[345..500])
    } else {
        String::new()
    };
    if prefix.is_empty() {
        name
    } else {
        format!("{prefix}/{name}")
    }
}

/// Bytes up to the first NUL, as text.
fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_fields() {
        assert_eq!(octal(b"00000001750\0"), Some(1000));
        assert_eq!(octal(b"   644 \0"), Some(0o644));
        assert_eq!(octal(b"\0\0\0\0"), None);
        assert_eq!(octal(b"12389\0"), None);
        assert_eq!(octal(b"7777777777777777777777777"), None);
        assert_eq!(octal(&[0x80, 0, 0, 1]), None);
    }
}
