//! Level-weight learner: how much each of the six support/resistance features should count
//! when scoring a level, learned from the trades those levels justified.
//!
//! Weights live on the probability simplex (non-negative, summing to 1, each at least
//! `min_weight`). After `first_after` trades with a level, and then every `every` trades,
//! the learner measures over its window of recent level trades how each feature co-varies
//! with the trade's reward, and moves the weights by an exponentiated-gradient step
//! `w_k <- w_k * exp(rate * corr_k)`, renormalised. Every adjustment is kept with the old and
//! new weights and the evidence behind it.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::fmt;
use serde::{Deserialize, Serialize};

use crate::error::{Error, check};

pub use crate::market::{LEVEL_FEATURE_NAMES, LEVEL_FEATURES};

/// Level learner configuration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct LevelConfig {
    /// Trades with a level before the first adjustment (default 30).
    pub first_after: u32,
    /// Trades between later adjustments (default 10).
    pub every: u32,
    /// Most recent level trades used as evidence (default 100).
    pub window: u32,
    /// Exponentiated-gradient step size (default 0.5).
    pub rate: f32,
    /// Floor of every weight (default 0.02; below `1/6`).
    pub min_weight: f32,
}

impl Default for LevelConfig {
    fn default() -> Self {
        Self {
            first_after: 30,
            every: 10,
            window: 100,
            rate: 0.5,
            min_weight: 0.02,
        }
    }
}

impl LevelConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<(), Error> {
        check(
            (2..=100_000).contains(&self.first_after),
            "levels.first_after must be in 2..=100000",
        )?;
        check(
            (1..=100_000).contains(&self.every),
            "levels.every must be in 1..=100000",
        )?;
        check(
            (2..=100_000).contains(&self.window),
            "levels.window must be in 2..=100000",
        )?;
        check(
            self.rate.is_finite() && self.rate > 0.0 && self.rate <= 10.0,
            "levels.rate must be in (0, 10]",
        )?;
        check(
            self.min_weight.is_finite()
                && (0.0..1.0 / LEVEL_FEATURES as f32).contains(&self.min_weight),
            "levels.min_weight must be in [0, 1/6)",
        )
    }
}

/// Which rule triggered an adjustment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum AdjustTrigger {
    /// The first adjustment, after `first_after` level trades.
    First,
    /// A periodic adjustment, every `every` trades after the first.
    Periodic,
}

/// One change of the level weights, with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LevelAdjustment {
    /// Level trades seen when it happened.
    pub at_trade: u64,
    /// Time of the close that triggered it (ms since the Unix epoch).
    pub time: i64,
    /// What triggered it.
    pub trigger: AdjustTrigger,
    /// Weights before.
    pub old: [f32; LEVEL_FEATURES],
    /// Weights after.
    pub new: [f32; LEVEL_FEATURES],
    /// Trades in the evidence window.
    pub window: u32,
    /// Mean reward over the window.
    pub mean_reward: f32,
    /// Correlation of each feature with the reward over the window (0 if a feature did not vary).
    pub correlation: [f32; LEVEL_FEATURES],
}

impl LevelAdjustment {
    /// Index of the feature most positively correlated with reward.
    pub fn strongest(&self) -> usize {
        argmax(&self.correlation)
    }

    /// Index of the feature most negatively correlated with reward.
    pub fn weakest(&self) -> usize {
        let neg: [f32; LEVEL_FEATURES] = core::array::from_fn(|k| -self.correlation[k]);
        argmax(&neg)
    }
}

impl fmt::Display for LevelAdjustment {
    /// The reason in words, e.g. "periodic adjustment after 40 level trades (window 40, mean
    /// reward +0.12): touches 0.167 -> 0.201 (corr +0.31); duration ... (corr -0.22)".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.trigger {
            AdjustTrigger::First => "first adjustment",
            AdjustTrigger::Periodic => "periodic adjustment",
        };
        let (s, w) = (self.strongest(), self.weakest());
        write!(
            f,
            "{kind} after {} level trades (window {}, mean reward {:+.3}): {} {:.3} -> {:.3} (corr {:+.2}); {} {:.3} -> {:.3} (corr {:+.2})",
            self.at_trade,
            self.window,
            self.mean_reward,
            LEVEL_FEATURE_NAMES[s],
            self.old[s],
            self.new[s],
            self.correlation[s],
            LEVEL_FEATURE_NAMES[w],
            self.old[w],
            self.new[w],
            self.correlation[w],
        )
    }
}

/// The learner's state.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelLearner {
    pub(crate) weights: [f32; LEVEL_FEATURES],
    /// Recent (features, reward) of trades that had a level.
    pub(crate) window: VecDeque<([f32; LEVEL_FEATURES], f32)>,
    pub(crate) seen: u64,
    pub(crate) history: Vec<LevelAdjustment>,
}

impl Default for LevelLearner {
    fn default() -> Self {
        Self::new()
    }
}

impl LevelLearner {
    /// Equal weights, no history.
    pub fn new() -> Self {
        Self {
            weights: [1.0 / LEVEL_FEATURES as f32; LEVEL_FEATURES],
            window: VecDeque::new(),
            seen: 0,
            history: Vec::new(),
        }
    }

    /// Current weights.
    pub fn weights(&self) -> [f32; LEVEL_FEATURES] {
        self.weights
    }

    /// Every adjustment so far, oldest first.
    pub fn history(&self) -> &[LevelAdjustment] {
        &self.history
    }

    /// Level trades seen.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// Level score: weighted sum of the features, in `[0, 1]`.
    pub fn score(&self, features: &[f32; LEVEL_FEATURES]) -> f32 {
        self.weights.iter().zip(features).map(|(w, f)| w * f).sum()
    }

