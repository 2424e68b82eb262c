//! Import of a party's person list from CSV (with an optional HXL hashtag
//! row under the header) or JSON. Every bad row is reported with its line
//! and field, never with its values (they are personal data), and nothing
//! is recorded unless the whole file is good.

use std::io::Read as _;
use std::path::Path;

use chrono::NaiveDate;
use truce_core::exchange::{CommissionAssessment, Identification, PersonRecord, RemainsDetails};
use truce_core::limits::MAX_LIST_FILE_BYTES;
use truce_core::terms::{Assessment, Status};

use crate::LedgerError;

/// At most this many problems are listed; the rest are counted.
const MAX_REPORTED_PROBLEMS: usize = 50;

/// The columns a person list may have; `person_id` and at least one name
/// are required, every other column may be absent or empty.
pub const COLUMNS: [&str; 21] = [
    "person_id",
    "family_name",
    "given_names",
    "patronymic",
    "rank",
    "service_number",
    "date_of_birth",
    "place_of_birth",
    "unit",
    "captured_on",
    "captured_at",
    "depends_on",
    "notify",
    "status",
    "assessment",
    "assessment_date",
    "commission",
    "recovered_on",
    "recovered_at",
    "identification",
    "case_ref",
];

/// Reads the person list in `path` (CSV, or JSON for `.json` names), at
/// most [`MAX_LIST_FILE_BYTES`] of it: a larger file is refused as soon as
/// the bound is passed, before anything of it is parsed.
pub fn read_persons(path: &Path) -> Result<Vec<PersonRecord>, LedgerError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| LedgerError::io(path, e))?;
    let mut bytes = Vec::new();
    file.take(MAX_LIST_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| LedgerError::io(path, e))?;
    if bytes.len() > MAX_LIST_FILE_BYTES {
        return Err(LedgerError::Input(format!(
            "{name}: larger than {MAX_LIST_FILE_BYTES} bytes"
        )));
    }
    let text =
        String::from_utf8(bytes).map_err(|_| LedgerError::Input(format!("{name}: not UTF-8")))?;
    parse_persons(&name, &text)
}

/// Reads persons from CSV or (for `.json` names) a JSON array.
pub fn parse_persons(name: &str, text: &str) -> Result<Vec<PersonRecord>, LedgerError> {
    if name.ends_with(".json") {
        let persons: Vec<PersonRecord> = serde_json::from_str(text).map_err(|e| {
            // serde's message may quote a value; keep only where and what kind.
            let what = if e.is_syntax() {
                "not valid JSON"
            } else {
                "a field has the wrong type or name"
            };
            LedgerError::Input(format!(
                "{name}: line {} column {}: {what}",
                e.line(),
                e.column()
            ))
        })?;
        let problems: Vec<String> = persons
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                p.check()
                    .err()
                    .map(|why| format!("{name}: person {}: {why}", i + 1))
            })
            .collect();
        return if problems.is_empty() {
            Ok(persons)
        } else {
            Err(report(problems))
        };
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| {
            LedgerError::Input(format!(
                "{name}: line 1: cannot read the header ({})",
                csv_kind(&e)
            ))
        })?
        .clone();
    let mut problems = Vec::new();
    let mut columns = Vec::with_capacity(headers.len());
    for (at, header) in headers.iter().enumerate() {
        let header = header.trim();
        match COLUMNS.iter().position(|c| *c == header) {
            // A known header is not personal data: it may be named.
            Some(i) if columns.contains(&i) => {
                problems.push(format!("{name}: line 1: column {header:?} appears twice"))
            }
            Some(i) => columns.push(i),
            None => problems.push(unknown_column(name, at + 1, header)),
        }
    }
    if columns.is_empty() {
        problems = vec![format!(
            "{name}: line 1 names no known column: the first row must be the header ({})",
            COLUMNS.join(", ")
        )];
    }
    if !columns.contains(&0) {
        problems.push(format!("{name}: line 1: the person_id column is missing"));
    }
    if !problems.is_empty() {
        return Err(report(problems));
    }
    let mut persons = Vec::new();
    for (row, record) in reader.records().enumerate() {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map_or(row + 2, |p| p.line() as usize);
                problems.push(format!("{name}: line {line}: {}", csv_kind(&e)));
                continue;
            }
        };
        let line = record.position().map_or(row + 2, |p| p.line() as usize);
        // An HXL hashtag row right under the header is a second header.
        if row == 0
            && record
                .iter()
                .all(|cell| cell.is_empty() || cell.trim_start().starts_with('#'))
        {
            continue;
        }
        let mut cells: [&str; COLUMNS.len()] = [""; COLUMNS.len()];
        for (i, cell) in record.iter().enumerate() {
            cells[columns[i]] = cell.trim();
        }
        match person_from_cells(&cells) {
            Ok(person) => match person.check() {
                Ok(()) => persons.push(person),
                Err(why) => problems.push(format!("{name}: line {line}: {why}")),
            },
            Err((field, why)) => {
                problems.push(format!("{name}: line {line}, field {field}: {why}"))
            }
        }
    }
    let mut seen = std::collections::BTreeMap::new();
    for (i, person) in persons.iter().enumerate() {
        if let Some(first) = seen.insert(person.person_id.clone(), i) {
            problems.push(format!(
                "{name}: person {} repeats the person_id of person {}",
                i + 1,
                first + 1
            ));
        }
    }
    if problems.is_empty() {
        Ok(persons)
    } else {
        Err(report(problems))
    }
}

