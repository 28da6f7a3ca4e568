//! Tiled f32 matrix products for whitening large data: CPU twins and GPU dispatch of kernels/matmul.wgsl.
//!
//! Two shapes, both from one kernel: the Gram matrix `C = AᵀA` of a tall A (n×d, CIFAR-10 is 50 000×3072,
//! 614 MB as f32: far above the portable 128 MiB storage binding), accumulated on the GPU over row blocks
//! that each fit one binding; and `Y = A·B` for applying a resident d×d matrix to row blocks. Only the upper
//! triangle of a Gram matrix is computed (it is symmetric), which halves the work; the host mirrors it.
use crate::engine::Gpu;
use crate::error::{Error, Result};
use ndarray::{Array2, ArrayView2, CowArray, Ix2, s};
use std::ops::Range;

/// Rows and columns of C per workgroup (16×16 invocations × 4×4 values each), as in matmul.wgsl.
const TILE: usize = 64;

/// Rows of A per dispatch unless the caller asks otherwise: 4096 × 3072 f32 is 48 MiB, well inside one
/// binding, and a dispatch this size stays far below the ~2 s after which desktop drivers reset the GPU.
pub const DEFAULT_BLOCK_ROWS: usize = 4096;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct GemmParams {
    m: u32,
    k: u32,
    p: u32,
    trans_a: u32,
    accumulate: u32,
    upper: u32,
    tiles_p: u32,
    /// Always 1: see `one` in matmul.wgsl.
    one: f32,
}

pub fn source() -> String {
    include_str!("matmul.wgsl").to_string()
}

pub(crate) fn layouts() -> Vec<super::prelude::Layout> {
    vec![super::prelude::layout!(
        "matmul",
        "GemmParams",
        GemmParams,
        m,
        k,
        p,
        trans_a,
        accumulate,
        upper,
        tiles_p,
        one
    )]
}

// The CPU's matrix products: one routine, `gemm`, for every GEMM-shaped piece of work in the crate (whitening,
// batched learning rules, outer-product storage). It is faer's matrix product (pure Rust, cache-blocked SIMD
// kernels chosen at run time; already our eigensolver's library): ~2.5× ndarray's matrixmultiply on this machine,
// on both cores natively (faer's global parallelism) and sequential in wasm, which has no threads. Figures beside
// NumPy's are in README (`scripts/bench.sh`).

/// a · b, in f32 or f64.
fn gemm<T: ndarray::LinalgScalar + faer::traits::ComplexField>(
    a: ArrayView2<T>,
    b: ArrayView2<T>,
) -> Array2<T> {
    let (m, n) = (a.nrows(), b.ncols());
    let mut out = Array2::<T>::zeros((m, n));
    if m == 0 || n == 0 {
        return out;
    }
    let slice = out
        .as_slice_mut()
        .expect("a freshly allocated array is contiguous");
    faer::linalg::matmul::matmul(
        faer::MatMut::from_row_major_slice_mut(slice, m, n),
        faer::Accum::Replace,
        faer_view(a),
        faer_view(b),
        T::one(),
        faer::get_global_parallelism(),
    );
    out
}

/// out = a·b, or out += a·b with `accumulate`, in place (f32), on every core: the GEMM of the convolutions'
/// im2col blocks.
pub fn gemm_into(
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    accumulate: bool,
    out: ndarray::ArrayViewMut2<f32>,
) {
    gemm_into_on(a, b, accumulate, out, faer::get_global_parallelism());
}

/// [`gemm_into`] on the calling thread alone: for blocks that already run in parallel with each other (a
/// convolution's image blocks), where splitting each small product again would only add synchronisation.
pub fn gemm_into_serial(
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    accumulate: bool,
    out: ndarray::ArrayViewMut2<f32>,
) {
    gemm_into_on(a, b, accumulate, out, faer::Par::Seq);
}

