//! Schema 4 (written now): the served mixture and its experts, the online network, trials,
//! and a retrain in progress.
//!
//! The journal, the replay buffer, the level and exit learners and the statistics are
//! stored as in schema 1 ([`super::v1`]), ranking as in schema 3 ([`super::v3`]). The
//! lifecycle is new, and so is its configuration: every lifecycle type is a frozen copy
//! here (`*V4`), except the plain-data detector and monitor types that schema 2 already
//! persisted unchanged (`Monitor`, `PageHinkley`, `PsiWindow`, `PsiReference`,
//! `InputGuard`, `ScheduleState`, their configurations, `Moments`, `Metrics`,
//! `DataRange`, `Rejection`), which the golden files of `tests/fixtures/v2` to `v4` pin.
//! postcard writes fields in order without names: never reorder or remove fields or
//! variants here; a change is a schema 5.
//!
//! Schemas 1 to 3 are read through their own modules and upgraded on load
//! ([`super::v2_lifecycle`] says what the upgrade keeps).

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use super::arrays::Le;
use super::v1::*;
use super::v2::{
    Base, PredictorV2, SignalConfigV2, assemble, exit_config_from, level_config_from, metrics_ok,
    predictor_from, reference_from, signal_config_from,
};
use super::v3::{RankingV3, ranking_into};
use crate::config::EngineConfig;
use crate::engine::Engine;
use crate::journal::JournalConfig;
use crate::learners::signal::{Data, Metrics, Predictor, Rejection, RunLog, RunSettings};
use crate::learners::training::{Phase, Training};
use crate::learners::{LinearLearner, OnlineConfig, OnlineLearner, SignalNet};
use crate::lifecycle::ab::{AbArms, AbConfig, ArmStats};
use crate::lifecycle::drift::{InputGuard, PageHinkley, PsiReference, PsiWindow};
use crate::lifecycle::experts::Experts;
use crate::lifecycle::mixture::{Awaiting, EXPERTS, Mixture, MixtureConfig, Pending, Scores};
use crate::lifecycle::monitor::{Monitor, MonitorConfig};
use crate::lifecycle::policy::{PolicyConfig, Reason};
use crate::lifecycle::registry::{
    AuditEntry, AuditEvent, DataRange, PromotionReason, Registry, Version, VersionKind,
};
use crate::lifecycle::schedule::{ScheduleConfig, ScheduleState};
use crate::lifecycle::stats::Moments;
use crate::lifecycle::trial::{GateConfig, Trial, TrialResult};
use crate::lifecycle::{DriftConfig, Lifecycle, LifecycleConfig, Retrain, RetrainConfig};
use crate::replay::{ReplayBuffer, ReplayConfig};
use crate::rng::SplitMix64;

/// This module's schema number.
pub const SCHEMA: u16 = 4;

/// A whole engine.
///
/// As a TypeScript `CheckpointDocument` (what `inspectCheckpoint` returns, the document
/// `tradeloop inspect FILE` prints): one field per part of the engine, the parts beyond the
/// statistics and the ranked trades left opaque. Large arrays are lists of numbers; RNG
/// states above 2^53 are bigints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "CheckpointDocument"))]
#[allow(missing_docs)]
pub struct EngineV4<'a> {
    /// The engine configuration, in the checkpoint's own (flattened) layout.
    #[cfg_attr(feature = "ts", ts(type = "{ [field: string]: unknown }"))]
    pub config: ConfigV4,
    /// The engine's RNG state.
    #[cfg_attr(feature = "ts", ts(type = "number | bigint"))]
    pub rng: u64,
    /// Open and kept closed trades.
    #[cfg_attr(feature = "ts", ts(type = "{ [field: string]: unknown }"))]
    pub journal: JournalV1<'a>,
    /// The replay buffer, column by column.
    #[cfg_attr(feature = "ts", ts(type = "{ [field: string]: unknown }"))]
    pub replay: ReplayV1<'a>,
    /// The lifecycle: versions, trial, retrain in progress, online network, experts,
    /// mixture, monitor, drift detectors, schedule.
    #[cfg_attr(feature = "ts", ts(type = "{ [field: string]: unknown }"))]
    pub lifecycle: LifecycleV4<'a>,
    /// The level-weight learner.
    #[cfg_attr(feature = "ts", ts(type = "{ [field: string]: unknown }"))]
    pub levels: LevelsV1,
    /// The exit learner.
    #[cfg_attr(feature = "ts", ts(type = "{ [field: string]: unknown }"))]
    pub exits: ExitsV1<'a>,
    /// Totals over closed trades.
    #[cfg_attr(feature = "ts", ts(as = "crate::stats::TradeStats"))]
    pub stats: StatsV1,
    /// The ranking state: `(trade id, how it was picked)` for every kept trade a ranker
    /// picked, and the ranking monitor.
    #[cfg_attr(
        feature = "ts",
        ts(type = "{ trades: Array<[number, RankedBy]>, monitor: { [field: string]: unknown } }")
    )]
    pub ranking: RankingV3<'a>,
}

/// [`EngineConfig`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ConfigV4 {
    pub features: u32,
    pub flat_band: f64,
    pub max_closed: u32,
    pub max_open: u32,
    pub replay_capacity: u32,
    pub replay_mode: ReplayModeV1,
    pub signal: SignalConfigV2,
    pub lifecycle: LifecycleConfigV4,
    pub levels: LevelConfigV1,
    pub exits: ExitConfigV1,
}

