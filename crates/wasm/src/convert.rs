//! Values across the boundary: serde shapes in and out, errors as JS `Error`s, time.

use js_sys::{Array, Object, Reflect};
use serde::de::DeserializeOwned;
use serde::ser::{self, Serialize, Serializer};
use tradeloop_core::Error;
use wasm_bindgen::{JsCast, JsValue};

/// How replies become JS values: `Option::None` as `null`, maps as plain objects, byte
/// strings as `Uint8Array`, 64-bit integers as numbers when they are safe integers and as
/// `BigInt` otherwise (see [`Safe`]).
const SERIALIZER: serde_wasm_bindgen::Serializer = serde_wasm_bindgen::Serializer::new()
    .serialize_missing_as_null(true)
    .serialize_maps_as_objects(true);

/// Largest integer a JS number holds exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE: u64 = (1 << 53) - 1;

/// `value` in its serde shape as a JS value.
pub(crate) fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    Safe(value)
        .serialize(&SERIALIZER)
        .map_err(|e| input_error(format!("cannot convert a reply to JS: {e}")))
}

/// A JS value in the serde shape of `T`; `what` names it in the error.
pub(crate) fn from_js<T: DeserializeOwned>(value: JsValue, what: &str) -> Result<T, JsValue> {
    serde_wasm_bindgen::from_value(value).map_err(|e| input_error(format!("invalid {what}: {e}")))
}

/// `undefined` and `null` are "not given".
pub(crate) fn given(v: Option<JsValue>) -> Option<JsValue> {
    v.filter(|v| !v.is_undefined() && !v.is_null())
}

/// A configuration object: `defaults` (serialized) with `partial`'s fields on top, merged
/// recursively into nested sections, then deserialized. An unknown field is an error, so
/// a typo is not silently ignored.
pub(crate) fn merged<T: Serialize + DeserializeOwned>(
    defaults: &T,
    partial: Option<JsValue>,
    what: &str,
) -> Result<T, JsValue> {
    let Some(partial) = given(partial) else {
        return from_js(to_js(defaults)?, what);
    };
    let base = to_js(defaults)?;
    let value = merge(base, partial, what)?;
    from_js(value, what)
}

/// A plain object (not an array, typed array, null or function).
fn plain_object(v: &JsValue) -> Option<&Object> {
    if !v.is_object() || Array::is_array(v) || v.is_function() {
        return None;
    }
    let o: &Object = v.unchecked_ref();
    let proto = Object::get_prototype_of(v);
    (proto.is_null() || proto == Object::get_prototype_of(&Object::new())).then_some(o)
}

/// A serialized externally tagged enum (`{ Variant: ... }`) rather than a struct.
fn is_enum(o: &Object) -> bool {
    let keys = Object::keys(o);
    keys.length() == 1
        && keys
            .get(0)
            .as_string()
            .and_then(|k| k.chars().next())
            .is_some_and(|c| c.is_ascii_uppercase())
}

fn merge(base: JsValue, over: JsValue, path: &str) -> Result<JsValue, JsValue> {
    let (Some(b), Some(o)) = (plain_object(&base), plain_object(&over)) else {
        return Ok(over);
    };
    if is_enum(b) {
        return Ok(over);
    }
    let out = Object::assign(&Object::new(), b);
    let entries = Object::entries(o);
    for e in entries.iter() {
        let e: Array = e.unchecked_into();
        let key = e.get(0);
        let name = key.as_string().unwrap_or_default();
        let Ok(old) = Reflect::get(&out, &key) else {
            continue;
        };
        if old.is_undefined() {
            return Err(input_error(format!("unknown field `{name}` in {path}")));
        }
        let new = merge(old, e.get(1), &format!("{path}.{name}"))?;
        Reflect::set(&out, &key, &new).map_err(|_| input_error(format!("cannot set {name}")))?;
    }
    Ok(out.into())
}

/// A JS `Error` named `TradeloopError` with `message` and a `kind` property.
pub(crate) fn js_error(message: &str, kind: &str) -> js_sys::Error {
    let e = js_sys::Error::new(message);
    e.set_name("TradeloopError");
    let _ = Reflect::set(&e, &JsValue::from_str("kind"), &JsValue::from_str(kind));
    e
}