fn gemm_into_on(
    a: ArrayView2<f32>,
    b: ArrayView2<f32>,
    accumulate: bool,
    mut out: ndarray::ArrayViewMut2<f32>,
    par: faer::Par,
) {
    assert_eq!(
        (out.nrows(), out.ncols(), a.ncols()),
        (a.nrows(), b.ncols(), b.nrows()),
        "gemm shapes"
    );
    if out.is_empty() {
        return;
    }
    let [rs, cs] = [out.strides()[0], out.strides()[1]];
    let (m, n) = (out.nrows(), out.ncols());
    // SAFETY: as in `faer_view`, for a mutable view: ndarray guarantees the pointer with these strides addresses
    // exactly the view's elements, valid and exclusively borrowed for its lifetime.
    let dst = unsafe { faer::MatMut::from_raw_parts_mut(out.as_mut_ptr(), m, n, rs, cs) };
    let accum = if accumulate {
        faer::Accum::Add
    } else {
        faer::Accum::Replace
    };
    faer::linalg::matmul::matmul(dst, accum, faer_view(a), faer_view(b), 1.0f32, par);
}

/// The same matrix as a faer view, sharing memory (any strides, transposed views included).
fn faer_view<T>(a: ArrayView2<'_, T>) -> faer::MatRef<'_, T> {
    let [rs, cs] = [a.strides()[0], a.strides()[1]];
    // SAFETY: ndarray guarantees that `as_ptr` with these element strides addresses exactly the view's
    // nrows × ncols elements, all valid and immutable for the view's lifetime: what faer's raw view requires.
    unsafe { faer::MatRef::from_raw_parts(a.as_ptr(), a.nrows(), a.ncols(), rs, cs) }
}

/// CPU twin of the Gram matrix: AᵀA.
pub fn gram_cpu(a: ArrayView2<f32>) -> Array2<f32> {
    gemm(a.t(), a)
}

/// AᵀA in f64: products of f32 values are exact in f64 and the sums lose about 2^-53 of their terms'
/// magnitude, so this is the Gram matrix of `a` as closely as the GPU's compensated f32 sums can be compared.
pub fn gram_cpu_f64(a: ArrayView2<f32>) -> Array2<f64> {
    let a = a.mapv(f64::from);
    gemm(a.t(), a.view())
}

/// CPU twin of the product: A·B.
pub fn product_cpu(a: ArrayView2<f32>, b: ArrayView2<f32>) -> Array2<f32> {
    gemm(a, b)
}

/// AᵀB without forming Aᵀ (a strided view): the batched outer products of learning rules.
pub fn product_tn_cpu(a: ArrayView2<f32>, b: ArrayView2<f32>) -> Array2<f32> {
    gemm(a.t(), b)
}

/// AᵀA on the GPU, reading A at most `block_rows` rows per dispatch, rounded to f32 like its CPU twin's.
pub async fn gram_gpu(gpu: &Gpu, a: ArrayView2<'_, f32>, block_rows: usize) -> Result<Array2<f32>> {
    let gram = gram_gpu_blocks(gpu, a.nrows(), a.ncols(), block_rows, |r| {
        CowArray::from(a.slice(s![r, ..]))
    })
    .await?;
    Ok(gram.mapv(|g| g as f32))
}

/// AᵀA on the GPU for an A of `rows` × `cols` that is never whole in memory: `block` hands over the rows in
/// a range (e.g. centred on the fly). Blocks have at most `block_rows` rows, fewer when a block would not
/// fit one storage binding. Accumulates in compensated f32 on the device (a sum and its rounding error, see
/// matmul.wgsl), which the result adds in f64: within a few units of f32 rounding of the terms' magnitude
/// however many rows there are.
pub async fn gram_gpu_blocks<'a>(
    gpu: &Gpu,
    rows: usize,
    cols: usize,
    block_rows: usize,
    mut block: impl FnMut(Range<usize>) -> CowArray<'a, f32, Ix2>,
) -> Result<Array2<f64>> {
    if rows == 0 || cols == 0 {
        return Ok(Array2::zeros((cols, cols)));
    }
    let c_bytes = (cols as u64).pow(2) * 4;
    gpu.check_size("the Gram matrix", c_bytes)?;
    let tiles = cols.div_ceil(TILE);
    let groups = (tiles * (tiles + 1) / 2) as u32;
    gpu.check_workgroups("the Gram matrix", groups)?;
    let step = rows_per_block(block_rows, cols, usize::MAX);
    gpu.check_size(
        "one row block of the Gram matrix's input",
        (step * cols * 4) as u64,
    )?;
    let pipeline = gpu.pipeline("matmul", &source(), "gemm").await?;
    let c = output(gpu, "gram", c_bytes);
    let c_lo = output(gpu, "gram rounding errors", c_bytes);
    let mut start = 0;
    let mut read = Vec::new();
    while start < rows {
        let end = (start + step).min(rows);
        let a = block(start..end);
        if a.dim() != (end - start, cols) {
            return Err(Error::Gpu(format!(
                "row block {start}..{end} has shape {:?}, expected ({}, {cols})",
                a.dim(),
                end - start
            )));
        }
        let a = upload(gpu, "gram input block", a.view())?;
        let params = GemmParams {
            m: cols as u32,
            k: (end - start) as u32,
            p: cols as u32,
            trans_a: 1,
            accumulate: 1,
            upper: 1,
            tiles_p: tiles as u32,
            one: 1.0,
        };
        let uniform = gpu.uniform("gram params", bytemuck::bytes_of(&params))?;
        // The last block reads C back. The others read one value: waiting for each block keeps one block in
        // flight, so the host never queues uploads faster than the GPU consumes them.
        let last = end == rows;
        let reads: &[(&wgpu::Buffer, u64)] = if last {
            &[(&c, c_bytes), (&c_lo, c_bytes)]
        } else {
            &[(&c, 4)]
        };
        read = gpu
            .dispatch(&pipeline, &[&uniform, &a, &a, &c, &c_lo], groups, reads)
            .await?;
        start = end;
    }
    let hi: Vec<f32> = bytemuck::pod_collect_to_vec(&read[0]);
    let lo: Vec<f32> = bytemuck::pod_collect_to_vec(&read[1]);
    let sum = hi
        .iter()
        .zip(&lo)
        .map(|(&h, &l)| f64::from(h) + f64::from(l))
        .collect();
    let mut gram = Array2::from_shape_vec((cols, cols), sum)
        .map_err(|e| Error::Gpu(format!("unexpected Gram matrix layout: {e}")))?;
    for i in 1..cols {
        for j in 0..i {
            gram[[i, j]] = gram[[j, i]];
        }
    }
    Ok(gram)
}

