//! The review queue of an exchange: candidate links between the persons a
//! party seeks and those the other party holds, from the matching engine
//! (`truce-match`), with the pairs the intermediary already decided left
//! out. Decisions are events (`MatchDecided`); the queue is recomputed.

use truce_core::LogState;
use truce_core::exchange::{ListKind, MatchVerdict, PersonList, PersonRef};
use truce_match::{Matcher, Record, Schema, Settings};

use crate::LedgerError;

#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub sought: PersonRef,
    pub held: PersonRef,
    /// The engine's match probability, 0 to 1.
    pub score: f64,
    /// Which fields agreed and how; never values.
    pub explanation: String,
}

/// The engine's default layout: family name, given name, patronymic, date
/// and place of birth, in any script.
fn records(list: &PersonList) -> Vec<Record> {
    list.persons
        .iter()
        .map(|p| Record {
            id: p.person_id.clone(),
            fields: vec![
                p.family_name.clone(),
                p.given_names.clone(),
                p.patronymic.clone().unwrap_or_default(),
                p.date_of_birth.map(|d| d.to_string()).unwrap_or_default(),
                p.place_of_birth.clone().unwrap_or_default(),
            ],
        })
        .collect()
}

/// Every undecided candidate at or above `review_threshold`, best first.
pub fn review_queue(
    state: &LogState,
    sought_list: &str,
    held_list: &str,
    review_threshold: f64,
) -> Result<Vec<Candidate>, LedgerError> {
    let exchange = state.exchange();
    let find = |id: &str| {
        exchange
            .list(id)
            .ok_or_else(|| LedgerError::Input(format!("no list {id} in this copy of the log")))
    };
    let (sought, held) = (find(sought_list)?, find(held_list)?);
    if sought.list_kind != ListKind::Sought || held.list_kind != ListKind::Held {
        return Err(LedgerError::Input(
            "match a sought list against a held one".to_owned(),
        ));
    }
    if sought.party == held.party || sought.term != held.term {
        return Err(LedgerError::Input(
            "the lists must be the two parties' lists for the same term".to_owned(),
        ));
    }
    let settings = Settings {
        one_to_one: false,
        review_threshold,
        ..Settings::default()
    };
    let mut matcher = Matcher::new(
        Schema::default(),
        settings,
        records(sought),
        records(held),
        None,
        &|_| {},
    )
    .map_err(|e| LedgerError::Input(format!("matching: {e}")))?;
    let mut candidates: Vec<Candidate> = matcher
        .link(&|_| {})
        .into_iter()
        .map(|link| Candidate {
            sought: PersonRef {
                list_id: sought.list_id.clone(),
                person_id: link.left_id,
            },
            held: PersonRef {
                list_id: held.list_id.clone(),
                person_id: link.right_id,
            },
            score: link.score,
            explanation: link.explanation,
        })
        .filter(|c| exchange.decided(&c.sought, &c.held).is_none())
        .filter(|c| !already_matched(state, c))
        .collect();
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    Ok(candidates)
}

/// A person already confirmed in another link needs no more review.
fn already_matched(state: &LogState, candidate: &Candidate) -> bool {
    state.exchange().matches().any(|(d, _)| {
        d.verdict == MatchVerdict::Confirmed
            && (d.sought == candidate.sought || d.held == candidate.held)
    })
}
