//! # tradeloop-core
//!
//! The learning state machine of tradeloop, `no_std` + `alloc`: a trade journal, a replay
//! buffer, hand-written MLPs, a signal model, a support/resistance level-weight learner, an
//! exit learner, and a portable checkpoint format.
//!
//! Everything goes through one deterministic entry point, [`Engine::apply`], plus
//! [`Engine::snapshot`] / [`Engine::restore`]. The engine reads no clock and no global
//! randomness: time comes with each command and randomness from the seed, so the same
//! command stream gives the same state, bit for bit, natively and in WebAssembly.
//!
//! ```
//! use tradeloop_core::{Command, Engine, EngineConfig, OpenTrade, CloseTrade, Reply, Side, ExitReason};
//!
//! let mut engine = Engine::new(EngineConfig { features: 4, ..EngineConfig::default() }, 42, 0)?;
//! let open = OpenTrade {
//!     symbol: "SPY".into(),
//!     side: Side::Long,
//!     price: 400.0,
//!     size: 1.0,
//!     features: vec![0.1, -0.2, 0.3, 0.0],
//!     level: None,
//!     exits: None,
//! };
//! let Reply::Opened(opened) = engine.apply(Command::Open(open), 1_700_000_000_000)? else { unreachable!() };
//! let close = CloseTrade { trade_id: opened.trade_id, price: 404.0, reason: ExitReason::Target };
//! engine.apply(Command::Close(close), 1_700_000_360_000)?;
//!
//! let bytes = engine.snapshot();
//! assert_eq!(Engine::restore(&bytes)?, engine);
//! # Ok::<(), tradeloop_core::Error>(())
//! ```
//!
//! Feature `std` (default) adds runtime CPU detection for the AVX-512 / AVX kernels; without
//! it the crate builds for bare-metal targets. Results are identical either way.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod abi;
pub mod checkpoint;
pub mod command;
pub mod config;
pub mod engine;
pub mod error;
pub mod evaluate;
pub mod event_log;
pub mod journal;
pub mod learners;
pub mod lifecycle;
pub mod market;
pub mod nn;
pub mod paper;
pub mod ranking;
pub mod replay;
pub mod rng;
pub mod stats;
pub mod vocab;

pub use command::{CloseTrade, Command, LearnRequest, OpenTrade, Query, Reply, SuggestRequest};
pub use config::EngineConfig;
pub use engine::{Apply, Engine};
pub use error::{CheckpointError, Error, ErrorKind};
pub use journal::{ExitReason, LevelInput, LevelKind, Outcome, Side};
pub use learners::ExitMode;
