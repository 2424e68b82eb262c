//! Derived tables as plain data: the core says what the rows are, storage
//! decides how to keep them. `truce verify` compares the stored tables with
//! the ones a replay produces.
//!
//! Each table is described once by a [`TableSpec`]; a domain renders a row
//! of it from one of its records, both for the whole table
//! ([`TableSpec::with_rows`], what a replay compares) and for the rows one
//! event touched ([`RowChange`], what an append writes: the events so far
//! only add rows or change them in place, so an upsert is the one change), so the two cannot
//! disagree on what a row holds.

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cell {
    Null,
    Int(i64),
    Text(String),
}

impl Cell {
    pub fn text(value: &str) -> Cell {
        Cell::Text(value.to_owned())
    }

    /// Entry indices and counts are far below i64::MAX (SQLite's integer).
    pub fn int(value: u64) -> Cell {
        Cell::Int(i64::try_from(value).expect("value fits in i64"))
    }

    pub fn opt_text(value: Option<&str>) -> Cell {
        value.map_or(Cell::Null, Cell::text)
    }
}

pub type Row = Vec<Cell>;

/// What a derived table is: its name, its columns, its primary key.
#[derive(Debug, PartialEq, Eq)]
pub struct TableSpec {
    pub name: &'static str,
    pub columns: &'static [&'static str],
    /// The first `key_columns` columns identify a row (the primary key).
    pub key_columns: usize,
    /// The column holding the index of the entry a row came from, so a
    /// mismatch can name that entry.
    pub entry_column: usize,
}

impl TableSpec {
    pub fn with_rows(&'static self, rows: Vec<Row>) -> Table {
        Table { spec: self, rows }
    }
}

/// A derived table's rows, as a replay produces them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub spec: &'static TableSpec,
    pub rows: Vec<Row>,
}

/// One event's effect on one row of a derived table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowChange {
    /// Insert the row, or replace the row with the same key.
    Upsert(&'static TableSpec, Row),
}

/// Collects the row changes of the events applied while it is switched on;
/// off (the default) it costs nothing, so a replay that only reads pays
/// nothing for it.
#[derive(Debug, Clone, Default)]
pub struct RowJournal {
    changes: Option<Vec<RowChange>>,
}

impl RowJournal {
    pub fn start(&mut self) {
        self.changes.get_or_insert_with(Vec::new);
    }

    pub fn is_on(&self) -> bool {
        self.changes.is_some()
    }

    /// Records `spec`'s rows as they stand now; `rows` runs only when the
    /// journal is on.
    pub fn upsert<I: IntoIterator<Item = Row>>(
        &mut self,
        spec: &'static TableSpec,
        rows: impl FnOnce() -> I,
    ) {
        if let Some(changes) = &mut self.changes {
            changes.extend(rows().into_iter().map(|row| RowChange::Upsert(spec, row)));
        }
    }

    /// The changes recorded since the last call, in the order they happened.
    pub fn take(&mut self) -> Vec<RowChange> {
        self.changes
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }
}
