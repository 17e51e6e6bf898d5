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
use crate::lifecycle::{LearnReport, TrialEnd};
use crate::market::{
    Candle, FEATURES, FeatureExtractor, Level, LevelDetector, LevelDetectorConfig,
};

/// Paper-trading rule configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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

/// What a bar did. Serialized externally tagged (`{"Opened": {...}}`) for the JS binding.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
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
        /// A trial this close ended (a promotion changes the champion).
        trial: Option<Box<TrialEnd>>,
        /// A version this close made, or a retrain it started or finished.
        learned: Option<Box<LearnReport>>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Position {
    trade_id: u64,
    side: Side,
    stop: f64,
    target: f64,
    bars: u32,
}

/// The rule strategy's state: features, levels and the open position.
///
/// The whole state is serde-serializable with a validating deserializer, and
/// [`PaperTrader::snapshot`] / [`PaperTrader::restore`] turn it into bytes, so a trader can
/// be checkpointed beside its engine and continue bit-identically.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "PaperTraderState")]
pub struct PaperTrader {
    config: PaperConfig,
    features: FeatureExtractor,
    levels: LevelDetector,
    position: Option<Position>,
    /// `(features, journal.max_open)` of the engine, read once with `Query::Config`.
    engine_limits: Option<(u32, u32)>,
    /// The 32 features of the last bar, once warm.
    last_features: Option<[f32; FEATURES]>,
}

/// Unvalidated mirror of [`PaperTrader`] for deserialization.
#[derive(Deserialize)]
struct PaperTraderState {
    config: PaperConfig,
    features: FeatureExtractor,
    levels: LevelDetector,
    position: Option<Position>,
    engine_limits: Option<(u32, u32)>,
    last_features: Option<[f32; FEATURES]>,
}

impl TryFrom<PaperTraderState> for PaperTrader {
    type Error = &'static str;

    fn try_from(s: PaperTraderState) -> Result<Self, Self::Error> {
        s.config
            .validate()
            .map_err(|_| "paper trader state: invalid configuration")?;
        if *s.levels.config() != s.config.levels {
            return Err("paper trader state: level detector configuration differs");
        }
        if let Some(p) = &s.position {
            let positive = |x: f64| x.is_finite() && x > 0.0;
            if p.trade_id == 0 || !positive(p.stop) || !positive(p.target) {
                return Err("paper trader state: open position out of range");
            }
            if p.bars > s.config.max_hold_bars {
                return Err("paper trader state: position held longer than max_hold_bars");
            }
        }
        if let Some(x) = &s.last_features {
            if x.iter().any(|v| !(v.is_finite() && v.abs() <= 10.0)) {
                return Err("paper trader state: features out of range");
            }
            if s.features.bars() <= crate::market::WARM {
                return Err("paper trader state: features before warm-up");
            }
        }
        Ok(Self {
            config: s.config,
            features: s.features,
            levels: s.levels,
            position: s.position,
            engine_limits: s.engine_limits,
            last_features: s.last_features,
        })
    }
}

/// Payload schema of [`PaperTrader::snapshot`] written and read by this build (its kind in
/// the checkpoint envelope is [`crate::checkpoint::KIND_PAPER_TRADER`]).
pub const SNAPSHOT_SCHEMA: u16 = 1;

