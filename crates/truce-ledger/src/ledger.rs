//! A running log: the state folded from the store, the tree hashes and the
//! log's signing key. Appends are checked by the core, signature-checked in
//! parallel, written as one transaction with their checkpoint, and only
//! then folded into memory.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use truce_core::registry::RegistryEvent;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::VerifyingKey;
use rayon::prelude::*;
use tlog::merkle::{self, Frontier, Hash, TreeHashes};
use tlog::{Checkpoint, KeyType, Note, NoteSignature, SignerKey, VerifierKey};
use truce_core::envelope::MAX_LEAF_BYTES;
use truce_core::{
    ActorId, Envelope, Event, LogState, PayloadView, Rejection, SignedStatement, Statement,
    Visibility,
};
use truce_store::{
    AtRest, Batch, DerivedWrite, IdempotencyKey, LogMeta, LogStore, PayloadRecord, Place,
    SavedState, StatementKey, StoreError, StoredEntry,
};

use crate::keys::{read_key_file, write_key_file};
use crate::{INTERMEDIARY_KEY_FILE, KEYS_DIR, LOG_KEY_FILE, LedgerError, now_ms};

/// A signed statement and its payload, as a client submits them.
#[derive(Debug, Clone)]
pub struct Submission {
    pub signed: SignedStatement,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, Default)]
pub struct LedgerOptions {
    /// Sign a checkpoint at most this often; `None` signs one per batch.
    pub checkpoint_interval: Option<Duration>,
    /// How a log created with these options keeps its payloads on disk.
    pub at_rest: AtRest,
}

/// A log opened for reading: the state folded from every entry and the
/// tree's frontier, all read at one snapshot of the store. Needs no key, so
/// a reader's copy opens too.
pub struct LogView {
    place: Place,
    store: Box<dyn LogStore>,
    meta: LogMeta,
    state: LogState,
    tree: Tree,
    /// The newest signed checkpoint at the snapshot the view was read at
    /// (or that this process signed since).
    latest: Option<(u64, Vec<u8>)>,
    /// The tree size of the newest state saved beside the log that this
    /// view read or wrote (0: none).
    saved_at: u64,
}

/// A state is saved beside the log once this many entries followed the
/// last one, and at least [`MIN_SAVE_INTERVAL`]: the saved bytes grow with
/// the state, so saving at sizes in a geometric series keeps the cost per
/// entry constant while opening folds at most 1/16 of the log.
pub const SAVE_FRACTION: u64 = 16;
pub const MIN_SAVE_INTERVAL: u64 = 1024;

fn save_due(saved_at: u64, size: u64) -> bool {
    size - saved_at >= MIN_SAVE_INTERVAL.max(size / SAVE_FRACTION)
}

/// What a saved state keeps: the fold's encoding and the frontier.
fn saved(state: &LogState, frontier: &Frontier) -> SavedState {
    SavedState {
        tree_size: frontier.tree_size(),
        state: state.to_saved(),
        frontier: Some(frontier.to_bytes()),
    }
}

/// The log's tree as a view keeps it: the frontier, enough to append and
/// to compute the root, and every interior hash for proofs, read from the
/// leaf hashes the first time a proof or a tile is asked for (a command
/// that only appends or reads state never pays for it).
#[derive(Default)]
struct Tree {
    frontier: Frontier,
    hashes: OnceLock<TreeHashes>,
}

impl Tree {
    fn push(&mut self, leaf_hash: Hash) {
        self.frontier.push(leaf_hash);
        if let Some(hashes) = self.hashes.get_mut() {
            hashes.push(leaf_hash);
        }
    }
}

impl LogView {
    /// Opens the log from its newest saved state (if any), then folds the
    /// entries after it.
    pub fn open(place: impl Into<Place>) -> Result<LogView, LedgerError> {
        let place = place.into();
        let store = truce_store::open(&place)?;
        let meta = store.meta()?;
        let mut view = LogView {
            place,
            store,
            meta,
            state: LogState::new(),
            tree: Tree::default(),
            latest: None,
            saved_at: 0,
        };
        view.restore_saved_state()?;
        view.catch_up()?;
        Ok(view)
    }

