//! A running log: the state folded from the store, the tree hashes and the
//! log's signing key. Appends are checked by the core, signature-checked in
//! parallel, written as one transaction with their checkpoint, and only
//! then folded into memory.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ed25519_dalek::VerifyingKey;
use rayon::prelude::*;
use tlog::merkle::{self, Hash, TreeHashes};
use tlog::{Checkpoint, KeyType, Note, SignerKey, VerifierKey};
use truce_core::envelope::{MAX_LEAF_BYTES, MAX_PAYLOAD_BYTES, sha256_hex};
use truce_core::{
    ActorId, Envelope, Event, LogState, PayloadView, Rejection, SignedStatement, Statement, Visibility,
};
use truce_store::{Batch, LogMeta, LogStore, PayloadRecord, SqliteStore, StoredEntry};

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
}

pub struct Ledger {
    dir: PathBuf,
    store: SqliteStore,
    meta: LogMeta,
    state: LogState,
    tree: TreeHashes,
    log_key: SignerKey,
    /// The last signed checkpoint: (tree size, root).
    last_checkpoint: (u64, Hash),
    last_checkpoint_at: Instant,
    options: LedgerOptions,
}

/// A submission decoded and hash-checked, before the rules are applied.
struct Decoded {
    signed: SignedStatement,
    payload: Vec<u8>,
    event: Event,
}

fn decode(submission: Submission) -> Result<Decoded, Rejection> {
    if submission.payload.len() > MAX_PAYLOAD_BYTES {
        return Err(Rejection(format!(
            "payload larger than {MAX_PAYLOAD_BYTES} bytes"
        )));
    }
    if sha256_hex(&submission.payload) != submission.signed.statement.payload_sha256 {
        return Err(Rejection("payload does not match payload_sha256".to_owned()));
    }
    let event = Event::from_payload(&submission.payload).map_err(|e| Rejection(format!("payload: {e}")))?;
    Ok(Decoded {
        signed: submission.signed,
        payload: submission.payload,
        event,
    })
}

impl Ledger {
    /// Creates a log in `dir`: the log's checkpoint key, the intermediary's
    /// event key (both as 0600 files under `dir/keys`), the store, entry 0
    /// and the first checkpoint. Built in a sibling directory and renamed
    /// into place, so a failed init leaves nothing behind.
    pub fn init(
        dir: &Path,
        origin: &str,
        intermediary: &ActorId,
        intermediary_name: &str,
        options: LedgerOptions,
    ) -> Result<Ledger, LedgerError> {
        if dir.exists()
            && std::fs::read_dir(dir)
                .map_err(|e| LedgerError::io(dir, e))?
                .next()
                .is_some()
        {
            return Err(LedgerError::Input(format!(
                "{} exists and is not empty",
                dir.display()
            )));
        }
        let mut staging = dir.as_os_str().to_owned();
        staging.push(".init");
        let staging = PathBuf::from(staging);
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(|e| LedgerError::io(&staging, e))?;
        }
        let created = Self::create(&staging, origin, intermediary, intermediary_name);
        if let Err(e) = created {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
        drop(created);
        if dir.exists() {
            std::fs::remove_dir(dir).map_err(|e| LedgerError::io(dir, e))?;
        }
        std::fs::rename(&staging, dir).map_err(|e| LedgerError::io(dir, e))?;
        Self::open(dir, options)
    }

    fn create(
        dir: &Path,
        origin: &str,
        intermediary: &ActorId,
        intermediary_name: &str,
    ) -> Result<Ledger, LedgerError> {
        let options = LedgerOptions::default();
        let bad_origin = |e| LedgerError::Input(format!("--origin {origin:?}: {e}"));
        let log_key = SignerKey::generate(origin, KeyType::Ed25519).map_err(bad_origin)?;
        let intermediary_key =
            SignerKey::generate(&format!("{origin}/{intermediary}"), KeyType::Ed25519).map_err(bad_origin)?;
        let meta = LogMeta {
            origin: origin.to_owned(),
            log_vkey: log_key.verifier().to_string(),
            reader: truce_core::ActorRole::Intermediary.as_str().to_owned(),
        };
        let store = SqliteStore::create(dir, &meta, &LogState::new().derived_tables())?;
        write_key_file(&dir.join(KEYS_DIR).join(LOG_KEY_FILE), &log_key)?;
        write_key_file(&dir.join(KEYS_DIR).join(INTERMEDIARY_KEY_FILE), &intermediary_key)?;
        let mut ledger = Ledger {
            dir: dir.to_owned(),
            store,
            meta,
            state: LogState::new(),
            tree: TreeHashes::new(),
            log_key,
            last_checkpoint: (0, merkle::EMPTY_ROOT),
            last_checkpoint_at: Instant::now(),
            options,
        };
        let genesis = Event::LogCreated {
            origin: origin.to_owned(),
            log_vkey: ledger.meta.log_vkey.clone(),
            intermediary: intermediary.clone(),
            intermediary_name: intermediary_name.to_owned(),
            intermediary_vkey: intermediary_key.verifier().to_string(),
        };
        let submission = ledger.submission(intermediary, &intermediary_key, &genesis, Visibility::Public);
        ledger.append_one(submission)?;
        Ok(ledger)
    }

