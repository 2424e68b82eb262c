//! The canonical byte encoding of envelopes and payloads: JSON
//! Canonicalization Scheme, RFC 8785 (via `serde_jcs`).
//!
//! Why JCS and not deterministic CBOR: payloads are read by people and by
//! the parties' own tools, often with nothing more than a JSON parser; JCS
//! keeps them readable while fixing key order, whitespace, string escapes
//! and number formatting, so a hash over the bytes is reproducible in any
//! language with a JCS library. Readers reject any bytes that are not
//! already canonical, so each value has exactly one encoding.

use serde::Serialize;
use serde::de::DeserializeOwned;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalError(pub String);

impl std::fmt::Display for CanonicalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CanonicalError {}

pub fn to_canonical<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    // Serialising our own types cannot fail: they hold no maps with
    // non-string keys and no non-finite floats.
    serde_jcs::to_vec(value).expect("truce types serialise to JSON")
}

/// Parses `bytes` and checks that they are the canonical encoding of what
/// they parse to.
pub fn from_canonical<T: Serialize + DeserializeOwned>(bytes: &[u8]) -> Result<T, CanonicalError> {
    let value: T = serde_json::from_slice(bytes)
        .map_err(|e| CanonicalError(format!("not valid JSON for its kind: {e}")))?;
    ensure_canonical(&value, bytes)?;
    Ok(value)
}

/// Whether `bytes` are the canonical encoding of `value`, which they parsed to.
pub fn ensure_canonical<T: Serialize + ?Sized>(
    value: &T,
    bytes: &[u8],
) -> Result<(), CanonicalError> {
    if to_canonical(value) != bytes {
        return Err(CanonicalError(
            "not in canonical form (RFC 8785)".to_owned(),
        ));
    }
    Ok(())
}

/// The largest integer JCS writes exactly (it writes numbers as doubles).
pub const MAX_EXACT_INTEGER: i64 = 1 << 53;

/// Refuses a count or figure JCS would not keep: from 2^53 on, a double
/// no longer tells neighbouring integers apart (2^53 + 1 is written as
/// 2^53), so a larger figure would be rounded silently.
pub fn check_exact_count(field: &str, value: u64) -> Result<(), crate::Rejection> {
    if value >= MAX_EXACT_INTEGER as u64 {
        return Err(crate::rejection!(
            "count-not-exact",
            "{field} is 2^53 or more, which JSON does not keep exactly",
            field = field
        ));
    }
    Ok(())
}

/// RFC 8785 for types whose serde form is already canonical: fields
/// declared in sorted order, ASCII keys, integers within ±2^53, no floats
/// and no maps. serde_json then writes exactly what JCS writes (same
/// escapes, lower-case `\u00xx`), without `serde_jcs`'s buffering of every
/// member; envelopes take this path because verification re-encodes every
/// one. A property test holds it to `serde_jcs`.
pub fn to_canonical_sorted<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("truce types serialise to JSON")
}

/// [`from_canonical`] for the types [`to_canonical_sorted`] serves.
pub fn from_canonical_sorted<T: Serialize + DeserializeOwned>(
    bytes: &[u8],
) -> Result<T, CanonicalError> {
    let value: T = serde_json::from_slice(bytes)
        .map_err(|e| CanonicalError(format!("not valid JSON for its kind: {e}")))?;
    if to_canonical_sorted(&value) != bytes {
        return Err(CanonicalError(
            "not in canonical form (RFC 8785)".to_owned(),
        ));
    }
    Ok(value)
}