    /// Starts from the newest saved state and the frontier saved with it
    /// (or, for a state saved without one, the leaf hashes it covers). A
    /// state that does not decode is passed over (the fold starts from
    /// entry 0) and left for `truce verify` to name.
    fn restore_saved_state(&mut self) -> Result<(), LedgerError> {
        let snapshot = self.store.snapshot()?;
        let size = self.store.tree_size()?;
        let Some(saved) = self.store.saved_state(size)? else {
            return Ok(());
        };
        let saved_at = saved.tree_size;
        let state = match LogState::from_saved(&saved.state) {
            Ok(state) if state.tree_size() == saved_at => state,
            _ => {
                tracing::warn!(
                    saved_at,
                    "a saved state is unreadable; folding from entry 0 (run `truce verify`)"
                );
                return Ok(());
            }
        };
        let frontier = saved
            .frontier
            .as_deref()
            .and_then(|bytes| Frontier::from_bytes(saved_at, bytes));
        let tree = match frontier {
            Some(frontier) => Tree {
                frontier,
                hashes: OnceLock::new(),
            },
            None => {
                let hashes = self.read_tree(saved_at)?;
                Tree {
                    frontier: hashes.frontier(saved_at),
                    hashes: OnceLock::from(hashes),
                }
            }
        };
        drop(snapshot);
        (self.state, self.tree, self.saved_at) = (state, tree, saved_at);
        Ok(())
    }

    /// The tree of the first `size` leaf hashes in the store.
    fn read_tree(&self, size: u64) -> Result<TreeHashes, LedgerError> {
        let mut tree = TreeHashes::new();
        self.store
            .for_each_leaf_hash(0, size, &mut |hash| tree.push(hash))?
            .map_err(LedgerError::Io)?;
        Ok(tree)
    }

    /// Folds the entries other writers appended since this view was read,
    /// at one snapshot, with the newest checkpoint of that snapshot. An
    /// erasure among them means a fold from the start (an erased payload
    /// no longer counts). True if there was anything new.
    pub fn catch_up(&mut self) -> Result<bool, LedgerError> {
        let snapshot = self.store.snapshot()?;
        let size = self.store.tree_size()?;
        let latest = self.store.latest_checkpoint()?;
        let known = self.state.tree_size();
        if size == known {
            drop(snapshot);
            let moved = latest != self.latest;
            self.latest = latest;
            return Ok(moved);
        }
        let mut state = std::mem::take(&mut self.state);
        let mut erased = false;
        let replay = |why| {
            LedgerError::Io(format!(
                "the store fails its own replay ({why}); run `truce verify`"
            ))
        };
        self.store
            .for_each_entry(known, size, &mut |entry| {
                let envelope = crate::fold_stored(&mut state, &entry)?;
                erased |= envelope.statement().kind == "payload_erased";
                self.tree.push(entry.leaf_hash);
                Ok(())
            })?
            .map_err(replay)?;
        drop(snapshot);
        if erased && known > 0 {
            *self = LogView::open(&self.place)?;
            return Ok(true);
        }
        // Those entries' rows are stored already (their writer wrote them).
        state.take_row_changes();
        self.state = state;
        self.latest = latest;
        Ok(true)
    }

    /// The data directory: the keys (and, for SQLite, the store).
    pub fn dir(&self) -> &Path {
        &self.place.dir
    }

    pub fn place(&self) -> &Place {
        &self.place
    }

    pub fn meta(&self) -> &LogMeta {
        &self.meta
    }

    pub fn state(&self) -> &LogState {
        &self.state
    }

    /// Every hash of the tree, for proofs: read from the store's leaf
    /// hashes the first time, and checked against the frontier (a store
    /// whose leaves were changed since they were appended is refused).
    pub fn tree(&self) -> Result<&TreeHashes, LedgerError> {
        if let Some(tree) = self.tree.hashes.get() {
            return Ok(tree);
        }
        let tree = self.read_tree(self.tree_size())?;
        if tree.root() != self.tree.frontier.root() {
            return Err(LedgerError::Io(
                "the stored leaf hashes do not match the log's tree; run `truce verify`".to_owned(),
            ));
        }
        Ok(self.tree.hashes.get_or_init(|| tree))
    }

    /// The number of entries the view holds.
    pub fn tree_size(&self) -> u64 {
        self.tree.frontier.tree_size()
    }

    /// The root of the tree's first `size` leaves: from the frontier when
    /// `size` is the whole tree, else from every hash.
    pub fn root_at(&self, size: u64) -> Result<Hash, LedgerError> {
        if size == self.tree_size() {
            return Ok(self.tree.frontier.root());
        }
        let tree = self.tree()?;
        if size > tree.tree_size() {
            return Err(LedgerError::Io(format!(
                "no tree of size {size}: the log has {} entries",
                tree.tree_size()
            )));
        }
        Ok(merkle::root(tree, size))
    }

    pub fn store(&self) -> &dyn LogStore {
        self.store.as_ref()
    }

    /// The log's verifier key, as this store names it.
    pub fn log_vkey(&self) -> Result<VerifierKey, LedgerError> {
        self.meta
            .log_vkey
            .parse()
            .map_err(|e| LedgerError::Io(format!("stored log key: {e}")))
    }

