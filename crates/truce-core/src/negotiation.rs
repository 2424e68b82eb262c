//! The negotiation record: rounds and delegations, documents and their
//! terms, each party's positions over time, response deadlines, agreements,
//! and claims (figures a party or a news source states, never merged).

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::canonical::to_canonical;
use crate::envelope::ActorId;
use crate::projection::{Cell, Row, RowJournal, Table, TableSpec};
use crate::state::Rejection;
use crate::terms::Term;

/// Bounds on what one record may hold.
pub const MAX_TEXT_BYTES: usize = 20_000;
pub const MAX_TERMS_PER_DOCUMENT: usize = 200;
pub const MAX_NAMES: usize = 100;

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
    fn answers(&self) -> bool {
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

#[derive(Debug, Clone)]
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

/// Who signs a negotiation event, as the log's registry knows them.
pub struct SignerView<'a> {
    pub id: &'a ActorId,
    pub is_intermediary: bool,
    pub is_party: bool,
}

fn reject<T>(message: impl Into<String>) -> Result<T, Rejection> {
    Err(Rejection(message.into()))
}

/// Identifiers appear in public envelopes and URLs: a-z, 0-9, '-', '.'.
pub fn check_id(field: &str, value: &str) -> Result<(), Rejection> {
    let valid = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if valid {
        Ok(())
    } else {
        reject(format!(
            "{field} {value:?} must be 1-64 characters of a-z, 0-9, '-' and '.'"
        ))
    }
}

fn check_text(field: &str, value: &str, required: bool) -> Result<(), Rejection> {
    if required && value.trim().is_empty() {
        return reject(format!("{field} is empty"));
    }
    if value.len() > MAX_TEXT_BYTES {
        return reject(format!("{field} is longer than {MAX_TEXT_BYTES} bytes"));
    }
    Ok(())
}

#[derive(Debug, Clone, Default)]
pub struct NegotiationState {
    rounds: BTreeMap<String, Recorded<Round>>,
    documents: BTreeMap<String, Recorded<Document>>,
    /// In log order; tabling a document records its parties' `proposed`.
    positions: Vec<Recorded<Position>>,
    agreements: BTreeMap<String, Recorded<Agreement>>,
    claims: BTreeMap<String, Recorded<Claim>>,
}

impl NegotiationState {
    pub fn rounds(&self) -> impl Iterator<Item = &Recorded<Round>> {
        self.rounds.values()
    }

    pub fn documents(&self) -> impl Iterator<Item = &Recorded<Document>> {
        self.documents.values()
    }

    pub fn document(&self, id: &str) -> Option<&Document> {
        self.documents.get(id).map(|d| &d.value)
    }

    pub fn positions(&self) -> &[Recorded<Position>] {
        &self.positions
    }

    pub fn agreements(&self) -> impl Iterator<Item = &Recorded<Agreement>> {
        self.agreements.values()
    }

    pub fn claims(&self) -> impl Iterator<Item = &Recorded<Claim>> {
        self.claims.values()
    }

    pub fn term(&self, term: &TermRef) -> Option<&Term> {
        self.document(&term.document_id)?
            .terms
            .iter()
            .find(|t| t.term_id == term.term_id)
    }

    /// The party's stance on a term as of `date` (the latest position dated
    /// on or before it; among equal dates, the later entry).
    pub fn stance_at(&self, party: &ActorId, term: &TermRef, date: NaiveDate) -> Option<&Stance> {
        self.positions
            .iter()
            .filter(|p| p.value.party == *party && p.value.term == *term && p.value.date <= date)
            .max_by_key(|p| (p.value.date, p.entry))
            .map(|p| &p.value.stance)
    }

    /// Every response deadline and where it stands on `today`.
    pub fn deadlines(&self, today: NaiveDate) -> Vec<DeadlineView> {
        let mut views = Vec::new();
        for d in self.documents.values() {
            let document = &d.value;
            // A document's deadline is answered by a stance on any of its
            // terms; a term's by a stance on that term.
            if let Some(deadline) = &document.response_deadline {
                views.push(self.deadline_view(document, None, deadline, today));
            }
            for term in &document.terms {
                if let Some(deadline) = &term.response_deadline {
                    views.push(self.deadline_view(document, Some(&term.term_id), deadline, today));
                }
            }
        }
        views.sort_by(|a, b| {
            (a.due, &a.document_id, &a.term_id).cmp(&(b.due, &b.document_id, &b.term_id))
        });
        views
    }

