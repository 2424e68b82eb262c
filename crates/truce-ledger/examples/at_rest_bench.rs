//! Benchmark (not a test) of encryption at rest: the same work on a log
//! kept encrypted (the default) and on one kept in the clear, in one run,
//! alternating which goes first, three rounds; medians and the ratio
//! encrypted/plain are printed.
//!
//! Per round and mode: a fresh log takes ENTRIES signed appends through the
//! group commit the server uses (a quarter claims, which add derived rows;
//! one in twenty a remark of 2 KiB, the size of a few person records; the
//! rest short remarks), then is verified in full, then read as a page load
//! reads it: the log opened (its saved state decrypted) and 20,000 entries
//! read one by one at random (what `/api/entries/N` reads). Last, what an
//! erasure costs beside its baseline, an append of one remark in a batch of
//! its own: ERASURES erasures of recent 2 KiB remarks, then as many of early
//! ones, each one batch (the payload
//! and its salt deleted with `secure_delete`, its data key destroyed, the
//! freed pages vacuumed, the WAL truncated, the state refolded), alternating
//! with as many single appends.
//!
//!     cargo run --release -p truce-ledger --example at_rest_bench -- [ENTRIES] [DIR]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use tlog::{KeyType, SignerKey};
use truce_core::registry::RegistryEvent;
use truce_core::remarks::RemarkEvent;
use truce_core::{ActorId, ActorRole, Event, Statement, Visibility};
use truce_ledger::group::{self, ClientSignedOnly, CommitError, GroupCommit, Request};
use truce_ledger::keys::read_key_file;
use truce_ledger::{
    AtRest, INTERMEDIARY_KEY_FILE, KEYS_DIR, Ledger, LedgerOptions, LogView, Submission,
    verify_data_dir,
};

const ORIGIN: &str = "bench.truce/at-rest";
const READS: usize = 20_000;
const ERASURES: u64 = 5;

struct Party {
    id: ActorId,
    key: SignerKey,
}

/// Seconds for each measure of one round in one mode.
#[derive(Default)]
struct Round {
    append: f64,
    verify: f64,
    open: f64,
    reads: f64,
    /// Median seconds of one erasure of an early entry, of a recent one
    /// (a state saved before it is there to refold from), and of one single
    /// append.
    erase: f64,
    erase_recent: f64,
    single_append: f64,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let entries: u64 = args
        .next()
        .map_or(200_000, |n| n.parse().expect("ENTRIES is a number"));
    let dir = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "bench/out/at-rest".to_owned()),
    );
    let ua = Party {
        id: ActorId::new("ua").unwrap(),
        key: SignerKey::generate("bench.truce/ua", KeyType::Ed25519).unwrap(),
    };
    let submissions = sign(&ua, entries);
    println!(
        "encryption at rest: {entries} appends per log, 3 rounds, in {}",
        dir.display()
    );
    let mut plain = Vec::new();
    let mut encrypted = Vec::new();
    for round in 0..3 {
        let order = if round % 2 == 0 {
            [AtRest::Plain, AtRest::Encrypted]
        } else {
            [AtRest::Encrypted, AtRest::Plain]
        };
        for at_rest in order {
            let log = dir.join(format!("{at_rest:?}-{round}").to_lowercase());
            let measured = run(&log, at_rest, &ua, submissions.clone());
            match at_rest {
                AtRest::Plain => plain.push(measured),
                AtRest::Encrypted => encrypted.push(measured),
            }
            std::fs::remove_dir_all(&log).expect("remove the round's log");
        }
    }
    report("appends/s", entries as f64, &plain, &encrypted, |r| {
        r.append
    });
    report(
        "verify entries/s",
        entries as f64,
        &plain,
        &encrypted,
        |r| r.verify,
    );
    report("open (saved state)/s", 1.0, &plain, &encrypted, |r| r.open);
    report("entry reads/s", READS as f64, &plain, &encrypted, |r| {
        r.reads
    });
    report("single appends/s", 1.0, &plain, &encrypted, |r| {
        r.single_append
    });
    report("erasures (early)/s", 1.0, &plain, &encrypted, |r| r.erase);
    report("erasures (recent)/s", 1.0, &plain, &encrypted, |r| {
        r.erase_recent
    });
    for (mode, rounds) in [("plain", &plain), ("encrypted", &encrypted)] {
        let in_appends = |erase: fn(&Round) -> f64| {
            let mut ratios: Vec<f64> = rounds.iter().map(|r| erase(r) / r.single_append).collect();
            ratios.sort_by(f64::total_cmp);
            ratios[ratios.len() / 2]
        };
        println!(
            "{mode:>10}: an erasure takes {:.0} single appends (early entry), {:.0} (recent entry)",
            in_appends(|r| r.erase),
            in_appends(|r| r.erase_recent)
        );
    }
}

