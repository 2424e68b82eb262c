//! Records that the processes serving one log share beside it: the users
//! and tokens, the browser sessions, the failed logins and the witnesses'
//! cosignatures held until the next append. They are kept in the store so
//! that any number of server processes on one PostgreSQL database (or on
//! one SQLite file) see the same ones, and none lives in one process's
//! memory only.
//!
//! They are not part of the log: not signed, not verified, not copied to a
//! reader's copy. Each change is a transaction of its own, apart from the
//! log's batches, and reads it at once (`SharedStore::update`), so two
//! processes changing one record never lose either change.

/// The table that holds them, in both backends.
pub const SHARED_TABLE: &str = "shared";

/// What a record is for; each space is a namespace of keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Space {
    /// One record (key [`ACCESS_KEY`]): the users and tokens.
    Access,
    /// A browser session by the SHA-256 of its id.
    Sessions,
    /// Failed logins by the SHA-256 of the user name and client address.
    LoginFailures,
    /// A witness's cosignature, by the SHA-256 of its event.
    HeldCosignatures,
}

/// The key of the one record in [`Space::Access`].
pub const ACCESS_KEY: &str = "access";

impl Space {
    pub fn as_str(self) -> &'static str {
        match self {
            Space::Access => "access",
            Space::Sessions => "sessions",
            Space::LoginFailures => "login_failures",
            Space::HeldCosignatures => "held_cosignatures",
        }
    }
}

/// A stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedRecord {
    pub value: Vec<u8>,
    /// 1 when first written, one more with each change: a process that
    /// keeps a record in memory rereads it only when this moved.
    pub revision: u64,
    /// When it stops counting (seconds since the Unix epoch): an expired
    /// record reads as absent and is deleted by the next change in its
    /// space.
    pub expires_at: Option<u64>,
}

/// What an update makes of the record it read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Keep,
    Put {
        value: Vec<u8>,
        expires_at: Option<u64>,
    },
    Remove,
}

/// The shared records of a store (both backends implement it).
pub trait SharedStore {
    /// The record, unless absent or expired at `now`.
    fn shared_get(&self, space: Space, key: &str, now: u64) -> crate::Result<Option<SharedRecord>>;
    /// The revision of the record (0 when absent), read without its value.
    fn shared_revision(&self, space: Space, key: &str) -> crate::Result<u64>;
    /// Every record of `space` unexpired at `now`, by key.
    fn shared_list(&self, space: Space, now: u64) -> crate::Result<Vec<(String, SharedRecord)>>;
    /// Reads the record and writes what `change` makes of it, in one
    /// transaction that no other change of the same space interleaves
    /// with; records of the space expired at `now` are deleted with it.
    fn shared_update(
        &mut self,
        space: Space,
        key: &str,
        now: u64,
        change: &mut dyn FnMut(Option<&SharedRecord>) -> Change,
    ) -> crate::Result<()>;
}

/// The revision a change gives a record that was at `before`.
pub(crate) fn next_revision(before: Option<&SharedRecord>) -> u64 {
    before.map_or(1, |record| record.revision + 1)
}
