//! Backtests of tradeloop strategy modules (strategy ABI v1, `docs/STRATEGY_ABI.md`),
//! without a WebAssembly runtime: the hosts bring their own (wasmtime in `tradeloop
//! experiment`, the browser's in a Worker) and drive a [`Run`] per strategy through the same
//! steps, so the same modules on the same bars give the same trades, and the same
//! [`trades_hash`], everywhere.
//!
//! - [`feed`]: the validated bars and their candle features, shared by all strategies.
//! - [`broker`]: orders, fills, fees, cash and trades: the execution rules.
//! - [`run`]: one strategy's broker and fork of the learning engine, and the ABI records.
//! - [`metrics`]: the report's figures.
#![cfg_attr(not(feature = "ts"), no_std)]

extern crate alloc;

pub mod broker;
pub mod feed;
pub mod metrics;
pub mod run;

pub use broker::{Broker, Costs, Rejections, Trade};
pub use feed::Feed;
pub use metrics::{Metrics, metrics};
pub use run::{Outcome, Run, Stopped, fresh_engine};

/// A hash of a trade list: XXH64 of each trade's bars, side, end-of-data flag and the bits
/// of its prices, size and PnL. Equal lists, and only those in practice, hash equal; the
/// host and the browser compare runs with it.
pub fn trades_hash(trades: &[Trade]) -> u64 {
    let mut b = alloc::vec::Vec::with_capacity(trades.len() * 42);
    for t in trades {
        b.extend_from_slice(&t.entry_bar.to_le_bytes());
        b.extend_from_slice(&t.exit_bar.to_le_bytes());
        b.push(u8::from(t.long));
        b.push(u8::from(t.end_of_data));
        for x in [t.entry_price, t.exit_price, t.size, t.pnl] {
            b.extend_from_slice(&x.to_bits().to_le_bytes());
        }
    }
    tradeloop_core::checkpoint::xxh64(&b, 0)
}
