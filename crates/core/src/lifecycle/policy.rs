//! The continual-learning policy: whether `learn` fine-tunes the signal model
//! incrementally, retrains it fully, or does nothing.
//!
//! [`decide`] is a pure function of [`Facts`] the caller gathers (sample counts, the time of
//! the last update, accuracies, the drift and guard flags) and a [`PolicyConfig`]. With the
//! defaults of the design:
//!
//! - **incremental** fine-tuning when there are at least 10 new samples and the last update
//!   is less than 30 days old;
//! - a **full retrain** when there are at least 50 new samples, or the last update is at
//!   least 30 days old (and there is at least one new sample), or the recent accuracy has
//!   dropped 10 points below the champion's baseline, or a drift detector fired;
//! - **nothing** otherwise, while the extreme-input guard has paused learning, or when a
//!   retrain is indicated but there are fewer than 30 samples in total.
//!
//! [`LearnMode::Eval`] asks for an evaluation only: it trains nothing. Every [`Decision`]
//! carries a [`Reason`] with the numbers that decided it, for the log.

use serde::{Deserialize, Serialize};

use crate::error::{Error, check};

/// Milliseconds in a day.
const MS_PER_DAY: i128 = 86_400_000;

/// How `learn` was asked to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum LearnMode {
    /// Let [`decide`] choose from the facts.
    #[default]
    Auto,
    /// Fine-tune the current network on the new samples, whatever the facts say.
    Incremental,
    /// Retrain from scratch on all samples, whatever the facts say.
    Retrain,
    /// Evaluate only; train nothing.
    Eval,
}

/// Thresholds of the continual-learning policy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PolicyConfig {
    /// New samples needed for an incremental update (default 10; 1..=1,000,000).
    pub min_incremental: u32,
    /// New samples that call for a full retrain (default 50; `min_incremental..=1,000,000`).
    pub min_retrain: u32,
    /// Days since the last update after which any new sample calls for a full retrain
    /// (default 30; 1..=3650).
    pub max_age_days: u32,
    /// Retrain when the recent accuracy is at least this far below the champion's baseline
    /// accuracy (default 0.10, ten percentage points; finite, in (0, 1]).
    pub accuracy_drop: f32,
    /// Closed trades in the "recent accuracy" window (default 50; 1..=100,000). The policy
    /// does not read it: the caller uses it to compute [`Facts::recent_accuracy`].
    pub accuracy_window: u32,
    /// A retrain needs at least this many samples in total (default 30; 1..=1,000,000);
    /// with fewer, an automatic retrain is skipped.
    pub min_train_samples: u32,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            min_incremental: 10,
            min_retrain: 50,
            max_age_days: 30,
            accuracy_drop: 0.10,
            accuracy_window: 50,
            min_train_samples: 30,
        }
    }
}

impl PolicyConfig {
    /// Largest sample-count threshold.
    pub const MAX_SAMPLES: u32 = 1_000_000;
    /// Largest `max_age_days` (ten years).
    pub const MAX_AGE_DAYS: u32 = 3650;
    /// Largest `accuracy_window`.
    pub const MAX_WINDOW: u32 = 100_000;

    /// Checks ranges.
    pub fn validate(&self) -> Result<(), Error> {
        check(
            (1..=Self::MAX_SAMPLES).contains(&self.min_incremental),
            "lifecycle.policy.min_incremental must be in 1..=1000000",
        )?;
        check(
            (self.min_incremental..=Self::MAX_SAMPLES).contains(&self.min_retrain),
            "lifecycle.policy.min_retrain must be in min_incremental..=1000000",
        )?;
        check(
            (1..=Self::MAX_AGE_DAYS).contains(&self.max_age_days),
            "lifecycle.policy.max_age_days must be in 1..=3650",
        )?;
        check(
            self.accuracy_drop.is_finite() && self.accuracy_drop > 0.0 && self.accuracy_drop <= 1.0,
            "lifecycle.policy.accuracy_drop must be in (0, 1]",
        )?;
        check(
            (1..=Self::MAX_WINDOW).contains(&self.accuracy_window),
            "lifecycle.policy.accuracy_window must be in 1..=100000",
        )?;
        check(
            (1..=Self::MAX_SAMPLES).contains(&self.min_train_samples),
            "lifecycle.policy.min_train_samples must be in 1..=1000000",
        )
    }
}

