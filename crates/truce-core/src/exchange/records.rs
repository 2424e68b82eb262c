//! The exchanges' records: what their events carry (lists, persons,
//! stages, handovers, receipts, discrepancies, match decisions, tallies),
//! and the views their queries answer with.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use std::collections::{BTreeMap, BTreeSet};

use crate::envelope::ActorId;
use crate::negotiation::check_id;
use crate::negotiation::{NegotiationState, TermRef};
use crate::rejection;
use crate::rejection::Rejection;
use crate::terms::{Assessment, PersonFacts, QuotaProgress, Status};

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
    pub fn check(&self) -> Result<(), Rejection> {
        check_id("person_id", &self.person_id)?;
        if self.family_name.trim().is_empty()
            && self.given_names.trim().is_empty()
            && self.remains.is_none()
        {
            return Err(rejection!(
                "person-unnamed",
                "family_name and given_names are both empty"
            ));
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
                return Err(rejection!(
                    "person-field-invalid",
                    "{field} is longer than {max} bytes or holds control characters",
                    field = field,
                    max = MAX_FIELD_BYTES
                ));
            }
        }
        if self
            .date_of_birth
            .is_some_and(|birth| !(EARLIEST_DATE_OF_BIRTH..=LATEST_DATE_OF_BIRTH).contains(&birth))
        {
            return Err(rejection!(
                "person-birth-implausible",
                "field date_of_birth: not between {earliest} and {latest}",
                earliest = EARLIEST_DATE_OF_BIRTH,
                latest = LATEST_DATE_OF_BIRTH
            ));
        }
        if let (Some(birth), Some(captured)) = (self.date_of_birth, self.captured_on)
            && captured < birth
        {
            return Err(rejection!(
                "person-captured-before-birth",
                "captured_on is before date_of_birth"
            ));
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

/// Hex digits of a pseudonym: 128 bits of an HMAC-SHA-256 (see
/// `StageBatch::pseudonyms`).
pub const PSEUDONYM_HEX_LEN: usize = 32;

/// The people one party hands over in a stage, from its held list, in one
/// of two forms:
/// - `persons`: the handing party's own references. A stage proposed so is
///   read by both parties, so the receiving party learns the other side's
///   internal ids; stages recorded before pseudonyms have this form, and a
///   stage *plan* (what the planner and a hand-written file give) too.
/// - `pseudonyms`: the persons as the receiving party knows them, a stable
///   pseudonym per (reading party, person) that the intermediary derives
///   with a key it alone holds. The references themselves follow in a
///   [`StageListing`] visible to the handing party only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageBatch {
    pub from: ActorId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persons: Option<Vec<PersonRef>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pseudonyms: Option<Vec<String>>,
}

impl StageBatch {
    /// A batch naming its persons by their party's own references.
    pub fn named(from: ActorId, persons: Vec<PersonRef>) -> StageBatch {
        StageBatch {
            from,
            persons: Some(persons),
            pseudonyms: None,
        }
    }

    /// A batch naming its persons by the receiving party's pseudonyms.
    pub fn pseudonymous(from: ActorId, pseudonyms: Vec<String>) -> StageBatch {
        StageBatch {
            from,
            persons: None,
            pseudonyms: Some(pseudonyms),
        }
    }

