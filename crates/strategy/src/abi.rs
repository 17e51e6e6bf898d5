//! The records of strategy ABI v1, byte for byte as `docs/STRATEGY_ABI.md` specifies them.
//!
//! Every record has a fixed size, is little-endian and is read with `from_le_bytes`, so a
//! decoder accepts any bytes of the right length: reading never panics and never depends on
//! alignment. Raw fields a host must validate (an action's kind, side, size and price) are
//! kept as they came; [`Action::kind`] and [`Side::from_code`] interpret them.

use alloc::vec::Vec;

/// The ABI version `tls_abi_version` returns.
pub const VERSION: i32 = 1;
/// Most actions a strategy may return for one bar (`actions_cap`).
pub const MAX_ACTIONS: usize = 16;
/// Most open orders a strategy may have; a new order beyond it is rejected.
pub const MAX_OPEN_ORDERS: usize = 64;
/// Bytes of an [`Input`] with no orders.
pub const INPUT_HEADER: usize = 88;
/// Largest [`Input`].
pub const MAX_INPUT: usize = INPUT_HEADER + MAX_OPEN_ORDERS * Order::SIZE;
/// Length of the candle feature vector `features` writes.
pub const CANDLE_FEATURES: usize = 32;
/// Most bars one `history` call copies.
pub const MAX_HISTORY: u32 = 1 << 16;
/// Most bytes `tls_save` may write.
pub const MAX_STATE: usize = 1 << 20;
/// Longest log line kept, in bytes.
pub const MAX_LOG_LINE: usize = 256;
/// Most log lines kept per strategy.
pub const MAX_LOG_LINES: usize = 64;
/// Module name of the imports.
pub const IMPORT_MODULE: &str = "tradeloop_strategy";

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn f64_at(b: &[u8], at: usize) -> f64 {
    f64::from_bits(u64_at(b, at))
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn put_f64(b: &mut [u8], at: usize, v: f64) {
    put_u64(b, at, v.to_bits());
}

/// Buy or sell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Code 0.
    Buy,
    /// Code 1.
    Sell,
}

impl Side {
    /// The wire code.
    pub fn code(self) -> u8 {
        match self {
            Side::Buy => 0,
            Side::Sell => 1,
        }
    }

    /// The side of a wire code, `None` for any other byte.
    pub fn from_code(c: u8) -> Option<Side> {
        match c {
            0 => Some(Side::Buy),
            1 => Some(Side::Sell),
            _ => None,
        }
    }

    /// +1 for a buy, -1 for a sell.
    pub fn sign(self) -> f64 {
        match self {
            Side::Buy => 1.0,
            Side::Sell => -1.0,
        }
    }
}

/// What an [`Action`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionKind {
    /// 1: at the next bar's open.
    Market,
    /// 2: at a price or better.
    Limit,
    /// 3: once the price is reached.
    Stop,
    /// 4: cancel an open order.
    Cancel,
    /// 5: flatten the position at the next bar's open.
    Close,
}

impl ActionKind {
    /// The wire code.
    pub fn code(self) -> u8 {
        match self {
            ActionKind::Market => 1,
            ActionKind::Limit => 2,
            ActionKind::Stop => 3,
            ActionKind::Cancel => 4,
            ActionKind::Close => 5,
        }
    }

    /// The kind of a wire code, `None` for any other byte.
    pub fn from_code(c: u8) -> Option<ActionKind> {
        Some(match c {
            1 => ActionKind::Market,
            2 => ActionKind::Limit,
            3 => ActionKind::Stop,
            4 => ActionKind::Cancel,
            5 => ActionKind::Close,
            _ => return None,
        })
    }
}

/// One bar (48 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Bar {
    /// Open time, milliseconds since 1970-01-01 UTC.
    pub time: i64,
    /// Open.
    pub open: f64,
    /// High.
    pub high: f64,
    /// Low.
    pub low: f64,
    /// Close.
    pub close: f64,
    /// Volume.
    pub volume: f64,
}

impl Bar {
    /// Encoded size.
    pub const SIZE: usize = 48;