/// [`LifecycleConfig`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct LifecycleConfigV4 {
    pub policy: PolicyConfigV4,
    pub online: OnlineConfigV4,
    pub retrain: RetrainConfigV4,
    pub gate: GateConfigV4,
    pub mixture: MixtureConfigV4,
    pub ab: AbConfigV4,
    pub monitor: MonitorConfig,
    pub drift: DriftConfig,
    pub schedule: ScheduleConfig,
    pub keep_versions: u32,
    pub learn_on_close: bool,
}

/// [`PolicyConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct PolicyConfigV4 {
    pub snapshot_every: u32,
    pub retrain_every: u32,
    pub drift_cooldown: u32,
    pub min_train_samples: u32,
}

/// [`OnlineConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct OnlineConfigV4 {
    pub lr: f32,
    pub lr_decay: u32,
    pub replay: u32,
    pub steps: u32,
}

/// [`RetrainConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct RetrainConfigV4 {
    pub max_epochs: u32,
    pub patience: u32,
    pub split: [u32; 3],
    pub max_samples: u32,
    pub embargo: u32,
    pub divergence: f32,
    pub rows_per_call: u32,
}

/// [`GateConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct GateConfigV4 {
    pub trial: u32,
    pub embargo: u32,
    pub block: u32,
    pub alpha: f64,
}

/// [`MixtureConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct MixtureConfigV4 {
    pub prior_weight: f64,
    pub share: f64,
    pub pool: f32,
    pub recent_half_life: u32,
    pub linear_lr: f32,
    pub max_pending: u32,
}

/// [`AbConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct AbConfigV4 {
    pub enabled: bool,
    pub challenger_share: f32,
    pub alpha: f64,
    pub min_trades: u32,
}

/// [`VersionKind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum VersionKindV4 {
    Initial,
    Incremental,
    Retrain,
    Imported,
    Online,
}

/// [`TrialResult`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct TrialResultV4 {
    pub champion: u32,
    pub rows: u32,
    pub candidate_log_loss: f64,
    pub champion_log_loss: f64,
    pub candidate_accuracy: f64,
    pub champion_accuracy: f64,
    pub difference: f64,
    pub std_error: f64,
    pub p_value: f64,
    pub trades: Option<[u64; 2]>,
    pub pnl_difference: Option<f64>,
    pub pnl_p_value: Option<f64>,
    pub passed: bool,
}

/// [`PromotionReason`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum PromotionReasonV4 {
    Trial(TrialResultV4),
    Manual,
    HeldOut {
        candidate: f32,
        champion: f32,
        samples: u32,
    },
    AbTest {
        p_value: f64,
    },
}

/// [`AuditEvent`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum AuditEventV4 {
    Created {
        version: u32,
        kind: VersionKindV4,
        parent: Option<u32>,
    },
    Promoted {
        version: u32,
        replaced: u32,
        reason: PromotionReasonV4,
    },
    TrialStarted {
        version: u32,
        champion: u32,
    },
    Held {
        version: u32,
        trial: Option<TrialResultV4>,
    },
    Rejected {
        kind: VersionKindV4,
        why: Rejection,
    },
    RolledBack {
        from: u32,
        to: u32,
    },
    Retired {
        version: u32,
    },
    ChallengerEnded {
        version: u32,
    },
}

/// [`AuditEntry`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct AuditEntryV4 {
    pub at: i64,
    pub event: AuditEventV4,
}

/// A [`Version`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct VersionV4<'a> {
    pub id: u32,
    pub parent: Option<u32>,
    pub kind: VersionKindV4,
    pub created_at: i64,
    pub data: Option<DataRange>,
    pub validation: Option<Metrics>,
    pub test: Option<Metrics>,
    pub trained_through: u64,
    pub trial: Option<TrialResultV4>,
    pub predictor: PredictorV2<'a>,
    pub reference: Option<Cow<'a, PsiReference>>,
}

/// One A/B arm ([`ArmStats`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ArmStatsV4 {
    pub version: u32,
    pub trades: u64,
    pub wins: u64,
    pub pnl: Moments,
    pub log_loss: f64,
}

/// A [`Trial`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct TrialV4 {
    pub candidate: u32,
    pub champion: u32,
    pub started_at: i64,
    pub skip: u32,
    pub rows: u32,
    pub candidate_loss: f64,
    pub champion_loss: f64,
    pub candidate_correct: u32,
    pub champion_correct: u32,
    pub block_rows: u32,
    pub block_sum: f64,
    pub blocks: Moments,
    pub ab: Option<[ArmStatsV4; 2]>,
}

/// The [`crate::learners::LinearLearner`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct LinearV4<'a> {
    pub norm: NormV1<'a>,
    pub weights: Le<'a, f64>,
    pub sq_grads: Le<'a, f64>,
    pub seen: u64,
}

/// The priors and the linear learner ([`Experts`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ExpertsV4<'a> {
    pub counts: [u64; 3],
    pub recent: [f64; 3],
    pub linear: LinearV4<'a>,
}

/// The [`crate::learners::OnlineLearner`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct OnlineV4<'a> {
    pub net: NetV1<'a>,
    pub norm: NormV1<'a>,
    pub opt: OptimStateV1<'a>,
    pub seen: u64,
}

/// What a pending forecast waits for ([`Awaiting`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum AwaitingV4 {
    Trade(u64),
    Forecast { id: u64, key: u64 },
}

/// A [`Pending`] forecast.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct PendingV4 {
    pub awaiting: AwaitingV4,
    pub copy: u32,
    pub probs: [[f32; 3]; EXPERTS],
}

