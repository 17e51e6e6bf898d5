//! Optimisers: SGD with momentum and Adam (bias-corrected, decoupled weight decay), both
//! with optional gradient clipping by global L2 norm. The optimiser's state (step count,
//! moments) is part of every checkpoint, so training resumes exactly.

use alloc::vec;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use super::kernels::{self, AdamStep, SgdStep};
use crate::error::{Error, check};
use tradeloop_kernels::Backend;

/// Which update rule, with its own hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub enum OptimKind {
    /// `u = momentum * u + g; p -= lr * u`.
    Sgd {
        /// Momentum in `[0, 1)`; 0 is plain SGD.
        momentum: f32,
    },
    /// Adam (Kingma & Ba), PyTorch's formulation.
    Adam {
        /// First-moment decay, default 0.9.
        beta1: f32,
        /// Second-moment decay, default 0.999.
        beta2: f32,
        /// Denominator epsilon, default 1e-8.
        eps: f32,
    },
}

/// Optimiser configuration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct OptimConfig {
    /// Update rule.
    pub kind: OptimKind,
    /// Learning rate.
    pub lr: f32,
    /// Decoupled weight decay (AdamW-style `p *= 1 - lr * wd`); 0 disables it.
    pub weight_decay: f32,
    /// Gradients whose global L2 norm exceeds this are rescaled to it; 0 disables clipping.
    pub clip_norm: f32,
}

impl OptimConfig {
    /// Adam with PyTorch's defaults and learning rate `lr`.
    pub const fn adam(lr: f32) -> Self {
        Self {
            kind: OptimKind::Adam {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
            },
            lr,
            weight_decay: 0.0,
            clip_norm: 0.0,
        }
    }

    /// SGD with momentum.
    pub const fn sgd(lr: f32, momentum: f32) -> Self {
        Self {
            kind: OptimKind::Sgd { momentum },
            lr,
            weight_decay: 0.0,
            clip_norm: 0.0,
        }
    }

    /// Checks every field's range.
    pub fn validate(&self) -> Result<(), Error> {
        check(
            self.lr.is_finite() && self.lr > 0.0 && self.lr <= 10.0,
            "optimizer lr must be in (0, 10]",
        )?;
        check(
            self.weight_decay.is_finite() && (0.0..1.0).contains(&(self.weight_decay * self.lr)),
            "optimizer weight_decay must be >= 0 with lr * weight_decay < 1",
        )?;
        check(
            self.clip_norm.is_finite() && self.clip_norm >= 0.0,
            "optimizer clip_norm must be >= 0 (0 = off)",
        )?;
        match self.kind {
            OptimKind::Sgd { momentum } => check(
                (0.0..1.0).contains(&momentum),
                "sgd momentum must be in [0, 1)",
            ),
            OptimKind::Adam { beta1, beta2, eps } => {
                check((0.0..1.0).contains(&beta1), "adam beta1 must be in [0, 1)")?;
                check((0.0..1.0).contains(&beta2), "adam beta2 must be in [0, 1)")?;
                check(eps.is_finite() && eps > 0.0, "adam eps must be > 0")
            }
        }
    }
}

/// `base^n` by repeated squaring: the same bits on every platform, and much cheaper than a
/// general `pow` (this runs on every step).
fn powi(mut base: f64, mut n: u64) -> f64 {
    let mut acc = 1.0;
    while n > 0 {
        if n & 1 == 1 {
            acc *= base;
        }
        base *= base;
        n >>= 1;
    }
    acc
}

/// An optimiser's state for one parameter vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Optimizer {
    config: OptimConfig,
    steps: u64,
    /// Adam first moment, or SGD velocity.
    m: Vec<f32>,
    /// Adam second moment (empty for SGD).
    v: Vec<f32>,
}

impl Optimizer {
    /// Fresh state for `params` parameters.
    pub fn new(config: OptimConfig, params: usize) -> Result<Self, Error> {
        config.validate()?;
        let v_len = match config.kind {
            OptimKind::Adam { .. } => params,
            OptimKind::Sgd { .. } => 0,
        };
        Ok(Self {
            config,
            steps: 0,
            m: vec![0.0; params],
            v: vec![0.0; v_len],
        })
    }

