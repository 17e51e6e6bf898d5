//! The broker against the execution rules of `docs/STRATEGY_ABI.md`, each case worked out by
//! hand on a few made-up bars, the rejections of malformed actions, and a property test of
//! arbitrary actions on arbitrary (valid) bars.

mod common;

use common::{action_bytes, encode};
use proptest::prelude::*;
use tradeloop_backtest::broker::{Broker, Costs, Trade, TradeEvent};
use tradeloop_backtest::trades_hash;
use tradeloop_strategy::abi::{
    Action, ActionKind, Bar, Fill, MAX_ACTIONS, MAX_OPEN_ORDERS, Order, REDUCE_ONLY, REFUSED_CASH,
    REFUSED_REDUCE_ONLY, Side,
};

const MINUTE: i64 = 60_000;

/// Bar `i` (one a minute).
fn bar(i: i64, open: f64, high: f64, low: f64, close: f64) -> Bar {
    Bar {
        time: 1_700_000_000_000 + i * MINUTE,
        open,
        high,
        low,
        close,
        volume: 1.0,
    }
}

/// A bar that trades at 100 only.
fn flat(i: i64) -> Bar {
    bar(i, 100.0, 100.0, 100.0, 100.0)
}

/// A bar that opens (and trades only) at `price`.
fn at(i: i64, price: f64) -> Bar {
    bar(i, price, price, price, price)
}

fn costs(cash: f64, fee_rate: f64, slippage: f64) -> Costs {
    Costs {
        cash,
        fee_rate,
        slippage,
    }
}

fn place(b: &mut Broker, bar: u32, actions: &[Action]) {
    b.submit(bar, actions.len(), &encode(actions));
}

fn step(b: &mut Broker, i: u32, bar: &Bar) -> Vec<Fill> {
    step_events(b, i, bar).0
}

fn step_events(b: &mut Broker, i: u32, bar: &Bar) -> (Vec<Fill>, Vec<TradeEvent>) {
    let mut events = Vec::new();
    let fills = b.execute(i, bar, &mut events);
    (fills, events)
}

/// Places `action` on bar 0 of a fresh flat broker and executes bar 1.
fn one_fill(c: Costs, action: Action, next: &Bar) -> (Broker, Vec<Fill>) {
    let mut b = Broker::new(c);
    place(&mut b, 0, &[action]);
    let fills = step(&mut b, 1, next);
    (b, fills)
}

/// A broker that bought `size` at `price` on bar 1 (fee and slippage of `c` apply).
fn long_at(c: Costs, size: f64, price: f64) -> Broker {
    let mut b = Broker::new(c);
    place(&mut b, 0, &[Action::market(Side::Buy, size, 1)]);
    let f = step(&mut b, 1, &at(1, price));
    assert!(f[0].filled);
    b
}

#[track_caller]
fn near(a: f64, b: f64) {
    assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "{a} != {b}");
}

/// What a rejected action must leave alone.
#[derive(Debug, PartialEq)]
struct State {
    cash: u64,
    position: u64,
    orders: Vec<Order>,
    trades: Vec<Trade>,
    fills: u64,
}

fn state(b: &Broker) -> State {
    State {
        cash: b.cash().to_bits(),
        position: b.position().to_bits(),
        orders: b.open_orders(),
        trades: b.trades().to_vec(),
        fills: b.fills(),
    }
}

// ---------------------------------------------------------------- market orders, slippage

#[test]
fn market_order_fills_at_the_next_open_never_on_its_own_bar() {
    let mut b = Broker::new(Costs::default());
    let b0 = bar(0, 100.0, 105.0, 95.0, 102.0);
    place(&mut b, 0, &[Action::market(Side::Buy, 10.0, 7)]);
    // Executing the bar it was placed on does nothing: the order is for later bars.
    assert!(step(&mut b, 0, &b0).is_empty());
    assert_eq!(b.position(), 0.0);
    assert_eq!(b.cash(), 10_000.0);

    let b1 = bar(1, 103.0, 110.0, 90.0, 108.0);
    let fills = step(&mut b, 1, &b1);
    assert_eq!(fills.len(), 1);
    let f = fills[0];
    assert!(f.filled);
    assert_eq!(f.refusal, 0);
    assert_eq!(f.order_id, 1);
    assert_eq!(f.kind, ActionKind::Market);
    assert_eq!(f.side, Side::Buy);
    assert_eq!(f.tag, 7);
    assert_eq!(f.bar, 1);
    assert_eq!(f.size, 10.0);
    assert_eq!(
        f.price, 103.0,
        "the open of bar 1, not its close, high or low"
    );
    assert_eq!(f.fee, 0.0);
    assert_eq!(f.position, 10.0);
    assert_eq!(b.position(), 10.0);
    assert_eq!(b.cash(), 10_000.0 - 1_030.0);
    assert_eq!(b.entry_price(), 103.0);
    assert_eq!(b.equity(108.0), 10_000.0 + 50.0);
    assert_eq!(b.fills(), 1);
    // Filled once only.
    assert!(step(&mut b, 2, &bar(2, 104.0, 104.0, 104.0, 104.0)).is_empty());
    assert_eq!(b.position(), 10.0);
}

#[test]
fn slippage_moves_market_and_stop_fills_against_the_strategy_never_limit_fills() {
    let c = costs(1e6, 0.0, 0.01);
    let open100 = |high, low| bar(1, 100.0, high, low, 100.0);
    let price = |a: Action, next: &Bar| {
        let (_, f) = one_fill(c, a, next);
        assert!(f[0].filled, "{a:?}");
        f[0].price
    };
    near(
        price(Action::market(Side::Buy, 1.0, 0), &open100(100.0, 100.0)),
        101.0,
    );
    near(
        price(Action::market(Side::Sell, 1.0, 0), &open100(100.0, 100.0)),
        99.0,
    );
    near(
        price(
            Action::stop(Side::Buy, 1.0, 110.0, 0),
            &open100(115.0, 99.0),
        ),
        111.1,
    );
    near(
        price(
            Action::stop(Side::Sell, 1.0, 90.0, 0),
            &open100(101.0, 85.0),
        ),
        89.1,
    );
    // Limits: exactly their price, or the open after a gap.
    assert_eq!(
        price(
            Action::limit(Side::Buy, 1.0, 95.0, 0),
            &open100(101.0, 94.0)
        ),
        95.0
    );
    assert_eq!(
        price(
            Action::limit(Side::Sell, 1.0, 105.0, 0),
            &open100(106.0, 99.0)
        ),
        105.0
    );
    assert_eq!(
        price(
            Action::limit(Side::Buy, 1.0, 95.0, 0),
            &bar(1, 90.0, 91.0, 89.0, 90.0)
        ),
        90.0
    );
    assert_eq!(
        price(
            Action::limit(Side::Sell, 1.0, 105.0, 0),
            &bar(1, 110.0, 111.0, 109.0, 110.0)
        ),
        110.0
    );
    // The cash moves with the slipped price.
    let (b, _) = one_fill(c, Action::market(Side::Buy, 2.0, 0), &open100(100.0, 100.0));
    near(b.cash(), 1e6 - 202.0);
}

