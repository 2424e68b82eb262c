//! The size bounds of what one submission may hold, derived from one
//! another so that whatever the core rules accept also fits in a payload,
//! a list file to import, and an HTTP request body.
//!
//! ```text
//!   MAX_PERSONS_PER_LIST × PERSON_RECORD_BYTES  = MAX_PAYLOAD_BYTES        (the core's bounds)
//!   MAX_PAYLOAD_BYTES                           = MAX_LIST_FILE_BYTES      (import of CSV/HXL/JSON)
//!   BODY_FRAMING × MAX_PAYLOAD_BYTES
//!     + MAX_LEAF_BYTES                          = MAX_REQUEST_BODY_BYTES   (truce serve)
//! ```
//!
//! Raising a bound later only accepts more, so logs written under the
//! older bounds still replay; lowering one would not.

/// Entry bundles length-prefix entries with a u16 (C2SP tlog-tiles): the
/// most a leaf (the envelope with its signed statement) may take.
pub const MAX_LEAF_BYTES: usize = tlog::tile::MAX_ENTRY_BYTES;

/// The most persons one list version may hold.
pub const MAX_PERSONS_PER_LIST: usize = 100_000;

/// What one person record may take on average in a list of
/// [`MAX_PERSONS_PER_LIST`], as canonical JSON: every field of GC III
/// art. 17 named, Cyrillic at two bytes a letter. The scenario's remains
/// list averages about 380 bytes a person.
pub const PERSON_RECORD_BYTES: usize = 512;

/// The largest payload: a list of [`MAX_PERSONS_PER_LIST`] persons of
/// [`PERSON_RECORD_BYTES`] each (51.2 MB), so the person bound, not the
/// byte bound, is what limits a list of ordinary records.
pub const MAX_PAYLOAD_BYTES: usize = MAX_PERSONS_PER_LIST * PERSON_RECORD_BYTES;

/// The largest person list file `truce exchange submit-list` reads. A CSV
/// row is shorter than the canonical JSON of its person (the header names
/// the columns once, JSON names every field of every person), so no list
/// that fits a payload is refused for the size of its CSV; a JSON file
/// counts its whitespace too.
pub const MAX_LIST_FILE_BYTES: usize = MAX_PAYLOAD_BYTES;

/// How much larger than the payload its encoding in a request may be.
/// `POST /api/submissions` carries the canonical payload as a JSON string:
/// escaping doubles at most each `"` and `\`, and an encoder that writes
/// every non-ASCII letter as `\uXXXX` (Python's `json` by default) turns a
/// two-byte Cyrillic letter into six bytes. `POST /api/events` carries the
/// event as a JSON value, which indentation enlarges by less than that.
pub const BODY_FRAMING: usize = 3;

/// The largest HTTP request body `truce serve` reads: the largest payload
/// in its framing, beside the signed statement (at most a leaf) and the
/// JSON around both.
pub const MAX_REQUEST_BODY_BYTES: usize = BODY_FRAMING * MAX_PAYLOAD_BYTES + MAX_LEAF_BYTES;
