//! The pure core read as given / when / then: given these entries, when this
//! one comes, then it is accepted (and folded) or refused with this reason.

use proptest::prelude::*;
use tlog::{Checkpoint, KeyType, SignerKey};
use truce_core::canonical::{from_canonical, to_canonical};
use truce_core::envelope::{SALT_BYTES, key_id_hex, sha256_hex};
use truce_core::projection::{Cell, RowChange};
use truce_core::{
    ActorId, ActorRole, Envelope, Event, KeyCustody, LogState, PayloadView, Reader, Statement,
    Visibility,
};
use truce_core::{
    exchange::ExchangeEvent, negotiation::NegotiationEvent, registry::RegistryEvent,
    remarks::RemarkEvent,
};

const ORIGIN: &str = "truce.test/core";
/// A fixed salt: the core takes its randomness as an argument.
const SALT: [u8; SALT_BYTES] = [0x5a; SALT_BYTES];

fn id(text: &str) -> ActorId {
    ActorId::new(text).unwrap()
}

/// A log in memory: the state and the envelopes it accepted.
struct Log {
    state: LogState,
    accepted: Vec<(Envelope, Event)>,
    log_key: SignerKey,
    me: SignerKey,
}

impl Log {
    fn new() -> Log {
        let log_key = SignerKey::generate(ORIGIN, KeyType::Ed25519).unwrap();
        let me = SignerKey::generate("truce.test/intermediary", KeyType::Ed25519).unwrap();
        let mut log = Log {
            state: LogState::new(),
            accepted: Vec::new(),
            log_key,
            me,
        };
        let genesis = Event::Registry(RegistryEvent::LogCreated {
            origin: ORIGIN.to_owned(),
            log_vkey: log.log_key.verifier().to_string(),
            intermediary: id("icrc"),
            intermediary_name: "Intermediary".to_owned(),
            intermediary_vkey: log.me.verifier().to_string(),
        });
        let me = log.me.clone();
        log.submit("icrc", &me, genesis, Visibility::Public)
            .unwrap();
        log
    }

    fn envelope(
        &self,
        actor: &str,
        key: &SignerKey,
        event: &Event,
        visibility: Visibility,
    ) -> Envelope {
        let seq = self.state.next_seq(&id(actor));
        let (statement, _) =
            Statement::for_event(ORIGIN, &id(actor), key, seq, event, visibility, 1_000, SALT);
        let index = self.state.tree_size();
        Envelope {
            index,
            logged_at_ms: 1_000 + index as i64,
            checkpoint_size: index,
            signed: statement.sign(key),
        }
    }

    /// Checks signature and rules, then folds: what the ledger does.
    fn submit_envelope(&mut self, envelope: Envelope, event: Event) -> Result<u64, String> {
        let view = PayloadView::Present(&event);
        let key = self
            .state
            .signing_key(&envelope, view)
            .map_err(|e| e.to_string())?;
        envelope.signed.verify(&key).map_err(|e| e.to_string())?;
        self.state
            .check(&envelope, view)
            .map_err(|e| e.to_string())?;
        self.state.apply(&envelope, view);
        let index = envelope.index;
        self.accepted.push((envelope, event));
        Ok(index)
    }

    fn submit(
        &mut self,
        actor: &str,
        key: &SignerKey,
        event: Event,
        visibility: Visibility,
    ) -> Result<u64, String> {
        let envelope = self.envelope(actor, key, &event, visibility);
        self.submit_envelope(envelope, event)
    }

    fn register(&mut self, actor: &str, role: ActorRole, key: &SignerKey) -> Result<u64, String> {
        let me = self.me.clone();
        let event = Event::Registry(RegistryEvent::ActorRegistered {
            actor: id(actor),
            role,
            name: actor.to_uppercase(),
            vkey: key.verifier().to_string(),
        });
        self.submit("icrc", &me, event, Visibility::Public)
    }

    fn as_intermediary(&mut self, event: Event, visibility: Visibility) -> Result<u64, String> {
        let me = self.me.clone();
        self.submit("icrc", &me, event, visibility)
    }
}

fn key(name: &str) -> SignerKey {
    SignerKey::generate(name, KeyType::Ed25519).unwrap()
}

fn remark(text: &str) -> Event {
    Event::Remark(RemarkEvent::RemarkRecorded {
        subject: "s".to_owned(),
        text: text.to_owned(),
    })
}

/// A payload of exactly the bound is read; one byte more is refused
/// before its hash or its JSON is looked at.
#[test]
fn a_payload_at_the_bound_is_read_and_one_byte_more_is_refused() {
    use truce_core::limits::MAX_PAYLOAD_BYTES;
    let me = key("truce.test/intermediary");
    let of_size = |size: usize| {
        let frame = remark("").to_payload().len();
        let event = remark(&"a".repeat(size - frame));
        let (statement, payload) = Statement::for_event(
            ORIGIN,
            &id("icrc"),
            &me,
            1,
            &event,
            Visibility::Public,
            0,
            SALT,
        );
        assert_eq!(payload.len(), SALT_BYTES + size);
        statement.event_of(&payload)
    };
    assert!(of_size(MAX_PAYLOAD_BYTES).is_ok());
    let refused = of_size(MAX_PAYLOAD_BYTES + 1).unwrap_err().to_string();
    assert_eq!(
        refused,
        format!("payload larger than {MAX_PAYLOAD_BYTES} bytes")
    );
}

#[test]
fn only_the_intermediary_registers_actors() {
    let mut log = Log::new();
    let ua = key("ua");
    log.register("ua", ActorRole::Party, &ua).unwrap();
    let ru = key("ru");
    let by_party = Event::Registry(RegistryEvent::ActorRegistered {
        actor: id("ru"),
        role: ActorRole::Party,
        name: "RU".into(),
        vkey: ru.verifier().to_string(),
    });
    let refused = log
        .submit("ua", &ua, by_party, Visibility::Public)
        .unwrap_err();
    assert!(refused.contains("only the intermediary"), "{refused}");
    assert!(
        log.register("ua", ActorRole::Party, &ru)
            .unwrap_err()
            .contains("already registered")
    );
    assert!(
        log.register("second", ActorRole::Intermediary, &ru)
            .unwrap_err()
            .contains("one intermediary")
    );
}

#[test]
fn a_rotated_key_signs_up_to_its_rotation_and_the_new_one_after() {
    let mut log = Log::new();
    let old = key("ua-1");
    log.register("ua", ActorRole::Party, &old).unwrap();
    log.submit("ua", &old, remark("before"), Visibility::Public)
        .unwrap();
    let new = key("ua-2");
    // The rotation itself is signed with the old key.
    log.submit(
        "ua",
        &old,
        Event::Registry(RegistryEvent::KeyRotated {
            actor: id("ua"),
            new_vkey: new.verifier().to_string(),
        }),
        Visibility::Public,
    )
    .unwrap();
    let stale = log
        .submit("ua", &old, remark("stale"), Visibility::Public)
        .unwrap_err();
    assert!(stale.contains("rotated"), "{stale}");
    log.submit("ua", &new, remark("after"), Visibility::Public)
        .unwrap();
}

#[test]
fn a_revoked_key_signs_nothing_more_until_the_intermediary_rotates_one_in() {
    let mut log = Log::new();
    let old = key("ru-1");
    log.register("ru", ActorRole::Party, &old).unwrap();
    let revoke = Event::Registry(RegistryEvent::KeyRevoked {
        actor: id("ru"),
        key_id: key_id_hex(old.key_id()),
        reason: "lost".into(),
    });
    log.as_intermediary(revoke.clone(), Visibility::Public)
        .unwrap();
    assert!(
        log.submit("ru", &old, remark("x"), Visibility::Public)
            .unwrap_err()
            .contains("revoked")
    );
    assert!(
        log.as_intermediary(revoke, Visibility::Public)
            .unwrap_err()
            .contains("no longer active")
    );
    let new = key("ru-2");
    log.as_intermediary(
        Event::Registry(RegistryEvent::KeyRotated {
            actor: id("ru"),
            new_vkey: new.verifier().to_string(),
        }),
        Visibility::Public,
    )
    .unwrap();
    log.submit("ru", &new, remark("back"), Visibility::Public)
        .unwrap();
}

#[test]
fn a_weak_key_is_never_registered() {
    let mut log = Log::new();
    // The identity point: small order, so it "verifies" forged signatures
    // under a cofactored equation.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let weak = ed25519_dalek::VerifyingKey::from_bytes(&identity).unwrap();
    let vkey = tlog::VerifierKey::new("truce.test/weak", KeyType::Ed25519, weak).unwrap();
    let event = Event::Registry(RegistryEvent::ActorRegistered {
        actor: id("ua"),
        role: ActorRole::Party,
        name: "UA".into(),
        vkey: vkey.to_string(),
    });
    let refused = log.as_intermediary(event, Visibility::Public).unwrap_err();
    assert!(refused.contains("weak"), "{refused}");
}

#[test]
fn only_an_actor_itself_declares_who_holds_its_key_and_in_public() {
    let mut log = Log::new();
    let (ua, ru) = (key("ua"), key("ru"));
    log.register("ua", ActorRole::Party, &ua).unwrap();
    log.register("ru", ActorRole::Party, &ru).unwrap();
    let declare = |actor: &str| {
        Event::Registry(RegistryEvent::KeyCustodyDeclared {
            actor: id(actor),
            custody: KeyCustody::Server,
        })
    };
    assert_eq!(
        log.state.actor(&id("ua")).unwrap().key_custody,
        KeyCustody::Actor,
        "a party keeps its key unless it says otherwise"
    );
    let by_intermediary = log
        .as_intermediary(declare("ua"), Visibility::Public)
        .unwrap_err();
    assert!(
        by_intermediary.contains("only ua declares"),
        "{by_intermediary}"
    );
    assert!(
        log.submit("ru", &ru, declare("ua"), Visibility::Public)
            .is_err()
    );
    let private = log
        .submit("ua", &ua, declare("ua"), Visibility::Party(id("ua")))
        .unwrap_err();
    assert!(private.contains("must be public"), "{private}");
    log.submit("ua", &ua, declare("ua"), Visibility::Public)
        .unwrap();
    assert_eq!(
        log.state.actor(&id("ua")).unwrap().key_custody,
        KeyCustody::Server
    );
    assert_eq!(
        log.state.actor(&id("ru")).unwrap().key_custody,
        KeyCustody::Actor
    );
}

