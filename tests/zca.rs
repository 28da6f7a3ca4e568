//! ZCA whitening (data/zca.rs) and the matrix-product kernels it runs on (kernels/matmul.rs): the GPU against
//! the CPU twins on the native GPU (lavapipe in CI), the whitening's defining properties, its errors, and an
//! ignored benchmark at CIFAR-10 size.
mod common;

use common::compare::assert_close;
use hebbian_playground::data::photos::{self, Patches, Photo};
use hebbian_playground::data::zca::{self, Rows, Samples, Zca};
use hebbian_playground::data::{Dataset, Shape, Split, Values};
use hebbian_playground::engine::Engine;
use hebbian_playground::error::Error;
use hebbian_playground::kernels::matmul;
use hebbian_playground::rng;
use ndarray::{Array1, Array2, ArrayView2, CowArray, Ix2, s};
use std::ops::Range;

/// Standard normals, element (i, j) from Philox counter (i, j / 4), lane j % 4.
fn normals(rows: usize, cols: usize, seed: u32) -> Array2<f32> {
    let mut m = Array2::zeros((rows, cols));
    for (i, mut row) in m.rows_mut().into_iter().enumerate() {
        for (q, chunk) in row.as_slice_mut().unwrap().chunks_mut(4).enumerate() {
            let z = rng::normal4([i as u32, q as u32, 0, 0], [seed, 0x5ca]);
            chunk.copy_from_slice(&z[..chunk.len()]);
        }
    }
    m
}

/// Correlated Gaussians with an offset: x = μ + z·diag(σ) + g·L, σ in [0.5, 2] and 8 shared factors g, so
/// every covariance eigenvalue is at least 0.25 (far above ε = 1e-3) and the features are strongly mixed.
fn correlated(n: usize, d: usize, seed: u32) -> Array2<f32> {
    let factors = 8;
    let sigma = Array1::from_shape_fn(d, |j| 0.5 + 1.5 * (j % 7) as f32 / 6.0);
    let loadings = normals(factors, d, seed ^ 0xface) / (factors as f32).sqrt();
    let mut x = normals(n, d, seed) * &sigma + normals(n, factors, seed ^ 0xbeef).dot(&loadings);
    x += &Array1::from_shape_fn(d, |j| (j as f32 * 0.37).sin() * 3.0);
    x
}

/// Sample covariance (n − 1) in f64.
fn covariance(x: ArrayView2<f32>) -> Array2<f64> {
    let x = x.mapv(f64::from);
    let c = &x - &x.mean_axis(ndarray::Axis(0)).unwrap();
    c.t().dot(&c) / (x.nrows() - 1) as f64
}

fn max_abs_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    assert_eq!(a.dim(), b.dim());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

fn whitened(zca: &Zca, x: &Array2<f32>) -> Array2<f32> {
    let mut y = x.clone();
    zca.apply_cpu(y.view_mut()).expect("apply");
    y
}

/// Columns of the Sylvester–Hadamard matrix of order `n` (a power of two), skipping the constant first one:
/// exactly zero-mean, mutually orthogonal ±1 columns.
fn hadamard_columns(n: usize, cols: usize) -> Array2<f32> {
    Array2::from_shape_fn((n, cols), |(i, j)| {
        if (i & (j + 1)).count_ones() % 2 == 0 {
            1.0
        } else {
            -1.0
        }
    })
}

