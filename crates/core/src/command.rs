//! Commands into the engine and its replies. These serde types are the one vocabulary shared
//! by every surface: the JS bindings, the plugin ABI and the host's event journal.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::config::EngineConfig;
use crate::journal::{ExitPlan, ExitReason, LevelInput, Outcome, Side, Signal, TradeRecord};
use crate::learners::{ExitMode, ExitTrainReport, LevelAdjustment};
use crate::lifecycle::ab::Arm;
use crate::lifecycle::mixture::ExpertProbs;
use crate::lifecycle::monitor::{MonitorReport, WindowStats};
use crate::lifecycle::policy::LearnMode;
use crate::lifecycle::registry::{AuditEntry, VersionKind};
use crate::lifecycle::schedule::Job;
use crate::lifecycle::{
    DriftAlarm, DriftReport, LearnReport, MixtureReport, RetrainStatus, TrialEnd, TrialStatus,
    VersionInfo,
};
use crate::ranking::{RankReport, RankRequest, RankScore};
use crate::stats::TradeStats;

/// Everything an engine can be asked to do. Apply with [`crate::Engine::apply`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Command {
    /// Journal a new trade; the engine scores it and plans its exits.
    Open(OpenTrade),
    /// Close an open trade; the outcome becomes a learning experience.
    Close(CloseTrade),
    /// What the models think of a possible entry (changes nothing): the served forecast,
    /// exits and level scores.
    Suggest(SuggestRequest),
    /// A labelled sample that is not a trade (e.g. a bar's return over the label horizon).
    /// It reveals the label of the oldest `Forecast` of the same features still waiting
    /// (that forecast is scored), or of a forecast made now; then everything learns it.
    Observe(Observation),
    /// Train the signal model (policy mode auto / incremental / retrain / eval) and the
    /// exit learner, if it has data.
    Learn(LearnRequest),
    /// Make a retained version the champion.
    Promote(u32),
    /// Make an earlier version champion again (default: the previous champion).
    Rollback(Option<u32>),
    /// Run the scheduled jobs that are due now (see `Query::Due`).
    RunDue,
    /// Switch the exit learner between training and deployment.
    SetExitMode(ExitMode),
    /// Read state (changes nothing).
    Query(Query),
    /// Rank a universe with the ranker model and open a long trade for each of the top K
    /// (see [`crate::ranking`]).
    Rank(RankRequest),
    /// The served forecast for features whose label a later `Observe` will reveal; the
    /// experts' forecasts are kept until then, so each is scored on what it said before the
    /// label was known.
    Forecast(ForecastRequest),
}

impl Command {
    /// The form of this command to journal once it returned `reply`: a `Rank` that asked
    /// the ranker carries the scores it got, so replaying the journal needs no ranker and
    /// gives the same state even if the model changed since. Every other command is
    /// journalled as it is.
    pub fn journaled(self, reply: &Reply) -> Command {
        match (self, reply) {
            (Command::Rank(r), Reply::Ranked(x)) if r.scored.is_none() => {
                Command::Rank(r.resolved(&x.model, &x.scores))
            }
            (c, _) => c,
        }
    }
}

/// Open a trade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
    #[cfg_attr(feature = "ts", ts(type = "number[] | Float32Array"))]
    pub features: Vec<f32>,
    /// The support/resistance level behind the entry, if any.
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub level: Option<LevelInput>,
    /// Fixed `(stop_price, target_price)`; `None` lets the exit learner choose.
    #[cfg_attr(feature = "ts", ts(optional = nullable))]
    pub exits: Option<(f64, f64)>,
}

/// Close a trade.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SuggestRequest {
    /// Direction considered.
    pub side: Side,
    /// Price considered.
    pub price: f64,
    /// Feature vector.
    #[cfg_attr(feature = "ts", ts(type = "number[] | Float32Array"))]
    pub features: Vec<f32>,
    /// Candidate levels to score (may be empty; at most 64).
    pub levels: Vec<LevelInput>,
}

