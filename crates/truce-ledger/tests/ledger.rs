//! The ledger end to end on a real SQLite store: a log with every kind of
//! registry event, reader copies, proofs, tiles, group commit, and the
//! tamper tests that loop over every table of the store.

use std::path::{Path, PathBuf};
use truce_core::{
    exchange::ExchangeEvent, negotiation::NegotiationEvent, registry::RegistryEvent,
    remarks::RemarkEvent,
};

use std::time::Duration;
use tlog::merkle::{self, Hash};
use tlog::{KeyType, SignerKey, tile};
use truce_core::Envelope;
use truce_core::{ActorId, ActorRole, Event, Visibility};
use truce_ledger::copy::export_reader_copy;
use truce_ledger::group::{self, ClientSignedOnly, CommitError, GroupCommit, Keys, Request};
use truce_ledger::keys::{read_key_file, write_key_file};
use truce_ledger::records::{KeyRing, RecordSet, import};
use truce_ledger::scenario::SCENARIOS;
use truce_ledger::witness::cosign_latest;
use truce_ledger::{
    INTERMEDIARY_KEY_FILE, KEYS_DIR, Ledger, LedgerOptions, LogView, export_tiles, verify_data_dir,
};
use truce_store::PayloadRecord;

fn id(text: &str) -> ActorId {
    ActorId::new(text).unwrap()
}

struct Fixture {
    _temp: tempfile::TempDir,
    dir: PathBuf,
    ua_key: SignerKey,
}

fn key(name: &str, key_type: KeyType) -> SignerKey {
    SignerKey::generate(name, key_type).unwrap()
}

fn record(
    ledger: &mut Ledger,
    actor: &str,
    key: &SignerKey,
    event: Event,
    visibility: Visibility,
) -> u64 {
    let submission = ledger.submission(&id(actor), key, &event, visibility);
    ledger
        .append_one(submission)
        .unwrap_or_else(|e| panic!("{} refused: {e}", event.kind()))
}

fn register(ledger: &mut Ledger, me: &SignerKey, actor: &str, role: ActorRole, key: &SignerKey) {
    let event = Event::Registry(RegistryEvent::ActorRegistered {
        actor: id(actor),
        role,
        name: format!("{actor} (test)"),
        vkey: key.verifier().to_string(),
    });
    record(ledger, "intermediary", me, event, Visibility::Public);
}

fn remark(subject: &str) -> Event {
    Event::Remark(RemarkEvent::RemarkRecorded {
        subject: subject.to_owned(),
        text: format!("{subject}: text"),
    })
}

/// A log with two parties, an observer and two witnesses; remarks of every
/// visibility; a rotated and a revoked key; two erasures; four cosignatures.
fn fixture() -> Fixture {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    let mut ledger = Ledger::init(
        &dir,
        "truce.test/log",
        &id("intermediary"),
        "Intermediary",
        LedgerOptions::default(),
    )
    .unwrap();
    let me = read_key_file(&dir.join(KEYS_DIR).join(INTERMEDIARY_KEY_FILE)).unwrap();
    let ua_old = key("truce.test/ua", KeyType::Ed25519);
    let ru_old = key("truce.test/ru", KeyType::Ed25519);
    let observer = key("truce.test/osce", KeyType::Ed25519);
    let w1 = key("witness.test/w1", KeyType::Cosignature);
    let w2 = key("witness.test/w2", KeyType::Cosignature);
    register(&mut ledger, &me, "ua", ActorRole::Party, &ua_old);
    register(&mut ledger, &me, "ru", ActorRole::Party, &ru_old);
    register(&mut ledger, &me, "osce", ActorRole::Observer, &observer);
    register(&mut ledger, &me, "w1", ActorRole::Witness, &w1);
    register(&mut ledger, &me, "w2", ActorRole::Witness, &w2);
    record(
        &mut ledger,
        "ua",
        &ua_old,
        remark("ua own"),
        Visibility::Party(id("ua")),
    );
    // ua rotates its own key.
    let ua_key = key("truce.test/ua-2", KeyType::Ed25519);
    let rotation = Event::Registry(RegistryEvent::KeyRotated {
        actor: id("ua"),
        new_vkey: ua_key.verifier().to_string(),
    });
    record(&mut ledger, "ua", &ua_old, rotation, Visibility::Public);
    record(
        &mut ledger,
        "ua",
        &ua_key,
        remark("ua shared"),
        Visibility::Actors([id("ua"), id("osce")].into()),
    );
    record(
        &mut ledger,
        "ru",
        &ru_old,
        remark("ru own"),
        Visibility::Party(id("ru")),
    );
    // ru's key is revoked and the intermediary rotates a new one in.
    let revocation = Event::Registry(RegistryEvent::KeyRevoked {
        actor: id("ru"),
        key_id: format!("{:08x}", ru_old.key_id()),
        reason: "compromised".to_owned(),
    });
    record(
        &mut ledger,
        "intermediary",
        &me,
        revocation,
        Visibility::Public,
    );
    let ru_key = key("truce.test/ru-2", KeyType::Ed25519);
    let rotation = Event::Registry(RegistryEvent::KeyRotated {
        actor: id("ru"),
        new_vkey: ru_key.verifier().to_string(),
    });
    record(
        &mut ledger,
        "intermediary",
        &me,
        rotation,
        Visibility::Public,
    );
    // The negotiation record of the demo scenario, signed by whoever would
    // sign each record (the parties their memoranda, positions and claims).
    let keys: KeyRing = [
        (id("intermediary"), me.clone()),
        (id("ua"), ua_key.clone()),
        (id("ru"), ru_key.clone()),
    ]
    .into();
    for (file, text) in SCENARIOS[0].chapters {
        import(&mut ledger, &RecordSet::parse(file, text).unwrap(), &keys).unwrap();
    }
    record_exchange(&mut ledger, &me, &ua_key, &ru_key);
    let private = record(
        &mut ledger,
        "intermediary",
        &me,
        remark("minutes"),
        Visibility::Intermediary,
    );
    let public = record(
        &mut ledger,
        "ru",
        &ru_key,
        remark("ru public"),
        Visibility::Public,
    );
    for witness in [("w1", &w1), ("w2", &w2)] {
        let event = cosign_latest(ledger.view(), &id(witness.0), witness.1, 1_790_000_000).unwrap();
        record(&mut ledger, "intermediary", &me, event, Visibility::Public);
    }
    for entry_index in [private, public] {
        let erasure = Event::Registry(RegistryEvent::PayloadErased {
            entry_index,
            legal_basis: "court order 1/2026".to_owned(),
        });
        record(
            &mut ledger,
            "intermediary",
            &me,
            erasure,
            Visibility::Public,
        );
    }
    record(
        &mut ledger,
        "intermediary",
        &me,
        remark("after erasure"),
        Visibility::Public,
    );
    for witness in [("w1", &w1), ("w2", &w2)] {
        let event = cosign_latest(ledger.view(), &id(witness.0), witness.1, 1_790_000_100).unwrap();
        record(&mut ledger, "intermediary", &me, event, Visibility::Public);
    }
    Fixture {
        _temp: temp,
        dir,
        ua_key,
    }
}

fn person(party: &str, id_: &str, born: &str, assessment: Option<&str>) -> serde_json::Value {
    let assessments: Vec<serde_json::Value> = assessment
        .map(|a| serde_json::json!({"assessment": a, "date": "2025-05-20", "commission": "mixed commission"}))
        .into_iter()
        .collect();
    serde_json::json!({
        "person_id": id_, "family_name": format!("Surname-{party}-{id_}"), "given_names": "Test", "patronymic": null,
        "rank": null, "service_number": null, "date_of_birth": born, "place_of_birth": null, "unit": null,
        "captured_on": null, "captured_at": null, "depends_on": null, "notify": null, "status": "military",
        "assessments": assessments, "remains": null,
    })
}

