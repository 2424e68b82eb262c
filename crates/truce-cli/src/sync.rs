//! `truce sync`: a party's or observer's own copy of the log, fetched from
//! the server and trusted only once it verifies. Only new entries are
//! fetched; the server's new signed checkpoints must match the tree of the
//! entries already held plus the new ones, so a server that showed two
//! different logs is caught, and the old copy stays as the evidence.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use clap::Args;
use tlog::{VerifierKey, merkle};
use truce_ledger::LogView;
use truce_store::seal::KeySource;
use truce_store::{LogMeta, PayloadRecord, StoredEntry};

use crate::{CliError, usage};

#[derive(Args)]
pub struct SyncArgs {
    /// The truce server, e.g. http://127.0.0.1:8080
    #[arg(long)]
    server: String,
    /// Your API token: the copy holds what its actor may read.
    #[arg(long, env = "TRUCE_TOKEN", hide_env_values = true)]
    token: String,
    /// Where your copy lives (made on the first sync).
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// The log's verifier key to pin; by default the key of the copy you
    /// already hold, or on a first sync the key the server names (printed:
    /// compare it with the one the intermediary published).
    #[arg(long)]
    log_vkey: Option<String>,
}

fn alarm(message: String) -> CliError {
    CliError::CheckFailed(format!("ALARM: {message}; your copy is unchanged"))
}

struct Fetched {
    meta: LogMeta,
    entries: Vec<StoredEntry>,
    checkpoints: Vec<(u64, Vec<u8>)>,
    /// The size of the server's latest checkpoint.
    tree_size: u64,
}

/// The caller's copy from entry `from` on.
fn fetch(server: &str, token: &str, from: u64) -> Result<Fetched, CliError> {
    let mut fetched: Option<Fetched> = None;
    loop {
        let start = from + fetched.as_ref().map_or(0, |f| f.entries.len() as u64);
        let url = format!("{server}/api/copy?start={start}");
        let page: serde_json::Value = match ureq::get(&url)
            .set("Authorization", &format!("Bearer {token}"))
            .call()
        {
            Ok(response) => response
                .into_json()
                .map_err(|e| usage(format!("{url}: {e}")))?,
            Err(ureq::Error::Status(status, _)) => {
                return Err(usage(format!("{url}: refused ({status})")));
            }
            Err(e) => return Err(usage(format!("{url}: {e}"))),
        };
        let text = |field: &str| {
            page[field]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| usage(format!("{url}: no {field}")))
        };
        let copy = fetched.get_or_insert(Fetched {
            meta: LogMeta {
                origin: text("origin")?,
                log_vkey: text("log_vkey")?,
                reader: text("reader")?,
            },
            entries: Vec::new(),
            checkpoints: Vec::new(),
            tree_size: 0,
        });
        let entries = page["entries"].as_array().cloned().unwrap_or_default();
        for entry in &entries {
            let index = from + copy.entries.len() as u64;
            if entry["index"].as_u64() != Some(index) {
                return Err(alarm(format!("the server skipped entry {index}")));
            }
            let decode = |value: &serde_json::Value| {
                value
                    .as_str()
                    .and_then(|text| BASE64.decode(text).ok())
                    .ok_or_else(|| alarm(format!("entry {index} is malformed")))
            };
            let leaf = decode(&entry["leaf"])?;
            let payload = match entry["status"].as_str() {
                Some("present") => PayloadRecord::Present(decode(&entry["payload"])?),
                Some("erased") => PayloadRecord::Erased,
                _ => PayloadRecord::Withheld,
            };
            copy.entries.push(StoredEntry {
                index,
                // Computed here: nothing of the tree is taken on trust.
                leaf_hash: merkle::leaf_hash(&leaf),
                leaf,
                payload,
            });
        }
        for checkpoint in page["checkpoints"].as_array().cloned().unwrap_or_default() {
            let size = checkpoint["size"].as_u64();
            let note = checkpoint["note"].as_str();
            let (Some(size), Some(note)) = (size, note) else {
                return Err(alarm("a malformed checkpoint".to_owned()));
            };
            copy.checkpoints.push((size, note.as_bytes().to_vec()));
        }
        copy.tree_size = page["tree_size"].as_u64().unwrap_or(0);
        if entries.is_empty() || from + copy.entries.len() as u64 >= copy.tree_size {
            break;
        }
    }
    fetched.ok_or_else(|| usage("no answer"))
}

/// The copy already in `dir`, if there is one.
struct Held {
    meta: LogMeta,
    entries: Vec<StoredEntry>,
    checkpoints: Vec<(u64, Vec<u8>)>,
}

fn held(dir: &Path) -> Result<Option<Held>, CliError> {
    if !dir.join(truce_store::sqlite::DB_FILE).exists() {
        return Ok(None);
    }
    let view = LogView::open(dir)?;
    let store = view.store();
    let mut entries = Vec::new();
    store
        .for_each_entry(0, view.tree_size(), &mut |entry| {
            entries.push(entry);
            Ok(())
        })
        .map_err(|e| usage(e.to_string()))?
        .map_err(usage)?;
    Ok(Some(Held {
        meta: view.meta().clone(),
        entries,
        checkpoints: store.checkpoints().map_err(|e| usage(e.to_string()))?,
    }))
}

