//! Matrix products of small dense layers whose bits are the same natively and in the page's wasm, so that a
//! permalink reproduces a run exactly on either CPU engine. faer's GEMM sums in an order that depends on the
//! vector unit (AVX-512 natively, scalar in wasm); that is harmless for rules whose updates are smooth functions
//! of the weights, but perturbation rules divide a difference of two losses by a small σ, and one rounding
//! difference then grows into a different run within a few updates.
//!
//! Every output element here is summed in one fixed order: products of rows ([`nt`]) in sixteen interleaved
//! partial sums reduced in a fixed tree (`lanes`), products over the batch ([`tn`], [`nn`]) as a plain running
//! sum per element. Without fused multiply-adds or reassociation (Rust contracts neither) the order is the bits.
//! The inner loops are multiversioned like `lanes`; rayon splits output rows only, which fixes no order.
use crate::lanes::LANES;
use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

/// a·bᵀ for a [m, k] and b [p, k]: every entry a dot product of two rows.
pub fn nt(a: ArrayView2<f32>, b: ArrayView2<f32>) -> Array2<f32> {
    assert_eq!(a.ncols(), b.ncols(), "inner dimensions");
    let (a, b) = (a.as_standard_layout(), b.as_standard_layout());
    let p = b.nrows();
    let mut out = Array2::zeros((a.nrows(), p));
    let brows: Vec<&[f32]> = b
        .rows()
        .into_iter()
        .map(|r| r.to_slice().expect("standard"))
        .collect();
    rows_of(&mut out).for_each(|(i, o)| {
        let x = a.row(i);
        let x = x.to_slice().expect("standard");
        // Four rows of b at a time: four independent sums per load of x, each in `dot`'s order.
        let mut quads = o.chunks_exact_mut(4).zip(brows.chunks_exact(4));
        for (o, y) in &mut quads {
            o.copy_from_slice(&dot4(x, [y[0], y[1], y[2], y[3]]));
        }
        let done = p / 4 * 4;
        for (o, y) in o[done..].iter_mut().zip(&brows[done..]) {
            *o = dot(x, y);
        }
    });
    out
}

/// aᵀ·b for a [n, m] and b [n, p]: Σ over the rows n, in row order ([`nn`] of the transposed view).
pub fn tn(a: ArrayView2<f32>, b: ArrayView2<f32>) -> Array2<f32> {
    nn(a.t(), b)
}

/// a·b for a [m, k] and b [k, p]: Σ over k, in order.
pub fn nn(a: ArrayView2<f32>, b: ArrayView2<f32>) -> Array2<f32> {
    assert_eq!(a.ncols(), b.nrows(), "inner dimensions");
    let (k, p) = b.dim();
    let mut out = Array2::zeros((a.nrows(), p));
    if p == 0 || k == 0 {
        return out;
    }
    // Contiguous rows of a ([`tn`] hands a transposed view) and of b.
    let (a, b) = (a.as_standard_layout(), b.as_standard_layout());
    let (a, b) = (
        a.as_slice().expect("standard"),
        b.as_slice().expect("standard"),
    );
    out.as_slice_mut()
        .expect("fresh arrays are standard")
        .par_chunks_mut(p * ROWS)
        .zip(a.par_chunks(k * ROWS))
        .for_each(|(o, a)| rows_times(o, a, b, k, p));
    out
}

/// Output rows of [`nn`] computed together: each row of b is read once for all of them.
const ROWS: usize = 4;

/// Up to [`ROWS`] rows `o` [r, p] = `a` [r, k] · `b` [k, p], every element summed over k in order, a running sum
/// from zero. Tiles of rows × 64 (then × 16) columns keep their sums in registers while they run down b's rows,
/// which makes the product compute-bound rather than a stream of b per output row; the last columns (fewer
/// than sixteen) are summed one by one in the same order.
#[multiversion::multiversion(targets("x86_64+avx512f", "x86_64+avx2"))]
fn rows_times(o: &mut [f32], a: &[f32], b: &[f32], k: usize, p: usize) {
    let rows = o.len() / p;
    let wide = p / (4 * LANES) * (4 * LANES);
    let narrow = p / LANES * LANES;
    if rows == ROWS {
        for j in (0..wide).step_by(4 * LANES) {
            tile::<ROWS, { 4 * LANES }>(o, a, b, k, p, j);
        }
        for j in (wide..narrow).step_by(LANES) {
            tile::<ROWS, LANES>(o, a, b, k, p, j);
        }
    } else {
        for r in 0..rows {
            let (o, a) = (&mut o[r * p..], &a[r * k..]);
            for j in (0..wide).step_by(4 * LANES) {
                tile::<1, { 4 * LANES }>(o, a, b, k, p, j);
            }
            for j in (wide..narrow).step_by(LANES) {
                tile::<1, LANES>(o, a, b, k, p, j);
            }
        }
    }
    for r in 0..rows {
        for j in narrow..p {
            o[r * p + j] = (0..k).fold(0.0, |s, t| s + a[r * k + t] * b[t * p + j]);
        }
    }
}

