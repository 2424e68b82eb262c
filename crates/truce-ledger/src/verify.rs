//! `truce verify`: checks a data directory with nothing but its contents
//! (and, optionally, a pinned log key): the tree, every signature, every
//! checkpoint and its consistency with the one before, every available
//! payload, and every derived table against a replay of the log.
//!
//! Work is done in windows of entries: decoding and hashing in parallel,
//! the fold in order, then the window's signatures batch-verified in
//! parallel. The first bad entry is named.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, VerifyingKey};
use rayon::prelude::*;
use tlog::merkle::{self, Hash, TreeHashes};
use tlog::{Checkpoint, Note, VerifierKey};
use truce_core::{ActorId, ActorRole, Envelope, Event, LogState, PayloadView, Reader};
use truce_store::{INDEX_TABLES, LOG_TABLES, Place, SHARED_TABLE};
use truce_store::{LogStore, PayloadRecord, SavedState, StoredEntry};

const WINDOW: u64 = 32_768;
const SIGNATURE_CHUNK: usize = 256;

/// What a successful verification found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub origin: String,
    pub reader: String,
    pub tree_size: u64,
    pub root_hex: String,
    pub actors_by_role: BTreeMap<String, usize>,
    pub checkpoints: usize,
    pub latest_checkpoint_size: u64,
    pub cosignatures: usize,
    pub payloads_present: u64,
    pub payloads_withheld: u64,
    pub payloads_erased: u64,
    pub derived_tables: usize,
}

impl std::fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let actors: Vec<String> = self
            .actors_by_role
            .iter()
            .map(|(role, n)| format!("{n} {role}"))
            .collect();
        writeln!(f, "log          {}", self.origin)?;
        writeln!(f, "copy of      {}", self.reader)?;
        writeln!(
            f,
            "entries      {} (root {})",
            self.tree_size, self.root_hex
        )?;
        writeln!(f, "actors       {}", actors.join(", "))?;
        writeln!(
            f,
            "checkpoints  {} (latest at size {}), {} cosignatures",
            self.checkpoints, self.latest_checkpoint_size, self.cosignatures
        )?;
        writeln!(
            f,
            "payloads     {} present, {} withheld, {} erased",
            self.payloads_present, self.payloads_withheld, self.payloads_erased
        )?;
        writeln!(
            f,
            "derived      {} tables equal to a replay of the log",
            self.derived_tables
        )?;
        write!(
            f,
            "OK: every entry, signature, checkpoint and payload verifies"
        )
    }
}

/// Why verification failed, naming the first bad entry where there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyFailure(pub String);

impl std::fmt::Display for VerifyFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn fail<T>(message: impl Into<String>) -> Result<T, VerifyFailure> {
    Err(VerifyFailure(message.into()))
}

/// An entry decoded off the critical path.
struct Decoded {
    entry: StoredEntry,
    envelope: Envelope,
    event: Option<Event>,
    signature: Signature,
    signing_input: Vec<u8>,
}

fn decode(entry: StoredEntry) -> Result<Decoded, String> {
    let index = entry.index;
    if merkle::leaf_hash(&entry.leaf) != entry.leaf_hash {
        return Err(format!(
            "entry {index}: stored leaf hash does not match the leaf"
        ));
    }
    let envelope =
        Envelope::from_leaf(&entry.leaf).map_err(|e| format!("entry {index}: envelope {e}"))?;
    if envelope.index != index {
        return Err(format!(
            "entry {index}: envelope says it is entry {}",
            envelope.index
        ));
    }
    let signature = envelope
        .signed
        .signature_bytes()
        .map_err(|e| format!("entry {index}: {e}"))?;
    let event = match &entry.payload {
        PayloadRecord::Present(bytes) => Some(
            envelope
                .statement()
                .event_of(bytes)
                .map_err(|e| format!("entry {index}: {e}"))?,
        ),
        _ => None,
    };
    let signing_input = Envelope::signing_input_from_leaf(&entry.leaf).ok_or_else(|| {
        format!("entry {index}: envelope has no statement where the canonical form puts it")
    })?;
    Ok(Decoded {
        entry,
        envelope,
        event,
        signature,
        signing_input,
    })
}

struct PendingSignature {
    index: u64,
    message: Vec<u8>,
    signature: Signature,
    key: VerifyingKey,
}