/// The server's latest signed checkpoint must be a checkpoint of
/// `entries` (the copy as it will be). The new checkpoints in a copy only
/// cover new entries, so without this a log forked at the copy's own size
/// (the same size, another root) went unnoticed.
fn same_tree_as_served(
    server: &str,
    pinned: &VerifierKey,
    entries: &[StoredEntry],
) -> Result<(), CliError> {
    let latest = crate::witness::served_checkpoint(server, pinned, alarm)?;
    // A checkpoint signed after the copy was fetched is checked next time.
    if latest.tree_size > entries.len() as u64 {
        return Ok(());
    }
    let mut tree = merkle::TreeHashes::new();
    for entry in entries {
        tree.push(entry.leaf_hash);
    }
    if merkle::root(&tree, latest.tree_size) != latest.root_hash {
        return Err(alarm(format!(
            "SPLIT VIEW: the server signed another tree of size {} than your copy holds",
            latest.tree_size
        )));
    }
    Ok(())
}

/// The copy is rebuilt in `staging` under the store key the reader's copy
/// had (when it is a file in the copy: a key from the environment or a
/// file named there serves both anyway), so the key the reader backed up
/// keeps opening it.
fn keep_store_key(copy: &Path, staging: &Path) -> Result<(), CliError> {
    let source = KeySource::for_store(copy);
    let KeySource::File(held) = &source else {
        return Ok(());
    };
    if !held.starts_with(copy) {
        return Ok(());
    }
    let key = source.read().map_err(|e| usage(e.to_string()))?;
    if let (Some(key), Ok(within)) = (key, held.strip_prefix(copy)) {
        key.write_new_file(&staging.join(within))
            .map_err(|e| usage(e.to_string()))?;
    }
    Ok(())
}

pub fn sync(args: SyncArgs) -> Result<(), CliError> {
    let server = args.server.trim_end_matches('/');
    let old = held(&args.data)?;
    let old_size = old.as_ref().map_or(0, |o| o.entries.len() as u64);
    // Only what is new is fetched; the entries already held are kept, and
    // the server's new checkpoints must then match the tree they extend:
    // a server that changed an old entry cannot produce such checkpoints.
    let fetched = fetch(server, &args.token, old_size)?;
    if fetched.tree_size < old_size {
        return Err(alarm(format!(
            "ROLLBACK: the server's log has {} entries, your copy {old_size}",
            fetched.tree_size
        )));
    }
    let pinned_text = args
        .log_vkey
        .clone()
        .or_else(|| old.as_ref().map(|o| o.meta.log_vkey.clone()))
        .unwrap_or_else(|| fetched.meta.log_vkey.clone());
    let pinned: VerifierKey = pinned_text
        .parse()
        .map_err(|e| usage(format!("log key: {e}")))?;
    let had_copy = old.is_some();
    let (mut entries, mut checkpoints) = match old {
        Some(old) if old.meta != fetched.meta => {
            return Err(alarm(format!(
                "the server serves {} for {}, your copy is of {} for {}",
                fetched.meta.origin, fetched.meta.reader, old.meta.origin, old.meta.reader
            )));
        }
        Some(old) => (old.entries, old.checkpoints),
        None => (Vec::new(), Vec::new()),
    };
    entries.extend(fetched.entries);
    checkpoints.extend(fetched.checkpoints);
    same_tree_as_served(server, &pinned, &entries)?;
    let mut staging = args.data.as_os_str().to_owned();
    staging.push(".sync");
    let staging = PathBuf::from(staging);
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .map_err(|e| usage(format!("{}: {e}", staging.display())))?;
    }
    keep_store_key(&args.data, &staging)?;
    let withheld = entries
        .iter()
        .filter(|e| e.payload == PayloadRecord::Withheld)
        .count();
    let count = entries.len();
    let written = truce_ledger::copy::write_copy(&staging, &fetched.meta, entries, checkpoints);
    let verified = written
        .map_err(|e| alarm(format!("the served copy breaks the log's rules ({e})")))
        .and_then(|()| {
            truce_ledger::verify_data_dir(&staging, Some(&pinned))
                .map_err(|failure| alarm(format!("the served copy does not verify ({failure})")))
        });
    let report = match verified {
        Ok(report) => report,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    if had_copy {
        let mut previous = args.data.as_os_str().to_owned();
        previous.push(".previous");
        let previous = PathBuf::from(previous);
        let _ = std::fs::remove_dir_all(&previous);
        std::fs::rename(&args.data, &previous)
            .map_err(|e| usage(format!("{}: {e}", args.data.display())))?;
        std::fs::rename(&staging, &args.data)
            .map_err(|e| usage(format!("{}: {e}", args.data.display())))?;
        let _ = std::fs::remove_dir_all(&previous);
    } else {
        std::fs::rename(&staging, &args.data)
            .map_err(|e| usage(format!("{}: {e}", args.data.display())))?;
    }
    if args.log_vkey.is_none() && !had_copy {
        println!("log verifier key (compare it with the published one): {pinned_text}");
    }
    println!(
        "copy of {} for {}: {count} entries ({} new, {withheld} payloads withheld), {} checkpoints; verified",
        report.origin,
        report.reader,
        count as u64 - old_size,
        report.checkpoints
    );
    Ok(())
}
