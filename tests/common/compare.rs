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