// ---------------------------------------------------------------- limit orders

#[test]
fn limit_buy_fills_only_when_the_low_reaches_its_price_at_the_better_of_open_and_price() {
    let mut b = Broker::new(Costs::default());
    place(&mut b, 0, &[Action::limit(Side::Buy, 10.0, 95.0, 3)]);
    // The low stays above 95: no fill, the order stays open.
    assert!(step(&mut b, 1, &bar(1, 100.0, 101.0, 95.01, 100.0)).is_empty());
    assert_eq!(b.open_orders().len(), 1);
    // A high far above does not matter either.
    assert!(step(&mut b, 2, &bar(2, 100.0, 200.0, 96.0, 100.0)).is_empty());
    // The low touches 95 exactly: fills at 95 (the open, 100, is worse).
    let f = step(&mut b, 3, &bar(3, 100.0, 101.0, 95.0, 99.0));
    assert_eq!(f.len(), 1);
    assert_eq!(
        (f[0].price, f[0].size, f[0].tag, f[0].bar),
        (95.0, 10.0, 3, 3)
    );
    assert_eq!(f[0].kind, ActionKind::Limit);
    assert_eq!(b.position(), 10.0);
    assert_eq!(b.cash(), 10_000.0 - 950.0);
    assert!(b.open_orders().is_empty());

    // Gap: the bar opens below the limit, the buy gets the open.
    let (b, f) = one_fill(
        Costs::default(),
        Action::limit(Side::Buy, 10.0, 95.0, 0),
        &bar(1, 92.0, 93.0, 90.0, 91.0),
    );
    assert_eq!(f[0].price, 92.0);
    assert_eq!(b.cash(), 10_000.0 - 920.0);
}

#[test]
fn limit_sell_fills_only_when_the_high_reaches_its_price_at_the_better_of_open_and_price() {
    let mut b = long_at(Costs::default(), 10.0, 100.0);
    place(&mut b, 1, &[Action::limit(Side::Sell, 10.0, 105.0, 4)]);
    assert!(step(&mut b, 2, &bar(2, 100.0, 104.99, 90.0, 100.0)).is_empty());
    assert!(step(&mut b, 3, &bar(3, 100.0, 104.0, 1.0, 100.0)).is_empty());
    let f = step(&mut b, 4, &bar(4, 101.0, 105.0, 100.0, 102.0));
    assert_eq!(f.len(), 1);
    assert_eq!((f[0].price, f[0].side, f[0].bar), (105.0, Side::Sell, 4));
    assert_eq!(b.position(), 0.0);
    assert_eq!(b.trades().len(), 1);
    assert_eq!(b.trades()[0].pnl, 50.0);

    // Gap: the bar opens above the limit, the sell gets the open.
    let mut b = long_at(Costs::default(), 10.0, 100.0);
    place(&mut b, 1, &[Action::limit(Side::Sell, 10.0, 105.0, 4)]);
    let f = step(&mut b, 2, &bar(2, 108.0, 109.0, 107.0, 108.0));
    assert_eq!(f[0].price, 108.0);
    assert_eq!(b.trades()[0].pnl, 80.0);
}

// ---------------------------------------------------------------- stop orders

#[test]
fn stop_buy_triggers_when_the_high_reaches_its_price_and_fills_at_max_of_open_and_price() {
    let c = costs(10_000.0, 0.0, 0.01);
    let mut b = Broker::new(c);
    place(&mut b, 0, &[Action::stop(Side::Buy, 10.0, 110.0, 5)]);
    // The high stays below; a deep low does not trigger a buy stop.
    assert!(step(&mut b, 1, &bar(1, 100.0, 109.99, 50.0, 100.0)).is_empty());
    assert_eq!(b.open_orders().len(), 1);
    let f = step(&mut b, 2, &bar(2, 100.0, 110.0, 99.0, 105.0));
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].kind, ActionKind::Stop);
    near(f[0].price, 111.1);
    assert_eq!(b.position(), 10.0);
    near(b.cash(), 10_000.0 - 1_111.0);

    // Gap: opens above the stop, fills at the open plus slippage.
    let (_, f) = one_fill(
        c,
        Action::stop(Side::Buy, 10.0, 110.0, 0),
        &bar(1, 112.0, 113.0, 111.0, 112.0),
    );
    near(f[0].price, 113.12);
}

#[test]
fn stop_sell_triggers_when_the_low_reaches_its_price_and_fills_at_min_of_open_and_price() {
    let c = costs(10_000.0, 0.0, 0.01);
    let mut b = Broker::new(c);
    place(&mut b, 0, &[Action::stop(Side::Sell, 10.0, 90.0, 6)]);
    assert!(step(&mut b, 1, &bar(1, 100.0, 200.0, 90.01, 100.0)).is_empty());
    let f = step(&mut b, 2, &bar(2, 100.0, 101.0, 90.0, 95.0));
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].side, Side::Sell);
    near(f[0].price, 89.1);
    assert_eq!(b.position(), -10.0);
    near(b.cash(), 10_000.0 + 891.0);

    let (_, f) = one_fill(
        c,
        Action::stop(Side::Sell, 10.0, 90.0, 0),
        &bar(1, 85.0, 86.0, 84.0, 85.0),
    );
    near(f[0].price, 84.15);
}

// ---------------------------------------------------------------- order of execution

