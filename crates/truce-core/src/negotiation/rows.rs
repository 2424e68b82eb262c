//! The negotiation record's derived tables, and the row each record gives.

use crate::projection::{Cell, Row, TableSpec};

use super::*;

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

pub(super) fn round_row(r: &Recorded<Round>) -> Row {
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

pub(super) fn delegation_rows(r: &Recorded<Round>) -> Vec<Row> {
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

pub(super) fn document_row(d: &Recorded<Document>) -> Row {
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

pub(super) fn term_rows(d: &Recorded<Document>) -> Vec<Row> {
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

pub(super) fn position_row(p: &Recorded<Position>) -> Row {
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

pub(super) fn agreement_row(a: &Recorded<Agreement>) -> Row {
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

/// A claim as the `claims` table holds it: what a listing shows, read
/// straight from the store, without folding the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimLine {
    pub claim_id: String,
    /// [`super::Claimant::label`].
    pub claimant: String,
    pub date: String,
    pub measure: String,
    pub figure: u64,
    /// `DOCUMENT#TERM`.
    pub term: Option<String>,
    pub entry: u64,
}

impl ClaimLine {
    /// The line of a stored row of [`CLAIMS`] (`None` if it is not one).
    pub fn from_row(row: &[Cell]) -> Option<ClaimLine> {
        let text = |cell: &Cell| match cell {
            Cell::Text(text) => Some(text.clone()),
            _ => None,
        };
        let int = |cell: &Cell| match cell {
            Cell::Int(value) => u64::try_from(*value).ok(),
            _ => None,
        };
        let [
            claim_id,
            claimant,
            date,
            measure,
            figure,
            term,
            _source,
            _note,
            entry,
        ] = row
        else {
            return None;
        };
        Some(ClaimLine {
            claim_id: text(claim_id)?,
            claimant: text(claimant)?,
            date: text(date)?,
            measure: text(measure)?,
            figure: int(figure)?,
            term: match term {
                Cell::Null => None,
                other => Some(text(other)?),
            },
            entry: int(entry)?,
        })
    }
}

pub(super) fn claim_row(c: &Recorded<Claim>) -> Row {
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
