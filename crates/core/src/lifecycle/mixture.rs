//! The served forecast: a prequential mixture of a fixed set of experts.
//!
//! Markets are close to noise, so no single model is trusted. Every forecast the engine
//! serves (`Forecast`, `Suggest`, `Open`) is a weighted average of the class probabilities of
//! [`EXPERTS`] experts ([`Expert`]): the running class prior, a recency-weighted prior, the
//! linear learner, the online network, the champion network, and those three pooled with the
//! prior. The weights are learned from how each expert did on labels it had not seen.
//!
//! **Scoring.** When a label is revealed (a trade closes, or `Observe` reveals the label of a
//! registered forecast), every expert is scored on the probabilities it gave *when the
//! forecast was served*, which are kept with the pending forecast; nothing has learned the
//! row yet. An `Observe` whose features match no registered forecast is served and scored at
//! once (a label delay of zero).
//!
//! **Weights.** Exponential weights with learning rate 1 on the log-loss (the Bayesian
//! mixture), followed by a fixed share `alpha` towards the starting weights `pi` (Herbster
//! and Warmuth), so that weight can come back to an expert after a regime change:
//! `v_i = w_i p_i(y) / sum_j w_j p_j(y)`, then `w_i = (1 - alpha) v_i + alpha pi_i`.
//!
//! **Label delay.** A forecast's label arrives after other forecasts have been served. To
//! keep the bound of the undelayed mixture, weights live in *copies* (Joulani, Gyorgy and
//! Szepesvari 2013, "Online learning under delayed feedback"): a forecast is served from the
//! lowest-numbered copy with no forecast pending and that copy learns from its label before
//! it serves again. Each copy is an ordinary undelayed mixture on its own rows, so for any
//! expert `i` (the prior among them) and any rows,
//!
//! ```text
//! L_mix <= L_i + K ln(1 / pi_i) + T ln(1 / (1 - alpha))
//! ```
//!
//! where `L` are summed log-losses of the scored forecasts, `T` the rows scored and `K` the
//! copies ever used: the most forecasts ever waiting for their labels at once (12 on the W6
//! stream, whose labels arrive 12 rows late; 1 without delay). [`Mixture::bound_vs`]
//! computes it.
//! ARCHITECTURE.md states it with the defaults.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::error::{Error, check};
use crate::vocab::Outcome;

/// Number of experts.
pub const EXPERTS: usize = 8;

/// Class probabilities `[loss, flat, win]`.
pub type Probs = [f32; Outcome::COUNT];

/// Every expert's probabilities for one row, in [`Expert::ALL`] order.
pub type ExpertProbs = [Probs; EXPERTS];

/// One expert of the mixture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Expert {
    /// The class frequencies of every label revealed so far, add-one smoothed.
    Prior,
    /// The class frequencies with older labels discounted (`mixture.recent_half_life`).
    Recent,
    /// The linear learner ([`crate::learners::LinearLearner`]).
    Linear,
    /// The linear learner pooled with the prior.
    LinearPooled,
    /// The online network ([`crate::learners::OnlineLearner`]).
    Online,
    /// The online network pooled with the prior.
    OnlinePooled,
    /// The champion version (a network, or a class prior).
    Champion,
    /// The champion pooled with the prior.
    ChampionPooled,
}

impl Expert {
    /// Every expert, in the order of [`ExpertProbs`] and of the weights.
    pub const ALL: [Expert; EXPERTS] = [
        Expert::Prior,
        Expert::Recent,
        Expert::Linear,
        Expert::LinearPooled,
        Expert::Online,
        Expert::OnlinePooled,
        Expert::Champion,
        Expert::ChampionPooled,
    ];

