//! The broker: one strategy's cash, position, open orders and trades, and the execution rules
//! of `docs/STRATEGY_ABI.md` ("Execution rules").
//!
//! Orders come in as raw [`Action`]s and are validated here; anything malformed is counted in
//! [`Rejections`] and changes nothing. Fills happen in [`Broker::execute`] at the bar after
//! the order, in id order.

use alloc::vec::Vec;
use serde::Serialize;
use tradeloop_strategy::abi::{
    Action, ActionKind, Bar, Fill, MAX_ACTIONS, MAX_OPEN_ORDERS, Order, REDUCE_ONLY, REFUSED_CASH,
    REFUSED_REDUCE_ONLY, Side,
};

/// Costs and limits of a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "BacktestCosts"))]
pub struct Costs {
    /// Starting cash (default 10,000; finite, > 0).
    pub cash: f64,
    /// Fee per fill, fraction of the traded value (default 0; 0 to 0.5).
    pub fee_rate: f64,
    /// Slippage of market and stop fills, fraction of the price (default 0; 0 to 0.5).
    pub slippage: f64,
}

impl Default for Costs {
    fn default() -> Self {
        Costs {
            cash: 10_000.0,
            fee_rate: 0.0,
            slippage: 0.0,
        }
    }
}

impl Costs {
    /// `None` unless cash > 0 and both rates are in `[0, 0.5]` (all finite).
    pub fn checked(self) -> Option<Costs> {
        let rate = |r: f64| (0.0..=0.5).contains(&r);
        (self.cash.is_finite() && self.cash > 0.0 && rate(self.fee_rate) && rate(self.slippage))
            .then_some(self)
    }
}

/// Actions refused before they became orders, and fills refused, by reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "BacktestRejections"))]
pub struct Rejections {
    /// Unknown kind or side code, or unknown flag bits.
    pub malformed: u32,
    /// Size NaN, infinite, zero or negative.
    pub bad_size: u32,
    /// Limit or stop price NaN, infinite, zero or negative.
    pub bad_price: u32,
    /// Cancel of an order that is not open.
    pub unknown_order: u32,
    /// A new limit or stop order while [`MAX_OPEN_ORDERS`] were open.
    pub too_many_orders: u32,
    /// Actions of bars that returned more than [`MAX_ACTIONS`].
    pub too_many_actions: u32,
    /// Fills refused for want of equity.
    pub no_cash: u32,
}

impl Rejections {
    /// All of them.
    pub fn total(&self) -> u64 {
        [
            self.malformed,
            self.bad_size,
            self.bad_price,
            self.unknown_order,
            self.too_many_orders,
            self.too_many_actions,
            self.no_cash,
        ]
        .iter()
        .map(|&n| u64::from(n))
        .sum()
    }
}

/// A round trip: from flat to flat.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "BacktestTrade"))]
pub struct Trade {
    /// Long (buy) or short (sell).
    pub long: bool,
    /// Bar index of the first fill.
    pub entry_bar: u32,
    /// Bar index of the fill that made the position flat (the last bar for `end_of_data`).
    pub exit_bar: u32,
    /// Time of the entry bar, ms.
    pub entry_time: i64,
    /// Time of the exit bar, ms.
    pub exit_time: i64,
    /// Average price of the fills that built the position.
    pub entry_price: f64,
    /// Average price of the fills that reduced it.
    pub exit_price: f64,
    /// Largest size the position reached.
    pub size: f64,
    /// Profit after every fee of the trade.
    pub pnl: f64,
    /// `pnl` over the entry value (entry price × size).
    pub return_pct: f64,
    /// Tag of the entry order.
    pub tag: u32,
    /// Still open when the data ended: closed at the last close for the statistics.
    pub end_of_data: bool,
}

#[derive(Debug, Clone, Copy)]
struct OpenTrade {
    long: bool,
    entry_bar: u32,
    entry_time: i64,
    size: f64,
    max_size: f64,
    /// Average price of the units held now (for the PnL of a reduction).
    avg: f64,
    entry_qty: f64,
    entry_value: f64,
    exit_qty: f64,
    exit_value: f64,
    realized: f64,
    fees: f64,
    tag: u32,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    id: u32,
    kind: ActionKind,
    side: Side,
    tag: u32,
    placed: u32,
    size: f64,
    price: f64,
    flags: u8,
}

