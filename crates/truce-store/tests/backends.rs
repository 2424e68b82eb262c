//! What every store promises, checked on each backend: SQLite always, and
//! PostgreSQL when `TRUCE_TEST_PG` names a database to make schemas in
//! (`postgres://user:password@host/db`); without it the PostgreSQL runs
//! are skipped, loudly.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use truce_core::projection::{Cell, RowChange, TableSpec};
use truce_store::shared::ACCESS_KEY;
use truce_store::{
    AtRest, Batch, Change, DerivedWrite, IdempotencyKey, LogMeta, LogStore, PayloadRecord,
    PostgresStore, SHARED_TABLE, SavedState, SharedRecord, Space, SqliteStore, StatementKey,
    StoreError, StoredEntry,
};

static FIGURES: TableSpec = TableSpec {
    name: "figures",
    columns: &["figure_id", "value", "entry_index"],
    key_columns: 1,
    entry_column: 2,
};

/// Where one test's store lives: a temporary directory (its keys, and for
/// SQLite the database) and, for PostgreSQL, a schema of its own.
struct Place {
    temp: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl Place {
    fn dir(&self) -> PathBuf {
        self.temp.path().join("log")
    }

    fn create(&self, at_rest: AtRest) -> Box<dyn LogStore> {
        let meta = LogMeta {
            origin: "truce.test/store".to_owned(),
            log_vkey: "vkey".to_owned(),
            reader: "intermediary".to_owned(),
        };
        let derived = [FIGURES.with_rows(vec![])];
        match &self.pg {
            None => Box::new(SqliteStore::create(&self.dir(), &meta, &derived, at_rest).unwrap()),
            Some((url, _)) => {
                std::fs::create_dir_all(self.dir()).unwrap();
                let store = PostgresStore::create(url, &self.dir(), &meta, &derived, at_rest);
                Box::new(store.unwrap())
            }
        }
    }

    fn open(&self) -> Result<Box<dyn LogStore>, StoreError> {
        Ok(match &self.pg {
            None => Box::new(SqliteStore::open(&self.dir())?),
            Some((url, _)) => Box::new(PostgresStore::open(url, &self.dir())?),
        })
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        if let Some((_, schema)) = &self.pg {
            let base = std::env::var("TRUCE_TEST_PG").unwrap();
            let _ = truce_store::pg::drop_schema(&base, schema);
        }
    }
}

/// One place per backend this run can test.
fn places() -> Vec<Place> {
    let mut places = vec![Place {
        temp: tempfile::tempdir().unwrap(),
        pg: None,
    }];
    match std::env::var("TRUCE_TEST_PG") {
        Ok(base) => places.push(pg_place(&base)),
        Err(_) => skipped_loudly(),
    }
    places
}

/// Says, past the test harness's capture (once a run), that the
/// PostgreSQL runs did not happen.
fn skipped_loudly() {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED ON POSTGRESQL: set TRUCE_TEST_PG=postgres://user:password@host/db \
             to run the store's tests there too ***\n"
        );
    });
}

