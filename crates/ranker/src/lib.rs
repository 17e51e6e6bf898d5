//! ONNX ranker inference for tradeloop hosts, on [tract](https://github.com/sonos/tract).
//!
//! A [`Ranker`] is an ONNX model that scores feature rows: it is loaded, checked against
//! the ranker contract and optimised once, then [`Ranker::rank`] is called as often as
//! needed, from any thread. The contract, checked at load:
//!
//! - exactly one input (any name), `float32`, shape `[N, F]` where `N` is a symbolic batch
//!   dimension and `F` equals the feature count the engine is configured for;
//! - an output named `score`, `float32`, shape `[N]` or `[N, 1]` (one score per row);
//! - optionally an output named `class`, `int64` or `int32`, shape `[N]`, with values in
//!   `0..=2` (loss / flat / win);
//! - every other output is ignored (and not computed);
//! - the file is self-contained: tensors stored as external data are refused, so the
//!   model's SHA-256 covers every weight.
//!
//! Every score a host records carries [`Ranker::version`], `<name>@<first 12 hex digits of
//! the SHA-256 of the model bytes>`, so a score can always be traced to the exact model.
//!
//! ```no_run
//! use std::path::Path;
//! use tradeloop_ranker::Ranker;
//!
//! let ranker = Ranker::load(Path::new("models/ranker.onnx"), 32)?;
//! let scores = ranker.rank(&[0.0; 2 * 32])?; // two rows
//! assert_eq!(scores.score.len(), 2);
//! println!("{}: {:?}", ranker.version(), scores.score);
//! # Ok::<(), tradeloop_ranker::RankerError>(())
//! ```

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

/// The output every ranker model must have.
const SCORE: &str = "score";
/// The optional class output.
const CLASS: &str = "class";
/// Highest class index a `class` output may hold (loss / flat / win).
const MAX_CLASS: i64 = 2;

/// Why a model could not be loaded or run.
#[derive(Debug)]
pub enum RankerError {
    /// The model file could not be read.
    Io(PathBuf, std::io::Error),
    /// The bytes are not a model tract can load and optimise (not ONNX, truncated, an
    /// unsupported operator, inconsistent shapes, external data).
    Model(String),
    /// The model is valid ONNX but breaks the ranker contract (inputs, outputs, types,
    /// shapes, feature count).
    Mismatch(String),
    /// The rows passed to [`Ranker::rank`] are not valid (empty, not a whole number of
    /// rows, not finite).
    Input(String),
    /// Inference failed or returned something the contract does not allow.
    Run(String),
}

impl fmt::Display for RankerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(path, e) => write!(f, "cannot read model file {}: {e}", path.display()),
            Self::Model(m) => write!(f, "invalid ranker model: {m}"),
            Self::Mismatch(m) => write!(f, "ranker model does not fit: {m}"),
            Self::Input(m) => write!(f, "invalid ranker input: {m}"),
            Self::Run(m) => write!(f, "ranker inference failed: {m}"),
        }
    }
}

impl std::error::Error for RankerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(_, e) => Some(e),
            _ => None,
        }
    }
}

/// A tract error with its whole context chain on one line.
fn chain(e: &TractError) -> String {
    format!("{e:#}")
}

/// Runs `f`, turning a panic inside tract (some malformed graphs reach an index or an
/// `unwrap` there) into the error `wrap` makes of its message.
fn guarded<T>(
    wrap: fn(String) -> RankerError,
    f: impl FnOnce() -> Result<T, RankerError>,
) -> Result<T, RankerError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let msg = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".into());
        Err(wrap(format!("tract panicked: {msg}")))
    })
}

/// The scores of one [`Ranker::rank`] call: one entry per row, in row order.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    /// The model's `score` output.
    pub score: Vec<f32>,
    /// The model's `class` output (0 = loss, 1 = flat, 2 = win), if it has one.
    pub class: Option<Vec<u8>>,
}

/// The optimised plan of a model.
type Plan = Arc<TypedRunnableModel>;

/// An ONNX ranker model, checked and optimised once at load; [`Ranker::rank`] runs it.
///
/// `Send + Sync`: one ranker can serve every thread (each call has its own state).
pub struct Ranker {
    /// For any number of rows.
    plan: Plan,
    /// The same model optimised for exactly one row, the common case of scoring one trade:
    /// about a third faster than the general plan at one row.
    single: Plan,
    features: usize,
    has_class: bool,
    name: String,
    sha256: String,
}