    /// Writes the record into `out[..48]`.
    ///
    /// # Panics
    /// If `out` is shorter than [`Bar::SIZE`].
    pub fn write(&self, out: &mut [u8]) {
        put_u64(out, 0, self.time as u64);
        put_f64(out, 8, self.open);
        put_f64(out, 16, self.high);
        put_f64(out, 24, self.low);
        put_f64(out, 32, self.close);
        put_f64(out, 40, self.volume);
    }

    /// Reads a record; `None` if `b` is shorter than [`Bar::SIZE`].
    pub fn read(b: &[u8]) -> Option<Bar> {
        (b.len() >= Self::SIZE).then(|| Bar {
            time: u64_at(b, 0) as i64,
            open: f64_at(b, 8),
            high: f64_at(b, 16),
            low: f64_at(b, 24),
            close: f64_at(b, 32),
            volume: f64_at(b, 40),
        })
    }
}

/// What `tls_init` is told about the run (56 bytes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// Most actions per bar.
    pub max_actions: u32,
    /// Starting cash.
    pub cash: f64,
    /// Fee rate per fill, fraction of the traded value.
    pub fee_rate: f64,
    /// Slippage of market and stop fills, fraction of the price.
    pub slippage: f64,
    /// The engine's feature length (what `suggest` expects).
    pub features: u32,
    /// Symbol, ASCII, zero-padded.
    pub symbol: [u8; 16],
}

impl Config {
    /// Encoded size.
    pub const SIZE: usize = 56;

    /// The encoded record.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0; Self::SIZE];
        put_u32(&mut b, 0, VERSION as u32);
        put_u32(&mut b, 4, self.max_actions);
        put_f64(&mut b, 8, self.cash);
        put_f64(&mut b, 16, self.fee_rate);
        put_f64(&mut b, 24, self.slippage);
        put_u32(&mut b, 32, self.features);
        b[40..56].copy_from_slice(&self.symbol);
        b
    }

    /// Reads a record; `None` if `b` is too short or of another version.
    pub fn read(b: &[u8]) -> Option<Config> {
        if b.len() < Self::SIZE || u32_at(b, 0) != VERSION as u32 {
            return None;
        }
        let mut symbol = [0; 16];
        symbol.copy_from_slice(&b[40..56]);
        Some(Config {
            max_actions: u32_at(b, 4),
            cash: f64_at(b, 8),
            fee_rate: f64_at(b, 16),
            slippage: f64_at(b, 24),
            features: u32_at(b, 32),
            symbol,
        })
    }

    /// The symbol without its padding (empty if it is not ASCII).
    pub fn symbol(&self) -> &str {
        let n = self.symbol.iter().position(|&c| c == 0).unwrap_or(16);
        core::str::from_utf8(&self.symbol[..n]).unwrap_or("")
    }
}

/// An open limit or stop order (32 bytes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Order {
    /// Id given by the host, from 1.
    pub id: u32,
    /// Limit or stop.
    pub kind: ActionKind,
    /// Buy or sell.
    pub side: Side,
    /// The strategy's tag.
    pub tag: u32,
    /// Bar index it was placed on.
    pub placed: u32,
    /// Units.
    pub size: f64,
    /// Limit or stop price.
    pub price: f64,
    /// Flag bits: [`REDUCE_ONLY`].
    pub flags: u8,
}

impl Order {
    /// Encoded size.
    pub const SIZE: usize = 32;

    /// Writes the record into `out[..32]`.
    ///
    /// # Panics
    /// If `out` is shorter than [`Order::SIZE`].
    pub fn write(&self, out: &mut [u8]) {
        put_u32(out, 0, self.id);
        out[4] = self.kind.code();
        out[5] = self.side.code();
        out[6] = self.flags;
        out[7] = 0;
        put_u32(out, 8, self.tag);
        put_u32(out, 12, self.placed);
        put_f64(out, 16, self.size);
        put_f64(out, 24, self.price);
    }

    /// Reads a record; `None` if it is too short or its kind or side is unknown.
    pub fn read(b: &[u8]) -> Option<Order> {
        if b.len() < Self::SIZE {
            return None;
        }
        Some(Order {
            id: u32_at(b, 0),
            kind: ActionKind::from_code(b[4])?,
            side: Side::from_code(b[5])?,
            tag: u32_at(b, 8),
            placed: u32_at(b, 12),
            size: f64_at(b, 16),
            price: f64_at(b, 24),
            flags: b[6],
        })
    }
}