fn pg_place(base: &str) -> Place {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let schema = format!(
        "truce_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let url = truce_store::pg::fresh_schema(base, &schema).unwrap();
    Place {
        temp: tempfile::tempdir().unwrap(),
        pg: Some((url, schema)),
    }
}

fn entry(index: u64, payload: PayloadRecord) -> StoredEntry {
    StoredEntry {
        index,
        leaf: format!("leaf {index}").into_bytes(),
        leaf_hash: [index as u8; 32],
        payload,
    }
}

fn present(index: u64) -> StoredEntry {
    entry(
        index,
        PayloadRecord::Present(format!("payload {index}").into_bytes()),
    )
}

fn figure(id: &str, value: Cell, entry: u64) -> RowChange {
    RowChange::Upsert(&FIGURES, vec![Cell::text(id), value, Cell::int(entry)])
}

/// Appends a batch of these entries alone.
fn append_entries(store: &mut dyn LogStore, entries: Vec<StoredEntry>) {
    store
        .append(Batch {
            entries,
            ..Batch::default()
        })
        .unwrap();
}

fn all_entries(store: &dyn LogStore) -> Vec<StoredEntry> {
    let mut seen = Vec::new();
    let size = store.tree_size().unwrap();
    store
        .for_each_entry(0, size, &mut |e| {
            seen.push(e);
            Ok(())
        })
        .unwrap()
        .unwrap();
    seen
}

#[test]
fn what_a_batch_writes_reads_back_after_reopening() {
    for place in places() {
        let mut store = place.create(AtRest::Encrypted);
        let changes = [
            figure("b", Cell::Int(-7), 1),
            figure("a", Cell::Null, 0),
            figure("c", Cell::text("more than 1,000"), 2),
            figure("b", Cell::Int(6057), 2),
        ];
        store
            .append(Batch {
                entries: vec![present(0), entry(1, PayloadRecord::Withheld), present(2)],
                checkpoint: Some((3, b"note at 3".to_vec())),
                derived: DerivedWrite::Rows(&changes),
                statements: vec![StatementKey {
                    actor: "ua".to_owned(),
                    seq: 1,
                    index: 2,
                }],
                idempotency_keys: vec![IdempotencyKey {
                    actor: "ua".to_owned(),
                    key: "retry-1".to_owned(),
                    index: 1,
                }],
                saved_state: Some(SavedState {
                    tree_size: 3,
                    state: b"state at 3".to_vec(),
                    frontier: Some(vec![9; 64]),
                }),
                ..Batch::default()
            })
            .unwrap();
        drop(store);
        let store = place.open().unwrap();
        assert!(store.is_encrypted());
        assert_eq!(store.meta().unwrap().origin, "truce.test/store");
        assert_eq!(store.tree_size().unwrap(), 3);
        let expected = vec![present(0), entry(1, PayloadRecord::Withheld), present(2)];
        assert_eq!(all_entries(&*store), expected);
        assert_eq!(store.entry(2).unwrap(), Some(present(2)));
        assert_eq!(store.entry(3).unwrap(), None);
        let mut hashes = Vec::new();
        store
            .for_each_leaf_hash(1, 3, &mut |h| hashes.push(h))
            .unwrap()
            .unwrap();
        assert_eq!(hashes, vec![[1; 32], [2; 32]]);
        assert_eq!(
            store.checkpoints().unwrap(),
            vec![(3, b"note at 3".to_vec())]
        );
        assert_eq!(store.latest_checkpoint().unwrap().unwrap().0, 3);
        assert_eq!(store.checkpoint_at(3).unwrap().unwrap(), b"note at 3");
        assert_eq!(store.checkpoint_at(2).unwrap(), None);
        assert_eq!(store.statement_entry("ua", 1).unwrap(), Some(2));
        assert_eq!(store.statement_entry("ru", 1).unwrap(), None);
        assert_eq!(store.idempotent_entry("ua", "retry-1").unwrap(), Some(1));
        // Rows replaced by key, sorted as the core sorts cells.
        let columns = FIGURES.columns;
        assert_eq!(
            store.derived_table("figures", columns).unwrap(),
            vec![
                vec![Cell::text("a"), Cell::Null, Cell::Int(0)],
                vec![Cell::text("b"), Cell::Int(6057), Cell::Int(2)],
                vec![Cell::text("c"), Cell::text("more than 1,000"), Cell::Int(2)],
            ]
        );
        let by_value = ["value", "figure_id"];
        let mut sorted = store.derived_table("figures", &by_value).unwrap();
        sorted.dedup();
        let mut expected = sorted.clone();
        expected.sort();
        assert_eq!(sorted, expected, "{:?}", place.pg);
        let where_first = store
            .derived_rows_where_first("figures", columns, &Cell::text("b"))
            .unwrap();
        assert_eq!(where_first.len(), 1);
        let saved = store.saved_state(10).unwrap().unwrap();
        assert_eq!(
            (saved.tree_size, saved.state, saved.frontier),
            (3, b"state at 3".to_vec(), Some(vec![9; 64]))
        );
        assert_eq!(store.saved_state(2).unwrap(), None);
        assert!(store.table_names().unwrap().contains(&"figures".to_owned()));
    }
}

#[test]
fn a_batch_that_is_not_next_is_refused_as_moved_and_writes_nothing() {
    for place in places() {
        let mut store = place.create(AtRest::Plain);
        append_entries(&mut *store, vec![present(0)]);
        let refused = store.append(Batch {
            entries: vec![present(2)],
            checkpoint: Some((3, b"note".to_vec())),
            ..Batch::default()
        });
        assert!(matches!(refused, Err(StoreError::Moved { stored: 1 })));
        assert_eq!(store.tree_size().unwrap(), 1);
        assert_eq!(store.checkpoints().unwrap(), vec![]);
        // The store takes the next batch after a refused one.
        append_entries(&mut *store, vec![present(1)]);
        assert_eq!(store.tree_size().unwrap(), 2);
    }
}

#[test]
fn a_snapshot_sees_one_state_while_another_connection_appends() {
    for place in places() {
        let mut writer = place.create(AtRest::Encrypted);
        append_entries(&mut *writer, vec![present(0)]);
        let reader = place.open().unwrap();
        {
            let _snapshot = reader.snapshot().unwrap();
            assert_eq!(reader.tree_size().unwrap(), 1);
            writer
                .append(Batch {
                    entries: vec![present(1), present(2)],
                    checkpoint: Some((3, b"note".to_vec())),
                    ..Batch::default()
                })
                .unwrap();
            assert_eq!(reader.tree_size().unwrap(), 1);
            assert_eq!(all_entries(&*reader).len(), 1);
            assert_eq!(reader.latest_checkpoint().unwrap(), None);
        }
        assert_eq!(reader.tree_size().unwrap(), 3);
        assert_eq!(all_entries(&*reader).len(), 3);
    }
}

#[test]
fn an_erasure_takes_the_payload_and_the_saved_states_folded_with_it() {
    for place in places() {
        let mut store = place.create(AtRest::Encrypted);
        for size in [2u64, 4] {
            store
                .append(Batch {
                    entries: vec![present(size - 2), present(size - 1)],
                    saved_state: Some(SavedState {
                        tree_size: size,
                        state: format!("state at {size}").into_bytes(),
                        frontier: None,
                    }),
                    ..Batch::default()
                })
                .unwrap();
        }
        let tables = [FIGURES.with_rows(vec![])];
        store
            .append(Batch {
                entries: vec![present(4)],
                erase_payloads: vec![3],
                derived: DerivedWrite::Rewrite(&tables),
                ..Batch::default()
            })
            .unwrap();
        store.purge_erased().unwrap();
        assert_eq!(
            store.entry(3).unwrap().unwrap().payload,
            PayloadRecord::Erased
        );
        assert_eq!(store.entry(2).unwrap(), Some(present(2)));
        let sizes: Vec<u64> = store
            .saved_states()
            .unwrap()
            .iter()
            .map(|s| s.tree_size)
            .collect();
        assert_eq!(sizes, vec![2], "the state at 4 held entry 3's payload");
        let refused = store.append(Batch {
            entries: vec![present(5)],
            erase_payloads: vec![9],
            ..Batch::default()
        });
        assert!(matches!(refused, Err(StoreError::Corrupt(_))));
        assert_eq!(
            store.tree_size().unwrap(),
            5,
            "a failed batch writes nothing"
        );
    }
}

#[test]
fn an_encrypted_store_does_not_open_without_its_key() {
    for place in places() {
        let mut store = place.create(AtRest::Encrypted);
        append_entries(&mut *store, vec![present(0)]);
        drop(store);
        std::fs::remove_file(place.dir().join("keys").join("store.key")).unwrap();
        let Err(StoreError::Key(why)) = place.open() else {
            panic!("opened without its key");
        };
        assert!(why.contains("missing"), "{why}");
    }
}

#[test]
fn a_rekey_seals_everything_under_a_new_key_that_every_connection_then_uses() {
    for place in places() {
        let mut store = place.create(AtRest::Plain);
        store
            .append(Batch {
                entries: vec![present(0), present(1)],
                saved_state: Some(SavedState {
                    tree_size: 2,
                    state: b"state at 2".to_vec(),
                    frontier: None,
                }),
                ..Batch::default()
            })
            .unwrap();
        // A plain store has no key file yet: the rekey writes the first.
        let key_file = place.dir().join("keys").join("store.key");
        std::fs::create_dir_all(key_file.parent().unwrap()).unwrap();
        let other = place.open().unwrap();
        let sealed = store.rekey().unwrap();
        assert_eq!((sealed.sealed, sealed.rewrapped), (3, 0));
        assert!(store.is_encrypted());
        let first_key = std::fs::read(&key_file).unwrap();
        let rewrapped = store.rekey().unwrap();
        assert_eq!((rewrapped.sealed, rewrapped.rewrapped), (0, 3));
        // The connection opened before both rekeys reads and seals with the
        // key they left.
        let mut other = other;
        append_entries(&mut *other, vec![present(2)]);
        drop((store, other));
        let store = place.open().unwrap();
        assert_eq!(
            all_entries(&*store),
            vec![present(0), present(1), present(2)]
        );
        assert_eq!(store.saved_state(2).unwrap().unwrap().state, b"state at 2");
        drop(store);
        std::fs::write(&key_file, first_key).unwrap();
        let Err(StoreError::Key(why)) = place.open() else {
            panic!("an older key opened the store");
        };
        assert!(why.contains("older key"), "{why}");
    }
}

/// The server calls the store from its async handlers: a backend whose
/// client runs a runtime of its own must not panic there.
#[test]
fn a_store_is_called_from_inside_an_async_runtime() {
    let runtime = tokio::runtime::Builder::new_multi_thread().build().unwrap();
    for place in places() {
        runtime.block_on(async {
            let mut store = place.create(AtRest::Encrypted);
            append_entries(&mut *store, vec![present(0)]);
            assert_eq!(place.open().unwrap().entry(0).unwrap(), Some(present(0)));
        });
    }
}

fn put(value: &str, expires_at: Option<u64>) -> Change {
    Change::Put {
        value: value.as_bytes().to_vec(),
        expires_at,
    }
}

fn value_of(store: &dyn LogStore, key: &str, now: u64) -> Option<String> {
    let record = store.shared_get(Space::Sessions, key, now).unwrap()?;
    Some(String::from_utf8(record.value).unwrap())
}

#[test]
fn shared_records_are_seen_by_every_connection_and_expire() {
    for place in places() {
        let mut one = place.create(AtRest::Encrypted);
        let other = place.open().unwrap();
        one.shared_update(Space::Sessions, "a", 100, &mut |_| put("first", Some(200)))
            .unwrap();
        one.shared_update(Space::Sessions, "b", 100, &mut |_| put("lasting", None))
            .unwrap();
        assert_eq!(value_of(&*other, "a", 150).as_deref(), Some("first"));
        assert_eq!(other.shared_revision(Space::Sessions, "a").unwrap(), 1);
        // Another space does not see them.
        assert_eq!(other.shared_get(Space::Access, "a", 150).unwrap(), None);

        one.shared_update(Space::Sessions, "a", 150, &mut |before| {
            assert_eq!(before.unwrap().value, b"first");
            put("second", Some(200))
        })
        .unwrap();
        assert_eq!(value_of(&*other, "a", 150).as_deref(), Some("second"));
        assert_eq!(other.shared_revision(Space::Sessions, "a").unwrap(), 2);

        // Expired: absent to reads, and deleted by the next change.
        assert_eq!(value_of(&*other, "a", 200), None);
        let keys = |store: &dyn LogStore, now| -> Vec<String> {
            let listed = store.shared_list(Space::Sessions, now).unwrap();
            listed.into_iter().map(|(key, _)| key).collect()
        };
        assert_eq!(keys(&*other, 150), ["a", "b"]);
        assert_eq!(keys(&*other, 250), ["b"]);
        one.shared_update(Space::Sessions, "c", 250, &mut |before| {
            assert_eq!(before, None);
            Change::Keep
        })
        .unwrap();
        assert_eq!(other.shared_revision(Space::Sessions, "a").unwrap(), 0);

        one.shared_update(Space::Sessions, "b", 250, &mut |_| Change::Remove)
            .unwrap();
        assert_eq!(keys(&*other, 0), Vec::<String>::new());
        // None of it is the log's.
        assert_eq!(other.tree_size().unwrap(), 0);
    }
}

#[test]
fn concurrent_updates_of_one_record_lose_none() {
    const EACH: u32 = 40;
    for place in places() {
        drop(place.create(AtRest::Encrypted));
        let count = |before: Option<&SharedRecord>| -> u32 {
            before.map_or(0, |r| String::from_utf8_lossy(&r.value).parse().unwrap())
        };
        std::thread::scope(|scope| {
            for _ in 0..2 {
                let mut store = place.open().unwrap();
                scope.spawn(move || {
                    for _ in 0..EACH {
                        store
                            .shared_update(Space::LoginFailures, "n", 0, &mut |before| {
                                put(&(count(before) + 1).to_string(), None)
                            })
                            .unwrap();
                    }
                });
            }
        });
        let store = place.open().unwrap();
        let record = store.shared_get(Space::LoginFailures, "n", 0).unwrap();
        assert_eq!(count(record.as_ref()), 2 * EACH);
        assert_eq!(record.unwrap().revision, u64::from(2 * EACH));
    }
}

#[test]
fn a_store_made_before_shared_records_gains_their_table_on_opening() {
    for place in places() {
        let mut store = place.create(AtRest::Encrypted);
        append_entries(&mut *store, vec![present(0)]);
        drop(store);
        // Made as the previous schema version left it.
        match &place.pg {
            None => {
                let conn = rusqlite::Connection::open(place.dir().join("truce.db")).unwrap();
                conn.execute_batch("DROP TABLE shared; PRAGMA user_version = 4;")
                    .unwrap();
            }
            Some((url, _)) => {
                let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
                client
                    .batch_execute(
                        "DROP TABLE shared; \
                         UPDATE meta SET value = '1' WHERE key = 'schema_version'",
                    )
                    .unwrap();
            }
        }
        let mut store = place.open().unwrap();
        assert!(
            store
                .table_names()
                .unwrap()
                .contains(&SHARED_TABLE.to_owned())
        );
        store
            .shared_update(Space::Access, ACCESS_KEY, 0, &mut |_| put("users", None))
            .unwrap();
        assert_eq!(store.entry(0).unwrap(), Some(present(0)));
        // Opened again, it is not migrated twice.
        let again = place.open().unwrap();
        let access = again.shared_get(Space::Access, ACCESS_KEY, 0).unwrap();
        assert_eq!(access.unwrap().value, b"users");
    }
}