#[test]
fn orders_are_tried_in_id_order_within_a_bar() {
    // A limit (id 1) placed on bar 0, then a market order (id 2) placed on bar 1.
    let mut b = Broker::new(Costs::default());
    place(&mut b, 0, &[Action::limit(Side::Buy, 1.0, 100.0, 1)]);
    assert!(step(&mut b, 1, &bar(1, 105.0, 106.0, 101.0, 105.0)).is_empty());
    place(&mut b, 1, &[Action::market(Side::Buy, 2.0, 2)]);
    let f = step(&mut b, 2, &bar(2, 99.0, 100.0, 98.0, 99.0));
    assert_eq!(f.iter().map(|f| f.order_id).collect::<Vec<_>>(), [1, 2]);
    assert!(f.iter().all(|f| f.filled && f.price == 99.0));

    // The order matters: a reduce-only sell (id 1) is tried before the buy (id 2) while
    // flat, so it is refused and the buy fills.
    let mut b = Broker::new(Costs::default());
    place(
        &mut b,
        0,
        &[
            Action::market(Side::Sell, 5.0, 1).reduce_only(),
            Action::market(Side::Buy, 5.0, 2),
        ],
    );
    let f = step(&mut b, 1, &flat(1));
    assert_eq!(f.len(), 2);
    assert_eq!(
        (f[0].order_id, f[0].filled, f[0].refusal),
        (1, false, REFUSED_REDUCE_ONLY)
    );
    assert_eq!((f[1].order_id, f[1].filled), (2, true));
    assert_eq!(b.position(), 5.0);

    // And with the cash: the first order takes all of it, the second is refused.
    let mut b = Broker::new(costs(1_000.0, 0.0, 0.0));
    place(
        &mut b,
        0,
        &[
            Action::limit(Side::Buy, 10.0, 100.0, 1),
            Action::market(Side::Buy, 10.0, 2),
        ],
    );
    let f = step(&mut b, 1, &flat(1));
    assert_eq!((f[0].order_id, f[0].filled), (1, true));
    assert_eq!(
        (f[1].order_id, f[1].filled, f[1].refusal),
        (2, false, REFUSED_CASH)
    );
    assert_eq!(f[0].kind, ActionKind::Limit);
    assert_eq!(b.position(), 10.0);
}

#[test]
fn limit_and_stop_orders_stay_open_across_bars_until_filled_or_cancelled() {
    let mut b = Broker::new(Costs::default());
    place(
        &mut b,
        0,
        &[
            Action::limit(Side::Buy, 1.0, 50.0, 11),
            Action::stop(Side::Sell, 2.0, 20.0, 12).reduce_only(),
            Action::market(Side::Buy, 1.0, 13),
        ],
    );
    let expected = vec![
        Order {
            id: 1,
            kind: ActionKind::Limit,
            side: Side::Buy,
            tag: 11,
            placed: 0,
            size: 1.0,
            price: 50.0,
            flags: 0,
        },
        Order {
            id: 2,
            kind: ActionKind::Stop,
            side: Side::Sell,
            tag: 12,
            placed: 0,
            size: 2.0,
            price: 20.0,
            flags: REDUCE_ONLY,
        },
    ];
    // The market order is never listed.
    assert_eq!(b.open_orders(), expected);
    for i in 1..=4 {
        let f = step(&mut b, i, &bar(i64::from(i), 100.0, 110.0, 90.0, 100.0));
        assert_eq!(
            f.len(),
            usize::from(i == 1),
            "bar {i}: only the market order fills"
        );
        assert_eq!(b.open_orders(), expected, "bar {i}");
    }
    place(&mut b, 4, &[Action::cancel(2)]);
    assert_eq!(b.open_orders(), expected[..1]);
    // Cancelled: a low through 20 no longer triggers it; the limit at 50 fills.
    let f = step(&mut b, 5, &bar(5, 100.0, 100.0, 10.0, 60.0));
    assert_eq!(f.len(), 1);
    assert_eq!((f[0].order_id, f[0].price), (1, 50.0));
    assert!(b.open_orders().is_empty());
    assert_eq!(b.position(), 2.0);
    // A filled order is not open any more: cancelling it is an unknown order.
    place(&mut b, 5, &[Action::cancel(1)]);
    assert_eq!(b.rejections().unknown_order, 1);
}

#[test]
fn cancelling_an_unknown_order_is_counted_and_changes_nothing() {
    let mut b = long_at(Costs::default(), 10.0, 100.0);
    place(&mut b, 1, &[Action::limit(Side::Sell, 1.0, 500.0, 0)]);
    let before = state(&b);
    place(&mut b, 2, &[Action::cancel(42), Action::cancel(0)]);
    assert_eq!(b.rejections().unknown_order, 2);
    assert_eq!(state(&b), before);
    // The same order cancelled twice: the second is unknown.
    let id = b.open_orders()[0].id;
    place(&mut b, 2, &[Action::cancel(id), Action::cancel(id)]);
    assert_eq!(b.rejections().unknown_order, 3);
    assert!(b.open_orders().is_empty());
    assert_eq!(b.rejections().total(), 3);
}

// ---------------------------------------------------------------- fees and cash

#[test]
fn fees_are_paid_from_cash_on_every_fill_and_counted_in_the_trade_pnl() {
    let c = costs(10_000.0, 0.001, 0.0);
    let mut b = Broker::new(c);
    place(&mut b, 0, &[Action::market(Side::Buy, 10.0, 1)]);
    let f = step(&mut b, 1, &flat(1));
    near(f[0].fee, 1.0);
    near(b.cash(), 10_000.0 - 1_000.0 - 1.0);
    // A limit fill pays the fee on its own price.
    place(&mut b, 1, &[Action::limit(Side::Sell, 10.0, 110.0, 2)]);
    let f = step(&mut b, 2, &bar(2, 105.0, 111.0, 104.0, 108.0));
    assert_eq!(f[0].price, 110.0);
    near(f[0].fee, 1.1);
    near(b.cash(), 10_000.0 - 1_001.0 + 1_100.0 - 1.1);
    let t = b.trades()[0];
    near(t.pnl, 100.0 - 1.0 - 1.1);
    near(t.return_pct, 97.9 / 1_000.0);
    // Cash and trade PnL agree.
    near(b.cash() - 10_000.0, t.pnl);
}

