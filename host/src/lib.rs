//! The native host of tradeloop: runs the core, compiled to the `tradeloop-plugin` wasm
//! module, in wasmtime (sandboxed, with time and memory limits on every call), and gives it
//! what wasm cannot have: files, durability, a clock and signals.
//!
//! - [`plugin`]: the wasmtime side of the ABI (`docs/ABI.md`).
//! - [`module_cache`]: the compiled plugin kept on disk, so a call starts in milliseconds.
//! - [`store`]: the state directory: the SQLite event journal and atomic checkpoints.
//! - [`ranker`]: the ONNX ranker (tract) the plugin's `rank` import runs.
//! - [`runtime`]: the two together: journal before acknowledging, checkpoints, recovery.
//! - [`settings`]: the `--config` file.
//! - [`universe`]: paper trading several series with the ranker (top K).
//! - [`report`]: `tradeloop report`, Markdown and SVG charts of what an engine learned.
//! - [`evaluate`]: `tradeloop evaluate`, the W6 protocol on any candle series.
//! - [`experiment`]: `tradeloop experiment`, sandboxed strategy modules side by side.

pub mod evaluate;
pub mod experiment;
pub mod module_cache;
pub mod plugin;
pub mod ranker;
pub mod report;
pub mod runtime;
pub mod settings;
pub mod store;
pub mod universe;

/// The plugin module built from this workspace (see `build.rs`).
pub const PLUGIN_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/tradeloop_plugin.wasm"));
