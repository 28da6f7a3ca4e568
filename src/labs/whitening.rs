//! The cost model of ZCA whitening, shared by the labs that whiten (Datasets, Hebbian CNN): how many rows a fit
//! uses, and the work and memory of the fit and of whitening, for the budgets.
use super::budget::Cost;

/// ZCA is fitted on at most this many training rows × features (e.g. 10,000 CIFAR-10 images or all 8,000
/// shipped digits), which keeps a browser fit to seconds; the CLI fits bigger sets through `hebbian data`.
const MAX_ZCA_VALUES: usize = 40_000_000;

/// Nanoseconds per multiply-add of the covariance (f64) and whitening products, natively (both cores; 0.1 covers
/// the shipped digits' whitening with their loading) and in wasm (one thread; from the page's 210 s for ZCA on
/// 4096 patches of 64 × 64).
const NS_PER_PRODUCT: f64 = 0.1;
const BROWSER_NS_PER_PRODUCT: f64 = 0.75;
/// Nanoseconds per d³ of the symmetric eigendecomposition, natively (0.8 measured at d = 2025) and in wasm.
const NS_PER_EIG: f64 = 1.0;
const BROWSER_NS_PER_EIG: f64 = 1.5;
/// d × d f64 matrices alive at once during the fit (covariance, eigenvectors, the eigensolver's workspace, the
/// whitening matrix); peak memory measured at d = 1024 and 2025 fits within it.
const ZCA_MATRICES: f64 = 8.0;

/// The cost of fitting ZCA on (at most [`MAX_ZCA_VALUES`] values of) `train` samples of `dim` features and
/// whitening them, `held` of them at once in f64 besides the fit's (the Datasets lab checks the whitened covariance of
/// the whole split; the CNN lab whitens a batch at a time), blamed on `field`: the labs that whiten share this
/// model.
pub fn zca_cost(cost: Cost, field: &str, train: f64, held: f64, dim: f64) -> Cost {
    let fit = zca_fit_rows(train as usize, dim as usize) as f64;
    cost.work_in(
        "covariance products",
        field,
        fit * dim * dim,
        NS_PER_PRODUCT,
        BROWSER_NS_PER_PRODUCT,
    )
    .work_in(
        "eigendecomposition steps (d³)",
        field,
        dim * dim * dim,
        NS_PER_EIG,
        BROWSER_NS_PER_EIG,
    )
    .work_in(
        "whitening products",
        field,
        train * dim * dim,
        NS_PER_PRODUCT,
        BROWSER_NS_PER_PRODUCT,
    )
    .memory(
        "the covariance, its eigenvectors and the whitening matrix",
        field,
        dim * dim * 8.0 * ZCA_MATRICES,
    )
    .memory(
        "f64 copies of the rows the covariances are summed from (the fit, then the check)",
        field,
        (fit + held) * dim * 8.0,
    )
}

/// Rows a ZCA fit uses of `rows` samples of `dim` features: all of them, up to [`MAX_ZCA_VALUES`] values.
pub fn zca_fit_rows(rows: usize, dim: usize) -> usize {
    (MAX_ZCA_VALUES / dim.max(1)).min(rows)
}