/// Forecast a row whose label comes later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ForecastRequest {
    /// Feature vector, `config.features` long, finite.
    #[cfg_attr(feature = "ts", ts(type = "number[] | Float32Array"))]
    pub features: Vec<f32>,
}

/// Train now.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LearnRequest {
    /// Auto lets the policy decide; the others force a kind of run.
    pub mode: LearnMode,
}

/// A labelled sample that is not a trade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Observation {
    /// Feature vector, `config.features` long, finite.
    #[cfg_attr(feature = "ts", ts(type = "number[] | Float32Array"))]
    pub features: Vec<f32>,
    /// The return that followed, as a fraction; classified with `flat_band` like a long
    /// trade's PnL %.
    pub return_pct: f64,
}

/// Read-only questions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
    /// Every retained model version.
    Versions,
    /// The newest entries of the version history (at most `limit`).
    Audit {
        /// Most entries returned.
        limit: u32,
    },
    /// Monitoring over all versions, or one version's trades.
    Monitor {
        /// `None`: every version.
        #[cfg_attr(feature = "ts", ts(optional = nullable))]
        version: Option<u32>,
    },
    /// The candidate on trial, its interim test and A/B arms.
    Trial,
    /// The drift detectors.
    Drift,
    /// The scheduled jobs due now.
    Due,
    /// How the ranker's top K did against their universe.
    Ranking,
    /// The served mixture: each expert's weight and prequential score, and the regret
    /// bound against the prior.
    Mixture,
    /// Accuracy, win rate and PnL of the trades closed in the `days` days up to the newest
    /// close (the engine's own clock: historical runs report their own period).
    Accuracy {
        /// Window length in days.
        days: u32,
    },
}

/// The answer to a command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Reply {
    /// Answer to `Open`.
    Opened(Opened),
    /// Answer to `Close`.
    Closed(Closed),
    /// Answer to `Suggest`.
    Suggestion(Suggestion),
    /// Answer to `Observe`.
    Observed(Observed),
    /// Answer to `Learn`.
    Learned(Learned),
    /// Answer to `Promote` and `Rollback`: the champion now.
    Champion(u32),
    /// Answer to `RunDue`: each job run and what it did.
    Ran(Vec<(Job, LearnReport)>),
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
    /// Answer to `Query::Versions`.
    Versions(Vec<VersionInfo>),
    /// Answer to `Query::Audit`.
    Audit(Vec<AuditEntry>),
    /// Answer to `Query::Monitor`.
    Monitor(Box<MonitorReport>),
    /// Answer to `Query::Trial` (`None`: no candidate on trial).
    Trial(Option<TrialStatus>),
    /// Answer to `Query::Drift`.
    Drift(DriftReport),
    /// Answer to `Query::Due`.
    Due(Vec<Job>),
    /// Answer to `Rank`.
    Ranked(Box<Ranked>),
    /// Answer to `Query::Ranking`.
    Ranking(Box<RankReport>),
    /// Answer to `Forecast`.
    Forecast(Forecasted),
    /// Answer to `Query::Mixture`.
    Mixture(Box<MixtureReport>),
    /// Answer to `Query::Accuracy`.
    Accuracy(AccuracyReport),
}

/// A registered forecast.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Forecasted {
    /// Its id; the `Observe` that reveals its label reports it.
    pub id: u64,
    /// The served mixture's forecast.
    pub signal: Signal,
    /// The champion's version (one of the mixture's experts).
    pub model_version: u32,
    /// What each expert forecast, in [`Expert::ALL`](crate::lifecycle::mixture::Expert)
    /// order (the mixture of these is `signal`).
    pub experts: ExpertProbs,
}

/// Trades closed in a window ending at the newest close.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AccuracyReport {
    /// Window length in days.
    pub days: u32,
    /// The newest close (ms since the Unix epoch); `None` before the first.
    pub until: Option<i64>,
    /// The trades in the window.
    pub window: WindowStats,
}