/// What a fill did to the trade list, for the engine fork.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TradeEvent {
    /// A trade opened (the position left flat), by an order placed on bar `placed`.
    Opened {
        /// Long or short.
        long: bool,
        /// Entry price.
        price: f64,
        /// Size.
        size: f64,
        /// Bar the order was placed on.
        placed: u32,
    },
    /// The trade closed at `price` (the position is flat or flipped).
    Closed {
        /// Exit price of the closing fill.
        price: f64,
    },
}

/// One strategy's account.
#[derive(Debug, Clone)]
pub struct Broker {
    costs: Costs,
    cash: f64,
    position: f64,
    orders: Vec<Pending>,
    next_id: u32,
    open: Option<OpenTrade>,
    trades: Vec<Trade>,
    rejections: Rejections,
    fills: u64,
}

/// Positions smaller than this (in units, relative to the trade's size) count as flat:
/// repeated partial exits must not leave a 1e-17 residue open forever.
const FLAT: f64 = 1e-12;

impl Broker {
    /// A broker with the starting cash of `costs` (checked by the caller).
    pub fn new(costs: Costs) -> Self {
        Broker {
            costs,
            cash: costs.cash,
            position: 0.0,
            orders: Vec::new(),
            next_id: 1,
            open: None,
            trades: Vec::new(),
            rejections: Rejections::default(),
            fills: 0,
        }
    }

    /// Cash.
    pub fn cash(&self) -> f64 {
        self.cash
    }

    /// Position in units.
    pub fn position(&self) -> f64 {
        self.position
    }

    /// Average entry price of the open trade, 0 when flat.
    pub fn entry_price(&self) -> f64 {
        self.open.map_or(0.0, |t| t.avg)
    }

    /// Cash plus the position at `price`.
    pub fn equity(&self, price: f64) -> f64 {
        self.cash + self.position * price
    }

    /// The open limit and stop orders (market orders are filled at the next bar and never
    /// listed), oldest first.
    pub fn open_orders(&self) -> Vec<Order> {
        self.orders
            .iter()
            .filter(|o| matches!(o.kind, ActionKind::Limit | ActionKind::Stop))
            .map(|o| Order {
                id: o.id,
                kind: o.kind,
                side: o.side,
                tag: o.tag,
                placed: o.placed,
                size: o.size,
                price: o.price,
                flags: o.flags,
            })
            .collect()
    }

    /// Closed trades so far.
    pub fn trades(&self) -> &[Trade] {
        &self.trades
    }

    /// Rejected actions and refused fills.
    pub fn rejections(&self) -> Rejections {
        self.rejections
    }

    /// Fills so far.
    pub fn fills(&self) -> u64 {
        self.fills
    }

    /// Takes the actions `on_bar` returned at bar `bar`: `returned` is its return value,
    /// `bytes` the action buffer (at least `returned` records when `returned` is within the
    /// cap). Malformed actions are counted and skipped; the rest become orders.
    pub fn submit(&mut self, bar: u32, returned: usize, bytes: &[u8]) {
        if returned > MAX_ACTIONS {
            self.rejections.too_many_actions = self
                .rejections
                .too_many_actions
                .saturating_add(u32::try_from(returned).unwrap_or(u32::MAX));
            return;
        }
        for i in 0..returned {
            match Action::read(bytes.get(i * Action::SIZE..).unwrap_or(&[])) {
                Some(a) => self.take(bar, a),
                None => self.rejections.malformed += 1,
            }
        }
    }

    fn take(&mut self, bar: u32, a: Action) {
        // The side byte is ignored by cancel and close (`docs/STRATEGY_ABI.md`, `Action`).
        let side = match a.kind() {
            Some(ActionKind::Cancel | ActionKind::Close) => Some(Side::Buy),
            _ => Side::from_code(a.side),
        };
        let (Some(kind), Some(side)) = (a.kind(), side) else {
            self.rejections.malformed += 1;
            return;
        };
        if a.flags & !REDUCE_ONLY != 0 {
            self.rejections.malformed += 1;
            return;
        }
        let (size, price) = match kind {
            ActionKind::Cancel => {
                match self.orders.iter().position(|o| o.id == a.order_id) {
                    Some(i) => {
                        self.orders.remove(i);
                    }
                    None => self.rejections.unknown_order += 1,
                }
                return;
            }
            ActionKind::Close => (0.0, 0.0),
            ActionKind::Market | ActionKind::Limit | ActionKind::Stop => {
                if !(a.size.is_finite() && a.size > 0.0) {
                    self.rejections.bad_size += 1;
                    return;
                }
                let price = if kind == ActionKind::Market {
                    0.0
                } else {
                    a.price
                };
                if kind != ActionKind::Market && !(price.is_finite() && price > 0.0) {
                    self.rejections.bad_price += 1;
                    return;
                }
                (a.size, price)
            }
        };
        if self.orders.len() >= MAX_OPEN_ORDERS + MAX_ACTIONS
            || (matches!(kind, ActionKind::Limit | ActionKind::Stop)
                && self.open_orders_count() >= MAX_OPEN_ORDERS)
        {
            self.rejections.too_many_orders += 1;
            return;
        }
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        self.orders.push(Pending {
            id,
            kind,
            side,
            tag: a.tag,
            placed: bar,
            size,
            price,
            flags: a.flags,
        });
    }

