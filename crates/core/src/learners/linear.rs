//! The linear expert: multinomial logistic regression over standardised features, learned
//! online with AdaGrad, one revealed sample at a time.
//!
//! On the W6 streams this is the learner that finds the little there is to find: a linear
//! model whose step sizes shrink as `1 / sqrt(sum of squared gradients)` averages the noise
//! out instead of chasing it (a constant-rate Adam on the same model does worse than the
//! class prior; measured in `BENCHMARKS.md`). It is one expert of the served mixture
//! ([`crate::lifecycle::mixture`]), with no hidden layer, so every update is a few hundred
//! flops.
//!
//! Inputs are standardised with running statistics (Welford, updated before each step) and
//! clipped to `[-CLIP, CLIP]`; arithmetic is `f64` and IEEE-exact, so results are the same
//! bits on every platform.

use alloc::vec;
use alloc::vec::Vec;

use crate::nn::Normalizer;
use crate::vocab::Outcome;

const CLASSES: usize = Outcome::COUNT;

/// Online softmax regression with per-weight AdaGrad step sizes.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearLearner {
    pub(crate) norm: Normalizer,
    /// `CLASSES x (dim + 1)`, class-major; each class's bias is its last weight.
    pub(crate) weights: Vec<f64>,
    /// Sums of squared gradients, same layout (start at `G0`).
    pub(crate) sq_grads: Vec<f64>,
    /// Samples learned.
    pub(crate) seen: u64,
    /// `1 / sd` per feature (0 where the sd is 0 or fewer than two samples were seen),
    /// derived from `norm` whenever it changes.
    inv_sd: Vec<f64>,
}

impl LinearLearner {
    /// Standardised inputs are clipped to `[-CLIP, CLIP]`.
    pub const CLIP: f64 = 5.0;
    /// Starting value of every squared-gradient sum (keeps the first step finite).
    pub const G0: f64 = 1e-8;

    /// An untrained model for `dim` features: every weight 0, so it predicts uniformly.
    pub fn new(dim: usize) -> Self {
        let n = CLASSES * (dim + 1);
        Self {
            norm: Normalizer::new(dim),
            weights: vec![0.0; n],
            sq_grads: vec![Self::G0; n],
            seen: 0,
            inv_sd: vec![0.0; dim],
        }
    }

    /// Rebuilds a saved model; `None` if the shapes or values are inconsistent.
    pub fn from_parts(
        norm: Normalizer,
        weights: Vec<f64>,
        sq_grads: Vec<f64>,
        seen: u64,
    ) -> Option<Self> {
        let n = CLASSES * (norm.dim() + 1);
        let ok = weights.len() == n
            && sq_grads.len() == n
            && weights.iter().all(|w| w.is_finite())
            && sq_grads.iter().all(|g| g.is_finite() && *g >= Self::G0);
        let mut m = Self {
            inv_sd: vec![0.0; norm.dim()],
            norm,
            weights,
            sq_grads,
            seen,
        };
        m.rescale();
        ok.then_some(m)
    }

    /// Features per input.
    pub fn dim(&self) -> usize {
        self.norm.dim()
    }

    /// Samples learned so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// The running input statistics.
    pub fn normalizer(&self) -> &Normalizer {
        &self.norm
    }

    /// Weights, `3 x (dim + 1)`, class-major, bias last.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// AdaGrad's sums of squared gradients, laid out like [`LinearLearner::weights`].
    pub fn sq_grads(&self) -> &[f64] {
        &self.sq_grads
    }

    fn rescale(&mut self) {
        let n = self.norm.count() as f64;
        for (k, &s) in self.inv_sd.iter_mut().zip(self.norm.m2()) {
            let sd = libm::sqrt(s / n);
            *k = if n >= 2.0 && sd > 0.0 { 1.0 / sd } else { 0.0 };
        }
    }

    /// Runs `f` on `x` standardised and clipped (on the stack for up to 64 features).
    fn with_z<T>(&self, x: &[f32], f: impl FnOnce(&[f64]) -> T) -> T {
        let mut small = [0.0f64; 64];
        let mut big = Vec::new();
        let z: &mut [f64] = if x.len() <= small.len() {
            &mut small[..x.len()]
        } else {
            big.resize(x.len(), 0.0);
            &mut big
        };
        for (((zj, &xj), &m), &k) in z.iter_mut().zip(x).zip(self.norm.mean()).zip(&self.inv_sd) {
            *zj = ((f64::from(xj) - m) * k).clamp(-Self::CLIP, Self::CLIP);
        }
        f(z)
    }

