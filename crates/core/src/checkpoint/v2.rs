//! Schema 2: schema 1 with the single online signal model replaced by the model lifecycle
//! (versions, champion / challenger, monitor, A/B, drift detectors, schedule) and its
//! configuration.
//!
//! Types that did not change are schema 1's (`v1::*V1`). The lifecycle's state and
//! configuration types (`crate::lifecycle::*`) are persisted as they are: they are plain
//! serde data written for this schema, and from now on they are frozen like the `V*` types
//! here (postcard writes fields in order without names; a change is a schema 3). The golden
//! files in `tests/fixtures/v2` fail the tests if their encoding changes.
//!
//! A schema-1 checkpoint is upgraded on load ([`upgrade`]): its signal model becomes
//! version 1 of kind `Imported`, the champion, with no test data.

use alloc::borrow::Cow;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use super::v1::{self, *};
use crate::config::EngineConfig;
use crate::engine::Engine;
use crate::journal::{Journal, JournalConfig};
use crate::learners::signal::{Metrics, Predictor, SignalNet};
use crate::learners::{ExitConfig, ExitLearner, LevelConfig, SignalConfig};
use crate::lifecycle::Lifecycle;
use crate::lifecycle::drift::{InputGuard, PageHinkley, PsiReference, PsiWindow};
use crate::lifecycle::monitor::Monitor;
use crate::lifecycle::registry::{DataRange, Registry, Version, VersionKind};
use crate::lifecycle::schedule::ScheduleState;

use super::v2_lifecycle::{AbStateV2, AuditEntryV2, AuditEventV2, LifecycleConfigV2};
use crate::nn::Workspace;
use crate::replay::{ReplayBuffer, ReplayConfig, ReplayParts};
use crate::rng::SplitMix64;
use crate::stats::TradeStats;

/// This module's schema number.
pub const SCHEMA: u16 = 2;

/// A whole engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct EngineV2<'a> {
    pub config: ConfigV2,
    pub rng: u64,
    pub journal: JournalV1<'a>,
    pub replay: ReplayV1<'a>,
    pub lifecycle: LifecycleV2<'a>,
    pub levels: LevelsV1,
    pub exits: ExitsV1<'a>,
    pub stats: StatsV1,
}

/// [`EngineConfig`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ConfigV2 {
    pub features: u32,
    pub flat_band: f64,
    pub max_closed: u32,
    pub max_open: u32,
    pub replay_capacity: u32,
    pub replay_mode: ReplayModeV1,
    pub signal: SignalConfigV2,
    pub lifecycle: LifecycleConfigV2,
    pub levels: LevelConfigV1,
    pub exits: ExitConfigV1,
}

/// [`SignalConfig`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct SignalConfigV2 {
    pub hidden: Vec<u32>,
    pub activation: ActivationV1,
    pub optimizer: OptimV1,
    pub batch: u32,
}

/// A [`Predictor`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum PredictorV2<'a> {
    Prior([f32; 3]),
    Net {
        net: NetV1<'a>,
        norm: NormV1<'a>,
        temperature: f32,
    },
}

/// A [`Version`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct VersionV2<'a> {
    pub id: u32,
    pub parent: Option<u32>,
    pub kind: VersionKind,
    pub created_at: i64,
    pub data: Option<DataRange>,
    pub validation: Option<Metrics>,
    pub test: Option<Metrics>,
    pub test_range: Option<(i64, i64)>,
    pub predictor: PredictorV2<'a>,
    pub reference: Option<Cow<'a, PsiReference>>,
}

/// The [`Lifecycle`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct LifecycleV2<'a> {
    pub versions: Vec<VersionV2<'a>>,
    pub champion: u32,
    pub challenger: Option<u32>,
    pub next_id: u32,
    pub audit: Vec<AuditEntryV2>,
    pub monitor: Cow<'a, Monitor>,
    pub ab: Option<AbStateV2>,
    pub page_hinkley: PageHinkley,
    pub psi: Option<Cow<'a, PsiWindow>>,
    pub guard: Cow<'a, InputGuard>,
    pub schedule: ScheduleState,
    pub drift: bool,
    pub last_update: Option<i64>,
    pub trained_seq: u64,
    pub retrained_seq: u64,
}

