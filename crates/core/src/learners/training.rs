//! A full retrain of a signal network that can stop after any batch and resume later, so
//! its cost is spread over many commands (`Training::advance` does at most a given number
//! of rows of work) and a checkpoint taken in the middle resumes it exactly.
//!
//! The run: input normalisation fitted on the training rows, fresh weights, epochs of
//! shuffled mini-batches with Adam, the validation loss after every epoch with early stopping
//! that restores the best epoch, a rejection if a loss or weight is not finite or the
//! training loss climbs above `divergence` times its start, and at the end a softmax
//! temperature fitted on the validation rows. This is the only training loop of the signal
//! network ([`retrain`] runs it to completion).

use alloc::vec::Vec;

use super::signal::{Data, Rejection, RunLog, RunSettings, SignalConfig, SignalNet, metrics};
use crate::nn::{Batch, Loss, Mlp, Normalizer, Optimizer, Target, Workspace, softmax};
use crate::rng::SplitMix64;

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The starting training and validation losses are still to measure.
    Start,
    /// Inside epoch `epoch` (1-based), at position `pos` of the shuffled order.
    Epoch,
    /// Done: the best epoch is restored and the temperature fitted.
    Done,
}

/// A retrain in progress. Persisted whole (data included), so it resumes bit for bit.
#[derive(Debug, Clone, PartialEq)]
pub struct Training {
    pub(crate) settings: RunSettings,
    /// Training rows (raw features).
    pub(crate) train: Data,
    /// Validation rows.
    pub(crate) validation: Data,
    /// The network being trained (normaliser fitted on `train`).
    pub(crate) net: SignalNet,
    pub(crate) opt: Optimizer,
    /// The run's own generator (shuffles).
    pub(crate) rng: SplitMix64,
    pub(crate) phase: Phase,
    /// Current epoch, 1-based (0 before the first).
    pub(crate) epoch: u32,
    /// Shuffled row order of the current epoch.
    pub(crate) order: Vec<u32>,
    /// Next position in `order`.
    pub(crate) pos: u32,
    /// Summed training loss of the current epoch so far.
    pub(crate) epoch_loss: f64,
    /// A training loss above this is divergence.
    pub(crate) limit: f32,
    /// Best validation loss and its parameters (`None` without validation rows).
    pub(crate) best: Option<(f32, Vec<f32>)>,
    /// Epochs since the best one.
    pub(crate) since_best: u32,
    pub(crate) log: RunLog,
}

/// What [`Training::advance`] came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// Not done; call again.
    Running,
    /// Done: the trained network.
    Done(SignalNet),
    /// Thrown away.
    Rejected(Rejection),
}

impl Training {
    /// A run on `train` (early stopping and temperature on `validation`) with fresh weights
    /// from `rng`.
    pub fn new(
        config: &SignalConfig,
        settings: RunSettings,
        train: Data,
        validation: Data,
        rng: &mut SplitMix64,
    ) -> Result<Self, Rejection> {
        if train.is_empty() {
            return Err(Rejection::NoData);
        }
        let mut norm = Normalizer::new(train.dim);
        for row in train.x.chunks_exact(train.dim.max(1)) {
            norm.update(row);
        }
        let mlp = Mlp::new(config.spec(train.dim as u32), rng).map_err(|_| Rejection::NoData)?;
        let opt = Optimizer::new(settings.optimizer, mlp.params().len())
            .map_err(|_| Rejection::NoData)?;
        Ok(Self {
            settings,
            net: SignalNet {
                mlp,
                norm,
                temperature: 1.0,
            },
            opt,
            rng: SplitMix64::new(rng.next_u64()),
            phase: Phase::Start,
            epoch: 0,
            order: Vec::new(),
            pos: 0,
            epoch_loss: 0.0,
            limit: f32::INFINITY,
            best: None,
            since_best: 0,
            log: RunLog {
                epochs: 0,
                best_epoch: 0,
                train_loss: Vec::new(),
                validation_loss: Vec::new(),
                stopped_early: false,
            },
            train,
            validation,
        })
    }

    /// The epoch log so far.
    pub fn log(&self) -> &RunLog {
        &self.log
    }

    /// Where the run is.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Training and validation rows.
    pub fn rows(&self) -> (usize, usize) {
        (self.train.len(), self.validation.len())
    }

