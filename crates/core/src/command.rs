//! Commands into the engine and its replies. These serde types are the one vocabulary shared
//! by every surface: the JS bindings, the plugin ABI and the host's event journal.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::config::EngineConfig;
use crate::journal::{ExitPlan, ExitReason, LevelInput, Outcome, Side, Signal, TradeRecord};
use crate::learners::{ExitMode, ExitTrainReport, LevelAdjustment, SignalTrainReport};
use crate::stats::TradeStats;

/// Everything an engine can be asked to do. Apply with [`crate::Engine::apply`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// Journal a new trade; the engine scores it and plans its exits.
    Open(OpenTrade),
    /// Close an open trade; the outcome becomes a learning experience.
    Close(CloseTrade),
    /// What the models think of a possible entry (changes nothing).
    Suggest(SuggestRequest),
    /// Train the signal model on the replay buffer (and the exit learner, if it has data).
    Learn(LearnRequest),
    /// Switch the exit learner between training and deployment.
    SetExitMode(ExitMode),
    /// Read state (changes nothing).
    Query(Query),
}

/// Open a trade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenTrade {
    /// Instrument, 1-32 printable ASCII characters.
    pub symbol: String,
    /// Direction.
    pub side: Side,
    /// Entry price (finite, > 0).
    pub price: f64,
    /// Quantity (finite, > 0).
    pub size: f64,
    /// Feature vector, `config.features` long, finite.
    pub features: Vec<f32>,
    /// The support/resistance level behind the entry, if any.
    pub level: Option<LevelInput>,
    /// Fixed `(stop_price, target_price)`; `None` lets the exit learner choose.
    pub exits: Option<(f64, f64)>,
}

/// Close a trade.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CloseTrade {
    /// Id returned by `Open`.
    pub trade_id: u64,
    /// Exit price (finite, > 0).
    pub price: f64,
    /// Why.
    pub reason: ExitReason,
}

/// Ask for the models' view of a possible entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuggestRequest {
    /// Direction considered.
    pub side: Side,
    /// Price considered.
    pub price: f64,
    /// Feature vector.
    pub features: Vec<f32>,
    /// Candidate levels to score (may be empty; at most 64).
    pub levels: Vec<LevelInput>,
}

/// Train now.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct LearnRequest {
    /// Epochs over the replay buffer; `None` uses `config.signal.epochs`.
    pub epochs: Option<u32>,
}

/// Read-only questions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Query {
    /// Totals and learner state.
    Stats,
    /// One trade by id.
    Trade(u64),
    /// All open trades.
    OpenTrades,
    /// The most recent closed trades, newest last (at most `limit`).
    ClosedTrades {
        /// Most trades returned.
        limit: u32,
    },
    /// Every level-weight adjustment.
    LevelHistory,
    /// The configuration.
    Config,
}

/// The answer to a command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Reply {
    /// Answer to `Open`.
    Opened(Opened),
    /// Answer to `Close`.
    Closed(Closed),
    /// Answer to `Suggest`.
    Suggestion(Suggestion),
    /// Answer to `Learn`.
    Learned(Learned),
    /// Answer to `SetExitMode`: the mode now in force.
    ExitMode(ExitMode),
    /// Answer to `Query::Stats`.
    Stats(Box<Stats>),
    /// Answer to `Query::Trade`.
    Trade(Box<TradeRecord>),
    /// Answer to `Query::OpenTrades` and `Query::ClosedTrades`.
    Trades(Vec<TradeRecord>),
    /// Answer to `Query::LevelHistory`.
    LevelHistory(Vec<LevelAdjustment>),
    /// Answer to `Query::Config`.
    Config(Box<EngineConfig>),
}

/// A trade was opened.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Opened {
    /// Its id, for `Close`.
    pub trade_id: u64,
    /// The signal model's view.
    pub signal: Signal,
    /// Version of the signal model.
    pub model_version: u32,
    /// Stop-loss and take-profit.
    pub exits: ExitPlan,
    /// Score of the entry's level under the current level weights.
    pub level_score: Option<f32>,
}

/// A trade was closed and learned from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Closed {
    /// The trade.
    pub trade_id: u64,
    /// PnL in quote currency.
    pub pnl: f64,
    /// PnL as a fraction of the entry price.
    pub pnl_pct: f64,
    /// Outcome class.
    pub outcome: Outcome,
    /// Reward given to the learners (risk multiple).
    pub reward: f32,
    /// A level-weight adjustment this close triggered.
    pub level_adjustment: Option<LevelAdjustment>,
    /// An exit-learner training this close triggered.
    pub exit_training: Option<ExitTrainReport>,
}

/// The models' view of a possible entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    /// Signal model.
    pub signal: Signal,
    /// Version of the signal model.
    pub model_version: u32,
    /// Exit learner (no exploration).
    pub exits: ExitPlan,
    /// Score of each candidate level, in request order.
    pub level_scores: Vec<f32>,
}

/// What `Learn` did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Learned {
    /// Signal model training.
    pub signal: SignalTrainReport,
    /// Exit learner training, if there was enough data.
    pub exits: Option<ExitTrainReport>,
}

/// Totals and learner state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Trades opened ever.
    pub opened: u64,
    /// Trades open now.
    pub open: u32,
    /// Totals over closed trades.
    pub trades: TradeStats,
    /// Win rate over closed trades.
    pub win_rate: f64,
    /// Share of closed trades whose entry signal class was right.
    pub accuracy: f64,
    /// Per-trade Sharpe ratio.
    pub sharpe: f64,
    /// Experiences in the replay buffer.
    pub replay: u32,
    /// Signal model.
    pub signal: SignalStats,
    /// Level weights.
    pub levels: LevelStats,
    /// Exit learner.
    pub exits: ExitStats,
}

/// Signal model state.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SignalStats {
    /// Version.
    pub version: u32,
    /// Online steps taken.
    pub updates: u64,
    /// Moving average of the online loss.
    pub loss_ema: f32,
}

/// Level learner state.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LevelStats {
    /// Current weights.
    pub weights: [f32; 6],
    /// Level trades seen.
    pub seen: u64,
    /// Adjustments made.
    pub adjustments: u32,
    /// Level trades after which the next adjustment happens.
    pub next_adjustment_at: u64,
}

/// Exit learner state.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExitStats {
    /// Mode.
    pub mode: ExitMode,
    /// Exploration probability.
    pub epsilon: f32,
    /// Trainings so far.
    pub trainings: u32,
    /// Entries given exits.
    pub suggestions: u64,
    /// Of which explored.
    pub explorations: u64,
    /// Best validation loss.
    pub best_validation_loss: Option<f32>,
    /// Last training.
    pub last_training: Option<ExitTrainReport>,
}