    fn deadline_view(
        &self,
        document: &Document,
        term_id: Option<&String>,
        deadline: &Deadline,
        today: NaiveDate,
    ) -> DeadlineView {
        let answered = self
            .positions
            .iter()
            .filter(|p| {
                p.value.party == deadline.party
                    && p.value.term.document_id == document.document_id
                    && term_id.is_none_or(|t| p.value.term.term_id == *t)
                    && p.value.stance.answers()
            })
            .map(|p| p.value.date)
            .min();
        let status = match answered {
            Some(on) => DeadlineStatus::Answered {
                on,
                late: on > deadline.due,
            },
            None if today <= deadline.due => DeadlineStatus::Due {
                days_left: (deadline.due - today).num_days(),
            },
            None => DeadlineStatus::Overdue {
                days: (today - deadline.due).num_days(),
            },
        };
        DeadlineView {
            document_id: document.document_id.clone(),
            term_id: term_id.cloned(),
            party: deadline.party.clone(),
            due: deadline.due,
            status,
        }
    }

    pub fn check_round(
        &self,
        signer: &SignerView,
        round: &Round,
        is_party: &dyn Fn(&ActorId) -> bool,
    ) -> Result<(), Rejection> {
        if !signer.is_intermediary {
            return reject("the intermediary records rounds");
        }
        check_id("round_id", &round.round_id)?;
        if self.rounds.contains_key(&round.round_id) {
            return reject(format!("round {} is already recorded", round.round_id));
        }
        check_text("venue", &round.venue, true)?;
        check_text("summary", &round.summary, false)?;
        if let (Some(start), Some(end)) = (round.started_at, round.ended_at)
            && end < start
        {
            return reject(format!("round {}: ends before it starts", round.round_id));
        }
        if round.delegations.len() > MAX_NAMES || round.mediators.len() > MAX_NAMES {
            return reject("too many delegations or mediators");
        }
        for delegation in &round.delegations {
            if !is_party(&delegation.party) {
                return reject(format!(
                    "delegation of {}, which is not a registered party",
                    delegation.party
                ));
            }
            check_text("head", &delegation.head, true)?;
            if delegation.members.len() > MAX_NAMES {
                return reject("too many delegation members");
            }
        }
        Ok(())
    }

