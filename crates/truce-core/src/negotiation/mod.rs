//! The negotiation record: rounds and delegations, documents and their
//! terms, each party's positions over time, response deadlines, agreements,
//! and claims (figures a party or a news source states, never merged).

mod records;
mod rows;
mod rules;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use chrono::NaiveDate;

use crate::canonical::to_canonical;
use crate::domain::{Context, Domain, Refusal};
use crate::envelope::ActorId;
use crate::envelope::Visibility;
use crate::projection::{RowJournal, Table};
use crate::state::LogState;
use crate::terms::Term;

pub use records::*;
pub use rows::*;
pub use rules::check_id;

/// Bounds on what one record may hold.
pub const MAX_TEXT_BYTES: usize = 20_000;
pub const MAX_TERMS_PER_DOCUMENT: usize = 200;
pub const MAX_NAMES: usize = 100;

crate::domain_events! {
    /// The negotiation record's events.
    pub enum NegotiationEvent {
        /// The intermediary records a round of talks.
        "round_recorded" => RoundRecorded(Round),
        /// A party tables its memorandum (or the intermediary a joint one).
        "document_tabled" => DocumentTabled(Document),
        /// A party states its position on a term.
        "position_taken" => PositionTaken(Position),
        /// The intermediary records the terms both parties agreed at a round.
        "agreement_recorded" => AgreementRecorded(Agreement),
        /// A party (or, for a news source, the intermediary) states a figure.
        "claim_recorded" => ClaimRecorded(Claim),
    }
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct NegotiationState {
    rounds: BTreeMap<String, Recorded<Round>>,
    documents: BTreeMap<String, Recorded<Document>>,
    /// In log order; tabling a document records its parties' `proposed`.
    positions: Vec<Recorded<Position>>,
    agreements: BTreeMap<String, Recorded<Agreement>>,
    claims: BTreeMap<String, Recorded<Claim>>,
    /// The ids of the claims about each term, built on first use: it
    /// follows from `claims`, so it is not saved, and a term's progress
    /// reads its own claims without passing over every other.
    #[serde(skip)]
    claims_by_term: OnceLock<BTreeMap<TermRef, BTreeSet<String>>>,
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

    /// The claims about `term`, in the order of [`Self::claims`].
    pub fn claims_about(&self, term: &TermRef) -> impl Iterator<Item = &Recorded<Claim>> {
        let index = self.claims_by_term.get_or_init(|| {
            let mut index: BTreeMap<TermRef, BTreeSet<String>> = BTreeMap::new();
            for (id, claim) in &self.claims {
                if let Some(term) = &claim.value.term {
                    index.entry(term.clone()).or_default().insert(id.clone());
                }
            }
            index
        });
        let ids = index.get(term).into_iter().flatten();
        ids.filter_map(|id| self.claims.get(id))
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
        if let (Some(index), Some(term)) = (self.claims_by_term.get_mut(), &claim.term) {
            let ids = index.entry(term.clone()).or_default();
            ids.insert(claim.claim_id.clone());
        }
        self.claims.insert(claim.claim_id.clone(), recorded);
    }
}

impl Domain for NegotiationState {
    type Event = NegotiationEvent;

    fn check(&self, context: &Context, event: &NegotiationEvent) -> Result<(), Refusal> {
        let signer = &context.signer;
        let registry = context.log.registry();
        let is_party = |id: &ActorId| registry.is_party(id);
        let outcome = match event {
            NegotiationEvent::RoundRecorded(round) => self.check_round(signer, round, &is_party),
            NegotiationEvent::DocumentTabled(document) => {
                self.check_document(signer, document, &is_party)
            }
            NegotiationEvent::PositionTaken(position) => self.check_position(signer, position),
            NegotiationEvent::AgreementRecorded(agreement) => {
                self.check_agreement(signer, agreement, &registry.parties())
            }
            NegotiationEvent::ClaimRecorded(claim) => self.check_claim(signer, claim),
        };
        Ok(outcome?)
    }

    fn apply(&mut self, entry: u64, event: &NegotiationEvent, rows: &mut RowJournal) {
        match event {
            NegotiationEvent::RoundRecorded(round) => self.apply_round(entry, round, rows),
            NegotiationEvent::DocumentTabled(document) => {
                self.apply_document(entry, document, rows)
            }
            NegotiationEvent::PositionTaken(position) => self.apply_position(entry, position, rows),
            NegotiationEvent::AgreementRecorded(agreement) => {
                self.apply_agreement(entry, agreement, rows)
            }
            NegotiationEvent::ClaimRecorded(claim) => self.apply_claim(entry, claim, rows),
        }
    }

    /// The negotiation record is public.
    fn visibility(&self, _log: &LogState, _event: &NegotiationEvent) -> Visibility {
        Visibility::Public
    }

    fn derived_tables(&self) -> Vec<Table> {
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