/// A core error as a thrown value: `message` is its Display text, `kind` its variant
/// name; a checkpoint error also carries `checkpoint`, the `CheckpointError` variant.
pub(crate) fn core_error(err: &Error) -> JsValue {
    let e = js_error(&err.to_string(), err.kind().name());
    if let Error::Checkpoint(c) = err {
        let _ = Reflect::set(
            &e,
            &JsValue::from_str("checkpoint"),
            &JsValue::from_str(c.name()),
        );
    }
    e.into()
}

/// A checkpoint error as a thrown value (see [`core_error`]).
#[cfg(feature = "full")]
pub(crate) fn checkpoint_error(err: tradeloop_core::CheckpointError) -> JsValue {
    core_error(&Error::Checkpoint(err))
}

/// A value from JS that does not have the expected shape: kind `InvalidInput`.
pub(crate) fn input_error(message: String) -> JsValue {
    js_error(&message, "InvalidInput").into()
}

/// Maps a core result's error to a thrown value.
pub(crate) trait OrThrow<T> {
    /// `Err(core_error(..))` on failure.
    fn or_throw(self) -> Result<T, JsValue>;
}

impl<T> OrThrow<T> for Result<T, Error> {
    fn or_throw(self) -> Result<T, JsValue> {
        self.map_err(|e| core_error(&e))
    }
}

/// `now` in whole milliseconds since the epoch; `Date.now()` when not given.
pub(crate) fn now(now: Option<f64>) -> Result<i64, JsValue> {
    let ms = match now {
        Some(ms) => ms,
        None => js_sys::Date::now(),
    };
    if !ms.is_finite() || ms.abs() > MAX_SAFE as f64 {
        return Err(core_error(&Error::NonFinite { field: "now" }));
    }
    Ok(ms.floor() as i64)
}

/// A non-negative safe integer given as a JS number (trade ids).
pub(crate) fn id(v: f64, what: &str) -> Result<u64, JsValue> {
    if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= MAX_SAFE as f64 {
        Ok(v as u64)
    } else {
        Err(input_error(format!(
            "{what} must be a non-negative integer (got {v})"
        )))
    }
}

/// Serializes the wrapped value with 64-bit integers as JS numbers when they are safe
/// integers and as `BigInt` otherwise (serde-wasm-bindgen alone either fails on large
/// values or makes every 64-bit value a `BigInt`).
struct Safe<'a, T: ?Sized>(&'a T);

impl<T: Serialize + ?Sized> Serialize for Safe<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(W(s))
    }
}

/// The serializer adapter behind [`Safe`]: forwards everything, wrapping nested values.
struct W<S>(S);

