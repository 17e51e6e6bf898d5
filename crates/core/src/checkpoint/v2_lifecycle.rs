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

// ---- schema 2 -> live -----------------------------------------------------------------------

use crate::lifecycle::LifecycleConfig;
use crate::lifecycle::registry::{AuditEntry, AuditEvent, PromotionReason};

impl LifecycleConfigV2 {
    /// The defaults of schemas 2 and 3 (what a schema-1 checkpoint was upgraded with).
    pub fn schema2_default() -> Self {
        LifecycleConfigV2 {
            policy: PolicyConfigV2 {
                min_incremental: 10,
                min_retrain: 50,
                max_age_days: 30,
                accuracy_drop: 0.10,
                accuracy_window: 50,
                min_train_samples: 30,
            },
            incremental: IncrementalConfigV2 {
                lr_scale: 0.1,
                epochs: 3,
                replay_per_new: 4,
                holdout: 0.2,
            },
            retrain: RetrainConfigV2 {
                max_epochs: 50,
                patience: 5,
                split: [5, 3, 2],
                max_samples: 0,
                divergence: 4.0,
            },
            gate: GateConfigV2 {
                metric: GateMetricV2::LogLoss,
                margin: 0.0,
                min_samples: 20,
            },
            ab: AbConfigV2 {
                enabled: true,
                challenger_share: 0.5,
                alpha: 0.05,
                min_trades: 30,
                auto_promote: false,
            },
            monitor: MonitorConfig::default(),
            drift: DriftConfig::default(),
            schedule: ScheduleConfig::default(),
            keep_versions: 5,
            learn_on_close: true,
        }
    }
}

/// The upgrade of a schema-2 lifecycle configuration. Monitoring, drift detection, the
/// schedule, retention and `learn_on_close` keep their values. The policy, the fine-tune,
/// the retrain, the gate and the A/B test worked differently (a fine-tune per ten samples, a
/// held-out gate reused across a lineage, A/B on by default): their settings do not carry a
/// meaning into schema 4, so they take schema 4's defaults (A/B routing off: turn it on
/// again by hand if wanted).
impl From<LifecycleConfigV2> for LifecycleConfig {
    fn from(c: LifecycleConfigV2) -> Self {
        LifecycleConfig {
            monitor: c.monitor,
            drift: c.drift,
            schedule: c.schedule,
            keep_versions: c.keep_versions,
            learn_on_close: c.learn_on_close,
            ..LifecycleConfig::default()
        }
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
                    PromotionReasonV2::Gate(g) => PromotionReason::HeldOut {
                        candidate: g.candidate,
                        champion: g.champion,
                        samples: g.samples,
                    },
                    PromotionReasonV2::Manual => PromotionReason::Manual,
                    PromotionReasonV2::AbTest { p_value } => PromotionReason::AbTest { p_value },
                },
            },
            AuditEventV2::Held { version, .. } => AuditEvent::Held {
                version,
                trial: None,
            },
            AuditEventV2::Rejected { kind, why } => AuditEvent::Rejected { kind, why },
            AuditEventV2::RolledBack { from, to } => AuditEvent::RolledBack { from, to },
            AuditEventV2::ChallengerEnded { version } => AuditEvent::ChallengerEnded { version },
            AuditEventV2::Retired { version } => AuditEvent::Retired { version },
        };
        AuditEntry { at: e.at, event }
    }
}
