//! tradeloop's strategy ABI, version 1 (`docs/STRATEGY_ABI.md`).
//!
//! - [`abi`]: the fixed little-endian records exchanged between a host and a strategy module,
//!   with their encoders and decoders. The hosts (`tradeloop experiment`, the browser
//!   package) and the guest SDK share this one implementation.
//! - [`guest`]: the SDK for writing a strategy in Rust: implement [`Strategy`] and call
//!   [`export_strategy!`]; build the crate as a `cdylib` for `wasm32-unknown-unknown`.
#![no_std]

extern crate alloc;

pub mod abi;
pub mod guest;

pub use abi::{Action, ActionKind, Bar, Config, Fill, Input, Order, Side, Suggestion};
pub use guest::{Actions, Context, Params, Strategy};