    /// Does at most about `budget` rows of work (a row trained or evaluated counts one; the
    /// validation pass at the end of an epoch is done whole) and says where the run is.
    pub fn advance(&mut self, budget: u64, ws: &mut Workspace) -> Progress {
        let mut spent = 0u64;
        loop {
            match self.phase {
                Phase::Start => {
                    let Some(start) = self.loss_on(ws, true) else {
                        return self.reject(Rejection::NonFinite);
                    };
                    self.limit = start.max(1e-3) * self.settings.divergence;
                    if !self.validation.is_empty() {
                        let Some(v) = self.loss_on(ws, false) else {
                            return self.reject(Rejection::NonFinite);
                        };
                        self.best = Some((v, self.net.mlp.params().to_vec()));
                    }
                    spent += (self.train.len() + self.validation.len()) as u64;
                    self.start_epoch();
                }
                Phase::Epoch => {
                    if let Some(p) = self.train_batch(ws, &mut spent) {
                        return p;
                    }
                    if self.pos as usize >= self.order.len() {
                        spent += self.validation.len() as u64;
                        if let Some(p) = self.end_epoch(ws) {
                            return p;
                        }
                    }
                }
                Phase::Done => return Progress::Done(self.net.clone()),
            }
            if spent >= budget {
                return Progress::Running;
            }
        }
    }

    /// Runs to the end.
    pub fn finish(&mut self, ws: &mut Workspace) -> Progress {
        self.advance(u64::MAX, ws)
    }

    fn reject(&mut self, why: Rejection) -> Progress {
        self.phase = Phase::Done;
        Progress::Rejected(why)
    }

    fn start_epoch(&mut self) {
        self.epoch += 1;
        self.order = (0..self.train.len() as u32).collect();
        self.rng.shuffle(&mut self.order);
        self.pos = 0;
        self.epoch_loss = 0.0;
        self.phase = Phase::Epoch;
    }

    /// One mini-batch; `Some` if the run was rejected.
    fn train_batch(&mut self, ws: &mut Workspace, spent: &mut u64) -> Option<Progress> {
        let dim = self.train.dim;
        let batch = (self.settings.batch as usize).max(1);
        let from = self.pos as usize;
        let to = (from + batch).min(self.order.len());
        let mut bx = Vec::with_capacity((to - from) * dim);
        let mut by = Vec::with_capacity(to - from);
        let mut z = alloc::vec![0.0f32; dim];
        for &r in &self.order[from..to] {
            let r = r as usize;
            self.net
                .norm
                .apply(&self.train.x[r * dim..(r + 1) * dim], &mut z);
            bx.extend_from_slice(&z);
            by.push(self.train.y[r]);
        }
        let b = Batch {
            x: &bx,
            rows: by.len(),
            target: Target::Classes(&by),
            weights: None,
        };
        let loss = match self
            .net
            .mlp
            .train(ws, &mut self.opt, &b, Loss::SoftmaxCrossEntropy, 1.0)
        {
            Ok(l) if l.is_finite() => l,
            _ => return Some(self.reject(Rejection::NonFinite)),
        };
        self.epoch_loss += f64::from(loss) * by.len() as f64;
        self.pos = to as u32;
        *spent += by.len() as u64;
        None
    }

    /// Closes an epoch: divergence, validation, early stopping; `Some` when the run ended.
    fn end_epoch(&mut self, ws: &mut Workspace) -> Option<Progress> {
        if self.net.mlp.params().iter().any(|p| !p.is_finite()) {
            return Some(self.reject(Rejection::NonFinite));
        }
        let train_loss = (self.epoch_loss / self.train.len().max(1) as f64) as f32;
        self.log.epochs = self.epoch;
        self.log.train_loss.push(train_loss);
        if train_loss > self.limit {
            return Some(self.reject(Rejection::Diverged));
        }
        let mut stop = self.epoch >= self.settings.epochs;
        if self.best.is_some() {
            let Some(v) = self.loss_on(ws, false) else {
                return Some(self.reject(Rejection::NonFinite));
            };
            self.log.validation_loss.push(v);
            let (best_loss, best_params) = self.best.as_mut()?;
            if v < *best_loss {
                *best_loss = v;
                best_params.clear();
                best_params.extend_from_slice(self.net.mlp.params());
                self.log.best_epoch = self.epoch;
                self.since_best = 0;
            } else {
                self.since_best += 1;
                if self.settings.patience > 0 && self.since_best >= self.settings.patience {
                    self.log.stopped_early = true;
                    stop = true;
                }
            }
        } else {
            self.log.best_epoch = self.epoch;
        }
        if !stop {
            self.start_epoch();
            return None;
        }
        if let Some((_, params)) = self.best.take()
            && let Ok(m) = Mlp::from_params(self.net.mlp.spec().clone(), params)
        {
            // Same spec, finite parameters: cannot fail.
            self.net.mlp = m;
        }
        self.net.temperature = self.fit_temperature(ws);
        self.phase = Phase::Done;
        self.order = Vec::new();
        Some(Progress::Done(self.net.clone()))
    }

    /// Mean cross-entropy on the training (`true`) or validation rows; `None` if not finite.
    fn loss_on(&self, ws: &mut Workspace, training: bool) -> Option<f32> {
        let d = if training {
            &self.train
        } else {
            &self.validation
        };
        if d.is_empty() {
            return Some(0.0);
        }
        let x = self.net.norm.apply_rows(&d.x);
        let b = Batch {
            x: &x,
            rows: d.len(),
            target: Target::Classes(&d.y),
            weights: None,
        };
        self.net
            .mlp
            .loss(ws, &b, Loss::SoftmaxCrossEntropy)
            .ok()
            .filter(|l| l.is_finite())
    }

