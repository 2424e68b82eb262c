//! Benchmark (not a test) of the ledger on a log of N entries (default one
//! million; a quarter are claims, which add rows to a derived table, the
//! rest remarks): (a) sustained signed appends per second through group commit
//! with durability, and the p99 time from submission to being covered by a
//! signed checkpoint; (b) full verification in entries per second.
//!
//! Each part also runs its baseline in the same process and prints the
//! ratio: for appends, raw SQLite inserts of the same leaves in the same
//! batch sizes with the same fsync policy (the storage ceiling); for
//! verification, bare Ed25519 batch verification of the same signatures
//! (the cryptographic ceiling).
//!
//!     cargo run --release -p truce-ledger --example ledger_bench -- [ENTRIES] [DIR]

use std::path::PathBuf;
use std::time::{Duration, Instant};
use truce_core::registry::RegistryEvent;

#[path = "common/mix.rs"]
mod mix;

use rayon::prelude::*;
use tlog::{KeyType, SignerKey};
use truce_core::{ActorId, ActorRole, Event, Statement, Visibility};
use truce_ledger::group::{self, ClientSignedOnly, CommitError, GroupCommit, Request};
use truce_ledger::keys::read_key_file;
use truce_ledger::{
    INTERMEDIARY_KEY_FILE, KEYS_DIR, Ledger, LedgerOptions, Submission, verify_data_dir,
};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let entries: u64 = args
        .next()
        .map_or(1_000_000, |n| n.parse().expect("ENTRIES is a number"));
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "bench/out/ledger".to_owned()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).expect("remove the previous run");
    }
    println!(
        "ledger benchmark: {entries} entries in {} on {} cores",
        dir.display(),
        rayon::current_num_threads()
    );

    let ua = ActorId::new("ua").unwrap();
    let mut ledger = Ledger::init(
        dir.join("log"),
        "bench.truce/log",
        &ActorId::new("intermediary").unwrap(),
        "I",
        LedgerOptions::default(),
    )
    .expect("init");
    let me = read_key_file(&dir.join("log").join(KEYS_DIR).join(INTERMEDIARY_KEY_FILE)).unwrap();
    let ua_key = SignerKey::generate("bench.truce/ua", KeyType::Ed25519).unwrap();
    let register = Event::Registry(RegistryEvent::ActorRegistered {
        actor: ua.clone(),
        role: ActorRole::Party,
        name: "Party".to_owned(),
        vkey: ua_key.verifier().to_string(),
    });
    let submission = ledger.submission(
        &ActorId::new("intermediary").unwrap(),
        &me,
        &register,
        Visibility::Public,
    );
    ledger.append_one(submission).unwrap();

    // Clients sign on their own machines: sign everything before the clock starts.
    let started = Instant::now();
    let origin = "bench.truce/log";
    let submissions: Vec<Submission> = (0..entries)
        .into_par_iter()
        .map(|i| {
            let event = mix::event(i);
            let (statement, payload) = Statement::for_event(
                origin,
                &ua,
                &ua_key,
                i + 1,
                &event,
                Visibility::Party(ua.clone()),
                0,
                truce_ledger::fresh_salt(),
            );
            Submission {
                signed: statement.sign(&ua_key),
                payload,
            }
        })
        .collect();
    println!(
        "signed {entries} statements in {:.1} s (client side, not measured)",
        started.elapsed().as_secs_f64()
    );

    // (a) appends through the group commit the server uses, with one
    // committing thread taking whatever has queued.
    let commits = std::sync::Arc::new(GroupCommit::new(
        ledger,
        ClientSignedOnly,
        group::DEFAULT_CAPACITY,
    ));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (commits, stop) = (commits.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Acquire) {
                commits.commit_waiting(Duration::from_millis(10));
            }
        })
    };
    // A full queue refuses at once; a client waits a moment and retries.
    let submit = |submission: Submission| loop {
        match commits.queue(Request::Signed(submission.clone())) {
            Ok(reply) => return reply,
            Err(CommitError::Busy) => std::thread::sleep(Duration::from_micros(200)),
            Err(other) => panic!("queue: {other}"),
        }
    };
    let (sent_tx, sent_rx) = std::sync::mpsc::channel();
    let phase_done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = phase_done.clone();
    let collector = std::thread::spawn(move || {
        let mut latencies = Vec::with_capacity(entries as usize + 1);
        for (submitted, reply) in sent_rx {
            let reply: std::sync::mpsc::Receiver<group::Answer> = reply;
            reply.recv().expect("a reply").expect("appended");
            latencies.push(Instant::elapsed(&submitted));
            seen.fetch_add(1, std::sync::atomic::Ordering::Release);
        }
        latencies
    });
    // Saturation: 80% of the entries as fast as the appender takes them.
    let saturated = (entries * 4 / 5) as usize;
    let mut submissions = submissions.into_iter();
    let append_started = Instant::now();
    for submission in submissions.by_ref().take(saturated) {
        let submitted = Instant::now();
        let reply = submit(submission);
        sent_tx.send((submitted, reply)).unwrap();
    }
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    sent_tx
        .send((Instant::now(), {
            // A marker submission-less reply: wait for all earlier replies.
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            done_tx.send(tx).unwrap();
            rx
        }))
        .unwrap();
    done_rx.recv().unwrap().send(Ok(0)).unwrap();
    // Wait until the collector has seen every saturated reply.
    while phase_done.load(std::sync::atomic::Ordering::Acquire) < saturated + 1 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let append_seconds = append_started.elapsed().as_secs_f64();
    let appends_per_second = saturated as f64 / append_seconds;

    // Latency at the goal rate: the rest paced at 10,000 submissions/s.
    let paced_rate = 10_000.0;
    let paced_started = Instant::now();
    let mut paced = 0usize;
    for submission in submissions {
        let due = paced_started + Duration::from_secs_f64(paced as f64 / paced_rate);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let submitted = Instant::now();
        let reply = submit(submission);
        sent_tx.send((submitted, reply)).unwrap();
        paced += 1;
    }
    drop(sent_tx);
    let latencies = collector.join().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Release);
    writer.join().unwrap();
    let ledger = std::sync::Arc::into_inner(commits)
        .expect("the writer has stopped")
        .into_ledger();
    let checkpoints = truce_store::LogStore::checkpoints(ledger.view().store())
        .unwrap()
        .len();
    let mut saturated_latencies = latencies[..saturated].to_vec();
    let mut paced_latencies = latencies[saturated + 1..].to_vec();
    saturated_latencies.sort();
    paced_latencies.sort();
    println!(
        "truce appends at saturation: {appends_per_second:.0}/s ({saturated} in {append_seconds:.1} s); \
         submission to signed checkpoint p99 {:.0} ms (queueing included)",
        percentile(&saturated_latencies, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "truce appends paced at {paced_rate:.0}/s ({paced} entries): submission to signed checkpoint \
         p50 {:.1} ms, p99 {:.1} ms; {checkpoints} checkpoints in all",
        percentile(&paced_latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&paced_latencies, 0.99).as_secs_f64() * 1e3
    );

    // Baseline: the same leaves and payloads into a bare SQLite table in the
    // largest batches the appender makes, WAL and synchronous=FULL: the
    // storage ceiling, with no signature, rule or tree work.
    let batch_size = group::MAX_BATCH;
    let leaves: Vec<(Vec<u8>, Vec<u8>)> = {
        let mut rows = Vec::with_capacity(entries as usize);
        truce_store::LogStore::for_each_entry(ledger.view().store(), 0, entries + 2, &mut |e| {
            // The party's remarks only, not the log's own first entries.
            if let (truce_store::PayloadRecord::Present(p), true) = (e.payload, e.index >= 2) {
                rows.push((e.leaf, p));
            }
            Ok(())
        })
        .unwrap()
        .unwrap();
        rows
    };
    let raw_path = dir.join("raw.db");
    let mut raw = rusqlite::Connection::open(&raw_path).unwrap();
    raw.pragma_update(None, "journal_mode", "WAL").unwrap();
    raw.pragma_update(None, "synchronous", "FULL").unwrap();
    raw.execute_batch("CREATE TABLE leaves (i INTEGER PRIMARY KEY, leaf BLOB, payload BLOB)")
        .unwrap();
    let raw_started = Instant::now();
    for (chunk_index, chunk) in leaves.chunks(batch_size).enumerate() {
        let tx = raw.transaction().unwrap();
        {
            let mut insert = tx
                .prepare_cached("INSERT INTO leaves VALUES (?1, ?2, ?3)")
                .unwrap();
            for (offset, (leaf, payload)) in chunk.iter().enumerate() {
                insert
                    .execute(rusqlite::params![
                        (chunk_index * batch_size + offset) as i64,
                        leaf,
                        payload
                    ])
                    .unwrap();
            }
        }
        tx.commit().unwrap();
    }
    let raw_per_second = leaves.len() as f64 / raw_started.elapsed().as_secs_f64();
    println!(
        "baseline raw SQLite inserts (batches of {batch_size}): {raw_per_second:.0}/s; truce/raw = {:.2}",
        appends_per_second / raw_per_second
    );
    drop(ledger);

    // (b) full verification of the data directory, interleaved three times
    // with its baseline (Ed25519 batch verification of the same signatures
    // alone) so both see the same machine; medians are reported.
    let prepared: Vec<(Vec<u8>, ed25519_dalek::Signature)> = leaves
        .par_iter()
        .map(|(leaf, _)| {
            let envelope = truce_core::Envelope::from_leaf(leaf).unwrap();
            (
                envelope.statement().signing_input(),
                envelope.signed.signature_bytes().unwrap(),
            )
        })
        .collect();
    drop(leaves);
    let key = *ua_key.verifier().public_key();
    let mut verify_rates = Vec::new();
    let mut crypto_rates = Vec::new();
    let mut verified_entries = 0;
    for _ in 0..3 {
        let verify_started = Instant::now();
        let report = verify_data_dir(dir.join("log"), None).expect("the benchmark log verifies");
        verified_entries = report.tree_size;
        verify_rates.push(report.tree_size as f64 / verify_started.elapsed().as_secs_f64());
        let crypto_started = Instant::now();
        prepared.par_chunks(256).for_each(|chunk| {
            let messages: Vec<&[u8]> = chunk.iter().map(|(m, _)| m.as_slice()).collect();
            let signatures: Vec<_> = chunk.iter().map(|(_, s)| *s).collect();
            ed25519_dalek::verify_batch(&messages, &signatures, &vec![key; chunk.len()]).unwrap();
        });
        crypto_rates.push(prepared.len() as f64 / crypto_started.elapsed().as_secs_f64());
    }
    let median = |rates: &mut Vec<f64>| {
        rates.sort_by(f64::total_cmp);
        rates[rates.len() / 2]
    };
    let runs: Vec<String> = verify_rates.iter().map(|r| format!("{r:.0}")).collect();
    let verified_per_second = median(&mut verify_rates);
    let crypto_per_second = median(&mut crypto_rates);
    println!(
        "truce verify: median {verified_per_second:.0} entries/s over 3 runs ({}) of {verified_entries} entries",
        runs.join(", ")
    );
    println!(
        "baseline Ed25519 batch verification alone: median {crypto_per_second:.0}/s; truce verify/crypto = {:.2}",
        verified_per_second / crypto_per_second
    );
    println!(
        "goals: appends >= 10000/s ({}), verify >= 50000 entries/s ({})",
        if appends_per_second >= 10_000.0 {
            "met"
        } else {
            "NOT met"
        },
        if verified_per_second >= 50_000.0 {
            "met"
        } else {
            "NOT met"
        }
    );
}
