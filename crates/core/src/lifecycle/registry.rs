//! Model versions: the champion, the candidate on trial, rollback, retention and the audit
//! history of what was live when.
//!
//! Every training run that produces a model adds a [`Version`]. A candidate becomes
//! champion only by winning its trial ([`super::trial`]), by a manual promotion or by a
//! rollback; each change is an [`AuditEntry`]. A candidate that loses its trial is held: it
//! never serves a forecast. Versions keep their weights, so a rollback restores them exactly.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use super::trial::TrialResult;
use crate::error::Error;
use crate::learners::signal::{Metrics, Predictor, Rejection};
use crate::lifecycle::drift::PsiReference;

/// How a version was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum VersionKind {
    /// The uniform prior every engine starts with.
    Initial,
    /// A fine-tune of a copy of its parent (schemas 2 and 3; the online network took its
    /// place).
    Incremental,
    /// A full retrain (network or class prior, whichever validated better).
    Retrain,
    /// Carried over from a schema-1 checkpoint, which had a single online model.
    Imported,
    /// A snapshot of the online network.
    Online,
}

/// The data a version was trained and measured on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DataRange {
    /// Time of the oldest sample used (ms since the Unix epoch).
    pub from: i64,
    /// Time of the newest sample used.
    pub to: i64,
    /// Training samples.
    pub train: u32,
    /// Validation samples.
    pub validation: u32,
    /// Held-out test samples.
    pub test: u32,
}

/// One model version.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    /// Id, increasing from 1.
    pub id: u32,
    /// The champion when it was made (none for the first).
    pub parent: Option<u32>,
    /// How it was made.
    pub kind: VersionKind,
    /// When (ms since the Unix epoch).
    pub created_at: i64,
    /// Its data.
    pub data: Option<DataRange>,
    /// Metrics on its validation data.
    pub validation: Option<Metrics>,
    /// Metrics on its held-out test data.
    pub test: Option<Metrics>,
    /// Replay sequence number after the newest sample it learned from: samples with a
    /// higher `seq` are unseen by it.
    pub trained_through: u64,
    /// How its trial ended, once it has.
    pub trial: Option<TrialResult>,
    /// The model.
    pub predictor: Predictor,
    /// Feature distributions of its training data, for drift detection.
    pub reference: Option<PsiReference>,
}

/// Why a version became champion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum PromotionReason {
    /// It won its trial (boxed: the audit keeps up to 100,000 events, most of them small).
    Trial(Box<TrialResult>),
    /// A person asked for it.
    Manual,
    /// Schemas 2 and 3: it was at least as good as the champion on held-out data.
    HeldOut {
        /// The candidate's log-loss or accuracy.
        candidate: f32,
        /// The champion's on the same samples.
        champion: f32,
        /// Samples.
        samples: u32,
    },
    /// Schemas 2 and 3: it won an A/B test (the smaller p-value of two tests).
    AbTest {
        /// The smaller of the two tests' p-values.
        p_value: f64,
    },
}

/// One event in the registry's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum AuditEvent {
    /// A training run produced a version.
    Created {
        /// The version.
        version: u32,
        /// How it was made.
        kind: VersionKind,
        /// Its parent.
        parent: Option<u32>,
    },
    /// A version went live.
    Promoted {
        /// The new champion.
        version: u32,
        /// The champion it replaced.
        replaced: u32,
        /// Why.
        reason: PromotionReason,
    },
    /// A candidate's trial started.
    TrialStarted {
        /// The candidate.
        version: u32,
        /// The champion it is tried against.
        champion: u32,
    },
    /// A candidate did not go live and never will serve: it lost its trial (`trial`), or
    /// its trial was cut short by a newer candidate or a change of champion (`None`).
    Held {
        /// The version.
        version: u32,
        /// How its trial ended, if it was tested.
        trial: Option<Box<TrialResult>>,
    },
    /// A training run was thrown away; the champion is untouched.
    Rejected {
        /// What kind of run.
        kind: VersionKind,
        /// Why.
        why: Rejection,
    },
    /// The champion was replaced by an earlier version.
    RolledBack {
        /// The champion before.
        from: u32,
        /// The champion now.
        to: u32,
    },
    /// Retention dropped a version's weights.
    Retired {
        /// The version.
        version: u32,
    },
    /// Schemas 2 and 3: a challenger stopped being one.
    ChallengerEnded {
        /// The version.
        version: u32,
    },
}

/// An event and when it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AuditEntry {
    /// ms since the Unix epoch.
    pub at: i64,
    /// What happened.
    pub event: AuditEvent,
}

