//! tradeloop-core: the learning state machine of tradeloop, `no_std` + `alloc`.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod error;
pub mod journal;
pub mod learners;
pub mod market;
pub mod nn;
pub mod replay;
pub mod rng;
