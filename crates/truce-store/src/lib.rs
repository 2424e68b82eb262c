//! Storage of the log: entries, payloads, checkpoints and the derived
//! tables (the actors, keys, erasures and cosignatures the log records), behind the [`LogStore`] interface. [`sqlite`] is the
//! embedded default; a PostgreSQL implementation for shared deployments
//! will implement the same trait.
//!
//! The store knows nothing of what events mean and checks nothing: the
//! ledger decides, the store keeps. Every write is one transaction.

pub mod sqlite;

use tlog::Hash;
use truce_core::projection::{Cell, Table};

pub use sqlite::SqliteStore;

#[derive(Debug)]
pub enum StoreError {
    Sqlite(rusqlite::Error),
    Io(std::io::Error),
    /// The store's contents break an invariant the store itself keeps.
    Corrupt(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Sqlite(e) => write!(f, "store: {e}"),
            StoreError::Io(e) => write!(f, "store: {e}"),
            StoreError::Corrupt(why) => write!(f, "store is corrupt: {why}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(e)
    }
}

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

/// One atomic append: entries, and the checkpoint (a signed note) that
/// covers them, and the derived tables when they changed.
#[derive(Debug, Default)]
pub struct Batch<'a> {
    pub entries: Vec<StoredEntry>,
    /// (tree size, signed checkpoint note).
    pub checkpoint: Option<(u64, Vec<u8>)>,
    pub derived_tables: Option<&'a [Table]>,
    /// Entry indices whose payloads this batch erases.
    pub erase_payloads: Vec<u64>,
}

pub trait LogStore: Send {
    fn meta(&self) -> Result<LogMeta>;
    fn tree_size(&self) -> Result<u64>;
    /// Appends in one transaction, made durable before returning.
    fn append(&mut self, batch: Batch) -> Result<()>;
    fn entry(&self, index: u64) -> Result<Option<StoredEntry>>;
    /// Calls `visit` for entries `start..end` in order, streaming.
    fn for_each_entry(
        &self,
        start: u64,
        end: u64,
        visit: &mut dyn FnMut(StoredEntry) -> std::result::Result<(), String>,
    ) -> Result<std::result::Result<(), String>>;
    /// Every stored checkpoint, (tree size, note), by size.
    fn checkpoints(&self) -> Result<Vec<(u64, Vec<u8>)>>;
    fn latest_checkpoint(&self) -> Result<Option<(u64, Vec<u8>)>>;
    /// The stored rows of a derived table, sorted.
    fn derived_table(&self, name: &str, columns: &[&str]) -> Result<Vec<Vec<Cell>>>;
    /// Every table the store holds, so verification can refuse unknown ones.
    fn table_names(&self) -> Result<Vec<String>>;
}
