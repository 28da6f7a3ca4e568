//! Fuzzing the dataset-file parsers (IDX, CIFAR-10 batches, tar, gzip) from the committed seed corpus in
//! `tests/fuzz/corpus/`: each case takes one seed's files, mutates one of them (bit flips, truncations,
//! insertions, deletions, header fields overwritten with extreme values, either in the stored bytes or inside
//! the gzip layer and recompressed), feeds them in random chunks, and requires the loader to return a dataset
//! or an `Error::Data`, never to panic or fail otherwise.
//!
//! Bounded for `cargo test`: proptest's default of 256 cases per target; set `PROPTEST_CASES` to run more.
#![cfg(not(target_arch = "wasm32"))]
#[allow(dead_code)] // the data_files tests use the rest
#[path = "fuzz/support.rs"]
mod support;

use hebbian_playground::error::Error;
use proptest::prelude::*;
use proptest::sample::Index;
use std::sync::LazyLock;
use support::*;

static CORPUS: LazyLock<Vec<Seed>> = LazyLock::new(committed_seeds);

/// Where a field overwrite lands, relative to a header: the IDX magic and dimensions, and the tar name, size,
/// checksum, type flag, magic and prefix fields.
const FIELDS: [usize; 13] = [0, 1, 2, 3, 4, 8, 12, 100, 124, 148, 156, 257, 345];

#[derive(Clone, Debug)]
enum Edit {
    Flip {
        at: Index,
        bit: u8,
    },
    Truncate {
        at: Index,
    },
    Insert {
        at: Index,
        bytes: Vec<u8>,
    },
    Remove {
        at: Index,
        len: usize,
    },
    /// Overwrites a header field (of the file, a tar member or a CIFAR record) with `value`, then, for a tar
    /// header, optionally makes its checksum right again so that the parser gets past it.
    Field {
        header: Index,
        field: Index,
        value: Vec<u8>,
        fix: bool,
    },
}

/// One fuzz case on a seed.
#[derive(Clone, Debug)]
struct Case {
    file: Index,
    /// Edit the content inside the gzip layer (and recompress) rather than the stored bytes.
    inside_gzip: bool,
    edits: Vec<Edit>,
    chunks: Vec<usize>,
    announce: bool,
}

/// Values that break size arithmetic: IDX dimensions as big-endian u32, tar octal fields, and random bytes.
fn extreme() -> impl Strategy<Value = Vec<u8>> {
    let numbers = [0u32, 1, 3, 9, 10, 255, 0x7fff_ffff, 0x8000_0000, u32::MAX];
    let octals: [&[u8]; 8] = [
        b"77777777777\0",
        b"00000000000\0",
        b"99999999999\0",
        b"\x80\0\0\0\0\0\0\xff\xff\xff\xff\xff",
        b"           \0",
        b"\0\0\0\0\0\0\0\0\0\0\0\0",
        b"L5x72g\0",
        b"ustar  \0",
    ];
    prop_oneof![
        prop::sample::select(numbers.to_vec()).prop_map(|v| v.to_be_bytes().to_vec()),
        any::<u32>().prop_map(|v| v.to_be_bytes().to_vec()),
        prop::sample::select(octals.map(<[u8]>::to_vec).to_vec()),
        prop::collection::vec(any::<u8>(), 1..16),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<Index>(), 0..8u8).prop_map(|(at, bit)| Edit::Flip { at, bit }),
        any::<Index>().prop_map(|at| Edit::Truncate { at }),
        (any::<Index>(), prop::collection::vec(any::<u8>(), 1..600))
            .prop_map(|(at, bytes)| Edit::Insert { at, bytes }),
        (any::<Index>(), 1..4000usize).prop_map(|(at, len)| Edit::Remove { at, len }),
        (any::<Index>(), any::<Index>(), extreme(), any::<bool>()).prop_map(
            |(header, field, value, fix)| Edit::Field {
                header,
                field,
                value,
                fix,
            }
        ),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    let chunks = prop_oneof![
        Just(vec![usize::MAX]),
        Just(vec![1]),
        prop::collection::vec(1..2048usize, 1..6),
    ];
    (
        any::<Index>(),
        any::<bool>(),
        prop::collection::vec(edit(), 1..4),
        chunks,
        any::<bool>(),
    )
        .prop_map(|(file, inside_gzip, edits, chunks, announce)| Case {
            file,
            inside_gzip,
            edits,
            chunks,
            announce,
        })
}