#[test]
fn a_party_cannot_change_another_partys_keys() {
    let mut log = Log::new();
    let (ua, ru) = (key("ua"), key("ru"));
    log.register("ua", ActorRole::Party, &ua).unwrap();
    log.register("ru", ActorRole::Party, &ru).unwrap();
    let hijack = Event::Registry(RegistryEvent::KeyRotated {
        actor: id("ru"),
        new_vkey: key("evil").verifier().to_string(),
    });
    assert!(
        log.submit("ua", &ua, hijack, Visibility::Public)
            .unwrap_err()
            .contains("only ru or the intermediary")
    );
}

#[test]
fn sequence_numbers_make_replays_fail() {
    let mut log = Log::new();
    let ua = key("ua");
    log.register("ua", ActorRole::Party, &ua).unwrap();
    let envelope = log.envelope("ua", &ua, &remark("once"), Visibility::Public);
    log.submit_envelope(envelope.clone(), remark("once"))
        .unwrap();
    let mut replay = envelope;
    replay.index = log.state.tree_size();
    replay.checkpoint_size = replay.index;
    let refused = log.submit_envelope(replay, remark("once")).unwrap_err();
    assert!(
        refused.contains("sequence 1 from ua where 2 comes next"),
        "{refused}"
    );
}

#[test]
fn a_statement_for_another_log_is_refused() {
    let mut log = Log::new();
    let ua = key("ua");
    log.register("ua", ActorRole::Party, &ua).unwrap();
    let (statement, _) = Statement::for_event(
        "other.log/x",
        &id("ua"),
        &ua,
        1,
        &remark("x"),
        Visibility::Public,
        0,
        SALT,
    );
    let index = log.state.tree_size();
    let envelope = Envelope {
        index,
        logged_at_ms: 5_000,
        checkpoint_size: index,
        signed: statement.sign(&ua),
    };
    assert!(
        log.submit_envelope(envelope, remark("x"))
            .unwrap_err()
            .contains("another log")
    );
}

#[test]
fn witnesses_cosign_but_sign_no_events() {
    let mut log = Log::new();
    let w1 = SignerKey::generate("w1", KeyType::Cosignature).unwrap();
    // A witness needs a cosigner (0x04) key, a party an Ed25519 (0x01) key.
    assert!(
        log.register("w1", ActorRole::Witness, &key("w1"))
            .unwrap_err()
            .contains("0x04")
    );
    assert!(
        log.register("ua", ActorRole::Party, &w1)
            .unwrap_err()
            .contains("0x01")
    );
    log.register("w1", ActorRole::Witness, &w1).unwrap();
    let root = [9u8; 32];
    let text = Checkpoint::new(ORIGIN, 2, root).to_text();
    let good = w1.cosign(&text, 1_700_000_000).unwrap().to_line();
    let cosigned = |line: &str| {
        Event::Registry(RegistryEvent::CheckpointCosigned {
            tree_size: 2,
            root_hash: base64_of(&root),
            witness: id("w1"),
            signature_line: line.trim_end().to_owned(),
        })
    };
    let forged = SignerKey::generate("w1", KeyType::Cosignature)
        .unwrap()
        .cosign(&text, 1_700_000_000)
        .unwrap()
        .to_line();
    assert!(
        log.as_intermediary(cosigned(&forged), Visibility::Public)
            .is_err()
    );
    log.as_intermediary(cosigned(&good), Visibility::Public)
        .unwrap();
    assert!(
        log.as_intermediary(cosigned(&good), Visibility::Public)
            .unwrap_err()
            .contains("already cosigned")
    );
    assert_eq!(log.state.cosignatures().len(), 1);
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn the_entries_every_reader_needs_are_public_and_never_erased() {
    let mut log = Log::new();
    let ua = key("ua");
    let event = Event::Registry(RegistryEvent::ActorRegistered {
        actor: id("ua"),
        role: ActorRole::Party,
        name: "UA".into(),
        vkey: ua.verifier().to_string(),
    });
    assert!(
        log.as_intermediary(event, Visibility::Intermediary)
            .unwrap_err()
            .contains("must be public")
    );
    let registered = log.register("ua", ActorRole::Party, &ua).unwrap();
    let erase = |entry_index| {
        Event::Registry(RegistryEvent::PayloadErased {
            entry_index,
            legal_basis: "court order".into(),
        })
    };
    assert!(
        log.as_intermediary(erase(registered), Visibility::Public)
            .unwrap_err()
            .contains("registry or erasure")
    );
    let private = log
        .submit("ua", &ua, remark("personal"), Visibility::Party(id("ua")))
        .unwrap();
    assert!(
        log.submit("ua", &ua, erase(private), Visibility::Public)
            .unwrap_err()
            .contains("only the intermediary")
    );
    let erasure = log
        .as_intermediary(erase(private), Visibility::Public)
        .unwrap();
    assert!(
        log.as_intermediary(erase(private), Visibility::Public)
            .unwrap_err()
            .contains("already erased")
    );
    assert!(
        log.as_intermediary(erase(erasure), Visibility::Public)
            .is_err()
    );
    assert!(
        log.as_intermediary(erase(999), Visibility::Public)
            .unwrap_err()
            .contains("does not exist")
    );
}

#[test]
fn a_reader_may_lack_private_payloads_but_not_public_or_registry_ones() {
    let mut log = Log::new();
    let ua = key("ua");
    log.register("ua", ActorRole::Party, &ua).unwrap();
    let private = log.envelope("ua", &ua, &remark("x"), Visibility::Party(id("ua")));
    assert!(log.state.check(&private, PayloadView::Withheld).is_ok());
    let public = log.envelope("ua", &ua, &remark("x"), Visibility::Public);
    assert!(
        log.state
            .check(&public, PayloadView::Withheld)
            .unwrap_err()
            .to_string()
            .contains("public payload is missing")
    );
    let rotation = Event::Registry(RegistryEvent::KeyRotated {
        actor: id("ua"),
        new_vkey: key("ua2").verifier().to_string(),
    });
    let registry = log.envelope("ua", &ua, &rotation, Visibility::Public);
    assert!(log.state.check(&registry, PayloadView::Erased).is_err());
}

#[test]
fn visibility_names_who_may_read() {
    let (ua, ru, osce) = (
        Reader::Actor(id("ua")),
        Reader::Actor(id("ru")),
        Reader::Actor(id("osce")),
    );
    let cases = [
        (Visibility::Public, [true, true, true, true, true]),
        (Visibility::Intermediary, [true, false, false, false, false]),
        (
            Visibility::Party(id("ua")),
            [true, true, false, false, false],
        ),
        (
            Visibility::Actors([id("ua"), id("osce")].into()),
            [true, true, false, true, false],
        ),
    ];
    for (visibility, expected) in cases {
        let readers = [&Reader::Intermediary, &ua, &ru, &osce, &Reader::Public];
        let got: Vec<bool> = readers.iter().map(|r| visibility.allows(r)).collect();
        assert_eq!(got, expected, "{visibility:?}");
    }
}

#[test]
fn canonical_bytes_are_unique() {
    let event = Event::Remark(RemarkEvent::RemarkRecorded {
        subject: "Ciragan\u{e7}".into(),
        text: "line\nbreak \"quoted\" \u{1}".into(),
    });
    let bytes = to_canonical(&event);
    // RFC 8785: sorted keys, no whitespace, short escapes, \u00xx lower-case.
    assert_eq!(
        String::from_utf8(bytes.clone()).unwrap(),
        "{\"kind\":\"remark_recorded\",\"subject\":\"Ciragan\u{e7}\",\"text\":\"line\\nbreak \\\"quoted\\\" \\u0001\"}"
    );
    assert_eq!(from_canonical::<Event>(&bytes).unwrap(), event);
    for variant in [
        "{\"subject\":\"a\",\"kind\":\"remark_recorded\",\"text\":\"b\"}",
        "{\"kind\": \"remark_recorded\",\"subject\":\"a\",\"text\":\"b\"}",
        "{\"kind\":\"remark_recorded\",\"subject\":\"\\u0061\",\"text\":\"b\"}",
        "{\"kind\":\"remark_recorded\",\"subject\":\"a\",\"text\":\"b\",\"extra\":1}",
    ] {
        assert!(
            from_canonical::<Event>(variant.as_bytes()).is_err(),
            "{variant}"
        );
    }
}

#[derive(Debug, Clone)]
enum Step {
    Register(u8),
    Rotate(u8, bool),
    Revoke(u8),
    Remark(u8, u8),
    Erase(u8),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u8..4).prop_map(Step::Register),
        (0u8..4, any::<bool>()).prop_map(|(a, by_self)| Step::Rotate(a, by_self)),
        (0u8..4).prop_map(Step::Revoke),
        (0u8..4, 0u8..4).prop_map(|(a, v)| Step::Remark(a, v)),
        (0u8..40).prop_map(Step::Erase),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever is accepted, a replay of the accepted entries from nothing
    /// accepts every one of them again and folds to the same state.
    #[test]
    fn replaying_the_accepted_entries_rebuilds_the_same_state(steps in prop::collection::vec(step(), 1..40)) {
        let mut log = Log::new();
        let names = ["ua", "ru", "osce", "un"];
        let mut keys: Vec<Option<SignerKey>> = vec![None, None, None, None];
        for step in steps {
            match step {
                Step::Register(a) => {
                    let k = key(names[a as usize]);
                    if log.register(names[a as usize], ActorRole::Party, &k).is_ok() {
                        keys[a as usize] = Some(k);
                    }
                }
                Step::Rotate(a, by_self) => {
                    let new = key(&format!("{}-next", names[a as usize]));
                    let event = Event::Registry(RegistryEvent::KeyRotated { actor: id(names[a as usize]), new_vkey: new.verifier().to_string() });
                    let accepted = match (&keys[a as usize], by_self) {
                        (Some(k), true) => {
                            let k = k.clone();
                            log.submit(names[a as usize], &k, event, Visibility::Public).is_ok()
                        }
                        _ => log.as_intermediary(event, Visibility::Public).is_ok(),
                    };
                    if accepted {
                        keys[a as usize] = Some(new);
                    }
                }
                Step::Revoke(a) => {
                    if let Some(k) = &keys[a as usize] {
                        let event = Event::Registry(RegistryEvent::KeyRevoked { actor: id(names[a as usize]), key_id: key_id_hex(k.key_id()), reason: "r".into() });
                        let _ = log.as_intermediary(event, Visibility::Public);
                    }
                }
                Step::Remark(a, v) => {
                    if let Some(k) = &keys[a as usize] {
                        let visibility = match v {
                            0 => Visibility::Public,
                            1 => Visibility::Intermediary,
                            2 => Visibility::Party(id(names[a as usize])),
                            _ => Visibility::Actors([id(names[a as usize]), id("icrc")].into()),
                        };
                        let k = k.clone();
                        let _ = log.submit(names[a as usize], &k, remark("r"), visibility);
                    }
                }
                Step::Erase(target) => {
                    let _ = log.as_intermediary(Event::Registry(RegistryEvent::PayloadErased { entry_index: target as u64, legal_basis: "l".into() }), Visibility::Public);
                }
            }
        }
        let mut replay = LogState::new();
        replay.record_row_changes();
        // The tables as an appender keeps them: the row changes of each
        // entry applied in order, upserted by primary key.
        let mut kept: std::collections::BTreeMap<&str, std::collections::BTreeMap<Vec<Cell>, Vec<Cell>>> =
            Default::default();
        for (envelope, event) in &log.accepted {
            let leaf = envelope.to_leaf();
            // The signing input cut from the leaf is the one serialised anew.
            prop_assert_eq!(Envelope::signing_input_from_leaf(&leaf), Some(envelope.statement().signing_input()));
            let envelope = Envelope::from_leaf(&leaf).unwrap();
            let view = PayloadView::Present(event);
            let key = replay.signing_key(&envelope, view).unwrap();
            envelope.signed.verify(&key).unwrap();
            replay.check(&envelope, view).unwrap();
            replay.apply(&envelope, view);
            for RowChange::Upsert(spec, row) in replay.take_row_changes() {
                kept.entry(spec.name).or_default().insert(row[..spec.key_columns].to_vec(), row);
            }
        }
        prop_assert_eq!(replay.derived_tables(), log.state.derived_tables());
        for table in replay.derived_tables() {
            let mut want = table.rows.clone();
            want.sort();
            let have: Vec<Vec<Cell>> = kept.remove(table.spec.name).unwrap_or_default().into_values().collect();
            prop_assert_eq!(have, want, "table {}", table.spec.name);
        }
        prop_assert_eq!(replay.tree_size(), log.state.tree_size());
    }
}

