//! The trade journal: what was believed at entry and what came of it.
//!
//! `open` records a trade with everything the models said; `close` completes it with the
//! exit, PnL and outcome class. Validation happens before any change, so a rejected command
//! leaves the journal exactly as it was. Open trades are kept until closed; closed trades are
//! kept up to `max_closed` (oldest dropped first), while running totals cover every trade
//! ever closed.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::error::{Error, check};
use crate::market::LEVEL_FEATURES;
pub use crate::market::LevelKind;
pub use crate::vocab::{ExitReason, Outcome, RankedBy, Side, Signal, validate_symbol};

/// Stop-loss and take-profit of a trade.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExitPlan {
    /// Stop-loss distance as a fraction of the entry price.
    pub stop_pct: f32,
    /// Take-profit distance as a fraction of the entry price.
    pub target_pct: f32,
    /// Stop-loss price.
    pub stop_price: f64,
    /// Take-profit price.
    pub target_price: f64,
    /// `true` if the exit learner explored (random distances) for this trade.
    pub explored: bool,
    /// `true` if the caller fixed the distances instead of the exit learner.
    pub from_caller: bool,
}

/// The support/resistance level that justified an entry.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LevelInput {
    /// Level price.
    pub price: f64,
    /// Support or resistance.
    pub kind: LevelKind,
    /// The six level features, each in `[0, 1]`, in the order of
    /// [`crate::market::LEVEL_FEATURE_NAMES`]: volume density, touches, bounce magnitude,
    /// failed breakouts, duration, multi-timeframe confirmation.
    pub features: [f32; LEVEL_FEATURES],
}

impl LevelInput {
    /// Checks price and feature ranges.
    pub fn validate(&self) -> Result<(), Error> {
        crate::error::positive("level price", self.price)?;
        if self
            .features
            .iter()
            .all(|f| f.is_finite() && (0.0..=1.0).contains(f))
        {
            Ok(())
        } else {
            Err(Error::InvalidLevel(
                "level features must be finite and in [0, 1]",
            ))
        }
    }
}

/// How a closed trade ended.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CloseRecord {
    /// Exit price.
    pub price: f64,
    /// Exit time (ms since the Unix epoch).
    pub time: i64,
    /// Why it closed.
    pub reason: ExitReason,
    /// Profit in quote currency: `side * (exit - entry) * size`.
    pub pnl: f64,
    /// Profit as a fraction of the entry price: `side * (exit - entry) / entry`.
    pub pnl_pct: f64,
    /// Outcome class.
    pub outcome: Outcome,
}

/// One trade, open or closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TradeRecord {
    /// Engine-assigned id, from 1, increasing.
    pub id: u64,
    /// Instrument.
    pub symbol: String,
    /// Direction.
    pub side: Side,
    /// Quantity (> 0).
    pub size: f64,
    /// Entry price.
    pub entry_price: f64,
    /// Entry time (ms since the Unix epoch).
    pub entry_time: i64,
    /// Feature vector at entry (emptied when the trade closes: the replay buffer keeps it).
    pub features: Vec<f32>,
    /// The signal model's view at entry.
    pub signal: Signal,
    /// Version of the signal model that produced `signal`.
    pub model_version: u32,
    /// Stop-loss / take-profit at entry.
    pub exits: ExitPlan,
    /// The level behind the entry, if any, and its score under the level weights then.
    pub level: Option<(LevelInput, f32)>,
    /// Filled in by `close`.
    pub close: Option<CloseRecord>,
    /// How a ranker picked it, if it was opened by `Rank`.
    pub ranked: Option<RankedBy>,
}

/// Journal configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct JournalConfig {
    /// Closed trades kept in memory (and in checkpoints), oldest dropped first. Default 1,000:
    /// the host's event journal keeps the full history.
    pub max_closed: u32,
    /// Most trades open at once. Default 1,000.
    pub max_open: u32,
}

impl Default for JournalConfig {
    fn default() -> Self {
        Self {
            max_closed: 1_000,
            max_open: 1_000,
        }
    }
}

impl JournalConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<(), Error> {
        check(
            (1..=1_000_000).contains(&self.max_closed),
            "journal.max_closed must be in 1..=1000000",
        )?;
        check(
            (1..=100_000).contains(&self.max_open),
            "journal.max_open must be in 1..=100000",
        )
    }
}

/// Open and recently closed trades.
#[derive(Debug, Clone, PartialEq)]
pub struct Journal {
    config: JournalConfig,
    next_id: u64,
    open: BTreeMap<u64, TradeRecord>,
    closed: VecDeque<TradeRecord>,
}

