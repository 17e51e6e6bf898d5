//! Schema 1: the persisted form of an engine.
//!
//! These types are the file format, separate from the in-memory types so that refactoring
//! the engine cannot silently change what is on disk. postcard writes fields in declaration
//! order without names: never reorder or remove fields or enum variants here. A change of
//! layout is a new module with an upgrade from the previous one, and a new schema number in
//! the envelope: schema 2 ([`super::v2`]) reuses most of these types and upgrades schema-1
//! payloads on load.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use super::arrays::Le;
use crate::journal::{
    CloseRecord, ExitPlan, ExitReason, LevelInput, LevelKind, Outcome, Side, Signal, TradeRecord,
};
use crate::learners::{
    AdjustTrigger, ExitMode, ExitTrainReport, LEVEL_FEATURES, LevelAdjustment, LevelConfig,
    LevelLearner,
};
use crate::nn::{Activation, Init, Mlp, MlpSpec, Normalizer, OptimConfig, OptimKind, Optimizer};
use crate::replay::{ReplayBuffer, ReplayMode};

/// This module's schema number.
pub const SCHEMA: u16 = 1;

pub(super) type Res<T> = Result<T, &'static str>;

/// Declares a persisted copy of a field-less enum and conversions both ways.
macro_rules! mirror {
    ($(#[$m:meta])* $dto:ident <=> $ty:ident { $($v:ident),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        #[allow(missing_docs)]
        pub enum $dto { $($v),* }
        impl From<$ty> for $dto {
            fn from(x: $ty) -> Self { match x { $($ty::$v => $dto::$v),* } }
        }
        impl From<$dto> for $ty {
            fn from(x: $dto) -> Self { match x { $($dto::$v => $ty::$v),* } }
        }
    };
}

mirror!(/// [`Side`]
    SideV1 <=> Side { Long, Short });
mirror!(/// [`ExitReason`]
    ExitReasonV1 <=> ExitReason { Stop, Target, Manual, Timeout });
mirror!(/// [`Outcome`]
    OutcomeV1 <=> Outcome { Loss, Flat, Win });
mirror!(/// [`LevelKind`]
    LevelKindV1 <=> LevelKind { Support, Resistance });
mirror!(/// [`Activation`]
    ActivationV1 <=> Activation { Identity, Relu, Tanh, Sigmoid });
mirror!(/// [`Init`]
    InitV1 <=> Init { HeUniform, HeNormal, XavierUniform, XavierNormal });
mirror!(/// [`ReplayMode`]
    ReplayModeV1 <=> ReplayMode { Ring, Reservoir });
mirror!(/// [`ExitMode`]
    ExitModeV1 <=> ExitMode { Training, Deployment });
mirror!(/// [`AdjustTrigger`]
    TriggerV1 <=> AdjustTrigger { First, Periodic });

/// A whole engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct EngineV1<'a> {
    pub config: ConfigV1,
    pub rng: u64,
    pub journal: JournalV1<'a>,
    pub replay: ReplayV1<'a>,
    pub signal: SignalV1<'a>,
    pub levels: LevelsV1,
    pub exits: ExitsV1<'a>,
    pub stats: StatsV1,
}

/// [`EngineConfig`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ConfigV1 {
    pub features: u32,
    pub flat_band: f64,
    pub max_closed: u32,
    pub max_open: u32,
    pub replay_capacity: u32,
    pub replay_mode: ReplayModeV1,
    pub signal: SignalConfigV1,
    pub levels: LevelConfigV1,
    pub exits: ExitConfigV1,
}

/// [`SignalConfig`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct SignalConfigV1 {
    pub hidden: Vec<u32>,
    pub activation: ActivationV1,
    pub optimizer: OptimV1,
    pub online: bool,
    pub batch: u32,
    pub epochs: u32,
}

/// [`LevelConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct LevelConfigV1 {
    pub first_after: u32,
    pub every: u32,
    pub window: u32,
    pub rate: f32,
    pub min_weight: f32,
}

