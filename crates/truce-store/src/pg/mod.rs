//! The shared store: one PostgreSQL database (or schema, through the URL's
//! `search_path`) per log, for deployments where several `truce serve`
//! processes answer for one log.
//!
//! The tables are those of the embedded store. A derived table's cells are
//! kept as `bytea` in an order-preserving encoding ([`encode_cell`]): the
//! core declares columns by name only, and the same column holds integers
//! in one row and nulls in another, which PostgreSQL's typed columns do not
//! allow. Sorting the encoded bytes sorts the cells as the core does.
//!
//! Writers take a transaction-scoped advisory lock first, so two processes
//! never interleave batches; reads inside a [`ReadSnapshot`] run in one
//! `REPEATABLE READ` transaction. Commits are durable when they return
//! (`synchronous_commit` as the server sets it; on by default).

use std::cell::{Cell as Counter, RefCell};
use std::path::{Path, PathBuf};

mod connection;

use connection::{Connection, Param, params};
use postgres::Row;
use tlog::Hash;
use truce_core::projection::{Cell, RowChange, Table, TableSpec};

use crate::rows::{EntryColumns, InOrder, leaf_hash, stored_entry};
use crate::seal::{
    NextKey, Record, Sealer, Sealing, key_that_opens, new_store_key, reseal, seal, unseal,
};
use crate::shared::{Change, SharedRecord, SharedStore, Space, next_revision};
use crate::{
    AtRest, Batch, DerivedWrite, LogMeta, LogStore, PayloadRecord, ReadSnapshot, Rekeyed, Result,
    SAVED_STATES_KEPT, SavedState, StoreError, StoredEntry,
};

/// This backend's schema version, kept in `meta` (`schema_version`).
const SCHEMA_VERSION: i64 = 2;

/// What each version adds to the one before: `MIGRATIONS[v - 1]` takes a
/// store of version `v` to `v + 1`. Version 2 keeps the records the
/// processes serving the log share (`crate::shared`).
const MIGRATIONS: [&str; 1] = [SHARED_SCHEMA];

const SHARED_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS shared (
    space TEXT NOT NULL, key TEXT NOT NULL, revision BIGINT NOT NULL, value BYTEA NOT NULL,
    expires_at BIGINT,
    PRIMARY KEY (space, key)
);
CREATE INDEX IF NOT EXISTS shared_expiry ON shared (space, expires_at);
";

const SCHEMA: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE entries (entry_index BIGINT PRIMARY KEY, leaf BYTEA NOT NULL, leaf_hash BYTEA NOT NULL);
CREATE TABLE payloads (
    entry_index BIGINT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('present', 'withheld', 'erased')),
    bytes BYTEA,
    data_key BYTEA
);
CREATE TABLE checkpoints (tree_size BIGINT PRIMARY KEY, note BYTEA NOT NULL);
CREATE TABLE statements (
    actor TEXT NOT NULL, seq BIGINT NOT NULL, entry_index BIGINT NOT NULL,
    PRIMARY KEY (actor, seq)
);
CREATE TABLE idempotency_keys (
    actor TEXT NOT NULL, key TEXT NOT NULL, entry_index BIGINT NOT NULL,
    PRIMARY KEY (actor, key)
);
CREATE TABLE saved_states (
    tree_size BIGINT PRIMARY KEY, state BYTEA NOT NULL, data_key BYTEA, frontier BYTEA
);
";

/// The key of the advisory lock a writer holds for its transaction: one
/// per database and schema, so logs in other schemas do not wait.
const WRITE_LOCK: &str =
    "SELECT pg_advisory_xact_lock(hashtext(current_database() || '.' || current_schema()))";

const KEY_CHECK: &str = "store_key_check";

pub struct PostgresStore {
    conn: Connection,
    /// How many [`ReadSnapshot`]s are open (they nest).
    snapshots: Counter<u32>,
    /// A write transaction is open (`begin_write`): reads see its state.
    writing: Counter<bool>,
    /// The data directory whose `keys/` holds the store key.
    keys_dir: PathBuf,
    sealing: RefCell<Option<Sealing>>,
}

/// The URL of schema `schema` in the database `base` names: a log kept
/// beside others in one database (its tables in that schema).
pub fn url_with_schema(base: &str, schema: &str) -> String {
    let join = if base.contains('?') { '&' } else { '?' };
    format!("{base}{join}options=-csearch_path%3D{schema}")
}