#[test]
fn gram_and_product_match_cpu_on_odd_sizes() {
    let Some(gpu) = common::gpu() else { return };
    // (rows, cols, block rows): a 1×1, sizes that are no multiple of the 64-tile, and inputs spread over
    // many row blocks (16 and 6 blocks) so that accumulation across dispatches is exercised. Sums of up to 1000
    // products are added in another order than on the CPU, so the tolerance is 1e-4 and not the last ulp.
    for (n, d, block) in [
        (1, 1, 4096),
        (37, 19, 4096),
        (37, 19, 7),
        (300, 130, 4096),
        (1000, 70, 64),
    ] {
        let a = normals(n, d, 11);
        let cpu = matmul::gram_cpu(a.view());
        let out = pollster::block_on(matmul::gram_gpu(&gpu, a.view(), block)).expect("gpu gram");
        assert_eq!(cpu.dim(), out.dim());
        assert_close(
            &cpu,
            &out,
            1e-4,
            &format!("AᵀA of {n}×{d}, blocks of {block}"),
        );
        let b = normals(d, d + 5, 12);
        let cpu = matmul::product_cpu(a.view(), b.view());
        let out = pollster::block_on(matmul::product_gpu(&gpu, a.view(), b.view(), block))
            .expect("gpu product");
        assert_eq!(cpu.dim(), out.dim());
        assert_close(
            &cpu,
            &out,
            1e-4,
            &format!("A·B of {n}×{d}, blocks of {block}"),
        );
    }
}

/// 4096 grey patches of 16 × 16 pixels from the shipped photographs, centred in f32 as ZCA centres them:
/// realistic data whose covariance spans four decades of eigenvalues, down to a few ε.
fn photo_patches() -> (Array2<f32>, Array2<f32>) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/data/photos");
    let photos: Vec<Photo> = photos::shipped()
        .iter()
        .map(|(file, title, _)| {
            let png = std::fs::read(dir.join(file)).unwrap_or_else(|e| {
                panic!("{file}: {e} (run scripts/setup.sh for the photographs)")
            });
            Photo::from_png(file, title, &png).expect("png")
        })
        .collect();
    let d = Patches {
        size: 16,
        count: 4096,
    }
    .cut(&photos, 1)
    .expect("patches");
    let x = d.rows(&(0..d.len()).collect::<Vec<_>>());
    let mean = x.mean_axis(ndarray::Axis(0)).expect("rows");
    let centred = &x - &mean;
    (x, centred)
}

/// f32's unit roundoff, 2^-24.
const U: f64 = f32::EPSILON as f64 / 2.0;

/// Worst-case error of the GPU's Gram entry (i, j) in units of u · Σ_k |a_ki a_kj|: each product is rounded
/// once (1), each group of 16 products is summed plainly (15), and the compensated running sums and their
/// final addition cost about one rounding each (2). A plain f32 running sum over k rows may lose up to k.
const GRAM_ROUNDINGS: f64 = 18.0;

#[test]
fn gram_sums_are_compensated_over_long_inner_dimensions() {
    let Some(gpu) = common::gpu() else { return };
    // Realistic data, and a column whose plain f32 running sum drops every later term (1 + 10⁻⁸ rounds to 1):
    // it finds a shader compiler that simplifies the compensation away.
    let mut lost = Array2::<f32>::from_elem((4096, 2), 1e-4);
    lost.row_mut(0).fill(1.0);
    for (what, a) in [
        ("photo patches", photo_patches().1),
        ("1 then 4095 × 10⁻⁴", lost),
    ] {
        let exact = matmul::gram_cpu_f64(a.view());
        let magnitude = matmul::gram_cpu_f64(a.mapv(f32::abs).view());
        // One dispatch of 4096 rows, and 5 of at most 1000 accumulated across dispatches.
        for block in [4096, 1000] {
            let gpu_gram = pollster::block_on(matmul::gram_gpu_blocks(
                &gpu,
                a.nrows(),
                a.ncols(),
                block,
                |r| CowArray::from(a.slice(s![r, ..])),
            ))
            .expect("gpu gram");
            let worst = gpu_gram
                .iter()
                .zip(&exact)
                .zip(&magnitude)
                .map(|((g, e), m)| (g - e).abs() / (U * m))
                .fold(0.0, f64::max);
            eprintln!("{what}, blocks of {block}: worst Gram error {worst:.2} u of |A|ᵀ|A|");
            assert!(
                worst <= GRAM_ROUNDINGS,
                "{what}, blocks of {block}: a Gram entry is {worst:.1} u of its terms' magnitude from the exact \
                 sum (at most {GRAM_ROUNDINGS})"
            );
        }
    }
}

