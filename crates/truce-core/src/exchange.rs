//! Prisoner and remains exchanges: each party's person lists (held and
//! sought, in versions), eligibility under an exchange term, stages at
//! parity in priority order, sign-off by both parties, execution per
//! person, receipts, discrepancies, and progress against the quota beside
//! each party's claims.
//!
//! Person records are the most sensitive data truce holds. The rules here
//! make lists visible to their party (and the intermediary) only, and
//! stages to the two parties; observers get aggregates (`progress`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::envelope::{ActorId, Visibility};
use crate::negotiation::{NegotiationState, SignerView, TermRef, check_id};
use crate::projection::{Cell, Row, RowJournal, Table, TableSpec};
use crate::state::Rejection;
use crate::terms::{Assessment, Exchange, PersonFacts, QuotaProgress, Status, TermRule};

/// Bounds on what one submission may hold (the list's: see [`crate::limits`]).
pub use crate::limits::MAX_PERSONS_PER_LIST;
pub const MAX_PERSONS_PER_STAGE: usize = 20_000;
const MAX_FIELD_BYTES: usize = 500;

/// The plausible dates of birth. The core has no clock and a person list
/// carries no date of its own, so the latest is a fixed bound; raising it
/// later only accepts more, so older lists still replay.
pub const EARLIEST_DATE_OF_BIRTH: NaiveDate = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap();
pub const LATEST_DATE_OF_BIRTH: NaiveDate = NaiveDate::from_ymd_opt(2099, 12, 31).unwrap();

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    /// People the party holds.
    Held,
    /// People the party asks back.
    Sought,
}

impl ListKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ListKind::Held => "held",
            ListKind::Sought => "sought",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Identification {
    Dna,
    Documents,
    Unidentified,
}

/// For remains: where and when they were recovered, and how identified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemainsDetails {
    pub recovered_on: Option<NaiveDate>,
    pub recovered_at: Option<String>,
    pub identification: Identification,
    pub case_ref: Option<String>,
}

/// A medical commission's finding (GC III art. 110-113).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommissionAssessment {
    pub assessment: Assessment,
    pub date: NaiveDate,
    pub commission: String,
}

/// One person on a list: the fields of GC III art. 17 and 122, with the
/// commission's assessments and, for remains, recovery and identification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonRecord {
    /// The listing party's own identifier for the record (never a name).
    pub person_id: String,
    pub family_name: String,
    pub given_names: String,
    /// Father's name or patronymic.
    pub patronymic: Option<String>,
    pub rank: Option<String>,
    pub service_number: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub place_of_birth: Option<String>,
    pub unit: Option<String>,
    pub captured_on: Option<NaiveDate>,
    pub captured_at: Option<String>,
    /// The Power the person depends on.
    pub depends_on: Option<String>,
    /// The person to notify.
    pub notify: Option<String>,
    pub status: Option<Status>,
    pub assessments: Vec<CommissionAssessment>,
    pub remains: Option<RemainsDetails>,
}

impl PersonRecord {
    /// What the term's predicates may read: minimum data.
    pub fn facts(&self) -> PersonFacts {
        PersonFacts {
            date_of_birth: self.date_of_birth,
            assessments: self.assessments.iter().map(|a| a.assessment).collect(),
            status: self.status,
        }
    }

    /// Field-level validation; messages name the field, never its value.
    pub fn check(&self) -> Result<(), String> {
        check_id("person_id", &self.person_id).map_err(|e| e.0)?;
        if self.family_name.trim().is_empty()
            && self.given_names.trim().is_empty()
            && self.remains.is_none()
        {
            return Err("family_name and given_names are both empty".to_owned());
        }
        let texts = [
            ("family_name", Some(&self.family_name)),
            ("given_names", Some(&self.given_names)),
            ("patronymic", self.patronymic.as_ref()),
            ("rank", self.rank.as_ref()),
            ("service_number", self.service_number.as_ref()),
            ("place_of_birth", self.place_of_birth.as_ref()),
            ("unit", self.unit.as_ref()),
            ("captured_at", self.captured_at.as_ref()),
            ("depends_on", self.depends_on.as_ref()),
            ("notify", self.notify.as_ref()),
        ];
        for (field, value) in texts {
            if value.is_some_and(|v| v.len() > MAX_FIELD_BYTES || v.chars().any(char::is_control)) {
                return Err(format!(
                    "{field} is longer than {MAX_FIELD_BYTES} bytes or holds control characters"
                ));
            }
        }
        if self
            .date_of_birth
            .is_some_and(|birth| !(EARLIEST_DATE_OF_BIRTH..=LATEST_DATE_OF_BIRTH).contains(&birth))
        {
            return Err(format!(
                "field date_of_birth: not between {EARLIEST_DATE_OF_BIRTH} and {LATEST_DATE_OF_BIRTH}"
            ));
        }
        if let (Some(birth), Some(captured)) = (self.date_of_birth, self.captured_on)
            && captured < birth
        {
            return Err("captured_on is before date_of_birth".to_owned());
        }
        Ok(())
    }
}