    /// The signed checkpoint at `size` (the latest if None), verified with
    /// the log key, with the cosignatures the log recorded for it.
    pub fn checkpoint(&self, size: Option<u64>) -> Result<(Checkpoint, Note), LedgerError> {
        let found = match size {
            Some(size) => self.store.checkpoint_at(size)?,
            None => self.latest.as_ref().map(|(_, note)| note.clone()),
        };
        let cosignatures = |size: u64, root: &str| -> Result<Vec<String>, LedgerError> {
            Ok(self
                .state
                .cosignatures()
                .iter()
                .filter(|((at, _), c)| *at == size && c.root_hash == root)
                .map(|(_, c)| c.signature_line.clone())
                .collect())
        };
        with_cosignatures(found, &self.log_vkey()?, cosignatures)
    }
}

/// The signed checkpoint at `size` (the latest if None) of the log in
/// `dir`, as [`LogView::checkpoint`] gives it, read straight from the store
/// (its cosignatures from the `cosignatures` table) without folding the log.
pub fn stored_checkpoint(
    place: impl Into<Place>,
    size: Option<u64>,
) -> Result<(Checkpoint, Note), LedgerError> {
    let store = truce_store::open(place)?;
    let _snapshot = store.snapshot()?;
    let log_vkey: VerifierKey = store
        .meta()?
        .log_vkey
        .parse()
        .map_err(|e| LedgerError::Io(format!("stored log key: {e}")))?;
    let found = match size {
        Some(size) => store.checkpoint_at(size)?,
        None => store.latest_checkpoint()?.map(|(_, note)| note),
    };
    let cosignatures = |size: u64, root: &str| -> Result<Vec<String>, LedgerError> {
        use truce_core::projection::Cell::{Int, Text};
        let table = &truce_core::registry::COSIGNATURES;
        let rows = store.derived_rows_where_first(table.name, table.columns, &Int(size as i64))?;
        Ok(rows
            .into_iter()
            .filter_map(|row| match <[_; 5]>::try_from(row) {
                Ok([_, _, Text(at_root), Text(line), _]) if at_root == root => Some(line),
                _ => None,
            })
            .collect())
    };
    with_cosignatures(found, &log_vkey, cosignatures)
}

/// A stored checkpoint note, verified with the log key, with the recorded
/// cosignature lines of its tree (`cosignatures(size, root in base64)`).
fn with_cosignatures(
    found: Option<Vec<u8>>,
    log_vkey: &VerifierKey,
    cosignatures: impl FnOnce(u64, &str) -> Result<Vec<String>, LedgerError>,
) -> Result<(Checkpoint, Note), LedgerError> {
    let note = found
        .ok_or_else(|| LedgerError::Input("no checkpoint was signed at that size".to_owned()))?;
    let corrupt = |e: tlog::NoteError| LedgerError::Io(format!("stored checkpoint: {e}"));
    let mut note = Note::parse(&note).map_err(corrupt)?;
    note.verify(std::slice::from_ref(log_vkey))
        .map_err(corrupt)?;
    let checkpoint = Checkpoint::parse(&note.text).map_err(corrupt)?;
    for line in cosignatures(checkpoint.tree_size, &BASE64.encode(checkpoint.root_hash))? {
        note.signatures
            .push(NoteSignature::from_line(&line).map_err(corrupt)?);
    }
    Ok((checkpoint, note))
}

pub struct Ledger {
    view: LogView,
    log_key: SignerKey,
    /// The last signed checkpoint: (tree size, root).
    last_checkpoint: (u64, Hash),
    last_checkpoint_at: Instant,
    options: LedgerOptions,
}

/// One thing to append: a statement its actor signed elsewhere, or an
/// event the ledger signs for an actor whose key it was handed.
#[expect(
    clippy::large_enum_variant,
    reason = "items are built once and moved into a batch; boxing saves nothing"
)]
pub enum Item {
    Signed(Submission),
    Sign(ToSign),
}

/// An event to sign and append in a batch, with the label a refusal is
/// reported under: label, signer, key, event, visibility.
pub type Labelled<'k> = (String, ActorId, &'k SignerKey, Event, Visibility);

/// An event to sign at its turn in the batch, so its sequence number is
/// given out only once the entries before it have passed the rules.
pub struct ToSign {
    pub actor: ActorId,
    pub key: SignerKey,
    pub event: Event,
    pub visibility: Visibility,
    /// Chosen by the client: a retry with the same key returns the entry
    /// the first attempt recorded instead of recording twice.
    pub idempotency_key: Option<String>,
}

impl ToSign {
    /// An event to sign for `actor` with `key`, with no idempotency key.
    pub fn new(actor: ActorId, key: SignerKey, event: Event, visibility: Visibility) -> Self {
        ToSign {
            actor,
            key,
            event,
            visibility,
            idempotency_key: None,
        }
    }
}