/// A trade was opened.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Opened {
    /// Its id, for `Close`.
    pub trade_id: u64,
    /// The served forecast (the mixture), recorded with the trade.
    pub signal: Signal,
    /// The version in the champion's place for this trade (the candidate on trial when A/B
    /// routing sent the trade to it).
    pub model_version: u32,
    /// The A/B arm that served it.
    pub arm: Arm,
    /// Stop-loss and take-profit.
    pub exits: ExitPlan,
    /// Score of the entry's level under the current level weights.
    pub level_score: Option<f32>,
    /// The drift alarm the entry's features raised (PSI).
    pub drift: Option<DriftAlarm>,
}

/// A trade was closed and learned from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
    /// The drift alarm this close raised (Page-Hinkley on the served forecast's errors).
    pub drift: Option<DriftAlarm>,
    /// A trial this close ended (a promotion changes the champion).
    pub trial: Option<TrialEnd>,
    /// A version this close made, or a retrain it started or finished.
    pub learned: Option<LearnReport>,
}

/// An observation was predicted and learned from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Observed {
    /// Its experience id (bit 63 set: never a trade id).
    #[cfg_attr(feature = "ts", ts(type = "number | bigint"))]
    pub id: u64,
    /// The registered forecast whose label it revealed (`None`: a forecast made now).
    pub forecast: Option<u64>,
    /// The forecast that was scored: the registered one as it was served, or the one made
    /// now, before anything learned the row.
    pub signal: Signal,
    /// The champion's version.
    pub model_version: u32,
    /// The actual class.
    pub outcome: Outcome,
    /// The drift alarm it raised (PSI on its features, Page-Hinkley on the served
    /// forecast's error).
    pub drift: Option<DriftAlarm>,
    /// A trial it ended (a promotion changes the champion).
    pub trial: Option<TrialEnd>,
    /// A version it made, or a retrain it started or finished.
    pub learned: Option<LearnReport>,
}

/// The models' view of a possible entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Suggestion {
    /// The served forecast (the mixture).
    pub signal: Signal,
    /// The champion's version (one of the mixture's experts).
    pub model_version: u32,
    /// Exit learner (no exploration).
    pub exits: ExitPlan,
    /// Score of each candidate level, in request order.
    pub level_scores: Vec<f32>,
}

/// What `Learn` did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Learned {
    /// Signal model: the policy's decision and the run.
    pub signal: LearnReport,
    /// Exit learner training, if there was enough data.
    pub exits: Option<ExitTrainReport>,
}

/// Totals and learner state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SignalStats {
    /// The champion's version.
    pub champion: u32,
    /// How the champion was made.
    pub champion_kind: VersionKind,
    /// The champion is a network (`false`: the class prior).
    pub network: bool,
    /// The candidate on trial.
    pub challenger: Option<u32>,
    /// Versions retained.
    pub versions: u32,
    /// Versions created ever.
    pub created: u32,
    /// Labels learned so far.
    pub labels: u64,
    /// Labels since the last version was made.
    pub new_samples: u32,
    /// When a version was last made.
    pub last_update: Option<i64>,
    /// A retrain is running.
    pub retrain: Option<RetrainStatus>,
    /// A drift detector has fired since the last retrain.
    pub drift: bool,
    /// Learning is paused by the extreme-input guard.
    pub paused: bool,
}

/// Level learner state.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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

/// Answer to [`Command::Rank`](crate::Command::Rank).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Ranked {
    /// Model version that scored.
    pub model: String,
    /// One score per candidate, in the request's order.
    pub scores: Vec<RankScore>,
    /// The top K, as candidate indices, best first.
    pub picks: Vec<u32>,
    /// Trades opened, as `(candidate index, open reply)`; a pick that already has an open
    /// trade, or that the journal had no room for (`journal.max_open`), opens none.
    pub opened: Vec<(u32, Opened)>,
}
