//! Events: the payloads of log entries, named in the past tense. Each
//! payload carries its kind, so the payload hash also commits to it; the
//! kind names the domain that owns the event (see [`crate::domain`]).

use crate::canonical::{CanonicalError, ensure_canonical, to_canonical};
use crate::domain::DomainEvent;
use crate::registry::RegistryEvent;

pub use crate::domain::{ALL_KINDS, Event};
pub use crate::registry::{ActorRole, KeyCustody};

impl Event {
    pub fn to_payload(&self) -> Vec<u8> {
        to_canonical(self)
    }

    /// Parses a payload, which must be the canonical encoding (RFC 8785) of
    /// an event of a known kind.
    pub fn from_payload(bytes: &[u8]) -> Result<Self, CanonicalError> {
        // Not `from_canonical`: the domain is found by `kind` first, on the bytes.
        let event = Event::from_json(bytes)
            .map_err(|e| CanonicalError(format!("not valid JSON for its kind: {e}")))?;
        ensure_canonical(&event, bytes)?;
        Ok(event)
    }
}

/// Kinds every reader needs to check the log (who may sign with which key,
/// and why a payload is gone): the registry's. They are public, never
/// withheld or erased.
pub const PUBLIC_KINDS: &[&str] = RegistryEvent::KINDS;
