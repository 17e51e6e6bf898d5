//! The figures of a backtest report, freqtrade's backtesting summary as the reference:
//! returns, risk-adjusted ratios, drawdown, trade statistics and exposure, over the whole run
//! or a window of it (the in-sample / out-of-sample split).

use core::ops::Range;
use serde::Serialize;
use tradeloop_strategy::abi::Bar;

use crate::broker::Trade;
use crate::run::Outcome;

const DAY_MS: i64 = 86_400_000;
const YEAR_MS: f64 = 365.25 * 86_400_000.0;

/// The summary of one strategy over a window of bars.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "BacktestMetrics"))]
pub struct Metrics {
    /// Bars in the window.
    pub bars: u32,
    /// Time of the first bar (ms).
    pub start: i64,
    /// Time of the last bar (ms).
    pub end: i64,
    /// Equity before the window (the starting cash for a window at the start).
    pub start_equity: f64,
    /// Equity at the last close.
    pub final_equity: f64,
    /// `final / start - 1`.
    pub total_return: f64,
    /// Compound annual growth rate; `None` for a window shorter than a day.
    pub annual_return: Option<f64>,
    /// Mean over standard deviation of daily returns, × √365; `None` with fewer than two
    /// days or no variation.
    pub sharpe: Option<f64>,
    /// Mean over downside deviation of daily returns, × √365.
    pub sortino: Option<f64>,
    /// Annual return over the maximum drawdown.
    pub calmar: Option<f64>,
    /// Largest fall from a peak of equity, as a fraction of the peak.
    pub max_drawdown: f64,
    /// Time of that peak (ms).
    pub drawdown_start: i64,
    /// Time of the trough (ms).
    pub drawdown_end: i64,
    /// Bars from the peak to the trough.
    pub drawdown_bars: u32,
    /// Trades that entered in the window.
    pub trades: u32,
    /// Share of those trades with a positive PnL.
    pub win_rate: Option<f64>,
    /// Gross profit over gross loss; `None` without a losing trade.
    pub profit_factor: Option<f64>,
    /// Mean PnL per trade, in cash.
    pub expectancy: Option<f64>,
    /// freqtrade's expectancy ratio: `(1 + mean win / mean loss) × win rate − 1` (mean win 0
    /// without a win); `None` without a losing trade.
    pub expectancy_ratio: Option<f64>,
    /// Share of the window's bars that closed with a position open.
    pub exposure: f64,
    /// Mean time from entry to exit, ms.
    pub avg_holding_ms: Option<f64>,
    /// Best trade's return (fraction of its entry value).
    pub best_trade: Option<f64>,
    /// Worst trade's return.
    pub worst_trade: Option<f64>,
}