/// Fictional lists for the Istanbul prisoners' term, two stages, their
/// sign-off, a handover, receipts and two discrepancies.
fn record_exchange(ledger: &mut Ledger, me: &SignerKey, ua: &SignerKey, ru: &SignerKey) {
    let term =
        serde_json::json!({"document_id": "joint-exchange-2025-06-02", "term_id": "prisoners"});
    let list = |party: &str, version: u32, persons: Vec<serde_json::Value>| {
        Event::Exchange(ExchangeEvent::ListSubmitted(
            serde_json::from_value(serde_json::json!({
                "list_id": format!("{party}-held"), "party": party, "list_kind": "held", "term": term,
                "version": version, "persons": persons,
            }))
            .unwrap(),
        ))
    };
    let ua_people = || {
        vec![
            person("ua", "p1", "1980-01-01", Some("severely_wounded")),
            person("ua", "p2", "2002-02-02", None),
        ]
    };
    record(
        ledger,
        "ua",
        ua,
        list("ua", 1, ua_people()),
        Visibility::Party(id("ua")),
    );
    let mut more = ua_people();
    more.push(person("ua", "p3", "1975-05-05", Some("seriously_ill")));
    record(
        ledger,
        "ua",
        ua,
        list("ua", 2, more),
        Visibility::Party(id("ua")),
    );
    let ru_people = vec![
        person("ru", "p1", "1990-01-01", Some("seriously_ill")),
        person("ru", "p2", "2001-01-01", None),
        person("ru", "p3", "2003-03-03", None),
    ];
    record(
        ledger,
        "ru",
        ru,
        list("ru", 1, ru_people),
        Visibility::Party(id("ru")),
    );
    let both = || Visibility::Actors([id("ua"), id("ru")].into());
    // ua asks back two people; the intermediary confirms one candidate link
    // and rejects another.
    let sought = Event::Exchange(ExchangeEvent::ListSubmitted(
        serde_json::from_value(serde_json::json!({
            "list_id": "ua-sought", "party": "ua", "list_kind": "sought", "term": term, "version": 1,
            "persons": [person("ua", "s1", "1990-01-01", None), person("ua", "s2", "1991-01-01", None)],
        }))
        .unwrap(),
    ));
    record(ledger, "ua", ua, sought, Visibility::Party(id("ua")));
    for (sought_id, verdict) in [("s1", "confirmed"), ("s2", "rejected")] {
        let decision = serde_json::from_value(serde_json::json!({
            "sought": {"list_id": "ua-sought", "person_id": sought_id},
            "held": {"list_id": "ru-held", "person_id": "p1"},
            "score_permille": 930, "explanation": "family_name exact; given_name dictionary; date_of_birth exact",
            "verdict": verdict,
        }))
        .unwrap();
        record(
            ledger,
            "intermediary",
            me,
            Event::Exchange(ExchangeEvent::MatchDecided(decision)),
            both(),
        );
    }
    let stage = |stage_id: &str, ua_people: &[&str], ru_people: &[&str]| {
        let refs = |party: &str, ids: &[&str]| -> Vec<serde_json::Value> {
            ids.iter()
                .map(|p| serde_json::json!({"list_id": format!("{party}-held"), "person_id": p}))
                .collect()
        };
        Event::Exchange(ExchangeEvent::StageProposed(
            serde_json::from_value(serde_json::json!({
                "stage_id": stage_id, "term": term, "date": "2025-06-09", "place": "Belarus-Ukraine border",
                "batches": [{"from": "ua", "persons": refs("ua", ua_people)}, {"from": "ru", "persons": refs("ru", ru_people)}],
                "parity_waiver": null,
            }))
            .unwrap(),
        ))
    };
    record(
        ledger,
        "intermediary",
        me,
        stage("s1", &["p1", "p3"], &["p1", "p2"]),
        both(),
    );
    record(
        ledger,
        "intermediary",
        me,
        stage("s2", &["p2"], &["p3"]),
        both(),
    );
    for (party, key) in [("ua", ua), ("ru", ru)] {
        let accept = Event::Exchange(ExchangeEvent::StageAccepted {
            stage_id: "s1".into(),
            party: id(party),
        });
        record(ledger, party, key, accept, both());
    }
    let outcomes: Vec<serde_json::Value> = [("ua", "p1"), ("ua", "p3"), ("ru", "p1"), ("ru", "p2")]
        .iter()
        .map(|(party, p)| serde_json::json!({"person": {"list_id": format!("{party}-held"), "person_id": p}, "outcome": {"kind": "handed_over"}}))
        .collect();
    let handover: truce_core::exchange::Handover =
        serde_json::from_value(serde_json::json!({"stage_id": "s1", "outcomes": outcomes}))
            .unwrap();
    record(
        ledger,
        "intermediary",
        me,
        Event::Exchange(ExchangeEvent::HandoverRecorded(handover.clone())),
        both(),
    );
    // The public count of the stage, for every reader.
    let state = ledger.state();
    let stage_record = state.exchange().stage("s1").unwrap();
    let tally = state
        .exchange()
        .tally(state.negotiation(), stage_record, &handover.outcomes)
        .unwrap();
    assert_eq!(tally.counts.len(), 4);
    record(
        ledger,
        "intermediary",
        me,
        Event::Exchange(ExchangeEvent::StageTallied(tally)),
        Visibility::Public,
    );
    for (party, key) in [("ua", ua), ("ru", ru)] {
        let receipt = serde_json::from_value(
            serde_json::json!({"stage_id": "s1", "party": party, "received": 2, "note": ""}),
        )
        .unwrap();
        record(
            ledger,
            party,
            key,
            Event::Exchange(ExchangeEvent::ReceiptConfirmed(receipt)),
            both(),
        );
    }
    for (discrepancy_id, reporter, key) in [("d1", "ru", ru), ("d2", "intermediary", me)] {
        let discrepancy = serde_json::from_value(serde_json::json!({
            "discrepancy_id": discrepancy_id, "stage_id": "s1", "reported_by": reporter,
            "discrepancy_kind": "count_differs", "count": 1, "reason": "receipt counted at the crossing differs",
        }))
        .unwrap();
        record(
            ledger,
            reporter,
            key,
            Event::Exchange(ExchangeEvent::DiscrepancyRecorded(discrepancy)),
            Visibility::Public,
        );
    }
}

#[test]
fn a_complete_log_verifies_and_reports_what_it_holds() {
    let f = fixture();
    let report = verify_data_dir(&f.dir, None).unwrap();
    assert_eq!(report.tree_size, 65);
    assert_eq!(report.payloads_erased, 2);
    assert_eq!(report.payloads_withheld, 0);
    assert_eq!(report.cosignatures, 4);
    assert_eq!(report.actors_by_role.get("party"), Some(&2));
    assert_eq!(report.actors_by_role.get("witness"), Some(&2));
    assert_eq!(report.latest_checkpoint_size, 65);
    // Pinning the right key passes; pinning another fails.
    let view = LogView::open(&f.dir).unwrap();
    verify_data_dir(&f.dir, Some(&view.log_vkey().unwrap())).unwrap();
    let stranger = key("truce.test/log", KeyType::Ed25519).verifier();
    assert!(verify_data_dir(&f.dir, Some(&stranger)).is_err());
}

#[test]
fn reader_copies_withhold_what_the_reader_may_not_see_and_still_verify() {
    let f = fixture();
    let view = LogView::open(&f.dir).unwrap();
    for (reader, withheld) in [("ua", 2), ("ru", 5), ("osce", 15)] {
        let out = f.dir.parent().unwrap().join(format!("copy-{reader}"));
        let copy = export_reader_copy(view.store(), &id(reader), &out).unwrap();
        assert_eq!(copy.withheld, withheld, "{reader}");
        let report = verify_data_dir(&out, None).unwrap_or_else(|e| panic!("{reader}: {e}"));
        assert_eq!(report.payloads_withheld, withheld, "{reader}");
        assert_eq!(report.tree_size, 65);
        // The copy holds no signing keys: only the reader's store key.
        let keys: Vec<_> = std::fs::read_dir(out.join(KEYS_DIR))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(keys, [truce_store::seal::STORE_KEY_FILE], "{reader}");
    }
}

#[test]
fn the_log_refuses_what_its_rules_forbid() {
    let f = fixture();
    let mut ledger = Ledger::open(&f.dir, LedgerOptions::default()).unwrap();
    let before = ledger.state().tree_size();
    // A party may not register actors.
    let newcomer = key("truce.test/x", KeyType::Ed25519);
    let event = Event::Registry(RegistryEvent::ActorRegistered {
        actor: id("x"),
        role: ActorRole::Party,
        name: "X".into(),
        vkey: newcomer.verifier().to_string(),
    });
    let refused = ledger.submission(&id("ua"), &f.ua_key, &event, Visibility::Public);
    assert!(ledger.append_one(refused).is_err());
    // A signature by another key than the one named is refused.
    let mut forged = ledger.submission(&id("ua"), &f.ua_key, &remark("forged"), Visibility::Public);
    forged.signed.signature = ledger
        .submission(&id("ua"), &newcomer, &remark("forged"), Visibility::Public)
        .signed
        .signature;
    assert!(ledger.append_one(forged).is_err());
    // A replayed statement records nothing: it answers with its entry.
    let first = ledger.submission(&id("ua"), &f.ua_key, &remark("once"), Visibility::Public);
    let index = ledger.append_one(first.clone()).unwrap();
    assert_eq!(ledger.append_one(first).unwrap(), index);
    // A payload that does not match its hash is refused.
    let mut swapped = ledger.submission(&id("ua"), &f.ua_key, &remark("a"), Visibility::Public);
    swapped.payload = remark("b").to_payload();
    assert!(ledger.append_one(swapped).is_err());
    assert_eq!(ledger.state().tree_size(), before + 1);
    verify_data_dir(&f.dir, None).unwrap();
}

#[test]
fn a_batch_keeps_the_good_submissions_and_refuses_the_bad_ones() {
    let f = fixture();
    let mut ledger = Ledger::open(&f.dir, LedgerOptions::default()).unwrap();
    let good = ledger.submission(&id("ua"), &f.ua_key, &remark("good"), Visibility::Public);
    let mut bad = good.clone();
    bad.signed.statement.seq += 7;
    let results = ledger.append(vec![good, bad]).unwrap();
    assert!(results[0].is_ok());
    assert_eq!(results[1].as_ref().unwrap_err().code(), "signature-invalid");
    verify_data_dir(&f.dir, None).unwrap();
}

fn signed_remarks(ledger: &Ledger, key: &SignerKey, count: u64) -> Vec<truce_ledger::Submission> {
    let origin = ledger.view().meta().origin.clone();
    let first_seq = ledger.state().next_seq(&id("ua"));
    (0..count)
        .map(|i| {
            let (statement, payload) = truce_core::Statement::for_event(
                &origin,
                &id("ua"),
                key,
                first_seq + i,
                &remark(&format!("bulk {i}")),
                Visibility::Public,
                0,
                truce_ledger::fresh_salt(),
            );
            truce_ledger::Submission {
                signed: statement.sign(key),
                payload,
            }
        })
        .collect()
}