    /// Short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Expert::Prior => "prior",
            Expert::Recent => "recent prior",
            Expert::Linear => "linear",
            Expert::LinearPooled => "linear pooled",
            Expert::Online => "online net",
            Expert::OnlinePooled => "online net pooled",
            Expert::Champion => "champion",
            Expert::ChampionPooled => "champion pooled",
        }
    }

    /// Position in [`Expert::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Mixture and expert settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct MixtureConfig {
    /// Starting weight of the running prior (default 0.5; in (0, 1)); the other experts
    /// share the rest equally. The regret against the prior grows with `ln(1 /
    /// prior_weight)` per copy.
    pub prior_weight: f64,
    /// Fixed share `alpha` (default 1e-4; in [0, 0.5]): the part of each weight handed back
    /// to the starting weights after every label. It costs at most `ln(1 / (1 - alpha))`
    /// nats per row and lets an expert recover after a regime change.
    pub share: f64,
    /// Weight of the model in a pooled expert, the rest going to the prior (default 0.3; in
    /// (0, 1)).
    pub pool: f32,
    /// Labels after which the recency-weighted prior halves an old label's weight
    /// (default 2,000; 1..=100,000,000).
    pub recent_half_life: u32,
    /// AdaGrad learning rate of the linear learner (default 0.01; in (0, 10]).
    pub linear_lr: f32,
    /// Registered forecasts kept waiting for their label (default 64; 1..=100,000); a new
    /// one beyond this drops the oldest unscored.
    pub max_pending: u32,
}

impl Default for MixtureConfig {
    fn default() -> Self {
        Self {
            prior_weight: 0.5,
            share: 1e-4,
            pool: 0.3,
            recent_half_life: 2_000,
            linear_lr: 0.01,
            max_pending: 64,
        }
    }
}

impl MixtureConfig {
    /// Largest `max_pending`.
    pub const MAX_PENDING: u32 = 100_000;

    /// Checks ranges.
    pub fn validate(&self) -> Result<(), Error> {
        check(
            self.prior_weight.is_finite() && self.prior_weight > 0.0 && self.prior_weight < 1.0,
            "lifecycle.mixture.prior_weight must be in (0, 1)",
        )?;
        check(
            self.share.is_finite() && (0.0..=0.5).contains(&self.share),
            "lifecycle.mixture.share must be in [0, 0.5]",
        )?;
        check(
            self.pool.is_finite() && self.pool > 0.0 && self.pool < 1.0,
            "lifecycle.mixture.pool must be in (0, 1)",
        )?;
        check(
            (1..=100_000_000).contains(&self.recent_half_life),
            "lifecycle.mixture.recent_half_life must be in 1..=100000000",
        )?;
        check(
            self.linear_lr.is_finite() && self.linear_lr > 0.0 && self.linear_lr <= 10.0,
            "lifecycle.mixture.linear_lr must be in (0, 10]",
        )?;
        check(
            (1..=Self::MAX_PENDING).contains(&self.max_pending),
            "lifecycle.mixture.max_pending must be in 1..=100000",
        )
    }

    /// The starting weights `pi`.
    pub fn start(&self) -> [f64; EXPERTS] {
        let rest = (1.0 - self.prior_weight) / (EXPERTS - 1) as f64;
        let mut pi = [rest; EXPERTS];
        pi[Expert::Prior.index()] = self.prior_weight;
        pi
    }

    /// The recency prior's per-label discount factor, `2^(-1 / half_life)`.
    pub fn recent_decay(&self) -> f64 {
        libm::exp2(-1.0 / f64::from(self.recent_half_life))
    }
}

/// What a pending forecast waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Awaiting {
    /// The close of this trade.
    Trade(u64),
    /// An `Observe` of these features: the forecast's id and a hash of the features' bits.
    Forecast {
        /// Forecast id (`Forecasted::id`).
        id: u64,
        /// XXH64 of the features' little-endian bytes.
        key: u64,
    },
}

/// A served forecast whose label has not come yet.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    /// What reveals its label.
    pub awaiting: Awaiting,
    /// The copy of the weights it was served from.
    pub copy: u32,
    /// Every expert's probabilities when it was served.
    pub probs: ExpertProbs,
}

/// Running totals of the scored forecasts.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Scores {
    /// Forecasts scored.
    pub rows: u64,
    /// Summed log-loss (nats, natural log, unclipped) of the mixture's forecasts.
    pub mixture: f64,
    /// Summed log-loss of each expert's forecasts on the same rows.
    pub experts: [f64; EXPERTS],
    /// Rows where the mixture's most probable class was the label.
    pub mixture_correct: u64,
    /// The same for each expert.
    pub experts_correct: [u64; EXPERTS],
}

/// The mixture's state: weight copies, pending forecasts, totals. Persisted.
#[derive(Debug, Clone, PartialEq)]
pub struct Mixture {
    /// Weights of each copy (each sums to 1, every entry >= `alpha * pi_i`).
    pub(crate) copies: Vec<[f64; EXPERTS]>,
    /// Forecasts waiting for their label, oldest first.
    pub(crate) pending: VecDeque<Pending>,
    /// Which copies serve a pending forecast (derived from `pending`).
    pub(crate) busy: Vec<bool>,
    /// Id of the next registered forecast.
    pub(crate) next_forecast: u64,
    /// Registered forecasts dropped unscored (`max_pending` exceeded).
    pub(crate) dropped: u64,
    /// Totals.
    pub(crate) scores: Scores,
}

