//! The report's figures on hand-made equity curves and trades.

use tradeloop_backtest::metrics::percentile;
use tradeloop_backtest::{Outcome, Rejections, Trade, metrics, trades_hash};
use tradeloop_strategy::abi::Bar;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;
const YEAR: i64 = 31_557_600_000; // 365.25 days
const T0: i64 = 1_704_067_200_000; // 2024-01-01 00:00 UTC

fn bars_at(times: &[i64]) -> Vec<Bar> {
    times
        .iter()
        .map(|&time| Bar {
            time,
            open: 100.0,
            high: 100.0,
            low: 100.0,
            close: 100.0,
            volume: 0.0,
        })
        .collect()
}

/// `n` hourly bars.
fn hourly(n: usize) -> Vec<Bar> {
    bars_at(&(0..n as i64).map(|k| T0 + k * HOUR).collect::<Vec<_>>())
}

fn outcome(equity: &[f64], exposed: &[bool], trades: Vec<Trade>) -> Outcome {
    Outcome {
        trade_hash: trades_hash(&trades),
        trades,
        equity: equity.to_vec(),
        exposed: exposed.to_vec(),
        fills: 0,
        rejections: Rejections::default(),
        engine_refusals: 0,
        stopped: None,
    }
}

/// A trade from bar `entry` to bar `exit` (hourly bars) with `pnl` and `return_pct`.
fn trade(entry: u32, exit: u32, pnl: f64, return_pct: f64) -> Trade {
    Trade {
        long: true,
        entry_bar: entry,
        exit_bar: exit,
        entry_time: T0 + i64::from(entry) * HOUR,
        exit_time: T0 + i64::from(exit) * HOUR,
        entry_price: 100.0,
        exit_price: 100.0 * (1.0 + return_pct),
        size: 1.0,
        pnl,
        return_pct,
        tag: 0,
        end_of_data: false,
    }
}

#[track_caller]
fn near(a: f64, b: f64) {
    assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} != {b}");
}

#[test]
fn total_return_and_the_window_bounds() {
    let bars = hourly(7);
    let eq = [100.0, 110.0, 120.0, 90.0, 100.0, 130.0, 117.0];
    let m = metrics(&bars, &outcome(&eq, &[false; 7], vec![]), 100.0, 0..7);
    assert_eq!(m.bars, 7);
    assert_eq!((m.start, m.end), (T0, T0 + 6 * HOUR));
    assert_eq!((m.start_equity, m.final_equity), (100.0, 117.0));
    near(m.total_return, 0.17);
    // Shorter than a day: no annual figure, no Sharpe (one day), no Calmar.
    assert_eq!(
        (m.annual_return, m.sharpe, m.sortino, m.calmar),
        (None, None, None, None)
    );
}

#[test]
fn max_drawdown_with_its_peak_trough_and_bars() {
    let bars = hourly(7);
    let m = |eq: &[f64], cash: f64| {
        metrics(
            &bars,
            &outcome(eq, &vec![false; eq.len()], vec![]),
            cash,
            0..eq.len(),
        )
    };

    // Peaks 120 (bar 2) -> 90 (bar 3) is 25 %; 130 -> 117 later is only 10 %.
    let d = m(&[100.0, 110.0, 120.0, 90.0, 100.0, 130.0, 117.0], 100.0);
    near(d.max_drawdown, 0.25);
    assert_eq!(
        (d.drawdown_start, d.drawdown_end, d.drawdown_bars),
        (T0 + 2 * HOUR, T0 + 3 * HOUR, 1)
    );

    // A fall over two bars, and a lesser one after a new high.
    let d = m(&[110.0, 120.0, 100.0, 90.0, 95.0, 130.0, 120.0], 100.0);
    near(d.max_drawdown, 30.0 / 120.0);
    assert_eq!(
        (d.drawdown_start, d.drawdown_end, d.drawdown_bars),
        (T0 + HOUR, T0 + 3 * HOUR, 2)
    );

    // The later, deeper drawdown wins.
    let d = m(&[100.0, 90.0, 200.0, 150.0], 100.0);
    near(d.max_drawdown, 0.25);
    assert_eq!(
        (d.drawdown_start, d.drawdown_end, d.drawdown_bars),
        (T0 + 2 * HOUR, T0 + 3 * HOUR, 1)
    );

    // From the starting cash: the peak is before the first bar.
    let d = m(&[95.0, 90.0, 100.0], 100.0);
    near(d.max_drawdown, 0.1);
    assert_eq!(
        (d.drawdown_start, d.drawdown_end, d.drawdown_bars),
        (T0, T0 + HOUR, 2)
    );

    // Never below a peak: no drawdown.
    let d = m(&[100.0, 101.0, 101.0, 105.0], 100.0);
    assert_eq!(
        (
            d.max_drawdown,
            d.drawdown_start,
            d.drawdown_end,
            d.drawdown_bars
        ),
        (0.0, T0, T0, 0)
    );
}

