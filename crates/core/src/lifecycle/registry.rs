//! Model versions: the champion that makes live decisions, at most one challenger, the
//! promotion gate, rollback, retention and the audit history of what was live when.
//!
//! Every training run that produces a model adds a [`Version`]. A candidate becomes
//! champion only through the gate (at least as good as the champion on the same held-out
//! data), a manual promotion, a significant A/B result or a rollback; each change is an
//! [`AuditEntry`]. Versions keep their weights, so a rollback restores them exactly.

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::error::{Error, check};
use crate::learners::signal::{Metrics, Predictor, Rejection};
use crate::lifecycle::drift::PsiReference;

/// How a version was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VersionKind {
    /// The uniform prior every engine starts with.
    Initial,
    /// An incremental fine-tune of its parent.
    Incremental,
    /// A full retrain (network or class prior, whichever validated better).
    Retrain,
    /// Carried over from a schema-1 checkpoint, which had a single online model.
    Imported,
}

/// What the promotion gate compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GateMetric {
    /// Mean cross-entropy (lower is better): rewards calibrated probabilities.
    LogLoss,
    /// Share of right classes (higher is better).
    Accuracy,
}

/// Promotion gate settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GateConfig {
    /// The metric (default log-loss).
    pub metric: GateMetric,
    /// How much better than the champion a candidate must be (default 0: at least as good;
    /// in nats for log-loss, a fraction for accuracy; 0..=1).
    pub margin: f32,
    /// Fewest held-out samples for a verdict (default 20); with fewer the candidate is held.
    pub min_samples: u32,
}

impl Default for GateConfig {
    fn default() -> Self {
        Self {
            metric: GateMetric::LogLoss,
            margin: 0.0,
            min_samples: 20,
        }
    }
}

impl GateConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<(), Error> {
        check(
            self.margin.is_finite() && (0.0..=1.0).contains(&self.margin),
            "lifecycle.gate.margin must be in 0..=1",
        )?;
        check(
            (1..=1_000_000).contains(&self.min_samples),
            "lifecycle.gate.min_samples must be in 1..=1000000",
        )
    }

    /// Compares a candidate with the champion measured on the same samples.
    pub fn check(&self, candidate: Metrics, champion: Metrics) -> GateCheck {
        let (c, k, passed) = match self.metric {
            GateMetric::LogLoss => (
                candidate.log_loss,
                champion.log_loss,
                candidate.log_loss <= champion.log_loss - self.margin,
            ),
            GateMetric::Accuracy => (
                candidate.accuracy,
                champion.accuracy,
                candidate.accuracy >= champion.accuracy + self.margin,
            ),
        };
        let enough = candidate.samples >= self.min_samples && candidate.samples == champion.samples;
        GateCheck {
            metric: self.metric,
            candidate: c,
            champion: k,
            samples: candidate.samples,
            passed: enough && passed && c.is_finite(),
        }
    }
}

/// The gate's comparison of a candidate with the champion.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GateCheck {
    /// Metric compared.
    pub metric: GateMetric,
    /// Candidate's value.
    pub candidate: f32,
    /// Champion's value on the same samples.
    pub champion: f32,
    /// Held-out samples both were measured on.
    pub samples: u32,
    /// The candidate may go live.
    pub passed: bool,
}

/// The data a version was trained and measured on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
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
    /// The version it was fine-tuned from or replaced (none for the first).
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
    /// Time range of its held-out test data, kept out of later fine-tunes so the gate can
    /// measure them on data neither model learned from.
    pub test_range: Option<(i64, i64)>,
    /// The model.
    pub predictor: Predictor,
    /// Feature distributions of its training data, for drift detection.
    pub reference: Option<PsiReference>,
}

/// Why a version became champion.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum PromotionReason {
    /// It passed the gate.
    Gate(GateCheck),
    /// A person asked for it.
    Manual,
    /// It won an A/B test significantly.
    AbTest {
        /// The smaller of the two tests' p-values.
        p_value: f64,
    },
}

/// One event in the registry's history.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
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
    /// A candidate did not pass the gate (or could not be measured) and stays out of the
    /// live path; it is the challenger if `challenger`.
    Held {
        /// The version.
        version: u32,
        /// The gate's comparison, if there was enough held-out data.
        gate: Option<GateCheck>,
        /// It became the A/B challenger.
        challenger: bool,
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
    /// A challenger stopped being one (a new champion or a challenger replaced it).
    ChallengerEnded {
        /// The version.
        version: u32,
    },
    /// Retention dropped a version's weights.
    Retired {
        /// The version.
        version: u32,
    },
}

/// An event and when it happened.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// ms since the Unix epoch.
    pub at: i64,
    /// What happened.
    pub event: AuditEvent,
}

/// What happened to a submitted candidate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Verdict {
    /// It is the champion now.
    Promoted,
    /// It is the challenger now.
    Challenger,
    /// It is retained but neither champion nor challenger.
    Held,
}

