//! The embedded store: one SQLite file, `truce.db`, in the data directory.
//!
//! WAL journal with `synchronous=FULL`: a commit returns only after its WAL
//! frames are fsynced, so one batch costs one fsync (group commit).

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use truce_core::projection::{Cell, Table};

use crate::{Batch, LogMeta, LogStore, PayloadRecord, Result, StoreError, StoredEntry};

pub const DB_FILE: &str = "truce.db";

/// Tables the log itself consists of; every other table is derived.
pub const LOG_TABLES: [&str; 4] = ["meta", "entries", "payloads", "checkpoints"];

const SCHEMA: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE entries (entry_index INTEGER PRIMARY KEY, leaf BLOB NOT NULL, leaf_hash BLOB NOT NULL) STRICT;
CREATE TABLE payloads (
    entry_index INTEGER PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('present', 'withheld', 'erased')),
    bytes BLOB
) STRICT;
CREATE TABLE checkpoints (tree_size INTEGER PRIMARY KEY, note BLOB NOT NULL) STRICT;
";

pub struct SqliteStore {
    conn: Connection,
}

fn corrupt(why: impl Into<String>) -> StoreError {
    StoreError::Corrupt(why.into())
}

impl SqliteStore {
    /// Creates a new store in `dir` (which must not hold one) for the log
    /// described by `meta`, with the derived tables of an empty state.
    pub fn create(dir: &Path, meta: &LogMeta, derived: &[Table]) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(DB_FILE);
        if path.exists() {
            return Err(corrupt(format!("{} already exists", path.display())));
        }
        let mut store = Self::open_path(&path)?;
        let tx = store.conn.transaction()?;
        tx.execute_batch(SCHEMA)?;
        for table in derived {
            let columns = table.columns.join(", ");
            let key = table.columns[..table.key_columns].join(", ");
            tx.execute_batch(&format!(
                "CREATE TABLE {} ({columns}, PRIMARY KEY ({key}));",
                table.name
            ))?;
        }
        for (key, value) in [
            ("origin", &meta.origin),
            ("log_vkey", &meta.log_vkey),
            ("reader", &meta.reader),
        ] {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)",
                params![key, value],
            )?;
        }
        tx.commit()?;
        Ok(store)
    }

    pub fn open(dir: &Path) -> Result<Self> {
        let path = dir.join(DB_FILE);
        if !path.exists() {
            return Err(corrupt(format!(
                "no store at {} (run `truce init` first)",
                path.display()
            )));
        }
        Self::open_path(&path)
    }

    fn open_path(path: &Path) -> Result<Self> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(SqliteStore { conn })
    }
}

fn write_derived(tx: &rusqlite::Transaction, tables: &[Table]) -> Result<()> {
    for table in tables {
        tx.execute(&format!("DELETE FROM {}", table.name), [])?;
        let placeholders = vec!["?"; table.columns.len()].join(", ");
        let mut insert = tx.prepare_cached(&format!(
            "INSERT INTO {} ({}) VALUES ({placeholders})",
            table.name,
            table.columns.join(", ")
        ))?;
        for row in &table.rows {
            insert.execute(rusqlite::params_from_iter(row.iter().map(to_sql)))?;
        }
    }
    Ok(())
}

fn to_sql(cell: &Cell) -> rusqlite::types::Value {
    match cell {
        Cell::Null => rusqlite::types::Value::Null,
        Cell::Int(i) => rusqlite::types::Value::Integer(*i),
        Cell::Text(t) => rusqlite::types::Value::Text(t.clone()),
    }
}

fn from_sql(value: rusqlite::types::ValueRef) -> Cell {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(i) => Cell::Int(i),
        ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
        // A derived table never holds reals or blobs; show them so a
        // comparison with the replay fails visibly.
        ValueRef::Real(r) => Cell::Text(format!("<real {r}>")),
        ValueRef::Blob(b) => Cell::Text(format!("<blob of {} bytes>", b.len())),
    }
}

fn read_entry(row: &rusqlite::Row) -> rusqlite::Result<std::result::Result<StoredEntry, String>> {
    let index: i64 = row.get(0)?;
    let leaf: Vec<u8> = row.get(1)?;
    let leaf_hash: Vec<u8> = row.get(2)?;
    let status: Option<String> = row.get(3)?;
    let bytes: Option<Vec<u8>> = row.get(4)?;
    let payload = match (status.as_deref(), bytes) {
        (Some("present"), Some(bytes)) => PayloadRecord::Present(bytes),
        (Some("withheld"), None) => PayloadRecord::Withheld,
        (Some("erased"), None) => PayloadRecord::Erased,
        (None, _) => return Ok(Err(format!("entry {index}: payload record missing"))),
        (Some(status), _) => {
            return Ok(Err(format!(
                "entry {index}: payload record {status} is inconsistent"
            )));
        }
    };
    let Ok(leaf_hash) = leaf_hash.try_into() else {
        return Ok(Err(format!(
            "entry {index}: stored leaf hash is not 32 bytes"
        )));
    };
    Ok(Ok(StoredEntry {
        index: index as u64,
        leaf,
        leaf_hash,
        payload,
    }))
}