// --- The negotiation record and term rules ---------------------------------

mod negotiation {
    use chrono::{DateTime, FixedOffset, NaiveDate};
    use truce_core::negotiation::{
        Agreement, Claim, Claimant, DeadlineStatus, Document, DocumentKind, Position, Round,
        Stance, TermRef,
    };
    use truce_core::terms::{
        Assessment, Ceasefire, Coverage, Domain, Exchange, ExchangeSubject, Extension, PersonFacts,
        Predicate, Quantity, Scope, Status, Term, TermRule, Verdict, age_at,
    };

    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn moment(text: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(text).unwrap()
    }

    fn easter_truce() -> Ceasefire {
        Ceasefire {
            start: Some(moment("2025-04-19T18:00:00+03:00")),
            end: Some(moment("2025-04-21T00:00:00+03:00")),
            duration_days: None,
            extension: Extension::None,
            domains: [Domain::Land, Domain::Air, Domain::Sea].into(),
            scope: Scope::WholeFront,
            monitoring: None,
        }
    }

    #[test]
    fn a_ceasefire_holds_in_its_window_and_domains_only() {
        let truce = easter_truce();
        let cases = [
            (
                "2025-04-19T17:59:59+03:00",
                Domain::Land,
                Coverage::NotYetStarted,
            ),
            ("2025-04-19T18:00:00+03:00", Domain::Land, Coverage::InForce),
            // The same instant written in UTC.
            ("2025-04-19T15:00:00+00:00", Domain::Air, Coverage::InForce),
            ("2025-04-20T23:59:59+03:00", Domain::Sea, Coverage::InForce),
            ("2025-04-21T00:00:00+03:00", Domain::Land, Coverage::Ended),
        ];
        for (at, domain, expected) in cases {
            assert_eq!(
                truce.covers(moment(at), domain, 0),
                expected,
                "{at} {domain:?}"
            );
        }
        let local = Ceasefire {
            domains: [Domain::Land].into(),
            scope: Scope::Local {
                area: "a sector".into(),
                purpose: "collect the dead".into(),
            },
            ..easter_truce()
        };
        assert_eq!(
            local.covers(moment("2025-04-20T00:00:00+03:00"), Domain::Air, 0),
            Coverage::DomainNotCovered
        );
    }

    #[test]
    fn a_ceasefire_by_duration_ends_after_it_and_extends_by_agreement() {
        let moratorium = Ceasefire {
            start: Some(moment("2025-03-18T00:00:00+03:00")),
            end: None,
            duration_days: Some(30),
            extension: Extension::ByAgreement,
            ..easter_truce()
        };
        assert_eq!(moratorium.end(), Some(moment("2025-04-17T00:00:00+03:00")));
        assert_eq!(
            moratorium.covers(moment("2025-04-20T00:00:00+03:00"), Domain::Land, 0),
            Coverage::Ended
        );
        assert_eq!(
            moratorium.covers(moment("2025-04-20T00:00:00+03:00"), Domain::Land, 1),
            Coverage::InForce
        );
        assert_eq!(
            moratorium.end_with_extensions(2),
            Some(moment("2025-06-16T00:00:00+03:00"))
        );
        let proposed = Ceasefire {
            start: None,
            ..moratorium
        };
        assert_eq!(
            proposed.covers(moment("2025-06-10T00:00:00+03:00"), Domain::Sea, 0),
            Coverage::NoStartAgreed
        );
    }

    fn prisoners_term() -> Exchange {
        let reference = day("2025-06-02");
        Exchange {
            subject: ExchangeSubject::PrisonersOfWar,
            ratio: (1, 1),
            quantity: Quantity::AllForAll {
                minimum_per_side: 1000,
            },
            categories: vec![
                truce_core::terms::Category {
                    name: "severely wounded".into(),
                    predicate: Predicate::Assessed {
                        assessment: Assessment::SeverelyWounded,
                    },
                },
                truce_core::terms::Category {
                    name: "seriously ill".into(),
                    predicate: Predicate::Assessed {
                        assessment: Assessment::SeriouslyIll,
                    },
                },
                truce_core::terms::Category {
                    name: "aged 18 to 25".into(),
                    predicate: Predicate::AgeBetween {
                        min: 18,
                        max: 25,
                        reference,
                    },
                },
            ],
            deadline: None,
        }
    }

    fn born(text: &str) -> PersonFacts {
        PersonFacts {
            date_of_birth: Some(day(text)),
            assessments: vec![],
            status: Some(Status::Military),
        }
    }

    #[test]
    fn age_categories_count_whole_years_at_the_reference_date() {
        let term = prisoners_term();
        // Born on 2 June 2000: 25 on the reference day, still in.
        assert_eq!(term.priority_of(&born("2000-06-02")), Ok(2));
        // Born a day earlier in 1999: turned 26 the day before.
        assert!(term.priority_of(&born("1999-06-02")).is_err());
        assert_eq!(term.priority_of(&born("2007-06-02")), Ok(2));
        // Seventeen on the day: not yet in.
        let too_young = term.priority_of(&born("2007-06-03")).unwrap_err();
        assert!(
            too_young.iter().any(|why| why.contains("aged 17")),
            "{too_young:?}"
        );
        assert_eq!(age_at(day("2000-02-29"), day("2025-02-28")), 24);
        assert_eq!(age_at(day("2000-02-29"), day("2025-03-01")), 25);
    }

    #[test]
    fn commission_assessments_come_first_in_priority_order() {
        let term = prisoners_term();
        let wounded_and_young = PersonFacts {
            assessments: vec![Assessment::SeverelyWounded],
            ..born("2003-01-01")
        };
        assert_eq!(term.priority_of(&wounded_and_young), Ok(0));
        let ill = PersonFacts {
            assessments: vec![Assessment::SeriouslyIll],
            ..born("1970-01-01")
        };
        assert_eq!(term.priority_of(&ill), Ok(1));
        let unknown = PersonFacts::default();
        let reasons = term.priority_of(&unknown).unwrap_err();
        assert!(
            reasons
                .iter()
                .any(|why| why.contains("date of birth unknown")),
            "{reasons:?}"
        );
        let either = Predicate::AnyOf {
            predicates: vec![
                Predicate::Assessed {
                    assessment: Assessment::SeriouslyIll,
                },
                Predicate::HasStatus {
                    status: Status::Civilian,
                },
            ],
        };
        assert!(matches!(either.evaluate(&unknown), Verdict::Unknown(_)));
        let both = Predicate::AllOf {
            predicates: vec![
                Predicate::HasStatus {
                    status: Status::Military,
                },
                Predicate::AgeBetween {
                    min: 18,
                    max: 25,
                    reference: day("2025-06-02"),
                },
            ],
        };
        assert_eq!(both.evaluate(&born("2001-01-01")), Verdict::Holds);
    }

