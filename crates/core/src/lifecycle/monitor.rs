//! Performance monitoring of the signal model, per model version and overall.
//!
//! [`Monitor`] keeps the last `capacity` closed trades' predictions and outcomes (a ring
//! buffer of [`Record`]s) and [`Monitor::report`] gives, for all versions or one version:
//! accuracy, win rate, mean PnL %, Sharpe, max drawdown and log-loss over the last 7, 14 and
//! 30 days and over everything kept ([`WindowStats`]), the return of the top-K trades by
//! score ([`TopK`]), the prediction bias (predicted vs actual class distribution) and the
//! confusion matrix.
//!
//! Time is ms since the Unix epoch, always passed in. The state holds no `usize` and no
//! input makes these types panic; records with a class outside `0..3` or a non-finite
//! number are refused.

use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::error::{Error, check};

/// One day in milliseconds.
const DAY_MS: i128 = 86_400_000;

/// The time windows of a report, in days (`None`: everything kept).
const WINDOWS: [Option<u32>; 4] = [Some(7), Some(14), Some(30), None];

/// Monitor configuration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default, deny_unknown_fields)]
pub struct MonitorConfig {
    /// Closed trades kept (default 10,000: months of trading at a few dozen trades a day;
    /// 1..=1,000,000).
    pub capacity: u32,
    /// Trades in the top-K return (default 10; 1..=10,000).
    pub top_k: u32,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            top_k: 10,
        }
    }
}

impl MonitorConfig {
    /// Largest capacity.
    pub const MAX_CAPACITY: u32 = 1_000_000;
    /// Largest top-K.
    pub const MAX_TOP_K: u32 = 10_000;

    /// Checks ranges.
    pub fn validate(&self) -> Result<(), Error> {
        check(
            (1..=Self::MAX_CAPACITY).contains(&self.capacity),
            "monitor.capacity must be in 1..=1000000",
        )?;
        check(
            (1..=Self::MAX_TOP_K).contains(&self.top_k),
            "monitor.top_k must be in 1..=10000",
        )
    }
}

/// One closed trade as the monitor sees it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Close time (ms since the Unix epoch).
    pub time: i64,
    /// Model version that made the prediction.
    pub version: u32,
    /// Predicted class `0..3` (loss, flat, win).
    pub predicted: u8,
    /// Actual outcome class `0..3`.
    pub actual: u8,
    /// The model's score at entry (`P(win) - P(loss)`), ranks trades for the top-K.
    pub score: f32,
    /// `-ln p(actual)` of the prediction.
    pub log_loss: f32,
    /// PnL in quote currency.
    pub pnl: f64,
    /// PnL as a fraction of the entry price.
    pub pnl_pct: f64,
}

impl Record {
    /// Classes below 3 and every number finite: what [`Monitor::push`] accepts.
    pub fn is_valid(&self) -> bool {
        self.predicted < 3
            && self.actual < 3
            && self.score.is_finite()
            && self.log_loss.is_finite()
            && self.pnl.is_finite()
            && self.pnl_pct.is_finite()
    }
}

/// The last closed trades, as a ring buffer.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Monitor {
    /// The records kept. While not full they are in push order; once full, `head` is the
    /// slot of the oldest (and the next to be overwritten).
    records: Vec<Record>,
    /// Slot of the oldest record (0 when empty; below `records.len()` otherwise).
    head: u32,
    /// Records ever accepted.
    pushed: u64,
}

impl Monitor {
    /// An empty monitor.
    pub const fn new() -> Self {
        Self {
            records: Vec::new(),
            head: 0,
            pushed: 0,
        }
    }

