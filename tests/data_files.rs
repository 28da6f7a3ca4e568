//! The user's dataset files: MNIST IDX (plain and gzipped), CIFAR-10 batches (loose, gzipped, in a tar or a
//! tar.gz) fed to the loader in chunks of every size, and each malformed case's message.
#[allow(dead_code)] // the fuzz tests use the rest
#[path = "fuzz/support.rs"]
mod support;

use hebbian_playground::data::loader::{Kind, Loader, load_files, load_paths};
use hebbian_playground::data::{Dataset, MAX_DATASET_BYTES, Shape, Split, Values, idx};
use hebbian_playground::error::Error;
use support::*;

/// Chunkings every round trip is fed with: whole, one byte at a time, and irregular sizes.
const CHUNKINGS: [&[usize]; 4] = [
    &[usize::MAX],
    &[1],
    &[7, 1, 512, 3, 4096, 2],
    &[511, 513, 1, 1],
];

fn named(files: &[(&str, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
    files
        .iter()
        .map(|(n, b)| (n.to_string(), b.clone()))
        .collect()
}

/// Loads with every chunking, with and without sizes up front, and checks that all agree.
fn load_all_ways(kind: Kind, files: &[(String, Vec<u8>)]) -> Dataset {
    let first = load_files(kind, files).unwrap_or_else(|e| panic!("{e}"));
    for chunks in CHUNKINGS {
        for announce in [true, false] {
            let d = load_chunked(kind, files, chunks, announce).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(d.values, first.values);
            assert_eq!(d.labels, first.labels);
            assert_eq!(d.splits, first.splits);
            assert_eq!(d.classes, first.classes);
        }
    }
    first
}

/// The message of a failed load (all chunkings must fail alike).
fn load_error(kind: Kind, files: &[(String, Vec<u8>)]) -> String {
    let message = match load_files(kind, files) {
        Err(Error::Data(m)) => m,
        Err(e) => panic!("not a data error: {e}"),
        Ok(d) => panic!("loaded {} samples", d.len()),
    };
    for chunks in CHUNKINGS {
        match load_chunked(kind, files, chunks, false) {
            Err(Error::Data(_)) => {}
            Err(e) => panic!("not a data error: {e}"),
            Ok(_) => panic!("loaded with chunks {chunks:?} and no sizes: {message}"),
        }
    }
    message
}

fn assert_error(kind: Kind, files: &[(String, Vec<u8>)], parts: &[&str]) {
    let message = load_error(kind, files);
    for part in parts {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
}

fn bytes(d: &Dataset) -> &[u8] {
    match &d.values {
        Values::Bytes { data, scale } => {
            assert_eq!(*scale, 1.0 / 255.0);
            data
        }
        Values::Real(_) => panic!("image files load as bytes"),
    }
}

fn mnist_files(train: u32, test: u32) -> Vec<(String, Vec<u8>)> {
    let labels = |n: u32, k: u32| (0..n).map(|i| ((i * 3 + k) % 10) as u8).collect::<Vec<_>>();
    named(&[
        (
            "train-images-idx3-ubyte.gz",
            gzip(&idx_images(train, 28, 28, 1)),
        ),
        ("train-labels-idx1-ubyte", idx_labels(&labels(train, 0))),
        ("t10k-images-idx3-ubyte", idx_images(test, 28, 28, 2)),
        (
            "t10k-labels-idx1-ubyte.gz",
            gzip(&idx_labels(&labels(test, 1))),
        ),
    ])
}

#[test]
fn mnist_round_trip() {
    let d = load_all_ways(Kind::MnistIdx, &mnist_files(7, 3));
    assert_eq!(d.len(), 10);
    assert_eq!(d.shape, Shape::image(1, 28, 28));
    assert_eq!(
        d.classes,
        (0..10).map(|c| c.to_string()).collect::<Vec<_>>()
    );
    let mut expected = pattern(7 * 784, 1);
    expected.extend(pattern(3 * 784, 2));
    assert_eq!(bytes(&d), &expected[..]);
    assert_eq!(d.labels, vec![0, 3, 6, 9, 2, 5, 8, 1, 4, 7]);
    let train: Vec<_> = (0..7).map(Split::of_training_sample).collect();
    assert_eq!(&d.splits[..7], &train[..]);
    assert_eq!(d.splits[4], Split::Validation);
    assert_eq!(&d.splits[7..], &[Split::Test; 3]);
    assert!(d.source.contains("t10k-images-idx3-ubyte"), "{}", d.source);
}

#[test]
fn mnist_file_order_and_one_pair_alone() {
    let mut files = mnist_files(6, 2);
    files.reverse();
    let d = load_all_ways(Kind::MnistIdx, &files);
    assert_eq!(d.indices(Split::Test), vec![6, 7]);
    let test_only = load_all_ways(Kind::MnistIdx, &files[..2]);
    assert_eq!(test_only.splits, vec![Split::Test; 2]);
    let train_only = load_all_ways(Kind::MnistIdx, &files[2..]);
    assert_eq!(train_only.len(), 6);
    // Fashion-MNIST's names, and "test" anywhere in the name, mark the test split.
    let renamed = named(&[
        ("fashion-train-images.idx3-ubyte", idx_images(2, 28, 28, 0)),
        ("fashion-train-labels.idx1-ubyte", idx_labels(&[1, 2])),
        ("my_test_images.idx", idx_images(1, 28, 28, 0)),
        ("my_test_labels.idx", idx_labels(&[3])),
    ]);
    let d = load_all_ways(Kind::MnistIdx, &renamed);
    assert_eq!(d.splits[2], Split::Test);
}

#[test]
fn mnist_in_a_tar_gz() {
    let files = mnist_files(4, 2);
    let plain: Vec<_> = files
        .iter()
        .map(|(n, b)| {
            (
                format!("mnist/{}", n.trim_end_matches(".gz")),
                gunzip(b).unwrap_or_else(|| b.clone()),
            )
        })
        .collect();
    let mut members: Vec<_> = plain.iter().map(|(n, b)| file(n, b)).collect();
    members.push(file("mnist/README.md", b"not an IDX file"));
    members.push(file("mnist/._train-images-idx3-ubyte", b"macOS metadata"));
    let archive = named(&[("mnist.tar.gz", gzip(&tar(&members)))]);
    let d = load_all_ways(Kind::MnistIdx, &archive);
    assert_eq!(d.labels, load_all_ways(Kind::MnistIdx, &files).labels);
    assert_eq!(d.indices(Split::Test), vec![4, 5]);
}

#[test]
fn mnist_errors() {
    let ok = mnist_files(5, 2);
    let with = |i: usize, name: &str, bytes: Vec<u8>| {
        let mut files = ok.clone();
        files[i] = (name.to_owned(), bytes);
        files
    };
    let mut magic = idx_images(5, 28, 28, 1);
    magic[..4].copy_from_slice(&[0x12, 0x34, 0x56, 0x78]);
    assert_error(
        Kind::MnistIdx,
        &with(0, "train-images-idx3-ubyte", magic),
        &[
            "train-images-idx3-ubyte",
            "wrong magic number 12 34 56 78",
            "expected 00 00 08 03",
        ],
    );
    let mut float = idx_images(5, 28, 28, 1);
    float[2] = 0x0d;
    assert_error(
        Kind::MnistIdx,
        &with(0, "train-images-idx3-ubyte", float),
        &["unsupported IDX element type 0x0d (32-bit floats)"],
    );
    assert_error(
        Kind::MnistIdx,
        &with(
            0,
            "train-images-idx3-ubyte",
            idx::encode(&[5, 784], &[0; 5 * 784]),
        ),
        &["with 2 dimensions is neither images"],
    );
    let full = idx_images(5, 28, 28, 1);
    assert_error(
        Kind::MnistIdx,
        &with(0, "train-images-idx3-ubyte", full[..3000].to_vec()),
        &["train-images-idx3-ubyte: truncated: expected 3936 bytes (5 images of 28×28), got 3000"],
    );
    assert_error(
        Kind::MnistIdx,
        &with(0, "train-images-idx3-ubyte.gz", gzip(&full[..10])),
        &["truncated: the IDX header needs 16 bytes, got 10"],
    );
    assert_error(
        Kind::MnistIdx,
        &with(0, "train-images-idx3-ubyte", Vec::new()),
        &["train-images-idx3-ubyte is empty"],
    );
    let mut long = full.clone();
    long.push(0);
    assert_error(
        Kind::MnistIdx,
        &with(0, "train-images-idx3-ubyte.gz", gzip(&long)),
        &["more bytes than its header announces (5 images of 28×28)"],
    );
    assert_error(
        Kind::MnistIdx,
        &with(0, "train-images-idx3-ubyte", long),
        &["3937 bytes, but its header announces 3936"],
    );
    assert_error(
        Kind::MnistIdx,
        &with(2, "t10k-images-idx3-ubyte", idx_images(2, 32, 32, 0)),
        &["images are 28×28 in train-images-idx3-ubyte.gz but 32×32 in t10k-images-idx3-ubyte"],
    );
    assert_error(
        Kind::MnistIdx,
        &with(1, "train-labels-idx1-ubyte", idx_labels(&[1, 2, 3, 4])),
        &["train-images-idx3-ubyte.gz has 5 images but train-labels-idx1-ubyte has 4 labels"],
    );
    assert_error(
        Kind::MnistIdx,
        &with(1, "train-labels-idx1-ubyte", idx_labels(&[1, 2, 3, 12, 4])),
        &["train-labels-idx1-ubyte: label 12 at index 3 is not a digit 0–9"],
    );
    assert_error(
        Kind::MnistIdx,
        &with(3, "train-labels-copy", idx_labels(&[1, 2, 3, 4, 5])),
        &["two files hold train labels: train-labels-idx1-ubyte and train-labels-copy"],
    );
    assert_error(
        Kind::MnistIdx,
        &ok[1..],
        &["train-labels-idx1-ubyte holds train labels, but no train images file was given"],
    );
    assert_error(
        Kind::MnistIdx,
        &ok[..3],
        &["t10k-images-idx3-ubyte holds test images, but no test labels file was given"],
    );
    assert_error(Kind::MnistIdx, &[], &["no IDX files were given"]);
    // A CIFAR-10 batch given as MNIST.
    assert_error(
        Kind::MnistIdx,
        &named(&[("data_batch_1.bin", cifar_records(&[1], 0))]),
        &["data_batch_1.bin: not an IDX file: wrong magic number 01 00 05 0a"],
    );
}

#[test]
fn absurd_sizes_are_refused_before_allocating() {
    for dims in [
        [1u32 << 31, 28, 28],
        [u32::MAX, u32::MAX, u32::MAX],
        [60000, 1000, 1000],
    ] {
        let mut header = vec![0, 0, 8, 3];
        for d in dims {
            header.extend_from_slice(&d.to_be_bytes());
        }
        let files = named(&[("train-images-idx3-ubyte", header)]);
        assert_error(
            Kind::MnistIdx,
            &files,
            &[
                "train-images-idx3-ubyte would need",
                "MB, more than the 512 MB",
            ],
        );
    }
    // Each file fits, but together they do not.
    let most = (MAX_DATASET_BYTES / 784) as u32;
    let header = |n: u32| {
        let mut h = vec![0, 0, 8, 3];
        for d in [n, 28, 28] {
            h.extend_from_slice(&d.to_be_bytes());
        }
        h
    };
    let mut loader = Loader::new(Kind::MnistIdx);
    loader.begin_file("train-images-idx3-ubyte", None).unwrap();
    loader.push(&header(1)).unwrap();
    loader.push(&[0; 784]).unwrap();
    loader.end_file().unwrap();
    loader.begin_file("t10k-images-idx3-ubyte", None).unwrap();
    // Content is sniffed for a tar header first, so parsing starts after 512 bytes.
    let mut start = header(most);
    start.resize(512, 0);
    let err = loader.push(&start).unwrap_err().to_string();
    assert!(err.contains("t10k-images-idx3-ubyte would need"), "{err}");
}

#[test]
fn gzip_errors() {
    let images = idx_images(5, 28, 28, 1);
    let gz = gzip(&images);
    let with = |bytes: Vec<u8>| {
        let mut files = mnist_files(5, 2);
        files[0] = ("train-images-idx3-ubyte.gz".into(), bytes);
        files
    };
    assert_error(
        Kind::MnistIdx,
        &with(gz[..gz.len() / 2].to_vec()),
        &["corrupt gzip in train-images-idx3-ubyte.gz: the stream is truncated"],
    );
    let mut crc = gz.clone();
    let at = crc.len() - 8;
    crc[at] ^= 0xff;
    assert_error(
        Kind::MnistIdx,
        &with(crc),
        &["corrupt gzip in train-images-idx3-ubyte.gz: CRC mismatch"],
    );
    let mut trailer = gz.clone();
    trailer.truncate(gz.len() - 3);
    assert_error(
        Kind::MnistIdx,
        &with(trailer),
        &["corrupt gzip in train-images-idx3-ubyte.gz"],
    );
    let mut deflate = gz.clone();
    deflate[10] = 0xff;
    assert_error(
        Kind::MnistIdx,
        &with(deflate),
        &["corrupt gzip in train-images-idx3-ubyte.gz: corrupt deflate stream"],
    );
    let mut header = gz.clone();
    header[2] = 7;
    assert_error(
        Kind::MnistIdx,
        &with(header),
        &["corrupt gzip in train-images-idx3-ubyte.gz: invalid gzip header"],
    );
    let mut two = gz.clone();
    two.extend_from_slice(&gz);
    assert_error(
        Kind::MnistIdx,
        &with(two),
        &["data after the end of the gzip stream"],
    );
}

const META: &[u8] = b"plane\ncar\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n";

#[test]
fn cifar_loose_files() {
    let b1 = cifar_records(&[0, 1, 2], 10);
    let b3 = cifar_records(&[3, 4, 5, 6], 30);
    let test = cifar_records(&[7, 8], 50);
    // Given out of order: the dataset is batch 1, batch 3, then the test batch.
    let files = named(&[
        ("test_batch.bin.gz", gzip(&test)),
        ("batches.meta.txt", META.to_vec()),
        ("some/folder/data_batch_3.bin", b3.clone()),
        ("DATA_BATCH_1.BIN.GZ", gzip(&b1)),
    ]);
    let d = load_all_ways(Kind::Cifar10, &files);
    assert_eq!(d.shape, Shape::image(3, 32, 32));
    assert_eq!(d.len(), 9);
    assert_eq!(d.labels, vec![0, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(d.classes[0], "plane");
    let mut expected = Vec::new();
    for records in [&b1, &b3, &test] {
        for r in records.chunks(3073) {
            expected.extend_from_slice(&r[1..]);
        }
    }
    assert_eq!(bytes(&d), &expected[..]);
    let train: Vec<_> = (0..7).map(Split::of_training_sample).collect();
    assert_eq!(&d.splits[..7], &train[..]);
    assert_eq!(&d.splits[7..], &[Split::Test; 2]);
    // Without batches.meta.txt, the standard names.
    let d = load_all_ways(Kind::Cifar10, &files[2..]);
    assert_eq!(d.classes[0], "airplane");
    assert_eq!(d.classes[9], "truck");
}

fn cifar_tar() -> Vec<u8> {
    let long = format!("{}/data_batch_2.bin", "d".repeat(120));
    let mut long_name = long.clone().into_bytes();
    long_name.push(0);
    tar(&[
        Member {
            name: "cifar-10-batches-bin/",
            flag: b'5',
            data: &[],
        },
        file(
            "cifar-10-batches-bin/data_batch_1.bin",
            &cifar_records(&[1, 2], 0),
        ),
        file("cifar-10-batches-bin/._data_batch_1.bin", b"macOS metadata"),
        file("cifar-10-batches-bin/batches.meta.txt", META),
        Member {
            name: "././@LongLink",
            flag: b'L',
            data: &long_name,
        },
        file(&long[..100], &cifar_records(&[3], 1)),
        Member {
            name: "a-link",
            flag: b'2',
            data: &[],
        },
        file(
            "cifar-10-batches-bin/test_batch.bin",
            &cifar_records(&[4, 5, 6], 2),
        ),
        file("cifar-10-batches-bin/readme.html", b"<p>CIFAR-10</p>"),
        file("cifar-10-batches-bin/empty", b""),
    ])
}

#[test]
fn cifar_tar_and_tar_gz() {
    let tar = cifar_tar();
    for name in ["cifar-10-binary.tar.gz", "whatever"] {
        for archive in [tar.clone(), gzip(&tar)] {
            let d = load_all_ways(Kind::Cifar10, &named(&[(name, archive)]));
            assert_eq!(d.labels, vec![1, 2, 3, 4, 5, 6]);
            assert_eq!(d.classes[1], "car");
            assert_eq!(d.indices(Split::Test), vec![3, 4, 5]);
        }
    }
}

#[test]
fn cifar_errors() {
    let c = Kind::Cifar10;
    let records = cifar_records(&[1, 2, 3], 0);
    assert_error(
        c,
        &named(&[("data_batch_2.bin", records[..2 * 3073 + 100].to_vec())]),
        &[
            "data_batch_2.bin: 6246 bytes is not a whole number of 3073-byte records: record 2 has only 100 bytes",
        ],
    );
    assert_error(
        c,
        &named(&[("data_batch_2.bin.gz", gzip(&records[..3073 + 1]))]),
        &[
            "data_batch_2.bin.gz: 3074 bytes is not a whole number",
            "record 1 has only 1 bytes",
        ],
    );
    let mut label = records.clone();
    label[3073] = 10;
    assert_error(
        c,
        &named(&[("test_batch.bin", label)]),
        &["test_batch.bin: record 1 has label 10; CIFAR-10 labels are 0–9"],
    );
    assert_error(
        c,
        &named(&[("cifar.bin", records.clone())]),
        &["cifar.bin is not a CIFAR-10 binary file"],
    );
    assert_error(
        c,
        &named(&[
            ("data_batch_1.bin", records.clone()),
            ("x/data_batch_1.bin.gz", gzip(&records)),
        ]),
        &["two files hold data_batch_1.bin: data_batch_1.bin and x/data_batch_1.bin.gz"],
    );
    assert_error(
        c,
        &named(&[
            ("data_batch_1.bin", records.clone()),
            ("batches.meta.txt", b"a\nb\n".to_vec()),
        ]),
        &["batches.meta.txt lists 2 class names; CIFAR-10 has 10"],
    );
    assert_error(
        c,
        &named(&[("test_batch.bin", Vec::new())]),
        &["test_batch.bin is empty"],
    );
    assert_error(
        c,
        &named(&[("batches.meta.txt", META.to_vec())]),
        &["no CIFAR-10 batches found"],
    );
    // An MNIST file given as CIFAR-10.
    assert_error(
        c,
        &named(&[("train-images-idx3-ubyte", idx_images(1, 28, 28, 0))]),
        &["train-images-idx3-ubyte is not a CIFAR-10 binary file"],
    );
}

#[test]
fn tar_errors() {
    let c = Kind::Cifar10;
    let batch = cifar_records(&[1], 0);
    let good = tar(&[
        file("data_batch_1.bin", &batch),
        file("test_batch.bin", &batch),
    ]);
    let one = |archive: Vec<u8>| named(&[("cifar-10-binary.tar", archive)]);
    assert_error(
        c,
        &one(tar(&[file("readme.html", b"hi"), file("notes.txt", b"")])),
        &["no CIFAR-10 batches found (found only readme.html (in cifar-10-binary.tar), notes.txt"],
    );
    assert_error(
        c,
        &one(tar(&[Member {
            name: "cifar-10-batches-bin/",
            flag: b'5',
            data: &[],
        }])),
        &["cifar-10-binary.tar: the tar archive is empty"],
    );
    assert_error(
        c,
        &one(good[..2000].to_vec()),
        &[
            "cifar-10-binary.tar: not a valid tar archive: truncated: member data_batch_1.bin needs 3073 bytes but \
             the archive ends after 1488",
        ],
    );
    assert_error(
        c,
        &one(gzip(&good[..good.len() - 1024])),
        &["without its end-of-archive block"],
    );
    assert_error(
        c,
        &one(good[..4096 + 100].to_vec()),
        &["truncated inside a header block (100 of 512 bytes)"],
    );
    let mut checksum = good.clone();
    checksum[4096] ^= 1;
    assert_error(
        c,
        &one(checksum),
        &["invalid header at byte 4096: checksum"],
    );
    let mut size = good.clone();
    size[4096 + 124..4096 + 136].copy_from_slice(b"0000000008x\0");
    fix_checksum(&mut size[4096..4096 + 512]);
    assert_error(
        c,
        &one(size),
        &["invalid size field \"0000000008x\\0\" in the header at byte 4096"],
    );
    let mut huge = good.clone();
    huge[4096 + 124..4096 + 136].copy_from_slice(b"77777777777\0");
    fix_checksum(&mut huge[4096..4096 + 512]);
    assert_error(
        c,
        &one(huge),
        &["test_batch.bin (in cifar-10-binary.tar): 8589934591 bytes is not a whole number"],
    );
    let mut huge = good.clone();
    huge[4096 + 124..4096 + 136].copy_from_slice(format!("{:011o}\0", 3073u64 << 20).as_bytes());
    fix_checksum(&mut huge[4096..4096 + 512]);
    assert_error(
        c,
        &one(huge),
        &["test_batch.bin (in cifar-10-binary.tar) would need 3074 MB, more than the 512 MB"],
    );
    let mut after = good.clone();
    after.push(1);
    assert_error(
        c,
        &one(after),
        &["data at byte 9216 after the end-of-archive block"],
    );
}

#[test]
fn loader_protocol_and_progress() {
    let mut loader = Loader::new(Kind::MnistIdx);
    assert!(loader.push(b"x").is_err());
    let mut loader = Loader::new(Kind::MnistIdx);
    let files = mnist_files(5, 1);
    loader
        .begin_file(&files[0].0, Some(files[0].1.len() as u64))
        .unwrap();
    loader.push(&files[0].1[..10]).unwrap();
    let p = loader.progress();
    assert_eq!(p.file.as_deref(), Some("train-images-idx3-ubyte.gz"));
    assert_eq!(
        (p.file_bytes, p.file_size, p.bytes, p.files_done),
        (10, Some(files[0].1.len() as u64), 10, 0)
    );
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["file_bytes"], 10);
    let err = loader.begin_file("other", None).unwrap_err().to_string();
    assert!(
        err.contains("while train-images-idx3-ubyte.gz is still being read"),
        "{err}"
    );
    let err = loader.end_file().unwrap_err().to_string();
    assert!(err.contains("loading stopped at an earlier error"), "{err}");

    let mut loader = Loader::new(Kind::MnistIdx);
    loader
        .begin_file("train-labels-idx1-ubyte", Some(100))
        .unwrap();
    loader.push(&idx_labels(&[1, 2])).unwrap();
    let err = loader.end_file().unwrap_err().to_string();
    assert!(
        err.contains("train-labels-idx1-ubyte: truncated: expected 100 bytes, got 10"),
        "{err}"
    );
    assert!(loader.finish().is_err());

    let mut loader = Loader::new(Kind::MnistIdx);
    loader.begin_file("train-labels-idx1-ubyte", None).unwrap();
    let err = loader.finish().unwrap_err().to_string();
    assert!(
        err.contains("train-labels-idx1-ubyte was not ended"),
        "{err}"
    );
}

#[test]
fn load_paths_reads_files_from_disk() {
    let dir = std::env::temp_dir().join(format!("hebbian-data-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tar = gzip(&cifar_tar());
    let path = dir.join("cifar-10-binary.tar.gz");
    std::fs::write(&path, &tar).unwrap();
    let d = load_paths(Kind::Cifar10, &[path]);
    let missing = load_paths(Kind::Cifar10, &[dir.join("missing.bin")]);
    std::fs::remove_dir_all(&dir).unwrap();
    let d = d.unwrap();
    assert_eq!(d.len(), 6);
    assert!(d.source.contains("cifar-10-binary.tar.gz"), "{}", d.source);
    match missing {
        Err(Error::Io(m)) => assert!(m.contains("missing.bin"), "{m}"),
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

/// The longest message a bad file may produce: the page shows it in a box of a few lines.
const LONGEST_MESSAGE: usize = 300;

fn assert_short(message: &str) {
    let chars = message.chars().count();
    assert!(
        chars <= LONGEST_MESSAGE,
        "a message of {chars} characters: {message:.400}"
    );
}

#[test]
fn messages_quote_long_names_shortened() {
    let c = Kind::Cifar10;
    // A 20 KB file name, as a URL or a crafted browser file may give; member names up to the tar reader's
    // 4 KB limit on GNU long names.
    let long = |tail: &str| format!("{}{tail}", "n".repeat(20_000));
    let member = |tail: &str| format!("{}/{tail}", "m".repeat(4000));
    let records = cifar_records(&[1, 2], 0);
    let named_member = |name: &str, data: &[u8]| {
        let mut long_name = name.as_bytes().to_vec();
        long_name.push(0);
        let mut archive = tar(&[
            Member {
                name: "././@LongLink",
                flag: b'L',
                data: &long_name,
            },
            file("x", data),
        ]);
        archive.truncate(archive.len() - 1024);
        archive
    };
    let archive = |members: &[Vec<u8>]| {
        let mut out = members.concat();
        out.resize(out.len() + 1024, 0);
        out
    };
    let skipped: Vec<_> = (0..7)
        .map(|i| named_member(&member(&format!("readme{i}.html")), b"hi"))
        .collect();
    let cases = [
        // Not a CIFAR-10 file; then two files holding the same batch.
        named(&[(&long(".bin"), records.clone())]),
        named(&[
            (&long("/data_batch_1.bin"), records.clone()),
            (&long("/data_batch_1.bin.gz"), gzip(&records)),
        ]),
        // A truncated batch, plain and gzipped; corrupt gzip.
        named(&[(&long("/test_batch.bin"), records[..100].to_vec())]),
        named(&[(&long("/test_batch.bin.gz"), gzip(&records[..100]))]),
        named(&[(&long(".gz"), gzip(&records)[..30].to_vec())]),
        // Archives: only members that are not batches, two members holding one batch, a truncated member.
        named(&[(&long(".tar"), archive(&skipped))]),
        named(&[(
            &long(".tar.gz"),
            gzip(&archive(&[
                named_member(&member("data_batch_1.bin"), &records),
                named_member(&member("data_batch_1.bin"), &records),
            ])),
        )]),
        named(&[(
            &long(".tar"),
            named_member(&member("data_batch_1.bin"), &records)[..1500].to_vec(),
        )]),
    ];
    for files in &cases {
        let message = load_error(c, files);
        assert!(message.contains('…'), "{message:.400}");
        assert_short(&message);
    }
    // MNIST: a file without its pair, counts that differ, a bad magic number.
    let m = Kind::MnistIdx;
    for files in [
        named(&[(&long("train-images-idx3-ubyte"), idx_images(2, 28, 28, 0))]),
        named(&[
            (&long("train-images-idx3-ubyte"), idx_images(2, 28, 28, 0)),
            (&long("train-labels-idx1-ubyte"), idx_labels(&[1, 2, 3])),
        ]),
        named(&[(
            &long("train-labels-idx1-ubyte"),
            vec![1, 2, 3, 4, 0, 0, 0, 0],
        )]),
    ] {
        assert_short(&load_error(m, &files));
    }
    // Starting a file while another is open names both.
    let mut loader = Loader::new(c);
    loader.begin_file(&long("a"), None).unwrap();
    assert_short(&loader.begin_file(&long("b"), None).unwrap_err().to_string());
    assert_short(&"x".repeat(20_000).parse::<Kind>().unwrap_err().to_string());
}
