//! # tradeloop-wasm
//!
//! tradeloop's core for JavaScript, built with wasm-bindgen (`web/build.sh` makes the ES
//! module `web/pkg/tradeloop_wasm.js` with TypeScript types in `tradeloop_wasm.d.ts`).
//!
//! Two builds: the lean package a paper-trading page needs (`web/pkg`, no features) and the
//! full one (`web/pkg-full`, feature `full`), which adds what is marked *full* below.
//!
//! * [`Engine`]: the learning engine, one camelCase method per core command, snapshots as
//!   `Uint8Array` in the host's checkpoint format. The lean build restores schema-4
//!   checkpoints only (an older one throws `kind` "Checkpoint"); *full* also reads schemas
//!   1-3 and has `rank` with a JS scorer.
//! * [`PaperTrader`]: the built-in rule strategy, bar by bar, with its own snapshot.
//! * *full:* `BacktestFeed`, `StrategyRun`: backtests of strategy modules (strategy ABI v1)
//!   that JS runs itself, e.g. in a Worker (`web/strategy-worker.js`): everything but the
//!   WebAssembly runtime, the same code as `tradeloop experiment`, so the same trade hashes.
//! * [`version`], [`default_config`], [`default_paper_config`], [`parse_csv`]; *full:*
//!   `inspectCheckpoint`.
//!
//! Values cross as plain JS objects in the core's serde shapes: structs as objects with
//! snake_case fields, enums externally tagged (`{ Open: {...} }`, unit variants as strings
//! like `"Long"`), `Option::None` as `null`, maps as objects, byte strings as
//! `Uint8Array`, 64-bit integers as numbers when they are safe integers (else `BigInt`).
//! Every failure throws a JS `Error` whose `message` is the core error's text, `name`
//! `"TradeloopError"` and `kind` the error variant (`"FeatureLength"`, `"UnknownTrade"`,
//! `"Checkpoint"`, ...; `"InvalidInput"` for a value of the wrong shape or a `StrategyRun`
//! method called out of the ABI's order, `"Csv"` for `parseCsv` and
//! `BacktestFeed.fromCsv`). A call that throws has changed nothing.
//!
//! The only randomness is the engine's seed: `getrandom` (`crypto.getRandomValues`) picks
//! one when the caller gives none; time comes with each command as `now` (ms since the
//! epoch, `Date.now()` when omitted).

#[cfg(feature = "full")]
mod backtest;
mod convert;
mod engine;
mod paper;
#[cfg(feature = "full")]
mod ranker;
mod types;

#[cfg(feature = "bench")]
mod bench;

use tradeloop_core::EngineConfig;
use tradeloop_core::checkpoint;
use tradeloop_core::paper::PaperConfig;
use wasm_bindgen::prelude::*;

#[cfg(feature = "full")]
pub use backtest::{BacktestFeed, StrategyRun};
pub use engine::Engine;
pub use paper::PaperTrader;
#[cfg(feature = "ts")]
#[doc(hidden)]
pub use types::visit_ts_types;

use convert::{js_error, to_js};

/// The package and checkpoint schema, e.g. `"tradeloop-wasm 0.1.0 (checkpoint schema 4)"`.
#[wasm_bindgen]
pub fn version() -> String {
    format!(
        "tradeloop-wasm {} (checkpoint schema {})",
        env!("CARGO_PKG_VERSION"),
        checkpoint::SCHEMA
    )
}

/// The engine configuration with every default.
#[wasm_bindgen(js_name = defaultConfig, unchecked_return_type = "EngineConfig")]
pub fn default_config() -> Result<JsValue, JsValue> {
    to_js(&EngineConfig::default())
}

/// The paper trader configuration with every default.
#[wasm_bindgen(js_name = defaultPaperConfig, unchecked_return_type = "PaperConfig")]
pub fn default_paper_config() -> Result<JsValue, JsValue> {
    to_js(&PaperConfig::default())
}

/// Parses market CSV (`timestamp,open,high,low,close,volume`, ascending; timestamps in
/// unix seconds or ISO-8601 UTC) into candles with `time` in ms. A malformed file throws
/// (`kind` "Csv") with every bad line named in the message.
#[wasm_bindgen(js_name = parseCsv, unchecked_return_type = "Candle[]")]
pub fn parse_csv(text: &str) -> Result<JsValue, JsValue> {
    match tradeloop_core::market::parse_csv(text) {
        Ok(candles) => to_js(&candles),
        Err(e) => Err(js_error(&e.to_string(), "Csv").into()),
    }
}

/// Decodes checkpoint bytes (any schema, upgraded to the current one) into the persisted
/// state, the same document `tradeloop inspect FILE` prints as JSON. Bad bytes throw
/// (`kind` "Checkpoint").
#[cfg(feature = "full")]
#[wasm_bindgen(js_name = inspectCheckpoint, unchecked_return_type = "CheckpointDocument")]
pub fn inspect_checkpoint(bytes: &[u8]) -> Result<JsValue, JsValue> {
    let doc = checkpoint::decode(bytes).map_err(convert::checkpoint_error)?;
    to_js(&doc)
}
