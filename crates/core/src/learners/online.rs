//! The online network: one signal network that learns from every revealed sample, with an
//! optimiser state that persists across samples (and checkpoints).
//!
//! Each revealed sample takes `steps` Adam steps on a mini-batch of that sample and `replay`
//! older ones drawn uniformly from the replay buffer, with the learning rate decayed as
//! `lr / sqrt(1 + t / lr_decay)` over the `t` samples learned so far. The inputs are
//! standardised with running statistics that take in every revealed sample. The network
//! starts with a zero output layer, so it predicts uniformly until it has learned something.
//!
//! The lifecycle snapshots it from time to time as a candidate version
//! ([`crate::lifecycle`]); the served mixture uses it live as one of its experts.

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::error::{Error, check};
use crate::learners::signal::{SignalConfig, SignalNet};
use crate::nn::{Batch, Loss, Mlp, Normalizer, Optimizer, Target, Workspace};
use crate::replay::ReplayBuffer;
use crate::rng::SplitMix64;

/// How the online network learns.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct OnlineConfig {
    /// Adam learning rate at the start (default 1e-3; in (0, 1]). Adam's other settings are
    /// `signal.optimizer`'s.
    pub lr: f32,
    /// Samples over which the learning rate falls to `1/sqrt(2)` of `lr` (default 1,000; 0
    /// keeps it constant; at most 100,000,000).
    pub lr_decay: u32,
    /// Older samples replayed with each new one (default 3; 0..=256).
    pub replay: u32,
    /// Adam steps per revealed sample (default 1; 1..=16).
    pub steps: u32,
}

impl Default for OnlineConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            lr_decay: 1_000,
            replay: 3,
            steps: 1,
        }
    }
}

impl OnlineConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<(), Error> {
        check(
            self.lr.is_finite() && self.lr > 0.0 && self.lr <= 1.0,
            "lifecycle.online.lr must be in (0, 1]",
        )?;
        check(
            self.lr_decay <= 100_000_000,
            "lifecycle.online.lr_decay must be at most 100000000",
        )?;
        check(
            self.replay <= 256,
            "lifecycle.online.replay must be at most 256",
        )?;
        check(
            (1..=16).contains(&self.steps),
            "lifecycle.online.steps must be in 1..=16",
        )
    }
}

/// The online network and its optimiser.
#[derive(Debug, Clone, PartialEq)]
pub struct OnlineLearner {
    /// The network; its normaliser keeps taking in samples, its temperature is 1.
    pub(crate) net: SignalNet,
    /// Adam's state, carried from sample to sample.
    pub(crate) opt: Optimizer,
    /// Samples learned.
    pub(crate) seen: u64,
}

impl OnlineLearner {
    /// A fresh network of `signal`'s shape for `features` inputs: hidden layers drawn from
    /// `rng`, output layer zero (a uniform forecast).
    pub fn new(
        signal: &SignalConfig,
        config: &OnlineConfig,
        features: u32,
        rng: &mut SplitMix64,
    ) -> Result<Self, Error> {
        let spec = signal.spec(features);
        let drawn = Mlp::new(spec.clone(), rng)?;
        let mut params = drawn.params().to_vec();
        let last_in = spec.sizes[spec.sizes.len() - 2] as usize;
        let outputs = spec.outputs();
        let keep = params.len() - (last_in * outputs + outputs);
        params[keep..].iter_mut().for_each(|p| *p = 0.0);
        let mlp = Mlp::from_params(spec, params)?;
        let opt = Optimizer::new(
            crate::nn::OptimConfig {
                lr: config.lr,
                ..signal.optimizer
            },
            mlp.params().len(),
        )?;
        Ok(Self {
            net: SignalNet {
                mlp,
                norm: Normalizer::new(features as usize),
                temperature: 1.0,
            },
            opt,
            seen: 0,
        })
    }

    /// The network as it is now.
    pub fn net(&self) -> &SignalNet {
        &self.net
    }