// A ranker is shared by every thread of a host.
const _: () = {
    const fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<Ranker>();
};

impl fmt::Debug for Ranker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ranker")
            .field("version", &self.version())
            .field("features", &self.features)
            .field("has_class", &self.has_class)
            .finish_non_exhaustive()
    }
}

impl Ranker {
    /// Loads the ONNX model at `path` for rows of `features` values. Its name is the file
    /// stem (`models/ranker.onnx` -> `ranker`).
    pub fn load(path: &Path, features: usize) -> Result<Ranker, RankerError> {
        let bytes = std::fs::read(path).map_err(|e| RankerError::Io(path.to_path_buf(), e))?;
        let name = path
            .file_stem()
            .map_or_else(|| "model".into(), |s| s.to_string_lossy());
        Self::from_bytes(&bytes, &name, features)
    }

    /// Loads an ONNX model from its bytes, for rows of `features` values; `name` is what
    /// [`Ranker::version`] reports.
    pub fn from_bytes(bytes: &[u8], name: &str, features: usize) -> Result<Ranker, RankerError> {
        guarded(RankerError::Model, || {
            Self::build(bytes, name, features, &[])
        })
    }

    /// [`Ranker::from_bytes`], also computing the outputs named in `extra` (after `score`
    /// and `class`, in that order), for tests that compare them.
    fn build(
        bytes: &[u8],
        name: &str,
        features: usize,
        extra: &[&str],
    ) -> Result<Ranker, RankerError> {
        if features == 0 {
            return Err(RankerError::Mismatch(
                "the engine is configured for 0 features per row".into(),
            ));
        }
        let onnx = tract_onnx::onnx();
        let proto = onnx
            .proto_model_for_read(&mut &*bytes)
            .map_err(|e| RankerError::Model(format!("not an ONNX model: {}", chain(&e))))?;
        let model = onnx
            .model_for_proto_model(&proto)
            .map_err(|e| RankerError::Model(chain(&e)))?;
        let (model, batch, has_class) = Self::fit_contract(model, features, extra)?;
        let optimise = |m: TypedModel| {
            m.into_optimized()
                .and_then(|m| m.into_runnable())
                .map_err(|e| RankerError::Model(format!("cannot optimise: {}", chain(&e))))
        };
        let one_row = model
            .set_symbols(&[(batch, TDim::Val(1))].into_iter().collect())
            .map_err(|e| RankerError::Model(format!("cannot fix one row: {}", chain(&e))))?;
        let single = optimise(one_row)?;
        let plan = optimise(model)?;
        let sha256 = Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Ranker {
            plan,
            single,
            features,
            has_class,
            name: name.to_string(),
            sha256,
        })
    }

    /// Checks the input, fixes its fact to `[N, features]` float32, keeps only the outputs
    /// the ranker uses (`score`, then `class` if present, then `extra`), types the model
    /// and checks those outputs. Returns the typed model, its batch symbol and whether it
    /// has `class`.
    fn fit_contract(
        mut model: InferenceModel,
        features: usize,
        extra: &[&str],
    ) -> Result<(TypedModel, Symbol, bool), RankerError> {
        let model_err = |e: TractError| RankerError::Model(chain(&e));
        let inputs = model.input_outlets().map_err(model_err)?.to_vec();
        let [input] = inputs[..] else {
            let names: Vec<_> = inputs.iter().map(|&o| label(&model, o)).collect();
            return Err(RankerError::Mismatch(format!(
                "the model has {} inputs ({}), a ranker takes exactly one: the feature rows",
                names.len(),
                names.join(", ")
            )));
        };
        let input_name = label(&model, input);
        let fact = model.input_fact(0).map_err(model_err)?;
        if let Some(dt) = fact.datum_type.concretize()
            && dt != f32::datum_type()
        {
            return Err(RankerError::Mismatch(format!(
                "model input {input_name} is {}, expected float32",
                dt_name(dt)
            )));
        }
        let dims: Vec<Option<TDim>> = fact.shape.dims().map(|d| d.concretize()).collect();
        if !fact.shape.is_open() && dims.len() != 2 {
            return Err(RankerError::Mismatch(format!(
                "model input {input_name} has rank {} ({}), expected [N, {features}] (N rows of \
                 {features} features)",
                dims.len(),
                shape_text(&dims)
            )));
        }
        // The batch dimension: the model's own symbol if it names one (other declared
        // shapes may refer to it), else `N`.
        let batch = match dims.first().cloned().flatten() {
            Some(TDim::Sym(s)) => s,
            Some(TDim::Val(v)) => {
                return Err(RankerError::Mismatch(format!(
                    "model input {input_name} has a fixed batch size of {v}, a ranker model \
                     needs a symbolic batch dimension ([N, {features}])"
                )));
            }
            Some(other) => {
                return Err(RankerError::Mismatch(format!(
                    "model input {input_name} has batch dimension `{other}`, expected a plain \
                     symbol such as N"
                )));
            }
            None => model.sym("N"),
        };
        match dims.get(1).cloned().flatten() {
            Some(TDim::Val(v)) if usize::try_from(v).ok() != Some(features) => {
                return Err(RankerError::Mismatch(format!(
                    "model input {input_name} has {v} features per row, the engine is \
                     configured for {features}"
                )));
            }
            _ => {}
        }
        let n = TDim::Sym(batch.clone());
        model
            .set_input_fact(0, f32::fact([n.clone(), features.to_dim()]).into())
            .map_err(model_err)?;

        let outputs = model.output_outlets().map_err(model_err)?.to_vec();
        let find = |wanted: &str| {
            outputs
                .iter()
                .copied()
                .find(|&o| model.outlet_label(o) == Some(wanted))
        };
        let Some(score) = find(SCORE) else {
            let names: Vec<_> = outputs.iter().map(|&o| label(&model, o)).collect();
            return Err(RankerError::Mismatch(format!(
                "the model has no output named `{SCORE}` (its outputs: {})",
                names.join(", ")
            )));
        };
        let class = find(CLASS);
        let mut selected = vec![score];
        selected.extend(class);
        for name in extra {
            selected.push(find(name).ok_or_else(|| {
                RankerError::Mismatch(format!("the model has no output named `{name}`"))
            })?);
        }
        model.select_output_outlets(&selected).map_err(model_err)?;

        let typed = model.into_typed().map_err(|e| {
            RankerError::Model(format!(
                "cannot type the model for input [{batch}, {features}] float32: {}",
                chain(&e)
            ))
        })?;
        let score_fact = typed.output_fact(0).map_err(model_err)?;
        let score_dims = score_fact.shape.dims();
        let one = TDim::Val(1);
        if score_fact.datum_type != f32::datum_type()
            || !(score_dims == [n.clone()] || score_dims == [n.clone(), one])
        {
            return Err(RankerError::Mismatch(format!(
                "output `{SCORE}` is {} {}, expected float32 [{batch}] or [{batch}, 1] (one \
                 score per row)",
                dt_name(score_fact.datum_type),
                typed_shape_text(score_dims)
            )));
        }
        if class.is_some() {
            let class_fact = typed.output_fact(1).map_err(model_err)?;
            let dt = class_fact.datum_type;
            if !(dt == i64::datum_type() || dt == i32::datum_type())
                || class_fact.shape.dims() != [n.clone()]
            {
                return Err(RankerError::Mismatch(format!(
                    "output `{CLASS}` is {} {}, expected int64 or int32 [{batch}] (one class \
                     per row)",
                    dt_name(dt),
                    typed_shape_text(class_fact.shape.dims())
                )));
            }
        }
        Ok((typed, batch, class.is_some()))
    }

    /// The number of features per row.
    pub fn features(&self) -> usize {
        self.features
    }

    /// The model's name: the file stem for [`Ranker::load`], e.g. `ranker`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The SHA-256 of the model bytes, in lowercase hex.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// `<name>@<first 12 hex digits of the SHA-256>`, e.g. `ranker@3f2a9c01b7de`: recorded
    /// with every score.
    pub fn version(&self) -> String {
        format!("{}@{}", self.name, &self.sha256[..12])
    }

    /// Scores `rows`, row-major, `n * features` values for `n >= 1` rows; every value must be
    /// finite.
    pub fn rank(&self, rows: &[f32]) -> Result<Scores, RankerError> {
        let outputs = self.run(rows)?;
        let n = rows.len() / self.features;
        let score = plain_slice::<f32>(&outputs[0], SCORE)?;
        if score.len() != n {
            return Err(RankerError::Run(format!(
                "output `{SCORE}` has {} values for {n} rows",
                score.len()
            )));
        }
        let class = if self.has_class {
            Some(classes(&outputs[1], n)?)
        } else {
            None
        };
        Ok(Scores {
            score: score.to_vec(),
            class,
        })
    }

    /// Validates `rows` and runs the plan; the outputs are `score`, then `class` if the model
    /// has it, then any extra outputs the ranker was built with.
    fn run(&self, rows: &[f32]) -> Result<TVec<TValue>, RankerError> {
        let f = self.features;
        if rows.is_empty() {
            return Err(RankerError::Input("no rows to rank".into()));
        }
        if !rows.len().is_multiple_of(f) {
            return Err(RankerError::Input(format!(
                "{} values is not a whole number of rows of {f} features",
                rows.len()
            )));
        }
        if let Some(i) = rows.iter().position(|v| !v.is_finite()) {
            return Err(RankerError::Input(format!(
                "row {} feature {} is {}, every feature must be finite",
                i / f,
                i % f,
                rows[i]
            )));
        }
        let n = rows.len() / f;
        let input = Tensor::from_shape(&[n, f], rows).map_err(|e| RankerError::Input(chain(&e)))?;
        let plan = if n == 1 { &self.single } else { &self.plan };
        guarded(RankerError::Run, || {
            plan.run(tvec!(input.into()))
                .map_err(|e| RankerError::Run(chain(&e)))
        })
    }
}