/// Makes schema `schema` anew (dropping one of that name) in the database
/// `base` names, and returns its URL: for tests and benchmarks, each with
/// a log of its own.
pub fn fresh_schema(base: &str, schema: &str) -> Result<String> {
    let conn = Connection::open(base)?;
    conn.batch(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
    ))?;
    Ok(url_with_schema(base, schema))
}

/// Drops schema `schema` and everything in it.
pub fn drop_schema(base: &str, schema: &str) -> Result<()> {
    Connection::open(base)?.batch(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
}

/// What the database said: its own message (the error's Display says only
/// "db error"), else the client's.
fn message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => e.to_string(),
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        use postgres::error::SqlState;
        match e.code() {
            Some(code) if *code == SqlState::DISK_FULL => {
                StoreError::Unavailable("the database's disk is full".to_owned())
            }
            Some(code) if *code == SqlState::READ_ONLY_SQL_TRANSACTION => {
                StoreError::Unavailable("the database is read-only (a standby?)".to_owned())
            }
            _ if e.is_closed() => {
                StoreError::Unavailable(format!("the database connection is closed ({e})"))
            }
            _ => StoreError::Backend(message(&e)),
        }
    }
}

fn corrupt(why: impl Into<String>) -> StoreError {
    StoreError::Corrupt(why.into())
}