#[test]
fn trade_statistics_on_hand_made_trades() {
    let bars = hourly(10);
    let trades = vec![
        trade(0, 2, 100.0, 0.10),
        trade(2, 3, -50.0, -0.05),
        trade(3, 7, 30.0, 0.03),
        trade(5, 6, -10.0, -0.01),
        trade(6, 9, 0.0, 0.0),
    ];
    let m = metrics(
        &bars,
        &outcome(&[100.0; 10], &[false; 10], trades),
        100.0,
        0..10,
    );
    assert_eq!(m.trades, 5);
    // Two wins (130), two losses (60), one flat trade.
    near(m.win_rate.unwrap(), 0.4);
    near(m.profit_factor.unwrap(), 130.0 / 60.0);
    near(m.expectancy.unwrap(), 70.0 / 5.0);
    // Mean win 65, mean loss 30: (1 + 65/30) × 0.4 − 1.
    near(m.expectancy_ratio.unwrap(), (1.0 + 65.0 / 30.0) * 0.4 - 1.0);
    assert_eq!((m.best_trade, m.worst_trade), (Some(0.10), Some(-0.05)));
    near(
        m.avg_holding_ms.unwrap(),
        (2.0 + 1.0 + 4.0 + 1.0 + 3.0) / 5.0 * HOUR as f64,
    );
}

#[test]
fn trade_statistics_without_trades_without_losses_and_without_wins() {
    let bars = hourly(4);
    let eq = [100.0; 4];
    let none = metrics(&bars, &outcome(&eq, &[false; 4], vec![]), 100.0, 0..4);
    assert_eq!(none.trades, 0);
    assert_eq!(
        (
            none.win_rate,
            none.profit_factor,
            none.expectancy,
            none.expectancy_ratio
        ),
        (None, None, None, None)
    );
    assert_eq!(
        (none.best_trade, none.worst_trade, none.avg_holding_ms),
        (None, None, None)
    );

    let wins = vec![trade(0, 1, 10.0, 0.1), trade(1, 2, 20.0, 0.2)];
    let w = metrics(&bars, &outcome(&eq, &[false; 4], wins), 100.0, 0..4);
    assert_eq!(w.win_rate, Some(1.0));
    assert_eq!(w.profit_factor, None, "no loss to divide by");
    assert_eq!(w.expectancy, Some(15.0));
    assert_eq!(w.expectancy_ratio, None);

    // Losers only: the ratio is (1 + 0) × 0 − 1 = −1, as freqtrade reports it.
    let losses = vec![trade(0, 1, -10.0, -0.1), trade(1, 2, -30.0, -0.3)];
    let l = metrics(&bars, &outcome(&eq, &[false; 4], losses), 100.0, 0..4);
    assert_eq!(l.win_rate, Some(0.0));
    assert_eq!(l.profit_factor, Some(0.0));
    assert_eq!(l.expectancy, Some(-20.0));
    assert_eq!(l.expectancy_ratio, Some(-1.0));
    assert_eq!((l.best_trade, l.worst_trade), (Some(-0.1), Some(-0.3)));
}

#[test]
fn exposure_is_the_share_of_bars_closed_with_a_position() {
    let bars = hourly(8);
    let exposed = [false, true, true, false, true, false, false, false];
    let o = outcome(&[100.0; 8], &exposed, vec![]);
    assert_eq!(metrics(&bars, &o, 100.0, 0..8).exposure, 3.0 / 8.0);
    assert_eq!(metrics(&bars, &o, 100.0, 1..3).exposure, 1.0);
    assert_eq!(metrics(&bars, &o, 100.0, 5..8).exposure, 0.0);
    assert_eq!(metrics(&bars, &o, 100.0, 3..3).exposure, 0.0);
}