/// A·B on the GPU, reading A at most `block_rows` rows per dispatch.
pub async fn product_gpu(
    gpu: &Gpu,
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    block_rows: usize,
) -> Result<Array2<f32>> {
    RightFactor::new(gpu, b)?.left_multiply(a, block_rows).await
}

/// A matrix B kept on the GPU, so that many row blocks of A can be multiplied by it with one upload.
pub struct RightFactor<'g> {
    gpu: &'g Gpu,
    buffer: wgpu::Buffer,
    rows: usize,
    cols: usize,
}

impl<'g> RightFactor<'g> {
    /// Uploads B, refusing it when it does not fit one storage binding.
    pub fn new(gpu: &'g Gpu, b: ArrayView2<'_, f32>) -> Result<Self> {
        gpu.check_size("the right-hand matrix", b.len() as u64 * 4)?;
        let buffer = upload(gpu, "right-hand matrix", b)?;
        Ok(Self {
            gpu,
            buffer,
            rows: b.nrows(),
            cols: b.ncols(),
        })
    }

    /// A·B, at most `block_rows` rows of A per dispatch (fewer when a block or its result would not fit
    /// one binding, or would need more workgroups than a dispatch allows).
    pub async fn left_multiply(
        &self,
        a: ArrayView2<'_, f32>,
        block_rows: usize,
    ) -> Result<Array2<f32>> {
        let (n, k, p) = (a.nrows(), self.rows, self.cols);
        if a.ncols() != k {
            return Err(Error::Gpu(format!(
                "cannot multiply {n}×{} by {k}×{p}",
                a.ncols()
            )));
        }
        let mut y = Array2::zeros((n, p));
        if n == 0 || p == 0 {
            return Ok(y);
        }
        let gpu = self.gpu;
        let tiles_p = p.div_ceil(TILE);
        let max_groups = wgpu::Limits::default().max_compute_workgroups_per_dimension as usize;
        let step = rows_per_block(block_rows, k.max(p), TILE * (max_groups / tiles_p).max(1));
        let pipeline = gpu.pipeline("matmul", &source(), "gemm").await?;
        // A product does not accumulate, so the kernel's rounding-error output is never written.
        let unused = output(gpu, "unused rounding errors", 4);
        let mut start = 0;
        while start < n {
            let end = (start + step).min(n);
            let rows = end - start;
            let (a_bytes, y_bytes) = ((rows * k * 4) as u64, (rows * p * 4) as u64);
            gpu.check_size("one row block of the left-hand matrix", a_bytes)?;
            gpu.check_size("one row block of the product", y_bytes)?;
            let groups = (rows.div_ceil(TILE) * tiles_p) as u32;
            gpu.check_workgroups("one row block of the product", groups)?;
            let block = upload(gpu, "left-hand block", a.slice(s![start..end, ..]))?;
            let out = output(gpu, "product block", y_bytes);
            let params = GemmParams {
                m: rows as u32,
                k: k as u32,
                p: p as u32,
                trans_a: 0,
                accumulate: 0,
                upper: 0,
                tiles_p: tiles_p as u32,
                one: 1.0,
            };
            let uniform = gpu.uniform("product params", bytemuck::bytes_of(&params))?;
            let read = gpu
                .dispatch(
                    &pipeline,
                    &[&uniform, &block, &self.buffer, &out, &unused],
                    groups,
                    &[(&out, y_bytes)],
                )
                .await?;
            let values: Vec<f32> = bytemuck::pod_collect_to_vec(&read[0]);
            let values = ArrayView2::from_shape((rows, p), &values)
                .map_err(|e| Error::Gpu(format!("unexpected product layout: {e}")))?;
            y.slice_mut(s![start..end, ..]).assign(&values);
            start = end;
        }
        Ok(y)
    }
}

/// Rows per block: what the caller asked for, within one portable storage binding for `cols` f32 columns
/// and within `cap`. At least one row; a row too wide for a binding is refused by the caller's size check.
fn rows_per_block(requested: usize, cols: usize, cap: usize) -> usize {
    let limits = wgpu::Limits::default();
    let binding = limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size);
    let by_binding = usize::try_from(binding / (cols as u64 * 4)).unwrap_or(usize::MAX);
    requested.min(by_binding).min(cap).max(1)
}

/// A storage buffer holding `m` in row-major order (copied first only when it is not laid out that way).
fn upload(gpu: &Gpu, label: &str, m: ArrayView2<'_, f32>) -> Result<wgpu::Buffer> {
    let m = m.as_standard_layout();
    let values = m.as_slice().expect("a standard-layout array is contiguous");
    gpu.storage(label, bytemuck::cast_slice(values))
}

/// A buffer the kernel writes and the host reads back. New buffers are zero-filled by wgpu (a WebGPU
/// guarantee), so nothing is uploaded: for a 3072² Gram matrix that saves 38 MB of zeros.
fn output(gpu: &Gpu, label: &str, bytes: u64) -> wgpu::Buffer {
    gpu.device().create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.max(4),
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    })
}