#[test]
fn concurrent_submitters_are_group_committed_and_verify() {
    let f = fixture();
    let ledger = Ledger::open(&f.dir, LedgerOptions::default()).unwrap();
    let statements = signed_remarks(&ledger, &f.ua_key, 500);
    let commits = GroupCommit::new(ledger, ClientSignedOnly, group::DEFAULT_CAPACITY);
    // The submissions queue while a committing thread takes them in batches.
    let replies: Vec<_> = statements
        .into_iter()
        .map(|s| commits.queue(Request::Signed(s)).unwrap())
        .collect();
    std::thread::scope(|scope| {
        scope.spawn(|| while commits.commit_waiting(Duration::from_millis(50)) {});
    });
    let indices: Vec<u64> = replies
        .into_iter()
        .map(|r| r.recv().unwrap().unwrap())
        .collect();
    assert!(indices.windows(2).all(|w| w[1] == w[0] + 1));
    let ledger = commits.into_ledger();
    assert_eq!(ledger.state().tree_size(), 565);
    verify_data_dir(&f.dir, None).unwrap();
}

/// Holds the parties' keys, as a server does for actors that let it.
struct HeldKeys(Vec<(ActorId, SignerKey)>);

impl Keys for HeldKeys {
    fn key_for(&self, _: &Ledger, actor: &ActorId) -> Result<SignerKey, String> {
        let found = self.0.iter().find(|(a, _)| a == actor);
        found
            .map(|(_, key)| key.clone())
            .ok_or_else(|| format!("no key for {actor}"))
    }
}

fn server_signed(subject: &str, key: Option<&str>) -> Request {
    Request::ServerSigned {
        actor: id("ua"),
        event: remark(subject),
        visibility: Visibility::Public,
        idempotency_key: key.map(str::to_owned),
    }
}

#[test]
fn a_bad_request_is_refused_alone_and_takes_no_sequence_number() {
    let f = fixture();
    let ledger = Ledger::open(&f.dir, LedgerOptions::default()).unwrap();
    let first_seq = ledger.state().next_seq(&id("ua"));
    let size = ledger.state().tree_size();
    let commits = GroupCommit::new(
        ledger,
        HeldKeys(vec![(id("ua"), f.ua_key.clone())]),
        group::DEFAULT_CAPACITY,
    );
    // 40 server-signed events in one batch; every fourth is invalid (an
    // empty subject), and one names an actor whose key is not held.
    let mut replies = Vec::new();
    for i in 0..40 {
        let subject = if i % 4 == 1 {
            " ".to_owned()
        } else {
            format!("ok {i}")
        };
        replies.push(commits.queue(server_signed(&subject, None)).unwrap());
    }
    let foreign = Request::ServerSigned {
        actor: id("ru"),
        event: remark("ru's"),
        visibility: Visibility::Public,
        idempotency_key: None,
    };
    let foreign = commits.queue(foreign).unwrap();
    assert!(commits.commit_waiting(Duration::ZERO));
    let answers: Vec<_> = replies.into_iter().map(|r| r.recv().unwrap()).collect();
    assert!(matches!(
        foreign.recv().unwrap(),
        Err(CommitError::NoKey(_))
    ));
    for (i, answer) in answers.iter().enumerate() {
        match answer {
            Ok(_) => assert!(i % 4 != 1, "request {i} is invalid but was recorded"),
            Err(CommitError::Refused(why)) => {
                assert!(i % 4 == 1, "request {i} was refused: {why}");
                assert_eq!(why.code(), "remark-size", "{why}");
            }
            Err(other) => panic!("request {i}: {other}"),
        }
    }
    let recorded: Vec<u64> = answers.iter().filter_map(|a| a.clone().ok()).collect();
    assert_eq!(recorded.len(), 30);
    assert_eq!(recorded, (size..size + 30).collect::<Vec<_>>());
    let ledger = commits.into_ledger();
    assert_eq!(ledger.state().next_seq(&id("ua")), first_seq + 30);
    verify_data_dir(&f.dir, None).unwrap();
}

#[test]
fn a_retried_submission_returns_its_first_entry_and_never_records_twice() {
    let f = fixture();
    let mut ledger = Ledger::open(&f.dir, LedgerOptions::default()).unwrap();
    let statements = signed_remarks(&ledger, &f.ua_key, 2);
    // Within one batch, and in a later batch.
    let first = ledger
        .append(vec![statements[0].clone(), statements[0].clone()])
        .unwrap();
    assert_eq!(first[0], first[1]);
    let again = ledger.append(statements.clone()).unwrap();
    assert_eq!(again[0], first[0]);
    let second = again[1].clone().unwrap();
    assert_eq!(second, first[0].clone().unwrap() + 1);
    // Another statement, properly signed, under a used sequence number is
    // no retry: it is refused for its number.
    let (statement, payload) = truce_core::Statement::for_event(
        &ledger.view().meta().origin,
        &id("ua"),
        &f.ua_key,
        statements[0].signed.statement.seq,
        &remark("something else"),
        Visibility::Public,
        0,
        truce_ledger::fresh_salt(),
    );
    let other = truce_ledger::Submission {
        signed: statement.sign(&f.ua_key),
        payload,
    };
    let refused = ledger.append(vec![other]).unwrap().remove(0).unwrap_err();
    assert_eq!(refused.code(), "sequence-not-next", "{refused}");
    let next = statements[1].signed.statement.seq + 1;
    assert_eq!(
        refused.params(),
        [
            ("seq", statements[0].signed.statement.seq.to_string()),
            ("actor", "ua".to_owned()),
            ("next", next.to_string())
        ]
    );
    let size = ledger.state().tree_size();
    // Server-signed: by the client's idempotency key, across batches.
    let me = read_key_file(&f.dir.join(KEYS_DIR).join(INTERMEDIARY_KEY_FILE)).unwrap();
    let commits = GroupCommit::new(
        ledger,
        HeldKeys(vec![(id("ua"), f.ua_key.clone()), (id("intermediary"), me)]),
        group::DEFAULT_CAPACITY,
    );
    let a = commits.queue(server_signed("once", Some("k-1"))).unwrap();
    let b = commits.queue(server_signed("once", Some("k-1"))).unwrap();
    commits.commit_waiting(Duration::ZERO);
    let c = commits.submit(server_signed("once", Some("k-1"))).unwrap();
    let d = commits.submit(server_signed("other", Some("k-2"))).unwrap();
    let a = a.recv().unwrap().unwrap();
    assert_eq!((a, b.recv().unwrap().unwrap(), c), (size, size, size));
    assert_eq!(d, size + 1);
    // A key is the actor's own: another actor's same key is another event.
    let theirs = Request::ServerSigned {
        actor: id("intermediary"),
        event: remark("once"),
        visibility: Visibility::Public,
        idempotency_key: Some("k-1".to_owned()),
    };
    assert_eq!(commits.submit(theirs).unwrap(), size + 2);
    let ledger = commits.into_ledger();
    assert_eq!(ledger.state().tree_size(), size + 3);
    // The key survives a restart.
    drop(ledger);
    let reopened = Ledger::open(&f.dir, LedgerOptions::default()).unwrap();
    let commits = GroupCommit::new(
        reopened,
        HeldKeys(vec![(id("ua"), f.ua_key.clone())]),
        group::DEFAULT_CAPACITY,
    );
    assert_eq!(
        commits.submit(server_signed("once", Some("k-1"))).unwrap(),
        size
    );
    verify_data_dir(&f.dir, None).unwrap();
}

#[test]
fn a_full_queue_refuses_at_once() {
    let f = fixture();
    let ledger = Ledger::open(&f.dir, LedgerOptions::default()).unwrap();
    let statements = signed_remarks(&ledger, &f.ua_key, 4);
    let commits = GroupCommit::new(ledger, ClientSignedOnly, 3);
    let mut statements = statements.into_iter();
    let queued: Vec<_> = statements
        .by_ref()
        .take(3)
        .map(|s| commits.queue(Request::Signed(s)).unwrap())
        .collect();
    let refused = commits.queue(Request::Signed(statements.next().unwrap()));
    assert_eq!(refused.err(), Some(CommitError::Busy));
    assert!(commits.commit_waiting(Duration::ZERO));
    for reply in queued {
        reply.recv().unwrap().unwrap();
    }
}

#[test]
fn proofs_from_the_view_verify_against_its_checkpoints() {
    let f = fixture();
    let view = LogView::open(&f.dir).unwrap();
    let (latest, note) = view.checkpoint(None).unwrap();
    // The latest checkpoint note carries the log's signature.
    note.verify(&[view.log_vkey().unwrap()]).unwrap();
    let (older, older_note) = view.checkpoint(Some(8)).unwrap();
    assert!(older_note.signatures.len() == 1);
    for index in 0..latest.tree_size {
        let entry = view.store().entry(index).unwrap().unwrap();
        let proof = merkle::inclusion_proof(view.tree().unwrap(), index, latest.tree_size).unwrap();
        merkle::verify_inclusion(
            index,
            latest.tree_size,
            &entry.leaf_hash,
            &proof,
            &latest.root_hash,
        )
        .unwrap();
    }
    let proof =
        merkle::consistency_proof(view.tree().unwrap(), older.tree_size, latest.tree_size).unwrap();
    merkle::verify_consistency(
        older.tree_size,
        latest.tree_size,
        &proof,
        &older.root_hash,
        &latest.root_hash,
    )
    .unwrap();
    // Each cosigned checkpoint carries its cosignature after the log's.
    for (size, _) in view.state().cosignatures().keys() {
        let (_, cosigned) = view.checkpoint(Some(*size)).unwrap();
        assert_eq!(cosigned.signatures.len(), 2, "checkpoint {size}");
        let witnesses: Vec<_> = view.state().witness_keys();
        assert_eq!(cosigned.verify(&witnesses).unwrap().len(), 1);
        // Read straight from the store, without a fold, it is the same note.
        let (_, stored) = truce_ledger::ledger::stored_checkpoint(&f.dir, Some(*size)).unwrap();
        assert_eq!(stored.to_bytes(), cosigned.to_bytes());
    }
}

