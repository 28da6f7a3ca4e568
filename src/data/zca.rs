//! ZCA whitening (thesis Eqs 33-38): μ = mean(X), X̃ = X − μ, Σ = X̃ᵀX̃ / (n − 1), Σ = U S Uᵀ,
//! W = U (S + εI)^{-1/2} Uᵀ, X_ZCA = X̃ W. Of all whitening matrices W is the one that moves the data least,
//! so whitened images still look like images (edges kept, pixel correlations gone), which hard-WTA needs.
//!
//! The thesis code first standardises every feature, `(x − mean) / (std + ε)`; that is the `standardise`
//! option here, with the same ε. Unlike the printed code, which fits on HWC-flattened arrays and applies to
//! CHW tensors, samples are C×H×W everywhere in this crate, in the fit and in the transform alike.
//!
//! The covariance is the expensive part (n d² for CIFAR-10's 50 000 × 3072): it runs as a GPU Gram kernel
//! (kernels/matmul) over centred row blocks, accumulated in compensated f32, or on the CPU in f64, so that both
//! give the same matrix to a few units of f32 rounding. The eigendecomposition (d³) stays on the CPU
//! in f64 with faer, so that eigenvalues near ε, which set how strongly a direction is amplified, are exact
//! enough.
use crate::data::{Dataset, check_size};
use crate::engine::{Engine, Gpu};
use crate::error::{Error, FieldError, Result};
use crate::kernels::matmul;
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, CowArray, Ix2, s};
use std::ops::Range;

/// The thesis's whitening level (`whiten_lvl`).
pub const DEFAULT_EPS: f32 = 1e-3;

/// Rows per CPU block: big enough for an efficient matrix product, small enough that the centred copy of a
/// block of CIFAR-10 rows stays at 25 MB (and its f64 copy for the covariance at 50 MB).
const CPU_BLOCK_ROWS: usize = 2048;

/// Samples to whiten, handed over a block of rows at a time so that a large dataset (CIFAR-10 is 614 MB as
/// f32, stored as 150 MB of bytes) never has to exist whole as f32.
pub trait Rows {
    fn samples(&self) -> usize;
    fn features(&self) -> usize;
    /// Rows `range` as f32, borrowed where they already are.
    fn block(&self, range: Range<usize>) -> CowArray<'_, f32, Ix2>;
}

impl Rows for ArrayView2<'_, f32> {
    fn samples(&self) -> usize {
        self.nrows()
    }

    fn features(&self) -> usize {
        self.ncols()
    }

    fn block(&self, range: Range<usize>) -> CowArray<'_, f32, Ix2> {
        CowArray::from(self.slice(s![range, ..]))
    }
}

/// The samples of a dataset at `indices` (e.g. its training split), converted to f32 a block at a time.
#[derive(Clone, Copy)]
pub struct Samples<'a> {
    pub dataset: &'a Dataset,
    pub indices: &'a [usize],
}

impl Rows for Samples<'_> {
    fn samples(&self) -> usize {
        self.indices.len()
    }

    fn features(&self) -> usize {
        self.dataset.dim()
    }

    fn block(&self, range: Range<usize>) -> CowArray<'_, f32, Ix2> {
        CowArray::from(self.dataset.rows(&self.indices[range]))
    }
}

/// A fitted whitening transform: x ↦ ((x − mean) / scale) · matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct Zca {
    /// Per-feature mean of the fitted data.
    pub mean: Vec<f32>,
    /// Per-feature std + ε (sample std, n − 1), when the features were standardised before whitening.
    pub scale: Option<Vec<f32>>,
    /// W = U (S + εI)^{-1/2} Uᵀ, d×d and exactly symmetric.
    pub matrix: Array2<f32>,
    pub eps: f32,
}

impl Zca {
    /// Fits on the CPU.
    pub fn fit_cpu(x: impl Rows, eps: f32, standardise: bool) -> Result<Self> {
        check_fit(&x, eps)?;
        let mean = mean(&x)?;
        let gram = gram_cpu(&x, &mean);
        from_gram(mean, gram, x.samples(), eps, standardise)
    }

    /// Fits with the covariance from the GPU's Gram kernel; the eigendecomposition runs on the CPU.
    pub async fn fit_gpu(gpu: &Gpu, x: impl Rows, eps: f32, standardise: bool) -> Result<Self> {
        check_fit(&x, eps)?;
        let mean = mean(&x)?;
        let gram = gram_gpu(gpu, &x, &mean).await?;
        from_gram(mean, gram, x.samples(), eps, standardise)
    }