/// Prints the median rate of `count / seconds` in each mode and the ratio.
fn report(
    what: &str,
    count: f64,
    plain: &[Round],
    encrypted: &[Round],
    seconds: fn(&Round) -> f64,
) {
    let median = |rounds: &[Round]| {
        let mut rates: Vec<f64> = rounds.iter().map(|r| count / seconds(r)).collect();
        rates.sort_by(f64::total_cmp);
        rates[rates.len() / 2]
    };
    let (p, e) = (median(plain), median(encrypted));
    println!(
        "{what:>22}: plain {p:>10.1}  encrypted {e:>10.1}  encrypted/plain {:.2}",
        e / p
    );
}

/// Signed on the client before any clock starts: claims, long and short remarks.
fn sign(ua: &Party, entries: u64) -> Vec<Submission> {
    (0..entries)
        .into_par_iter()
        .map(|i| {
            let event = match i % 20 {
                0 | 4 | 8 | 12 | 16 => serde_json::from_value(serde_json::json!({
                    "kind": "claim_recorded", "claim_id": format!("bench-claim-{i}"),
                    "claimant": {"kind": "party", "party": "ua"}, "date": "2025-06-20",
                    "measure": "bodies handed over to Ukraine", "figure": 6057 + i % 7,
                    "term": null, "source": "bench", "note": ""}))
                .expect("a claim event"),
                1 => Event::Remark(RemarkEvent::RemarkRecorded {
                    subject: format!("identification report {i}"),
                    text: "Recovered at the agreed crossing; tag, personal effects, description. "
                        .repeat(28),
                }),
                _ => Event::Remark(RemarkEvent::RemarkRecorded {
                    subject: format!("stage report {i}"),
                    text: "Stage handed over at the agreed crossing; both receipts confirmed."
                        .to_owned(),
                }),
            };
            let (statement, payload) = Statement::for_event(
                ORIGIN,
                &ua.id,
                &ua.key,
                i + 1,
                &event,
                Visibility::Party(ua.id.clone()),
                0,
                truce_ledger::fresh_salt(),
            );
            Submission {
                signed: statement.sign(&ua.key),
                payload,
            }
        })
        .collect()
}

fn run(log: &Path, at_rest: AtRest, ua: &Party, submissions: Vec<Submission>) -> Round {
    let ledger = new_log(log, at_rest, ua);
    let first = ledger.state().tree_size();
    let submitted = submissions.len() as u64;
    let started = Instant::now();
    drop(append_all(ledger, submissions));
    let append = started.elapsed().as_secs_f64();
    let started = Instant::now();
    verify_data_dir(log, None).expect("the benchmark log verifies");
    let verify = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let view = LogView::open(log).expect("open");
    let open = started.elapsed().as_secs_f64();
    let size = view.store().tree_size().unwrap();
    let started = Instant::now();
    let mut index = 7u64;
    for _ in 0..READS {
        // A fixed walk over the whole log (an LCG), the same in both modes.
        index = (index * 6_364_136_223_846_793_005 + 1_442_695_040_888_963_407) % size;
        let entry = view.store().entry(index).unwrap().expect("an entry");
        std::hint::black_box(entry);
    }
    let reads = started.elapsed().as_secs_f64();
    drop(view);
    // Submission i is entry first + i; i % 20 == 1 is a 2 KiB remark.
    let early: Vec<u64> = (1..=ERASURES).map(|n| first + 1 + 20 * n).collect();
    let recent: Vec<u64> = (1..=ERASURES)
        .map(|n| first + (submitted - 20 * n + 1))
        .collect();
    // Recent ones first: an erasure drops the states saved after the entry
    // it erases, so after the early ones no state before a recent one is left.
    let (erase_recent, _) = erase_beside_appends(log, ua, &recent);
    let (erase, single_append) = erase_beside_appends(log, ua, &early);
    Round {
        append,
        verify,
        open,
        reads,
        erase,
        erase_recent,
        single_append,
    }
}

