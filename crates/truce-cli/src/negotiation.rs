//! `truce rounds | terms | positions | deadlines | claims` (readable tables
//! or `--json`), and the commands that record positions, claims, a whole
//! round from a file, and the demo scenario.

use std::collections::BTreeMap;
use truce_core::negotiation::NegotiationEvent;

use crate::log::store_error;
use chrono::NaiveDate;
use clap::Args;
use serde_json::json;
use tlog::SignerKey;
use truce_core::ActorId;
use truce_core::negotiation::{CLAIMS, ClaimLine};
use truce_core::negotiation::{Claim, Claimant, DeadlineStatus, Stance, TermRef};
use truce_ledger::app;
use truce_ledger::keys::read_key_file;
use truce_ledger::records::{KeyRing, RecordSet, import};
use truce_ledger::{INTERMEDIARY_KEY_FILE, KEYS_DIR};

use crate::{CliError, DataDir, Destination, Signer, actor_id, open, record_at, usage};

#[derive(Args)]
pub struct Listing {
    #[command(flatten)]
    pub data: DataDir,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct PositionArgs {
    #[command(flatten)]
    pub destination: Destination,
    #[command(flatten)]
    pub signer: Signer,
    /// DOCUMENT#TERM
    #[arg(long)]
    pub term: String,
    /// proposed, accepted, rejected, countered or withdrawn.
    #[arg(long)]
    pub stance: String,
    /// The counter-proposal (DOCUMENT#TERM), with --stance countered.
    #[arg(long)]
    pub counter: Option<String>,
    /// YYYY-MM-DD
    #[arg(long)]
    pub date: String,
    #[arg(long)]
    pub source_document: Option<String>,
    #[arg(long, default_value = "")]
    pub note: String,
}

#[derive(Args)]
pub struct ClaimArgs {
    #[command(flatten)]
    pub destination: Destination,
    #[command(flatten)]
    pub signer: Signer,
    /// A news source's name: the intermediary records its claim.
    #[arg(long, conflicts_with = "actor")]
    pub source_name: Option<String>,
    #[arg(long)]
    pub id: String,
    #[arg(long)]
    pub date: String,
    /// What is counted, e.g. "bodies handed over to Ukraine".
    #[arg(long)]
    pub measure: String,
    #[arg(long)]
    pub figure: u64,
    /// DOCUMENT#TERM the claim is about.
    #[arg(long)]
    pub term: Option<String>,
    /// Where the claim was made.
    #[arg(long)]
    pub source: String,
    /// The figure counts what this party handed over under --term.
    #[arg(long)]
    pub handed_over_by: Option<String>,
    #[arg(long, default_value = "")]
    pub note: String,
}

pub fn date(field: &str, text: &str) -> Result<NaiveDate, CliError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| usage(format!("{field} {text:?}: not a date (YYYY-MM-DD)")))
}

pub fn term_ref(field: &str, text: &str) -> Result<TermRef, CliError> {
    let (document_id, term_id) = text
        .split_once('#')
        .ok_or_else(|| usage(format!("{field} {text:?}: write DOCUMENT#TERM")))?;
    Ok(TermRef {
        document_id: document_id.to_owned(),
        term_id: term_id.to_owned(),
    })
}

/// Prints rows under headers, each column as wide as its widest cell.
pub fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell}{}", " ".repeat(width - cell.chars().count())))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

pub fn print_json(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("JSON values serialise")
    );
}

