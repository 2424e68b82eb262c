//! Grows an existing log (the Istanbul scenario, say) to a given size with
//! the ledger benchmark's mix, signed by `ua` with its key in `keys/ua.key`:
//! one entry in four a claim (a row in a derived table), the rest remarks.
//! The read-latency benchmark uses it to compare a server on the scenario at
//! 4k entries with one on the same scenario grown to a million.
//!
//!     cargo run --release -p truce-ledger --example grow_log -- DIR ENTRIES

use std::path::PathBuf;

use truce_core::{ActorId, Visibility};
use truce_ledger::keys::read_key_file;
use truce_ledger::{Item, KEYS_DIR, Ledger, LedgerOptions, ToSign};

#[path = "common/mix.rs"]
mod mix;

const BATCH: u64 = 2_000;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().expect("DIR"));
    let target: u64 = args
        .next()
        .expect("ENTRIES")
        .parse()
        .expect("ENTRIES is a number");
    let ua = ActorId::new("ua").expect("an actor id");
    let key = read_key_file(&dir.join(KEYS_DIR).join("ua.key")).expect("keys/ua.key");
    let mut ledger = Ledger::open(&dir, LedgerOptions::default()).expect("open the log");
    let visibility = Visibility::Party(ua.clone());
    while ledger.view().tree_size() < target {
        let from = ledger.view().tree_size();
        let items = (from..target.min(from + BATCH))
            .map(|i| {
                Item::Sign(ToSign::new(
                    ua.clone(),
                    key.clone(),
                    mix::event(i),
                    visibility.clone(),
                ))
            })
            .collect();
        for result in ledger.append_items(items).expect("append a batch") {
            result.expect("every grown entry is accepted");
        }
    }
    println!("{}: {} entries", dir.display(), ledger.view().tree_size());
}
