//! Signal model: an MLP classifier from a trade's entry features to its outcome class
//! (loss / flat / win), giving a score and a class for every entry.

use alloc::vec;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::error::{Error, check};
use crate::journal::{Outcome, Signal};
use crate::nn::{
    Activation, Batch, Init, Loss, Mlp, MlpSpec, Normalizer, OptimConfig, Optimizer, Target,
    Workspace, softmax,
};
use crate::replay::ReplayBuffer;
use crate::rng::SplitMix64;

/// Signal model configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SignalConfig {
    /// Hidden layer widths (default `[32, 32]`).
    pub hidden: Vec<u32>,
    /// Hidden activation (default ReLU; He init for ReLU, Xavier otherwise).
    pub activation: Activation,
    /// Optimiser (default Adam, lr 1e-3, gradient clipping at norm 5).
    pub optimizer: OptimConfig,
    /// Take one optimiser step on every closed trade (default `true`).
    pub online: bool,
    /// Mini-batch size for `learn` (default 32).
    pub batch: u32,
    /// Epochs over the replay buffer per `learn` (default 3).
    pub epochs: u32,
}

impl Default for SignalConfig {
    fn default() -> Self {
        Self {
            hidden: vec![32, 32],
            activation: Activation::Relu,
            optimizer: OptimConfig {
                clip_norm: 5.0,
                ..OptimConfig::adam(1e-3)
            },
            online: true,
            batch: 32,
            epochs: 3,
        }
    }
}

impl SignalConfig {
    pub(crate) fn spec(&self, features: u32) -> MlpSpec {
        let mut sizes = vec![features];
        sizes.extend_from_slice(&self.hidden);
        sizes.push(Outcome::COUNT as u32);
        MlpSpec {
            sizes,
            hidden: self.activation,
            output: Activation::Identity,
            init: if self.activation == Activation::Relu {
                Init::HeUniform
            } else {
                Init::XavierUniform
            },
        }
    }

    /// Checks ranges (the network shape is checked with the feature count by the engine).
    pub fn validate(&self, features: u32) -> Result<(), Error> {
        self.spec(features).validate()?;
        self.optimizer.validate()?;
        check(
            (1..=4096).contains(&self.batch),
            "signal.batch must be in 1..=4096",
        )?;
        check(
            (1..=1000).contains(&self.epochs),
            "signal.epochs must be in 1..=1000",
        )
    }
}

/// What a `learn` pass over the replay buffer did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SignalTrainReport {
    /// Experiences used.
    pub samples: u32,
    /// Epochs run.
    pub epochs: u32,
    /// Mean cross-entropy on those samples before training.
    pub loss_before: f32,
    /// Mean cross-entropy after training.
    pub loss_after: f32,
    /// Accuracy on those samples after training.
    pub accuracy_after: f32,
    /// Model version after training.
    pub version: u32,
}

/// The signal model and its training state.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalModel {
    pub(crate) mlp: Mlp,
    pub(crate) opt: Optimizer,
    pub(crate) norm: Normalizer,
    /// Starts at 1; every `learn` pass creates the next version.
    pub(crate) version: u32,
    /// Online steps taken.
    pub(crate) updates: u64,
    /// Exponential moving average (alpha 0.02) of the online cross-entropy, before each step.
    pub(crate) loss_ema: f32,
    pub(crate) ws: Workspace,
}

impl SignalModel {
    const EMA: f32 = 0.02;

    /// A fresh model; weights drawn from `rng`.
    pub fn new(config: &SignalConfig, features: u32, rng: &mut SplitMix64) -> Result<Self, Error> {
        config.validate(features)?;
        let mlp = Mlp::new(config.spec(features), rng)?;
        let opt = Optimizer::new(config.optimizer, mlp.params().len())?;
        Ok(Self {
            mlp,
            opt,
            norm: Normalizer::new(features as usize),
            version: 1,
            updates: 0,
            loss_ema: libm::logf(3.0),
            ws: Workspace::default(),
        })
    }

    /// The current version.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Online steps taken.
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// Moving average of the online loss.
    pub fn loss_ema(&self) -> f32 {
        self.loss_ema
    }

    /// The network.
    pub fn mlp(&self) -> &Mlp {
        &self.mlp
    }

    /// Class probabilities, class and score for one validated feature vector.
    pub(crate) fn predict(&mut self, features: &[f32]) -> Signal {
        let mut x = core::mem::take(&mut self.ws.input);
        x.resize(features.len(), 0.0);
        self.norm.apply(features, &mut x);
        let mut probs = [1.0 / 3.0; 3];
        // Cannot fail: `x` has the network's input width and is finite (clipped z-scores).
        if let Ok(logits) = self.mlp.forward(&mut self.ws, &x, 1) {
            softmax(logits, &mut probs);
        }
        self.ws.input = x;
        signal_from(probs)
    }

