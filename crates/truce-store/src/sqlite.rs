//! The embedded store: one SQLite file, `truce.db`, in the data directory.
//!
//! WAL journal with `synchronous=FULL`: a commit returns only after its WAL
//! frames are fsynced, so one batch costs one fsync (group commit).

use std::cell::{Cell as Counter, RefCell};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode, OptionalExtension, params};
use tlog::Hash;
use truce_core::projection::{Cell, RowChange, Table, TableSpec};

use crate::rows::{EntryColumns, InOrder, leaf_hash, stored_entry};
use crate::seal::{
    NextKey, Record, Sealer, Sealing, key_that_opens, new_store_key, reseal, seal, unseal,
};
use crate::shared::{Change, SharedRecord, SharedStore, Space, next_revision};
use crate::{
    AtRest, Batch, DerivedWrite, LogMeta, LogStore, PayloadRecord, ReadSnapshot, Rekeyed, Result,
    SavedState, StoreError, StoredEntry,
};

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

/// Indexes the writer keeps beside the log to answer retries; derivable
/// from the entries, checked against them when used, and not part of what
/// a verifier compares.
pub const INDEX_TABLES: [&str; 3] = ["statements", "idempotency_keys", "saved_states"];

/// Schema version 1 added the index tables; a store of version 0 gets them
/// (empty: retries of older statements are refused as already recorded).
const INDEX_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS statements (
    actor TEXT NOT NULL, seq INTEGER NOT NULL, entry_index INTEGER NOT NULL,
    PRIMARY KEY (actor, seq)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idempotency_keys (
    actor TEXT NOT NULL, key TEXT NOT NULL, entry_index INTEGER NOT NULL,
    PRIMARY KEY (actor, key)
) STRICT, WITHOUT ROWID;
PRAGMA user_version = 1;
";

/// Schema version 2 keeps the fold's state beside the log (the newest
/// [`SAVED_STATES_KEPT`]), so opening folds only the entries after it.
const STATE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS saved_states (tree_size INTEGER PRIMARY KEY, state BLOB NOT NULL) STRICT;
PRAGMA user_version = 2;
";

/// Schema version 3 keeps, beside each payload and saved state, the data
/// key that opens it, wrapped under the store key (`seal`); a row without
/// one is in the clear (a store made before encryption at rest, or plain).
const SEAL_SCHEMA: &str = "
ALTER TABLE payloads ADD COLUMN data_key BLOB;
ALTER TABLE saved_states ADD COLUMN data_key BLOB;
PRAGMA user_version = 3;
";

/// Schema version 4 keeps the tree's frontier beside each saved state.
const FRONTIER_SCHEMA: &str = "
ALTER TABLE saved_states ADD COLUMN frontier BLOB;
PRAGMA user_version = 4;
";

/// Schema version 5 keeps the records the processes serving the log share
/// (`shared`): users and tokens, sessions, failed logins, held cosignatures.
const SHARED_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS shared (
    space TEXT NOT NULL, key TEXT NOT NULL, revision INTEGER NOT NULL, value BLOB NOT NULL,
    expires_at INTEGER,
    PRIMARY KEY (space, key)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS shared_expiry ON shared (space, expires_at);
PRAGMA user_version = 5;
";

/// The meta row holding [`Sealer::check_value`]: the store is encrypted
/// at rest exactly when it has one.
const KEY_CHECK: &str = "store_key_check";

/// How many saved states a store keeps: the newest, and the one before in
/// case the newest is found bad.
pub const SAVED_STATES_KEPT: u32 = 2;

pub struct SqliteStore {
    conn: Connection,
    /// How many [`ReadSnapshot`]s are open (they nest).
    snapshots: Counter<u32>,
    /// A write transaction is open (`begin_write`): reads see its state.
    writing: Counter<bool>,
    dir: PathBuf,
    /// The store key, for an encrypted store; replaced when another process
    /// rekeys (see `refresh_sealing`).
    sealing: RefCell<Option<Sealing>>,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(ErrorCode::DiskFull) => StoreError::Unavailable("the disk is full".to_owned()),
            Some(ErrorCode::ReadOnly) => {
                StoreError::Unavailable("the store is read-only".to_owned())
            }
            Some(ErrorCode::CannotOpen | ErrorCode::SystemIoFailure) => {
                StoreError::Unavailable(format!("the store cannot be written ({e})"))
            }
            _ => StoreError::Backend(e.to_string()),
        }
    }
}

fn corrupt(why: impl Into<String>) -> StoreError {
    StoreError::Corrupt(why.into())
}