/// Reads a tiles export back as a client would and recomputes the root.
#[test]
fn exported_tiles_rebuild_the_checkpointed_tree() {
    let f = fixture();
    let view = LogView::open(&f.dir).unwrap();
    let out = f.dir.parent().unwrap().join("tiles");
    let exported = export_tiles(&view, &out).unwrap();
    let note = tlog::Note::parse(&std::fs::read(out.join("checkpoint")).unwrap()).unwrap();
    note.verify(&[view.log_vkey().unwrap()]).unwrap();
    let checkpoint = tlog::Checkpoint::parse(&note.text).unwrap();
    assert_eq!(checkpoint.tree_size, exported.tree_size);
    let size = checkpoint.tree_size;
    let width = size % tile::TILE_WIDTH;
    let hashes = std::fs::read(out.join(tile::tile_path(Some(0), 0, width))).unwrap();
    let bundle = std::fs::read(out.join(tile::tile_path(None, 0, width))).unwrap();
    let mut leaves: Vec<Hash> = Vec::new();
    let mut rest = bundle.as_slice();
    while !rest.is_empty() {
        let length = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        leaves.push(merkle::leaf_hash(&rest[2..2 + length]));
        rest = &rest[2 + length..];
    }
    let tile_hashes: Vec<Hash> = hashes.chunks(32).map(|c| c.try_into().unwrap()).collect();
    assert_eq!(leaves, tile_hashes);
    assert_eq!(merkle::root(&leaves, size), checkpoint.root_hash);
}

#[test]
fn key_files_are_private_and_others_readable_ones_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("k.key");
    let signer = key("truce.test/k", KeyType::Ed25519);
    write_key_file(&path, &signer).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(read_key_file(&path).unwrap().verifier(), signer.verifier());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let refused = read_key_file(&path).unwrap_err().to_string();
    assert!(refused.contains("readable by others"));
    assert!(
        !refused.contains(&signer.to_private_text()[12..]),
        "the secret leaked into an error"
    );
}

/// Every file under `dir` is 0600 and every directory 0700.
fn assert_owner_only(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(dir), 0o700, "{}", dir.display());
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            assert_owner_only(&path);
        } else {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
}