/// The mixture's [`Scores`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ScoresV4 {
    pub rows: u64,
    pub mixture: f64,
    pub experts: [f64; EXPERTS],
    pub mixture_correct: u64,
    pub experts_correct: [u64; EXPERTS],
}

/// The [`Mixture`]: each copy's weights, copy after copy (`EXPERTS` values each).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct MixtureV4<'a> {
    pub copies: Le<'a, f64>,
    pub pending: Vec<PendingV4>,
    pub next_forecast: u64,
    pub dropped: u64,
    pub scores: ScoresV4,
}

/// Why a retrain started ([`Reason`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum ReasonV4 {
    Forced,
    Paused,
    Drift,
    NewSamples { new: u32 },
    TooFewSamples { have: u32, need: u32 },
    NothingNew { new: u32, need: u32 },
    TrialRunning { version: u32 },
    RetrainRunning,
}

/// Labelled rows ([`Data`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct DataV4<'a> {
    pub dim: u32,
    pub x: Le<'a, f32>,
    pub y: Le<'a, u8>,
    pub times: Le<'a, i64>,
}

/// [`RunSettings`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct RunSettingsV4 {
    pub optimizer: OptimV1,
    pub batch: u32,
    pub epochs: u32,
    pub patience: u32,
    pub divergence: f32,
}

/// [`RunLog`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct RunLogV4 {
    pub epochs: u32,
    pub best_epoch: u32,
    pub train_loss: Vec<f32>,
    pub validation_loss: Vec<f32>,
    pub stopped_early: bool,
}

/// [`Phase`] of a training run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum PhaseV4 {
    Start,
    Epoch,
    Done,
}

/// A [`Retrain`] in progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct RetrainV4<'a> {
    pub settings: RunSettingsV4,
    pub train: DataV4<'a>,
    pub validation: DataV4<'a>,
    pub test: DataV4<'a>,
    pub net: NetV1<'a>,
    pub norm: NormV1<'a>,
    pub temperature: f32,
    pub opt: OptimStateV1<'a>,
    pub rng: u64,
    pub phase: PhaseV4,
    pub epoch: u32,
    pub order: Le<'a, u32>,
    pub pos: u32,
    pub epoch_loss: f64,
    pub limit: f32,
    pub best: Option<(f32, Le<'a, f32>)>,
    pub since_best: u32,
    pub log: RunLogV4,
    pub range: DataRange,
    pub trained_through: u64,
    pub reason: ReasonV4,
    pub started_at: i64,
}

/// The [`Lifecycle`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct LifecycleV4<'a> {
    pub versions: Vec<VersionV4<'a>>,
    pub champion: u32,
    pub challenger: Option<u32>,
    pub next_id: u32,
    pub audit: Vec<AuditEntryV4>,
    pub trial: Option<TrialV4>,
    pub experts: ExpertsV4<'a>,
    pub online: OnlineV4<'a>,
    pub mixture: MixtureV4<'a>,
    pub retrain: Option<RetrainV4<'a>>,
    pub monitor: Cow<'a, Monitor>,
    pub page_hinkley: PageHinkley,
    pub psi: Option<Cow<'a, PsiWindow>>,
    pub guard: Cow<'a, InputGuard>,
    pub schedule: ScheduleState,
    pub drift: bool,
    pub last_update: Option<i64>,
    pub labels: u64,
    pub snapshot_at: u64,
    pub retrain_at: u64,
    pub drift_retrain_at: Option<u64>,
    pub best: Option<u32>,
}

// ---- small conversions ----------------------------------------------------------------------

impl From<VersionKind> for VersionKindV4 {
    fn from(k: VersionKind) -> Self {
        match k {
            VersionKind::Initial => VersionKindV4::Initial,
            VersionKind::Incremental => VersionKindV4::Incremental,
            VersionKind::Retrain => VersionKindV4::Retrain,
            VersionKind::Imported => VersionKindV4::Imported,
            VersionKind::Online => VersionKindV4::Online,
        }
    }
}

impl From<VersionKindV4> for VersionKind {
    fn from(k: VersionKindV4) -> Self {
        match k {
            VersionKindV4::Initial => VersionKind::Initial,
            VersionKindV4::Incremental => VersionKind::Incremental,
            VersionKindV4::Retrain => VersionKind::Retrain,
            VersionKindV4::Imported => VersionKind::Imported,
            VersionKindV4::Online => VersionKind::Online,
        }
    }
}

impl From<TrialResult> for TrialResultV4 {
    fn from(t: TrialResult) -> Self {
        TrialResultV4 {
            champion: t.champion,
            rows: t.rows,
            candidate_log_loss: t.candidate_log_loss,
            champion_log_loss: t.champion_log_loss,
            candidate_accuracy: t.candidate_accuracy,
            champion_accuracy: t.champion_accuracy,
            difference: t.difference,
            std_error: t.std_error,
            p_value: t.p_value,
            trades: t.trades,
            pnl_difference: t.pnl_difference,
            pnl_p_value: t.pnl_p_value,
            passed: t.passed,
        }
    }
}

impl From<TrialResultV4> for TrialResult {
    fn from(t: TrialResultV4) -> Self {
        TrialResult {
            champion: t.champion,
            rows: t.rows,
            candidate_log_loss: t.candidate_log_loss,
            champion_log_loss: t.champion_log_loss,
            candidate_accuracy: t.candidate_accuracy,
            champion_accuracy: t.champion_accuracy,
            difference: t.difference,
            std_error: t.std_error,
            p_value: t.p_value,
            trades: t.trades,
            pnl_difference: t.pnl_difference,
            pnl_p_value: t.pnl_p_value,
            passed: t.passed,
        }
    }
}