/// A party's list for an exchange term. A new version supersedes the
/// previous one; every version stays on the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonList {
    pub list_id: String,
    pub party: ActorId,
    /// Not `kind`: the event's tag already uses that name.
    pub list_kind: ListKind,
    pub term: TermRef,
    pub version: u32,
    pub persons: Vec<PersonRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonRef {
    pub list_id: String,
    pub person_id: String,
}

/// The people one party hands over in a stage, from its held list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageBatch {
    pub from: ActorId,
    pub persons: Vec<PersonRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    pub stage_id: String,
    pub term: TermRef,
    pub date: NaiveDate,
    /// E.g. "Belarus-Ukraine border".
    pub place: String,
    /// Exactly one batch per party to the term.
    pub batches: Vec<StageBatch>,
    /// Why this stage may depart from the term's ratio (e.g. remains handed
    /// over one way as they were recovered). Without it parity is a rule.
    pub parity_waiver: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Outcome {
    HandedOver,
    RefusedToReturn,
    NotPresent,
    Deceased,
    Other { reason: String },
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::HandedOver => "handed_over",
            Outcome::RefusedToReturn => "refused_to_return",
            Outcome::NotPresent => "not_present",
            Outcome::Deceased => "deceased",
            Outcome::Other { .. } => "other",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonOutcome {
    pub outcome: Outcome,
    pub person: PersonRef,
}

/// What happened to each person of a stage, recorded by the intermediary
/// at the crossing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Handover {
    pub stage_id: String,
    pub outcomes: Vec<PersonOutcome>,
}

/// A party confirms how many people it received in a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    pub stage_id: String,
    pub party: ActorId,
    pub received: u64,
    pub note: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscrepancyKind {
    /// Listed for a stage but not handed over.
    ListedNotHandedOver,
    /// Remains of the other side's soldiers found among one's own.
    ForeignRemainsFound,
    /// A receipt that differs from the handover record.
    CountDiffers,
    Other,
}

impl DiscrepancyKind {
    pub const ALL: [DiscrepancyKind; 4] = [
        DiscrepancyKind::ListedNotHandedOver,
        DiscrepancyKind::ForeignRemainsFound,
        DiscrepancyKind::CountDiffers,
        DiscrepancyKind::Other,
    ];

    /// Its name in payloads (serde's), in derived tables and on the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            DiscrepancyKind::ListedNotHandedOver => "listed_not_handed_over",
            DiscrepancyKind::ForeignRemainsFound => "foreign_remains_found",
            DiscrepancyKind::CountDiffers => "count_differs",
            DiscrepancyKind::Other => "other",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Discrepancy {
    pub discrepancy_id: String,
    pub stage_id: Option<String>,
    pub reported_by: ActorId,
    pub discrepancy_kind: DiscrepancyKind,
    pub count: u64,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchVerdict {
    Confirmed,
    Rejected,
}

/// The intermediary's decision on a candidate link between a person a party
/// seeks and a person the other party holds, from the matching engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchDecision {
    pub sought: PersonRef,
    pub held: PersonRef,
    /// The engine's match probability in thousandths (integers only, for
    /// the canonical encoding).
    pub score_permille: u32,
    /// Which fields agreed and how; never values.
    pub explanation: String,
    pub verdict: MatchVerdict,
}

/// How many people one party handed over in a stage, in one category.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TallyCount {
    pub from: ActorId,
    /// The term's priority category, or "all" for a term without any.
    pub category: String,
    pub handed_over: u64,
}

/// The public aggregate of an executed stage: counts only, no persons. The
/// intermediary records it with the handover; the rules hold it to the
/// handover's own counts. Observers read progress from tallies alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tally {
    pub stage_id: String,
    pub term: TermRef,
    pub date: NaiveDate,
    pub counts: Vec<TallyCount>,
}

/// Where a stage is in its sign-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageStatus {
    /// Proposed; waiting for the parties' acceptance.
    Proposed,
    /// Both parties accepted: it may be carried out.
    Accepted,
    /// Carried out; waiting for receipts.
    Executed,
    /// Both parties confirmed what they received.
    Confirmed,
}

impl StageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StageStatus::Proposed => "proposed",
            StageStatus::Accepted => "accepted",
            StageStatus::Executed => "executed",
            StageStatus::Confirmed => "confirmed",
        }
    }
}

#[derive(Debug, Clone)]
pub struct StageRecord {
    pub stage: Stage,
    pub proposed_at: u64,
    pub accepted_by: BTreeSet<ActorId>,
    pub handover: Option<Handover>,
    pub receipts: BTreeMap<ActorId, Receipt>,
}

impl StageRecord {
    pub fn status(&self) -> StageStatus {
        let parties = self.stage.batches.len();
        match (&self.handover, self.accepted_by.len(), self.receipts.len()) {
            (Some(_), _, receipts) if receipts == parties => StageStatus::Confirmed,
            (Some(_), _, _) => StageStatus::Executed,
            (None, accepted, _) if accepted == parties => StageStatus::Accepted,
            (None, _, _) => StageStatus::Proposed,
        }
    }

