//! The registry: the log itself and who acts on it. Its creation, the
//! actors and their keys over time (and who holds each actor's key), the
//! witnesses' cosignatures and the erasures. Every reader needs these events
//! to check the rest of the log, so they are public and never erased.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use tlog::{KeyType, VerifierKey};

use crate::domain::{Context, Domain, Refusal};
use crate::envelope::Visibility;
use crate::envelope::{ActorId, key_id_hex};
use crate::projection::{Cell, Row, RowJournal, Table, TableSpec};
use crate::rejection;
use crate::state::{LogState, Rejection, reject};

/// What an actor is on the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorRole {
    /// The neutral intermediary that operates the log (one per log).
    Intermediary,
    /// A party to the agreement.
    Party,
    /// Reads aggregates and public entries; signs its own reports.
    Observer,
    /// Cosigns checkpoints (C2SP tlog-cosignature); its key is a type 0x04
    /// cosigner key and it signs no events.
    Witness,
}

impl ActorRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorRole::Intermediary => "intermediary",
            ActorRole::Party => "party",
            ActorRole::Observer => "observer",
            ActorRole::Witness => "witness",
        }
    }
}

/// Who holds the key an actor signs its events with; the log records it so
/// every reader knows whether a party signed on its own machine or through
/// the intermediary's server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyCustody {
    /// The actor keeps its key and signs on its own machine; a server only
    /// relays its signed statements.
    #[default]
    Actor,
    /// The intermediary's server holds the key and signs when one of the
    /// actor's signed-in users, in the role the event needs, asks it to.
    Server,
}

impl KeyCustody {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyCustody::Actor => "actor",
            KeyCustody::Server => "server",
        }
    }
}

