//! One strategy's run: what its imports can see (no lookahead), `suggest` and the engine
//! fork, stopping, the records it exchanges, and a property test of arbitrary actions.

mod common;

use common::{action_bytes, encode};
use proptest::prelude::*;
use tradeloop_backtest::run::suggest_error;
use tradeloop_backtest::{Costs, Feed, Run, Stopped, fresh_engine, trades_hash};
use tradeloop_core::market::Candle;
use tradeloop_core::{Query, Reply};
use tradeloop_strategy::abi::{
    Action, ActionKind, Bar, CANDLE_FEATURES, Fill, Input, MAX_ACTIONS, Order, Side,
};

const HOUR: i64 = 3_600_000;
const T0: i64 = 1_704_067_200_000; // 2024-01-01 00:00 UTC

/// `n` hourly candles of a wavy, drifting price (the features need a varying close).
fn candles(n: usize) -> Vec<Candle> {
    let mut prev = 100.0;
    (0..n)
        .map(|i| {
            let x = i as f64;
            let close = 100.0 + 10.0 * (x * 0.3).sin() + 3.0 * (x * 1.7).cos() + 0.05 * x;
            let open = prev;
            prev = close;
            Candle {
                time: T0 + i as i64 * HOUR,
                open,
                high: open.max(close) + 0.5,
                low: open.min(close) - 0.5,
                close,
                volume: 1_000.0 + x,
            }
        })
        .collect()
}

fn feed(n: usize) -> Feed {
    Feed::new(&candles(n)).expect("valid candles")
}

fn submit(run: &mut Run, i: usize, actions: &[Action]) {
    run.submit(i, actions.len() as i32, &encode(actions));
}

fn input(run: &mut Run, feed: &Feed, i: usize) -> Input {
    Input::read(run.input(feed, i)).expect("a well-formed Input")
}

fn plain_run() -> Run {
    let mut run = Run::new(Costs::default(), "TEST", None).expect("valid run");
    run.started(0);
    run
}