#[test]
fn a_fill_beyond_the_equity_is_refused_and_changes_nothing() {
    let mut b = Broker::new(costs(1_000.0, 0.0, 0.0));
    place(&mut b, 0, &[Action::market(Side::Buy, 10.0, 9)]);
    let before = state(&b);
    let f = step(&mut b, 1, &at(1, 101.0));
    assert_eq!(f.len(), 1);
    let f = f[0];
    assert!(!f.filled);
    assert_eq!(f.refusal, REFUSED_CASH);
    assert_eq!(
        (f.order_id, f.tag, f.bar, f.size, f.price, f.fee, f.position),
        (1, 9, 1, 10.0, 101.0, 0.0, 0.0)
    );
    assert_eq!(state(&b), before);
    assert_eq!(b.rejections().no_cash, 1);
    // The refused order is gone.
    assert!(step(&mut b, 2, &at(2, 50.0)).is_empty());

    // Short side too: |position| × price = 1010 > 1000.
    let (b, f) = one_fill(
        costs(1_000.0, 0.0, 0.0),
        Action::market(Side::Sell, 10.0, 0),
        &at(1, 101.0),
    );
    assert_eq!((f[0].filled, f[0].refusal), (false, REFUSED_CASH));
    assert_eq!((b.cash(), b.position()), (1_000.0, 0.0));

    // Exactly the equity is allowed...
    let (b, f) = one_fill(
        costs(1_000.0, 0.0, 0.0),
        Action::market(Side::Buy, 10.0, 0),
        &at(1, 100.0),
    );
    assert!(f[0].filled);
    assert_eq!((b.cash(), b.position()), (0.0, 10.0));
    // ...but not once the fee is paid out of it.
    let (b, f) = one_fill(
        costs(1_000.0, 0.001, 0.0),
        Action::market(Side::Buy, 10.0, 0),
        &at(1, 100.0),
    );
    assert_eq!(
        (f[0].filled, f[0].refusal, f[0].fee),
        (false, REFUSED_CASH, 0.0)
    );
    assert_eq!((b.cash(), b.position()), (1_000.0, 0.0));
    // A limit or stop order is refused the same way.
    let (b, f) = one_fill(
        costs(1_000.0, 0.0, 0.0),
        Action::stop(Side::Buy, 20.0, 100.0, 0),
        &at(1, 100.0),
    );
    assert_eq!((f[0].filled, f[0].kind), (false, ActionKind::Stop));
    assert!(b.open_orders().is_empty());
    assert_eq!(b.rejections().no_cash, 1);
}

#[test]
fn a_size_whose_value_overflows_is_refused_and_cash_stays_finite() {
    // 1e307 × 100 is infinite: the equity check must refuse it, not compare with a NaN.
    for side in [Side::Buy, Side::Sell] {
        for size in [1e307, f64::MAX] {
            let (b, f) = one_fill(
                Costs::default(),
                Action::market(side, size, 0),
                &at(1, 100.0),
            );
            assert_eq!(
                (f[0].filled, f[0].refusal),
                (false, REFUSED_CASH),
                "{side:?} {size}"
            );
            assert_eq!((b.cash(), b.position()), (10_000.0, 0.0));
        }
    }
}

#[test]
fn a_reducing_fill_is_never_refused_even_with_negative_equity() {
    let mut b = Broker::new(costs(1_000.0, 0.0, 0.0));
    place(&mut b, 0, &[Action::market(Side::Sell, 10.0, 0)]);
    assert!(step(&mut b, 1, &flat(1))[0].filled);
    assert_eq!((b.cash(), b.position()), (2_000.0, -10.0));
    // The price triples: the equity is 2000 - 3000 = -1000.
    assert_eq!(b.equity(300.0), -1_000.0);
    place(
        &mut b,
        1,
        &[
            Action::market(Side::Buy, 4.0, 0),
            Action::market(Side::Sell, 1.0, 0),
        ],
    );
    let f = step(&mut b, 2, &at(2, 300.0));
    assert!(f[0].filled, "buying back part of a short is never refused");
    assert_eq!(
        (f[1].filled, f[1].refusal),
        (false, REFUSED_CASH),
        "adding to it is"
    );
    assert_eq!((b.cash(), b.position()), (800.0, -6.0));
    place(&mut b, 2, &[Action::close(0)]);
    assert!(step(&mut b, 3, &at(3, 300.0))[0].filled);
    assert_eq!((b.cash(), b.position()), (-1_000.0, 0.0));
    assert_eq!(b.trades()[0].pnl, -2_000.0);
}

// ---------------------------------------------------------------- reduce-only

#[test]
fn reduce_only_is_cut_to_the_position_and_refused_when_flat_or_on_its_own_side() {
    // Flat: refused with reason 2, nothing changes.
    let (b, f) = one_fill(
        Costs::default(),
        Action::market(Side::Sell, 5.0, 0).reduce_only(),
        &flat(1),
    );
    assert_eq!((f[0].filled, f[0].refusal), (false, REFUSED_REDUCE_ONLY));
    assert_eq!(
        (b.cash(), b.position(), b.trades().len()),
        (10_000.0, 0.0, 0)
    );
    assert_eq!(b.rejections().no_cash, 0);

    // Long 10, reduce-only sell 25: cut to 10, no short is opened.
    let mut b = long_at(Costs::default(), 10.0, 100.0);
    place(
        &mut b,
        1,
        &[Action::market(Side::Sell, 25.0, 0).reduce_only()],
    );
    let f = step(&mut b, 2, &at(2, 110.0));
    assert!(f[0].filled);
    assert_eq!((f[0].size, f[0].position), (10.0, 0.0));
    assert_eq!(b.position(), 0.0);
    assert_eq!(b.trades().len(), 1);
    assert_eq!(b.trades()[0].pnl, 100.0);

    // Long 10, reduce-only buy: on its own side, refused.
    let mut b = long_at(Costs::default(), 10.0, 100.0);
    place(
        &mut b,
        1,
        &[Action::market(Side::Buy, 5.0, 0).reduce_only()],
    );
    let f = step(&mut b, 2, &flat(2));
    assert_eq!((f[0].filled, f[0].refusal), (false, REFUSED_REDUCE_ONLY));
    assert_eq!(b.position(), 10.0);
}