/// What `tls_on_bar` is given.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Input {
    /// Bar index, 0 for the first bar of the data.
    pub index: u32,
    /// The bar that just closed.
    pub bar: Bar,
    /// Position in units, negative when short.
    pub position: f64,
    /// Average entry price of the position, 0 when flat.
    pub entry_price: f64,
    /// Cash.
    pub cash: f64,
    /// Cash plus the position at this close.
    pub equity: f64,
    /// Open orders, oldest first.
    pub orders: Vec<Order>,
}

impl Input {
    /// Encodes the record into `out` (cleared first); at most [`MAX_OPEN_ORDERS`] orders
    /// are written.
    pub fn write(&self, out: &mut Vec<u8>) {
        let n = self.orders.len().min(MAX_OPEN_ORDERS);
        out.clear();
        out.resize(INPUT_HEADER + n * Order::SIZE, 0);
        put_u32(out, 0, self.index);
        put_u32(out, 4, n as u32);
        self.bar.write(&mut out[8..56]);
        put_f64(out, 56, self.position);
        put_f64(out, 64, self.entry_price);
        put_f64(out, 72, self.cash);
        put_f64(out, 80, self.equity);
        for (i, o) in self.orders.iter().take(n).enumerate() {
            let at = INPUT_HEADER + i * Order::SIZE;
            o.write(&mut out[at..at + Order::SIZE]);
        }
    }

    /// Reads a record; `None` if it is shorter than its order count says or an order is
    /// malformed.
    pub fn read(b: &[u8]) -> Option<Input> {
        if b.len() < INPUT_HEADER {
            return None;
        }
        let n = u32_at(b, 4) as usize;
        if n > MAX_OPEN_ORDERS || b.len() < INPUT_HEADER + n * Order::SIZE {
            return None;
        }
        let mut orders = Vec::with_capacity(n);
        for i in 0..n {
            let at = INPUT_HEADER + i * Order::SIZE;
            orders.push(Order::read(&b[at..])?);
        }
        Some(Input {
            index: u32_at(b, 0),
            bar: Bar::read(&b[8..])?,
            position: f64_at(b, 56),
            entry_price: f64_at(b, 64),
            cash: f64_at(b, 72),
            equity: f64_at(b, 80),
            orders,
        })
    }
}

/// An order or a cancellation returned by `tls_on_bar` (32 bytes), as written: the host
/// validates it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Action {
    /// Kind code (see [`ActionKind`]).
    pub kind: u8,
    /// Side code (see [`Side`]).
    pub side: u8,
    /// Echoed in fills and trades.
    pub tag: u32,
    /// Units.
    pub size: f64,
    /// Limit or stop price.
    pub price: f64,
    /// Order to cancel.
    pub order_id: u32,
    /// Flag bits: [`REDUCE_ONLY`].
    pub flags: u8,
}

/// Action / order flag: fill only as far as the order reduces the position; an order that
/// would open or grow one is cancelled when it is tried.
pub const REDUCE_ONLY: u8 = 1;

impl Action {
    /// Encoded size.
    pub const SIZE: usize = 32;

    fn new(kind: ActionKind, side: Side, size: f64, price: f64, tag: u32) -> Action {
        Action {
            kind: kind.code(),
            side: side.code(),
            tag,
            size,
            price,
            order_id: 0,
            flags: 0,
        }
    }

    /// The same action, reduce-only (an exit that can never open a position).
    pub fn reduce_only(mut self) -> Action {
        self.flags |= REDUCE_ONLY;
        self
    }

    /// A market order.
    pub fn market(side: Side, size: f64, tag: u32) -> Action {
        Action::new(ActionKind::Market, side, size, 0.0, tag)
    }

    /// A limit order.
    pub fn limit(side: Side, size: f64, price: f64, tag: u32) -> Action {
        Action::new(ActionKind::Limit, side, size, price, tag)
    }

    /// A stop order.
    pub fn stop(side: Side, size: f64, price: f64, tag: u32) -> Action {
        Action::new(ActionKind::Stop, side, size, price, tag)
    }