impl PostgresStore {
    /// Creates the store of a new log in the database `url` names (which
    /// must hold none yet), its store key under `keys_dir` as for SQLite.
    pub fn create(
        url: &str,
        keys_dir: &Path,
        meta: &LogMeta,
        derived: &[Table],
        at_rest: AtRest,
    ) -> Result<Self> {
        let store = Self::connect(url, keys_dir)?;
        if store.has_log()? {
            return Err(corrupt("the database already holds a log"));
        }
        let mut sql = String::from("BEGIN;");
        sql.push_str(SCHEMA);
        sql.push_str(SHARED_SCHEMA);
        for table in derived {
            let columns: Vec<String> = (table.spec.columns.iter())
                .map(|c| format!("{c} BYTEA"))
                .collect();
            let key = table.spec.columns[..table.spec.key_columns].join(", ");
            let name = table.spec.name;
            let columns = columns.join(", ");
            sql.push_str(&format!(
                "CREATE TABLE {name} ({columns}, PRIMARY KEY ({key}));"
            ));
        }
        let conn = &store.conn;
        conn.batch(&sql)?;
        let mut rows = vec![
            ("origin", meta.origin.clone()),
            ("log_vkey", meta.log_vkey.clone()),
            ("reader", meta.reader.clone()),
            ("schema_version", SCHEMA_VERSION.to_string()),
        ];
        let sealing = if at_rest == AtRest::Encrypted {
            let sealer = Sealer::new(&new_store_key(keys_dir)?);
            let check = sealer.check_value();
            rows.push((KEY_CHECK, check.clone()));
            Some(Sealing { sealer, check })
        } else {
            None
        };
        for (key, value) in rows {
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ($1, $2)",
                params![key, &value],
            )?;
        }
        conn.batch("COMMIT")?;
        store.sealing.replace(sealing);
        Ok(store)
    }

    /// Opens the store of the log in the database `url` names.
    pub fn open(url: &str, keys_dir: &Path) -> Result<Self> {
        let mut store = Self::connect(url, keys_dir)?;
        if !store.has_log()? {
            return Err(corrupt("no log in the database (run `truce init` first)"));
        }
        if store.schema_version()? < SCHEMA_VERSION {
            store.migrate()?;
        }
        store.refresh_sealing()?;
        Ok(store)
    }

    fn schema_version(&self) -> Result<i64> {
        let version: Option<String> = self.meta_value("schema_version")?;
        match version.as_deref().map(str::parse::<i64>) {
            Some(Ok(version)) if (1..=SCHEMA_VERSION).contains(&version) => Ok(version),
            _ => Err(corrupt(format!(
                "the database's schema version is not one of 1 to {SCHEMA_VERSION} \
                 (a newer truce made it?)"
            ))),
        }
    }

    /// Brings an older store to this version, under the write lock (so two
    /// processes opening it at once migrate it once).
    fn migrate(&mut self) -> Result<()> {
        self.begin_write()?;
        let migrated = self.schema_version().and_then(|from| {
            for step in &MIGRATIONS[(from - 1) as usize..] {
                self.conn.batch(step)?;
            }
            self.conn.execute(
                "UPDATE meta SET value = $1 WHERE key = 'schema_version'",
                params![&SCHEMA_VERSION.to_string()],
            )?;
            Ok(())
        });
        self.finish_write(migrated)
    }

    fn connect(url: &str, keys_dir: &Path) -> Result<Self> {
        Ok(PostgresStore {
            conn: Connection::open(url)?,
            snapshots: Counter::new(0),
            writing: Counter::new(false),
            keys_dir: keys_dir.to_owned(),
            sealing: RefCell::new(None),
        })
    }

    fn has_log(&self) -> Result<bool> {
        let row = (self.conn).query_one("SELECT to_regclass('entries') IS NOT NULL", params![])?;
        Ok(row.get(0))
    }

    fn meta_value(&self, key: &str) -> Result<Option<String>> {
        let rows = (self.conn).query("SELECT value FROM meta WHERE key = $1", params![key])?;
        Ok(rows.first().map(|r| r.get(0)))
    }

    /// As for SQLite: the key is read anew when the check changed.
    fn refresh_sealing(&self) -> Result<()> {
        let check = self.meta_value(KEY_CHECK)?;
        if check.as_deref() == self.sealing.borrow().as_ref().map(|s| s.check.as_str()) {
            return Ok(());
        }
        let sealing = match check {
            None => None,
            Some(check) => Some(Sealing {
                sealer: key_that_opens(&self.keys_dir, &check)?,
                check,
            }),
        };
        self.sealing.replace(sealing);
        Ok(())
    }

    fn with_sealer<T>(&self, work: impl FnOnce(Option<&Sealer>) -> T) -> T {
        let sealing = self.sealing.borrow();
        work(sealing.as_ref().map(|s| &s.sealer))
    }

    fn end_snapshot(&self) {
        let open = self.snapshots.get() - 1;
        self.snapshots.set(open);
        if open == 0 {
            let _ = self.conn.batch("COMMIT");
        }
    }

    fn finish_write<T>(&mut self, written: Result<T>) -> Result<T> {
        self.writing.set(false);
        let committed = written.and_then(|done| {
            self.conn.batch("COMMIT")?;
            Ok(done)
        });
        if committed.is_err() {
            let _ = self.conn.batch("ROLLBACK");
        }
        committed
    }

    fn write_batch(&self, batch: &Batch) -> Result<()> {
        let sealing = self.sealing.borrow();
        let sealer = sealing.as_ref().map(|s| &s.sealer);
        let conn = &self.conn;
        let stored = stored_size(conn)?;
        let expected = batch.entries.first().map_or(stored, |e| e.index);
        let covered = batch.checkpoint.as_ref().map_or(0, |(size, _)| *size);
        if expected != stored || covered > stored + batch.entries.len() as u64 {
            return Err(StoreError::Moved { stored });
        }
        write_entries(conn, &batch.entries, sealer)?;
        for index in &batch.erase_payloads {
            let erased = conn.execute(
                "UPDATE payloads SET status = 'erased', bytes = NULL, data_key = NULL \
                 WHERE entry_index = $1",
                params![*index as i64],
            )?;
            if erased != 1 {
                return Err(corrupt(format!("no payload {index} to erase")));
            }
        }
        if let Some((size, note)) = &batch.checkpoint {
            write_checkpoint(conn, *size, note)?;
        }
        write_derived(conn, &batch.derived)?;
        write_saved_state(conn, batch, sealer)?;
        write_indexes(conn, batch)
    }

    fn saved_state_of(&self, row: &Row) -> Result<SavedState> {
        let size = row.get::<_, i64>(0) as u64;
        let state: Vec<u8> = row.get(1);
        let data_key: Option<Vec<u8>> = row.get(2);
        let frontier: Option<Vec<u8>> = row.get(3);
        self.with_sealer(|sealer| unseal(sealer, Record::State(size), state, data_key))
            .map(|state| SavedState {
                tree_size: size,
                state,
                frontier,
            })
            .map_err(|why| corrupt(format!("saved state at size {size} {why}")))
    }

    fn index_lookup(&self, sql: &str, args: Vec<Param>) -> Result<Option<u64>> {
        let rows = self.conn.query(sql, args)?;
        Ok(rows.first().map(|r| r.get::<_, i64>(0) as u64))
    }

    fn cells(&self, sql: &str, width: usize, args: Vec<Param>) -> Result<Vec<Vec<Cell>>> {
        let rows = self.conn.query(sql, args)?;
        let cells = |row: &Row| (0..width).map(|i| decode_cell(row.get(i))).collect();
        Ok(rows.iter().map(cells).collect())
    }
}

