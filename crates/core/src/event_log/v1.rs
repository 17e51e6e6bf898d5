//! Event-log format 1: the frozen copies of the journalled commands and of the genesis.
//!
//! **Frozen.** These types are a file format: never reorder, rename the meaning of, remove
//! or insert a variant or a field. A new command or field is a new format version (`v2.rs`)
//! with its own types and an upgrade from this one. Golden bytes of every variant are in
//! `crates/core/tests/fixtures/event_log/v1.txt`.
//!
//! The layout is the postcard encoding of these types. It equals the postcard encoding of
//! the live `Command` and `Request::Create` / `Request::Restore` as they were when the host
//! journal had schema 1, which is why a schema-1 journal reads as format 1 unchanged.

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::Command;
use crate::checkpoint::v1::{ExitModeV1, ExitReasonV1, LevelV1, OutcomeV1, SideV1};
use crate::checkpoint::v4::ConfigV4;
use crate::command::{CloseTrade, ForecastRequest, LearnRequest, Observation, OpenTrade};
use crate::journal::LevelInput;
use crate::lifecycle::policy::LearnMode;
use crate::ranking::{Candidate, RankOutput, RankRequest, RankScore};

/// A journalled command. Variant order is the live `Command`'s at format 1; `Suggest` and
/// `Query` change nothing and are never journalled, but keep their places.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum EventV1 {
    Open(OpenV1),
    Close(CloseV1),
    /// Never journalled (index 2 is reserved).
    NotJournaledSuggest,
    Observe(ObserveV1),
    Learn(LearnModeV1),
    Promote(u32),
    Rollback(Option<u32>),
    RunDue,
    SetExitMode(ExitModeV1),
    /// Never journalled (index 9 is reserved).
    NotJournaledQuery,
    Rank(RankV1),
    Forecast(Vec<f32>),
}

/// [`OpenTrade`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct OpenV1 {
    pub symbol: String,
    pub side: SideV1,
    pub price: f64,
    pub size: f64,
    pub features: Vec<f32>,
    pub level: Option<LevelV1>,
    pub exits: Option<(f64, f64)>,
}

/// [`CloseTrade`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct CloseV1 {
    pub trade_id: u64,
    pub price: f64,
    pub reason: ExitReasonV1,
}

/// [`Observation`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ObserveV1 {
    pub features: Vec<f32>,
    pub return_pct: f64,
}

/// [`LearnMode`] (a [`LearnRequest`] holds only its mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum LearnModeV1 {
    Auto,
    Incremental,
    Retrain,
    Eval,
}

/// [`RankRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct RankV1 {
    pub candidates: Vec<CandidateV1>,
    pub k: u32,
    pub size: f64,
    pub scored: Option<RankOutputV1>,
}

/// [`Candidate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct CandidateV1 {
    pub symbol: String,
    pub price: f64,
    pub features: Vec<f32>,
}

/// [`RankOutput`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct RankOutputV1 {
    pub model: String,
    pub scores: Vec<RankScoreV1>,
}

/// [`RankScore`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct RankScoreV1 {
    pub score: f32,
    pub class: Option<OutcomeV1>,
}

/// How a state began: a new engine or a checkpoint. Variant order is the live `Request`'s
/// first two at format 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum GenesisV1 {
    Create {
        config: alloc::boxed::Box<ConfigV4>,
        seed: u64,
        now: i64,
    },
    Restore(Vec<u8>),
}

// ---- conversions ----------------------------------------------------------------------------