/// Longest idempotency key a client may choose.
pub const MAX_IDEMPOTENCY_KEY_BYTES: usize = 200;

/// A submission decoded and hash-checked, before the rules are applied.
struct Decoded {
    signed: SignedStatement,
    payload: Vec<u8>,
    event: Event,
}

fn decode(submission: &Submission) -> Result<Decoded, Rejection> {
    let event = submission.signed.statement.event_of(&submission.payload)?;
    Ok(Decoded {
        signed: submission.signed.clone(),
        payload: submission.payload.clone(),
        event,
    })
}

/// A signed item decoded, with the key its signature verified under, if
/// it did against the keys before the batch.
type Prechecked = Result<(Decoded, Option<VerifyingKey>), Rejection>;

/// A batch as it is staged: what goes to the store, and the answers.
#[derive(Default)]
struct Staged {
    entries: Vec<StoredEntry>,
    statements: Vec<StatementKey>,
    idempotency_keys: Vec<IdempotencyKey>,
    erase_payloads: Vec<u64>,
    results: Vec<Result<u64, Rejection>>,
}

impl Staged {
    /// The entry an earlier item of this batch recorded under `key`.
    fn idempotent(&self, actor: &ActorId, key: &str) -> Option<u64> {
        self.idempotency_keys
            .iter()
            .find(|k| k.actor == actor.as_str() && k.key == key)
            .map(|k| k.index)
    }

    fn statement(&self, actor: &ActorId, seq: u64) -> Option<&StoredEntry> {
        let key = self
            .statements
            .iter()
            .find(|k| k.actor == actor.as_str() && k.seq == seq)?;
        self.entries.iter().find(|e| e.index == key.index)
    }
}

/// Whether a batch commits what passed (the server's group commit) or
/// nothing unless everything passed (an import).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Commit {
    WhatPasses,
    AllOrNothing,
}

/// How often a writer that finds the store moved under it reloads and
/// tries again before giving up.
const MOVED_RETRIES: usize = 8;

impl Ledger {
    /// Creates a log in `dir`: the log's checkpoint key, the intermediary's
    /// event key (both as 0600 files under `dir/keys`), the store, entry 0
    /// and the first checkpoint. Built in a sibling directory and renamed
    /// into place, so a failed init leaves nothing behind.
    pub fn init(
        place: impl Into<Place>,
        origin: &str,
        intermediary: &ActorId,
        intermediary_name: &str,
        options: LedgerOptions,
    ) -> Result<Ledger, LedgerError> {
        let place = place.into();
        crate::build_in_place(&place.dir, |staging| {
            let staged = place.with_dir(staging);
            Self::create(&staged, origin, intermediary, intermediary_name, &options).map(drop)
        })?;
        Self::open(place, options)
    }

    fn new(mut view: LogView, log_key: SignerKey, options: LedgerOptions) -> Ledger {
        view.state.record_row_changes();
        Ledger {
            view,
            log_key,
            last_checkpoint: (0, merkle::EMPTY_ROOT),
            last_checkpoint_at: Instant::now(),
            options,
        }
    }

    fn create(
        place: &Place,
        origin: &str,
        intermediary: &ActorId,
        intermediary_name: &str,
        options: &LedgerOptions,
    ) -> Result<Ledger, LedgerError> {
        let bad_origin = |e| LedgerError::Input(format!("--origin {origin:?}: {e}"));
        let log_key = SignerKey::generate(origin, KeyType::Ed25519).map_err(bad_origin)?;
        let intermediary_key =
            SignerKey::generate(&format!("{origin}/{intermediary}"), KeyType::Ed25519)
                .map_err(bad_origin)?;
        let meta = LogMeta {
            origin: origin.to_owned(),
            log_vkey: log_key.verifier().to_string(),
            reader: truce_core::ActorRole::Intermediary.as_str().to_owned(),
        };
        let dir = &place.dir;
        let store = truce_store::create(
            place,
            &meta,
            &LogState::new().derived_tables(),
            options.at_rest,
        )?;
        write_key_file(&dir.join(KEYS_DIR).join(LOG_KEY_FILE), &log_key)?;
        write_key_file(
            &dir.join(KEYS_DIR).join(INTERMEDIARY_KEY_FILE),
            &intermediary_key,
        )?;
        let view = LogView {
            place: place.clone(),
            store,
            meta,
            state: LogState::new(),
            tree: Tree::default(),
            latest: None,
            saved_at: 0,
        };
        let mut ledger = Ledger::new(view, log_key, options.clone());
        let genesis = Event::Registry(RegistryEvent::LogCreated {
            origin: origin.to_owned(),
            log_vkey: ledger.view.meta.log_vkey.clone(),
            intermediary: intermediary.clone(),
            intermediary_name: intermediary_name.to_owned(),
            intermediary_vkey: intermediary_key.verifier().to_string(),
        });
        let submission = ledger.submission(
            intermediary,
            &intermediary_key,
            &genesis,
            Visibility::Public,
        );
        ledger.append_one(submission)?;
        Ok(ledger)
    }

