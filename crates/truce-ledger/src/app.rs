//! The application layer: turns a user's command into the event and the
//! visibility it is recorded with, once, for the CLI, the API and the
//! dashboard alike. It reads the log's state and writes nothing: the caller
//! appends the [`Draft`] through its ledger or the server's group commit.
//! Words a user types or picks (a stance, a verdict, an outcome) are parsed
//! here too, so every edge accepts the same ones.

use chrono::NaiveDate;
use truce_core::exchange::{
    ExchangeEvent, ExchangeState, Handover, ListKind, MatchDecision, MatchVerdict, Outcome,
    PersonList, PersonOutcome, PersonRecord, PersonRef, Stage,
};
use truce_core::negotiation::{NegotiationEvent, Position, Stance, TermRef};
use truce_core::{ActorId, Event, LogState, Visibility};

use crate::LedgerError;
use crate::matching::Candidate;
use crate::pseudonyms::PseudonymKey;

/// An event ready to sign and append, with the visibility it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub event: Event,
    pub visibility: Visibility,
}

impl Draft {
    /// `event` with the visibility its domain gives it on this log.
    pub fn of(state: &LogState, event: impl Into<Event>) -> Draft {
        let event = event.into();
        Draft {
            visibility: state.visibility_for(&event),
            event,
        }
    }
}

fn input(message: String) -> LedgerError {
    LedgerError::Input(message)
}

/// `held` or `sought`.
pub fn list_kind(word: &str) -> Result<ListKind, LedgerError> {
    match word {
        "held" => Ok(ListKind::Held),
        "sought" => Ok(ListKind::Sought),
        _ => Err(input(format!("list kind {word:?}: use held or sought"))),
    }
}

/// `confirmed` or `rejected`.
pub fn verdict(word: &str) -> Result<MatchVerdict, LedgerError> {
    match word {
        "confirmed" => Ok(MatchVerdict::Confirmed),
        "rejected" => Ok(MatchVerdict::Rejected),
        _ => Err(input(format!(
            "verdict {word:?}: use confirmed or rejected"
        ))),
    }
}

/// A stance by its name; `countered` names the counter-proposal.
pub fn stance(word: &str, counter: Option<TermRef>) -> Result<Stance, LedgerError> {
    match (word, counter) {
        ("proposed", None) => Ok(Stance::Proposed),
        ("accepted", None) => Ok(Stance::Accepted),
        ("rejected", None) => Ok(Stance::Rejected),
        ("withdrawn", None) => Ok(Stance::Withdrawn),
        ("countered", Some(counter)) => Ok(Stance::Countered { counter }),
        ("countered", None) => Err(input(
            "stance countered names its counter-proposal (DOCUMENT#TERM)".to_owned(),
        )),
        (_, Some(_)) => Err(input(
            "a counter-proposal goes with stance countered".to_owned(),
        )),
        (other, None) => Err(input(format!(
            "stance {other:?}: use proposed, accepted, rejected, countered or withdrawn"
        ))),
    }
}

/// What happened to a person of a stage, by its name; any other word is
/// recorded as the reason of an `other` outcome.
pub fn outcome(word: &str) -> Outcome {
    match word {
        "handed_over" => Outcome::HandedOver,
        "refused_to_return" => Outcome::RefusedToReturn,
        "not_present" => Outcome::NotPresent,
        "deceased" => Outcome::Deceased,
        other => Outcome::Other {
            reason: other.to_owned(),
        },
    }
}

/// A party's position on a term (the negotiation record is public).
pub fn position(
    party: ActorId,
    term: TermRef,
    stance: Stance,
    date: NaiveDate,
    source_document: Option<String>,
    note: String,
) -> NegotiationEvent {
    NegotiationEvent::PositionTaken(Position {
        party,
        term,
        stance,
        date,
        source_document,
        note,
    })
}

