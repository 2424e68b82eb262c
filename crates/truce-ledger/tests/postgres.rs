//! The ledger on PostgreSQL: the Istanbul scenario loads and verifies, two
//! writers on one store (as two `truce serve` processes) append in turn and
//! lose nothing, and a change to any column or the deletion of a row of
//! any table is caught by `truce verify`. Runs when `TRUCE_TEST_PG` names
//! a database to make schemas in; else says, loudly, that it did not.

use std::io::Write;
use std::path::Path;

use truce_core::remarks::RemarkEvent;
use truce_core::{ActorId, Event, Visibility};
use truce_ledger::keys::read_key_file;
use truce_ledger::{KEYS_DIR, Ledger, LedgerOptions, LogView, verify_data_dir};
use truce_store::{Backend, Place};

fn base() -> Option<String> {
    let base = std::env::var("TRUCE_TEST_PG").ok();
    if base.is_none() {
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED ON POSTGRESQL: set TRUCE_TEST_PG=postgres://user:password@host/db ***\n"
        );
    }
    base
}

/// A schema of this test's own, dropped when it ends.
struct Schema {
    base: String,
    name: String,
    url: String,
}

impl Schema {
    fn new(base: &str, name: &str) -> Schema {
        let name = format!("truce_ledger_{}_{name}", std::process::id());
        let url = truce_store::pg::fresh_schema(base, &name).unwrap();
        Schema {
            base: base.to_owned(),
            name,
            url,
        }
    }

    fn place(&self, dir: &Path) -> Place {
        Place {
            dir: dir.to_owned(),
            backend: Backend::Postgres(self.url.clone()),
        }
    }

    fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).unwrap()
    }

    /// Every table of this schema copied into `to`'s (empty).
    fn copy_into(&self, to: &Schema) {
        let mut client = to.client();
        for table in self.tables() {
            let (from, into) = (&self.name, &to.name);
            client
                .batch_execute(&format!(
                    "CREATE TABLE {into}.{table} (LIKE {from}.{table} INCLUDING ALL); \
                     INSERT INTO {into}.{table} SELECT * FROM {from}.{table}"
                ))
                .unwrap();
        }
    }

    fn tables(&self) -> Vec<String> {
        let rows = self
            .client()
            .query(
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = $1 ORDER BY table_name",
                &[&self.name],
            )
            .unwrap();
        rows.iter().map(|r| r.get(0)).collect()
    }

    /// (column, data type) of a table.
    fn columns(&self, table: &str) -> Vec<(String, String)> {
        let rows = self
            .client()
            .query(
                "SELECT column_name::text, data_type::text FROM information_schema.columns \
                 WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
                &[&self.name, &table],
            )
            .unwrap();
        rows.iter().map(|r| (r.get(0), r.get(1))).collect()
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = truce_store::pg::drop_schema(&self.base, &self.name);
    }
}

#[test]
fn the_scenario_on_postgresql_verifies_and_two_writers_lose_nothing() {
    let Some(base) = base() else { return };
    let schema = Schema::new(&base, "writers");
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("istanbul");
    let place = schema.place(&dir);
    let loaded = truce_ledger::scenario::load("istanbul-2025", &place).unwrap();
    let report = verify_data_dir(&place, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.tree_size, loaded.entries);

    // Two ledgers on one store, as two server processes: each appends in
    // turn, folding what the other appended.
    let mut first = loaded.ledger;
    let mut second = Ledger::open(&place, LedgerOptions::default()).unwrap();
    let ua = ActorId::new("ua").unwrap();
    let key = read_key_file(&dir.join(KEYS_DIR).join("ua.key")).unwrap();
    let mut acknowledged = Vec::new();
    for i in 0..20 {
        let ledger = if i % 2 == 0 { &mut first } else { &mut second };
        let event = Event::Remark(RemarkEvent::RemarkRecorded {
            subject: format!("writer {}", i % 2),
            text: format!("remark {i}"),
        });
        let index = ledger
            .record(&ua, &key, event, Visibility::Party(ua.clone()))
            .unwrap();
        acknowledged.push(index);
    }
    let expected: Vec<u64> = (loaded.entries..loaded.entries + 20).collect();
    assert_eq!(
        acknowledged, expected,
        "every append numbered once, in turn"
    );
    drop((first, second));
    let view = LogView::open(&place).unwrap();
    assert_eq!(view.tree_size(), loaded.entries + 20);
    verify_data_dir(&place, None).unwrap_or_else(|e| panic!("{e}"));
}