    /// Opens the log in `dir`, folding the state from every entry and
    /// checking the tree against the last signed checkpoint.
    pub fn open(dir: &Path, options: LedgerOptions) -> Result<Ledger, LedgerError> {
        let store = SqliteStore::open(dir)?;
        let meta = store.meta()?;
        let log_key = read_key_file(&dir.join(KEYS_DIR).join(LOG_KEY_FILE))?;
        if log_key.verifier().to_string() != meta.log_vkey {
            return Err(LedgerError::Input(
                "keys/log.key is not the key of this log".to_owned(),
            ));
        }
        let mut ledger = Ledger {
            dir: dir.to_owned(),
            store,
            meta,
            state: LogState::new(),
            tree: TreeHashes::new(),
            log_key,
            last_checkpoint: (0, merkle::EMPTY_ROOT),
            last_checkpoint_at: Instant::now(),
            options,
        };
        ledger.reload()?;
        Ok(ledger)
    }

    /// Rebuilds the state and the tree from the store.
    fn reload(&mut self) -> Result<(), LedgerError> {
        let mut state = LogState::new();
        let mut tree = TreeHashes::new();
        let size = self.store.tree_size()?;
        let replay = self.store.for_each_entry(0, size, &mut |entry| {
            let envelope =
                Envelope::from_leaf(&entry.leaf).map_err(|e| format!("entry {}: {e}", entry.index))?;
            let event = match &entry.payload {
                PayloadRecord::Present(bytes) => {
                    Some(Event::from_payload(bytes).map_err(|e| format!("entry {}: {e}", entry.index))?)
                }
                _ => None,
            };
            let view = match (&event, &entry.payload) {
                (Some(event), _) => PayloadView::Present(event),
                (None, PayloadRecord::Erased) => PayloadView::Erased,
                (None, _) => PayloadView::Withheld,
            };
            state
                .check(&envelope, view)
                .map_err(|e| format!("entry {}: {e}", entry.index))?;
            state.apply(&envelope, view);
            tree.push(entry.leaf_hash);
            Ok(())
        })?;
        replay.map_err(|why| {
            LedgerError::Io(format!(
                "the store fails its own replay ({why}); run `truce verify`"
            ))
        })?;
        let (checkpoint_size, note) = self
            .store
            .latest_checkpoint()?
            .ok_or_else(|| LedgerError::Io("the store has no checkpoint; run `truce verify`".to_owned()))?;
        let checkpoint = self.open_checkpoint(&note)?;
        if checkpoint.tree_size != checkpoint_size
            || checkpoint.tree_size > tree.tree_size()
            || merkle::root(&tree, checkpoint.tree_size) != checkpoint.root_hash
        {
            return Err(LedgerError::Io(
                "the entries do not match the last checkpoint; run `truce verify`".to_owned(),
            ));
        }
        self.state = state;
        self.tree = tree;
        self.last_checkpoint = (checkpoint.tree_size, checkpoint.root_hash);
        Ok(())
    }