    /// Handed over by `party` in this stage.
    pub fn handed_over_by(&self, party: &ActorId) -> u64 {
        let Some(handover) = &self.handover else {
            return 0;
        };
        let Some(batch) = self.stage.batches.iter().find(|b| b.from == *party) else {
            return 0;
        };
        let from: BTreeSet<&PersonRef> = batch.persons.iter().collect();
        handover
            .outcomes
            .iter()
            .filter(|o| o.outcome == Outcome::HandedOver && from.contains(&o.person))
            .count() as u64
    }
}

/// Progress of an exchange term, for every reader (no names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeProgress {
    pub term: TermRef,
    /// The parties in the term's ratio order.
    pub parties: (ActorId, ActorId),
    pub quota: QuotaProgress,
    pub stages: Vec<StageProgress>,
    /// (category, handed over by each party), in the term's priority order.
    pub by_category: Vec<(String, (u64, u64))>,
    pub discrepancies: u64,
}

/// A claim about an exchange term beside what the record counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimBeside {
    pub claim: crate::negotiation::Claim,
    /// What the record counts as handed over by the claim's party, when the
    /// claim says which party's handovers it counts.
    pub recorded: Option<u64>,
}

impl ClaimBeside {
    /// Claimed minus recorded (6,060 claimed against 6,057 recorded: +3).
    pub fn difference(&self) -> Option<i64> {
        self.recorded.map(|r| self.claim.figure as i64 - r as i64)
    }
}

impl ExchangeProgress {
    /// Every claim about this term, each beside the record's own count;
    /// claims are never merged with each other or with the record.
    pub fn claims_beside(&self, negotiation: &NegotiationState) -> Vec<ClaimBeside> {
        negotiation
            .claims()
            .filter(|c| c.value.term.as_ref() == Some(&self.term))
            .map(|c| ClaimBeside {
                recorded: c.value.handed_over_by.as_ref().and_then(|party| {
                    if *party == self.parties.0 {
                        Some(self.quota.handed_over.0)
                    } else if *party == self.parties.1 {
                        Some(self.quota.handed_over.1)
                    } else {
                        None
                    }
                }),
                claim: c.value.clone(),
            })
            .collect()
    }
}

/// One stage in a term's progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageProgress {
    pub stage_id: String,
    pub date: NaiveDate,
    /// None when this reader does not see the stage, only its tally.
    pub status: Option<StageStatus>,
    /// Handed over by each party, in the term's order.
    pub handed_over: (u64, u64),
    /// The public tally entry the counts come from, once carried out.
    pub entry: Option<u64>,
}

/// Why an exchange event is refused: a broken rule, or a reference to
/// data this reader does not have (a list withheld from it, or erased),
/// which a reader with a partial copy skips instead of failing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Rule(Rejection),
    MissingReference(Rejection),
}

impl Refusal {
    pub fn into_rejection(self) -> Rejection {
        match self {
            Refusal::Rule(r) | Refusal::MissingReference(r) => r,
        }
    }
}

impl From<Rejection> for Refusal {
    fn from(rejection: Rejection) -> Self {
        Refusal::Rule(rejection)
    }
}

fn reject<T>(message: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal::Rule(Rejection(message.into())))
}

fn missing<T>(message: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal::MissingReference(Rejection(message.into())))
}

#[derive(Debug, Clone, Default)]
pub struct ExchangeState {
    /// Every version of every list, by list id; the last is current.
    lists: BTreeMap<String, Vec<(PersonList, u64)>>,
    /// Decisions on candidate links, by (sought, held), with their entry.
    matches: BTreeMap<(PersonRef, PersonRef), (MatchDecision, u64)>,
    stages: BTreeMap<String, StageRecord>,
    discrepancies: BTreeMap<String, (Discrepancy, u64)>,
    tallies: BTreeMap<String, (Tally, u64)>,
}