    /// Opens the log in `dir` for appending: folds the state, checks the
    /// tree against the last signed checkpoint, and signs a checkpoint for
    /// entries a crash left uncovered.
    pub fn open(place: impl Into<Place>, options: LedgerOptions) -> Result<Ledger, LedgerError> {
        let view = LogView::open(place)?;
        let log_key = read_key_file(&view.dir().join(KEYS_DIR).join(LOG_KEY_FILE))?;
        if log_key.verifier().to_string() != view.meta.log_vkey {
            return Err(LedgerError::Input(
                "keys/log.key is not the key of this log".to_owned(),
            ));
        }
        let mut ledger = Ledger::new(view, log_key, options);
        ledger.resume()?;
        Ok(ledger)
    }

    fn resume(&mut self) -> Result<(), LedgerError> {
        let (checkpoint, _) = self.view.checkpoint(None)?;
        if checkpoint.tree_size > self.view.tree_size()
            || self.view.root_at(checkpoint.tree_size)? != checkpoint.root_hash
        {
            return Err(LedgerError::Io(
                "the entries do not match the last checkpoint; run `truce verify`".to_owned(),
            ));
        }
        self.last_checkpoint = (checkpoint.tree_size, checkpoint.root_hash);
        self.checkpoint_now()
    }

    /// Rebuilds the view from the store (after a failed write).
    fn reload(&mut self) -> Result<(), LedgerError> {
        self.view = LogView::open(&self.view.place)?;
        self.view.state.record_row_changes();
        self.resume()
    }

    /// Folds what other writers appended since (see [`LogView::catch_up`]).
    pub fn catch_up(&mut self) -> Result<(), LedgerError> {
        if self.view.catch_up()? {
            // A view refolded after another writer's erasure records no rows.
            self.view.state.record_row_changes();
            self.resume()?;
        }
        Ok(())
    }

    pub fn view(&self) -> &LogView {
        &self.view
    }

    pub fn state(&self) -> &LogState {
        &self.view.state
    }

    pub fn log_vkey(&self) -> VerifierKey {
        self.log_key.verifier()
    }

    /// `actor`'s signed statement of `event`, with its next sequence number.
    pub fn submission(
        &self,
        actor: &ActorId,
        key: &SignerKey,
        event: &Event,
        visibility: Visibility,
    ) -> Submission {
        let seq = self.view.state.next_seq(actor);
        sign_statement(&self.view.meta.origin, actor, key, event, visibility, seq)
    }

    /// Signs and appends `items` (label, actor, key, event, visibility) as
    /// one batch, all or nothing: the first refused one is reported with
    /// its label and nothing is written.
    pub fn append_all(&mut self, items: Vec<Labelled<'_>>) -> Result<Vec<u64>, LedgerError> {
        let (labels, items): (Vec<String>, Vec<Item>) = items
            .into_iter()
            .map(|(label, actor, key, event, visibility)| {
                let item = Item::Sign(ToSign::new(actor, key.clone(), event, visibility));
                (label, item)
            })
            .unzip();
        let results = self.append_with(&items, Commit::AllOrNothing)?;
        results
            .into_iter()
            .zip(labels)
            .map(|(result, label)| result.map_err(|e| LedgerError::Input(format!("{label}: {e}"))))
            .collect()
    }

    /// Signs `event` for `actor` and appends it, numbered when it is
    /// appended (so a writer beside this one cannot take its number).
    pub fn record(
        &mut self,
        actor: &ActorId,
        key: &SignerKey,
        event: Event,
        visibility: Visibility,
    ) -> Result<u64, LedgerError> {
        let item = Item::Sign(ToSign::new(actor.clone(), key.clone(), event, visibility));
        let mut results = self.append_items(vec![item])?;
        Ok(results.pop().expect("one result per item")?)
    }

    /// Appends one submission, failing if it is rejected.
    pub fn append_one(&mut self, submission: Submission) -> Result<u64, LedgerError> {
        let mut results = self.append(vec![submission])?;
        Ok(results.pop().expect("one result per submission")?)
    }

    /// Appends signed submissions as one batch; see [`Self::append_items`].
    pub fn append(
        &mut self,
        submissions: Vec<Submission>,
    ) -> Result<Vec<Result<u64, Rejection>>, LedgerError> {
        self.append_items(submissions.into_iter().map(Item::Signed).collect())
    }