/// What the policy decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Train nothing.
    Skip,
    /// Fine-tune the current network on the new samples.
    Incremental,
    /// Retrain from scratch on all samples.
    Retrain,
    /// Evaluate the champion only (only ever decided when [`LearnMode::Eval`] is asked for).
    Eval,
}

/// Why the policy decided what it did, with the numbers that decided it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Reason {
    /// A mode other than [`LearnMode::Auto`] was asked for; the facts were not consulted.
    Forced,
    /// The extreme-input guard has paused learning.
    Paused,
    /// A drift detector fired.
    Drift,
    /// The recent accuracy is at least `accuracy_drop` below the baseline.
    AccuracyDrop {
        /// The champion's accuracy on its held-out test data.
        baseline: f32,
        /// The accuracy over the recent window.
        recent: f32,
    },
    /// Enough new samples: at least `min_retrain` (for a retrain) or at least
    /// `min_incremental` (for an incremental update).
    NewSamples {
        /// New samples since the last training.
        new: u32,
    },
    /// At least `max_age_days` since the last update, and there are new samples.
    Stale {
        /// Whole days since the last update.
        days: u32,
        /// New samples since the last training.
        new: u32,
    },
    /// An incremental update would be due, but there is no trained network to fine-tune
    /// (never trained, or the champion is the class-frequency prior): retrain instead.
    NoNetwork {
        /// New samples since the last training.
        new: u32,
    },
    /// A retrain was indicated, but there are too few samples in total: skip.
    TooFewSamples {
        /// Samples available.
        have: u32,
        /// `min_train_samples`.
        need: u32,
    },
    /// Not enough new samples for anything.
    NothingNew {
        /// New samples since the last training.
        new: u32,
        /// `min_incremental`.
        need: u32,
    },
}

/// The policy's decision: what to do and why.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// What to do.
    pub action: Action,
    /// Why.
    pub reason: Reason,
}

/// Everything the policy looks at; gathered by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Facts {
    /// The current time, ms since the Unix epoch.
    pub now: i64,
    /// When the model was last trained, ms since the Unix epoch (`None`: never).
    pub last_update: Option<i64>,
    /// Samples since the last training (incremental or full).
    pub new_samples: u32,
    /// Samples since the last full retrain (at least `new_samples`; frequent fine-tunes do
    /// not postpone the retrain).
    pub since_retrain: u32,
    /// Samples available for a retrain.
    pub total_samples: u32,
    /// The champion's accuracy on its held-out test data, if known.
    pub baseline_accuracy: Option<f32>,
    /// Accuracy over the last `accuracy_window` closed trades (`None`: too few trades).
    pub recent_accuracy: Option<f32>,
    /// Whether a drift detector fired.
    pub drift: bool,
    /// Whether the extreme-input guard has paused learning.
    pub paused: bool,
    /// Whether there is a trained network to fine-tune (`false` while the champion is the
    /// class-frequency prior).
    pub has_network: bool,
}

impl Facts {
    /// Whole days from `last_update` to `now`: 0 when never updated or when `now` is before
    /// `last_update`, saturating at `u32::MAX`. Exact for every pair of `i64` times.
    pub fn days_since_update(&self) -> u32 {
        let Some(last) = self.last_update else {
            return 0;
        };
        let elapsed = (i128::from(self.now) - i128::from(last)).max(0);
        u32::try_from(elapsed / MS_PER_DAY).unwrap_or(u32::MAX)
    }
}

