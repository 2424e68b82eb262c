//! A reader's copy of the log: every envelope, checkpoint and cosignature,
//! but only the payloads the reader may see. The reader (a party or an
//! observer) runs `truce verify` on it and checks everything it holds; the
//! withheld payloads are still bound by their hashes in the signed leaves.

use std::path::Path;

use truce_core::{ActorId, Envelope, LogState, Reader};
use truce_store::{
    AtRest, Batch, DerivedWrite, LogMeta, LogStore, PayloadRecord, StoreError, StoredEntry,
};

use crate::LedgerError;

pub struct CopyExported {
    pub entries: u64,
    pub withheld: u64,
}

/// The log's entries as `reader` may hold them: payloads it may not read
/// are withheld. Returns the entries and how many were withheld.
pub fn reader_entries(
    store: &dyn LogStore,
    reader: &Reader,
) -> Result<(Vec<StoredEntry>, u64), LedgerError> {
    reader_entries_from(store, reader, 0)
}

fn reader_entries_from(
    store: &dyn LogStore,
    reader: &Reader,
    start: u64,
) -> Result<(Vec<StoredEntry>, u64), LedgerError> {
    let _snapshot = store.snapshot()?;
    reader_entries_between(store, reader, start, store.tree_size()?)
}

/// Entries `start..end` as `reader` may hold them, and how many payloads
/// were withheld.
pub fn reader_entries_between(
    store: &dyn LogStore,
    reader: &Reader,
    start: u64,
    size: u64,
) -> Result<(Vec<StoredEntry>, u64), LedgerError> {
    let mut entries = Vec::with_capacity(size.saturating_sub(start) as usize);
    let mut withheld = 0;
    store
        .for_each_entry(start, size, &mut |mut entry| {
            if withhold(&mut entry, reader)? {
                withheld += 1;
            }
            entries.push(entry);
            Ok(())
        })?
        .map_err(|why| LedgerError::Store(StoreError::Corrupt(why)))?;
    Ok((entries, withheld))
}

/// Withholds the entry's payload when `reader` may not read it; says
/// whether it did.
fn withhold(entry: &mut StoredEntry, reader: &Reader) -> Result<bool, String> {
    if !matches!(entry.payload, PayloadRecord::Present(_)) {
        return Ok(false);
    }
    let envelope =
        Envelope::from_leaf(&entry.leaf).map_err(|e| format!("entry {}: {e}", entry.index))?;
    let hidden = !envelope.statement().visibility.allows(reader);
    if hidden {
        entry.payload = PayloadRecord::Withheld;
    }
    Ok(hidden)
}

/// The state `reader` folds from what it may read: the domain's answer to
/// "what may this reader know", used for reader copies and by the server.
pub fn reader_state(store: &dyn LogStore, reader: &Reader) -> Result<LogState, LedgerError> {
    let mut state = LogState::new();
    extend_reader_state(store, reader, &mut state)?;
    Ok(state)
}

/// Brings a reader's state up to the store's size, folding the new entries
/// in place as they are read (never holding them all); an erasure among
/// them means a fold from the start, since an erased payload no longer
/// counts.
pub fn extend_reader_state(
    store: &dyn LogStore,
    reader: &Reader,
    state: &mut LogState,
) -> Result<(), LedgerError> {
    let _snapshot = store.snapshot()?;
    let size = store.tree_size()?;
    if fold_reader_entries(store, reader, state, size)? == Folded::UpToErasure {
        *state = LogState::new();
        fold_reader_entries(store, reader, state, size)?;
    }
    Ok(())
}

#[derive(PartialEq)]
enum Folded {
    All,
    /// Stopped at an erasure of an entry the state had already folded.
    UpToErasure,
}

fn fold_reader_entries(
    store: &dyn LogStore,
    reader: &Reader,
    state: &mut LogState,
    size: u64,
) -> Result<Folded, LedgerError> {
    let extending = state.tree_size() > 0;
    let mut folded = Folded::All;
    let outcome = store.for_each_entry(state.tree_size(), size, &mut |mut entry| {
        withhold(&mut entry, reader)?;
        let envelope = crate::fold_stored(state, &entry)?;
        if extending && envelope.statement().kind == "payload_erased" {
            folded = Folded::UpToErasure;
            return Err(String::new());
        }
        Ok(())
    })?;
    match outcome {
        Err(_) if folded == Folded::UpToErasure => Ok(folded),
        Err(why) => Err(LedgerError::Store(StoreError::Corrupt(why))),
        Ok(()) => Ok(folded),
    }
}