/// `(opened, open, closed)` of the run's engine fork.
fn engine_counts(run: &Run) -> (u64, u32, u64) {
    match run.engine().expect("an engine").query(Query::Stats, T0) {
        Ok(Reply::Stats(s)) => (s.opened, s.open, s.trades.closed),
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------- construction

#[test]
fn new_checks_costs_and_symbol_and_fills_the_config() {
    let bad = [
        Costs {
            cash: 0.0,
            ..Costs::default()
        },
        Costs {
            cash: -1.0,
            ..Costs::default()
        },
        Costs {
            cash: f64::NAN,
            ..Costs::default()
        },
        Costs {
            cash: f64::INFINITY,
            ..Costs::default()
        },
        Costs {
            fee_rate: 0.6,
            ..Costs::default()
        },
        Costs {
            fee_rate: -0.001,
            ..Costs::default()
        },
        Costs {
            slippage: f64::NAN,
            ..Costs::default()
        },
        Costs {
            slippage: 0.51,
            ..Costs::default()
        },
    ];
    for c in bad {
        assert!(Run::new(c, "TEST", None).is_err(), "{c:?}");
    }
    for s in ["", "A B", "ÉTÉ", &"X".repeat(33)] {
        assert!(Run::new(Costs::default(), s, None).is_err(), "{s:?}");
    }
    let c = Costs {
        cash: 5_000.0,
        fee_rate: 0.001,
        slippage: 0.0005,
    };
    let run = Run::new(c, "BTCUSDT", None).unwrap();
    let cfg = run.config();
    assert_eq!(cfg.max_actions, MAX_ACTIONS as u32);
    assert_eq!(
        (cfg.cash, cfg.fee_rate, cfg.slippage),
        (5_000.0, 0.001, 0.0005)
    );
    assert_eq!(cfg.symbol(), "BTCUSDT");
    assert_eq!(cfg.features, 0, "no engine: suggest has no feature length");
    let f = feed(3);
    let run = Run::new(c, "BTCUSDT", Some(fresh_engine(1, &f).unwrap())).unwrap();
    assert_eq!(run.config().features, CANDLE_FEATURES as u32);
}

// ---------------------------------------------------------------- history, features

#[test]
fn history_is_empty_before_the_first_bar() {
    let feed = feed(5);
    let run = plain_run();
    let mut out = vec![0xaa; 7];
    assert_eq!(run.history(&feed, 0, 5, &mut out), 0);
    assert!(out.is_empty(), "the buffer is cleared");
}

#[test]
fn history_never_returns_a_bar_after_the_current_one_and_clips_ranges() {
    let feed = feed(12);
    let mut run = plain_run();
    let mut out = Vec::new();
    for i in 0..feed.len() {
        run.open_bar(&feed, i);
        // Everything asked for: bars 0..=i only.
        let n = run.history(&feed, 0, u32::MAX, &mut out);
        assert_eq!(n, i + 1);
        assert_eq!(out.len(), n * Bar::SIZE);
        for k in 0..n {
            assert_eq!(Bar::read(&out[k * Bar::SIZE..]).unwrap(), feed.bars()[k]);
        }
        // A range across the current bar is cut at it.
        let from = i.saturating_sub(2);
        let n = run.history(&feed, from as u32, 10, &mut out);
        assert_eq!(n, i + 1 - from);
        let last = Bar::read(&out[(n - 1) * Bar::SIZE..]).unwrap();
        assert_eq!(last, feed.bars()[i]);
        // The future alone is empty.
        for (from, count) in [(i + 1, 1), (i + 1, 100), (feed.len(), 1)] {
            assert_eq!(
                run.history(&feed, from as u32, count, &mut out),
                0,
                "bar {i}: {from}+{count}"
            );
            assert!(out.is_empty());
        }
        // Empty and absurd ranges.
        assert_eq!(run.history(&feed, 0, 0, &mut out), 0);
        assert_eq!(run.history(&feed, u32::MAX, u32::MAX, &mut out), 0);
        // An exact window in the past.
        if i >= 3 {
            assert_eq!(run.history(&feed, 1, 2, &mut out), 2);
            assert_eq!(Bar::read(&out).unwrap(), feed.bars()[1]);
            assert_eq!(Bar::read(&out[Bar::SIZE..]).unwrap(), feed.bars()[2]);
        }
    }
}

#[test]
fn features_are_none_until_defined_and_then_those_of_the_current_bar() {
    let feed = feed(110);
    assert!(feed.features(95).is_none() && feed.features(96).is_some());
    let mut run = plain_run();
    assert!(run.features(&feed).is_none(), "no bar yet");
    for i in 0..feed.len() {
        run.open_bar(&feed, i);
        assert_eq!(run.features(&feed), feed.features(i), "bar {i}");
        assert_eq!(run.features(&feed).is_some(), i >= 96, "bar {i}");
    }
}

// ---------------------------------------------------------------- suggest and the fork

#[test]
fn suggest_gives_the_documented_error_codes() {
    let feed = feed(100);
    let ok = [0.1f32; CANDLE_FEATURES];
    // No engine.
    let mut run = plain_run();
    run.open_bar(&feed, 0);
    assert_eq!(run.suggest(&feed, 0, &ok), Err(suggest_error::REFUSED));
    assert_eq!(run.suggest(&feed, 0, &[]), Err(suggest_error::REFUSED));

    let mut run = Run::new(
        Costs::default(),
        "TEST",
        Some(fresh_engine(3, &feed).unwrap()),
    )
    .unwrap();
    run.started(0);
    assert_eq!(
        run.suggest(&feed, 0, &ok),
        Err(suggest_error::REFUSED),
        "no bar yet"
    );
    run.open_bar(&feed, 0);
    for n in [0, 1, CANDLE_FEATURES - 1, CANDLE_FEATURES + 1, 1_000] {
        assert_eq!(
            run.suggest(&feed, 0, &vec![0.1; n]),
            Err(suggest_error::LENGTH),
            "n = {n}"
        );
    }
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut f = ok;
        f[17] = bad;
        assert_eq!(run.suggest(&feed, 0, &f), Err(suggest_error::NOT_FINITE));
    }
    for side in [2, -1, 256, i32::MAX] {
        assert_eq!(
            run.suggest(&feed, side, &ok),
            Err(suggest_error::REFUSED),
            "side {side}"
        );
    }
    for side in [0, 1] {
        let s = run.suggest(&feed, side, &ok).expect("a suggestion");
        assert!(s.probs.iter().all(|p| (0.0..=1.0).contains(p)), "{s:?}");
        assert!((s.probs.iter().sum::<f64>() - 1.0).abs() < 1e-5, "{s:?}");
        assert!(s.stop_pct.is_finite() && s.stop_pct > 0.0, "{s:?}");
        assert!(s.target_pct.is_finite() && s.target_pct > 0.0, "{s:?}");
    }
    assert_eq!(
        [
            suggest_error::BAD_POINTER,
            suggest_error::LENGTH,
            suggest_error::NOT_FINITE,
            suggest_error::REFUSED
        ],
        [-1, -2, -3, -4]
    );
}

#[test]
fn suggest_gives_the_same_answer_twice_within_a_bar() {
    let feed = feed(110);
    let mut run = Run::new(
        Costs::default(),
        "TEST",
        Some(fresh_engine(5, &feed).unwrap()),
    )
    .unwrap();
    run.started(0);
    for i in 0..=100 {
        run.open_bar(&feed, i);
    }
    let f = *run.features(&feed).unwrap();
    let a = run.suggest(&feed, 0, &f).unwrap();
    // Submitting an order does not change the fork within the bar.
    submit(&mut run, 100, &[Action::market(Side::Buy, 1.0, 0)]);
    let b = run.suggest(&feed, 0, &f).unwrap();
    assert_eq!(a, b);
    let c = run.suggest(&feed, 1, &f).unwrap();
    assert_eq!(c, run.suggest(&feed, 1, &f).unwrap());
}

#[test]
fn the_engine_fork_records_a_trade_from_flat_to_flat() {
    let feed = feed(130);
    let mut run = Run::new(
        Costs::default(),
        "TEST",
        Some(fresh_engine(7, &feed).unwrap()),
    )
    .unwrap();
    run.started(0);
    let mut counts = Vec::new();
    for i in 0..feed.len() {
        run.open_bar(&feed, i);
        counts.push(engine_counts(&run));
        let actions = match i {
            // Ordered before the features exist: the fork cannot learn it.
            10 => vec![Action::market(Side::Buy, 1.0, 0)],
            20 => vec![Action::close(0)],
            // Long from 101 to 106, scaled in on the way (no new trade).
            100 => vec![Action::market(Side::Buy, 1.0, 0)],
            102 => vec![Action::market(Side::Buy, 1.0, 0)],
            105 => vec![Action::close(0)],
            // Short from 111; through zero at 113 (closes it, opens a long); flat at 116.
            110 => vec![Action::market(Side::Sell, 2.0, 0)],
            112 => vec![Action::market(Side::Buy, 5.0, 0)],
            115 => vec![Action::close(0)],
            _ => vec![],
        };
        submit(&mut run, i, &actions);
    }
    assert_eq!(
        counts[11],
        (0, 0, 0),
        "a trade ordered without features is not taught"
    );
    assert_eq!(counts[21], (0, 0, 0));
    assert_eq!(counts[100], (0, 0, 0));
    assert_eq!(counts[101], (1, 1, 0), "opened when the position left flat");
    assert_eq!(counts[103], (1, 1, 0), "scaling in opens nothing");
    assert_eq!(counts[105], (1, 1, 0));
    assert_eq!(counts[106], (1, 0, 1), "closed when it returned to flat");
    assert_eq!(counts[111], (2, 1, 1));
    assert_eq!(
        counts[113],
        (3, 1, 2),
        "through zero: one closed, the next opened"
    );
    assert_eq!(counts[116], (3, 0, 3));
    assert_eq!(counts[129], (3, 0, 3));
    let out = run.finish(&feed);
    assert_eq!(out.engine_refusals, 0);
    assert_eq!(out.trades.len(), 4);
    assert!(out.trades.iter().all(|t| !t.end_of_data));
}

#[test]
fn the_fork_is_the_same_for_the_same_seed_data_and_actions() {
    // The same seed, data and actions give the same fork and the same suggestions.
    let feed = feed(110);
    let go = || {
        let mut run = Run::new(
            Costs::default(),
            "TEST",
            Some(fresh_engine(9, &feed).unwrap()),
        )
        .unwrap();
        run.started(0);
        for i in 0..feed.len() {
            run.open_bar(&feed, i);
            if i == 97 {
                submit(&mut run, i, &[Action::market(Side::Buy, 1.0, 0)]);
            }
        }
        let f = *run.features(&feed).unwrap();
        (run.suggest(&feed, 0, &f).unwrap(), engine_counts(&run))
    };
    let (a, b) = (go(), go());
    assert_eq!(a, b);
    assert_eq!(a.1, (1, 1, 0));
}

// ---------------------------------------------------------------- stopping

#[test]
fn a_stopped_run_liquidates_at_the_next_open_and_gets_no_more_bars() {
    let feed = feed(8);
    let bars = feed.bars();
    let mut run = plain_run();
    run.open_bar(&feed, 0);
    assert!(run.wants_bar(0));
    submit(
        &mut run,
        0,
        &[
            Action::market(Side::Buy, 10.0, 4),
            Action::limit(Side::Buy, 1.0, 1.0, 5),
        ],
    );
    let fills = run.open_bar(&feed, 1);
    assert_eq!(fills.len(), 1);
    assert_eq!(fills[0].price, bars[1].open);
    assert_eq!(input(&mut run, &feed, 1).orders.len(), 1);

    run.stop(1, "out of fuel".into());
    let stopped = Stopped {
        bar: 1,
        reason: "out of fuel".into(),
    };
    assert_eq!(run.stopped(), Some(&stopped));
    run.stop(3, "again".into());
    assert_eq!(run.stopped(), Some(&stopped), "the first reason stays");
    for i in 1..feed.len() {
        assert!(!run.wants_bar(i));
    }
    // The liquidation fills at bar 2's open; the module is not told.
    assert!(run.open_bar(&feed, 2).is_empty());
    let inp = input(&mut run, &feed, 2);
    assert_eq!(inp.position, 0.0);
    assert!(inp.orders.is_empty(), "its orders are cancelled");
    assert_eq!(inp.cash, 10_000.0 + 10.0 * (bars[2].open - bars[1].open));
    for i in 3..feed.len() {
        assert!(run.open_bar(&feed, i).is_empty());
    }
    let out = run.finish(&feed);
    assert_eq!(out.stopped, Some(stopped));
    assert_eq!(out.fills, 2);
    assert_eq!(out.trades.len(), 1);
    let t = out.trades[0];
    assert!(!t.end_of_data);
    assert_eq!((t.entry_bar, t.exit_bar, t.tag), (1, 2, 4));
    assert_eq!((t.entry_price, t.exit_price), (bars[1].open, bars[2].open));
    assert_eq!(
        out.exposed,
        [false, true, false, false, false, false, false, false]
    );
}

#[test]
fn started_negative_stops_the_run_and_warm_up_delays_on_bar() {
    let mut run = Run::new(Costs::default(), "TEST", None).unwrap();
    run.started(-1);
    assert!(run.stopped().is_some());
    assert_eq!(run.stopped().unwrap().bar, 0);
    assert!(!run.wants_bar(0) && !run.wants_bar(100));

    let mut run = Run::new(Costs::default(), "TEST", None).unwrap();
    run.started(3);
    assert!(run.stopped().is_none());
    assert_eq!(
        (0..6).map(|i| run.wants_bar(i)).collect::<Vec<_>>(),
        [false, false, false, true, true, true]
    );

    let mut run = Run::new(Costs::default(), "TEST", None).unwrap();
    run.started(i64::from(u32::MAX) + 1);
    assert!(
        run.stopped().is_some(),
        "more warm-up bars than a bar index can count"
    );
}

#[test]
fn a_negative_on_bar_return_stops_the_strategy() {
    let feed = feed(4);
    let mut run = plain_run();
    run.open_bar(&feed, 0);
    submit(&mut run, 0, &[Action::market(Side::Buy, 1.0, 0)]);
    run.open_bar(&feed, 1);
    run.submit(1, -7, &[]);
    assert_eq!(run.stopped().map(|s| s.bar), Some(1));
    assert!(run.stopped().unwrap().reason.contains("-7"));
    assert!(!run.wants_bar(2));
    run.open_bar(&feed, 2);
    assert_eq!(input(&mut run, &feed, 2).position, 0.0);
}

// ---------------------------------------------------------------- records and outcome

#[test]
fn input_records_the_bar_the_account_and_the_open_orders() {
    let feed = feed(5);
    let bars = feed.bars();
    let c = Costs {
        cash: 10_000.0,
        fee_rate: 0.001,
        slippage: 0.0,
    };
    let mut run = Run::new(c, "TEST", None).unwrap();
    run.started(0);
    run.open_bar(&feed, 0);
    let inp = input(&mut run, &feed, 0);
    assert_eq!(
        (
            inp.index,
            inp.bar,
            inp.position,
            inp.entry_price,
            inp.cash,
            inp.equity
        ),
        (0, bars[0], 0.0, 0.0, 10_000.0, 10_000.0)
    );
    assert!(inp.orders.is_empty());
    submit(
        &mut run,
        0,
        &[
            Action::market(Side::Buy, 10.0, 1),
            Action::stop(Side::Sell, 10.0, 50.0, 2).reduce_only(),
        ],
    );
    let fills: Vec<Fill> = run.open_bar(&feed, 1);
    assert_eq!(fills.len(), 1);
    let p = bars[1].open;
    let cash = 10_000.0 - 10.0 * p - 0.001 * 10.0 * p;
    let inp = input(&mut run, &feed, 1);
    assert_eq!(inp.index, 1);
    assert_eq!(inp.bar, bars[1]);
    assert_eq!((inp.position, inp.entry_price, inp.cash), (10.0, p, cash));
    assert_eq!(inp.equity, cash + 10.0 * bars[1].close);
    assert_eq!(
        inp.orders,
        [Order {
            id: 2,
            kind: ActionKind::Stop,
            side: Side::Sell,
            tag: 2,
            placed: 0,
            size: 10.0,
            price: 50.0,
            flags: 1,
        }]
    );
}

#[test]
fn the_outcome_has_the_equity_exposure_and_hash_of_the_run() {
    let feed = feed(6);
    let bars = feed.bars();
    let mut run = plain_run();
    let plan: [&[Action]; 6] = [
        &[Action::market(Side::Buy, 10.0, 0)],
        &[],
        &[Action::close(0), Action::cancel(99)],
        &[Action::market(Side::Sell, 5.0, 0)],
        &[],
        &[],
    ];
    for (i, actions) in plan.iter().enumerate() {
        run.open_bar(&feed, i);
        submit(&mut run, i, actions);
    }
    let out = run.finish(&feed);
    // Cash after each bar's fills, booked in the same order as the broker does.
    let o = |i: usize| bars[i].open;
    let c1 = 10_000.0 - 10.0 * o(1);
    let c3 = c1 + 10.0 * o(3);
    let c4 = c3 + 5.0 * o(4);
    let cash = [10_000.0, c1, c1, c3, c4, c4];
    let pos = [0.0, 10.0, 10.0, 0.0, -5.0, -5.0];
    for i in 0..6 {
        assert_eq!(out.equity[i], cash[i] + pos[i] * bars[i].close, "bar {i}");
    }
    assert!((out.equity[3] - (10_000.0 + 10.0 * (o(3) - o(1)))).abs() < 1e-9);
    assert_eq!(out.exposed, [false, true, true, false, true, true]);
    assert_eq!(out.fills, 3);
    assert_eq!(out.rejections.unknown_order, 1);
    assert_eq!(out.rejections.total(), 1);
    assert_eq!(out.trades.len(), 2);
    assert!(!out.trades[0].end_of_data && out.trades[1].end_of_data);
    // (5 × close) / 5: equal up to rounding.
    assert!((out.trades[1].exit_price - bars[5].close).abs() < 1e-12 * bars[5].close);
    assert_eq!(out.trade_hash, trades_hash(&out.trades));
    assert!(out.stopped.is_none());
}

// ---------------------------------------------------------------- property test

fn candles_strategy() -> impl Strategy<Value = Vec<Candle>> {
    (
        1.0f64..1_000.0,
        prop::collection::vec(
            (
                -0.1f64..0.1,
                -0.03f64..0.03,
                0.0f64..0.05,
                0.0f64..0.05,
                0.0f64..1e6,
            ),
            1..150,
        ),
    )
        .prop_map(|(start, steps)| {
            let mut prev = start;
            steps
                .into_iter()
                .enumerate()
                .map(|(i, (ret, gap, up, down, volume))| {
                    let open = prev * (1.0 + gap);
                    let close = open * (1.0 + ret);
                    prev = close;
                    Candle {
                        time: T0 + i as i64 * HOUR,
                        open,
                        high: open.max(close) * (1.0 + up),
                        low: open.min(close) * (1.0 - down),
                        close,
                        volume,
                    }
                })
                .collect()
        })
}

fn batches() -> impl Strategy<Value = Vec<(Vec<[u8; Action::SIZE]>, Option<i32>)>> {
    prop::collection::vec(
        (
            prop::collection::vec(action_bytes(), 0..6),
            prop_oneof![20 => Just(None), 1 => (-2i32..40).prop_map(Some)],
        ),
        0..150,
    )
}

/// Runs the strategy the batches describe; checks the invariants bar by bar and returns the
/// outcome's hash, equity bits and trades.
fn drive(
    c: Costs,
    feed: &Feed,
    warmup: i64,
    batches: &[(Vec<[u8; Action::SIZE]>, Option<i32>)],
) -> (u64, Vec<u64>, Vec<tradeloop_backtest::Trade>) {
    let mut run = Run::new(c, "PROP", None).unwrap();
    run.started(warmup);
    let mut books = Vec::new();
    for i in 0..feed.len() {
        let fills = run.open_bar(feed, i);
        let bar = feed.bars()[i];
        for f in &fills {
            assert_eq!(f.bar as usize, i);
            assert!(
                f.price >= bar.low * (1.0 - c.slippage) * (1.0 - 1e-12),
                "{f:?} {bar:?}"
            );
            assert!(
                f.price <= bar.high * (1.0 + c.slippage) * (1.0 + 1e-12),
                "{f:?} {bar:?}"
            );
        }
        let inp = input(&mut run, feed, i);
        assert!(inp.cash.is_finite() && inp.position.is_finite(), "{inp:?}");
        assert_eq!(inp.equity, inp.cash + inp.position * bar.close);
        assert!(run.stopped().is_none() || fills.is_empty());
        books.push((inp.cash, inp.position));
        if run.wants_bar(i)
            && let Some((actions, returned)) = batches.get(i)
        {
            let bytes: Vec<u8> = actions.iter().flatten().copied().collect();
            run.submit(i, returned.unwrap_or(actions.len() as i32), &bytes);
        }
    }
    let out = run.finish(feed);
    assert_eq!(out.equity.len(), feed.len());
    assert_eq!(out.exposed.len(), feed.len());
    for (i, &(cash, position)) in books.iter().enumerate() {
        let close = feed.bars()[i].close;
        assert_eq!(out.equity[i], cash + position * close, "bar {i}");
        assert_eq!(out.exposed[i], position != 0.0, "bar {i}");
    }
    assert_eq!(out.trade_hash, trades_hash(&out.trades));
    for t in &out.trades {
        assert!(
            t.pnl.is_finite() && t.entry_price.is_finite() && t.exit_price.is_finite(),
            "{t:?}"
        );
        assert!(t.entry_bar <= t.exit_bar && (t.exit_bar as usize) < feed.len());
    }
    (
        out.trade_hash,
        out.equity.iter().map(|e| e.to_bits()).collect(),
        out.trades,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_actions_through_a_run_keep_it_sound_and_deterministic(
        candles in candles_strategy(),
        cash in prop_oneof![Just(10_000.0), 1.0f64..1e7],
        fee_rate in 0.0f64..=0.01,
        slippage in 0.0f64..=0.01,
        warmup in prop_oneof![4 => Just(0i64), 1 => -1i64..20],
        batches in batches(),
    ) {
        let feed = Feed::new(&candles).unwrap();
        let c = Costs { cash, fee_rate, slippage };
        let a = drive(c, &feed, warmup, &batches);
        let b = drive(c, &feed, warmup, &batches);
        prop_assert_eq!(a.0, b.0);
        prop_assert_eq!(a, b);
    }
}