impl Default for Mixture {
    fn default() -> Self {
        Self::new()
    }
}

impl Mixture {
    /// No copies yet: the first forecast creates one at the starting weights.
    pub fn new() -> Self {
        Self {
            copies: Vec::new(),
            pending: VecDeque::new(),
            busy: Vec::new(),
            next_forecast: 1,
            dropped: 0,
            scores: Scores::default(),
        }
    }

    /// Rebuilds a saved mixture, checking its invariants.
    pub(crate) fn from_parts(
        copies: Vec<[f64; EXPERTS]>,
        pending: VecDeque<Pending>,
        next_forecast: u64,
        dropped: u64,
        scores: Scores,
    ) -> Result<Self, &'static str> {
        let weights_ok = copies.iter().all(|w| {
            let s: f64 = w.iter().sum();
            w.iter().all(|x| x.is_finite() && *x >= 0.0) && (s - 1.0).abs() < 1e-6
        });
        if !weights_ok {
            return Err("mixture weights are not distributions");
        }
        let mut busy = alloc::vec![false; copies.len()];
        for p in &pending {
            let c = p.copy as usize;
            if c >= busy.len() || busy[c] {
                return Err("a pending forecast's weight copy is missing or shared");
            }
            busy[c] = true;
            let probs_ok = p
                .probs
                .iter()
                .flatten()
                .all(|x| x.is_finite() && (0.0..=1.0).contains(x));
            if !probs_ok {
                return Err("a pending forecast's probabilities are out of range");
            }
            if let Awaiting::Forecast { id, .. } = p.awaiting
                && id >= next_forecast
            {
                return Err("a pending forecast id was never issued");
            }
        }
        let finite = scores.mixture.is_finite() && scores.experts.iter().all(|x| x.is_finite());
        if !finite
            || scores.mixture_correct > scores.rows
            || scores.experts_correct.iter().any(|&c| c > scores.rows)
        {
            return Err("mixture scores are inconsistent");
        }
        Ok(Self {
            copies,
            pending,
            busy,
            next_forecast,
            dropped,
            scores,
        })
    }

    /// The copy the next forecast is served from: the lowest with nothing pending (a new one
    /// if all are busy).
    pub fn serving_copy(&self) -> usize {
        self.busy
            .iter()
            .position(|b| !b)
            .unwrap_or(self.copies.len())
    }

    /// The weights of copy `c` (the starting weights for a copy not made yet).
    pub fn weights(&self, c: usize, config: &MixtureConfig) -> [f64; EXPERTS] {
        self.copies
            .get(c)
            .copied()
            .unwrap_or_else(|| config.start())
    }

    /// The weights the next forecast is served with.
    pub fn serving_weights(&self, config: &MixtureConfig) -> [f64; EXPERTS] {
        self.weights(self.serving_copy(), config)
    }

    /// The mean of the copies' weights: what the mixture trusts, for reports.
    pub fn mean_weights(&self, config: &MixtureConfig) -> [f64; EXPERTS] {
        if self.copies.is_empty() {
            return config.start();
        }
        let mut m = [0.0; EXPERTS];
        for w in &self.copies {
            for (a, b) in m.iter_mut().zip(w) {
                *a += b;
            }
        }
        let n = self.copies.len() as f64;
        m.map(|x| x / n)
    }

    /// Weight copies made so far (`K` of the bound).
    pub fn copies(&self) -> usize {
        self.copies.len()
    }

    /// Forecasts waiting for their label.
    pub fn pending(&self) -> impl Iterator<Item = &Pending> {
        self.pending.iter()
    }

    /// Registered forecasts dropped unscored.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Running totals.
    pub fn scores(&self) -> &Scores {
        &self.scores
    }

    /// Id the next registered forecast gets.
    pub fn next_forecast_id(&self) -> u64 {
        self.next_forecast
    }

    fn take_copy(&mut self, config: &MixtureConfig) -> u32 {
        let c = self.serving_copy();
        if c == self.copies.len() {
            self.copies.push(config.start());
            self.busy.push(false);
        }
        self.busy[c] = true;
        c as u32
    }

    /// Registers a served forecast (the experts' `probs`) until `awaiting` reveals its
    /// label. Registered `Forecast`s beyond `max_pending` drop the oldest one unscored.
    pub(crate) fn register(
        &mut self,
        config: &MixtureConfig,
        awaiting: Awaiting,
        probs: ExpertProbs,
    ) {
        if matches!(awaiting, Awaiting::Forecast { .. }) {
            let waiting = self
                .pending
                .iter()
                .filter(|p| matches!(p.awaiting, Awaiting::Forecast { .. }))
                .count();
            if waiting >= config.max_pending as usize
                && let Some(i) = self
                    .pending
                    .iter()
                    .position(|p| matches!(p.awaiting, Awaiting::Forecast { .. }))
                && let Some(old) = self.pending.remove(i)
            {
                self.busy[old.copy as usize] = false;
                self.dropped += 1;
            }
        }
        let copy = self.take_copy(config);
        self.pending.push_back(Pending {
            awaiting,
            copy,
            probs,
        });
    }

    /// Issues the id of a new registered forecast.
    pub(crate) fn issue_forecast_id(&mut self) -> u64 {
        let id = self.next_forecast;
        self.next_forecast += 1;
        id
    }

    /// Removes the pending forecast of trade `id` (its label came), if any.
    pub(crate) fn take_trade(&mut self, id: u64) -> Option<Pending> {
        let i = self
            .pending
            .iter()
            .position(|p| p.awaiting == Awaiting::Trade(id))?;
        self.pending.remove(i)
    }

    /// Removes the oldest registered forecast of features with hash `key`, if any.
    pub(crate) fn take_forecast(&mut self, key: u64) -> Option<Pending> {
        let i = self
            .pending
            .iter()
            .position(|p| matches!(p.awaiting, Awaiting::Forecast { key: k, .. } if k == key))?;
        self.pending.remove(i)
    }

    /// Scores a forecast with its label and updates the weights of the copy it was served
    /// from (then free). `served` is a pending forecast; `None` with `now_probs` scores a
    /// forecast served and revealed at once, from the serving copy. Returns the mixture's
    /// probabilities for the row (what was, or is, served).
    pub(crate) fn reveal(
        &mut self,
        config: &MixtureConfig,
        served: Option<Pending>,
        now_probs: &ExpertProbs,
        class: u8,
    ) -> Probs {
        let (copy, probs) = match served {
            Some(p) => {
                self.busy[p.copy as usize] = false;
                (p.copy as usize, p.probs)
            }
            None => {
                let c = self.take_copy(config) as usize;
                self.busy[c] = false;
                (c, *now_probs)
            }
        };
        let y = usize::from(class).min(Outcome::COUNT - 1);
        let w = self.copies[copy];
        let mixed = mix(&w, &probs);
        let p_mix: f64 = mixed[y];
        // Bayes step (learning rate 1 on the log-loss), then the fixed share.
        let mut v = [0.0f64; EXPERTS];
        for ((vi, wi), p) in v.iter_mut().zip(&w).zip(&probs) {
            *vi = wi * f64::from(p[y]);
        }
        let pi = config.start();
        let alpha = config.share;
        let next = if p_mix > 0.0 && p_mix.is_finite() {
            let mut n = [0.0; EXPERTS];
            for ((ni, vi), pi) in n.iter_mut().zip(&v).zip(&pi) {
                *ni = (1.0 - alpha) * (vi / p_mix) + alpha * pi;
            }
            n
        } else {
            pi
        };
        // Renormalise away rounding so the weights stay a distribution.
        let s: f64 = next.iter().sum();
        self.copies[copy] = next.map(|x| x / s);
        let s = &mut self.scores;
        s.rows += 1;
        s.mixture += -libm::log(p_mix);
        s.mixture_correct += u64::from(argmax(&mixed) == y);
        for (i, p) in probs.iter().enumerate() {
            s.experts[i] += -libm::log(f64::from(p[y]));
            s.experts_correct[i] += u64::from(argmax(&p.map(f64::from)) == y);
        }
        mixed.map(|x| x as f32)
    }

    /// The regret bound against expert `e` after the rows scored so far, in nats:
    /// `K ln(1 / pi_e) + T ln(1 / (1 - alpha))`.
    pub fn bound_vs(&self, e: Expert, config: &MixtureConfig) -> f64 {
        let k = self.copies.len().max(1) as f64;
        let t = self.scores.rows as f64;
        k * -libm::log(config.start()[e.index()]) + t * -libm::log1p(-config.share)
    }

    /// Whether the invariants hold (for restored state).
    pub(crate) fn is_consistent(&self) -> bool {
        Self::from_parts(
            self.copies.clone(),
            self.pending.clone(),
            self.next_forecast,
            self.dropped,
            self.scores,
        )
        .is_ok()
    }
}