/// What became of a submitted candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Verdict {
    /// It is on trial against the champion.
    OnTrial,
    /// It won its trial (or was promoted by hand) and is the champion.
    Promoted,
    /// It lost its trial, or the trial was cut short: it never serves.
    Held,
}

/// The versions, which of them is live, and the history.
#[derive(Debug, Clone, PartialEq)]
pub struct Registry {
    pub(crate) versions: Vec<Version>,
    pub(crate) champion: u32,
    /// The candidate on trial.
    pub(crate) challenger: Option<u32>,
    pub(crate) next_id: u32,
    pub(crate) audit: VecDeque<AuditEntry>,
}

impl Registry {
    /// Most audit entries kept (the oldest are dropped beyond this).
    pub const MAX_AUDIT: usize = 100_000;

    /// A registry whose champion is version 1, `first`.
    pub fn new(first: Predictor, kind: VersionKind, now: i64) -> Self {
        let mut r = Self {
            versions: Vec::new(),
            champion: 1,
            challenger: None,
            next_id: 1,
            audit: VecDeque::new(),
        };
        let id = r.add(Version {
            id: 0,
            parent: None,
            kind,
            created_at: now,
            data: None,
            validation: None,
            test: None,
            trained_through: 0,
            trial: None,
            predictor: first,
            reference: None,
        });
        r.champion = id;
        r
    }

    /// The live version.
    pub fn champion(&self) -> &Version {
        // The champion is always retained (an invariant checked on restore).
        self.get(self.champion).unwrap_or(&self.versions[0])
    }

    /// The candidate on trial, if any.
    pub fn challenger(&self) -> Option<&Version> {
        self.challenger.and_then(|id| self.get(id))
    }

    /// A retained version.
    pub fn get(&self, id: u32) -> Option<&Version> {
        self.versions
            .binary_search_by_key(&id, |v| v.id)
            .ok()
            .map(|i| &self.versions[i])
    }

    fn get_mut(&mut self, id: u32) -> Option<&mut Version> {
        let i = self.versions.binary_search_by_key(&id, |v| v.id).ok()?;
        Some(&mut self.versions[i])
    }

    /// Retained versions, oldest first.
    pub fn versions(&self) -> &[Version] {
        &self.versions
    }

    /// The history, oldest first (at most [`Registry::MAX_AUDIT`] entries).
    pub fn audit(&self) -> &VecDeque<AuditEntry> {
        &self.audit
    }

    /// Versions created so far.
    pub fn created(&self) -> u32 {
        self.next_id - 1
    }

    /// The version that was champion at time `at` (by the audit history).
    pub fn live_at(&self, at: i64) -> Option<u32> {
        let mut live = None;
        for e in self.audit.iter().take_while(|e| e.at <= at) {
            match e.event {
                AuditEvent::Created {
                    version,
                    kind: VersionKind::Initial | VersionKind::Imported,
                    parent: None,
                } if live.is_none() => live = Some(version),
                AuditEvent::Promoted { version, .. } => live = Some(version),
                AuditEvent::RolledBack { to, .. } => live = Some(to),
                _ => {}
            }
        }
        live
    }

    fn log(&mut self, at: i64, event: AuditEvent) {
        if self.audit.len() >= Self::MAX_AUDIT {
            self.audit.pop_front();
        }
        self.audit.push_back(AuditEntry { at, event });
    }

    /// Adds a version (its `id` is assigned here) and records its creation.
    pub(crate) fn add(&mut self, mut v: Version) -> u32 {
        v.id = self.next_id;
        self.next_id = self.next_id.saturating_add(1);
        let (id, kind, parent, at) = (v.id, v.kind, v.parent, v.created_at);
        self.versions.push(v);
        self.log(
            at,
            AuditEvent::Created {
                version: id,
                kind,
                parent,
            },
        );
        id
    }

    /// Records a rejected training run.
    pub(crate) fn reject(&mut self, kind: VersionKind, why: Rejection, now: i64) {
        self.log(now, AuditEvent::Rejected { kind, why });
    }

    /// Puts version `id` on trial against the champion. A trial already running ends with
    /// its candidate held.
    pub(crate) fn start_trial(&mut self, id: u32, now: i64) {
        self.cut_trial(now);
        self.challenger = Some(id);
        let champion = self.champion;
        self.log(
            now,
            AuditEvent::TrialStarted {
                version: id,
                champion,
            },
        );
    }

    /// Ends the running trial without a verdict: its candidate is held.
    pub(crate) fn cut_trial(&mut self, now: i64) {
        if let Some(c) = self.challenger.take() {
            self.log(
                now,
                AuditEvent::Held {
                    version: c,
                    trial: None,
                },
            );
        }
    }