    /// Cancel open order `id`.
    pub fn cancel(id: u32) -> Action {
        Action {
            order_id: id,
            ..Action::new(ActionKind::Cancel, Side::Buy, 0.0, 0.0, 0)
        }
    }

    /// Flatten the position at the next open.
    pub fn close(tag: u32) -> Action {
        Action::new(ActionKind::Close, Side::Buy, 0.0, 0.0, tag)
    }

    /// The kind, if the code is known.
    pub fn kind(&self) -> Option<ActionKind> {
        ActionKind::from_code(self.kind)
    }

    /// Writes the record into `out[..32]`.
    ///
    /// # Panics
    /// If `out` is shorter than [`Action::SIZE`].
    pub fn write(&self, out: &mut [u8]) {
        out[0] = self.kind;
        out[1] = self.side;
        out[2] = self.flags;
        out[3] = 0;
        put_u32(out, 4, self.tag);
        put_f64(out, 8, self.size);
        put_f64(out, 16, self.price);
        put_u32(out, 24, self.order_id);
        put_u32(out, 28, 0);
    }

    /// Reads a record; `None` only if `b` is shorter than [`Action::SIZE`].
    pub fn read(b: &[u8]) -> Option<Action> {
        (b.len() >= Self::SIZE).then(|| Action {
            kind: b[0],
            side: b[1],
            tag: u32_at(b, 4),
            size: f64_at(b, 8),
            price: f64_at(b, 16),
            order_id: u32_at(b, 24),
            flags: b[2],
        })
    }
}

/// [`Fill::refusal`]: the fill would take more than the equity allows.
pub const REFUSED_CASH: u8 = 1;
/// [`Fill::refusal`]: a reduce-only order found nothing to reduce.
pub const REFUSED_REDUCE_ONLY: u8 = 2;

/// A fill or a refused fill, given to `tls_on_fill` (48 bytes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fill {
    /// The order.
    pub order_id: u32,
    /// Its kind.
    pub kind: ActionKind,
    /// Its side.
    pub side: Side,
    /// `false`: refused; nothing changed.
    pub filled: bool,
    /// Why it was refused: [`REFUSED_CASH`], [`REFUSED_REDUCE_ONLY`]; 0 when filled.
    pub refusal: u8,
    /// The order's tag.
    pub tag: u32,
    /// Bar index of the fill.
    pub bar: u32,
    /// Units.
    pub size: f64,
    /// Price after slippage.
    pub price: f64,
    /// Fee paid.
    pub fee: f64,
    /// Position after the fill.
    pub position: f64,
}

impl Fill {
    /// Encoded size.
    pub const SIZE: usize = 48;

    /// The encoded record.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0; Self::SIZE];
        put_u32(&mut b, 0, self.order_id);
        b[4] = self.kind.code();
        b[5] = self.side.code();
        b[6] = u8::from(!self.filled);
        b[7] = self.refusal;
        put_u32(&mut b, 8, self.tag);
        put_u32(&mut b, 12, self.bar);
        put_f64(&mut b, 16, self.size);
        put_f64(&mut b, 24, self.price);
        put_f64(&mut b, 32, self.fee);
        put_f64(&mut b, 40, self.position);
        b
    }

    /// Reads a record; `None` if it is too short or a code is unknown.
    pub fn read(b: &[u8]) -> Option<Fill> {
        if b.len() < Self::SIZE || b[6] > 1 {
            return None;
        }
        Some(Fill {
            order_id: u32_at(b, 0),
            kind: ActionKind::from_code(b[4])?,
            side: Side::from_code(b[5])?,
            filled: b[6] == 0,
            refusal: b[7],
            tag: u32_at(b, 8),
            bar: u32_at(b, 12),
            size: f64_at(b, 16),
            price: f64_at(b, 24),
            fee: f64_at(b, 32),
            position: f64_at(b, 40),
        })
    }
}

/// The learning engine's answer to `suggest` (48 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Suggestion {
    /// `[P(loss), P(flat), P(win)]`.
    pub probs: [f64; 3],
    /// Stop distance, fraction of the price.
    pub stop_pct: f64,
    /// Target distance, fraction of the price.
    pub target_pct: f64,
    /// The champion model's version.
    pub model_version: u32,
}

