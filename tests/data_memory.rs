//! Memory while archives stream through the loader, counted by a global allocator (so this binary holds only
//! these tests): members the loader skips are passed over, not kept, however many there are or however big.
#[allow(dead_code)] // the fuzz tests use the rest
#[path = "fuzz/support.rs"]
mod support;

use flate2::{Compression, write::GzEncoder};
use hebbian_playground::data::loader::{Kind, Loader};
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use support::*;

/// Bytes allocated and not yet freed, and the most there have been since the last reset.
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

struct Counting;

// SAFETY: every call is forwarded to the system allocator unchanged; the counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// Tests run one at a time, so that each measures only its own allocations.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The most bytes the loader may hold beyond what it had when the archive started: gzip's 32 KB window and
/// its output, one tar block, one GNU long name of at most 4 KB, the batch of two records. Keeping each
/// skipped member's name, as the loader once did, takes 4 KB per member: tens of megabytes here.
const BOUND: usize = 1 << 20;

/// One skipped member: a GNU long name of 4000 bytes, then an empty regular file it names.
fn long_named_member() -> Vec<u8> {
    let mut name = format!("{}/readme.html", "n".repeat(3988)).into_bytes();
    name.push(0);
    let mut unit = tar(&[
        Member {
            name: "././@LongLink",
            flag: b'L',
            data: &name,
        },
        file("short", b""),
    ]);
    unit.truncate(unit.len() - 1024);
    unit
}

/// Streams an archive of `members` long-named skipped members, one skipped member of `big` bytes and one
/// CIFAR-10 batch into a loader in 64 KB chunks, gzipped on the way when `gz`; returns the most bytes
/// allocated at once beyond those live when it began.
fn stream(members: usize, big: usize, gz: bool) -> usize {
    let unit = long_named_member();
    let mut header = tar(&[file("big.bin", b"")]);
    header.truncate(512);
    header[124..136].copy_from_slice(format!("{big:011o}\0").as_bytes());
    fix_checksum(&mut header);
    let zeros = vec![0u8; 1 << 16];
    let batch = tar(&[file("data_batch_1.bin", &cifar_records(&[3, 7], 0))]);

    let mut loader = Loader::new(Kind::Cifar10);
    let mut encoder = gz.then(|| GzEncoder::new(Vec::with_capacity(1 << 20), Compression::fast()));
    let start = LIVE.load(Ordering::Relaxed);
    PEAK.store(start, Ordering::Relaxed);
    loader.begin_file("junk.tar", None).expect("begin");
    let mut push = |bytes: &[u8], loader: &mut Loader| match &mut encoder {
        Some(e) => {
            e.write_all(bytes).expect("gzip");
            let out = e.get_mut();
            loader.push(out).expect("push");
            out.clear();
        }
        None => loader.push(bytes).expect("push"),
    };
    for _ in 0..members {
        push(&unit, &mut loader);
    }
    push(&header, &mut loader);
    for left in (0..big).step_by(zeros.len()) {
        push(&zeros[..(big - left).min(zeros.len())], &mut loader);
    }
    push(&vec![0; big.next_multiple_of(512) - big], &mut loader);
    push(&batch, &mut loader);
    if let Some(e) = encoder.take() {
        loader.push(&e.finish().expect("gzip")).expect("push");
    }
    loader.end_file().expect("end");
    let peak = PEAK.load(Ordering::Relaxed) - start;
    let data = loader.finish().expect("the batch loads");
    assert_eq!(data.labels, vec![3, 7]);
    peak
}

#[test]
fn skipped_members_of_a_plain_tar_are_not_kept() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // 20 000 long-named members (92 MB) and a 64 MB member, none of them CIFAR-10 files.
    let peak = stream(20_000, 64 << 20, false);
    eprintln!("plain tar: at most {peak} bytes held");
    assert!(peak < BOUND, "streaming the tar held {peak} bytes at once");
}

#[test]
fn skipped_members_of_a_tar_gz_are_not_kept() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // Fewer members than the plain tar: gzip in a debug build is slow.
    let peak = stream(5_000, 8 << 20, true);
    eprintln!("tar.gz: at most {peak} bytes held");
    assert!(
        peak < BOUND,
        "streaming the tar.gz held {peak} bytes at once"
    );
}