/// The exchange term a reference names, and the two parties in ratio order.
fn exchange_term<'a>(
    negotiation: &'a NegotiationState,
    term: &TermRef,
) -> Result<(&'a Exchange, (ActorId, ActorId)), Refusal> {
    let Some(found) = negotiation.term(term) else {
        return reject(format!("term {term} is not recorded"));
    };
    let TermRule::Exchange(exchange) = &found.rule else {
        return reject(format!("term {term} is not an exchange"));
    };
    let document = negotiation
        .document(&term.document_id)
        .expect("the term's document exists");
    match document.tabled_by.as_slice() {
        [first, second] => Ok((exchange, (first.clone(), second.clone()))),
        _ => reject(format!("term {term} is not agreed between two parties")),
    }
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
            .flat_map(|s| s.stage.batches.iter().flat_map(|b| b.persons.iter()))
            .collect()
    }

    /// Why a person is or is not eligible under an exchange term.
    pub fn eligibility(exchange: &Exchange, person: &PersonRecord) -> Result<usize, Vec<String>> {
        if exchange.categories.is_empty() {
            return Ok(0);
        }
        exchange.priority_of(&person.facts())
    }

    pub fn check_list(
        &self,
        signer: &SignerView,
        list: &PersonList,
        visibility: &Visibility,
        negotiation: &NegotiationState,
    ) -> Result<(), Refusal> {
        if list.party != *signer.id || !signer.is_party {
            return reject("a party submits only its own lists");
        }
        if *visibility != Visibility::Party(list.party.clone()) {
            return reject(format!(
                "a list is visible to its party alone: use visibility party:{}",
                list.party
            ));
        }
        check_id("list_id", &list.list_id)?;
        let (_, parties) = exchange_term(negotiation, &list.term)?;
        if list.party != parties.0 && list.party != parties.1 {
            return reject(format!("{} is not a party to {}", list.party, list.term));
        }
        let expected_version = match self.lists.get(&list.list_id).and_then(|v| v.last()) {
            None => 1,
            Some((previous, _)) => {
                if previous.party != list.party
                    || previous.list_kind != list.list_kind
                    || previous.term != list.term
                {
                    return reject(format!(
                        "list {}: a new version keeps its party, kind and term",
                        list.list_id
                    ));
                }
                previous.version + 1
            }
        };
        if list.version != expected_version {
            return reject(format!(
                "list {}: version {} where {expected_version} comes next",
                list.list_id, list.version
            ));
        }
        if list.persons.len() > MAX_PERSONS_PER_LIST {
            return reject(format!(
                "list {}: more than {MAX_PERSONS_PER_LIST} persons",
                list.list_id
            ));
        }
        let mut seen = BTreeSet::new();
        for (row, person) in list.persons.iter().enumerate() {
            person.check().map_err(|why| {
                Refusal::Rule(Rejection(format!(
                    "list {}, person {}: {why}",
                    list.list_id,
                    row + 1
                )))
            })?;
            if !seen.insert(&person.person_id) {
                return reject(format!(
                    "list {}, person {}: person_id appears twice",
                    list.list_id,
                    row + 1
                ));
            }
        }
        Ok(())
    }

    pub fn check_stage(
        &self,
        signer: &SignerView,
        stage: &Stage,
        visibility: &Visibility,
        negotiation: &NegotiationState,
    ) -> Result<(), Refusal> {
        if !signer.is_intermediary {
            return reject("the intermediary proposes stages");
        }
        check_id("stage_id", &stage.stage_id)?;
        if self.stages.contains_key(&stage.stage_id) {
            return reject(format!("stage {} is already proposed", stage.stage_id));
        }
        let (exchange, parties) = exchange_term(negotiation, &stage.term)?;
        let both: BTreeSet<ActorId> = [parties.0.clone(), parties.1.clone()].into();
        if *visibility != Visibility::Actors(both) {
            return reject(format!(
                "a stage is visible to its two parties: use visibility actors:{},{}",
                parties.0, parties.1
            ));
        }
        let batch = |party: &ActorId| stage.batches.iter().find(|b| b.from == *party);
        let (Some(first), Some(second)) = (batch(&parties.0), batch(&parties.1)) else {
            return reject(format!(
                "stage {}: one batch from each of {} and {}",
                stage.stage_id, parties.0, parties.1
            ));
        };
        if stage.batches.len() != 2 {
            return reject(format!("stage {}: exactly two batches", stage.stage_id));
        }
        let (a, b) = (exchange.ratio.0 as usize, exchange.ratio.1 as usize);
        if let Some(reason) = &stage.parity_waiver {
            if reason.trim().is_empty() {
                return reject(format!(
                    "stage {}: a parity waiver states its reason",
                    stage.stage_id
                ));
            }
        } else if first.persons.len() * b != second.persons.len() * a {
            return reject(format!(
                "stage {}: {} for {} breaks the ratio {a}:{b}",
                stage.stage_id,
                first.persons.len(),
                second.persons.len()
            ));
        }
        let staged_here = first.persons.len() + second.persons.len();
        if staged_here == 0 || staged_here > MAX_PERSONS_PER_STAGE {
            return reject(format!(
                "stage {}: 1 to {MAX_PERSONS_PER_STAGE} persons",
                stage.stage_id
            ));
        }
        let staged = self.staged();
        let mut in_this_stage = BTreeSet::new();
        for batch in [first, second] {
            let mut worst_rank = 0;
            for person in &batch.persons {
                if staged.contains(person) || !in_this_stage.insert(person) {
                    return reject(format!(
                        "stage {}: {}/{} is already staged",
                        stage.stage_id, person.list_id, person.person_id
                    ));
                }
                let Some((list, record)) = self.person(person) else {
                    return missing(format!(
                        "stage {}: no person {}/{}",
                        stage.stage_id, person.list_id, person.person_id
                    ));
                };
                if list.party != batch.from
                    || list.list_kind != ListKind::Held
                    || list.term != stage.term
                {
                    return reject(format!(
                        "stage {}: {}/{} is not on {}'s held list for {}",
                        stage.stage_id, person.list_id, person.person_id, batch.from, stage.term
                    ));
                }
                let rank = Self::eligibility(exchange, record).map_err(|why| {
                    Refusal::Rule(Rejection(format!(
                        "stage {}: {}/{} is not eligible ({})",
                        stage.stage_id,
                        person.list_id,
                        person.person_id,
                        why.join("; ")
                    )))
                })?;
                worst_rank = worst_rank.max(rank);
            }
            // Priority: nobody of a better category may be left waiting.
            let waiting = self.eligible_unstaged(exchange, &stage.term, &batch.from, &staged);
            if let Some((rank, waiting)) = waiting
                .iter()
                .find(|(rank, p)| *rank < worst_rank && !in_this_stage.contains(p))
            {
                return reject(format!(
                    "stage {}: {}/{} (priority {}) waits while a lower priority is staged",
                    stage.stage_id,
                    waiting.list_id,
                    waiting.person_id,
                    rank + 1
                ));
            }
        }
        Ok(())
    }

    /// `party`'s eligible held persons for a term not yet staged, best
    /// priority first (ties by list and person id): the order stages take.
    pub fn eligible_unstaged(
        &self,
        exchange: &Exchange,
        term: &TermRef,
        party: &ActorId,
        staged: &BTreeSet<&PersonRef>,
    ) -> Vec<(usize, PersonRef)> {
        let mut eligible: Vec<(usize, PersonRef)> = self
            .lists()
            .filter(|list| {
                list.party == *party && list.list_kind == ListKind::Held && list.term == *term
            })
            .flat_map(|list| {
                list.persons.iter().filter_map(|person| {
                    let rank = Self::eligibility(exchange, person).ok()?;
                    Some((
                        rank,
                        PersonRef {
                            list_id: list.list_id.clone(),
                            person_id: person.person_id.clone(),
                        },
                    ))
                })
            })
            .filter(|(_, person)| !staged.contains(person))
            .collect();
        eligible.sort();
        eligible
    }
}