impl Suggestion {
    /// Encoded size.
    pub const SIZE: usize = 48;

    /// The encoded record.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut b = [0; Self::SIZE];
        put_f64(&mut b, 0, self.probs[0]);
        put_f64(&mut b, 8, self.probs[1]);
        put_f64(&mut b, 16, self.probs[2]);
        put_f64(&mut b, 24, self.stop_pct);
        put_f64(&mut b, 32, self.target_pct);
        put_u32(&mut b, 40, self.model_version);
        b
    }

    /// Reads a record; `None` if `b` is too short.
    pub fn read(b: &[u8]) -> Option<Suggestion> {
        (b.len() >= Self::SIZE).then(|| Suggestion {
            probs: [f64_at(b, 0), f64_at(b, 8), f64_at(b, 16)],
            stop_pct: f64_at(b, 24),
            target_pct: f64_at(b, 32),
            model_version: u32_at(b, 40),
        })
    }

    /// `P(win) - P(loss)`.
    pub fn score(&self) -> f64 {
        self.probs[2] - self.probs[0]
    }
}

/// Formats parameters as `tls_init` receives them: `name=value` lines sorted by name.
/// `params` must already be sorted and unique (a `BTreeMap`'s order).
pub fn params_text<'a>(params: impl IntoIterator<Item = (&'a str, f64)>) -> alloc::string::String {
    use core::fmt::Write;
    let mut s = alloc::string::String::new();
    for (k, v) in params {
        let _ = writeln!(s, "{k}={v}");
    }
    s
}

/// Looks `name` up in a parameter text; `None` if absent or not a number.
pub fn param_in(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k == name).then(|| v.parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_match_the_documented_sizes() {
        let bar = Bar {
            time: -5,
            open: 1.0,
            high: 2.0,
            low: 0.5,
            close: 1.5,
            volume: 7.0,
        };
        let order = Order {
            id: 3,
            kind: ActionKind::Stop,
            side: Side::Sell,
            tag: 9,
            placed: 4,
            size: 2.0,
            price: 0.75,
            flags: REDUCE_ONLY,
        };
        let input = Input {
            index: 12,
            bar,
            position: -2.0,
            entry_price: 1.25,
            cash: 100.0,
            equity: 97.0,
            orders: alloc::vec![order, order],
        };
        let mut b = Vec::new();
        input.write(&mut b);
        assert_eq!(b.len(), INPUT_HEADER + 2 * 32);
        assert_eq!(Input::read(&b), Some(input));
        assert_eq!(Input::read(&b[..b.len() - 1]), None);
        let a = Action::limit(Side::Buy, 1.5, 99.0, 7).reduce_only();
        let mut ab = [0u8; 32];
        a.write(&mut ab);
        assert_eq!(Action::read(&ab), Some(a));
        assert_eq!(a.kind(), Some(ActionKind::Limit));
        let f = Fill {
            order_id: 1,
            kind: ActionKind::Market,
            side: Side::Buy,
            filled: false,
            refusal: REFUSED_CASH,
            tag: 2,
            bar: 3,
            size: 4.0,
            price: 5.0,
            fee: 0.1,
            position: 0.0,
        };
        assert_eq!(Fill::read(&f.to_bytes()), Some(f));
        let c = Config {
            max_actions: 16,
            cash: 1e4,
            fee_rate: 0.001,
            slippage: 0.0,
            features: 32,
            symbol: *b"SPY\0\0\0\0\0\0\0\0\0\0\0\0\0",
        };
        assert_eq!(Config::read(&c.to_bytes()), Some(c));
        assert_eq!(c.symbol(), "SPY");
        let s = Suggestion {
            probs: [0.2, 0.3, 0.5],
            stop_pct: 0.01,
            target_pct: 0.02,
            model_version: 4,
        };
        assert_eq!(Suggestion::read(&s.to_bytes()), Some(s));
    }

    #[test]
    fn parameters_are_sorted_lines() {
        let t = params_text([("fast", 10.0), ("slow", 30.5)]);
        assert_eq!(t, "fast=10\nslow=30.5\n");
        assert_eq!(param_in(&t, "slow"), Some(30.5));
        assert_eq!(param_in(&t, "slo"), None);
    }
}
