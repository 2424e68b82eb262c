//! The exchanges of the Istanbul scenario, generated: fictional prisoners of
//! war on each side's held and sought lists (written each side's way), the
//! intermediary's confirmed matches, the prisoner stages on the reported
//! dates, and the remains handed over on the reported dates with the
//! reported totals. Every person is invented: given names and patronymics
//! come from the matching engine's dictionary, surnames from invented roots,
//! and dates and places are drawn at random from a fixed seed.

use chrono::{Datelike, Days, NaiveDate};
use tlog::SignerKey;
use truce_core::exchange::ExchangeEvent;
use truce_core::exchange::{
    CommissionAssessment, Identification, ListKind, MatchDecision, MatchVerdict, Outcome,
    PersonList, PersonRecord, PersonRef, Receipt, RemainsDetails, Stage, StageBatch,
};
use truce_core::negotiation::TermRef;
use truce_core::terms::{Assessment, Status};
use truce_core::{ActorId, Event, Visibility};
use truce_match::dictionary::{GIVEN_NAMES, PLACES};

use crate::app::{self, Draft};
use crate::matching::review_queue;
use crate::pseudonyms::PseudonymKey;
use crate::records::KeyRing;
use crate::{Labelled, Ledger, LedgerError};

/// splitmix64: a fixed, documented generator, so the scenario is the same
/// on every machine and with every crate version (rand's `StdRng` does not
/// promise that).
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Invented surname roots and endings (Ukrainian spelling).
const ROOTS: &[&str] = &[
    "Берез",
    "Дуб",
    "Лис",
    "Мороз",
    "Сокол",
    "Ткач",
    "Гнат",
    "Коз",
    "Шевч",
    "Руд",
    "Остап",
    "Зелен",
    "Кравч",
    "Мель",
    "Горб",
    "Сав",
    "Пилип",
    "Бондар",
    "Карп",
    "Вовк",
];
const ENDINGS: &[&str] = &["енко", "ук", "ицький", "ів", "ець", "ан", "юк", "ович"];

/// A Ukrainian-spelt word as a Russian clerk writes it (і→и, и→ы, ї/є/ґ,
/// adjectival -ький→-кий): enough variation for the demo's matching.
fn russian_spelling(ukrainian: &str) -> String {
    let replaced: String = ukrainian
        .chars()
        .map(|c| match c {
            'і' => 'и',
            'и' => 'ы',
            'ї' => 'и',
            'є' => 'е',
            'ґ' => 'г',
            'І' => 'И',
            'И' => 'Ы',
            other => other,
        })
        .collect();
    replaced.replace("ький", "кий").replace("ів", "ов")
}

/// One invented man, in both spellings.
struct Invented {
    family: (String, String),
    given: (&'static str, &'static str),
    patronymic: (&'static str, &'static str),
    place: (&'static str, &'static str),
    born: NaiveDate,
    assessment: Option<Assessment>,
}

fn invent(rng: &mut Seeded) -> Invented {
    let men: Vec<_> = GIVEN_NAMES
        .iter()
        .filter(|n| n.patronymics.len() >= 2)
        .collect();
    let given = men[rng.below(men.len())];
    let father = men[rng.below(men.len())];
    let family = format!(
        "{}{}",
        ROOTS[rng.below(ROOTS.len())],
        ENDINGS[rng.below(ENDINGS.len())]
    );
    let place = PLACES[rng.below(PLACES.len())];
    // Many prisoners are young: nearly half are 18 to 25 on 2 June 2025.
    let born = if rng.chance(45) {
        day(2000, 6, 3) + Days::new(rng.below(7 * 365 - 2) as u64)
    } else {
        day(1968, 1, 1) + Days::new(rng.below(32 * 365) as u64)
    };
    let assessment = match rng.below(100) {
        0..12 => Some(Assessment::SeverelyWounded),
        12..20 => Some(Assessment::SeriouslyIll),
        _ => None,
    };
    Invented {
        family: (family.clone(), russian_spelling(&family)),
        given: (given.ukrainian, given.russian),
        patronymic: (father.patronymics[0], father.patronymics[1]),
        place: (place[0], place[1]),
        born,
        assessment,
    }
}