impl ExchangeState {
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

    pub fn check_match(
        &self,
        signer: &SignerView,
        decision: &MatchDecision,
        visibility: &Visibility,
    ) -> Result<(), Refusal> {
        if !signer.is_intermediary {
            return reject("the intermediary decides on matches");
        }
        if matches!(visibility, Visibility::Public) {
            return reject("a match names persons: it is not public");
        }
        let (Some((sought_list, _)), Some((held_list, _))) =
            (self.person(&decision.sought), self.person(&decision.held))
        else {
            return missing("a matched person is not on a current list");
        };
        if sought_list.list_kind != ListKind::Sought || held_list.list_kind != ListKind::Held {
            return reject("a match links a sought person to a held one");
        }
        if sought_list.party == held_list.party || sought_list.term != held_list.term {
            return reject(
                "a match links one party's sought list to the other's held list for the same term",
            );
        }
        let parties: BTreeSet<ActorId> =
            [sought_list.party.clone(), held_list.party.clone()].into();
        if *visibility != Visibility::Actors(parties) {
            return reject("a match is visible to the two parties it concerns");
        }
        if decision.score_permille > 1000 || decision.explanation.len() > 2_000 {
            return reject("score_permille is 0 to 1000 and the explanation at most 2,000 bytes");
        }
        if self
            .matches
            .contains_key(&(decision.sought.clone(), decision.held.clone()))
        {
            return reject("this pair was already decided");
        }
        if decision.verdict == MatchVerdict::Confirmed {
            let taken = self.matches.values().any(|(d, _)| {
                d.verdict == MatchVerdict::Confirmed
                    && (d.sought == decision.sought || d.held == decision.held)
            });
            if taken {
                return reject("one of these persons is already matched to someone else");
            }
        }
        Ok(())
    }

    pub fn apply_match(&mut self, entry: u64, decision: &MatchDecision, rows: &mut RowJournal) {
        let recorded = (decision.clone(), entry);
        rows.upsert(&MATCH_DECISIONS, || [match_row(&recorded)]);
        self.matches
            .insert((decision.sought.clone(), decision.held.clone()), recorded);
    }

    pub fn check_acceptance(
        &self,
        signer: &SignerView,
        stage_id: &str,
        party: &ActorId,
    ) -> Result<(), Refusal> {
        if party != signer.id || !signer.is_party {
            return reject("a party accepts a stage for itself");
        }
        let Some(record) = self.stages.get(stage_id) else {
            return missing(format!("stage {stage_id} is not proposed"));
        };
        if !record.stage.batches.iter().any(|b| b.from == *party) {
            return reject(format!("{party} is not a party to stage {stage_id}"));
        }
        if record.status() != StageStatus::Proposed || record.accepted_by.contains(party) {
            return reject(format!(
                "stage {stage_id} is {}; {party} cannot accept it now",
                record.status().as_str()
            ));
        }
        Ok(())
    }