    /// Adds a record. A record with a class `>= 3` or a non-finite `score`, `log_loss`,
    /// `pnl` or `pnl_pct` is refused (returns `false`, nothing changes). When
    /// `config.capacity` records are kept, the oldest is dropped; if the capacity shrank
    /// below the number kept, the oldest are dropped down to it. A capacity of 0 counts as 1.
    pub fn push(&mut self, config: &MonitorConfig, r: Record) -> bool {
        if !r.is_valid() {
            return false;
        }
        let cap = config.capacity.max(1) as usize;
        if self.records.len() > cap {
            self.trim(cap);
        }
        if self.records.len() < cap {
            self.linearise();
            self.records.push(r);
        } else {
            // Full: overwrite the oldest. A corrupt `head` counts as 0.
            let h = if (self.head as usize) < cap {
                self.head as usize
            } else {
                0
            };
            if let Some(slot) = self.records.get_mut(h) {
                *slot = r;
            }
            // Below `cap`, which came from a `u32`.
            self.head = ((h + 1) % cap) as u32;
        }
        self.pushed = self.pushed.saturating_add(1);
        true
    }

    /// Drops the oldest records beyond `config.capacity` (at least 1 is kept), e.g. after the
    /// capacity was lowered, so that [`Monitor::is_consistent`] holds for the new config.
    pub fn shrink_to(&mut self, config: &MonitorConfig) {
        self.trim(config.capacity.max(1) as usize);
    }

    /// Keeps the newest `keep` records, oldest first, with `head == 0`.
    fn trim(&mut self, keep: usize) {
        self.linearise();
        let excess = self.records.len().saturating_sub(keep);
        self.records.drain(..excess);
    }

    /// Rotates the records into push order (oldest first) and sets `head` to 0.
    fn linearise(&mut self) {
        let h = (self.head as usize).min(self.records.len());
        self.records.rotate_left(h);
        self.head = 0;
    }

    /// Records kept.
    pub fn len(&self) -> u32 {
        u32::try_from(self.records.len()).unwrap_or(u32::MAX)
    }

    /// Whether no record is kept.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Records ever accepted (saturating).
    pub fn pushed(&self) -> u64 {
        self.pushed
    }

    /// Records oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Record> {
        let h = (self.head as usize).min(self.records.len());
        let (newer, older) = self.records.split_at(h);
        older.iter().chain(newer)
    }

    /// The last `n` records; `None` when `n == 0` or fewer than `n` are kept.
    fn last(&self, n: u32) -> Option<impl Iterator<Item = &Record>> {
        let n = n as usize;
        let skip = self.records.len().checked_sub(n)?;
        (n > 0).then(|| self.iter().skip(skip))
    }

    /// Accuracy (predicted == actual) of the last `n` records of all versions; `None` when
    /// fewer than `n` are kept or `n == 0`.
    pub fn recent_accuracy(&self, n: u32) -> Option<f32> {
        let correct = self.last(n)?.filter(|r| r.predicted == r.actual).count();
        Some((correct as f64 / f64::from(n)) as f32)
    }

    /// Mean log-loss of the last `n` records of all versions; `None` when fewer than `n`
    /// are kept or `n == 0`.
    pub fn recent_log_loss(&self, n: u32) -> Option<f32> {
        let sum: f64 = self.last(n)?.map(|r| f64::from(r.log_loss)).sum();
        Some((sum / f64::from(n)) as f32)
    }

    /// Time of the newest record (the newest close), if any.
    pub fn latest(&self) -> Option<i64> {
        self.records.iter().map(|r| r.time).max()
    }

    /// The trades of the `days` days up to `until`: a record counts when
    /// `until - days < time <= until` (in days of 24 hours).
    pub fn window(&self, days: u32, until: i64) -> WindowStats {
        let from = i128::from(until) - i128::from(days) * DAY_MS;
        WindowStats::of(
            Some(days),
            self.iter()
                .filter(|r| i128::from(r.time) > from && r.time <= until),
        )
    }

    /// Model versions that have records, ascending, deduplicated.
    pub fn versions(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.records.iter().map(|r| r.version).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The report at time `now`, over all records (`version == None`) or one model
    /// version's. A record is in the `d`-day window when `time > now - d days` (records
    /// timestamped after `now` count as recent). Drawdowns follow push order.
    pub fn report(&self, config: &MonitorConfig, now: i64, version: Option<u32>) -> MonitorReport {
        let selected: Vec<&Record> = self
            .iter()
            .filter(|r| version.is_none_or(|v| r.version == v))
            .collect();
        let in_window = |days: Option<u32>, r: &Record| match days {
            Some(d) => i128::from(r.time) > i128::from(now) - i128::from(d) * DAY_MS,
            None => true,
        };
        let windows = WINDOWS.map(|days| {
            WindowStats::of(
                days,
                selected.iter().copied().filter(|r| in_window(days, r)),
            )
        });

        let mut confusion = [[0u32; 3]; 3];
        let mut predicted = [0u32; 3];
        let mut actual = [0u32; 3];
        for r in &selected {
            let (a, p) = (usize::from(r.actual), usize::from(r.predicted));
            if let Some(c) = confusion.get_mut(a).and_then(|row| row.get_mut(p)) {
                *c = c.saturating_add(1);
            }
            if let Some(c) = predicted.get_mut(p) {
                *c = c.saturating_add(1);
            }
            if let Some(c) = actual.get_mut(a) {
                *c = c.saturating_add(1);
            }
        }
        let total = selected.len() as f64;
        let share = |c: u32| {
            if selected.is_empty() {
                0.0
            } else {
                f64::from(c) / total
            }
        };
        let predicted_share = predicted.map(share);
        let actual_share = actual.map(share);
        let bias = [0, 1, 2].map(|i| predicted_share[i] - actual_share[i]);

        // Window positions are push order, so a higher position is a newer push.
        let mut month: Vec<(usize, &Record)> = selected
            .iter()
            .copied()
            .filter(|r| in_window(Some(30), r))
            .enumerate()
            .collect();
        let top_k = TopK::of(config.top_k, &mut month);

        MonitorReport {
            version,
            windows,
            confusion,
            predicted_share,
            actual_share,
            bias,
            top_k,
        }
    }

    /// Whether the state could have come from [`Monitor::push`] under `config`: at most
    /// `config.capacity` (min 1) records, all valid, `head` in range, `pushed >= len`. For
    /// checking restored state.
    pub fn is_consistent(&self, config: &MonitorConfig) -> bool {
        let len = self.records.len();
        len <= config.capacity.max(1) as usize
            && ((self.head as usize) < len || self.head == 0)
            && self.pushed >= len as u64
            && self.records.iter().all(Record::is_valid)
    }
}