    /// Fits on the active engine; after a GPU failure (`Engine::run`) the CPU computes the covariance instead,
    /// and the notice says why.
    pub async fn fit(
        engine: &mut Engine,
        x: impl Rows,
        eps: f32,
        standardise: bool,
    ) -> Result<(Self, Option<String>)> {
        check_fit(&x, eps)?;
        let mean = mean(&x)?;
        let (gram, notice) = engine
            .run(
                &mut (),
                async |gpu, _| gram_gpu(gpu, &x, &mean).await,
                |_| Ok(gram_cpu(&x, &mean)),
            )
            .await?;
        Ok((
            from_gram(mean, gram, x.samples(), eps, standardise)?,
            notice,
        ))
    }

    /// Features per sample.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Whitens the rows of `x` in place on the CPU.
    pub fn apply_cpu(&self, mut x: ArrayViewMut2<'_, f32>) -> Result<()> {
        self.check_apply(&x)?;
        self.apply_cpu_from(&mut x, 0);
        Ok(())
    }

    /// Whitens the rows of `x` in place with the GPU's product kernel (W uploaded once).
    pub async fn apply_gpu(&self, gpu: &Gpu, mut x: ArrayViewMut2<'_, f32>) -> Result<()> {
        self.check_apply(&x)?;
        self.apply_gpu_from(gpu, &mut x, &mut 0).await
    }

    /// Whitens on the active engine. Rows are written a block at a time, so after a GPU failure (`Engine::run`)
    /// the CPU carries on from the first block not yet written.
    pub async fn apply(
        &self,
        engine: &mut Engine,
        x: ArrayViewMut2<'_, f32>,
    ) -> Result<Option<String>> {
        self.check_apply(&x)?;
        let ((), notice) = engine
            .run(
                &mut (x, 0),
                async |gpu, (x, done)| self.apply_gpu_from(gpu, x, done).await,
                |(x, done)| {
                    self.apply_cpu_from(x, *done);
                    Ok(())
                },
            )
            .await?;
        Ok(notice)
    }

    fn check_apply(&self, x: &ArrayViewMut2<'_, f32>) -> Result<()> {
        let d = self.dim();
        if self.matrix.dim() != (d, d) || self.scale.as_ref().is_some_and(|s| s.len() != d) {
            return Err(Error::Data(format!(
                "this ZCA transform is inconsistent: {d} means, a {:?} matrix and {:?} scales",
                self.matrix.dim(),
                self.scale.as_ref().map(Vec::len)
            )));
        }
        if x.ncols() != d {
            return Err(Error::Data(format!(
                "ZCA was fitted on {} features but the data has {}",
                self.dim(),
                x.ncols()
            )));
        }
        Ok(())
    }

    /// (x − mean) / scale for rows `range`: the input of the product with W.
    fn centred(&self, x: &ArrayViewMut2<'_, f32>, range: Range<usize>) -> Array2<f32> {
        let mut c = x.slice(s![range, ..]).to_owned();
        c -= &ArrayView2::from_shape((1, self.dim()), &self.mean).expect("mean has d values");
        if let Some(scale) = &self.scale {
            c /= &ArrayView2::from_shape((1, self.dim()), scale).expect("scale has d values");
        }
        c
    }

    fn apply_cpu_from(&self, x: &mut ArrayViewMut2<'_, f32>, from: usize) {
        let n = x.nrows();
        for start in (from..n).step_by(CPU_BLOCK_ROWS) {
            let end = (start + CPU_BLOCK_ROWS).min(n);
            let y = matmul::product_cpu(self.centred(x, start..end).view(), self.matrix.view());
            x.slice_mut(s![start..end, ..]).assign(&y);
        }
    }

    /// `done` counts the rows already whitened, so that a caller can finish them after an error.
    async fn apply_gpu_from(
        &self,
        gpu: &Gpu,
        x: &mut ArrayViewMut2<'_, f32>,
        done: &mut usize,
    ) -> Result<()> {
        let factor = matmul::RightFactor::new(gpu, self.matrix.view())?;
        let n = x.nrows();
        while *done < n {
            let end = (*done + matmul::DEFAULT_BLOCK_ROWS).min(n);
            let c = self.centred(x, *done..end);
            let y = factor
                .left_multiply(c.view(), matmul::DEFAULT_BLOCK_ROWS)
                .await?;
            x.slice_mut(s![*done..end, ..]).assign(&y);
            *done = end;
        }
        Ok(())
    }
}

/// Refuses what cannot be fitted, before anything is allocated.
fn check_fit(x: &impl Rows, eps: f32) -> Result<()> {
    if !(eps.is_finite() && eps > 0.0) {
        return Err(Error::Invalid(vec![FieldError::new(
            "eps",
            format!("ε must be a positive finite number, got {eps}"),
        )]));
    }
    let (n, d) = (x.samples(), x.features());
    if d == 0 {
        return Err(Error::Data(
            "ZCA needs samples with at least one feature".into(),
        ));
    }
    if n < 2 {
        return Err(Error::Data(format!(
            "ZCA needs at least 2 samples to estimate a covariance, got {n}"
        )));
    }
    // The eigensolve holds the covariance in f64 (and as many again for its eigenvectors).
    check_size(
        &format!("the {d}×{d} covariance for ZCA (f64, for the eigensolve)"),
        (d as u64).saturating_mul(d as u64).saturating_mul(8),
    )
}

