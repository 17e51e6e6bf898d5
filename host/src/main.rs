//! The `tradeloop` command (being written).
fn main() {}