/// A changed value of the same type: a byte flipped in the middle, a
/// character added, a number moved far away (so a key does not collide),
/// a payload status swapped for another the schema admits.
fn changed(column: &str, data_type: &str) -> String {
    match data_type {
        "bytea" => format!(
            "CASE WHEN {column} IS NULL OR length({column}) = 0 THEN '\\x00'::bytea \
             ELSE set_byte({column}, length({column}) / 2, \
             get_byte({column}, length({column}) / 2) # 1) END"
        ),
        "bigint" => format!("{column} + 1000000"),
        _ if column == "status" => {
            format!("CASE {column} WHEN 'present' THEN 'withheld' ELSE 'present' END")
        }
        _ => format!("{column} || '~'"),
    }
}

#[test]
fn changing_or_deleting_any_row_of_any_table_is_detected() {
    let Some(base) = base() else { return };
    let pristine = Schema::new(&base, "pristine");
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("istanbul");
    drop(truce_ledger::scenario::load("istanbul-2025", pristine.place(&dir)).unwrap());
    // The index tables answer retries and are checked against the entry
    // they name when used, and the shared records are the servers': neither
    // is part of what verification compares.
    let tables: Vec<String> = (pristine.tables().into_iter())
        .filter(|t| {
            !truce_store::INDEX_TABLES.contains(&t.as_str()) && t != truce_store::SHARED_TABLE
        })
        .collect();
    assert!(tables.len() >= 15, "{tables:?}");
    // One copy, tampered with one case at a time and restored after each.
    let tampered = Schema::new(&base, "tampered");
    pristine.copy_into(&tampered);
    let mut cases = 0;
    for table in &tables {
        let count: i64 = (pristine.client())
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .unwrap()
            .get(0);
        let mut tampers = Vec::new();
        // A row in the middle (the scenario leaves the table of witnesses'
        // cosignatures empty). Every row of a small log, and swaps, are the
        // SQLite test's; here each case verifies the whole scenario anew.
        let offsets = if count == 0 { vec![] } else { vec![count / 2] };
        for offset in offsets {
            // The row at this place in the copy (its own physical order).
            let row =
                format!("ctid = (SELECT ctid FROM {table} ORDER BY ctid OFFSET {offset} LIMIT 1)");
            tampers.push((
                format!("deleted row {offset}"),
                format!("DELETE FROM {table} WHERE {row}"),
            ));
            for (column, data_type) in pristine.columns(table) {
                let value = changed(&column, &data_type);
                tampers.push((
                    format!("changed {column} of row {offset}"),
                    format!("UPDATE {table} SET {column} = {value} WHERE {row}"),
                ));
            }
        }
        for (what, sql) in tampers {
            let mut client = tampered.client();
            match client.execute(sql.as_str(), &[]) {
                Ok(rows) => assert_eq!(rows, 1, "{table}: {what} changed {rows} rows"),
                // A key changed into its neighbour's: the schema refuses it.
                Err(_) => continue,
            }
            let failure = match verify_data_dir(tampered.place(&dir), None) {
                Ok(_) => panic!("{table}: undetected: {what}"),
                Err(failure) => failure.0,
            };
            let located = failure.contains("entry ")
                || failure.contains("checkpoint at size ")
                || (table == "meta" && (failure.contains("meta") || failure.contains("schema")));
            assert!(
                located,
                "{table}: {what}: the failure does not say where: {failure}"
            );
            cases += 1;
            // The table as it was, for the next case.
            let from = &pristine.name;
            client
                .batch_execute(&format!(
                    "DELETE FROM {table}; INSERT INTO {table} SELECT * FROM {from}.{table}"
                ))
                .unwrap();
        }
    }
    assert!(cases > 60, "only {cases} tamper cases");
}