impl Journal {
    /// An empty journal; the first trade gets id 1.
    pub fn new(config: JournalConfig) -> Result<Self, Error> {
        config.validate()?;
        Ok(Self {
            config,
            next_id: 1,
            open: BTreeMap::new(),
            closed: VecDeque::new(),
        })
    }

    /// The id the next opened trade will get.
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// Open trades by id.
    pub fn open_trades(&self) -> impl DoubleEndedIterator<Item = &TradeRecord> {
        self.open.values()
    }

    /// Kept closed trades, oldest first.
    pub fn closed_trades(
        &self,
    ) -> impl DoubleEndedIterator<Item = &TradeRecord> + ExactSizeIterator {
        self.closed.iter()
    }

    /// A trade by id, if open or still kept.
    pub fn get(&self, id: u64) -> Option<&TradeRecord> {
        self.open.get(&id).or_else(|| {
            // Closed trades are in id order (ids increase and close order may differ, so search).
            self.closed.iter().rev().find(|t| t.id == id)
        })
    }

    /// Number of open trades.
    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    /// Checks that a new trade can be opened.
    pub(crate) fn check_open(&self) -> Result<(), Error> {
        check(
            self.open.len() < self.config.max_open as usize,
            "journal.max_open trades are already open",
        )
    }

    /// How many more trades may be opened now.
    pub(crate) fn free_slots(&self) -> usize {
        (self.config.max_open as usize).saturating_sub(self.open.len())
    }

    /// Whether a trade in `symbol` is open.
    pub(crate) fn has_open(&self, symbol: &str) -> bool {
        self.open.values().any(|t| t.symbol == symbol)
    }

    /// Attaches ranking information to a kept trade (checkpoint loading); `false` if no trade
    /// `id` is kept.
    pub(crate) fn set_ranked(&mut self, id: u64, ranked: RankedBy) -> bool {
        let t = match self.open.get_mut(&id) {
            Some(t) => t,
            None => match self.closed.iter_mut().find(|t| t.id == id) {
                Some(t) => t,
                None => return false,
            },
        };
        t.ranked = Some(ranked);
        true
    }

    /// Records an open trade; `record.id` must be `next_id()`.
    pub(crate) fn insert_open(&mut self, record: TradeRecord) {
        self.next_id = record.id + 1;
        self.open.insert(record.id, record);
    }

    /// Finds the open trade `id`, or says why it cannot be closed.
    pub(crate) fn check_close(&self, id: u64, time: i64) -> Result<&TradeRecord, Error> {
        match self.open.get(&id) {
            Some(t) if time < t.entry_time => Err(Error::CloseBeforeOpen {
                trade: id,
                opened_at: t.entry_time,
                closed_at: time,
            }),
            Some(t) => Ok(t),
            None if id >= 1 && id < self.next_id => Err(Error::TradeAlreadyClosed(id)),
            None => Err(Error::UnknownTrade(id)),
        }
    }

    /// Moves trade `id` (checked with `check_close`) to the closed list. Its feature vector
    /// is dropped: it lives on in the replay buffer as the trade's experience.
    pub(crate) fn complete(&mut self, id: u64, close: CloseRecord) -> Option<&TradeRecord> {
        let mut t = self.open.remove(&id)?;
        t.close = Some(close);
        t.features = Vec::new();
        if self.closed.len() >= self.config.max_closed as usize {
            self.closed.pop_front();
        }
        self.closed.push_back(t);
        self.closed.back()
    }

    pub(crate) fn from_parts(
        config: JournalConfig,
        next_id: u64,
        open: Vec<TradeRecord>,
        closed: Vec<TradeRecord>,
    ) -> Result<Self, &'static str> {
        config
            .validate()
            .map_err(|_| "journal config out of range")?;
        if open.len() > config.max_open as usize || closed.len() > config.max_closed as usize {
            return Err("journal holds more trades than its configuration allows");
        }
        let mut map = BTreeMap::new();
        for t in open {
            if t.close.is_some() || t.id == 0 || t.id >= next_id {
                return Err("open trade is closed or has an id out of range");
            }
            if map.insert(t.id, t).is_some() {
                return Err("duplicate open trade id");
            }
        }
        if closed
            .iter()
            .any(|t| t.close.is_none() || t.id == 0 || t.id >= next_id || map.contains_key(&t.id))
        {
            return Err("closed trade is open or has an id out of range");
        }
        Ok(Self {
            config,
            next_id,
            open: map,
            closed: closed.into(),
        })
    }
}