/// [`ExitConfig`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ExitConfigV1 {
    pub hidden: Vec<u32>,
    pub optimizer: OptimV1,
    pub stop_bounds: [f32; 2],
    pub target_bounds: [f32; 2],
    pub epsilon: f32,
    pub epsilon_min: f32,
    pub epsilon_decay: f32,
    pub curiosity: f32,
    pub temperature: f32,
    pub train_every: u32,
    pub window: u32,
    pub epochs: u32,
    pub batch: u32,
    pub validation_fraction: f32,
    pub mode: ExitModeV1,
}

/// [`OptimKind`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum OptimKindV1 {
    Sgd { momentum: f32 },
    Adam { beta1: f32, beta2: f32, eps: f32 },
}

/// [`OptimConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct OptimV1 {
    pub kind: OptimKindV1,
    pub lr: f32,
    pub weight_decay: f32,
    pub clip_norm: f32,
}

/// An [`Mlp`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct NetV1<'a> {
    pub sizes: Vec<u32>,
    pub hidden: ActivationV1,
    pub output: ActivationV1,
    pub init: InitV1,
    pub params: Le<'a, f32>,
}

/// An [`Optimizer`]'s state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct OptimStateV1<'a> {
    pub config: OptimV1,
    pub steps: u64,
    pub m: Le<'a, f32>,
    pub v: Le<'a, f32>,
}

/// A [`Normalizer`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct NormV1<'a> {
    pub count: u64,
    pub mean: Le<'a, f64>,
    pub m2: Le<'a, f64>,
}

/// The [`SignalModel`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct SignalV1<'a> {
    pub net: NetV1<'a>,
    pub opt: OptimStateV1<'a>,
    pub norm: NormV1<'a>,
    pub version: u32,
    pub updates: u64,
    pub loss_ema: f32,
}

/// One [`LevelAdjustment`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct AdjustmentV1 {
    pub at_trade: u64,
    pub time: i64,
    pub trigger: TriggerV1,
    pub old: [f32; LEVEL_FEATURES],
    pub new: [f32; LEVEL_FEATURES],
    pub window: u32,
    pub mean_reward: f32,
    pub correlation: [f32; LEVEL_FEATURES],
}

/// The [`LevelLearner`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct LevelsV1 {
    pub weights: [f32; LEVEL_FEATURES],
    pub window: Vec<([f32; LEVEL_FEATURES], f32)>,
    pub seen: u64,
    pub history: Vec<AdjustmentV1>,
}

/// An [`ExitTrainReport`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ExitReportV1 {
    pub training: u32,
    pub train_samples: u32,
    pub validation_samples: u32,
    pub train_loss: f32,
    pub validation_loss: f32,
    pub improved: bool,
    pub mean_error: f32,
}

/// The [`ExitLearner`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ExitsV1<'a> {
    pub net: NetV1<'a>,
    pub opt: OptimStateV1<'a>,
    pub norm: NormV1<'a>,
    pub best: Option<(NetV1<'a>, f32)>,
    pub epsilon: f32,
    pub mode: ExitModeV1,
    pub since_training: u32,
    pub trainings: u32,
    pub explorations: u64,
    pub suggestions: u64,
    pub last: Option<ExitReportV1>,
}

/// A [`LevelInput`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct LevelV1 {
    pub price: f64,
    pub kind: LevelKindV1,
    pub features: [f32; LEVEL_FEATURES],
}

/// A [`CloseRecord`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct CloseV1 {
    pub price: f64,
    pub time: i64,
    pub reason: ExitReasonV1,
    pub pnl: f64,
    pub pnl_pct: f64,
    pub outcome: OutcomeV1,
}