    /// The optimiser's state.
    pub fn optimizer(&self) -> &Optimizer {
        &self.opt
    }

    /// Samples learned.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// The learning-rate multiplier after `seen` samples.
    fn lr_scale(&self, config: &OnlineConfig) -> f32 {
        if config.lr_decay == 0 {
            return 1.0;
        }
        let t = self.seen as f64 / f64::from(config.lr_decay);
        (1.0 / libm::sqrt(1.0 + t)) as f32
    }

    /// Learns one revealed sample (`x`, finite, `dim` long; `class` in 0..3), replaying
    /// `config.replay` samples of `replay` with it. Returns `false`, leaving the network as
    /// it was but for the input statistics, if a step's loss or gradient was not finite.
    pub fn learn(
        &mut self,
        config: &OnlineConfig,
        x: &[f32],
        class: u8,
        replay: &ReplayBuffer,
        rng: &mut SplitMix64,
        ws: &mut Workspace,
    ) -> bool {
        self.net.norm.update(x);
        let dim = x.len();
        let old = replay.len();
        let k = if old == 0 { 0 } else { config.replay as usize };
        let rows = 1 + k;
        let mut raw = Vec::with_capacity(rows * dim);
        let mut labels = Vec::with_capacity(rows);
        raw.extend_from_slice(x);
        labels.push(class);
        for _ in 0..k {
            let slot = rng.below(old as u64) as usize;
            if let Some(e) = replay.get(slot) {
                raw.extend_from_slice(e.features);
                labels.push(e.class);
            }
        }
        let rows = labels.len();
        let z = self.net.norm.apply_rows(&raw);
        let scale = self.lr_scale(config);
        for _ in 0..config.steps {
            let batch = Batch {
                x: &z,
                rows,
                target: Target::Classes(&labels),
                weights: None,
            };
            // A non-finite loss or gradient is refused before anything moves.
            let ok = self
                .net
                .mlp
                .gradient(ws, &batch, Loss::SoftmaxCrossEntropy)
                .is_ok_and(f32::is_finite)
                && ws.gradient().iter().all(|g| g.is_finite());
            if !ok {
                return false;
            }
            self.net.mlp.apply_gradient(ws, &mut self.opt, scale);
        }
        self.seen += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learners::signal::Predictor;
    use crate::replay::{Experience, ReplayConfig};

    #[test]
    fn starts_uniform_then_learns_and_keeps_its_optimiser_state() {
        let signal = SignalConfig {
            hidden: alloc::vec![8],
            ..SignalConfig::default()
        };
        let config = OnlineConfig {
            lr: 1e-2,
            ..OnlineConfig::default()
        };
        let mut rng = SplitMix64::new(3);
        let mut o = OnlineLearner::new(&signal, &config, 2, &mut rng).unwrap();
        let mut ws = Workspace::default();
        let p = Predictor::Net(o.net.clone()).predict(&mut ws, &[0.3, -1.0]);
        assert_eq!(p.probs, [1.0 / 3.0; 3]);
        let mut replay = ReplayBuffer::new(ReplayConfig::default(), 2).unwrap();
        let mut correct = 0;
        for i in 0..3000u64 {
            let a = rng.normal() as f32;
            let b = rng.normal() as f32;
            let y = if a > 0.0 { 2 } else { 0 };
            if i >= 2500 {
                let p = Predictor::Net(o.net.clone()).predict(&mut ws, &[a, b]);
                correct += usize::from(p.class.index() == y);
            }
            assert!(o.learn(&config, &[a, b], y, &replay, &mut rng, &mut ws));
            let e = Experience {
                id: i + 1,
                time: i as i64,
                features: alloc::vec![a, b],
                class: y,
                exits: [0.0; 2],
                reward: 0.0,
            };
            replay.push(&e, &mut rng).unwrap();
        }
        assert!(correct > 450, "{correct} of 500");
        assert_eq!((o.seen(), o.optimizer().steps()), (3000, 3000));
    }
}
