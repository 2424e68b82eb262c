//! Group commit: many submitters, one ledger. Each submitter queues its
//! request; whoever takes the ledger next appends up to [`MAX_BATCH`]
//! queued requests as one batch (one transaction, one fsync, one
//! checkpoint) and answers each. A submitter whose request another one
//! appended just takes its answer.
//!
//! The queue is bounded: when [`GroupCommit::capacity`] requests wait, the
//! next is refused at once as [`CommitError::Busy`] (the server answers 503
//! with Retry-After) instead of piling up memory and latency.
//!
//! The server and the benchmarks use this one implementation: the server
//! through [`GroupCommit::submit`] from its request handlers, a benchmark
//! through [`GroupCommit::queue`] and a committing thread.

use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use tlog::SignerKey;
use truce_core::{ActorId, Event, Rejection, Visibility};
use truce_store::StoreError;

use crate::ledger::{Item, ToSign};
use crate::{Ledger, LedgerError, Submission};

/// At most this many requests share a transaction: it bounds memory and
/// the latency of the first submitter in a batch.
pub const MAX_BATCH: usize = 8_192;

/// Requests that may wait for a commit before new ones are refused.
pub const DEFAULT_CAPACITY: usize = 4 * MAX_BATCH;

/// What a submitter asks to append.
pub enum Request {
    /// A statement its actor signed elsewhere.
    Signed(Submission),
    /// An event to sign for `actor` with a key the committer holds
    /// ([`Keys::key_for`]), numbered at its turn in the batch.
    ServerSigned {
        actor: ActorId,
        event: Event,
        visibility: Visibility,
        idempotency_key: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitError {
    /// The queue is full: try again shortly.
    Busy,
    /// The log's rules refuse this request (the others of its batch are
    /// not affected).
    Refused(Rejection),
    /// The committer holds no key to sign for this actor.
    NoKey(String),
    /// The store cannot take writes now (a full disk, a read-only file).
    Unavailable(String),
    /// The batch could not be written.
    Failed(String),
}

impl std::fmt::Display for CommitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommitError::Busy => f.write_str("too many appends are waiting; try again shortly"),
            CommitError::Refused(why) => write!(f, "rejected: {why}"),
            CommitError::NoKey(why) | CommitError::Failed(why) => f.write_str(why),
            CommitError::Unavailable(why) => write!(f, "store unavailable: {why}"),
        }
    }
}

impl From<LedgerError> for CommitError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Store(StoreError::Unavailable(why)) => CommitError::Unavailable(why),
            LedgerError::Rejected(why) => CommitError::Refused(why),
            other => CommitError::Failed(other.to_string()),
        }
    }
}

pub type Answer = Result<u64, CommitError>;

/// What the committer knows beyond the ledger: the keys it signs with for
/// server-signed requests, and what it records ahead of each batch.
pub trait Keys: Send + Sync {
    /// The key to sign `actor`'s statements with, looked up at commit time
    /// (so a submitter waits for the ledger once).
    fn key_for(&self, ledger: &Ledger, actor: &ActorId) -> Result<SignerKey, String>;

    /// Items to append before each batch's requests (the server's held
    /// cosignatures); `recorded` is then told how each fared.
    fn ahead_of_batch(&self, _ledger: &Ledger) -> Vec<Item> {
        Vec::new()
    }

    fn recorded(&self, _ahead: &[Result<u64, Rejection>]) -> Result<(), String> {
        Ok(())
    }
}

/// Only client-signed statements: no key to sign with.
pub struct ClientSignedOnly;

impl Keys for ClientSignedOnly {
    fn key_for(&self, _: &Ledger, actor: &ActorId) -> Result<SignerKey, String> {
        Err(format!("no key is held for {actor}"))
    }
}

struct Pending {
    request: Request,
    answer: SyncSender<Answer>,
}

pub struct GroupCommit<K: Keys> {
    ledger: Mutex<Ledger>,
    pending: Mutex<VecDeque<Pending>>,
    queued: Condvar,
    capacity: usize,
    keys: K,
}