#[test]
fn a_reduce_only_stop_and_target_cannot_both_fill_in_one_bar() {
    let wide = bar(2, 100.0, 106.0, 94.0, 100.0);
    // The stop was placed first: it fills, the target finds nothing left.
    let mut b = long_at(Costs::default(), 10.0, 100.0);
    place(
        &mut b,
        1,
        &[
            Action::stop(Side::Sell, 10.0, 95.0, 1).reduce_only(),
            Action::limit(Side::Sell, 10.0, 105.0, 2).reduce_only(),
        ],
    );
    let f = step(&mut b, 2, &wide);
    assert_eq!(f.len(), 2);
    assert_eq!((f[0].tag, f[0].filled, f[0].price), (1, true, 95.0));
    assert_eq!(
        (f[1].tag, f[1].filled, f[1].refusal),
        (2, false, REFUSED_REDUCE_ONLY)
    );
    assert_eq!(b.position(), 0.0);
    assert_eq!(b.trades().len(), 1);
    assert_eq!(b.trades()[0].exit_price, 95.0);
    assert!(b.open_orders().is_empty());

    // The target placed first: it fills, the stop is refused.
    let mut b = long_at(Costs::default(), 10.0, 100.0);
    place(
        &mut b,
        1,
        &[
            Action::limit(Side::Sell, 10.0, 105.0, 2).reduce_only(),
            Action::stop(Side::Sell, 10.0, 95.0, 1).reduce_only(),
        ],
    );
    let f = step(&mut b, 2, &wide);
    assert_eq!((f[0].tag, f[0].filled, f[0].price), (2, true, 105.0));
    assert_eq!((f[1].tag, f[1].filled), (1, false));
    assert_eq!(b.position(), 0.0);
    assert_eq!(b.trades()[0].pnl, 50.0);
}

// ---------------------------------------------------------------- close

#[test]
fn close_flattens_at_the_next_open_and_is_a_no_op_when_flat() {
    // Flat: nothing at all.
    let (b, f) = one_fill(Costs::default(), Action::close(0), &flat(1));
    assert!(f.is_empty());
    assert_eq!((b.cash(), b.position(), b.fills()), (10_000.0, 0.0, 0));
    assert_eq!(b.rejections().total(), 0);
    assert!(b.trades().is_empty());

    // Long 10: sold at the next open, with slippage.
    let c = costs(10_000.0, 0.0, 0.01);
    let mut b = Broker::new(c);
    place(&mut b, 0, &[Action::market(Side::Buy, 10.0, 0)]);
    step(&mut b, 1, &flat(1));
    place(&mut b, 1, &[Action::close(9)]);
    let f = step(&mut b, 2, &bar(2, 120.0, 125.0, 119.0, 121.0));
    assert_eq!(f.len(), 1);
    assert_eq!(
        (f[0].kind, f[0].side, f[0].size, f[0].tag),
        (ActionKind::Close, Side::Sell, 10.0, 9)
    );
    near(f[0].price, 118.8);
    assert_eq!((f[0].position, b.position()), (0.0, 0.0));
    near(b.trades()[0].exit_price, 118.8);
    near(b.cash(), 10_000.0 - 1_010.0 + 1_188.0);

    // Short 5: bought back at the next open plus slippage; not on the bar it was placed on.
    let mut b = Broker::new(c);
    place(&mut b, 0, &[Action::market(Side::Sell, 5.0, 0)]);
    step(&mut b, 1, &flat(1));
    place(&mut b, 1, &[Action::close(0)]);
    assert!(step(&mut b, 1, &flat(1)).is_empty());
    let f = step(&mut b, 2, &flat(2));
    assert_eq!((f[0].side, f[0].size), (Side::Buy, 5.0));
    near(f[0].price, 101.0);
    assert_eq!(b.position(), 0.0);
    // Two closes in one bar: the second finds the position flat and does nothing.
    let mut b = long_at(Costs::default(), 10.0, 100.0);
    place(&mut b, 1, &[Action::close(0), Action::close(0)]);
    assert_eq!(step(&mut b, 2, &flat(2)).len(), 1);
    assert_eq!(b.trades().len(), 1);
}

// ---------------------------------------------------------------- trades

#[test]
fn a_fill_through_zero_closes_one_trade_and_opens_the_next() {
    let mut b = Broker::new(costs(10_000.0, 0.001, 0.0));
    place(&mut b, 0, &[Action::market(Side::Buy, 10.0, 1)]);
    let (_, ev) = step_events(&mut b, 1, &flat(1));
    assert_eq!(
        ev,
        [TradeEvent::Opened {
            long: true,
            price: 100.0,
            size: 10.0,
            placed: 0
        }]
    );
    place(&mut b, 1, &[Action::market(Side::Sell, 25.0, 2)]);
    let (f, ev) = step_events(&mut b, 2, &at(2, 110.0));
    assert_eq!(f[0].position, -15.0);
    assert_eq!(
        ev,
        [
            TradeEvent::Closed { price: 110.0 },
            TradeEvent::Opened {
                long: false,
                price: 110.0,
                size: 15.0,
                placed: 1
            }
        ]
    );
    assert_eq!(b.position(), -15.0);
    assert_eq!(b.entry_price(), 110.0);
    let t = b.trades();
    assert_eq!(t.len(), 1);
    assert!(t[0].long && !t[0].end_of_data);
    assert_eq!((t[0].entry_bar, t[0].exit_bar, t[0].tag), (1, 2, 1));
    assert_eq!(
        (t[0].entry_time, t[0].exit_time),
        (flat(1).time, flat(2).time)
    );
    assert_eq!(
        (t[0].entry_price, t[0].exit_price, t[0].size),
        (100.0, 110.0, 10.0)
    );
    // The fee of the 25-unit fill (2.75) is split: 10/25 to the closing trade.
    near(t[0].pnl, 100.0 - 1.0 - 1.1);

    place(&mut b, 2, &[Action::market(Side::Buy, 15.0, 3)]);
    let (_, ev) = step_events(&mut b, 3, &flat(3));
    assert_eq!(ev, [TradeEvent::Closed { price: 100.0 }]);
    let t = b.trades();
    assert_eq!(t.len(), 2);
    assert!(!t[1].long);
    assert_eq!((t[1].entry_bar, t[1].exit_bar, t[1].tag), (2, 3, 2));
    assert_eq!(
        (t[1].entry_price, t[1].exit_price, t[1].size),
        (110.0, 100.0, 15.0)
    );
    near(t[1].pnl, 150.0 - 1.65 - 1.5);
    near(b.cash(), 10_000.0 + t[0].pnl + t[1].pnl);
    assert_eq!(b.position(), 0.0);
    assert_eq!(b.entry_price(), 0.0);
}

