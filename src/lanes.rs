//! Eight-lane access to f32 slices for the CPU path's element-wise passes (wide's `f32x8`: SSE/AVX natively,
//! simd128 or plain lanes in wasm). Rows of the CNN's planes are rarely a multiple of eight long (7 × 7, 14 × 14),
//! so loads pad the tail and stores write only the lanes inside the slice: pass them one row, never a whole
//! plane, or a tail would read and write the next row.
use wide::f32x8;

pub const LANES: usize = 8;

/// The eight values of `s` from `i` (zeros past the end).
#[inline]
pub fn load(s: &[f32], i: usize) -> f32x8 {
    match s.get(i..i + LANES) {
        Some(chunk) => f32x8::new(chunk.try_into().expect("eight values")),
        None => {
            let mut a = [0.0f32; LANES];
            let tail = &s[i..];
            a[..tail.len()].copy_from_slice(tail);
            f32x8::new(a)
        }
    }
}

/// Writes the lanes of `v` that fall inside `s`, from `i`.
#[inline]
pub fn store(s: &mut [f32], i: usize, v: f32x8) {
    let n = (s.len() - i).min(LANES);
    s[i..i + n].copy_from_slice(&v.to_array()[..n]);
}

/// vᵖ for v ≥ 0 (0 at v = 0), as exp(p·ln v).
#[inline]
pub fn pow(v: f32x8, p: f32) -> f32x8 {
    let zero = v.simd_le(f32x8::ZERO);
    zero.select(f32x8::ZERO, (f32x8::splat(p) * v.ln()).exp())
}