    fn probs_of(&self, z: &[f64]) -> [f64; CLASSES] {
        let d = z.len() + 1;
        let mut logits = [0.0f64; CLASSES];
        for (c, l) in logits.iter_mut().enumerate() {
            let w = &self.weights[c * d..(c + 1) * d];
            let mut s = w[d - 1];
            for (wj, zj) in w.iter().zip(z) {
                s += wj * zj;
            }
            *l = s;
        }
        softmax(logits)
    }

    /// Class probabilities for a validated feature vector (`dim` finite values).
    pub fn predict(&self, x: &[f32]) -> [f64; CLASSES] {
        self.with_z(x, |z| self.probs_of(z))
    }

    /// Learns one revealed sample: the statistics take it in, then one AdaGrad step on
    /// its cross-entropy with learning rate `lr`.
    pub fn learn(&mut self, x: &[f32], class: u8, lr: f64) {
        self.norm.update(x);
        self.rescale();
        let mut small = [0.0f64; 65];
        let mut big = Vec::new();
        let d = x.len() + 1;
        let z: &mut [f64] = if d <= small.len() {
            &mut small[..d]
        } else {
            big.resize(d, 0.0);
            &mut big
        };
        self.with_z(x, |s| z[..d - 1].copy_from_slice(s));
        z[d - 1] = 1.0;
        let p = self.probs_of(&z[..d - 1]);
        for (c, &pc) in p.iter().enumerate() {
            let err = pc - if c == usize::from(class) { 1.0 } else { 0.0 };
            let w = &mut self.weights[c * d..(c + 1) * d];
            let g2 = &mut self.sq_grads[c * d..(c + 1) * d];
            for ((wj, gj), &zj) in w.iter_mut().zip(g2.iter_mut()).zip(z.iter()) {
                let g = err * zj;
                *gj += g * g;
                *wj -= lr * g / libm::sqrt(*gj);
            }
        }
        self.seen += 1;
    }
}

/// Softmax of three logits, in `f64`.
fn softmax(l: [f64; CLASSES]) -> [f64; CLASSES] {
    let m = l[0].max(l[1]).max(l[2]);
    let e = l.map(|v| libm::exp(v - m));
    let s = e[0] + e[1] + e[2];
    e.map(|v| v / s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    #[test]
    fn starts_uniform_and_learns_a_linear_rule() {
        let mut m = LinearLearner::new(2);
        assert_eq!(m.predict(&[1.0, 2.0]), [1.0 / 3.0; 3]);
        let mut r = SplitMix64::new(1);
        let mut correct = 0;
        for i in 0..4000 {
            let a = r.normal() as f32;
            let b = r.normal() as f32;
            let y = if a > 0.5 {
                2
            } else if a < -0.5 {
                0
            } else {
                1
            };
            if i >= 3000 {
                let p = m.predict(&[a * 10.0 + 3.0, b]);
                let best = (0..3).fold(0, |k, c| if p[c] > p[k] { c } else { k });
                correct += usize::from(best == usize::from(y));
            }
            m.learn(&[a * 10.0 + 3.0, b], y, 0.5);
        }
        assert!(correct > 800, "{correct} of 1000");
        assert_eq!(m.seen(), 4000);
        let back = LinearLearner::from_parts(
            m.norm.clone(),
            m.weights.clone(),
            m.sq_grads.clone(),
            m.seen,
        )
        .unwrap();
        assert_eq!(back, m);
        assert!(LinearLearner::from_parts(m.norm.clone(), vec![0.0; 3], m.sq_grads, 0).is_none());
    }

    #[test]
    fn constant_features_stay_finite() {
        let mut m = LinearLearner::new(3);
        for i in 0..100 {
            m.learn(&[1.0, 1.0, f32::MAX], (i % 3) as u8, 0.1);
        }
        let p = m.predict(&[1.0, 1.0, f32::MAX]);
        assert!(p.iter().all(|v| v.is_finite()) && (p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}
