//! The continual-learning policy: after a label, whether to put a snapshot of the online
//! network on trial, start a full retrain, or do nothing.
//!
//! Learning itself never waits for the policy: every revealed label updates the online
//! network, the linear learner, the priors and the mixture at once. The policy only decides
//! when a new *version* is made. [`decide`] is a pure function of [`Facts`] the caller
//! gathers and a [`PolicyConfig`]. With the defaults:
//!
//! - a **full retrain** starts after 10,000 labels, or on a drift alarm (at most one per
//!   5,000 labels), if the replay buffer holds at least 500 samples. Retrains are also on
//!   the schedule (weekly by default, [`super::schedule`]);
//! - otherwise a **snapshot** of the online network goes on trial every 2,000 labels;
//! - **nothing** while the extreme-input guard has paused learning, while a retrain is
//!   running (it advances a slice at every label until it is done) or while a candidate is
//!   on trial (a pending drift alarm waits for its verdict).
//!
//! [`LearnMode::Eval`] asks for an evaluation only: it trains nothing. Every [`Decision`]
//! carries a [`Reason`] with the numbers that decided it.

use serde::{Deserialize, Serialize};

use crate::error::{Error, check};

/// How `learn` was asked to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum LearnMode {
    /// Let [`decide`] choose from the facts.
    #[default]
    Auto,
    /// Put a snapshot of the online network on trial now (if it learned anything since the
    /// last one).
    Incremental,
    /// Retrain from scratch on the newest samples now, to the end.
    Retrain,
    /// Evaluate only; train nothing.
    Eval,
}

/// Thresholds of the continual-learning policy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// Labels between snapshots of the online network put on trial (default 2,000;
    /// 1..=10,000,000).
    pub snapshot_every: u32,
    /// Labels after which a full retrain starts (default 10,000; 100..=10,000,000).
    pub retrain_every: u32,
    /// Fewest labels between two retrains started by drift alarms (default 5,000;
    /// 1..=10,000,000).
    pub drift_cooldown: u32,
    /// Fewest samples in the replay buffer for an automatic retrain (default 500;
    /// 3..=1,000,000).
    pub min_train_samples: u32,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            snapshot_every: 2_000,
            retrain_every: 10_000,
            drift_cooldown: 5_000,
            min_train_samples: 500,
        }
    }
}

impl PolicyConfig {
    /// Largest label count.
    pub const MAX_LABELS: u32 = 10_000_000;

    /// Checks ranges.
    pub fn validate(&self) -> Result<(), Error> {
        check(
            (1..=Self::MAX_LABELS).contains(&self.snapshot_every),
            "lifecycle.policy.snapshot_every must be in 1..=10000000",
        )?;
        check(
            (100..=Self::MAX_LABELS).contains(&self.retrain_every),
            "lifecycle.policy.retrain_every must be in 100..=10000000",
        )?;
        check(
            (1..=Self::MAX_LABELS).contains(&self.drift_cooldown),
            "lifecycle.policy.drift_cooldown must be in 1..=10000000",
        )?;
        check(
            (3..=1_000_000).contains(&self.min_train_samples),
            "lifecycle.policy.min_train_samples must be in 3..=1000000",
        )
    }
}

/// What the policy decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Action {
    /// Make no version.
    Skip,
    /// Put a snapshot of the online network on trial.
    Incremental,
    /// Start a full retrain.
    Retrain,
    /// Evaluate only (only ever decided when [`LearnMode::Eval`] is asked for).
    Eval,
}

/// Why the policy decided what it did, with the numbers that decided it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Reason {
    /// A mode other than [`LearnMode::Auto`] was asked for; the facts were not consulted.
    Forced,
    /// The extreme-input guard has paused learning.
    Paused,
    /// A drift detector fired.
    Drift,
    /// Enough labels since the last snapshot (for a snapshot) or retrain (for a retrain).
    NewSamples {
        /// Labels since then.
        new: u32,
    },
    /// A retrain was called for, but the replay buffer is too small.
    TooFewSamples {
        /// Samples in the buffer.
        have: u32,
        /// Samples needed (`min_train_samples`).
        need: u32,
    },
    /// Not enough labels since the last snapshot.
    NothingNew {
        /// Labels since the last snapshot.
        new: u32,
        /// Labels needed (`snapshot_every`).
        need: u32,
    },
    /// A candidate is on trial; no snapshot until it ends.
    TrialRunning {
        /// The candidate.
        version: u32,
    },
    /// A retrain is running.
    RetrainRunning,
}

/// The policy's decision.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Decision {
    /// What to do.
    pub action: Action,
    /// Why.
    pub reason: Reason,
}

/// What the policy looks at.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Facts {
    /// Labels since the last snapshot.
    pub since_snapshot: u32,
    /// Labels since the last retrain started.
    pub since_retrain: u32,
    /// Labels since the last retrain that a drift alarm started (`None`: never).
    pub since_drift_retrain: Option<u32>,
    /// Samples in the replay buffer.
    pub samples: u32,
    /// A drift alarm is pending.
    pub drift: bool,
    /// The extreme-input guard has paused learning.
    pub paused: bool,
    /// The candidate on trial.
    pub trial: Option<u32>,
    /// A retrain is running.
    pub retraining: bool,
}

