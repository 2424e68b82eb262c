//! Storage of the log: entries, payloads, checkpoints and the derived
//! tables (the actors, keys, erasures and cosignatures the log records), behind the [`LogStore`] interface. [`sqlite`] is the
//! embedded default; a PostgreSQL implementation for shared deployments
//! will implement the same trait.
//!
//! The store knows nothing of what events mean and checks nothing: the
//! ledger decides, the store keeps. Every write is one transaction.

pub mod files;
pub mod pg;
mod rows;
pub mod seal;
pub mod shared;
pub mod sqlite;

use std::path::{Path, PathBuf};

use tlog::Hash;
use truce_core::projection::{Cell, RowChange, Table};

pub use pg::PostgresStore;
pub use shared::{Change, SHARED_TABLE, SharedRecord, SharedStore, Space};
pub use sqlite::{INDEX_TABLES, LOG_TABLES, SAVED_STATES_KEPT, SqliteStore};

/// What `--store` (or `TRUCE_STORE`) names: `sqlite:DIR` or a PostgreSQL
/// URL (`postgres://…`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl StoreUrl {
    pub fn parse(text: &str) -> std::result::Result<StoreUrl, String> {
        if let Some(dir) = text.strip_prefix("sqlite:") {
            return Ok(StoreUrl::Sqlite(PathBuf::from(dir)));
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(StoreUrl::Postgres(text.to_owned()));
        }
        Err("a store is sqlite:DIR or postgres://…".to_owned())
    }

    /// The place of a log with this store and its keys in `data`. An
    /// SQLite store is the data directory's own, so it must name `data`.
    pub fn place(self, data: &Path) -> std::result::Result<Place, String> {
        match self {
            StoreUrl::Sqlite(dir) if dir != data => Err(format!(
                "sqlite:{} names another directory than the data directory {}",
                dir.display(),
                data.display()
            )),
            StoreUrl::Sqlite(_) => Ok(Place::local(data)),
            StoreUrl::Postgres(url) => Ok(Place {
                dir: data.to_owned(),
                backend: Backend::Postgres(url),
            }),
        }
    }
}

/// Which store keeps a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `truce.db` in the data directory: the embedded default.
    Sqlite,
    /// A PostgreSQL database (or a schema of one), by its URL; several
    /// processes may share it.
    Postgres(String),
}

/// A log's place: the data directory (its keys, the server's access file)
/// and the store that keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    pub dir: PathBuf,
    pub backend: Backend,
}

impl Place {
    /// A log kept in `dir` by SQLite, the embedded default.
    pub fn local(dir: impl Into<PathBuf>) -> Place {
        Place {
            dir: dir.into(),
            backend: Backend::Sqlite,
        }
    }

    /// The same store with its keys in `dir` (for SQLite, the store too):
    /// where a new log is built before it is moved into place.
    pub fn with_dir(&self, dir: &Path) -> Place {
        Place {
            dir: dir.to_owned(),
            backend: self.backend.clone(),
        }
    }
}

/// The store as logs and messages may show it: a URL without its password.
impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Backend::Postgres(url) = &self.backend else {
            return write!(f, "sqlite:{}", self.dir.display());
        };
        let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
        match rest.split_once('@') {
            Some((user, host)) => {
                let user = user.split_once(':').map_or(user, |(name, _)| name);
                write!(f, "{scheme}://{user}@{host}")
            }
            None => write!(f, "{scheme}://{rest}"),
        }
    }
}

impl From<&Path> for Place {
    fn from(dir: &Path) -> Place {
        Place::local(dir)
    }
}

impl From<&PathBuf> for Place {
    fn from(dir: &PathBuf) -> Place {
        Place::local(dir.clone())
    }
}

impl From<PathBuf> for Place {
    fn from(dir: PathBuf) -> Place {
        Place::local(dir)
    }
}

impl From<&Place> for Place {
    fn from(place: &Place) -> Place {
        place.clone()
    }
}

/// Opens the store of the log at `place`. Callers hold it as a
/// [`LogStore`], so nothing outside this crate depends on the backend.
pub fn open(place: impl Into<Place>) -> Result<Box<dyn LogStore>> {
    let place = place.into();
    Ok(match &place.backend {
        Backend::Sqlite => Box::new(SqliteStore::open(&place.dir)?),
        Backend::Postgres(url) => Box::new(PostgresStore::open(url, &place.dir)?),
    })
}

