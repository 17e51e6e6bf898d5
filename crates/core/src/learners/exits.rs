//! Exit learner: stop-loss and take-profit distances from the entry features.
//!
//! An MLP with two sigmoid outputs maps features to `(stop, target)` in `[0, 1]`, scaled into
//! the configured bounds. It learns by reward-weighted regression: every closed trade is an
//! example of the exits that were used, weighted by `exp(R / temperature)` where `R` is the
//! trade's risk multiple (PnL % / stop %), so exits that paid are imitated more. A curiosity
//! bonus adds weight to examples the model predicts badly (`curiosity * error / mean error`),
//! so surprising outcomes are learned first. In training mode the learner explores:
//! with probability epsilon (decaying after every entry) it suggests random exits instead.
//! Every `train_every` closes it trains on replay with the newest `validation_fraction` held
//! out, and keeps the parameters with the lowest validation loss; deployment mode uses that
//! best model and never explores.

use alloc::vec;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::error::{Error, check};
use crate::nn::{
    Activation, Batch, Init, Loss, Mlp, MlpSpec, Normalizer, OptimConfig, Optimizer, Target,
    Workspace,
};
use crate::replay::ReplayBuffer;
use crate::rng::SplitMix64;

/// Whether the exit learner explores and learns, or serves its best model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ExitMode {
    /// Epsilon-greedy exploration; suggestions from the current model.
    Training,
    /// No exploration; suggestions from the best model by validation loss.
    Deployment,
}

/// Exit learner configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct ExitConfig {
    /// Hidden layer widths (default `[16]`, tanh).
    pub hidden: Vec<u32>,
    /// Optimiser (default Adam, lr 3e-3).
    pub optimizer: OptimConfig,
    /// Stop-loss distance bounds as fractions of price (default `[0.003, 0.03]`).
    pub stop_bounds: [f32; 2],
    /// Take-profit distance bounds (default `[0.005, 0.06]`).
    pub target_bounds: [f32; 2],
    /// Initial exploration probability (default 0.3).
    pub epsilon: f32,
    /// Exploration floor (default 0.02).
    pub epsilon_min: f32,
    /// Multiplier applied to epsilon after every entry (default 0.99).
    pub epsilon_decay: f32,
    /// Weight of the prediction-error bonus (default 0.5; 0 disables curiosity).
    pub curiosity: f32,
    /// Reward temperature of the example weights (default 1.0).
    pub temperature: f32,
    /// Train after this many closed trades (default 20).
    pub train_every: u32,
    /// Newest experiences used per training (default 2,000), so a training costs the same
    /// however full the replay buffer is.
    pub window: u32,
    /// Epochs per training (default 5).
    pub epochs: u32,
    /// Mini-batch size (default 32).
    pub batch: u32,
    /// Newest share of replay held out for validation (default 0.2).
    pub validation_fraction: f32,
    /// Mode at start (default training).
    pub mode: ExitMode,
}

impl Default for ExitConfig {
    fn default() -> Self {
        Self {
            hidden: vec![16],
            optimizer: OptimConfig::adam(3e-3),
            stop_bounds: [0.003, 0.03],
            target_bounds: [0.005, 0.06],
            epsilon: 0.3,
            epsilon_min: 0.02,
            epsilon_decay: 0.99,
            curiosity: 0.5,
            temperature: 1.0,
            train_every: 20,
            window: 300,
            epochs: 2,
            batch: 32,
            validation_fraction: 0.2,
            mode: ExitMode::Training,
        }
    }
}

impl ExitConfig {
    pub(crate) fn spec(&self, features: u32) -> MlpSpec {
        let mut sizes = vec![features];
        sizes.extend_from_slice(&self.hidden);
        sizes.push(2);
        MlpSpec {
            sizes,
            hidden: Activation::Tanh,
            output: Activation::Sigmoid,
            init: Init::XavierUniform,
        }
    }