impl SqliteStore {
    /// Creates a new store in `dir` (which must not hold one) for the log
    /// described by `meta`, with the derived tables of an empty state.
    /// Encrypted at rest unless `at_rest` says otherwise: the store key is
    /// read from its source ([`KeySource::for_store`]), or drawn and written
    /// to its file when there is none.
    pub fn create(dir: &Path, meta: &LogMeta, derived: &[Table], at_rest: AtRest) -> Result<Self> {
        crate::files::private_dir(dir)?;
        let path = dir.join(DB_FILE);
        if path.exists() {
            return Err(corrupt(format!("{} already exists", path.display())));
        }
        // SQLite gives the -wal and -shm files the database file's mode.
        crate::files::create_private_file(&path)?;
        let mut store = Self::open_path(&path)?;
        // Set before the first table: freed pages can then be given back
        // after an erasure without rewriting the whole file (`purge_freed`).
        store
            .conn
            .pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
        let tx = store.conn.transaction()?;
        tx.execute_batch(SCHEMA)?;
        tx.execute_batch(INDEX_SCHEMA)?;
        tx.execute_batch(STATE_SCHEMA)?;
        tx.execute_batch(SEAL_SCHEMA)?;
        tx.execute_batch(FRONTIER_SCHEMA)?;
        tx.execute_batch(SHARED_SCHEMA)?;
        for table in derived {
            let columns = table.spec.columns.join(", ");
            let key = table.spec.columns[..table.spec.key_columns].join(", ");
            tx.execute_batch(&format!(
                "CREATE TABLE {} ({columns}, PRIMARY KEY ({key}));",
                table.spec.name
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
        if at_rest == AtRest::Encrypted {
            let sealer = Sealer::new(&new_store_key(dir)?);
            let check = sealer.check_value();
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)",
                params![KEY_CHECK, check],
            )?;
            store.sealing.replace(Some(Sealing { sealer, check }));
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
        let store = Self::open_path(&path)?;
        store.refresh_sealing()?;
        Ok(store)
    }

    fn open_path(path: &Path) -> Result<Self> {
        for suffix in ["", "-wal", "-shm"] {
            let file = path.with_file_name(format!("{DB_FILE}{suffix}"));
            if file.exists() {
                crate::files::narrow(&file, crate::files::PRIVATE_FILE_MODE)?;
            }
        }
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Deleted and overwritten content (an erased payload, a dropped
        // saved state) is zeroed, not left in free space.
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let mut version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version < 2 && !conn.is_readonly(rusqlite::MAIN_DB)? {
            let has_log: bool = conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'entries')",
                [],
                |r| r.get(0),
            )?;
            if has_log {
                conn.execute_batch(INDEX_SCHEMA)?;
                conn.execute_batch(STATE_SCHEMA)?;
                version = 2;
            }
        }
        if (2..3).contains(&version) && !conn.is_readonly(rusqlite::MAIN_DB)? {
            conn.execute_batch(SEAL_SCHEMA)?;
            version = 3;
        }
        if version == 3 && !conn.is_readonly(rusqlite::MAIN_DB)? {
            conn.execute_batch(FRONTIER_SCHEMA)?;
            version = 4;
        }
        if version == 4 && !conn.is_readonly(rusqlite::MAIN_DB)? {
            conn.execute_batch(SHARED_SCHEMA)?;
        }
        Ok(SqliteStore {
            conn,
            snapshots: Counter::new(0),
            writing: Counter::new(false),
            dir: path.parent().map(Path::to_owned).unwrap_or_default(),
            sealing: RefCell::new(None),
        })
    }

    /// Reads the store's key check and, when it is not the one this store
    /// holds the key for (just opened, or another process rekeyed), reads
    /// the key anew. A store without a check is kept in the clear.
    fn refresh_sealing(&self) -> Result<()> {
        let check: Option<String> = self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
            .query_row([KEY_CHECK], |r| r.get(0))
            .optional()?;
        if check.as_deref() == self.sealing.borrow().as_ref().map(|s| s.check.as_str()) {
            return Ok(());
        }
        let sealing = match check {
            None => None,
            Some(check) => Some(Sealing {
                sealer: key_that_opens(&self.dir, &check)?,
                check,
            }),
        };
        self.sealing.replace(sealing);
        Ok(())
    }

    /// After an erasure: no byte of what it erased may stay in the files.
    /// `secure_delete` zeroed it in the pages it left; the free pages go
    /// (`incremental_vacuum`, or once a full `VACUUM` for a store created
    /// before auto-vacuum was set), and the WAL, which still holds the
    /// earlier images of those pages, is checkpointed and truncated (waiting,
    /// through the busy timeout, for readers of older snapshots).
    fn purge_freed(&self) -> Result<()> {
        let auto_vacuum: i64 = self
            .conn
            .pragma_query_value(None, "auto_vacuum", |r| r.get(0))?;
        if auto_vacuum == 2 {
            self.conn.execute_batch("PRAGMA incremental_vacuum")?;
        } else {
            self.conn
                .execute_batch("PRAGMA auto_vacuum = INCREMENTAL; VACUUM")?;
        }
        let busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        if busy != 0 {
            return Err(StoreError::Unavailable(
                "a reader kept the write-ahead log from being cleared".to_owned(),
            ));
        }
        Ok(())
    }

    /// Gives the store a new store key, in one transaction: every data key
    /// is wrapped anew under it, and whatever was still in the clear (a
    /// store made before encryption at rest, or plain) is sealed. The new
    /// key is written beside the old one's file before the commit and put
    /// in its place after it, so a rekey cut short at any point leaves a
    /// key that opens the store. Once the old key and its copies are
    /// destroyed, no backup taken before holds a data key anyone can unwrap.
    fn rekey_store(&mut self) -> Result<Rekeyed> {
        let next = NextKey::draw(&self.dir)?;
        self.begin_write()?;
        let rewritten = self.refresh_sealing().and_then(|()| {
            let sealer = &next.sealing.sealer;
            let done = self.with_sealer(|current| rekey_rows(&self.conn, current, sealer))?;
            self.conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
                params![KEY_CHECK, next.sealing.check],
            )?;
            next.write_pending()?;
            Ok(done)
        });
        let done = self.finish_write(rewritten)?;
        let next = next.put_in_place()?;
        self.sealing.replace(Some(next));
        // The pages and WAL frames that held the old wrappings go too.
        self.purge_freed()?;
        Ok(done)
    }

    /// Calls `work` with the sealer this store writes and reads with (none
    /// for a store kept in the clear).
    fn with_sealer<T>(&self, work: impl FnOnce(Option<&Sealer>) -> T) -> T {
        let sealing = self.sealing.borrow();
        work(sealing.as_ref().map(|s| &s.sealer))
    }