const ENTRY_QUERY: &str = "SELECT e.entry_index, e.leaf, e.leaf_hash, p.status, p.bytes
     FROM entries e LEFT JOIN payloads p ON p.entry_index = e.entry_index";

impl LogStore for SqliteStore {
    fn meta(&self) -> Result<LogMeta> {
        let get = |key: &str| -> Result<String> {
            self.conn
                .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()?
                .ok_or_else(|| corrupt(format!("meta has no {key}")))
        };
        Ok(LogMeta {
            origin: get("origin")?,
            log_vkey: get("log_vkey")?,
            reader: get("reader")?,
        })
    }

    fn tree_size(&self) -> Result<u64> {
        let size: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM entries", [], |r| r.get(0))?;
        Ok(size as u64)
    }

    fn append(&mut self, batch: Batch) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut entry = tx.prepare_cached(
                "INSERT INTO entries (entry_index, leaf, leaf_hash) VALUES (?1, ?2, ?3)",
            )?;
            let mut payload = tx.prepare_cached(
                "INSERT INTO payloads (entry_index, status, bytes) VALUES (?1, ?2, ?3)",
            )?;
            for e in &batch.entries {
                entry.execute(params![e.index as i64, e.leaf, e.leaf_hash.as_slice()])?;
                let bytes = match &e.payload {
                    PayloadRecord::Present(bytes) => Some(bytes.as_slice()),
                    _ => None,
                };
                payload.execute(params![e.index as i64, e.payload.status(), bytes])?;
            }
            let mut erase = tx.prepare_cached(
                "UPDATE payloads SET status = 'erased', bytes = NULL WHERE entry_index = ?1",
            )?;
            for index in &batch.erase_payloads {
                if erase.execute([*index as i64])? != 1 {
                    return Err(corrupt(format!("no payload {index} to erase")));
                }
            }
            if let Some((size, note)) = &batch.checkpoint {
                tx.execute(
                    "INSERT INTO checkpoints (tree_size, note) VALUES (?1, ?2)",
                    params![*size as i64, note],
                )?;
            }
            if let Some(tables) = batch.derived_tables {
                write_derived(&tx, tables)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn entry(&self, index: u64) -> Result<Option<StoredEntry>> {
        let row = self
            .conn
            .query_row(
                &format!("{ENTRY_QUERY} WHERE e.entry_index = ?1"),
                [index as i64],
                read_entry,
            )
            .optional()?;
        match row {
            None => Ok(None),
            Some(Ok(entry)) => Ok(Some(entry)),
            Some(Err(why)) => Err(corrupt(why)),
        }
    }

    fn for_each_entry(
        &self,
        start: u64,
        end: u64,
        visit: &mut dyn FnMut(StoredEntry) -> std::result::Result<(), String>,
    ) -> Result<std::result::Result<(), String>> {
        let mut statement = self.conn.prepare(&format!(
            "{ENTRY_QUERY} WHERE e.entry_index >= ?1 AND e.entry_index < ?2 ORDER BY e.entry_index"
        ))?;
        let mut rows = statement.query(params![start as i64, end as i64])?;
        let mut expected = start;
        while let Some(row) = rows.next()? {
            let entry = match read_entry(row)? {
                Ok(entry) => entry,
                Err(why) => return Ok(Err(why)),
            };
            if entry.index != expected {
                return Ok(Err(format!("entry {expected}: missing from the store")));
            }
            expected += 1;
            if let Err(why) = visit(entry) {
                return Ok(Err(why));
            }
        }
        if expected < end {
            return Ok(Err(format!("entry {expected}: missing from the store")));
        }
        Ok(Ok(()))
    }

    fn checkpoints(&self) -> Result<Vec<(u64, Vec<u8>)>> {
        let mut statement = self
            .conn
            .prepare("SELECT tree_size, note FROM checkpoints ORDER BY tree_size")?;
        let rows = statement.query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn latest_checkpoint(&self) -> Result<Option<(u64, Vec<u8>)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT tree_size, note FROM checkpoints ORDER BY tree_size DESC LIMIT 1",
                [],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)),
            )
            .optional()?)
    }

    fn derived_table(&self, name: &str, columns: &[&str]) -> Result<Vec<Vec<Cell>>> {
        let list = columns.join(", ");
        let mut statement = self
            .conn
            .prepare(&format!("SELECT {list} FROM {name} ORDER BY {list}"))?;
        let mut rows = statement.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(
                (0..columns.len())
                    .map(|i| row.get_ref(i).map(from_sql))
                    .collect::<rusqlite::Result<_>>()?,
            );
        }
        Ok(out)
    }

    fn table_names(&self) -> Result<Vec<String>> {
        let mut statement = self
            .conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?;
        let rows = statement.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
