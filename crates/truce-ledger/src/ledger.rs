//! A running log: the state folded from the store, the tree hashes and the
//! log's signing key. Appends are checked by the core, signature-checked in
//! parallel, written as one transaction with their checkpoint, and only
//! then folded into memory.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::VerifyingKey;
use rayon::prelude::*;
use tlog::merkle::{self, Hash, TreeHashes};
use tlog::{Checkpoint, KeyType, Note, NoteSignature, SignerKey, VerifierKey};
use truce_core::envelope::MAX_LEAF_BYTES;
use truce_core::{
    ActorId, Envelope, Event, LogState, PayloadView, Rejection, SignedStatement, Statement,
    Visibility,
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

/// A log opened for reading: the state folded from every entry and the
/// tree hashes. Needs no key, so a reader's copy opens too.
pub struct LogView {
    dir: PathBuf,
    store: SqliteStore,
    meta: LogMeta,
    state: LogState,
    tree: TreeHashes,
}

impl LogView {
    pub fn open(dir: &Path) -> Result<LogView, LedgerError> {
        let store = SqliteStore::open(dir)?;
        let meta = store.meta()?;
        let mut state = LogState::new();
        let mut tree = TreeHashes::new();
        let size = store.tree_size()?;
        store
            .for_each_entry(0, size, &mut |entry| {
                crate::fold_stored(&mut state, &entry)?;
                tree.push(entry.leaf_hash);
                Ok(())
            })?
            .map_err(|why| {
                LedgerError::Io(format!(
                    "the store fails its own replay ({why}); run `truce verify`"
                ))
            })?;
        Ok(LogView {
            dir: dir.to_owned(),
            store,
            meta,
            state,
            tree,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn meta(&self) -> &LogMeta {
        &self.meta
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
        let checkpoints = self.store.checkpoints()?;
        let found = match size {
            Some(size) => checkpoints.into_iter().find(|(s, _)| *s == size),
            None => checkpoints.into_iter().last(),
        };
        let (_, note) = found.ok_or_else(|| {
            LedgerError::Input("no checkpoint was signed at that size".to_owned())
        })?;
        let corrupt = |e: tlog::NoteError| LedgerError::Io(format!("stored checkpoint: {e}"));
        let mut note = Note::parse(&note).map_err(corrupt)?;
        note.verify(&[self.log_vkey()?]).map_err(corrupt)?;
        let checkpoint = Checkpoint::parse(&note.text).map_err(corrupt)?;
        let root = BASE64.encode(checkpoint.root_hash);
        let cosignatures = self
            .state
            .cosignatures()
            .iter()
            .filter(|((size, _), cosignature)| {
                *size == checkpoint.tree_size && cosignature.root_hash == root
            });
        for (_, cosignature) in cosignatures {
            note.signatures
                .push(NoteSignature::from_line(&cosignature.signature_line).map_err(corrupt)?);
        }
        Ok((checkpoint, note))
    }
}

pub struct Ledger {
    view: LogView,
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
    let event = submission.signed.statement.event_of(&submission.payload)?;
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
        crate::build_in_place(dir, |staging| {
            Self::create(staging, origin, intermediary, intermediary_name).map(drop)
        })?;
        Self::open(dir, options)
    }

    fn new(view: LogView, log_key: SignerKey, options: LedgerOptions) -> Ledger {
        Ledger {
            view,
            log_key,
            last_checkpoint: (0, merkle::EMPTY_ROOT),
            last_checkpoint_at: Instant::now(),
            options,
        }
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
            SignerKey::generate(&format!("{origin}/{intermediary}"), KeyType::Ed25519)
                .map_err(bad_origin)?;
        let meta = LogMeta {
            origin: origin.to_owned(),
            log_vkey: log_key.verifier().to_string(),
            reader: truce_core::ActorRole::Intermediary.as_str().to_owned(),
        };
        let store = SqliteStore::create(dir, &meta, &LogState::new().derived_tables())?;
        write_key_file(&dir.join(KEYS_DIR).join(LOG_KEY_FILE), &log_key)?;
        write_key_file(
            &dir.join(KEYS_DIR).join(INTERMEDIARY_KEY_FILE),
            &intermediary_key,
        )?;
        let view = LogView {
            dir: dir.to_owned(),
            store,
            meta,
            state: LogState::new(),
            tree: TreeHashes::new(),
        };
        let mut ledger = Ledger::new(view, log_key, options);
        let genesis = Event::LogCreated {
            origin: origin.to_owned(),
            log_vkey: ledger.view.meta.log_vkey.clone(),
            intermediary: intermediary.clone(),
            intermediary_name: intermediary_name.to_owned(),
            intermediary_vkey: intermediary_key.verifier().to_string(),
        };
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
    pub fn open(dir: &Path, options: LedgerOptions) -> Result<Ledger, LedgerError> {
        let view = LogView::open(dir)?;
        let log_key = read_key_file(&dir.join(KEYS_DIR).join(LOG_KEY_FILE))?;
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
        if checkpoint.tree_size > self.view.tree.tree_size()
            || merkle::root(&self.view.tree, checkpoint.tree_size) != checkpoint.root_hash
        {
            return Err(LedgerError::Io(
                "the entries do not match the last checkpoint; run `truce verify`".to_owned(),
            ));
        }
        self.last_checkpoint = (checkpoint.tree_size, checkpoint.root_hash);
        self.checkpoint_now()
    }

    /// Rebuilds the view from the store (after a failed write, or after an
    /// erasure, whose payload no longer contributes to the fold).
    fn reload(&mut self) -> Result<(), LedgerError> {
        self.view = LogView::open(&self.view.dir)?;
        self.resume()
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
        self.numbered_submission(actor, key, event, visibility, seq)
    }

    /// `actor`'s signed statement of `event` with sequence number `seq`: for
    /// a batch holding several statements of one actor.
    pub fn numbered_submission(
        &self,
        actor: &ActorId,
        key: &SignerKey,
        event: &Event,
        visibility: Visibility,
        seq: u64,
    ) -> Submission {
        let (statement, payload) = Statement::for_event(
            &self.view.meta.origin,
            actor,
            key,
            seq,
            event,
            visibility,
            now_ms(),
        );
        Submission {
            signed: statement.sign(key),
            payload,
        }
    }

    /// Signs and appends `items` (label, actor, key, event, visibility) as
    /// one batch, all or nothing: they are first run against a copy of the
    /// state, and the first refused one is reported with its label.
    pub fn append_all(
        &mut self,
        items: Vec<(String, ActorId, &SignerKey, Event, Visibility)>,
    ) -> Result<Vec<u64>, LedgerError> {
        let mut next_seq: std::collections::BTreeMap<ActorId, u64> =
            std::collections::BTreeMap::new();
        let mut trial = self.view.state.clone();
        let mut submissions = Vec::with_capacity(items.len());
        for (label, actor, key, event, visibility) in items {
            let seq = *next_seq
                .entry(actor.clone())
                .or_insert_with(|| trial.next_seq(&actor));
            next_seq.insert(actor.clone(), seq + 1);
            let (statement, payload) = Statement::for_event(
                &self.view.meta.origin,
                &actor,
                key,
                seq,
                &event,
                visibility,
                now_ms(),
            );
            let signed = statement.sign(key);
            let envelope = envelope_at(
                &signed,
                trial.tree_size(),
                trial.last_logged_at_ms(),
                self.last_checkpoint.0,
            );
            let view = PayloadView::Present(&event);
            let refused = |e: Rejection| LedgerError::Input(format!("{label}: {e}"));
            let signing_key = trial.signing_key(&envelope, view).map_err(refused)?;
            signed
                .verify(&signing_key)
                .map_err(|e| LedgerError::Input(format!("{label}: {e}")))?;
            trial.check(&envelope, view).map_err(refused)?;
            trial.apply(&envelope, view);
            submissions.push(Submission { signed, payload });
        }
        let results = self.append(submissions)?;
        // One writer holds `&mut self`, so what passed the trial passes now.
        results
            .into_iter()
            .map(|r| r.map_err(LedgerError::Rejected))
            .collect()
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
        let decoded: Vec<Result<Decoded, Rejection>> =
            submissions.into_par_iter().map(decode).collect();
        // Check signatures in parallel against the keys as they stand now;
        // an entry whose key changes inside this batch is checked again below.
        let state = &self.view.state;
        let checkpoint_size = self.last_checkpoint.0;
        let prechecked: Vec<Option<VerifyingKey>> = decoded
            .par_iter()
            .map(|d| {
                let d = d.as_ref().ok()?;
                let probe = envelope_at(
                    &d.signed,
                    state.tree_size(),
                    state.last_logged_at_ms(),
                    checkpoint_size,
                );
                let key = state
                    .signing_key(&probe, PayloadView::Present(&d.event))
                    .ok()?;
                d.signed.verify(&key).ok().map(|()| key)
            })
            .collect();

        let mut results = Vec::with_capacity(decoded.len());
        let mut batch = Batch::default();
        let revision_before = self.view.state.derived_revision();
        let mut erases = false;
        let first_index = self.view.state.tree_size();
        for (decoded, prechecked) in decoded.into_iter().zip(prechecked) {
            let outcome = decoded.and_then(|d| {
                let logged_at_ms = now_ms().max(self.view.state.last_logged_at_ms());
                let envelope = envelope_at(
                    &d.signed,
                    self.view.state.tree_size(),
                    logged_at_ms,
                    self.last_checkpoint.0,
                );
                let view = PayloadView::Present(&d.event);
                let key = self.view.state.signing_key(&envelope, view)?;
                if prechecked != Some(key) {
                    d.signed.verify(&key).map_err(Rejection)?;
                }
                self.view.state.check(&envelope, view)?;
                let leaf = envelope.to_leaf();
                if leaf.len() > MAX_LEAF_BYTES {
                    return Err(Rejection("envelope larger than 65535 bytes".to_owned()));
                }
                self.view.state.apply(&envelope, view);
                if let Event::PayloadErased { entry_index, .. } = &d.event {
                    batch.erase_payloads.push(*entry_index);
                    erases = true;
                }
                let leaf_hash = merkle::leaf_hash(&leaf);
                self.view.tree.push(leaf_hash);
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
        let derived = (self.view.state.derived_revision() != revision_before)
            .then(|| self.view.state.derived_tables());
        batch.derived_tables = derived.as_deref();
        let due = self
            .options
            .checkpoint_interval
            .is_none_or(|every| self.last_checkpoint_at.elapsed() >= every);
        let checkpoint = if due {
            Some(self.sign_checkpoint()?)
        } else {
            None
        };
        batch.checkpoint = checkpoint
            .as_ref()
            .map(|(size, note, _)| (*size, note.clone()));
        if let Err(e) = self.view.store.append(batch) {
            // Memory ran ahead of the store: rebuild it from what is durable.
            tracing::error!(first_index, error = %e, "append failed; reloading the ledger from the store");
            if let Err(reload) = self.reload() {
                tracing::error!(error = %reload, "reload after a failed append failed too");
            }
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
        if self.view.tree.tree_size() == self.last_checkpoint.0 {
            return Ok(());
        }
        let (size, note, root) = self.sign_checkpoint()?;
        self.view.store.append(Batch {
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
        let size = self.view.tree.tree_size();
        let root = self.view.tree.root();
        let (old_size, old_root) = self.last_checkpoint;
        if old_size > 0 {
            let proof = merkle::consistency_proof(&self.view.tree, old_size, size)
                .map_err(|e| LedgerError::Io(format!("cannot prove consistency: {e}")))?;
            merkle::verify_consistency(old_size, size, &proof, &old_root, &root).map_err(|e| {
                LedgerError::Io(format!(
                    "refusing to sign a checkpoint inconsistent with the last: {e}"
                ))
            })?;
        }
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