    /// Checks ranges.
    pub fn validate(&self, features: u32) -> Result<(), Error> {
        self.spec(features).validate()?;
        self.optimizer.validate()?;
        let bounds = |b: [f32; 2]| {
            b[0].is_finite() && b[1].is_finite() && 0.0 < b[0] && b[0] < b[1] && b[1] < 1.0
        };
        check(
            bounds(self.stop_bounds),
            "exits.stop_bounds must satisfy 0 < low < high < 1",
        )?;
        check(
            bounds(self.target_bounds),
            "exits.target_bounds must satisfy 0 < low < high < 1",
        )?;
        check(
            (0.0..=1.0).contains(&self.epsilon),
            "exits.epsilon must be in [0, 1]",
        )?;
        check(
            (0.0..=1.0).contains(&self.epsilon_min),
            "exits.epsilon_min must be in [0, 1]",
        )?;
        check(
            (0.0..=1.0).contains(&self.epsilon_decay),
            "exits.epsilon_decay must be in [0, 1]",
        )?;
        check(
            self.curiosity.is_finite() && (0.0..=100.0).contains(&self.curiosity),
            "exits.curiosity must be in [0, 100]",
        )?;
        check(
            self.temperature.is_finite() && self.temperature > 0.0,
            "exits.temperature must be > 0",
        )?;
        check(
            (1..=100_000).contains(&self.train_every),
            "exits.train_every must be in 1..=100000",
        )?;
        check(
            (5..=1_000_000).contains(&self.window),
            "exits.window must be in 5..=1000000",
        )?;
        check(
            (1..=1000).contains(&self.epochs),
            "exits.epochs must be in 1..=1000",
        )?;
        check(
            (1..=4096).contains(&self.batch),
            "exits.batch must be in 1..=4096",
        )?;
        check(
            self.validation_fraction > 0.0 && self.validation_fraction < 1.0,
            "exits.validation_fraction must be in (0, 1)",
        )
    }

    /// Scales a stop distance into `[0, 1]` within the bounds (clamped).
    pub fn scale_stop(&self, stop_pct: f32) -> f32 {
        unlerp(self.stop_bounds, stop_pct)
    }

    /// Scales a target distance into `[0, 1]` within the bounds (clamped).
    pub fn scale_target(&self, target_pct: f32) -> f32 {
        unlerp(self.target_bounds, target_pct)
    }
}

fn lerp(b: [f32; 2], t: f32) -> f32 {
    b[0] + t.clamp(0.0, 1.0) * (b[1] - b[0])
}

fn unlerp(b: [f32; 2], x: f32) -> f32 {
    ((x - b[0]) / (b[1] - b[0])).clamp(0.0, 1.0)
}

/// An exit suggestion as distances.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExitSuggestion {
    /// Stop-loss distance (fraction of price).
    pub stop_pct: f32,
    /// Take-profit distance (fraction of price).
    pub target_pct: f32,
    /// Random exploration rather than the model.
    pub explored: bool,
}

/// What one training of the exit learner did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExitTrainReport {
    /// Training number (from 1).
    pub training: u32,
    /// Examples trained on.
    pub train_samples: u32,
    /// Examples held out.
    pub validation_samples: u32,
    /// Weighted MSE on the training examples after training.
    pub train_loss: f32,
    /// Weighted MSE on the held-out examples after training.
    pub validation_loss: f32,
    /// `true` if this became the best model so far.
    pub improved: bool,
    /// Mean squared error of the model's exits on the training examples before training:
    /// the surprise that drives the curiosity bonus.
    pub mean_error: f32,
}

/// The exit learner's state.
#[derive(Debug, Clone, PartialEq)]
pub struct ExitLearner {
    pub(crate) mlp: Mlp,
    pub(crate) opt: Optimizer,
    pub(crate) norm: Normalizer,
    /// The network with the lowest validation loss so far, and that loss.
    pub(crate) best: Option<(Mlp, f32)>,
    pub(crate) epsilon: f32,
    pub(crate) mode: ExitMode,
    pub(crate) since_training: u32,
    pub(crate) trainings: u32,
    pub(crate) explorations: u64,
    pub(crate) suggestions: u64,
    pub(crate) last: Option<ExitTrainReport>,
}