    /// Appends a batch in one transaction (one fsync) and returns, for each
    /// item, its entry index or why it was rejected. A rejected item does
    /// not stop the others, and takes no sequence number. A statement
    /// already on the log (the same signed statement, or the same
    /// idempotency key) answers with the entry that recorded it.
    pub fn append_items(
        &mut self,
        items: Vec<Item>,
    ) -> Result<Vec<Result<u64, Rejection>>, LedgerError> {
        self.append_with(&items, Commit::WhatPasses)
    }

    fn append_with(
        &mut self,
        items: &[Item],
        commit: Commit,
    ) -> Result<Vec<Result<u64, Rejection>>, LedgerError> {
        for _ in 0..MOVED_RETRIES {
            match self.try_append(items, commit) {
                Err(LedgerError::Store(StoreError::Moved { stored })) => {
                    tracing::info!(stored, "another writer appended; reloading and retrying");
                    self.reload()?;
                }
                outcome => return outcome,
            }
        }
        Err(LedgerError::Io(
            "other writers kept appending; try again".to_owned(),
        ))
    }

    /// One attempt, under the store's write lock: what other processes
    /// appended is folded in first, and none can append until this batch
    /// is written (or given up).
    fn try_append(
        &mut self,
        items: &[Item],
        commit: Commit,
    ) -> Result<Vec<Result<u64, Rejection>>, LedgerError> {
        self.view.store.begin_write()?;
        let outcome = self.append_locked(items, commit);
        // A no-op once the batch was written.
        self.view.store.abort_write();
        outcome
    }

    fn append_locked(
        &mut self,
        items: &[Item],
        commit: Commit,
    ) -> Result<Vec<Result<u64, Rejection>>, LedgerError> {
        self.catch_up()?;
        let before = (commit == Commit::AllOrNothing).then(|| self.view.state.clone());
        let staged = self.stage(items)?;
        if staged.results.iter().any(Result::is_err)
            && let Some(before) = before
        {
            self.view.state = before;
            return Ok(staged.results);
        }
        if staged.entries.is_empty() {
            return Ok(staged.results);
        }
        let first_index = staged.entries[0].index;
        for entry in &staged.entries {
            self.view.tree.push(entry.leaf_hash);
        }
        let refolded = if staged.erase_payloads.is_empty() {
            None
        } else {
            Some(self.refold_erasing(&staged)?)
        };
        let rows = self.view.state.take_row_changes();
        let tables = refolded.as_ref().map(LogState::derived_tables);
        let derived = match &tables {
            Some(tables) => DerivedWrite::Rewrite(tables),
            None => DerivedWrite::Rows(&rows),
        };
        let checkpoint = self
            .checkpoint_due()
            .then(|| self.sign_checkpoint())
            .transpose()?;
        // An erasure saves its refolded state (older ones hold the erased
        // payload's effects, and the store drops them).
        let size = self.view.tree_size();
        let saved_state = match &refolded {
            Some(state) => Some(saved(state, &self.view.tree.frontier)),
            None if save_due(self.view.saved_at, size) => {
                Some(saved(&self.view.state, &self.view.tree.frontier))
            }
            None => None,
        };
        let saved_at = saved_state.as_ref().map(|saved| saved.tree_size);
        let batch = Batch {
            saved_state,
            checkpoint: checkpoint
                .as_ref()
                .map(|(size, note, _)| (*size, note.clone())),
            derived,
            erase_payloads: staged.erase_payloads,
            statements: staged.statements,
            idempotency_keys: staged.idempotency_keys,
            entries: staged.entries,
        };
        if let Err(e) = self.view.store.append(batch) {
            if !matches!(e, StoreError::Moved { .. }) {
                tracing::error!(first_index, error = %e, "append failed; reloading the ledger from the store");
                if let Err(reload) = self.reload() {
                    tracing::error!(error = %reload, "reload after a failed append failed too");
                }
            }
            return Err(e.into());
        }
        if let Some((size, note, root)) = checkpoint {
            self.last_checkpoint = (size, root);
            self.last_checkpoint_at = Instant::now();
            self.view.latest = Some((size, note));
        }
        if let Some(mut state) = refolded {
            state.record_row_changes();
            self.view.state = state;
            // Recorded either way; the next erasure tries again.
            if let Err(e) = self.view.store.purge_erased() {
                tracing::warn!(error = %e, "erased payloads may remain in the store's free space until the next erasure");
            }
        }
        if let Some(saved_at) = saved_at {
            self.view.saved_at = saved_at;
        }
        Ok(staged.results)
    }

    fn checkpoint_due(&self) -> bool {
        self.options
            .checkpoint_interval
            .is_none_or(|every| self.last_checkpoint_at.elapsed() >= every)
    }