fn stored_size(conn: &Connection) -> Result<u64> {
    let row = conn.query_one(
        "SELECT COALESCE(MAX(entry_index) + 1, 0) FROM entries",
        params![],
    )?;
    Ok(row.get::<_, i64>(0) as u64)
}

/// A batch's entries and payloads, one statement each (arrays unnested),
/// so a batch costs a few round trips, not two per entry.
fn write_entries(
    conn: &Connection,
    entries: &[StoredEntry],
    sealer: Option<&Sealer>,
) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let indices: Vec<i64> = entries.iter().map(|e| e.index as i64).collect();
    let leaves: Vec<Option<Vec<u8>>> = entries.iter().map(|e| Some(e.leaf.clone())).collect();
    let hashes: Vec<Option<Vec<u8>>> = entries.iter().map(|e| Some(e.leaf_hash.to_vec())).collect();
    conn.execute(
        "INSERT INTO entries (entry_index, leaf, leaf_hash) \
         SELECT * FROM UNNEST($1::BIGINT[], $2::BYTEA[], $3::BYTEA[])",
        params![indices.clone(), leaves, hashes],
    )?;
    let statuses: Vec<String> = entries
        .iter()
        .map(|e| e.payload.status().to_owned())
        .collect();
    let (bytes, data_keys): (Vec<_>, Vec<_>) = entries
        .iter()
        .map(|e| match &e.payload {
            PayloadRecord::Present(bytes) => {
                let (bytes, data_key) = seal(sealer, Record::Payload(e.index), bytes);
                (Some(bytes.into_owned()), data_key)
            }
            _ => (None, None),
        })
        .unzip();
    conn.execute(
        "INSERT INTO payloads (entry_index, status, bytes, data_key) \
         SELECT * FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::BYTEA[], $4::BYTEA[])",
        params![indices, statuses, bytes, data_keys],
    )?;
    Ok(())
}

fn write_indexes(conn: &Connection, batch: &Batch) -> Result<()> {
    for key in &batch.statements {
        conn.execute(
            "INSERT INTO statements (actor, seq, entry_index) VALUES ($1, $2, $3)",
            params![&key.actor, key.seq as i64, key.index as i64],
        )?;
    }
    for key in &batch.idempotency_keys {
        conn.execute(
            "INSERT INTO idempotency_keys (actor, key, entry_index) VALUES ($1, $2, $3)",
            params![&key.actor, &key.key, key.index as i64],
        )?;
    }
    Ok(())
}

/// As for SQLite: a checkpoint already stored at that size must be the
/// same note.
fn write_checkpoint(conn: &Connection, size: u64, note: &[u8]) -> Result<()> {
    let size = size as i64;
    let added = conn.execute(
        "INSERT INTO checkpoints (tree_size, note) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        params![size, note],
    )?;
    if added == 0 {
        let row = conn.query_one(
            "SELECT note FROM checkpoints WHERE tree_size = $1",
            params![size],
        )?;
        if row.get::<_, &[u8]>(0) != note {
            return Err(corrupt(format!(
                "two different checkpoints signed at size {size}"
            )));
        }
    }
    Ok(())
}

fn write_derived(conn: &Connection, derived: &DerivedWrite) -> Result<()> {
    match derived {
        DerivedWrite::Unchanged => Ok(()),
        DerivedWrite::Rows(changes) => {
            for RowChange::Upsert(spec, row) in *changes {
                upsert(conn, spec, row)?;
            }
            Ok(())
        }
        DerivedWrite::Rewrite(tables) => {
            for table in *tables {
                conn.execute(&format!("DELETE FROM {}", table.spec.name), params![])?;
                for row in &table.rows {
                    upsert(conn, table.spec, row)?;
                }
            }
            Ok(())
        }
    }
}

/// Inserts the row, or replaces the row with the same key.
fn upsert(conn: &Connection, spec: &TableSpec, row: &[Cell]) -> Result<()> {
    let placeholders: Vec<String> = (1..=spec.columns.len()).map(|i| format!("${i}")).collect();
    let key = spec.columns[..spec.key_columns].join(", ");
    let rest: Vec<String> = (spec.columns[spec.key_columns..].iter())
        .map(|c| format!("{c} = EXCLUDED.{c}"))
        .collect();
    let on_conflict = if rest.is_empty() {
        "DO NOTHING".to_owned()
    } else {
        format!("DO UPDATE SET {}", rest.join(", "))
    };
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({key}) {on_conflict}",
        spec.name,
        spec.columns.join(", "),
        placeholders.join(", ")
    );
    let cells = row.iter().map(|c| Param::from(encode_cell(c))).collect();
    conn.execute(&sql, cells)?;
    Ok(())
}

