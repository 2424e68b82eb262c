//! The log's own state as a fold over its entries: the rules every entry
//! shares (index, times, signer, sequence, visibility), and the domains'
//! states, to which each payload is dispatched. `check` decides whether an
//! entry may come next; `apply` folds it in. The appender and the verifier
//! run the same two functions, so what was accepted is exactly what a
//! replay accepts.

use std::collections::BTreeMap;

use ed25519_dalek::VerifyingKey;
use tlog::VerifierKey;

use crate::domain::{Context, DomainEvent, Domains, Refusal};
use crate::envelope::{ActorId, Envelope, MAX_VISIBILITY_ACTORS, Visibility};
use crate::event::Event;
use crate::exchange::ExchangeState;
use crate::negotiation::NegotiationState;
use crate::projection::{RowChange, RowJournal, Table};
use crate::registry::{Actor, ActorRole, Cosignature, Erasure, Registry, RegistryEvent};
use crate::rejection;

pub use crate::rejection::Rejection;
pub(crate) use crate::rejection::reject;

/// How much of an entry's payload the reader has.
#[derive(Debug, Clone, Copy)]
pub enum PayloadView<'a> {
    Present(&'a Event),
    /// Not given to this reader (visibility).
    Withheld,
    /// Erased on a lawful request; a later erasure event must explain it.
    Erased,
}

/// Entry 0's event, if the reader has it and it is the registry's.
fn genesis_event<'a>(payload: PayloadView<'a>) -> Option<&'a RegistryEvent> {
    match payload {
        PayloadView::Present(Event::Registry(event)) => Some(event),
        _ => None,
    }
}

/// What a check does with a rule that refers to a payload the state lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lacking {
    /// Replaying entries already on the log: the rule held when they were
    /// appended, and the payload it needs is withheld or since erased.
    Skip,
    /// Appending: the rule holds, or the entry is refused.
    Refuse,
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct LogState {
    domains: Domains,
    /// Some payload was withheld from this reader or erased: rules that
    /// need it are skipped rather than failed.
    partial: bool,
    tree_size: u64,
    last_checkpoint_size: u64,
    last_logged_at_ms: i64,
    /// The derived rows the entries applied changed, when recording.
    #[serde(skip)]
    rows: RowJournal,
}

pub const MAX_KIND_BYTES: usize = 64;

impl LogState {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn tree_size(&self) -> u64 {
        self.tree_size
    }

    /// The earliest time the next entry may carry.
    pub fn last_logged_at_ms(&self) -> i64 {
        self.last_logged_at_ms
    }

    pub fn registry(&self) -> &Registry {
        &self.domains.registry
    }

    pub fn negotiation(&self) -> &NegotiationState {
        &self.domains.negotiation
    }

    pub fn exchange(&self) -> &ExchangeState {
        &self.domains.exchange
    }

    pub fn origin(&self) -> Option<&str> {
        self.registry().origin()
    }

    pub fn log_vkey(&self) -> Option<&VerifierKey> {
        self.registry().log_vkey()
    }

    pub fn intermediary(&self) -> Option<&ActorId> {
        self.registry().intermediary()
    }

    pub fn actor(&self, id: &ActorId) -> Option<&Actor> {
        self.registry().actor(id)
    }

    pub fn actors(&self) -> impl Iterator<Item = &Actor> {
        self.registry().actors()
    }

    pub fn erasures(&self) -> &BTreeMap<u64, Erasure> {
        self.registry().erasures()
    }

    /// The registered parties, in id order.
    pub fn parties(&self) -> Vec<ActorId> {
        self.registry().parties()
    }

    pub fn cosignatures(&self) -> &BTreeMap<(u64, ActorId), Cosignature> {
        self.registry().cosignatures()
    }

    /// The witnesses' cosigner keys, to check checkpoint cosignatures.
    pub fn witness_keys(&self) -> Vec<VerifierKey> {
        self.registry().witness_keys()
    }

    /// The sequence number the actor's next statement must carry.
    pub fn next_seq(&self, actor: &ActorId) -> u64 {
        self.actor(actor).map_or(1, |a| a.last_seq + 1)
    }

