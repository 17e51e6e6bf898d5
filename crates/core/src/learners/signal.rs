//! Signal model: a classifier from a trade's entry features to its outcome class
//! (loss / flat / win), giving class probabilities, a class and a score for every entry.
//!
//! A signal model is a [`Predictor`]: either the class frequencies of its training data
//! (the prior, which on real prices is hard to beat) or a [`SignalNet`], an MLP with its
//! frozen input normalisation and a softmax temperature fitted on validation data so its
//! probabilities are calibrated. This module trains networks ([`retrain`], [`fine_tune`])
//! and measures predictors ([`Predictor::evaluate`]); which one goes live is decided by
//! [`crate::lifecycle`].

use alloc::vec;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::error::{Error, check};
use crate::nn::{Activation, Init, Mlp, MlpSpec, Normalizer, OptimConfig, Workspace, softmax};
use crate::replay::ReplayBuffer;
use crate::vocab::{Outcome, Signal};

/// Signal network configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct SignalConfig {
    /// Hidden layer widths (default `[32, 32]`).
    pub hidden: Vec<u32>,
    /// Hidden activation (default ReLU; He init for ReLU, Xavier otherwise).
    pub activation: Activation,
    /// Optimiser of a full retrain (default Adam, lr 1e-3, gradient clipping at norm 5);
    /// a fine-tune uses it with the learning rate scaled down.
    pub optimizer: OptimConfig,
    /// Mini-batch size (default 32).
    pub batch: u32,
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
            batch: 32,
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

    /// Checks ranges (the network shape together with the feature count).
    pub fn validate(&self, features: u32) -> Result<(), Error> {
        self.spec(features).validate()?;
        self.optimizer.validate()?;
        check(
            (1..=4096).contains(&self.batch),
            "signal.batch must be in 1..=4096",
        )
    }
}

/// How well a predictor did on some labelled samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Metrics {
    /// Samples measured.
    pub samples: u32,
    /// Mean cross-entropy of the predicted probabilities (nats).
    pub log_loss: f32,
    /// Share of samples whose most probable class was right.
    pub accuracy: f32,
}

/// A network with the input normalisation it was trained with and a softmax temperature.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalNet {
    pub(crate) mlp: Mlp,
    pub(crate) norm: Normalizer,
    pub(crate) temperature: f32,
}

impl SignalNet {
    /// The network.
    pub fn mlp(&self) -> &Mlp {
        &self.mlp
    }

    /// The input normalisation statistics (frozen since the last full retrain).
    pub fn normalizer(&self) -> &Normalizer {
        &self.norm
    }

    /// Softmax temperature (logits are divided by it; fitted on validation data).
    pub fn temperature(&self) -> f32 {
        self.temperature
    }

    /// Class probabilities of one raw, validated row, without allocating (the normalised
    /// input goes through `ws`'s caller scratch).
    pub(crate) fn probs_one(&self, ws: &mut Workspace, x: &[f32]) -> [f32; 3] {
        let mut input = core::mem::take(&mut ws.input);
        input.clear();
        input.resize(x.len(), 0.0);
        self.norm.apply(x, &mut input);
        let mut p = [1.0 / 3.0; 3];
        // Cannot fail: the row is normalised (finite, clipped) and has the network's width.
        if let Ok(logits) = self.mlp.forward(ws, &input, 1) {
            let mut scaled = [0.0f32; 3];
            for (s, &v) in scaled.iter_mut().zip(logits) {
                *s = v / self.temperature;
            }
            softmax(&scaled, &mut p);
        }
        ws.input = input;
        p
    }

    /// Class probabilities of raw rows (`rows x dim`), appended to `out` (3 per row).
    fn probs_rows(&self, ws: &mut Workspace, raw: &[f32], rows: usize, out: &mut Vec<f32>) {
        let x = self.norm.apply_rows(raw);
        self.probs_normalised(ws, &x, rows, self.temperature, out);
    }

    fn probs_normalised(
        &self,
        ws: &mut Workspace,
        x: &[f32],
        rows: usize,
        temperature: f32,
        out: &mut Vec<f32>,
    ) {
        let start = out.len();
        out.resize(start + rows * 3, 1.0 / 3.0);
        if rows == 0 {
            return;
        }
        // Cannot fail: rows are normalised (finite, clipped) and have the network's width.
        if let Ok(logits) = self.mlp.forward(ws, x, rows) {
            let mut scaled = [0.0f32; 3];
            for (l, p) in logits.chunks_exact(3).zip(out[start..].chunks_exact_mut(3)) {
                for (s, &v) in scaled.iter_mut().zip(l) {
                    *s = v / temperature;
                }
                softmax(&scaled, p);
            }
        }
    }
}