#[test]
fn scaling_in_averages_the_entry_price_and_partial_exits_average_the_exit() {
    let mut b = Broker::new(Costs::default());
    place(&mut b, 0, &[Action::market(Side::Buy, 10.0, 1)]);
    step(&mut b, 1, &at(1, 100.0));
    place(&mut b, 1, &[Action::market(Side::Buy, 10.0, 2)]);
    let (_, ev) = step_events(&mut b, 2, &at(2, 110.0));
    assert!(ev.is_empty(), "adding to a position opens no trade");
    assert_eq!((b.position(), b.entry_price()), (20.0, 105.0));
    place(&mut b, 2, &[Action::market(Side::Sell, 5.0, 3)]);
    step(&mut b, 3, &at(3, 120.0));
    assert_eq!((b.position(), b.entry_price()), (15.0, 105.0));
    assert!(b.trades().is_empty());
    place(&mut b, 3, &[Action::market(Side::Sell, 15.0, 4)]);
    step(&mut b, 4, &at(4, 130.0));
    let t = b.trades();
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].entry_price, t[0].exit_price, t[0].size, t[0].tag),
        (105.0, 127.5, 20.0, 1)
    );
    assert_eq!((t[0].entry_bar, t[0].exit_bar), (1, 4));
    assert_eq!(t[0].pnl, 5.0 * 15.0 + 15.0 * 25.0);
    near(t[0].return_pct, 450.0 / 2_100.0);
    assert_eq!(b.cash(), 10_450.0);
}

#[test]
fn exits_in_thirds_close_the_trade_without_a_dust_trade() {
    // 0.3 - 0.1 - 0.1 = 0.09999999999999998 < 0.1: the last third overshoots the position by
    // a rounding residue, which must not open a 3e-17 short.
    let mut b = Broker::new(Costs::default());
    place(&mut b, 0, &[Action::market(Side::Buy, 0.3, 1)]);
    step(&mut b, 1, &flat(1));
    for i in 1..=3 {
        place(&mut b, i, &[Action::market(Side::Sell, 0.1, 2)]);
        step(&mut b, i + 1, &flat(i64::from(i) + 1));
    }
    assert_eq!(b.position(), 0.0);
    assert_eq!(b.entry_price(), 0.0);
    assert_eq!(b.trades().len(), 1);
    b.finish(5, flat(5).time, 100.0);
    assert_eq!(b.trades().len(), 1, "no end-of-data dust trade");

    // The same with a short covered in thirds, and growing in thirds and selling at once.
    let mut b = Broker::new(Costs::default());
    place(&mut b, 0, &[Action::market(Side::Sell, 0.3, 1)]);
    step(&mut b, 1, &flat(1));
    for i in 1..=3 {
        place(&mut b, i, &[Action::market(Side::Buy, 0.1, 2)]);
        step(&mut b, i + 1, &flat(i64::from(i) + 1));
    }
    assert_eq!((b.position(), b.trades().len()), (0.0, 1));
    let mut b = Broker::new(Costs::default());
    for i in 0..3 {
        place(&mut b, i, &[Action::market(Side::Buy, 0.1, 2)]);
        step(&mut b, i + 1, &flat(i64::from(i) + 1));
    }
    place(&mut b, 3, &[Action::market(Side::Sell, 0.3, 2)]);
    step(&mut b, 4, &flat(4));
    assert_eq!((b.position(), b.trades().len()), (0.0, 1));
}

#[test]
fn finish_closes_an_open_trade_at_the_last_close_marked_end_of_data() {
    let mut b = Broker::new(costs(10_000.0, 0.001, 0.0));
    place(
        &mut b,
        0,
        &[
            Action::market(Side::Buy, 10.0, 4),
            Action::limit(Side::Buy, 1.0, 1.0, 0),
        ],
    );
    step(&mut b, 1, &flat(1));
    let last = bar(5, 110.0, 125.0, 105.0, 120.0);
    b.finish(5, last.time, last.close);
    let t = b.trades();
    assert_eq!(t.len(), 1);
    assert!(t[0].end_of_data && t[0].long);
    assert_eq!(
        (t[0].entry_bar, t[0].exit_bar, t[0].exit_time, t[0].tag),
        (1, 5, last.time, 4)
    );
    assert_eq!(
        (t[0].entry_price, t[0].exit_price, t[0].size),
        (100.0, 120.0, 10.0)
    );
    near(t[0].pnl, 200.0 - 1.0); // no exit fee
    assert!(b.open_orders().is_empty(), "open orders are dropped");

    let mut b = Broker::new(Costs::default());
    place(&mut b, 0, &[Action::market(Side::Sell, 10.0, 0)]);
    step(&mut b, 1, &flat(1));
    b.finish(2, flat(2).time, 90.0);
    assert_eq!(
        (
            b.trades()[0].long,
            b.trades()[0].pnl,
            b.trades()[0].end_of_data
        ),
        (false, 100.0, true)
    );

    // Flat: no trade.
    let mut b = Broker::new(Costs::default());
    b.finish(3, 0, 100.0);
    assert!(b.trades().is_empty());
}

#[test]
fn trades_hash_is_equal_for_equal_lists_and_differs_otherwise() {
    let run = || {
        let mut b = Broker::new(Costs::default());
        place(&mut b, 0, &[Action::market(Side::Buy, 10.0, 1)]);
        step(&mut b, 1, &flat(1));
        place(&mut b, 1, &[Action::market(Side::Sell, 20.0, 1)]);
        step(&mut b, 2, &at(2, 103.0));
        b.finish(3, flat(3).time, 101.0);
        b.trades().to_vec()
    };
    let (a, b) = (run(), run());
    assert_eq!(a.len(), 2);
    assert_eq!(trades_hash(&a), trades_hash(&b));
    let mut c = a.clone();
    c[1].pnl = f64::from_bits(c[1].pnl.to_bits() ^ 1);
    assert_ne!(trades_hash(&a), trades_hash(&c));
    let mut d = a.clone();
    d[0].end_of_data = true;
    assert_ne!(trades_hash(&a), trades_hash(&d));
    assert_ne!(trades_hash(&a), trades_hash(&a[..1]));
    assert_ne!(trades_hash(&a[..0]), trades_hash(&a[..1]));
}