#[test]
fn store_files_and_reader_copies_are_their_owners_alone() {
    use std::os::unix::fs::PermissionsExt;
    let f = fixture();
    let view = LogView::open(&f.dir).unwrap();
    assert!(f.dir.join("truce.db-wal").exists());
    assert_owner_only(&f.dir);
    let out = f.dir.parent().unwrap().join("copy-ua");
    export_reader_copy(view.store(), &id("ua"), &out).unwrap();
    drop(LogView::open(&out).unwrap());
    assert_owner_only(&out);
    drop(view);
    // A store an older version left readable by others is narrowed.
    let db = f.dir.join("truce.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    drop(LogView::open(&f.dir).unwrap());
    assert_eq!(
        std::fs::metadata(&db).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn init_refuses_a_directory_in_use_and_leaves_nothing_on_failure() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("data");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("something"), b"x").unwrap();
    assert!(
        Ledger::init(
            &dir,
            "truce.test/log",
            &id("intermediary"),
            "I",
            LedgerOptions::default()
        )
        .is_err()
    );
    let bad_origin = temp.path().join("other");
    assert!(
        Ledger::init(
            &bad_origin,
            "has space",
            &id("intermediary"),
            "I",
            LedgerOptions::default()
        )
        .is_err()
    );
    assert!(!bad_origin.exists());
}

// --- Tamper tests -----------------------------------------------------------

fn copy_store(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    // Fold the WAL into the main file so one file is the whole store.
    let conn = rusqlite::Connection::open(from.join("truce.db")).unwrap();
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    drop(conn);
    std::fs::copy(from.join("truce.db"), to.join("truce.db")).unwrap();
    // And the key that opens it.
    std::fs::create_dir_all(to.join(KEYS_DIR)).unwrap();
    let key = Path::new(KEYS_DIR).join(truce_store::seal::STORE_KEY_FILE);
    std::fs::copy(from.join(&key), to.join(&key)).unwrap();
}

fn tables(conn: &rusqlite::Connection) -> Vec<String> {
    let mut statement = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap();
    statement
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// (column name, is part of the primary key) for each column.
fn columns(conn: &rusqlite::Connection, table: &str) -> Vec<(String, bool)> {
    let mut statement = conn
        .prepare(&format!("PRAGMA table_info({table})"))
        .unwrap();
    statement
        .query_map([], |r| {
            Ok((r.get::<_, String>(1)?, r.get::<_, i64>(5)? > 0))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn rowids(conn: &rusqlite::Connection, table: &str) -> Vec<i64> {
    let mut statement = conn
        .prepare(&format!("SELECT rowid FROM {table} ORDER BY rowid"))
        .unwrap();
    statement
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn changed(value: rusqlite::types::Value) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    match value {
        Value::Null => Value::Integer(1),
        Value::Integer(i) => Value::Integer(i + 1),
        Value::Real(r) => Value::Real(r + 1.0),
        Value::Text(t) if t.is_empty() => Value::Text("x".into()),
        // Change a character in the middle, where a suffix check would not look.
        Value::Text(t) => {
            let mut chars: Vec<char> = t.chars().collect();
            let middle = chars.len() / 2;
            chars[middle] = if chars[middle] == 'A' { 'B' } else { 'A' };
            Value::Text(chars.into_iter().collect())
        }
        Value::Blob(mut b) if !b.is_empty() => {
            let middle = b.len() / 2;
            b[middle] ^= 0x01;
            Value::Blob(b)
        }
        Value::Blob(_) => Value::Blob(vec![0]),
    }
}

enum Tamper {
    Change { rowid: i64, column: String },
    Delete { rowid: i64 },
    Swap { a: i64, b: i64 },
}

/// Applies the tamper; false when it changes nothing (swapping equal rows).
fn apply(conn: &rusqlite::Connection, table: &str, tamper: &Tamper) -> bool {
    match tamper {
        Tamper::Change { rowid, column } => {
            let value: rusqlite::types::Value = conn
                .query_row(
                    &format!("SELECT {column} FROM {table} WHERE rowid = ?1"),
                    [rowid],
                    |r| r.get(0),
                )
                .unwrap();
            let update = format!("UPDATE {table} SET {column} = ?1 WHERE rowid = ?2");
            // A key changed to its neighbour's value collides, and a CHECK
            // constraint admits only some values: try the alternatives a
            // tamperer would, and take the first the schema accepts.
            use rusqlite::types::Value;
            let mut candidates = vec![changed(value.clone())];
            match &value {
                Value::Integer(i) => candidates.push(Value::Integer(i + 1_000_000)),
                Value::Null => candidates.extend([Value::Blob(vec![0]), Value::Text("x".into())]),
                Value::Text(t) => {
                    candidates.push(Value::Text(format!("{t}~")));
                    candidates
                        .extend(["present", "withheld", "erased"].map(|s| Value::Text(s.into())));
                }
                _ => {}
            }
            let applied = candidates
                .into_iter()
                .filter(|candidate| *candidate != value)
                .any(|candidate| {
                    conn.execute(&update, rusqlite::params![candidate, rowid])
                        .is_ok()
                });
            assert!(applied, "no change of {table}.{column} was accepted");
            true
        }
        Tamper::Delete { rowid } => {
            conn.execute(&format!("DELETE FROM {table} WHERE rowid = ?1"), [rowid])
                .unwrap();
            true
        }
        Tamper::Swap { a, b } => {
            // Swap the row's contents but keep its identity (its primary
            // key, or the first column of a table without one).
            let cols = columns(conn, table);
            let has_key = cols.iter().any(|(_, pk)| *pk);
            let contents: Vec<&String> = cols
                .iter()
                .enumerate()
                .filter(|(i, (_, pk))| if has_key { !pk } else { *i > 0 })
                .map(|(_, (c, _))| c)
                .collect();
            let read = |rowid: i64| -> Vec<rusqlite::types::Value> {
                contents
                    .iter()
                    .map(|c| {
                        conn.query_row(
                            &format!("SELECT {c} FROM {table} WHERE rowid = ?1"),
                            [rowid],
                            |r| r.get(0),
                        )
                        .unwrap()
                    })
                    .collect()
            };
            let (row_a, row_b) = (read(*a), read(*b));
            if row_a == row_b {
                return false;
            }
            for (rowid, values) in [(*a, row_b), (*b, row_a)] {
                for (column, value) in contents.iter().zip(values) {
                    conn.execute(
                        &format!("UPDATE {table} SET {column} = ?1 WHERE rowid = ?2"),
                        rusqlite::params![value, rowid],
                    )
                    .unwrap();
                }
            }
            true
        }
    }
}

/// Changing any column of any row, deleting any row, or swapping any two
/// neighbouring rows of any table makes `verify` fail and say where. The
/// loop reads the tables from the store, so a table added later is covered.
#[test]
fn tampering_with_any_row_of_any_table_is_detected() {
    let f = fixture();
    let scratch = f.dir.parent().unwrap().join("tampered");
    copy_store(&f.dir, &scratch);
    let pristine = std::fs::read(scratch.join("truce.db")).unwrap();
    let conn = rusqlite::Connection::open(scratch.join("truce.db")).unwrap();
    // The index tables answer retries and are checked against the entry
    // they name when used, and the shared records are the servers': neither
    // is part of what verification compares.
    let all_tables: Vec<String> = tables(&conn)
        .into_iter()
        .filter(|t| {
            !truce_store::INDEX_TABLES.contains(&t.as_str()) && t != truce_store::SHARED_TABLE
        })
        .collect();
    drop(conn);
    assert!(all_tables.len() >= 8, "{all_tables:?}");
    let mut cases = 0;
    for table in &all_tables {
        let conn = rusqlite::Connection::open(scratch.join("truce.db")).unwrap();
        let ids = rowids(&conn, table);
        let cols = columns(&conn, table);
        drop(conn);
        assert!(
            ids.len() >= 2,
            "the fixture must give {table} at least two rows"
        );
        let mut tampers = Vec::new();
        for &rowid in &ids {
            tampers.push(Tamper::Delete { rowid });
            for (column, _) in &cols {
                tampers.push(Tamper::Change {
                    rowid,
                    column: column.clone(),
                });
            }
        }
        for pair in ids.windows(2) {
            tampers.push(Tamper::Swap {
                a: pair[0],
                b: pair[1],
            });
        }
        for tamper in tampers {
            std::fs::write(scratch.join("truce.db"), &pristine).unwrap();
            let conn = rusqlite::Connection::open(scratch.join("truce.db")).unwrap();
            let changed_anything = apply(&conn, table, &tamper);
            drop(conn);
            if !changed_anything {
                continue;
            }
            let what = match &tamper {
                Tamper::Change { rowid, column } => {
                    format!("{table}: changed {column} of row {rowid}")
                }
                Tamper::Delete { rowid } => format!("{table}: deleted row {rowid}"),
                Tamper::Swap { a, b } => format!("{table}: swapped rows {a} and {b}"),
            };
            let failure = match verify_data_dir(&scratch, None) {
                Ok(_) => panic!("undetected: {what}"),
                Err(failure) => failure.0,
            };
            let located = failure.contains("entry ")
                || failure.contains("checkpoint at size ")
                || (table == "meta" && failure.contains("meta"));
            assert!(located, "{what}: the failure does not say where: {failure}");
            cases += 1;
        }
    }
    assert!(cases > 300, "only {cases} tamper cases");
}

// --- The negotiation record: scenario and imports ----------------------------

#[test]
fn the_istanbul_scenario_loads_into_an_empty_store_and_verifies() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("istanbul");
    let loaded = truce_ledger::scenario::load("istanbul-2025", &dir).unwrap();
    let report = verify_data_dir(&dir, None).unwrap();
    assert_eq!(report.tree_size, loaded.entries);
    let state = loaded.ledger.state();
    let negotiation = state.negotiation();
    assert_eq!(negotiation.rounds().count(), 2);
    // Each side's figure for the remains stands as its own claim.
    let remains: Vec<u64> = negotiation
        .claims()
        .filter(|c| c.value.measure == "bodies handed over to Ukraine")
        .map(|c| c.value.figure)
        .collect();
    assert_eq!(remains, vec![6060, 6057]);
    // The record of the handovers stands beside them: 6,057 to Ukraine,
    // 27 to Russia, off parity by the stages' stated waiver.
    let term = |term_id: &str| truce_core::negotiation::TermRef {
        document_id: "joint-exchange-2025-06-02".into(),
        term_id: term_id.into(),
    };
    let remains_progress = state
        .exchange()
        .progress(negotiation, &term("remains"))
        .unwrap();
    assert_eq!(remains_progress.quota.handed_over, (27, 6057));
    assert_eq!(remains_progress.stages.len(), 5);
    // Reconciliation: Ukraine's 6,057 equals the record; Russia's 6,060
    // claims 3 more; the news reports of bodies returned to Russia differ.
    let beside: Vec<(String, Option<i64>)> = remains_progress
        .claims_beside(negotiation)
        .into_iter()
        .filter(|c| c.recorded.is_some())
        .map(|c| (c.claim.claim_id.clone(), c.difference()))
        .collect();
    for (claim_id, difference) in [
        ("ua-bodies-received-total", 0),
        ("ru-bodies-handed-over-total", 3),
        ("report-bodies-to-russia-27", 0),
        ("report-bodies-to-russia-78", 51),
    ] {
        assert!(
            beside.contains(&(claim_id.to_owned(), Some(difference))),
            "{claim_id}: {beside:?}"
        );
    }
    let prisoners = state
        .exchange()
        .progress(negotiation, &term("prisoners"))
        .unwrap();
    assert!(prisoners.quota.handed_over.1 > 1000 && prisoners.quota.met);
    assert_eq!(prisoners.stages.len(), 9);
    // Each record is signed by the actor who would sign it in reality, and
    // has the visibility its domain gives it (what every edge records).
    let view = LogView::open(&dir).unwrap();
    let mut before = truce_core::LogState::new();
    for index in 0..report.tree_size {
        let entry = view.store().entry(index).unwrap().unwrap();
        let envelope = truce_core::Envelope::from_leaf(&entry.leaf).unwrap();
        let signer = envelope.statement().actor.as_str().to_owned();
        let event = envelope
            .statement()
            .decode_stored(match &entry.payload {
                truce_store::PayloadRecord::Present(bytes) => bytes,
                _ => panic!("the scenario withholds nothing"),
            })
            .unwrap();
        let expected = match &event {
            Event::Negotiation(NegotiationEvent::DocumentTabled(d)) if d.tabled_by.len() == 1 => {
                d.tabled_by[0].to_string()
            }
            Event::Negotiation(NegotiationEvent::PositionTaken(p)) => p.party.to_string(),
            Event::Negotiation(NegotiationEvent::ClaimRecorded(
                truce_core::negotiation::Claim {
                    claimant: truce_core::negotiation::Claimant::Party { party },
                    ..
                },
            )) => party.to_string(),
            Event::Exchange(ExchangeEvent::ListSubmitted(list)) => list.party.to_string(),
            Event::Exchange(ExchangeEvent::StageAccepted { party, .. }) => party.to_string(),
            Event::Exchange(ExchangeEvent::ReceiptConfirmed(receipt)) => receipt.party.to_string(),
            Event::Exchange(ExchangeEvent::DiscrepancyRecorded(d)) => d.reported_by.to_string(),
            Event::Registry(RegistryEvent::KeyCustodyDeclared { actor, .. }) => actor.to_string(),
            _ => "intermediary".to_owned(),
        };
        assert_eq!(signer, expected, "entry {index} ({})", event.kind());
        let payload = truce_core::PayloadView::Present(&event);
        if !matches!(event, Event::Remark(_)) {
            assert_eq!(
                before.visibility_for(&event),
                envelope.statement().visibility,
                "entry {index} ({})",
                event.kind()
            );
        }
        before.apply(&envelope, payload);
    }
    // Loading twice into the same place is refused; nothing changes.
    assert!(truce_ledger::scenario::load("istanbul-2025", &dir).is_err());
    assert_eq!(
        verify_data_dir(&dir, None).unwrap().tree_size,
        loaded.entries
    );
}

#[test]
fn a_bad_import_names_file_line_and_field_and_records_nothing() {
    let f = fixture();
    let mut ledger = Ledger::open(&f.dir, LedgerOptions::default()).unwrap();
    let before = ledger.state().tree_size();
    let syntax = "[[rounds]]\nround_id = \"r9\"\nnumber = \"nine\"\n";
    let error = RecordSet::parse("round.toml", syntax)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("round.toml") && error.contains("line 3") && error.contains("number"),
        "{error}"
    );
    let unknown_field = "[[claims]]\nclaim_id = \"x\"\nfigures = 3\n";
    let error = RecordSet::parse("claims.toml", unknown_field)
        .unwrap_err()
        .to_string();
    assert!(error.contains("figures"), "{error}");
    let json = r#"{"rounds": [{"round_id": "r9", "number": 9, "date": "2025-02-30"}]}"#;
    let error = RecordSet::parse("round.json", json)
        .unwrap_err()
        .to_string();
    assert!(error.contains("round.json: line 1"), "{error}");
    let huge = "[[claims]]\nclaim_id = \"big\"\ndate = \"2025-06-16\"\nmeasure = \"m\"\n\
                figure = 9007199254740993\nsource = \"s\"\nnote = \"\"\n\
                [claims.claimant]\nkind = \"source\"\nname = \"news\"\n";
    let error = RecordSet::parse("claims.toml", huge)
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "claims.toml: claims[0] (big), field figure: figure is 2^53 or more, which JSON does not keep exactly"
    );

    // A well-formed file whose last record is refused records nothing.
    let me = read_key_file(&f.dir.join(KEYS_DIR).join(INTERMEDIARY_KEY_FILE)).unwrap();
    let keys: KeyRing = [(id("intermediary"), me)].into();
    let refused = r#"
[[rounds]]
round_id = "geneva-1"
number = 1
date = "2025-09-01"
venue = "Geneva"
mediators = []
delegations = []
summary = ""

[[agreements]]
agreement_id = "geneva-1-agreement"
round_id = "geneva-1"
date = "2025-09-01"
terms = [{ document_id = "joint-exchange-2025-06-02", term_id = "no-such-term" }]
"#;
    let set = RecordSet::parse("geneva.toml", refused).unwrap();
    let error = import(&mut ledger, &set, &keys).unwrap_err().to_string();
    assert!(
        error.contains("agreements[0] (geneva-1-agreement)") && error.contains("no-such-term"),
        "{error}"
    );
    assert_eq!(ledger.state().tree_size(), before);
    assert!(
        ledger
            .state()
            .negotiation()
            .rounds()
            .all(|r| r.value.round_id != "geneva-1")
    );
    // A record the given keys cannot sign is refused before anything is signed.
    let memorandum = SCENARIOS[0].chapters[1];
    let error = import(
        &mut ledger,
        &RecordSet::parse(memorandum.0, memorandum.1).unwrap(),
        &keys,
    )
    .unwrap_err();
    assert!(error.to_string().contains("no key for"), "{error}");
    drop(ledger);
    assert_eq!(verify_data_dir(&f.dir, None).unwrap().tree_size, before);
}

// --- Exchanges: lists from files, and what each reader's copy holds ----------

#[test]
fn no_personal_record_of_one_party_reaches_the_other_party_or_an_observer() {
    let f = fixture();
    let view = LogView::open(&f.dir).unwrap();
    // The store's file as it lies on disk, and every payload as the copy's
    // owner reads it with its store key (on disk they are encrypted).
    let everything = |dir: &Path| -> Vec<u8> {
        let conn = rusqlite::Connection::open(dir.join("truce.db")).unwrap();
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .unwrap();
        drop(conn);
        let mut bytes = std::fs::read(dir.join("truce.db")).unwrap();
        let store = truce_store::open(dir).unwrap();
        let size = store.tree_size().unwrap();
        store
            .for_each_entry(0, size, &mut |entry| {
                if let PayloadRecord::Present(payload) = entry.payload {
                    bytes.extend(payload);
                }
                Ok(())
            })
            .unwrap()
            .unwrap();
        bytes
    };
    let holds =
        |bytes: &[u8], needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    for (reader, may_see, may_not_see) in [
        ("ua", vec!["Surname-ua-"], vec!["Surname-ru-"]),
        ("ru", vec!["Surname-ru-"], vec!["Surname-ua-"]),
        ("osce", vec![], vec!["Surname-ua-", "Surname-ru-"]),
    ] {
        let out = f.dir.parent().unwrap().join(format!("copy-{reader}"));
        export_reader_copy(view.store(), &id(reader), &out).unwrap();
        verify_data_dir(&out, None).unwrap_or_else(|e| panic!("{reader}: {e}"));
        let bytes = everything(&out);
        for name in may_see {
            assert!(holds(&bytes, name), "{reader} should hold its own list");
        }
        for name in may_not_see {
            assert!(
                !holds(&bytes, name),
                "{reader}'s copy holds another party's personal records"
            );
        }
        // The reader's own fold knows only its own lists, and every reader,
        // the observer included, gets the same aggregates from the tallies.
        let copy = LogView::open(&out).unwrap();
        let term = truce_core::negotiation::TermRef {
            document_id: "joint-exchange-2025-06-02".into(),
            term_id: "prisoners".into(),
        };
        let progress = copy
            .state()
            .exchange()
            .progress(copy.state().negotiation(), &term)
            .unwrap();
        assert_eq!(progress.quota.handed_over, (2, 2), "{reader}");
        assert_eq!(
            progress
                .by_category
                .iter()
                .map(|(_, (a, b))| a + b)
                .sum::<u64>(),
            4
        );
        let parties: Vec<String> = copy
            .state()
            .exchange()
            .lists()
            .map(|l| l.party.to_string())
            .collect();
        assert!(
            parties.iter().all(|p| p == reader),
            "{reader} sees lists of {parties:?}"
        );
    }
}

#[test]
fn person_lists_import_from_csv_with_an_hxl_row_and_every_bad_row_is_reported() {
    use truce_ledger::lists::parse_persons;
    let good = "person_id,family_name,given_names,date_of_birth,status,assessment,assessment_date,commission\n\
                #person+id,#person+name+family,#person+name+given,#date+birth,#status,#indicator,#date,#org\n\
                a-1,Kovalenko,Taras,12.04.1985,military,severely_wounded,2025-05-20,mixed commission\n\
                a-2,Bondar,Maksym,2003-03-03,civilian,,,\n";
    let persons = parse_persons("ua.csv", good).unwrap();
    assert_eq!(persons.len(), 2);
    assert_eq!(
        persons[0].date_of_birth,
        chrono::NaiveDate::from_ymd_opt(1985, 4, 12)
    );
    assert_eq!(persons[0].assessments.len(), 1);
    let bad = "person_id,family_name,given_names,date_of_birth,status\n\
               a-1,Secretname,Taras,31.02.1985,military\n\
               a-2,Bondar,Maksym,2003-03-03,soldier\n\
               a-3,Ok,Fine,2001-01-01,military\n\
               a-3,Again,Same,2001-01-01,military\n\
               a-5,Short\n";
    let error = parse_persons("ru.csv", bad).unwrap_err().to_string();
    assert!(
        error.contains("ru.csv: line 2, field date_of_birth"),
        "{error}"
    );
    assert!(error.contains("ru.csv: line 3, field status"), "{error}");
    assert!(error.contains("repeats the person_id"), "{error}");
    assert!(
        error.contains("ru.csv: line 6: wrong number of fields"),
        "{error}"
    );
    assert!(
        !error.contains("Secretname") && !error.contains("31.02"),
        "personal data in an error: {error}"
    );
    let unknown = parse_persons("x.csv", "person_id,nickname,famly_name\na,b,c\n")
        .unwrap_err()
        .to_string();
    assert!(
        unknown.contains("x.csv: line 1, column 2: not a known column (known: person_id")
            && unknown.contains("column 3: not a known column: did you mean family_name?")
            && !unknown.contains("nickname"),
        "{unknown}"
    );
    // A file without its header row: the first person's values are
    // never echoed as column names.
    let headless = parse_persons("z.csv", "a-1,Secretname,Taras\n")
        .unwrap_err()
        .to_string();
    assert!(
        headless.contains("z.csv: line 1 names no known column"),
        "{headless}"
    );
    assert!(
        !headless.contains("Secretname") && !headless.contains("Taras"),
        "{headless}"
    );
    // A date of birth outside 1900-01-01..2099-12-31 is implausible.
    let born = parse_persons(
        "y.csv",
        "person_id,family_name,date_of_birth\na,A,0001-01-01\nb,B,2999-01-01\nc,C,1900-01-01\n",
    )
    .unwrap_err()
    .to_string();
    for line in [2, 3] {
        assert!(
            born.contains(&format!(
                "y.csv: line {line}: field date_of_birth: not between 1900-01-01 and 2099-12-31"
            )),
            "{born}"
        );
    }
    assert!(
        born.starts_with("2 problem(s)"),
        "1900-01-01 is plausible: {born}"
    );
    assert!(!born.contains("0001") && !born.contains("2999"), "{born}");
    // A column given twice would let one cell silently replace another.
    let twice = parse_persons(
        "x.csv",
        "person_id,family_name,given_names,family_name\na,Secretname,Taras,Other\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        twice.contains("x.csv: line 1: column \"family_name\" appears twice"),
        "{twice}"
    );
    assert!(
        !twice.contains("Secretname") && !twice.contains("Other"),
        "{twice}"
    );
}

/// A list file above the bound is refused by its size, naming the file,
/// before any of it is parsed; its values never appear.
#[test]
fn a_list_file_above_the_bound_is_refused_by_its_size() {
    use std::io::Write as _;
    use truce_core::limits::MAX_LIST_FILE_BYTES;
    let temp = tempfile::tempdir().unwrap();
    let file = temp.path().join("huge.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
    out.write_all(b"person_id,family_name,given_names\n")
        .unwrap();
    let row = b"p-1,Secretname,Taras\n";
    let mut written = 34;
    while written <= MAX_LIST_FILE_BYTES {
        out.write_all(row).unwrap();
        written += row.len();
    }
    drop(out);
    assert!(std::fs::metadata(&file).unwrap().len() as usize > MAX_LIST_FILE_BYTES);
    let error = truce_ledger::lists::read_persons(&file)
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        format!(
            "{}: larger than {MAX_LIST_FILE_BYTES} bytes",
            file.display()
        )
    );
}

#[test]
fn the_review_queue_links_cross_script_lists_and_shrinks_as_the_intermediary_decides() {
    use truce_core::exchange::{ListKind, MatchDecision, MatchVerdict, PersonList};
    use truce_ledger::lists::parse_persons;
    use truce_ledger::matching::review_queue;
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("istanbul");
    let mut ledger = truce_ledger::scenario::load("istanbul-2025", &dir)
        .unwrap()
        .ledger;
    let key_of =
        |party: &str| read_key_file(&dir.join(KEYS_DIR).join(format!("{party}.key"))).unwrap();
    let term = truce_core::negotiation::TermRef {
        document_id: "joint-exchange-2025-06-02".into(),
        term_id: "prisoners".into(),
    };
    // Fictional people, written by each side in its own script and forms.
    let sought = "person_id,family_name,given_names,patronymic,date_of_birth,place_of_birth\n\
                  s1,Соколов,Ігор,Андрійович,15.01.1990,Київ\n\
                  s2,Morozov,Pavlo,Serhiyovych,2002-07-07,Odesa\n\
                  s3,Петренко,Іван,,1970-01-01,Львів\n";
    let held = "person_id,family_name,given_names,patronymic,date_of_birth,place_of_birth\n\
                h1,СОКОЛОВ,ИГОРЬ,АНДРЕЕВИЧ,1990-01-15,Киев\n\
                h2,МОРОЗОВ,ПАВЕЛ,СЕРГЕЕВИЧ,07.07.2002,Одесса\n\
                h3,ВОЛКОВ,ДЕНИС,,2001-02-02,Минск\n";
    for (party, list_id, kind, text) in [
        ("ua", "ua-sought", ListKind::Sought, sought),
        ("ru", "ru-held", ListKind::Held, held),
    ] {
        let list = PersonList {
            list_id: list_id.into(),
            party: id(party),
            list_kind: kind,
            term: term.clone(),
            version: 1,
            persons: parse_persons("list.csv", text).unwrap(),
        };
        record(
            &mut ledger,
            party,
            &key_of(party),
            Event::Exchange(ExchangeEvent::ListSubmitted(list)),
            Visibility::Party(id(party)),
        );
    }
    let queue = review_queue(ledger.state(), "ua-sought", "ru-held", 0.5).unwrap();
    let pairs: Vec<(&str, &str)> = queue
        .iter()
        .map(|c| (c.sought.person_id.as_str(), c.held.person_id.as_str()))
        .collect();
    assert_eq!(pairs, vec![("s1", "h1"), ("s2", "h2")]);
    assert!(
        queue
            .iter()
            .all(|c| !c.explanation.contains("Соколов") && !c.explanation.contains("MOROZOV"))
    );
    let me = read_key_file(&dir.join(KEYS_DIR).join(INTERMEDIARY_KEY_FILE)).unwrap();
    let decision = MatchDecision {
        sought: queue[0].sought.clone(),
        held: queue[0].held.clone(),
        score_permille: (queue[0].score * 1000.0) as u32,
        explanation: queue[0].explanation.clone(),
        verdict: MatchVerdict::Confirmed,
    };
    let both = Visibility::Actors([id("ua"), id("ru")].into());
    record(
        &mut ledger,
        "intermediary",
        &me,
        Event::Exchange(ExchangeEvent::MatchDecided(decision)),
        both,
    );
    let queue = review_queue(ledger.state(), "ua-sought", "ru-held", 0.5).unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].held.person_id, "h2");
    drop(ledger);
    verify_data_dir(&dir, None).unwrap();
}