// ---- schema 1 -> schema 2 ------------------------------------------------------------------

/// Upgrades a schema-1 payload: its online signal model becomes the champion, of kind
/// `Imported`, keeping its schema-1 version number (which the journal's trades refer to), created at the newest time the checkpoint holds; the lifecycle starts
/// with default settings, empty monitoring and fresh detectors, and counts every stored
/// experience as already trained on.
pub fn upgrade(old: EngineV1<'_>) -> Result<EngineV2<'_>, &'static str> {
    let c = old.config;
    let newest = old
        .replay
        .times
        .clone()
        .into_vec()
        .into_iter()
        .chain(old.journal.open.iter().map(|t| t.entry_time))
        .chain(
            old.journal
                .closed
                .iter()
                .filter_map(|t| t.close.map(|c| c.time)),
        )
        .max()
        .unwrap_or(0);
    let lifecycle = LifecycleConfigV2::schema2_default();
    let guard = InputGuard::new(&lifecycle.drift.guard).map_err(|_| "default guard")?;
    let id = old.signal.version.max(1);
    let first = VersionV2 {
        id,
        parent: None,
        kind: VersionKind::Imported,
        created_at: newest,
        data: None,
        validation: None,
        test: None,
        test_range: None,
        predictor: PredictorV2::Net {
            net: old.signal.net,
            norm: old.signal.norm,
            temperature: 1.0,
        },
        reference: None,
    };
    let audit = [AuditEntryV2 {
        at: newest,
        event: AuditEventV2::Created {
            version: id,
            kind: VersionKind::Imported,
            parent: None,
        },
    }];
    Ok(EngineV2 {
        config: ConfigV2 {
            features: c.features,
            flat_band: c.flat_band,
            max_closed: c.max_closed,
            max_open: c.max_open,
            replay_capacity: c.replay_capacity,
            replay_mode: c.replay_mode,
            signal: SignalConfigV2 {
                hidden: c.signal.hidden,
                activation: c.signal.activation,
                optimizer: c.signal.optimizer,
                batch: c.signal.batch,
            },
            lifecycle,
            levels: c.levels,
            exits: c.exits,
        },
        rng: old.rng,
        lifecycle: LifecycleV2 {
            versions: alloc::vec![first],
            champion: id,
            challenger: None,
            next_id: id.checked_add(1).ok_or("signal version out of range")?,
            audit: audit.to_vec(),
            monitor: Cow::Owned(Monitor::new()),
            ab: None,
            page_hinkley: PageHinkley::new(),
            psi: None,
            guard: Cow::Owned(guard),
            schedule: ScheduleState::new(newest),
            drift: false,
            last_update: None,
            trained_seq: old.replay.pushed,
            retrained_seq: old.replay.pushed,
        },
        journal: old.journal,
        replay: old.replay,
        levels: old.levels,
        exits: old.exits,
        stats: old.stats,
    })
}

// ---- DTO -> engine (validating) -------------------------------------------------------------

/// The parts of an engine that every schema since 1 stores the same way (schema 4 too),
/// decoded, plus the configuration (already upgraded).
pub(super) struct Base<'a> {
    pub config: EngineConfig,
    pub rng: u64,
    pub journal: JournalV1<'a>,
    pub replay: ReplayV1<'a>,
    pub levels: LevelsV1,
    pub exits: ExitsV1<'a>,
    pub stats: StatsV1,
}