impl ExitLearner {
    /// A fresh learner.
    pub fn new(config: &ExitConfig, features: u32, rng: &mut SplitMix64) -> Result<Self, Error> {
        config.validate(features)?;
        let mlp = Mlp::new(config.spec(features), rng)?;
        let opt = Optimizer::new(config.optimizer, mlp.params().len())?;
        Ok(Self {
            mlp,
            opt,
            norm: Normalizer::new(features as usize),
            best: None,
            epsilon: config.epsilon,
            mode: config.mode,
            since_training: 0,
            trainings: 0,
            explorations: 0,
            suggestions: 0,
            last: None,
        })
    }

    /// Current exploration probability.
    pub fn epsilon(&self) -> f32 {
        self.epsilon
    }

    /// Current mode.
    pub fn mode(&self) -> ExitMode {
        self.mode
    }

    /// Trainings so far.
    pub fn trainings(&self) -> u32 {
        self.trainings
    }

    /// Best validation loss so far.
    pub fn best_validation_loss(&self) -> Option<f32> {
        self.best.as_ref().map(|b| b.1)
    }

    /// The last training's report.
    pub fn last_training(&self) -> Option<ExitTrainReport> {
        self.last
    }

    /// Entries suggested and, of those, explored.
    pub fn suggestion_counts(&self) -> (u64, u64) {
        (self.suggestions, self.explorations)
    }

    /// Switches mode.
    pub(crate) fn set_mode(&mut self, mode: ExitMode) {
        self.mode = mode;
    }

    /// The model's exits for validated features, without exploration or state change
    /// (deployment mode uses the best parameters).
    pub(crate) fn predict(
        &self,
        config: &ExitConfig,
        features: &[f32],
        ws: &mut Workspace,
    ) -> ExitSuggestion {
        let mut x = core::mem::take(&mut ws.input);
        x.resize(features.len(), 0.0);
        self.norm.apply(features, &mut x);
        let net = match (&self.best, self.mode) {
            (Some((best, _)), ExitMode::Deployment) => best,
            _ => &self.mlp,
        };
        // Cannot fail: `x` has the network's input width and is finite.
        let out = net
            .forward(ws, &x, 1)
            .map(|o| [o[0], o[1]])
            .unwrap_or([0.5, 0.5]);
        ws.input = x;
        ExitSuggestion {
            stop_pct: lerp(config.stop_bounds, out[0]),
            target_pct: lerp(config.target_bounds, out[1]),
            explored: false,
        }
    }

    /// The exits for a new entry: explores with probability epsilon in training mode, then
    /// decays epsilon.
    pub(crate) fn suggest_for_entry(
        &mut self,
        config: &ExitConfig,
        features: &[f32],
        rng: &mut SplitMix64,
        ws: &mut Workspace,
    ) -> ExitSuggestion {
        self.suggestions += 1;
        if self.mode == ExitMode::Deployment {
            return self.predict(config, features, ws);
        }
        let explore = rng.chance(f64::from(self.epsilon));
        self.epsilon = (self.epsilon * config.epsilon_decay).max(config.epsilon_min);
        if explore {
            self.explorations += 1;
            let (s, t) = (rng.uniform() as f32, rng.uniform() as f32);
            return ExitSuggestion {
                stop_pct: lerp(config.stop_bounds, s),
                target_pct: lerp(config.target_bounds, t),
                explored: true,
            };
        }
        self.predict(config, features, ws)
    }

    /// Counts a closed trade; trains on `replay` when `train_every` closes have accumulated
    /// (training mode only).
    pub(crate) fn observe_close(
        &mut self,
        config: &ExitConfig,
        features: &[f32],
        replay: &ReplayBuffer,
        rng: &mut SplitMix64,
        ws: &mut Workspace,
    ) -> Option<ExitTrainReport> {
        self.norm.update(features);
        self.since_training += 1;
        if self.mode == ExitMode::Training && self.since_training >= config.train_every {
            self.train(config, replay, rng, ws)
        } else {
            None
        }
    }

