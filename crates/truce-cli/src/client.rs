//! `truce submit`: the CLI as a client of a truce server. With `--key`, the
//! actor signs on its own machine and the server appends; its rules check
//! the signature against the key the log registered for the actor. Without
//! one, the server signs with the key it holds for the token's actor, which
//! works only for an actor that declared on the log that the server holds
//! its key.

use std::path::PathBuf;

use clap::Args;
use truce_core::Event;

use crate::{CliError, Signer, Target, parse_visibility, record_at, usage};

#[derive(Args)]
pub struct SubmitArgs {
    /// The truce server, e.g. http://127.0.0.1:8080
    #[arg(long)]
    server: String,
    /// The actor's bearer token.
    #[arg(long)]
    token: String,
    /// With --as and --key the actor signs here; without, the server signs.
    #[command(flatten)]
    signer: Signer,
    /// The event as JSON, e.g. {"kind":"remark_recorded","subject":"...","text":"..."}.
    #[arg(long, value_name = "FILE")]
    event: PathBuf,
    /// public, intermediary, party:ID or actors:ID,ID,...
    #[arg(long, default_value = "public")]
    visibility: String,
}

pub fn submit(args: SubmitArgs) -> Result<(), CliError> {
    let visibility = parse_visibility(&args.visibility)?;
    let text = std::fs::read_to_string(&args.event)
        .map_err(|e| usage(format!("{}: {e}", args.event.display())))?;
    let event: Event = serde_json::from_str(&text).map_err(|e| {
        usage(format!(
            "{}: line {} column {}: not an event ({e})",
            args.event.display(),
            e.line(),
            e.column()
        ))
    })?;
    let mut server = Target::Remote {
        server: args.server.trim_end_matches('/').to_owned(),
        token: args.token,
        copy: None,
    };
    // Any event, with the visibility its sender chose.
    let draft = truce_ledger::app::Draft { event, visibility };
    record_at(&mut server, &args.signer, draft)
}

/// Sends `event` to the server: signed here with `own_key`, or for the
/// server to sign with the key it holds for the token's actor. Returns its
/// entry index.
pub fn send(
    server: &str,
    token: &str,
    own_key: Option<&(truce_core::ActorId, tlog::SignerKey)>,
    event: &Event,
    visibility: truce_core::Visibility,
) -> Result<u64, CliError> {
    let (route, body) = match own_key {
        Some((actor, key)) => (
            "submissions",
            signed_submission(server, actor, key, event, visibility)?,
        ),
        None => (
            "events",
            serde_json::json!({"event": event, "visibility": visibility}),
        ),
    };
    let response = ureq::post(&format!("{server}/api/{route}"))
        .set("Authorization", &format!("Bearer {token}"))
        .send_json(body);
    match response {
        Ok(response) => {
            let answer: serde_json::Value =
                response.into_json().map_err(|e| usage(e.to_string()))?;
            answer["index"]
                .as_u64()
                .ok_or_else(|| usage(format!("{server}: no entry index in the answer")))
        }
        Err(ureq::Error::Status(status, response)) => {
            let answer: serde_json::Value = response.into_json().unwrap_or_default();
            Err(usage(format!(
                "refused ({status}): {}",
                answer["error"].as_str().unwrap_or("no reason given")
            )))
        }
        Err(e) => Err(usage(format!("{server}: {e}"))),
    }
}

/// A statement the actor signs here, with the sequence number the server's
/// registry expects next.
fn signed_submission(
    server: &str,
    actor: &truce_core::ActorId,
    key: &tlog::SignerKey,
    event: &Event,
    visibility: truce_core::Visibility,
) -> Result<serde_json::Value, CliError> {
    let registry: serde_json::Value = ureq::get(&format!("{server}/api/actors"))
        .call()
        .map_err(|e| usage(format!("{server}: {e}")))?
        .into_json()
        .map_err(|e| usage(format!("{server}/api/actors: {e}")))?;
    let origin = registry["origin"]
        .as_str()
        .ok_or_else(|| usage("the server names no origin"))?;
    let seq = registry["actors"]
        .as_array()
        .and_then(|actors| actors.iter().find(|a| a["actor"] == actor.as_str()))
        .and_then(|a| a["next_seq"].as_u64())
        .ok_or_else(|| usage(format!("{actor} is not registered on this log")))?;
    let submission =
        truce_ledger::ledger::sign_statement(origin, actor, key, event, visibility, seq);
    let (salt, payload) = submission
        .payload
        .split_at(truce_core::envelope::SALT_BYTES);
    Ok(serde_json::json!({
        "signed": submission.signed,
        "salt": truce_core::envelope::hex(salt),
        "payload": String::from_utf8(payload.to_vec()).expect("canonical JSON is UTF-8"),
    }))
}