/// Columns j … j + W of R rows of [`rows_times`], the sums held in registers.
#[inline(always)]
fn tile<const R: usize, const W: usize>(
    o: &mut [f32],
    a: &[f32],
    b: &[f32],
    k: usize,
    p: usize,
    j: usize,
) {
    let mut acc = [[0.0f32; W]; R];
    for t in 0..k {
        let y: &[f32; W] = b[t * p + j..t * p + j + W]
            .try_into()
            .expect("a whole tile");
        for (r, acc) in acc.iter_mut().enumerate() {
            let c = a[r * k + t];
            for l in 0..W {
                acc[l] += c * y[l];
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        o[r * p + j..r * p + j + W].copy_from_slice(acc);
    }
}

/// The rows of a fresh output, numbered, in parallel (one row per task at most).
fn rows_of(out: &mut Array2<f32>) -> impl ParallelIterator<Item = (usize, &mut [f32])> {
    let p = out.ncols().max(1);
    out.as_slice_mut()
        .expect("fresh arrays are standard")
        .par_chunks_mut(p)
        .enumerate()
}

/// Σ x_i y_i in sixteen partial sums (lane l takes i ≡ l mod 16), then the lanes pairwise.
#[multiversion::multiversion(targets("x86_64+avx512f", "x86_64+avx2"))]
fn dot(x: &[f32], y: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let chunks = x.len() / LANES;
    for c in 0..chunks {
        let (a, b) = (chunk(x, c), chunk(y, c));
        for l in 0..LANES {
            acc[l] += a[l] * b[l];
        }
    }
    let tail = chunks * LANES;
    for (l, (a, b)) in x[tail..].iter().zip(&y[tail..]).enumerate() {
        acc[l] += a * b;
    }
    let mut width = LANES / 2;
    while width > 0 {
        for l in 0..width {
            acc[l] += acc[l + width];
        }
        width /= 2;
    }
    acc[0]
}

/// Chunk `c` of sixteen values, as an array (which the vectoriser handles as one register).
#[inline(always)]
fn chunk(s: &[f32], c: usize) -> [f32; LANES] {
    s[c * LANES..(c + 1) * LANES]
        .try_into()
        .expect("a whole chunk")
}

/// [`dot`] of x with four vectors at once, each summed in `dot`'s order (the same bits as four calls).
#[multiversion::multiversion(targets("x86_64+avx512f", "x86_64+avx2"))]
fn dot4(x: &[f32], ys: [&[f32]; 4]) -> [f32; 4] {
    let mut acc = [[0.0f32; LANES]; 4];
    let chunks = x.len() / LANES;
    for c in 0..chunks {
        let a = chunk(x, c);
        for k in 0..4 {
            let b = chunk(ys[k], c);
            for l in 0..LANES {
                acc[k][l] += a[l] * b[l];
            }
        }
    }
    let tail = chunks * LANES;
    let mut out = [0.0f32; 4];
    for ((acc, y), out) in acc.iter_mut().zip(ys).zip(&mut out) {
        for (l, (a, b)) in x[tail..].iter().zip(&y[tail..]).enumerate() {
            acc[l] += a * b;
        }
        let mut width = LANES / 2;
        while width > 0 {
            for l in 0..width {
                acc[l] += acc[l + width];
            }
            width /= 2;
        }
        *out = acc[0];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(rows: usize, cols: usize, k: f32) -> Array2<f32> {
        Array2::from_shape_fn((rows, cols), |(i, j)| ((i * cols + j) as f32 * k).sin())
    }

    /// The three products against ndarray's, on shapes that are not multiples of sixteen.
    #[test]
    fn products_match_ndarray() {
        let (a, b) = (m(7, 37, 0.3), m(5, 37, 0.7));
        let close = |x: &Array2<f32>, y: &Array2<f32>| {
            assert_eq!(x.dim(), y.dim());
            for (u, v) in x.iter().zip(y) {
                assert!((u - v).abs() <= 1e-5 * (1.0 + v.abs()), "{u} vs {v}");
            }
        };
        close(&nt(a.view(), b.view()), &a.dot(&b.t()));
        let c = m(7, 3, 0.9);
        close(&tn(a.view(), c.view()), &a.t().dot(&c));
        close(&nn(c.t(), a.view()), &c.t().dot(&a));
        // Transposed views are read as they are.
        close(&nt(b.t().t(), a.view()), &b.dot(&a.t()));
    }

    /// [`nn`] and [`tn`] sum every element over k in order from zero, in the register tiles and outside them
    /// (rows past a multiple of four, columns past a multiple of 64 and of 16), whatever the vector unit.
    #[test]
    fn products_over_k_sum_in_order() {
        let (a, b) = (m(9, 23, 0.3), m(23, 157, 0.7));
        let naive = Array2::from_shape_fn((9, 157), |(i, j)| {
            (0..23).fold(0.0f32, |s, t| s + a[[i, t]] * b[[t, j]])
        });
        let bits = |x: &Array2<f32>| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&nn(a.view(), b.view())), bits(&naive));
        let at = a.t().to_owned();
        assert_eq!(bits(&tn(at.view(), b.view())), bits(&naive));
    }

    /// The vector unit's version gives the portable build's bits (the page's wasm computes the portable
    /// order).
    #[test]
    fn every_vector_unit_gives_the_same_bits() {
        let (x, y) = (m(1, 781, 0.37), m(1, 781, 0.11));
        let (x, y) = (x.as_slice().expect("row"), y.as_slice().expect("row"));
        let mut acc = [0.0f32; LANES];
        for i in 0..x.len() {
            acc[i % LANES] += x[i] * y[i];
        }
        let mut width = LANES / 2;
        while width > 0 {
            for l in 0..width {
                acc[l] += acc[l + width];
            }
            width /= 2;
        }
        assert_eq!(dot(x, y).to_bits(), acc[0].to_bits());
        let four = dot4(x, [y, x, y, y]);
        assert_eq!(
            four.map(f32::to_bits),
            [dot(x, y), dot(x, x), dot(x, y), dot(x, y)].map(f32::to_bits)
        );
    }
}