    #[test]
    fn quotas_report_progress_and_parity() {
        let remains = Exchange {
            subject: ExchangeSubject::Remains,
            ratio: (1, 1),
            quantity: Quantity::NForN { n: 6000 },
            categories: vec![],
            deadline: None,
        };
        let progress = remains.progress((6057, 78));
        assert!(!progress.met && !progress.at_parity);
        assert_eq!(progress.target_per_side, (6000, 6000));
        let done = remains.progress((6000, 6000));
        assert!(done.met && done.at_parity);
        let all_for_all = prisoners_term().progress((1000, 999));
        assert!(!all_for_all.met && !all_for_all.at_parity);
        let two_for_one = Exchange {
            ratio: (2, 1),
            ..remains
        }
        .progress((200, 100));
        assert!(two_for_one.at_parity);
    }

    fn round() -> Round {
        Round {
            round_id: "r2".into(),
            number: 2,
            date: day("2025-06-02"),
            venue: "Ciragan Palace".into(),
            host: Some("Turkey".into()),
            mediators: vec![],
            started_at: None,
            ended_at: None,
            duration_minutes: Some(60),
            delegations: vec![],
            summary: String::new(),
        }
    }

    fn provision(term_id: &str) -> Term {
        Term {
            term_id: term_id.into(),
            title: term_id.into(),
            rule: TermRule::Provision(truce_core::terms::Provision {
                topic: truce_core::terms::ProvisionTopic::Other,
                text: "text".into(),
                tags: vec![],
            }),
            response_deadline: None,
        }
    }

    fn memorandum(id: &str, by: &str, deadline_for: Option<&str>) -> Document {
        Document {
            document_id: id.into(),
            round_id: Some("r2".into()),
            document_kind: DocumentKind::Memorandum,
            tabled_by: vec![super::id(by)],
            title: id.into(),
            date: day("2025-06-02"),
            terms: vec![provision("t1"), provision("t2")],
            response_deadline: deadline_for.map(|p| truce_core::negotiation::Deadline {
                party: super::id(p),
                due: day("2025-06-09"),
            }),
        }
    }

    fn parties() -> (Log, SignerKey, SignerKey) {
        let mut log = Log::new();
        let (ua, ru) = (key("ua"), key("ru"));
        log.register("ua", ActorRole::Party, &ua).unwrap();
        log.register("ru", ActorRole::Party, &ru).unwrap();
        log.as_intermediary(
            Event::Negotiation(NegotiationEvent::RoundRecorded(round())),
            Visibility::Public,
        )
        .unwrap();
        (log, ua, ru)
    }

    fn position(party: &str, document: &str, term: &str, stance: Stance, date: &str) -> Event {
        Event::Negotiation(NegotiationEvent::PositionTaken(Position {
            party: super::id(party),
            term: TermRef {
                document_id: document.into(),
                term_id: term.into(),
            },
            stance,
            date: day(date),
            source_document: None,
            note: String::new(),
        }))
    }

    #[test]
    fn each_party_tables_its_own_memorandum_and_states_its_own_positions() {
        let (mut log, ua, ru) = parties();
        let refused = log.submit(
            "ua",
            &ua,
            Event::Negotiation(NegotiationEvent::DocumentTabled(memorandum(
                "ru-m", "ru", None,
            ))),
            Visibility::Public,
        );
        assert!(refused.unwrap_err().contains("only its own documents"));
        log.submit(
            "ru",
            &ru,
            Event::Negotiation(NegotiationEvent::DocumentTabled(memorandum(
                "ru-m",
                "ru",
                Some("ua"),
            ))),
            Visibility::Public,
        )
        .unwrap();
        let forged = position("ru", "ru-m", "t1", Stance::Accepted, "2025-06-03");
        assert!(
            log.submit("ua", &ua, forged, Visibility::Public)
                .unwrap_err()
                .contains("own positions")
        );
        let unknown = position("ua", "ru-m", "t9", Stance::Accepted, "2025-06-03");
        assert!(
            log.submit("ua", &ua, unknown, Visibility::Public)
                .unwrap_err()
                .contains("no such term")
        );
        let early = position("ua", "ru-m", "t1", Stance::Accepted, "2025-06-01");
        assert!(
            log.submit("ua", &ua, early, Visibility::Public)
                .unwrap_err()
                .contains("before the document")
        );
    }

    #[test]
    fn positions_change_over_time_and_are_read_as_of_a_date() {
        let (mut log, ua, ru) = parties();
        log.submit(
            "ru",
            &ru,
            Event::Negotiation(NegotiationEvent::DocumentTabled(memorandum(
                "ru-m",
                "ru",
                Some("ua"),
            ))),
            Visibility::Public,
        )
        .unwrap();
        log.submit(
            "ua",
            &ua,
            Event::Negotiation(NegotiationEvent::DocumentTabled(memorandum(
                "ua-m", "ua", None,
            ))),
            Visibility::Public,
        )
        .unwrap();
        let t1 = TermRef {
            document_id: "ru-m".into(),
            term_id: "t1".into(),
        };
        let counter = Stance::Countered {
            counter: TermRef {
                document_id: "ua-m".into(),
                term_id: "t1".into(),
            },
        };
        log.submit(
            "ua",
            &ua,
            position("ua", "ru-m", "t1", counter.clone(), "2025-06-05"),
            Visibility::Public,
        )
        .unwrap();
        log.submit(
            "ua",
            &ua,
            position("ua", "ru-m", "t1", Stance::Accepted, "2025-06-20"),
            Visibility::Public,
        )
        .unwrap();
        let negotiation = log.state.negotiation();
        assert_eq!(
            negotiation.stance_at(&id("ua"), &t1, day("2025-06-04")),
            None
        );
        assert_eq!(
            negotiation.stance_at(&id("ua"), &t1, day("2025-06-10")),
            Some(&counter)
        );
        assert_eq!(
            negotiation.stance_at(&id("ua"), &t1, day("2025-06-20")),
            Some(&Stance::Accepted)
        );
        assert_eq!(
            negotiation.stance_at(&id("ru"), &t1, day("2025-06-02")),
            Some(&Stance::Proposed)
        );
    }

    #[test]
    fn deadlines_are_due_then_overdue_until_answered() {
        let (mut log, ua, ru) = parties();
        log.submit(
            "ru",
            &ru,
            Event::Negotiation(NegotiationEvent::DocumentTabled(memorandum(
                "ru-m",
                "ru",
                Some("ua"),
            ))),
            Visibility::Public,
        )
        .unwrap();
        let status =
            |log: &Log, today: &str| log.state.negotiation().deadlines(day(today))[0].status;
        assert_eq!(
            status(&log, "2025-06-05"),
            DeadlineStatus::Due { days_left: 4 }
        );
        assert_eq!(
            status(&log, "2025-06-09"),
            DeadlineStatus::Due { days_left: 0 }
        );
        assert_eq!(
            status(&log, "2025-06-12"),
            DeadlineStatus::Overdue { days: 3 }
        );
        // ru's own "proposed" is not an answer; ua's rejection is.
        log.submit(
            "ua",
            &ua,
            position("ua", "ru-m", "t2", Stance::Rejected, "2025-06-11"),
            Visibility::Public,
        )
        .unwrap();
        assert_eq!(
            status(&log, "2025-06-12"),
            DeadlineStatus::Answered {
                on: day("2025-06-11"),
                late: true
            }
        );
        // A term can carry its own deadline, answered by a stance on it.
        let mut with_term_deadline = memorandum("ru-m2", "ru", None);
        with_term_deadline.terms[0].response_deadline = Some(truce_core::negotiation::Deadline {
            party: id("ua"),
            due: day("2025-06-20"),
        });
        log.submit(
            "ru",
            &ru,
            Event::Negotiation(NegotiationEvent::DocumentTabled(with_term_deadline)),
            Visibility::Public,
        )
        .unwrap();
        let term_deadline = |log: &Log, today: &str| {
            log.state
                .negotiation()
                .deadlines(day(today))
                .into_iter()
                .find(|d| d.term_id.as_deref() == Some("t1"))
                .unwrap()
                .status
        };
        assert_eq!(
            term_deadline(&log, "2025-06-21"),
            DeadlineStatus::Overdue { days: 1 }
        );
        log.submit(
            "ua",
            &ua,
            position("ua", "ru-m2", "t2", Stance::Accepted, "2025-06-10"),
            Visibility::Public,
        )
        .unwrap();
        assert_eq!(
            term_deadline(&log, "2025-06-21"),
            DeadlineStatus::Overdue { days: 1 }
        );
        log.submit(
            "ua",
            &ua,
            position("ua", "ru-m2", "t1", Stance::Accepted, "2025-06-12"),
            Visibility::Public,
        )
        .unwrap();
        assert_eq!(
            term_deadline(&log, "2025-06-21"),
            DeadlineStatus::Answered {
                on: day("2025-06-12"),
                late: false
            }
        );
        assert_eq!(
            status(&log, "2025-06-30"),
            DeadlineStatus::Answered {
                on: day("2025-06-11"),
                late: true
            }
        );
    }

