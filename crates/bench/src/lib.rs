//! Benchmark workloads of `shared/bench/WORKLOADS.md` on tradeloop, side by side with the
//! peer runtimes, and the engine-level workloads W7 and W1-engine ([`w7`]). Run with `cargo bench -p tradeloop-bench` (add `-- --peers` to run the
//! installed peers in the same session, `-- --quick` for a smoke run).

pub mod data;
pub mod gate;
pub mod peers;
pub mod w3;
pub mod w6;
pub mod w7;
pub mod workloads;