    /// Runs each item through the rules in order, folding in those that
    /// pass; the tree and the store are left to the caller.
    fn stage(&mut self, items: &[Item]) -> Result<Staged, LedgerError> {
        let prechecked = self.precheck(items);
        let mut staged = Staged::default();
        for (item, prechecked) in items.iter().zip(prechecked) {
            let outcome = match (item, prechecked) {
                (Item::Sign(to_sign), _) => self.stage_to_sign(&mut staged, to_sign),
                (Item::Signed(_), Some(prechecked)) => prechecked
                    .and_then(|(decoded, key)| self.stage_signed(&mut staged, decoded, key)),
                (Item::Signed(_), None) => unreachable!("signed items are prechecked"),
            };
            staged.results.push(outcome);
        }
        Ok(staged)
    }

    /// Decodes the signed items and checks their signatures in parallel,
    /// against the keys as they stand now; an entry whose key changes inside
    /// the batch is checked again when staged.
    fn precheck(&self, items: &[Item]) -> Vec<Option<Prechecked>> {
        let state = &self.view.state;
        let checkpoint_size = self.last_checkpoint.0;
        items
            .par_iter()
            .map(|item| {
                let Item::Signed(submission) = item else {
                    return None;
                };
                let decoded = match decode(submission) {
                    Ok(decoded) => decoded,
                    Err(why) => return Some(Err(why)),
                };
                let probe = envelope_at(
                    &decoded.signed,
                    state.tree_size(),
                    state.last_logged_at_ms(),
                    checkpoint_size,
                );
                let key = state
                    .signing_key(&probe, PayloadView::Present(&decoded.event))
                    .ok()
                    .filter(|key| decoded.signed.verify(key).is_ok());
                Some(Ok((decoded, key)))
            })
            .collect()
    }

    fn stage_to_sign(&mut self, staged: &mut Staged, to_sign: &ToSign) -> Result<u64, Rejection> {
        if let Some(key) = &to_sign.idempotency_key {
            if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_BYTES {
                return Err(truce_core::rejection!(
                    "idempotency-key-size",
                    "an idempotency key has 1 to {max} bytes",
                    max = MAX_IDEMPOTENCY_KEY_BYTES
                ));
            }
            let recorded = match staged.idempotent(&to_sign.actor, key) {
                Some(index) => Some(index),
                None => self
                    .view
                    .store
                    .idempotent_entry(to_sign.actor.as_str(), key)
                    .map_err(|e| {
                        truce_core::rejection!(
                            "store-failed",
                            "the store failed: {error}",
                            error = e
                        )
                    })?,
            };
            if let Some(index) = recorded {
                return Ok(index);
            }
        }
        let seq = self.view.state.next_seq(&to_sign.actor);
        let submission = sign_statement(
            &self.view.meta.origin,
            &to_sign.actor,
            &to_sign.key,
            &to_sign.event,
            to_sign.visibility.clone(),
            seq,
        );
        let decoded = decode(&submission)?;
        // Signed here with this key a moment ago: if it is the actor's
        // registered key, the signature holds without checking it again.
        let signed_with = *to_sign.key.verifier().public_key();
        let index = self.stage_signed(staged, decoded, Some(signed_with))?;
        if let Some(key) = &to_sign.idempotency_key {
            staged.idempotency_keys.push(IdempotencyKey {
                actor: to_sign.actor.to_string(),
                key: key.clone(),
                index,
            });
        }
        Ok(index)
    }

    /// The entry that already holds this very statement, if its sequence
    /// number was used before.
    fn recorded_before(&self, staged: &Staged, signed: &SignedStatement) -> Option<u64> {
        let statement = &signed.statement;
        if statement.seq >= self.view.state.next_seq(&statement.actor) {
            return None;
        }
        let same = |entry: &StoredEntry| {
            Envelope::from_leaf(&entry.leaf).is_ok_and(|e| e.signed == *signed)
        };
        if let Some(entry) = staged.statement(&statement.actor, statement.seq) {
            return same(entry).then_some(entry.index);
        }
        let index = self
            .view
            .store
            .statement_entry(statement.actor.as_str(), statement.seq)
            .ok()??;
        let entry = self.view.store.entry(index).ok()??;
        same(&entry).then_some(index)
    }