    #[test]
    fn an_agreement_holds_only_terms_every_party_accepted() {
        let (mut log, ua, ru) = parties();
        log.submit(
            "ru",
            &ru,
            Event::Negotiation(NegotiationEvent::DocumentTabled(memorandum(
                "ru-m", "ru", None,
            ))),
            Visibility::Public,
        )
        .unwrap();
        let agreement = |terms: &[&str]| {
            Event::Negotiation(NegotiationEvent::AgreementRecorded(Agreement {
                agreement_id: format!("a-{}", terms.join("-")),
                round_id: "r2".into(),
                date: day("2025-06-10"),
                terms: terms
                    .iter()
                    .map(|t| TermRef {
                        document_id: "ru-m".into(),
                        term_id: (*t).into(),
                    })
                    .collect(),
            }))
        };
        assert!(
            log.as_intermediary(agreement(&["t1"]), Visibility::Public)
                .unwrap_err()
                .contains("ua has taken no position")
        );
        log.submit(
            "ua",
            &ua,
            position("ua", "ru-m", "t1", Stance::Accepted, "2025-06-09"),
            Visibility::Public,
        )
        .unwrap();
        log.submit(
            "ua",
            &ua,
            position("ua", "ru-m", "t2", Stance::Rejected, "2025-06-09"),
            Visibility::Public,
        )
        .unwrap();
        assert!(
            log.as_intermediary(agreement(&["t1", "t2"]), Visibility::Public)
                .unwrap_err()
                .contains("rejected")
        );
        log.as_intermediary(agreement(&["t1"]), Visibility::Public)
            .unwrap();
        assert!(
            log.submit("ru", &ru, agreement(&["t1"]), Visibility::Public)
                .unwrap_err()
                .contains("intermediary")
        );
    }

    #[test]
    fn claims_stand_beside_each_other_and_only_their_claimant_states_them() {
        let (mut log, ua, ru) = parties();
        let claim = |id: &str, claimant: Claimant, figure: u64| {
            Event::Negotiation(NegotiationEvent::ClaimRecorded(Claim {
                claim_id: id.into(),
                claimant,
                date: day("2025-06-16"),
                measure: "bodies handed over to Ukraine".into(),
                figure,
                term: None,
                source: "statement".into(),
                note: String::new(),
                handed_over_by: None,
            }))
        };
        let ua_claim = || claim("ua-6057", Claimant::Party { party: id("ua") }, 6057);
        assert!(
            log.submit("ru", &ru, ua_claim(), Visibility::Public)
                .unwrap_err()
                .contains("only ua")
        );
        log.submit("ua", &ua, ua_claim(), Visibility::Public)
            .unwrap();
        log.submit(
            "ru",
            &ru,
            claim("ru-6060", Claimant::Party { party: id("ru") }, 6060),
            Visibility::Public,
        )
        .unwrap();
        let source = claim(
            "news-78",
            Claimant::Source {
                name: "news agency".into(),
            },
            78,
        );
        assert!(
            log.submit("ua", &ua, source.clone(), Visibility::Public)
                .unwrap_err()
                .contains("intermediary")
        );
        log.as_intermediary(source, Visibility::Public).unwrap();
        // Nothing merged: each claimant's figure is kept as stated.
        let figures: Vec<(String, u64)> = log
            .state
            .negotiation()
            .claims()
            .map(|c| (c.value.claimant.label(), c.value.figure))
            .collect();
        assert_eq!(
            figures,
            vec![
                ("news agency".into(), 78),
                ("ru".into(), 6060),
                ("ua".into(), 6057)
            ]
        );
        // A figure JSON would round (from 2^53 on) is refused, not rounded;
        // the largest exact one is kept as stated.
        let huge = claim(
            "ua-huge",
            Claimant::Party { party: id("ua") },
            (1 << 53) + 1,
        );
        assert_eq!(
            log.submit("ua", &ua, huge, Visibility::Public).unwrap_err(),
            "figure is 2^53 or more, which JSON does not keep exactly"
        );
        let exact = claim(
            "ua-exact",
            Claimant::Party { party: id("ua") },
            (1 << 53) - 1,
        );
        assert_eq!(Event::from_payload(&exact.to_payload()).unwrap(), exact);
        log.submit("ua", &ua, exact, Visibility::Public).unwrap();
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// A term's claims are read from an index kept beside the claims:
        /// whenever it is first read, and however many claims follow, it
        /// gives exactly the claims about that term, in the same order.
        #[test]
        fn the_claims_about_a_term_are_those_that_name_it(
            claims in prop::collection::vec((0u8..3, any::<bool>()), 1..30)
        ) {
            let (mut log, ua, _) = parties();
            let tabled = NegotiationEvent::DocumentTabled(memorandum("d", "ua", None));
            log.submit("ua", &ua, Event::Negotiation(tabled), Visibility::Public).unwrap();
            let terms: Vec<TermRef> = ["t1", "t2"]
                .map(|t| TermRef { document_id: "d".into(), term_id: t.into() })
                .into();
            for (i, (term, read_now)) in claims.into_iter().enumerate() {
                let event = Event::Negotiation(NegotiationEvent::ClaimRecorded(Claim {
                    claim_id: format!("c{}", 97 * i % 31),
                    claimant: Claimant::Party { party: id("ua") },
                    date: day("2025-06-16"),
                    measure: "bodies".into(),
                    figure: i as u64,
                    term: terms.get(term as usize).cloned(),
                    source: "statement".into(),
                    note: String::new(),
                    handed_over_by: None,
                }));
                log.submit("ua", &ua, event, Visibility::Public).unwrap();
                if read_now {
                    let negotiation = log.state.negotiation();
                    for term in &terms {
                        let indexed: Vec<u64> = negotiation.claims_about(term).map(|c| c.entry).collect();
                        let filtered: Vec<u64> = negotiation
                            .claims()
                            .filter(|c| c.value.term.as_ref() == Some(term))
                            .map(|c| c.entry)
                            .collect();
                        prop_assert_eq!(indexed, filtered);
                    }
                }
            }
        }
    }

    #[test]
    fn a_term_that_cannot_be_checked_is_refused() {
        let (mut log, ua, _) = parties();
        let mut document = memorandum("ua-m", "ua", None);
        document.terms = vec![Term {
            term_id: "cf".into(),
            title: "ceasefire".into(),
            rule: TermRule::Ceasefire(Ceasefire {
                domains: Default::default(),
                ..easter_truce()
            }),
            response_deadline: None,
        }];
        let refused = log.submit(
            "ua",
            &ua,
            Event::Negotiation(NegotiationEvent::DocumentTabled(document.clone())),
            Visibility::Public,
        );
        assert!(refused.unwrap_err().contains("at least one domain"));
        document.terms = vec![provision("t1"), provision("t1")];
        let refused = log.submit(
            "ua",
            &ua,
            Event::Negotiation(NegotiationEvent::DocumentTabled(document)),
            Visibility::Public,
        );
        assert!(refused.unwrap_err().contains("appears twice"));
    }
}

fn actor_id_strategy() -> impl Strategy<Value = ActorId> {
    "[a-z0-9-]{1,12}".prop_map(|s| ActorId::new(&s).unwrap())
}

fn visibility_strategy() -> impl Strategy<Value = Visibility> {
    prop_oneof![
        Just(Visibility::Public),
        Just(Visibility::Intermediary),
        actor_id_strategy().prop_map(Visibility::Party),
        prop::collection::btree_set(actor_id_strategy(), 1..4).prop_map(Visibility::Actors),
    ]
}

proptest! {
    /// The fast encoder of envelopes writes exactly what serde_jcs writes,
    /// for any strings (control characters, quotes, non-ASCII, astral) and
    /// any integers in range.
    #[test]
    fn envelopes_encode_as_rfc_8785_says(
        strings in prop::collection::vec(any::<String>(), 5),
        actor in actor_id_strategy(),
        visibility in visibility_strategy(),
        numbers in prop::collection::vec(0u64..(1 << 53), 4),
        signed_at_ms in -(1i64 << 53)..(1i64 << 53),
    ) {
        let envelope = Envelope {
            checkpoint_size: numbers[0],
            index: numbers[1],
            logged_at_ms: numbers[2] as i64,
            signed: truce_core::SignedStatement {
                signature: strings[0].clone(),
                statement: Statement {
                    actor,
                    key_id: strings[1].clone(),
                    kind: strings[2].clone(),
                    origin: strings[3].clone(),
                    payload_salted: numbers[0] % 2 == 0,
                    payload_sha256: strings[4].clone(),
                    seq: numbers[3],
                    signed_at_ms,
                    visibility,
                },
            },
        };
        let leaf = envelope.to_leaf();
        prop_assert_eq!(&leaf, &serde_jcs::to_vec(&envelope).unwrap());
        prop_assert_eq!(Envelope::from_leaf(&leaf).unwrap(), envelope);
    }
}

// --- Exchanges: lists, eligibility, staging, sign-off, progress ---------------

mod exchanges {
    use std::collections::BTreeSet;

    use chrono::NaiveDate;
    use truce_core::exchange::{
        CommissionAssessment, Discrepancy, DiscrepancyKind, ExchangeState, Handover, ListKind,
        Outcome, PersonList, PersonOutcome, PersonRecord, PersonRef, Receipt, Stage, StageBatch,
        StageListing, StageStatus, Staged,
    };
    use truce_core::negotiation::{Document, DocumentKind, Round, TermRef};
    use truce_core::terms::{
        Assessment, Category, Exchange, ExchangeSubject, Predicate, Quantity, Status, Term,
        TermRule,
    };

    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn term() -> TermRef {
        TermRef {
            document_id: "joint".into(),
            term_id: "prisoners".into(),
        }
    }

