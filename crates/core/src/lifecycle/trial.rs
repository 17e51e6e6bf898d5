//! The promotion gate: a candidate version is tried against the champion on labels that
//! neither has learned, and goes live only if it is significantly better.
//!
//! A trial starts when a candidate is made (an online snapshot or a finished retrain). Both
//! models are frozen, so each revealed label (a close, an observation) scores what each of
//! them forecast for that row, after the first `embargo` labels (whose horizons overlap
//! the candidate's training data). The per-row log-loss differences (candidate minus
//! champion) are averaged in blocks of `block` rows, because neighbouring labels overlap
//! and are not independent; the test is a one-sided z-test on the block means.
//!
//! The sample size is fixed in advance: the test is computed once, when `trial` rows are
//! scored (and, with A/B routing on, when both arms have `ab.min_trades` closed trades), so
//! looking after every label does not inflate the error rate. The candidate is promoted iff
//! its mean log-loss is lower with `p < alpha` (a tie never promotes) and, with A/B routing
//! on, its trades' mean PnL is not significantly worse. Otherwise it is held: it never
//! serves another forecast.

use serde::{Deserialize, Serialize};

use super::ab::{AbArms, AbConfig};
use super::stats::{Moments, normal_cdf};
use crate::error::{Error, check};

/// Gate settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct GateConfig {
    /// Rows scored before the test, fixed in advance (default 2,000; 10..=1,000,000).
    pub trial: u32,
    /// Labels skipped at the start of a trial, because their horizons overlap the
    /// candidate's training data (default 12, the W6 label horizon; 0..=100,000).
    pub embargo: u32,
    /// Rows per block of the standard error (default 12; 1..=100,000). Use the label
    /// horizon: rows closer than that share part of their outcome.
    pub block: u32,
    /// One-sided significance level (default 0.05; in (0, 0.5]).
    pub alpha: f64,
}

impl Default for GateConfig {
    fn default() -> Self {
        Self {
            trial: 2_000,
            embargo: 12,
            block: 12,
            alpha: 0.05,
        }
    }
}

impl GateConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<(), Error> {
        check(
            (10..=1_000_000).contains(&self.trial),
            "lifecycle.gate.trial must be in 10..=1000000",
        )?;
        check(
            self.embargo <= 100_000,
            "lifecycle.gate.embargo must be at most 100000",
        )?;
        check(
            (1..=100_000).contains(&self.block) && self.block <= self.trial / 2,
            "lifecycle.gate.block must be in 1..=100000 and at most half of trial",
        )?;
        check(
            self.alpha.is_finite() && self.alpha > 0.0 && self.alpha <= 0.5,
            "lifecycle.gate.alpha must be in (0, 0.5]",
        )
    }
}

/// How a trial ended: the candidate against the champion on the same rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TrialResult {
    /// The champion it was tried against.
    pub champion: u32,
    /// Rows scored.
    pub rows: u32,
    /// The candidate's mean log-loss on them (nats).
    pub candidate_log_loss: f64,
    /// The champion's.
    pub champion_log_loss: f64,
    /// The candidate's accuracy on them.
    pub candidate_accuracy: f64,
    /// The champion's.
    pub champion_accuracy: f64,
    /// Mean per-row log-loss difference, candidate minus champion (< 0: candidate better).
    pub difference: f64,
    /// Its standard error from the block means.
    pub std_error: f64,
    /// One-sided p-value of "the candidate is better".
    pub p_value: f64,
    /// With A/B routing: closed trades per arm, `[champion, challenger]`.
    pub trades: Option<[u64; 2]>,
    /// With A/B routing: mean PnL % difference, challenger minus champion.
    pub pnl_difference: Option<f64>,
    /// With A/B routing: two-sided p-value of Welch's test on PnL %.
    pub pnl_p_value: Option<f64>,
    /// The candidate went live.
    pub passed: bool,
}

/// A candidate on trial. Persisted.
#[derive(Debug, Clone, PartialEq)]
pub struct Trial {
    /// The candidate version.
    pub candidate: u32,
    /// The champion it is tried against.
    pub champion: u32,
    /// When it started (ms since the Unix epoch).
    pub started_at: i64,
    /// Labels still to skip (the embargo).
    pub skip: u32,
    /// Rows scored.
    pub rows: u32,
    /// Summed log-loss of the candidate.
    pub candidate_loss: f64,
    /// Summed log-loss of the champion.
    pub champion_loss: f64,
    /// Rows the candidate's most probable class was right.
    pub candidate_correct: u32,
    /// The same for the champion.
    pub champion_correct: u32,
    /// Rows in the block being filled.
    pub block_rows: u32,
    /// Summed differences in the block being filled.
    pub block_sum: f64,
    /// Means of the completed blocks.
    pub blocks: Moments,
    /// Trades routed to each arm, with A/B routing on.
    pub ab: Option<AbArms>,
}

impl Trial {
    /// A trial of `candidate` against `champion` starting at `now`.
    pub fn new(candidate: u32, champion: u32, now: i64, gate: &GateConfig, ab: &AbConfig) -> Self {
        Self {
            candidate,
            champion,
            started_at: now,
            skip: gate.embargo,
            rows: 0,
            candidate_loss: 0.0,
            champion_loss: 0.0,
            candidate_correct: 0,
            champion_correct: 0,
            block_rows: 0,
            block_sum: 0.0,
            blocks: Moments::new(),
            ab: ab.enabled.then(|| AbArms::new(champion, candidate)),
        }
    }