    fn stage_signed(
        &mut self,
        staged: &mut Staged,
        decoded: Decoded,
        prechecked: Option<VerifyingKey>,
    ) -> Result<u64, Rejection> {
        if let Some(index) = self.recorded_before(staged, &decoded.signed) {
            return Ok(index);
        }
        let state = &mut self.view.state;
        let logged_at_ms = now_ms().max(state.last_logged_at_ms());
        let envelope = envelope_at(
            &decoded.signed,
            state.tree_size(),
            logged_at_ms,
            self.last_checkpoint.0,
        );
        let view = PayloadView::Present(&decoded.event);
        let key = state.signing_key(&envelope, view)?;
        if prechecked != Some(key) {
            decoded.signed.verify(&key)?;
        }
        state.check_new(&envelope, view)?;
        let leaf = envelope.to_leaf();
        if leaf.len() > MAX_LEAF_BYTES {
            return Err(truce_core::rejection!(
                "envelope-too-large",
                "envelope larger than {max} bytes",
                max = MAX_LEAF_BYTES
            ));
        }
        state.apply(&envelope, view);
        if let Event::Registry(RegistryEvent::PayloadErased { entry_index, .. }) = &decoded.event {
            staged.erase_payloads.push(*entry_index);
        }
        let statement = envelope.statement();
        staged.statements.push(StatementKey {
            actor: statement.actor.to_string(),
            seq: statement.seq,
            index: envelope.index,
        });
        staged.entries.push(StoredEntry {
            index: envelope.index,
            leaf_hash: merkle::leaf_hash(&leaf),
            leaf,
            payload: PayloadRecord::Present(decoded.payload),
        });
        Ok(envelope.index)
    }

    /// The state a replay will fold once this batch is written: the stored
    /// entries and the staged ones, with the payloads the batch erases no
    /// longer counting.
    fn refold_erasing(&self, staged: &Staged) -> Result<LogState, LedgerError> {
        let erased: BTreeSet<u64> = staged.erase_payloads.iter().copied().collect();
        let first_erased = erased.first().copied().unwrap_or(0);
        let snapshot = self.view.store.snapshot()?;
        // A state saved before the first erased entry never folded it.
        let mut state = self
            .view
            .store
            .saved_state(first_erased)?
            .and_then(|saved| {
                LogState::from_saved(&saved.state)
                    .ok()
                    .filter(|state| state.tree_size() == saved.tree_size)
            })
            .unwrap_or_else(LogState::new);
        let start = state.tree_size();
        let mut fold = |entry: &StoredEntry| {
            if erased.contains(&entry.index) {
                let mut entry = entry.clone();
                entry.payload = PayloadRecord::Erased;
                crate::fold_stored(&mut state, &entry)
            } else {
                crate::fold_stored(&mut state, entry)
            }
            .map(drop)
        };
        let first = staged.entries[0].index;
        self.view
            .store
            .for_each_entry(start, first, &mut |entry| fold(&entry))?
            .map_err(LedgerError::Io)?;
        drop(snapshot);
        for entry in &staged.entries {
            fold(entry).map_err(LedgerError::Io)?;
        }
        Ok(state)
    }

    /// Signs a checkpoint of any entries not yet covered by one (used with
    /// a checkpoint interval, when a batch ended before the interval did).
    pub fn checkpoint_now(&mut self) -> Result<(), LedgerError> {
        if self.view.tree_size() == self.last_checkpoint.0 {
            return Ok(());
        }
        let (size, note, root) = self.sign_checkpoint()?;
        self.view.store.append(Batch {
            checkpoint: Some((size, note.clone())),
            ..Batch::default()
        })?;
        self.last_checkpoint = (size, root);
        self.last_checkpoint_at = Instant::now();
        self.view.latest = Some((size, note));
        Ok(())
    }
    /// Signs the checkpoint of the current tree. It is consistent with the
    /// last one signed by construction, so the log never signs two views:
    /// `resume` checked the frontier against the newest stored checkpoint
    /// whenever the view was (re)read, and since then the frontier has only
    /// grown by appended leaves.
    fn sign_checkpoint(&self) -> Result<(u64, Vec<u8>, Hash), LedgerError> {
        let size = self.view.tree_size();
        let root = self.view.tree.frontier.root();
        let text = Checkpoint::new(&self.view.meta.origin, size, root).to_text();
        let signature = self
            .log_key
            .sign_note(&text)
            .expect("the log key is an Ed25519 note key");
        let note = Note {
            text,
            signatures: vec![signature],
        };
        Ok((size, note.to_bytes(), root))
    }
}

/// `actor`'s signed statement of `event` with sequence number `seq`, signed
/// now, its payload salted afresh: what the ledger appends and what the CLI
/// submits to a server.
pub fn sign_statement(
    origin: &str,
    actor: &ActorId,
    key: &SignerKey,
    event: &Event,
    visibility: Visibility,
    seq: u64,
) -> Submission {
    let (statement, payload) = Statement::for_event(
        origin,
        actor,
        key,
        seq,
        event,
        visibility,
        now_ms(),
        crate::fresh_salt(),
    );
    Submission {
        signed: statement.sign(key),
        payload,
    }
}

fn envelope_at(
    signed: &SignedStatement,
    index: u64,
    logged_at_ms: i64,
    checkpoint_size: u64,
) -> Envelope {
    Envelope {
        index,
        logged_at_ms,
        checkpoint_size,
        signed: signed.clone(),
    }
}
