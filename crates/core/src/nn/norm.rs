//! Input normalisation statistics (per-feature mean and variance, Welford's algorithm).

use alloc::vec;
use alloc::vec::Vec;

use crate::error::Error;

/// Running per-feature mean and variance; transforms inputs to z-scores.
///
/// `apply` maps `x` to `(x - mean) / sqrt(var + 1e-8)`, clipped to `[-CLIP, CLIP]` so one
/// extreme input cannot saturate the network. With no data yet it is the identity.
/// Statistics are kept in `f64`; learners freeze them (stop calling `update`) while
/// fine-tuning and refit them on a full retrain.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalizer {
    count: u64,
    mean: Vec<f64>,
    m2: Vec<f64>,
    /// `1 / sqrt(m2 / count + EPS)` per feature, derived from the statistics whenever they
    /// change (so applying needs no square root).
    scale: Vec<f64>,
}

impl Normalizer {
    /// Normalised values are clipped to `[-CLIP, CLIP]`.
    pub const CLIP: f32 = 10.0;
    const EPS: f64 = 1e-8;

    /// No statistics yet, for `dim` features.
    pub fn new(dim: usize) -> Self {
        Self {
            count: 0,
            mean: vec![0.0; dim],
            m2: vec![0.0; dim],
            scale: vec![0.0; dim],
        }
    }

    /// Rebuilds saved statistics.
    pub fn from_parts(count: u64, mean: Vec<f64>, m2: Vec<f64>) -> Result<Self, Error> {
        if mean.len() != m2.len() {
            return Err(Error::ShapeMismatch {
                what: "normalizer m2",
                expected: mean.len() as u64,
                got: m2.len() as u64,
            });
        }
        if mean.iter().chain(&m2).any(|x| !x.is_finite()) || m2.iter().any(|&x| x < 0.0) {
            return Err(Error::NonFinite {
                field: "normalizer statistics",
            });
        }
        let mut n = Self {
            count,
            scale: vec![0.0; mean.len()],
            mean,
            m2,
        };
        n.rescale();
        Ok(n)
    }

    /// Number of feature dimensions.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Samples seen.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Per-feature means.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// Per-feature sums of squared deviations (`variance * count`).
    pub fn m2(&self) -> &[f64] {
        &self.m2
    }

    /// Adds one sample (`x.len() == dim`, finite: the caller validated it).
    pub fn update(&mut self, x: &[f32]) {
        self.count += 1;
        let n = self.count as f64;
        for ((m, s), &xi) in self.mean.iter_mut().zip(&mut self.m2).zip(x) {
            let xi = f64::from(xi);
            let d = xi - *m;
            *m += d / n;
            *s += d * (xi - *m);
        }
        self.rescale();
    }

    fn rescale(&mut self) {
        let n = self.count as f64;
        for (k, &s) in self.scale.iter_mut().zip(&self.m2) {
            *k = if self.count == 0 {
                0.0
            } else {
                1.0 / libm::sqrt(s / n + Self::EPS)
            };
        }
    }

    /// Forgets all statistics.
    pub fn reset(&mut self) {
        self.count = 0;
        self.mean.iter_mut().for_each(|x| *x = 0.0);
        self.m2.iter_mut().for_each(|x| *x = 0.0);
        self.scale.iter_mut().for_each(|x| *x = 0.0);
    }

    /// Normalises consecutive rows of `dim` values (a trailing partial row is dropped).
    pub fn apply_rows(&self, rows: &[f32]) -> Vec<f32> {
        let dim = self.dim().max(1);
        let mut out = vec![0.0f32; rows.len() / dim * dim];
        for (src, dst) in rows.chunks_exact(dim).zip(out.chunks_exact_mut(dim)) {
            self.apply(src, dst);
        }
        out
    }

    /// The z-scores of `x`, not clipped (for spotting extreme inputs); empty with no data.
    pub fn z_scores(&self, x: &[f32]) -> Vec<f32> {
        if self.count == 0 {
            return Vec::new();
        }
        self.z(x).map(|z| z as f32).collect()
    }

    /// `(x - mean) / sqrt(var + EPS)` per feature (needs `count > 0`).
    fn z<'a>(&'a self, x: &'a [f32]) -> impl Iterator<Item = f64> + 'a {
        x.iter()
            .zip(&self.mean)
            .zip(&self.scale)
            .map(move |((&xi, &m), &k)| (f64::from(xi) - m) * k)
    }

    /// Writes the normalised `x` into `out` (same length as `x`).
    pub fn apply(&self, x: &[f32], out: &mut [f32]) {
        if self.count == 0 {
            out.copy_from_slice(x);
            return;
        }
        for (o, z) in out.iter_mut().zip(self.z(x)) {
            *o = (z as f32).clamp(-Self::CLIP, Self::CLIP);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_two_pass_statistics() {
        let xs = [[1.0f32, 10.0], [2.0, 10.0], [4.0, 10.0], [9.0, 10.0]];
        let mut n = Normalizer::new(2);
        for x in &xs {
            n.update(x);
        }
        assert_eq!(n.count(), 4);
        assert!((n.mean()[0] - 4.0).abs() < 1e-12);
        let var0 = xs
            .iter()
            .map(|x| (f64::from(x[0]) - 4.0).powi(2))
            .sum::<f64>()
            / 4.0;
        assert!((n.m2()[0] / 4.0 - var0).abs() < 1e-12);
        let mut out = [0.0f32; 2];
        n.apply(&[4.0, 10.0], &mut out);
        assert_eq!(out, [0.0, 0.0]);
        n.apply(&[1e9, 11.0], &mut out);
        assert_eq!(
            out,
            [Normalizer::CLIP, Normalizer::CLIP],
            "extremes are clipped"
        );
    }

    #[test]
    fn empty_statistics_are_identity_and_bad_parts_rejected() {
        let n = Normalizer::new(3);
        let mut out = [0.0f32; 3];
        n.apply(&[1.0, -2.0, 3.0], &mut out);
        assert_eq!(out, [1.0, -2.0, 3.0]);
        assert!(Normalizer::from_parts(1, vec![0.0], vec![-1.0]).is_err());
        assert!(Normalizer::from_parts(1, vec![f64::NAN], vec![0.0]).is_err());
        assert!(Normalizer::from_parts(1, vec![0.0, 1.0], vec![0.0]).is_err());
    }
}