/// The versions and which of them is live.
#[derive(Debug, Clone, PartialEq)]
pub struct Registry {
    pub(crate) versions: Vec<Version>,
    pub(crate) champion: u32,
    pub(crate) challenger: Option<u32>,
    pub(crate) next_id: u32,
    pub(crate) audit: Vec<AuditEntry>,
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
            audit: Vec::new(),
        };
        let id = r.add(Version {
            id: 0,
            parent: None,
            kind,
            created_at: now,
            data: None,
            validation: None,
            test: None,
            test_range: None,
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

    /// The challenger, if any.
    pub fn challenger(&self) -> Option<&Version> {
        self.challenger.and_then(|id| self.get(id))
    }

    /// A retained version.
    pub fn get(&self, id: u32) -> Option<&Version> {
        self.versions.iter().find(|v| v.id == id)
    }

    /// Retained versions, oldest first.
    pub fn versions(&self) -> &[Version] {
        &self.versions
    }

    /// The history, oldest first.
    pub fn audit(&self) -> &[AuditEntry] {
        &self.audit
    }

    /// Versions created so far.
    pub fn created(&self) -> u32 {
        self.next_id - 1
    }

    /// The version with the best test metric (the champion if none has test metrics).
    pub fn best(&self, metric: GateMetric) -> u32 {
        let score = |m: &Metrics| match metric {
            GateMetric::LogLoss => -m.log_loss,
            GateMetric::Accuracy => m.accuracy,
        };
        let mut best = (self.champion, f32::NEG_INFINITY);
        for v in &self.versions {
            if let Some(s) = v.test.as_ref().map(score).filter(|s| s.is_finite())
                && s > best.1
            {
                best = (v.id, s);
            }
        }
        best.0
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
            self.audit.remove(0);
        }
        self.audit.push(AuditEntry { at, event });
    }

    fn add(&mut self, mut v: Version) -> u32 {
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
    pub fn reject(&mut self, kind: VersionKind, why: Rejection, now: i64) {
        self.log(now, AuditEvent::Rejected { kind, why });
    }

    /// Adds a trained candidate (its `id` is assigned here) and applies the gate's
    /// verdict: promoted if `gate` passed; otherwise the challenger, unless it is an
    /// incremental run and a challenger already exists (a running A/B test is not reset
    /// by every fine-tune).
    pub fn submit(
        &mut self,
        candidate: Version,
        gate: Option<GateCheck>,
        now: i64,
    ) -> (u32, Verdict) {
        let kind = candidate.kind;
        let id = self.add(candidate);
        if let Some(g) = gate.filter(|g| g.passed) {
            self.set_champion(id, PromotionReason::Gate(g), now);
            return (id, Verdict::Promoted);
        }
        let challenger = kind != VersionKind::Incremental || self.challenger.is_none();
        if challenger {
            self.end_challenger(now);
            self.challenger = Some(id);
        }
        self.log(
            now,
            AuditEvent::Held {
                version: id,
                gate,
                challenger,
            },
        );
        (
            id,
            if challenger {
                Verdict::Challenger
            } else {
                Verdict::Held
            },
        )
    }

    fn end_challenger(&mut self, now: i64) {
        if let Some(c) = self.challenger.take() {
            self.log(now, AuditEvent::ChallengerEnded { version: c });
        }
    }

    fn set_champion(&mut self, id: u32, reason: PromotionReason, now: i64) {
        let replaced = self.champion;
        self.champion = id;
        if self.challenger.is_some() {
            self.end_challenger(now);
        }
        self.log(
            now,
            AuditEvent::Promoted {
                version: id,
                replaced,
                reason,
            },
        );
    }

    /// Makes a retained version champion (a manual promotion or an A/B result).
    pub fn promote(&mut self, id: u32, reason: PromotionReason, now: i64) -> Result<(), Error> {
        if self.get(id).is_none() {
            return Err(Error::UnknownVersion(id));
        }
        if id != self.champion {
            self.set_champion(id, reason, now);
        }
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
    /// weights it had. Returns the new champion.
    pub fn rollback(&mut self, to: Option<u32>, now: i64) -> Result<u32, Error> {
        let to = match to {
            Some(id) => id,
            None => self.previous_champion().ok_or(Error::NoPreviousVersion)?,
        };
        if self.get(to).is_none() {
            return Err(Error::UnknownVersion(to));
        }
        let from = self.champion;
        if from != to {
            self.champion = to;
            if self.challenger == Some(to) {
                self.challenger = None;
            }
            self.log(now, AuditEvent::RolledBack { from, to });
        }
        Ok(to)
    }

    /// Drops every version except the newest `keep_last`, the champion, the challenger and
    /// the best by `metric`.
    pub fn retain(&mut self, keep_last: u32, metric: GateMetric, now: i64) {
        let best = self.best(metric);
        let newest: Vec<u32> = self
            .versions
            .iter()
            .rev()
            .take(keep_last as usize)
            .map(|v| v.id)
            .collect();
        let keep = |id: u32| {
            id == self.champion || Some(id) == self.challenger || id == best || newest.contains(&id)
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

    fn m(log_loss: f32, samples: u32) -> Metrics {
        Metrics {
            samples,
            log_loss,
            accuracy: 0.5,
        }
    }

    fn candidate(kind: VersionKind, p: f32) -> Version {
        Version {
            id: 0,
            parent: Some(1),
            kind,
            created_at: 0,
            data: None,
            validation: None,
            test: Some(m(p, 50)),
            test_range: None,
            predictor: Predictor::Prior([p, 0.0, 1.0 - p]),
            reference: None,
        }
    }

    #[test]
    fn the_gate_promotes_only_at_least_as_good() {
        let g = GateConfig::default();
        assert!(g.check(m(1.0, 50), m(1.0, 50)).passed, "ties pass");
        assert!(!g.check(m(1.01, 50), m(1.0, 50)).passed);
        assert!(!g.check(m(0.5, 10), m(1.0, 10)).passed, "too few samples");
        assert!(!g.check(m(0.5, 50), m(1.0, 40)).passed, "different data");
        assert!(!g.check(m(f32::NAN, 50), m(1.0, 50)).passed);
        let strict = GateConfig { margin: 0.1, ..g };
        assert!(!strict.check(m(0.95, 50), m(1.0, 50)).passed);
        let acc = GateConfig {
            metric: GateMetric::Accuracy,
            ..g
        };
        let hi = Metrics {
            accuracy: 0.6,
            ..m(2.0, 50)
        };
        assert!(acc.check(hi, m(1.0, 50)).passed);
        assert!(GateConfig { margin: 2.0, ..g }.validate().is_err());
    }

    #[test]
    fn submit_promote_rollback_and_audit() {
        let mut r = Registry::new(Predictor::UNIFORM, VersionKind::Initial, 0);
        let gate = GateConfig::default();
        let pass = Some(gate.check(m(0.9, 50), m(1.0, 50)));
        let fail = Some(gate.check(m(1.1, 50), m(1.0, 50)));
        assert_eq!(
            r.submit(candidate(VersionKind::Retrain, 0.2), pass, 10),
            (2, Verdict::Promoted)
        );
        assert_eq!(r.champion().id, 2);
        assert_eq!(
            r.submit(candidate(VersionKind::Retrain, 0.3), fail, 20),
            (3, Verdict::Challenger)
        );
        assert_eq!(
            r.submit(candidate(VersionKind::Incremental, 0.4), fail, 30),
            (4, Verdict::Held)
        );
        assert_eq!(r.challenger().map(|v| v.id), Some(3));
        assert_eq!(r.champion().id, 2, "a failed candidate never goes live");
        r.reject(VersionKind::Retrain, Rejection::NonFinite, 35);
        assert_eq!(r.created(), 4, "a rejected run creates no version");

        let before = r.champion().predictor.clone();
        r.promote(3, PromotionReason::Manual, 40).unwrap();
        assert_eq!((r.champion().id, r.challenger), (3, None));
        assert_eq!(r.rollback(None, 50), Ok(2));
        assert_eq!(r.champion().predictor, before, "weights restored exactly");
        assert_eq!(r.rollback(Some(1), 60), Ok(1));
        assert_eq!(
            r.promote(99, PromotionReason::Manual, 70),
            Err(Error::UnknownVersion(99))
        );
        assert_eq!(r.rollback(Some(99), 70), Err(Error::UnknownVersion(99)));

        assert_eq!(r.live_at(5), Some(1));
        assert_eq!(r.live_at(15), Some(2));
        assert_eq!(r.live_at(45), Some(3));
        assert_eq!(r.live_at(55), Some(2));
        assert_eq!(r.live_at(65), Some(1));
        assert!(r.is_consistent());
    }

    #[test]
    fn retention_keeps_the_last_n_champion_challenger_and_best() {
        let mut r = Registry::new(Predictor::UNIFORM, VersionKind::Initial, 0);
        let gate = GateConfig::default();
        let fail = Some(gate.check(m(1.1, 50), m(1.0, 50)));
        // Version 2 has the best test log-loss.
        for (i, p) in [0.1f32, 0.9, 0.8, 0.7, 0.6, 0.5].into_iter().enumerate() {
            let mut c = candidate(VersionKind::Retrain, p);
            c.test = Some(m(p, 50));
            r.submit(c, fail, i as i64);
        }
        assert_eq!(r.challenger, Some(7));
        r.retain(2, GateMetric::LogLoss, 100);
        let ids: Vec<u32> = r.versions().iter().map(|v| v.id).collect();
        assert_eq!(ids, [1, 2, 6, 7]);
        assert!(r.is_consistent());
        assert_eq!(r.rollback(None, 101), Err(Error::NoPreviousVersion));
        assert!(
            r.audit()
                .iter()
                .any(|e| e.event == AuditEvent::Retired { version: 3 })
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