/// Batch-verifies signatures; on a failing chunk, finds its first bad entry.
fn verify_signatures(pending: &[PendingSignature]) -> Result<(), VerifyFailure> {
    let first_bad = pending
        .par_chunks(SIGNATURE_CHUNK)
        .filter_map(|chunk| {
            let messages: Vec<&[u8]> = chunk.iter().map(|p| p.message.as_slice()).collect();
            let signatures: Vec<Signature> = chunk.iter().map(|p| p.signature).collect();
            let keys: Vec<VerifyingKey> = chunk.iter().map(|p| p.key).collect();
            if ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok() {
                return None;
            }
            chunk
                .iter()
                .find(|p| p.key.verify_strict(&p.message, &p.signature).is_err())
                .map(|p| p.index)
        })
        .min();
    match first_bad {
        Some(index) => fail(format!("entry {index}: actor signature does not verify")),
        None => Ok(()),
    }
}

/// Verifies the data directory `dir`. With `pinned`, the log's key must be
/// that one (otherwise the key the store names is used, which proves the
/// log is self-consistent but not whose it is).
///
/// Three stages overlap: a reader thread streams windows of entries from
/// its own connection, this thread decodes (in parallel) and folds them,
/// and a checker thread batch-verifies each window's signatures while the
/// next window is folded.
pub fn verify_data_dir(
    place: impl Into<Place>,
    pinned: Option<&VerifierKey>,
) -> Result<VerifyReport, VerifyFailure> {
    let place = place.into();
    let io = |e: truce_store::StoreError| VerifyFailure(e.to_string());
    let store = truce_store::open(&place).map_err(io)?;
    let meta = store.meta().map_err(io)?;
    let log_vkey: VerifierKey = meta
        .log_vkey
        .parse()
        .map_err(|e| VerifyFailure(format!("meta log_vkey: {e}")))?;
    if pinned.is_some_and(|p| *p != log_vkey) {
        return fail("the store's log key is not the key you pinned");
    }
    let reader = if meta.reader == ActorRole::Intermediary.as_str() {
        Reader::Intermediary
    } else {
        Reader::Actor(
            ActorId::new(&meta.reader).map_err(|e| VerifyFailure(format!("meta reader: {e}")))?,
        )
    };

    let mut report = VerifyReport {
        origin: meta.origin.clone(),
        reader: meta.reader.clone(),
        ..Default::default()
    };
    let mut state = LogState::new();
    let mut tree = TreeHashes::new();
    let mut erased_payloads = BTreeSet::new();
    // Checkpoint size named by entries -> the first entry naming it.
    let mut checkpoint_refs: BTreeMap<u64, u64> = BTreeMap::new();
    drop(store);
    let signatures_failed = AtomicBool::new(false);
    let mut stored = None;
    let fold_failure = std::thread::scope(|scope| -> Result<Option<String>, VerifyFailure> {
        let (window_tx, window_rx) = mpsc::sync_channel::<Result<Vec<StoredEntry>, String>>(2);
        let (snapshot_tx, snapshot_rx) = mpsc::sync_channel::<Result<Snapshot, String>>(1);
        scope.spawn(move || read_snapshot(&place, &snapshot_tx, &window_tx));
        stored = Some(
            snapshot_rx
                .recv()
                .map_err(|_| VerifyFailure("the store reader stopped".to_owned()))?
                .map_err(VerifyFailure)?,
        );
        let saved_states = &stored.as_ref().expect("just read").saved_states;
        let mut next_saved = 0;
        let (pending_tx, pending_rx) = mpsc::sync_channel::<Vec<PendingSignature>>(2);
        let signatures_failed = &signatures_failed;
        let checker = scope.spawn(move || -> Result<(), VerifyFailure> {
            for pending in pending_rx {
                if let Err(failure) = verify_signatures(&pending) {
                    signatures_failed.store(true, Ordering::Relaxed);
                    return Err(failure);
                }
            }
            Ok(())
        });
        let mut failure = None;
        for window in window_rx {
            let window = match window {
                Ok(window) => window,
                Err(why) => {
                    failure = Some(why);
                    break;
                }
            };
            let decoded: Vec<Result<Decoded, String>> =
                window.into_par_iter().map(decode).collect();
            let mut pending = Vec::with_capacity(decoded.len());
            for item in decoded {
                let outcome = item.and_then(|d| {
                    let key = state
                        .signing_key(&d.envelope, view_of(&d))
                        .map_err(|e| format!("entry {}: {e}", d.entry.index))?;
                    fold_entry(&d, &mut state, &reader, &mut report, &mut erased_payloads)?;
                    checkpoint_refs
                        .entry(d.envelope.checkpoint_size)
                        .or_insert(d.entry.index);
                    tree.push(d.entry.leaf_hash);
                    check_saved_state(&state, &tree, saved_states, &mut next_saved)?;
                    pending.push(PendingSignature {
                        index: d.entry.index,
                        message: d.signing_input,
                        signature: d.signature,
                        key,
                    });
                    Ok(())
                });
                if let Err(why) = outcome {
                    failure = Some(why);
                    break;
                }
            }
            // Signatures before the first rule failure are checked too, as
            // a bad one among them is the first bad entry.
            let _ = pending_tx.send(pending);
            if failure.is_some() || signatures_failed.load(Ordering::Relaxed) {
                break;
            }
        }
        drop(pending_tx);
        checker
            .join()
            .expect("the signature checker does not panic")?;
        if failure.is_none()
            && let Some(saved) = saved_states.get(next_saved)
        {
            failure = Some(format!(
                "saved state at size {}: the log has {} entries",
                saved.tree_size,
                state.tree_size()
            ));
        }
        Ok(failure)
    })?;
    if let Some(why) = fold_failure {
        return fail(why);
    }
    let stored = stored.expect("the snapshot was read before the entries");
    let size = stored.size;
    if tree.tree_size() != size {
        return fail(format!(
            "entry {}: missing from the store",
            tree.tree_size()
        ));
    }
    if meta.origin != state.origin().unwrap_or_default() {
        return fail("entry 0: the store's origin is not the one log_created names");
    }
    if state.log_vkey() != Some(&log_vkey) {
        return fail("entry 0: the store's log key is not the one log_created names");
    }
    check_erasures(&state, &erased_payloads)?;
    report.tree_size = size;
    report.root_hex = truce_core::envelope::hex(&tree.root());
    for actor in state.actors() {
        *report
            .actors_by_role
            .entry(actor.role.as_str().to_owned())
            .or_default() += 1;
    }
    let signed_roots = check_checkpoints(
        &stored.checkpoints,
        &log_vkey,
        &meta.origin,
        &tree,
        &checkpoint_refs,
        &mut report,
    )?;
    check_cosignatures(&signed_roots, &state, &mut report)?;
    check_derived_tables(&stored, &state, &mut report)?;
    Ok(report)
}

