//! Events: the payloads of log entries, named in the past tense. Each
//! payload carries its kind, so the payload hash also commits to it.

use serde::{Deserialize, Serialize};

use crate::canonical::{CanonicalError, from_canonical, to_canonical};
use crate::envelope::ActorId;
use crate::exchange::{Discrepancy, Handover, MatchDecision, PersonList, Receipt, Stage, Tally};
use crate::negotiation::{Agreement, Claim, Document, Position, Round};

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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Event {
    /// Entry 0: names the log and its operator, and registers the
    /// intermediary's event key. Signed by that key.
    LogCreated {
        origin: String,
        /// The verifier key of the log's checkpoint signer.
        log_vkey: String,
        intermediary: ActorId,
        intermediary_name: String,
        /// The intermediary's event-signing verifier key (type 0x01).
        intermediary_vkey: String,
    },
    /// The intermediary registers a party, an observer or a witness.
    ActorRegistered {
        actor: ActorId,
        role: ActorRole,
        name: String,
        vkey: String,
    },
    /// A new key replaces the actor's current one from the next entry on.
    /// Signed by the actor with its current key, or by the intermediary.
    KeyRotated { actor: ActorId, new_vkey: String },
    /// A key stops being valid after this entry; the actor has no key until
    /// the intermediary rotates a new one in.
    KeyRevoked {
        actor: ActorId,
        key_id: String,
        reason: String,
    },
    /// A party or observer declares who holds its signing key. Signed by
    /// the actor with that key, so the intermediary cannot declare it alone.
    KeyCustodyDeclared { actor: ActorId, custody: KeyCustody },
    /// A witness cosigned the checkpoint of `tree_size` with root
    /// `root_hash` (base64); the intermediary records the cosignature line
    /// so every reader can check it and nobody can drop it unnoticed.
    CheckpointCosigned {
        tree_size: u64,
        root_hash: String,
        witness: ActorId,
        signature_line: String,
    },
    /// The intermediary records a round of talks.
    RoundRecorded(Round),
    /// A party tables its memorandum (or the intermediary a joint one).
    DocumentTabled(Document),
    /// A party states its position on a term.
    PositionTaken(Position),
    /// The intermediary records the terms both parties agreed at a round.
    AgreementRecorded(Agreement),
    /// A party (or, for a news source, the intermediary) states a figure.
    ClaimRecorded(Claim),
    /// A party submits a version of its held or sought list.
    ListSubmitted(PersonList),
    /// The intermediary confirms or rejects a candidate link.
    MatchDecided(MatchDecision),
    /// The intermediary proposes a stage of an exchange.
    StageProposed(Stage),
    /// A party accepts a stage.
    StageAccepted { stage_id: String, party: ActorId },
    /// The intermediary records what happened to each person of a stage.
    HandoverRecorded(Handover),
    /// The intermediary's public count of an executed stage.
    StageTallied(Tally),
    /// A party confirms what it received in a stage.
    ReceiptConfirmed(Receipt),
    /// A party or the intermediary records a discrepancy, with its reason.
    DiscrepancyRecorded(Discrepancy),
    /// A free-text remark on the record (e.g. the intermediary's minutes).
    RemarkRecorded { subject: String, text: String },
    /// On a lawful erasure request the intermediary erases an entry's
    /// payload; the envelope and its hash stay, so the tree still verifies.
    PayloadErased {
        entry_index: u64,
        legal_basis: String,
    },
}

impl Event {
    pub fn kind(&self) -> &'static str {
        match self {
            Event::LogCreated { .. } => "log_created",
            Event::ActorRegistered { .. } => "actor_registered",
            Event::KeyRotated { .. } => "key_rotated",
            Event::KeyRevoked { .. } => "key_revoked",
            Event::KeyCustodyDeclared { .. } => "key_custody_declared",
            Event::CheckpointCosigned { .. } => "checkpoint_cosigned",
            Event::RoundRecorded(_) => "round_recorded",
            Event::DocumentTabled(_) => "document_tabled",
            Event::PositionTaken(_) => "position_taken",
            Event::AgreementRecorded(_) => "agreement_recorded",
            Event::ClaimRecorded(_) => "claim_recorded",
            Event::ListSubmitted(_) => "list_submitted",
            Event::MatchDecided(_) => "match_decided",
            Event::StageProposed(_) => "stage_proposed",
            Event::StageAccepted { .. } => "stage_accepted",
            Event::HandoverRecorded(_) => "handover_recorded",
            Event::StageTallied(_) => "stage_tallied",
            Event::ReceiptConfirmed(_) => "receipt_confirmed",
            Event::DiscrepancyRecorded(_) => "discrepancy_recorded",
            Event::RemarkRecorded { .. } => "remark_recorded",
            Event::PayloadErased { .. } => "payload_erased",
        }
    }

    pub fn to_payload(&self) -> Vec<u8> {
        to_canonical(self)
    }

    pub fn from_payload(bytes: &[u8]) -> Result<Self, CanonicalError> {
        from_canonical(bytes)
    }
}

/// Kinds every reader needs to check the log (who may sign with which key,
/// and why a payload is gone): they are public, never withheld or erased.
pub const PUBLIC_KINDS: [&str; 7] = [
    "log_created",
    "actor_registered",
    "key_rotated",
    "key_revoked",
    "key_custody_declared",
    "checkpoint_cosigned",
    "payload_erased",
];
