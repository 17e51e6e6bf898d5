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

// ---- engine -> DTO -------------------------------------------------------------------------

impl<'a> EngineV2<'a> {
    /// Borrows an engine's state (large arrays are not copied).
    pub fn from_engine(e: &'a Engine) -> Self {
        let s = &e.stats;
        let l = &e.lifecycle;
        EngineV2 {
            config: config_to(&e.config),
            rng: e.rng.state(),
            journal: JournalV1 {
                next_id: e.journal.next_id(),
                open: e.journal.open_trades().map(trade_to).collect(),
                closed: e.journal.closed_trades().map(trade_to).collect(),
            },
            replay: replay_to(&e.replay),
            lifecycle: LifecycleV2 {
                versions: l.registry.versions.iter().map(version_to).collect(),
                champion: l.registry.champion,
                challenger: l.registry.challenger,
                next_id: l.registry.next_id,
                audit: l.registry.audit.iter().map(AuditEntryV2::from).collect(),
                monitor: Cow::Borrowed(&l.monitor),
                ab: l.ab.as_ref().map(AbStateV2::from),
                page_hinkley: l.page_hinkley,
                psi: l.psi.as_ref().map(Cow::Borrowed),
                guard: Cow::Borrowed(&l.guard),
                schedule: l.schedule,
                drift: l.drift,
                last_update: l.last_update,
                trained_seq: l.trained_seq,
                retrained_seq: l.retrained_seq,
            },
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
        }
    }
}

fn version_to(v: &Version) -> VersionV2<'_> {
    VersionV2 {
        id: v.id,
        parent: v.parent,
        kind: v.kind,
        created_at: v.created_at,
        data: v.data,
        validation: v.validation,
        test: v.test,
        test_range: v.test_range,
        predictor: match &v.predictor {
            Predictor::Prior(p) => PredictorV2::Prior(*p),
            Predictor::Net(n) => PredictorV2::Net {
                net: net_to(&n.mlp),
                norm: norm_to(&n.norm),
                temperature: n.temperature,
            },
        },
        reference: v.reference.as_ref().map(Cow::Borrowed),
    }
}

fn config_to(c: &EngineConfig) -> ConfigV2 {
    let x = &c.exits;
    ConfigV2 {
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
        lifecycle: (&c.lifecycle).into(),
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
    let lifecycle = crate::lifecycle::LifecycleConfig::default();
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
            lifecycle: (&lifecycle).into(),
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

impl EngineV2<'_> {
    /// Rebuilds the engine, checking every invariant an engine relies on.
    pub fn into_engine(self) -> Res<Engine> {
        let config = config_from(self.config);
        config
            .validate()
            .map_err(|_| "configuration out of range")?;
        let features = config.features;
        let dim = features as usize;
        let lifecycle = lifecycle_from(self.lifecycle, &config)?;
        let exit_spec = config.exits.spec(features);
        let exits = ExitLearner {
            mlp: net_from(self.exits.net, exit_spec.clone())?,
            opt: opt_from(self.exits.opt)?,
            norm: norm_from(self.exits.norm, dim)?,
            best: match self.exits.best {
                Some((net, loss)) => Some((net_from(net, exit_spec)?, finite(loss)?)),
                None => None,
            },
            epsilon: unit(self.exits.epsilon)?,
            mode: self.exits.mode.into(),
            since_training: self.exits.since_training,
            trainings: self.exits.trainings,
            explorations: self.exits.explorations,
            suggestions: self.exits.suggestions,
            last: self.exits.last.map(report_from),
            ws: Workspace::default(),
        };
        check_opt(&exits.opt, &exits.mlp, &config.exits.optimizer)?;
        let levels = levels_from(self.levels, &config.levels)?;
        let journal = Journal::from_parts(
            config.journal,
            self.journal.next_id,
            self.journal
                .open
                .into_iter()
                .map(|t| trade_from(t, Some(dim)))
                .collect::<Res<_>>()?,
            self.journal
                .closed
                .into_iter()
                .map(|t| trade_from(t, None))
                .collect::<Res<_>>()?,
        )?;
        let r = self.replay;
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
        if lifecycle.trained_seq > replay.pushed() || lifecycle.retrained_seq > replay.pushed() {
            return Err("lifecycle trained on more experiences than were ever pushed");
        }
        let s = self.stats;
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
            rng: SplitMix64::new(self.rng),
            journal,
            replay,
            lifecycle,
            levels,
            exits,
            stats,
            ranking: crate::ranking::RankMonitor::default(),
        })
    }
}

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
        signal: SignalConfig {
            hidden: c.signal.hidden,
            activation: c.signal.activation.into(),
            optimizer: optim_from(c.signal.optimizer),
            batch: c.signal.batch,
        },
        lifecycle: c.lifecycle.into(),
        levels: LevelConfig {
            first_after: c.levels.first_after,
            every: c.levels.every,
            window: c.levels.window,
            rate: c.levels.rate,
            min_weight: c.levels.min_weight,
        },
        exits: ExitConfig {
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
        },
    }
}

fn version_from(v: VersionV2<'_>, config: &EngineConfig) -> Res<Version> {
    let dim = config.features as usize;
    let predictor = match v.predictor {
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
    };
    let reference = v.reference.map(Cow::into_owned);
    if reference
        .as_ref()
        .is_some_and(|r| !r.is_consistent() || r.features != config.features)
    {
        return Err("a drift reference is inconsistent");
    }
    let metrics_ok = |m: &Option<Metrics>| {
        m.is_none_or(|m| m.log_loss.is_finite() && (0.0..=1.0).contains(&m.accuracy))
    };
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
        test_range: v.test_range,
        predictor,
        reference,
    })
}

fn lifecycle_from(l: LifecycleV2<'_>, config: &EngineConfig) -> Res<Lifecycle> {
    let lc = &config.lifecycle;
    let lifecycle = Lifecycle {
        registry: Registry {
            versions: l
                .versions
                .into_iter()
                .map(|v| version_from(v, config))
                .collect::<Res<_>>()?,
            champion: l.champion,
            challenger: l.challenger,
            next_id: l.next_id,
            audit: l.audit.into_iter().map(Into::into).collect(),
        },
        monitor: l.monitor.into_owned(),
        ab: l.ab.map(Into::into),
        page_hinkley: l.page_hinkley,
        psi: l.psi.map(Cow::into_owned),
        guard: l.guard.into_owned(),
        schedule: l.schedule,
        drift: l.drift,
        last_update: l.last_update,
        trained_seq: l.trained_seq,
        retrained_seq: l.retrained_seq,
        ws: Workspace::default(),
    };
    if !lifecycle.is_consistent(lc) {
        return Err("model lifecycle state is inconsistent");
    }
    Ok(lifecycle)
}

#[allow(unused_imports)]
use v1::Res;