crate::domain_events! {
    /// The registry's events.
    pub enum RegistryEvent {
        /// Entry 0: names the log and its operator, and registers the
        /// intermediary's event key. Signed by that key.
        "log_created" => LogCreated {
            origin: String,
            /// The verifier key of the log's checkpoint signer.
            log_vkey: String,
            intermediary: ActorId,
            intermediary_name: String,
            /// The intermediary's event-signing verifier key (type 0x01).
            intermediary_vkey: String,
        },
        /// The intermediary registers a party, an observer or a witness.
        "actor_registered" => ActorRegistered {
            actor: ActorId,
            role: ActorRole,
            name: String,
            vkey: String,
        },
        /// A new key replaces the actor's current one from the next entry on.
        /// Signed by the actor with its current key, or by the intermediary.
        "key_rotated" => KeyRotated { actor: ActorId, new_vkey: String },
        /// A key stops being valid after this entry; the actor has no key until
        /// the intermediary rotates a new one in.
        "key_revoked" => KeyRevoked {
            actor: ActorId,
            key_id: String,
            reason: String,
        },
        /// A party or observer declares who holds its signing key. Signed by
        /// the actor with that key, so the intermediary cannot declare it alone.
        "key_custody_declared" => KeyCustodyDeclared { actor: ActorId, custody: KeyCustody },
        /// A witness cosigned the checkpoint of `tree_size` with root
        /// `root_hash` (base64); the intermediary records the cosignature line
        /// so every reader can check it and nobody can drop it unnoticed.
        "checkpoint_cosigned" => CheckpointCosigned {
            tree_size: u64,
            root_hash: String,
            witness: ActorId,
            signature_line: String,
        },
        /// On a lawful erasure request the intermediary erases an entry's
        /// payload; the envelope and its hash stay, so the tree still verifies.
        "payload_erased" => PayloadErased {
            entry_index: u64,
            legal_basis: String,
        },
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyStatus {
    Active,
    Rotated,
    Revoked,
}

impl KeyStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Rotated => "rotated",
            KeyStatus::Revoked => "revoked",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActorKey {
    #[serde(with = "vkey_text")]
    pub vkey: VerifierKey,
    /// The entry that registered or rotated in this key.
    pub added_at: u64,
    /// The first entry index this key may sign.
    pub valid_from: u64,
    /// The last entry index this key may sign, once rotated or revoked.
    pub valid_until: Option<u64>,
    pub status: KeyStatus,
}

impl ActorKey {
    fn key_id(&self) -> String {
        key_id_hex(self.vkey.key_id())
    }

    pub fn is_valid_at(&self, index: u64) -> bool {
        self.valid_from <= index && self.valid_until.is_none_or(|until| index <= until)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Actor {
    pub id: ActorId,
    pub role: ActorRole,
    pub name: String,
    pub registered_at: u64,
    pub keys: Vec<ActorKey>,
    pub last_seq: u64,
    pub key_custody: KeyCustody,
}

impl Actor {
    pub fn key(&self, key_id: &str) -> Option<&ActorKey> {
        // Parsed rather than formatted per key: this runs for every entry.
        let canonical = key_id.len() == 8
            && key_id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let id = u32::from_str_radix(key_id, 16).ok().filter(|_| canonical)?;
        self.keys.iter().find(|k| k.vkey.key_id() == id)
    }

    /// An actor registered at entry `at` with its first key, valid from
    /// entry `valid_from` on.
    fn registered(
        id: &ActorId,
        role: ActorRole,
        name: &str,
        at: u64,
        vkey: &str,
        valid_from: u64,
    ) -> Self {
        let mut actor = Actor {
            id: id.clone(),
            role,
            name: name.to_owned(),
            registered_at: at,
            keys: Vec::new(),
            last_seq: 0,
            key_custody: KeyCustody::Actor,
        };
        actor.add_key(vkey, at, valid_from);
        actor
    }

    /// Adds a key registered at `added_at`, valid from `valid_from` on.
    fn add_key(&mut self, vkey: &str, added_at: u64, valid_from: u64) {
        self.keys.push(ActorKey {
            vkey: vkey.parse().expect("checked"),
            added_at,
            valid_from,
            valid_until: None,
            status: KeyStatus::Active,
        });
    }

    fn active_key_mut(&mut self) -> Option<&mut ActorKey> {
        self.keys.iter_mut().find(|k| k.status == KeyStatus::Active)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cosignature {
    pub root_hash: String,
    pub signature_line: String,
    pub recorded_at: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Erasure {
    pub erased_by: u64,
    pub legal_basis: String,
}

/// The log's registry, folded from its events.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Registry {
    origin: Option<String>,
    #[serde(with = "vkey_text::optional")]
    log_vkey: Option<VerifierKey>,
    intermediary: Option<ActorId>,
    actors: BTreeMap<ActorId, Actor>,
    /// Entries whose payloads must never be erased: the registry's own.
    unerasable: BTreeSet<u64>,
    erasures: BTreeMap<u64, Erasure>,
    /// By (checkpoint tree size, witness).
    cosignatures: BTreeMap<(u64, ActorId), Cosignature>,
}

/// Verifier keys in a saved state, as their C2SP text.
mod vkey_text {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    use tlog::VerifierKey;

    pub fn serialize<S: Serializer>(key: &VerifierKey, to: S) -> Result<S::Ok, S::Error> {
        to.collect_str(key)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(from: D) -> Result<VerifierKey, D::Error> {
        String::deserialize(from)?.parse().map_err(D::Error::custom)
    }

    pub mod optional {
        use super::*;

        pub fn serialize<S: Serializer>(
            key: &Option<VerifierKey>,
            to: S,
        ) -> Result<S::Ok, S::Error> {
            match key {
                Some(key) => to.serialize_some(&key.to_string()),
                None => to.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            from: D,
        ) -> Result<Option<VerifierKey>, D::Error> {
            Option::<String>::deserialize(from)?
                .map(|text| text.parse().map_err(D::Error::custom))
                .transpose()
        }
    }
}

fn parse_vkey(text: &str, role: ActorRole) -> Result<VerifierKey, Rejection> {
    let vkey: VerifierKey = text
        .parse()
        .map_err(|e: tlog::NoteError| rejection!("vkey-invalid", "vkey: {e}", e = e))?;
    let wanted = if role == ActorRole::Witness {
        KeyType::Cosignature
    } else {
        KeyType::Ed25519
    };
    if vkey.key_type() != wanted {
        return reject(rejection!(
            "vkey-key-must-signature-type-0x",
            "vkey: a {role} key must be of signature type 0x{byte}",
            role = role.as_str(),
            byte = format!("{:02x}", wanted.byte())
        ));
    }
    // A small-order key verifies forged signatures under the cofactored
    // batch equation `truce verify` uses; refusing it at registration makes
    // batch and strict verification agree on every registered key.
    if vkey.public_key().is_weak() {
        return reject(rejection!(
            "vkey-weak-small-order-public-key",
            "vkey: a weak (small-order) public key"
        ));
    }
    Ok(vkey)
}

impl Registry {
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    pub fn log_vkey(&self) -> Option<&VerifierKey> {
        self.log_vkey.as_ref()
    }

    pub fn intermediary(&self) -> Option<&ActorId> {
        self.intermediary.as_ref()
    }

    pub fn actor(&self, id: &ActorId) -> Option<&Actor> {
        self.actors.get(id)
    }

    pub fn actors(&self) -> impl Iterator<Item = &Actor> {
        self.actors.values()
    }

    pub fn is_party(&self, id: &ActorId) -> bool {
        self.actors
            .get(id)
            .is_some_and(|a| a.role == ActorRole::Party)
    }

    /// The registered parties, in id order.
    pub fn parties(&self) -> Vec<ActorId> {
        self.actors
            .values()
            .filter(|a| a.role == ActorRole::Party)
            .map(|a| a.id.clone())
            .collect()
    }

    pub fn erasures(&self) -> &BTreeMap<u64, Erasure> {
        &self.erasures
    }

    pub fn cosignatures(&self) -> &BTreeMap<(u64, ActorId), Cosignature> {
        &self.cosignatures
    }

    /// The witnesses' cosigner keys, to check checkpoint cosignatures.
    pub fn witness_keys(&self) -> Vec<VerifierKey> {
        self.actors
            .values()
            .filter(|a| a.role == ActorRole::Witness)
            .flat_map(|a| a.keys.iter().map(|k| k.vkey.clone()))
            .collect()
    }

    /// How the signer of an entry looks to the domains' rules.
    pub fn signer_view<'a>(&self, signer: &'a Actor) -> crate::domain::SignerView<'a> {
        crate::domain::SignerView {
            id: &signer.id,
            is_intermediary: Some(&signer.id) == self.intermediary.as_ref(),
            is_party: signer.role == ActorRole::Party,
        }
    }

    /// Records the sequence number of a statement the log accepted.
    pub(crate) fn record_seq(&mut self, actor: &ActorId, seq: u64) {
        if let Some(actor) = self.actors.get_mut(actor) {
            actor.last_seq = seq;
        }
    }

    /// The key entry 0 must be signed with: the one it registers (the log's
    /// genesis is self-signed).
    pub(crate) fn genesis_key(event: Option<&RegistryEvent>) -> Result<VerifierKey, Rejection> {
        match event {
            Some(RegistryEvent::LogCreated {
                intermediary_vkey, ..
            }) => parse_vkey(intermediary_vkey, ActorRole::Intermediary),
            _ => reject(rejection!(
                "entry-0-must-readable-log-created",
                "entry 0 must be a readable log_created event"
            )),
        }
    }

    /// Whether `event` may be entry 0, signed as `statement` says.
    pub(crate) fn check_genesis(
        statement: &crate::envelope::Statement,
        event: Option<&RegistryEvent>,
    ) -> Result<(), Rejection> {
        let key = Self::genesis_key(event)?;
        let Some(RegistryEvent::LogCreated {
            origin,
            log_vkey,
            intermediary,
            ..
        }) = event
        else {
            unreachable!("genesis_key accepts only log_created");
        };
        if *origin != statement.origin {
            return reject(rejection!(
                "log-created-names-another-origin-statement",
                "log_created names another origin than its statement"
            ));
        }
        let log_key: VerifierKey = log_vkey
            .parse()
            .map_err(|e: tlog::NoteError| rejection!("log-vkey-invalid", "log_vkey: {e}", e = e))?;
        if log_key.key_type() != KeyType::Ed25519 || log_key.name() != origin {
            return reject(rejection!(
                "log-vkey-must-ed25519-key-named",
                "log_vkey must be an Ed25519 key named after the origin"
            ));
        }
        if statement.actor != *intermediary || statement.key_id != key_id_hex(key.key_id()) {
            return reject(rejection!(
                "log-created-must-signed-intermediary-key",
                "log_created must be signed by the intermediary key it registers"
            ));
        }
        if statement.seq != 1 {
            return reject(rejection!(
                "intermediary-first-statement-sequence-1",
                "the intermediary's first statement has sequence 1"
            ));
        }
        Ok(())
    }

    fn check_event(&self, context: &Context, event: &RegistryEvent) -> Result<(), Rejection> {
        let signer = &self.actors[context.signer.id];
        let by_intermediary = context.signer.is_intermediary;
        match event {
            RegistryEvent::LogCreated { .. } => reject(rejection!(
                "log-was-already-created",
                "the log was already created"
            )),
            RegistryEvent::ActorRegistered {
                actor,
                role,
                name,
                vkey,
            } => {
                if !by_intermediary {
                    return reject(rejection!(
                        "only-intermediary-registers-actors",
                        "only the intermediary registers actors"
                    ));
                }
                if self.actors.contains_key(actor) {
                    return reject(rejection!(
                        "actor-already-registered",
                        "actor {actor} is already registered",
                        actor = actor
                    ));
                }
                if *role == ActorRole::Intermediary {
                    return reject(rejection!(
                        "log-one-intermediary",
                        "a log has one intermediary"
                    ));
                }
                if name.trim().is_empty() || name.len() > 200 {
                    return reject(rejection!(
                        "actor-name-must-1-200-characters",
                        "actor name must be 1-200 characters"
                    ));
                }
                parse_vkey(vkey, *role).map(|_| ())
            }
            RegistryEvent::KeyRotated { actor, new_vkey } => {
                let target = self.actor_signed_for(signer, actor, by_intermediary)?;
                let key = parse_vkey(new_vkey, target.role)?;
                if target.key(&key_id_hex(key.key_id())).is_some() {
                    return reject(rejection!(
                        "already-had-key",
                        "{actor} already had key {key_id}",
                        actor = actor,
                        key_id = key_id_hex(key.key_id())
                    ));
                }
                Ok(())
            }
            RegistryEvent::KeyRevoked { actor, key_id, .. } => {
                let target = self.actor_signed_for(signer, actor, by_intermediary)?;
                match target.key(key_id) {
                    Some(key) if key.status == KeyStatus::Active => Ok(()),
                    Some(_) => reject(rejection!(
                        "key-no-longer-active",
                        "key {key_id} of {actor} is no longer active",
                        key_id = key_id,
                        actor = actor
                    )),
                    None => reject(rejection!(
                        "target-no-key",
                        "{actor} has no key {key_id}",
                        actor = actor,
                        key_id = key_id
                    )),
                }
            }
            RegistryEvent::KeyCustodyDeclared { actor, .. } => {
                if signer.id != *actor {
                    return reject(rejection!(
                        "only-declares-who-holds-key",
                        "only {actor} declares who holds its key",
                        actor = actor
                    ));
                }
                if !matches!(signer.role, ActorRole::Party | ActorRole::Observer) {
                    return reject(rejection!(
                        "only-parties-observers-declare-who-holds",
                        "only parties and observers declare who holds their keys"
                    ));
                }
                Ok(())
            }
            RegistryEvent::CheckpointCosigned {
                tree_size,
                root_hash,
                witness,
                signature_line,
            } => {
                if !by_intermediary {
                    return reject(rejection!(
                        "intermediary-records-cosignatures",
                        "the intermediary records cosignatures"
                    ));
                }
                self.check_cosignature(
                    context.log.tree_size(),
                    *tree_size,
                    root_hash,
                    witness,
                    signature_line,
                )
            }
            RegistryEvent::PayloadErased {
                entry_index,
                legal_basis,
            } => {
                if !by_intermediary {
                    return reject(rejection!(
                        "only-intermediary-erases-payloads",
                        "only the intermediary erases payloads"
                    ));
                }
                self.check_erasure(context.log.tree_size(), *entry_index, legal_basis)
            }
        }
    }

    fn check_erasure(
        &self,
        log_size: u64,
        entry_index: u64,
        legal_basis: &str,
    ) -> Result<(), Rejection> {
        if entry_index >= log_size {
            return reject(rejection!(
                "entry-does-not-exist-yet",
                "entry {entry_index} does not exist yet",
                entry_index = entry_index
            ));
        }
        if self.unerasable.contains(&entry_index) {
            return reject(rejection!(
                "entry-registry-erasure-entry",
                "entry {entry_index} is a registry or erasure entry",
                entry_index = entry_index
            ));
        }
        if self.erasures.contains_key(&entry_index) {
            return reject(rejection!(
                "entry-was-already-erased",
                "entry {entry_index} was already erased",
                entry_index = entry_index
            ));
        }
        if legal_basis.trim().is_empty() {
            return reject(rejection!(
                "erasure-names-legal-basis",
                "an erasure names its legal basis"
            ));
        }
        Ok(())
    }

    /// Whether `signature_line` is `witness`'s valid cosignature of the
    /// checkpoint (this log's origin, `tree_size`, `root_hash` in base64),
    /// not yet recorded: the rule of a `checkpoint_cosigned` event, also
    /// asked by a server that holds fresh cosignatures before recording them.
    pub fn check_cosignature(
        &self,
        log_size: u64,
        tree_size: u64,
        root_hash: &str,
        witness: &ActorId,
        signature_line: &str,
    ) -> Result<(), Rejection> {
        if tree_size == 0 || tree_size > log_size {
            return reject(rejection!(
                "no-checkpoint-size-can-exist-yet",
                "no checkpoint of size {tree_size} can exist yet",
                tree_size = tree_size
            ));
        }
        if self
            .cosignatures
            .contains_key(&(tree_size, witness.clone()))
        {
            return reject(rejection!(
                "already-cosigned-checkpoint",
                "{witness} already cosigned checkpoint {tree_size}",
                witness = witness,
                tree_size = tree_size
            ));
        }
        let Some(cosigner) = self
            .actors
            .get(witness)
            .filter(|a| a.role == ActorRole::Witness)
        else {
            return reject(rejection!(
                "not-registered-witness",
                "{witness} is not a registered witness",
                witness = witness
            ));
        };
        let root = tlog::checkpoint::decode_root(root_hash)
            .map_err(|e| rejection!("root-hash-invalid", "root_hash: {e}", e = e))?;
        let origin = self.origin.as_deref().unwrap_or_default();
        let note =
            tlog::Note {
                text: tlog::Checkpoint::new(origin, tree_size, root).to_text(),
                signatures: vec![tlog::NoteSignature::from_line(signature_line).map_err(|e| {
                    rejection!("signature-line-invalid", "signature_line: {e}", e = e)
                })?],
            };
        let keys: Vec<VerifierKey> = cosigner
            .keys
            .iter()
            .filter(|k| k.valid_until.is_none())
            .map(|k| k.vkey.clone())
            .collect();
        note.verify(&keys).map(|_| ()).map_err(|e| {
            rejection!(
                "cosignature-invalid",
                "cosignature by {witness}: {e}",
                witness = witness,
                e = e
            )
        })
    }

    /// Key events are signed by the actor itself or by the intermediary.
    fn actor_signed_for(
        &self,
        signer: &Actor,
        actor: &ActorId,
        by_intermediary: bool,
    ) -> Result<&Actor, Rejection> {
        let Some(target) = self.actors.get(actor) else {
            return reject(rejection!(
                "actor-not-registered",
                "actor {actor} is not registered",
                actor = actor
            ));
        };
        if signer.id != *actor && !by_intermediary {
            return reject(rejection!(
                "only-intermediary-change-keys",
                "only {actor} or the intermediary may change its keys",
                actor = actor
            ));
        }
        Ok(target)
    }

    fn apply_event(&mut self, index: u64, event: &RegistryEvent) {
        match event {
            RegistryEvent::LogCreated {
                origin,
                log_vkey,
                intermediary,
                intermediary_name,
                intermediary_vkey,
            } => {
                self.origin = Some(origin.clone());
                self.log_vkey = log_vkey.parse().ok();
                self.intermediary = Some(intermediary.clone());
                // The genesis key signs entry 0 itself.
                let actor = Actor::registered(
                    intermediary,
                    ActorRole::Intermediary,
                    intermediary_name,
                    index,
                    intermediary_vkey,
                    0,
                );
                self.actors.insert(intermediary.clone(), actor);
            }
            RegistryEvent::ActorRegistered {
                actor,
                role,
                name,
                vkey,
            } => {
                let registered = Actor::registered(actor, *role, name, index, vkey, index + 1);
                self.actors.insert(actor.clone(), registered);
            }
            RegistryEvent::KeyRotated { actor, new_vkey } => {
                let target = self.actors.get_mut(actor).expect("checked");
                if let Some(old) = target.active_key_mut() {
                    old.status = KeyStatus::Rotated;
                    old.valid_until = Some(index);
                }
                target.add_key(new_vkey, index, index + 1);
            }
            RegistryEvent::KeyRevoked { actor, key_id, .. } => {
                let target = self.actors.get_mut(actor).expect("checked");
                if let Some(key) = target.keys.iter_mut().find(|k| k.key_id() == *key_id) {
                    key.status = KeyStatus::Revoked;
                    key.valid_until = Some(index);
                }
            }
            RegistryEvent::KeyCustodyDeclared { actor, custody } => {
                self.actors.get_mut(actor).expect("checked").key_custody = *custody;
            }
            RegistryEvent::CheckpointCosigned {
                tree_size,
                root_hash,
                witness,
                signature_line,
            } => {
                self.cosignatures.insert(
                    (*tree_size, witness.clone()),
                    Cosignature {
                        root_hash: root_hash.clone(),
                        signature_line: signature_line.clone(),
                        recorded_at: index,
                    },
                );
            }
            RegistryEvent::PayloadErased {
                entry_index,
                legal_basis,
            } => {
                self.erasures.insert(
                    *entry_index,
                    Erasure {
                        erased_by: index,
                        legal_basis: legal_basis.clone(),
                    },
                );
            }
        }
    }

    /// The rows of the registry's tables that `event` changed.
    fn record_rows(&self, event: &RegistryEvent, rows: &mut RowJournal) {
        let actor = match event {
            RegistryEvent::LogCreated { intermediary, .. } => intermediary,
            RegistryEvent::ActorRegistered { actor, .. }
            | RegistryEvent::KeyRotated { actor, .. }
            | RegistryEvent::KeyRevoked { actor, .. }
            | RegistryEvent::KeyCustodyDeclared { actor, .. } => actor,
            RegistryEvent::CheckpointCosigned {
                tree_size, witness, ..
            } => {
                let key = (*tree_size, witness.clone());
                let cosignature = &self.cosignatures[&key];
                rows.upsert(&COSIGNATURES, || [cosignature_row((&key, cosignature))]);
                return;
            }
            RegistryEvent::PayloadErased { entry_index, .. } => {
                let erasure = &self.erasures[entry_index];
                rows.upsert(&ERASURES, || [erasure_row((entry_index, erasure))]);
                return;
            }
        };
        let actor = &self.actors[actor];
        rows.upsert(&ACTORS, || [actor_row(actor)]);
        rows.upsert(&ACTOR_KEYS, || key_rows(actor));
    }
}

impl Domain for Registry {
    type Event = RegistryEvent;

    fn check(&self, context: &Context, event: &RegistryEvent) -> Result<(), Refusal> {
        Ok(self.check_event(context, event)?)
    }

    fn apply(&mut self, entry: u64, event: &RegistryEvent, rows: &mut RowJournal) {
        self.unerasable.insert(entry);
        self.apply_event(entry, event);
        self.record_rows(event, rows);
    }

    /// Every reader needs the registry: always public.
    fn visibility(&self, _log: &LogState, _event: &RegistryEvent) -> Visibility {
        Visibility::Public
    }

    fn derived_tables(&self) -> Vec<Table> {
        let actors = || self.actors.values();
        vec![
            ACTORS.with_rows(actors().map(actor_row).collect()),
            ACTOR_KEYS.with_rows(actors().flat_map(key_rows).collect()),
            ERASURES.with_rows(self.erasures.iter().map(erasure_row).collect()),
            COSIGNATURES.with_rows(self.cosignatures.iter().map(cosignature_row).collect()),
        ]
    }
}

pub static ACTORS: TableSpec = TableSpec {
    name: "actors",
    key_columns: 1,
    columns: &["actor_id", "role", "name", "registered_at", "key_custody"],
    entry_column: 3,
};

fn actor_row(a: &Actor) -> Row {
    vec![
        Cell::text(a.id.as_str()),
        Cell::text(a.role.as_str()),
        Cell::text(&a.name),
        Cell::int(a.registered_at),
        Cell::text(a.key_custody.as_str()),
    ]
}

pub static ACTOR_KEYS: TableSpec = TableSpec {
    name: "actor_keys",
    key_columns: 2,
    columns: &[
        "actor_id",
        "key_id",
        "vkey",
        "added_at",
        "valid_from",
        "valid_until",
        "status",
    ],
    entry_column: 3,
};

fn key_rows(a: &Actor) -> Vec<Row> {
    a.keys
        .iter()
        .map(|k| {
            vec![
                Cell::text(a.id.as_str()),
                Cell::text(&k.key_id()),
                Cell::text(&k.vkey.to_string()),
                Cell::int(k.added_at),
                Cell::int(k.valid_from),
                k.valid_until.map_or(Cell::Null, Cell::int),
                Cell::text(k.status.as_str()),
            ]
        })
        .collect()
}

pub static ERASURES: TableSpec = TableSpec {
    name: "erasures",
    key_columns: 1,
    columns: &["entry_index", "erased_by", "legal_basis"],
    entry_column: 1,
};

fn erasure_row((index, e): (&u64, &Erasure)) -> Row {
    vec![
        Cell::int(*index),
        Cell::int(e.erased_by),
        Cell::text(&e.legal_basis),
    ]
}

pub static COSIGNATURES: TableSpec = TableSpec {
    name: "cosignatures",
    key_columns: 2,
    columns: &[
        "tree_size",
        "witness",
        "root_hash",
        "signature_line",
        "recorded_at",
    ],
    entry_column: 4,
};

fn cosignature_row(((size, witness), c): (&(u64, ActorId), &Cosignature)) -> Row {
    vec![
        Cell::int(*size),
        Cell::text(witness.as_str()),
        Cell::text(&c.root_hash),
        Cell::text(&c.signature_line),
        Cell::int(c.recorded_at),
    ]
}