/// As for SQLite: an erasure drops the saved states folded with the erased
/// payload; the newest [`SAVED_STATES_KEPT`] are kept.
fn write_saved_state(conn: &Connection, batch: &Batch, sealer: Option<&Sealer>) -> Result<()> {
    if matches!(batch.derived, DerivedWrite::Rewrite(_)) {
        let first_erased = batch.erase_payloads.iter().min().map_or(0, |i| *i as i64);
        conn.execute(
            "DELETE FROM saved_states WHERE tree_size > $1",
            params![first_erased],
        )?;
    }
    if let Some(saved) = &batch.saved_state {
        let size = saved.tree_size as i64;
        let (state, data_key) = seal(sealer, Record::State(saved.tree_size), &saved.state);
        conn.execute(
            "INSERT INTO saved_states (tree_size, state, data_key, frontier) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (tree_size) DO UPDATE SET \
             state = EXCLUDED.state, data_key = EXCLUDED.data_key, frontier = EXCLUDED.frontier",
            params![size, state.into_owned(), data_key, &saved.frontier],
        )?;
        conn.execute(
            "DELETE FROM saved_states WHERE tree_size NOT IN \
             (SELECT tree_size FROM saved_states ORDER BY tree_size DESC LIMIT $1)",
            params![i64::from(SAVED_STATES_KEPT)],
        )?;
    }
    Ok(())
}

/// A cell as bytes whose order is the cells' order: a tag (null, integer,
/// text), then an integer as big-endian with its sign bit flipped, or the
/// text's UTF-8 (which sorts as Rust's strings do).
pub fn encode_cell(cell: &Cell) -> Vec<u8> {
    match cell {
        Cell::Null => vec![0],
        Cell::Int(i) => {
            let mut bytes = vec![1];
            bytes.extend_from_slice(&((*i as u64) ^ (1 << 63)).to_be_bytes());
            bytes
        }
        Cell::Text(text) => {
            let mut bytes = vec![2];
            bytes.extend_from_slice(text.as_bytes());
            bytes
        }
    }
}

/// The cell [`encode_cell`] wrote; anything else shows as text that no
/// replay produces, so a comparison fails visibly.
pub fn decode_cell(bytes: Option<&[u8]>) -> Cell {
    match bytes {
        None => Cell::Text("<SQL NULL>".to_owned()),
        Some([0]) => Cell::Null,
        Some([1, rest @ ..]) => match <[u8; 8]>::try_from(rest) {
            Ok(b) => Cell::Int((u64::from_be_bytes(b) ^ (1 << 63)) as i64),
            Err(_) => Cell::Text(format!("<integer of {} bytes>", rest.len())),
        },
        Some([2, rest @ ..]) => match std::str::from_utf8(rest) {
            Ok(text) => Cell::Text(text.to_owned()),
            Err(_) => Cell::Text("<text not UTF-8>".to_owned()),
        },
        Some(other) => Cell::Text(format!("<cell of {} bytes>", other.len())),
    }
}

/// Re-seals every payload and saved state under `next`, in chunks of
/// entries, so a large store is never held in memory.
fn rekey_rows(conn: &Connection, current: Option<&Sealer>, next: &Sealer) -> Result<Rekeyed> {
    let mut done = Rekeyed {
        rewrapped: 0,
        sealed: 0,
    };
    let mut after = -1i64;
    loop {
        let rows = conn.query(
            "SELECT entry_index, bytes, data_key FROM payloads \
             WHERE status = 'present' AND entry_index > $1 ORDER BY entry_index LIMIT $2",
            params![after, PAGE],
        )?;
        let Some(last) = rows.last() else { break };
        after = last.get(0);
        for row in rows {
            let index: i64 = row.get(0);
            let record = Record::Payload(index as u64);
            let (bytes, data_key) =
                reseal(current, next, record, row.get(1), row.get(2), &mut done)?;
            conn.execute(
                "UPDATE payloads SET bytes = $2, data_key = $3 WHERE entry_index = $1",
                params![index, bytes, data_key],
            )?;
        }
    }
    let states = conn.query(
        "SELECT tree_size, state, data_key FROM saved_states",
        params![],
    )?;
    for row in states {
        let size: i64 = row.get(0);
        let record = Record::State(size as u64);
        let (state, data_key) = reseal(current, next, record, row.get(1), row.get(2), &mut done)?;
        conn.execute(
            "UPDATE saved_states SET state = $2, data_key = $3 WHERE tree_size = $1",
            params![size, state, data_key],
        )?;
    }
    Ok(done)
}

