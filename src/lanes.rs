//! Sixteen-lane element-wise passes for the CPU path, written as plain per-lane loops that the compiler turns
//! into the vector unit's instructions. The passes that use them are multiversioned,
//! `#[multiversion(targets("x86_64+avx512f", "x86_64+avx2"))]` on each: compiled for AVX-512 and AVX2 beside the
//! portable build and chosen when they run (SSE2 otherwise; wasm's lanes or scalar code in the browser). What
//! they call from here is `#[inline(always)]`, so that it is compiled into each version.
//!
//! Every lane computes with the same IEEE operations in the same order whatever the width (no fused
//! multiply-adds, no reassociation), so these passes give the same bits on every vector unit and in wasm. That
//! is also why `exp` and `ln` are written here (Cephes' single-precision polynomials, within three ulp) rather
//! than taken from a SIMD library, whose functions cannot be compiled for a unit chosen at run time.
//!
//! Rows of the CNN's planes are rarely a multiple of sixteen long (7 × 7, 14 × 14), so loads pad the tail and
//! stores write only the lanes inside the slice: pass them one row, never a whole plane, or a tail would read
//! and write the next row.

pub const LANES: usize = 16;

/// One vector's worth of values.
pub type Lanes = [f32; LANES];

/// The sixteen values of `s` from `i` (zeros past the end).
#[inline(always)]
pub fn load(s: &[f32], i: usize) -> Lanes {
    match s.get(i..i + LANES) {
        Some(chunk) => chunk.try_into().expect("sixteen values"),
        None => {
            let mut a = [0.0f32; LANES];
            let tail = &s[i..];
            a[..tail.len()].copy_from_slice(tail);
            a
        }
    }
}

/// Writes the lanes of `v` that fall inside `s`, from `i`.
#[inline(always)]
pub fn store(s: &mut [f32], i: usize, v: &Lanes) {
    let n = (s.len() - i).min(LANES);
    s[i..i + n].copy_from_slice(&v[..n]);
}

/// e^x, within three ulp for x in [−87.3, 88]; clamped there (e^−87.3 ≈ 1.2e−38, the smallest normal).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    // Round x·log2(e) to the nearest integer n by adding 1.5·2^23, whose ulp is 1: n is then the low bits
    // of the sum (no float-to-int conversion, whose edge cases would stop the loop from vectorising).
    const MAGIC: f32 = 12_582_912.0;
    let x = x.clamp(-87.336_55, 88.0);
    let t = x * std::f32::consts::LOG2_E + MAGIC;
    let n = t - MAGIC;
    // x − n·ln 2 in two steps (ln 2 split so that n·hi is exact).
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let p = ((((1.987_569_2e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let y = p * (r * r) + r + 1.0;
    let k = t.to_bits().wrapping_sub(MAGIC.to_bits()) as i32;
    y * f32::from_bits(((k + 127) as u32) << 23)
}

/// ln x for x > 0 (values below the smallest normal are taken as it), within three ulp.
#[inline(always)]
pub fn ln(x: f32) -> f32 {
    const SQRT_HALF: f32 = std::f32::consts::FRAC_1_SQRT_2;
    let bits = x.max(f32::MIN_POSITIVE).to_bits();
    // x = m·2^e with m in [0.5, 1), then in [√½, √2) with z = m − 1 small.
    let e = ((bits >> 23) as i32 - 126) as f32;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000);
    let small = m < SQRT_HALF;
    let e = if small { e - 1.0 } else { e };
    let z = if small { m + m - 1.0 } else { m - 1.0 };
    let z2 = z * z;
    let p = (((((((7.037_683_6e-2 * z - 1.151_461e-1) * z + 1.167_699_9e-1) * z
        - 1.242_014_1e-1)
        * z
        + 1.424_932_3e-1)
        * z
        - 1.666_805_8e-1)
        * z
        + 2.000_071_5e-1)
        * z
        - 2.499_999_4e-1)
        * z
        + 3.333_333e-1;
    let y = z * z2 * p + e * -2.121_944_4e-4 - 0.5 * z2;
    z + y + e * 0.693_359_4
}

/// vᵖ for v ≥ 0 (0 at v = 0), as exp(p·ln v).
#[inline(always)]
pub fn pow(v: f32, p: f32) -> f32 {
    let y = exp(p * ln(v));
    if v > 0.0 { y } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Within three ulp of the correctly rounded values (f64's) over the ranges the CNN uses.
    #[test]
    fn exp_and_ln_are_accurate() {
        let ulp = |a: f32, b: f64| ((f64::from(a) - b) / b).abs() / f64::from(f32::EPSILON);
        for i in 0..20_000 {
            let x = -87.0 + 175.0 * i as f32 / 20_000.0;
            assert!(
                ulp(exp(x), f64::from(x).exp()) < 3.0,
                "exp({x}) = {}",
                exp(x)
            );
            let v = (1e-30 * 1.0069f64.powi(i)) as f32;
            assert!(
                (f64::from(ln(v)) - f64::from(v).ln()).abs()
                    < 3.0 * f64::from(f32::EPSILON) * f64::from(v).ln().abs().max(1.0),
                "ln({v}) = {}",
                ln(v)
            );
        }
        assert_eq!(pow(0.0, 0.7), 0.0);
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(ln(1.0), 0.0);
    }

    #[inline(always)]
    fn pass(xs: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0; xs.len()];
        for q in (0..xs.len()).step_by(LANES) {
            let v = load(xs, q);
            let mut y = [0.0; LANES];
            for i in 0..LANES {
                y[i] = pow(v[i].abs(), 0.7) + exp(v[i]) + ln(v[i].abs());
            }
            store(&mut out, q, &y);
        }
        out
    }

    #[multiversion::multiversion(targets("x86_64+avx512f", "x86_64+avx2"))]
    fn widest(xs: &[f32]) -> Vec<f32> {
        pass(xs)
    }

    /// The vector units' bits are the portable code's (the same operations lane by lane).
    #[test]
    fn every_vector_unit_gives_the_same_bits() {
        let xs: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.37).sin() * 9.0).collect();
        let (wide, plain) = (widest(&xs), pass(&xs));
        assert!(
            wide.iter()
                .zip(&plain)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
    }
}