impl From<PromotionReason> for PromotionReasonV4 {
    fn from(r: PromotionReason) -> Self {
        match r {
            PromotionReason::Trial(t) => PromotionReasonV4::Trial((*t).into()),
            PromotionReason::Manual => PromotionReasonV4::Manual,
            PromotionReason::HeldOut {
                candidate,
                champion,
                samples,
            } => PromotionReasonV4::HeldOut {
                candidate,
                champion,
                samples,
            },
            PromotionReason::AbTest { p_value } => PromotionReasonV4::AbTest { p_value },
        }
    }
}

impl From<PromotionReasonV4> for PromotionReason {
    fn from(r: PromotionReasonV4) -> Self {
        match r {
            PromotionReasonV4::Trial(t) => PromotionReason::Trial(Box::new(t.into())),
            PromotionReasonV4::Manual => PromotionReason::Manual,
            PromotionReasonV4::HeldOut {
                candidate,
                champion,
                samples,
            } => PromotionReason::HeldOut {
                candidate,
                champion,
                samples,
            },
            PromotionReasonV4::AbTest { p_value } => PromotionReason::AbTest { p_value },
        }
    }
}

impl From<&AuditEntry> for AuditEntryV4 {
    fn from(e: &AuditEntry) -> Self {
        let event = match e.event.clone() {
            AuditEvent::Created {
                version,
                kind,
                parent,
            } => AuditEventV4::Created {
                version,
                kind: kind.into(),
                parent,
            },
            AuditEvent::Promoted {
                version,
                replaced,
                reason,
            } => AuditEventV4::Promoted {
                version,
                replaced,
                reason: reason.into(),
            },
            AuditEvent::TrialStarted { version, champion } => {
                AuditEventV4::TrialStarted { version, champion }
            }
            AuditEvent::Held { version, trial } => AuditEventV4::Held {
                version,
                trial: trial.map(|t| (*t).into()),
            },
            AuditEvent::Rejected { kind, why } => AuditEventV4::Rejected {
                kind: kind.into(),
                why,
            },
            AuditEvent::RolledBack { from, to } => AuditEventV4::RolledBack { from, to },
            AuditEvent::Retired { version } => AuditEventV4::Retired { version },
            AuditEvent::ChallengerEnded { version } => AuditEventV4::ChallengerEnded { version },
        };
        AuditEntryV4 { at: e.at, event }
    }
}

impl From<AuditEntryV4> for AuditEntry {
    fn from(e: AuditEntryV4) -> Self {
        let event = match e.event {
            AuditEventV4::Created {
                version,
                kind,
                parent,
            } => AuditEvent::Created {
                version,
                kind: kind.into(),
                parent,
            },
            AuditEventV4::Promoted {
                version,
                replaced,
                reason,
            } => AuditEvent::Promoted {
                version,
                replaced,
                reason: reason.into(),
            },
            AuditEventV4::TrialStarted { version, champion } => {
                AuditEvent::TrialStarted { version, champion }
            }
            AuditEventV4::Held { version, trial } => AuditEvent::Held {
                version,
                trial: trial.map(|t| Box::new(t.into())),
            },
            AuditEventV4::Rejected { kind, why } => AuditEvent::Rejected {
                kind: kind.into(),
                why,
            },
            AuditEventV4::RolledBack { from, to } => AuditEvent::RolledBack { from, to },
            AuditEventV4::Retired { version } => AuditEvent::Retired { version },
            AuditEventV4::ChallengerEnded { version } => AuditEvent::ChallengerEnded { version },
        };
        AuditEntry { at: e.at, event }
    }
}

impl From<Reason> for ReasonV4 {
    fn from(r: Reason) -> Self {
        match r {
            Reason::Forced => ReasonV4::Forced,
            Reason::Paused => ReasonV4::Paused,
            Reason::Drift => ReasonV4::Drift,
            Reason::NewSamples { new } => ReasonV4::NewSamples { new },
            Reason::TooFewSamples { have, need } => ReasonV4::TooFewSamples { have, need },
            Reason::NothingNew { new, need } => ReasonV4::NothingNew { new, need },
            Reason::TrialRunning { version } => ReasonV4::TrialRunning { version },
            Reason::RetrainRunning => ReasonV4::RetrainRunning,
        }
    }
}

impl From<ReasonV4> for Reason {
    fn from(r: ReasonV4) -> Self {
        match r {
            ReasonV4::Forced => Reason::Forced,
            ReasonV4::Paused => Reason::Paused,
            ReasonV4::Drift => Reason::Drift,
            ReasonV4::NewSamples { new } => Reason::NewSamples { new },
            ReasonV4::TooFewSamples { have, need } => Reason::TooFewSamples { have, need },
            ReasonV4::NothingNew { new, need } => Reason::NothingNew { new, need },
            ReasonV4::TrialRunning { version } => Reason::TrialRunning { version },
            ReasonV4::RetrainRunning => Reason::RetrainRunning,
        }
    }
}

fn arm_to(a: &ArmStats) -> ArmStatsV4 {
    ArmStatsV4 {
        version: a.version,
        trades: a.trades,
        wins: a.wins,
        pnl: a.pnl,
        log_loss: a.log_loss,
    }
}