/// The next version of a party's list (version 1 if the list is new),
/// visible to the party alone.
pub fn submit_list(
    state: &LogState,
    party: ActorId,
    list_id: String,
    list_kind: ListKind,
    term: TermRef,
    persons: Vec<PersonRecord>,
) -> Draft {
    let version = state
        .exchange()
        .list(&list_id)
        .map_or(1, |list| list.version + 1);
    Draft::of(
        state,
        ExchangeEvent::ListSubmitted(PersonList {
            list_id,
            party,
            list_kind,
            term,
            version,
            persons,
        }),
    )
}

/// The intermediary's decision on a link between a sought and a held
/// person, with the engine's score and explanation when the engine proposed
/// the pair (`candidate`), else as decided by hand; visible to the two
/// parties whose lists it links.
pub fn decide_match(
    state: &LogState,
    sought: PersonRef,
    held: PersonRef,
    verdict: MatchVerdict,
    candidate: Option<&Candidate>,
) -> Draft {
    let (score_permille, explanation) = candidate.map_or(
        (0, "not proposed by the engine; decided by hand".to_owned()),
        |c| ((c.score * 1000.0).round() as u32, c.explanation.clone()),
    );
    Draft::of(
        state,
        ExchangeEvent::MatchDecided(MatchDecision {
            sought,
            held,
            score_permille,
            explanation,
            verdict,
        }),
    )
}

/// The drafts that propose a stage from its plan: the stage, naming each
/// party's persons by the pseudonyms the other party knows them by (see
/// [`crate::pseudonyms`]), then one listing per batch for the handing party.
/// They must land together, the stage first.
pub fn propose_stage(
    state: &LogState,
    plan: Stage,
    key: &PseudonymKey,
) -> Result<Vec<Draft>, LedgerError> {
    let (stage, listings) =
        ExchangeState::pseudonymize(state.negotiation(), plan, |reader, person| {
            key.pseudonym(reader, person)
        })
        .map_err(LedgerError::Rejected)?;
    let proposed = Draft::of(state, ExchangeEvent::StageProposed(stage));
    let listed = listings
        .into_iter()
        .map(|listing| Draft::of(state, ExchangeEvent::StageBatchListed(listing)));
    Ok(std::iter::once(proposed).chain(listed).collect())
}

/// The handover of a stage (every staged person handed over, but for the
/// `exceptions` given as `LIST/PERSON` and outcome) and its public tally:
/// two drafts that must land together. Outcomes name each person as the
/// stage does (by pseudonym in a pseudonymous stage), so the handover reads
/// the same to both parties as the stage did.
pub fn handover(
    state: &LogState,
    stage_id: &str,
    exceptions: &[(String, Outcome)],
) -> Result<[Draft; 2], LedgerError> {
    let record = state
        .exchange()
        .stage(stage_id)
        .ok_or_else(|| input(format!("no stage {stage_id}")))?;
    let mut roster = Vec::new();
    for batch in &record.stage.batches {
        let persons = record.roster(&batch.from).ok_or_else(|| {
            input(format!(
                "stage {stage_id}: the batch from {} is not listed",
                batch.from
            ))
        })?;
        roster.extend(persons);
    }
    let mut outcomes: Vec<PersonOutcome> = roster
        .iter()
        .map(|(staged, _)| PersonOutcome::of(*staged, Outcome::HandedOver))
        .collect();
    let mut excepted = std::collections::BTreeSet::new();
    for (who, outcome) in exceptions {
        let at = roster
            .iter()
            .position(|(_, person)| format!("{}/{}", person.list_id, person.person_id) == *who)
            .ok_or_else(|| input(format!("{who}: not in stage {stage_id}")))?;
        if !excepted.insert(who) {
            return Err(input(format!("{who} is given twice")));
        }
        outcomes[at].outcome = outcome.clone();
    }
    let tally = state
        .exchange()
        .tally(state.negotiation(), record, &outcomes)
        .map_err(|e| LedgerError::Rejected(e.into_rejection()))?;
    let handover = ExchangeEvent::HandoverRecorded(Handover {
        stage_id: stage_id.to_owned(),
        outcomes,
    });
    Ok([
        Draft::of(state, handover),
        Draft::of(state, ExchangeEvent::StageTallied(tally)),
    ])
}