/// A [`TradeRecord`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct TradeV1<'a> {
    pub id: u64,
    pub symbol: String,
    pub side: SideV1,
    pub size: f64,
    pub entry_price: f64,
    pub entry_time: i64,
    pub features: Le<'a, f32>,
    pub probs: [f32; 3],
    pub class: OutcomeV1,
    pub score: f32,
    pub model_version: u32,
    pub stop_pct: f32,
    pub target_pct: f32,
    pub stop_price: f64,
    pub target_price: f64,
    pub explored: bool,
    pub from_caller: bool,
    pub level: Option<(LevelV1, f32)>,
    pub close: Option<CloseV1>,
}

/// The [`Journal`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct JournalV1<'a> {
    pub next_id: u64,
    pub open: Vec<TradeV1<'a>>,
    pub closed: Vec<TradeV1<'a>>,
}

/// The [`ReplayBuffer`], column by column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ReplayV1<'a> {
    pub dim: u32,
    pub ids: Le<'a, u64>,
    pub times: Le<'a, i64>,
    pub seqs: Le<'a, u64>,
    pub features: Le<'a, f32>,
    pub classes: Le<'a, u8>,
    pub exits: Le<'a, f32>,
    pub rewards: Le<'a, f32>,
    pub head: u32,
    pub pushed: u64,
}

/// [`TradeStats`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct StatsV1 {
    pub closed: u64,
    pub outcomes: [u64; 3],
    pub correct: u64,
    pub pnl: f64,
    pub mean_pnl_pct: f64,
    pub m2_pnl_pct: f64,
    pub equity_pct: f64,
    pub peak_pct: f64,
    pub max_drawdown_pct: f64,
}

// ---- conversions shared with later schemas ------------------------------------------------

pub(super) fn optim_to(c: &OptimConfig) -> OptimV1 {
    OptimV1 {
        kind: match c.kind {
            OptimKind::Sgd { momentum } => OptimKindV1::Sgd { momentum },
            OptimKind::Adam { beta1, beta2, eps } => OptimKindV1::Adam { beta1, beta2, eps },
        },
        lr: c.lr,
        weight_decay: c.weight_decay,
        clip_norm: c.clip_norm,
    }
}

pub(super) fn net_to(m: &Mlp) -> NetV1<'_> {
    let s = m.spec();
    NetV1 {
        sizes: s.sizes.clone(),
        hidden: s.hidden.into(),
        output: s.output.into(),
        init: s.init.into(),
        params: Le::borrowed(m.params()),
    }
}

pub(super) fn opt_to(o: &Optimizer) -> OptimStateV1<'_> {
    OptimStateV1 {
        config: optim_to(o.config()),
        steps: o.steps(),
        m: Le::borrowed(o.first_moment()),
        v: Le::borrowed(o.second_moment()),
    }
}

pub(super) fn norm_to(n: &Normalizer) -> NormV1<'_> {
    NormV1 {
        count: n.count(),
        mean: Le::borrowed(n.mean()),
        m2: Le::borrowed(n.m2()),
    }
}

pub(super) fn adjustment_to(a: &LevelAdjustment) -> AdjustmentV1 {
    AdjustmentV1 {
        at_trade: a.at_trade,
        time: a.time,
        trigger: a.trigger.into(),
        old: a.old,
        new: a.new,
        window: a.window,
        mean_reward: a.mean_reward,
        correlation: a.correlation,
    }
}

pub(super) fn report_to(r: ExitTrainReport) -> ExitReportV1 {
    ExitReportV1 {
        training: r.training,
        train_samples: r.train_samples,
        validation_samples: r.validation_samples,
        train_loss: r.train_loss,
        validation_loss: r.validation_loss,
        improved: r.improved,
        mean_error: r.mean_error,
    }
}