impl<K: Keys> GroupCommit<K> {
    pub fn new(ledger: Ledger, keys: K, capacity: usize) -> Self {
        GroupCommit {
            ledger: Mutex::new(ledger),
            pending: Mutex::new(VecDeque::new()),
            queued: Condvar::new(),
            capacity,
            keys,
        }
    }

    pub fn keys(&self) -> &K {
        &self.keys
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The ledger, for reading (no commit runs while it is held).
    pub fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().expect("ledger lock")
    }

    /// Queues a request without waiting; the receiver yields its answer
    /// once a commit took it. Refused at once when the queue is full.
    pub fn queue(&self, request: Request) -> Result<Receiver<Answer>, CommitError> {
        let (answer, receiver) = sync_channel(1);
        let mut pending = self.pending.lock().expect("pending lock");
        if pending.len() >= self.capacity {
            return Err(CommitError::Busy);
        }
        pending.push_back(Pending { request, answer });
        self.queued.notify_one();
        Ok(receiver)
    }

    /// Queues a request and waits until it is durable (or refused),
    /// committing the queue itself when nobody else is.
    pub fn submit(&self, request: Request) -> Answer {
        let receiver = self.queue(request)?;
        loop {
            if let Ok(answer) = receiver.try_recv() {
                return answer;
            }
            let mut ledger = self.ledger();
            if let Ok(answer) = receiver.try_recv() {
                return answer;
            }
            self.commit_batch(&mut ledger);
        }
    }

    /// Waits up to `timeout` for requests, then commits one batch of them:
    /// the loop of a dedicated committing thread. False if none came.
    pub fn commit_waiting(&self, timeout: Duration) -> bool {
        {
            let pending = self.pending.lock().expect("pending lock");
            let (pending, _) = self
                .queued
                .wait_timeout_while(pending, timeout, |p| p.is_empty())
                .expect("pending lock");
            if pending.is_empty() {
                return false;
            }
        }
        let mut ledger = self.ledger();
        self.commit_batch(&mut ledger);
        true
    }

    /// Appends up to [`MAX_BATCH`] queued requests (after what the keys put
    /// ahead of them) in one batch and answers each.
    fn commit_batch(&self, ledger: &mut Ledger) {
        let batch: Vec<Pending> = {
            let mut pending = self.pending.lock().expect("pending lock");
            let take = pending.len().min(MAX_BATCH);
            pending.drain(..take).collect()
        };
        if batch.is_empty() {
            return;
        }
        let ahead = self.keys.ahead_of_batch(ledger);
        let ahead_count = ahead.len();
        let mut items = ahead;
        let mut answers = Vec::with_capacity(batch.len());
        for Pending { request, answer } in batch {
            match self.item(ledger, request) {
                Ok(item) => {
                    items.push(item);
                    answers.push(answer);
                }
                Err(refused) => {
                    let _ = answer.send(Err(refused));
                }
            }
        }
        match ledger.append_items(items) {
            Ok(mut results) => {
                let requested = results.split_off(ahead_count);
                if let Err(why) = self.keys.recorded(&results) {
                    tracing::error!(error = %why, "after recording the items ahead of a batch");
                }
                for (result, answer) in requested.into_iter().zip(answers) {
                    let _ = answer.send(result.map_err(CommitError::Refused));
                }
            }
            Err(e) => {
                let error = CommitError::from(e);
                for answer in answers {
                    let _ = answer.send(Err(error.clone()));
                }
            }
        }
    }

    fn item(&self, ledger: &Ledger, request: Request) -> Result<Item, CommitError> {
        Ok(match request {
            Request::Signed(submission) => Item::Signed(submission),
            Request::ServerSigned {
                actor,
                event,
                visibility,
                idempotency_key,
            } => Item::Sign(ToSign {
                key: self
                    .keys
                    .key_for(ledger, &actor)
                    .map_err(CommitError::NoKey)?,
                actor,
                event,
                visibility,
                idempotency_key,
            }),
        })
    }

    /// Commits what is still queued and gives the ledger back.
    pub fn into_ledger(self) -> Ledger {
        loop {
            let empty = self.pending.lock().expect("pending lock").is_empty();
            if empty {
                return self.ledger.into_inner().expect("ledger lock");
            }
            let mut ledger = self.ledger();
            self.commit_batch(&mut ledger);
        }
    }
}
