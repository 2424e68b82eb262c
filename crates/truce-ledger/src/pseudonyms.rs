//! Stable pseudonyms for one party's persons as the other party reads them.
//!
//! A stage is read by both parties, but each batch comes from one party's
//! held list, whose ids are that party's internal references. The stage
//! therefore names each person by a pseudonym derived for the *reading*
//! (receiving) party: HMAC-SHA-256 under a key only the intermediary holds,
//! over the reading party, the list and the person. The same person gets the
//! same pseudonym in every stage and handover that party reads, so it can
//! follow a person without learning the id; the other party's pseudonym for
//! the same person differs, so two readers cannot join their views by it.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tlog::SignerKey;
use truce_core::ActorId;
use truce_core::exchange::{PSEUDONYM_HEX_LEN, PersonRef};

/// The intermediary's pseudonym key. It is derived from the intermediary's
/// signing key (see `SignerKey::derive_secret`), so it lives wherever that
/// key lives and needs no file of its own; `Debug` never shows it.
pub struct PseudonymKey([u8; 32]);

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PseudonymKey(secret withheld)")
    }
}

impl PseudonymKey {
    pub fn of(intermediary: &SignerKey) -> PseudonymKey {
        PseudonymKey(intermediary.derive_secret("truce pseudonym key v1"))
    }

    /// `person` as `reader` knows them: the first 128 bits of the HMAC, in
    /// lowercase hex. Each field goes in with its length first, so no two
    /// inputs share a message whatever bytes the ids hold.
    pub fn pseudonym(&self, reader: &ActorId, person: &PersonRef) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        for field in [
            "truce-pseudonym-v1",
            reader.as_str(),
            &person.list_id,
            &person.person_id,
        ] {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field.as_bytes());
        }
        let digest = mac.finalize().into_bytes();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        hex[..PSEUDONYM_HEX_LEN].to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tlog::KeyType;

    fn person(list_id: &str, person_id: &str) -> PersonRef {
        PersonRef {
            list_id: list_id.to_owned(),
            person_id: person_id.to_owned(),
        }
    }

    /// Stable for a reader, different for the other reader and under
    /// another intermediary's key, and no field can slide into the next.
    #[test]
    fn a_pseudonym_is_stable_per_reader_and_key_and_unlinkable_across_them() {
        let intermediary = SignerKey::generate("icrc", KeyType::Ed25519).unwrap();
        let key = PseudonymKey::of(&intermediary);
        let (ua, ru) = (ActorId::new("ua").unwrap(), ActorId::new("ru").unwrap());
        let p = person("ua-held-pow", "ua-h-00001");
        let pseudonym = key.pseudonym(&ru, &p);
        assert_eq!(pseudonym.len(), PSEUDONYM_HEX_LEN);
        assert!(
            pseudonym
                .bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(
            pseudonym,
            PseudonymKey::of(&intermediary).pseudonym(&ru, &p)
        );
        assert_ne!(pseudonym, key.pseudonym(&ua, &p));
        let other = SignerKey::generate("icrc", KeyType::Ed25519).unwrap();
        assert_ne!(pseudonym, PseudonymKey::of(&other).pseudonym(&ru, &p));
        assert_ne!(
            key.pseudonym(&ru, &person("ab", "c")),
            key.pseudonym(&ru, &person("a", "bc"))
        );
        assert!(!format!("{key:?}").contains(&pseudonym[..8]));
    }
}