/// Median seconds of an erasure of each of `entries` and of a single
/// append of a short remark, alternating, each its own batch.
fn erase_beside_appends(log: &Path, ua: &Party, entries: &[u64]) -> (f64, f64) {
    let mut ledger = Ledger::open(log, LedgerOptions::default()).expect("open for appends");
    let intermediary = ActorId::new("intermediary").unwrap();
    let me = read_key_file(&log.join(KEYS_DIR).join(INTERMEDIARY_KEY_FILE)).unwrap();
    let (mut erasures, mut appends) = (Vec::new(), Vec::new());
    for (n, entry_index) in entries.iter().enumerate() {
        let erasure = Event::Registry(RegistryEvent::PayloadErased {
            entry_index: *entry_index,
            legal_basis: "benchmark".to_owned(),
        });
        let started = Instant::now();
        ledger
            .record(&intermediary, &me, erasure, Visibility::Public)
            .expect("erased");
        erasures.push(started.elapsed().as_secs_f64());
        let remark = Event::Remark(RemarkEvent::RemarkRecorded {
            subject: format!("after erasure {n}"),
            text: "one more".to_owned(),
        });
        let started = Instant::now();
        ledger
            .record(&ua.id, &ua.key, remark, Visibility::Party(ua.id.clone()))
            .expect("appended");
        appends.push(started.elapsed().as_secs_f64());
    }
    let median = |mut times: Vec<f64>| {
        times.sort_by(f64::total_cmp);
        times[times.len() / 2]
    };
    (median(erasures), median(appends))
}

/// A log with ua registered under the key every submission is signed with.
fn new_log(log: &Path, at_rest: AtRest, ua: &Party) -> Ledger {
    let intermediary = ActorId::new("intermediary").unwrap();
    let options = LedgerOptions {
        at_rest,
        ..LedgerOptions::default()
    };
    let mut ledger = Ledger::init(log, ORIGIN, &intermediary, "I", options).expect("init");
    let me = read_key_file(&log.join(KEYS_DIR).join(INTERMEDIARY_KEY_FILE)).unwrap();
    let register = Event::Registry(RegistryEvent::ActorRegistered {
        actor: ua.id.clone(),
        role: ActorRole::Party,
        name: "Party".to_owned(),
        vkey: ua.key.verifier().to_string(),
    });
    let submission = ledger.submission(&intermediary, &me, &register, Visibility::Public);
    ledger.append_one(submission).unwrap();
    ledger
}

/// Every submission through the group commit at saturation, one thread
/// committing what has queued; returns when the last is durable.
fn append_all(ledger: Ledger, submissions: Vec<Submission>) -> Ledger {
    let commits = GroupCommit::new(ledger, ClientSignedOnly, group::DEFAULT_CAPACITY);
    let answered = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !answered.load(Ordering::Acquire) {
                commits.commit_waiting(Duration::from_millis(10));
            }
        });
        let replies: Vec<_> = submissions
            .into_iter()
            .map(|submission| {
                loop {
                    match commits.queue(Request::Signed(submission.clone())) {
                        Ok(reply) => break reply,
                        Err(CommitError::Busy) => std::thread::sleep(Duration::from_micros(200)),
                        Err(other) => panic!("queue: {other}"),
                    }
                }
            })
            .collect();
        for reply in replies {
            reply.recv().expect("a reply").expect("appended");
        }
        answered.store(true, Ordering::Release);
    });
    commits.into_ledger()
}