/// Statistics over one time window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct WindowStats {
    /// Window length in days (7, 14, 30), or `None` for everything kept.
    pub days: Option<u32>,
    /// Trades in the window.
    pub trades: u32,
    /// Share of trades whose predicted class was the actual one (`None` when no trades).
    pub accuracy: Option<f64>,
    /// Share of trades with `actual == 2` (win) (`None` when no trades).
    pub win_rate: Option<f64>,
    /// Mean `pnl_pct` per trade (`None` when no trades).
    pub mean_pnl_pct: Option<f64>,
    /// Mean / sample standard deviation of `pnl_pct` per trade; `None` with fewer than 2
    /// trades or a zero (or non-finite) standard deviation.
    pub sharpe: Option<f64>,
    /// Largest fall of the cumulative `pnl_pct` from its running peak (the peak starts at
    /// 0), in push order; `>= 0`.
    pub max_drawdown_pct: f64,
    /// Sum of `pnl`.
    pub pnl: f64,
    /// Mean `log_loss` (`None` when no trades).
    pub log_loss: Option<f64>,
}

impl WindowStats {
    /// Statistics of `records` (oldest first).
    fn of<'a>(days: Option<u32>, records: impl Iterator<Item = &'a Record>) -> Self {
        let (mut n, mut correct, mut wins) = (0u32, 0u32, 0u32);
        let (mut mean, mut m2, mut pnl, mut log_loss) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
        let (mut equity, mut peak, mut max_dd) = (0.0f64, 0.0f64, 0.0f64);
        for r in records {
            n = n.saturating_add(1);
            correct = correct.saturating_add(u32::from(r.predicted == r.actual));
            wins = wins.saturating_add(u32::from(r.actual == 2));
            let d = r.pnl_pct - mean;
            mean += d / f64::from(n);
            m2 += d * (r.pnl_pct - mean);
            pnl += r.pnl;
            log_loss += f64::from(r.log_loss);
            equity += r.pnl_pct;
            peak = peak.max(equity);
            max_dd = max_dd.max(peak - equity);
        }
        let per = |x: f64| (n > 0).then(|| x / f64::from(n));
        let sharpe = if n >= 2 {
            let sd = libm::sqrt(m2 / f64::from(n - 1));
            (sd > 0.0 && sd.is_finite()).then(|| mean / sd)
        } else {
            None
        };
        Self {
            days,
            trades: n,
            accuracy: per(f64::from(correct)),
            win_rate: per(f64::from(wins)),
            mean_pnl_pct: (n > 0).then_some(mean),
            sharpe,
            max_drawdown_pct: max_dd,
            pnl,
            log_loss: per(log_loss),
        }
    }
}