// ---------------------------------------------------------------- rejections

/// A broker long 10 at 100 with a resting limit buy at 50 (id 2).
fn busy() -> Broker {
    let mut b = long_at(Costs::default(), 10.0, 100.0);
    place(&mut b, 1, &[Action::limit(Side::Buy, 1.0, 50.0, 0)]);
    b
}

/// Submits `actions` raw to `busy()` on bar 2 and checks they changed nothing, not even on
/// the next bar (which would fill anything accepted); returns the rejections.
#[track_caller]
fn rejected(bytes: &[u8], returned: usize) -> tradeloop_backtest::Rejections {
    let mut b = busy();
    let before = state(&b);
    b.submit(2, returned, bytes);
    assert_eq!(state(&b), before);
    let f = step(&mut b, 3, &bar(3, 100.0, 200.0, 60.0, 100.0));
    assert!(f.is_empty(), "{f:?}");
    assert_eq!(state(&b), before);
    b.rejections()
}

#[test]
fn bad_sizes_are_rejected() {
    for size in [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        0.0,
        -0.0,
        -1.0,
        -f64::MIN_POSITIVE,
    ] {
        for a in [
            Action::market(Side::Buy, size, 0),
            Action::market(Side::Sell, size, 0),
            Action::limit(Side::Sell, size, 150.0, 0),
            Action::stop(Side::Buy, size, 150.0, 0),
        ] {
            let r = rejected(&encode(&[a]), 1);
            assert_eq!(r.bad_size, 1, "{a:?}");
            assert_eq!(r.total(), 1, "{a:?}");
        }
    }
}

#[test]
fn bad_limit_and_stop_prices_are_rejected_market_prices_are_ignored() {
    for price in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, -5.0] {
        for a in [
            Action::limit(Side::Sell, 1.0, price, 0),
            Action::limit(Side::Buy, 1.0, price, 0),
            Action::stop(Side::Buy, 1.0, price, 0),
            Action::stop(Side::Sell, 1.0, price, 0),
        ] {
            let r = rejected(&encode(&[a]), 1);
            assert_eq!((r.bad_price, r.total()), (1, 1), "{a:?}");
        }
        // A market order's price field is not read.
        let mut b = Broker::new(Costs::default());
        let mut a = Action::market(Side::Buy, 1.0, 0);
        a.price = price;
        place(&mut b, 0, &[a]);
        assert!(step(&mut b, 1, &flat(1))[0].filled);
        assert_eq!(b.rejections().total(), 0);
    }
}

#[test]
fn unknown_kind_side_or_flag_bits_are_malformed() {
    let mut bad = Vec::new();
    for kind in [0u8, 6, 7, 200, 255] {
        bad.push(Action {
            kind,
            ..Action::market(Side::Buy, 1.0, 0)
        });
    }
    for side in [2u8, 3, 255] {
        for a in [
            Action::market(Side::Buy, 1.0, 0),
            Action::limit(Side::Sell, 1.0, 150.0, 0),
            Action::stop(Side::Buy, 1.0, 150.0, 0),
        ] {
            bad.push(Action { side, ..a });
        }
    }
    for flags in [2u8, 3, 4, 0x80, 0xff] {
        for a in [
            Action::market(Side::Buy, 1.0, 0),
            Action::limit(Side::Sell, 1.0, 150.0, 0),
            Action::cancel(2),
            Action::close(0),
        ] {
            bad.push(Action { flags, ..a });
        }
    }
    for a in bad {
        let r = rejected(&encode(&[a]), 1);
        assert_eq!((r.malformed, r.total()), (1, 1), "{a:?}");
    }
    // Fewer records than returned: each missing one is malformed, the others are taken.
    let mut b = busy();
    b.submit(2, 3, &encode(&[Action::market(Side::Sell, 10.0, 0)]));
    assert_eq!(b.rejections().malformed, 2);
    assert_eq!(step(&mut b, 3, &flat(3)).len(), 1);
    assert_eq!(b.position(), 0.0);
}

#[test]
fn cancel_and_close_ignore_the_side_byte() {
    // The ABI: side is "ignored by cancel and close".
    let mut b = busy();
    let id = b.open_orders()[0].id;
    let cancel = Action {
        side: 7,
        ..Action::cancel(id)
    };
    let close = Action {
        side: 0xff,
        ..Action::close(0)
    };
    place(&mut b, 2, &[cancel, close]);
    assert_eq!(b.rejections().total(), 0);
    assert!(b.open_orders().is_empty());
    let f = step(&mut b, 3, &flat(3));
    assert_eq!(
        (f.len(), f[0].kind, b.position()),
        (1, ActionKind::Close, 0.0)
    );
}

#[test]
fn more_than_max_actions_rejects_them_all() {
    let many: Vec<Action> = (0..=MAX_ACTIONS as u32)
        .map(|t| Action::market(Side::Sell, 1.0, t))
        .collect();
    let r = rejected(&encode(&many), many.len());
    assert_eq!(r.too_many_actions, MAX_ACTIONS as u32 + 1);
    assert_eq!(r.total(), u64::from(r.too_many_actions));
    // A return value far beyond the buffer is counted, not read.
    let r = rejected(&encode(&many[..1]), 1_000);
    assert_eq!((r.too_many_actions, r.malformed), (1_000, 0));
    let r = rejected(&[], usize::MAX);
    assert_eq!(r.too_many_actions, u32::MAX);
    // Exactly MAX_ACTIONS is fine.
    let mut b = Broker::new(costs(1e6, 0.0, 0.0));
    place(&mut b, 0, &many[..MAX_ACTIONS]);
    assert_eq!(b.rejections().total(), 0);
    assert_eq!(step(&mut b, 1, &flat(1)).len(), MAX_ACTIONS);
    assert_eq!(b.position(), -(MAX_ACTIONS as f64));
}

