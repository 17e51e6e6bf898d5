//! The lifecycle types of schemas 2 and 3, frozen as they were written.
//!
//! Schema 2 persisted the lifecycle's configuration, its audit history and the A/B test with
//! their live serde derives. Those live types changed in schema 4 (the mixture forecast, the
//! online learner, trials), so their schema-2 layouts are copied here, field for field and
//! variant for variant, and read only. The golden files in `tests/fixtures/v2` and `v3` fail
//! the tests if any of these encodings drift.

use serde::{Deserialize, Serialize};

use crate::learners::signal::Rejection;
use crate::lifecycle::DriftConfig;
use crate::lifecycle::monitor::MonitorConfig;
use crate::lifecycle::registry::VersionKind;
use crate::lifecycle::schedule::ScheduleConfig;
use crate::lifecycle::stats::Moments;

/// `LifecycleConfig` of schemas 2 and 3.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct LifecycleConfigV2 {
    pub policy: PolicyConfigV2,
    pub incremental: IncrementalConfigV2,
    pub retrain: RetrainConfigV2,
    pub gate: GateConfigV2,
    pub ab: AbConfigV2,
    pub monitor: MonitorConfig,
    pub drift: DriftConfig,
    pub schedule: ScheduleConfig,
    pub keep_versions: u32,
    pub learn_on_close: bool,
}

/// `PolicyConfig` of schemas 2 and 3.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct PolicyConfigV2 {
    pub min_incremental: u32,
    pub min_retrain: u32,
    pub max_age_days: u32,
    pub accuracy_drop: f32,
    pub accuracy_window: u32,
    pub min_train_samples: u32,
}

/// `IncrementalConfig` of schemas 2 and 3 (the fine-tune of a copy of the champion).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct IncrementalConfigV2 {
    pub lr_scale: f32,
    pub epochs: u32,
    pub replay_per_new: u32,
    pub holdout: f32,
}

/// `RetrainConfig` of schemas 2 and 3.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct RetrainConfigV2 {
    pub max_epochs: u32,
    pub patience: u32,
    pub split: [u32; 3],
    pub max_samples: u32,
    pub divergence: f32,
}

/// `GateMetric` of schemas 2 and 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum GateMetricV2 {
    LogLoss,
    Accuracy,
}

/// `GateConfig` of schemas 2 and 3.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct GateConfigV2 {
    pub metric: GateMetricV2,
    pub margin: f32,
    pub min_samples: u32,
}

/// `AbConfig` of schemas 2 and 3.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct AbConfigV2 {
    pub enabled: bool,
    pub challenger_share: f32,
    pub alpha: f64,
    pub min_trades: u32,
    pub auto_promote: bool,
}

/// `GateCheck` of schemas 2 and 3: a candidate against the champion on held-out data.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct GateCheckV2 {
    pub metric: GateMetricV2,
    pub candidate: f32,
    pub champion: f32,
    pub samples: u32,
    pub passed: bool,
}

/// `PromotionReason` of schemas 2 and 3.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum PromotionReasonV2 {
    Gate(GateCheckV2),
    Manual,
    AbTest { p_value: f64 },
}

/// `AuditEvent` of schemas 2 and 3.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum AuditEventV2 {
    Created {
        version: u32,
        kind: VersionKind,
        parent: Option<u32>,
    },
    Promoted {
        version: u32,
        replaced: u32,
        reason: PromotionReasonV2,
    },
    Held {
        version: u32,
        gate: Option<GateCheckV2>,
        challenger: bool,
    },
    Rejected {
        kind: VersionKind,
        why: Rejection,
    },
    RolledBack {
        from: u32,
        to: u32,
    },
    ChallengerEnded {
        version: u32,
    },
    Retired {
        version: u32,
    },
}

/// `AuditEntry` of schemas 2 and 3.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct AuditEntryV2 {
    pub at: i64,
    pub event: AuditEventV2,
}

/// One arm of the schema-2 A/B test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ArmStatsV2 {
    pub version: u32,
    pub trades: u64,
    pub wins: u64,
    pub pnl: Moments,
}