pub fn rounds(args: Listing) -> Result<(), CliError> {
    let view = crate::view(&args.data)?;
    let rounds: Vec<_> = view.state().negotiation().rounds().collect();
    if args.json {
        print_json(&json!(
            rounds
                .iter()
                .map(|r| json!({"entry": r.entry, "round": r.value}))
                .collect::<Vec<_>>()
        ));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = rounds
        .iter()
        .map(|r| {
            let round = &r.value;
            let heads: Vec<String> = round
                .delegations
                .iter()
                .map(|d| format!("{}: {}", d.party, d.head))
                .collect();
            let length = round
                .duration_minutes
                .map_or(String::new(), |m| format!("{m} min"));
            vec![
                round.number.to_string(),
                round.date.to_string(),
                round.venue.clone(),
                round.host.clone().unwrap_or_default(),
                length,
                heads.join("; "),
                r.entry.to_string(),
            ]
        })
        .collect();
    print_table(
        &[
            "ROUND",
            "DATE",
            "VENUE",
            "HOST",
            "LENGTH",
            "DELEGATIONS",
            "ENTRY",
        ],
        &rows,
    );
    Ok(())
}

pub fn terms(args: Listing, document: Option<String>) -> Result<(), CliError> {
    let view = crate::view(&args.data)?;
    let documents: Vec<_> = view
        .state()
        .negotiation()
        .documents()
        .filter(|d| {
            document
                .as_ref()
                .is_none_or(|id| *id == d.value.document_id)
        })
        .collect();
    if args.json {
        print_json(&json!(
            documents
                .iter()
                .map(|d| json!({"entry": d.entry, "document": d.value}))
                .collect::<Vec<_>>()
        ));
        return Ok(());
    }
    let mut rows = Vec::new();
    for d in &documents {
        for term in &d.value.terms {
            let tabled: Vec<&str> = d.value.tabled_by.iter().map(ActorId::as_str).collect();
            rows.push(vec![
                format!("{}#{}", d.value.document_id, term.term_id),
                d.value.document_kind.as_str().to_owned(),
                tabled.join("+"),
                d.value.date.to_string(),
                term.rule.type_name().to_owned(),
                term.rule.summary(),
            ]);
        }
    }
    print_table(&["TERM", "DOCUMENT", "BY", "DATE", "TYPE", "RULE"], &rows);
    Ok(())
}

pub fn positions(args: Listing, term: Option<String>) -> Result<(), CliError> {
    let view = crate::view(&args.data)?;
    let filter = term.as_deref().map(|t| term_ref("--term", t)).transpose()?;
    let positions: Vec<_> = view
        .state()
        .negotiation()
        .positions()
        .iter()
        .filter(|p| filter.as_ref().is_none_or(|t| *t == p.value.term))
        .collect();
    if args.json {
        print_json(&json!(
            positions
                .iter()
                .map(|p| json!({"entry": p.entry, "position": p.value}))
                .collect::<Vec<_>>()
        ));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = positions
        .iter()
        .map(|p| {
            let position = &p.value;
            let stance = match &position.stance {
                Stance::Countered { counter } => format!("countered by {counter}"),
                other => other.as_str().to_owned(),
            };
            vec![
                position.term.to_string(),
                position.party.to_string(),
                stance,
                position.date.to_string(),
                position.note.clone(),
                p.entry.to_string(),
            ]
        })
        .collect();
    print_table(&["TERM", "PARTY", "STANCE", "DATE", "NOTE", "ENTRY"], &rows);
    Ok(())
}

pub fn deadlines(args: Listing, today: Option<String>) -> Result<(), CliError> {
    let view = crate::view(&args.data)?;
    let today = match today {
        Some(text) => date("--today", &text)?,
        None => chrono::Utc::now().date_naive(),
    };
    let deadlines = view.state().negotiation().deadlines(today);
    let describe = |status: &DeadlineStatus| match status {
        DeadlineStatus::Answered { on, late: false } => ("answered".to_owned(), format!("on {on}")),
        DeadlineStatus::Answered { on, late: true } => {
            ("answered late".to_owned(), format!("on {on}"))
        }
        DeadlineStatus::Due { days_left } => ("due".to_owned(), format!("{days_left} days left")),
        DeadlineStatus::Overdue { days } => ("OVERDUE".to_owned(), format!("{days} days late")),
    };
    if args.json {
        let items: Vec<_> = deadlines
            .iter()
            .map(|d| {
                let (status, detail) = describe(&d.status);
                json!({"document_id": d.document_id, "term_id": d.term_id, "party": d.party, "due": d.due, "status": status, "detail": detail})
            })
            .collect();
        print_json(&json!({"today": today, "deadlines": items}));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = deadlines
        .iter()
        .map(|d| {
            let (status, detail) = describe(&d.status);
            vec![
                d.term_id
                    .as_ref()
                    .map_or(d.document_id.clone(), |t| format!("{}#{t}", d.document_id)),
                d.party.to_string(),
                d.due.to_string(),
                status,
                detail,
            ]
        })
        .collect();
    println!("as of {today}");
    print_table(&["DOCUMENT", "TO ANSWER", "DUE", "STATUS", ""], &rows);
    Ok(())
}

pub fn claims(args: Listing, term: Option<String>) -> Result<(), CliError> {
    let filter = term.as_deref().map(|t| term_ref("--term", t)).transpose()?;
    if args.json {
        return claims_json(&args, filter.as_ref());
    }
    // The table reads the `claims` derived table straight from the store:
    // no fold of the log, so it costs what it shows.
    let store = truce_store::open(args.data.place()?).map_err(store_error)?;
    let filter = filter.map(|t| t.to_string());
    let mut claims: Vec<ClaimLine> = store
        .derived_table(CLAIMS.name, CLAIMS.columns)
        .map_err(store_error)?
        .iter()
        .map(|row| ClaimLine::from_row(row))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            CliError::CheckFailed(
                "the store's claims table is corrupt; run `truce verify`".to_owned(),
            )
        })?;
    claims.retain(|c| filter.is_none() || c.term == filter);
    claims.sort_by(|a, b| {
        (&a.term, &a.measure, &a.date, &a.claim_id).cmp(&(
            &b.term,
            &b.measure,
            &b.date,
            &b.claim_id,
        ))
    });
    // Claims stand side by side: each row shows what the other claimants
    // last claimed of the same measure, never an average. Claims are sorted
    // by term and measure, so each measure is one run: O(claims).
    let mut rows: Vec<Vec<String>> = Vec::with_capacity(claims.len());
    for run in claims.chunk_by(|a, b| (&a.term, &a.measure) == (&b.term, &b.measure)) {
        // Each claimant's latest claim of this measure (the run is by date).
        let mut latest: BTreeMap<&str, u64> = BTreeMap::new();
        for c in run {
            latest.insert(&c.claimant, c.figure);
        }
        for c in run {
            let others: Vec<String> = latest
                .iter()
                .filter(|(claimant, _)| **claimant != c.claimant)
                .map(|(claimant, figure)| format!("{claimant} {figure}"))
                .collect();
            rows.push(vec![
                c.term.clone().unwrap_or_default(),
                c.measure.clone(),
                c.claimant.clone(),
                c.figure.to_string(),
                c.date.clone(),
                others.join(", "),
                c.entry.to_string(),
            ]);
        }
    }
    print_table(
        &[
            "TERM",
            "MEASURE",
            "CLAIMANT",
            "FIGURE",
            "DATE",
            "OTHERS CLAIM",
            "ENTRY",
        ],
        &rows,
    );
    Ok(())
}

/// Every claim with all it records, from the fold.
fn claims_json(args: &Listing, filter: Option<&TermRef>) -> Result<(), CliError> {
    let view = crate::view(&args.data)?;
    let mut claims: Vec<_> = view
        .state()
        .negotiation()
        .claims()
        .filter(|c| filter.is_none() || c.value.term.as_ref() == filter)
        .collect();
    claims.sort_by(|a, b| {
        let (a, b) = (&a.value, &b.value);
        (&a.term, &a.measure, a.date, &a.claim_id).cmp(&(&b.term, &b.measure, b.date, &b.claim_id))
    });
    print_json(&json!(
        claims
            .iter()
            .map(|c| json!({"entry": c.entry, "claim": c.value}))
            .collect::<Vec<_>>()
    ));
    Ok(())
}

pub fn record_position(args: PositionArgs) -> Result<(), CliError> {
    let mut target = args.destination.open()?;
    let counter = args
        .counter
        .as_deref()
        .map(|counter| term_ref("--counter", counter))
        .transpose()?;
    let stance = app::stance(&args.stance, counter)?;
    let party = args
        .signer
        .actor
        .as_deref()
        .map(actor_id)
        .transpose()?
        .ok_or_else(|| usage("--as PARTY is needed"))?;
    let draft = target.draft(app::position(
        party,
        term_ref("--term", &args.term)?,
        stance,
        date("--date", &args.date)?,
        args.source_document,
        args.note,
    ))?;
    record_at(&mut target, &args.signer, draft)
}

pub fn record_claim(args: ClaimArgs) -> Result<(), CliError> {
    let mut target = args.destination.open()?;
    let claimant = match (&args.source_name, &args.signer.actor) {
        (Some(name), _) => Claimant::Source { name: name.clone() },
        (None, Some(actor)) => Claimant::Party {
            party: actor_id(actor)?,
        },
        (None, None) => return Err(usage("give --as PARTY (with --key) or --source-name NAME")),
    };
    let claim = Claim {
        claim_id: args.id,
        claimant,
        date: date("--date", &args.date)?,
        measure: args.measure,
        figure: args.figure,
        term: args
            .term
            .as_deref()
            .map(|t| term_ref("--term", t))
            .transpose()?,
        source: args.source,
        note: args.note,
        handed_over_by: args.handed_over_by.as_deref().map(actor_id).transpose()?,
    };
    let draft = target.draft(NegotiationEvent::ClaimRecorded(claim))?;
    record_at(&mut target, &args.signer, draft)
}

/// `truce import`: the keys are the intermediary's from the data directory,
/// any `DIR/keys/<actor>.key`, and those given with `--key ACTOR=FILE`.
pub fn import_file(
    data: &DataDir,
    file: &std::path::Path,
    extra_keys: &[String],
) -> Result<(), CliError> {
    let set = RecordSet::read(file)?;
    let mut ledger = open(data)?;
    let mut keys = KeyRing::new();
    let keys_dir = data.data.join(KEYS_DIR);
    if let Some(intermediary) = ledger.state().intermediary() {
        keys.insert(
            intermediary.clone(),
            read_key_file(&keys_dir.join(INTERMEDIARY_KEY_FILE))?,
        );
    }
    for party in ledger.state().parties() {
        let path = keys_dir.join(format!("{party}.key"));
        if path.exists() {
            keys.insert(party, read_key_file(&path)?);
        }
    }
    for spec in extra_keys {
        let (actor, path) = spec
            .split_once('=')
            .ok_or_else(|| usage(format!("--key {spec:?}: write ACTOR=FILE")))?;
        let key: SignerKey = read_key_file(std::path::Path::new(path))?;
        keys.insert(actor_id(actor)?, key);
    }
    let indices = import(&mut ledger, &set, &keys)?;
    match (indices.first(), indices.last()) {
        (Some(first), Some(last)) => {
            println!(
                "imported {} records as entries {first} to {last}",
                indices.len()
            )
        }
        _ => println!("nothing to import"),
    }
    Ok(())
}