fn arm_from(a: ArmStatsV4) -> ArmStats {
    ArmStats {
        version: a.version,
        trades: a.trades,
        wins: a.wins,
        pnl: a.pnl,
        log_loss: a.log_loss,
    }
}

fn data_to(d: &Data) -> DataV4<'_> {
    DataV4 {
        dim: d.dim as u32,
        x: Le::borrowed(&d.x),
        y: Le::borrowed(&d.y),
        times: Le::borrowed(&d.times),
    }
}

fn data_from(d: DataV4<'_>, dim: usize) -> Res<Data> {
    let data = Data {
        x: d.x.into_vec(),
        y: d.y.into_vec(),
        times: d.times.into_vec(),
        dim: d.dim as usize,
    };
    let ok = data.dim == dim
        && data.x.len() == data.y.len() * dim
        && data.times.len() == data.y.len()
        && data.x.iter().all(|x| x.is_finite())
        && data.y.iter().all(|&c| c < 3);
    if ok {
        Ok(data)
    } else {
        Err("training data is inconsistent")
    }
}

fn predictor_to(p: &Predictor) -> PredictorV2<'_> {
    match p {
        Predictor::Prior(p) => PredictorV2::Prior(*p),
        Predictor::Net(n) => PredictorV2::Net {
            net: net_to(&n.mlp),
            norm: norm_to(&n.norm),
            temperature: n.temperature,
        },
    }
}

// ---- configuration --------------------------------------------------------------------------

pub(crate) fn config_to(c: &EngineConfig) -> ConfigV4 {
    let x = &c.exits;
    let l = &c.lifecycle;
    ConfigV4 {
        features: c.features,
        flat_band: c.flat_band,
        max_closed: c.journal.max_closed,
        max_open: c.journal.max_open,
        replay_capacity: c.replay.capacity,
        replay_mode: c.replay.mode.into(),
        signal: SignalConfigV2 {
            hidden: c.signal.hidden.clone(),
            activation: c.signal.activation.into(),
            optimizer: optim_to(&c.signal.optimizer),
            batch: c.signal.batch,
        },
        lifecycle: LifecycleConfigV4 {
            policy: PolicyConfigV4 {
                snapshot_every: l.policy.snapshot_every,
                retrain_every: l.policy.retrain_every,
                drift_cooldown: l.policy.drift_cooldown,
                min_train_samples: l.policy.min_train_samples,
            },
            online: OnlineConfigV4 {
                lr: l.online.lr,
                lr_decay: l.online.lr_decay,
                replay: l.online.replay,
                steps: l.online.steps,
            },
            retrain: RetrainConfigV4 {
                max_epochs: l.retrain.max_epochs,
                patience: l.retrain.patience,
                split: l.retrain.split,
                max_samples: l.retrain.max_samples,
                embargo: l.retrain.embargo,
                divergence: l.retrain.divergence,
                rows_per_call: l.retrain.rows_per_call,
            },
            gate: GateConfigV4 {
                trial: l.gate.trial,
                embargo: l.gate.embargo,
                block: l.gate.block,
                alpha: l.gate.alpha,
            },
            mixture: MixtureConfigV4 {
                prior_weight: l.mixture.prior_weight,
                share: l.mixture.share,
                pool: l.mixture.pool,
                recent_half_life: l.mixture.recent_half_life,
                linear_lr: l.mixture.linear_lr,
                max_pending: l.mixture.max_pending,
            },
            ab: AbConfigV4 {
                enabled: l.ab.enabled,
                challenger_share: l.ab.challenger_share,
                alpha: l.ab.alpha,
                min_trades: l.ab.min_trades,
            },
            monitor: l.monitor,
            drift: l.drift,
            schedule: l.schedule,
            keep_versions: l.keep_versions,
            learn_on_close: l.learn_on_close,
        },
        levels: LevelConfigV1 {
            first_after: c.levels.first_after,
            every: c.levels.every,
            window: c.levels.window,
            rate: c.levels.rate,
            min_weight: c.levels.min_weight,
        },
        exits: ExitConfigV1 {
            hidden: x.hidden.clone(),
            optimizer: optim_to(&x.optimizer),
            stop_bounds: x.stop_bounds,
            target_bounds: x.target_bounds,
            epsilon: x.epsilon,
            epsilon_min: x.epsilon_min,
            epsilon_decay: x.epsilon_decay,
            curiosity: x.curiosity,
            temperature: x.temperature,
            train_every: x.train_every,
            window: x.window,
            epochs: x.epochs,
            batch: x.batch,
            validation_fraction: x.validation_fraction,
            mode: x.mode.into(),
        },
    }
}