/// The schema-2 A/B test (champion against challenger on routed trades).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct AbStateV2 {
    pub champion: ArmStatsV2,
    pub challenger: ArmStatsV2,
    pub started_at: i64,
}

// ---- live <-> schema 2 ----------------------------------------------------------------------

use crate::lifecycle::ab::{AbConfig, AbState, ArmStats};
use crate::lifecycle::policy::PolicyConfig;
use crate::lifecycle::registry::{
    AuditEntry, AuditEvent, GateCheck, GateConfig, GateMetric, PromotionReason,
};
use crate::lifecycle::{IncrementalConfig, LifecycleConfig, RetrainConfig};

impl From<GateMetric> for GateMetricV2 {
    fn from(m: GateMetric) -> Self {
        match m {
            GateMetric::LogLoss => GateMetricV2::LogLoss,
            GateMetric::Accuracy => GateMetricV2::Accuracy,
        }
    }
}

impl From<GateMetricV2> for GateMetric {
    fn from(m: GateMetricV2) -> Self {
        match m {
            GateMetricV2::LogLoss => GateMetric::LogLoss,
            GateMetricV2::Accuracy => GateMetric::Accuracy,
        }
    }
}

impl From<&LifecycleConfig> for LifecycleConfigV2 {
    fn from(c: &LifecycleConfig) -> Self {
        let (p, i, r, g, a) = (&c.policy, &c.incremental, &c.retrain, &c.gate, &c.ab);
        LifecycleConfigV2 {
            policy: PolicyConfigV2 {
                min_incremental: p.min_incremental,
                min_retrain: p.min_retrain,
                max_age_days: p.max_age_days,
                accuracy_drop: p.accuracy_drop,
                accuracy_window: p.accuracy_window,
                min_train_samples: p.min_train_samples,
            },
            incremental: IncrementalConfigV2 {
                lr_scale: i.lr_scale,
                epochs: i.epochs,
                replay_per_new: i.replay_per_new,
                holdout: i.holdout,
            },
            retrain: RetrainConfigV2 {
                max_epochs: r.max_epochs,
                patience: r.patience,
                split: r.split,
                max_samples: r.max_samples,
                divergence: r.divergence,
            },
            gate: GateConfigV2 {
                metric: g.metric.into(),
                margin: g.margin,
                min_samples: g.min_samples,
            },
            ab: AbConfigV2 {
                enabled: a.enabled,
                challenger_share: a.challenger_share,
                alpha: a.alpha,
                min_trades: a.min_trades,
                auto_promote: a.auto_promote,
            },
            monitor: c.monitor,
            drift: c.drift,
            schedule: c.schedule,
            keep_versions: c.keep_versions,
            learn_on_close: c.learn_on_close,
        }
    }
}

impl From<LifecycleConfigV2> for LifecycleConfig {
    fn from(c: LifecycleConfigV2) -> Self {
        let (p, i, r, g, a) = (c.policy, c.incremental, c.retrain, c.gate, c.ab);
        LifecycleConfig {
            policy: PolicyConfig {
                min_incremental: p.min_incremental,
                min_retrain: p.min_retrain,
                max_age_days: p.max_age_days,
                accuracy_drop: p.accuracy_drop,
                accuracy_window: p.accuracy_window,
                min_train_samples: p.min_train_samples,
            },
            incremental: IncrementalConfig {
                lr_scale: i.lr_scale,
                epochs: i.epochs,
                replay_per_new: i.replay_per_new,
                holdout: i.holdout,
            },
            retrain: RetrainConfig {
                max_epochs: r.max_epochs,
                patience: r.patience,
                split: r.split,
                max_samples: r.max_samples,
                divergence: r.divergence,
            },
            gate: GateConfig {
                metric: g.metric.into(),
                margin: g.margin,
                min_samples: g.min_samples,
            },
            ab: AbConfig {
                enabled: a.enabled,
                challenger_share: a.challenger_share,
                alpha: a.alpha,
                min_trades: a.min_trades,
                auto_promote: a.auto_promote,
            },
            monitor: c.monitor,
            drift: c.drift,
            schedule: c.schedule,
            keep_versions: c.keep_versions,
            learn_on_close: c.learn_on_close,
        }
    }
}