/// Where headers start: a tar's member headers, else the file's start and the first CIFAR-10 records.
fn anchors(content: &[u8]) -> Vec<usize> {
    let tar = header_offsets(content);
    if tar.is_empty() {
        vec![0, 3073, 2 * 3073]
    } else {
        tar
    }
}

fn apply(bytes: &mut Vec<u8>, edit: &Edit) {
    match edit {
        Edit::Flip { at, bit } => {
            if !bytes.is_empty() {
                let i = at.index(bytes.len());
                bytes[i] ^= 1 << bit;
            }
        }
        Edit::Truncate { at } => bytes.truncate(at.index(bytes.len() + 1)),
        Edit::Insert { at, bytes: new } => {
            let i = at.index(bytes.len() + 1);
            bytes.splice(i..i, new.iter().copied());
        }
        Edit::Remove { at, len } => {
            let i = at.index(bytes.len() + 1);
            bytes.drain(i..(i + len).min(bytes.len()));
        }
        Edit::Field {
            header,
            field,
            value,
            fix,
        } => {
            let tar = !header_offsets(bytes).is_empty();
            let anchors = anchors(bytes);
            let start = anchors[header.index(anchors.len())];
            let at = start + FIELDS[field.index(FIELDS.len())];
            for (i, &b) in value.iter().enumerate() {
                if let Some(x) = bytes.get_mut(at + i) {
                    *x = b;
                }
            }
            if tar && *fix && start + 512 <= bytes.len() {
                fix_checksum(&mut bytes[start..start + 512]);
            }
        }
    }
}

/// Runs one case on seed `seed`: the loader must load or refuse with a data error.
fn check(seed: usize, case: &Case) -> Result<(), TestCaseError> {
    let seed = &CORPUS[seed];
    let mut files = seed.files.clone();
    let i = case.file.index(files.len());
    let bytes = &mut files[i].1;
    match gunzip(bytes).filter(|_| case.inside_gzip) {
        Some(mut content) => {
            for e in &case.edits {
                apply(&mut content, e);
            }
            *bytes = gzip(&content);
        }
        None => {
            for e in &case.edits {
                apply(bytes, e);
            }
        }
    }
    match load_chunked(seed.kind, &files, &case.chunks, case.announce) {
        Ok(d) => {
            prop_assert_eq!(d.labels.len(), d.len());
            prop_assert!(!d.is_empty());
        }
        Err(Error::Data(m)) => prop_assert!(!m.is_empty()),
        Err(e) => prop_assert!(false, "not a data error: {e}"),
    }
    Ok(())
}

proptest! {
    #[test]
    fn mnist_files_never_panic(case in case()) {
        check(0, &case)?;
    }

    #[test]
    fn cifar_loose_files_never_panic(case in case()) {
        check(1, &case)?;
    }

    #[test]
    fn cifar_tar_gz_never_panics(case in case()) {
        check(2, &case)?;
    }
}

#[test]
fn seeds_load() {
    let counts = [7, 5, 3];
    for (seed, count) in CORPUS.iter().zip(counts) {
        for chunks in [&[usize::MAX][..], &[1], &[100, 3]] {
            let d = load_chunked(seed.kind, &seed.files, chunks, true)
                .unwrap_or_else(|e| panic!("{}: {e}", seed.name));
            assert_eq!(d.len(), count, "{}", seed.name);
        }
    }
}

/// The committed corpus holds what the builders make (compared inside gzip, whose bytes may change with
/// `flate2`'s version), and each file stays small.
#[test]
fn corpus_matches_the_builders() {
    for (built, committed) in seeds().iter().zip(CORPUS.iter()) {
        for ((name, want), (_, have)) in built.files.iter().zip(&committed.files) {
            assert!(have.len() < 16 << 10, "{name} is {} bytes", have.len());
            let content = |b: &Vec<u8>| gunzip(b).unwrap_or_else(|| b.clone());
            assert!(
                content(want) == content(have),
                "{}/{name} differs from its builder; run `cargo test --test fuzz_parsers -- --ignored \
                 regenerate_corpus`",
                built.name
            );
        }
    }
}

/// Writes the seed corpus from the builders in `tests/fuzz/support.rs`.
#[test]
#[ignore = "rewrites tests/fuzz/corpus"]
fn regenerate_corpus() {
    for seed in seeds() {
        let dir = corpus_dir().join(seed.name);
        std::fs::create_dir_all(&dir).expect("creating the corpus folder");
        for (name, bytes) in &seed.files {
            std::fs::write(dir.join(name), bytes).expect("writing a corpus file");
        }
    }
}