pub(crate) fn config_from(c: ConfigV4) -> EngineConfig {
    let l = c.lifecycle;
    EngineConfig {
        features: c.features,
        flat_band: c.flat_band,
        journal: JournalConfig {
            max_closed: c.max_closed,
            max_open: c.max_open,
        },
        replay: ReplayConfig {
            capacity: c.replay_capacity,
            mode: c.replay_mode.into(),
        },
        signal: signal_config_from(c.signal),
        lifecycle: LifecycleConfig {
            policy: PolicyConfig {
                snapshot_every: l.policy.snapshot_every,
                retrain_every: l.policy.retrain_every,
                drift_cooldown: l.policy.drift_cooldown,
                min_train_samples: l.policy.min_train_samples,
            },
            online: OnlineConfig {
                lr: l.online.lr,
                lr_decay: l.online.lr_decay,
                replay: l.online.replay,
                steps: l.online.steps,
            },
            retrain: RetrainConfig {
                max_epochs: l.retrain.max_epochs,
                patience: l.retrain.patience,
                split: l.retrain.split,
                max_samples: l.retrain.max_samples,
                embargo: l.retrain.embargo,
                divergence: l.retrain.divergence,
                rows_per_call: l.retrain.rows_per_call,
            },
            gate: GateConfig {
                trial: l.gate.trial,
                embargo: l.gate.embargo,
                block: l.gate.block,
                alpha: l.gate.alpha,
            },
            mixture: MixtureConfig {
                prior_weight: l.mixture.prior_weight,
                share: l.mixture.share,
                pool: l.mixture.pool,
                recent_half_life: l.mixture.recent_half_life,
                linear_lr: l.mixture.linear_lr,
                max_pending: l.mixture.max_pending,
            },
            ab: AbConfig {
                enabled: l.ab.enabled,
                challenger_share: l.ab.challenger_share,
                alpha: l.ab.alpha,
                min_trades: l.ab.min_trades,
            },
            monitor: l.monitor,
            drift: l.drift,
            schedule: l.schedule,
            keep_versions: l.keep_versions,
            learn_on_close: l.learn_on_close,
        },
        levels: level_config_from(c.levels),
        exits: exit_config_from(c.exits),
    }
}

// ---- engine -> DTO --------------------------------------------------------------------------

impl<'a> EngineV4<'a> {
    /// The persisted form of `e`, borrowing its arrays.
    pub fn from_engine(e: &'a Engine) -> Self {
        let s = &e.stats;
        let mut ranked = e
            .journal
            .open_trades()
            .chain(e.journal.closed_trades())
            .filter_map(|t| Some((t.id, Cow::Borrowed(t.ranked.as_ref()?))))
            .collect::<Vec<_>>();
        ranked.sort_by_key(|t| t.0);
        EngineV4 {
            config: config_to(&e.config),
            rng: e.rng.state(),
            journal: JournalV1 {
                next_id: e.journal.next_id(),
                open: e.journal.open_trades().map(trade_to).collect(),
                closed: e.journal.closed_trades().map(trade_to).collect(),
            },
            replay: replay_to(&e.replay),
            lifecycle: lifecycle_to(&e.lifecycle),
            levels: LevelsV1 {
                weights: e.levels.weights,
                window: e.levels.window.iter().copied().collect(),
                seen: e.levels.seen,
                history: e.levels.history.iter().map(adjustment_to).collect(),
            },
            exits: ExitsV1 {
                net: net_to(&e.exits.mlp),
                opt: opt_to(&e.exits.opt),
                norm: norm_to(&e.exits.norm),
                best: e.exits.best.as_ref().map(|(m, l)| (net_to(m), *l)),
                epsilon: e.exits.epsilon,
                mode: e.exits.mode.into(),
                since_training: e.exits.since_training,
                trainings: e.exits.trainings,
                explorations: e.exits.explorations,
                suggestions: e.exits.suggestions,
                last: e.exits.last.map(report_to),
            },
            stats: StatsV1 {
                closed: s.closed,
                outcomes: s.outcomes,
                correct: s.correct,
                pnl: s.pnl,
                mean_pnl_pct: s.mean_pnl_pct,
                m2_pnl_pct: s.m2_pnl_pct,
                equity_pct: s.equity_pct,
                peak_pct: s.peak_pct,
                max_drawdown_pct: s.max_drawdown_pct,
            },
            ranking: RankingV3 {
                trades: ranked,
                monitor: Cow::Borrowed(&e.ranking),
            },
        }
    }
}

fn lifecycle_to(l: &Lifecycle) -> LifecycleV4<'_> {
    let r = &l.registry;
    LifecycleV4 {
        versions: r
            .versions
            .iter()
            .map(|v| VersionV4 {
                id: v.id,
                parent: v.parent,
                kind: v.kind.into(),
                created_at: v.created_at,
                data: v.data,
                validation: v.validation,
                test: v.test,
                trained_through: v.trained_through,
                trial: v.trial.map(Into::into),
                predictor: predictor_to(&v.predictor),
                reference: v.reference.as_ref().map(Cow::Borrowed),
            })
            .collect(),
        champion: r.champion,
        challenger: r.challenger,
        next_id: r.next_id,
        audit: r.audit.iter().map(AuditEntryV4::from).collect(),
        trial: l.trial.as_ref().map(|t| TrialV4 {
            candidate: t.candidate,
            champion: t.champion,
            started_at: t.started_at,
            skip: t.skip,
            rows: t.rows,
            candidate_loss: t.candidate_loss,
            champion_loss: t.champion_loss,
            candidate_correct: t.candidate_correct,
            champion_correct: t.champion_correct,
            block_rows: t.block_rows,
            block_sum: t.block_sum,
            blocks: t.blocks,
            ab: t
                .ab
                .as_ref()
                .map(|a| [arm_to(&a.champion), arm_to(&a.challenger)]),
        }),
        experts: ExpertsV4 {
            counts: l.experts.counts,
            recent: l.experts.recent,
            linear: LinearV4 {
                norm: norm_to(&l.experts.linear.norm),
                weights: Le::borrowed(&l.experts.linear.weights),
                sq_grads: Le::borrowed(&l.experts.linear.sq_grads),
                seen: l.experts.linear.seen,
            },
        },
        online: OnlineV4 {
            net: net_to(&l.online.net.mlp),
            norm: norm_to(&l.online.net.norm),
            opt: opt_to(&l.online.opt),
            seen: l.online.seen,
        },
        mixture: MixtureV4 {
            copies: Le(Cow::Owned(
                l.mixture.copies.iter().flatten().copied().collect(),
            )),
            pending: l
                .mixture
                .pending
                .iter()
                .map(|p| PendingV4 {
                    awaiting: match p.awaiting {
                        Awaiting::Trade(id) => AwaitingV4::Trade(id),
                        Awaiting::Forecast { id, key } => AwaitingV4::Forecast { id, key },
                    },
                    copy: p.copy,
                    probs: p.probs,
                })
                .collect(),
            next_forecast: l.mixture.next_forecast,
            dropped: l.mixture.dropped,
            scores: {
                let s = &l.mixture.scores;
                ScoresV4 {
                    rows: s.rows,
                    mixture: s.mixture,
                    experts: s.experts,
                    mixture_correct: s.mixture_correct,
                    experts_correct: s.experts_correct,
                }
            },
        },
        retrain: l.retrain.as_ref().map(retrain_to),
        monitor: Cow::Borrowed(&l.monitor),
        page_hinkley: l.page_hinkley,
        psi: l.psi.as_ref().map(Cow::Borrowed),
        guard: Cow::Borrowed(&l.guard),
        schedule: l.schedule,
        drift: l.drift,
        last_update: l.last_update,
        labels: l.labels,
        snapshot_at: l.snapshot_at,
        retrain_at: l.retrain_at,
        drift_retrain_at: l.drift_retrain_at,
        best: l.best,
    }
}