fn gate_to(g: GateCheck) -> GateCheckV2 {
    GateCheckV2 {
        metric: g.metric.into(),
        candidate: g.candidate,
        champion: g.champion,
        samples: g.samples,
        passed: g.passed,
    }
}

fn gate_from(g: GateCheckV2) -> GateCheck {
    GateCheck {
        metric: g.metric.into(),
        candidate: g.candidate,
        champion: g.champion,
        samples: g.samples,
        passed: g.passed,
    }
}

impl From<&AuditEntry> for AuditEntryV2 {
    fn from(e: &AuditEntry) -> Self {
        let event = match e.event {
            AuditEvent::Created {
                version,
                kind,
                parent,
            } => AuditEventV2::Created {
                version,
                kind,
                parent,
            },
            AuditEvent::Promoted {
                version,
                replaced,
                reason,
            } => AuditEventV2::Promoted {
                version,
                replaced,
                reason: match reason {
                    PromotionReason::Gate(g) => PromotionReasonV2::Gate(gate_to(g)),
                    PromotionReason::Manual => PromotionReasonV2::Manual,
                    PromotionReason::AbTest { p_value } => PromotionReasonV2::AbTest { p_value },
                },
            },
            AuditEvent::Held {
                version,
                gate,
                challenger,
            } => AuditEventV2::Held {
                version,
                gate: gate.map(gate_to),
                challenger,
            },
            AuditEvent::Rejected { kind, why } => AuditEventV2::Rejected { kind, why },
            AuditEvent::RolledBack { from, to } => AuditEventV2::RolledBack { from, to },
            AuditEvent::ChallengerEnded { version } => AuditEventV2::ChallengerEnded { version },
            AuditEvent::Retired { version } => AuditEventV2::Retired { version },
        };
        AuditEntryV2 { at: e.at, event }
    }
}

impl From<AuditEntryV2> for AuditEntry {
    fn from(e: AuditEntryV2) -> Self {
        let event = match e.event {
            AuditEventV2::Created {
                version,
                kind,
                parent,
            } => AuditEvent::Created {
                version,
                kind,
                parent,
            },
            AuditEventV2::Promoted {
                version,
                replaced,
                reason,
            } => AuditEvent::Promoted {
                version,
                replaced,
                reason: match reason {
                    PromotionReasonV2::Gate(g) => PromotionReason::Gate(gate_from(g)),
                    PromotionReasonV2::Manual => PromotionReason::Manual,
                    PromotionReasonV2::AbTest { p_value } => PromotionReason::AbTest { p_value },
                },
            },
            AuditEventV2::Held {
                version,
                gate,
                challenger,
            } => AuditEvent::Held {
                version,
                gate: gate.map(gate_from),
                challenger,
            },
            AuditEventV2::Rejected { kind, why } => AuditEvent::Rejected { kind, why },
            AuditEventV2::RolledBack { from, to } => AuditEvent::RolledBack { from, to },
            AuditEventV2::ChallengerEnded { version } => AuditEvent::ChallengerEnded { version },
            AuditEventV2::Retired { version } => AuditEvent::Retired { version },
        };
        AuditEntry { at: e.at, event }
    }
}

fn arm_to(a: &ArmStats) -> ArmStatsV2 {
    ArmStatsV2 {
        version: a.version,
        trades: a.trades,
        wins: a.wins,
        pnl: a.pnl,
    }
}

fn arm_from(a: ArmStatsV2) -> ArmStats {
    ArmStats {
        version: a.version,
        trades: a.trades,
        wins: a.wins,
        pnl: a.pnl,
    }
}

impl From<&AbState> for AbStateV2 {
    fn from(a: &AbState) -> Self {
        AbStateV2 {
            champion: arm_to(&a.champion),
            challenger: arm_to(&a.challenger),
            started_at: a.started_at,
        }
    }
}

impl From<AbStateV2> for AbState {
    fn from(a: AbStateV2) -> Self {
        AbState {
            champion: arm_from(a.champion),
            challenger: arm_from(a.challenger),
            started_at: a.started_at,
        }
    }
}