    fn open_orders_count(&self) -> usize {
        self.orders
            .iter()
            .filter(|o| matches!(o.kind, ActionKind::Limit | ActionKind::Stop))
            .count()
    }

    /// Cancels every order and, if a position is open, orders it closed at the next open
    /// (a stopped strategy).
    pub fn liquidate(&mut self, bar: u32) {
        self.orders.clear();
        if self.position != 0.0 {
            self.take(bar, Action::close(u32::MAX));
        }
    }

    /// Executes the orders placed before bar `index` against its prices; returns the fills
    /// (and refusals) in order, and appends what they did to the trade list to `events`.
    pub fn execute(&mut self, index: u32, bar: &Bar, events: &mut Vec<TradeEvent>) -> Vec<Fill> {
        let mut out = Vec::new();
        let mut keep = Vec::with_capacity(self.orders.len());
        let orders = core::mem::take(&mut self.orders);
        for o in orders {
            if o.placed >= index {
                keep.push(o);
                continue;
            }
            let Some((side, size, base, slip)) = self.trigger(&o, bar) else {
                keep.push(o);
                continue;
            };
            let price = if slip {
                base * (1.0 + side.sign() * self.costs.slippage)
            } else {
                base
            };
            let (size, refusal) = self.admit(&o, side, size, price);
            if refusal == 0 && size <= 0.0 {
                continue; // a close while flat: nothing to do
            }
            let mut fill = Fill {
                order_id: o.id,
                kind: o.kind,
                side,
                filled: refusal == 0,
                refusal,
                tag: o.tag,
                bar: index,
                size,
                price,
                fee: 0.0,
                position: self.position,
            };
            if refusal == 0 {
                fill.fee = self.costs.fee_rate * size * price;
                let done = self.apply(index, bar.time, &o, side, size, price, fill.fee);
                events.extend(done.into_iter().flatten());
                fill.position = self.position;
                self.fills += 1;
            } else if refusal == REFUSED_CASH {
                self.rejections.no_cash += 1;
            }
            out.push(fill);
        }
        self.orders = keep;
        out
    }

    /// Whether order `o` executes on `bar`: its side, size, base price and whether slippage
    /// applies.
    fn trigger(&self, o: &Pending, bar: &Bar) -> Option<(Side, f64, f64, bool)> {
        let buy = o.side == Side::Buy;
        match o.kind {
            ActionKind::Market => Some((o.side, o.size, bar.open, true)),
            ActionKind::Close => {
                let side = if self.position > 0.0 {
                    Side::Sell
                } else {
                    Side::Buy
                };
                Some((side, self.position.abs(), bar.open, true))
            }
            ActionKind::Limit if buy => {
                (bar.low <= o.price).then(|| (o.side, o.size, bar.open.min(o.price), false))
            }
            ActionKind::Limit => {
                (bar.high >= o.price).then(|| (o.side, o.size, bar.open.max(o.price), false))
            }
            ActionKind::Stop if buy => {
                (bar.high >= o.price).then(|| (o.side, o.size, bar.open.max(o.price), true))
            }
            ActionKind::Stop => {
                (bar.low <= o.price).then(|| (o.side, o.size, bar.open.min(o.price), true))
            }
            ActionKind::Cancel => None,
        }
    }

