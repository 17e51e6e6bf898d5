//! A JS function as the core's [`Ranker`].

use js_sys::{Array, Float32Array, Function, Reflect, Uint8Array};
use tradeloop_core::Error;
use tradeloop_core::ranking::{RankOutput, Ranker};
use wasm_bindgen::{JsCast, JsValue};

/// Model name recorded in the trades a JS scorer picked.
pub(crate) const MODEL: &str = "js-scorer";

/// Calls `scorer(rows: Float32Array, dim: number)`; it answers a `Float32Array` of scores
/// or `{ score: Float32Array, class?: Uint8Array }` (plain arrays of numbers are accepted
/// too). A throw or any other answer is an [`Error::Ranker`].
pub(crate) struct JsRanker {
    scorer: Function,
}

impl JsRanker {
    pub(crate) fn new(scorer: Function) -> Self {
        Self { scorer }
    }
}

fn fail(why: String) -> Error {
    Error::Ranker(why)
}

/// Numbers from a `Float32Array`, a `Float64Array`/other typed array or a plain array.
fn numbers(v: &JsValue, what: &str) -> Result<Vec<f64>, Error> {
    if let Some(a) = v.dyn_ref::<Float32Array>() {
        return Ok(a.to_vec().into_iter().map(f64::from).collect());
    }
    if let Some(a) = v.dyn_ref::<Uint8Array>() {
        return Ok(a.to_vec().into_iter().map(f64::from).collect());
    }
    if Array::is_array(v) {
        let a: &Array = v.unchecked_ref();
        return a
            .iter()
            .map(|x| {
                x.as_f64().ok_or_else(|| {
                    fail(format!("scorer's {what} has a value that is not a number"))
                })
            })
            .collect();
    }
    Err(fail(format!(
        "scorer must return a Float32Array or {{ score: Float32Array, class?: Uint8Array }} ({what} is neither)"
    )))
}

/// The message of a thrown value.
fn thrown(e: &JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        return String::from(err.message());
    }
    e.as_string()
        .unwrap_or_else(|| String::from("a non-Error value"))
}

impl Ranker for JsRanker {
    fn rank(&mut self, rows: &[f32], dim: usize) -> Result<RankOutput, Error> {
        let input = Float32Array::from(rows);
        let out = self
            .scorer
            .call2(&JsValue::UNDEFINED, &input, &JsValue::from(dim as u32))
            .map_err(|e| fail(format!("scorer threw: {}", thrown(&e))))?;
        let (score, class) = if out.is_instance_of::<Float32Array>() || Array::is_array(&out) {
            (out, JsValue::UNDEFINED)
        } else if out.is_object() {
            let get = |k: &str| Reflect::get(&out, &JsValue::from_str(k)).unwrap_or_default();
            (get("score"), get("class"))
        } else {
            return Err(fail(String::from(
                "scorer must return a Float32Array or { score: Float32Array, class?: Uint8Array }",
            )));
        };
        let score = numbers(&score, "score")?;
        let class = if class.is_undefined() || class.is_null() {
            None
        } else {
            Some(numbers(&class, "class")?)
        };
        RankOutput::from_numbers(MODEL, &score, class.as_deref())
    }
}