/// The return of the trades the model was most confident about.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TopK {
    /// K asked for (`config.top_k`, at least 1).
    pub k: u32,
    /// Trades used: `min(k, trades in the window)`.
    pub trades: u32,
    /// Their mean `pnl_pct`.
    pub mean_pnl_pct: f64,
    /// Their share of wins (`actual == 2`).
    pub win_rate: f64,
    /// Mean `pnl_pct` over all trades of the window, to compare with.
    pub baseline_mean_pnl_pct: f64,
}

impl TopK {
    /// The top `k` of `window` (records with their push-order position): highest score
    /// first, then latest time, then latest push. `None` when the window is empty.
    fn of(k: u32, window: &mut [(usize, &Record)]) -> Option<Self> {
        if window.is_empty() {
            return None;
        }
        let baseline = window.iter().map(|(_, r)| r.pnl_pct).sum::<f64>() / window.len() as f64;
        window.sort_unstable_by(|(ia, a), (ib, b)| {
            b.score
                .total_cmp(&a.score)
                .then(b.time.cmp(&a.time))
                .then(ib.cmp(ia))
        });
        let k = k.max(1);
        let top = window.get(..(k as usize).min(window.len()))?;
        let n = top.len() as f64;
        let wins = top.iter().filter(|(_, r)| r.actual == 2).count() as f64;
        Some(Self {
            k,
            trades: u32::try_from(top.len()).unwrap_or(u32::MAX),
            mean_pnl_pct: top.iter().map(|(_, r)| r.pnl_pct).sum::<f64>() / n,
            win_rate: wins / n,
            baseline_mean_pnl_pct: baseline,
        })
    }
}