    /// Ends the write transaction `begin_write` opened: commits what
    /// `written` wrote, or rolls back when writing or committing failed.
    fn finish_write<T>(&mut self, written: Result<T>) -> Result<T> {
        self.writing.set(false);
        let committed = written.and_then(|done| {
            self.conn.execute_batch("COMMIT")?;
            Ok(done)
        });
        if committed.is_err() && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        committed
    }

    fn end_snapshot(&self) {
        let open = self.snapshots.get() - 1;
        self.snapshots.set(open);
        if open == 0 {
            // A read transaction has nothing to lose; a failure to end it
            // shows at the next statement.
            let _ = self.conn.execute_batch("COMMIT");
        }
    }
}

/// Writes a batch inside the write transaction the caller holds, sealing
/// payloads and the saved state under `sealer` when the store has one.
fn write_batch(conn: &Connection, batch: &Batch, sealer: Option<&Sealer>) -> Result<()> {
    let stored = stored_size(conn)?;
    let expected = batch.entries.first().map_or(stored, |e| e.index);
    let covered = batch.checkpoint.as_ref().map_or(0, |(size, _)| *size);
    if expected != stored || covered > stored + batch.entries.len() as u64 {
        return Err(StoreError::Moved { stored });
    }
    let mut entry = conn
        .prepare_cached("INSERT INTO entries (entry_index, leaf, leaf_hash) VALUES (?1, ?2, ?3)")?;
    let mut payload = conn.prepare_cached(
        "INSERT INTO payloads (entry_index, status, bytes, data_key) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for e in &batch.entries {
        entry.execute(params![e.index as i64, e.leaf, e.leaf_hash.as_slice()])?;
        let (bytes, data_key) = match &e.payload {
            PayloadRecord::Present(bytes) => {
                let (bytes, data_key) = seal(sealer, Record::Payload(e.index), bytes);
                (Some(bytes), data_key)
            }
            _ => (None, None),
        };
        payload.execute(params![
            e.index as i64,
            e.payload.status(),
            bytes.as_deref(),
            data_key
        ])?;
    }
    // The data key goes with the ciphertext: nothing left could open it.
    let mut erase = conn.prepare_cached(
        "UPDATE payloads SET status = 'erased', bytes = NULL, data_key = NULL \
         WHERE entry_index = ?1",
    )?;
    for index in &batch.erase_payloads {
        if erase.execute([*index as i64])? != 1 {
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

/// A batch that rewrites the derived tables (an erasure) drops the saved
/// states folded with an erased payload: those of a size above the first
/// erased entry (a state of size n covers entries 0..n, so one at most that
/// entry never saw it and stays, for the refold to start from). The newest
/// states are kept, the older ones deleted.
fn write_saved_state(conn: &Connection, batch: &Batch, sealer: Option<&Sealer>) -> Result<()> {
    if matches!(batch.derived, DerivedWrite::Rewrite(_)) {
        let first_erased = batch.erase_payloads.iter().min().map_or(0, |i| *i as i64);
        conn.execute(
            "DELETE FROM saved_states WHERE tree_size > ?1",
            [first_erased],
        )?;
    }
    if let Some(saved) = &batch.saved_state {
        let size = saved.tree_size;
        let (state, data_key) = seal(sealer, Record::State(size), &saved.state);
        conn.prepare_cached(
            "INSERT OR REPLACE INTO saved_states (tree_size, state, data_key, frontier) \
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![size as i64, &*state, data_key, saved.frontier])?;
        conn.prepare_cached(
            "DELETE FROM saved_states WHERE tree_size NOT IN \
             (SELECT tree_size FROM saved_states ORDER BY tree_size DESC LIMIT ?1)",
        )?
        .execute([SAVED_STATES_KEPT])?;
    }
    Ok(())
}

fn write_derived(tx: &Connection, derived: &DerivedWrite) -> Result<()> {
    match derived {
        DerivedWrite::Unchanged => Ok(()),
        DerivedWrite::Rows(changes) => write_row_changes(tx, changes),
        DerivedWrite::Rewrite(tables) => rewrite_tables(tx, tables),
    }
}

/// `verb` (INSERT, or INSERT OR REPLACE) of one row of `spec`, prepared once
/// per connection.
fn row_statement<'c>(
    conn: &'c Connection,
    verb: &str,
    spec: &TableSpec,
) -> Result<rusqlite::CachedStatement<'c>> {
    let placeholders = vec!["?"; spec.columns.len()].join(", ");
    Ok(conn.prepare_cached(&format!(
        "{verb} INTO {} ({}) VALUES ({placeholders})",
        spec.name,
        spec.columns.join(", ")
    ))?)
}

fn write_row_changes(tx: &Connection, changes: &[RowChange]) -> Result<()> {
    for RowChange::Upsert(spec, row) in changes {
        row_statement(tx, "INSERT OR REPLACE", spec)?
            .execute(rusqlite::params_from_iter(row.iter().map(to_sql)))?;
    }
    Ok(())
}

fn write_indexes(tx: &Connection, batch: &Batch) -> Result<()> {
    let mut statement =
        tx.prepare_cached("INSERT INTO statements (actor, seq, entry_index) VALUES (?1, ?2, ?3)")?;
    for key in &batch.statements {
        statement.execute(params![key.actor, key.seq as i64, key.index as i64])?;
    }
    let mut idempotency = tx.prepare_cached(
        "INSERT INTO idempotency_keys (actor, key, entry_index) VALUES (?1, ?2, ?3)",
    )?;
    for key in &batch.idempotency_keys {
        idempotency.execute(params![key.actor, key.key, key.index as i64])?;
    }
    Ok(())
}

fn stored_size(conn: &Connection) -> Result<u64> {
    let size: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(entry_index) + 1, 0) FROM entries")?
        .query_row([], |r| r.get(0))?;
    Ok(size as u64)
}

/// Stores a checkpoint; one already stored at that size must be the same
/// note (two processes on one log sign the same tree with the same key,
/// and Ed25519 signatures are deterministic).
fn write_checkpoint(tx: &Connection, size: u64, note: &[u8]) -> Result<()> {
    let added = tx.execute(
        "INSERT INTO checkpoints (tree_size, note) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        params![size as i64, note],
    )?;
    if added == 0 {
        let stored: Vec<u8> = tx.query_row(
            "SELECT note FROM checkpoints WHERE tree_size = ?1",
            [size as i64],
            |r| r.get(0),
        )?;
        if stored != note {
            return Err(corrupt(format!(
                "two different checkpoints signed at size {size}"
            )));
        }
    }
    Ok(())
}

fn rewrite_tables(tx: &Connection, tables: &[Table]) -> Result<()> {
    for table in tables {
        tx.execute(&format!("DELETE FROM {}", table.spec.name), [])?;
        let mut insert = row_statement(tx, "INSERT", table.spec)?;
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

fn read_entry(
    row: &rusqlite::Row,
    sealer: Option<&Sealer>,
) -> rusqlite::Result<std::result::Result<StoredEntry, String>> {
    let columns = EntryColumns {
        index: row.get(0)?,
        leaf: row.get(1)?,
        leaf_hash: row.get(2)?,
        status: row.get(3)?,
        bytes: row.get(4)?,
        data_key: row.get(5)?,
    };
    Ok(stored_entry(columns, sealer))
}

const ENTRY_QUERY: &str = "SELECT e.entry_index, e.leaf, e.leaf_hash, p.status, p.bytes, p.data_key
     FROM entries e LEFT JOIN payloads p ON p.entry_index = e.entry_index";

/// Re-seals every payload and saved state under `next`: a sealed row's data
/// key is wrapped anew (its ciphertext stays), a row in the clear is sealed.
/// In chunks of entries, so a large store is never held in memory.
fn rekey_rows(conn: &Connection, current: Option<&Sealer>, next: &Sealer) -> Result<Rekeyed> {
    const CHUNK: i64 = 1024;
    let mut done = Rekeyed {
        rewrapped: 0,
        sealed: 0,
    };
    let mut after = -1i64;
    loop {
        let rows: Vec<(i64, Vec<u8>, Option<Vec<u8>>)> = conn
            .prepare_cached(
                "SELECT entry_index, bytes, data_key FROM payloads \
                 WHERE status = 'present' AND entry_index > ?1 ORDER BY entry_index LIMIT ?2",
            )?
            .query_map(params![after, CHUNK], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let Some(last) = rows.last() else { break };
        after = last.0;
        for (index, bytes, data_key) in rows {
            let record = Record::Payload(index as u64);
            let (bytes, data_key) = reseal(current, next, record, bytes, data_key, &mut done)?;
            conn.prepare_cached(
                "UPDATE payloads SET bytes = ?2, data_key = ?3 WHERE entry_index = ?1",
            )?
            .execute(params![index, bytes, data_key])?;
        }
    }
    let states: Vec<SavedStateRow> = conn
        .prepare(&format!("SELECT {SAVED_STATE_COLUMNS} FROM saved_states"))?
        .query_map([], read_saved_state)?
        .collect::<rusqlite::Result<_>>()?;
    for (size, state, data_key, _) in states {
        let record = Record::State(size);
        let (state, data_key) = reseal(current, next, record, state, data_key, &mut done)?;
        conn.execute(
            "UPDATE saved_states SET state = ?2, data_key = ?3 WHERE tree_size = ?1",
            params![size as i64, state, data_key],
        )?;
    }
    Ok(done)
}

/// (tree size, state, wrapped data key, frontier).
type SavedStateRow = (u64, Vec<u8>, Option<Vec<u8>>, Option<Vec<u8>>);
const SAVED_STATE_COLUMNS: &str = "tree_size, state, data_key, frontier";

fn read_saved_state(row: &rusqlite::Row) -> rusqlite::Result<SavedStateRow> {
    let size = row.get::<_, i64>(0)? as u64;
    Ok((size, row.get(1)?, row.get(2)?, row.get(3)?))
}

impl SqliteStore {
    fn open_saved_state(
        &self,
        (size, state, data_key, frontier): SavedStateRow,
    ) -> Result<SavedState> {
        self.with_sealer(|sealer| unseal(sealer, Record::State(size), state, data_key))
            .map(|state| SavedState {
                tree_size: size,
                state,
                frontier,
            })
            .map_err(|why| corrupt(format!("saved state at size {size} {why}")))
    }

    /// The rows of `query`, each of `width` cells.
    fn rows(
        &self,
        query: &str,
        width: usize,
        args: impl rusqlite::Params,
    ) -> Result<Vec<Vec<Cell>>> {
        let mut statement = self.conn.prepare(query)?;
        let mut rows = statement.query(args)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(
                (0..width)
                    .map(|i| row.get_ref(i).map(from_sql))
                    .collect::<rusqlite::Result<_>>()?,
            );
        }
        Ok(out)
    }

    /// An entry index from an index table; a reader's copy has none.
    fn index_lookup(&self, query: &str, args: impl rusqlite::Params) -> Result<Option<u64>> {
        let found: Option<i64> = self
            .conn
            .prepare_cached(query)?
            .query_row(args, |r| r.get(0))
            .optional()?;
        Ok(found.map(|i| i as u64))
    }
}

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

    fn snapshot(&self) -> Result<ReadSnapshot<'_>> {
        if self.writing.get() {
            // Inside the write transaction every read is of one state already.
            return Ok(ReadSnapshot::new(|| ()));
        }
        let open = self.snapshots.get();
        if open == 0 {
            self.conn.execute_batch("BEGIN DEFERRED")?;
            // WAL fixes the snapshot at the first read, so read at once:
            // the key check, so this snapshot is read with its key.
            if let Err(e) = self.refresh_sealing() {
                let _ = self.conn.execute_batch("ROLLBACK");
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
            // Immediate: the write lock is taken now, not at the first write.
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
            self.writing.set(true);
        }
        Ok(())
    }

    fn abort_write(&mut self) {
        if self.writing.replace(false) {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }

    fn append(&mut self, batch: Batch) -> Result<()> {
        self.begin_write()?;
        // Another process may have rekeyed: seal under the key it left.
        let written = self
            .refresh_sealing()
            .and_then(|()| self.with_sealer(|sealer| write_batch(&self.conn, &batch, sealer)));
        self.finish_write(written)
    }

    fn purge_erased(&mut self) -> Result<()> {
        self.purge_freed()
    }

    fn entry(&self, index: u64) -> Result<Option<StoredEntry>> {
        let row = self
            .conn
            .query_row(
                &format!("{ENTRY_QUERY} WHERE e.entry_index = ?1"),
                [index as i64],
                |row| self.with_sealer(|sealer| read_entry(row, sealer)),
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
        let mut statement = self.conn.prepare_cached(&format!(
            "{ENTRY_QUERY} WHERE e.entry_index >= ?1 AND e.entry_index < ?2 ORDER BY e.entry_index"
        ))?;
        let mut rows = statement.query(params![start as i64, end as i64])?;
        let mut order = InOrder::new(start, end);
        self.with_sealer(|sealer| {
            while let Some(row) = rows.next()? {
                let visited = read_entry(row, sealer)?
                    .and_then(|entry| order.next(entry.index).and_then(|()| visit(entry)));
                if visited.is_err() {
                    return Ok(visited);
                }
            }
            Ok(order.finish())
        })
    }

    fn for_each_leaf_hash(
        &self,
        start: u64,
        end: u64,
        visit: &mut dyn FnMut(Hash),
    ) -> Result<std::result::Result<(), String>> {
        let mut statement = self.conn.prepare(
            "SELECT entry_index, leaf_hash FROM entries \
             WHERE entry_index >= ?1 AND entry_index < ?2 ORDER BY entry_index",
        )?;
        let mut rows = statement.query(params![start as i64, end as i64])?;
        let mut order = InOrder::new(start, end);
        while let Some(row) = rows.next()? {
            let index = row.get::<_, i64>(0)? as u64;
            let hash: Vec<u8> = row.get(1)?;
            match leaf_hash(index, &hash).and_then(|hash| order.next(index).map(|()| hash)) {
                Ok(hash) => visit(hash),
                Err(why) => return Ok(Err(why)),
            }
        }
        Ok(order.finish())
    }

    fn saved_state(&self, at_most: u64) -> Result<Option<SavedState>> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {SAVED_STATE_COLUMNS} FROM saved_states WHERE tree_size <= ?1 \
                     ORDER BY tree_size DESC LIMIT 1"
                ),
                [at_most as i64],
                read_saved_state,
            )
            .optional()?
            .map(|row| self.open_saved_state(row))
            .transpose()
    }

    fn saved_states(&self) -> Result<Vec<SavedState>> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT {SAVED_STATE_COLUMNS} FROM saved_states ORDER BY tree_size"
        ))?;
        let rows = statement.query_map([], read_saved_state)?;
        rows.map(|row| self.open_saved_state(row?)).collect()
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
            .prepare_cached(
                "SELECT tree_size, note FROM checkpoints ORDER BY tree_size DESC LIMIT 1",
            )?
            .query_row([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))
            .optional()?)
    }

    fn checkpoint_at(&self, size: u64) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn
            .query_row(
                "SELECT note FROM checkpoints WHERE tree_size = ?1",
                [size as i64],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn statement_entry(&self, actor: &str, seq: u64) -> Result<Option<u64>> {
        self.index_lookup(
            "SELECT entry_index FROM statements WHERE actor = ?1 AND seq = ?2",
            params![actor, seq as i64],
        )
    }

    fn idempotent_entry(&self, actor: &str, key: &str) -> Result<Option<u64>> {
        self.index_lookup(
            "SELECT entry_index FROM idempotency_keys WHERE actor = ?1 AND key = ?2",
            params![actor, key],
        )
    }

    fn derived_table(&self, name: &str, columns: &[&str]) -> Result<Vec<Vec<Cell>>> {
        let list = columns.join(", ");
        self.rows(
            &format!("SELECT {list} FROM {name} ORDER BY {list}"),
            columns.len(),
            [],
        )
    }

    fn derived_rows_where_first(
        &self,
        name: &str,
        columns: &[&str],
        value: &Cell,
    ) -> Result<Vec<Vec<Cell>>> {
        let list = columns.join(", ");
        let value = match value {
            Cell::Null => rusqlite::types::Value::Null,
            Cell::Int(v) => rusqlite::types::Value::Integer(*v),
            Cell::Text(v) => rusqlite::types::Value::Text(v.clone()),
        };
        self.rows(
            &format!(
                "SELECT {list} FROM {name} WHERE {} = ?1 ORDER BY {list}",
                columns[0]
            ),
            columns.len(),
            [value],
        )
    }

    fn table_names(&self) -> Result<Vec<String>> {
        let mut statement = self
            .conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?;
        let rows = statement.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn is_encrypted(&self) -> bool {
        self.sealing.borrow().is_some()
    }

    fn is_writable(&self) -> Result<bool> {
        Ok(!self.conn.is_readonly(rusqlite::MAIN_DB)?)
    }

    fn rekey(&mut self) -> Result<Rekeyed> {
        self.rekey_store()
    }
}

fn shared_record(row: &rusqlite::Row) -> rusqlite::Result<SharedRecord> {
    Ok(SharedRecord {
        value: row.get(0)?,
        revision: row.get::<_, i64>(1)? as u64,
        expires_at: row.get::<_, Option<i64>>(2)?.map(|t| t as u64),
    })
}

/// Reads and changes one shared record inside the transaction the caller holds.
fn change_shared(
    conn: &Connection,
    space: &str,
    key: &str,
    now: i64,
    change: &mut dyn FnMut(Option<&SharedRecord>) -> Change,
) -> Result<()> {
    conn.execute(
        "DELETE FROM shared WHERE space = ?1 AND expires_at <= ?2",
        params![space, now],
    )?;
    let before = conn
        .query_row(
            "SELECT value, revision, expires_at FROM shared WHERE space = ?1 AND key = ?2",
            params![space, key],
            shared_record,
        )
        .optional()?;
    match change(before.as_ref()) {
        Change::Keep => {}
        Change::Put { value, expires_at } => {
            conn.execute(
                "INSERT OR REPLACE INTO shared (space, key, revision, value, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    space,
                    key,
                    next_revision(before.as_ref()) as i64,
                    value,
                    expires_at.map(|t| t as i64)
                ],
            )?;
        }
        Change::Remove => {
            conn.execute(
                "DELETE FROM shared WHERE space = ?1 AND key = ?2",
                params![space, key],
            )?;
        }
    }
    Ok(())
}

