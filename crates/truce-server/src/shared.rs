//! What every server process on one store shares through it, so that a
//! request may reach any of them: browser sessions, failed logins and the
//! witnesses' cosignatures held until the next append (the users and
//! tokens are `access`). Each lives as a shared record of the store
//! (`truce_store::shared`); no process keeps its own copy.

use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use truce_core::envelope::sha256_hex;
use truce_store::{Change, LogStore, Place, Space, StoreError};

use crate::access::unix_now;
use crate::throttle::{Attempt, Failures};

/// A browser session: bound to the user's stamp (`access`), so it ends
/// when the user's password, actor or roles change or the user is removed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub user: String,
    pub stamp: String,
}

pub struct Shared {
    /// A connection of its own, so none of this waits for the log's reads.
    store: Mutex<Box<dyn LogStore>>,
}

impl Shared {
    pub fn open(place: &Place) -> Result<Shared, StoreError> {
        Ok(Shared {
            store: Mutex::new(truce_store::open(place)?),
        })
    }

    fn update(
        &self,
        space: Space,
        key: &str,
        change: &mut dyn FnMut(Option<&truce_store::SharedRecord>) -> Change,
    ) -> Result<(), StoreError> {
        let mut store = self.store.lock().expect("shared store lock");
        store.shared_update(space, key, unix_now(), change)
    }

    fn get(&self, space: Space, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let store = self.store.lock().expect("shared store lock");
        let record = store.shared_get(space, key, unix_now())?;
        Ok(record.map(|r| r.value))
    }

    /// Opens a session lasting `lifetime`; returns its id, for the cookie.
    /// The store keeps only the id's digest, so whoever reads the store
    /// cannot take over a session.
    pub fn open_session(
        &self,
        session: &Session,
        lifetime: Duration,
    ) -> Result<String, StoreError> {
        let id = crate::access::random_hex::<32>();
        let value = serde_json::to_vec(session).expect("a session serialises");
        let expires_at = Some(unix_now() + lifetime.as_secs());
        self.update(Space::Sessions, &sha256_hex(id.as_bytes()), &mut |_| {
            Change::Put {
                value: value.clone(),
                expires_at,
            }
        })?;
        Ok(id)
    }

    /// The session of this id, unless it expired or was closed.
    pub fn session(&self, id: &str) -> Result<Option<Session>, StoreError> {
        let Some(value) = self.get(Space::Sessions, &sha256_hex(id.as_bytes()))? else {
            return Ok(None);
        };
        serde_json::from_slice(&value)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("a shared session record: {e}")))
    }

    pub fn close_session(&self, id: &str) -> Result<(), StoreError> {
        let key = sha256_hex(id.as_bytes());
        self.update(Space::Sessions, &key, &mut |_| Change::Remove)
    }

    /// How long this attempt must still wait after the failures before it.
    pub fn login_wait(&self, attempt: &Attempt) -> Result<Option<Duration>, StoreError> {
        let failures = match self.get(Space::LoginFailures, &attempt_key(attempt))? {
            Some(value) => failures(&value)?,
            None => return Ok(None),
        };
        Ok(failures.wait(unix_now()))
    }

    pub fn login_failed(&self, attempt: &Attempt) -> Result<(), StoreError> {
        let now = unix_now();
        let mut corrupt = None;
        self.update(Space::LoginFailures, &attempt_key(attempt), &mut |before| {
            let before = match before.map(|r| failures(&r.value)).transpose() {
                Ok(before) => before.unwrap_or_default(),
                Err(e) => {
                    corrupt = Some(e);
                    return Change::Keep;
                }
            };
            let after = before.and_one_more(now);
            Change::Put {
                value: serde_json::to_vec(&after).expect("failures serialise"),
                expires_at: Some(after.expires_at()),
            }
        })?;
        corrupt.map_or(Ok(()), Err)
    }

    pub fn login_succeeded(&self, attempt: &Attempt) -> Result<(), StoreError> {
        let key = attempt_key(attempt);
        self.update(Space::LoginFailures, &key, &mut |_| Change::Remove)
    }

    /// Holds a cosignature until the next append records it; false if it
    /// is held already. Durable when this returns.
    pub fn hold(&self, event: &truce_core::Event) -> Result<bool, StoreError> {
        let value = serde_json::to_vec(event).expect("events serialise");
        let mut new = false;
        self.update(
            Space::HeldCosignatures,
            &sha256_hex(&value),
            &mut |before| {
                new = before.is_none();
                match before {
                    Some(_) => Change::Keep,
                    None => Change::Put {
                        value: value.clone(),
                        expires_at: None,
                    },
                }
            },
        )?;
        Ok(new)
    }

    /// Every held cosignature, with the key that releases it.
    pub fn held(&self) -> Result<Vec<(String, truce_core::Event)>, StoreError> {
        let store = self.store.lock().expect("shared store lock");
        let records = store.shared_list(Space::HeldCosignatures, unix_now())?;
        let event = |value: &[u8]| {
            serde_json::from_slice(value)
                .map_err(|e| StoreError::Corrupt(format!("a held cosignature: {e}")))
        };
        (records.into_iter())
            .map(|(key, record)| Ok((key, event(&record.value)?)))
            .collect()
    }

    /// Stops holding these (once the log records them, or refused them).
    pub fn release(&self, keys: &[String]) -> Result<(), StoreError> {
        for key in keys {
            self.update(Space::HeldCosignatures, key, &mut |_| Change::Remove)?;
        }
        Ok(())
    }
}