    fn open_checkpoint(&self, note: &[u8]) -> Result<Checkpoint, LedgerError> {
        let corrupt = |e: tlog::NoteError| LedgerError::Io(format!("stored checkpoint: {e}"));
        let note = Note::parse(note).map_err(corrupt)?;
        note.verify(&[self.log_key.verifier()]).map_err(corrupt)?;
        Checkpoint::parse(&note.text).map_err(corrupt)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn origin(&self) -> &str {
        &self.meta.origin
    }

    pub fn state(&self) -> &LogState {
        &self.state
    }

    pub fn tree(&self) -> &TreeHashes {
        &self.tree
    }

    pub fn store(&self) -> &SqliteStore {
        &self.store
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
        let (statement, payload) = Statement::for_event(
            &self.meta.origin,
            actor,
            key,
            self.state.next_seq(actor),
            event,
            visibility,
            now_ms(),
        );
        Submission {
            signed: statement.sign(key),
            payload,
        }
    }

    /// Appends one submission, failing if it is rejected.
    pub fn append_one(&mut self, submission: Submission) -> Result<u64, LedgerError> {
        let mut results = self.append(vec![submission])?;
        Ok(results.pop().expect("one result per submission")?)
    }

    /// Appends a batch in one transaction (one fsync) and returns, for each
    /// submission, its entry index or why it was rejected. Rejected
    /// submissions do not stop the others.
    pub fn append(
        &mut self,
        submissions: Vec<Submission>,
    ) -> Result<Vec<Result<u64, Rejection>>, LedgerError> {
        let decoded: Vec<Result<Decoded, Rejection>> = submissions.into_par_iter().map(decode).collect();
        // Check signatures in parallel against the keys as they stand now;
        // an entry whose key changes inside this batch is checked again below.
        let state = &self.state;
        let prechecked: Vec<Option<VerifyingKey>> = decoded
            .par_iter()
            .map(|d| {
                let d = d.as_ref().ok()?;
                let probe = envelope_at(&d.signed, state.tree_size(), state.last_logged_at_ms());
                let key = state.signing_key(&probe, PayloadView::Present(&d.event)).ok()?;
                d.signed.verify(&key).ok().map(|()| key)
            })
            .collect();

        let mut results = Vec::with_capacity(decoded.len());
        let mut batch = Batch::default();
        let revision_before = self.state.derived_revision();
        let mut erases = false;
        let first_index = self.state.tree_size();
        for (decoded, prechecked) in decoded.into_iter().zip(prechecked) {
            let outcome = decoded.and_then(|d| {
                let logged_at_ms = now_ms().max(self.state.last_logged_at_ms());
                let envelope = envelope_at(&d.signed, self.state.tree_size(), logged_at_ms);
                let view = PayloadView::Present(&d.event);
                let key = self.state.signing_key(&envelope, view)?;
                if prechecked != Some(key) {
                    d.signed.verify(&key).map_err(Rejection)?;
                }
                self.state.check(&envelope, view)?;
                let leaf = envelope.to_leaf();
                if leaf.len() > MAX_LEAF_BYTES {
                    return Err(Rejection("envelope larger than 65535 bytes".to_owned()));
                }
                self.state.apply(&envelope, view);
                if let Event::PayloadErased { entry_index, .. } = &d.event {
                    batch.erase_payloads.push(*entry_index);
                    erases = true;
                }
                let leaf_hash = merkle::leaf_hash(&leaf);
                self.tree.push(leaf_hash);
                batch.entries.push(StoredEntry {
                    index: envelope.index,
                    leaf,
                    leaf_hash,
                    payload: PayloadRecord::Present(d.payload),
                });
                Ok(envelope.index)
            });
            results.push(outcome);
        }
        if batch.entries.is_empty() {
            return Ok(results);
        }
        let derived = (self.state.derived_revision() != revision_before).then(|| self.state.derived_tables());
        batch.derived_tables = derived.as_deref();
        let due = self
            .options
            .checkpoint_interval
            .is_none_or(|every| self.last_checkpoint_at.elapsed() >= every);
        let checkpoint = if due { Some(self.sign_checkpoint()?) } else { None };
        batch.checkpoint = checkpoint.as_ref().map(|(size, note, _)| (*size, note.clone()));
        if let Err(e) = self.store.append(batch) {
            // Memory ran ahead of the store: rebuild it from what is durable.
            tracing::error!(first_index, "append failed; reloading the ledger from the store");
            self.reload()?;
            return Err(e.into());
        }
        if let Some((size, _, root)) = checkpoint {
            self.last_checkpoint = (size, root);
            self.last_checkpoint_at = Instant::now();
        }
        if erases {
            // An erased payload no longer contributes to the fold.
            self.reload()?;
        }
        Ok(results)
    }

    /// Signs a checkpoint of any entries not yet covered by one (used with
    /// a checkpoint interval, when a batch ended before the interval did).
    pub fn checkpoint_now(&mut self) -> Result<(), LedgerError> {
        if self.tree.tree_size() == self.last_checkpoint.0 {
            return Ok(());
        }
        let (size, note, root) = self.sign_checkpoint()?;
        self.store.append(Batch {
            checkpoint: Some((size, note)),
            ..Batch::default()
        })?;
        self.last_checkpoint = (size, root);
        self.last_checkpoint_at = Instant::now();
        Ok(())
    }

    /// Signs the checkpoint of the current tree, after proving it consistent
    /// with the last one signed: the log must never sign two views.
    fn sign_checkpoint(&self) -> Result<(u64, Vec<u8>, Hash), LedgerError> {
        let size = self.tree.tree_size();
        let root = self.tree.root();
        let (old_size, old_root) = self.last_checkpoint;
        if old_size > 0 {
            let proof = merkle::consistency_proof(&self.tree, old_size, size)
                .map_err(|e| LedgerError::Io(format!("cannot prove consistency: {e}")))?;
            merkle::verify_consistency(old_size, size, &proof, &old_root, &root).map_err(|e| {
                LedgerError::Io(format!(
                    "refusing to sign a checkpoint inconsistent with the last: {e}"
                ))
            })?;
        }
        let text = Checkpoint::new(&self.meta.origin, size, root).to_text();
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

fn envelope_at(signed: &SignedStatement, index: u64, logged_at_ms: i64) -> Envelope {
    Envelope {
        index,
        logged_at_ms,
        signed: signed.clone(),
    }
}