    pub fn check_handover(&self, signer: &SignerView, handover: &Handover) -> Result<(), Refusal> {
        if !signer.is_intermediary {
            return reject("the intermediary records a handover");
        }
        let Some(record) = self.stages.get(&handover.stage_id) else {
            return missing(format!("stage {} is not proposed", handover.stage_id));
        };
        if record.status() != StageStatus::Accepted {
            return reject(format!(
                "stage {} is {}: it is carried out only once both parties accepted it",
                handover.stage_id,
                record.status().as_str()
            ));
        }
        let staged: BTreeSet<&PersonRef> = record
            .stage
            .batches
            .iter()
            .flat_map(|b| b.persons.iter())
            .collect();
        let recorded: BTreeSet<&PersonRef> = handover.outcomes.iter().map(|o| &o.person).collect();
        if recorded.len() != handover.outcomes.len() || recorded != staged {
            return reject(format!(
                "handover of stage {}: one outcome for each staged person",
                handover.stage_id
            ));
        }
        Ok(())
    }

    pub fn check_receipt(&self, signer: &SignerView, receipt: &Receipt) -> Result<(), Refusal> {
        if receipt.party != *signer.id || !signer.is_party {
            return reject("a party confirms only its own receipt");
        }
        let Some(record) = self.stages.get(&receipt.stage_id) else {
            return missing(format!("stage {} is not proposed", receipt.stage_id));
        };
        if record.status() != StageStatus::Executed || record.receipts.contains_key(&receipt.party)
        {
            return reject(format!(
                "stage {} is {}: receipts follow the handover, once per party",
                receipt.stage_id,
                record.status().as_str()
            ));
        }
        let Some(other) = record
            .stage
            .batches
            .iter()
            .find(|b| b.from != receipt.party)
        else {
            return reject(format!(
                "{} is not a party to stage {}",
                receipt.party, receipt.stage_id
            ));
        };
        if !record.stage.batches.iter().any(|b| b.from == receipt.party) {
            return reject(format!(
                "{} is not a party to stage {}",
                receipt.party, receipt.stage_id
            ));
        }
        let handed_over = record.handed_over_by(&other.from);
        if receipt.received > handed_over {
            return reject(format!(
                "stage {}: {} received cannot exceed the {handed_over} handed over",
                receipt.stage_id, receipt.received
            ));
        }
        Ok(())
    }

    pub fn check_discrepancy(
        &self,
        signer: &SignerView,
        discrepancy: &Discrepancy,
    ) -> Result<(), Refusal> {
        if discrepancy.reported_by != *signer.id {
            return reject("a discrepancy is reported in the reporter's own name");
        }
        check_id("discrepancy_id", &discrepancy.discrepancy_id)?;
        if self.discrepancies.contains_key(&discrepancy.discrepancy_id) {
            return reject(format!(
                "discrepancy {} is already recorded",
                discrepancy.discrepancy_id
            ));
        }
        if let Some(stage_id) = &discrepancy.stage_id
            && !self.stages.contains_key(stage_id)
        {
            return missing(format!("stage {stage_id} is not proposed"));
        }
        if discrepancy.reason.trim().is_empty() {
            return reject("a discrepancy states its reason");
        }
        if let Err(why) = crate::canonical::check_exact_count("count", discrepancy.count) {
            return reject(why);
        }
        Ok(())
    }

    pub fn apply_list(&mut self, entry: u64, list: &PersonList, rows: &mut RowJournal) {
        rows.upsert(&PERSON_LISTS, || [list_row(&(list.clone(), entry))]);
        self.lists
            .entry(list.list_id.clone())
            .or_default()
            .push((list.clone(), entry));
    }