/// Creates the store of a new log at `place` (see [`SqliteStore::create`]
/// and [`PostgresStore::create`]).
pub fn create(
    place: impl Into<Place>,
    meta: &LogMeta,
    derived: &[Table],
    at_rest: AtRest,
) -> Result<Box<dyn LogStore>> {
    let place = place.into();
    Ok(match &place.backend {
        Backend::Sqlite => Box::new(SqliteStore::create(&place.dir, meta, derived, at_rest)?),
        Backend::Postgres(url) => Box::new(PostgresStore::create(
            url, &place.dir, meta, derived, at_rest,
        )?),
    })
}

/// What a rekey did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rekeyed {
    /// Data keys wrapped anew under the new store key.
    pub rewrapped: u64,
    /// Payloads and saved states that were in the clear and now are not.
    pub sealed: u64,
}

/// How a new store keeps its payloads and saved states on disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AtRest {
    /// Each under a data key of its own, wrapped by the store key ([`seal`]).
    #[default]
    Encrypted,
    /// In the clear: for a disk encrypted below the store, or to measure
    /// what encryption costs.
    Plain,
}

#[derive(Debug)]
pub enum StoreError {
    /// The backend failed; its message, without its types.
    Backend(String),
    Io(std::io::Error),
    /// The store cannot take writes now (a full disk, a read-only file):
    /// nothing was written, and a retry may succeed once it is fixed.
    Unavailable(String),
    /// Another writer appended since this one last read: the batch was not
    /// written. The writer reloads and tries again.
    Moved {
        stored: u64,
    },
    /// The store's contents break an invariant the store itself keeps.
    Corrupt(String),
    /// The store key is missing, malformed or not this store's (never the
    /// key itself).
    Key(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Backend(e) => write!(f, "store: {e}"),
            StoreError::Io(e) => write!(f, "store: {e}"),
            StoreError::Unavailable(why) => write!(f, "store unavailable: {why}"),
            StoreError::Moved { stored } => write!(
                f,
                "another writer appended meanwhile (the store holds {stored} entries)"
            ),
            StoreError::Corrupt(why) => write!(f, "store is corrupt: {why}"),
            StoreError::Key(why) => write!(f, "store key: {why}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Io(e)
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// What a store holds of a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadRecord {
    Present(Vec<u8>),
    /// This copy of the log belongs to a reader who may not see it.
    Withheld,
    /// Erased on a lawful request (an erasure event explains it).
    Erased,
}

impl PayloadRecord {
    pub fn status(&self) -> &'static str {
        match self {
            PayloadRecord::Present(_) => "present",
            PayloadRecord::Withheld => "withheld",
            PayloadRecord::Erased => "erased",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    pub index: u64,
    /// The canonical envelope: the Merkle leaf.
    pub leaf: Vec<u8>,
    pub leaf_hash: Hash,
    pub payload: PayloadRecord,
}

/// Facts about the log a store is for, fixed at creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogMeta {
    pub origin: String,
    /// The verifier key of the log's checkpoint signer, in text form.
    pub log_vkey: String,
    /// Whose copy this is: "intermediary" for the operator's full store,
    /// or the actor id of a reader whose copy withholds what it may not see.
    pub reader: String,
}

/// How a batch changes the derived tables.
#[derive(Debug, Default)]
pub enum DerivedWrite<'a> {
    #[default]
    Unchanged,
    /// The rows the batch's events changed, in order.
    Rows(&'a [RowChange]),
    /// Every table anew: after an erasure, whose payload no longer counts
    /// in the fold, so rows of entries long past may change.
    Rewrite(&'a [Table]),
}

/// Who signed an entry and under which sequence number, so a retried
/// statement finds the entry that recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementKey {
    pub actor: String,
    pub seq: u64,
    pub index: u64,
}

/// A key a client chose for a statement the server signed for it, so a
/// retry returns the entry the first attempt recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub actor: String,
    pub key: String,
    pub index: u64,
}

/// One atomic append: entries, and the checkpoint (a signed note) that
/// covers them, and the derived rows they changed.
#[derive(Debug, Default)]
pub struct Batch<'a> {
    pub entries: Vec<StoredEntry>,
    /// (tree size, signed checkpoint note).
    pub checkpoint: Option<(u64, Vec<u8>)>,
    pub derived: DerivedWrite<'a>,
    /// Entry indices whose payloads this batch erases.
    pub erase_payloads: Vec<u64>,
    pub statements: Vec<StatementKey>,
    pub idempotency_keys: Vec<IdempotencyKey>,
    /// The fold's state after the batch, to open from; the store keeps the
    /// newest few.
    pub saved_state: Option<SavedState>,
}

/// A fold's state saved beside the log at a tree size, so opening folds only
/// the entries after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedState {
    pub tree_size: u64,
    /// The state's encoding (sealed at rest like a payload).
    pub state: Vec<u8>,
    /// The tree's frontier at that size (its complete subtrees' roots,
    /// largest first, 32 bytes each), so opening reads no leaf hash; kept
    /// in the clear (hashes of leaves anyone may hold). `None` in a row
    /// saved before schema version 4.
    pub frontier: Option<Vec<u8>>,
}

