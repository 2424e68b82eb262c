//! Prisoner and remains exchanges: each party's person lists (held and
//! sought, in versions), eligibility under an exchange term, stages at
//! parity in priority order, sign-off by both parties, execution per
//! person, receipts, discrepancies, and progress against the quota beside
//! each party's claims.
//!
//! Person records are the most sensitive data truce holds. The rules here
//! make lists visible to their party (and the intermediary) only, and
//! stages to the two parties, who read each other's persons by pseudonym
//! only (a stage's references reach the handing party alone, in a
//! `StageListing`); observers get aggregates (`progress`).

mod progress;
mod records;
mod rows;
mod rules;

use std::collections::{BTreeMap, BTreeSet};

use crate::domain::{Context, Domain, Refusal};
use crate::envelope::{ActorId, Visibility};
use crate::negotiation::{NegotiationState, TermRef};
use crate::projection::{RowJournal, Table};
use crate::state::LogState;
use crate::terms::{Exchange, TermRule};

pub use records::*;
pub use rows::*;

crate::domain_events! {
    /// The exchanges' events.
    pub enum ExchangeEvent {
        /// A party submits a version of its held or sought list.
        "list_submitted" => ListSubmitted(PersonList),
        /// The intermediary confirms or rejects a candidate link.
        "match_decided" => MatchDecided(MatchDecision),
        /// The intermediary proposes a stage of an exchange.
        "stage_proposed" => StageProposed(Stage),
        /// The intermediary gives the handing party the references behind a
        /// pseudonymous batch of a stage.
        "stage_batch_listed" => StageBatchListed(StageListing),
        /// A party accepts a stage.
        "stage_accepted" => StageAccepted { stage_id: String, party: ActorId },
        /// The intermediary records what happened to each person of a stage.
        "handover_recorded" => HandoverRecorded(Handover),
        /// The intermediary's public count of an executed stage.
        "stage_tallied" => StageTallied(Tally),
        /// A party confirms what it received in a stage.
        "receipt_confirmed" => ReceiptConfirmed(Receipt),
        /// A party or the intermediary records a discrepancy, with its reason.
        "discrepancy_recorded" => DiscrepancyRecorded(Discrepancy),
    }
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ExchangeState {
    /// Every version of every list, by list id; the last is current.
    lists: BTreeMap<String, Vec<(PersonList, u64)>>,
    /// Decisions on candidate links, by (sought, held), with their entry.
    matches: BTreeMap<(PersonRef, PersonRef), (MatchDecision, u64)>,
    stages: BTreeMap<String, StageRecord>,
    discrepancies: BTreeMap<String, (Discrepancy, u64)>,
    tallies: BTreeMap<String, (Tally, u64)>,
    /// How many list versions each party submitted that this reader cannot
    /// read (withheld from it, or erased): a later version may follow them.
    #[serde(default)]
    unseen_lists: BTreeMap<ActorId, u32>,
}

impl ExchangeState {
    /// The current version of a list.
    pub fn list(&self, list_id: &str) -> Option<&PersonList> {
        self.lists
            .get(list_id)
            .and_then(|versions| versions.last())
            .map(|(list, _)| list)
    }

    pub fn lists(&self) -> impl Iterator<Item = &PersonList> {
        self.lists
            .values()
            .filter_map(|versions| versions.last().map(|(list, _)| list))
    }

    pub fn stages(&self) -> impl Iterator<Item = &StageRecord> {
        self.stages.values()
    }

    pub fn stage(&self, stage_id: &str) -> Option<&StageRecord> {
        self.stages.get(stage_id)
    }

    fn person(&self, person: &PersonRef) -> Option<(&PersonList, &PersonRecord)> {
        let list = self.list(&person.list_id)?;
        list.persons
            .iter()
            .find(|p| p.person_id == person.person_id)
            .map(|p| (list, p))
    }

    /// People already in a stage that was not carried out without them:
    /// nobody is staged twice.
    pub fn staged(&self) -> BTreeSet<&PersonRef> {
        self.stages
            .values()
            .flat_map(StageRecord::known_persons)
            .collect()
    }

    /// Every discrepancy this reader's fold holds, with its entry.
    pub fn discrepancies(&self) -> impl Iterator<Item = &(Discrepancy, u64)> {
        self.discrepancies.values()
    }

    pub fn matches(&self) -> impl Iterator<Item = &(MatchDecision, u64)> {
        self.matches.values()
    }

    /// Whether the pair was already decided.
    pub fn decided(&self, sought: &PersonRef, held: &PersonRef) -> Option<MatchVerdict> {
        self.matches
            .get(&(sought.clone(), held.clone()))
            .map(|(d, _)| d.verdict)
    }
}

impl ExchangeState {
    pub fn apply_list(&mut self, entry: u64, list: &PersonList, rows: &mut RowJournal) {
        rows.upsert(&PERSON_LISTS, || [list_row(&(list.clone(), entry))]);
        self.lists
            .entry(list.list_id.clone())
            .or_default()
            .push((list.clone(), entry));
    }

    pub fn apply_match(&mut self, entry: u64, decision: &MatchDecision, rows: &mut RowJournal) {
        let recorded = (decision.clone(), entry);
        rows.upsert(&MATCH_DECISIONS, || [match_row(&recorded)]);
        self.matches
            .insert((decision.sought.clone(), decision.held.clone()), recorded);
    }

    pub fn apply_stage(&mut self, entry: u64, stage: &Stage, rows: &mut RowJournal) {
        let record = StageRecord {
            stage: stage.clone(),
            proposed_at: entry,
            listings: BTreeMap::new(),
            accepted_by: BTreeSet::new(),
            handover: None,
            receipts: BTreeMap::new(),
        };
        rows.upsert(&STAGES, || [stage_row(&record)]);
        self.stages.insert(stage.stage_id.clone(), record);
    }

    /// Changes the stage's record in place and records its new row.
    fn update_stage(
        &mut self,
        stage_id: &str,
        rows: &mut RowJournal,
        change: impl FnOnce(&mut StageRecord),
    ) {
        if let Some(record) = self.stages.get_mut(stage_id) {
            change(record);
            rows.upsert(&STAGES, || [stage_row(record)]);
        }
    }

    pub fn apply_listing(&mut self, listing: &StageListing, rows: &mut RowJournal) {
        self.update_stage(&listing.stage_id, rows, |record| {
            record
                .listings
                .insert(listing.from.clone(), listing.persons.clone());
        });
    }

    pub fn apply_acceptance(&mut self, stage_id: &str, party: &ActorId, rows: &mut RowJournal) {
        self.update_stage(stage_id, rows, |record| {
            record.accepted_by.insert(party.clone());
        });
    }

    pub fn apply_handover(&mut self, handover: &Handover, rows: &mut RowJournal) {
        self.update_stage(&handover.stage_id, rows, |record| {
            record.handover = Some(handover.clone());
        });
    }

    pub fn apply_receipt(&mut self, receipt: &Receipt, rows: &mut RowJournal) {
        self.update_stage(&receipt.stage_id, rows, |record| {
            record
                .receipts
                .insert(receipt.party.clone(), receipt.clone());
        });
    }

    pub fn apply_discrepancy(
        &mut self,
        entry: u64,
        discrepancy: &Discrepancy,
        rows: &mut RowJournal,
    ) {
        let recorded = (discrepancy.clone(), entry);
        rows.upsert(&DISCREPANCIES, || [discrepancy_row(&recorded)]);
        self.discrepancies
            .insert(discrepancy.discrepancy_id.clone(), recorded);
    }

    pub fn apply_tally(&mut self, entry: u64, tally: &Tally, rows: &mut RowJournal) {
        let recorded = (tally.clone(), entry);
        rows.upsert(&TALLIES, || tally_rows(&recorded));
        self.tallies.insert(tally.stage_id.clone(), recorded);
    }
}

impl ExchangeState {
    /// A stage's two parties (the intermediary alone if this state lacks it).
    fn stage_parties(&self, stage_id: &str) -> Visibility {
        match self.stage(stage_id) {
            Some(record) => Visibility::Actors(
                record
                    .stage
                    .batches
                    .iter()
                    .map(|b| b.from.clone())
                    .collect(),
            ),
            None => Visibility::Intermediary,
        }
    }
}

impl Domain for ExchangeState {
    type Event = ExchangeEvent;

    fn check(&self, context: &Context, event: &ExchangeEvent) -> Result<(), Refusal> {
        let signer = &context.signer;
        let visibility = context.visibility;
        let negotiation = context.log.negotiation();
        match event {
            ExchangeEvent::ListSubmitted(list) => {
                self.check_list(signer, list, visibility, negotiation)
            }
            ExchangeEvent::MatchDecided(decision) => self.check_match(signer, decision, visibility),
            ExchangeEvent::StageProposed(stage) => {
                self.check_stage(signer, stage, visibility, negotiation)
            }
            ExchangeEvent::StageBatchListed(listing) => {
                self.check_listing(signer, listing, visibility, negotiation)
            }
            ExchangeEvent::StageAccepted { stage_id, party } => {
                self.check_acceptance(signer, stage_id, party)
            }
            ExchangeEvent::HandoverRecorded(handover) => {
                if matches!(visibility, Visibility::Public) {
                    return rules::reject(crate::rejection!(
                        "handover-public",
                        "a handover names persons: it is not public"
                    ));
                }
                self.check_handover(signer, handover)
            }
            ExchangeEvent::ReceiptConfirmed(receipt) => self.check_receipt(signer, receipt),
            ExchangeEvent::StageTallied(tally) => {
                self.check_tally(signer, tally, visibility, negotiation)
            }
            ExchangeEvent::DiscrepancyRecorded(discrepancy) => {
                self.check_discrepancy(signer, discrepancy)
            }
        }
    }

    fn apply_unseen(&mut self, _entry: u64, kind: &str, actor: &ActorId) {
        if kind == "list_submitted" {
            *self.unseen_lists.entry(actor.clone()).or_default() += 1;
        }
    }

    fn apply(&mut self, entry: u64, event: &ExchangeEvent, rows: &mut RowJournal) {
        match event {
            ExchangeEvent::ListSubmitted(list) => self.apply_list(entry, list, rows),
            ExchangeEvent::MatchDecided(decision) => self.apply_match(entry, decision, rows),
            ExchangeEvent::StageProposed(stage) => self.apply_stage(entry, stage, rows),
            ExchangeEvent::StageBatchListed(listing) => self.apply_listing(listing, rows),
            ExchangeEvent::StageAccepted { stage_id, party } => {
                self.apply_acceptance(stage_id, party, rows)
            }
            ExchangeEvent::HandoverRecorded(handover) => self.apply_handover(handover, rows),
            ExchangeEvent::ReceiptConfirmed(receipt) => self.apply_receipt(receipt, rows),
            ExchangeEvent::StageTallied(tally) => self.apply_tally(entry, tally, rows),
            ExchangeEvent::DiscrepancyRecorded(discrepancy) => {
                self.apply_discrepancy(entry, discrepancy, rows)
            }
        }
    }

    /// Derived tables. Person lists are stored with their names only in the
    /// payloads (withheld from whoever may not read them); tables hold ids
    /// and counts.
    /// Persons are seen by their party and the intermediary (a list), or by
    /// the two parties of a match or stage; counts are public (a tally).
    fn visibility(&self, _log: &LogState, event: &ExchangeEvent) -> Visibility {
        match event {
            ExchangeEvent::ListSubmitted(list) => Visibility::Party(list.party.clone()),
            // A decision names a person of each party and says which of
            // their fields agreed: for the intermediary alone. The parties
            // learn of a match through the stages that hand them over.
            ExchangeEvent::MatchDecided(_) => Visibility::Intermediary,
            ExchangeEvent::StageProposed(stage) => {
                Visibility::Actors(stage.batches.iter().map(|b| b.from.clone()).collect())
            }
            // The references behind a batch: for the party that hands it over.
            ExchangeEvent::StageBatchListed(listing) => Visibility::Party(listing.from.clone()),
            ExchangeEvent::StageAccepted { stage_id, .. } => self.stage_parties(stage_id),
            ExchangeEvent::HandoverRecorded(handover) => self.stage_parties(&handover.stage_id),
            ExchangeEvent::ReceiptConfirmed(receipt) => self.stage_parties(&receipt.stage_id),
            ExchangeEvent::StageTallied(_) => Visibility::Public,
            ExchangeEvent::DiscrepancyRecorded(discrepancy) => match &discrepancy.stage_id {
                Some(stage_id) => self.stage_parties(stage_id),
                None => Visibility::Intermediary,
            },
        }
    }

    fn derived_tables(&self) -> Vec<Table> {
        vec![
            PERSON_LISTS.with_rows(self.lists.values().flatten().map(list_row).collect()),
            STAGES.with_rows(self.stages.values().map(stage_row).collect()),
            DISCREPANCIES.with_rows(self.discrepancies.values().map(discrepancy_row).collect()),
            MATCH_DECISIONS.with_rows(self.matches.values().map(match_row).collect()),
            TALLIES.with_rows(self.tallies.values().flat_map(tally_rows).collect()),
        ]
    }
}