/// The record a side writes: Ukrainian or Russian spelling, sometimes in
/// capitals, sometimes without the patronymic, now and then a typo.
fn record_of(
    person: &Invented,
    person_id: String,
    ukrainian: bool,
    rng: &mut Seeded,
) -> PersonRecord {
    let pick = |pair: (&str, &str)| {
        if ukrainian {
            pair.0.to_owned()
        } else {
            pair.1.to_owned()
        }
    };
    let mut family = if ukrainian {
        person.family.0.clone()
    } else {
        person.family.1.clone()
    };
    if rng.chance(5) {
        // A dropped letter, as in a hurried transcription.
        let mut chars: Vec<char> = family.chars().collect();
        let at = 1 + rng.below(chars.len() - 1);
        chars.remove(at);
        family = chars.into_iter().collect();
    }
    let capitals = !ukrainian && rng.chance(40);
    let case = |text: String| if capitals { text.to_uppercase() } else { text };
    PersonRecord {
        person_id,
        family_name: case(family),
        given_names: case(pick(person.given)),
        patronymic: (!rng.chance(15)).then(|| case(pick(person.patronymic))),
        rank: None,
        service_number: None,
        date_of_birth: Some(person.born),
        place_of_birth: Some(pick(person.place)),
        unit: None,
        captured_on: None,
        captured_at: None,
        depends_on: None,
        notify: None,
        status: Some(Status::Military),
        assessments: person
            .assessment
            .map(|assessment| CommissionAssessment {
                assessment,
                date: NaiveDate::from_ymd_opt(2025, 5, 28).expect("a date"),
                commission: "mixed medical commission".to_owned(),
            })
            .into_iter()
            .collect(),
        remains: None,
    }
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a date")
}

pub struct Actors<'a> {
    pub intermediary: &'a ActorId,
    pub ua: &'a ActorId,
    pub ru: &'a ActorId,
    pub keys: &'a KeyRing,
}

impl Actors<'_> {
    fn key(&self, actor: &ActorId) -> &SignerKey {
        &self.keys[actor]
    }

    fn both(&self) -> Visibility {
        Visibility::Actors([self.ua.clone(), self.ru.clone()].into())
    }

    fn draft(&self, label: &str, actor: &ActorId, draft: Draft) -> Labelled<'_> {
        self.item(label, actor, draft.event, draft.visibility)
    }

    fn item(
        &self,
        label: &str,
        actor: &ActorId,
        event: Event,
        visibility: Visibility,
    ) -> Labelled<'_> {
        (
            label.to_owned(),
            actor.clone(),
            self.key(actor),
            event,
            visibility,
        )
    }
}