    /// The size that may fill (reduce-only cuts it) and the refusal code, 0 if it fills.
    fn admit(&self, o: &Pending, side: Side, size: f64, price: f64) -> (f64, u8) {
        let reducing = self.position * side.sign() < 0.0;
        if o.flags & REDUCE_ONLY != 0 {
            if !reducing {
                return (0.0, REFUSED_REDUCE_ONLY);
            }
            return (size.min(self.position.abs()), 0);
        }
        let after = self.position + side.sign() * size;
        if after.abs() <= self.position.abs() {
            return (size, 0);
        }
        let cash = self.cash - side.sign() * size * price - self.costs.fee_rate * size * price;
        let equity = cash + after * price;
        // False for a NaN equity too: a size whose value overflows is refused.
        let fits = after.abs() * price <= equity;
        if fits {
            (size, 0)
        } else {
            (size, REFUSED_CASH)
        }
    }

    /// Books a fill; at most two trade events (a close and, through zero, an open).
    #[allow(clippy::too_many_arguments)]
    fn apply(
        &mut self,
        index: u32,
        time: i64,
        o: &Pending,
        side: Side,
        size: f64,
        price: f64,
        fee: f64,
    ) -> [Option<TradeEvent>; 2] {
        let signed = side.sign() * size;
        self.cash -= signed * price + fee;
        let mut events = [None, None];
        let mut rest = size;
        let mut rest_fee = fee;
        if let Some(t) = &mut self.open
            && (self.position > 0.0) != (signed > 0.0)
        {
            // A fill that overshoots the position by a rounding residue (0.3 sold as three
            // 0.1) closes it rather than opening a dust trade the other way.
            let qty = if rest - t.size <= FLAT * t.max_size {
                rest
            } else {
                t.size
            };
            let part_fee = fee * qty / size;
            let sign = if t.long { 1.0 } else { -1.0 };
            t.realized += sign * (price - t.avg) * qty;
            t.fees += part_fee;
            t.exit_qty += qty;
            t.exit_value += qty * price;
            t.size -= qty;
            rest -= qty;
            rest_fee -= part_fee;
            if t.size <= FLAT * t.max_size {
                let done = *t;
                self.open = None;
                self.position = 0.0;
                self.trades.push(close_trade(&done, index, time, false));
                events[0] = Some(TradeEvent::Closed { price });
            } else {
                self.position = sign * t.size;
            }
        }
        if rest > 0.0 {
            let long = signed > 0.0;
            match &mut self.open {
                Some(t) => {
                    // Adding to the position: the entry price is the average of the entries.
                    t.avg = (t.avg * t.size + price * rest) / (t.size + rest);
                    t.entry_qty += rest;
                    t.entry_value += rest * price;
                    t.size += rest;
                    t.max_size = t.max_size.max(t.size);
                    t.fees += rest_fee;
                    self.position = if t.long { t.size } else { -t.size };
                }
                None => {
                    self.open = Some(OpenTrade {
                        long,
                        entry_bar: index,
                        entry_time: time,
                        size: rest,
                        max_size: rest,
                        avg: price,
                        entry_qty: rest,
                        entry_value: rest * price,
                        exit_qty: 0.0,
                        exit_value: 0.0,
                        realized: 0.0,
                        fees: rest_fee,
                        tag: o.tag,
                    });
                    self.position = if long { rest } else { -rest };
                    let e = TradeEvent::Opened {
                        long,
                        price,
                        size: rest,
                        placed: o.placed,
                    };
                    if events[0].is_none() {
                        events[0] = Some(e);
                    } else {
                        events[1] = Some(e);
                    }
                }
            }
        }
        events
    }

    /// Ends the run at the last bar: a trade still open is closed at `close` for the
    /// statistics (no fee, marked `end_of_data`), and open orders are dropped.
    pub fn finish(&mut self, index: u32, time: i64, close: f64) {
        self.orders.clear();
        if let Some(mut t) = self.open.take() {
            let sign = if t.long { 1.0 } else { -1.0 };
            t.realized += sign * (close - t.avg) * t.size;
            t.exit_qty += t.size;
            t.exit_value += t.size * close;
            self.trades.push(close_trade(&t, index, time, true));
        }
    }
}

fn close_trade(t: &OpenTrade, index: u32, time: i64, end_of_data: bool) -> Trade {
    let entry_price = t.entry_value / t.entry_qty;
    let pnl = t.realized - t.fees;
    Trade {
        long: t.long,
        entry_bar: t.entry_bar,
        exit_bar: index,
        entry_time: t.entry_time,
        exit_time: time,
        entry_price,
        exit_price: if t.exit_qty > 0.0 {
            t.exit_value / t.exit_qty
        } else {
            entry_price
        },
        size: t.max_size,
        pnl,
        return_pct: pnl / (entry_price * t.max_size),
        tag: t.tag,
        end_of_data,
    }
}