    pub fn apply_stage(&mut self, entry: u64, stage: &Stage, rows: &mut RowJournal) {
        let record = StageRecord {
            stage: stage.clone(),
            proposed_at: entry,
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

    /// The intermediary's planner: the next stage of up to `per_side`
    /// people from the first party (the second side scaled by the ratio),
    /// each side taking its eligible, unstaged held persons in priority
    /// order. Refuses when either side has nobody left.
    pub fn plan_stage(
        &self,
        negotiation: &NegotiationState,
        term: &TermRef,
        stage_id: &str,
        date: NaiveDate,
        place: &str,
        per_side: usize,
    ) -> Result<Stage, Rejection> {
        let (exchange, parties) =
            exchange_term(negotiation, term).map_err(Refusal::into_rejection)?;
        let staged = self.staged();
        let first = self.eligible_unstaged(exchange, term, &parties.0, &staged);
        let second = self.eligible_unstaged(exchange, term, &parties.1, &staged);
        let (a, b) = (exchange.ratio.0 as usize, exchange.ratio.1 as usize);
        let groups = (first.len() / a).min(second.len() / b).min(per_side / a);
        if groups == 0 {
            return Err(Rejection(format!(
                "no stage possible for {term}: a side has no eligible person left"
            )));
        }
        let take = |people: Vec<(usize, PersonRef)>, n: usize| {
            people.into_iter().take(n).map(|(_, p)| p).collect()
        };
        Ok(Stage {
            stage_id: stage_id.to_owned(),
            term: term.clone(),
            date,
            place: place.to_owned(),
            batches: vec![
                StageBatch {
                    from: parties.0.clone(),
                    persons: take(first, groups * a),
                },
                StageBatch {
                    from: parties.1.clone(),
                    persons: take(second, groups * b),
                },
            ],
            parity_waiver: None,
        })
    }

    /// The tally of a stage from its outcomes: who handed over how many,
    /// by the term's category of each person (from the giver's held list).
    pub fn tally(
        &self,
        negotiation: &NegotiationState,
        stage: &Stage,
        outcomes: &[PersonOutcome],
    ) -> Result<Tally, Refusal> {
        let (exchange, _) = exchange_term(negotiation, &stage.term)?;
        let mut counts: BTreeMap<(ActorId, String), u64> = BTreeMap::new();
        for batch in &stage.batches {
            for person in &batch.persons {
                let handed_over = outcomes
                    .iter()
                    .any(|o| o.person == *person && o.outcome == Outcome::HandedOver);
                if !handed_over {
                    continue;
                }
                let Some((_, record)) = self.person(person) else {
                    return missing(format!("no person {}/{}", person.list_id, person.person_id));
                };
                let category = match Self::eligibility(exchange, record) {
                    Ok(rank) => exchange
                        .categories
                        .get(rank)
                        .map_or("all".to_owned(), |c| c.name.clone()),
                    Err(_) => "not eligible".to_owned(),
                };
                *counts.entry((batch.from.clone(), category)).or_default() += 1;
            }
        }
        Ok(Tally {
            stage_id: stage.stage_id.clone(),
            term: stage.term.clone(),
            date: stage.date,
            counts: counts
                .into_iter()
                .map(|((from, category), handed_over)| TallyCount {
                    from,
                    category,
                    handed_over,
                })
                .collect(),
        })
    }

    pub fn check_tally(
        &self,
        signer: &SignerView,
        tally: &Tally,
        visibility: &Visibility,
        negotiation: &NegotiationState,
    ) -> Result<(), Refusal> {
        if !signer.is_intermediary {
            return reject("the intermediary records tallies");
        }
        if *visibility != Visibility::Public {
            return reject("a tally is public: counts, never persons");
        }
        if self.tallies.contains_key(&tally.stage_id) {
            return reject(format!("stage {} is already tallied", tally.stage_id));
        }
        exchange_term(negotiation, &tally.term)?;
        let Some(record) = self.stages.get(&tally.stage_id) else {
            return missing(format!("stage {} is not proposed", tally.stage_id));
        };
        let Some(handover) = &record.handover else {
            return reject(format!("stage {} is not carried out yet", tally.stage_id));
        };
        let expected = self.tally(negotiation, &record.stage, &handover.outcomes)?;
        if expected != *tally {
            return reject(format!(
                "the tally of stage {} differs from its handover",
                tally.stage_id
            ));
        }
        Ok(())
    }

    pub fn apply_tally(&mut self, entry: u64, tally: &Tally, rows: &mut RowJournal) {
        let recorded = (tally.clone(), entry);
        rows.upsert(&TALLIES, || tally_rows(&recorded));
        self.tallies.insert(tally.stage_id.clone(), recorded);
    }

    /// Progress of an exchange term against its quota, from the public
    /// tallies (so every reader, observers included, gets the same
    /// aggregates), with each stage's status where this reader sees it.
    pub fn progress(
        &self,
        negotiation: &NegotiationState,
        term: &TermRef,
    ) -> Result<ExchangeProgress, Rejection> {
        let (exchange, parties) =
            exchange_term(negotiation, term).map_err(Refusal::into_rejection)?;
        let side = |from: &ActorId, n: u64| if *from == parties.0 { (n, 0) } else { (0, n) };
        let add = |a: (u64, u64), b: (u64, u64)| (a.0 + b.0, a.1 + b.1);
        let mut totals = (0, 0);
        let mut by_category: Vec<(String, (u64, u64))> = exchange
            .categories
            .iter()
            .map(|c| (c.name.clone(), (0, 0)))
            .collect();
        let mut stages = Vec::new();
        for (tally, tally_entry) in self.tallies.values().filter(|(t, _)| t.term == *term) {
            let mut stage_counts = (0, 0);
            for count in &tally.counts {
                let counted = side(&count.from, count.handed_over);
                stage_counts = add(stage_counts, counted);
                match by_category
                    .iter_mut()
                    .find(|(name, _)| *name == count.category)
                {
                    Some((_, sum)) => *sum = add(*sum, counted),
                    None => by_category.push((count.category.clone(), counted)),
                }
            }
            totals = add(totals, stage_counts);
            let status = self.stages.get(&tally.stage_id).map(StageRecord::status);
            stages.push(StageProgress {
                stage_id: tally.stage_id.clone(),
                date: tally.date,
                status,
                handed_over: stage_counts,
                entry: Some(*tally_entry),
            });
        }
        // Stages this reader sees that are not carried out yet.
        for record in self.stages.values().filter(|r| r.stage.term == *term) {
            if !self.tallies.contains_key(&record.stage.stage_id) {
                stages.push(StageProgress {
                    stage_id: record.stage.stage_id.clone(),
                    date: record.stage.date,
                    status: Some(record.status()),
                    handed_over: (0, 0),
                    entry: None,
                });
            }
        }
        stages.sort_by(|x, y| (x.date, &x.stage_id).cmp(&(y.date, &y.stage_id)));
        let stage_ids: BTreeSet<&String> = stages.iter().map(|s| &s.stage_id).collect();
        let discrepancies = self
            .discrepancies
            .values()
            .filter(|(d, _)| d.stage_id.as_ref().is_some_and(|s| stage_ids.contains(s)))
            .map(|(d, _)| d.count)
            .sum();
        Ok(ExchangeProgress {
            term: term.clone(),
            quota: exchange.progress(totals),
            parties,
            stages,
            by_category,
            discrepancies,
        })
    }

    /// Derived tables. Person lists are stored with their names only in the
    /// payloads (withheld from whoever may not read them); tables hold ids
    /// and counts.
    pub fn derived_tables(&self) -> Vec<Table> {
        vec![
            PERSON_LISTS.with_rows(self.lists.values().flatten().map(list_row).collect()),
            STAGES.with_rows(self.stages.values().map(stage_row).collect()),
            DISCREPANCIES.with_rows(self.discrepancies.values().map(discrepancy_row).collect()),
            MATCH_DECISIONS.with_rows(self.matches.values().map(match_row).collect()),
            TALLIES.with_rows(self.tallies.values().flat_map(tally_rows).collect()),
        ]
    }
}

pub static PERSON_LISTS: TableSpec = TableSpec {
    name: "person_lists",
    columns: &[
        "list_id",
        "version",
        "party",
        "list_kind",
        "term",
        "persons",
        "recorded_at",
    ],
    key_columns: 2,
    entry_column: 6,
};

fn list_row((list, entry): &(PersonList, u64)) -> Row {
    vec![
        Cell::text(&list.list_id),
        Cell::int(list.version as u64),
        Cell::text(list.party.as_str()),
        Cell::text(list.list_kind.as_str()),
        Cell::Text(list.term.to_string()),
        Cell::int(list.persons.len() as u64),
        Cell::int(*entry),
    ]
}

pub static STAGES: TableSpec = TableSpec {
    name: "stages",
    columns: &[
        "stage_id",
        "term",
        "date",
        "place",
        "status",
        "accepted_by",
        "receipts",
        "proposed_at",
    ],
    key_columns: 1,
    entry_column: 7,
};

fn stage_row(r: &StageRecord) -> Row {
    let accepted: Vec<&str> = r.accepted_by.iter().map(ActorId::as_str).collect();
    let receipts: Vec<String> = r
        .receipts
        .values()
        .map(|x| format!("{} {}", x.party, x.received))
        .collect();
    vec![
        Cell::text(&r.stage.stage_id),
        Cell::Text(r.stage.term.to_string()),
        Cell::Text(r.stage.date.to_string()),
        Cell::text(&r.stage.place),
        Cell::text(r.status().as_str()),
        Cell::Text(accepted.join(",")),
        Cell::Text(receipts.join(",")),
        Cell::int(r.proposed_at),
    ]
}

pub static DISCREPANCIES: TableSpec = TableSpec {
    name: "discrepancies",
    columns: &[
        "discrepancy_id",
        "stage_id",
        "reported_by",
        "discrepancy_kind",
        "count",
        "reason",
        "recorded_at",
    ],
    key_columns: 1,
    entry_column: 6,
};

fn discrepancy_row((d, entry): &(Discrepancy, u64)) -> Row {
    vec![
        Cell::text(&d.discrepancy_id),
        Cell::opt_text(d.stage_id.as_deref()),
        Cell::text(d.reported_by.as_str()),
        Cell::text(d.discrepancy_kind.as_str()),
        Cell::int(d.count),
        Cell::text(&d.reason),
        Cell::int(*entry),
    ]
}

pub static MATCH_DECISIONS: TableSpec = TableSpec {
    name: "match_decisions",
    columns: &[
        "sought_list",
        "sought_person",
        "held_list",
        "held_person",
        "verdict",
        "score_permille",
        "recorded_at",
    ],
    key_columns: 4,
    entry_column: 6,
};

fn match_row((d, entry): &(MatchDecision, u64)) -> Row {
    vec![
        Cell::text(&d.sought.list_id),
        Cell::text(&d.sought.person_id),
        Cell::text(&d.held.list_id),
        Cell::text(&d.held.person_id),
        Cell::text(if d.verdict == MatchVerdict::Confirmed {
            "confirmed"
        } else {
            "rejected"
        }),
        Cell::int(d.score_permille as u64),
        Cell::int(*entry),
    ]
}

pub static TALLIES: TableSpec = TableSpec {
    name: "tallies",
    columns: &[
        "stage_id",
        "from_party",
        "category",
        "term",
        "date",
        "handed_over",
        "recorded_at",
    ],
    key_columns: 3,
    entry_column: 6,
};

fn tally_rows((tally, entry): &(Tally, u64)) -> Vec<Row> {
    tally
        .counts
        .iter()
        .map(|count| {
            vec![
                Cell::text(&tally.stage_id),
                Cell::text(count.from.as_str()),
                Cell::text(&count.category),
                Cell::Text(tally.term.to_string()),
                Cell::Text(tally.date.to_string()),
                Cell::int(count.handed_over),
                Cell::int(*entry),
            ]
        })
        .collect()
}
