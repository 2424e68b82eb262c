//! The exchanges' derived tables, and the rows each record gives.

use crate::projection::{Cell, Row, TableSpec};

use super::*;

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

pub(super) fn list_row((list, entry): &(PersonList, u64)) -> Row {
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

pub(super) fn stage_row(r: &StageRecord) -> Row {
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

pub(super) fn discrepancy_row((d, entry): &(Discrepancy, u64)) -> Row {
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

pub(super) fn match_row((d, entry): &(MatchDecision, u64)) -> Row {
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

pub(super) fn tally_rows((tally, entry): &(Tally, u64)) -> Vec<Row> {
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
