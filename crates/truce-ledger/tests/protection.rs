//! Personal data stays protected.
//!
//! Erasure erases: after each kind of personal payload (a list, a stage, a
//! match decision, a remark) is erased on the Istanbul scenario, the log
//! still verifies (derived tables and saved states equal a replay), no
//! byte of an erased payload is left in any file of the data directory, and
//! a party's copy that held the payload gives it up when it extends.

use std::path::Path;

use truce_core::exchange::{
    ExchangeEvent, MatchDecision, MatchVerdict, PersonList, PersonRef, Stage, StageBatch,
};
use truce_core::registry::RegistryEvent;
use truce_core::remarks::RemarkEvent;
use truce_core::{ActorId, Event, Reader};
use truce_ledger::app::{self, Draft};
use truce_ledger::copy::{
    extend_reader_state, reader_entries, reader_entries_between, reader_state, write_copy,
};
use truce_ledger::keys::read_key_file;
use truce_ledger::pseudonyms::PseudonymKey;
use truce_ledger::{AtRest, KEYS_DIR, Ledger, LogView, verify_data_dir};

fn id(text: &str) -> ActorId {
    ActorId::new(text).unwrap()
}

/// Signs `event` as `actor` with its key in the data directory and appends
/// it with the visibility its domain gives it.
fn record(ledger: &mut Ledger, dir: &Path, actor: &str, event: Event) -> u64 {
    let key = read_key_file(&dir.join(KEYS_DIR).join(format!("{actor}.key"))).unwrap();
    let draft = Draft::of(ledger.state(), event);
    let kind = draft.event.kind();
    let submission = ledger.submission(&id(actor), &key, &draft.event, draft.visibility);
    ledger
        .append_one(submission)
        .unwrap_or_else(|e| panic!("{kind} refused: {e}"))
}

/// What refusing `event` signed by `actor` says, with `list_id` blanked.
fn refusal(ledger: &mut Ledger, dir: &Path, actor: &str, event: Event, list_id: &str) -> String {
    let key = read_key_file(&dir.join(KEYS_DIR).join(format!("{actor}.key"))).unwrap();
    let draft = Draft::of(ledger.state(), event);
    let submission = ledger.submission(&id(actor), &key, &draft.event, draft.visibility);
    let refused = ledger.append_one(submission).unwrap_err().to_string();
    refused.replace(list_id, "LIST")
}

/// The Istanbul scenario loaded into a fresh directory (kept while the
/// first value lives), that directory, and its ledger.
fn istanbul() -> (tempfile::TempDir, std::path::PathBuf, Ledger) {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("istanbul");
    let ledger = truce_ledger::scenario::load("istanbul-2025", &dir)
        .unwrap()
        .ledger;
    (temp, dir, ledger)
}