#[test]
fn kernels_read_transposed_views_in_logical_order() {
    let Some(gpu) = common::gpu() else { return };
    let a = normals(19, 37, 13);
    let cpu = matmul::gram_cpu(a.t());
    let out = pollster::block_on(matmul::gram_gpu(&gpu, a.t(), 8)).expect("gpu gram");
    assert_close(&cpu, &out, 1e-5, "AᵀA of a transposed view");
    let b = normals(23, 19, 14);
    let cpu = matmul::product_cpu(a.t(), b.t());
    let out = pollster::block_on(matmul::product_gpu(&gpu, a.t(), b.t(), 8)).expect("gpu product");
    assert_close(&cpu, &out, 1e-5, "A·B of transposed views");
}

#[test]
fn a_gram_matrix_beyond_one_binding_is_refused_before_allocating() {
    let Some(gpu) = common::gpu() else { return };
    // 5800² f32 is 134.6 MB, above the portable 128 MiB storage binding.
    let a = Array2::<f32>::zeros((2, 5800));
    match pollster::block_on(matmul::gram_gpu(&gpu, a.view(), 64)) {
        Err(Error::TooLarge { needed, limit, .. }) => assert!(needed > limit),
        other => panic!("expected a size error, got {:?}", other.map(|g| g.dim())),
    }
}

#[test]
fn whitened_data_has_identity_covariance() {
    for (n, d) in [(4000, 8), (6000, 64)] {
        let x = correlated(n, d, 1);
        let zca = Zca::fit_cpu(x.view(), zca::DEFAULT_EPS, false).expect("fit");
        let cov = covariance(whitened(&zca, &x).view());
        // W Σ W = U S/(S+ε) Uᵀ: at most ε / 0.25 = 0.004 from the identity, plus f32 rounding.
        let err = max_abs_diff(&cov, &Array2::eye(d));
        assert!(
            err < 5e-3,
            "d = {d}: covariance after whitening is {err} from I"
        );
        assert!(
            covariance(x.view()).iter().any(|&c| c.abs() > 0.5),
            "the test data must be correlated"
        );
    }
}

#[test]
fn the_matrix_is_exactly_symmetric() {
    let x = correlated(2000, 64, 2);
    let zca = Zca::fit_cpu(x.view(), 1e-3, false).expect("fit");
    assert_eq!(zca.matrix, zca.matrix.t());
}