fn retrain_to(r: &Retrain) -> RetrainV4<'_> {
    let t = &r.run;
    RetrainV4 {
        settings: RunSettingsV4 {
            optimizer: optim_to(&t.settings.optimizer),
            batch: t.settings.batch,
            epochs: t.settings.epochs,
            patience: t.settings.patience,
            divergence: t.settings.divergence,
        },
        train: data_to(&t.train),
        validation: data_to(&t.validation),
        test: data_to(&r.test),
        net: net_to(&t.net.mlp),
        norm: norm_to(&t.net.norm),
        temperature: t.net.temperature,
        opt: opt_to(&t.opt),
        rng: t.rng.state(),
        phase: match t.phase {
            Phase::Start => PhaseV4::Start,
            Phase::Epoch => PhaseV4::Epoch,
            Phase::Done => PhaseV4::Done,
        },
        epoch: t.epoch,
        order: Le::borrowed(&t.order),
        pos: t.pos,
        epoch_loss: t.epoch_loss,
        limit: t.limit,
        best: t
            .best
            .as_ref()
            .map(|(l, p)| (*l, Le::borrowed(p.as_slice()))),
        since_best: t.since_best,
        log: RunLogV4 {
            epochs: t.log.epochs,
            best_epoch: t.log.best_epoch,
            train_loss: t.log.train_loss.clone(),
            validation_loss: t.log.validation_loss.clone(),
            stopped_early: t.log.stopped_early,
        },
        range: r.range,
        trained_through: r.trained_through,
        reason: r.reason.into(),
        started_at: r.started_at,
    }
}

// ---- DTO -> engine (validating) -------------------------------------------------------------

impl EngineV4<'_> {
    /// Rebuilds the engine, checking every invariant an engine relies on.
    pub fn into_engine(self) -> Res<Engine> {
        let l = self.lifecycle;
        let base = Base {
            config: config_from(self.config),
            rng: self.rng,
            journal: self.journal,
            replay: self.replay,
            levels: self.levels,
            exits: self.exits,
            stats: self.stats,
        };
        let mut e = assemble(base, |config, replay, _| lifecycle_from(l, config, replay))?;
        let open = |id: u64| e.journal.open_trades().any(|t| t.id == id);
        if e.lifecycle.mixture.pending().any(|p| match p.awaiting {
            Awaiting::Trade(id) => !open(id),
            Awaiting::Forecast { .. } => false,
        }) {
            return Err("a pending forecast waits for a trade that is not open");
        }
        ranking_into(self.ranking, &mut e)?;
        Ok(e)
    }
}