impl<S: Serializer> Serializer for W<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = W<S::SerializeSeq>;
    type SerializeTuple = W<S::SerializeTuple>;
    type SerializeTupleStruct = W<S::SerializeTupleStruct>;
    type SerializeTupleVariant = W<S::SerializeTupleVariant>;
    type SerializeMap = W<S::SerializeMap>;
    type SerializeStruct = W<S::SerializeStruct>;
    type SerializeStructVariant = W<S::SerializeStructVariant>;

    fn serialize_bool(self, v: bool) -> Result<S::Ok, S::Error> {
        self.0.serialize_bool(v)
    }
    fn serialize_i8(self, v: i8) -> Result<S::Ok, S::Error> {
        self.0.serialize_i8(v)
    }
    fn serialize_i16(self, v: i16) -> Result<S::Ok, S::Error> {
        self.0.serialize_i16(v)
    }
    fn serialize_i32(self, v: i32) -> Result<S::Ok, S::Error> {
        self.0.serialize_i32(v)
    }
    fn serialize_i64(self, v: i64) -> Result<S::Ok, S::Error> {
        if v.unsigned_abs() <= MAX_SAFE {
            self.0.serialize_f64(v as f64)
        } else {
            self.0.serialize_i128(i128::from(v))
        }
    }
    fn serialize_i128(self, v: i128) -> Result<S::Ok, S::Error> {
        self.0.serialize_i128(v)
    }
    fn serialize_u8(self, v: u8) -> Result<S::Ok, S::Error> {
        self.0.serialize_u8(v)
    }
    fn serialize_u16(self, v: u16) -> Result<S::Ok, S::Error> {
        self.0.serialize_u16(v)
    }
    fn serialize_u32(self, v: u32) -> Result<S::Ok, S::Error> {
        self.0.serialize_u32(v)
    }
    fn serialize_u64(self, v: u64) -> Result<S::Ok, S::Error> {
        if v <= MAX_SAFE {
            self.0.serialize_f64(v as f64)
        } else {
            self.0.serialize_u128(u128::from(v))
        }
    }
    fn serialize_u128(self, v: u128) -> Result<S::Ok, S::Error> {
        self.0.serialize_u128(v)
    }
    fn serialize_f32(self, v: f32) -> Result<S::Ok, S::Error> {
        self.0.serialize_f32(v)
    }
    fn serialize_f64(self, v: f64) -> Result<S::Ok, S::Error> {
        self.0.serialize_f64(v)
    }
    fn serialize_char(self, v: char) -> Result<S::Ok, S::Error> {
        self.0.serialize_char(v)
    }
    fn serialize_str(self, v: &str) -> Result<S::Ok, S::Error> {
        self.0.serialize_str(v)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<S::Ok, S::Error> {
        self.0.serialize_bytes(v)
    }
    fn serialize_none(self) -> Result<S::Ok, S::Error> {
        self.0.serialize_none()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<S::Ok, S::Error> {
        self.0.serialize_some(&Safe(v))
    }
    fn serialize_unit(self) -> Result<S::Ok, S::Error> {
        self.0.serialize_unit()
    }
    fn serialize_unit_struct(self, name: &'static str) -> Result<S::Ok, S::Error> {
        self.0.serialize_unit_struct(name)
    }
    fn serialize_unit_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
    ) -> Result<S::Ok, S::Error> {
        self.0.serialize_unit_variant(name, index, variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        v: &T,
    ) -> Result<S::Ok, S::Error> {
        self.0.serialize_newtype_struct(name, &Safe(v))
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<S::Ok, S::Error> {
        self.0
            .serialize_newtype_variant(name, index, variant, &Safe(v))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, S::Error> {
        self.0.serialize_seq(len).map(W)
    }
    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, S::Error> {
        self.0.serialize_tuple(len).map(W)
    }
    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleStruct, S::Error> {
        self.0.serialize_tuple_struct(name, len).map(W)
    }
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, S::Error> {
        self.0
            .serialize_tuple_variant(name, index, variant, len)
            .map(W)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, S::Error> {
        self.0.serialize_map(len).map(W)
    }
    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, S::Error> {
        self.0.serialize_struct(name, len).map(W)
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        self.0
            .serialize_struct_variant(name, index, variant, len)
            .map(W)
    }
    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

impl<S: ser::SerializeSeq> ser::SerializeSeq for W<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), S::Error> {
        self.0.serialize_element(&Safe(v))
    }
    fn end(self) -> Result<S::Ok, S::Error> {
        self.0.end()
    }
}

impl<S: ser::SerializeTuple> ser::SerializeTuple for W<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), S::Error> {
        self.0.serialize_element(&Safe(v))
    }
    fn end(self) -> Result<S::Ok, S::Error> {
        self.0.end()
    }
}

impl<S: ser::SerializeTupleStruct> ser::SerializeTupleStruct for W<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), S::Error> {
        self.0.serialize_field(&Safe(v))
    }
    fn end(self) -> Result<S::Ok, S::Error> {
        self.0.end()
    }
}

impl<S: ser::SerializeTupleVariant> ser::SerializeTupleVariant for W<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), S::Error> {
        self.0.serialize_field(&Safe(v))
    }
    fn end(self) -> Result<S::Ok, S::Error> {
        self.0.end()
    }
}

impl<S: ser::SerializeMap> ser::SerializeMap for W<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), S::Error> {
        self.0.serialize_key(&Safe(k))
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), S::Error> {
        self.0.serialize_value(&Safe(v))
    }
    fn end(self) -> Result<S::Ok, S::Error> {
        self.0.end()
    }
}

impl<S: ser::SerializeStruct> ser::SerializeStruct for W<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), S::Error> {
        self.0.serialize_field(key, &Safe(v))
    }
    fn skip_field(&mut self, key: &'static str) -> Result<(), S::Error> {
        self.0.skip_field(key)
    }
    fn end(self) -> Result<S::Ok, S::Error> {
        self.0.end()
    }
}

impl<S: ser::SerializeStructVariant> ser::SerializeStructVariant for W<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), S::Error> {
        self.0.serialize_field(key, &Safe(v))
    }
    fn skip_field(&mut self, key: &'static str) -> Result<(), S::Error> {
        self.0.skip_field(key)
    }
    fn end(self) -> Result<S::Ok, S::Error> {
        self.0.end()
    }
}