    /// Whether `signature_line` is `witness`'s valid cosignature of this
    /// log's checkpoint of `tree_size` (the rule of a `checkpoint_cosigned`
    /// event, also asked by a server that holds fresh cosignatures before
    /// recording them).
    pub fn check_cosignature(
        &self,
        tree_size: u64,
        root_hash: &str,
        witness: &ActorId,
        signature_line: &str,
    ) -> Result<(), Rejection> {
        self.registry().check_cosignature(
            self.tree_size,
            tree_size,
            root_hash,
            witness,
            signature_line,
        )
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
            return Ok(*Registry::genesis_key(genesis_event(payload))?.public_key());
        }
        let Some(actor) = self.actor(&statement.actor) else {
            return reject(rejection!(
                "actor-not-registered",
                "actor {actor} is not registered",
                actor = statement.actor
            ));
        };
        match actor.key(&statement.key_id) {
            Some(key) if key.is_valid_at(envelope.index) => Ok(*key.vkey.public_key()),
            Some(key) => reject(rejection!(
                "key-not-valid-entry",
                "key {key_id} of {id} is {status} and not valid at entry {index}",
                key_id = statement.key_id,
                id = actor.id,
                status = key.status.as_str(),
                index = envelope.index
            )),
            None => reject(rejection!(
                "actor-no-key",
                "actor {id} has no key {key_id}",
                id = actor.id,
                key_id = statement.key_id
            )),
        }
    }

    /// Whether `envelope` may be the next entry of a replay, given what the
    /// reader has of its payload: a rule that refers to a payload this
    /// reader lacks (withheld or erased) is skipped. Does not check the
    /// signature (see [`Self::signing_key`]).
    pub fn check(&self, envelope: &Envelope, payload: PayloadView) -> Result<(), Rejection> {
        self.check_entry(envelope, payload, Lacking::Skip)
    }

    /// Whether a new entry may be appended: as [`Self::check`], but every
    /// rule holds. After an erasure the appender's state lacks a payload
    /// too, yet a new event must not lean on what is erased or never was
    /// (a stage naming nobody, a handover of an unlisted batch).
    pub fn check_new(&self, envelope: &Envelope, payload: PayloadView) -> Result<(), Rejection> {
        self.check_entry(envelope, payload, Lacking::Refuse)
    }

    fn check_entry(
        &self,
        envelope: &Envelope,
        payload: PayloadView,
        lacking: Lacking,
    ) -> Result<(), Rejection> {
        let statement = envelope.statement();
        if envelope.index != self.tree_size {
            return reject(rejection!(
                "index-comes-next",
                "index {index} where {tree_size} comes next",
                index = envelope.index,
                tree_size = self.tree_size
            ));
        }
        if statement.signed_at_ms.abs() > crate::canonical::MAX_EXACT_INTEGER {
            return reject(rejection!(
                "signed-ms-out-range",
                "signed_at_ms is out of range"
            ));
        }
        if envelope.logged_at_ms < self.last_logged_at_ms {
            return reject(rejection!(
                "logged-earlier-entry-before",
                "logged earlier than the entry before it"
            ));
        }
        if envelope.checkpoint_size < self.last_checkpoint_size
            || envelope.checkpoint_size > envelope.index
        {
            return reject(rejection!(
                "names-checkpoint-size-after-entry-before",
                "names checkpoint size {checkpoint_size} after the entry before named {last_checkpoint_size}",
                checkpoint_size = envelope.checkpoint_size,
                last_checkpoint_size = self.last_checkpoint_size
            ));
        }
        if statement.payload_sha256.len() != 64
            || !statement
                .payload_sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return reject(rejection!(
                "payload-sha256-not-64-lower-case",
                "payload_sha256 is not 64 lower-case hex digits"
            ));
        }
        if statement.kind.is_empty()
            || statement.kind.len() > MAX_KIND_BYTES
            || !statement
                .kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_')
        {
            return reject(rejection!(
                "kind-must-1-64-characters-z",
                "kind must be 1-64 characters of a-z and '_'"
            ));
        }
        self.check_visibility(&statement.visibility)?;
        let is_public_kind = RegistryEvent::KINDS.contains(&statement.kind.as_str());
        if is_public_kind && statement.visibility != Visibility::Public {
            return reject(rejection!(
                "events-must-public",
                "{kind} events must be public",
                kind = statement.kind
            ));
        }
        if self.tree_size == 0 {
            return Registry::check_genesis(statement, genesis_event(payload));
        }
        let registry = self.registry();
        if Some(statement.origin.as_str()) != registry.origin() {
            return reject(rejection!(
                "statement-another-log-origin-differs",
                "statement is for another log (origin differs)"
            ));
        }
        let Some(signer) = registry.actor(&statement.actor) else {
            return reject(rejection!(
                "actor-not-registered",
                "actor {actor} is not registered",
                actor = statement.actor
            ));
        };
        if signer.role == ActorRole::Witness {
            return reject(rejection!(
                "witnesses-cosign-checkpoints-sign-no-events",
                "witnesses cosign checkpoints and sign no events"
            ));
        }
        if statement.seq != signer.last_seq + 1 {
            return reject(rejection!(
                "sequence-not-next",
                "sequence {seq} from {actor} where {next} comes next",
                seq = statement.seq,
                actor = signer.id,
                next = signer.last_seq + 1
            ));
        }
        match payload {
            PayloadView::Present(event) => {
                if event.kind() != statement.kind {
                    return reject(rejection!(
                        "payload-event-envelope-says",
                        "payload is a {kind} event, envelope says {kind2}",
                        kind = event.kind(),
                        kind2 = statement.kind
                    ));
                }
                let context = Context {
                    signer: registry.signer_view(signer),
                    visibility: &statement.visibility,
                    log: self,
                };
                self.skip_missing(self.domains.check(&context, event), lacking)
            }
            PayloadView::Withheld if statement.visibility == Visibility::Public => reject(
                rejection!("public-payload-missing", "a public payload is missing"),
            ),
            PayloadView::Withheld | PayloadView::Erased if is_public_kind => reject(rejection!(
                "payload-which-every-reader-needs-missing",
                "a {kind} payload, which every reader needs, is missing",
                kind = statement.kind
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
            return reject(rejection!(
                "visibility-names-1-actors",
                "visibility names 1 to {max_visibility_actors} actors",
                max_visibility_actors = MAX_VISIBILITY_ACTORS
            ));
        }
        match named.iter().find(|a| self.registry().actor(a).is_none()) {
            Some(unknown) => reject(rejection!(
                "visibility-names-unregistered-actor",
                "visibility names unregistered actor {unknown}",
                unknown = unknown
            )),
            None => Ok(()),
        }
    }

    /// A reader who lacks some payloads (withheld or erased) cannot check
    /// the rules that refer to them; it skips what it cannot see.
    fn skip_missing(
        &self,
        outcome: Result<(), Refusal>,
        lacking: Lacking,
    ) -> Result<(), Rejection> {
        match outcome {
            Ok(()) => Ok(()),
            Err(Refusal::MissingReference(_)) if self.partial && lacking == Lacking::Skip => Ok(()),
            Err(refusal) => Err(refusal.into_rejection()),
        }
    }

    /// Folds in an entry that passed [`Self::check`].
    pub fn apply(&mut self, envelope: &Envelope, payload: PayloadView) {
        let index = envelope.index;
        let statement = envelope.statement();
        self.tree_size = index + 1;
        self.last_logged_at_ms = envelope.logged_at_ms;
        self.last_checkpoint_size = envelope.checkpoint_size;
        match payload {
            PayloadView::Present(event) => self.domains.apply(index, event, &mut self.rows),
            PayloadView::Withheld | PayloadView::Erased => {
                self.partial = true;
                self.domains
                    .apply_unseen(index, &statement.kind, &statement.actor);
            }
        }
        self.domains
            .registry
            .record_seq(&statement.actor, statement.seq);
    }

    /// The visibility `event` is recorded with (see [`crate::domain::Domain::visibility`]).
    pub fn visibility_for(&self, event: &Event) -> Visibility {
        self.domains.visibility(self, event)
    }

    /// The state as saved beside the log (CBOR, RFC 8949): the same state
    /// always gives the same bytes, so a replay can compare them.
    pub fn to_saved(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        ciborium::into_writer(self, &mut bytes).expect("a state encodes to memory");
        bytes
    }

    /// A state saved by [`Self::to_saved`]; its journal is off.
    pub fn from_saved(bytes: &[u8]) -> Result<LogState, String> {
        ciborium::from_reader(bytes).map_err(|e| format!("saved state: {e}"))
    }

    /// The read model storage keeps in tables, derived from the state alone.
    pub fn derived_tables(&self) -> Vec<Table> {
        self.domains.derived_tables()
    }

    /// Starts recording the row changes of each entry applied from now on
    /// (the appender's, which writes them with the entries).
    pub fn record_row_changes(&mut self) {
        self.rows.start();
    }

    /// A copy that records no row changes (a reader's, folded further apart
    /// from the appender's).
    pub fn unrecorded_copy(&self) -> LogState {
        LogState {
            rows: RowJournal::default(),
            ..self.clone()
        }
    }

    /// The row changes of the entries applied since the last call.
    pub fn take_row_changes(&mut self) -> Vec<RowChange> {
        self.rows.take()
    }
}