impl SharedStore for SqliteStore {
    fn shared_get(&self, space: Space, key: &str, now: u64) -> Result<Option<SharedRecord>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT value, revision, expires_at FROM shared \
             WHERE space = ?1 AND key = ?2 AND (expires_at IS NULL OR expires_at > ?3)",
        )?;
        Ok(statement
            .query_row(params![space.as_str(), key, now as i64], shared_record)
            .optional()?)
    }

    fn shared_revision(&self, space: Space, key: &str) -> Result<u64> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT revision FROM shared WHERE space = ?1 AND key = ?2")?;
        let revision: Option<i64> = statement
            .query_row(params![space.as_str(), key], |r| r.get(0))
            .optional()?;
        Ok(revision.unwrap_or(0) as u64)
    }

    fn shared_list(&self, space: Space, now: u64) -> Result<Vec<(String, SharedRecord)>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT value, revision, expires_at, key FROM shared \
             WHERE space = ?1 AND (expires_at IS NULL OR expires_at > ?2) ORDER BY key",
        )?;
        let rows = statement.query_map(params![space.as_str(), now as i64], |row| {
            Ok((row.get(3)?, shared_record(row)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn shared_update(
        &mut self,
        space: Space,
        key: &str,
        now: u64,
        change: &mut dyn FnMut(Option<&SharedRecord>) -> Change,
    ) -> Result<()> {
        // Immediate: no other process reads the record between this read
        // and this write.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        change_shared(&tx, space.as_str(), key, now as i64, change)?;
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoredEntry;
    use crate::seal::{KeySource, StoreKey};

    fn store() -> (tempfile::TempDir, SqliteStore) {
        store_at_rest(AtRest::Encrypted)
    }

    fn store_at_rest(at_rest: AtRest) -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let meta = LogMeta {
            origin: "truce.test/log".to_owned(),
            log_vkey: "k".to_owned(),
            reader: "intermediary".to_owned(),
        };
        let store = SqliteStore::create(dir.path(), &meta, &[], at_rest).unwrap();
        (dir, store)
    }

    const MARKER: &[u8] = b"Mykola-Marker-Zhytomyr";

    fn marked(index: u64) -> StoredEntry {
        StoredEntry {
            payload: PayloadRecord::Present([MARKER, &index.to_be_bytes()].concat()),
            ..entry(index, 0)
        }
    }

    /// Every file under `dir` (the store, its WAL, the key) that holds `needle`.
    fn files_holding(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut pending = vec![dir.to_owned()];
        while let Some(dir) = pending.pop() {
            for item in std::fs::read_dir(&dir).unwrap() {
                let path = item.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                } else if std::fs::read(&path)
                    .unwrap()
                    .windows(needle.len())
                    .any(|w| w == needle)
                {
                    found.push(path);
                }
            }
        }
        found
    }

    fn payload_of(store: &SqliteStore, index: u64) -> PayloadRecord {
        store.entry(index).unwrap().unwrap().payload
    }

    /// Entries `0..count`, each holding the marker, and a saved state
    /// holding it too.
    fn marked_with_state(count: u64) -> Batch<'static> {
        Batch {
            entries: (0..count).map(marked).collect(),
            saved_state: Some(SavedState {
                tree_size: count,
                state: [MARKER, b" state"].concat(),
                frontier: Some(vec![7; 64]),
            }),
            ..Batch::default()
        }
    }

    /// A store of schema version 3 (saved states without a frontier) is
    /// migrated when opened: its rows read with no frontier, new ones keep it.
    #[test]
    fn a_store_of_version_3_gains_the_frontier_column() {
        let (dir, mut store) = store();
        store.append(marked_with_state(2)).unwrap();
        store
            .conn
            .execute_batch(
                "ALTER TABLE saved_states DROP COLUMN frontier; PRAGMA user_version = 3;",
            )
            .unwrap();
        drop(store);
        let mut reopened = SqliteStore::open(dir.path()).unwrap();
        let version: i64 = reopened
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        // Through every later version too.
        assert_eq!(version, 5);
        assert_eq!(reopened.saved_state(2).unwrap().unwrap().frontier, None);
        let mut next = marked_with_state(3);
        next.entries.drain(..2);
        reopened.append(next).unwrap();
        assert_eq!(
            reopened.saved_state(3).unwrap().unwrap().frontier,
            Some(vec![7; 64])
        );
    }

    #[test]
    fn an_encrypted_store_reads_its_payloads_and_saved_states_and_keeps_none_in_its_files() {
        let (dir, mut store) = store();
        store.append(marked_with_state(3)).unwrap();
        assert!(files_holding(dir.path(), MARKER).is_empty());
        let reopened = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(payload_of(&reopened, 1), marked(1).payload);
        let saved = reopened.saved_state(3).unwrap().unwrap();
        assert_eq!(saved.state, [MARKER, b" state"].concat());
        assert_eq!(saved.frontier, Some(vec![7; 64]));

        let (plain_dir, mut plain) = store_at_rest(AtRest::Plain);
        plain
            .append(Batch {
                entries: vec![marked(0)],
                ..Batch::default()
            })
            .unwrap();
        assert!(
            !files_holding(plain_dir.path(), MARKER).is_empty(),
            "the search finds what is stored in the clear"
        );
    }

    #[test]
    fn an_encrypted_store_without_its_key_or_with_another_is_refused_by_name() {
        let (dir, mut store) = store();
        store.append(batch(0, 1, 10)).unwrap();
        let key_file = dir.path().join("keys").join(crate::seal::STORE_KEY_FILE);
        let key = std::fs::read_to_string(&key_file).unwrap();
        drop(store);
        std::fs::remove_file(&key_file).unwrap();
        let missing = SqliteStore::open(dir.path()).err().unwrap().to_string();
        assert!(missing.contains("key is missing"), "{missing}");
        assert!(
            missing.contains(&key_file.display().to_string()),
            "{missing}"
        );
        StoreKey::generate().write_new_file(&key_file).unwrap();
        let wrong = SqliteStore::open(dir.path()).err().unwrap().to_string();
        assert!(wrong.contains("does not open this store"), "{wrong}");
        assert!(!wrong.contains(key.trim()), "{wrong}");
    }

    #[test]
    fn an_altered_or_moved_ciphertext_is_named_by_its_entry() {
        let (dir, mut store) = store();
        store
            .append(Batch {
                entries: (0..2).map(marked).collect(),
                ..Batch::default()
            })
            .unwrap();
        store
            .conn
            .execute(
                "UPDATE payloads SET bytes = (SELECT bytes FROM payloads WHERE entry_index = 0), \
                 data_key = (SELECT data_key FROM payloads WHERE entry_index = 0) \
                 WHERE entry_index = 1",
                [],
            )
            .unwrap();
        let reopened = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(payload_of(&reopened, 0), marked(0).payload);
        match reopened.entry(1) {
            Err(StoreError::Corrupt(why)) => assert!(why.contains("entry 1"), "{why}"),
            other => panic!("a payload moved from entry 0: {other:?}"),
        }
    }

    #[test]
    fn an_erased_payload_takes_its_data_key_and_a_rekey_leaves_earlier_backups_unreadable() {
        let (dir, mut store) = store();
        store.append(marked_with_state(3)).unwrap();
        store.purge_erased().unwrap();
        let backup = tempfile::tempdir().unwrap();
        std::fs::copy(dir.path().join(DB_FILE), backup.path().join(DB_FILE)).unwrap();

        store
            .append(Batch {
                erase_payloads: vec![1],
                ..Batch::default()
            })
            .unwrap();
        let wrapped: Option<Vec<u8>> = store
            .conn
            .query_row(
                "SELECT data_key FROM payloads WHERE entry_index = 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(wrapped, None);
        assert_eq!(payload_of(&store, 1), PayloadRecord::Erased);

        let done = store.rekey().unwrap();
        assert_eq!(
            done,
            Rekeyed {
                rewrapped: 3,
                sealed: 0
            },
            "two payloads and a state"
        );
        assert_eq!(payload_of(&store, 2), marked(2).payload);
        let reopened = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(payload_of(&reopened, 0), marked(0).payload);

        // The backup, beside the key the store now has: nothing opens.
        let key_file = dir.path().join("keys").join(crate::seal::STORE_KEY_FILE);
        std::fs::create_dir(backup.path().join("keys")).unwrap();
        std::fs::copy(
            &key_file,
            backup.path().join("keys").join(crate::seal::STORE_KEY_FILE),
        )
        .unwrap();
        let refused = SqliteStore::open(backup.path()).err().unwrap().to_string();
        assert!(refused.contains("does not open this store"), "{refused}");
    }

    #[test]
    fn a_rekey_seals_what_a_plain_store_held_and_a_rekey_cut_short_still_opens() {
        let (dir, mut store) = store_at_rest(AtRest::Plain);
        store.append(marked_with_state(2)).unwrap();
        assert_eq!(
            store.rekey().unwrap(),
            Rekeyed {
                rewrapped: 0,
                sealed: 3
            }
        );
        assert!(files_holding(dir.path(), MARKER).is_empty());
        assert_eq!(payload_of(&store, 1), marked(1).payload);

        // Cut short after its commit: the new key is left pending beside
        // the old one.
        let key_file = dir.path().join("keys").join(crate::seal::STORE_KEY_FILE);
        let pending = KeySource::File(key_file.clone()).pending().unwrap();
        let old_key = std::fs::read(&key_file).unwrap();
        store.rekey().unwrap();
        std::fs::rename(&key_file, &pending).unwrap();
        std::fs::write(&key_file, old_key).unwrap();
        let reopened = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(payload_of(&reopened, 0), marked(0).payload);
        assert!(!pending.exists(), "the pending key took its place");
    }

    #[test]
    fn an_erasure_in_a_store_made_before_auto_vacuum_leaves_no_byte_and_turns_it_on() {
        let (dir, mut store) = store_at_rest(AtRest::Plain);
        // What an older version made: no auto-vacuum.
        store
            .conn
            .execute_batch("PRAGMA auto_vacuum = NONE; VACUUM")
            .unwrap();
        store
            .append(Batch {
                entries: (0..40).map(marked).collect(),
                ..Batch::default()
            })
            .unwrap();
        let erased = [MARKER, &7u64.to_be_bytes()].concat();
        assert!(!files_holding(dir.path(), &erased).is_empty());
        store
            .append(Batch {
                erase_payloads: vec![7],
                ..Batch::default()
            })
            .unwrap();
        store.purge_erased().unwrap();
        assert_eq!(files_holding(dir.path(), &erased), Vec::<PathBuf>::new());
        assert_eq!(payload_of(&store, 8), marked(8).payload);
        let auto_vacuum: i64 = store
            .conn
            .pragma_query_value(None, "auto_vacuum", |r| r.get(0))
            .unwrap();
        assert_eq!(auto_vacuum, 2, "incremental from now on");
    }

    #[test]
    fn a_writer_that_another_process_rekeyed_under_seals_with_the_new_key() {
        let (dir, mut first) = store();
        first.append(batch(0, 1, 10)).unwrap();
        let mut second = SqliteStore::open(dir.path()).unwrap();
        second.rekey().unwrap();
        first
            .append(Batch {
                entries: vec![marked(1)],
                ..Batch::default()
            })
            .unwrap();
        let _snapshot = first.snapshot().unwrap();
        assert_eq!(payload_of(&first, 1), marked(1).payload);
        let fresh = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(payload_of(&fresh, 1), marked(1).payload);
        assert_eq!(payload_of(&fresh, 0), entry(0, 10).payload);
    }

    fn entry(index: u64, bytes: usize) -> StoredEntry {
        StoredEntry {
            index,
            leaf: vec![1; 16],
            leaf_hash: [2; 32],
            payload: PayloadRecord::Present(vec![3; bytes]),
        }
    }

    fn batch(first: u64, count: u64, bytes: usize) -> Batch<'static> {
        Batch {
            entries: (first..first + count).map(|i| entry(i, bytes)).collect(),
            ..Batch::default()
        }
    }

    #[test]
    fn a_full_disk_or_a_read_only_store_is_unavailable_and_keeps_what_it_had() {
        let (_dir, mut store) = store();
        store.append(batch(0, 2, 10)).unwrap();
        // A disk that is full: SQLite cannot grow the file past this.
        let pages: i64 = store
            .conn
            .pragma_query_value(None, "page_count", |r| r.get(0))
            .unwrap();
        store
            .conn
            .pragma_update(None, "max_page_count", pages)
            .unwrap();
        match store.append(batch(2, 50, 100_000)) {
            Err(StoreError::Unavailable(why)) => assert!(why.contains("full"), "{why}"),
            other => panic!("a full disk: {other:?}"),
        }
        assert_eq!(store.tree_size().unwrap(), 2);
        store.conn.pragma_update(None, "query_only", true).unwrap();
        match store.append(batch(2, 1, 10)) {
            Err(StoreError::Unavailable(why)) => assert!(why.contains("read-only"), "{why}"),
            other => panic!("a read-only store: {other:?}"),
        }
        assert_eq!(store.tree_size().unwrap(), 2);
    }

    #[test]
    fn an_append_that_is_not_next_is_refused_as_moved_and_writes_nothing() {
        let (_dir, mut store) = store();
        store.append(batch(0, 3, 10)).unwrap();
        assert!(matches!(
            store.append(batch(2, 1, 10)),
            Err(StoreError::Moved { stored: 3 })
        ));
        assert!(matches!(
            store.append(batch(4, 1, 10)),
            Err(StoreError::Moved { stored: 3 })
        ));
        assert_eq!(store.tree_size().unwrap(), 3);
        store.append(batch(3, 1, 10)).unwrap();
    }

    #[test]
    fn a_snapshot_keeps_seeing_one_state_while_another_connection_appends() {
        let (dir, mut writer) = store();
        writer.append(batch(0, 1, 10)).unwrap();
        let reader = SqliteStore::open(dir.path()).unwrap();
        let snapshot = reader.snapshot().unwrap();
        let nested = reader.snapshot().unwrap();
        writer.append(batch(1, 4, 10)).unwrap();
        assert_eq!(reader.tree_size().unwrap(), 1);
        drop(nested);
        assert_eq!(
            reader.tree_size().unwrap(),
            1,
            "a nested snapshot ends nothing"
        );
        drop(snapshot);
        assert_eq!(reader.tree_size().unwrap(), 5);
    }
}