    /// One online step on a closed trade (features validated at entry).
    pub(crate) fn learn_one(&mut self, features: &[f32], class: u8) {
        self.norm.update(features);
        let mut x = core::mem::take(&mut self.ws.input);
        x.resize(features.len(), 0.0);
        self.norm.apply(features, &mut x);
        let labels = [class];
        let batch = Batch {
            x: &x,
            rows: 1,
            target: Target::Classes(&labels),
            weights: None,
        };
        // Cannot fail: shapes are the network's and the label is an outcome class (< 3).
        if let Ok(loss) = self.mlp.train(
            &mut self.ws,
            &mut self.opt,
            &batch,
            Loss::SoftmaxCrossEntropy,
            1.0,
        ) {
            self.loss_ema += Self::EMA * (loss - self.loss_ema);
            self.updates += 1;
        }
        self.ws.input = x;
    }

    /// Mini-batch training over the whole replay buffer; creates a new version (none when
    /// the buffer is empty).
    pub(crate) fn learn(
        &mut self,
        config: &SignalConfig,
        replay: &ReplayBuffer,
        epochs: u32,
        rng: &mut SplitMix64,
    ) -> SignalTrainReport {
        let all = replay.by_age();
        let rows = all.len();
        if rows == 0 {
            // Nothing to learn from: no new version.
            return SignalTrainReport {
                samples: 0,
                epochs: 0,
                loss_before: 0.0,
                loss_after: 0.0,
                accuracy_after: 0.0,
                version: self.version,
            };
        }
        let (x, y) = self.normalised(replay, &all);
        let loss_before = self.eval(&x, &y, rows).0;
        let batch = config.batch as usize;
        let dim = self.norm.dim();
        let (mut bx, mut by) = (Vec::with_capacity(batch * dim), Vec::with_capacity(batch));
        for _ in 0..epochs {
            let mut order: Vec<usize> = (0..rows).collect();
            rng.shuffle(&mut order);
            for chunk in order.chunks(batch) {
                bx.clear();
                by.clear();
                for &r in chunk {
                    bx.extend_from_slice(&x[r * dim..(r + 1) * dim]);
                    by.push(y[r]);
                }
                let b = Batch {
                    x: &bx,
                    rows: chunk.len(),
                    target: Target::Classes(&by),
                    weights: None,
                };
                // Cannot fail: rows come from validated experiences, normalised and clipped.
                let _ = self.mlp.train(
                    &mut self.ws,
                    &mut self.opt,
                    &b,
                    Loss::SoftmaxCrossEntropy,
                    1.0,
                );
            }
        }
        let (loss_after, accuracy_after) = self.eval(&x, &y, rows);
        self.version += 1;
        SignalTrainReport {
            samples: rows as u32,
            epochs,
            loss_before,
            loss_after,
            accuracy_after,
            version: self.version,
        }
    }

    fn normalised(&self, replay: &ReplayBuffer, slots: &[usize]) -> (Vec<f32>, Vec<u8>) {
        let mut raw = Vec::new();
        replay.gather_features(slots, &mut raw);
        let x = self.norm.apply_rows(&raw);
        let y = slots
            .iter()
            .filter_map(|&s| replay.get(s))
            .map(|e| e.class)
            .collect();
        (x, y)
    }

    /// Mean cross-entropy and accuracy on normalised rows (0, 0 for no rows).
    fn eval(&mut self, x: &[f32], y: &[u8], rows: usize) -> (f32, f32) {
        if rows == 0 {
            return (0.0, 0.0);
        }
        let loss = self
            .mlp
            .loss(
                &mut self.ws,
                &Batch {
                    x,
                    rows,
                    target: Target::Classes(y),
                    weights: None,
                },
                Loss::SoftmaxCrossEntropy,
            )
            .unwrap_or(f32::NAN);
        let correct = match self.mlp.forward(&mut self.ws, x, rows) {
            Ok(out) => out
                .chunks_exact(3)
                .zip(y)
                .filter(|(o, c)| argmax(o) == **c)
                .count(),
            Err(_) => 0,
        };
        (loss, correct as f32 / rows as f32)
    }
}

fn argmax(v: &[f32]) -> u8 {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best as u8
}

fn signal_from(probs: [f32; 3]) -> Signal {
    let class = Outcome::from_index(argmax(&probs)).unwrap_or(Outcome::Flat);
    Signal {
        probs,
        class,
        score: probs[2] - probs[0],
    }
}
