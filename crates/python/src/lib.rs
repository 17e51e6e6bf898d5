//! # tradeloop-python
//!
//! The extension module `tradeloop._tradeloop` of the `tradeloop` wheel (maturin, PyO3,
//! abi3 for CPython >= 3.9). `python/tradeloop` is the package users import; it re-exports
//! the classes here and defines the exceptions (`tradeloop.errors`).
//!
//! * [`Engine`]: every core command and query as a method, values as plain Python
//!   dicts / lists / str / int / float / None in the core's serde shapes (structs as dicts
//!   with snake_case keys, enums externally tagged: `{"Opened": {...}}`, unit variants as
//!   strings like `"Long"`), snapshots as `bytes` in the host's checkpoint format.
//! * [`PaperTrader`]: the built-in rule strategy, bar by bar, with its own snapshot.
//! * `parse_csv`, `version`, `default_config`, `default_paper_config`, `error_kinds`.
//!
//! Features go in as a 1-D `numpy.float32` array (read in place, no Python objects made)
//! or a sequence of numbers, and come out as `numpy.float32` arrays. Every failure raises a
//! subclass of `tradeloop.TradeloopError` named after the core's `Error::kind()`
//! (`tradeloop.FeatureLength`, `tradeloop.UnknownTrade`, ...; `tradeloop.InvalidInput` for a
//! value of the wrong shape or dtype), and a call that raises has changed nothing.
//!
//! Time comes with each command as `now` (ms since the epoch); when it is omitted the
//! binding reads the system clock, never the core. The only randomness is a seed the caller
//! omits: the binding then takes one from `os.urandom`.

mod convert;
mod engine;
mod paper;

use pyo3::prelude::*;
use tradeloop_core::{EngineConfig, ErrorKind, checkpoint, paper::PaperConfig};

pub use engine::Engine;
pub use paper::PaperTrader;

use convert::{csv_error, to_py};

/// The package and checkpoint schema, e.g. `"tradeloop-python 0.1.0 (checkpoint schema 4)"`.
#[pyfunction]
fn version() -> String {
    format!(
        "tradeloop-python {} (checkpoint schema {})",
        env!("CARGO_PKG_VERSION"),
        checkpoint::SCHEMA
    )
}

/// The engine configuration with every default, as a dict.
#[pyfunction]
fn default_config(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    to_py(py, &EngineConfig::default())
}

/// The paper trader configuration with every default, as a dict.
#[pyfunction]
fn default_paper_config(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    to_py(py, &PaperConfig::default())
}

/// Parses market CSV (`timestamp,open,high,low,close,volume`, ascending; timestamps in unix
/// seconds or ISO-8601 UTC) into candle dicts with `time` in ms. A malformed file raises
/// `tradeloop.CsvError` naming every bad line.
#[pyfunction]
fn parse_csv<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    match tradeloop_core::market::parse_csv(text) {
        Ok(candles) => to_py(py, &candles),
        Err(e) => Err(csv_error(py, &e.to_string())),
    }
}

/// The name of every kind of error the core reports (`ErrorKind::name()`), the names of
/// the exception classes in `tradeloop.errors`.
#[pyfunction]
fn error_kinds() -> Vec<&'static str> {
    ErrorKind::ALL.iter().map(|k| k.name()).collect()
}

#[pymodule]
fn _tradeloop(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Engine>()?;
    m.add_class::<PaperTrader>()?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    m.add_function(wrap_pyfunction!(default_config, m)?)?;
    m.add_function(wrap_pyfunction!(default_paper_config, m)?)?;
    m.add_function(wrap_pyfunction!(parse_csv, m)?)?;
    m.add_function(wrap_pyfunction!(error_kinds, m)?)?;
    Ok(())
}
