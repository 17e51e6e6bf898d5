//! TypeScript declarations of the serde shapes that cross the boundary, emitted into
//! `tradeloop_wasm.d.ts` (the classes' methods refer to them with `unchecked_param_type` /
//! `unchecked_return_type`).
//!
//! `types.d.ts` is generated from the Rust types (`ts_rs::TS` derives behind the `ts`
//! features of tradeloop-core, tradeloop-backtest and this crate) by `tests/typescript.rs`,
//! which fails when it is stale. Regenerate it with
//! `UPDATE_TYPES=1 cargo test -p tradeloop-wasm --test typescript`. Only what no Rust type
//! gives is written by hand, below.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = include_str!("types.d.ts");

#[wasm_bindgen(typescript_custom_section)]
const HAND_WRITTEN: &str = r#"
/** A configuration override: any subset of the fields, at any depth. */
export type DeepPartial<T> = T extends (infer U)[]
  ? U[]
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

/**
 * What every method throws: a JS `Error` named `"TradeloopError"` whose `message` is the
 * core error's text. `kind` is the core's `Error::kind()`, or, for errors of the binding
 * itself, `"InvalidInput"` (a value of the wrong shape, a `StrategyRun` method called out of
 * order) or `"Csv"` (`parseCsv`, `BacktestFeed.fromCsv`). A checkpoint error also names its
 * `CheckpointError` variant in `checkpoint` (`"ChecksumMismatch"`, `"FutureSchema"`, ...).
 * A call that throws has changed nothing.
 */
export interface TradeloopError extends Error {
  name: "TradeloopError";
  kind: ErrorKind | "InvalidInput" | "Csv";
  checkpoint?: string;
}

/** What `StrategyRun.finish()` returns: the serialized summary and the equity curve, which crosses as a typed array. */
export type BacktestResult = BacktestFinished & {
  /** Equity at each bar's close. */
  equity: Float64Array;
};
"#;

/// Visits this crate's own types that cross the boundary (feature `ts`): the roots
/// `tests/typescript.rs` declares besides the core's and the backtest's.
#[cfg(feature = "ts")]
pub fn visit_ts_types(v: &mut impl ts_rs::TypeVisitor) {
    v.visit::<crate::backtest::Finished<'static>>();
}