#[test]
fn small_eigenvalues_are_shrunk_by_s_over_s_plus_eps() {
    // Orthogonal Hadamard columns scaled to sample variances v exactly, rotated by Q: Σ = Qᵀ diag(v) Q, so
    // W = Qᵀ diag((v + ε)^-½) Q and the whitened covariance is Qᵀ diag(v / (v + ε)) Q.
    let eps = 1e-3f64;
    let v = [2.0, 1e-3, 1e-4, 0.5];
    let n = 16;
    let mut z = hadamard_columns(n, 4);
    for (j, vj) in v.iter().enumerate() {
        z.column_mut(j)
            .mapv_inplace(|h| h * (vj * (n - 1) as f64 / n as f64).sqrt() as f32);
    }
    let (c1, s1, c2, s2) = (0.6f64.cos(), 0.6f64.sin(), 1.1f64.cos(), 1.1f64.sin());
    let q = ndarray::array![
        [c1, s1, 0.0, 0.0],
        [-s1, c1, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
        [0.0, 0.0, 0.0, 1.0]
    ]
    .dot(&ndarray::array![
        [1.0, 0.0, 0.0, 0.0],
        [0.0, c2, 0.0, s2],
        [0.0, 0.0, 1.0, 0.0],
        [0.0, -s2, 0.0, c2]
    ]);
    let mut x = z.mapv(f64::from).dot(&q).mapv(|a| a as f32);
    x += &ndarray::array![0.5f32, -1.0, 0.25, 2.0];
    let zca = Zca::fit_cpu(x.view(), eps as f32, false).expect("fit");
    let expect = |f: &dyn Fn(f64) -> f64| {
        q.t()
            .dot(&Array2::from_diag(&Array1::from_iter(
                v.iter().map(|&s| f(s)),
            )))
            .dot(&q)
    };
    let w = zca.matrix.mapv(f64::from);
    let w_expected = expect(&|s| (s + eps).powf(-0.5));
    assert!(
        max_abs_diff(&w, &w_expected) < 0.05,
        "W = {w:?}, expected {w_expected:?}"
    );
    let cov = covariance(whitened(&zca, &x).view());
    let shrunk = expect(&|s| s / (s + eps));
    assert!(
        max_abs_diff(&cov, &shrunk) < 2e-3,
        "whitened covariance {cov:?}, expected {shrunk:?}"
    );
    // The directions with variance ε and ε / 10 come out at one half and one eleventh.
    assert!((q.row(1).dot(&cov.dot(&q.row(1))) - 0.5).abs() < 2e-3);
    assert!((q.row(2).dot(&cov.dot(&q.row(2))) - 1.0 / 11.0).abs() < 2e-3);
}

#[test]
fn already_white_data_is_only_centred() {
    // Exactly unit sample covariance: Hadamard columns scaled by √(15/16), shifted by a mean.
    let n = 16;
    let mean = Array1::from_shape_fn(8, |j| j as f32 - 3.0);
    let x = hadamard_columns(n, 8) * (15.0f32 / 16.0).sqrt() + &mean;
    let eps = 1e-3;
    let zca = Zca::fit_cpu(x.view(), eps, false).expect("fit");
    let k = 1.0 / (1.0 + eps).sqrt();
    assert_close(
        &(Array2::<f32>::eye(8) * k),
        &zca.matrix,
        1e-5,
        "W of white data",
    );
    assert_close(&mean, &zca.mean, 1e-6, "mean");
    let expected = (&x - &mean) * k;
    assert_close(&expected, &whitened(&zca, &x), 1e-5, "whitened white data");
}

#[test]
fn standardising_divides_by_std_plus_eps_before_whitening() {
    let mut x = correlated(3000, 8, 3);
    for (j, mut col) in x.columns_mut().into_iter().enumerate() {
        col *= 10f32.powi(j as i32 % 4 - 1);
    }
    let eps = 1e-3;
    let zca = Zca::fit_cpu(x.view(), eps, true).expect("fit");
    let cov = covariance(x.view());
    let scale: Vec<f32> = (0..8)
        .map(|j| (cov[[j, j]].sqrt() + f64::from(eps)) as f32)
        .collect();
    assert_close(&scale, zca.scale.as_ref().expect("scale"), 1e-4, "std + ε");
    // The same as whitening data standardised by hand.
    let standardised = (&x - &Array1::from(zca.mean.clone())) / &Array1::from(scale);
    let plain = Zca::fit_cpu(standardised.view(), eps, false).expect("fit");
    assert!(plain.scale.is_none());
    assert_close(&plain.matrix, &zca.matrix, 1e-3, "W after standardising");
    assert_close(
        &whitened(&plain, &standardised),
        &whitened(&zca, &x),
        1e-3,
        "whitened",
    );
    let err = max_abs_diff(&covariance(whitened(&zca, &x).view()), &Array2::eye(8));
    assert!(err < 5e-3, "covariance after whitening is {err} from I");
}

#[test]
fn dataset_samples_fit_like_their_rows() {
    let n = 500;
    let bytes: Vec<u8> = normals(n, 12, 4)
        .iter()
        .map(|z| (128.0 + 30.0 * z).clamp(0.0, 255.0) as u8)
        .collect();
    let data = Dataset::new(
        "bytes",
        "test",
        Shape::image(3, 2, 2),
        Vec::new(),
        Values::Bytes {
            data: bytes,
            scale: 1.0 / 255.0,
        },
        Vec::new(),
        vec![Split::Train; n],
    )
    .expect("dataset");
    let indices: Vec<usize> = (0..n).step_by(2).collect();
    let rows = data.rows(&indices);
    let a = Zca::fit_cpu(
        Samples {
            dataset: &data,
            indices: &indices,
        },
        1e-3,
        true,
    )
    .expect("fit samples");
    let b = Zca::fit_cpu(rows.view(), 1e-3, true).expect("fit rows");
    assert_eq!(a, b);
}

#[test]
fn gpu_fit_and_apply_match_the_cpu() {
    let Some(gpu) = common::gpu() else { return };
    let x = correlated(5000, 64, 5);
    for standardise in [false, true] {
        let cpu = Zca::fit_cpu(x.view(), 1e-3, standardise).expect("cpu fit");
        let out =
            pollster::block_on(Zca::fit_gpu(&gpu, x.view(), 1e-3, standardise)).expect("gpu fit");
        assert_eq!(
            cpu.mean, out.mean,
            "the mean is computed on the CPU for both"
        );
        assert_eq!(out.matrix, out.matrix.t());
        assert_close(
            &cpu.matrix,
            &out.matrix,
            1e-3,
            &format!("W, standardise {standardise}"),
        );
        if let (Some(a), Some(b)) = (&cpu.scale, &out.scale) {
            assert_close(a, b, 1e-4, "scale");
        }
        let mut y = x.clone();
        pollster::block_on(cpu.apply_gpu(&gpu, y.view_mut())).expect("gpu apply");
        assert_close(&whitened(&cpu, &x), &y, 1e-4, "whitened rows");
    }
    let mut engine = Engine::Gpu(Box::new(gpu));
    let (zca, notice) =
        pollster::block_on(Zca::fit(&mut engine, x.view(), 1e-3, false)).expect("fit");
    assert!(notice.is_none(), "{notice:?}");
    let mut y = x.clone();
    assert!(
        pollster::block_on(zca.apply(&mut engine, y.view_mut()))
            .expect("apply")
            .is_none()
    );
    assert_eq!(engine.info().kind, "gpu");
}

/// W = f(Σ) with f(s) = (s + ε)^-½ (eigenvalues below zero count as zero, as in the fit).
fn whitening(s: f64, eps: f64) -> f64 {
    (s.max(0.0) + eps).powf(-0.5)
}

#[test]
fn gpu_and_cpu_whiten_photo_patches_alike_within_the_propagated_rounding() {
    let Some(gpu) = common::gpu() else { return };
    let eps = f64::from(zca::DEFAULT_EPS);
    let (x, a) = photo_patches();
    let n = x.nrows();
    let cpu = Zca::fit_cpu(x.view(), zca::DEFAULT_EPS, false).expect("cpu fit");
    let out =
        pollster::block_on(Zca::fit_gpu(&gpu, x.view(), zca::DEFAULT_EPS, false)).expect("gpu fit");
    // The tolerance, derived: the CPU's covariance is exact to f64 rounding and the GPU's is off by at most
    // E = 18 u |A|ᵀ|A| / (n − 1) elementwise (see GRAM_ROUNDINGS). To first order W = f(Σ) moves by
    // δW = U (F ∘ Uᵀ δΣ U) Uᵀ, F the divided differences of f over the eigenvalues (up to ε^-3/2 / 2 for
    // directions of no variance), so |δW| ≤ |U| (|F| ∘ |U|ᵀ E |U|) |U|ᵀ elementwise; rounding W to f32 adds
    // u |W|.
    let cov = matmul::gram_cpu_f64(a.view()) / (n - 1) as f64;
    let e = matmul::gram_cpu_f64(a.mapv(f32::abs).view()) * (GRAM_ROUNDINGS * U / (n - 1) as f64);
    let eigen = faer::Mat::from_fn(cov.nrows(), cov.ncols(), |i, j| cov[[i, j]])
        .self_adjoint_eigen(faer::Side::Lower)
        .expect("eigen");
    let lambda: Vec<f64> = eigen.S().column_vector().iter().copied().collect();
    let u_abs = Array2::from_shape_fn(cov.dim(), |(i, k)| eigen.U()[(i, k)].abs());
    let f = Array2::from_shape_fn(cov.dim(), |(p, q)| {
        let (lp, lq) = (lambda[p], lambda[q]);
        if (lp - lq).abs() > 1e-12 * lp.abs().max(lq.abs()) {
            ((whitening(lp, eps) - whitening(lq, eps)) / (lp - lq)).abs()
        } else {
            0.5 * (lp.max(0.0) + eps).powf(-1.5)
        }
    });
    let inner = u_abs.t().dot(&e).dot(&u_abs) * &f;
    let bound = u_abs.dot(&inner).dot(&u_abs.t());
    let (mut worst, mut ratio) = (0f64, 0f64);
    for ((c, g), b) in cpu.matrix.iter().zip(&out.matrix).zip(&bound) {
        let diff = f64::from((c - g).abs());
        let allowed = b + U * f64::from(c.abs());
        assert!(
            diff <= allowed,
            "W entry differs by {diff:e}, more than the propagated bound {allowed:e}"
        );
        worst = worst.max(diff);
        ratio = ratio.max(diff / allowed);
    }
    eprintln!(
        "W: largest |W| {}, largest GPU−CPU difference {worst:.3e}, at most {ratio:.2e} of its bound",
        cpu.matrix.iter().fold(0f32, |m, v| m.max(v.abs()))
    );
}

#[test]
fn a_lost_device_fits_and_whitens_on_the_cpu_with_a_notice() {
    let Some(gpu) = common::gpu() else { return };
    let x = correlated(1000, 16, 6);
    let expected = Zca::fit_cpu(x.view(), 1e-3, false).expect("cpu fit");
    let mut engine = Engine::Gpu(Box::new(gpu));
    engine.gpu().expect("gpu").simulate_loss();
    let (zca, notice) =
        pollster::block_on(Zca::fit(&mut engine, x.view(), 1e-3, false)).expect("fallback");
    assert!(notice.expect("a notice").contains("continues on the CPU"));
    assert_eq!(engine.info().kind, "cpu");
    assert_eq!(zca, expected);

    let mut engine = Engine::Gpu(Box::new(common::gpu().expect("a second device")));
    engine.gpu().expect("gpu").simulate_loss();
    let mut y = x.clone();
    let notice = pollster::block_on(zca.apply(&mut engine, y.view_mut())).expect("fallback");
    assert!(notice.expect("a notice").contains("continues on the CPU"));
    assert_eq!(y, whitened(&zca, &x));
}

/// Claims more features than can be fitted and panics if read: sizes must be refused first.
struct Unreadable(usize, usize);

impl Rows for Unreadable {
    fn samples(&self) -> usize {
        self.0
    }
    fn features(&self) -> usize {
        self.1
    }
    fn block(&self, _: Range<usize>) -> CowArray<'_, f32, Ix2> {
        panic!("read before the sizes were checked")
    }
}