/// What verification reads of the store besides the entries, at the same
/// snapshot as the entries, so a writer appending meanwhile changes nothing
/// that is checked.
/// Compares the saved state of the replay's tree size, if there is one,
/// with the replay's own state and tree: a saved state and its frontier are
/// what opening the log starts from, so a tampered one must not pass.
fn check_saved_state(
    state: &LogState,
    tree: &TreeHashes,
    saved: &[SavedState],
    next: &mut usize,
) -> Result<(), String> {
    let Some(saved) = saved.get(*next) else {
        return Ok(());
    };
    let size = saved.tree_size;
    if size != state.tree_size() {
        return Ok(());
    }
    if state.to_saved() != saved.state {
        return Err(format!(
            "saved state at size {size}: differs from a replay of the entries before it"
        ));
    }
    if let Some(frontier) = &saved.frontier
        && *frontier != tree.frontier(size).to_bytes()
    {
        return Err(format!(
            "saved state at size {size}: its frontier differs from the entries' tree"
        ));
    }
    *next += 1;
    Ok(())
}

struct Snapshot {
    size: u64,
    checkpoints: Vec<(u64, Vec<u8>)>,
    table_names: Vec<String>,
    /// Each derived table the core declares, as stored (sorted).
    tables: Vec<(&'static str, Vec<Vec<truce_core::projection::Cell>>)>,
    /// The states saved beside the log, by size.
    saved_states: Vec<SavedState>,
}

fn stored_snapshot(store: &dyn LogStore) -> Result<Snapshot, truce_store::StoreError> {
    let tables = LogState::new()
        .derived_tables()
        .into_iter()
        .map(|t| {
            Ok((
                t.spec.name,
                store.derived_table(t.spec.name, t.spec.columns)?,
            ))
        })
        .collect::<Result<_, truce_store::StoreError>>()?;
    Ok(Snapshot {
        size: store.tree_size()?,
        checkpoints: store.checkpoints()?,
        table_names: store.table_names()?,
        tables,
        saved_states: store.saved_states()?,
    })
}

/// Opens one snapshot of the store, sends what verification needs besides
/// the entries, then streams the entries in windows; a store error or a gap
/// ends the stream with the reason.
fn read_snapshot(
    place: &Place,
    snapshot: &mpsc::SyncSender<Result<Snapshot, String>>,
    windows: &mpsc::SyncSender<Result<Vec<StoredEntry>, String>>,
) {
    let store = match truce_store::open(place) {
        Ok(store) => store,
        Err(e) => {
            let _ = snapshot.send(Err(e.to_string()));
            return;
        }
    };
    let read = store
        .snapshot()
        .and_then(|guard| Ok((stored_snapshot(store.as_ref())?, guard)));
    let (size, guard) = match read {
        Ok((read, guard)) => {
            let size = read.size;
            if snapshot.send(Ok(read)).is_err() {
                return;
            }
            (size, guard)
        }
        Err(e) => {
            let _ = snapshot.send(Err(e.to_string()));
            return;
        }
    };
    let mut start = 0;
    while start < size {
        let end = (start + WINDOW).min(size);
        let mut window = Vec::with_capacity((end - start) as usize);
        let read = store.for_each_entry(start, end, &mut |entry| {
            window.push(entry);
            Ok(())
        });
        let outcome = match read {
            Ok(Ok(())) => Ok(window),
            Ok(Err(why)) => Err(why),
            Err(e) => Err(e.to_string()),
        };
        let stop = outcome.is_err();
        if windows.send(outcome).is_err() || stop {
            return;
        }
        start = end;
    }
    drop(guard);
}

fn view_of(d: &Decoded) -> PayloadView<'_> {
    crate::payload_view(d.event.as_ref(), &d.entry.payload)
}