// --- Readers and writers beside a busy writer ---------------------------------

/// A server appending as fast as it can, while others verify and append
/// through their own connections: every verification sees one consistent
/// snapshot, and every other writer's append lands (it reloads and retries
/// when the store moved under it).
#[test]
fn verify_and_a_second_writer_succeed_beside_a_writer_at_full_speed() {
    let f = fixture();
    let ledger = Ledger::open(&f.dir, LedgerOptions::default()).unwrap();
    let me = read_key_file(&f.dir.join(KEYS_DIR).join(INTERMEDIARY_KEY_FILE)).unwrap();
    let commits = GroupCommit::new(
        ledger,
        HeldKeys(vec![(id("ua"), f.ua_key.clone())]),
        group::DEFAULT_CAPACITY,
    );
    let done = std::sync::atomic::AtomicBool::new(false);
    let server_appends = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|scope| {
        for client in 0..4 {
            let (commits, done, server_appends) = (&commits, &done, &server_appends);
            scope.spawn(move || {
                let mut i = 0;
                // Bounded, so the debug build's verifications keep up.
                while !done.load(std::sync::atomic::Ordering::Acquire) && i < 500 {
                    commits
                        .submit(server_signed(&format!("client {client} #{i}"), None))
                        .unwrap();
                    server_appends.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    i += 1;
                }
            });
        }
        let mut second = Ledger::open(&f.dir, LedgerOptions::default()).unwrap();
        for round in 0..3 {
            let report = verify_data_dir(&f.dir, None)
                .unwrap_or_else(|e| panic!("verify {round} beside a writer: {}", e.0));
            assert!(report.tree_size > 0);
            for i in 0..5 {
                let event = remark(&format!("second writer {round}.{i}"));
                second
                    .record(&id("intermediary"), &me, event, Visibility::Public)
                    .unwrap_or_else(|e| panic!("second writer beside a busy one: {e}"));
            }
            let reopened = LogView::open(&f.dir).unwrap();
            assert!(reopened.checkpoint(None).is_ok());
        }
        done.store(true, std::sync::atomic::Ordering::Release);
    });
    assert!(server_appends.load(std::sync::atomic::Ordering::Relaxed) > 50);
    drop(commits);
    verify_data_dir(&f.dir, None).unwrap();
}

