//! The ledger: the I/O layer that turns the pure core and a store into a
//! running log. It signs and checks statements, appends them in batches,
//! signs checkpoints, verifies a whole data directory, proves inclusion and
//! consistency, and exports tiles.

pub mod app;
pub mod copy;
pub mod group;
pub mod keys;
pub mod ledger;
pub mod lists;
pub mod matching;
pub mod pseudonyms;
pub mod records;
pub mod scenario;
pub mod tiles;
pub mod verify;
pub mod witness;

pub use tiles::{export_tiles, read_tile};

use std::path::Path;

pub use ledger::{Item, Labelled, Ledger, LedgerOptions, LogView, Submission, ToSign};
pub use truce_store::AtRest;
pub use verify::{VerifyReport, verify_data_dir};

/// The intermediary's and the log's key files, inside the data directory.
pub const KEYS_DIR: &str = "keys";
pub const LOG_KEY_FILE: &str = "log.key";
pub const INTERMEDIARY_KEY_FILE: &str = "intermediary.key";

#[derive(Debug)]
pub enum LedgerError {
    /// Bad input from the user: shown as is, exit code 2.
    Input(String),
    /// A submission the log's rules refuse.
    Rejected(truce_core::Rejection),
    Io(String),
    Store(truce_store::StoreError),
}

impl LedgerError {
    pub fn io(path: &Path, error: std::io::Error) -> Self {
        LedgerError::Io(format!("{}: {error}", path.display()))
    }
}

impl std::fmt::Display for LedgerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LedgerError::Input(why) | LedgerError::Io(why) => f.write_str(why),
            LedgerError::Rejected(why) => write!(f, "rejected: {why}"),
            LedgerError::Store(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for LedgerError {}

impl From<truce_store::StoreError> for LedgerError {
    fn from(e: truce_store::StoreError) -> Self {
        LedgerError::Store(e)
    }
}

impl From<truce_core::Rejection> for LedgerError {
    fn from(e: truce_core::Rejection) -> Self {
        LedgerError::Rejected(e)
    }
}

/// Builds a new data directory at `dir` (absent or empty) in a sibling
/// staging directory and renames it into place, so a failure leaves
/// nothing behind. `build` must close what it opened before returning.
pub(crate) fn build_in_place<T>(
    dir: &Path,
    build: impl FnOnce(&Path) -> Result<T, LedgerError>,
) -> Result<T, LedgerError> {
    let in_use = dir.exists()
        && std::fs::read_dir(dir)
            .map_err(|e| LedgerError::io(dir, e))?
            .next()
            .is_some();
    if in_use {
        return Err(LedgerError::Input(format!(
            "{} exists and is not empty",
            dir.display()
        )));
    }
    let mut staging = dir.as_os_str().to_owned();
    staging.push(".staging");
    let staging = std::path::PathBuf::from(staging);
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| LedgerError::io(&staging, e))?;
    }
    let built = match build(&staging) {
        Ok(built) => built,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    if dir.exists() {
        std::fs::remove_dir(dir).map_err(|e| LedgerError::io(dir, e))?;
    }
    std::fs::rename(&staging, dir).map_err(|e| LedgerError::io(dir, e))?;
    Ok(built)
}

/// Milliseconds since the Unix epoch: the one clock the ledger reads.
pub fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970");
    since_epoch.as_millis() as i64
}

/// Folds one stored entry into `state` under the log's rules, with the view
/// of the payload the store holds (present, withheld or erased).
/// A fresh salt for a statement's payload (see `Statement::payload_salted`).
pub fn fresh_salt() -> [u8; truce_core::envelope::SALT_BYTES] {
    let mut salt = [0u8; truce_core::envelope::SALT_BYTES];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut salt);
    salt
}

pub(crate) fn fold_stored(
    state: &mut truce_core::LogState,
    entry: &truce_store::StoredEntry,
) -> Result<truce_core::Envelope, String> {
    let envelope = truce_core::Envelope::from_leaf(&entry.leaf)
        .map_err(|e| format!("entry {}: {e}", entry.index))?;
    let event = match &entry.payload {
        truce_store::PayloadRecord::Present(bytes) => Some(
            envelope
                .statement()
                .decode_stored(bytes)
                .map_err(|e| format!("entry {}: {e}", entry.index))?,
        ),
        _ => None,
    };
    let view = payload_view(event.as_ref(), &entry.payload);
    state
        .check(&envelope, view)
        .map_err(|e| format!("entry {}: {e}", entry.index))?;
    state.apply(&envelope, view);
    Ok(envelope)
}

pub(crate) fn payload_view<'a>(
    event: Option<&'a truce_core::Event>,
    record: &truce_store::PayloadRecord,
) -> truce_core::PayloadView<'a> {
    match (event, record) {
        (Some(event), _) => truce_core::PayloadView::Present(event),
        (None, truce_store::PayloadRecord::Erased) => truce_core::PayloadView::Erased,
        (None, _) => truce_core::PayloadView::Withheld,
    }
}