#[test]
fn bad_inputs_are_refused_with_readable_errors() {
    let x = correlated(10, 3, 7);
    for eps in [0.0, -1e-3, f32::NAN, f32::INFINITY] {
        match Zca::fit_cpu(x.view(), eps, false) {
            Err(e @ Error::Invalid(_)) => {
                assert!(e.to_string().contains("ε must be a positive"), "{e}")
            }
            other => panic!("ε = {eps}: expected an invalid parameter, got {other:?}"),
        }
    }
    let data_error = |r: Result<Zca, Error>| match r {
        Err(Error::Data(m)) => m,
        other => panic!("expected a data error, got {other:?}"),
    };
    assert!(
        data_error(Zca::fit_cpu(x.slice(s![..1, ..]), 1e-3, false)).contains("at least 2 samples")
    );
    assert!(
        data_error(Zca::fit_cpu(x.slice(s![.., ..0]), 1e-3, false))
            .contains("at least one feature")
    );
    let mut bad = x.clone();
    bad[[3, 2]] = f32::NAN;
    assert!(
        data_error(Zca::fit_cpu(bad.view(), 1e-3, false)).contains("sample 3, feature 2 is NaN")
    );
    bad[[3, 2]] = f32::INFINITY;
    assert!(data_error(Zca::fit_cpu(bad.view(), 1e-3, false)).contains("is inf"));
    let huge = data_error(Zca::fit_cpu(Unreadable(100, 20_000), 1e-3, false));
    assert!(huge.contains("20000×20000 covariance"), "{huge}");
    assert!(data_error(Zca::fit_cpu(Unreadable(1, 5), 1e-3, false)).contains("got 1"));

    let zca = Zca::fit_cpu(x.view(), 1e-3, false).expect("fit");
    let mut wrong = Array2::<f32>::zeros((4, 5));
    let m = match zca.apply_cpu(wrong.view_mut()) {
        Err(Error::Data(m)) => m,
        other => panic!("expected a data error, got {other:?}"),
    };
    assert!(m.contains("fitted on 3 features but the data has 5"), "{m}");
    let broken = Zca {
        scale: Some(vec![1.0; 2]),
        ..zca
    };
    let mut right = Array2::<f32>::zeros((4, 3));
    assert!(
        matches!(broken.apply_cpu(right.view_mut()), Err(Error::Data(m)) if m.contains("inconsistent"))
    );
}