/// The entry of the last list the fixture submits.
fn last_list_entry(dir: &Path) -> u64 {
    let view = LogView::open(dir).unwrap();
    let mut found = None;
    view.store()
        .for_each_entry(0, view.state().tree_size(), &mut |entry| {
            let envelope = truce_core::Envelope::from_leaf(&entry.leaf).unwrap();
            if envelope.statement().kind == "list_submitted" {
                found = Some(entry.index);
            }
            Ok(())
        })
        .unwrap()
        .unwrap();
    found.expect("the fixture submits lists")
}

/// An erasure of a list by another process, while a server appends claims
/// (rows of a derived table) and a bad request sits among them: the erased
/// list's row leaves the derived tables, the server folds the erasure in
/// and keeps writing its rows, and the whole store equals a replay.
#[test]
fn an_erasure_beside_a_live_writer_keeps_every_derived_row_equal_to_a_replay() {
    let f = fixture();
    let erased = last_list_entry(&f.dir);
    let ledger = Ledger::open(&f.dir, LedgerOptions::default()).unwrap();
    let me = read_key_file(&f.dir.join(KEYS_DIR).join(INTERMEDIARY_KEY_FILE)).unwrap();
    let commits = GroupCommit::new(
        ledger,
        HeldKeys(vec![(id("ua"), f.ua_key.clone())]),
        group::DEFAULT_CAPACITY,
    );
    let claim = |n: usize| Request::ServerSigned {
        actor: id("ua"),
        event: serde_json::from_value(serde_json::json!({
            "kind": "claim_recorded", "claim_id": format!("c-{n}"),
            "claimant": {"kind": "party", "party": "ua"}, "date": "2025-06-20",
            "measure": "bodies handed over to Ukraine", "figure": n,
            "term": null, "source": "test", "note": ""}))
        .unwrap(),
        visibility: Visibility::Public,
        idempotency_key: None,
    };
    for n in 0..20 {
        commits.submit(claim(n)).unwrap();
    }
    let mut other = Ledger::open(&f.dir, LedgerOptions::default()).unwrap();
    let erasure = Event::Registry(RegistryEvent::PayloadErased {
        entry_index: erased,
        legal_basis: "court order 2/2026".to_owned(),
    });
    other
        .record(&id("intermediary"), &me, erasure, Visibility::Public)
        .unwrap();
    verify_data_dir(&f.dir, None).unwrap();
    // The server folds the other process's erasure and goes on, a bad claim
    // (a figure claimed for ru by ua) among good ones.
    let bad = Request::ServerSigned {
        actor: id("ua"),
        event: serde_json::from_value(serde_json::json!({
            "kind": "claim_recorded", "claim_id": "c-bad",
            "claimant": {"kind": "party", "party": "ru"}, "date": "2025-06-20",
            "measure": "m", "figure": 1, "term": null, "source": "test", "note": ""}))
        .unwrap(),
        visibility: Visibility::Public,
        idempotency_key: None,
    };
    let replies: Vec<_> = (20..30)
        .map(claim)
        .chain([bad])
        .map(|r| commits.queue(r).unwrap())
        .collect();
    assert!(commits.commit_waiting(Duration::ZERO));
    let answers: Vec<_> = replies.into_iter().map(|r| r.recv().unwrap()).collect();
    assert!(answers[..10].iter().all(Result::is_ok), "{answers:?}");
    assert!(matches!(answers[10], Err(CommitError::Refused(_))));
    let report = verify_data_dir(&f.dir, None).unwrap();
    assert!(report.payloads_erased >= 3);
    let view = LogView::open(&f.dir).unwrap();
    let lists = view
        .store()
        .derived_table("person_lists", &["recorded_at"])
        .unwrap();
    assert!(
        !lists.contains(&vec![truce_core::projection::Cell::Int(erased as i64)]),
        "the erased list's row is gone"
    );
    let claims = view.store().derived_table("claims", &["claim_id"]).unwrap();
    assert_eq!(claims.iter().filter(|row| matches!(&row[0], truce_core::projection::Cell::Text(id) if id.starts_with("c-"))).count(), 30);
}

// --- Saved states -----------------------------------------------------------