    /// A log with ua and ru, a round and the agreed all-for-all term with
    /// its three priority categories.
    fn agreed() -> (Log, SignerKey, SignerKey) {
        let mut log = Log::new();
        let (ua, ru) = (key("ua"), key("ru"));
        log.register("ua", ActorRole::Party, &ua).unwrap();
        log.register("ru", ActorRole::Party, &ru).unwrap();
        let round = Round {
            round_id: "r2".into(),
            number: 2,
            date: day("2025-06-02"),
            venue: "Istanbul".into(),
            host: None,
            mediators: vec![],
            started_at: None,
            ended_at: None,
            duration_minutes: None,
            delegations: vec![],
            summary: String::new(),
        };
        log.as_intermediary(
            Event::Negotiation(NegotiationEvent::RoundRecorded(round)),
            Visibility::Public,
        )
        .unwrap();
        let category = |name: &str, predicate| Category {
            name: name.into(),
            predicate,
        };
        let exchange = Exchange {
            subject: ExchangeSubject::PrisonersOfWar,
            ratio: (1, 1),
            quantity: Quantity::AllForAll {
                minimum_per_side: 4,
            },
            categories: vec![
                category(
                    "severely wounded",
                    Predicate::Assessed {
                        assessment: Assessment::SeverelyWounded,
                    },
                ),
                category(
                    "seriously ill",
                    Predicate::Assessed {
                        assessment: Assessment::SeriouslyIll,
                    },
                ),
                category(
                    "aged 18 to 25",
                    Predicate::AgeBetween {
                        min: 18,
                        max: 25,
                        reference: day("2025-06-02"),
                    },
                ),
            ],
            deadline: None,
        };
        let document = Document {
            document_id: "joint".into(),
            round_id: Some("r2".into()),
            document_kind: DocumentKind::JointStatement,
            tabled_by: vec![id("ua"), id("ru")],
            title: "exchange".into(),
            date: day("2025-06-02"),
            terms: vec![Term {
                term_id: "prisoners".into(),
                title: "all for all".into(),
                rule: TermRule::Exchange(exchange),
                response_deadline: None,
            }],
            response_deadline: None,
        };
        log.as_intermediary(
            Event::Negotiation(NegotiationEvent::DocumentTabled(document)),
            Visibility::Public,
        )
        .unwrap();
        (log, ua, ru)
    }

    /// A fictional person: `kind` 0 severely wounded, 1 seriously ill,
    /// 2 aged 18-25, 3 none of these.
    fn person(n: usize, kind: u8) -> PersonRecord {
        let assessment = |a| {
            vec![CommissionAssessment {
                assessment: a,
                date: day("2025-05-20"),
                commission: "mixed commission".into(),
            }]
        };
        PersonRecord {
            person_id: format!("p{n:04}"),
            family_name: format!("Family{n}"),
            given_names: format!("Given{n}"),
            patronymic: None,
            rank: None,
            service_number: None,
            date_of_birth: Some(if kind == 2 {
                day("2003-03-03")
            } else {
                day("1980-01-01")
            }),
            place_of_birth: None,
            unit: None,
            captured_on: None,
            captured_at: None,
            depends_on: None,
            notify: None,
            status: Some(Status::Military),
            assessments: match kind {
                0 => assessment(Assessment::SeverelyWounded),
                1 => assessment(Assessment::SeriouslyIll),
                _ => vec![],
            },
            remains: None,
        }
    }

    fn held(party: &str, kinds: &[u8]) -> Event {
        Event::Exchange(ExchangeEvent::ListSubmitted(PersonList {
            list_id: format!("{party}-held"),
            party: id(party),
            list_kind: ListKind::Held,
            term: term(),
            version: 1,
            persons: kinds
                .iter()
                .enumerate()
                .map(|(n, k)| person(n, *k))
                .collect(),
        }))
    }

    fn both() -> Visibility {
        Visibility::Actors([id("ua"), id("ru")].into())
    }

    fn refs(party: &str, ids: &[usize]) -> Vec<PersonRef> {
        ids.iter()
            .map(|n| PersonRef {
                list_id: format!("{party}-held"),
                person_id: format!("p{n:04}"),
            })
            .collect()
    }

    fn stage(id_: &str, ua_people: &[usize], ru_people: &[usize]) -> Event {
        Event::Exchange(ExchangeEvent::StageProposed(Stage {
            stage_id: id_.into(),
            term: term(),
            date: day("2025-06-09"),
            place: "Belarus-Ukraine border".into(),
            batches: vec![
                StageBatch::named(id("ua"), refs("ua", ua_people)),
                StageBatch::named(id("ru"), refs("ru", ru_people)),
            ],
            parity_waiver: None,
        }))
    }

    /// The bounds agree: a list of the most persons a list may hold is
    /// accepted and fits in a payload; one person more is refused.
    #[test]
    fn a_list_holds_up_to_its_bound_of_persons_and_fits_a_payload() {
        use truce_core::limits::{MAX_PAYLOAD_BYTES, MAX_PERSONS_PER_LIST};
        let (mut log, ua, _) = agreed();
        let Event::Exchange(ExchangeEvent::ListSubmitted(mut list)) = held("ua", &[]) else {
            unreachable!()
        };
        list.persons = (0..=MAX_PERSONS_PER_LIST).map(|n| person(n, 3)).collect();
        let one_more = Event::Exchange(ExchangeEvent::ListSubmitted(list.clone()));
        let refused = log
            .submit("ua", &ua, one_more, Visibility::Party(id("ua")))
            .unwrap_err();
        assert!(
            refused.contains(&format!("more than {MAX_PERSONS_PER_LIST} persons")),
            "{refused}"
        );
        list.persons.pop();
        let full = Event::Exchange(ExchangeEvent::ListSubmitted(list));
        assert!(full.to_payload().len() <= MAX_PAYLOAD_BYTES);
        log.submit("ua", &ua, full, Visibility::Party(id("ua")))
            .unwrap();
        assert_eq!(
            log.state.exchange().list("ua-held").unwrap().persons.len(),
            MAX_PERSONS_PER_LIST
        );
    }

    #[test]
    fn lists_are_their_partys_alone_and_versions_supersede() {
        let (mut log, ua, ru) = agreed();
        let public = log
            .submit("ua", &ua, held("ua", &[0, 2]), Visibility::Public)
            .unwrap_err();
        assert!(public.contains("visible to its party alone"), "{public}");
        assert!(
            log.submit("ru", &ru, held("ua", &[0]), Visibility::Party(id("ru")))
                .unwrap_err()
                .contains("own lists")
        );
        log.submit("ua", &ua, held("ua", &[0, 2]), Visibility::Party(id("ua")))
            .unwrap();
        // The same version again is refused; version 2 supersedes.
        assert!(
            log.submit("ua", &ua, held("ua", &[0]), Visibility::Party(id("ua")))
                .unwrap_err()
                .contains("version 1 where 2")
        );
        let Event::Exchange(ExchangeEvent::ListSubmitted(mut v2)) = held("ua", &[0, 2, 1]) else {
            unreachable!()
        };
        v2.version = 2;
        log.submit(
            "ua",
            &ua,
            Event::Exchange(ExchangeEvent::ListSubmitted(v2)),
            Visibility::Party(id("ua")),
        )
        .unwrap();
        assert_eq!(
            log.state.exchange().list("ua-held").unwrap().persons.len(),
            3
        );
        let Event::Exchange(ExchangeEvent::ListSubmitted(mut twice)) = held("ru", &[0, 0]) else {
            unreachable!()
        };
        twice.persons[1].person_id = twice.persons[0].person_id.clone();
        let refused = log
            .submit(
                "ru",
                &ru,
                Event::Exchange(ExchangeEvent::ListSubmitted(twice)),
                Visibility::Party(id("ru")),
            )
            .unwrap_err();
        assert!(
            refused.contains("person 2: person_id appears twice"),
            "{refused}"
        );
    }

    #[test]
    fn stages_keep_parity_priority_and_never_stage_anyone_twice() {
        let (mut log, ua, ru) = agreed();
        log.submit(
            "ua",
            &ua,
            held("ua", &[2, 0, 3, 1]),
            Visibility::Party(id("ua")),
        )
        .unwrap();
        log.submit(
            "ru",
            &ru,
            held("ru", &[1, 2, 0]),
            Visibility::Party(id("ru")),
        )
        .unwrap();
        let only_intermediary = log
            .submit("ua", &ua, stage("s1", &[1], &[2]), both())
            .unwrap_err();
        assert!(
            only_intermediary.contains("intermediary"),
            "{only_intermediary}"
        );
        assert!(
            log.as_intermediary(stage("s1", &[1], &[2]), Visibility::Public)
                .unwrap_err()
                .contains("two parties")
        );
        assert!(
            log.as_intermediary(stage("s1", &[1, 0], &[2]), both())
                .unwrap_err()
                .contains("breaks the ratio")
        );
        // ua's p0003 fits no category.
        assert!(
            log.as_intermediary(stage("s1", &[2], &[2]), both())
                .unwrap_err()
                .contains("not eligible")
        );
        // ua's p0000 is aged 18-25 (priority 3) while p0001 is severely wounded (priority 1).
        let out_of_order = log
            .as_intermediary(stage("s1", &[0], &[2]), both())
            .unwrap_err();
        assert!(
            out_of_order.contains("ua-held/p0001 (priority 1) waits"),
            "{out_of_order}"
        );
        log.as_intermediary(stage("s1", &[1], &[2]), both())
            .unwrap();
        assert!(
            log.as_intermediary(stage("s2", &[1], &[0]), both())
                .unwrap_err()
                .contains("already staged")
        );
        log.as_intermediary(stage("s2", &[3], &[0]), both())
            .unwrap();
        // Off parity only with a stated reason.
        let Event::Exchange(ExchangeEvent::StageProposed(mut one_way)) = stage("s3", &[], &[1])
        else {
            unreachable!()
        };
        assert!(
            log.as_intermediary(
                Event::Exchange(ExchangeEvent::StageProposed(one_way.clone())),
                both()
            )
            .unwrap_err()
            .contains("breaks the ratio")
        );
        one_way.parity_waiver = Some("remains handed over one way as recovered".into());
        log.as_intermediary(
            Event::Exchange(ExchangeEvent::StageProposed(one_way)),
            both(),
        )
        .unwrap();
    }

    /// A stand-in for the intermediary's keyed pseudonym (the ledger's is an
    /// HMAC; the core takes any function of reader and person).
    fn pseudonym_for(reader: &ActorId, person: &PersonRef) -> String {
        let text = format!("{reader}|{}|{}", person.list_id, person.person_id);
        sha256_hex(text.as_bytes())[..32].to_owned()
    }

    fn listed(listing: StageListing) -> Event {
        Event::Exchange(ExchangeEvent::StageBatchListed(listing))
    }

    fn proposed(stage: Stage) -> Event {
        Event::Exchange(ExchangeEvent::StageProposed(stage))
    }

