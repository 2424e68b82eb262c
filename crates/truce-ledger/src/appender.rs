//! Group commit: many submitters, one writer. The appender thread takes
//! whatever submissions have queued (up to a bound), appends them as one
//! batch (one transaction, one fsync, one checkpoint) and answers each
//! submitter once its entry is durable and covered.

use std::sync::mpsc;
use std::thread::JoinHandle;

use crate::{Ledger, LedgerError, Submission};

/// At most this many submissions share a transaction: it bounds memory
/// and the latency of the first submitter in a batch.
pub const MAX_BATCH: usize = 8_192;

type Reply = Result<u64, String>;

struct Request {
    submission: Submission,
    reply: mpsc::SyncSender<Reply>,
}

/// A handle to submit through; clone it for each submitting thread.
#[derive(Clone)]
pub struct AppenderHandle {
    queue: mpsc::SyncSender<Request>,
}

impl AppenderHandle {
    /// Queues a submission; the receiver yields its entry index (or why it
    /// was refused) once it is durable.
    pub fn submit(&self, submission: Submission) -> mpsc::Receiver<Reply> {
        let (reply, answer) = mpsc::sync_channel(1);
        if self
            .queue
            .send(Request {
                submission,
                reply: reply.clone(),
            })
            .is_err()
        {
            let _ = reply.send(Err("the appender has stopped".to_owned()));
        }
        answer
    }
}

/// Starts the writer thread. It stops, returning the ledger, when every
/// handle is dropped.
pub fn start(ledger: Ledger) -> (AppenderHandle, JoinHandle<Result<Ledger, LedgerError>>) {
    let (queue, requests) = mpsc::sync_channel::<Request>(MAX_BATCH * 4);
    let writer = std::thread::spawn(move || run(ledger, requests));
    (AppenderHandle { queue }, writer)
}

fn run(mut ledger: Ledger, requests: mpsc::Receiver<Request>) -> Result<Ledger, LedgerError> {
    while let Ok(first) = requests.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match requests.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        let (submissions, replies): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|r| (r.submission, r.reply)).unzip();
        match ledger.append(submissions) {
            Ok(results) => {
                for (result, reply) in results.into_iter().zip(replies) {
                    let _ = reply.send(result.map_err(|r| r.to_string()));
                }
            }
            Err(e) => {
                for reply in replies {
                    let _ = reply.send(Err(format!("not appended: {e}")));
                }
            }
        }
    }
    ledger.checkpoint_now()?;
    Ok(ledger)
}