    /// Ends the running trial with `result`: the candidate is promoted if it passed, held
    /// otherwise. Returns the verdict (`None` without a trial).
    pub(crate) fn conclude_trial(&mut self, result: TrialResult, now: i64) -> Option<Verdict> {
        let id = self.challenger.take()?;
        if let Some(v) = self.get_mut(id) {
            v.trial = Some(result);
        }
        if result.passed && self.get(id).is_some() {
            self.set_champion(id, PromotionReason::Trial(Box::new(result)), now);
            Some(Verdict::Promoted)
        } else {
            self.log(
                now,
                AuditEvent::Held {
                    version: id,
                    trial: Some(Box::new(result)),
                },
            );
            Some(Verdict::Held)
        }
    }

    fn set_champion(&mut self, id: u32, reason: PromotionReason, now: i64) {
        let replaced = self.champion;
        self.champion = id;
        self.log(
            now,
            AuditEvent::Promoted {
                version: id,
                replaced,
                reason,
            },
        );
    }

    /// Makes a retained version champion by hand. A running trial is cut short (its
    /// candidate is the new champion if it was the one promoted).
    pub(crate) fn promote(&mut self, id: u32, now: i64) -> Result<(), Error> {
        if self.get(id).is_none() {
            return Err(Error::UnknownVersion(id));
        }
        if id == self.champion {
            return Ok(());
        }
        if self.challenger == Some(id) {
            self.challenger = None;
        } else {
            self.cut_trial(now);
        }
        self.set_champion(id, PromotionReason::Manual, now);
        Ok(())
    }

    /// The champion before the current one that is still retained.
    pub fn previous_champion(&self) -> Option<u32> {
        let mut chain = Vec::new();
        for e in &self.audit {
            match e.event {
                AuditEvent::Promoted { replaced, .. } => chain.push(replaced),
                AuditEvent::RolledBack { from, .. } => chain.push(from),
                _ => {}
            }
        }
        chain
            .into_iter()
            .rev()
            .find(|&v| v != self.champion && self.get(v).is_some())
    }

    /// Makes `to` (default: the previous champion) the champion again, with exactly the
    /// weights it had. A running trial is cut short. Returns the new champion.
    pub(crate) fn rollback(&mut self, to: Option<u32>, now: i64) -> Result<u32, Error> {
        let to = match to {
            Some(id) => id,
            None => self.previous_champion().ok_or(Error::NoPreviousVersion)?,
        };
        if self.get(to).is_none() {
            return Err(Error::UnknownVersion(to));
        }
        let from = self.champion;
        if from != to {
            self.cut_trial(now);
            self.champion = to;
            self.log(now, AuditEvent::RolledBack { from, to });
        }
        Ok(to)
    }

    /// Drops every version except the newest `keep_last`, the champion, the candidate on
    /// trial and `best`.
    pub(crate) fn retain(&mut self, keep_last: u32, best: Option<u32>, now: i64) {
        let newest: Vec<u32> = self
            .versions
            .iter()
            .rev()
            .take(keep_last as usize)
            .map(|v| v.id)
            .collect();
        let keep = |id: u32| {
            id == self.champion
                || Some(id) == self.challenger
                || Some(id) == best
                || newest.contains(&id)
        };
        let (kept, dropped): (Vec<Version>, Vec<Version>) = core::mem::take(&mut self.versions)
            .into_iter()
            .partition(|v| keep(v.id));
        self.versions = kept;
        for v in dropped {
            self.log(now, AuditEvent::Retired { version: v.id });
        }
    }

