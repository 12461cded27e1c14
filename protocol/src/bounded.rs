//! serde helpers that reject over-limit lengths before allocating (HS-MSG-2).
//!
//! postcard announces a sequence's length before its elements, so each helper
//! checks the announced length against its bound first and preallocates at
//! most the bound.

use serde::{Deserializer, Serializer, de};
use std::fmt;
use std::marker::PhantomData;

/// Deserializes a `Vec<T>` of at most `N` elements.
pub(crate) fn vec<'de, D, T, const N: usize>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: de::Deserialize<'de>,
{
    struct V<T, const N: usize>(PhantomData<T>);
    impl<'de, T: de::Deserialize<'de>, const N: usize> de::Visitor<'de> for V<T, N> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a sequence of at most {N} elements")
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let hint = seq.size_hint().unwrap_or(0);
            if hint > N {
                return Err(de::Error::invalid_length(hint, &self));
            }
            let mut out = Vec::with_capacity(hint);
            while let Some(item) = seq.next_element()? {
                if out.len() == N {
                    return Err(de::Error::invalid_length(N + 1, &self));
                }
                out.push(item);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(V::<T, N>(PhantomData))
}

/// Serializes a byte vector as one length-prefixed byte string.
pub(crate) fn ser_bytes<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bytes(bytes)
}

/// Deserializes a byte string of at most `N` bytes.
pub(crate) fn bytes<'de, D: Deserializer<'de>, const N: usize>(d: D) -> Result<Vec<u8>, D::Error> {
    struct V<const N: usize>;
    impl<const N: usize> de::Visitor<'_> for V<N> {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a byte string of at most {N} bytes")
        }
        fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            if v.len() > N {
                return Err(E::invalid_length(v.len(), &self));
            }
            Ok(v.to_vec())
        }
    }
    d.deserialize_bytes(V::<N>)
}

/// Deserializes a UTF-8 string of at most `N` bytes.
pub(crate) fn string<'de, D: Deserializer<'de>, const N: usize>(d: D) -> Result<String, D::Error> {
    struct V<const N: usize>;
    impl<const N: usize> de::Visitor<'_> for V<N> {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a string of at most {N} bytes")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            if v.len() > N {
                return Err(E::invalid_length(v.len(), &self));
            }
            Ok(v.to_owned())
        }
    }
    d.deserialize_str(V::<N>)
}