/// Decides what `learn` does.
///
/// A `mode` other than [`LearnMode::Auto`] is obeyed as asked, with [`Reason::Forced`],
/// even while the guard has paused learning and whatever the sample counts: a human forced
/// it (the trainer itself still refuses data it cannot train on).
///
/// In `Auto` mode the first rule that applies wins:
///
/// 1. the guard has paused learning: [`Action::Skip`], [`Reason::Paused`];
/// 2. drift: retrain, [`Reason::Drift`];
/// 3. both accuracies known and finite, and `baseline - recent >= accuracy_drop`: retrain,
///    [`Reason::AccuracyDrop`];
/// 4. `max(since_retrain, new_samples) >= min_retrain`: retrain, [`Reason::NewSamples`]
///    (with that count);
/// 5. a previous update at least `max_age_days` whole days ago and at least one new sample:
///    retrain, [`Reason::Stale`] (a `now` before the last update counts as 0 days);
/// 6. `new_samples >= min_incremental`: incremental, [`Reason::NewSamples`], unless the
///    model was never trained or has no network, then retrain, [`Reason::NoNetwork`];
/// 7. otherwise skip, [`Reason::NothingNew`].
///
/// Finally, an automatic retrain with `total_samples < min_train_samples` becomes a skip
/// with [`Reason::TooFewSamples`]. `Auto` never decides [`Action::Eval`].
///
/// `config` is expected to be [valid](PolicyConfig::validate), but no input panics.
pub fn decide(mode: LearnMode, facts: &Facts, config: &PolicyConfig) -> Decision {
    let forced = |action| Decision {
        action,
        reason: Reason::Forced,
    };
    match mode {
        LearnMode::Incremental => return forced(Action::Incremental),
        LearnMode::Retrain => return forced(Action::Retrain),
        LearnMode::Eval => return forced(Action::Eval),
        LearnMode::Auto => {}
    }
    let decision = auto(facts, config);
    if decision.action == Action::Retrain && facts.total_samples < config.min_train_samples {
        return Decision {
            action: Action::Skip,
            reason: Reason::TooFewSamples {
                have: facts.total_samples,
                need: config.min_train_samples,
            },
        };
    }
    decision
}