fn fold(entries: &[StoredEntry]) -> Result<LogState, LedgerError> {
    let mut state = LogState::new();
    for entry in entries {
        crate::fold_stored(&mut state, entry).map_err(LedgerError::Io)?;
    }
    Ok(state)
}

pub fn export_reader_copy(
    store: &dyn LogStore,
    reader: &ActorId,
    out: &Path,
) -> Result<CopyExported, LedgerError> {
    let meta = store.meta()?;
    let copy_meta = LogMeta {
        reader: reader.to_string(),
        ..meta
    };
    let snapshot = store.snapshot()?;
    let size = store.tree_size()?;
    let (entries, withheld) = reader_entries(store, &Reader::Actor(reader.clone()))?;
    let checkpoints = store.checkpoints()?;
    drop(snapshot);
    write_copy(out, &copy_meta, entries, checkpoints)?;
    Ok(CopyExported {
        entries: size,
        withheld,
    })
}

/// Drops the payloads that erasures among `entries` erase: a copy that
/// held a payload before the log erased it (`truce sync` keeps the entries
/// it held) gives it up with the next copy it writes. An erasure naming an
/// entry not among them is left for the fold to refuse.
pub fn carry_erasures(entries: &mut [StoredEntry]) {
    let erased: Vec<u64> = entries
        .iter()
        .filter_map(|entry| {
            let PayloadRecord::Present(bytes) = &entry.payload else {
                return None;
            };
            let envelope = Envelope::from_leaf(&entry.leaf).ok()?;
            if envelope.statement().kind != "payload_erased" {
                return None;
            }
            match envelope.statement().decode_stored(bytes).ok()? {
                truce_core::Event::Registry(
                    truce_core::registry::RegistryEvent::PayloadErased { entry_index, .. },
                ) => Some(entry_index),
                _ => None,
            }
        })
        .collect();
    for index in erased {
        if let Some(entry) = entries.get_mut(index as usize)
            && entry.index == index
        {
            entry.payload = PayloadRecord::Erased;
        }
    }
}

/// Writes a reader's copy into the empty directory `out`: `entries` as the
/// reader may hold them (less what erasures among them erase), each batch
/// with the stored checkpoint that covers it, and the derived tables of
/// their fold. Refuses entries whose fold the log's rules refuse, so a copy
/// received over the network is checked as it is written.
pub fn write_copy(
    out: &Path,
    meta: &LogMeta,
    mut entries: Vec<StoredEntry>,
    checkpoints: Vec<(u64, Vec<u8>)>,
) -> Result<(), LedgerError> {
    carry_erasures(&mut entries);
    // The copy's derived tables are the fold of what the reader can see.
    let state = fold(&entries)?;
    let derived = state.derived_tables();
    // Sealed under the reader's own store key (`out/keys/store.key`).
    let mut copy = truce_store::create(out, meta, &derived, AtRest::Encrypted)?;
    // One batch per stored checkpoint, so each lands with the entries it covers.
    let mut pending: Vec<StoredEntry> = entries;
    let mut appended = 0;
    for (checkpoint_size, note) in checkpoints {
        let take = checkpoint_size.checked_sub(appended).ok_or_else(|| {
            LedgerError::Input(format!("checkpoint {checkpoint_size} is out of order"))
        })? as usize;
        let rest = pending.split_off(take.min(pending.len()));
        let batch_entries = std::mem::replace(&mut pending, rest);
        appended += batch_entries.len() as u64;
        copy.append(Batch {
            entries: batch_entries,
            checkpoint: Some((checkpoint_size, note)),
            ..Batch::default()
        })?;
    }
    copy.append(Batch {
        entries: pending,
        derived: DerivedWrite::Rewrite(&derived),
        ..Batch::default()
    })?;
    Ok(())
}