#[test]
fn in_sample_and_out_of_sample_windows() {
    let bars = hourly(10);
    let eq = [
        100.0, 102.0, 104.0, 101.0, 105.0, 110.0, 99.0, 100.0, 120.0, 126.0,
    ];
    let exposed = [
        false, true, true, true, false, true, true, false, true, true,
    ];
    // The second trade enters in-sample and exits out-of-sample: it counts in-sample.
    let trades = vec![
        trade(1, 3, 1.0, 0.01),
        trade(4, 6, -11.0, -0.1),
        trade(8, 9, 26.0, 0.2),
    ];
    let o = outcome(&eq, &exposed, trades);

    let is = metrics(&bars, &o, 100.0, 0..5);
    assert_eq!((is.bars, is.start, is.end), (5, T0, T0 + 4 * HOUR));
    assert_eq!((is.start_equity, is.final_equity), (100.0, 105.0));
    near(is.total_return, 0.05);
    assert_eq!(is.trades, 2);
    near(is.win_rate.unwrap(), 0.5);
    near(is.max_drawdown, 3.0 / 104.0);
    assert_eq!(
        (is.drawdown_start, is.drawdown_end),
        (T0 + 2 * HOUR, T0 + 3 * HOUR)
    );
    assert_eq!(is.exposure, 3.0 / 5.0);

    let oos = metrics(&bars, &o, 100.0, 5..10);
    assert_eq!(
        (oos.bars, oos.start, oos.end),
        (5, T0 + 5 * HOUR, T0 + 9 * HOUR)
    );
    assert_eq!(oos.start_equity, 105.0, "the equity before the window");
    assert_eq!(oos.final_equity, 126.0);
    near(oos.total_return, 126.0 / 105.0 - 1.0);
    assert_eq!(oos.trades, 1);
    assert_eq!(oos.best_trade, Some(0.2));
    // 110 (bar 5) -> 99 (bar 6).
    near(oos.max_drawdown, 11.0 / 110.0);
    assert_eq!(
        (oos.drawdown_start, oos.drawdown_end, oos.drawdown_bars),
        (T0 + 5 * HOUR, T0 + 6 * HOUR, 1)
    );
    assert_eq!(oos.exposure, 4.0 / 5.0);

    // Windows are clipped to the run.
    let tail = metrics(&bars, &o, 100.0, 8..100);
    assert_eq!(
        (tail.bars, tail.start_equity, tail.final_equity, tail.trades),
        (2, 100.0, 126.0, 1)
    );
    let past = metrics(&bars, &o, 100.0, 20..30);
    assert_eq!(
        (past.bars, past.trades, past.total_return, past.exposure),
        (0, 0, 0.0, 0.0)
    );
    assert_eq!((past.start_equity, past.final_equity), (126.0, 126.0));
    #[allow(clippy::reversed_empty_ranges)]
    let backwards = metrics(&bars, &o, 100.0, 5..3);
    assert_eq!((backwards.bars, backwards.trades), (0, 0));
    // An equity curve shorter than the bars (a run stopped early by its host) clips too.
    let short = outcome(&eq[..4], &exposed[..4], vec![]);
    let m = metrics(&bars, &short, 100.0, 0..10);
    assert_eq!((m.bars, m.final_equity, m.end), (4, 101.0, T0 + 3 * HOUR));
}

#[test]
fn a_short_exposure_list_does_not_panic() {
    // `Outcome`'s fields are public: a hand-made one without exposure flags still has
    // metrics for any window.
    let bars = hourly(6);
    let o = outcome(
        &[100.0, 101.0, 102.0, 103.0, 104.0, 105.0],
        &[true, true],
        vec![],
    );
    assert_eq!(metrics(&bars, &o, 100.0, 0..6).exposure, 2.0 / 6.0);
    assert_eq!(metrics(&bars, &o, 100.0, 3..6).exposure, 0.0);
    assert_eq!(metrics(&bars, &o, 100.0, 3..6).final_equity, 105.0);
}

