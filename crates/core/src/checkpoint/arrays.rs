//! Numeric arrays persisted as one byte string of little-endian values.
//!
//! postcard would write a `Vec<f32>` element by element; replay buffers hold hundreds of
//! thousands of floats, so they are written as a single `bytes` field instead (a copy on
//! little-endian targets) and decoded with one pass.

use alloc::borrow::Cow;
use alloc::vec::Vec;
use core::fmt;
use core::marker::PhantomData;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

mod sealed {
    pub trait Sealed {}
}

/// Plain numbers with a fixed little-endian encoding. Sealed: implemented only for
/// `u8`, `u64`, `i64`, `f32` and `f64`.
pub trait Pod: sealed::Sealed + Copy + PartialEq + fmt::Debug + Serialize + 'static {
    /// Encoded size in bytes.
    const SIZE: usize;
    /// Decodes from exactly `SIZE` bytes.
    fn from_le(b: &[u8]) -> Self;
    /// Appends the encoding.
    fn put_le(self, out: &mut Vec<u8>);
}

macro_rules! pod {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}
        impl Pod for $t {
            const SIZE: usize = core::mem::size_of::<$t>();
            #[inline(always)]
            fn from_le(b: &[u8]) -> Self {
                let mut a = [0u8; core::mem::size_of::<$t>()];
                a.copy_from_slice(b);
                <$t>::from_le_bytes(a)
            }
            #[inline(always)]
            fn put_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}
pod!(u8, u32, u64, i64, f32, f64);

/// A slice of `T`, serialised as little-endian bytes. Borrowed when writing, owned when read.
#[derive(Debug, Clone, PartialEq)]
pub struct Le<'a, T: Pod>(pub Cow<'a, [T]>);

impl<'a, T: Pod> Le<'a, T> {
    /// Borrows `v`.
    pub fn borrowed(v: &'a [T]) -> Self {
        Le(Cow::Borrowed(v))
    }

    /// The values, owned.
    pub fn into_vec(self) -> Vec<T> {
        self.0.into_owned()
    }
}

impl<T: Pod> Serialize for Le<'_, T> {
    /// postcard (and every binary format): one byte string. Human-readable formats (the
    /// JSON of `tradeloop inspect`): a list of numbers.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            return s.collect_seq(self.0.iter());
        }
        #[cfg(target_endian = "little")]
        {
            s.serialize_bytes(as_bytes(&self.0))
        }
        #[cfg(not(target_endian = "little"))]
        {
            let mut out = Vec::with_capacity(self.0.len() * T::SIZE);
            for &x in self.0.iter() {
                x.put_le(&mut out);
            }
            s.serialize_bytes(&out)
        }
    }
}

/// The in-memory bytes of a slice of plain numbers; on little-endian targets these are
/// exactly their little-endian encodings.
#[cfg(target_endian = "little")]
#[allow(unsafe_code)]
fn as_bytes<T: Pod>(v: &[T]) -> &[u8] {
    // SAFETY: `T` is one of u8/u64/i64/f32/f64 (`Pod` is sealed to exactly these):
    // no padding, every byte initialised, and u8 has alignment 1. The length in bytes is
    // `len * size_of::<T>()`, which cannot overflow for an existing slice.
    unsafe { core::slice::from_raw_parts(v.as_ptr().cast::<u8>(), core::mem::size_of_val(v)) }
}

impl<'de, 'a, T: Pod> Deserialize<'de> for Le<'a, T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Pod> Visitor<'de> for V<T> {
            type Value = Vec<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a byte string of {}-byte little-endian values", T::SIZE)
            }
            fn visit_bytes<E: de::Error>(self, b: &[u8]) -> Result<Vec<T>, E> {
                if !b.len().is_multiple_of(T::SIZE) {
                    return Err(E::invalid_length(b.len(), &self));
                }
                Ok(b.chunks_exact(T::SIZE).map(T::from_le).collect())
            }
        }
        d.deserialize_bytes(V::<T>(PhantomData))
            .map(|v| Le(Cow::Owned(v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn round_trips_and_is_little_endian() {
        let v = vec![1.5f32, -0.0, f32::MAX, 3.25];
        let bytes = postcard::to_allocvec(&Le::borrowed(&v)).unwrap();
        assert_eq!(bytes[0], 16, "varint length prefix");
        assert_eq!(&bytes[1..5], &1.5f32.to_le_bytes());
        let back: Le<'_, f32> = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(
            back.into_vec()
                .iter()
                .map(|x| x.to_bits())
                .collect::<Vec<_>>(),
            v.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
        let w = vec![u64::MAX, 7];
        let back: Le<'_, u64> =
            postcard::from_bytes(&postcard::to_allocvec(&Le::borrowed(&w)).unwrap()).unwrap();
        assert_eq!(back.into_vec(), w);
        // Human-readable formats get numbers, not bytes.
        assert_eq!(
            serde_json::to_string(&Le::borrowed(&[1.5f32, -2.0])).unwrap(),
            "[1.5,-2.0]"
        );
        // A length that is not a multiple of the element size is an error, not a panic.
        assert!(postcard::from_bytes::<Le<'_, f64>>(&[3, 1, 2, 3]).is_err());
    }
}
