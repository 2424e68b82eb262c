//! Derived tables as plain data: the core says what the rows are, storage
//! decides how to keep them. `truce verify` compares the stored tables with
//! the ones a replay produces.

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [&'static str],
    /// The first `key_columns` columns identify a row (the primary key).
    pub key_columns: usize,
    /// The column holding the index of the entry a row came from, so a
    /// mismatch can name that entry.
    pub entry_column: usize,
    pub rows: Vec<Vec<Cell>>,
}