#[test]
fn sharpe_and_sortino_need_two_days_of_returns() {
    // Many bars, one UTC day: no Sharpe.
    let bars = bars_at(&(0..24).map(|k| T0 + k * HOUR).collect::<Vec<_>>());
    let eq: Vec<f64> = (0..24).map(|k| 100.0 + f64::from(k % 5)).collect();
    let m = metrics(&bars, &outcome(&eq, &[false; 24], vec![]), 100.0, 0..24);
    assert_eq!((m.sharpe, m.sortino), (None, None));

    // Two bars a day over three days: the daily returns are from each day's last equity.
    let bars = bars_at(&(0..6).map(|k| T0 + k * DAY / 2).collect::<Vec<_>>());
    let eq = [100.0, 101.0, 103.0, 100.0, 99.0, 104.0];
    let m = metrics(&bars, &outcome(&eq, &[false; 6], vec![]), 100.0, 0..6);
    let r = [
        101.0 / 100.0 - 1.0,
        100.0 / 101.0 - 1.0,
        104.0 / 100.0 - 1.0,
    ];
    let mean = (r[0] + r[1] + r[2]) / 3.0;
    let var = r.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / 2.0;
    let down = r[1] * r[1] / 3.0;
    near(m.sharpe.unwrap(), mean / var.sqrt() * 365f64.sqrt());
    near(m.sortino.unwrap(), mean / down.sqrt() * 365f64.sqrt());
    assert!(m.sharpe.unwrap() > 0.0);

    // No variation, no loss: neither.
    let m = metrics(
        &bars,
        &outcome(&[100.0; 6], &[false; 6], vec![]),
        100.0,
        0..6,
    );
    assert_eq!((m.sharpe, m.sortino), (None, None));
}

#[test]
fn annual_return_and_calmar() {
    // One year, equity × 4 with a 20 % drawdown on the way.
    let bars = bars_at(&[T0, T0 + YEAR / 2, T0 + YEAR]);
    let m = metrics(
        &bars,
        &outcome(&[100.0, 80.0, 400.0], &[true; 3], vec![]),
        100.0,
        0..3,
    );
    near(m.total_return, 3.0);
    near(m.annual_return.unwrap(), 3.0);
    near(m.max_drawdown, 0.2);
    near(m.calmar.unwrap(), 15.0);
    // Half a year doubling: (2)^(2) − 1.
    let m = metrics(
        &bars,
        &outcome(&[100.0, 200.0, 200.0], &[true; 3], vec![]),
        100.0,
        0..2,
    );
    near(m.annual_return.unwrap(), 3.0);
    assert_eq!(m.calmar, None, "no drawdown");
    // Everything lost: −100 % a year.
    let m = metrics(
        &bars,
        &outcome(&[50.0, 0.0, -10.0], &[true; 3], vec![]),
        100.0,
        0..3,
    );
    assert_eq!(m.annual_return, Some(-1.0));
}

#[test]
fn percentile_is_the_nearest_rank() {
    let mut xs = [50u64, 10, 40, 20, 30];
    assert_eq!(percentile(&mut xs, 0.0), Some(10));
    assert_eq!(xs, [10, 20, 30, 40, 50], "sorted in place");
    assert_eq!(percentile(&mut xs, 0.2), Some(10));
    assert_eq!(percentile(&mut xs, 0.21), Some(20));
    assert_eq!(percentile(&mut xs, 0.5), Some(30));
    assert_eq!(percentile(&mut xs, 0.95), Some(50));
    assert_eq!(percentile(&mut xs, 1.0), Some(50));
    assert_eq!(percentile(&mut xs, 7.0), Some(50), "clamped");
    assert_eq!(percentile(&mut xs, -1.0), Some(10), "clamped");
    assert_eq!(percentile(&mut [7], 0.99), Some(7));
    assert_eq!(percentile(&mut [], 0.5), None);
    let mut four = [4u64, 1, 3, 2];
    assert_eq!(percentile(&mut four, 0.5), Some(2));
    assert_eq!(percentile(&mut four, 0.75), Some(3));
}