/// The decision for `mode` given `facts`.
pub fn decide(mode: LearnMode, facts: &Facts, config: &PolicyConfig) -> Decision {
    let d = |action, reason| Decision { action, reason };
    match mode {
        LearnMode::Incremental if facts.since_snapshot == 0 => {
            return d(Action::Skip, Reason::NothingNew { new: 0, need: 1 });
        }
        LearnMode::Incremental => return d(Action::Incremental, Reason::Forced),
        LearnMode::Retrain => return d(Action::Retrain, Reason::Forced),
        LearnMode::Eval => return d(Action::Eval, Reason::Forced),
        LearnMode::Auto => {}
    }
    if facts.paused {
        return d(Action::Skip, Reason::Paused);
    }
    if facts.retraining {
        return d(Action::Skip, Reason::RetrainRunning);
    }
    // A trial is never cut short by an automatic candidate: a drift alarm or a due retrain
    // waits for its verdict.
    if let Some(version) = facts.trial {
        return d(Action::Skip, Reason::TrialRunning { version });
    }
    let cooled = facts
        .since_drift_retrain
        .is_none_or(|n| n >= config.drift_cooldown);
    let retrain = if facts.drift && cooled {
        Some(Reason::Drift)
    } else if facts.since_retrain >= config.retrain_every {
        Some(Reason::NewSamples {
            new: facts.since_retrain,
        })
    } else {
        None
    };
    if let Some(reason) = retrain {
        if facts.samples < config.min_train_samples {
            return d(
                Action::Skip,
                Reason::TooFewSamples {
                    have: facts.samples,
                    need: config.min_train_samples,
                },
            );
        }
        return d(Action::Retrain, reason);
    }
    if facts.since_snapshot >= config.snapshot_every {
        return d(
            Action::Incremental,
            Reason::NewSamples {
                new: facts.since_snapshot,
            },
        );
    }
    d(
        Action::Skip,
        Reason::NothingNew {
            new: facts.since_snapshot,
            need: config.snapshot_every,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auto(f: &Facts) -> Decision {
        decide(LearnMode::Auto, f, &PolicyConfig::default())
    }

    fn base() -> Facts {
        Facts {
            since_snapshot: 0,
            since_retrain: 0,
            since_drift_retrain: None,
            samples: 5_000,
            drift: false,
            paused: false,
            trial: None,
            retraining: false,
        }
    }

    #[test]
    fn snapshots_every_n_labels_unless_a_trial_runs() {
        let f = Facts {
            since_snapshot: 1_999,
            ..base()
        };
        assert_eq!(auto(&f).action, Action::Skip);
        let f = Facts {
            since_snapshot: 2_000,
            ..f
        };
        assert_eq!(
            auto(&f),
            Decision {
                action: Action::Incremental,
                reason: Reason::NewSamples { new: 2_000 }
            }
        );
        let f = Facts {
            trial: Some(4),
            ..f
        };
        assert_eq!(auto(&f).reason, Reason::TrialRunning { version: 4 });
    }

    #[test]
    fn retrains_are_rare_and_drift_has_a_cooldown() {
        let f = Facts {
            since_retrain: 9_999,
            ..base()
        };
        assert_ne!(auto(&f).action, Action::Retrain);
        let f = Facts {
            since_retrain: 10_000,
            ..base()
        };
        assert_eq!(auto(&f).action, Action::Retrain);
        let during_trial = Facts {
            trial: Some(3),
            drift: true,
            ..f
        };
        assert_eq!(
            auto(&during_trial).reason,
            Reason::TrialRunning { version: 3 },
            "a trial is not cut short"
        );
        let drift = Facts {
            drift: true,
            since_drift_retrain: Some(4_999),
            ..base()
        };
        assert_ne!(auto(&drift).action, Action::Retrain);
        let drift = Facts {
            since_drift_retrain: Some(5_000),
            ..drift
        };
        assert_eq!(auto(&drift).reason, Reason::Drift);
        let small = Facts {
            samples: 499,
            ..drift
        };
        assert_eq!(
            auto(&small).reason,
            Reason::TooFewSamples {
                have: 499,
                need: 500
            }
        );
        let busy = Facts {
            retraining: true,
            ..drift
        };
        assert_eq!(auto(&busy).reason, Reason::RetrainRunning);
        let paused = Facts {
            paused: true,
            ..drift
        };
        assert_eq!(auto(&paused).reason, Reason::Paused);
    }

    #[test]
    fn forced_modes_and_validation() {
        let f = base();
        let c = PolicyConfig::default();
        assert_eq!(decide(LearnMode::Eval, &f, &c).action, Action::Eval);
        assert_eq!(decide(LearnMode::Retrain, &f, &c).action, Action::Retrain);
        assert_eq!(
            decide(LearnMode::Incremental, &f, &c).action,
            Action::Skip,
            "nothing learned since the last snapshot"
        );
        let one = Facts {
            since_snapshot: 1,
            ..f
        };
        assert_eq!(
            decide(LearnMode::Incremental, &one, &c).action,
            Action::Incremental
        );
        assert_eq!(c.validate(), Ok(()));
        let bad = PolicyConfig {
            retrain_every: 99,
            ..c
        };
        assert!(bad.validate().is_err());
        assert_eq!(LearnMode::default(), LearnMode::Auto);
    }
}