    /// Each person as the stage and its handover name them.
    pub fn staged(&self) -> Vec<Staged<'_>> {
        let named = self.persons.iter().flatten().map(Staged::Ref);
        let pseudonymous = self
            .pseudonyms
            .iter()
            .flatten()
            .map(|p| Staged::Pseudonym(p));
        named.chain(pseudonymous).collect()
    }

    pub fn len(&self) -> usize {
        self.persons.as_ref().map_or(0, Vec::len) + self.pseudonyms.as_ref().map_or(0, Vec::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One person of a stage as a reader knows them (see [`StageRecord::members`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member<'a> {
    pub from: &'a ActorId,
    pub staged: Staged<'a>,
    pub person: Option<&'a PersonRef>,
    pub outcome: Option<&'a Outcome>,
}

/// How a stage or a handover names one person: by the handing party's own
/// reference, or by the receiving party's pseudonym.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Staged<'a> {
    Ref(&'a PersonRef),
    Pseudonym(&'a str),
}

/// One person of a pseudonymous batch: the pseudonym the stage names and the
/// handing party's own reference behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListedPerson {
    pub pseudonym: String,
    pub person: PersonRef,
}

/// The references behind a pseudonymous batch, for the handing party (and
/// the intermediary): in the batch's order, so the rules check each person
/// (on the party's held list, eligible, in priority order) and the handing
/// party knows whom it hands over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageListing {
    pub stage_id: String,
    pub from: ActorId,
    pub persons: Vec<ListedPerson>,
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
    /// As the stage names the person: by reference (a stage of references)
    /// or by pseudonym (a pseudonymous stage); exactly one of the two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<PersonRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pseudonym: Option<String>,
}

impl PersonOutcome {
    /// `outcome` for a person as the stage names them.
    pub fn of(staged: Staged<'_>, outcome: Outcome) -> PersonOutcome {
        let (person, pseudonym) = match staged {
            Staged::Ref(person) => (Some(person.clone()), None),
            Staged::Pseudonym(pseudonym) => (None, Some(pseudonym.to_owned())),
        };
        PersonOutcome {
            outcome,
            person,
            pseudonym,
        }
    }

    /// Whom this outcome is about; None unless exactly one form is given.
    pub fn staged(&self) -> Option<Staged<'_>> {
        match (&self.person, &self.pseudonym) {
            (Some(person), None) => Some(Staged::Ref(person)),
            (None, Some(pseudonym)) => Some(Staged::Pseudonym(pseudonym)),
            _ => None,
        }
    }
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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageRecord {
    pub stage: Stage,
    pub proposed_at: u64,
    /// The listings of a pseudonymous stage this reader holds, by party.
    /// Omitted when empty, so a state saved before pseudonyms encodes to the
    /// same bytes and still verifies against a replay.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub listings: BTreeMap<ActorId, Vec<ListedPerson>>,
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
        let from: BTreeSet<Staged> = batch.staged().into_iter().collect();
        handover
            .outcomes
            .iter()
            .filter(|o| o.outcome == Outcome::HandedOver)
            .filter(|o| o.staged().is_some_and(|who| from.contains(&who)))
            .count() as u64
    }

    /// `party`'s persons in this stage, each as the stage names them with
    /// the party's own reference; None when this reader lacks the listing
    /// of a pseudonymous batch.
    pub fn roster(&self, party: &ActorId) -> Option<Vec<(Staged<'_>, &PersonRef)>> {
        let batch = self.stage.batches.iter().find(|b| b.from == *party)?;
        match &batch.persons {
            Some(persons) => Some(persons.iter().map(|p| (Staged::Ref(p), p)).collect()),
            None => self.listings.get(party).map(|listed| {
                listed
                    .iter()
                    .map(|l| (Staged::Pseudonym(&l.pseudonym), &l.person))
                    .collect()
            }),
        }
    }

    /// Each person of the stage as this reader knows them: how the stage
    /// names them, the handing party's own reference when this reader holds
    /// it (the intermediary always; a party for its own batch), and the
    /// outcome once handed over. In the stage's order.
    pub fn members(&self) -> Vec<Member<'_>> {
        let outcomes: BTreeMap<Staged, &Outcome> = self
            .handover
            .iter()
            .flat_map(|h| &h.outcomes)
            .filter_map(|o| Some((o.staged()?, &o.outcome)))
            .collect();
        let mut members = Vec::new();
        for batch in &self.stage.batches {
            let known: BTreeMap<Staged, &PersonRef> =
                self.roster(&batch.from).into_iter().flatten().collect();
            members.extend(batch.staged().into_iter().map(|staged| Member {
                from: &batch.from,
                staged,
                person: known.get(&staged).copied(),
                outcome: outcomes.get(&staged).copied(),
            }));
        }
        members
    }

    /// Every person of the stage whose reference this reader holds.
    pub fn known_persons(&self) -> impl Iterator<Item = &PersonRef> {
        self.stage.batches.iter().flat_map(|b| {
            self.roster(&b.from)
                .into_iter()
                .flatten()
                .map(|(_, person)| person)
        })
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
            .claims_about(&self.term)
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