/// Until dropped, every read through the store that made it sees the log as
/// it stood when the snapshot began, whatever other writers append
/// meanwhile. Snapshots nest: only the outermost one begins and ends.
pub struct ReadSnapshot<'a> {
    end: Option<Box<dyn FnOnce() + 'a>>,
}

impl<'a> ReadSnapshot<'a> {
    pub fn new(end: impl FnOnce() + 'a) -> Self {
        ReadSnapshot {
            end: Some(Box::new(end)),
        }
    }
}

impl Drop for ReadSnapshot<'_> {
    fn drop(&mut self) {
        if let Some(end) = self.end.take() {
            end();
        }
    }
}

/// A log's store; it also keeps the records the processes serving the log
/// share ([`SharedStore`]).
pub trait LogStore: SharedStore + Send {
    fn meta(&self) -> Result<LogMeta>;
    /// Begins a consistent view for the reads that follow (see [`ReadSnapshot`]).
    fn snapshot(&self) -> Result<ReadSnapshot<'_>>;
    /// The number of entries, read directly (not counted).
    fn tree_size(&self) -> Result<u64>;
    /// Takes the write lock until the next `append` or `abort_write`: no
    /// other writer appends in between, so what is read meanwhile is what
    /// the append extends.
    fn begin_write(&mut self) -> Result<()>;
    fn abort_write(&mut self);
    /// Appends in one transaction, made durable before returning. Refuses
    /// with [`StoreError::Moved`] when the batch's first entry is not the
    /// next one the store expects.
    fn append(&mut self, batch: Batch) -> Result<()>;

    /// After a batch that erased payloads: leaves no byte of them in the
    /// store's files (free pages, the write-ahead log). The erasure itself
    /// is already durable; this only clears what the backend kept of it.
    fn purge_erased(&mut self) -> Result<()>;
    fn entry(&self, index: u64) -> Result<Option<StoredEntry>>;
    /// Calls `visit` for entries `start..end` in order, streaming.
    fn for_each_entry(
        &self,
        start: u64,
        end: u64,
        visit: &mut dyn FnMut(StoredEntry) -> std::result::Result<(), String>,
    ) -> Result<std::result::Result<(), String>>;
    /// Calls `visit` with the leaf hashes of entries `start..end` in order,
    /// reading nothing else.
    fn for_each_leaf_hash(
        &self,
        start: u64,
        end: u64,
        visit: &mut dyn FnMut(Hash),
    ) -> Result<std::result::Result<(), String>>;
    /// The newest saved state of a tree size at most `at_most`.
    fn saved_state(&self, at_most: u64) -> Result<Option<SavedState>>;
    /// Every saved state the store keeps, by size.
    fn saved_states(&self) -> Result<Vec<SavedState>>;
    /// Every stored checkpoint, (tree size, note), by size.
    fn checkpoints(&self) -> Result<Vec<(u64, Vec<u8>)>>;
    fn latest_checkpoint(&self) -> Result<Option<(u64, Vec<u8>)>>;
    /// The signed checkpoint of exactly this size, if one was stored.
    fn checkpoint_at(&self, size: u64) -> Result<Option<Vec<u8>>>;
    /// The entry that recorded `actor`'s statement number `seq`.
    fn statement_entry(&self, actor: &str, seq: u64) -> Result<Option<u64>>;
    /// The entry recorded under `actor`'s idempotency key.
    fn idempotent_entry(&self, actor: &str, key: &str) -> Result<Option<u64>>;
    /// The stored rows of a derived table, sorted.
    fn derived_table(&self, name: &str, columns: &[&str]) -> Result<Vec<Vec<Cell>>>;
    /// The stored rows of a derived table whose `columns[0]` is `value`, sorted.
    fn derived_rows_where_first(
        &self,
        name: &str,
        columns: &[&str],
        value: &Cell,
    ) -> Result<Vec<Vec<Cell>>>;
    /// Every table the store holds, so verification can refuse unknown ones.
    fn table_names(&self) -> Result<Vec<String>>;
    /// Whether payloads and saved states are written encrypted.
    fn is_encrypted(&self) -> bool;
    /// Whether this store can take writes (not a read-only file or mount).
    fn is_writable(&self) -> Result<bool>;
    /// Gives the store a new store key in one transaction: every data key
    /// wrapped anew under it, whatever was in the clear sealed, and no
    /// trace of the old wrappings left in the store's files.
    fn rekey(&mut self) -> Result<Rekeyed>;
}