/// Rebuilds an engine from `base`, checking every invariant an engine relies on; the
/// lifecycle comes from `lifecycle`, given the configuration, the replay buffer and the
/// generator (an upgrade may draw from it).
pub(super) fn assemble(
    base: Base<'_>,
    lifecycle: impl FnOnce(&EngineConfig, &ReplayBuffer, &mut SplitMix64) -> Res<Lifecycle>,
) -> Res<Engine> {
    let config = base.config;
    config
        .validate()
        .map_err(|_| "configuration out of range")?;
    let features = config.features;
    let dim = features as usize;
    let x = base.exits;
    let exit_spec = config.exits.spec(features);
    let exits = ExitLearner {
        mlp: net_from(x.net, exit_spec.clone())?,
        opt: opt_from(x.opt)?,
        norm: norm_from(x.norm, dim)?,
        best: match x.best {
            Some((net, loss)) => Some((net_from(net, exit_spec)?, finite(loss)?)),
            None => None,
        },
        epsilon: unit(x.epsilon)?,
        mode: x.mode.into(),
        since_training: x.since_training,
        trainings: x.trainings,
        explorations: x.explorations,
        suggestions: x.suggestions,
        last: x.last.map(report_from),
    };
    check_opt(&exits.opt, &exits.mlp, &config.exits.optimizer)?;
    let levels = levels_from(base.levels, &config.levels)?;
    let journal = Journal::from_parts(
        config.journal,
        base.journal.next_id,
        base.journal
            .open
            .into_iter()
            .map(|t| trade_from(t, Some(dim)))
            .collect::<Res<_>>()?,
        base.journal
            .closed
            .into_iter()
            .map(|t| trade_from(t, None))
            .collect::<Res<_>>()?,
    )?;
    let r = base.replay;
    if r.dim != features {
        return Err("replay feature width differs from the configuration");
    }
    let replay = ReplayBuffer::from_parts(ReplayParts {
        config: config.replay,
        dim: r.dim,
        ids: r.ids.into_vec(),
        times: r.times.into_vec(),
        seqs: r.seqs.into_vec(),
        features: r.features.into_vec(),
        classes: r.classes.into_vec(),
        exits: r.exits.into_vec(),
        rewards: r.rewards.into_vec(),
        head: r.head,
        pushed: r.pushed,
    })?;
    let mut rng = SplitMix64::new(base.rng);
    let lifecycle = lifecycle(&config, &replay, &mut rng)?;
    if !lifecycle.is_consistent(&config.lifecycle, &config.signal, dim) {
        return Err("model lifecycle state is inconsistent");
    }
    let s = base.stats;
    let stats = TradeStats {
        closed: s.closed,
        outcomes: s.outcomes,
        correct: s.correct,
        pnl: s.pnl,
        mean_pnl_pct: s.mean_pnl_pct,
        m2_pnl_pct: s.m2_pnl_pct,
        equity_pct: s.equity_pct,
        peak_pct: s.peak_pct,
        max_drawdown_pct: s.max_drawdown_pct,
    };
    Ok(Engine {
        config,
        rng,
        journal,
        replay,
        lifecycle,
        levels,
        exits,
        stats,
        ranking: crate::ranking::RankMonitor::default(),
        scratch: core::cell::RefCell::new(Workspace::default()),
    })
}

impl EngineV2<'_> {
    /// Rebuilds the engine, upgraded to the current lifecycle (see
    /// [`super::v2_lifecycle`]), checking every invariant an engine relies on.
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
        assemble(base, |config, replay, rng| {
            lifecycle_from(l, config, replay, rng)
        })
    }
}

/// The persisted engine settings with the lifecycle's upgraded.
fn config_from(c: ConfigV2) -> EngineConfig {
    let x = c.exits;
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
        lifecycle: c.lifecycle.into(),
        levels: level_config_from(c.levels),
        exits: exit_config_from(x),
    }
}

pub(super) fn signal_config_from(c: SignalConfigV2) -> SignalConfig {
    SignalConfig {
        hidden: c.hidden,
        activation: c.activation.into(),
        optimizer: optim_from(c.optimizer),
        batch: c.batch,
    }
}

pub(super) fn level_config_from(c: LevelConfigV1) -> LevelConfig {
    LevelConfig {
        first_after: c.first_after,
        every: c.every,
        window: c.window,
        rate: c.rate,
        min_weight: c.min_weight,
    }
}

pub(super) fn exit_config_from(x: ExitConfigV1) -> ExitConfig {
    ExitConfig {
        hidden: x.hidden,
        optimizer: optim_from(x.optimizer),
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
    }
}

/// A persisted predictor, checked against the configuration.
pub(super) fn predictor_from(p: PredictorV2<'_>, config: &EngineConfig) -> Res<Predictor> {
    let dim = config.features as usize;
    Ok(match p {
        PredictorV2::Prior(p) => {
            if p.iter().any(|x| !x.is_finite() || *x < 0.0)
                || (p.iter().sum::<f32>() - 1.0).abs() > 1e-3
            {
                return Err("a prior is not a probability distribution");
            }
            Predictor::Prior(p)
        }
        PredictorV2::Net {
            net,
            norm,
            temperature,
        } => {
            if !(temperature.is_finite() && temperature > 0.0) {
                return Err("a temperature is not positive");
            }
            Predictor::Net(SignalNet {
                mlp: net_from(net, config.signal.spec(config.features))?,
                norm: norm_from(norm, dim)?,
                temperature,
            })
        }
    })
}