/// The weighted average of the experts' probabilities, in `f64`.
pub fn mix(weights: &[f64; EXPERTS], probs: &ExpertProbs) -> [f64; Outcome::COUNT] {
    let mut out = [0.0f64; Outcome::COUNT];
    for (w, p) in weights.iter().zip(probs) {
        for (o, &q) in out.iter_mut().zip(p) {
            *o += w * f64::from(q);
        }
    }
    out
}

fn argmax(p: &[f64; Outcome::COUNT]) -> usize {
    let mut best = 0;
    for (i, &x) in p.iter().enumerate() {
        if x > p[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    fn random_probs(r: &mut SplitMix64) -> ExpertProbs {
        core::array::from_fn(|_| {
            let a = r.uniform() as f32 + 1e-3;
            let b = r.uniform() as f32 + 1e-3;
            let c = r.uniform() as f32 + 1e-3;
            let s = a + b + c;
            [a / s, b / s, c / s]
        })
    }

    /// The bound holds on every prefix, for every expert, with up to `delay` forecasts
    /// waiting at once.
    #[test]
    fn the_regret_bound_holds_pathwise_with_delayed_labels() {
        for (seed, delay) in [(1u64, 0usize), (2, 1), (3, 12), (4, 40)] {
            let config = MixtureConfig {
                share: 1e-3,
                ..MixtureConfig::default()
            };
            let mut r = SplitMix64::new(seed);
            let mut m = Mixture::new();
            let mut queue = VecDeque::new();
            let mut labels = VecDeque::new();
            for t in 0..3000u64 {
                let probs = random_probs(&mut r);
                let id = m.issue_forecast_id();
                m.register(&config, Awaiting::Forecast { id, key: t }, probs);
                queue.push_back(t);
                // A label that mostly follows expert 2's favourite class.
                let fav = (0..3).fold(0, |k, c| if probs[2][c] > probs[2][k] { c } else { k });
                labels.push_back(if r.chance(0.7) {
                    fav as u8
                } else {
                    r.below(3) as u8
                });
                if queue.len() > delay {
                    let key = queue.pop_front().unwrap();
                    let y = labels.pop_front().unwrap();
                    let p = m.take_forecast(key).unwrap();
                    m.reveal(&config, Some(p), &probs, y);
                    let s = m.scores();
                    for e in Expert::ALL {
                        let bound = s.experts[e.index()] + m.bound_vs(e, &config);
                        assert!(s.mixture <= bound + 1e-9, "t {t} delay {delay} {e:?}");
                    }
                }
            }
            assert_eq!(m.copies(), delay + 1);
            assert!(m.is_consistent());
            // The expert that predicts the labels earns the weight.
            let w = m.mean_weights(&config);
            assert!(w[2] > 0.9, "{w:?}");
        }
    }

    #[test]
    fn trades_and_forecasts_wait_for_their_own_labels() {
        let config = MixtureConfig {
            max_pending: 2,
            ..MixtureConfig::default()
        };
        let mut r = SplitMix64::new(9);
        let mut m = Mixture::new();
        m.register(&config, Awaiting::Trade(7), random_probs(&mut r));
        for key in 0..3 {
            let id = m.issue_forecast_id();
            m.register(
                &config,
                Awaiting::Forecast { id, key },
                random_probs(&mut r),
            );
        }
        // The oldest forecast was dropped; the trade was not.
        assert_eq!((m.dropped(), m.pending().count()), (1, 3));
        assert!(m.take_forecast(0).is_none());
        let p = m.take_trade(7).unwrap();
        let served = mix(&m.weights(p.copy as usize, &config), &p.probs);
        let got = m.reveal(&config, Some(p), &random_probs(&mut r), 1);
        assert_eq!(got, served.map(|x| x as f32));
        assert_eq!(m.serving_copy(), 0);
        assert_eq!(m.scores().rows, 1);
        assert!(m.is_consistent());
    }
}