const ENTRY_QUERY: &str = "SELECT e.entry_index, e.leaf, e.leaf_hash, p.status, p.bytes, p.data_key
     FROM entries e LEFT JOIN payloads p ON p.entry_index = e.entry_index";

/// How many entries one round trip reads while streaming.
const PAGE: i64 = 4096;

fn read_entry(row: &Row, sealer: Option<&Sealer>) -> std::result::Result<StoredEntry, String> {
    let columns = EntryColumns {
        index: row.get(0),
        leaf: row.get(1),
        leaf_hash: row.get(2),
        status: row.get(3),
        bytes: row.get(4),
        data_key: row.get(5),
    };
    stored_entry(columns, sealer)
}

impl LogStore for PostgresStore {
    fn meta(&self) -> Result<LogMeta> {
        let value = |key: &str| {
            self.meta_value(key)?
                .ok_or_else(|| corrupt(format!("meta {key} missing")))
        };
        Ok(LogMeta {
            origin: value("origin")?,
            log_vkey: value("log_vkey")?,
            reader: value("reader")?,
        })
    }

    fn snapshot(&self) -> Result<ReadSnapshot<'_>> {
        if self.writing.get() {
            return Ok(ReadSnapshot::new(|| ()));
        }
        let open = self.snapshots.get();
        if open == 0 {
            (self.conn).batch("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
            // The snapshot is fixed at its first query: the key check, so
            // this snapshot is read with its key.
            if let Err(e) = self.refresh_sealing() {
                let _ = self.conn.batch("ROLLBACK");
                return Err(e);
            }
        }
        self.snapshots.set(open + 1);
        Ok(ReadSnapshot::new(|| self.end_snapshot()))
    }

    fn tree_size(&self) -> Result<u64> {
        stored_size(&self.conn)
    }

    fn begin_write(&mut self) -> Result<()> {
        if !self.writing.get() {
            self.conn.batch("BEGIN")?;
            if let Err(e) = self.conn.batch(WRITE_LOCK) {
                let _ = self.conn.batch("ROLLBACK");
                return Err(e);
            }
            self.writing.set(true);
        }
        Ok(())
    }

    fn abort_write(&mut self) {
        if self.writing.replace(false) {
            let _ = self.conn.batch("ROLLBACK");
        }
    }

    fn append(&mut self, batch: Batch) -> Result<()> {
        self.begin_write()?;
        let written = self
            .refresh_sealing()
            .and_then(|()| self.write_batch(&batch));
        self.finish_write(written)
    }

    /// PostgreSQL keeps an updated row's earlier version until a vacuum
    /// reclaims it: `VACUUM FULL` rewrites the tables that held the erased
    /// bytes, so no earlier version stays in their files. The write-ahead
    /// log and any base backup still hold it until they are recycled; the
    /// data key, erased with it, is what keeps those unreadable (see `seal`).
    fn purge_erased(&mut self) -> Result<()> {
        // One statement each: VACUUM cannot run in a transaction block.
        self.conn.batch("VACUUM FULL payloads")?;
        self.conn.batch("VACUUM FULL saved_states")?;
        Ok(())
    }

    fn entry(&self, index: u64) -> Result<Option<StoredEntry>> {
        let rows = self.conn.query(
            &format!("{ENTRY_QUERY} WHERE e.entry_index = $1"),
            params![index as i64],
        )?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        self.with_sealer(|sealer| read_entry(row, sealer))
            .map(Some)
            .map_err(corrupt)
    }

