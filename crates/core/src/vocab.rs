//! The shared vocabulary: the small value types and size limits that the journal, the
//! learners, the lifecycle, ranking and the configuration all speak. It imports nothing
//! of theirs, so they depend on it and not on each other.

use alloc::string::String;
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Most features per vector (`EngineConfig::features`).
pub const MAX_FEATURES: u32 = 1024;
/// Longest symbol, in bytes.
pub const MAX_SYMBOL: usize = 32;
/// Most candidates in one ranking.
pub const MAX_CANDIDATES: usize = 1024;
/// Longest model version string.
pub const MAX_MODEL_NAME: usize = 64;

/// Trade direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Side {
    /// Profits when the price rises.
    Long,
    /// Profits when the price falls.
    Short,
}

impl Side {
    /// `+1` for long, `-1` for short.
    pub fn sign(self) -> f64 {
        match self {
            Side::Long => 1.0,
            Side::Short => -1.0,
        }
    }
}

/// Why a trade was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ExitReason {
    /// The stop-loss was hit.
    Stop,
    /// The take-profit was hit.
    Target,
    /// Closed by hand.
    Manual,
    /// Held for the maximum time.
    Timeout,
}

/// Outcome class of a closed trade; also the signal model's classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Outcome {
    /// PnL % below `-flat_band`.
    Loss = 0,
    /// PnL % within `±flat_band`.
    Flat = 1,
    /// PnL % above `flat_band`.
    Win = 2,
}

impl Outcome {
    /// Number of classes.
    pub const COUNT: usize = 3;

    /// Class index `0..3`.
    pub fn index(self) -> u8 {
        self as u8
    }

    /// The outcome with this class index.
    pub fn from_index(i: u8) -> Option<Self> {
        match i {
            0 => Some(Outcome::Loss),
            1 => Some(Outcome::Flat),
            2 => Some(Outcome::Win),
            _ => None,
        }
    }

    /// Classifies a PnL fraction with the flat band (both as fractions, 0.001 = 0.1%).
    pub fn classify(pnl_pct: f64, flat_band: f64) -> Self {
        if pnl_pct > flat_band {
            Outcome::Win
        } else if pnl_pct < -flat_band {
            Outcome::Loss
        } else {
            Outcome::Flat
        }
    }
}

/// The signal model's view of a feature vector.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Signal {
    /// Class probabilities `[loss, flat, win]`.
    pub probs: [f32; 3],
    /// Most probable class.
    pub class: Outcome,
    /// `P(win) - P(loss)`, in `[-1, 1]`.
    pub score: f32,
}

/// Checks a symbol: 1-32 printable ASCII characters, no spaces.
pub fn validate_symbol(s: &str) -> Result<(), Error> {
    if (1..=MAX_SYMBOL).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(Error::InvalidSymbol)
    }
}

/// How a trade was picked by a ranker, recorded in the trade.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RankedBy {
    /// Model version that scored.
    pub model: String,
    /// Its score.
    pub score: f32,
    /// Its class, if the model has one.
    pub class: Option<Outcome>,
    /// Place in the ranking, from 1.
    pub rank: u32,
    /// Number of candidates ranked.
    pub of: u32,
}