/// The payload of a snapshot in the layout before the checkpoint envelope (magic
/// `TLPAPER\0`; checksum at 8..16 over 16..; version 1 at 16..18; zero at 18..20; payload
/// length at 20..24), or `None` if `bytes` are not of that layout.
fn legacy_payload(bytes: &[u8]) -> Option<Result<&[u8], crate::error::CheckpointError>> {
    use crate::error::CheckpointError as E;
    const LEGACY_MAGIC: &[u8; 8] = b"TLPAPER\0";
    const LEGACY_HEADER: usize = 24;
    if bytes.len() < 8 || &bytes[..8] != LEGACY_MAGIC {
        return None;
    }
    Some((|| {
        let got = bytes.len() as u64;
        if bytes.len() < LEGACY_HEADER {
            return Err(E::Truncated {
                needed: LEGACY_HEADER as u64,
                got,
            });
        }
        let len = u32::from_le_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
        let needed = LEGACY_HEADER as u64 + u64::from(len);
        if got != needed {
            return Err(if got < needed {
                E::Truncated { needed, got }
            } else {
                E::TrailingBytes(got - needed)
            });
        }
        let mut sum = [0u8; 8];
        sum.copy_from_slice(&bytes[8..16]);
        if crate::checkpoint::xxh64(&bytes[16..], 0) != u64::from_le_bytes(sum) {
            return Err(E::ChecksumMismatch);
        }
        if bytes[16..20] != [1, 0, 0, 0] {
            return Err(E::Invalid("paper trader snapshot: bad header"));
        }
        Ok(&bytes[LEGACY_HEADER..])
    })())
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
            last_features: None,
        })
    }

    /// The trader's state as bytes, in the checkpoint envelope (`crate::checkpoint`:
    /// magic `TRADLOOP`, XXH64 checksum, payload kind
    /// [`KIND_PAPER_TRADER`](crate::checkpoint::KIND_PAPER_TRADER), schema
    /// [`SNAPSHOT_SCHEMA`]); the payload is the postcard encoding of the trader.
    pub fn snapshot(&self) -> Vec<u8> {
        // Serialising into a Vec cannot fail: every type here has a total Serialize impl.
        let payload = postcard::to_allocvec(self).unwrap_or_default();
        crate::checkpoint::seal_kind(
            crate::checkpoint::KIND_PAPER_TRADER,
            SNAPSHOT_SCHEMA,
            &payload,
        )
    }

    /// A trader from [`PaperTrader::snapshot`] bytes. Truncated, foreign, corrupt and
    /// future-version input, an engine checkpoint, and inconsistent state are an
    /// [`Error::Checkpoint`]; nothing panics on any input.
    ///
    /// Snapshots of the layout before the envelope (magic `TLPAPER\0`, a 24-byte header of
    /// its own, the same payload) are still read, so a page's saved trader survives the
    /// upgrade.
    pub fn restore(bytes: &[u8]) -> Result<Self, Error> {
        use crate::error::CheckpointError as E;
        let payload = match legacy_payload(bytes) {
            Some(payload) => payload?,
            None => {
                crate::checkpoint::open_kind(
                    bytes,
                    crate::checkpoint::KIND_PAPER_TRADER,
                    SNAPSHOT_SCHEMA,
                )?
                .1
            }
        };
        let (trader, rest) = postcard::take_from_bytes::<PaperTrader>(payload).map_err(|e| {
            match e {
                // The validating deserializer's messages are not kept by postcard.
                postcard::Error::SerdeDeCustom => {
                    E::Invalid("paper trader snapshot: inconsistent state")
                }
                _ => E::Decode,
            }
        })?;
        if !rest.is_empty() {
            return Err(E::Invalid("paper trader snapshot: bytes after the state").into());
        }
        Ok(trader)
    }

    /// The 32 candle features of the last bar (see [`FeatureExtractor`]), once past the
    /// warm-up; what a manual entry on that bar would be journalled with.
    pub fn features(&self) -> Option<&[f32; FEATURES]> {
        self.last_features.as_ref()
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
        if width as usize != FEATURES {
            return Err(Error::FeatureLength {
                expected: width,
                got: FEATURES as u32,
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
                trial: done.trial.map(Box::new),
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
    fn advance(&mut self, c: &Candle) -> Option<[f32; FEATURES]> {
        // Both validate the candle, which `on_bar` already did.
        let _ = self.levels.push(c);
        self.last_features = self.features.push(c);
        self.last_features
    }

    /// Where the open position exits on this bar, if it does.
    fn exit(&self, p: Position, c: &Candle) -> Option<(f64, ExitReason)> {
        stop_or_target(p.side, p.stop, p.target, c).or_else(|| {
            (p.bars >= self.config.max_hold_bars).then_some((c.close, ExitReason::Timeout))
        })
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

/// Where a position exits on bar `c` at its stop or its target, if it does. The stop wins
/// when the bar reaches both (which came first is unknown, so the worse is assumed), and a
/// bar that opens beyond the level fills at its open.
fn stop_or_target(side: Side, stop: f64, target: f64, c: &Candle) -> Option<(f64, ExitReason)> {
    match side {
        Side::Long if c.low <= stop => Some((c.open.min(stop), ExitReason::Stop)),
        Side::Long if c.high >= target => Some((c.open.max(target), ExitReason::Target)),
        Side::Short if c.high >= stop => Some((c.open.max(stop), ExitReason::Stop)),
        Side::Short if c.low <= target => Some((c.open.min(target), ExitReason::Target)),
        _ => None,
    }
}
