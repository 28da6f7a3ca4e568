//! CPU twin against GPU output, shared by the native and the in-browser kernel tests.

/// Elementwise |cpu − gpu| ≤ rel · (1 + |cpu|): the same integers drawn, floats apart by the GPU's log and sqrt.
pub fn assert_close<'a>(
    cpu: impl IntoIterator<Item = &'a f32>,
    gpu: impl IntoIterator<Item = &'a f32>,
    rel: f32,
    what: &str,
) {
    let mut n = 0;
    for (i, (a, b)) in cpu.into_iter().zip(gpu).enumerate() {
        assert!(
            (a - b).abs() <= rel * (1.0 + a.abs()),
            "{what}, element {i}: cpu {a} gpu {b}"
        );
        n += 1;
    }
    assert!(n > 0, "{what}: nothing compared");
}

/// Elementwise |cpu − gpu| ≤ `tol` over equally long sequences; returns (and prints) the largest difference.
pub fn assert_within<'a>(
    what: &str,
    cpu: impl IntoIterator<Item = &'a f32>,
    gpu: impl IntoIterator<Item = &'a f32>,
    tol: f32,
) -> f32 {
    let (cpu, gpu): (Vec<f32>, Vec<f32>) = (
        cpu.into_iter().copied().collect(),
        gpu.into_iter().copied().collect(),
    );
    assert_eq!(cpu.len(), gpu.len(), "{what}: lengths");
    let mut worst = 0f32;
    for (i, (a, b)) in cpu.iter().zip(&gpu).enumerate() {
        let d = (a - b).abs();
        assert!(d <= tol, "{what}, element {i}: cpu {a} gpu {b}");
        worst = worst.max(d);
    }
    eprintln!("{what}: max |cpu − gpu| = {worst:e}");
    worst
}