/// A signal model: the prior or a network.
#[derive(Debug, Clone, PartialEq)]
pub enum Predictor {
    /// Always predicts these class probabilities (`[loss, flat, win]`, summing to 1).
    Prior([f32; 3]),
    /// A trained network.
    Net(SignalNet),
}

impl Predictor {
    /// The uniform prior: what an engine starts with.
    pub const UNIFORM: Predictor = Predictor::Prior([1.0 / 3.0; 3]);

    /// The class frequencies of `labels`, with add-one smoothing so no class is impossible.
    pub fn prior_of(labels: &[u8]) -> Predictor {
        let mut counts = [1.0f64; 3];
        for &c in labels {
            if let Some(n) = counts.get_mut(usize::from(c)) {
                *n += 1.0;
            }
        }
        let total: f64 = counts.iter().sum();
        Predictor::Prior(counts.map(|n| (n / total) as f32))
    }

    /// The network, if this is one.
    pub fn net(&self) -> Option<&SignalNet> {
        match self {
            Predictor::Net(n) => Some(n),
            Predictor::Prior(_) => None,
        }
    }

    /// The signal for one validated feature vector.
    pub fn predict(&self, ws: &mut Workspace, features: &[f32]) -> Signal {
        match self {
            Predictor::Prior(p) => signal_from(*p),
            Predictor::Net(net) => signal_from(net.probs_one(ws, features)),
        }
    }

    /// Class probabilities for every row of `data`, 3 per row.
    pub fn probs(&self, ws: &mut Workspace, data: &Data) -> Vec<f32> {
        let mut out = Vec::with_capacity(data.len() * 3);
        match self {
            Predictor::Prior(p) => (0..data.len()).for_each(|_| out.extend_from_slice(p)),
            Predictor::Net(net) => net.probs_rows(ws, &data.x, data.len(), &mut out),
        }
        out
    }

    /// Log-loss and accuracy on `data` (`None` when it is empty).
    pub fn evaluate(&self, ws: &mut Workspace, data: &Data) -> Option<Metrics> {
        metrics(&self.probs(ws, data), &data.y)
    }
}

/// Log-loss and accuracy of predicted probabilities (3 per row) against labels.
pub fn metrics(probs: &[f32], labels: &[u8]) -> Option<Metrics> {
    if labels.is_empty() {
        return None;
    }
    let (mut loss, mut correct) = (0.0f64, 0u32);
    for (p, &y) in probs.chunks_exact(3).zip(labels) {
        loss += f64::from(log_loss(p, y));
        if argmax(p) == y {
            correct += 1;
        }
    }
    let n = labels.len() as f64;
    Some(Metrics {
        samples: labels.len() as u32,
        log_loss: (loss / n) as f32,
        accuracy: (f64::from(correct) / n) as f32,
    })
}

/// `-ln p[class]`, with `p` floored at 1e-7 (a certain wrong prediction costs 16 nats, not
/// infinity).
pub fn log_loss(probs: &[f32], class: u8) -> f32 {
    let p = probs.get(usize::from(class)).copied().unwrap_or(0.0);
    -libm::logf(p.max(1e-7))
}

/// Labelled samples in date order: raw features, classes and times.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Data {
    /// Features, `len() x dim`, row-major, not normalised.
    pub x: Vec<f32>,
    /// Classes.
    pub y: Vec<u8>,
    /// Sample times (ms since the Unix epoch).
    pub times: Vec<i64>,
    /// Features per row.
    pub dim: usize,
}

impl Data {
    /// The experiences in `slots` of `replay`, in that order.
    pub fn from_replay(replay: &ReplayBuffer, slots: &[usize]) -> Self {
        let mut d = Data {
            dim: replay.dim(),
            ..Data::default()
        };
        replay.gather_features(slots, &mut d.x);
        for e in slots.iter().filter_map(|&s| replay.get(s)) {
            d.y.push(e.class);
            d.times.push(e.time);
        }
        d
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// No rows.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// First and last sample time.
    pub fn range(&self) -> Option<(i64, i64)> {
        Some((*self.times.first()?, *self.times.last()?))
    }

    /// Rows `from..to`.
    pub fn slice(&self, from: usize, to: usize) -> Data {
        let to = to.min(self.len());
        let from = from.min(to);
        Data {
            x: self.x[from * self.dim..to * self.dim].to_vec(),
            y: self.y[from..to].to_vec(),
            times: self.times[from..to].to_vec(),
            dim: self.dim,
        }
    }

    /// Date-ordered train / validation / test split in the proportions `parts`
    /// (e.g. `[5, 3, 2]`); each part keeps at least one row when there are three.
    pub fn split(&self, parts: [u32; 3]) -> [Data; 3] {
        let n = self.len();
        let total = u64::from(parts[0]) + u64::from(parts[1]) + u64::from(parts[2]);
        let share = |p: u32| (n as u64 * u64::from(p) / total.max(1)) as usize;
        let mut a = share(parts[0]);
        let mut b = a + share(parts[1]);
        if n >= 3 {
            a = a.clamp(1, n - 2);
            b = b.clamp(a + 1, n - 1);
        }
        [self.slice(0, a), self.slice(a, b), self.slice(b, n)]
    }

    /// The rows whose time is in `from..=to`, and the others.
    pub fn partition_by_time(&self, from: i64, to: i64) -> (Data, Data) {
        let mut inside = Data {
            dim: self.dim,
            ..Data::default()
        };
        let mut outside = inside.clone();
        for (i, &t) in self.times.iter().enumerate() {
            let d = if (from..=to).contains(&t) {
                &mut inside
            } else {
                &mut outside
            };
            d.x.extend_from_slice(&self.x[i * self.dim..(i + 1) * self.dim]);
            d.y.push(self.y[i]);
            d.times.push(t);
        }
        (inside, outside)
    }
}

/// Why a training run was thrown away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Rejection {
    /// A loss or a weight became NaN or infinite.
    NonFinite,
    /// The training loss rose above `divergence` times its starting value.
    Diverged,
    /// There was no data to train on.
    NoData,
}

