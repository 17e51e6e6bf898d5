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
mod ranker;

use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::prelude::*;
use tradeloop_core::market::{Candle, FEATURES};
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

/// The W6 labelled stream of `candles` (candle dicts, oldest first, as `parse_csv` gives
/// them) for a label `horizon` bars ahead: one row per bar past the feature warm-up, as
/// `(features, labels, times)`: a `(rows, 32)` `numpy.float32` array, a `numpy.uint8` array
/// of classes (0 loss, 1 flat, 2 win) and a `numpy.int64` array of the bars' times (ms).
/// The same rows `tradeloop evaluate` scores.
#[pyfunction]
#[pyo3(signature = (candles, horizon=12))]
#[allow(clippy::type_complexity)]
fn w6_stream<'py>(
    py: Python<'py>,
    candles: &Bound<'py, PyAny>,
    horizon: usize,
) -> PyResult<(
    Bound<'py, PyArray2<f32>>,
    Bound<'py, PyArray1<u8>>,
    Bound<'py, PyArray1<i64>>,
)> {
    let candles: Vec<Candle> = convert::from_py(candles, "candles")?;
    let rows = tradeloop_core::evaluate::stream(&candles, horizon);
    let flat: Vec<f32> = rows.iter().flat_map(|r| r.features).collect();
    let features = PyArray1::from_vec(py, flat).reshape([rows.len(), FEATURES])?;
    let labels = PyArray1::from_vec(py, rows.iter().map(|r| r.label).collect());
    let times = PyArray1::from_vec(py, rows.iter().map(|r| r.time).collect());
    Ok((features, labels, times))
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
    m.add_function(wrap_pyfunction!(w6_stream, m)?)?;
    Ok(())
}