    /// The plan of stage `stage_id` of `per_side` persons, pseudonymized.
    fn pseudonymous_stage(
        log: &Log,
        stage_id: &str,
        per_side: usize,
    ) -> (Stage, Vec<StageListing>) {
        let negotiation = log.state.negotiation();
        let plan = log
            .state
            .exchange()
            .plan_stage(
                negotiation,
                &term(),
                stage_id,
                day("2025-06-09"),
                "border",
                per_side,
            )
            .unwrap();
        ExchangeState::pseudonymize(negotiation, plan, pseudonym_for).unwrap()
    }

    /// A stage both parties read names each party's persons by the other
    /// party's pseudonyms; the references follow for the handing party
    /// alone, checked as a batch of references is; acceptance waits for the
    /// party's listing; the handover names the persons as the stage does.
    #[test]
    fn a_pseudonymous_stage_is_listed_for_each_handing_party_and_handed_over_by_pseudonym() {
        let (mut log, ua, ru) = agreed();
        log.submit("ua", &ua, held("ua", &[0, 0]), Visibility::Party(id("ua")))
            .unwrap();
        log.submit("ru", &ru, held("ru", &[0, 0]), Visibility::Party(id("ru")))
            .unwrap();
        let (stage, listings) = pseudonymous_stage(&log, "s1", 2);
        assert!(stage.batches.iter().all(|b| b.persons.is_none()));
        let ua_batch = stage.batches.iter().find(|b| b.from == id("ua")).unwrap();
        let ua_first = &refs("ua", &[0])[0];
        assert_eq!(
            ua_batch.pseudonyms.as_ref().unwrap()[0],
            pseudonym_for(&id("ru"), ua_first),
            "ua's persons are named as ru knows them"
        );
        let mut malformed = stage.clone();
        malformed.batches[0].pseudonyms.as_mut().unwrap()[0] = "ua-held/p0000".into();
        let refused = log
            .as_intermediary(proposed(malformed), both())
            .unwrap_err();
        assert!(refused.contains("lowercase hex"), "{refused}");
        let mut mixed = stage.clone();
        mixed.batches[0] = StageBatch::named(id("ua"), refs("ua", &[0, 1]));
        let refused = log.as_intermediary(proposed(mixed), both()).unwrap_err();
        assert!(refused.contains("one way"), "{refused}");
        log.as_intermediary(proposed(stage), both()).unwrap();

        let ua_listing = listings
            .iter()
            .find(|l| l.from == id("ua"))
            .unwrap()
            .clone();
        let ru_listing = listings
            .iter()
            .find(|l| l.from == id("ru"))
            .unwrap()
            .clone();
        let for_ua = Visibility::Party(id("ua"));
        let refused = log
            .submit("ua", &ua, listed(ua_listing.clone()), for_ua.clone())
            .unwrap_err();
        assert!(refused.contains("intermediary lists"), "{refused}");
        let refused = log
            .as_intermediary(listed(ua_listing.clone()), both())
            .unwrap_err();
        assert!(refused.contains("visibility party:ua"), "{refused}");
        let mut reordered = ua_listing.clone();
        reordered.persons.reverse();
        let refused = log
            .as_intermediary(listed(reordered), for_ua.clone())
            .unwrap_err();
        assert!(refused.contains("in order"), "{refused}");
        let accept = |party: &str| {
            Event::Exchange(ExchangeEvent::StageAccepted {
                stage_id: "s1".into(),
                party: id(party),
            })
        };
        let refused = log.submit("ua", &ua, accept("ua"), both()).unwrap_err();
        assert!(refused.contains("not listed"), "{refused}");
        log.as_intermediary(listed(ua_listing.clone()), for_ua.clone())
            .unwrap();
        let refused = log
            .as_intermediary(listed(ua_listing.clone()), for_ua)
            .unwrap_err();
        assert!(refused.contains("already listed"), "{refused}");
        log.as_intermediary(listed(ru_listing), Visibility::Party(id("ru")))
            .unwrap();
        log.submit("ua", &ua, accept("ua"), both()).unwrap();
        log.submit("ru", &ru, accept("ru"), both()).unwrap();

        let record = log.state.exchange().stage("s1").unwrap().clone();
        let staged: Vec<Staged> = record
            .stage
            .batches
            .iter()
            .flat_map(|b| b.staged())
            .collect();
        let outcomes: Vec<PersonOutcome> = staged
            .iter()
            .map(|s| PersonOutcome::of(*s, Outcome::HandedOver))
            .collect();
        let mut by_reference = outcomes.clone();
        by_reference[0] = PersonOutcome::of(
            Staged::Ref(&ua_listing.persons[0].person),
            Outcome::HandedOver,
        );
        let handover = |outcomes: Vec<PersonOutcome>| {
            Event::Exchange(ExchangeEvent::HandoverRecorded(Handover {
                stage_id: "s1".into(),
                outcomes,
            }))
        };
        let refused = log
            .as_intermediary(handover(by_reference), both())
            .unwrap_err();
        assert!(
            refused.contains("one outcome for each staged person"),
            "{refused}"
        );
        log.as_intermediary(handover(outcomes.clone()), both())
            .unwrap();
        let record = log.state.exchange().stage("s1").unwrap().clone();
        let tally = log
            .state
            .exchange()
            .tally(log.state.negotiation(), &record, &outcomes)
            .unwrap();
        let handed_over: u64 = tally.counts.iter().map(|c| c.handed_over).sum();
        assert_eq!(handed_over, 4);
        log.as_intermediary(
            Event::Exchange(ExchangeEvent::StageTallied(tally)),
            Visibility::Public,
        )
        .unwrap();
    }

    /// The rules of a batch hold for the references of a listing: a person
    /// staged before cannot be listed again under a fresh pseudonym.
    #[test]
    fn a_listing_is_held_to_the_rules_of_a_batch_of_references() {
        let (mut log, ua, ru) = agreed();
        log.submit("ua", &ua, held("ua", &[0, 0]), Visibility::Party(id("ua")))
            .unwrap();
        log.submit("ru", &ru, held("ru", &[0, 0]), Visibility::Party(id("ru")))
            .unwrap();
        let (stage, listings) = pseudonymous_stage(&log, "s1", 1);
        log.as_intermediary(proposed(stage.clone()), both())
            .unwrap();
        for listing in &listings {
            let visibility = Visibility::Party(listing.from.clone());
            log.as_intermediary(listed(listing.clone()), visibility)
                .unwrap();
        }
        // The same persons again in s2, under other pseudonyms.
        let mut again = stage;
        again.stage_id = "s2".into();
        for batch in &mut again.batches {
            for pseudonym in batch.pseudonyms.as_mut().unwrap() {
                *pseudonym = sha256_hex(pseudonym.as_bytes())[..32].to_owned();
            }
        }
        log.as_intermediary(proposed(again.clone()), both())
            .unwrap();
        let mut listing = listings[0].clone();
        listing.stage_id = "s2".into();
        let batch = again
            .batches
            .iter()
            .find(|b| b.from == listing.from)
            .unwrap();
        for (listed_person, pseudonym) in listing
            .persons
            .iter_mut()
            .zip(batch.pseudonyms.as_ref().unwrap())
        {
            listed_person.pseudonym = pseudonym.clone();
        }
        let visibility = Visibility::Party(listing.from.clone());
        let refused = log
            .as_intermediary(listed(listing), visibility)
            .unwrap_err();
        assert!(refused.contains("already staged"), "{refused}");
    }