/// A persisted drift reference, checked against the configuration.
pub(super) fn reference_from(
    r: Option<Cow<'_, PsiReference>>,
    config: &EngineConfig,
) -> Res<Option<PsiReference>> {
    let reference = r.map(Cow::into_owned);
    if reference
        .as_ref()
        .is_some_and(|r| !r.is_consistent() || r.features != config.features)
    {
        return Err("a drift reference is inconsistent");
    }
    Ok(reference)
}

/// Whether stored metrics are in range.
pub(super) fn metrics_ok(m: &Option<Metrics>) -> bool {
    m.is_none_or(|m| m.log_loss.is_finite() && (0.0..=1.0).contains(&m.accuracy))
}

fn version_from(v: VersionV2<'_>, config: &EngineConfig, seen: u64) -> Res<Version> {
    if !metrics_ok(&v.validation) || !metrics_ok(&v.test) {
        return Err("version metrics out of range");
    }
    Ok(Version {
        id: v.id,
        parent: v.parent,
        kind: v.kind,
        created_at: v.created_at,
        data: v.data,
        validation: v.validation,
        test: v.test,
        trained_through: seen,
        trial: None,
        predictor: predictor_from(v.predictor, config)?,
        reference: reference_from(v.reference, config)?,
    })
}

/// Upgrades a schema-2 lifecycle to the current one. The versions, the champion, the audit,
/// monitoring, the drift detectors and the schedule carry over. A challenger of the old A/B
/// test is dropped from its role (it was never better on held-out data by a valid test),
/// and the A/B state with it. The new parts start from what the checkpoint holds: the
/// priors and the linear learner learn the replay buffer in date order, the online network
/// starts as a copy of the champion network (or fresh, if the champion was a prior), the
/// mixture starts at its starting weights, and every stored sample counts as already seen
/// (no snapshot or retrain is due at once).
fn lifecycle_from(
    l: LifecycleV2<'_>,
    config: &EngineConfig,
    replay: &ReplayBuffer,
    rng: &mut SplitMix64,
) -> Res<Lifecycle> {
    let lc = &config.lifecycle;
    let seen = replay.pushed();
    let versions = l
        .versions
        .into_iter()
        .map(|v| version_from(v, config, seen))
        .collect::<Res<Vec<_>>>()?;
    let registry = Registry {
        versions,
        champion: l.champion,
        challenger: None,
        next_id: l.next_id,
        audit: l.audit.into_iter().map(Into::into).collect(),
    };
    if !registry.is_consistent() {
        return Err("model registry is inconsistent");
    }
    let mut lifecycle = Lifecycle::new(lc, &config.signal, config.features, rng, 0)
        .map_err(|_| "lifecycle configuration out of range")?;
    if let Some(net) = registry.champion().predictor.net() {
        lifecycle.online.net = SignalNet {
            temperature: 1.0,
            ..net.clone()
        };
    }
    for s in replay.by_age() {
        if let Some(e) = replay.get(s) {
            lifecycle.experts.learn(&lc.mixture, e.features, e.class);
        }
    }
    lifecycle.registry = registry;
    lifecycle.monitor = l.monitor.into_owned();
    lifecycle.page_hinkley = l.page_hinkley;
    lifecycle.psi = l.psi.map(Cow::into_owned);
    lifecycle.guard = l.guard.into_owned();
    lifecycle.schedule = l.schedule;
    lifecycle.drift = l.drift;
    lifecycle.last_update = l.last_update;
    lifecycle.labels = seen;
    lifecycle.snapshot_at = seen;
    lifecycle.retrain_at = seen;
    if l.trained_seq > seen || l.retrained_seq > seen {
        return Err("lifecycle trained on more experiences than were ever pushed");
    }
    Ok(lifecycle)
}

#[allow(unused_imports)]
use v1::Res;