    /// Scores one revealed row: each model's log-loss and whether its class was right.
    /// Rows in the embargo, and rows once the sample is complete, are not scored.
    pub fn score(&mut self, gate: &GateConfig, candidate: (f64, bool), champion: (f64, bool)) {
        if self.skip > 0 {
            self.skip -= 1;
            return;
        }
        if self.rows >= gate.trial || !candidate.0.is_finite() || !champion.0.is_finite() {
            return;
        }
        self.rows += 1;
        self.candidate_loss += candidate.0;
        self.champion_loss += champion.0;
        self.candidate_correct += u32::from(candidate.1);
        self.champion_correct += u32::from(champion.1);
        self.block_rows += 1;
        self.block_sum += candidate.0 - champion.0;
        if self.block_rows == gate.block {
            self.blocks.push(self.block_sum / f64::from(gate.block));
            self.block_rows = 0;
            self.block_sum = 0.0;
        }
    }

    /// Whether the pre-registered sample is complete: `trial` rows, and with A/B routing
    /// `min_trades` closed trades per arm.
    pub fn complete(&self, gate: &GateConfig, ab: &AbConfig) -> bool {
        self.rows >= gate.trial && self.ab.as_ref().is_none_or(|a| a.enough_trades(ab))
    }

    /// The test on the rows scored so far.
    pub fn result(&self, gate: &GateConfig, ab: &AbConfig) -> TrialResult {
        let n = f64::from(self.rows.max(1));
        let difference = self.blocks.mean().unwrap_or(0.0);
        let nb = self.blocks.n as f64;
        let std_error = match self.blocks.variance() {
            Some(v) if nb >= 2.0 => libm::sqrt(v / nb),
            _ => f64::INFINITY,
        };
        let p_value = if self.blocks.n < 2 {
            1.0
        } else if std_error > 0.0 {
            normal_cdf(difference / std_error)
        } else if difference < 0.0 {
            0.0
        } else {
            1.0
        };
        let arms = self.ab.as_ref().map(|a| a.report(ab));
        let pnl_worse = arms.as_ref().is_some_and(|r| r.challenger_worse);
        TrialResult {
            champion: self.champion,
            rows: self.rows,
            candidate_log_loss: self.candidate_loss / n,
            champion_log_loss: self.champion_loss / n,
            candidate_accuracy: f64::from(self.candidate_correct) / n,
            champion_accuracy: f64::from(self.champion_correct) / n,
            difference,
            std_error,
            p_value,
            trades: arms
                .as_ref()
                .map(|r| [r.champion.trades, r.challenger.trades]),
            pnl_difference: arms.as_ref().and_then(|r| r.pnl_test.map(|t| t.diff)),
            pnl_p_value: arms.as_ref().and_then(|r| r.pnl_test.map(|t| t.p_value)),
            passed: self.complete(gate, ab)
                && difference < 0.0
                && p_value < gate.alpha
                && !pnl_worse,
        }
    }

    /// Whether the fields could have come from [`Trial::score`].
    pub fn is_consistent(&self, gate: &GateConfig) -> bool {
        let finite = [self.candidate_loss, self.champion_loss, self.block_sum]
            .iter()
            .all(|x| x.is_finite());
        finite
            && self.candidate != self.champion
            && self.candidate_correct <= self.rows
            && self.champion_correct <= self.rows
            && self.block_rows < gate.block.max(1)
            && self.blocks.is_consistent()
            && self.blocks.n <= u64::from(self.rows)
            && self.ab.as_ref().is_none_or(AbArms::is_consistent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate() -> GateConfig {
        GateConfig {
            trial: 120,
            embargo: 5,
            block: 10,
            alpha: 0.05,
        }
    }

    #[test]
    fn a_clearly_better_candidate_passes_once_the_sample_is_complete() {
        let (g, ab) = (gate(), AbConfig::default());
        let mut t = Trial::new(2, 1, 0, &g, &ab);
        for i in 0..200u32 {
            let noise = f64::from(i % 7) * 0.01;
            t.score(&g, (1.0 + noise, true), (1.1 + noise * 0.5, false));
            if i < 124 {
                assert!(!t.complete(&g, &ab), "row {i}");
                assert!(!t.result(&g, &ab).passed);
            }
        }
        assert_eq!(
            t.rows, 120,
            "the embargo skipped 5, the sample stops at 120"
        );
        let r = t.result(&g, &ab);
        assert!(r.passed && r.difference < 0.0 && r.p_value < 0.05, "{r:?}");
        assert_eq!((r.candidate_accuracy, r.champion_accuracy), (1.0, 0.0));
        assert!(t.is_consistent(&g));
    }

    #[test]
    fn ties_do_not_promote_and_noise_rarely_does() {
        let (g, ab) = (gate(), AbConfig::default());
        let mut tie = Trial::new(2, 1, 0, &g, &ab);
        for _ in 0..200 {
            tie.score(&g, (1.0, true), (1.0, true));
        }
        let t = tie.result(&g, &ab);
        assert!(!t.passed && t.p_value == 1.0, "a tie never promotes: {t:?}");
        // Under no difference, the test passes about `alpha` of the time.
        let mut r = crate::rng::SplitMix64::new(5);
        let mut passed = 0;
        for trial in 0..400 {
            let mut noise = Trial::new(3, 1, 0, &g, &ab);
            for _ in 0..130 {
                noise.score(&g, (r.uniform() * 2.0, true), (r.uniform() * 2.0, true));
            }
            passed += u32::from(noise.result(&g, &ab).passed);
            assert!(trial > 0 || noise.complete(&g, &ab));
        }
        assert!((8..=40).contains(&passed), "{passed} of 400 passed");
    }
}
