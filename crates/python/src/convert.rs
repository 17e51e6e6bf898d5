//! Values across the boundary: serde shapes to and from Python objects (pythonize),
//! features from numpy, errors as `tradeloop.errors` exceptions, time and seeds.

use numpy::{PyReadonlyArray1, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tradeloop_core::Error;

/// `value` in its serde shape as Python objects.
pub(crate) fn to_py<'py, T: Serialize + ?Sized>(
    py: Python<'py>,
    value: &T,
) -> PyResult<Bound<'py, PyAny>> {
    pythonize::pythonize(py, value)
        .map_err(|e| invalid(py, format!("cannot convert a reply to Python: {e}")))
}

/// A Python value in the serde shape of `T`; `what` names it in the error.
pub(crate) fn from_py<T: DeserializeOwned>(value: &Bound<'_, PyAny>, what: &str) -> PyResult<T> {
    pythonize::depythonize(value).map_err(|e| invalid(value.py(), format!("invalid {what}: {e}")))
}

/// A feature vector: a 1-D `numpy.float32` array (read in place) or a sequence of numbers.
/// Another dtype, another number of dimensions or anything else raises `InvalidInput`.
pub(crate) fn features(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<f32>> {
    let py = value.py();
    if let Ok(array) = value.cast::<PyUntypedArray>() {
        let dtype = array.dtype().to_string();
        if array.ndim() != 1 || dtype != "float32" {
            return Err(invalid(
                py,
                format!(
                    "{what} must be a 1-D float32 array, got {} dimension(s) of {dtype}",
                    array.ndim()
                ),
            ));
        }
        let array: PyReadonlyArray1<'_, f32> = value.extract()?;
        return Ok(match array.as_slice() {
            Ok(s) => s.to_vec(),
            Err(_) => array.as_array().iter().copied().collect(),
        });
    }
    if value.is_instance_of::<pyo3::types::PyString>()
        || value.is_instance_of::<pyo3::types::PyBytes>()
    {
        return Err(invalid(py, format!("{what} must be numbers, not a string")));
    }
    value.extract::<Vec<f32>>().map_err(|_| {
        invalid(
            py,
            format!("{what} must be a float32 array or a sequence of numbers"),
        )
    })
}

/// A configuration: the defaults with `partial`'s keys on top, merged recursively into
/// nested sections. An unknown key raises, so a typo is not silently ignored.
pub(crate) fn merged<T: Serialize + DeserializeOwned>(
    py: Python<'_>,
    defaults: &T,
    partial: Option<&Bound<'_, PyAny>>,
    what: &str,
) -> PyResult<T> {
    let base = to_py(py, defaults)?;
    if let Some(partial) = partial.filter(|p| !p.is_none()) {
        merge(&base, partial, what)?;
    }
    from_py(&base, what)
}

/// Writes `over` into `base` (both dicts), recursing into dicts that are sections (not
/// externally tagged enums, which are replaced whole).
fn merge(base: &Bound<'_, PyAny>, over: &Bound<'_, PyAny>, path: &str) -> PyResult<()> {
    let py = base.py();
    let (Ok(base), Ok(over)) = (base.cast::<PyDict>(), over.cast::<PyDict>()) else {
        return Err(invalid(py, format!("{path} must be a dict")));
    };
    for (key, value) in over.iter() {
        let name: String = key
            .extract()
            .map_err(|_| invalid(py, format!("{path} has a key that is not a string")))?;
        let Some(old) = base.get_item(&key)? else {
            return Err(invalid(py, format!("unknown key `{name}` in {path}")));
        };
        let section = old.cast::<PyDict>().is_ok_and(|d| !is_enum(d));
        if section && value.cast::<PyDict>().is_ok() {
            merge(&old, &value, &format!("{path}.{name}"))?;
        } else {
            base.set_item(&key, &value)?;
        }
    }
    Ok(())
}

/// A serialized externally tagged enum (`{"Variant": ...}`) rather than a struct.
fn is_enum(d: &Bound<'_, PyDict>) -> bool {
    d.len() == 1
        && d.keys()
            .get_item(0)
            .ok()
            .and_then(|k| k.extract::<String>().ok())
            .and_then(|k| k.chars().next())
            .is_some_and(|c| c.is_ascii_uppercase())
}

/// `items` as a Python list of the serde shapes.
pub(crate) fn list<'py, T: Serialize>(
    py: Python<'py>,
    items: &[T],
) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for item in items {
        out.append(to_py(py, item)?)?;
    }
    Ok(out)
}

/// An exception of class `tradeloop.errors.<kind>` (the base `TradeloopError` if there is no
/// such class) with `message`, `kind` and, for checkpoint errors, `checkpoint`.
fn raise(py: Python<'_>, kind: &str, message: &str, checkpoint: Option<&str>) -> PyErr {
    let made = (|| -> PyResult<PyErr> {
        let errors = PyModule::import(py, "tradeloop.errors")?;
        let class = errors
            .getattr(kind)
            .or_else(|_| errors.getattr("TradeloopError"))?;
        let e = class.call1((message, kind, checkpoint))?;
        Ok(PyErr::from_value(e))
    })();
    made.unwrap_or_else(|e| e)
}

/// A core error as a Python exception.
pub(crate) fn core_error(py: Python<'_>, err: &Error) -> PyErr {
    let checkpoint = match err {
        Error::Checkpoint(c) => Some(c.name()),
        _ => None,
    };
    raise(py, err.kind().name(), &err.to_string(), checkpoint)
}

/// A value that does not have the expected shape or dtype: `tradeloop.InvalidInput`.
pub(crate) fn invalid(py: Python<'_>, message: String) -> PyErr {
    raise(py, "InvalidInput", &message, None)
}

/// A CSV that does not parse: `tradeloop.CsvError`.
pub(crate) fn csv_error(py: Python<'_>, message: &str) -> PyErr {
    raise(py, "Csv", message, None)
}

/// Maps a core result's error to a raised exception.
pub(crate) trait OrRaise<T> {
    /// `Err(core_error(..))` on failure.
    fn or_raise(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> OrRaise<T> for Result<T, Error> {
    fn or_raise(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| core_error(py, &e))
    }
}

/// `now` in ms since the epoch; the system clock when not given (the binding's, never the
/// core's).
pub(crate) fn now(py: Python<'_>, now: Option<i64>) -> PyResult<i64> {
    match now {
        Some(ms) => Ok(ms),
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .map_err(|_| invalid(py, "the system clock is before 1970".into())),
    }
}

/// A seed from `os.urandom` when the caller gives none.
pub(crate) fn seed(py: Python<'_>, seed: Option<u64>) -> PyResult<u64> {
    if let Some(s) = seed {
        return Ok(s);
    }
    let bytes: Vec<u8> = PyModule::import(py, "os")?
        .call_method1("urandom", (8,))?
        .extract()?;
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[..8]);
    Ok(u64::from_le_bytes(b))
}