    /// Trains now on the newest `window` experiences of `replay` (needs at least 5).
    pub(crate) fn train(
        &mut self,
        config: &ExitConfig,
        replay: &ReplayBuffer,
        rng: &mut SplitMix64,
        ws: &mut Workspace,
    ) -> Option<ExitTrainReport> {
        // Only trades carry exits and rewards; observations (`Command::Observe`) do not.
        let mut slots: Vec<usize> = replay
            .by_age()
            .into_iter()
            .filter(|&s| {
                replay
                    .get(s)
                    .is_some_and(|e| !crate::replay::is_observation(e.id))
            })
            .collect();
        let drop = slots.len().saturating_sub(config.window as usize);
        slots.drain(..drop);
        let n = slots.len();
        if n < 5 {
            return None;
        }
        self.since_training = 0;
        let n_val = ((n as f32 * config.validation_fraction) as usize).clamp(1, n - 1);
        let dim = self.norm.dim();
        let mut raw = Vec::new();
        replay.gather_features(&slots, &mut raw);
        let x = self.norm.apply_rows(&raw);
        let mut t = Vec::with_capacity(2 * n);
        let mut w = Vec::with_capacity(n);
        for e in slots.iter().filter_map(|&s| replay.get(s)) {
            t.extend_from_slice(&e.exits);
            let r = e.reward.clamp(-3.0, 3.0);
            w.push(libm::expf(r / config.temperature));
        }
        let n_train = n - n_val;
        // Curiosity: each training example gains weight in proportion to how badly the
        // current model predicts it, relative to the mean error.
        let mut mean_error = 0.0f32;
        if let Ok(pred) = self.mlp.forward(ws, &x[..n_train * dim], n_train) {
            let err: Vec<f32> = pred
                .chunks_exact(2)
                .zip(t.chunks_exact(2))
                .map(|(p, y)| (p[0] - y[0]) * (p[0] - y[0]) + (p[1] - y[1]) * (p[1] - y[1]))
                .collect();
            mean_error = err.iter().sum::<f32>() / n_train as f32;
            if config.curiosity > 0.0 {
                for (wi, e) in w.iter_mut().zip(&err) {
                    *wi += config.curiosity * e / (mean_error + 1e-6);
                }
            }
        }
        let batch = config.batch as usize;
        let (mut bx, mut bt, mut bw) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..config.epochs {
            let mut order: Vec<usize> = (0..n_train).collect();
            rng.shuffle(&mut order);
            for chunk in order.chunks(batch) {
                bx.clear();
                bt.clear();
                bw.clear();
                for &r in chunk {
                    bx.extend_from_slice(&x[r * dim..(r + 1) * dim]);
                    bt.extend_from_slice(&t[2 * r..2 * r + 2]);
                    bw.push(w[r]);
                }
                let b = Batch {
                    x: &bx,
                    rows: chunk.len(),
                    target: Target::Values(&bt),
                    weights: Some(&bw),
                };
                // Cannot fail: validated experiences, targets in [0, 1], weights > 0.
                let _ = self.mlp.train(ws, &mut self.opt, &b, Loss::Mse, 1.0);
            }
        }
        let eval = |mlp: &Mlp, ws: &mut Workspace, range: core::ops::Range<usize>| {
            let rows = range.len();
            let b = Batch {
                x: &x[range.start * dim..range.end * dim],
                rows,
                target: Target::Values(&t[2 * range.start..2 * range.end]),
                weights: Some(&w[range.clone()]),
            };
            mlp.loss(ws, &b, Loss::Mse).unwrap_or(f32::INFINITY)
        };
        // Validation weights carry no curiosity bonus (only training examples got one).
        let train_loss = eval(&self.mlp, ws, 0..n_train);
        let validation_loss = eval(&self.mlp, ws, n_train..n);
        let improved =
            validation_loss.is_finite() && self.best.as_ref().is_none_or(|b| validation_loss < b.1);
        if improved {
            self.best = Some((self.mlp.clone(), validation_loss));
        }
        self.trainings += 1;
        let report = ExitTrainReport {
            training: self.trainings,
            train_samples: n_train as u32,
            validation_samples: n_val as u32,
            train_loss,
            validation_loss,
            improved,
            mean_error,
        };
        self.last = Some(report);
        Some(report)
    }
}