/// The metrics of `outcome` over `window` (bar indices; clipped to the run). `cash` is the
/// starting cash.
pub fn metrics(bars: &[Bar], outcome: &Outcome, cash: f64, window: Range<usize>) -> Metrics {
    let end = window.end.min(outcome.equity.len()).min(bars.len());
    let start = window.start.min(end);
    let equity = &outcome.equity[start..end];
    let start_equity = if start == 0 {
        cash
    } else {
        outcome.equity[start - 1]
    };
    let final_equity = equity.last().copied().unwrap_or(start_equity);
    let t0 = bars.get(start).map_or(0, |b| b.time);
    let t1 = if end > start { bars[end - 1].time } else { t0 };
    let total_return = final_equity / start_equity - 1.0;
    let years = (t1 - t0) as f64 / YEAR_MS;
    let annual_return = (t1 - t0 >= DAY_MS).then(|| {
        if final_equity <= 0.0 {
            -1.0
        } else {
            libm::pow(final_equity / start_equity, 1.0 / years) - 1.0
        }
    });
    let daily = daily_returns(&bars[start..end], equity, start_equity);
    let (sharpe, sortino) = ratios(&daily);
    let (max_drawdown, peak, trough) = drawdown(equity, start_equity);
    let time_at = |k: Option<usize>| k.map_or(t0, |k| bars[start + k].time);
    let trades: alloc::vec::Vec<&Trade> = outcome
        .trades
        .iter()
        .filter(|t| (start..end).contains(&(t.entry_bar as usize)))
        .collect();
    let n = trades.len();
    let wins: f64 = trades.iter().map(|t| t.pnl.max(0.0)).sum();
    let losses: f64 = trades.iter().map(|t| (-t.pnl).max(0.0)).sum();
    let n_win = trades.iter().filter(|t| t.pnl > 0.0).count();
    let n_loss = trades.iter().filter(|t| t.pnl < 0.0).count();
    let win_rate = (n > 0).then(|| n_win as f64 / n as f64);
    // Like freqtrade: defined whenever there is a loss (−1 without any win).
    let expectancy_ratio = match (n_win, n_loss) {
        (_, 0) => None,
        (w, l) => {
            let avg_win = if w > 0 { wins / w as f64 } else { 0.0 };
            let avg_loss = losses / l as f64;
            Some((1.0 + avg_win / avg_loss) * (w as f64 / n as f64) - 1.0)
        }
    };
    let exposed_end = end.min(outcome.exposed.len());
    let exposed = outcome.exposed[start.min(exposed_end)..exposed_end]
        .iter()
        .filter(|&&e| e)
        .count();
    let max_by = |f: fn(f64, f64) -> f64| trades.iter().map(|t| t.return_pct).reduce(f);
    Metrics {
        bars: (end - start) as u32,
        start: t0,
        end: t1,
        start_equity,
        final_equity,
        total_return,
        annual_return,
        sharpe,
        sortino,
        calmar: annual_return
            .filter(|_| max_drawdown > 0.0)
            .map(|a| a / max_drawdown),
        max_drawdown,
        drawdown_start: time_at(peak),
        drawdown_end: time_at(trough),
        drawdown_bars: match (peak, trough) {
            (Some(p), Some(t)) => (t - p) as u32,
            (None, Some(t)) => t as u32 + 1,
            _ => 0,
        },
        trades: n as u32,
        win_rate,
        profit_factor: (losses > 0.0).then(|| wins / losses),
        expectancy: (n > 0).then(|| trades.iter().map(|t| t.pnl).sum::<f64>() / n as f64),
        expectancy_ratio,
        exposure: if end > start {
            exposed as f64 / (end - start) as f64
        } else {
            0.0
        },
        avg_holding_ms: (n > 0).then(|| {
            trades
                .iter()
                .map(|t| (t.exit_time - t.entry_time) as f64)
                .sum::<f64>()
                / n as f64
        }),
        best_trade: max_by(f64::max),
        worst_trade: max_by(f64::min),
    }
}

/// Returns from one UTC day's last equity to the next (the first from `start_equity`).
fn daily_returns(bars: &[Bar], equity: &[f64], start_equity: f64) -> alloc::vec::Vec<f64> {
    let mut out = alloc::vec::Vec::new();
    let mut prev = start_equity;
    for (k, b) in bars.iter().enumerate() {
        let last_of_day = bars
            .get(k + 1)
            .is_none_or(|n| n.time.div_euclid(DAY_MS) != b.time.div_euclid(DAY_MS));
        if last_of_day {
            out.push(if prev > 0.0 {
                equity[k] / prev - 1.0
            } else {
                0.0
            });
            prev = equity[k];
        }
    }
    out
}

/// Sharpe and Sortino of daily returns, annualised with √365.
fn ratios(r: &[f64]) -> (Option<f64>, Option<f64>) {
    if r.len() < 2 {
        return (None, None);
    }
    let n = r.len() as f64;
    let mean = r.iter().sum::<f64>() / n;
    let var = r.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    let down = r.iter().map(|x| x.min(0.0) * x.min(0.0)).sum::<f64>() / n;
    let year = libm::sqrt(365.0);
    let sharpe = (var > 0.0).then(|| mean / libm::sqrt(var) * year);
    let sortino = (down > 0.0).then(|| mean / libm::sqrt(down) * year);
    (sharpe, sortino)
}

/// Largest drawdown (fraction of the peak) with the peak's and the trough's positions in
/// `equity` (`None` for the peak: the starting equity).
fn drawdown(equity: &[f64], start: f64) -> (f64, Option<usize>, Option<usize>) {
    let (mut peak, mut peak_at) = (start, None);
    let mut best = (0.0, None, None);
    for (k, &e) in equity.iter().enumerate() {
        if e > peak {
            peak = e;
            peak_at = Some(k);
        } else if peak > 0.0 {
            let dd = (peak - e) / peak;
            if dd > best.0 {
                best = (dd, peak_at, Some(k));
            }
        }
    }
    best
}

/// Percentiles of `xs` (sorted in place), nearest rank; `q` in `[0, 1]`.
pub fn percentile(xs: &mut [u64], q: f64) -> Option<u64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_unstable();
    let rank = libm::ceil(q.clamp(0.0, 1.0) * xs.len() as f64) as usize;
    Some(xs[rank.clamp(1, xs.len()) - 1])
}