/// The state saved beside the log (what opening starts from) of every
/// saved size, decoded; and the state of a fold from entry 0.
fn saved_and_full_fold(dir: &Path) -> (Vec<truce_store::SavedState>, Vec<u8>) {
    let saved = truce_store::open(dir).unwrap().saved_states().unwrap();
    let scratch = dir.parent().unwrap().join("unsaved");
    let _ = std::fs::remove_dir_all(&scratch);
    copy_store(dir, &scratch);
    let conn = rusqlite::Connection::open(scratch.join("truce.db")).unwrap();
    conn.execute("DELETE FROM saved_states", []).unwrap();
    drop(conn);
    let full = LogView::open(&scratch).unwrap().state().to_saved();
    (saved, full)
}

/// Opening starts from the newest saved state and folds only what follows;
/// what it gets equals a fold from entry 0. A saved state that differs
/// from a replay fails verification, named; one that does not decode is
/// passed over by opening. An erasure drops every older saved state, so
/// the erased person is gone from them too.
#[test]
fn a_log_opens_from_its_saved_state_and_verify_checks_every_saved_state() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("istanbul");
    let mut ledger = truce_ledger::scenario::load("istanbul-2025", &dir)
        .unwrap()
        .ledger;
    let size = ledger.state().tree_size();
    let (saved, full) = saved_and_full_fold(&dir);
    assert!(!saved.is_empty() && saved.len() <= truce_store::SAVED_STATES_KEPT as usize);
    assert!(
        saved
            .iter()
            .all(|s| s.tree_size <= size && s.tree_size >= 1024 && s.frontier.is_some())
    );
    assert_eq!(LogView::open(&dir).unwrap().state().to_saved(), full);

    // A saved state replaced by another state that decodes (an empty
    // log's), or with a byte changed.
    let newer = saved.last().unwrap();
    for bytes in [truce_core::LogState::new().to_saved(), {
        let mut flipped = newer.state.clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0x01;
        flipped
    }] {
        let scratch = temp.path().join("tampered-state");
        let _ = std::fs::remove_dir_all(&scratch);
        copy_store(&dir, &scratch);
        // Written in the clear (no data key): the store reads it as a row
        // of a store made before encryption, so only the replay can tell.
        let conn = rusqlite::Connection::open(scratch.join("truce.db")).unwrap();
        conn.execute(
            "UPDATE saved_states SET state = ?1, data_key = NULL WHERE tree_size = ?2",
            rusqlite::params![bytes, newer.tree_size as i64],
        )
        .unwrap();
        drop(conn);
        let failure = verify_data_dir(&scratch, None).unwrap_err().to_string();
        assert!(
            failure.contains(&format!("saved state at size {}", newer.tree_size)),
            "{failure}"
        );
    }
    // A byte of the encrypted state changed: it no longer decrypts.
    let scratch = temp.path().join("tampered-ciphertext");
    copy_store(&dir, &scratch);
    let conn = rusqlite::Connection::open(scratch.join("truce.db")).unwrap();
    conn.execute(
        "UPDATE saved_states SET state = CAST(substr(state, 1, 8) || CASE WHEN \
         substr(state, 9, 1) = X'00' THEN X'01' ELSE X'00' END || substr(state, 10) AS BLOB) \
         WHERE tree_size = ?1",
        [newer.tree_size as i64],
    )
    .unwrap();
    drop(conn);
    let failure = verify_data_dir(&scratch, None).unwrap_err().to_string();
    assert!(
        failure.contains(&format!(
            "saved state at size {} does not decrypt",
            newer.tree_size
        )),
        "{failure}"
    );

    // The frontier saved with it: one bit changed, a hash too few, none (a
    // state saved before frontiers were).
    let tampered_frontier = |frontier: Option<Vec<u8>>| {
        let scratch = temp.path().join("tampered-frontier");
        let _ = std::fs::remove_dir_all(&scratch);
        copy_store(&dir, &scratch);
        let log_key = Path::new(KEYS_DIR).join(truce_ledger::LOG_KEY_FILE);
        std::fs::copy(dir.join(&log_key), scratch.join(&log_key)).unwrap();
        let conn = rusqlite::Connection::open(scratch.join("truce.db")).unwrap();
        conn.execute(
            "UPDATE saved_states SET frontier = ?1 WHERE tree_size = ?2",
            rusqlite::params![frontier, newer.tree_size as i64],
        )
        .unwrap();
        scratch
    };
    let hashes = newer.frontier.clone().unwrap();
    let mut flipped = hashes.clone();
    flipped[0] ^= 0x80;
    let scratch = tampered_frontier(Some(flipped));
    let failure = verify_data_dir(&scratch, None).unwrap_err().to_string();
    assert!(
        failure.contains(&format!(
            "saved state at size {}: its frontier differs from the entries' tree",
            newer.tree_size
        )),
        "{failure}"
    );
    let refused = Ledger::open(&scratch, LedgerOptions::default())
        .err()
        .unwrap();
    assert!(
        refused.to_string().contains("run `truce verify`"),
        "{refused}"
    );
    let reader = LogView::open(&scratch).unwrap();
    assert!(
        reader.tree().is_err(),
        "no proof from a tree that is not the log's"
    );
    // A frontier that is not one hash per bit of the size, or none, is
    // passed over: opening reads the leaf hashes instead.
    for frontier in [Some(hashes[32..].to_vec()), None] {
        let unreadable = frontier.is_some();
        let scratch = tampered_frontier(frontier);
        let view = LogView::open(&scratch).unwrap();
        assert_eq!(view.state().to_saved(), full);
        assert_eq!(
            view.root_at(size).unwrap(),
            ledger.view().root_at(size).unwrap()
        );
        drop(view);
        Ledger::open(&scratch, LedgerOptions::default()).unwrap();
        assert_eq!(verify_data_dir(&scratch, None).is_err(), unreadable);
    }

    // Erase a list (one never superseded) and a family name only it holds:
    // the saved states left are the erasure's own, without that name.
    let (entry, family_name) = {
        let view = ledger.view();
        let lists: Vec<(u64, Vec<u8>)> = (0..size)
            .filter_map(|i| {
                let stored = view.store().entry(i).unwrap().unwrap();
                let kind = Envelope::from_leaf(&stored.leaf)
                    .unwrap()
                    .statement()
                    .kind
                    .clone();
                match stored.payload {
                    truce_store::PayloadRecord::Present(bytes) if kind == "list_submitted" => {
                        Some((i, bytes))
                    }
                    _ => None,
                }
            })
            .collect();
        let holds =
            |bytes: &[u8], name: &str| bytes.windows(name.len()).any(|w| w == name.as_bytes());
        let list = view
            .state()
            .exchange()
            .lists()
            .find(|l| l.version == 1)
            .unwrap();
        let (entry, _) = lists
            .iter()
            .find(|(_, bytes)| holds(bytes, &format!("\"list_id\":\"{}\"", list.list_id)))
            .unwrap();
        let name = list
            .persons
            .iter()
            .map(|p| format!("\"{}\"", p.family_name))
            .find(|name| lists.iter().filter(|(_, bytes)| holds(bytes, name)).count() == 1)
            .unwrap();
        (*entry, name[1..name.len() - 1].to_owned())
    };
    let me = read_key_file(&dir.join(KEYS_DIR).join(INTERMEDIARY_KEY_FILE)).unwrap();
    let erasure = Event::Registry(RegistryEvent::PayloadErased {
        entry_index: entry,
        legal_basis: "test".into(),
    });
    let erased_at = ledger
        .record(&id("intermediary"), &me, erasure, Visibility::Public)
        .unwrap();
    let (saved, full) = saved_and_full_fold(&dir);
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].tree_size, erased_at + 1);
    assert_eq!(saved[0].state, full);
    assert!(
        !saved[0]
            .state
            .windows(family_name.len())
            .any(|w| w == family_name.as_bytes()),
        "the erased list is gone from the saved state"
    );
    verify_data_dir(&dir, None).unwrap();
}

/// Erasing a list version that a later version follows: the later version
/// stands (its predecessor is gone for every reader), the log replays and
/// verifies, and a gap is allowed only up to the versions that are unseen.
#[test]
fn erasing_a_superseded_list_version_leaves_the_log_replayable() {
    let f = fixture();
    let view = LogView::open(&f.dir).unwrap();
    let mut first = None;
    view.store()
        .for_each_entry(0, view.state().tree_size(), &mut |entry| {
            let envelope = truce_core::Envelope::from_leaf(&entry.leaf).unwrap();
            if envelope.statement().kind == "list_submitted" && first.is_none() {
                first = Some(entry.index);
            }
            Ok(())
        })
        .unwrap()
        .unwrap();
    drop(view);
    let mut ledger = Ledger::open(&f.dir, LedgerOptions::default()).unwrap();
    let me = read_key_file(&f.dir.join(KEYS_DIR).join(INTERMEDIARY_KEY_FILE)).unwrap();
    let erasure = Event::Registry(RegistryEvent::PayloadErased {
        entry_index: first.unwrap(),
        legal_basis: "court order 3/2026".to_owned(),
    });
    ledger
        .record(&id("intermediary"), &me, erasure, Visibility::Public)
        .unwrap();
    verify_data_dir(&f.dir, None).unwrap();
    let ua_held = ledger.state().exchange().list("ua-held").unwrap().clone();
    assert_eq!(ua_held.version, 2);
    // One version of ua's is unseen, so no list of ua's may skip two.
    let mut skipping = ua_held;
    skipping.version = 5;
    let refused = ledger
        .record(
            &id("ua"),
            &f.ua_key,
            Event::Exchange(ExchangeEvent::ListSubmitted(skipping)),
            Visibility::Party(id("ua")),
        )
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("version 5 where 3 comes next"),
        "{refused}"
    );
}
