//! `truce log`: what a party's technician needs to hold the log to account
//! offline: checkpoints, entries, inclusion and consistency proofs and
//! their verification, witness cosignatures and a tiles export.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use clap::Subcommand;
use tlog::merkle;
use tlog::{Checkpoint, Note, VerifierKey};
use truce_core::Envelope;
use truce_ledger::keys::read_key_file;
use truce_ledger::witness::cosign_latest;
use truce_store::PayloadRecord;

use crate::{CliError, DataDir, actor_id, open, usage};

const PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

#[derive(Subcommand)]
pub enum LogCommand {
    /// Print the latest signed checkpoint (or the one at --size), with its
    /// cosignatures.
    Checkpoint {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        size: Option<u64>,
    },
    /// Print an entry's envelope and, where this copy holds it, its payload.
    Entry {
        #[command(flatten)]
        data: DataDir,
        index: u64,
    },
    /// Write an inclusion proof (C2SP tlog-proof, the entry in its `extra`
    /// line) against the latest checkpoint.
    Prove {
        #[command(flatten)]
        data: DataDir,
        index: u64,
    },
    /// Check a tlog-proof offline with the log's verifier key.
    VerifyProof {
        /// The log's verifier key (name+hash+base64).
        #[arg(long)]
        vkey: String,
        #[arg(value_name = "PROOF_FILE")]
        proof: PathBuf,
    },
    /// Print a consistency proof between two tree sizes (one base64 hash a line).
    Consistency {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        old: u64,
        #[arg(long)]
        new: u64,
    },
    /// Check offline that a newer checkpoint extends an older one.
    VerifyConsistency {
        #[arg(long)]
        vkey: String,
        #[arg(long, value_name = "FILE")]
        old_checkpoint: PathBuf,
        #[arg(long, value_name = "FILE")]
        new_checkpoint: PathBuf,
        #[arg(long, value_name = "FILE")]
        proof: PathBuf,
    },
    /// As a registered witness: check the latest checkpoint against the last
    /// one this witness cosigned, and cosign it.
    Cosign {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        witness: String,
        /// The witness's cosigner key file (type 0x04).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
    },
    /// Make a reader's copy of the log: all envelopes, checkpoints and
    /// cosignatures, and only the payloads that actor may read.
    ExportCopy {
        #[command(flatten)]
        data: DataDir,
        /// The actor the copy is for.
        #[arg(long = "for", value_name = "ACTOR")]
        reader: String,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Export the log as C2SP tlog-tiles into a directory.
    ExportTiles {
        #[command(flatten)]
        data: DataDir,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

pub(crate) fn store_error(e: truce_store::StoreError) -> CliError {
    usage(e.to_string())
}

fn read(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| usage(format!("{}: {e}", path.display())))
}

fn parse_vkey(text: &str) -> Result<VerifierKey, CliError> {
    text.parse().map_err(|e| usage(format!("--vkey: {e}")))
}

/// Verifies a checkpoint note with the log key and parses it.
fn open_checkpoint(note: &str, vkey: &VerifierKey) -> Result<Checkpoint, CliError> {
    let note = Note::parse(note.as_bytes())
        .map_err(|e| CliError::CheckFailed(format!("checkpoint: {e}")))?;
    note.verify(std::slice::from_ref(vkey))
        .map_err(|e| CliError::CheckFailed(format!("checkpoint: {e}")))?;
    let checkpoint = Checkpoint::parse(&note.text)
        .map_err(|e| CliError::CheckFailed(format!("checkpoint: {e}")))?;
    if checkpoint.origin != vkey.name() {
        return Err(CliError::CheckFailed(
            "checkpoint is for another log".to_owned(),
        ));
    }
    Ok(checkpoint)
}

pub fn run(command: LogCommand) -> Result<(), CliError> {
    match command {
        LogCommand::Checkpoint { data, size } => {
            // Read straight from the store: printing a checkpoint folds nothing.
            let (_, note) = truce_ledger::ledger::stored_checkpoint(data.place()?, size)?;
            print!("{}", String::from_utf8_lossy(&note.to_bytes()));
        }
        LogCommand::Entry { data, index } => {
            let store = truce_store::open(data.place()?).map_err(store_error)?;
            let entry = store
                .entry(index)
                .map_err(store_error)?
                .ok_or_else(|| usage(format!("no entry {index}")))?;
            let envelope = Envelope::from_leaf(&entry.leaf)
                .map_err(|e| usage(format!("entry {index}: {e}")))?;
            let statement = envelope.statement();
            println!("entry        {index}");
            println!("kind         {}", statement.kind);
            println!(
                "actor        {} (key {}, sequence {})",
                statement.actor, statement.key_id, statement.seq
            );
            println!(
                "visibility   {}",
                serde_json::to_string(&statement.visibility).expect("serialisable")
            );
            println!("logged at    {} ms since epoch", envelope.logged_at_ms);
            println!(
                "leaf hash    {}",
                truce_core::envelope::hex(&entry.leaf_hash)
            );
            println!("payload hash {}", statement.payload_sha256);
            match &entry.payload {
                PayloadRecord::Present(bytes) => {
                    let event = statement
                        .decode_stored(bytes)
                        .map_err(|e| usage(format!("entry {index}: {e}")))?;
                    println!(
                        "payload      {}",
                        serde_json::to_string_pretty(&event).expect("serialisable")
                    );
                }
                PayloadRecord::Withheld => println!("payload      (withheld from this copy)"),
                PayloadRecord::Erased => println!("payload      (erased)"),
            }
        }
        LogCommand::Prove { data, index } => {
            let view = crate::view(&data)?;
            let (checkpoint, note) = view.checkpoint(None)?;
            let size = checkpoint.tree_size;
            if index >= size {
                return Err(usage(format!(
                    "entry {index} is not covered by the latest checkpoint (size {size})"
                )));
            }
            let entry = view
                .store()
                .entry(index)
                .map_err(store_error)?
                .ok_or_else(|| usage("no such entry"))?;
            let proof = merkle::inclusion_proof(view.tree()?, index, size)
                .map_err(|e| usage(e.to_string()))?;
            println!("{PROOF_HEADER}");
            println!("extra {}", BASE64.encode(&entry.leaf));
            println!("index {index}");
            for hash in proof {
                println!("{}", BASE64.encode(hash));
            }
            println!();
            print!("{}", String::from_utf8_lossy(&note.to_bytes()));
        }
        LogCommand::VerifyProof { vkey, proof } => {
            let vkey = parse_vkey(&vkey)?;
            let text = read(&proof)?;
            let (index, envelope) = verify_tlog_proof(&text, &vkey)?;
            let statement = envelope.statement();
            println!(
                "OK: entry {index} ({} by {}, payload sha256 {}) is in the log {}",
                statement.kind,
                statement.actor,
                statement.payload_sha256,
                vkey.name()
            );
        }
        LogCommand::Consistency { data, old, new } => {
            let view = crate::view(&data)?;
            if new > view.tree_size() {
                return Err(usage(format!(
                    "--new {new} is beyond the log's {} entries",
                    view.tree_size()
                )));
            }
            let proof = merkle::consistency_proof(view.tree()?, old, new)
                .map_err(|e| usage(e.to_string()))?;
            for hash in proof {
                println!("{}", BASE64.encode(hash));
            }
        }
        LogCommand::VerifyConsistency {
            vkey,
            old_checkpoint,
            new_checkpoint,
            proof,
        } => {
            let vkey = parse_vkey(&vkey)?;
            let old = open_checkpoint(&read(&old_checkpoint)?, &vkey)?;
            let new = open_checkpoint(&read(&new_checkpoint)?, &vkey)?;
            let hashes = read(&proof)?
                .lines()
                .filter(|l| !l.is_empty())
                .map(|l| {
                    BASE64
                        .decode(l)
                        .map_err(|_| usage(format!("{}: not base64", proof.display())))
                })
                .collect::<Result<Vec<_>, _>>()?;
            merkle::verify_consistency(
                old.tree_size,
                new.tree_size,
                &hashes,
                &old.root_hash,
                &new.root_hash,
            )
            .map_err(|e| CliError::CheckFailed(format!("consistency: {e}")))?;
            println!(
                "OK: the checkpoint at size {} extends the one at size {}",
                new.tree_size, old.tree_size
            );
        }
        LogCommand::Cosign { data, witness, key } => {
            let mut ledger = open(&data)?;
            let witness = actor_id(&witness)?;
            let timestamp = (truce_ledger::now_ms() / 1000) as u64;
            let event = cosign_latest(ledger.view(), &witness, &read_key_file(&key)?, timestamp)?;
            let draft = truce_ledger::app::Draft::of(ledger.state(), event);
            crate::record(&mut ledger, &crate::Signer::intermediary(), draft)?;
        }
        LogCommand::ExportCopy { data, reader, out } => {
            let store = truce_store::open(data.place()?).map_err(store_error)?;
            let reader = actor_id(&reader)?;
            let copy = truce_ledger::copy::export_reader_copy(store.as_ref(), &reader, &out)?;
            println!(
                "wrote {reader}'s copy of {} entries ({} payloads withheld) to {}",
                copy.entries,
                copy.withheld,
                out.display()
            );
        }
        LogCommand::ExportTiles { data, out } => {
            let exported = truce_ledger::export_tiles(&crate::view(&data)?, &out)?;
            println!(
                "wrote {} files for tree size {} to {}",
                exported.files,
                exported.tree_size,
                out.display()
            );
        }
    }
    Ok(())
}

/// Parses and checks a tlog-proof whose `extra` is the entry's envelope.
pub fn verify_tlog_proof(text: &str, vkey: &VerifierKey) -> Result<(u64, Envelope), CliError> {
    let malformed = |why: &str| CliError::CheckFailed(format!("malformed proof: {why}"));
    let (head, checkpoint_note) = text
        .split_once("\n\n")
        .ok_or_else(|| malformed("no blank line"))?;
    let mut lines = head.lines();
    if lines.next() != Some(PROOF_HEADER) {
        return Err(malformed("first line is not c2sp.org/tlog-proof@v1"));
    }
    let extra = lines
        .next()
        .and_then(|l| l.strip_prefix("extra "))
        .ok_or_else(|| malformed("no extra line"))?;
    let leaf = BASE64
        .decode(extra)
        .map_err(|_| malformed("extra is not base64"))?;
    let index: u64 = lines
        .next()
        .and_then(|l| l.strip_prefix("index "))
        .and_then(|i| i.parse().ok())
        .ok_or_else(|| malformed("no index line"))?;
    let hashes = lines
        .map(|l| {
            BASE64
                .decode(l)
                .map_err(|_| malformed("proof line is not base64"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let checkpoint = open_checkpoint(checkpoint_note, vkey)?;
    merkle::verify_inclusion(
        index,
        checkpoint.tree_size,
        &merkle::leaf_hash(&leaf),
        &hashes,
        &checkpoint.root_hash,
    )
    .map_err(|e| CliError::CheckFailed(format!("inclusion: {e}")))?;
    let envelope =
        Envelope::from_leaf(&leaf).map_err(|e| CliError::CheckFailed(format!("entry: {e}")))?;
    if envelope.index != index {
        return Err(CliError::CheckFailed(
            "the entry names another index".to_owned(),
        ));
    }
    Ok((index, envelope))
}