pub(super) fn trade_to(t: &TradeRecord) -> TradeV1<'_> {
    TradeV1 {
        id: t.id,
        symbol: t.symbol.clone(),
        side: t.side.into(),
        size: t.size,
        entry_price: t.entry_price,
        entry_time: t.entry_time,
        features: Le::borrowed(&t.features),
        probs: t.signal.probs,
        class: t.signal.class.into(),
        score: t.signal.score,
        model_version: t.model_version,
        stop_pct: t.exits.stop_pct,
        target_pct: t.exits.target_pct,
        stop_price: t.exits.stop_price,
        target_price: t.exits.target_price,
        explored: t.exits.explored,
        from_caller: t.exits.from_caller,
        level: t.level.map(|(l, s)| {
            (
                LevelV1 {
                    price: l.price,
                    kind: l.kind.into(),
                    features: l.features,
                },
                s,
            )
        }),
        close: t.close.map(|c| CloseV1 {
            price: c.price,
            time: c.time,
            reason: c.reason.into(),
            pnl: c.pnl,
            pnl_pct: c.pnl_pct,
            outcome: c.outcome.into(),
        }),
    }
}

pub(super) fn replay_to(r: &ReplayBuffer) -> ReplayV1<'_> {
    let p = r.columns();
    ReplayV1 {
        dim: p.dim,
        ids: Le::borrowed(p.ids),
        times: Le::borrowed(p.times),
        seqs: Le::borrowed(p.seqs),
        features: Le::borrowed(p.features),
        classes: Le::borrowed(p.classes),
        exits: Le::borrowed(p.exits),
        rewards: Le::borrowed(p.rewards),
        head: p.head,
        pushed: p.pushed,
    }
}

pub(super) fn finite(x: f32) -> Res<f32> {
    if x.is_finite() {
        Ok(x)
    } else {
        Err("non-finite value")
    }
}

pub(super) fn unit(x: f32) -> Res<f32> {
    if (0.0..=1.0).contains(&x) {
        Ok(x)
    } else {
        Err("probability out of [0, 1]")
    }
}

pub(super) fn optim_from(o: OptimV1) -> OptimConfig {
    OptimConfig {
        kind: match o.kind {
            OptimKindV1::Sgd { momentum } => OptimKind::Sgd { momentum },
            OptimKindV1::Adam { beta1, beta2, eps } => OptimKind::Adam { beta1, beta2, eps },
        },
        lr: o.lr,
        weight_decay: o.weight_decay,
        clip_norm: o.clip_norm,
    }
}

pub(super) fn net_from(n: NetV1<'_>, expected: MlpSpec) -> Res<Mlp> {
    let spec = MlpSpec {
        sizes: n.sizes,
        hidden: n.hidden.into(),
        output: n.output.into(),
        init: n.init.into(),
    };
    if spec != expected {
        return Err("network shape differs from the configuration");
    }
    Mlp::from_params(spec, n.params.into_vec()).map_err(|_| "network parameters are inconsistent")
}

pub(super) fn opt_from(o: OptimStateV1<'_>) -> Res<Optimizer> {
    let (m, v) = (o.m.into_vec(), o.v.into_vec());
    if m.iter().chain(&v).any(|x| !x.is_finite()) || v.iter().any(|&x| x < 0.0) {
        return Err("optimizer moments are not finite");
    }
    Optimizer::from_parts(optim_from(o.config), o.steps, m, v)
        .map_err(|_| "optimizer state is inconsistent")
}

pub(super) fn check_opt(o: &Optimizer, m: &Mlp, config: &OptimConfig) -> Res<()> {
    if o.first_moment().len() != m.params().len() || o.config() != config {
        return Err("optimizer state does not match its network or configuration");
    }
    Ok(())
}

pub(super) fn norm_from(n: NormV1<'_>, dim: usize) -> Res<Normalizer> {
    let norm = Normalizer::from_parts(n.count, n.mean.into_vec(), n.m2.into_vec())
        .map_err(|_| "normalizer is inconsistent")?;
    if norm.dim() != dim {
        return Err("normalizer width differs from the configuration");
    }
    Ok(norm)
}