    pub fn check_document(
        &self,
        signer: &SignerView,
        document: &Document,
        is_party: &dyn Fn(&ActorId) -> bool,
    ) -> Result<(), Rejection> {
        check_id("document_id", &document.document_id)?;
        if self.documents.contains_key(&document.document_id) {
            return reject(format!(
                "document {} is already recorded",
                document.document_id
            ));
        }
        if let Some(round) = &document.round_id
            && !self.rounds.contains_key(round)
        {
            return reject(format!(
                "document {}: round {round} is not recorded",
                document.document_id
            ));
        }
        check_text("title", &document.title, true)?;
        if document.tabled_by.is_empty() || document.tabled_by.iter().any(|p| !is_party(p)) {
            return reject(format!(
                "document {}: tabled_by must name registered parties",
                document.document_id
            ));
        }
        let own = document.tabled_by.len() == 1 && document.tabled_by[0] == *signer.id;
        if !(own || signer.is_intermediary) {
            return reject(format!(
                "document {}: a party tables only its own documents; the intermediary records joint ones",
                document.document_id
            ));
        }
        if document.terms.is_empty() || document.terms.len() > MAX_TERMS_PER_DOCUMENT {
            return reject(format!(
                "document {}: 1 to {MAX_TERMS_PER_DOCUMENT} terms",
                document.document_id
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for term in &document.terms {
            check_id("term_id", &term.term_id)?;
            if !seen.insert(&term.term_id) {
                return reject(format!(
                    "document {}: term {} appears twice",
                    document.document_id, term.term_id
                ));
            }
            check_text("term title", &term.title, true)?;
            if let Some(deadline) = &term.response_deadline
                && (!is_party(&deadline.party) || deadline.due < document.date)
            {
                return reject(format!(
                    "document {}, term {}: the deadline names a registered party and a day after the document",
                    document.document_id, term.term_id
                ));
            }
            check_term_rule(&document.document_id, term)?;
        }
        if let Some(deadline) = &document.response_deadline {
            if !is_party(&deadline.party) {
                return reject(format!(
                    "deadline for {}, which is not a registered party",
                    deadline.party
                ));
            }
            if deadline.due < document.date {
                return reject(format!(
                    "document {}: the response is due before the document",
                    document.document_id
                ));
            }
        }
        Ok(())
    }

    pub fn check_position(
        &self,
        signer: &SignerView,
        position: &Position,
    ) -> Result<(), Rejection> {
        if position.party != *signer.id || !signer.is_party {
            return reject("a party states only its own positions");
        }
        let Some(document) = self.document(&position.term.document_id) else {
            return reject(format!("term {}: no such document", position.term));
        };
        if self.term(&position.term).is_none() {
            return reject(format!("term {}: no such term", position.term));
        }
        if position.date < document.date {
            return reject(format!(
                "position on {} dated before the document",
                position.term
            ));
        }
        if let Stance::Countered { counter } = &position.stance
            && self.term(counter).is_none()
        {
            return reject(format!("counter-proposal {counter} is not a recorded term"));
        }
        if let Some(source) = &position.source_document
            && !self.documents.contains_key(source)
        {
            return reject(format!("source document {source} is not recorded"));
        }
        check_text("note", &position.note, false)
    }

    pub fn check_agreement(
        &self,
        signer: &SignerView,
        agreement: &Agreement,
        parties: &[ActorId],
    ) -> Result<(), Rejection> {
        if !signer.is_intermediary {
            return reject("the intermediary records agreements");
        }
        check_id("agreement_id", &agreement.agreement_id)?;
        if self.agreements.contains_key(&agreement.agreement_id) {
            return reject(format!(
                "agreement {} is already recorded",
                agreement.agreement_id
            ));
        }
        if !self.rounds.contains_key(&agreement.round_id) {
            return reject(format!("round {} is not recorded", agreement.round_id));
        }
        if agreement.terms.is_empty() {
            return reject("an agreement holds at least one term");
        }
        // Agreed means every party's stance on the date is proposed or accepted.
        for term in &agreement.terms {
            if self.term(term).is_none() {
                return reject(format!("term {term}: no such term"));
            }
            for party in parties {
                match self.stance_at(party, term, agreement.date) {
                    Some(Stance::Proposed | Stance::Accepted) => {}
                    Some(other) => {
                        return reject(format!(
                            "term {term}: {party}'s position is {}",
                            other.as_str()
                        ));
                    }
                    None => return reject(format!("term {term}: {party} has taken no position")),
                }
            }
        }
        Ok(())
    }

    pub fn check_claim(&self, signer: &SignerView, claim: &Claim) -> Result<(), Rejection> {
        check_id("claim_id", &claim.claim_id)?;
        if self.claims.contains_key(&claim.claim_id) {
            return reject(format!("claim {} is already recorded", claim.claim_id));
        }
        match &claim.claimant {
            Claimant::Party { party } if party == signer.id && signer.is_party => {}
            Claimant::Party { party } => {
                return reject(format!("only {party} states its own claims"));
            }
            Claimant::Source { name } => {
                if !signer.is_intermediary {
                    return reject("the intermediary records claims of news sources");
                }
                check_text("source name", name, true)?;
            }
        }
        check_text("measure", &claim.measure, true)?;
        crate::canonical::check_exact_count("figure", claim.figure).map_err(Rejection)?;
        if let Some(party) = &claim.handed_over_by {
            let tabled_by = claim
                .term
                .as_ref()
                .and_then(|t| self.document(&t.document_id))
                .map(|d| &d.tabled_by);
            if !tabled_by.is_some_and(|parties| parties.contains(party)) {
                return reject(format!(
                    "claim {}: handed_over_by names {party}, not a party to the claim's term",
                    claim.claim_id
                ));
            }
        }
        check_text("source", &claim.source, true)?;
        check_text("note", &claim.note, false)?;
        if let Some(term) = &claim.term
            && self.term(term).is_none()
        {
            return reject(format!(
                "claim {}: term {term} is not recorded",
                claim.claim_id
            ));
        }
        Ok(())
    }

    pub fn apply_round(&mut self, entry: u64, round: &Round, rows: &mut RowJournal) {
        let recorded = Recorded {
            value: round.clone(),
            entry,
        };
        rows.upsert(&ROUNDS, || [round_row(&recorded)]);
        rows.upsert(&DELEGATIONS, || delegation_rows(&recorded));
        self.rounds.insert(round.round_id.clone(), recorded);
    }

    pub fn apply_document(&mut self, entry: u64, document: &Document, rows: &mut RowJournal) {
        // Tabling a document states its authors' `proposed` on each term.
        for party in &document.tabled_by {
            for term in &document.terms {
                let position = Position {
                    party: party.clone(),
                    term: TermRef {
                        document_id: document.document_id.clone(),
                        term_id: term.term_id.clone(),
                    },
                    stance: Stance::Proposed,
                    date: document.date,
                    source_document: Some(document.document_id.clone()),
                    note: String::new(),
                };
                self.apply_position(entry, &position, rows);
            }
        }
        let recorded = Recorded {
            value: document.clone(),
            entry,
        };
        rows.upsert(&DOCUMENTS, || [document_row(&recorded)]);
        rows.upsert(&TERMS, || term_rows(&recorded));
        self.documents
            .insert(document.document_id.clone(), recorded);
    }

    pub fn apply_position(&mut self, entry: u64, position: &Position, rows: &mut RowJournal) {
        let recorded = Recorded {
            value: position.clone(),
            entry,
        };
        rows.upsert(&POSITIONS, || [position_row(&recorded)]);
        self.positions.push(recorded);
    }

    pub fn apply_agreement(&mut self, entry: u64, agreement: &Agreement, rows: &mut RowJournal) {
        let recorded = Recorded {
            value: agreement.clone(),
            entry,
        };
        rows.upsert(&AGREEMENTS, || [agreement_row(&recorded)]);
        self.agreements
            .insert(agreement.agreement_id.clone(), recorded);
    }

    pub fn apply_claim(&mut self, entry: u64, claim: &Claim, rows: &mut RowJournal) {
        let recorded = Recorded {
            value: claim.clone(),
            entry,
        };
        rows.upsert(&CLAIMS, || [claim_row(&recorded)]);
        self.claims.insert(claim.claim_id.clone(), recorded);
    }

    pub fn derived_tables(&self) -> Vec<Table> {
        let rounds = || self.rounds.values();
        let documents = || self.documents.values();
        vec![
            ROUNDS.with_rows(rounds().map(round_row).collect()),
            DELEGATIONS.with_rows(rounds().flat_map(delegation_rows).collect()),
            DOCUMENTS.with_rows(documents().map(document_row).collect()),
            TERMS.with_rows(documents().flat_map(term_rows).collect()),
            POSITIONS.with_rows(self.positions.iter().map(position_row).collect()),
            AGREEMENTS.with_rows(self.agreements.values().map(agreement_row).collect()),
            CLAIMS.with_rows(self.claims.values().map(claim_row).collect()),
        ]
    }
}

pub static ROUNDS: TableSpec = TableSpec {
    name: "rounds",
    columns: &[
        "round_id",
        "number",
        "date",
        "venue",
        "host",
        "started_at",
        "ended_at",
        "duration_minutes",
        "recorded_at",
    ],
    key_columns: 1,
    entry_column: 8,
};

fn round_row(r: &Recorded<Round>) -> Row {
    let round = &r.value;
    vec![
        Cell::text(&round.round_id),
        Cell::int(round.number as u64),
        Cell::Text(round.date.to_string()),
        Cell::text(&round.venue),
        Cell::opt_text(round.host.as_deref()),
        Cell::opt_text(round.started_at.map(|t| t.to_rfc3339()).as_deref()),
        Cell::opt_text(round.ended_at.map(|t| t.to_rfc3339()).as_deref()),
        round
            .duration_minutes
            .map_or(Cell::Null, |m| Cell::int(m as u64)),
        Cell::int(r.entry),
    ]
}

pub static DELEGATIONS: TableSpec = TableSpec {
    name: "delegations",
    columns: &[
        "round_id",
        "party",
        "head",
        "head_title",
        "members",
        "recorded_at",
    ],
    key_columns: 2,
    entry_column: 5,
};

fn delegation_rows(r: &Recorded<Round>) -> Vec<Row> {
    r.value
        .delegations
        .iter()
        .map(|d| {
            vec![
                Cell::text(&r.value.round_id),
                Cell::text(d.party.as_str()),
                Cell::text(&d.head),
                Cell::text(&d.head_title),
                Cell::Text(d.members.join("; ")),
                Cell::int(r.entry),
            ]
        })
        .collect()
}

pub static DOCUMENTS: TableSpec = TableSpec {
    name: "documents",
    columns: &[
        "document_id",
        "round_id",
        "document_kind",
        "tabled_by",
        "title",
        "date",
        "deadline_party",
        "deadline_due",
        "recorded_at",
    ],
    key_columns: 1,
    entry_column: 8,
};

fn document_row(d: &Recorded<Document>) -> Row {
    let doc = &d.value;
    let tabled_by: Vec<&str> = doc.tabled_by.iter().map(ActorId::as_str).collect();
    let deadline = doc.response_deadline.as_ref();
    vec![
        Cell::text(&doc.document_id),
        Cell::opt_text(doc.round_id.as_deref()),
        Cell::text(doc.document_kind.as_str()),
        Cell::Text(tabled_by.join(",")),
        Cell::text(&doc.title),
        Cell::Text(doc.date.to_string()),
        Cell::opt_text(deadline.map(|x| x.party.as_str())),
        Cell::opt_text(deadline.map(|x| x.due.to_string()).as_deref()),
        Cell::int(d.entry),
    ]
}

pub static TERMS: TableSpec = TableSpec {
    name: "terms",
    columns: &[
        "document_id",
        "term_id",
        "type",
        "title",
        "rule",
        "recorded_at",
    ],
    key_columns: 2,
    entry_column: 5,
};

fn term_rows(d: &Recorded<Document>) -> Vec<Row> {
    d.value
        .terms
        .iter()
        .map(|t| {
            vec![
                Cell::text(&d.value.document_id),
                Cell::text(&t.term_id),
                Cell::text(t.rule.type_name()),
                Cell::text(&t.title),
                Cell::Text(String::from_utf8(to_canonical(&t.rule)).expect("JSON is UTF-8")),
                Cell::int(d.entry),
            ]
        })
        .collect()
}

pub static POSITIONS: TableSpec = TableSpec {
    name: "positions",
    columns: &[
        "recorded_at",
        "party",
        "document_id",
        "term_id",
        "stance",
        "counter",
        "date",
        "source_document",
        "note",
    ],
    key_columns: 4,
    entry_column: 0,
};

fn position_row(p: &Recorded<Position>) -> Row {
    let position = &p.value;
    let counter = match &position.stance {
        Stance::Countered { counter } => Cell::Text(counter.to_string()),
        _ => Cell::Null,
    };
    vec![
        Cell::int(p.entry),
        Cell::text(position.party.as_str()),
        Cell::text(&position.term.document_id),
        Cell::text(&position.term.term_id),
        Cell::text(position.stance.as_str()),
        counter,
        Cell::Text(position.date.to_string()),
        Cell::opt_text(position.source_document.as_deref()),
        Cell::text(&position.note),
    ]
}

pub static AGREEMENTS: TableSpec = TableSpec {
    name: "agreements",
    columns: &["agreement_id", "round_id", "date", "terms", "recorded_at"],
    key_columns: 1,
    entry_column: 4,
};

fn agreement_row(a: &Recorded<Agreement>) -> Row {
    let terms: Vec<String> = a.value.terms.iter().map(TermRef::to_string).collect();
    vec![
        Cell::text(&a.value.agreement_id),
        Cell::text(&a.value.round_id),
        Cell::Text(a.value.date.to_string()),
        Cell::Text(terms.join(",")),
        Cell::int(a.entry),
    ]
}

pub static CLAIMS: TableSpec = TableSpec {
    name: "claims",
    columns: &[
        "claim_id",
        "claimant",
        "date",
        "measure",
        "figure",
        "term",
        "source",
        "note",
        "recorded_at",
    ],
    key_columns: 1,
    entry_column: 8,
};

fn claim_row(c: &Recorded<Claim>) -> Row {
    let claim = &c.value;
    vec![
        Cell::text(&claim.claim_id),
        Cell::Text(claim.claimant.label()),
        Cell::Text(claim.date.to_string()),
        Cell::text(&claim.measure),
        Cell::int(claim.figure),
        Cell::opt_text(claim.term.as_ref().map(TermRef::to_string).as_deref()),
        Cell::text(&claim.source),
        Cell::text(&claim.note),
        Cell::int(c.entry),
    ]
}

/// Rules that make a term checkable at all.
fn check_term_rule(document_id: &str, term: &Term) -> Result<(), Rejection> {
    use crate::terms::{Quantity, TermRule};
    let at = format!("document {document_id}, term {}", term.term_id);
    match &term.rule {
        TermRule::Ceasefire(c) => {
            if c.domains.is_empty() {
                return reject(format!("{at}: a ceasefire covers at least one domain"));
            }
            if let (Some(start), Some(end)) = (c.start, c.end)
                && end <= start
            {
                return reject(format!("{at}: the ceasefire ends before it starts"));
            }
            if c.end.is_some() && c.duration_days.is_some() {
                return reject(format!("{at}: give an end or a duration, not both"));
            }
            Ok(())
        }
        TermRule::Exchange(e) => {
            if e.ratio.0 == 0 || e.ratio.1 == 0 {
                return reject(format!("{at}: the ratio has two positive numbers"));
            }
            if let Quantity::NForN { n: 0 } = e.quantity {
                return reject(format!("{at}: N for N needs N > 0"));
            }
            Ok(())
        }
        TermRule::ChildrenReturn(c) => check_text("channel", &c.channel, true),
        TermRule::Provision(p) => check_text("provision text", &p.text, true),
    }
}
