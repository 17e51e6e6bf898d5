//! The W6 protocol on any candle series: how well the served forecast, each of its experts,
//! the running class prior and a network trained once and frozen predict the volatility-
//! scaled return `horizon` bars ahead, scored prequentially (test, then train).
//!
//! The stream (`shared/bench/anchors/W6_SPEC.md`): one row per bar `t` with the 32 W6
//! features of bar `t` ([`crate::market::FeatureExtractor`]) and as label the class of
//! `g = ln(c[t+H] / c[t]) / (sigma_t * sqrt(H))` (loss below -0.5, win above +0.5, else
//! flat). A row's label is known at bar `t + H`, so at row `k` the engine first learns row
//! `k - H` (`Command::Observe`, which reveals the label of that row's `Forecast`), then
//! forecasts row `k` (`Command::Forecast`). No forecast uses a label that was not known at
//! its bar.
//!
//! `Observe` classifies a return with `config.flat_band`: a row is sent with `return_pct =
//! g * 2 * flat_band`, which falls in the same class as the label (checked on every row;
//! an explicit fallback is counted).
//!
//! Metrics: log-loss `-ln(clip(p[label], 1e-7, 1))` with `p` renormalised in `f64`,
//! accuracy (argmax, ties to the lowest class) and macro-F1, over the whole stream, over the
//! last 30% of it, and over the rows every predictor was scored on (from the frozen
//! network's first forecast on), overall and per calendar year; and the paired log-loss
//! difference of each predictor to the running prior with a standard error over blocks of
//! rows (neighbouring labels overlap, single rows are not independent).
//!
//! The core reads no clock: how long it took is the caller's to measure.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::command::{Command, ForecastRequest, Observation, Reply};
use crate::config::EngineConfig;
use crate::engine::Engine;
use crate::error::Error;
use crate::learners::signal::{Data, Predictor, RunSettings};
use crate::learners::training::retrain;
use crate::lifecycle::mixture::{EXPERTS, Expert};
use crate::lifecycle::registry::Verdict;
use crate::market::{Candle, FEATURES, FeatureExtractor, date_of, label_of, scaled_return};
use crate::nn::Workspace;
use crate::rng::SplitMix64;
use crate::vocab::Outcome;

mod markdown;

/// The log-loss floor of the W6 spec.
pub const P_FLOOR: f64 = 1e-7;

/// One labelled row of the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The 32 W6 features of bar `t`.
    pub features: [f32; FEATURES],
    /// The label: 0 loss, 1 flat, 2 win.
    pub label: u8,
    /// Time of bar `t` (ms), when the row is forecast.
    pub time: i64,
    /// Time of bar `t + horizon` (ms), when its label is known.
    pub label_time: i64,
    /// The volatility-scaled return that decided the label.
    pub g: f64,
}

/// The labelled stream of `candles` (oldest first) for a label `horizon` bars ahead (the W6
/// stream for 12).
pub fn stream(candles: &[Candle], horizon: usize) -> Vec<Row> {
    let mut out = Vec::with_capacity(candles.len());
    let mut fx = FeatureExtractor::new();
    for (c, later) in candles.iter().zip(candles.iter().skip(horizon.max(1))) {
        if let (Some(features), Some(sigma)) = (fx.push(c), fx.sigma()) {
            let g = scaled_return(c.close, later.close, sigma, horizon.max(1));
            out.push(Row {
                features,
                label: label_of(g),
                time: c.time,
                label_time: later.time,
                g,
            });
        }
    }
    out
}

/// Accuracy, log-loss and confusion counts over some rows.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Scores {
    /// Rows scored.
    pub n: u64,
    /// Rows whose most probable class was the label.
    pub correct: u64,
    /// Sum of `-ln(clip(p[label], 1e-7, 1))`.
    pub log_loss_sum: f64,
    /// `confusion[label][predicted]`.
    pub confusion: [[u64; 3]; 3],
}

