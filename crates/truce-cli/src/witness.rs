//! `truce witness`: a witness's client. It fetches the log's latest
//! checkpoint, checks the log's signature and that the checkpoint extends
//! the last one this witness saw (a consistency proof from the server), and
//! only then cosigns and submits. Anything else is a split view or a
//! rollback: it refuses to cosign and exits 1 with an alarm.

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use clap::Args;
use tlog::{Checkpoint, Note, VerifierKey, merkle};
use truce_ledger::keys::read_key_file;

use crate::{CliError, usage};

#[derive(Args)]
pub struct WitnessArgs {
    /// The log server, e.g. http://127.0.0.1:8080
    #[arg(long)]
    server: String,
    /// The witness's cosigner key file (type 0x04).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The log's verifier key (name+hash+base64).
    #[arg(long)]
    log_vkey: String,
    /// Where the witness keeps the last checkpoint it saw ("size root").
    #[arg(long, value_name = "FILE")]
    state: PathBuf,
    /// Keep watching: check the log every SECONDS and cosign each new
    /// checkpoint; stop only on an alarm (exit 1).
    #[arg(long, value_name = "SECONDS")]
    every: Option<u64>,
}

fn fetch(url: &str) -> Result<String, CliError> {
    let response = ureq::get(url)
        .call()
        .map_err(|e| usage(format!("{url}: {e}")))?;
    response
        .into_string()
        .map_err(|e| usage(format!("{url}: {e}")))
}

fn alarm(message: String) -> CliError {
    CliError::CheckFailed(format!("ALARM: {message}; not cosigned"))
}

pub fn run(args: WitnessArgs) -> Result<(), CliError> {
    let key = read_key_file(&args.key)?;
    let log_vkey: VerifierKey = args
        .log_vkey
        .parse()
        .map_err(|e| usage(format!("--log-vkey: {e}")))?;
    let Some(every) = args.every else {
        return watch_once(&args, &key, &log_vkey);
    };
    loop {
        match watch_once(&args, &key, &log_vkey) {
            // The server may be down for a while: say so, keep watching.
            Err(CliError::Usage(trouble)) => eprintln!("warning: {trouble}"),
            Err(alarm) => return Err(alarm),
            Ok(()) => {}
        }
        std::thread::sleep(std::time::Duration::from_secs(every.max(1)));
    }
}

/// The latest checkpoint `server` serves, once it is signed by the log's
/// key and names that log; anything else is an `alarm`.
pub(crate) fn served_checkpoint(
    server: &str,
    log_vkey: &VerifierKey,
    alarm: fn(String) -> CliError,
) -> Result<Checkpoint, CliError> {
    let note = Note::parse(fetch(&format!("{server}/checkpoint"))?.as_bytes())
        .map_err(|e| alarm(format!("the served checkpoint is malformed ({e})")))?;
    note.verify(std::slice::from_ref(log_vkey)).map_err(|e| {
        alarm(format!(
            "the served checkpoint is not signed by the log ({e})"
        ))
    })?;
    let checkpoint =
        Checkpoint::parse(&note.text).map_err(|e| alarm(format!("bad checkpoint ({e})")))?;
    if checkpoint.origin != log_vkey.name() {
        return Err(alarm("the checkpoint is for another log".to_owned()));
    }
    Ok(checkpoint)
}

/// Checks the served checkpoint against the last one seen and cosigns it if
/// it is new.
fn watch_once(
    args: &WitnessArgs,
    key: &tlog::SignerKey,
    log_vkey: &VerifierKey,
) -> Result<(), CliError> {
    let server = args.server.trim_end_matches('/');
    let checkpoint = served_checkpoint(server, log_vkey, alarm)?;
    if let Ok(saved) = std::fs::read_to_string(&args.state) {
        let (size, root) = saved
            .trim()
            .split_once(' ')
            .and_then(|(size, root)| Some((size.parse::<u64>().ok()?, BASE64.decode(root).ok()?)))
            .ok_or_else(|| {
                usage(format!(
                    "{}: not a witness state file",
                    args.state.display()
                ))
            })?;
        if checkpoint.tree_size == size && checkpoint.root_hash[..] == root[..] {
            println!("checkpoint {size}: already cosigned, nothing new");
            return Ok(());
        }
        if checkpoint.tree_size < size {
            return Err(alarm(format!(
                "ROLLBACK: the log shows size {} after {size}",
                checkpoint.tree_size
            )));
        }
        let proof: Vec<Vec<u8>> = fetch(&format!(
            "{server}/api/consistency?old={size}&new={}",
            checkpoint.tree_size
        ))?
        .lines()
        .map(|line| {
            BASE64
                .decode(line)
                .map_err(|_| alarm("a malformed consistency proof".to_owned()))
        })
        .collect::<Result<_, _>>()?;
        merkle::verify_consistency(
            size,
            checkpoint.tree_size,
            &proof,
            &root,
            &checkpoint.root_hash,
        )
        .map_err(|e| {
            alarm(format!(
                "SPLIT VIEW: size {} does not extend size {size} ({e})",
                checkpoint.tree_size
            ))
        })?;
    }
    let timestamp = (truce_ledger::now_ms() / 1000) as u64;
    let signature = key
        .cosign(&checkpoint.to_text(), timestamp)
        .map_err(|e| usage(e.to_string()))?;
    let body = format!("size {}\n{}", checkpoint.tree_size, signature.to_line());
    let response = ureq::post(&format!("{server}/api/cosignatures"))
        .send_string(&body)
        .map_err(|e| usage(format!("the log refused the cosignature: {e}")))?;
    std::fs::write(
        &args.state,
        format!(
            "{} {}\n",
            checkpoint.tree_size,
            BASE64.encode(checkpoint.root_hash)
        ),
    )
    .map_err(|e| usage(format!("{}: {e}", args.state.display())))?;
    print!(
        "cosigned checkpoint {}: {}",
        checkpoint.tree_size,
        response.into_string().unwrap_or_default()
    );
    Ok(())
}