fn lifecycle_from(
    l: LifecycleV4<'_>,
    config: &EngineConfig,
    replay: &ReplayBuffer,
) -> Res<Lifecycle> {
    let dim = config.features as usize;
    let lc = &config.lifecycle;
    let versions = l
        .versions
        .into_iter()
        .map(|v| {
            if !metrics_ok(&v.validation) || !metrics_ok(&v.test) {
                return Err("version metrics out of range");
            }
            if v.trained_through > replay.pushed() {
                return Err("a version learned more samples than were ever pushed");
            }
            Ok(Version {
                id: v.id,
                parent: v.parent,
                kind: v.kind.into(),
                created_at: v.created_at,
                data: v.data,
                validation: v.validation,
                test: v.test,
                trained_through: v.trained_through,
                trial: v.trial.map(Into::into),
                predictor: predictor_from(v.predictor, config)?,
                reference: reference_from(v.reference, config)?,
            })
        })
        .collect::<Res<Vec<_>>>()?;
    if l.audit.len() > Registry::MAX_AUDIT {
        return Err("audit history too long");
    }
    let registry = Registry {
        versions,
        champion: l.champion,
        challenger: l.challenger,
        next_id: l.next_id,
        audit: l.audit.into_iter().map(Into::into).collect::<VecDeque<_>>(),
    };
    let trial = l.trial.map(|t| Trial {
        candidate: t.candidate,
        champion: t.champion,
        started_at: t.started_at,
        skip: t.skip,
        rows: t.rows,
        candidate_loss: t.candidate_loss,
        champion_loss: t.champion_loss,
        candidate_correct: t.candidate_correct,
        champion_correct: t.champion_correct,
        block_rows: t.block_rows,
        block_sum: t.block_sum,
        blocks: t.blocks,
        ab: t.ab.map(|[a, b]| AbArms {
            champion: arm_from(a),
            challenger: arm_from(b),
        }),
    });
    let x = l.experts;
    let linear = LinearLearner::from_parts(
        norm_from(x.linear.norm, dim)?,
        x.linear.weights.into_vec(),
        x.linear.sq_grads.into_vec(),
        x.linear.seen,
    )
    .ok_or("the linear learner is inconsistent")?;
    let experts = Experts {
        counts: x.counts,
        recent: x.recent,
        linear,
    };
    let o = l.online;
    let online = OnlineLearner {
        net: SignalNet {
            mlp: net_from(o.net, config.signal.spec(config.features))?,
            norm: norm_from(o.norm, dim)?,
            temperature: 1.0,
        },
        opt: opt_from(o.opt)?,
        seen: o.seen,
    };
    let online_opt = crate::nn::OptimConfig {
        lr: lc.online.lr,
        ..config.signal.optimizer
    };
    check_opt(&online.opt, &online.net.mlp, &online_opt)?;
    let m = l.mixture;
    let flat = m.copies.into_vec();
    if !flat.len().is_multiple_of(EXPERTS) {
        return Err("mixture weights are not whole copies");
    }
    let copies = flat
        .chunks_exact(EXPERTS)
        .map(|c| {
            let mut w = [0.0; EXPERTS];
            w.copy_from_slice(c);
            w
        })
        .collect();
    let pending = m
        .pending
        .into_iter()
        .map(|p| Pending {
            awaiting: match p.awaiting {
                AwaitingV4::Trade(id) => Awaiting::Trade(id),
                AwaitingV4::Forecast { id, key } => Awaiting::Forecast { id, key },
            },
            copy: p.copy,
            probs: p.probs,
        })
        .collect();
    let s = m.scores;
    let mixture = Mixture::from_parts(
        copies,
        pending,
        m.next_forecast,
        m.dropped,
        Scores {
            rows: s.rows,
            mixture: s.mixture,
            experts: s.experts,
            mixture_correct: s.mixture_correct,
            experts_correct: s.experts_correct,
        },
    )?;
    let retrain = match l.retrain {
        Some(r) => Some(retrain_from(r, config)?),
        None => None,
    };
    Ok(Lifecycle {
        registry,
        trial,
        experts,
        online,
        mixture,
        retrain,
        monitor: l.monitor.into_owned(),
        page_hinkley: l.page_hinkley,
        psi: l.psi.map(Cow::into_owned),
        guard: l.guard.into_owned(),
        schedule: l.schedule,
        drift: l.drift,
        last_update: l.last_update,
        labels: l.labels,
        snapshot_at: l.snapshot_at,
        retrain_at: l.retrain_at,
        drift_retrain_at: l.drift_retrain_at,
        best: l.best,
    })
}

fn retrain_from(r: RetrainV4<'_>, config: &EngineConfig) -> Res<Retrain> {
    let dim = config.features as usize;
    let spec = config.signal.spec(config.features);
    let train = data_from(r.train, dim)?;
    let validation = data_from(r.validation, dim)?;
    let test = data_from(r.test, dim)?;
    let mlp = net_from(r.net, spec.clone())?;
    let opt = opt_from(r.opt)?;
    let settings = RunSettings {
        optimizer: optim_from(r.settings.optimizer),
        batch: r.settings.batch,
        epochs: r.settings.epochs,
        patience: r.settings.patience,
        divergence: r.settings.divergence,
    };
    check_opt(&opt, &mlp, &settings.optimizer)?;
    let order = r.order.into_vec();
    let best = match r.best {
        Some((loss, p)) => {
            let p = p.into_vec();
            if p.len() != mlp.params().len() || p.iter().any(|x| !x.is_finite()) {
                return Err("a retrain's best parameters are inconsistent");
            }
            Some((loss, p))
        }
        None => None,
    };
    let n = train.len();
    let ok = !train.is_empty()
        && order.len() <= n
        && order.iter().all(|&i| (i as usize) < n)
        && r.pos as usize <= order.len()
        && r.temperature.is_finite()
        && r.temperature > 0.0
        && r.settings.batch >= 1
        && r.epoch_loss.is_finite()
        && !r.limit.is_nan();
    if !ok {
        return Err("a retrain in progress is inconsistent");
    }
    let run = Training {
        settings,
        train,
        validation,
        net: SignalNet {
            mlp,
            norm: norm_from(r.norm, dim)?,
            temperature: r.temperature,
        },
        opt,
        rng: SplitMix64::new(r.rng),
        phase: match r.phase {
            PhaseV4::Start => Phase::Start,
            PhaseV4::Epoch => Phase::Epoch,
            PhaseV4::Done => Phase::Done,
        },
        epoch: r.epoch,
        order,
        pos: r.pos,
        epoch_loss: r.epoch_loss,
        limit: r.limit,
        best,
        since_best: r.since_best,
        log: RunLog {
            epochs: r.log.epochs,
            best_epoch: r.log.best_epoch,
            train_loss: r.log.train_loss,
            validation_loss: r.log.validation_loss,
            stopped_early: r.log.stopped_early,
        },
    };
    Ok(Retrain {
        run,
        test,
        range: r.range,
        trained_through: r.trained_through,
        reason: r.reason.into(),
        started_at: r.started_at,
    })
}
