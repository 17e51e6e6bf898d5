//! The model lifecycle: what keeps the signal model improving for months without
//! supervision and never ships a worse one.
//!
//! - [`stats`]: significance tests for A/B comparisons (two-proportion z, Welch's t).
//! - [`drift`]: Page-Hinkley on the error stream, population stability index per feature,
//!   and a guard that pauses learning on extreme input.
//! - [`schedule`]: the training schedule as data, and which job is due at a given time.

pub mod drift;
pub mod schedule;
pub mod stats;
