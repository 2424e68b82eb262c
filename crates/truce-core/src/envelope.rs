//! The event envelope: what an actor signs, and what the log appends as a
//! Merkle leaf. The payload itself is not in the leaf, only its SHA-256, so
//! a payload can be withheld or erased while the tree still verifies.

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tlog::SignerKey;

use crate::canonical::{CanonicalError, from_canonical_sorted, to_canonical_sorted};
use crate::rejection;

/// The bounds on a leaf and a payload (see [`crate::limits`]).
pub use crate::limits::{MAX_LEAF_BYTES, MAX_PAYLOAD_BYTES};
/// A bound on a named-set visibility.
pub const MAX_VISIBILITY_ACTORS: usize = 64;

/// Domain separation for actor signatures over statements.
const STATEMENT_CONTEXT: &[u8] = b"truce-statement/v1\n";

/// An actor's identifier on the log: lower-case ASCII letters, digits and
/// `-`, at most 64 bytes (it appears in public envelopes, so it names an
/// organisation, never a person).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ActorId(String);

impl ActorId {
    pub fn new(id: &str) -> Result<Self, String> {
        let valid = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if valid {
            Ok(ActorId(id.to_owned()))
        } else {
            Err(format!(
                "actor id {id:?} must be 1-64 characters of a-z, 0-9 and '-'"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ActorId {
    type Error = String;
    fn try_from(id: String) -> Result<Self, String> {
        ActorId::new(&id)
    }
}

impl From<ActorId> for String {
    fn from(id: ActorId) -> String {
        id.0
    }
}

impl std::fmt::Display for ActorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(&self.0)
    }
}

/// Who may read an event's payload. The intermediary runs the log and holds
/// every payload, so it reads them all; the variants say who else may.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Everyone, observers and the public included.
    Public,
    /// The intermediary alone.
    Intermediary,
    /// One party (and the intermediary).
    Party(ActorId),
    /// A named set of actors (and the intermediary).
    Actors(BTreeSet<ActorId>),
}

/// Who is reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reader {
    /// The intermediary operating the log.
    Intermediary,
    Actor(ActorId),
    /// Anyone without an identity.
    Public,
}

impl Visibility {
    pub fn allows(&self, reader: &Reader) -> bool {
        match (self, reader) {
            (Visibility::Public, _) | (_, Reader::Intermediary) => true,
            (_, Reader::Public) | (Visibility::Intermediary, _) => false,
            (Visibility::Party(party), Reader::Actor(actor)) => party == actor,
            (Visibility::Actors(actors), Reader::Actor(actor)) => actors.contains(actor),
        }
    }
}

/// Bytes of random salt ahead of a salted payload.
pub const SALT_BYTES: usize = 32;

/// What the actor signs. The log adds the index and its own time around it;
/// the Merkle tree commits to those.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    // Fields in sorted order: see `canonical::to_canonical_sorted`.
    pub actor: ActorId,
    /// The signed-note key ID (8 hex digits) of the actor's key.
    pub key_id: String,
    pub kind: String,
    /// The log's origin, so a statement cannot be replayed on another log.
    pub origin: String,
    /// A salted commitment (statements made since salting began): the
    /// stored payload is a random `SALT_BYTES` salt followed by the
    /// canonical payload, and `payload_sha256` is over both. The salt is
    /// kept, withheld and erased with the payload, so a reader who lacks it
    /// cannot confirm a guessed payload against the public leaf. Absent
    /// (false) in the statements made before: their hash is over the
    /// payload alone, and they read and verify as they always did.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub payload_salted: bool,
    /// Hex SHA-256 of the stored payload bytes (see `payload_salted`).
    pub payload_sha256: String,
    /// The actor's own counter, 1 for its first event and one more for
    /// each next: it makes a replayed statement detectable.
    pub seq: u64,
    /// When the actor signed, in milliseconds since the Unix epoch, by the
    /// actor's clock.
    pub signed_at_ms: i64,
    pub visibility: Visibility,
}