    fn for_each_entry(
        &self,
        start: u64,
        end: u64,
        visit: &mut dyn FnMut(StoredEntry) -> std::result::Result<(), String>,
    ) -> Result<std::result::Result<(), String>> {
        // Pages of one snapshot, so a reader between pages sees one log.
        let _snapshot = self.snapshot()?;
        let sql = format!(
            "{ENTRY_QUERY} WHERE e.entry_index >= $1 AND e.entry_index < $2 \
             ORDER BY e.entry_index LIMIT $3"
        );
        let mut order = InOrder::new(start, end);
        while order.expected < end {
            let from = order.expected as i64;
            let rows = self.conn.query(&sql, params![from, end as i64, PAGE])?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let visited = self
                    .with_sealer(|sealer| read_entry(row, sealer))
                    .and_then(|entry| order.next(entry.index).and_then(|()| visit(entry)));
                if visited.is_err() {
                    return Ok(visited);
                }
            }
        }
        Ok(order.finish())
    }

    fn for_each_leaf_hash(
        &self,
        start: u64,
        end: u64,
        visit: &mut dyn FnMut(Hash),
    ) -> Result<std::result::Result<(), String>> {
        let _snapshot = self.snapshot()?;
        let mut order = InOrder::new(start, end);
        while order.expected < end {
            let from = order.expected as i64;
            let rows = self.conn.query(
                "SELECT entry_index, leaf_hash FROM entries \
                 WHERE entry_index >= $1 AND entry_index < $2 ORDER BY entry_index LIMIT $3",
                params![from, end as i64, PAGE * 16],
            )?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let index = row.get::<_, i64>(0) as u64;
                let hash = leaf_hash(index, row.get(1)).and_then(|h| order.next(index).map(|()| h));
                match hash {
                    Ok(hash) => visit(hash),
                    Err(why) => return Ok(Err(why)),
                }
            }
        }
        Ok(order.finish())
    }

    fn saved_state(&self, at_most: u64) -> Result<Option<SavedState>> {
        let rows = self.conn.query(
            "SELECT tree_size, state, data_key, frontier FROM saved_states \
             WHERE tree_size <= $1 ORDER BY tree_size DESC LIMIT 1",
            params![at_most as i64],
        )?;
        rows.first().map(|row| self.saved_state_of(row)).transpose()
    }

    fn saved_states(&self) -> Result<Vec<SavedState>> {
        let rows = self.conn.query(
            "SELECT tree_size, state, data_key, frontier FROM saved_states ORDER BY tree_size",
            params![],
        )?;
        rows.iter().map(|row| self.saved_state_of(row)).collect()
    }

    fn checkpoints(&self) -> Result<Vec<(u64, Vec<u8>)>> {
        let rows = self.conn.query(
            "SELECT tree_size, note FROM checkpoints ORDER BY tree_size",
            params![],
        )?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<_, i64>(0) as u64, r.get(1)))
            .collect())
    }

    fn latest_checkpoint(&self) -> Result<Option<(u64, Vec<u8>)>> {
        let rows = self.conn.query(
            "SELECT tree_size, note FROM checkpoints ORDER BY tree_size DESC LIMIT 1",
            params![],
        )?;
        Ok(rows.first().map(|r| (r.get::<_, i64>(0) as u64, r.get(1))))
    }

    fn checkpoint_at(&self, size: u64) -> Result<Option<Vec<u8>>> {
        let rows = self.conn.query(
            "SELECT note FROM checkpoints WHERE tree_size = $1",
            params![size as i64],
        )?;
        Ok(rows.first().map(|r| r.get(0)))
    }

    fn statement_entry(&self, actor: &str, seq: u64) -> Result<Option<u64>> {
        self.index_lookup(
            "SELECT entry_index FROM statements WHERE actor = $1 AND seq = $2",
            params![actor, seq as i64],
        )
    }

    fn idempotent_entry(&self, actor: &str, key: &str) -> Result<Option<u64>> {
        self.index_lookup(
            "SELECT entry_index FROM idempotency_keys WHERE actor = $1 AND key = $2",
            params![actor, key],
        )
    }

    fn derived_table(&self, name: &str, columns: &[&str]) -> Result<Vec<Vec<Cell>>> {
        let list = columns.join(", ");
        self.cells(
            &format!("SELECT {list} FROM {name} ORDER BY {list}"),
            columns.len(),
            params![],
        )
    }

    fn derived_rows_where_first(
        &self,
        name: &str,
        columns: &[&str],
        value: &Cell,
    ) -> Result<Vec<Vec<Cell>>> {
        let list = columns.join(", ");
        self.cells(
            &format!(
                "SELECT {list} FROM {name} WHERE {} = $1 ORDER BY {list}",
                columns[0]
            ),
            columns.len(),
            params![encode_cell(value)],
        )
    }

    fn table_names(&self) -> Result<Vec<String>> {
        let rows = self.conn.query(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() ORDER BY table_name",
            params![],
        )?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn is_encrypted(&self) -> bool {
        self.sealing.borrow().is_some()
    }

    fn is_writable(&self) -> Result<bool> {
        let rows = self.conn.query("SELECT pg_is_in_recovery()", params![])?;
        Ok(!rows.first().is_some_and(|r| r.get::<_, bool>(0)))
    }

    /// As for SQLite: one transaction, the new key's file written before it
    /// commits and put in place after; then the tables are rewritten, so
    /// the old wrappings leave their files.
    fn rekey(&mut self) -> Result<Rekeyed> {
        let next = NextKey::draw(&self.keys_dir)?;
        self.begin_write()?;
        let rewritten = self.refresh_sealing().and_then(|()| {
            let sealing = self.sealing.borrow();
            let current = sealing.as_ref().map(|s| &s.sealer);
            let done = rekey_rows(&self.conn, current, &next.sealing.sealer)?;
            self.conn.execute(
                "INSERT INTO meta (key, value) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                params![KEY_CHECK, &next.sealing.check],
            )?;
            next.write_pending()?;
            Ok(done)
        });
        let done = self.finish_write(rewritten)?;
        self.sealing.replace(Some(next.put_in_place()?));
        self.purge_erased()?;
        Ok(done)
    }
}