fn csv_kind(e: &csv::Error) -> &'static str {
    match e.kind() {
        csv::ErrorKind::UnequalLengths { .. } => "wrong number of fields",
        csv::ErrorKind::Utf8 { .. } => "not UTF-8",
        _ => "malformed CSV",
    }
}

fn report(mut problems: Vec<String>) -> LedgerError {
    let total = problems.len();
    problems.truncate(MAX_REPORTED_PROBLEMS);
    if total > MAX_REPORTED_PROBLEMS {
        problems.push(format!(
            "... and {} more problems",
            total - MAX_REPORTED_PROBLEMS
        ));
    }
    LedgerError::Input(format!(
        "{total} problem(s); nothing was recorded:\n{}",
        problems.join("\n")
    ))
}

type FieldError = (&'static str, String);

fn optional(cell: &str) -> Option<String> {
    (!cell.is_empty()).then(|| cell.to_owned())
}

/// Dates as 2025-06-02 or 02.06.2025 (both are common on the parties' lists).
fn date(field: &'static str, cell: &str) -> Result<Option<NaiveDate>, FieldError> {
    if cell.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(cell, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(cell, "%d.%m.%Y"))
        .map(Some)
        .map_err(|_| (field, "not a date (YYYY-MM-DD or DD.MM.YYYY)".to_owned()))
}

fn person_from_cells(cells: &[&str; COLUMNS.len()]) -> Result<PersonRecord, FieldError> {
    let [
        person_id,
        family_name,
        given_names,
        patronymic,
        rank,
        service_number,
        date_of_birth,
        place_of_birth,
        unit,
        captured_on,
        captured_at,
        depends_on,
        notify,
        status,
        assessment,
        assessment_date,
        commission,
        recovered_on,
        recovered_at,
        identification,
        case_ref,
    ] = *cells;
    let status = match status.to_lowercase().as_str() {
        "" => None,
        "military" => Some(Status::Military),
        "civilian" => Some(Status::Civilian),
        _ => return Err(("status", "use military or civilian".to_owned())),
    };
    let assessments = match assessment.to_lowercase().as_str() {
        "" => vec![],
        kind => {
            let assessment = match kind {
                "seriously_ill" | "seriously ill" => Assessment::SeriouslyIll,
                "severely_wounded" | "severely wounded" => Assessment::SeverelyWounded,
                _ => {
                    return Err((
                        "assessment",
                        "use seriously_ill or severely_wounded".to_owned(),
                    ));
                }
            };
            let date = date("assessment_date", assessment_date)?
                .ok_or(("assessment_date", "an assessment needs its date".to_owned()))?;
            if commission.is_empty() {
                return Err((
                    "commission",
                    "an assessment names its commission".to_owned(),
                ));
            }
            vec![CommissionAssessment {
                assessment,
                date,
                commission: commission.to_owned(),
            }]
        }
    };
    let remains = match identification.to_lowercase().as_str() {
        "" => None,
        kind => Some(RemainsDetails {
            recovered_on: date("recovered_on", recovered_on)?,
            recovered_at: optional(recovered_at),
            identification: match kind {
                "dna" => Identification::Dna,
                "documents" => Identification::Documents,
                "unidentified" => Identification::Unidentified,
                _ => {
                    return Err((
                        "identification",
                        "use dna, documents or unidentified".to_owned(),
                    ));
                }
            },
            case_ref: optional(case_ref),
        }),
    };
    Ok(PersonRecord {
        person_id: person_id.to_owned(),
        family_name: family_name.to_owned(),
        given_names: given_names.to_owned(),
        patronymic: optional(patronymic),
        rank: optional(rank),
        service_number: optional(service_number),
        date_of_birth: date("date_of_birth", date_of_birth)?,
        place_of_birth: optional(place_of_birth),
        unit: optional(unit),
        captured_on: date("captured_on", captured_on)?,
        captured_at: optional(captured_at),
        depends_on: optional(depends_on),
        notify: optional(notify),
        status,
        assessments,
        remains,
    })
}

/// An unknown header cell is never repeated: the first row may be a
/// person's record (a file without a header). A cell one or two edits
/// from a known column is a typo of it, and that column is named instead.
fn unknown_column(name: &str, at: usize, header: &str) -> String {
    let near = COLUMNS
        .iter()
        .find(|known| strsim::levenshtein(known, &header.to_ascii_lowercase()) <= 2);
    let hint = near.map_or_else(
        || format!(" (known: {})", COLUMNS.join(", ")),
        |known| format!(": did you mean {known}?"),
    );
    format!("{name}: line 1, column {at}: not a known column{hint}")
}
