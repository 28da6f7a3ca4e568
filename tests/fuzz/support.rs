//! Builders for dataset files (IDX, CIFAR-10 batches, tar, gzip), shared by `tests/data_files.rs` and
//! `tests/fuzz_parsers.rs`, and the seed corpus of `tests/fuzz/corpus/` that the fuzz tests mutate.
//!
//! The corpus is committed so that the fuzz tests start from fixed files; regenerate it after changing the
//! builders with `cargo test --test fuzz_parsers -- --ignored regenerate_corpus`.
use flate2::Compression;
use flate2::write::GzEncoder;
use hebbian_playground::data::idx;
use hebbian_playground::data::loader::{Kind, Loader};
use hebbian_playground::error::Result;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// `n` images of `rows`×`cols` in IDX form, with a smooth pattern (so they compress, like real digits).
pub fn idx_images(n: u32, rows: u32, cols: u32, seed: u32) -> Vec<u8> {
    idx::encode(&[n, rows, cols], &pattern((n * rows * cols) as usize, seed))
}

pub fn idx_labels(labels: &[u8]) -> Vec<u8> {
    idx::encode(&[labels.len() as u32], labels)
}

/// CIFAR-10 records with these labels and patterned pixels.
pub fn cifar_records(labels: &[u8], seed: u32) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, &l) in labels.iter().enumerate() {
        out.push(l);
        out.extend(pattern(3072, seed + i as u32));
    }
    out
}

/// Deterministic bytes: gradients with a little texture.
pub fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| ((i % 32) * 5 + (i / 32 % 32) * 3 + seed * 17 + (i / 1024) * 40) as u8)
        .collect()
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(bytes).expect("writing to a Vec");
    gz.finish().expect("writing to a Vec")
}

/// The content of a gzip file, or `None` when `bytes` are not one.
pub fn gunzip(bytes: &[u8]) -> Option<Vec<u8>> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return None;
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

/// A tar member: name, type flag (b'0' file, b'5' directory, b'L' GNU long name) and data.
pub struct Member<'a> {
    pub name: &'a str,
    pub flag: u8,
    pub data: &'a [u8],
}

pub fn file<'a>(name: &'a str, data: &'a [u8]) -> Member<'a> {
    Member {
        name,
        flag: b'0',
        data,
    }
}

/// A ustar archive, with the two end-of-archive blocks.
pub fn tar(members: &[Member]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in members {
        let mut h = [0u8; 512];
        let name = m.name.as_bytes();
        h[..name.len().min(100)].copy_from_slice(&name[..name.len().min(100)]);
        h[100..108].copy_from_slice(b"0000644\0");
        h[108..116].copy_from_slice(b"0000000\0");
        h[116..124].copy_from_slice(b"0000000\0");
        h[124..136].copy_from_slice(format!("{:011o}\0", m.data.len()).as_bytes());
        h[136..148].copy_from_slice(b"00000000000\0");
        h[156] = m.flag;
        h[257..265].copy_from_slice(b"ustar\x0000");
        fix_checksum(&mut h);
        out.extend_from_slice(&h);
        out.extend_from_slice(m.data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

/// Recomputes a tar header's checksum field, so that a test can change other fields and still get past it.
pub fn fix_checksum(header: &mut [u8]) {
    header[148..156].fill(b' ');
    let sum: u32 = header[..512].iter().map(|&b| u32::from(b)).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

/// Byte offsets of the headers of a well-formed tar archive (members, not the end blocks).
pub fn header_offsets(tar: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut at = 0;
    while let Some(h) = tar.get(at..at + 512) {
        if h.iter().all(|&b| b == 0) {
            break;
        }
        let size = std::str::from_utf8(&h[124..135])
            .ok()
            .and_then(|s| usize::from_str_radix(s, 8).ok())
            .unwrap_or(0);
        offsets.push(at);
        at += 512 + size.div_ceil(512) * 512;
    }
    offsets
}

/// Pushes `files` through a loader, cutting each into chunks of the given sizes (cycled; 0 is read as 1).
/// With `announce`, each file's size is given up front, as the browser and the CLI do.
pub fn load_chunked(
    kind: Kind,
    files: &[(String, Vec<u8>)],
    chunks: &[usize],
    announce: bool,
) -> Result<hebbian_playground::data::Dataset> {
    let mut loader = Loader::new(kind);
    let mut sizes = chunks.iter().cycle();
    for (name, bytes) in files {
        loader.begin_file(name, announce.then_some(bytes.len() as u64))?;
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let n = sizes.next().copied().unwrap_or(1).clamp(1, rest.len());
            loader.push(&rest[..n])?;
            rest = &rest[n..];
        }
        loader.end_file()?;
    }
    loader.finish()
}

/// One seed: files that load as one dataset.
pub struct Seed {
    pub name: &'static str,
    pub kind: Kind,
    pub files: Vec<(String, Vec<u8>)>,
}

/// The seeds, as built (what `regenerate_corpus` writes).
pub fn seeds() -> Vec<Seed> {
    let meta = b"airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";
    let cifar_tar = tar(&[
        Member {
            name: "cifar-10-batches-bin/",
            flag: b'5',
            data: &[],
        },
        file(
            "cifar-10-batches-bin/data_batch_1.bin",
            &cifar_records(&[6, 9], 0),
        ),
        file("cifar-10-batches-bin/batches.meta.txt", meta),
        file(
            "cifar-10-batches-bin/test_batch.bin",
            &cifar_records(&[3], 7),
        ),
        file("cifar-10-batches-bin/readme.html", b"<p>CIFAR-10</p>\n"),
    ]);
    vec![
        Seed {
            name: "mnist",
            kind: Kind::MnistIdx,
            files: vec![
                ("train-images-idx3-ubyte".into(), idx_images(5, 28, 28, 1)),
                (
                    "train-labels-idx1-ubyte".into(),
                    idx_labels(&[5, 0, 4, 1, 9]),
                ),
                (
                    "t10k-images-idx3-ubyte.gz".into(),
                    gzip(&idx_images(2, 28, 28, 2)),
                ),
                (
                    "t10k-labels-idx1-ubyte.gz".into(),
                    gzip(&idx_labels(&[7, 2])),
                ),
            ],
        },
        Seed {
            name: "cifar-loose",
            kind: Kind::Cifar10,
            files: vec![
                ("data_batch_1.bin".into(), cifar_records(&[6, 9, 9], 0)),
                ("test_batch.bin.gz".into(), gzip(&cifar_records(&[3, 8], 3))),
                ("batches.meta.txt".into(), meta.to_vec()),
            ],
        },
        Seed {
            name: "cifar-tar",
            kind: Kind::Cifar10,
            files: vec![("cifar-10-binary.tar.gz".into(), gzip(&cifar_tar))],
        },
    ]
}

pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/corpus")
}

/// The committed seeds: `corpus/<seed>/<file>`, files in the order `seeds()` lists them.
pub fn committed_seeds() -> Vec<Seed> {
    seeds()
        .into_iter()
        .map(|seed| Seed {
            files: seed
                .files
                .iter()
                .map(|(name, _)| {
                    let path = corpus_dir().join(seed.name).join(name);
                    let bytes =
                        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                    (name.clone(), bytes)
                })
                .collect(),
            ..seed
        })
        .collect()
}
