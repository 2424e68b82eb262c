//! Reading the log's rows, the same for every backend: an entry from its
//! columns, and the check that entries come in order with none missing.

use tlog::Hash;

use crate::seal::{Record, Sealer, unseal};
use crate::{PayloadRecord, StoredEntry};

/// One entry's columns as a backend reads them (`entries` joined with
/// `payloads`).
pub(crate) struct EntryColumns {
    pub index: i64,
    pub leaf: Vec<u8>,
    pub leaf_hash: Vec<u8>,
    pub status: Option<String>,
    pub bytes: Option<Vec<u8>>,
    pub data_key: Option<Vec<u8>>,
}

/// The stored entry, its payload opened; else what is wrong with it.
pub(crate) fn stored_entry(
    columns: EntryColumns,
    sealer: Option<&Sealer>,
) -> Result<StoredEntry, String> {
    let index = columns.index;
    let payload = match (columns.status.as_deref(), columns.bytes, columns.data_key) {
        (Some("present"), Some(bytes), data_key) => {
            match unseal(sealer, Record::Payload(index as u64), bytes, data_key) {
                Ok(plain) => PayloadRecord::Present(plain),
                Err(why) => return Err(format!("entry {index}: its payload {why}")),
            }
        }
        (Some("withheld"), None, None) => PayloadRecord::Withheld,
        (Some("erased"), None, None) => PayloadRecord::Erased,
        (None, _, _) => return Err(format!("entry {index}: payload record missing")),
        (Some(status), _, _) => {
            return Err(format!(
                "entry {index}: payload record {status} is inconsistent"
            ));
        }
    };
    Ok(StoredEntry {
        index: index as u64,
        leaf: columns.leaf,
        leaf_hash: leaf_hash(index as u64, &columns.leaf_hash)?,
        payload,
    })
}

pub(crate) fn leaf_hash(index: u64, bytes: &[u8]) -> Result<Hash, String> {
    Hash::try_from(bytes)
        .map_err(|_| format!("entry {index}: a leaf hash of {} bytes", bytes.len()))
}

/// Entries `start..end` as they are read: each must be the next one.
pub(crate) struct InOrder {
    pub expected: u64,
    end: u64,
}

impl InOrder {
    pub fn new(start: u64, end: u64) -> InOrder {
        InOrder {
            expected: start,
            end,
        }
    }

    pub fn next(&mut self, index: u64) -> Result<(), String> {
        if index != self.expected {
            return Err(self.missing());
        }
        self.expected += 1;
        Ok(())
    }

    /// After the last row: none may be missing at the end either.
    pub fn finish(&self) -> Result<(), String> {
        if self.expected < self.end {
            return Err(self.missing());
        }
        Ok(())
    }

    fn missing(&self) -> String {
        format!("entry {}: missing from the store", self.expected)
    }
}