    /// Rebuilds a saved state; lengths must match the configuration.
    pub fn from_parts(
        config: OptimConfig,
        steps: u64,
        m: Vec<f32>,
        v: Vec<f32>,
    ) -> Result<Self, Error> {
        config.validate()?;
        let v_len = match config.kind {
            OptimKind::Adam { .. } => m.len(),
            OptimKind::Sgd { .. } => 0,
        };
        if v.len() != v_len {
            return Err(Error::ShapeMismatch {
                what: "optimizer second moment",
                expected: v_len as u64,
                got: v.len() as u64,
            });
        }
        Ok(Self {
            config,
            steps,
            m,
            v,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &OptimConfig {
        &self.config
    }

    /// Number of updates applied so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// First moment (Adam) or velocity (SGD).
    pub fn first_moment(&self) -> &[f32] {
        &self.m
    }

    /// Second moment (Adam; empty for SGD).
    pub fn second_moment(&self) -> &[f32] {
        &self.v
    }

    /// Forgets all moments and the step count (used before a full retrain).
    pub fn reset(&mut self) {
        self.steps = 0;
        self.m.iter_mut().for_each(|x| *x = 0.0);
        self.v.iter_mut().for_each(|x| *x = 0.0);
    }

    /// Applies one update to `params` from `grads` (which clipping may rescale in place).
    /// `lr_scale` multiplies the configured learning rate (e.g. 0.1 for fine-tuning).
    /// Returns the gradient's L2 norm before clipping when clipping is on, else `None`.
    pub(crate) fn step(
        &mut self,
        backend: Backend,
        params: &mut [f32],
        grads: &mut [f32],
        lr_scale: f32,
    ) -> Option<f32> {
        let mut norm = None;
        if self.config.clip_norm > 0.0 {
            let n = libm::sqrtf(kernels::dot(backend, grads, grads));
            if n > self.config.clip_norm {
                kernels::scale(backend, grads, self.config.clip_norm / n);
            }
            norm = Some(n);
        }
        self.steps += 1;
        let lr = f64::from(self.config.lr) * f64::from(lr_scale);
        let decay = (1.0 - lr * f64::from(self.config.weight_decay)) as f32;
        match self.config.kind {
            OptimKind::Adam { beta1, beta2, eps } => {
                let bc1 = 1.0 - powi(f64::from(beta1), self.steps);
                let bc2 = 1.0 - powi(f64::from(beta2), self.steps);
                let step = AdamStep {
                    beta1,
                    one_minus_beta1: 1.0 - beta1,
                    beta2,
                    one_minus_beta2: 1.0 - beta2,
                    step_size: (lr / bc1) as f32,
                    inv_bias2_sqrt: (1.0 / libm::sqrt(bc2)) as f32,
                    eps,
                    decay,
                };
                kernels::adam(backend, params, grads, &mut self.m, &mut self.v, step);
            }
            OptimKind::Sgd { momentum } => {
                let step = SgdStep {
                    lr: lr as f32,
                    momentum,
                    decay,
                };
                kernels::sgd(backend, params, grads, &mut self.m, step);
            }
        }
        norm
    }
}

#[cfg(test)]
mod tests {
    use super::powi;

    #[test]
    fn powi_matches_repeated_multiplication_and_pow() {
        assert_eq!(powi(0.9, 0), 1.0);
        assert_eq!(powi(0.9, 1), 0.9);
        let mut acc = 1.0f64;
        for n in 1..=200u64 {
            acc *= 0.999;
            assert!((powi(0.999, n) - acc).abs() <= 1e-15, "{n}");
            assert!(
                (powi(0.999, n) - libm::pow(0.999, n as f64)).abs() <= 1e-14,
                "{n}"
            );
        }
        assert_eq!(
            powi(0.9, u64::MAX),
            0.0,
            "underflows to zero, no overflow or panic"
        );
    }
}