fn fold_entry(
    d: &Decoded,
    state: &mut LogState,
    reader: &Reader,
    report: &mut VerifyReport,
    erased_payloads: &mut BTreeSet<u64>,
) -> Result<(), String> {
    let index = d.entry.index;
    let visibility = &d.envelope.statement().visibility;
    match &d.entry.payload {
        PayloadRecord::Present(_) => {
            if !visibility.allows(reader) {
                return Err(format!(
                    "entry {index}: payload present in a copy whose reader may not read it"
                ));
            }
            report.payloads_present += 1;
        }
        PayloadRecord::Withheld => {
            if visibility.allows(reader) {
                return Err(format!(
                    "entry {index}: payload withheld from a reader who may read it"
                ));
            }
            report.payloads_withheld += 1;
        }
        PayloadRecord::Erased => {
            erased_payloads.insert(index);
            report.payloads_erased += 1;
        }
    }
    let view = view_of(d);
    state
        .check(&d.envelope, view)
        .map_err(|e| format!("entry {index}: {e}"))?;
    state.apply(&d.envelope, view);
    Ok(())
}

fn check_erasures(state: &LogState, erased_payloads: &BTreeSet<u64>) -> Result<(), VerifyFailure> {
    for (index, erasure) in state.erasures() {
        if !erased_payloads.contains(index) {
            return fail(format!(
                "entry {index}: erased by entry {} but its payload is still stored",
                erasure.erased_by
            ));
        }
    }
    if let Some(index) = erased_payloads
        .iter()
        .find(|i| !state.erasures().contains_key(i))
    {
        return fail(format!(
            "entry {index}: payload erased without an erasure event"
        ));
    }
    Ok(())
}