/// Rules 1..=7 of [`decide`], before the minimum-data check.
fn auto(facts: &Facts, config: &PolicyConfig) -> Decision {
    let new = facts.new_samples;
    let retrain = |reason| Decision {
        action: Action::Retrain,
        reason,
    };
    if facts.paused {
        return Decision {
            action: Action::Skip,
            reason: Reason::Paused,
        };
    }
    if facts.drift {
        return retrain(Reason::Drift);
    }
    if let (Some(baseline), Some(recent)) = (facts.baseline_accuracy, facts.recent_accuracy)
        && baseline.is_finite()
        && recent.is_finite()
        && baseline - recent >= config.accuracy_drop
    {
        return retrain(Reason::AccuracyDrop { baseline, recent });
    }
    let since_retrain = facts.since_retrain.max(new);
    if since_retrain >= config.min_retrain {
        return retrain(Reason::NewSamples { new: since_retrain });
    }
    if facts.last_update.is_some() && new >= 1 {
        let days = facts.days_since_update();
        if days >= config.max_age_days {
            return retrain(Reason::Stale { days, new });
        }
    }
    if new >= config.min_incremental {
        if facts.last_update.is_none() || !facts.has_network {
            return retrain(Reason::NoNetwork { new });
        }
        return Decision {
            action: Action::Incremental,
            reason: Reason::NewSamples { new },
        };
    }
    Decision {
        action: Action::Skip,
        reason: Reason::NothingNew {
            new,
            need: config.min_incremental,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;
    const NOW: i64 = 1_700_000_000_000;

    /// A trained model updated a day ago, nothing new, plenty of data.
    fn base() -> Facts {
        Facts {
            now: NOW,
            last_update: Some(NOW - DAY),
            new_samples: 0,
            since_retrain: 0,
            total_samples: 1000,
            baseline_accuracy: Some(0.75),
            recent_accuracy: Some(0.75),
            drift: false,
            paused: false,
            has_network: true,
        }
    }

    #[test]
    fn frequent_fine_tunes_do_not_postpone_the_retrain() {
        let f = Facts {
            new_samples: 10,
            since_retrain: 50,
            ..base()
        };
        assert_eq!(
            auto(&f),
            Decision {
                action: Action::Retrain,
                reason: Reason::NewSamples { new: 50 }
            }
        );
        let f = Facts {
            since_retrain: 49,
            ..f
        };
        assert_eq!(auto(&f).action, Action::Incremental);
    }

    fn auto(facts: &Facts) -> Decision {
        decide(LearnMode::Auto, facts, &PolicyConfig::default())
    }

    fn d(action: Action, reason: Reason) -> Decision {
        Decision { action, reason }
    }

    #[test]
    fn defaults_are_the_designs_and_valid() {
        let c = PolicyConfig::default();
        assert_eq!(
            (
                c.min_incremental,
                c.min_retrain,
                c.max_age_days,
                c.accuracy_window,
                c.min_train_samples
            ),
            (10, 50, 30, 50, 30)
        );
        assert_eq!(c.accuracy_drop, 0.10);
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(LearnMode::default(), LearnMode::Auto);
    }

    #[test]
    fn validate_rejects_out_of_range_values() {
        let ok = PolicyConfig::default();
        let bad = [
            PolicyConfig {
                min_incremental: 0,
                ..ok
            },
            PolicyConfig {
                min_incremental: 1_000_001,
                min_retrain: 1_000_001,
                ..ok
            },
            PolicyConfig {
                min_retrain: 9,
                ..ok
            },
            PolicyConfig {
                min_retrain: 1_000_001,
                ..ok
            },
            PolicyConfig {
                max_age_days: 0,
                ..ok
            },
            PolicyConfig {
                max_age_days: 3651,
                ..ok
            },
            PolicyConfig {
                accuracy_drop: 0.0,
                ..ok
            },
            PolicyConfig {
                accuracy_drop: 1.01,
                ..ok
            },
            PolicyConfig {
                accuracy_drop: f32::NAN,
                ..ok
            },
            PolicyConfig {
                accuracy_drop: f32::INFINITY,
                ..ok
            },
            PolicyConfig {
                accuracy_window: 0,
                ..ok
            },
            PolicyConfig {
                accuracy_window: 100_001,
                ..ok
            },
            PolicyConfig {
                min_train_samples: 0,
                ..ok
            },
            PolicyConfig {
                min_train_samples: 1_000_001,
                ..ok
            },
        ];
        for c in bad {
            assert!(
                matches!(c.validate(), Err(Error::InvalidConfig(m)) if m.starts_with("lifecycle.policy.")),
                "{c:?}"
            );
        }
        // The edges of the ranges are accepted.
        let edges = PolicyConfig {
            min_incremental: 1_000_000,
            min_retrain: 1_000_000,
            max_age_days: 3650,
            accuracy_drop: 1.0,
            accuracy_window: 100_000,
            min_train_samples: 1,
        };
        assert_eq!(edges.validate(), Ok(()));
        let equal = PolicyConfig {
            min_incremental: 1,
            min_retrain: 1,
            max_age_days: 1,
            ..ok
        };
        assert_eq!(equal.validate(), Ok(()));
    }

    #[test]
    fn config_and_reason_round_trip_through_postcard() {
        let c = PolicyConfig {
            min_incremental: 7,
            accuracy_drop: 0.25,
            ..PolicyConfig::default()
        };
        let bytes = postcard::to_allocvec(&c).unwrap();
        assert_eq!(postcard::from_bytes::<PolicyConfig>(&bytes).unwrap(), c);
        let r = Reason::Stale { days: 31, new: 4 };
        let bytes = postcard::to_allocvec(&r).unwrap();
        assert_eq!(postcard::from_bytes::<Reason>(&bytes).unwrap(), r);
    }

    #[test]
    fn forced_modes_are_obeyed_even_when_paused() {
        let facts = Facts {
            paused: true,
            drift: true,
            total_samples: 0,
            ..base()
        };
        let c = PolicyConfig::default();
        for (mode, action) in [
            (LearnMode::Incremental, Action::Incremental),
            (LearnMode::Retrain, Action::Retrain),
            (LearnMode::Eval, Action::Eval),
        ] {
            assert_eq!(decide(mode, &facts, &c), d(action, Reason::Forced));
            assert_eq!(
                decide(mode, &Facts::default(), &c),
                d(action, Reason::Forced)
            );
        }
        // Auto on the same facts is paused.
        assert_eq!(auto(&facts), d(Action::Skip, Reason::Paused));
    }

    #[test]
    fn paused_wins_over_everything_in_auto() {
        let facts = Facts {
            paused: true,
            drift: true,
            new_samples: 500,
            recent_accuracy: Some(0.1),
            last_update: Some(NOW - 400 * DAY),
            ..base()
        };
        assert_eq!(auto(&facts), d(Action::Skip, Reason::Paused));
    }

    #[test]
    fn drift_retrains_before_the_other_rules() {
        let facts = Facts {
            drift: true,
            new_samples: 500,
            recent_accuracy: Some(0.1),
            ..base()
        };
        assert_eq!(auto(&facts), d(Action::Retrain, Reason::Drift));
        // Even with nothing new.
        let facts = Facts {
            drift: true,
            ..base()
        };
        assert_eq!(auto(&facts), d(Action::Retrain, Reason::Drift));
    }

    #[test]
    fn accuracy_drop_retrains_at_and_above_the_threshold() {
        // Exactly representable values: 0.75 - 0.625 = 0.125 = the threshold.
        let c = PolicyConfig {
            accuracy_drop: 0.125,
            ..PolicyConfig::default()
        };
        let at = Facts {
            recent_accuracy: Some(0.625),
            new_samples: 500,
            ..base()
        };
        let want = d(
            Action::Retrain,
            Reason::AccuracyDrop {
                baseline: 0.75,
                recent: 0.625,
            },
        );
        assert_eq!(decide(LearnMode::Auto, &at, &c), want);
        // Just below the threshold: falls through to the sample count.
        let below = Facts {
            recent_accuracy: Some(0.6251),
            ..at
        };
        assert_eq!(
            decide(LearnMode::Auto, &below, &c),
            d(Action::Retrain, Reason::NewSamples { new: 500 })
        );
        // An improvement is not a drop.
        let better = Facts {
            recent_accuracy: Some(0.95),
            new_samples: 0,
            ..base()
        };
        assert_eq!(auto(&better).action, Action::Skip);
        // Default threshold 0.10: 0.75 -> 0.5 is a drop.
        let big = Facts {
            recent_accuracy: Some(0.5),
            ..base()
        };
        assert_eq!(auto(&big).action, Action::Retrain);
    }

    #[test]
    fn unknown_or_non_finite_accuracies_are_ignored() {
        for (baseline, recent) in [
            (None, Some(0.1)),
            (Some(0.9), None),
            (Some(f32::NAN), Some(0.1)),
            (Some(0.9), Some(f32::NAN)),
            (Some(f32::INFINITY), Some(0.1)),
            (Some(0.9), Some(f32::NEG_INFINITY)),
        ] {
            let facts = Facts {
                baseline_accuracy: baseline,
                recent_accuracy: recent,
                ..base()
            };
            assert_eq!(
                auto(&facts),
                d(Action::Skip, Reason::NothingNew { new: 0, need: 10 }),
                "{baseline:?} {recent:?}"
            );
        }
    }

    #[test]
    fn many_new_samples_retrain() {
        let at = Facts {
            new_samples: 50,
            ..base()
        };
        assert_eq!(
            auto(&at),
            d(Action::Retrain, Reason::NewSamples { new: 50 })
        );
        let below = Facts {
            new_samples: 49,
            ..base()
        };
        assert_eq!(
            auto(&below),
            d(Action::Incremental, Reason::NewSamples { new: 49 })
        );
    }

    #[test]
    fn a_stale_model_with_new_samples_retrains() {
        let stale = Facts {
            last_update: Some(NOW - 30 * DAY),
            new_samples: 1,
            ..base()
        };
        assert_eq!(
            auto(&stale),
            d(Action::Retrain, Reason::Stale { days: 30, new: 1 })
        );
        // One millisecond short of 30 days: 29 whole days, not stale.
        let fresh = Facts {
            last_update: Some(NOW - 30 * DAY + 1),
            ..stale
        };
        assert_eq!(
            auto(&fresh),
            d(Action::Skip, Reason::NothingNew { new: 1, need: 10 })
        );
        assert_eq!(fresh.days_since_update(), 29);
        // Stale but nothing new: nothing to learn from.
        let idle = Facts {
            new_samples: 0,
            ..stale
        };
        assert_eq!(
            auto(&idle),
            d(Action::Skip, Reason::NothingNew { new: 0, need: 10 })
        );
        // Stale beats incremental.
        let both = Facts {
            new_samples: 20,
            last_update: Some(NOW - 45 * DAY),
            ..base()
        };
        assert_eq!(
            auto(&both),
            d(Action::Retrain, Reason::Stale { days: 45, new: 20 })
        );
        // Recent enough: incremental.
        let recent = Facts {
            last_update: Some(NOW - 29 * DAY),
            ..both
        };
        assert_eq!(
            auto(&recent),
            d(Action::Incremental, Reason::NewSamples { new: 20 })
        );
    }

    #[test]
    fn no_network_or_never_trained_retrains_instead_of_fine_tuning() {
        let prior = Facts {
            new_samples: 10,
            has_network: false,
            ..base()
        };
        assert_eq!(
            auto(&prior),
            d(Action::Retrain, Reason::NoNetwork { new: 10 })
        );
        let never = Facts {
            last_update: None,
            new_samples: 12,
            ..base()
        };
        assert_eq!(
            auto(&never),
            d(Action::Retrain, Reason::NoNetwork { new: 12 })
        );
        // Never trained with a few samples: not stale (there is no age), nothing to do.
        let few = Facts {
            last_update: None,
            new_samples: 9,
            has_network: false,
            ..base()
        };
        assert_eq!(
            auto(&few),
            d(Action::Skip, Reason::NothingNew { new: 9, need: 10 })
        );
        assert_eq!(few.days_since_update(), 0);
    }

    #[test]
    fn too_little_data_turns_any_automatic_retrain_into_a_skip() {
        let skip = d(Action::Skip, Reason::TooFewSamples { have: 29, need: 30 });
        let small = Facts {
            total_samples: 29,
            ..base()
        };
        let cases = [
            Facts {
                drift: true,
                ..small
            },
            Facts {
                recent_accuracy: Some(0.1),
                ..small
            },
            Facts {
                new_samples: 60,
                ..small
            },
            Facts {
                new_samples: 3,
                last_update: Some(NOW - 90 * DAY),
                ..small
            },
            Facts {
                new_samples: 10,
                has_network: false,
                ..small
            },
        ];
        for facts in cases {
            assert_eq!(auto(&facts), skip, "{facts:?}");
            // With one more sample each one retrains.
            let enough = Facts {
                total_samples: 30,
                ..facts
            };
            assert_eq!(auto(&enough).action, Action::Retrain, "{facts:?}");
        }
        // An incremental update is not subject to the minimum.
        let inc = Facts {
            new_samples: 10,
            ..small
        };
        assert_eq!(auto(&inc).action, Action::Incremental);
        // A forced retrain is not either.
        assert_eq!(
            decide(LearnMode::Retrain, &small, &PolicyConfig::default()),
            d(Action::Retrain, Reason::Forced)
        );
    }

    #[test]
    fn extreme_times_do_not_overflow() {
        let f = |now, last| Facts {
            now,
            last_update: Some(last),
            new_samples: 5,
            ..base()
        };
        // The largest possible span: (2^64 - 1) ms is about 2.1e11 days, saturated.
        let far = f(i64::MAX, i64::MIN);
        assert_eq!(far.days_since_update(), u32::MAX);
        assert_eq!(
            auto(&far),
            d(
                Action::Retrain,
                Reason::Stale {
                    days: u32::MAX,
                    new: 5
                }
            )
        );
        // `now` before the last update counts as 0 days.
        let back = f(i64::MIN, i64::MAX);
        assert_eq!(back.days_since_update(), 0);
        assert_eq!(
            auto(&back),
            d(Action::Skip, Reason::NothingNew { new: 5, need: 10 })
        );
        assert_eq!(f(0, DAY).days_since_update(), 0);
        assert_eq!(f(i64::MAX, i64::MAX).days_since_update(), 0);
        // Exact just below the saturation point.
        let span = i64::from(u32::MAX) * DAY;
        assert_eq!(f(span - 1, 0).days_since_update(), u32::MAX - 1);
        assert_eq!(f(span, 0).days_since_update(), u32::MAX);
        assert_eq!(f(-DAY, -3 * DAY - 1).days_since_update(), 2);
    }

    #[test]
    fn decide_never_panics_and_is_consistent_over_a_grid() {
        let times = [i64::MIN, -DAY, 0, 1, NOW - 31 * DAY, NOW, i64::MAX];
        let counts = [0, 1, 9, 10, 29, 30, 49, 50, u32::MAX];
        let accs = [
            None,
            Some(0.0f32),
            Some(0.5),
            Some(1.0),
            Some(f32::NAN),
            Some(-f32::INFINITY),
        ];
        let modes = [
            LearnMode::Auto,
            LearnMode::Incremental,
            LearnMode::Retrain,
            LearnMode::Eval,
        ];
        let configs = [
            PolicyConfig::default(),
            PolicyConfig {
                min_incremental: 1,
                min_retrain: 1,
                max_age_days: 1,
                accuracy_drop: 1.0,
                accuracy_window: 1,
                min_train_samples: 1,
            },
            // Invalid configurations must not panic either.
            PolicyConfig {
                min_incremental: 0,
                min_retrain: 0,
                max_age_days: 0,
                accuracy_drop: f32::NAN,
                accuracy_window: 0,
                min_train_samples: u32::MAX,
            },
        ];
        let mut n = 0u32;
        for config in &configs {
            for &now in &times {
                for last in times.iter().map(|&t| Some(t)).chain([None]) {
                    for &new in &counts {
                        for &total in &counts {
                            for &baseline in &accs[..4] {
                                for &recent in &accs {
                                    for flags in 0..8u8 {
                                        let facts = Facts {
                                            now,
                                            last_update: last,
                                            new_samples: new,
                                            since_retrain: new,
                                            total_samples: total,
                                            baseline_accuracy: baseline,
                                            recent_accuracy: recent,
                                            drift: flags & 1 != 0,
                                            paused: flags & 2 != 0,
                                            has_network: flags & 4 != 0,
                                        };
                                        for mode in modes {
                                            let dec = decide(mode, &facts, config);
                                            n += 1;
                                            if mode != LearnMode::Auto {
                                                assert_eq!(dec.reason, Reason::Forced);
                                                continue;
                                            }
                                            assert_ne!(dec.action, Action::Eval);
                                            if facts.paused {
                                                assert_eq!(dec.reason, Reason::Paused);
                                            }
                                            if dec.action == Action::Retrain {
                                                assert!(total >= config.min_train_samples);
                                            }
                                            if dec.action == Action::Incremental {
                                                assert!(facts.has_network && last.is_some());
                                                assert!(!facts.drift);
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        assert!(n > 100_000);
    }
}