/// Per-feature mean, summed in f64; refuses NaN and infinite values, naming the first.
fn mean(x: &impl Rows) -> Result<Array1<f32>> {
    let (n, d) = (x.samples(), x.features());
    let mut sum = vec![0f64; d];
    for start in (0..n).step_by(CPU_BLOCK_ROWS) {
        let end = (start + CPU_BLOCK_ROWS).min(n);
        for (i, row) in x.block(start..end).rows().into_iter().enumerate() {
            for (j, (s, &v)) in sum.iter_mut().zip(row).enumerate() {
                if !v.is_finite() {
                    return Err(Error::Data(format!(
                        "sample {}, feature {j} is {v}: ZCA needs finite values",
                        start + i
                    )));
                }
                *s += f64::from(v);
            }
        }
    }
    Ok(sum.into_iter().map(|s| (s / n as f64) as f32).collect())
}

fn centred_block(x: &impl Rows, range: Range<usize>, mean: &Array1<f32>) -> Array2<f32> {
    let mut b = x.block(range).into_owned();
    b -= mean;
    b
}

/// X̃ᵀX̃ of the f32 centred rows, in f64 (see `gram_gpu` for why).
fn gram_cpu(x: &impl Rows, mean: &Array1<f32>) -> Array2<f64> {
    let (n, d) = (x.samples(), x.features());
    let mut gram = Array2::<f64>::zeros((d, d));
    for start in (0..n).step_by(CPU_BLOCK_ROWS) {
        let block = centred_block(x, start..(start + CPU_BLOCK_ROWS).min(n), mean);
        gram += &matmul::gram_cpu_f64(block.view());
    }
    gram
}

/// X̃ᵀX̃ of the same f32 centred rows from the GPU's Gram kernel, in compensated f32.
///
/// Both paths compute the Gram matrix of the same f32 values nearly exactly (the CPU in f64, the GPU within
/// about 18 u of |X̃|ᵀ|X̃|, u = 2^-24), so that they give the same whitening: W's sensitivity to the
/// covariance reaches ε^-3/2 / 2 ≈ 16 000 in directions of near-zero variance, which turned the plain f32
/// sums' differences (~90 u) into W entries up to 0.025 apart on MNIST (tests/zca.rs states the bound).
async fn gram_gpu(gpu: &Gpu, x: &impl Rows, mean: &Array1<f32>) -> Result<Array2<f64>> {
    let (n, d) = (x.samples(), x.features());
    matmul::gram_gpu_blocks(gpu, n, d, matmul::DEFAULT_BLOCK_ROWS, |r| {
        CowArray::from(centred_block(x, r, mean))
    })
    .await
}

/// The whitening matrix from X̃ᵀX̃ of `n` samples.
fn from_gram(
    mean: Array1<f32>,
    gram: Array2<f64>,
    n: usize,
    eps: f32,
    standardise: bool,
) -> Result<Zca> {
    let d = mean.len();
    let eps64 = f64::from(eps);
    let mut cov = gram / (n - 1) as f64;
    // Standardising rescales the covariance: Σ' = D⁻¹ Σ D⁻¹ with D = diag(std + ε), no second pass needed.
    let scale = standardise.then(|| {
        let std: Vec<f64> = (0..d)
            .map(|j| cov[[j, j]].max(0.0).sqrt() + eps64)
            .collect();
        cov.indexed_iter_mut()
            .for_each(|((i, j), c)| *c /= std[i] * std[j]);
        std.into_iter().map(|s| s as f32).collect()
    });
    let eigen = faer::Mat::from_fn(d, d, |i, j| cov[[i, j]])
        .self_adjoint_eigen(faer::Side::Lower)
        .map_err(|_| {
            Error::Data(format!(
                "the eigendecomposition of the {d}×{d} covariance did not converge"
            ))
        })?;
    drop(cov);
    // W = V Vᵀ with V = U (S + εI)^{-1/4}. Rounding can leave eigenvalues of a singular covariance a hair
    // below zero; they are zero.
    let s = eigen.S().column_vector();
    let u = eigen.U();
    let v = faer::Mat::from_fn(d, d, |i, k| u[(i, k)] * (s[k].max(0.0) + eps64).powf(-0.25));
    drop(eigen);
    let w = v.as_ref() * v.transpose();
    // Mirrored from one triangle, so that W is symmetric to the last bit.
    let matrix = Array2::from_shape_fn((d, d), |(i, j)| w[(i.min(j), i.max(j))] as f32);
    Ok(Zca {
        mean: mean.to_vec(),
        scale,
        matrix,
        eps,
    })
}