    #[test]
    fn a_stage_is_carried_out_only_after_both_parties_accept_and_then_confirmed() {
        let (mut log, ua, ru) = agreed();
        log.submit("ua", &ua, held("ua", &[0, 0]), Visibility::Party(id("ua")))
            .unwrap();
        log.submit("ru", &ru, held("ru", &[0, 0]), Visibility::Party(id("ru")))
            .unwrap();
        log.as_intermediary(stage("s1", &[0, 1], &[0, 1]), both())
            .unwrap();
        let handover = |outcome_of_second: Outcome| {
            let mut outcomes: Vec<PersonOutcome> = refs("ua", &[0, 1])
                .into_iter()
                .chain(refs("ru", &[0, 1]))
                .map(|person| PersonOutcome::of(Staged::Ref(&person), Outcome::HandedOver))
                .collect();
            outcomes[1].outcome = outcome_of_second;
            Event::Exchange(ExchangeEvent::HandoverRecorded(Handover {
                stage_id: "s1".into(),
                outcomes,
            }))
        };
        let accept = |party: &str| {
            Event::Exchange(ExchangeEvent::StageAccepted {
                stage_id: "s1".into(),
                party: id(party),
            })
        };
        let status = |log: &Log| log.state.exchange().stage("s1").unwrap().status();
        assert_eq!(status(&log), StageStatus::Proposed);
        assert!(
            log.as_intermediary(handover(Outcome::HandedOver), both())
                .unwrap_err()
                .contains("both parties accepted")
        );
        log.submit("ua", &ua, accept("ua"), both()).unwrap();
        assert!(log.submit("ua", &ua, accept("ua"), both()).is_err());
        assert!(
            log.submit("ua", &ua, accept("ru"), both())
                .unwrap_err()
                .contains("for itself")
        );
        assert!(
            log.as_intermediary(handover(Outcome::HandedOver), both())
                .is_err()
        );
        log.submit("ru", &ru, accept("ru"), both()).unwrap();
        assert_eq!(status(&log), StageStatus::Accepted);
        assert!(
            log.as_intermediary(handover(Outcome::HandedOver), Visibility::Public)
                .unwrap_err()
                .contains("not public")
        );
        log.as_intermediary(handover(Outcome::RefusedToReturn), both())
            .unwrap();
        assert_eq!(status(&log), StageStatus::Executed);
        // ua handed over one of two; ru cannot confirm two received.
        let receipt = |party: &str, received| {
            Event::Exchange(ExchangeEvent::ReceiptConfirmed(Receipt {
                stage_id: "s1".into(),
                party: id(party),
                received,
                note: String::new(),
            }))
        };
        assert!(
            log.submit("ru", &ru, receipt("ru", 2), both())
                .unwrap_err()
                .contains("cannot exceed")
        );
        log.submit("ru", &ru, receipt("ru", 1), both()).unwrap();
        log.submit("ua", &ua, receipt("ua", 2), both()).unwrap();
        assert_eq!(status(&log), StageStatus::Confirmed);
        let discrepancy = Event::Exchange(ExchangeEvent::DiscrepancyRecorded(Discrepancy {
            discrepancy_id: "d1".into(),
            stage_id: Some("s1".into()),
            reported_by: id("ru"),
            discrepancy_kind: DiscrepancyKind::ListedNotHandedOver,
            count: 1,
            reason: "one person refused to return".into(),
        }));
        log.submit("ru", &ru, discrepancy, both()).unwrap();
        // The derived table spells the kind as payloads and the CLI do.
        let tables = log.state.derived_tables();
        let table = tables
            .iter()
            .find(|t| t.spec.name == "discrepancies")
            .unwrap();
        let column = table
            .spec
            .columns
            .iter()
            .position(|c| *c == "discrepancy_kind")
            .unwrap();
        let kinds: Vec<_> = table.rows.iter().map(|row| row[column].clone()).collect();
        assert_eq!(
            kinds,
            [truce_core::projection::Cell::text("listed_not_handed_over")]
        );
        for kind in DiscrepancyKind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        // The public tally must be the handover's own count.
        let record = log.state.exchange().stage("s1").unwrap().clone();
        let handover = record.handover.clone().unwrap();
        let mut tally = log
            .state
            .exchange()
            .tally(log.state.negotiation(), &record, &handover.outcomes)
            .unwrap();
        let honest = tally.clone();
        tally.counts[0].handed_over += 1;
        let forged = log.as_intermediary(
            Event::Exchange(ExchangeEvent::StageTallied(tally)),
            Visibility::Public,
        );
        assert!(forged.unwrap_err().contains("differs"));
        let private = log.as_intermediary(
            Event::Exchange(ExchangeEvent::StageTallied(honest.clone())),
            both(),
        );
        assert!(private.unwrap_err().contains("public"));
        log.as_intermediary(
            Event::Exchange(ExchangeEvent::StageTallied(honest)),
            Visibility::Public,
        )
        .unwrap();
        let progress = log
            .state
            .exchange()
            .progress(log.state.negotiation(), &term())
            .unwrap();
        assert_eq!(progress.quota.handed_over, (1, 2));
        assert!(!progress.quota.at_parity && !progress.quota.met);
        assert_eq!(progress.discrepancies, 1);
    }

    #[test]
    fn the_intermediary_decides_each_candidate_link_once_and_one_to_one() {
        use truce_core::exchange::{MatchDecision, MatchVerdict};
        let (mut log, ua, ru) = agreed();
        log.submit("ru", &ru, held("ru", &[0, 2]), Visibility::Party(id("ru")))
            .unwrap();
        let Event::Exchange(ExchangeEvent::ListSubmitted(mut sought)) = held("ua", &[3, 3]) else {
            unreachable!()
        };
        sought.list_id = "ua-sought".into();
        sought.list_kind = ListKind::Sought;
        log.submit(
            "ua",
            &ua,
            Event::Exchange(ExchangeEvent::ListSubmitted(sought)),
            Visibility::Party(id("ua")),
        )
        .unwrap();
        let decide = |sought: &str, held: &str, verdict| {
            Event::Exchange(ExchangeEvent::MatchDecided(MatchDecision {
                sought: PersonRef {
                    list_id: "ua-sought".into(),
                    person_id: sought.into(),
                },
                held: PersonRef {
                    list_id: "ru-held".into(),
                    person_id: held.into(),
                },
                score_permille: 900,
                explanation: "family_name exact".into(),
                verdict,
            }))
        };
        assert!(
            log.submit(
                "ua",
                &ua,
                decide("p0000", "p0000", MatchVerdict::Confirmed),
                both()
            )
            .unwrap_err()
            .contains("intermediary")
        );
        assert!(
            log.as_intermediary(
                decide("p0000", "p0000", MatchVerdict::Confirmed),
                Visibility::Public
            )
            .unwrap_err()
            .contains("not public")
        );
        assert!(
            log.as_intermediary(
                decide("p0000", "p0000", MatchVerdict::Confirmed),
                Visibility::Party(id("ru"))
            )
            .unwrap_err()
            .contains("visible to the intermediary, or to the two parties")
        );
        log.as_intermediary(decide("p0000", "p0000", MatchVerdict::Confirmed), both())
            .unwrap();
        assert!(
            log.as_intermediary(decide("p0000", "p0000", MatchVerdict::Rejected), both())
                .unwrap_err()
                .contains("already decided")
        );
        assert!(
            log.as_intermediary(decide("p0001", "p0000", MatchVerdict::Confirmed), both())
                .unwrap_err()
                .contains("already matched")
        );
        log.as_intermediary(decide("p0001", "p0000", MatchVerdict::Rejected), both())
            .unwrap();
        // The intermediary's alone: what the application layer gives it.
        log.as_intermediary(
            decide("p0001", "p0001", MatchVerdict::Confirmed),
            Visibility::Intermediary,
        )
        .unwrap();
        assert!(
            log.as_intermediary(decide("p0009", "p0001", MatchVerdict::Confirmed), both())
                .is_err()
        );
        assert_eq!(log.state.exchange().matches().count(), 3);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// Whatever the lists, the planner's stages are accepted by the
        /// rules, keep parity, follow priority order and stage nobody twice.
        #[test]
        fn planned_stages_keep_parity_priority_and_uniqueness(
            ua_kinds in prop::collection::vec(0u8..4, 0..40),
            ru_kinds in prop::collection::vec(0u8..4, 0..40),
            sizes in prop::collection::vec(1usize..12, 1..8),
        ) {
            let (mut log, ua, ru) = agreed();
            log.submit("ua", &ua, held("ua", &ua_kinds), Visibility::Party(id("ua"))).unwrap();
            log.submit("ru", &ru, held("ru", &ru_kinds), Visibility::Party(id("ru"))).unwrap();
            let mut staged: BTreeSet<PersonRef> = BTreeSet::new();
            for (n, size) in sizes.iter().enumerate() {
                let planned = log.state.exchange().plan_stage(
                    log.state.negotiation(), &term(), &format!("s{n}"), day("2025-06-09"), "border", *size);
                let Ok(stage) = planned else { break };
                let (a, b) = (&stage.batches[0].persons, &stage.batches[1].persons);
                let (a, b) = (a.as_ref().unwrap(), b.as_ref().unwrap());
                prop_assert_eq!(a.len(), b.len());
                prop_assert!(a.len() <= *size);
                for batch in &stage.batches {
                    let kinds = if batch.from.as_str() == "ua" { &ua_kinds } else { &ru_kinds };
                    let rank = |p: &PersonRef| kinds[p.person_id[1..].parse::<usize>().unwrap()];
                    let persons = batch.persons.as_ref().unwrap();
                    let worst = persons.iter().map(rank).max().unwrap();
                    prop_assert!(worst < 3, "an ineligible person was staged");
                    // Nobody of a better category left behind.
                    for (i, k) in kinds.iter().enumerate() {
                        let p = PersonRef { list_id: format!("{}-held", batch.from), person_id: format!("p{i:04}") };
                        if *k < worst {
                            prop_assert!(staged.contains(&p) || persons.contains(&p));
                        }
                    }
                    for p in persons {
                        prop_assert!(staged.insert(p.clone()), "staged twice");
                    }
                }
                log.as_intermediary(Event::Exchange(ExchangeEvent::StageProposed(stage)), both()).unwrap();
            }
        }
    }
}

proptest! {
    /// Whoever holds a payload's exact bytes but not its salt (the public,
    /// the other party, anyone after an erasure) cannot confirm it against
    /// the leaf: the leaf names neither the payload's hash nor the salt.
    #[test]
    fn a_guessed_payload_cannot_be_confirmed_against_a_salted_statement(
        text in "[a-zA-Z ]{1,40}",
        salt in proptest::array::uniform32(any::<u8>()),
    ) {
        let key = SignerKey::generate("truce.test/ua", KeyType::Ed25519).unwrap();
        let event = remark(&text);
        let (statement, stored) =
            Statement::for_event(ORIGIN, &id("ua"), &key, 1, &event, Visibility::Party(id("ua")), 0, salt);
        let guess = event.to_payload();
        prop_assert!(statement.payload_salted);
        prop_assert_ne!(&statement.payload_sha256, &sha256_hex(&guess));
        let leaf = serde_json::to_string(&statement).unwrap();
        prop_assert!(!leaf.contains(&truce_core::envelope::hex(&salt)));
        // The holder of the salt and the payload reads it back.
        prop_assert_eq!(statement.event_of(&stored).unwrap(), event.clone());
        // The payload without its salt does not pass for it.
        prop_assert!(statement.event_of(&guess).is_err());
    }
}

#[test]
fn statements_made_before_salting_still_read_and_verify() {
    let key = SignerKey::generate("truce.test/ua", KeyType::Ed25519).unwrap();
    let event = remark("an old entry");
    let payload = event.to_payload();
    let (mut statement, _) = Statement::for_event(
        ORIGIN,
        &id("ua"),
        &key,
        1,
        &event,
        Visibility::Public,
        0,
        SALT,
    );
    statement.payload_salted = false;
    statement.payload_sha256 = sha256_hex(&payload);
    let text = serde_json::to_string(&statement).unwrap();
    assert!(
        !text.contains("payload_salted"),
        "a v1 statement's bytes are unchanged: {text}"
    );
    assert_eq!(statement.event_of(&payload).unwrap(), event);
    let signed = statement.sign(&key);
    signed.verify(key.verifier().public_key()).unwrap();
}