/// A shared record from its columns (value, revision, expires_at).
fn shared_record(row: &Row) -> SharedRecord {
    SharedRecord {
        value: row.get(0),
        revision: row.get::<_, i64>(1) as u64,
        expires_at: row.get::<_, Option<i64>>(2).map(|t| t as u64),
    }
}

/// The lock a change of one space of shared records holds for its
/// transaction (apart from the log's write lock, so neither waits for the other).
const SHARED_LOCK: &str = "SELECT pg_advisory_xact_lock(\
     hashtext(current_database() || '.' || current_schema() || '.shared.' || $1))";

impl PostgresStore {
    fn change_shared(
        &self,
        space: &str,
        key: &str,
        now: i64,
        change: &mut dyn FnMut(Option<&SharedRecord>) -> Change,
    ) -> Result<()> {
        let conn = &self.conn;
        conn.query(SHARED_LOCK, params![space])?;
        conn.execute(
            "DELETE FROM shared WHERE space = $1 AND expires_at <= $2",
            params![space, now],
        )?;
        let rows = conn.query(
            "SELECT value, revision, expires_at FROM shared WHERE space = $1 AND key = $2",
            params![space, key],
        )?;
        let before = rows.first().map(shared_record);
        match change(before.as_ref()) {
            Change::Keep => {}
            Change::Put { value, expires_at } => {
                conn.execute(
                    "INSERT INTO shared (space, key, revision, value, expires_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (space, key) DO UPDATE SET \
                     revision = EXCLUDED.revision, value = EXCLUDED.value, \
                     expires_at = EXCLUDED.expires_at",
                    vec![
                        Param::Text(space.to_owned()),
                        Param::Text(key.to_owned()),
                        Param::Int(next_revision(before.as_ref()) as i64),
                        Param::Bytes(Some(value)),
                        Param::OptInt(expires_at.map(|t| t as i64)),
                    ],
                )?;
            }
            Change::Remove => {
                conn.execute(
                    "DELETE FROM shared WHERE space = $1 AND key = $2",
                    params![space, key],
                )?;
            }
        }
        Ok(())
    }
}

impl SharedStore for PostgresStore {
    fn shared_get(&self, space: Space, key: &str, now: u64) -> Result<Option<SharedRecord>> {
        let rows = self.conn.query(
            "SELECT value, revision, expires_at FROM shared \
             WHERE space = $1 AND key = $2 AND (expires_at IS NULL OR expires_at > $3)",
            params![space.as_str(), key, now as i64],
        )?;
        Ok(rows.first().map(shared_record))
    }

    fn shared_revision(&self, space: Space, key: &str) -> Result<u64> {
        let rows = self.conn.query(
            "SELECT revision FROM shared WHERE space = $1 AND key = $2",
            params![space.as_str(), key],
        )?;
        Ok(rows.first().map_or(0, |r| r.get::<_, i64>(0) as u64))
    }

    fn shared_list(&self, space: Space, now: u64) -> Result<Vec<(String, SharedRecord)>> {
        let rows = self.conn.query(
            "SELECT value, revision, expires_at, key FROM shared \
             WHERE space = $1 AND (expires_at IS NULL OR expires_at > $2) ORDER BY key",
            params![space.as_str(), now as i64],
        )?;
        Ok(rows.iter().map(|r| (r.get(3), shared_record(r))).collect())
    }

    fn shared_update(
        &mut self,
        space: Space,
        key: &str,
        now: u64,
        change: &mut dyn FnMut(Option<&SharedRecord>) -> Change,
    ) -> Result<()> {
        self.conn.batch("BEGIN")?;
        let changed = self.change_shared(space.as_str(), key, now as i64, change);
        let committed = changed.and_then(|()| self.conn.batch("COMMIT"));
        if committed.is_err() {
            let _ = self.conn.batch("ROLLBACK");
        }
        committed
    }
}