    /// The softmax temperature in `[0.25, 20]` minimising log-loss on the validation rows
    /// (golden-section search on `ln T` over logits computed once); 1 without validation
    /// rows, or when 1 is at least as good.
    fn fit_temperature(&self, ws: &mut Workspace) -> f32 {
        let v = &self.validation;
        if v.is_empty() {
            return 1.0;
        }
        let x = self.net.norm.apply_rows(&v.x);
        let Ok(out) = self.net.mlp.forward(ws, &x, v.len()) else {
            return 1.0;
        };
        let logits = out.to_vec();
        let mut probs = Vec::with_capacity(logits.len());
        let mut loss_at = |ln_t: f32| {
            let t = libm::expf(ln_t);
            probs.clear();
            for l in logits.chunks_exact(3) {
                let mut p = [0.0f32; 3];
                softmax(&[l[0] / t, l[1] / t, l[2] / t], &mut p);
                probs.extend_from_slice(&p);
            }
            metrics(&probs, &v.y).map_or(f32::INFINITY, |m| m.log_loss)
        };
        let phi = 0.618_034f32;
        let (mut a, mut b) = (libm::logf(0.25), libm::logf(20.0));
        let mut c = b - phi * (b - a);
        let mut d = a + phi * (b - a);
        let (mut fc, mut fd) = (loss_at(c), loss_at(d));
        for _ in 0..30 {
            if fc < fd {
                b = d;
                d = c;
                fd = fc;
                c = b - phi * (b - a);
                fc = loss_at(c);
            } else {
                a = c;
                c = d;
                fc = fd;
                d = a + phi * (b - a);
                fd = loss_at(d);
            }
        }
        let t = libm::expf((a + b) / 2.0);
        if loss_at(0.0) <= loss_at((a + b) / 2.0) {
            1.0
        } else {
            t
        }
    }
}

/// A full retrain run to completion: normalisation fitted on `train`, fresh weights from
/// `rng`, up to `settings.epochs` epochs with early stopping on `validation` loss (restoring
/// the best epoch), then a temperature fitted on `validation`. The same loop as a retrain
/// spread over many commands ([`Training`]).
pub fn retrain(
    config: &SignalConfig,
    train: &Data,
    validation: &Data,
    settings: &RunSettings,
    rng: &mut SplitMix64,
    ws: &mut Workspace,
) -> Result<(SignalNet, RunLog), Rejection> {
    let mut run = Training::new(config, *settings, train.clone(), validation.clone(), rng)?;
    match run.finish(ws) {
        Progress::Done(net) => Ok((net, run.log().clone())),
        Progress::Rejected(why) => Err(why),
        // `finish` has no budget: it cannot stop early.
        Progress::Running => Err(Rejection::NoData),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learners::signal::Predictor;
    use crate::learners::signal::tests::{config, settings, toy};
    use crate::nn::OptimConfig;

    #[test]
    fn retrain_learns_beats_the_prior_and_restores_the_best_epoch() {
        let d = toy(1000, 1, 0);
        let [train, val, test] = d.split([5, 3, 2]);
        assert_eq!((train.len(), val.len(), test.len()), (500, 300, 200));
        let mut ws = Workspace::default();
        let (net, log) = retrain(
            &config(),
            &train,
            &val,
            &settings(),
            &mut SplitMix64::new(2),
            &mut ws,
        )
        .unwrap();
        assert!(log.best_epoch >= 1 && log.best_epoch <= log.epochs);
        let best = log.validation_loss[log.best_epoch as usize - 1];
        assert!(log.validation_loss.iter().all(|&v| v >= best));
        let net = Predictor::Net(net);
        let prior = Predictor::prior_of(&train.y);
        let m = net.evaluate(&mut ws, &test).unwrap();
        let p = prior.evaluate(&mut ws, &test).unwrap();
        assert!(m.accuracy > 0.8, "{m:?}");
        assert!(m.log_loss < p.log_loss - 0.3, "{m:?} vs prior {p:?}");
    }

    #[test]
    fn a_nan_or_diverging_run_is_rejected() {
        let d = toy(400, 3, 0);
        let [train, val, _] = d.split([5, 3, 2]);
        let mut ws = Workspace::default();
        let wild = RunSettings {
            optimizer: OptimConfig::sgd(10.0, 0.99),
            ..settings()
        };
        let r = retrain(
            &config(),
            &train,
            &val,
            &wild,
            &mut SplitMix64::new(4),
            &mut ws,
        );
        assert!(
            matches!(r, Err(Rejection::NonFinite | Rejection::Diverged)),
            "{r:?}"
        );
        let none = retrain(
            &config(),
            &Data::default(),
            &val,
            &settings(),
            &mut SplitMix64::new(4),
            &mut ws,
        );
        assert_eq!(none.err(), Some(Rejection::NoData));
    }
}