impl Statement {
    /// The event of a payload, once its bytes are within bounds, match the
    /// hash this statement signed, and are canonical: the one check both
    /// the appender and the verifier make.
    /// `stored` is the payload as stored: with its salt ahead of it when
    /// the statement is salted.
    pub fn event_of(&self, stored: &[u8]) -> Result<crate::Event, crate::Rejection> {
        let payload = self.payload_part(stored)?;
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(rejection!(
                "payload-larger-bytes",
                "payload larger than {max_payload_bytes} bytes",
                max_payload_bytes = MAX_PAYLOAD_BYTES
            ));
        }
        if sha256_hex(stored) != self.payload_sha256 {
            return Err(rejection!(
                "payload-does-not-match-hash",
                "payload does not match its hash"
            ));
        }
        self.decode_stored(stored)
    }

    /// The canonical payload within the stored bytes: after the salt, if
    /// the statement is salted. Checks no hash (see `event_of`).
    pub fn payload_part<'a>(&self, stored: &'a [u8]) -> Result<&'a [u8], crate::Rejection> {
        if !self.payload_salted {
            return Ok(stored);
        }
        stored.get(SALT_BYTES..).ok_or_else(|| {
            rejection!(
                "payload-salt-missing",
                "a salted payload starts with its {salt_bytes}-byte salt",
                salt_bytes = SALT_BYTES
            )
        })
    }

    /// The event of a stored payload already checked against its hash
    /// (one read back from a store that checked it when it was appended).
    pub fn decode_stored(&self, stored: &[u8]) -> Result<crate::Event, crate::Rejection> {
        crate::Event::from_payload(self.payload_part(stored)?)
            .map_err(|e| rejection!("payload-invalid", "payload: {e}", e = e))
    }

    /// The statement an actor makes to append `event`, and the payload to
    /// store: `salt` (fresh random bytes: the core has no randomness of its
    /// own) followed by the canonical payload.
    #[allow(clippy::too_many_arguments)]
    pub fn for_event(
        origin: &str,
        actor: &ActorId,
        key: &SignerKey,
        seq: u64,
        event: &crate::Event,
        visibility: Visibility,
        signed_at_ms: i64,
        salt: [u8; SALT_BYTES],
    ) -> (Statement, Vec<u8>) {
        let mut payload = salt.to_vec();
        payload.extend_from_slice(&event.to_payload());
        let statement = Statement {
            payload_salted: true,
            origin: origin.to_owned(),
            actor: actor.clone(),
            key_id: key_id_hex(key.key_id()),
            seq,
            kind: event.kind().to_owned(),
            visibility,
            payload_sha256: sha256_hex(&payload),
            signed_at_ms,
        };
        (statement, payload)
    }

    pub fn signing_input(&self) -> Vec<u8> {
        let mut input = STATEMENT_CONTEXT.to_vec();
        input.extend_from_slice(&to_canonical_sorted(self));
        input
    }

    pub fn sign(self, key: &SignerKey) -> SignedStatement {
        let signature = key.sign_raw(&self.signing_input());
        SignedStatement {
            statement: self,
            signature: BASE64.encode(signature.to_bytes()),
        }
    }
}

/// A statement with the actor's signature: what a client submits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedStatement {
    // Fields in sorted order: see `canonical::to_canonical_sorted`.
    /// Base64 of the 64-byte Ed25519 signature over the signing input.
    pub signature: String,
    pub statement: Statement,
}

impl SignedStatement {
    pub fn signature_bytes(&self) -> Result<Signature, crate::Rejection> {
        let bytes = BASE64
            .decode(&self.signature)
            .map_err(|_| crate::rejection!("signature-not-base64", "signature is not base64"))?;
        Signature::from_slice(&bytes)
            .map_err(|_| crate::rejection!("signature-length", "signature is not 64 bytes"))
    }

    pub fn verify(&self, key: &VerifyingKey) -> Result<(), crate::Rejection> {
        let signature = self.signature_bytes()?;
        key.verify_strict(&self.statement.signing_input(), &signature)
            .map_err(|_| crate::rejection!("signature-invalid", "actor signature does not verify"))
    }
}

/// The Merkle leaf: a signed statement at its index, with the log's time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    // Fields in sorted order: see `canonical::to_canonical_sorted`.
    /// The tree size of the log's latest signed checkpoint when this entry
    /// was appended: the chain that makes a dropped checkpoint visible.
    pub checkpoint_size: u64,
    pub index: u64,
    /// When the log appended the entry, in milliseconds since the epoch.
    pub logged_at_ms: i64,
    pub signed: SignedStatement,
}

impl Envelope {
    pub fn statement(&self) -> &Statement {
        &self.signed.statement
    }

    pub fn to_leaf(&self) -> Vec<u8> {
        to_canonical_sorted(self)
    }

    /// The statement's signing input, cut from the canonical leaf instead
    /// of serialised again: JCS writes a nested object exactly as it would
    /// alone, and `statement` is the last member of `signed`, itself the
    /// last member of the envelope (keys sort), so the statement is the
    /// leaf between its key and the two closing braces. Verification does
    /// this for every entry. `leaf` must be canonical (see `from_leaf`).
    pub fn signing_input_from_leaf(leaf: &[u8]) -> Option<Vec<u8>> {
        const KEY: &[u8] = b"\"statement\":";
        // Before the key there are only numbers and the base64 signature,
        // which hold no quotes, so the first match is the key.
        let start = leaf.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
        let end = leaf.len().checked_sub(2)?;
        if start >= end || &leaf[end..] != b"}}" {
            return None;
        }
        let mut input = STATEMENT_CONTEXT.to_vec();
        input.extend_from_slice(&leaf[start..end]);
        Some(input)
    }

    pub fn from_leaf(bytes: &[u8]) -> Result<Self, CanonicalError> {
        if bytes.len() > MAX_LEAF_BYTES {
            return Err(CanonicalError(
                "envelope larger than 65535 bytes".to_owned(),
            ));
        }
        from_canonical_sorted(bytes)
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub fn hex(bytes: &[u8]) -> String {
    // Runs for every entry on verification: no formatter per byte.
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[(byte >> 4) as usize] as char);
        out.push(DIGITS[(byte & 0x0f) as usize] as char);
    }
    out
}

/// The bytes of lower-case hex text (what `hex` writes), if it is that.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

pub fn key_id_hex(key_id: u32) -> String {
    format!("{key_id:08x}")
}