impl EventV1 {
    /// The frozen form of `c`; `None` for the commands that are never journalled.
    pub fn from_command(c: &Command) -> Option<Self> {
        Some(match c {
            Command::Open(o) => EventV1::Open(OpenV1 {
                symbol: o.symbol.clone(),
                side: o.side.into(),
                price: o.price,
                size: o.size,
                features: o.features.clone(),
                level: o.level.map(|l| LevelV1 {
                    price: l.price,
                    kind: l.kind.into(),
                    features: l.features,
                }),
                exits: o.exits,
            }),
            Command::Close(x) => EventV1::Close(CloseV1 {
                trade_id: x.trade_id,
                price: x.price,
                reason: x.reason.into(),
            }),
            Command::Observe(o) => EventV1::Observe(ObserveV1 {
                features: o.features.clone(),
                return_pct: o.return_pct,
            }),
            Command::Learn(r) => EventV1::Learn(match r.mode {
                LearnMode::Auto => LearnModeV1::Auto,
                LearnMode::Incremental => LearnModeV1::Incremental,
                LearnMode::Retrain => LearnModeV1::Retrain,
                LearnMode::Eval => LearnModeV1::Eval,
            }),
            Command::Promote(v) => EventV1::Promote(*v),
            Command::Rollback(v) => EventV1::Rollback(*v),
            Command::RunDue => EventV1::RunDue,
            Command::SetExitMode(m) => EventV1::SetExitMode((*m).into()),
            Command::Rank(r) => EventV1::Rank(RankV1 {
                candidates: r
                    .candidates
                    .iter()
                    .map(|c| CandidateV1 {
                        symbol: c.symbol.clone(),
                        price: c.price,
                        features: c.features.clone(),
                    })
                    .collect(),
                k: r.k,
                size: r.size,
                scored: r.scored.as_ref().map(|s| RankOutputV1 {
                    model: s.model.clone(),
                    scores: s
                        .scores
                        .iter()
                        .map(|x| RankScoreV1 {
                            score: x.score,
                            class: x.class.map(Into::into),
                        })
                        .collect(),
                }),
            }),
            Command::Forecast(f) => EventV1::Forecast(f.features.clone()),
            Command::Suggest(_) | Command::Query(_) => return None,
        })
    }

    /// The live command; `None` for the reserved variants.
    pub fn into_command(self) -> Option<Command> {
        Some(match self {
            EventV1::Open(o) => Command::Open(OpenTrade {
                symbol: o.symbol,
                side: o.side.into(),
                price: o.price,
                size: o.size,
                features: o.features,
                level: o.level.map(|l| LevelInput {
                    price: l.price,
                    kind: l.kind.into(),
                    features: l.features,
                }),
                exits: o.exits,
            }),
            EventV1::Close(x) => Command::Close(CloseTrade {
                trade_id: x.trade_id,
                price: x.price,
                reason: x.reason.into(),
            }),
            EventV1::Observe(o) => Command::Observe(Observation {
                features: o.features,
                return_pct: o.return_pct,
            }),
            EventV1::Learn(m) => Command::Learn(LearnRequest {
                mode: match m {
                    LearnModeV1::Auto => LearnMode::Auto,
                    LearnModeV1::Incremental => LearnMode::Incremental,
                    LearnModeV1::Retrain => LearnMode::Retrain,
                    LearnModeV1::Eval => LearnMode::Eval,
                },
            }),
            EventV1::Promote(v) => Command::Promote(v),
            EventV1::Rollback(v) => Command::Rollback(v),
            EventV1::RunDue => Command::RunDue,
            EventV1::SetExitMode(m) => Command::SetExitMode(m.into()),
            EventV1::Rank(r) => Command::Rank(RankRequest {
                candidates: r
                    .candidates
                    .into_iter()
                    .map(|c| Candidate {
                        symbol: c.symbol,
                        price: c.price,
                        features: c.features,
                    })
                    .collect(),
                k: r.k,
                size: r.size,
                scored: r.scored.map(|s| RankOutput {
                    model: s.model,
                    scores: s
                        .scores
                        .into_iter()
                        .map(|x| RankScore {
                            score: x.score,
                            class: x.class.map(Into::into),
                        })
                        .collect(),
                }),
            }),
            EventV1::Forecast(features) => Command::Forecast(ForecastRequest { features }),
            EventV1::NotJournaledSuggest | EventV1::NotJournaledQuery => return None,
        })
    }
}
