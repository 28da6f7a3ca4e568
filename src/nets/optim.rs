//! Adam as PyTorch's `torch.optim.Adam` computes it (no weight decay, no amsgrad): the optimiser of the linear
//! probe (lr 1e-3) and of the end-to-end backprop baseline (lr 1e-2) of the Hebbian convolutional networks.
use crate::error::{Error, Result};

/// Adam's constants, step count and first and second moments of every parameter tensor it updates.
#[derive(Clone, Debug, PartialEq)]
pub struct Adam {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    step: i32,
    /// (m, v) per tensor, in the order of the sizes it was made with.
    moments: Vec<(Vec<f32>, Vec<f32>)>,
}

impl Adam {
    /// PyTorch's defaults (β 0.9, 0.999, ε 1e-8) for tensors of `sizes` entries.
    pub fn new(lr: f32, sizes: &[usize]) -> Self {
        Self {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            step: 0,
            moments: sizes
                .iter()
                .map(|&n| (vec![0.0; n], vec![0.0; n]))
                .collect(),
        }
    }

    /// Steps taken so far.
    pub fn steps(&self) -> i32 {
        self.step
    }

    /// The first and second moments of every tensor, in the order of the sizes it was made with.
    pub fn moments(&self) -> &[(Vec<f32>, Vec<f32>)] {
        &self.moments
    }

    /// Takes the step count and moments of a run continued elsewhere (the GPU's), refused unless every tensor
    /// has the size this optimiser was made for.
    pub fn restore(&mut self, steps: i32, moments: Vec<(Vec<f32>, Vec<f32>)>) -> Result<()> {
        let sizes = |m: &[(Vec<f32>, Vec<f32>)]| -> Vec<(usize, usize)> {
            m.iter().map(|(a, b)| (a.len(), b.len())).collect()
        };
        if sizes(&moments) != sizes(&self.moments) || steps < 0 {
            return Err(Error::Data(format!(
                "Adam state of {} tensors at step {steps} for an optimiser of {} tensors",
                moments.len(),
                self.moments.len()
            )));
        }
        self.step = steps;
        self.moments = moments;
        Ok(())
    }

    /// lr/(1 − β1^t) and √(1 − β2^t) of step t (counted from 1): what every parameter's update of that step
    /// shares, computed once here for the CPU and the GPU alike.
    pub fn factors(&self, t: i32) -> (f32, f32) {
        let bias1 = 1.0 - self.beta1.powi(t);
        (self.lr / bias1, (1.0 - self.beta2.powi(t)).sqrt())
    }

    /// One step over every tensor: `params[i] -= lr/(1−β1^t) · m / (√v/√(1−β2^t) + ε)`, PyTorch's order of
    /// operations (so the probe's numbers follow a PyTorch run's within float rounding).
    pub fn step(&mut self, params: &mut [&mut [f32]], grads: &[&[f32]]) {
        assert_eq!(params.len(), self.moments.len(), "one gradient per tensor");
        assert_eq!(grads.len(), self.moments.len(), "one gradient per tensor");
        self.step += 1;
        let (step_size, bias2_sqrt) = self.factors(self.step);
        for ((p, g), (m, v)) in params.iter_mut().zip(grads).zip(&mut self.moments) {
            assert_eq!((p.len(), g.len()), (m.len(), m.len()), "tensor sizes");
            for i in 0..m.len() {
                m[i] = self.beta1 * m[i] + (1.0 - self.beta1) * g[i];
                v[i] = self.beta2 * v[i] + (1.0 - self.beta2) * g[i] * g[i];
                let denom = v[i].sqrt() / bias2_sqrt + self.eps;
                p[i] -= step_size * m[i] / denom;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first Adam step moves every parameter by lr·sign(g) (m̂ = g, v̂ = g², up to ε); a constant gradient
    /// keeps doing so.
    #[test]
    fn first_steps_move_by_the_learning_rate_against_the_gradient() {
        let mut adam = Adam::new(0.01, &[3]);
        let mut p = vec![1.0f32, -2.0, 0.5];
        let g = [4.0f32, -0.001, 10.0];
        for t in 1..=3 {
            adam.step(&mut [&mut p], &[&g]);
            let want = [
                1.0 - 0.01 * t as f32,
                -2.0 + 0.01 * t as f32,
                0.5 - 0.01 * t as f32,
            ];
            for (a, b) in p.iter().zip(want) {
                assert!((a - b).abs() < 1e-5, "{p:?} vs {want:?} at step {t}");
            }
        }
        assert_eq!(adam.steps(), 3);
    }

    /// On f(p) = ½‖p − c‖² Adam ends near the minimum.
    #[test]
    fn minimises_a_quadratic() {
        let c = [3.0f32, -1.0];
        let mut p = vec![0.0f32, 0.0];
        let mut adam = Adam::new(0.05, &[2]);
        for _ in 0..2000 {
            let g: Vec<f32> = p.iter().zip(c).map(|(p, c)| p - c).collect();
            adam.step(&mut [&mut p], &[&g]);
        }
        assert!(
            (p[0] - 3.0).abs() < 1e-2 && (p[1] + 1.0).abs() < 1e-2,
            "{p:?}"
        );
    }
}