impl Scores {
    /// Adds one forecast.
    pub fn add(&mut self, p: [f64; 3], label: u8) {
        let predicted = argmax(p);
        let y = usize::from(label.min(2));
        self.n += 1;
        self.correct += u64::from(predicted == y);
        self.log_loss_sum += -libm::log(p[y].clamp(P_FLOOR, 1.0));
        self.confusion[y][predicted] += 1;
    }

    /// Share of right classes.
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.n.max(1) as f64
    }

    /// Mean log-loss (nats).
    pub fn log_loss(&self) -> f64 {
        self.log_loss_sum / self.n.max(1) as f64
    }

    /// Mean over the classes of `2TP / (2TP + FP + FN)` (0 for a zero denominator).
    pub fn macro_f1(&self) -> f64 {
        let c = &self.confusion;
        (0..3)
            .map(|k| {
                let tp = c[k][k];
                let fn_: u64 = (0..3).filter(|&j| j != k).map(|j| c[k][j]).sum();
                let fp: u64 = (0..3).filter(|&j| j != k).map(|j| c[j][k]).sum();
                let d = 2 * tp + fp + fn_;
                if d == 0 {
                    0.0
                } else {
                    2.0 * tp as f64 / d as f64
                }
            })
            .sum::<f64>()
            / 3.0
    }

    /// How often each class was predicted.
    pub fn predicted(&self) -> [u64; 3] {
        let c = &self.confusion;
        [0, 1, 2].map(|k| c[0][k] + c[1][k] + c[2][k])
    }
}

/// Most probable class, ties to the lowest index.
fn argmax(p: [f64; 3]) -> usize {
    let mut best = 0;
    for k in 1..3 {
        if p[k] > p[best] {
            best = k;
        }
    }
    best
}

/// Probabilities as the spec reads them: widened, divided by their sum when it is positive
/// and finite, otherwise uniform.
pub fn normalise(p: [f32; 3]) -> [f64; 3] {
    let p = p.map(f64::from);
    let s: f64 = p.iter().sum();
    if s > 0.0 && s.is_finite() && p.iter().all(|x| x.is_finite() && *x >= 0.0) {
        p.map(|x| x / s)
    } else {
        [1.0 / 3.0; 3]
    }
}

/// A paired difference `a - b` per row, summarised: mean, standard error over consecutive
/// blocks of `block` rows (the last, partial block dropped from the error), blocks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Paired {
    /// Mean difference per row.
    pub mean: f64,
    /// Its standard error (`None` with fewer than two whole blocks).
    pub std_error: Option<f64>,
    /// Blocks.
    pub blocks: u32,
}

/// The paired difference of `a` and `b` with blocks of `block` rows.
pub fn paired(a: &[f64], b: &[f64], block: usize) -> Paired {
    let n = a.len().min(b.len());
    let block = block.max(1);
    let mean = a.iter().zip(b).map(|(x, y)| x - y).sum::<f64>() / n.max(1) as f64;
    let means: Vec<f64> = a[..n]
        .chunks_exact(block)
        .zip(b[..n].chunks_exact(block))
        .map(|(x, y)| x.iter().zip(y).map(|(p, q)| p - q).sum::<f64>() / block as f64)
        .collect();
    let k = means.len();
    let std_error = (k >= 2).then(|| {
        let m = means.iter().sum::<f64>() / k as f64;
        let var = means.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (k - 1) as f64;
        libm::sqrt(var / k as f64)
    });
    Paired {
        mean,
        std_error,
        blocks: k as u32,
    }
}

/// How to run the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Protocol {
    /// Label horizon in bars (W6: 12).
    pub horizon: u32,
    /// Labels revealed before the frozen network is trained (on them, split 5:3 into train
    /// and validation with an embargo of `horizon`); every predictor is then scored from its
    /// first forecast on. 0 (the default): 2,000, or a fifth of the stream if that is less.
    pub frozen_after: u32,
    /// Rows per block of the paired differences' standard error (default 500).
    pub block: u32,
    /// Engine seed.
    pub seed: u64,
}

