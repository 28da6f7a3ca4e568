//! What the rules do on average, for the theory overlays and the tests that hold the simulations to it
//! (Dayan & Abbott ch. 8): ⟨Δw⟩ = Q w for Hebb, so w turns to the principal eigenvector e₁ of Q and ln‖w‖ grows
//! at η λ₁ per update; Oja's and clipped Hebb's fixed points lie on ±e₁.
use super::Rule;

/// The matrix whose principal axis the rule's average update follows, for inputs of covariance `cov` and mean
/// `mean`: the covariance Σ for the covariance rule (it subtracts the mean), the correlation ⟨uuᵀ⟩ = Σ + μμᵀ
/// for the others.
pub fn drive(rule: Rule, cov: [[f64; 2]; 2], mean: [f64; 2]) -> [[f64; 2]; 2] {
    let [mx, my] = if rule == Rule::Covariance {
        [0.0, 0.0]
    } else {
        mean
    };
    [
        [cov[0][0] + mx * mx, cov[0][1] + mx * my],
        [cov[1][0] + mx * my, cov[1][1] + my * my],
    ]
}

/// Eigenvalues (λ₁ ≥ λ₂) and the unit principal eigenvector of a symmetric 2×2 matrix; no axis when
/// λ₁ = λ₂ (isotropic input has no preferred direction).
pub fn principal_axis(m: [[f64; 2]; 2]) -> (f64, f64, Option<[f64; 2]>) {
    let (a, b, c) = (m[0][0], m[0][1], m[1][1]);
    let mid = 0.5 * (a + c);
    let rad = (0.25 * (a - c) * (a - c) + b * b).sqrt();
    let (l1, l2) = (mid + rad, mid - rad);
    if rad <= 1e-12 * mid.abs().max(1.0) {
        return (l1, l2, None);
    }
    let v = if b.abs() > 1e-15 {
        [l1 - c, b]
    } else if a >= c {
        [1.0, 0.0]
    } else {
        [0.0, 1.0]
    };
    let n = (v[0] * v[0] + v[1] * v[1]).sqrt();
    (l1, l2, Some([v[0] / n, v[1] / n]))
}

/// Simple Hebb's growth rate of ln‖w‖ per update once w lies on e₁: η λ₁.
pub fn hebb_growth_rate(eta: f64, lambda1: f64) -> f64 {
    eta * lambda1
}