    /// The invariants a restored registry must meet.
    pub fn is_consistent(&self) -> bool {
        let ids_increase = self.versions.windows(2).all(|w| w[0].id < w[1].id);
        ids_increase
            && self
                .versions
                .iter()
                .all(|v| v.id >= 1 && v.id < self.next_id)
            && self.get(self.champion).is_some()
            && self
                .challenger
                .is_none_or(|c| c != self.champion && self.get(c).is_some())
            && self.audit.len() <= Self::MAX_AUDIT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(kind: VersionKind, p: f32) -> Version {
        Version {
            id: 0,
            parent: Some(1),
            kind,
            created_at: 0,
            data: None,
            validation: None,
            test: None,
            trained_through: 0,
            trial: None,
            predictor: Predictor::Prior([p, 0.0, 1.0 - p]),
            reference: None,
        }
    }

    fn result(passed: bool) -> TrialResult {
        TrialResult {
            champion: 1,
            rows: 100,
            candidate_log_loss: if passed { 0.9 } else { 1.1 },
            champion_log_loss: 1.0,
            candidate_accuracy: 0.5,
            champion_accuracy: 0.5,
            difference: if passed { -0.1 } else { 0.1 },
            std_error: 0.01,
            p_value: if passed { 0.0 } else { 1.0 },
            trades: None,
            pnl_difference: None,
            pnl_p_value: None,
            passed,
        }
    }

    #[test]
    fn trials_promote_or_hold_and_everything_is_audited() {
        let mut r = Registry::new(Predictor::UNIFORM, VersionKind::Initial, 0);
        let a = r.add(candidate(VersionKind::Retrain, 0.2));
        r.start_trial(a, 1);
        assert_eq!(r.challenger().map(|v| v.id), Some(a));
        assert_eq!(r.conclude_trial(result(true), 10), Some(Verdict::Promoted));
        assert_eq!((r.champion().id, r.challenger), (2, None));
        assert_eq!(r.champion().trial.map(|t| t.passed), Some(true));
        let b = r.add(candidate(VersionKind::Online, 0.3));
        r.start_trial(b, 11);
        assert_eq!(r.conclude_trial(result(false), 20), Some(Verdict::Held));
        assert_eq!(r.champion().id, 2, "a candidate that lost never goes live");
        // A newer candidate cuts a running trial short.
        let c = r.add(candidate(VersionKind::Online, 0.4));
        r.start_trial(c, 21);
        let d = r.add(candidate(VersionKind::Retrain, 0.5));
        r.start_trial(d, 22);
        assert!(r.audit().iter().any(|e| e.event
            == AuditEvent::Held {
                version: c,
                trial: None
            }));
        assert_eq!(r.conclude_trial(result(false), 23), Some(Verdict::Held));
        assert_eq!(r.conclude_trial(result(true), 24), None, "no trial running");
        r.reject(VersionKind::Retrain, Rejection::NonFinite, 35);
        assert_eq!(r.created(), 5, "a rejected run creates no version");

        let before = r.champion().predictor.clone();
        r.promote(3, 40).unwrap();
        assert_eq!(r.champion().id, 3);
        assert_eq!(r.rollback(None, 50), Ok(2));
        assert_eq!(r.champion().predictor, before, "weights restored exactly");
        assert_eq!(r.rollback(Some(1), 60), Ok(1));
        assert_eq!(r.promote(99, 70), Err(Error::UnknownVersion(99)));
        assert_eq!(r.rollback(Some(99), 70), Err(Error::UnknownVersion(99)));

        assert_eq!(r.live_at(5), Some(1));
        assert_eq!(r.live_at(15), Some(2));
        assert_eq!(r.live_at(45), Some(3));
        assert_eq!(r.live_at(55), Some(2));
        assert_eq!(r.live_at(65), Some(1));
        assert!(r.is_consistent());
    }

    #[test]
    fn retention_keeps_the_last_n_champion_candidate_and_best() {
        let mut r = Registry::new(Predictor::UNIFORM, VersionKind::Initial, 0);
        for (i, p) in [0.1f32, 0.9, 0.8, 0.7, 0.6, 0.5].into_iter().enumerate() {
            r.add(candidate(VersionKind::Retrain, p));
            let _ = i;
        }
        r.start_trial(7, 99);
        r.retain(2, Some(2), 100);
        let ids: Vec<u32> = r.versions().iter().map(|v| v.id).collect();
        assert_eq!(ids, [1, 2, 6, 7]);
        assert!(r.is_consistent());
        assert!(
            r.audit()
                .iter()
                .any(|e| e.event == AuditEvent::Retired { version: 3 })
        );
    }

    #[test]
    fn the_audit_keeps_the_newest_entries() {
        // A full audit is 100,000 entries: each stays small (a trial's figures are boxed).
        assert!(
            core::mem::size_of::<AuditEntry>() <= 32,
            "{}",
            core::mem::size_of::<AuditEntry>()
        );
        let mut r = Registry::new(Predictor::UNIFORM, VersionKind::Initial, 0);
        for i in 0..Registry::MAX_AUDIT as i64 + 10 {
            r.reject(VersionKind::Retrain, Rejection::NoData, i);
        }
        assert_eq!(r.audit().len(), Registry::MAX_AUDIT);
        assert_eq!(
            r.audit().back().map(|e| e.at),
            Some(Registry::MAX_AUDIT as i64 + 9)
        );
    }

    #[test]
    fn inconsistent_registries_are_detected() {
        let mut r = Registry::new(Predictor::UNIFORM, VersionKind::Initial, 0);
        r.champion = 5;
        assert!(!r.is_consistent());
        r.champion = 1;
        r.challenger = Some(1);
        assert!(!r.is_consistent());
    }
}