impl Protocol {
    /// Longest label horizon, in bars.
    pub const MAX_HORIZON: u32 = 10_000;
}

impl Default for Protocol {
    fn default() -> Self {
        Self {
            horizon: 12,
            frozen_after: 0,
            block: 500,
            seed: 6,
        }
    }
}

/// One predictor's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictorScores {
    /// What it is: `served`, an expert's name, `running prior`, `frozen network`.
    pub name: String,
    /// Every row of the stream (`None` for the frozen network, which has no forecast before
    /// it is trained).
    pub all: Option<Scores>,
    /// The last 30% of the stream (rows `k >= floor(0.7 * M)`).
    pub last30: Scores,
    /// The rows every predictor was scored on.
    pub scored: Scores,
    /// The same rows by calendar year (UTC) of the forecast bar.
    pub by_year: Vec<(i64, Scores)>,
    /// Paired log-loss difference to the running prior on the scored rows.
    pub vs_prior: Paired,
}

/// What the engine did over the stream.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct EngineTally {
    /// Versions created (the initial one included).
    pub versions: u32,
    /// Trials that promoted their candidate.
    pub promoted: u32,
    /// Trials that held it.
    pub held: u32,
    /// Retrains finished (their candidates went on trial).
    pub retrains: u32,
    /// Online snapshots put on trial.
    pub snapshots: u32,
    /// The champion at the end.
    pub champion: u32,
    /// Rows whose return, scaled, fell in another class than the label (the class was
    /// sent as is).
    pub label_fallbacks: u32,
}

/// Everything the protocol measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Rows of the stream.
    pub rows: u64,
    /// Label counts.
    pub labels: [u64; 3],
    /// Time of the first and the last row's bar (ms).
    pub span: (i64, i64),
    /// First row every predictor was scored on, and its time.
    pub scored_from: (u64, i64),
    /// Labels the frozen network was trained on.
    pub frozen_after: u64,
    /// The served forecast first, then every expert alone, the running prior (computed
    /// here, the W6 "majority" row) and the frozen network.
    pub predictors: Vec<PredictorScores>,
    /// The mixture as the engine reports it at the end (weights, its own scores, bound).
    pub mixture: crate::lifecycle::MixtureReport,
    /// What the engine did.
    pub engine: EngineTally,
}

impl Evaluation {
    /// The predictor called `name`.
    pub fn predictor(&self, name: &str) -> Option<&PredictorScores> {
        self.predictors.iter().find(|p| p.name == name)
    }
}

/// A predictor being scored.
struct Tally {
    all: Scores,
    last30: Scores,
    scored: Scores,
    losses: Vec<f64>,
    by_year: Vec<(i64, Scores)>,
}

impl Tally {
    fn new() -> Self {
        Self {
            all: Scores::default(),
            last30: Scores::default(),
            scored: Scores::default(),
            losses: Vec::new(),
            by_year: Vec::new(),
        }
    }

    fn add(&mut self, p: [f64; 3], row: &Row, k: usize, last30: usize, scored: bool) {
        self.all.add(p, row.label);
        if k >= last30 {
            self.last30.add(p, row.label);
        }
        if scored {
            self.scored.add(p, row.label);
            self.losses
                .push(-libm::log(p[usize::from(row.label)].clamp(P_FLOOR, 1.0)));
            let year = date_of(row.time).0;
            match self.by_year.last_mut() {
                Some((y, s)) if *y == year => s.add(p, row.label),
                _ => {
                    let mut s = Scores::default();
                    s.add(p, row.label);
                    self.by_year.push((year, s));
                }
            }
        }
    }

    fn finish(self, name: String, all: bool, prior: &[f64], block: usize) -> PredictorScores {
        PredictorScores {
            name,
            all: all.then_some(self.all),
            last30: self.last30,
            scored: self.scored,
            by_year: self.by_year,
            vs_prior: paired(&self.losses, prior, block),
        }
    }
}