/// The values of an output tensor in plain memory.
fn plain_slice<'a, T: Datum>(t: &'a TValue, what: &str) -> Result<&'a [T], RankerError> {
    t.try_as_plain_ram()
        .and_then(|v| v.as_slice::<T>())
        .map_err(|e| RankerError::Run(format!("output `{what}`: {}", chain(&e))))
}

/// The `class` output as `u8`, checking there is one per row and each is in `0..=2`.
fn classes(t: &TValue, n: usize) -> Result<Vec<u8>, RankerError> {
    let values: Vec<i64> = if t.datum_type() == i64::datum_type() {
        plain_slice::<i64>(t, CLASS)?.to_vec()
    } else {
        plain_slice::<i32>(t, CLASS)?
            .iter()
            .map(|&c| i64::from(c))
            .collect()
    };
    if values.len() != n {
        return Err(RankerError::Run(format!(
            "output `{CLASS}` has {} values for {n} rows",
            values.len()
        )));
    }
    values
        .iter()
        .enumerate()
        .map(|(row, &c)| {
            u8::try_from(c)
                .ok()
                .filter(|&c| i64::from(c) <= MAX_CLASS)
                .ok_or_else(|| {
                    RankerError::Run(format!(
                        "output `{CLASS}` is {c} for row {row}, classes are 0..={MAX_CLASS}"
                    ))
                })
        })
        .collect()
}

/// An outlet's name in messages: its label in backquotes, or the node name.
fn label(model: &InferenceModel, outlet: OutletId) -> String {
    let name = model
        .outlet_label(outlet)
        .unwrap_or(&model.node(outlet.node).name);
    format!("`{name}`")
}

/// ONNX's name for a tensor element type.
fn dt_name(dt: DatumType) -> String {
    match dt {
        DatumType::F32 => "float32".into(),
        DatumType::F64 => "float64".into(),
        DatumType::F16 => "float16".into(),
        DatumType::I64 => "int64".into(),
        DatumType::I32 => "int32".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// `[N, 64]`, with `?` for unknown dimensions.
fn shape_text(dims: &[Option<TDim>]) -> String {
    let dims: Vec<String> = dims
        .iter()
        .map(|d| d.as_ref().map_or_else(|| "?".into(), ToString::to_string))
        .collect();
    format!("[{}]", dims.join(", "))
}

/// `[N, 1]`.
fn typed_shape_text(dims: &[TDim]) -> String {
    let dims: Vec<String> = dims.iter().map(ToString::to_string).collect();
    format!("[{}]", dims.join(", "))
}

#[cfg(test)]
mod tests;