pub(super) fn levels_from(l: LevelsV1, config: &LevelConfig) -> Res<LevelLearner> {
    let simplex = |w: &[f32; LEVEL_FEATURES]| {
        w.iter().all(|x| x.is_finite() && *x >= 0.0) && (w.iter().sum::<f32>() - 1.0).abs() < 1e-3
    };
    if !simplex(&l.weights)
        || l.history
            .iter()
            .any(|a| !simplex(&a.new) || !simplex(&a.old))
    {
        return Err("level weights are not on the simplex");
    }
    if l.history.iter().any(|a| {
        !a.mean_reward.is_finite() || a.correlation.iter().any(|c| !(-1.01..=1.01).contains(c))
    }) {
        return Err("a level adjustment's statistics are out of range");
    }
    if l.window.len() > config.window as usize {
        return Err("level window longer than configured");
    }
    if l.window
        .iter()
        .any(|(f, r)| !r.is_finite() || f.iter().any(|x| !(0.0..=1.0).contains(x)))
    {
        return Err("level window holds values out of range");
    }
    Ok(LevelLearner {
        weights: l.weights,
        window: l.window.into_iter().collect::<VecDeque<_>>(),
        seen: l.seen,
        history: l
            .history
            .into_iter()
            .map(|a| LevelAdjustment {
                at_trade: a.at_trade,
                time: a.time,
                trigger: a.trigger.into(),
                old: a.old,
                new: a.new,
                window: a.window,
                mean_reward: a.mean_reward,
                correlation: a.correlation,
            })
            .collect(),
    })
}

pub(super) fn report_from(r: ExitReportV1) -> ExitTrainReport {
    ExitTrainReport {
        training: r.training,
        train_samples: r.train_samples,
        validation_samples: r.validation_samples,
        train_loss: r.train_loss,
        validation_loss: r.validation_loss,
        improved: r.improved,
        mean_error: r.mean_error,
    }
}

/// `open_dim`: `Some(width)` for an open trade (features required), `None` for a closed one.
pub(super) fn trade_from(t: TradeV1<'_>, open_dim: Option<usize>) -> Res<TradeRecord> {
    let features = t.features.into_vec();
    let want = open_dim.unwrap_or(0);
    if features.len() != want || features.iter().any(|x| !x.is_finite()) {
        return Err("trade features have the wrong width or are not finite");
    }
    let positive = |x: f64| x.is_finite() && x > 0.0;
    if !positive(t.entry_price) || !positive(t.size) || !positive(f64::from(t.stop_pct)) {
        return Err("trade prices or size out of range");
    }
    if !positive(f64::from(t.target_pct))
        || !positive(t.stop_price)
        || !positive(t.target_price)
        || !t.score.is_finite()
        || t.probs.iter().any(|p| !(0.0..=1.0).contains(p))
    {
        return Err("trade exit plan or signal out of range");
    }
    if let Some(c) = &t.close
        && (!positive(c.price) || !c.pnl.is_finite() || !c.pnl_pct.is_finite())
    {
        return Err("trade close out of range");
    }
    if t.level.is_some_and(|(_, score)| !score.is_finite()) {
        return Err("trade level score is not finite");
    }
    let level = match t.level {
        Some((l, s)) => {
            let input = LevelInput {
                price: l.price,
                kind: l.kind.into(),
                features: l.features,
            };
            input.validate().map_err(|_| "trade level out of range")?;
            Some((input, s))
        }
        None => None,
    };
    Ok(TradeRecord {
        id: t.id,
        symbol: t.symbol,
        side: t.side.into(),
        size: t.size,
        entry_price: t.entry_price,
        entry_time: t.entry_time,
        features,
        signal: Signal {
            probs: t.probs,
            class: t.class.into(),
            score: t.score,
        },
        model_version: t.model_version,
        exits: ExitPlan {
            stop_pct: t.stop_pct,
            target_pct: t.target_pct,
            stop_price: t.stop_price,
            target_price: t.target_price,
            explored: t.explored,
            from_caller: t.from_caller,
        },
        level,
        close: t.close.map(|c| CloseRecord {
            price: c.price,
            time: c.time,
            reason: c.reason.into(),
            pnl: c.pnl,
            pnl_pct: c.pnl_pct,
            outcome: c.outcome.into(),
        }),
        ranked: None,
    })
}