/// The return `Observe` is sent for a row: `g * 2 * flat_band`, or the class as is when
/// that falls elsewhere (`true`).
fn observed_return(row: &Row, band: f64) -> (f64, bool) {
    let ret = row.g * 2.0 * band;
    if ret.is_finite() && Outcome::classify(ret, band).index() == row.label {
        return (ret, false);
    }
    let fallback = match row.label {
        0 => -2.0 * band,
        2 => 2.0 * band,
        _ => 0.0,
    };
    (fallback, true)
}

/// The frozen network: trained once on the first `n` rows (5:3 into train and validation,
/// `embargo` rows between them), never updated.
fn frozen_network(
    rows: &[Row],
    config: &EngineConfig,
    embargo: usize,
    seed: u64,
) -> Result<Predictor, Error> {
    let n = rows.len();
    let usable = n.saturating_sub(embargo);
    let a = usable * 5 / 8;
    if a < 2 || usable - a < 1 {
        return Err(Error::InvalidConfig(
            "too few rows to train the frozen network",
        ));
    }
    let data = |rs: &[Row]| Data {
        x: rs.iter().flat_map(|r| r.features).collect(),
        y: rs.iter().map(|r| r.label).collect(),
        times: rs.iter().map(|r| r.time).collect(),
        dim: FEATURES,
    };
    let settings = RunSettings {
        optimizer: config.signal.optimizer,
        batch: config.signal.batch,
        epochs: config.lifecycle.retrain.max_epochs,
        patience: config.lifecycle.retrain.patience,
        divergence: config.lifecycle.retrain.divergence,
    };
    let mut rng = SplitMix64::new(seed ^ 0xF0F0_F0F0);
    let (net, _) = retrain(
        &config.signal,
        &data(&rows[..a]),
        &data(&rows[a + embargo..]),
        &settings,
        &mut rng,
        &mut Workspace::default(),
    )
    .map_err(|_| Error::InvalidConfig("the frozen network's training was rejected"))?;
    Ok(Predictor::Net(net))
}

