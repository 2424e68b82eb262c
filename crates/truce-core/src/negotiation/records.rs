//! The negotiation record's records: what its events carry, and the views
//! its queries answer with.

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::envelope::ActorId;
use crate::terms::Term;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delegation {
    pub party: ActorId,
    /// Heads of delegation are public officials; no private person is named.
    pub head: String,
    pub head_title: String,
    pub members: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Round {
    pub round_id: String,
    pub number: u32,
    pub date: NaiveDate,
    pub venue: String,
    pub host: Option<String>,
    pub mediators: Vec<String>,
    pub started_at: Option<DateTime<FixedOffset>>,
    pub ended_at: Option<DateTime<FixedOffset>>,
    pub duration_minutes: Option<u32>,
    pub delegations: Vec<Delegation>,
    pub summary: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    Memorandum,
    JointStatement,
    Proposal,
    Reply,
}

impl DocumentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Memorandum => "memorandum",
            DocumentKind::JointStatement => "joint statement",
            DocumentKind::Proposal => "proposal",
            DocumentKind::Reply => "reply",
        }
    }
}

/// A party must answer a document by a date ("a week to consider").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deadline {
    pub party: ActorId,
    pub due: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    pub document_id: String,
    pub round_id: Option<String>,
    /// Not `kind`: the event's tag already uses that name.
    pub document_kind: DocumentKind,
    /// The parties tabling it; the signer must be the one party for a
    /// memorandum, or the intermediary for a joint statement.
    pub tabled_by: Vec<ActorId>,
    pub title: String,
    pub date: NaiveDate,
    pub terms: Vec<Term>,
    pub response_deadline: Option<Deadline>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TermRef {
    pub document_id: String,
    pub term_id: String,
}

impl std::fmt::Display for TermRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", self.document_id, self.term_id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Stance {
    Proposed,
    Accepted,
    Rejected,
    Countered { counter: TermRef },
    Withdrawn,
}

impl Stance {
    pub fn as_str(&self) -> &'static str {
        match self {
            Stance::Proposed => "proposed",
            Stance::Accepted => "accepted",
            Stance::Rejected => "rejected",
            Stance::Countered { .. } => "countered",
            Stance::Withdrawn => "withdrawn",
        }
    }

    /// Whether the stance answers a document put to the party.
    pub(super) fn answers(&self) -> bool {
        matches!(
            self,
            Stance::Accepted | Stance::Rejected | Stance::Countered { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Position {
    pub party: ActorId,
    pub term: TermRef,
    pub stance: Stance,
    pub date: NaiveDate,
    /// The document the position was stated in, if any.
    pub source_document: Option<String>,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agreement {
    pub agreement_id: String,
    pub round_id: String,
    pub date: NaiveDate,
    pub terms: Vec<TermRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Claimant {
    /// A party's own figure, signed by that party.
    Party { party: ActorId },
    /// A named source (a news agency, an official's statement), recorded by
    /// the intermediary.
    Source { name: String },
}

impl Claimant {
    pub fn label(&self) -> String {
        match self {
            Claimant::Party { party } => party.to_string(),
            Claimant::Source { name } => name.clone(),
        }
    }
}

/// A statement of a figure about a commitment. Claims are never merged or
/// averaged: each stands beside the others and beside the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    pub claim_id: String,
    pub claimant: Claimant,
    pub date: NaiveDate,
    /// What is counted, e.g. "bodies handed over to Ukraine".
    pub measure: String,
    pub figure: u64,
    pub term: Option<TermRef>,
    /// When the figure counts what one party handed over under the term,
    /// that party: the record's own count then stands beside the claim.
    /// (Added after the first payloads: absent means none.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handed_over_by: Option<ActorId>,
    /// Where the claim was made (a statement, an article).
    pub source: String,
    pub note: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recorded<T> {
    pub value: T,
    /// The log entry that recorded it.
    pub entry: u64,
}

/// Where a response deadline stands on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadlineStatus {
    Answered { on: NaiveDate, late: bool },
    Due { days_left: i64 },
    Overdue { days: i64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineView {
    pub document_id: String,
    /// Set when the deadline is a term's rather than the whole document's.
    pub term_id: Option<String>,
    pub party: ActorId,
    pub due: NaiveDate,
    pub status: DeadlineStatus,
}
