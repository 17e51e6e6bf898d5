//! Paper trading: the built-in rule strategy, driving an engine bar by bar.
//!
//! The rule is deliberately simple, so that what improves over time is the learners, not the
//! rule: when flat and the close is within `entry_band` ATRs of a support level, buy; of a
//! resistance level, sell short (the better-scored level under the current level weights wins
//! when both qualify). The exit learner sets the stop-loss and take-profit. An open trade is
//! closed on a later bar when the bar's range reaches its stop (checked first: the cautious
//! assumption when one bar touches both) or its target, or after `max_hold_bars` bars. Gaps
//! fill at the bar's open. Every entry and exit goes through [`Engine::apply`], so everything
//! is journalled and learned from, and the same candles give the same engine state anywhere.

pub mod topk;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::command::{CloseTrade, Command, OpenTrade, Query, Reply, SuggestRequest};
use crate::engine::Apply;
use crate::error::{Error, check};
use crate::journal::{ExitReason, LevelInput, LevelKind, Outcome, Side};
use crate::learners::{ExitTrainReport, LevelAdjustment};
use crate::lifecycle::LearnReport;
use crate::market::{Candle, FeatureExtractor, Level, LevelDetector, LevelDetectorConfig};

/// Paper-trading rule configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PaperConfig {
    /// Symbol journalled for the trades (default `"PAPER"`).
    pub symbol: String,
    /// Quantity per trade (default 1).
    pub size: f64,
    /// Enter when the close is within this many ATRs of a level (default 0.3).
    pub entry_band: f64,
    /// Close after this many bars (default 24).
    pub max_hold_bars: u32,
    /// Skip entries whose signal score (`P(win) - P(loss)`) is below this; -1 takes every
    /// rule entry (default -1, so the signal model is measured, not obeyed).
    pub min_signal_score: f32,
    /// Support/resistance detection.
    pub levels: LevelDetectorConfig,
}

impl Default for PaperConfig {
    fn default() -> Self {
        Self {
            symbol: "PAPER".into(),
            size: 1.0,
            entry_band: 0.3,
            max_hold_bars: 24,
            min_signal_score: -1.0,
            levels: LevelDetectorConfig::default(),
        }
    }
}

impl PaperConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<(), Error> {
        crate::journal::validate_symbol(&self.symbol)?;
        check(
            self.size.is_finite() && self.size > 0.0,
            "paper.size must be > 0",
        )?;
        check(
            self.entry_band.is_finite() && self.entry_band > 0.0 && self.entry_band <= 10.0,
            "paper.entry_band must be in (0, 10]",
        )?;
        check(
            (1..=100_000).contains(&self.max_hold_bars),
            "paper.max_hold_bars must be in 1..=100000",
        )?;
        check(
            (-1.0..=1.0).contains(&self.min_signal_score),
            "paper.min_signal_score must be in [-1, 1]",
        )?;
        self.levels.validate().map_err(Error::InvalidConfig)
    }
}