/// `cargo test --release --test zca -- --ignored --nocapture`: fits ZCA on 50 000 × 3072 correlated
/// Gaussians (CIFAR-10's size) on the CPU, and with the GPU covariance when an adapter is present; prints
/// one JSON line per measurement. ZCA_BENCH_N / ZCA_BENCH_D change the size (to measure the scaling).
#[test]
#[ignore]
fn zca_fit_benchmark_50000x3072() {
    let size = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .map_or(default, |v| v.parse().expect("a number"))
    };
    let (n, d) = (size("ZCA_BENCH_N", 50_000), size("ZCA_BENCH_D", 3072));
    let report = |what: &str, backend: &str, seconds: f64| {
        println!(
            r#"{{"bench":"{what}","n":{n},"d":{d},"backend":"{backend}","seconds":{seconds:.3}}}"#
        );
    };
    let t = std::time::Instant::now();
    let x = correlated(n, d, 8);
    report("generate data", "cpu", t.elapsed().as_secs_f64());
    let t = std::time::Instant::now();
    let cpu = Zca::fit_cpu(x.view(), zca::DEFAULT_EPS, false).expect("cpu fit");
    report("zca fit", "cpu", t.elapsed().as_secs_f64());
    let t = std::time::Instant::now();
    let cov = matmul::gram_cpu(x.slice(s![..n.min(4096), ..]));
    report("gram of 4096 rows", "cpu", t.elapsed().as_secs_f64());
    drop(cov);
    let mut y = x.slice(s![..n.min(10_000), ..]).to_owned();
    let t = std::time::Instant::now();
    cpu.apply_cpu(y.view_mut()).expect("apply");
    report(
        &format!("zca apply {} rows", y.nrows()),
        "cpu",
        t.elapsed().as_secs_f64(),
    );
    if let Some(gpu) = common::gpu() {
        let backend = gpu.adapter_name().replace('"', "'");
        // A software adapter (lavapipe) measures the CPU again, at a fraction of its speed: 50 000 × 3072
        // would take about half an hour there.
        if backend.ends_with(", Cpu)") && std::env::var("ZCA_BENCH_SOFTWARE_GPU").is_err() {
            println!(
                r#"{{"bench":"zca fit","backend":"{backend}","skipped":"software adapter; set ZCA_BENCH_SOFTWARE_GPU=1 to run"}}"#
            );
            return;
        }
        let t = std::time::Instant::now();
        let out = pollster::block_on(Zca::fit_gpu(&gpu, x.view(), zca::DEFAULT_EPS, false))
            .expect("gpu fit");
        report(
            "zca fit",
            &format!("gpu covariance: {backend}"),
            t.elapsed().as_secs_f64(),
        );
        assert_close(&cpu.matrix, &out.matrix, 1e-2, "W, GPU against CPU");
    }
}