/// Runs the protocol on `rows` with an engine of `config` (whose `features` must be 32).
pub fn evaluate(
    rows: &[Row],
    config: EngineConfig,
    protocol: &Protocol,
) -> Result<Evaluation, Error> {
    let h = protocol.horizon.max(1) as usize;
    let m = rows.len();
    let frozen_after = match protocol.frozen_after {
        0 => (m / 5).min(2_000),
        n => n as usize,
    };
    if config.features as usize != FEATURES {
        return Err(Error::InvalidConfig("evaluate needs the 32 W6 features"));
    }
    if !(1..=Protocol::MAX_HORIZON).contains(&protocol.horizon) {
        return Err(Error::InvalidConfig(
            "the horizon must be in 1..=10000 bars",
        ));
    }
    if frozen_after < 10 || m < frozen_after + h + 1 {
        return Err(Error::InvalidConfig(
            "the stream is too short for its frozen network",
        ));
    }
    let band = config.flat_band;
    let mut engine = Engine::new(config.clone(), protocol.seed, rows[0].time)?;
    let mut ws = Workspace::default();
    let scored_from = frozen_after - 1 + h;
    let last30 = m * 7 / 10;
    let mut served = Tally::new();
    let mut experts: Vec<Tally> = (0..EXPERTS).map(|_| Tally::new()).collect();
    let mut prior = Tally::new();
    let mut frozen = Tally::new();
    let mut frozen_net = None;
    let mut counts = [0u64; 3];
    let mut tally = EngineTally::default();
    for (k, row) in rows.iter().enumerate() {
        if k >= h {
            let seen = &rows[k - h];
            let (ret, fell_back) = observed_return(seen, band);
            tally.label_fallbacks += u32::from(fell_back);
            let reply = engine.apply(
                Command::Observe(Observation {
                    features: seen.features.to_vec(),
                    return_pct: ret,
                }),
                seen.label_time,
            )?;
            if let Reply::Observed(o) = reply {
                if let Some(t) = o.trial {
                    match t.verdict {
                        Verdict::Promoted => tally.promoted += 1,
                        _ => tally.held += 1,
                    }
                }
                if let Some(run) = o.learned.and_then(|l| l.run)
                    && run.version.is_some()
                {
                    match run.kind {
                        crate::lifecycle::registry::VersionKind::Online => tally.snapshots += 1,
                        _ => tally.retrains += 1,
                    }
                }
            }
            counts[usize::from(seen.label)] += 1;
            if k - h + 1 == frozen_after {
                frozen_net = Some(frozen_network(
                    &rows[..frozen_after],
                    &config,
                    h,
                    protocol.seed,
                )?);
            }
        }
        let Reply::Forecast(f) = engine.apply(
            Command::Forecast(ForecastRequest {
                features: row.features.to_vec(),
            }),
            row.time,
        )?
        else {
            return Err(Error::InvalidConfig("Forecast answered another reply"));
        };
        let scored = k >= scored_from;
        served.add(normalise(f.signal.probs), row, k, last30, scored);
        for (t, p) in experts.iter_mut().zip(f.experts) {
            t.add(normalise(p), row, k, last30, scored);
        }
        let n: u64 = counts.iter().sum();
        let p_prior = counts.map(|c| (c + 1) as f64 / (n + 3) as f64);
        prior.add(p_prior, row, k, last30, scored);
        if let Some(net) = &frozen_net {
            let p = net.predict(&mut ws, &row.features).probs;
            frozen.add(normalise(p), row, k, last30, scored);
        }
    }
    let block = protocol.block as usize;
    let prior_losses = prior.losses.clone();
    let mut predictors = vec![served.finish("served".into(), true, &prior_losses, block)];
    for (e, t) in Expert::ALL.iter().zip(experts) {
        predictors.push(t.finish(e.name().into(), true, &prior_losses, block));
    }
    predictors.push(prior.finish("running prior".into(), true, &prior_losses, block));
    predictors.push(frozen.finish("frozen network".into(), false, &prior_losses, block));
    let end = rows[m - 1].label_time;
    let Reply::Mixture(mixture) = engine.apply(Command::Query(crate::Query::Mixture), end)? else {
        return Err(Error::InvalidConfig(
            "Query::Mixture answered another reply",
        ));
    };
    let registry = engine.lifecycle().registry();
    tally.versions = registry.created();
    tally.champion = registry.champion().id;
    let mut labels = [0u64; 3];
    for r in rows {
        labels[usize::from(r.label)] += 1;
    }
    Ok(Evaluation {
        rows: m as u64,
        labels,
        span: (rows[0].time, rows[m - 1].time),
        scored_from: (scored_from as u64, rows[scored_from].time),
        frozen_after: frozen_after as u64,
        predictors,
        mixture: *mixture,
        engine: tally,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_and_normalisation() {
        let mut s = Scores::default();
        s.add([0.2, 0.5, 0.3], 1);
        s.add([0.5, 0.5, 0.0], 2);
        assert_eq!((s.n, s.correct, s.predicted()), (2, 1, [1, 1, 0]));
        let expected = (-libm::log(0.5) - libm::log(1e-7)) / 2.0;
        assert!((s.log_loss() - expected).abs() < 1e-12);
        assert_eq!(normalise([0.0; 3]), [1.0 / 3.0; 3]);
        assert_eq!(normalise([1.0, 1.0, 2.0]), [0.25, 0.25, 0.5]);
        // Class 1 predicted once and right (F1 = 1), classes 0 and 2 never right (0).
        assert!((s.macro_f1() - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn paired_differences_use_block_means() {
        let a: Vec<f64> = (0..1000).map(|i| if i < 500 { 1.0 } else { 3.0 }).collect();
        let b = vec![1.0; 1007];
        let d = paired(&a, &b, 500);
        assert_eq!((d.mean, d.blocks), (1.0, 2));
        // Block means 0 and 2: sd sqrt(2), se 1.
        assert!((d.std_error.unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(paired(&a[..10], &b, 500).std_error, None);
    }
}
