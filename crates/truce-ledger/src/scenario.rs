//! Demo scenarios shipped with truce. `istanbul-2025` records the talks of
//! 2 June 2025 and what followed: both memoranda, the agreed exchanges, the
//! deadline, the third round, the earlier truces, and each side's claims.
//! Only public officials are named; any private person is fictional.
//!
//! In the demo the intermediary's server also holds the parties' keys (and
//! each party declares so on the log: `key_custody_declared`), so that each
//! record is signed by the party that would sign it in reality. In a
//! deployment a party may keep its own key instead.

use truce_core::registry::RegistryEvent;

mod exchanges;

use tlog::{KeyType, SignerKey};
use truce_core::{ActorId, ActorRole, Event, KeyCustody, Visibility};

use crate::keys::{read_key_file, write_key_file};
use crate::records::{KeyRing, RecordSet, import};
use crate::{AtRest, INTERMEDIARY_KEY_FILE, KEYS_DIR, Ledger, LedgerError, LedgerOptions};
use truce_store::Place;

pub struct Scenario {
    pub name: &'static str,
    pub origin: &'static str,
    /// (id, name, role) of the actors the intermediary registers: the
    /// parties and an observer.
    pub actors: &'static [(&'static str, &'static str, ActorRole)],
    /// (file name, TOML) in the order they are recorded.
    pub chapters: &'static [(&'static str, &'static str)],
}

pub const SCENARIOS: &[Scenario] = &[Scenario {
    name: "istanbul-2025",
    origin: "truce.example/istanbul-2025",
    actors: &[
        ("ua", "Ukraine", ActorRole::Party),
        ("ru", "Russian Federation", ActorRole::Party),
        ("observer", "Observer mission (demo)", ActorRole::Observer),
    ],
    chapters: &[
        (
            "00-earlier-truces.toml",
            include_str!("../scenarios/istanbul-2025/00-earlier-truces.toml"),
        ),
        (
            "01-round-2.toml",
            include_str!("../scenarios/istanbul-2025/01-round-2.toml"),
        ),
        (
            "02-after-round-2.toml",
            include_str!("../scenarios/istanbul-2025/02-after-round-2.toml"),
        ),
        (
            "03-round-3.toml",
            include_str!("../scenarios/istanbul-2025/03-round-3.toml"),
        ),
    ],
}];

pub struct Loaded {
    pub entries: u64,
    pub ledger: Ledger,
}

/// Creates a log in `dir` (which must not exist or be empty) and records
/// the scenario in it. Built in a sibling directory and moved into place,
/// so a failure leaves nothing half-loaded.
pub fn load(name: &str, place: impl Into<Place>) -> Result<Loaded, LedgerError> {
    load_at_rest(name, place, AtRest::Encrypted)
}

/// [`load`], with the store kept on disk as `at_rest` says.
pub fn load_at_rest(
    name: &str,
    place: impl Into<Place>,
    at_rest: AtRest,
) -> Result<Loaded, LedgerError> {
    let place = place.into();
    let scenario = SCENARIOS.iter().find(|s| s.name == name).ok_or_else(|| {
        let known: Vec<&str> = SCENARIOS.iter().map(|s| s.name).collect();
        LedgerError::Input(format!("no scenario {name:?}; known: {}", known.join(", ")))
    })?;
    let entries = crate::build_in_place(&place.dir, |staging| {
        record(scenario, &place.with_dir(staging), at_rest)
    })?;
    Ok(Loaded {
        entries,
        ledger: Ledger::open(place, LedgerOptions::default())?,
    })
}

fn record(scenario: &Scenario, place: &Place, at_rest: AtRest) -> Result<u64, LedgerError> {
    let dir = &place.dir;
    let intermediary = ActorId::new("intermediary").expect("valid id");
    let options = LedgerOptions {
        at_rest,
        ..LedgerOptions::default()
    };
    let mut ledger = Ledger::init(
        place,
        scenario.origin,
        &intermediary,
        "Neutral intermediary (demo)",
        options,
    )?;
    let me = read_key_file(&dir.join(KEYS_DIR).join(INTERMEDIARY_KEY_FILE))?;
    let mut keys = KeyRing::new();
    let mut registrations = Vec::new();
    for (id, actor_name, role) in scenario.actors {
        let actor = ActorId::new(id).expect("valid id");
        let key = SignerKey::generate(&format!("{}/{id}", scenario.origin), KeyType::Ed25519)
            .map_err(|e| LedgerError::Input(e.to_string()))?;
        write_key_file(&dir.join(KEYS_DIR).join(format!("{id}.key")), &key)?;
        let event = Event::Registry(RegistryEvent::ActorRegistered {
            actor: actor.clone(),
            role: *role,
            name: (*actor_name).to_owned(),
            vkey: key.verifier().to_string(),
        });
        registrations.push((
            format!("actor {id}"),
            intermediary.clone(),
            &me,
            event,
            Visibility::Public,
        ));
        keys.insert(actor, key.clone());
    }
    ledger.append_all(registrations)?;
    // The demo's server holds the parties' and the observer's keys; each
    // says so on the log, signed with the key in question.
    let declarations = keys
        .iter()
        .map(|(actor, key)| {
            let event = Event::Registry(RegistryEvent::KeyCustodyDeclared {
                actor: actor.clone(),
                custody: KeyCustody::Server,
            });
            (
                format!("custody {actor}"),
                actor.clone(),
                key,
                event,
                Visibility::Public,
            )
        })
        .collect();
    ledger.append_all(declarations)?;
    keys.insert(intermediary.clone(), me);
    for (file, text) in scenario.chapters {
        let set = RecordSet::parse(file, text)?;
        import(&mut ledger, &set, &keys)?;
    }
    let party = |id: &str| ActorId::new(id).expect("valid id");
    let (ua, ru) = (party("ua"), party("ru"));
    let actors = exchanges::Actors {
        intermediary: &intermediary,
        ua: &ua,
        ru: &ru,
        keys: &keys,
    };
    exchanges::record(&mut ledger, &actors)?;
    Ok(ledger.state().tree_size())
}