/// Records the exchanges: lists, matches, prisoner stages, remains.
pub fn record(ledger: &mut Ledger, actors: &Actors) -> Result<(), LedgerError> {
    let mut rng = Seeded(20250602);
    let prisoners = TermRef {
        document_id: "joint-exchange-2025-06-02".into(),
        term_id: "prisoners".into(),
    };
    let remains = TermRef {
        document_id: "joint-exchange-2025-06-02".into(),
        term_id: "remains".into(),
    };
    // Ukrainians held by Russia (ua seeks most of them) and Russians held by
    // Ukraine (ru seeks most of them).
    let ukrainians: Vec<Invented> = (0..2400).map(|_| invent(&mut rng)).collect();
    let russians: Vec<Invented> = (0..2100).map(|_| invent(&mut rng)).collect();
    let list = |list_id: &str, party: &ActorId, list_kind, term: &TermRef, persons| PersonList {
        list_id: list_id.to_owned(),
        party: party.clone(),
        list_kind,
        term: term.clone(),
        version: 1,
        persons,
    };
    let written = |people: &[Invented],
                   prefix: &str,
                   ukrainian: bool,
                   keep: u64,
                   rng: &mut Seeded|
     -> Vec<PersonRecord> {
        let mut records = Vec::new();
        for (n, person) in people.iter().enumerate() {
            if rng.chance(keep) {
                records.push(record_of(
                    person,
                    format!("{prefix}-{n:05}"),
                    ukrainian,
                    rng,
                ));
            }
        }
        records
    };
    let ru_held = written(&ukrainians, "ru-h", false, 100, &mut rng);
    let mut ua_sought = written(&ukrainians, "ua-s", true, 88, &mut rng);
    let ua_held = written(&russians, "ua-h", true, 100, &mut rng);
    let mut ru_sought = written(&russians, "ru-s", false, 85, &mut rng);
    // A sought list is written from relatives' reports: some names come
    // swapped, some dates with day and month swapped, and some people are
    // held by nobody. These are what the review queue is for.
    for (sought, prefix, ukrainian) in [
        (&mut ua_sought, "ua-s-missing", true),
        (&mut ru_sought, "ru-s-missing", false),
    ] {
        for record in sought.iter_mut() {
            match rng.below(100) {
                0..4 => std::mem::swap(&mut record.family_name, &mut record.given_names),
                4..8 => {
                    record.date_of_birth = record.date_of_birth.and_then(|d| {
                        NaiveDate::from_ymd_opt(d.year(), d.day(), d.month()).or(Some(d))
                    })
                }
                8..11 => record.patronymic = None,
                // A relative remembers a name and little else.
                11..15 => {
                    record.date_of_birth = None;
                    record.place_of_birth = None;
                    record.patronymic = None;
                }
                _ => {}
            }
        }
        for n in 0..60 {
            let person = invent(&mut rng);
            sought.push(record_of(
                &person,
                format!("{prefix}-{n:03}"),
                ukrainian,
                &mut rng,
            ));
        }
    }
    let (ua, ru) = (actors.ua, actors.ru);
    let lists = vec![
        actors.item(
            "ua held list",
            ua,
            Event::Exchange(ExchangeEvent::ListSubmitted(list(
                "ua-held-pow",
                ua,
                ListKind::Held,
                &prisoners,
                ua_held,
            ))),
            Visibility::Party(ua.clone()),
        ),
        actors.item(
            "ua sought list",
            ua,
            Event::Exchange(ExchangeEvent::ListSubmitted(list(
                "ua-sought-pow",
                ua,
                ListKind::Sought,
                &prisoners,
                ua_sought,
            ))),
            Visibility::Party(ua.clone()),
        ),
        actors.item(
            "ru held list",
            ru,
            Event::Exchange(ExchangeEvent::ListSubmitted(list(
                "ru-held-pow",
                ru,
                ListKind::Held,
                &prisoners,
                ru_held,
            ))),
            Visibility::Party(ru.clone()),
        ),
        actors.item(
            "ru sought list",
            ru,
            Event::Exchange(ExchangeEvent::ListSubmitted(list(
                "ru-sought-pow",
                ru,
                ListKind::Sought,
                &prisoners,
                ru_sought,
            ))),
            Visibility::Party(ru.clone()),
        ),
    ];
    ledger.append_all(lists)?;

    // The intermediary confirms the engine's surest links and leaves the
    // rest in the review queue.
    let mut decisions = Vec::new();
    for (sought, held) in [
        ("ua-sought-pow", "ru-held-pow"),
        ("ru-sought-pow", "ua-held-pow"),
    ] {
        for candidate in review_queue(ledger.state(), sought, held, 0.95)? {
            let decision = MatchDecision {
                sought: candidate.sought,
                held: candidate.held,
                score_permille: (candidate.score * 1000.0).round() as u32,
                explanation: candidate.explanation,
                verdict: MatchVerdict::Confirmed,
            };
            decisions.push(actors.item(
                "match",
                actors.intermediary,
                Event::Exchange(ExchangeEvent::MatchDecided(decision)),
                Visibility::Intermediary,
            ));
        }
    }
    // One-to-one: a candidate whose person was confirmed just before is
    // dropped rather than refused.
    let mut taken = std::collections::BTreeSet::new();
    decisions.retain(|(_, _, _, event, _)| match event {
        Event::Exchange(ExchangeEvent::MatchDecided(d))
            if !taken.contains(&d.sought) && !taken.contains(&d.held) =>
        {
            taken.insert(d.sought.clone());
            taken.insert(d.held.clone());
            true
        }
        _ => false,
    });
    ledger.append_all(decisions)?;

    // Prisoner stages on the reported dates. Per-stage counts were mostly
    // not published: these sizes are the demo's, adding up to "more than
    // 1,000 returned to Ukraine by 23 July".
    let stage_days = [
        (6, 9, 150),
        (6, 10, 110),
        (6, 12, 90),
        (6, 14, 110),
        (6, 19, 100),
        (6, 20, 120),
        (6, 26, 100),
        (7, 4, 140),
        (7, 23, 200),
    ];
    for (n, (month, date, size)) in stage_days.into_iter().enumerate() {
        let stage_id = format!("pow-stage-{}", n + 1);
        let stage = ledger
            .state()
            .exchange()
            .plan_stage(
                ledger.state().negotiation(),
                &prisoners,
                &stage_id,
                day(2025, month, date),
                "Belarus-Ukraine border",
                size,
            )
            .map_err(LedgerError::Rejected)?;
        // Now and then someone refuses to return, and is recorded as such.
        let refused = (n % 4 == 3)
            .then(|| stage.batches[0].persons.as_ref().map(|p| p[0].clone()))
            .flatten();
        carry_out(ledger, actors, stage, refused.as_ref())?;
    }

    // Remains: the other side's fallen, mostly unidentified; handed over one
    // way as recovered, so the stages carry a parity waiver.
    let recovered = |prefix: &str, count: usize, rng: &mut Seeded| -> Vec<PersonRecord> {
        (0..count)
            .map(|n| {
                let identified = rng.chance(15);
                PersonRecord {
                    person_id: format!("{prefix}-{n:05}"),
                    family_name: String::new(),
                    given_names: String::new(),
                    patronymic: None,
                    rank: None,
                    service_number: None,
                    date_of_birth: None,
                    place_of_birth: None,
                    unit: None,
                    captured_on: None,
                    captured_at: None,
                    depends_on: None,
                    notify: None,
                    status: Some(Status::Military),
                    assessments: vec![],
                    remains: Some(RemainsDetails {
                        recovered_on: None,
                        recovered_at: None,
                        identification: if identified {
                            if rng.chance(50) {
                                Identification::Dna
                            } else {
                                Identification::Documents
                            }
                        } else {
                            Identification::Unidentified
                        },
                        case_ref: Some(format!("case-{prefix}-{n:05}")),
                    }),
                }
            })
            .collect()
    };
    let ru_remains = recovered("ru-r", 6057, &mut rng);
    let ua_remains = recovered("ua-r", 27, &mut rng);
    ledger.append_all(vec![
        actors.item(
            "ru remains list",
            ru,
            Event::Exchange(ExchangeEvent::ListSubmitted(list(
                "ru-held-remains",
                ru,
                ListKind::Held,
                &remains,
                ru_remains,
            ))),
            Visibility::Party(ru.clone()),
        ),
        actors.item(
            "ua remains list",
            ua,
            Event::Exchange(ExchangeEvent::ListSubmitted(list(
                "ua-held-remains",
                ua,
                ListKind::Held,
                &remains,
                ua_remains,
            ))),
            Visibility::Party(ua.clone()),
        ),
    ])?;
    // Bodies handed over to Ukraine: 1,212 on 11 June, 1,200 on 13, 14 and
    // 15 June, 1,245 on 16 June (6,057 by Ukraine's count); to Russia: 27
    // (the lowest of the figures reported; the others stand as claims).
    let mut next_ru = 0;
    for (n, (date, to_ukraine, to_russia)) in [
        (11, 1212, 27),
        (13, 1200, 0),
        (14, 1200, 0),
        (15, 1200, 0),
        (16, 1245, 0),
    ]
    .into_iter()
    .enumerate()
    {
        let refs = |list_id: &str, prefix: &str, from: usize, count: usize| -> Vec<PersonRef> {
            (from..from + count)
                .map(|i| PersonRef {
                    list_id: list_id.to_owned(),
                    person_id: format!("{prefix}-{i:05}"),
                })
                .collect()
        };
        let stage = Stage {
            stage_id: format!("remains-stage-{}", n + 1),
            term: remains.clone(),
            date: day(2025, 6, date),
            place: "Belarus-Ukraine border".to_owned(),
            batches: vec![
                StageBatch::named(ua.clone(), refs("ua-held-remains", "ua-r", 0, to_russia)),
                StageBatch::named(ru.clone(), refs("ru-held-remains", "ru-r", next_ru, to_ukraine)),
            ],
            parity_waiver: Some("remains are handed over as they are recovered; the term counts 6,000 for 6,000 overall".to_owned()),
        };
        next_ru += to_ukraine;
        carry_out(ledger, actors, stage, None)?;
    }
    Ok(())
}

