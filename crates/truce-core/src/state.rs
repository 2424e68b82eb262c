//! The log's own state as a fold over its entries: who the actors are,
//! which key each may sign with at each index, their sequence numbers and
//! the erasures. `check` decides whether an entry may come next; `apply`
//! folds it in. The appender and the verifier run the same two functions,
//! so what was accepted is exactly what a replay accepts.

use std::collections::{BTreeMap, BTreeSet};

use ed25519_dalek::VerifyingKey;
use tlog::{KeyType, VerifierKey};

use crate::envelope::{ActorId, Envelope, MAX_VISIBILITY_ACTORS, Visibility, key_id_hex};
use crate::event::{ActorRole, Event, KeyCustody, PUBLIC_KINDS};
use crate::exchange::{ExchangeState, Refusal};
use crate::negotiation::{NegotiationState, SignerView};
use crate::projection::{Cell, Row, RowChange, RowJournal, Table, TableSpec};

/// Why an entry may not be appended (or, on replay, why it is bad). The
/// message is shown to users and names no personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection(pub String);

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Rejection {}

fn reject<T>(message: impl Into<String>) -> Result<T, Rejection> {
    Err(Rejection(message.into()))
}

/// How much of an entry's payload the reader has.
#[derive(Debug, Clone, Copy)]
pub enum PayloadView<'a> {
    Present(&'a Event),
    /// Not given to this reader (visibility).
    Withheld,
    /// Erased on a lawful request; a later erasure event must explain it.
    Erased,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyStatus {
    Active,
    Rotated,
    Revoked,
}

impl KeyStatus {
    fn as_str(&self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Rotated => "rotated",
            KeyStatus::Revoked => "revoked",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ActorKey {
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

    fn is_valid_at(&self, index: u64) -> bool {
        self.valid_from <= index && self.valid_until.is_none_or(|until| index <= until)
    }
}

#[derive(Debug, Clone)]
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
    fn key(&self, key_id: &str) -> Option<&ActorKey> {
        // Parsed rather than formatted per key: this runs for every entry.
        let canonical = key_id.len() == 8
            && key_id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let id = u32::from_str_radix(key_id, 16).ok().filter(|_| canonical)?;
        self.keys.iter().find(|k| k.vkey.key_id() == id)
    }

    fn active_key_mut(&mut self) -> Option<&mut ActorKey> {
        self.keys.iter_mut().find(|k| k.status == KeyStatus::Active)
    }
}

#[derive(Debug, Clone)]
pub struct Cosignature {
    pub root_hash: String,
    pub signature_line: String,
    pub recorded_at: u64,
}

#[derive(Debug, Clone)]
pub struct Erasure {
    pub erased_by: u64,
    pub legal_basis: String,
}

#[derive(Debug, Clone, Default)]
pub struct LogState {
    origin: Option<String>,
    log_vkey: Option<VerifierKey>,
    intermediary: Option<ActorId>,
    actors: BTreeMap<ActorId, Actor>,
    /// Entries whose payloads must never be erased: the registry and the
    /// erasures themselves.
    unerasable: BTreeSet<u64>,
    erasures: BTreeMap<u64, Erasure>,
    negotiation: NegotiationState,
    exchange: ExchangeState,
    /// Some payload was withheld from this reader or erased: rules that
    /// need it are skipped rather than failed.
    partial: bool,
    /// By (checkpoint tree size, witness).
    cosignatures: BTreeMap<(u64, ActorId), Cosignature>,
    tree_size: u64,
    last_checkpoint_size: u64,
    last_logged_at_ms: i64,
    /// The derived rows the entries applied changed, when recording.
    rows: RowJournal,
}

pub const MAX_KIND_BYTES: usize = 64;

fn parse_vkey(text: &str, role: ActorRole) -> Result<VerifierKey, Rejection> {
    let vkey: VerifierKey = text.parse().map_err(|e| Rejection(format!("vkey: {e}")))?;
    let wanted = if role == ActorRole::Witness {
        KeyType::Cosignature
    } else {
        KeyType::Ed25519
    };
    if vkey.key_type() != wanted {
        return reject(format!(
            "vkey: a {} key must be of signature type 0x{:02x}",
            role.as_str(),
            wanted.byte()
        ));
    }
    // A small-order key verifies forged signatures under the cofactored
    // batch equation `truce verify` uses; refusing it at registration makes
    // batch and strict verification agree on every registered key.
    if vkey.public_key().is_weak() {
        return reject("vkey: a weak (small-order) public key");
    }
    Ok(vkey)
}

impl LogState {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    pub fn log_vkey(&self) -> Option<&VerifierKey> {
        self.log_vkey.as_ref()
    }

    pub fn intermediary(&self) -> Option<&ActorId> {
        self.intermediary.as_ref()
    }

    pub fn tree_size(&self) -> u64 {
        self.tree_size
    }

    /// The earliest time the next entry may carry.
    pub fn last_logged_at_ms(&self) -> i64 {
        self.last_logged_at_ms
    }

    pub fn actor(&self, id: &ActorId) -> Option<&Actor> {
        self.actors.get(id)
    }

    pub fn actors(&self) -> impl Iterator<Item = &Actor> {
        self.actors.values()
    }

    pub fn erasures(&self) -> &BTreeMap<u64, Erasure> {
        &self.erasures
    }

    pub fn negotiation(&self) -> &NegotiationState {
        &self.negotiation
    }

    pub fn exchange(&self) -> &ExchangeState {
        &self.exchange
    }

    /// The registered parties, in id order.
    pub fn parties(&self) -> Vec<ActorId> {
        self.actors
            .values()
            .filter(|a| a.role == ActorRole::Party)
            .map(|a| a.id.clone())
            .collect()
    }

    pub fn cosignatures(&self) -> &BTreeMap<(u64, ActorId), Cosignature> {
        &self.cosignatures
    }

    /// The sequence number the actor's next statement must carry.
    pub fn next_seq(&self, actor: &ActorId) -> u64 {
        self.actors.get(actor).map_or(1, |a| a.last_seq + 1)
    }

    /// The witnesses' cosigner keys, to check checkpoint cosignatures.
    pub fn witness_keys(&self) -> Vec<VerifierKey> {
        self.actors
            .values()
            .filter(|a| a.role == ActorRole::Witness)
            .flat_map(|a| a.keys.iter().map(|k| k.vkey.clone()))
            .collect()
    }

    /// The key that must have signed `envelope`, as registered for its
    /// actor at its index. For entry 0 the key is the one the entry itself
    /// registers (the log's genesis is self-signed).
    pub fn signing_key(
        &self,
        envelope: &Envelope,
        payload: PayloadView,
    ) -> Result<VerifyingKey, Rejection> {
        let statement = envelope.statement();
        if envelope.index == 0 {
            let PayloadView::Present(Event::LogCreated {
                intermediary_vkey, ..
            }) = payload
            else {
                return reject("entry 0 must be a readable log_created event");
            };
            return Ok(*parse_vkey(intermediary_vkey, ActorRole::Intermediary)?.public_key());
        }
        let Some(actor) = self.actors.get(&statement.actor) else {
            return reject(format!("actor {} is not registered", statement.actor));
        };
        match actor.key(&statement.key_id) {
            Some(key) if key.is_valid_at(envelope.index) => Ok(*key.vkey.public_key()),
            Some(key) => reject(format!(
                "key {} of {} is {} and not valid at entry {}",
                statement.key_id,
                actor.id,
                key.status.as_str(),
                envelope.index
            )),
            None => reject(format!(
                "actor {} has no key {}",
                actor.id, statement.key_id
            )),
        }
    }

    /// Whether `envelope` may be the next entry, given what the reader has
    /// of its payload. Does not check the signature (see [`Self::signing_key`]).
    pub fn check(&self, envelope: &Envelope, payload: PayloadView) -> Result<(), Rejection> {
        let statement = envelope.statement();
        if envelope.index != self.tree_size {
            return reject(format!(
                "index {} where {} comes next",
                envelope.index, self.tree_size
            ));
        }
        if statement.signed_at_ms.abs() > crate::canonical::MAX_EXACT_INTEGER {
            return reject("signed_at_ms is out of range");
        }
        if envelope.logged_at_ms < self.last_logged_at_ms {
            return reject("logged earlier than the entry before it");
        }
        if envelope.checkpoint_size < self.last_checkpoint_size
            || envelope.checkpoint_size > envelope.index
        {
            return reject(format!(
                "names checkpoint size {} after the entry before named {}",
                envelope.checkpoint_size, self.last_checkpoint_size
            ));
        }
        if statement.payload_sha256.len() != 64
            || !statement
                .payload_sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return reject("payload_sha256 is not 64 lower-case hex digits");
        }
        if statement.kind.is_empty()
            || statement.kind.len() > MAX_KIND_BYTES
            || !statement
                .kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_')
        {
            return reject("kind must be 1-64 characters of a-z and '_'");
        }
        self.check_visibility(&statement.visibility)?;
        let is_public_kind = PUBLIC_KINDS.contains(&statement.kind.as_str());
        if is_public_kind && statement.visibility != Visibility::Public {
            return reject(format!("{} events must be public", statement.kind));
        }
        if self.tree_size == 0 {
            return self.check_genesis(envelope, payload);
        }
        if Some(statement.origin.as_str()) != self.origin.as_deref() {
            return reject("statement is for another log (origin differs)");
        }
        let Some(signer) = self.actors.get(&statement.actor) else {
            return reject(format!("actor {} is not registered", statement.actor));
        };
        if signer.role == ActorRole::Witness {
            return reject("witnesses cosign checkpoints and sign no events");
        }
        if statement.seq != signer.last_seq + 1 {
            return reject(format!(
                "sequence {} from {} where {} comes next",
                statement.seq,
                signer.id,
                signer.last_seq + 1
            ));
        }
        match payload {
            PayloadView::Present(event) => {
                if event.kind() != statement.kind {
                    return reject(format!(
                        "payload is a {} event, envelope says {}",
                        event.kind(),
                        statement.kind
                    ));
                }
                self.check_event(signer, event, &statement.visibility)
            }
            PayloadView::Withheld if statement.visibility == Visibility::Public => {
                reject("a public payload is missing")
            }
            PayloadView::Withheld | PayloadView::Erased if is_public_kind => reject(format!(
                "a {} payload, which every reader needs, is missing",
                statement.kind
            )),
            PayloadView::Withheld | PayloadView::Erased => Ok(()),
        }
    }

    fn check_visibility(&self, visibility: &Visibility) -> Result<(), Rejection> {
        let named: Vec<&ActorId> = match visibility {
            Visibility::Public | Visibility::Intermediary => return Ok(()),
            Visibility::Party(party) => vec![party],
            Visibility::Actors(actors) => actors.iter().collect(),
        };
        if named.is_empty() || named.len() > MAX_VISIBILITY_ACTORS {
            return reject(format!(
                "visibility names 1 to {MAX_VISIBILITY_ACTORS} actors"
            ));
        }
        match named.iter().find(|a| !self.actors.contains_key(**a)) {
            Some(unknown) => reject(format!("visibility names unregistered actor {unknown}")),
            None => Ok(()),
        }
    }

    fn check_genesis(&self, envelope: &Envelope, payload: PayloadView) -> Result<(), Rejection> {
        let statement = envelope.statement();
        let PayloadView::Present(Event::LogCreated {
            origin,
            log_vkey,
            intermediary,
            intermediary_vkey,
            ..
        }) = payload
        else {
            return reject("entry 0 must be a readable log_created event");
        };
        if *origin != statement.origin {
            return reject("log_created names another origin than its statement");
        }
        let log_key: VerifierKey = log_vkey
            .parse()
            .map_err(|e| Rejection(format!("log_vkey: {e}")))?;
        if log_key.key_type() != KeyType::Ed25519 || log_key.name() != origin {
            return reject("log_vkey must be an Ed25519 key named after the origin");
        }
        let key = parse_vkey(intermediary_vkey, ActorRole::Intermediary)?;
        if statement.actor != *intermediary || statement.key_id != key_id_hex(key.key_id()) {
            return reject("log_created must be signed by the intermediary key it registers");
        }
        if statement.seq != 1 {
            return reject("the intermediary's first statement has sequence 1");
        }
        Ok(())
    }

    /// A reader who lacks some payloads (withheld or erased) cannot check
    /// the exchange rules that refer to them; it skips what it cannot see.
    fn exchange_rule(&self, outcome: Result<(), Refusal>) -> Result<(), Rejection> {
        match outcome {
            Ok(()) => Ok(()),
            Err(Refusal::MissingReference(_)) if self.partial => Ok(()),
            Err(refusal) => Err(refusal.into_rejection()),
        }
    }

    fn signer_view<'a>(&self, signer: &'a Actor) -> SignerView<'a> {
        SignerView {
            id: &signer.id,
            is_intermediary: Some(&signer.id) == self.intermediary.as_ref(),
            is_party: signer.role == ActorRole::Party,
        }
    }

    fn check_event(
        &self,
        signer: &Actor,
        event: &Event,
        visibility: &Visibility,
    ) -> Result<(), Rejection> {
        let by_intermediary = Some(&signer.id) == self.intermediary.as_ref();
        let is_party = |id: &ActorId| {
            self.actors
                .get(id)
                .is_some_and(|a| a.role == ActorRole::Party)
        };
        match event {
            Event::LogCreated { .. } => reject("the log was already created"),
            Event::ActorRegistered {
                actor,
                role,
                name,
                vkey,
            } => {
                if !by_intermediary {
                    return reject("only the intermediary registers actors");
                }
                if self.actors.contains_key(actor) {
                    return reject(format!("actor {actor} is already registered"));
                }
                if *role == ActorRole::Intermediary {
                    return reject("a log has one intermediary");
                }
                if name.trim().is_empty() || name.len() > 200 {
                    return reject("actor name must be 1-200 characters");
                }
                parse_vkey(vkey, *role).map(|_| ())
            }
            Event::KeyRotated { actor, new_vkey } => {
                let target = self.actor_signed_for(signer, actor, by_intermediary)?;
                let key = parse_vkey(new_vkey, target.role)?;
                if target.key(&key_id_hex(key.key_id())).is_some() {
                    return reject(format!(
                        "{actor} already had key {}",
                        key_id_hex(key.key_id())
                    ));
                }
                Ok(())
            }
            Event::KeyRevoked { actor, key_id, .. } => {
                let target = self.actor_signed_for(signer, actor, by_intermediary)?;
                match target.key(key_id) {
                    Some(key) if key.status == KeyStatus::Active => Ok(()),
                    Some(_) => reject(format!("key {key_id} of {actor} is no longer active")),
                    None => reject(format!("{actor} has no key {key_id}")),
                }
            }
            Event::KeyCustodyDeclared { actor, .. } => {
                if signer.id != *actor {
                    return reject(format!("only {actor} declares who holds its key"));
                }
                if !matches!(signer.role, ActorRole::Party | ActorRole::Observer) {
                    return reject("only parties and observers declare who holds their keys");
                }
                Ok(())
            }
            Event::CheckpointCosigned {
                tree_size,
                root_hash,
                witness,
                signature_line,
            } => {
                if !by_intermediary {
                    return reject("the intermediary records cosignatures");
                }
                self.check_cosignature(*tree_size, root_hash, witness, signature_line)
            }
            Event::RoundRecorded(round) => {
                self.negotiation
                    .check_round(&self.signer_view(signer), round, &is_party)
            }
            Event::DocumentTabled(document) => {
                self.negotiation
                    .check_document(&self.signer_view(signer), document, &is_party)
            }
            Event::PositionTaken(position) => self
                .negotiation
                .check_position(&self.signer_view(signer), position),
            Event::AgreementRecorded(agreement) => self.negotiation.check_agreement(
                &self.signer_view(signer),
                agreement,
                &self.parties(),
            ),
            Event::ClaimRecorded(claim) => self
                .negotiation
                .check_claim(&self.signer_view(signer), claim),
            Event::ListSubmitted(list) => self.exchange_rule(self.exchange.check_list(
                &self.signer_view(signer),
                list,
                visibility,
                &self.negotiation,
            )),
            Event::MatchDecided(decision) => self.exchange_rule(self.exchange.check_match(
                &self.signer_view(signer),
                decision,
                visibility,
            )),
            Event::StageProposed(stage) => self.exchange_rule(self.exchange.check_stage(
                &self.signer_view(signer),
                stage,
                visibility,
                &self.negotiation,
            )),
            Event::StageAccepted { stage_id, party } => self.exchange_rule(
                self.exchange
                    .check_acceptance(&self.signer_view(signer), stage_id, party),
            ),
            Event::HandoverRecorded(handover) => {
                if matches!(visibility, Visibility::Public) {
                    return reject("a handover names persons: it is not public");
                }
                self.exchange_rule(
                    self.exchange
                        .check_handover(&self.signer_view(signer), handover),
                )
            }
            Event::ReceiptConfirmed(receipt) => self.exchange_rule(
                self.exchange
                    .check_receipt(&self.signer_view(signer), receipt),
            ),
            Event::StageTallied(tally) => self.exchange_rule(self.exchange.check_tally(
                &self.signer_view(signer),
                tally,
                visibility,
                &self.negotiation,
            )),
            Event::DiscrepancyRecorded(discrepancy) => self.exchange_rule(
                self.exchange
                    .check_discrepancy(&self.signer_view(signer), discrepancy),
            ),
            Event::RemarkRecorded { subject, text } => {
                if subject.trim().is_empty() || subject.len() > 200 || text.len() > 100_000 {
                    return reject(
                        "a remark has a subject of 1-200 characters and at most 100,000 of text",
                    );
                }
                Ok(())
            }
            Event::PayloadErased {
                entry_index,
                legal_basis,
            } => {
                if !by_intermediary {
                    return reject("only the intermediary erases payloads");
                }
                if *entry_index >= self.tree_size {
                    return reject(format!("entry {entry_index} does not exist yet"));
                }
                if self.unerasable.contains(entry_index) {
                    return reject(format!(
                        "entry {entry_index} is a registry or erasure entry"
                    ));
                }
                if self.erasures.contains_key(entry_index) {
                    return reject(format!("entry {entry_index} was already erased"));
                }
                if legal_basis.trim().is_empty() {
                    return reject("an erasure names its legal basis");
                }
                Ok(())
            }
        }
    }

    /// Whether `signature_line` is `witness`'s valid cosignature of the
    /// checkpoint (this log's origin, `tree_size`, `root_hash` in base64),
    /// not yet recorded: the rule of a `checkpoint_cosigned` event, also
    /// asked by a server that holds fresh cosignatures before recording them.
    pub fn check_cosignature(
        &self,
        tree_size: u64,
        root_hash: &str,
        witness: &ActorId,
        signature_line: &str,
    ) -> Result<(), Rejection> {
        if tree_size == 0 || tree_size > self.tree_size {
            return reject(format!("no checkpoint of size {tree_size} can exist yet"));
        }
        if self
            .cosignatures
            .contains_key(&(tree_size, witness.clone()))
        {
            return reject(format!("{witness} already cosigned checkpoint {tree_size}"));
        }
        let Some(cosigner) = self
            .actors
            .get(witness)
            .filter(|a| a.role == ActorRole::Witness)
        else {
            return reject(format!("{witness} is not a registered witness"));
        };
        let root = tlog::checkpoint::decode_root(root_hash)
            .map_err(|e| Rejection(format!("root_hash: {e}")))?;
        let origin = self.origin.as_deref().unwrap_or_default();
        let note = tlog::Note {
            text: tlog::Checkpoint::new(origin, tree_size, root).to_text(),
            signatures: vec![
                tlog::NoteSignature::from_line(signature_line)
                    .map_err(|e| Rejection(format!("signature_line: {e}")))?,
            ],
        };
        let keys: Vec<VerifierKey> = cosigner
            .keys
            .iter()
            .filter(|k| k.valid_until.is_none())
            .map(|k| k.vkey.clone())
            .collect();
        note.verify(&keys)
            .map(|_| ())
            .map_err(|e| Rejection(format!("cosignature by {witness}: {e}")))
    }

    /// Key events are signed by the actor itself or by the intermediary.
    fn actor_signed_for(
        &self,
        signer: &Actor,
        actor: &ActorId,
        by_intermediary: bool,
    ) -> Result<&Actor, Rejection> {
        let Some(target) = self.actors.get(actor) else {
            return reject(format!("actor {actor} is not registered"));
        };
        if signer.id != *actor && !by_intermediary {
            return reject(format!(
                "only {actor} or the intermediary may change its keys"
            ));
        }
        Ok(target)
    }

    /// Folds in an entry that passed [`Self::check`].
    pub fn apply(&mut self, envelope: &Envelope, payload: PayloadView) {
        let index = envelope.index;
        let statement = envelope.statement();
        self.tree_size = index + 1;
        self.last_logged_at_ms = envelope.logged_at_ms;
        self.last_checkpoint_size = envelope.checkpoint_size;
        match payload {
            PayloadView::Present(event) => self.apply_event(index, event),
            PayloadView::Withheld | PayloadView::Erased => self.partial = true,
        }
        if let Some(actor) = self.actors.get_mut(&statement.actor) {
            actor.last_seq = statement.seq;
        }
    }

    fn apply_event(&mut self, index: u64, event: &Event) {
        if PUBLIC_KINDS.contains(&event.kind()) {
            self.unerasable.insert(index);
        }
        self.apply_to_state(index, event);
        self.record_registry_rows(event);
    }

    /// The rows of the registry's own tables that `event` changed (the
    /// domains record theirs as they apply).
    fn record_registry_rows(&mut self, event: &Event) {
        let actor = match event {
            Event::LogCreated { intermediary, .. } => intermediary,
            Event::ActorRegistered { actor, .. }
            | Event::KeyRotated { actor, .. }
            | Event::KeyRevoked { actor, .. }
            | Event::KeyCustodyDeclared { actor, .. } => actor,
            Event::CheckpointCosigned {
                tree_size, witness, ..
            } => {
                let key = (*tree_size, witness.clone());
                let cosignature = &self.cosignatures[&key];
                self.rows
                    .upsert(&COSIGNATURES, || [cosignature_row((&key, cosignature))]);
                return;
            }
            Event::PayloadErased { entry_index, .. } => {
                let erasure = &self.erasures[entry_index];
                self.rows
                    .upsert(&ERASURES, || [erasure_row((entry_index, erasure))]);
                return;
            }
            _ => return,
        };
        let actor = &self.actors[actor];
        self.rows.upsert(&ACTORS, || [actor_row(actor)]);
        self.rows.upsert(&ACTOR_KEYS, || key_rows(actor));
    }

    fn apply_to_state(&mut self, index: u64, event: &Event) {
        match event {
            Event::LogCreated {
                origin,
                log_vkey,
                intermediary,
                intermediary_name,
                intermediary_vkey,
            } => {
                self.origin = Some(origin.clone());
                self.log_vkey = log_vkey.parse().ok();
                self.intermediary = Some(intermediary.clone());
                let vkey = intermediary_vkey.parse().expect("checked");
                self.actors.insert(
                    intermediary.clone(),
                    Actor {
                        id: intermediary.clone(),
                        role: ActorRole::Intermediary,
                        name: intermediary_name.clone(),
                        registered_at: index,
                        keys: vec![ActorKey {
                            vkey,
                            added_at: index,
                            valid_from: 0,
                            valid_until: None,
                            status: KeyStatus::Active,
                        }],
                        last_seq: 0,
                        key_custody: KeyCustody::Actor,
                    },
                );
            }
            Event::ActorRegistered {
                actor,
                role,
                name,
                vkey,
            } => {
                let vkey = vkey.parse().expect("checked");
                self.actors.insert(
                    actor.clone(),
                    Actor {
                        id: actor.clone(),
                        role: *role,
                        name: name.clone(),
                        registered_at: index,
                        keys: vec![ActorKey {
                            vkey,
                            added_at: index,
                            valid_from: index + 1,
                            valid_until: None,
                            status: KeyStatus::Active,
                        }],
                        last_seq: 0,
                        key_custody: KeyCustody::Actor,
                    },
                );
            }
            Event::KeyRotated { actor, new_vkey } => {
                let target = self.actors.get_mut(actor).expect("checked");
                if let Some(old) = target.active_key_mut() {
                    old.status = KeyStatus::Rotated;
                    old.valid_until = Some(index);
                }
                target.keys.push(ActorKey {
                    vkey: new_vkey.parse().expect("checked"),
                    added_at: index,
                    valid_from: index + 1,
                    valid_until: None,
                    status: KeyStatus::Active,
                });
            }
            Event::KeyRevoked { actor, key_id, .. } => {
                let target = self.actors.get_mut(actor).expect("checked");
                if let Some(key) = target.keys.iter_mut().find(|k| k.key_id() == *key_id) {
                    key.status = KeyStatus::Revoked;
                    key.valid_until = Some(index);
                }
            }
            Event::KeyCustodyDeclared { actor, custody } => {
                self.actors.get_mut(actor).expect("checked").key_custody = *custody;
            }
            Event::CheckpointCosigned {
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
            Event::RoundRecorded(round) => {
                self.negotiation.apply_round(index, round, &mut self.rows)
            }
            Event::DocumentTabled(document) => {
                self.negotiation
                    .apply_document(index, document, &mut self.rows)
            }
            Event::PositionTaken(position) => {
                self.negotiation
                    .apply_position(index, position, &mut self.rows)
            }
            Event::AgreementRecorded(agreement) => {
                self.negotiation
                    .apply_agreement(index, agreement, &mut self.rows)
            }
            Event::ClaimRecorded(claim) => {
                self.negotiation.apply_claim(index, claim, &mut self.rows)
            }
            Event::ListSubmitted(list) => self.exchange.apply_list(index, list, &mut self.rows),
            Event::MatchDecided(decision) => {
                self.exchange.apply_match(index, decision, &mut self.rows)
            }
            Event::StageProposed(stage) => self.exchange.apply_stage(index, stage, &mut self.rows),
            Event::StageAccepted { stage_id, party } => {
                self.exchange
                    .apply_acceptance(stage_id, party, &mut self.rows)
            }
            Event::HandoverRecorded(handover) => {
                self.exchange.apply_handover(handover, &mut self.rows)
            }
            Event::ReceiptConfirmed(receipt) => {
                self.exchange.apply_receipt(receipt, &mut self.rows)
            }
            Event::StageTallied(tally) => self.exchange.apply_tally(index, tally, &mut self.rows),
            Event::DiscrepancyRecorded(discrepancy) => {
                self.exchange
                    .apply_discrepancy(index, discrepancy, &mut self.rows)
            }
            Event::RemarkRecorded { .. } => {}
            Event::PayloadErased {
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

    /// The read model storage keeps in tables, derived from the state alone.
    pub fn derived_tables(&self) -> Vec<Table> {
        let actors = || self.actors.values();
        let mut tables = vec![
            ACTORS.with_rows(actors().map(actor_row).collect()),
            ACTOR_KEYS.with_rows(actors().flat_map(key_rows).collect()),
            ERASURES.with_rows(self.erasures.iter().map(erasure_row).collect()),
            COSIGNATURES.with_rows(self.cosignatures.iter().map(cosignature_row).collect()),
        ];
        tables.extend(self.negotiation.derived_tables());
        tables.extend(self.exchange.derived_tables());
        tables
    }

    /// Starts recording the row changes of each entry applied from now on
    /// (the appender's, which writes them with the entries).
    pub fn record_row_changes(&mut self) {
        self.rows.start();
    }

    /// The row changes of the entries applied since the last call.
    pub fn take_row_changes(&mut self) -> Vec<RowChange> {
        self.rows.take()
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