fn check_checkpoints(
    checkpoints: &[(u64, Vec<u8>)],
    log_vkey: &VerifierKey,
    origin: &str,
    tree: &TreeHashes,
    checkpoint_refs: &BTreeMap<u64, u64>,
    report: &mut VerifyReport,
) -> Result<BTreeMap<u64, Hash>, VerifyFailure> {
    if checkpoints.is_empty() {
        return fail("the log has no signed checkpoint");
    }
    // Each checkpoint is checked on its own, in parallel: its signature,
    // its row, and its root against the entries' tree.
    let opened: Vec<Checkpoint> = checkpoints
        .par_iter()
        .map(|(stored_size, note)| {
            let bad =
                |why: String| VerifyFailure(format!("checkpoint at size {stored_size}: {why}"));
            let note = Note::parse(note).map_err(|e| bad(e.to_string()))?;
            note.verify(std::slice::from_ref(log_vkey))
                .map_err(|e| bad(e.to_string()))?;
            let checkpoint = Checkpoint::parse(&note.text).map_err(|e| bad(e.to_string()))?;
            if checkpoint.origin != origin || checkpoint.tree_size != *stored_size {
                return Err(bad("origin or size differs from the stored row".to_owned()));
            }
            if checkpoint.tree_size > tree.tree_size() {
                return Err(bad(format!(
                    "signed for entries the store lacks (it has {})",
                    tree.tree_size()
                )));
            }
            if merkle::root(tree, checkpoint.tree_size) != checkpoint.root_hash {
                return Err(bad(format!(
                    "root differs from the entries' tree: an entry below {} was changed",
                    checkpoint.tree_size
                )));
            }
            Ok(checkpoint)
        })
        .collect::<Result<_, _>>()?;
    // Then each against the one before: the log never signed two views.
    opened.par_windows(2).try_for_each(|pair| {
        let (previous, checkpoint) = (&pair[0], &pair[1]);
        let proof = merkle::consistency_proof(tree, previous.tree_size, checkpoint.tree_size)
            .map_err(|e| {
                VerifyFailure(format!("checkpoint at size {}: {e}", checkpoint.tree_size))
            })?;
        merkle::verify_consistency(
            previous.tree_size,
            checkpoint.tree_size,
            &proof,
            &previous.root_hash,
            &checkpoint.root_hash,
        )
        .map_err(|e| {
            VerifyFailure(format!(
                "checkpoint at size {}: not consistent with checkpoint {}: {e}",
                checkpoint.tree_size, previous.tree_size
            ))
        })
    })?;
    let signed_roots: BTreeMap<u64, Hash> =
        opened.iter().map(|c| (c.tree_size, c.root_hash)).collect();
    let previous = opened.last();
    report.checkpoints = checkpoints.len();
    report.latest_checkpoint_size = previous.map_or(0, |c| c.tree_size);
    // Each batch's entries name the checkpoint signed before them, so a
    // dropped checkpoint row is missed by the entries that named it.
    for (size, first_entry) in checkpoint_refs {
        if *size > 0 && !signed_roots.contains_key(size) {
            return fail(format!(
                "entry {first_entry}: names a checkpoint at size {size} that the store lacks"
            ));
        }
    }
    if report.latest_checkpoint_size < tree.tree_size() {
        return fail(format!(
            "entry {}: not covered by any signed checkpoint (open the log with truce to sign one)",
            report.latest_checkpoint_size
        ));
    }
    Ok(signed_roots)
}

fn check_cosignatures(
    signed_roots: &BTreeMap<u64, Hash>,
    state: &LogState,
    report: &mut VerifyReport,
) -> Result<(), VerifyFailure> {
    for ((size, witness), cosignature) in state.cosignatures() {
        let signed = signed_roots.get(size).map(|root| BASE64.encode(root));
        if signed.as_deref() != Some(cosignature.root_hash.as_str()) {
            return fail(format!(
                "entry {}: {witness} cosigned a checkpoint of size {size} that the log did not sign",
                cosignature.recorded_at
            ));
        }
    }
    report.cosignatures = state.cosignatures().len();
    Ok(())
}

fn check_derived_tables(
    stored: &Snapshot,
    state: &LogState,
    report: &mut VerifyReport,
) -> Result<(), VerifyFailure> {
    let expected = state.derived_tables();
    for name in &stored.table_names {
        // The shared records (users, sessions…) are the servers', not the log's.
        let known = LOG_TABLES.contains(&name.as_str())
            || INDEX_TABLES.contains(&name.as_str())
            || name == SHARED_TABLE;
        if !known && !expected.iter().any(|t| t.spec.name == name) {
            return fail(format!(
                "table {name} is neither part of the log nor derived from it"
            ));
        }
    }
    for table in &expected {
        let mut want = table.rows.clone();
        want.sort();
        let have = stored
            .tables
            .iter()
            .find(|(name, _)| *name == table.spec.name)
            .map_or(&[][..], |(_, rows)| rows.as_slice());
        if have != want.as_slice() {
            let differing = want
                .iter()
                .zip(have)
                .find(|(w, h)| w != h)
                .map(|(w, _)| w)
                .or_else(|| {
                    if want.len() > have.len() {
                        want.get(have.len())
                    } else {
                        have.get(want.len())
                    }
                });
            let entry = differing.and_then(|row| match row.get(table.spec.entry_column) {
                Some(truce_core::projection::Cell::Int(i)) => Some(i),
                _ => None,
            });
            return fail(match entry {
                Some(entry) => format!(
                    "entry {entry}: derived table {} differs from a replay of the log",
                    table.spec.name
                ),
                None => format!(
                    "derived table {} differs from a replay of the log",
                    table.spec.name
                ),
            });
        }
    }
    report.derived_tables = expected.len();
    Ok(())
}