/// Performance of the signal model at one time, over all versions or one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MonitorReport {
    /// The version reported on (`None`: all versions).
    pub version: Option<u32>,
    /// The last 7, 14 and 30 days before `now` (records with `time > now - days`, including
    /// any after `now`), then everything kept.
    pub windows: [WindowStats; 4],
    /// `confusion[actual][predicted]` over everything kept.
    pub confusion: [[u32; 3]; 3],
    /// Share of predictions per class (all 0 when no trades).
    pub predicted_share: [f64; 3],
    /// Share of actual outcomes per class (all 0 when no trades).
    pub actual_share: [f64; 3],
    /// `predicted_share - actual_share`: positive where the model over-predicts a class.
    pub bias: [f64; 3],
    /// The `config.top_k` trades with the highest score in the 30-day window (`None` when
    /// that window is empty).
    pub top_k: Option<TopK>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;
    const DAY: i64 = 86_400_000;

    fn rec(time: i64, version: u32, predicted: u8, actual: u8, pnl_pct: f64) -> Record {
        Record {
            time,
            version,
            predicted,
            actual,
            score: 0.0,
            log_loss: 0.5,
            pnl: pnl_pct * 100.0,
            pnl_pct,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn config_default_validates_and_ranges_are_checked() {
        assert!(MonitorConfig::default().validate().is_ok());
        let bad = [
            MonitorConfig {
                capacity: 0,
                ..MonitorConfig::default()
            },
            MonitorConfig {
                capacity: 1_000_001,
                ..MonitorConfig::default()
            },
            MonitorConfig {
                top_k: 0,
                ..MonitorConfig::default()
            },
            MonitorConfig {
                top_k: 10_001,
                ..MonitorConfig::default()
            },
        ];
        for c in bad {
            assert!(c.validate().is_err(), "{c:?}");
        }
    }

    #[test]
    fn windows_select_by_time() {
        let config = MonitorConfig::default();
        let mut m = Monitor::new();
        for days in [40, 20, 10, 1] {
            assert!(m.push(&config, rec(NOW - days * DAY, 1, 2, 2, 0.01)));
        }
        // Exactly 7 days old is outside the 7-day window (time > now - 7d).
        assert!(m.push(&config, rec(NOW - 7 * DAY, 1, 2, 2, 0.01)));
        // A record after `now` counts as recent.
        assert!(m.push(&config, rec(NOW + DAY, 1, 2, 2, 0.01)));
        let rep = m.report(&config, NOW, None);
        let trades = rep.windows.map(|w| w.trades);
        assert_eq!(trades, [2, 4, 5, 6]);
        assert_eq!(
            rep.windows.map(|w| w.days),
            [Some(7), Some(14), Some(30), None]
        );
    }

    #[test]
    fn window_statistics_match_hand_computation() {
        let config = MonitorConfig::default();
        let mut m = Monitor::new();
        // (predicted, actual, pnl_pct)
        let rows = [(2, 2, 0.02), (2, 0, -0.01), (1, 0, -0.03), (0, 2, 0.04)];
        for (i, (p, a, x)) in rows.into_iter().enumerate() {
            let mut r = rec(NOW - DAY + i as i64, 1, p, a, x);
            r.log_loss = 0.25 * (i as f32 + 1.0);
            assert!(m.push(&config, r));
        }
        let w = m.report(&config, NOW, None).windows[0];
        assert_eq!(w.trades, 4);
        assert_eq!(w.accuracy, Some(0.25));
        assert_eq!(w.win_rate, Some(0.5));
        assert!(close(w.mean_pnl_pct.unwrap(), 0.005));
        // Deviations ±0.015, ±0.035: sum of squares 0.0029, sample variance 0.0029 / 3.
        let sharpe = 0.005 / libm::sqrt(0.0029 / 3.0);
        assert!((w.sharpe.unwrap() - sharpe).abs() < 1e-9, "{:?}", w.sharpe);
        // Equity 0.02, 0.01, -0.02, 0.02: peak 0.02, trough -0.02.
        assert!(close(w.max_drawdown_pct, 0.04));
        assert!(close(w.pnl, 2.0));
        // Mean of 0.25, 0.5, 0.75, 1.0.
        assert!(close(w.log_loss.unwrap(), 0.625));
    }

    #[test]
    fn sharpe_and_drawdown_edge_cases() {
        let config = MonitorConfig::default();
        let mut m = Monitor::new();
        m.push(&config, rec(NOW, 1, 0, 0, -0.02));
        let w = m.report(&config, NOW, None).windows[3];
        assert_eq!(w.sharpe, None);
        // The peak starts at 0, so a first loss is a drawdown.
        assert!(close(w.max_drawdown_pct, 0.02));
        m.push(&config, rec(NOW, 1, 0, 0, -0.02));
        assert_eq!(
            m.report(&config, NOW, None).windows[3].sharpe,
            None,
            "zero std"
        );
    }

    #[test]
    fn per_version_filtering() {
        let config = MonitorConfig::default();
        let mut m = Monitor::new();
        m.push(&config, rec(NOW, 3, 2, 2, 0.01));
        m.push(&config, rec(NOW, 1, 2, 0, -0.01));
        m.push(&config, rec(NOW, 3, 0, 0, -0.02));
        m.push(&config, rec(NOW, 1, 1, 1, 0.0));
        assert_eq!(m.versions(), [1, 3]);
        let v3 = m.report(&config, NOW, Some(3));
        assert_eq!(v3.version, Some(3));
        assert_eq!(v3.windows[3].trades, 2);
        assert_eq!(v3.windows[3].accuracy, Some(1.0));
        let v1 = m.report(&config, NOW, Some(1));
        assert_eq!(v1.windows[3].trades, 2);
        assert_eq!(v1.windows[3].accuracy, Some(0.5));
        assert_eq!(m.report(&config, NOW, None).windows[3].trades, 4);
        let none = m.report(&config, NOW, Some(7));
        assert_eq!(none.windows[3].trades, 0);
        assert_eq!(none.top_k, None);
    }

    #[test]
    fn confusion_and_bias() {
        let config = MonitorConfig::default();
        let mut m = Monitor::new();
        // (predicted, actual): the model predicts "win" too often.
        for (p, a) in [(2, 2), (2, 0), (2, 1), (0, 0)] {
            m.push(&config, rec(NOW, 1, p, a, 0.0));
        }
        let rep = m.report(&config, NOW, None);
        assert_eq!(rep.confusion, [[1, 0, 1], [0, 0, 1], [0, 0, 1]]);
        assert_eq!(rep.predicted_share, [0.25, 0.0, 0.75]);
        assert_eq!(rep.actual_share, [0.5, 0.25, 0.25]);
        assert_eq!(rep.bias, [-0.25, -0.25, 0.5]);
    }

    #[test]
    fn top_k_picks_highest_scores_newest_on_ties() {
        let config = MonitorConfig {
            top_k: 2,
            ..MonitorConfig::default()
        };
        let mut m = Monitor::new();
        let mut push = |time: i64, score: f32, actual: u8, pnl_pct: f64| {
            let mut r = rec(time, 1, 2, actual, pnl_pct);
            r.score = score;
            assert!(m.push(&config, r));
        };
        push(NOW - 40 * DAY, 1.0, 2, 0.5); // outside the 30-day window
        push(NOW - 3 * DAY, 0.9, 2, 0.03);
        push(NOW - 2 * DAY, 0.5, 0, -0.02); // tie on score, older
        push(NOW - DAY, 0.5, 2, 0.01); // tie on score, newer: chosen
        push(NOW, -0.5, 0, -0.04);
        let t = m.report(&config, NOW, None).top_k.unwrap();
        assert_eq!((t.k, t.trades), (2, 2));
        assert!(close(t.mean_pnl_pct, 0.02));
        assert_eq!(t.win_rate, 1.0);
        assert!(close(t.baseline_mean_pnl_pct, -0.02 / 4.0));

        let config = MonitorConfig {
            top_k: 100,
            ..config
        };
        let t = m.report(&config, NOW, None).top_k.unwrap();
        assert_eq!((t.k, t.trades), (100, 4));
        assert!(close(t.mean_pnl_pct, t.baseline_mean_pnl_pct));
    }

    #[test]
    fn ring_drops_oldest_at_capacity_and_on_shrink() {
        let config = MonitorConfig {
            capacity: 3,
            ..MonitorConfig::default()
        };
        let mut m = Monitor::new();
        for t in 0..5 {
            assert!(m.push(&config, rec(t, 1, 0, 0, 0.0)));
        }
        assert_eq!(m.len(), 3);
        assert_eq!(m.pushed(), 5);
        assert_eq!(m.iter().map(|r| r.time).collect::<Vec<_>>(), [2, 3, 4]);
        assert!(m.is_consistent(&config));

        // Growing keeps order.
        let big = MonitorConfig {
            capacity: 4,
            ..config
        };
        m.push(&big, rec(5, 1, 0, 0, 0.0));
        assert_eq!(m.iter().map(|r| r.time).collect::<Vec<_>>(), [2, 3, 4, 5]);

        // Shrinking drops the oldest down to capacity.
        let small = MonitorConfig {
            capacity: 2,
            ..config
        };
        assert!(!m.is_consistent(&small));
        m.push(&small, rec(6, 1, 0, 0, 0.0));
        assert_eq!(m.iter().map(|r| r.time).collect::<Vec<_>>(), [5, 6]);
        assert!(m.is_consistent(&small));
        m.push(&small, rec(7, 1, 0, 0, 0.0));
        assert_eq!(m.iter().map(|r| r.time).collect::<Vec<_>>(), [6, 7]);

        let one = MonitorConfig {
            capacity: 1,
            ..config
        };
        m.shrink_to(&one);
        assert_eq!(m.iter().map(|r| r.time).collect::<Vec<_>>(), [7]);
        assert!(m.is_consistent(&one));
    }

    #[test]
    fn refused_records_leave_state_unchanged() {
        let config = MonitorConfig::default();
        let mut m = Monitor::new();
        m.push(&config, rec(NOW, 1, 0, 0, 0.01));
        let before = m.clone();
        let good = rec(NOW, 1, 0, 0, 0.01);
        let bad = [
            Record {
                predicted: 3,
                ..good
            },
            Record {
                actual: 255,
                ..good
            },
            Record {
                pnl: f64::NAN,
                ..good
            },
            Record {
                pnl_pct: f64::INFINITY,
                ..good
            },
            Record {
                score: f32::NAN,
                ..good
            },
            Record {
                log_loss: f32::NEG_INFINITY,
                ..good
            },
        ];
        for r in bad {
            assert!(!m.push(&config, r), "{r:?}");
            assert_eq!(m, before);
        }
    }

    #[test]
    fn recent_accuracy_and_log_loss() {
        let config = MonitorConfig::default();
        let mut m = Monitor::new();
        for (i, (p, a)) in [(0, 1), (1, 1), (2, 2), (0, 2)].into_iter().enumerate() {
            let mut r = rec(NOW, 1, p, a, 0.0);
            r.log_loss = i as f32;
            m.push(&config, r);
        }
        assert_eq!(m.recent_accuracy(0), None);
        assert_eq!(m.recent_accuracy(5), None);
        assert_eq!(m.recent_accuracy(4), Some(0.5));
        assert_eq!(m.recent_accuracy(3), Some(2.0 / 3.0));
        assert_eq!(m.recent_accuracy(1), Some(0.0));
        assert_eq!(m.recent_log_loss(2), Some(2.5));
        assert_eq!(m.recent_log_loss(5), None);
    }

    #[test]
    fn extreme_now_and_empty_monitor_do_not_panic() {
        let config = MonitorConfig::default();
        let empty = Monitor::default();
        assert!(empty.is_empty());
        assert!(empty.is_consistent(&config));
        let rep = empty.report(&config, 0, None);
        assert!(
            rep.windows
                .iter()
                .all(|w| w.trades == 0 && w.accuracy.is_none())
        );
        assert_eq!(rep.bias, [0.0; 3]);
        assert_eq!(rep.top_k, None);

        let mut m = Monitor::new();
        m.push(&config, rec(i64::MIN, 1, 0, 0, 0.01));
        m.push(&config, rec(i64::MAX, 1, 0, 0, 0.01));
        let lo = m.report(&config, i64::MIN, None);
        assert_eq!(lo.windows.map(|w| w.trades), [2, 2, 2, 2]);
        let hi = m.report(&config, i64::MAX, None);
        assert_eq!(hi.windows.map(|w| w.trades), [1, 1, 1, 2]);
        // A zero top_k (invalid config) still reports one trade.
        let zero = MonitorConfig {
            top_k: 0,
            capacity: 0,
        };
        assert_eq!(
            m.report(&zero, i64::MAX, None).top_k.map(|t| t.trades),
            Some(1)
        );
    }

    #[test]
    fn is_consistent_detects_corruption_and_survives_it() {
        let config = MonitorConfig {
            capacity: 3,
            ..MonitorConfig::default()
        };
        let mut m = Monitor::new();
        for t in 0..4 {
            m.push(&config, rec(t, 1, 0, 0, 0.0));
        }
        assert!(m.is_consistent(&config));
        let bytes = postcard::to_allocvec(&m).unwrap();
        assert_eq!(postcard::from_bytes::<Monitor>(&bytes).unwrap(), m);

        let mut bad = m.clone();
        bad.head = 3;
        assert!(!bad.is_consistent(&config));
        // Still no panic on the corrupt state.
        assert_eq!(bad.iter().count(), 3);
        let _ = bad.report(&config, NOW, None);
        assert!(bad.push(&config, rec(9, 1, 0, 0, 0.0)));
        assert!(bad.is_consistent(&config));

        let mut bad = m.clone();
        bad.pushed = 2;
        assert!(!bad.is_consistent(&config));

        let mut bad = m.clone();
        bad.records[0].actual = 7;
        assert!(!bad.is_consistent(&config));
        let _ = bad.report(&config, NOW, None);
    }
}