/// What a training run did, epoch by epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RunLog {
    /// Epochs run.
    pub epochs: u32,
    /// The epoch whose weights were kept (1-based; 0 = the starting weights).
    pub best_epoch: u32,
    /// Mean training loss per epoch.
    pub train_loss: Vec<f32>,
    /// Validation loss per epoch (empty without validation data).
    pub validation_loss: Vec<f32>,
    /// Stopped early: validation loss did not improve for `patience` epochs.
    pub stopped_early: bool,
}

/// How to run a training loop.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    /// Optimiser (learning rate already scaled).
    pub optimizer: OptimConfig,
    /// Mini-batch size.
    pub batch: u32,
    /// Most epochs.
    pub epochs: u32,
    /// Epochs without validation improvement before stopping (0: never stop early).
    pub patience: u32,
    /// A training loss above this multiple of the first epoch's starting loss is divergence.
    pub divergence: f32,
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

/// The signal for class probabilities: the most probable class (the first on ties) and the
/// score `P(win) - P(loss)`.
pub fn signal_from(probs: [f32; 3]) -> Signal {
    let class = Outcome::from_index(argmax(&probs)).unwrap_or(Outcome::Flat);
    Signal {
        probs,
        class,
        score: probs[2] - probs[0],
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    /// Two features; the class is decided by the sign of the first (win above 0, loss
    /// below), with 10% label noise.
    pub(crate) fn toy(n: usize, seed: u64, t0: i64) -> Data {
        let mut rng = SplitMix64::new(seed);
        let mut d = Data {
            dim: 2,
            ..Data::default()
        };
        for i in 0..n {
            let a = rng.normal() as f32;
            let b = rng.normal() as f32;
            let mut y = if a > 0.0 { 2 } else { 0 };
            if rng.chance(0.1) {
                y = 1;
            }
            d.x.extend_from_slice(&[a * 3.0 + 10.0, b]);
            d.y.push(y);
            d.times.push(t0 + i as i64);
        }
        d
    }

    pub(crate) fn settings() -> RunSettings {
        RunSettings {
            optimizer: OptimConfig::adam(1e-2),
            batch: 32,
            epochs: 40,
            patience: 5,
            divergence: 4.0,
        }
    }

    pub(crate) fn config() -> SignalConfig {
        SignalConfig {
            hidden: vec![8],
            ..SignalConfig::default()
        }
    }

    #[test]
    fn priors_metrics_and_splits() {
        let p = Predictor::prior_of(&[2, 2, 2, 0]);
        let Predictor::Prior(q) = p else {
            panic!("a prior")
        };
        assert!((q[2] - 4.0 / 7.0).abs() < 1e-6 && (q.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        let m = metrics(&[0.5, 0.25, 0.25, 0.1, 0.1, 0.8], &[0, 1]).unwrap();
        assert_eq!(m.accuracy, 0.5);
        assert!((m.log_loss - (libm::logf(2.0) + libm::logf(10.0)) / 2.0).abs() < 1e-6);
        assert_eq!(metrics(&[], &[]), None);
        assert_eq!(log_loss(&[0.0, 0.0, 1.0], 0), -libm::logf(1e-7));
        assert_eq!(log_loss(&[0.0, 0.0, 1.0], 9), -libm::logf(1e-7));
        let d = toy(3, 1, 0);
        let [a, b, c] = d.split([5, 3, 2]);
        assert_eq!((a.len(), b.len(), c.len()), (1, 1, 1));
        let (inside, outside) = toy(10, 1, 0).partition_by_time(3, 5);
        assert_eq!((inside.times.clone(), outside.len()), (vec![3, 4, 5], 7));
        assert_eq!(inside.x.len(), 6);
    }
}
