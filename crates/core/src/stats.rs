//! Running statistics over every closed trade (never truncated, unlike the journal).

use serde::{Deserialize, Serialize};

use crate::vocab::Outcome;

/// Totals over all closed trades.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TradeStats {
    /// Closed trades.
    pub closed: u64,
    /// Closed trades per outcome `[loss, flat, win]`.
    pub outcomes: [u64; 3],
    /// Closed trades whose entry signal class equalled the outcome.
    pub correct: u64,
    /// Sum of PnL in quote currency.
    pub pnl: f64,
    /// Mean PnL % per trade (Welford).
    pub mean_pnl_pct: f64,
    /// Sum of squared deviations of PnL % (Welford).
    pub m2_pnl_pct: f64,
    /// Cumulative PnL % (sum over trades, an equity curve in percent of one unit).
    pub equity_pct: f64,
    /// Highest `equity_pct` so far (starts at 0).
    pub peak_pct: f64,
    /// Largest fall of `equity_pct` from a peak.
    pub max_drawdown_pct: f64,
}

impl TradeStats {
    pub(crate) fn record(&mut self, pnl: f64, pnl_pct: f64, outcome: Outcome, predicted: Outcome) {
        self.closed += 1;
        self.outcomes[usize::from(outcome.index())] += 1;
        if outcome == predicted {
            self.correct += 1;
        }
        self.pnl += pnl;
        let d = pnl_pct - self.mean_pnl_pct;
        self.mean_pnl_pct += d / self.closed as f64;
        self.m2_pnl_pct += d * (pnl_pct - self.mean_pnl_pct);
        self.equity_pct += pnl_pct;
        self.peak_pct = self.peak_pct.max(self.equity_pct);
        self.max_drawdown_pct = self.max_drawdown_pct.max(self.peak_pct - self.equity_pct);
    }

    /// Share of closed trades that were wins.
    pub fn win_rate(&self) -> f64 {
        if self.closed == 0 {
            0.0
        } else {
            self.outcomes[2] as f64 / self.closed as f64
        }
    }

    /// Share of closed trades whose entry signal predicted the outcome class.
    pub fn accuracy(&self) -> f64 {
        if self.closed == 0 {
            0.0
        } else {
            self.correct as f64 / self.closed as f64
        }
    }

    /// Per-trade Sharpe ratio: mean PnL % / standard deviation (0 with fewer than 2 trades).
    pub fn sharpe(&self) -> f64 {
        if self.closed < 2 {
            return 0.0;
        }
        let sd = libm::sqrt(self.m2_pnl_pct / (self.closed - 1) as f64);
        if sd > 0.0 {
            self.mean_pnl_pct / sd
        } else {
            0.0
        }
    }
}