/// An attempt's key: the digest of the name and address, so the store
/// keeps no client address.
fn attempt_key((name, address): &Attempt) -> String {
    let address = address.map_or_else(|| "-".to_owned(), |a| a.to_string());
    sha256_hex(format!("{name}\n{address}").as_bytes())
}

fn failures(value: &[u8]) -> Result<Failures, StoreError> {
    serde_json::from_slice(value)
        .map_err(|e| StoreError::Corrupt(format!("a failed-login record: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use truce_core::registry::RegistryEvent;

    fn store() -> (tempfile::TempDir, Place) {
        let temp = tempfile::tempdir().unwrap();
        let place = Place::local(temp.path().join("log"));
        let meta = truce_store::LogMeta {
            origin: "truce.test/shared".to_owned(),
            log_vkey: "vkey".to_owned(),
            reader: "intermediary".to_owned(),
        };
        truce_store::create(&place, &meta, &[], truce_store::AtRest::Encrypted).unwrap();
        (temp, place)
    }

    fn cosignature(tree_size: u64) -> truce_core::Event {
        truce_core::Event::Registry(RegistryEvent::CheckpointCosigned {
            tree_size,
            root_hash: "ab".repeat(32),
            witness: truce_core::ActorId::new("witness-a").unwrap(),
            signature_line: format!("— witness-a line{tree_size}"),
        })
    }

    #[test]
    fn a_cosignature_held_by_one_process_is_served_and_released_by_another() {
        let (_temp, place) = store();
        let (one, other) = (Shared::open(&place).unwrap(), Shared::open(&place).unwrap());
        assert!(one.hold(&cosignature(7)).unwrap());
        assert!(!other.hold(&cosignature(7)).unwrap(), "held once");
        assert!(other.hold(&cosignature(8)).unwrap());
        let held = one.held().unwrap();
        let events: Vec<_> = held.iter().map(|(_, e)| e.clone()).collect();
        assert_eq!(events.len(), 2);
        assert!(events.contains(&cosignature(7)) && events.contains(&cosignature(8)));
        // Recorded by the other's append: released there, gone here.
        let seven: Vec<String> = (held.into_iter())
            .filter(|(_, e)| *e == cosignature(7))
            .map(|(key, _)| key)
            .collect();
        other.release(&seven).unwrap();
        let left: Vec<_> = one.held().unwrap().into_iter().map(|(_, e)| e).collect();
        assert_eq!(left, [cosignature(8)]);
    }

    #[test]
    fn a_session_expires_and_a_closed_one_is_gone_for_every_process() {
        let (_temp, place) = store();
        let (one, other) = (Shared::open(&place).unwrap(), Shared::open(&place).unwrap());
        let session = Session {
            user: "ua-user".to_owned(),
            stamp: "stamp".to_owned(),
        };
        let lasting = one
            .open_session(&session, Duration::from_secs(3600))
            .unwrap();
        let ended = one.open_session(&session, Duration::ZERO).unwrap();
        assert_eq!(other.session(&lasting).unwrap().unwrap().user, "ua-user");
        assert!(other.session(&ended).unwrap().is_none(), "expired");
        assert!(other.session("not-a-session").unwrap().is_none());
        other.close_session(&lasting).unwrap();
        assert!(one.session(&lasting).unwrap().is_none());
    }
}