/// What a bar did.
#[derive(Debug, Clone, PartialEq)]
pub enum PaperEvent {
    /// A trade was opened at the bar's close.
    Opened {
        /// Trade id.
        trade_id: u64,
        /// Direction.
        side: Side,
        /// Entry price.
        price: f64,
        /// Stop-loss price.
        stop: f64,
        /// Take-profit price.
        target: f64,
        /// The exit learner explored for this trade.
        explored: bool,
        /// Signal score at entry.
        score: f32,
    },
    /// The open trade was closed.
    Closed {
        /// Trade id.
        trade_id: u64,
        /// Exit price.
        price: f64,
        /// Why.
        reason: ExitReason,
        /// PnL as a fraction of the entry price.
        pnl_pct: f64,
        /// Outcome class.
        outcome: Outcome,
        /// A level-weight adjustment this close triggered.
        level_adjustment: Option<LevelAdjustment>,
        /// An exit-learner training this close triggered.
        exit_training: Option<ExitTrainReport>,
        /// A signal-model run this close triggered.
        learned: Option<Box<LearnReport>>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Position {
    trade_id: u64,
    side: Side,
    stop: f64,
    target: f64,
    bars: u32,
}

/// The rule strategy's state: features, levels and the open position.
#[derive(Debug, Clone, PartialEq)]
pub struct PaperTrader {
    config: PaperConfig,
    features: FeatureExtractor,
    levels: LevelDetector,
    position: Option<Position>,
    /// `(features, journal.max_open)` of the engine, read once with `Query::Config`.
    engine_limits: Option<(u32, u32)>,
}

impl PaperTrader {
    /// A trader with no history.
    pub fn new(config: PaperConfig) -> Result<Self, Error> {
        config.validate()?;
        let levels = LevelDetector::new(config.levels).map_err(Error::InvalidConfig)?;
        Ok(Self {
            config,
            features: FeatureExtractor::new(),
            levels,
            position: None,
            engine_limits: None,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &PaperConfig {
        &self.config
    }

    /// Current support/resistance levels.
    pub fn levels(&self) -> &[Level] {
        self.levels.levels()
    }

    /// Id of the open trade, if any.
    pub fn open_trade(&self) -> Option<u64> {
        self.position.map(|p| p.trade_id)
    }

    /// Feeds the next bar: manages the open trade, or looks for an entry. The engine (a
    /// local [`crate::Engine`] or anything else that applies commands, like a host running the
    /// plugin) must be configured for the 32 candle features (`EngineConfig::features ==
    /// 32`, the default). An invalid candle, a wrongly configured engine or a full journal
    /// is an error that leaves trader and engine unchanged.
    pub fn on_bar<E: Apply + ?Sized>(
        &mut self,
        engine: &mut E,
        c: &Candle,
    ) -> Result<Option<PaperEvent>, Error> {
        c.validate().map_err(Error::InvalidCandle)?;
        let (width, max_open) = match self.engine_limits {
            Some(l) => l,
            None => {
                let Reply::Config(config) = engine.apply(Command::Query(Query::Config), c.time)?
                else {
                    return Err(Error::InvalidConfig(
                        "engine answered Query::Config with another reply",
                    ));
                };
                let l = (config.features, config.journal.max_open);
                self.engine_limits = Some(l);
                l
            }
        };
        if width as usize != crate::market::FEATURES {
            return Err(Error::FeatureLength {
                expected: width,
                got: crate::market::FEATURES as u32,
            });
        }
        if let Some(p) = self.position
            && let Some((price, reason)) = self.exit(p, c)
        {
            let close = CloseTrade {
                trade_id: p.trade_id,
                price,
                reason,
            };
            let Reply::Closed(done) = engine.apply(Command::Close(close), c.time)? else {
                return Err(Error::InvalidConfig(
                    "engine answered Close with another reply",
                ));
            };
            self.position = None;
            self.advance(c);
            return Ok(Some(PaperEvent::Closed {
                trade_id: p.trade_id,
                price,
                reason,
                pnl_pct: done.pnl_pct,
                outcome: done.outcome,
                level_adjustment: done.level_adjustment,
                exit_training: done.exit_training,
                learned: done.learned.map(Box::new),
            }));
        }

        // An entry needs a free slot in the journal; checked before the bar is consumed, so
        // the open below cannot be rejected (its inputs are validated candle data).
        if self.position.is_none() {
            let Reply::Trades(open) = engine.apply(Command::Query(Query::OpenTrades), c.time)?
            else {
                return Err(Error::InvalidConfig(
                    "engine answered Query::OpenTrades with another reply",
                ));
            };
            if open.len() >= max_open as usize {
                return Err(Error::InvalidConfig(
                    "journal.max_open trades are already open",
                ));
            }
        }
        // Features and levels as of this bar's close, then maybe enter at the close.
        let features = self.advance(c);
        if let Some(p) = &mut self.position {
            p.bars += 1;
            return Ok(None);
        }
        let Some(x) = features else { return Ok(None) };
        let Some((side, level)) = self.entry(engine, &x, c) else {
            return Ok(None);
        };
        if self.config.min_signal_score > -1.0 {
            let ask = SuggestRequest {
                side,
                price: c.close,
                features: x.to_vec(),
                levels: Vec::new(),
            };
            if let Ok(Reply::Suggestion(s)) = engine.apply(Command::Suggest(ask), c.time)
                && s.signal.score < self.config.min_signal_score
            {
                return Ok(None);
            }
        }
        let open = OpenTrade {
            symbol: self.config.symbol.clone(),
            side,
            price: c.close,
            size: self.config.size,
            features: x.to_vec(),
            level: Some(LevelInput {
                price: level.price,
                kind: level.kind,
                features: level.features,
            }),
            exits: None,
        };
        let Reply::Opened(opened) = engine.apply(Command::Open(open), c.time)? else {
            return Err(Error::InvalidConfig(
                "engine answered Open with another reply",
            ));
        };
        self.position = Some(Position {
            trade_id: opened.trade_id,
            side,
            stop: opened.exits.stop_price,
            target: opened.exits.target_price,
            bars: 0,
        });
        Ok(Some(PaperEvent::Opened {
            trade_id: opened.trade_id,
            side,
            price: c.close,
            stop: opened.exits.stop_price,
            target: opened.exits.target_price,
            explored: opened.exits.explored,
            score: opened.signal.score,
        }))
    }

    /// Pushes the bar into the feature extractor and level detector; the features if warm.
    fn advance(&mut self, c: &Candle) -> Option<[f32; crate::market::FEATURES]> {
        // Both validate the candle, which `on_bar` already did.
        let _ = self.levels.push(c);
        self.features.push(c)
    }

    /// Where the open position exits on this bar, if it does.
    fn exit(&self, p: Position, c: &Candle) -> Option<(f64, ExitReason)> {
        match p.side {
            Side::Long if c.low <= p.stop => Some((c.open.min(p.stop), ExitReason::Stop)),
            Side::Long if c.high >= p.target => Some((c.open.max(p.target), ExitReason::Target)),
            Side::Short if c.high >= p.stop => Some((c.open.max(p.stop), ExitReason::Stop)),
            Side::Short if c.low <= p.target => Some((c.open.min(p.target), ExitReason::Target)),
            _ if p.bars >= self.config.max_hold_bars => Some((c.close, ExitReason::Timeout)),
            _ => None,
        }
    }

    /// The rule: a level within `entry_band` ATRs of the close, best level score (under
    /// the engine's level weights) first.
    fn entry<E: Apply + ?Sized>(
        &self,
        engine: &mut E,
        x: &[f32],
        c: &Candle,
    ) -> Option<(Side, Level)> {
        let close = c.close;
        let atr = self.levels.atr().filter(|a| *a > 0.0)?;
        let band = self.config.entry_band * atr;
        let near = |kind: LevelKind| {
            self.levels
                .nearest(kind)
                .filter(|l| (close - l.price).abs() <= band)
                .copied()
        };
        let long = near(LevelKind::Support).map(|l| (Side::Long, l));
        let short = near(LevelKind::Resistance).map(|l| (Side::Short, l));
        match (long, short) {
            (Some(a), Some(b)) => {
                let ask = SuggestRequest {
                    side: Side::Long,
                    price: close,
                    features: x.to_vec(),
                    levels: [a.1, b.1]
                        .iter()
                        .map(|l| LevelInput {
                            price: l.price,
                            kind: l.kind,
                            features: l.features,
                        })
                        .collect(),
                };
                let scores = match engine.apply(Command::Suggest(ask), c.time) {
                    Ok(Reply::Suggestion(s)) => s.level_scores,
                    _ => Vec::new(),
                };
                Some(match scores[..] {
                    [sa, sb] if sb > sa => b,
                    _ => a,
                })
            }
            (a, b) => a.or(b),
        }
    }
}