    /// Level trades after which the next adjustment happens.
    pub fn next_adjustment_at(&self, config: &LevelConfig) -> u64 {
        let first = u64::from(config.first_after);
        if self.seen < first {
            first
        } else {
            let every = u64::from(config.every);
            first + ((self.seen - first) / every + 1) * every
        }
    }

    /// Records a closed level trade; adjusts the weights when due.
    pub(crate) fn observe(
        &mut self,
        config: &LevelConfig,
        features: [f32; LEVEL_FEATURES],
        reward: f32,
        time: i64,
    ) -> Option<LevelAdjustment> {
        if self.window.len() >= config.window as usize {
            self.window.pop_front();
        }
        self.window.push_back((features, reward));
        self.seen += 1;
        let first = u64::from(config.first_after);
        let trigger = if self.seen == first {
            AdjustTrigger::First
        } else if self.seen > first && (self.seen - first).is_multiple_of(u64::from(config.every)) {
            AdjustTrigger::Periodic
        } else {
            return None;
        };
        let adj = self.adjust(config, trigger, time);
        self.weights = adj.new;
        self.history.push(adj.clone());
        Some(adj)
    }

    fn adjust(&self, config: &LevelConfig, trigger: AdjustTrigger, time: i64) -> LevelAdjustment {
        let n = self.window.len() as f64;
        let mut mean_f = [0.0f64; LEVEL_FEATURES];
        let mut mean_r = 0.0f64;
        for (f, r) in &self.window {
            for k in 0..LEVEL_FEATURES {
                mean_f[k] += f64::from(f[k]);
            }
            mean_r += f64::from(*r);
        }
        mean_f.iter_mut().for_each(|m| *m /= n);
        mean_r /= n;
        let (mut cov, mut var_f, mut var_r) =
            ([0.0f64; LEVEL_FEATURES], [0.0f64; LEVEL_FEATURES], 0.0f64);
        for (f, r) in &self.window {
            let dr = f64::from(*r) - mean_r;
            var_r += dr * dr;
            for k in 0..LEVEL_FEATURES {
                let df = f64::from(f[k]) - mean_f[k];
                cov[k] += df * dr;
                var_f[k] += df * df;
            }
        }
        let corr: [f64; LEVEL_FEATURES] = core::array::from_fn(|k| {
            let d = libm::sqrt(var_f[k] * var_r);
            if d > 1e-12 { cov[k] / d } else { 0.0 }
        });
        let mut w: [f64; LEVEL_FEATURES] = core::array::from_fn(|k| {
            f64::from(self.weights[k]) * libm::exp(f64::from(config.rate) * corr[k])
        });
        let sum: f64 = w.iter().sum();
        let floor = f64::from(config.min_weight);
        let free = 1.0 - floor * LEVEL_FEATURES as f64;
        w.iter_mut().for_each(|x| *x = floor + free * (*x / sum));
        LevelAdjustment {
            at_trade: self.seen,
            time,
            trigger,
            old: self.weights,
            new: core::array::from_fn(|k| w[k] as f32),
            window: self.window.len() as u32,
            mean_reward: mean_r as f32,
            correlation: core::array::from_fn(|k| corr[k] as f32),
        }
    }
}

fn argmax(v: &[f32; LEVEL_FEATURES]) -> usize {
    let mut best = 0;
    for k in 1..LEVEL_FEATURES {
        if v[k] > v[best] {
            best = k;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    #[test]
    fn adjusts_after_30_then_every_10_towards_the_predictive_feature() {
        let config = LevelConfig::default();
        let mut l = LevelLearner::new();
        let mut rng = SplitMix64::new(1);
        let mut at = alloc::vec::Vec::new();
        for i in 0..60 {
            let f: [f32; 6] = core::array::from_fn(|_| rng.uniform() as f32);
            // Reward driven by touches (index 1) only.
            let reward = 2.0 * f[1] - 1.0 + 0.1 * rng.normal() as f32;
            if let Some(adj) = l.observe(&config, f, reward, i) {
                at.push(adj.at_trade);
                assert_eq!(adj.strongest(), 1, "{adj}");
                let sum: f32 = adj.new.iter().sum();
                assert!((sum - 1.0).abs() < 1e-5);
                assert!(adj.new.iter().all(|&w| w >= config.min_weight - 1e-6));
            }
        }
        assert_eq!(at, [30, 40, 50, 60]);
        assert_eq!(l.history().len(), 4);
        assert_eq!(l.history()[0].trigger, AdjustTrigger::First);
        assert_eq!(l.history()[0].old, [1.0 / 6.0; 6]);
        assert_eq!(l.history()[1].old, l.history()[0].new);
        let w = l.weights();
        assert!(
            w[1] > 0.3 && w.iter().enumerate().all(|(k, &x)| k == 1 || x < w[1]),
            "{w:?}"
        );
        assert_eq!(l.next_adjustment_at(&config), 70);
        let text = alloc::format!("{}", l.history()[3]);
        assert!(
            text.contains("touches") && text.contains("periodic"),
            "{text}"
        );
    }

    #[test]
    fn constant_features_carry_no_evidence() {
        let config = LevelConfig {
            first_after: 2,
            every: 1,
            ..LevelConfig::default()
        };
        let mut l = LevelLearner::new();
        l.observe(&config, [0.5; 6], 1.0, 0);
        let adj = l.observe(&config, [0.5; 6], -1.0, 1).unwrap();
        assert_eq!(adj.correlation, [0.0; 6]);
        assert_eq!(adj.new, adj.old);
        assert!(
            LevelConfig {
                min_weight: 0.2,
                ..config
            }
            .validate()
            .is_err()
        );
        assert!(
            LevelConfig {
                rate: f32::NAN,
                ..config
            }
            .validate()
            .is_err()
        );
    }
}