#[test]
fn more_than_max_open_orders_are_rejected() {
    let mut b = busy(); // one open limit order already
    let mut bar_i = 2;
    while b.open_orders().len() < MAX_OPEN_ORDERS {
        let n = (MAX_OPEN_ORDERS - b.open_orders().len()).min(MAX_ACTIONS);
        let batch: Vec<Action> = (0..n)
            .map(|_| Action::limit(Side::Sell, 1.0, 1_000.0, 0))
            .collect();
        place(&mut b, bar_i, &batch);
        assert!(step(&mut b, bar_i + 1, &flat(i64::from(bar_i) + 1)).is_empty());
        bar_i += 1;
    }
    assert_eq!(b.rejections().total(), 0);
    let before = state(&b);
    place(
        &mut b,
        bar_i,
        &[
            Action::limit(Side::Sell, 1.0, 1_000.0, 0),
            Action::stop(Side::Sell, 1.0, 1.0, 0),
        ],
    );
    assert_eq!(b.rejections().too_many_orders, 2);
    assert_eq!(state(&b), before);
    // Market orders (filled at the next bar, never resting) are still taken.
    place(&mut b, bar_i, &[Action::market(Side::Sell, 1.0, 0)]);
    assert_eq!(b.rejections().too_many_orders, 2);
    let f = step(&mut b, bar_i + 1, &flat(i64::from(bar_i) + 1));
    assert_eq!((f.len(), f[0].kind), (1, ActionKind::Market));
    // After a cancel there is room for one more.
    let id = b.open_orders()[10].id;
    place(
        &mut b,
        bar_i + 1,
        &[
            Action::cancel(id),
            Action::limit(Side::Sell, 1.0, 1_000.0, 0),
            Action::limit(Side::Sell, 1.0, 1_000.0, 0),
        ],
    );
    assert_eq!(b.open_orders().len(), MAX_OPEN_ORDERS);
    assert_eq!(b.rejections().too_many_orders, 3);
}

// ---------------------------------------------------------------- property test

fn bars_strategy(n: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Bar>> {
    (
        1.0f64..1_000.0,
        prop::collection::vec(
            (-0.1f64..0.1, -0.03f64..0.03, 0.0f64..0.05, 0.0f64..0.05),
            n,
        ),
    )
        .prop_map(|(start, steps)| {
            let mut prev = start;
            let mut out = Vec::with_capacity(steps.len());
            for (i, (ret, gap, up, down)) in steps.into_iter().enumerate() {
                let open = prev * (1.0 + gap);
                let close = open * (1.0 + ret);
                let high = open.max(close) * (1.0 + up);
                let low = open.min(close) * (1.0 - down);
                out.push(bar(i as i64, open, high, low, close));
                prev = close;
            }
            out
        })
}

/// Per bar: the action records and the count returned (sometimes more than are there, or
/// more than the cap).
fn batches() -> impl Strategy<Value = Vec<(Vec<[u8; Action::SIZE]>, usize)>> {
    prop::collection::vec(
        (
            prop::collection::vec(action_bytes(), 0..6),
            prop_oneof![10 => Just(None), 1 => (0usize..40).prop_map(Some)],
        ),
        1..80,
    )
    .prop_map(|v| {
        v.into_iter()
            .map(|(a, n)| {
                let n = n.unwrap_or(a.len());
                (a, n)
            })
            .collect()
    })
}

fn costs_strategy() -> impl Strategy<Value = Costs> {
    (
        prop_oneof![Just(10_000.0), 1.0f64..1e7],
        0.0f64..=0.01,
        0.0f64..=0.01,
    )
        .prop_map(|(cash, fee_rate, slippage)| Costs {
            cash,
            fee_rate,
            slippage,
        })
}

/// Drives a broker through the bars; checks the invariants on the way and returns what is
/// compared between two runs.
fn drive(
    c: Costs,
    bars: &[Bar],
    batches: &[(Vec<[u8; Action::SIZE]>, usize)],
) -> (Vec<Trade>, u64, u64, u64, u64) {
    let mut b = Broker::new(c);
    let mut filled = 0;
    for (i, bar) in bars.iter().enumerate() {
        let i = i as u32;
        let mut events = Vec::new();
        let fills = b.execute(i, bar, &mut events);
        for f in &fills {
            assert_eq!(f.bar, i);
            if f.filled {
                filled += 1;
                assert!(f.size.is_finite() && f.size > 0.0, "{f:?}");
                assert!(f.fee.is_finite() && f.fee >= 0.0, "{f:?}");
                // Every fill is at a price the bar traded at, moved by the slippage at most.
                let lo = bar.low * (1.0 - c.slippage) * (1.0 - 1e-12);
                let hi = bar.high * (1.0 + c.slippage) * (1.0 + 1e-12);
                assert!(f.price >= lo && f.price <= hi, "{f:?} outside {bar:?}");
            }
        }
        if let Some(last) = fills.iter().rev().find(|f| f.filled) {
            assert_eq!(last.position.to_bits(), b.position().to_bits());
        }
        assert!(b.cash().is_finite(), "cash {}", b.cash());
        assert!(b.position().is_finite(), "position {}", b.position());
        assert!(b.equity(bar.close).is_finite());
        assert_eq!(b.equity(bar.close), b.cash() + b.position() * bar.close);
        assert!(b.open_orders().len() <= MAX_OPEN_ORDERS);
        assert_eq!(b.entry_price() == 0.0, b.position() == 0.0);
        if let Some((actions, returned)) = batches.get(i as usize) {
            let bytes: Vec<u8> = actions.iter().flatten().copied().collect();
            b.submit(i, *returned, &bytes);
        }
    }
    assert_eq!(b.fills(), filled);
    let last = bars.len() - 1;
    b.finish(last as u32, bars[last].time, bars[last].close);
    for t in b.trades() {
        assert!(t.entry_bar <= t.exit_bar);
        assert!(t.size.is_finite() && t.size > 0.0);
        assert!(
            t.entry_price.is_finite() && t.exit_price.is_finite() && t.pnl.is_finite(),
            "{t:?}"
        );
    }
    assert_eq!(
        b.trades().iter().filter(|t| t.end_of_data).count(),
        usize::from(b.position() != 0.0)
    );
    (
        b.trades().to_vec(),
        trades_hash(b.trades()),
        b.cash().to_bits(),
        b.position().to_bits(),
        b.rejections().total(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_actions_on_valid_bars_keep_the_broker_sound_and_deterministic(
        c in costs_strategy(),
        bars in bars_strategy(2..120),
        batches in batches(),
    ) {
        let a = drive(c, &bars, &batches);
        let b = drive(c, &bars, &batches);
        prop_assert_eq!(a.1, b.1);
        prop_assert_eq!(a, b);
    }
}