/// Every file under `dir` whose bytes contain `marker`.
fn files_holding(dir: &Path, marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_holding(&path, marker));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            if memchr::memmem::find(&bytes, marker.as_bytes()).is_some() {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

/// A late list of ua's remains with one person named `marker`: a clone of
/// the scenario's list under new ids.
fn late_list(ledger: &Ledger, marker: &str) -> PersonList {
    let mut list = ledger
        .state()
        .exchange()
        .list("ua-held-remains")
        .unwrap()
        .clone();
    list.list_id = "ua-held-remains-late".to_owned();
    list.version = 1;
    list.persons.truncate(1);
    list.persons[0].person_id = "ua-late-1".to_owned();
    list.persons[0].family_name = marker.to_owned();
    list
}

/// A stage of the remains term handing over the late list's person, its
/// waiver stating `marker`.
fn late_stage(ledger: &Ledger, marker: &str) -> Stage {
    let mut stage = ledger
        .state()
        .exchange()
        .stage("remains-stage-5")
        .unwrap()
        .stage
        .clone();
    stage.stage_id = "remains-stage-late".to_owned();
    stage.parity_waiver = Some(marker.to_owned());
    for batch in &mut stage.batches {
        let persons = if batch.from == id("ua") {
            vec![PersonRef {
                list_id: "ua-held-remains-late".to_owned(),
                person_id: "ua-late-1".to_owned(),
            }]
        } else {
            Vec::new()
        };
        *batch = StageBatch::named(batch.from.clone(), persons);
    }
    stage
}

#[test]
fn erasing_each_kind_of_personal_payload_leaves_no_byte_of_it_anywhere() {
    erase_each_kind_of_personal_payload(AtRest::Encrypted);
}

/// In the clear, the markers are in the files until erased: so the search
/// finds what is there, and erasure alone (secure delete, vacuum, the WAL
/// truncated) leaves nothing.
#[test]
fn erasing_from_a_store_kept_in_the_clear_leaves_no_byte_either() {
    erase_each_kind_of_personal_payload(AtRest::Plain);
}

/// Records a payload of each personal kind holding a marker, erases them
/// all, then checks the log, every file, and ua's copy as `truce sync`
/// would write it. Encrypted, no marker is in any file at any time.
fn erase_each_kind_of_personal_payload(at_rest: AtRest) {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("istanbul");
    let mut ledger = truce_ledger::scenario::load_at_rest("istanbul-2025", &dir, at_rest)
        .unwrap()
        .ledger;
    let markers = [
        "Zzerasedlistname",
        "zzerased stage waiver",
        "zzerased decision explanation",
        "zzerased remark text",
    ];
    let list = late_list(&ledger, markers[0]);
    let list_entry = record(
        &mut ledger,
        &dir,
        "ua",
        ExchangeEvent::ListSubmitted(list).into(),
    );
    // ua's state as a server keeps it: folded once, then extended in place.
    let ua = Reader::Actor(id("ua"));
    let mut ua_state = reader_state(ledger.view().store(), &ua).unwrap();
    let stage = late_stage(&ledger, markers[1]);
    let stage_entry = record(
        &mut ledger,
        &dir,
        "intermediary",
        ExchangeEvent::StageProposed(stage).into(),
    );
    let decision = MatchDecision {
        sought: PersonRef {
            list_id: "ua-sought-pow".to_owned(),
            person_id: "ua-s-00055".to_owned(),
        },
        held: PersonRef {
            list_id: "ru-held-pow".to_owned(),
            person_id: "ru-h-00933".to_owned(),
        },
        score_permille: 12,
        explanation: markers[2].to_owned(),
        verdict: MatchVerdict::Rejected,
    };
    let decision_entry = record(
        &mut ledger,
        &dir,
        "intermediary",
        ExchangeEvent::MatchDecided(decision).into(),
    );
    let remark = RemarkEvent::RemarkRecorded {
        subject: "remains".to_owned(),
        text: markers[3].to_owned(),
    };
    let remark_entry = record(&mut ledger, &dir, "ua", remark.into());
    for marker in markers {
        let found = files_holding(&dir, marker);
        match at_rest {
            AtRest::Plain => assert!(!found.is_empty(), "{marker} was written"),
            AtRest::Encrypted => assert_eq!(found, Vec::<String>::new(), "{marker} in the clear"),
        }
    }
    let mut view = LogView::open(&dir).unwrap();
    view.catch_up().unwrap();
    assert_eq!(
        view.state()
            .exchange()
            .list("ua-held-remains-late")
            .unwrap()
            .persons[0]
            .family_name,
        markers[0],
        "what is encrypted reads back"
    );
    drop(view);
    let fresh = |ledger: &Ledger| reader_state(ledger.view().store(), &ua).unwrap().to_saved();
    extend_reader_state(ledger.view().store(), &ua, &mut ua_state).unwrap();
    assert_eq!(
        ua_state.to_saved(),
        fresh(&ledger),
        "extended as folded anew"
    );
    // What ua's copy held before the erasures (`truce sync` keeps it).
    let held = reader_entries(ledger.view().store(), &Reader::Actor(id("ua")))
        .unwrap()
        .0;

    for entry_index in [stage_entry, decision_entry, remark_entry, list_entry] {
        let erasure = RegistryEvent::PayloadErased {
            entry_index,
            legal_basis: "erasure request 2026/1".to_owned(),
        };
        record(&mut ledger, &dir, "intermediary", erasure.into());
    }
    let report = verify_data_dir(&dir, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.payloads_erased, 4);
    extend_reader_state(ledger.view().store(), &ua, &mut ua_state).unwrap();
    assert_eq!(
        ua_state.to_saved(),
        fresh(&ledger),
        "extended past erasures"
    );
    assert!(ua_state.exchange().list("ua-held-remains-late").is_none());
    for marker in markers {
        assert_eq!(
            files_holding(&dir, marker),
            Vec::<String>::new(),
            "{marker}"
        );
    }

    // ua's copy extends with the erasures and drops what they erase.
    let store = ledger.view().store();
    let size = store.tree_size().unwrap();
    let mut entries = held;
    let new = reader_entries_between(store, &Reader::Actor(id("ua")), entries.len() as u64, size);
    entries.extend(new.unwrap().0);
    let copy = temp.path().join("ua-copy");
    let meta = truce_store::LogMeta {
        reader: "ua".to_owned(),
        ..store.meta().unwrap()
    };
    write_copy(&copy, &meta, entries, store.checkpoints().unwrap()).unwrap();
    verify_data_dir(&copy, None).unwrap_or_else(|e| panic!("{e}"));
    let store_key = |dir: &Path| std::fs::read(dir.join(KEYS_DIR).join("store.key")).unwrap();
    let copy_key = store_key(&copy);
    if at_rest == AtRest::Encrypted {
        assert_ne!(
            copy_key,
            store_key(&dir),
            "the copy has its reader's own key"
        );
    }
    for marker in markers {
        assert_eq!(
            files_holding(&copy, marker),
            Vec::<String>::new(),
            "{marker}"
        );
    }
    drop(LogView::open(&copy).unwrap());
}

#[test]
fn a_party_cannot_tell_whether_a_list_id_of_the_other_party_exists() {
    let (_temp, dir, mut ledger) = istanbul();
    let mut answers = std::collections::BTreeSet::new();
    for list_id in ["ua-held-pow", "ua-held-never"] {
        for version in [1, 2] {
            let mut list = ledger
                .state()
                .exchange()
                .list("ru-held-pow")
                .unwrap()
                .clone();
            list.list_id = list_id.to_owned();
            list.version = version;
            list.persons.truncate(2);
            let event = ExchangeEvent::ListSubmitted(list).into();
            answers.insert((version, refusal(&mut ledger, &dir, "ru", event, list_id)));
        }
    }
    // One answer per version, whether ua's list exists or not.
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert!(
        answers
            .iter()
            .all(|(_, a)| a.contains("a list id of ru starts with ru-"))
    );
}

/// A match decision names a person of each party and says which fields of
/// theirs agreed: the intermediary keeps it to itself. ru reads none of the
/// scenario's decisions, and no payload ru may read names a person ua seeks
/// (ru hands them over by its own ids); ua's case is the same.
#[test]
fn a_party_reads_no_match_decision_and_no_id_of_the_other_partys_sought_persons() {
    let (_temp, _dir, ledger) = istanbul();
    let decisions: Vec<_> = ledger.state().exchange().matches().collect();
    assert!(decisions.len() > 3_000, "{}", decisions.len());
    for (reader, other) in [("ru", "ua"), ("ua", "ru")] {
        let sought: Vec<&str> = decisions
            .iter()
            .map(|(d, _)| &d.sought)
            .filter(|p| p.list_id.starts_with(&format!("{other}-")))
            .map(|p| p.person_id.as_str())
            .collect();
        let (entries, _) =
            reader_entries(ledger.view().store(), &Reader::Actor(id(reader))).unwrap();
        let mut read_decisions = 0;
        for entry in entries {
            let truce_store::PayloadRecord::Present(payload) = entry.payload else {
                continue;
            };
            let text = String::from_utf8_lossy(&payload);
            if text.contains("\"kind\":\"match_decided\"") {
                read_decisions += 1;
            }
            for person in &sought {
                assert!(
                    !text.contains(&format!("\"{person}\"")),
                    "{reader} reads {other}'s sought person {person} in entry {}",
                    entry.index
                );
            }
        }
        assert_eq!(read_decisions, 0, "{reader}");
    }
}

/// Every `list_id` a JSON value names, at any depth.
fn list_ids(value: &serde_json::Value, found: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(fields) => {
            for (name, field) in fields {
                match (name.as_str(), field) {
                    ("list_id", serde_json::Value::String(id)) => found.push(id.clone()),
                    _ => list_ids(field, found),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| list_ids(item, found)),
        _ => {}
    }
}

/// Stages and handovers are read by both parties: each reads the other's
/// persons by pseudonym only, and its own through its listings. No payload
/// a party may read names a list of the other party, its listings cover
/// every stage, and the handovers name the persons as the stages do.
#[test]
fn a_party_reads_the_other_partys_staged_persons_by_pseudonym_only() {
    let (_temp, _dir, ledger) = istanbul();
    let stages: Vec<_> = ledger.state().exchange().stages().collect();
    assert!(stages.len() >= 14, "{}", stages.len());
    for record in &stages {
        let by_reference = record.stage.batches.iter().any(|b| b.persons.is_some());
        assert!(!by_reference, "{}", record.stage.stage_id);
        let handover = record.handover.as_ref().unwrap();
        let staged: Vec<_> = record
            .stage
            .batches
            .iter()
            .flat_map(|b| b.staged())
            .collect();
        let named: Vec<_> = handover
            .outcomes
            .iter()
            .filter_map(|o| o.staged())
            .collect();
        assert_eq!(named, staged, "{}", record.stage.stage_id);
    }
    for (reader, other) in [("ru", "ua"), ("ua", "ru")] {
        let (entries, _) =
            reader_entries(ledger.view().store(), &Reader::Actor(id(reader))).unwrap();
        let mut listings = 0;
        for entry in entries {
            let truce_store::PayloadRecord::Present(payload) = entry.payload else {
                continue;
            };
            let envelope = truce_core::Envelope::from_leaf(&entry.leaf).unwrap();
            let event = envelope.statement().payload_part(&payload).unwrap();
            let event: serde_json::Value = serde_json::from_slice(event).unwrap();
            if event["kind"] == "stage_batch_listed" {
                assert_eq!(event["from"], reader, "entry {}", entry.index);
                listings += 1;
            }
            let mut named = Vec::new();
            list_ids(&event, &mut named);
            for list_id in named {
                assert!(
                    !list_id.starts_with(&format!("{other}-")),
                    "{reader} reads {other}'s list {list_id} in entry {}",
                    entry.index
                );
            }
        }
        assert_eq!(listings, stages.len(), "{reader}'s listings");
    }
}

/// A replay skips a rule whose payload is erased, but a new entry is held
/// to every rule: after an erasure, a stage naming nobody, or a person of
/// the erased list, is refused, and the log still verifies.
#[test]
fn after_an_erasure_new_entries_are_still_held_to_every_rule() {
    let (_temp, dir, mut ledger) = istanbul();
    let list = late_list(&ledger, "Zzlate");
    let list_entry = record(
        &mut ledger,
        &dir,
        "ua",
        ExchangeEvent::ListSubmitted(list).into(),
    );
    let erasure = RegistryEvent::PayloadErased {
        entry_index: list_entry,
        legal_basis: "erasure request 2026/2".to_owned(),
    };
    let erased_at = record(&mut ledger, &dir, "intermediary", erasure.into());
    // The state saved before the erased entry stays (the refold starts from
    // it); every state after it is dropped but the erasure's own. `verify`
    // below compares each with a replay.
    let saved: Vec<u64> = ledger
        .view()
        .store()
        .saved_states()
        .unwrap()
        .into_iter()
        .map(|saved| saved.tree_size)
        .collect();
    assert!(saved.iter().any(|size| *size <= list_entry), "{saved:?}");
    assert!(saved.contains(&(erased_at + 1)), "{saved:?}");
    assert!(
        saved
            .iter()
            .all(|size| *size <= list_entry || *size == erased_at + 1),
        "{saved:?}"
    );
    let erased_person = late_stage(&ledger, "a waiver");
    let mut nobody = erased_person.clone();
    nobody.stage_id = "remains-stage-nobody".to_owned();
    for batch in &mut nobody.batches {
        if let Some(persons) = batch.persons.as_mut() {
            for person in persons {
                person.list_id = "ua-held-remains".to_owned();
                person.person_id = "ua-r-never".to_owned();
            }
        }
    }
    for stage in [erased_person, nobody] {
        let stage_id = stage.stage_id.clone();
        let refused = refusal(
            &mut ledger,
            &dir,
            "intermediary",
            ExchangeEvent::StageProposed(stage).into(),
            "ua-held-remains",
        );
        assert!(refused.contains("no person"), "{stage_id}: {refused}");
    }
    verify_data_dir(&dir, None).unwrap_or_else(|e| panic!("{e}"));
}

/// A stage's proposal lands whole or not at all: when a listing breaks a
/// rule (here, persons already handed over in an earlier stage, under fresh
/// pseudonyms), neither the stage nor the other listing is recorded.
#[test]
fn a_proposal_whose_listing_is_refused_records_nothing() {
    let (_temp, dir, mut ledger) = istanbul();
    let size = ledger.state().tree_size();
    let earlier = ledger.state().exchange().stage("pow-stage-1").unwrap();
    let mut plan = earlier.stage.clone();
    plan.stage_id = "pow-stage-again".to_owned();
    for batch in &mut plan.batches {
        let persons = earlier.roster(&batch.from).unwrap();
        let persons = persons.into_iter().map(|(_, p)| p.clone()).collect();
        *batch = StageBatch::named(batch.from.clone(), persons);
    }
    let key = read_key_file(&dir.join(KEYS_DIR).join("intermediary.key")).unwrap();
    let drafts = app::propose_stage(ledger.state(), plan, &PseudonymKey::of(&key)).unwrap();
    let intermediary = id("intermediary");
    let items = drafts
        .into_iter()
        .map(|d| {
            (
                d.event.kind().to_owned(),
                intermediary.clone(),
                &key,
                d.event,
                d.visibility,
            )
        })
        .collect();
    let refused = ledger.append_all(items).unwrap_err().to_string();
    assert!(refused.contains("already staged"), "{refused}");
    assert_eq!(ledger.state().tree_size(), size);
    assert!(ledger.state().exchange().stage("pow-stage-again").is_none());
}

/// Erasing a listing (the references behind a batch) leaves the log
/// verifying: the stage, its acceptances, handover and tally replay without
/// it, and the intermediary no longer knows whom that batch held.
#[test]
fn erasing_a_stage_listing_keeps_the_log_verifying() {
    let (_temp, dir, mut ledger) = istanbul();
    let (entries, _) = reader_entries(ledger.view().store(), &Reader::Intermediary).unwrap();
    let listing = entries
        .iter()
        .find(|e| {
            let envelope = truce_core::Envelope::from_leaf(&e.leaf).unwrap();
            envelope.statement().kind == "stage_batch_listed"
        })
        .unwrap()
        .index;
    let erasure = RegistryEvent::PayloadErased {
        entry_index: listing,
        legal_basis: "erasure request 2026/3".to_owned(),
    };
    record(&mut ledger, &dir, "intermediary", erasure.into());
    let report = verify_data_dir(&dir, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.payloads_erased, 1);
    let stage = ledger.state().exchange().stage("pow-stage-1").unwrap();
    let unknown = stage
        .members()
        .iter()
        .filter(|m| m.person.is_none())
        .count();
    assert_eq!(unknown, stage.stage.batches[0].len());
}