/// Proposes a stage from its plan (through the application layer, so with
/// pseudonyms and listings), has both parties accept it, records the
/// handover (everyone handed over but `refused`), and each party's receipt.
fn carry_out(
    ledger: &mut Ledger,
    actors: &Actors,
    plan: Stage,
    refused: Option<&PersonRef>,
) -> Result<(), LedgerError> {
    let stage_id = plan.stage_id.clone();
    // Each party receives what the other handed over.
    let received = |receiver: &ActorId| -> u64 {
        let giver = plan
            .batches
            .iter()
            .find(|b| b.from != *receiver)
            .expect("two batches");
        let persons = giver.persons.iter().flatten();
        persons.filter(|p| Some(*p) != refused).count() as u64
    };
    let (ua, ru) = (actors.ua, actors.ru);
    let receipts = [(ua, received(ua)), (ru, received(ru))];
    let key = PseudonymKey::of(actors.key(actors.intermediary));
    let proposal = app::propose_stage(ledger.state(), plan, &key)?;
    let mut items: Vec<_> = proposal
        .into_iter()
        .map(|draft| actors.draft("stage", actors.intermediary, draft))
        .collect();
    for party in [ua, ru] {
        let accepted = ExchangeEvent::StageAccepted {
            stage_id: stage_id.clone(),
            party: party.clone(),
        };
        items.push(actors.item("accept", party, accepted.into(), actors.both()));
    }
    ledger.append_all(items)?;

    let exceptions: Vec<(String, Outcome)> = refused
        .map(|p| {
            let who = format!("{}/{}", p.list_id, p.person_id);
            (who, Outcome::RefusedToReturn)
        })
        .into_iter()
        .collect();
    let [handover, tally] = app::handover(ledger.state(), &stage_id, &exceptions)?;
    let mut items = vec![
        actors.draft("handover", actors.intermediary, handover),
        actors.draft("tally", actors.intermediary, tally),
    ];
    for (party, count) in receipts {
        let receipt = Receipt {
            stage_id: stage_id.clone(),
            party: party.clone(),
            received: count,
            note: String::new(),
        };
        items.push(actors.item(
            "receipt",
            party,
            Event::Exchange(ExchangeEvent::ReceiptConfirmed(receipt)),
            actors.both(),
        ));
    }
    if refused.is_some() {
        let discrepancy = truce_core::exchange::Discrepancy {
            discrepancy_id: format!("{stage_id}-refusal"),
            stage_id: Some(stage_id.clone()),
            reported_by: actors.intermediary.clone(),
            discrepancy_kind: truce_core::exchange::DiscrepancyKind::ListedNotHandedOver,
            count: 1,
            reason: "a person listed for the stage refused to return".to_owned(),
        };
        items.push(actors.item(
            "discrepancy",
            actors.intermediary,
            Event::Exchange(ExchangeEvent::DiscrepancyRecorded(discrepancy)),
            actors.both(),
        ));
    }
    ledger.append_all(items).map(|_| ())
}
