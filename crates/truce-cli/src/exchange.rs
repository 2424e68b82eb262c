//! `truce exchange`: person lists, eligibility, stages and their sign-off,
//! handovers, receipts, discrepancies, and progress beside the claims.

use std::path::PathBuf;
use truce_core::exchange::ExchangeEvent;

use clap::Subcommand;
use serde_json::json;
use truce_core::exchange::{
    Discrepancy, DiscrepancyKind, ExchangeState, Outcome, PersonRef, Receipt, Stage, Staged,
};
use truce_core::{ActorId, Event};
use truce_ledger::Ledger;
use truce_ledger::app;
use truce_ledger::lists::read_persons;
use truce_ledger::matching::review_queue;
use truce_ledger::pseudonyms::PseudonymKey;

use crate::negotiation::{Listing, date, print_json, print_table, term_ref};
use crate::{
    CliError, DataDir, Destination, Signer, actor_id, open, record, record_at, record_together,
    signer_of, usage,
};

#[derive(Subcommand)]
pub enum ExchangeCommand {
    /// Submit a party's held or sought list (CSV with an optional HXL row,
    /// or JSON); a list submitted again becomes its next version.
    SubmitList {
        #[command(flatten)]
        destination: Destination,
        #[command(flatten)]
        signer: Signer,
        #[arg(long)]
        list_id: String,
        /// held or sought
        #[arg(long)]
        kind: String,
        /// The exchange term, DOCUMENT#TERM.
        #[arg(long)]
        term: String,
        file: PathBuf,
    },
    /// The lists on record (ids, versions and counts; no names).
    Lists(Listing),
    /// Who on a list is eligible under its term, in which category, and why not.
    Eligibility {
        #[command(flatten)]
        listing: Listing,
        #[arg(long)]
        list_id: String,
    },
    /// The review queue: candidate links between a sought list and the
    /// other party's held list, undecided ones only, best first.
    Candidates {
        #[command(flatten)]
        listing: Listing,
        #[arg(long)]
        sought: String,
        #[arg(long)]
        held: String,
        /// Show candidates at or above this probability.
        #[arg(long, default_value_t = 0.05)]
        min_score: f64,
    },
    /// The intermediary confirms or rejects a candidate link.
    Decide {
        #[command(flatten)]
        data: DataDir,
        /// LIST/PERSON on the sought list.
        #[arg(long)]
        sought: String,
        /// LIST/PERSON on the held list.
        #[arg(long)]
        held: String,
        /// confirmed or rejected
        #[arg(long)]
        verdict: String,
    },
    /// Plan the next stage at parity in priority order; with --propose,
    /// record it as the intermediary's proposal.
    Plan {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        term: String,
        #[arg(long)]
        stage_id: String,
        #[arg(long)]
        date: String,
        #[arg(long)]
        place: String,
        /// People from the first party (the other side follows the ratio).
        #[arg(long)]
        per_side: usize,
        #[arg(long)]
        propose: bool,
    },
    /// Propose a stage written by hand (JSON: stage_id, term, date, place,
    /// batches, parity_waiver), e.g. a one-way handover of remains with the
    /// reason it departs from parity.
    Propose {
        #[command(flatten)]
        data: DataDir,
        file: PathBuf,
    },
    /// A party accepts a stage.
    Accept {
        #[command(flatten)]
        destination: Destination,
        #[command(flatten)]
        signer: Signer,
        #[arg(long)]
        stage_id: String,
    },
    /// The intermediary records the handover: everyone handed over, except
    /// the outcomes given as LIST/PERSON=OUTCOME (refused_to_return,
    /// not_present, deceased).
    Handover {
        #[command(flatten)]
        data: DataDir,
        #[arg(long)]
        stage_id: String,
        #[arg(long = "except", value_name = "LIST/PERSON=OUTCOME")]
        exceptions: Vec<String>,
    },
    /// A party confirms how many people it received.
    Receipt {
        #[command(flatten)]
        destination: Destination,
        #[command(flatten)]
        signer: Signer,
        #[arg(long)]
        stage_id: String,
        #[arg(long)]
        received: u64,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Record a discrepancy with its reason.
    Discrepancy {
        #[command(flatten)]
        destination: Destination,
        #[command(flatten)]
        signer: Signer,
        #[arg(long)]
        id: String,
        #[arg(long)]
        stage_id: Option<String>,
        /// listed_not_handed_over, foreign_remains_found, count_differs or other
        #[arg(long)]
        kind: String,
        #[arg(long)]
        count: u64,
        #[arg(long)]
        reason: String,
    },
    /// The persons of a stage as this reader knows them: the intermediary
    /// sees every reference; a party (on its copy) sees its own references
    /// and the other party's persons by the pseudonyms it knows them by.
    Members {
        #[command(flatten)]
        listing: Listing,
        #[arg(long)]
        stage_id: String,
    },
    /// Progress of an exchange term against its quota, by stage, beside
    /// each party's claims.
    Progress {
        #[command(flatten)]
        listing: Listing,
        #[arg(long)]
        term: String,
    },
}

fn signer_party(signer: &Signer) -> Result<ActorId, CliError> {
    signer
        .actor
        .as_deref()
        .map(actor_id)
        .transpose()?
        .ok_or_else(|| usage("--as PARTY (with --key) is needed"))
}

pub fn run(command: ExchangeCommand) -> Result<(), CliError> {
    match command {
        ExchangeCommand::SubmitList {
            destination,
            signer,
            list_id,
            kind,
            term,
            file,
        } => {
            let mut target = destination.open()?;
            let party = signer_party(&signer)?;
            let list_kind = app::list_kind(&kind)?;
            let persons = read_persons(&file)?;
            let count = persons.len();
            let draft = app::submit_list(
                target.view()?.state(),
                party,
                list_id,
                list_kind,
                term_ref("--term", &term)?,
                persons,
            );
            let Event::Exchange(ExchangeEvent::ListSubmitted(list)) = &draft.event else {
                unreachable!("submit_list drafts a list");
            };
            let version = list.version;
            record_at(&mut target, &signer, draft)?;
            println!("{count} persons, version {version}");
        }
        ExchangeCommand::Lists(listing) => {
            let view = crate::view(&listing.data)?;
            let lists: Vec<_> = view.state().exchange().lists().collect();
            let rows: Vec<Vec<String>> = lists
                .iter()
                .map(|l| {
                    vec![
                        l.list_id.clone(),
                        l.party.to_string(),
                        l.list_kind.as_str().to_owned(),
                        l.term.to_string(),
                        l.version.to_string(),
                        l.persons.len().to_string(),
                    ]
                })
                .collect();
            if listing.json {
                let items: Vec<_> = rows
                    .iter()
                    .map(|r| json!({"list_id": r[0], "party": r[1], "kind": r[2], "term": r[3], "version": r[4], "persons": r[5]}))
                    .collect();
                print_json(&json!(items));
            } else {
                print_table(
                    &["LIST", "PARTY", "KIND", "TERM", "VERSION", "PERSONS"],
                    &rows,
                );
            }
        }
        ExchangeCommand::Eligibility { listing, list_id } => {
            let view = crate::view(&listing.data)?;
            let state = view.state();
            let list = state
                .exchange()
                .list(&list_id)
                .ok_or_else(|| usage(format!("no list {list_id} in this copy")))?;
            let term = state
                .negotiation()
                .term(&list.term)
                .ok_or_else(|| usage("the list's term is not recorded"))?;
            let truce_core::terms::TermRule::Exchange(exchange) = &term.rule else {
                return Err(usage("the list's term is not an exchange"));
            };
            let rows: Vec<Vec<String>> = list
                .persons
                .iter()
                .map(
                    |person| match ExchangeState::eligibility(exchange, person) {
                        Ok(rank) => vec![
                            person.person_id.clone(),
                            "eligible".to_owned(),
                            exchange
                                .categories
                                .get(rank)
                                .map_or("all".to_owned(), |c| c.name.clone()),
                        ],
                        Err(why) => vec![
                            person.person_id.clone(),
                            "not eligible".to_owned(),
                            why.join("; "),
                        ],
                    },
                )
                .collect();
            if listing.json {
                let items: Vec<_> = rows
                    .iter()
                    .map(|r| json!({"person_id": r[0], "status": r[1], "why": r[2]}))
                    .collect();
                print_json(&json!(items));
            } else {
                print_table(&["PERSON", "STATUS", "CATEGORY OR REASON"], &rows);
            }
        }
        ExchangeCommand::Candidates {
            listing,
            sought,
            held,
            min_score,
        } => {
            let view = crate::view(&listing.data)?;
            let queue = review_queue(view.state(), &sought, &held, min_score)?;
            let rows: Vec<Vec<String>> = queue
                .iter()
                .map(|c| {
                    vec![
                        format!("{}/{}", c.sought.list_id, c.sought.person_id),
                        format!("{}/{}", c.held.list_id, c.held.person_id),
                        format!("{:.3}", c.score),
                        c.explanation.clone(),
                    ]
                })
                .collect();
            if listing.json {
                let items: Vec<_> = rows
                    .iter()
                    .map(|r| json!({"sought": r[0], "held": r[1], "score": r[2], "explanation": r[3]}))
                    .collect();
                print_json(&json!(items));
            } else {
                print_table(&["SOUGHT", "HELD", "SCORE", "WHY"], &rows);
            }
        }
        ExchangeCommand::Decide {
            data,
            sought,
            held,
            verdict,
        } => {
            let mut ledger = open(&data)?;
            let person = |field: &str, text: &str| -> Result<PersonRef, CliError> {
                let (list_id, person_id) = text
                    .split_once('/')
                    .ok_or_else(|| usage(format!("{field} {text:?}: write LIST/PERSON")))?;
                Ok(PersonRef {
                    list_id: list_id.to_owned(),
                    person_id: person_id.to_owned(),
                })
            };
            let (sought, held) = (person("--sought", &sought)?, person("--held", &held)?);
            let verdict = app::verdict(&verdict)?;
            let queue = review_queue(ledger.state(), &sought.list_id, &held.list_id, 0.0)?;
            let candidate = queue.iter().find(|c| c.sought == sought && c.held == held);
            let draft = app::decide_match(ledger.state(), sought, held, verdict, candidate);
            record(&mut ledger, &Signer::intermediary(), draft)?;
        }
        ExchangeCommand::Plan {
            data,
            term,
            stage_id,
            date: day,
            place,
            per_side,
            propose,
        } => {
            let mut ledger = open(&data)?;
            let term = term_ref("--term", &term)?;
            let state = ledger.state();
            let stage = state
                .exchange()
                .plan_stage(
                    state.negotiation(),
                    &term,
                    &stage_id,
                    date("--date", &day)?,
                    &place,
                    per_side,
                )
                .map_err(|e| usage(e.to_string()))?;
            for batch in &stage.batches {
                println!("{} hands over {} persons", batch.from, batch.len());
            }
            if propose {
                propose_stage(&mut ledger, stage)?;
            }
        }
        ExchangeCommand::Propose { data, file } => {
            let mut ledger = open(&data)?;
            let text = std::fs::read_to_string(&file)
                .map_err(|e| usage(format!("{}: {e}", file.display())))?;
            let stage: truce_core::exchange::Stage = serde_json::from_str(&text).map_err(|e| {
                usage(format!(
                    "{}: line {} column {}: {e}",
                    file.display(),
                    e.line(),
                    e.column()
                ))
            })?;
            propose_stage(&mut ledger, stage)?;
        }
        ExchangeCommand::Accept {
            destination,
            signer,
            stage_id,
        } => {
            let mut target = destination.open()?;
            let party = signer_party(&signer)?;
            let draft = target.draft(ExchangeEvent::StageAccepted { stage_id, party })?;
            record_at(&mut target, &signer, draft)?;
        }
        ExchangeCommand::Handover {
            data,
            stage_id,
            exceptions,
        } => {
            let mut ledger = open(&data)?;
            let exceptions = exceptions
                .iter()
                .map(|exception| {
                    let (who, outcome) = exception.split_once('=').ok_or_else(|| {
                        usage(format!("--except {exception:?}: write LIST/PERSON=OUTCOME"))
                    })?;
                    Ok((who.to_owned(), app::outcome(outcome)))
                })
                .collect::<Result<Vec<_>, CliError>>()?;
            // The handover (persons, for the two parties) and its public
            // tally (counts, for everyone) land together or not at all.
            let [handover, tally] = app::handover(ledger.state(), &stage_id, &exceptions)?;
            let intermediary = signer_of(&ledger, &Signer::intermediary())?;
            let indices = record_together(&mut ledger, intermediary, vec![handover, tally])?;
            println!(
                "entries {}-{}: handover and tally recorded",
                indices[0], indices[1]
            );
        }
        ExchangeCommand::Receipt {
            destination,
            signer,
            stage_id,
            received,
            note,
        } => {
            let mut target = destination.open()?;
            let party = signer_party(&signer)?;
            let receipt = Receipt {
                stage_id,
                party,
                received,
                note,
            };
            let draft = target.draft(ExchangeEvent::ReceiptConfirmed(receipt))?;
            record_at(&mut target, &signer, draft)?;
        }
        ExchangeCommand::Discrepancy {
            destination,
            signer,
            id,
            stage_id,
            kind,
            count,
            reason,
        } => {
            let mut target = destination.open()?;
            let reported_by = match &signer.actor {
                Some(actor) => actor_id(actor)?,
                None => target
                    .view()?
                    .state()
                    .intermediary()
                    .cloned()
                    .ok_or_else(|| usage("the log has no intermediary"))?,
            };
            let discrepancy_kind = DiscrepancyKind::ALL
                .into_iter()
                .find(|k| k.as_str() == kind)
                .ok_or_else(|| usage(format!("--kind {kind:?}: see --help")))?;
            let discrepancy = Discrepancy {
                discrepancy_id: id,
                stage_id,
                reported_by,
                discrepancy_kind,
                count,
                reason,
            };
            let draft = target.draft(ExchangeEvent::DiscrepancyRecorded(discrepancy))?;
            record_at(&mut target, &signer, draft)?;
        }
        ExchangeCommand::Members { listing, stage_id } => members(listing, &stage_id)?,
        ExchangeCommand::Progress { listing, term } => progress(listing, &term)?,
    }
    Ok(())
}

fn members(listing: Listing, stage_id: &str) -> Result<(), CliError> {
    let view = crate::view(&listing.data)?;
    let record = view
        .state()
        .exchange()
        .stage(stage_id)
        .ok_or_else(|| usage(format!("no stage {stage_id} visible to this reader")))?;
    let rows: Vec<Vec<String>> = record
        .members()
        .iter()
        .map(|m| {
            let staged = match m.staged {
                Staged::Ref(p) => format!("{}/{}", p.list_id, p.person_id),
                Staged::Pseudonym(p) => p.to_owned(),
            };
            let person = m
                .person
                .map_or(String::new(), |p| format!("{}/{}", p.list_id, p.person_id));
            let outcome = m.outcome.map_or("", Outcome::as_str);
            vec![m.from.to_string(), staged, person, outcome.to_owned()]
        })
        .collect();
    if listing.json {
        let items: Vec<_> = rows
            .iter()
            .map(|row| {
                let given = |cell: &String| (!cell.is_empty()).then(|| cell.clone());
                json!({"from": row[0], "staged_as": row[1], "person": given(&row[2]), "outcome": given(&row[3])})
            })
            .collect();
        print_json(&json!(items));
    } else {
        print_table(&["FROM", "STAGED AS", "PERSON", "OUTCOME"], &rows);
    }
    Ok(())
}

fn progress(listing: Listing, term: &str) -> Result<(), CliError> {
    let view = crate::view(&listing.data)?;
    let term = term_ref("--term", term)?;
    let state = view.state();
    let progress = state
        .exchange()
        .progress(state.negotiation(), &term)
        .map_err(|e| usage(e.to_string()))?;
    let (first, second) = &progress.parties;
    let (a, b) = progress.quota.handed_over;
    let claims = progress.claims_beside(state.negotiation());
    if listing.json {
        let stages: Vec<_> = progress
            .stages
            .iter()
            .map(|s| json!({"stage_id": s.stage_id, "date": s.date, "status": s.status.map_or("not visible to this reader", |x| x.as_str()), "handed_over": [s.handed_over.0, s.handed_over.1]}))
            .collect();
        let claims: Vec<_> = claims
            .iter()
            .map(|c| json!({"claimant": c.claim.claimant.label(), "measure": c.claim.measure, "figure": c.claim.figure, "recorded": c.recorded, "difference": c.difference(), "date": c.claim.date}))
            .collect();
        print_json(&json!({
            "term": term.to_string(), "parties": [first, second], "handed_over": [a, b],
            "target_per_side": [progress.quota.target_per_side.0, progress.quota.target_per_side.1],
            "met": progress.quota.met, "at_parity": progress.quota.at_parity, "stages": stages,
            "discrepancies": progress.discrepancies, "claims": claims,
        }));
        return Ok(());
    }
    println!("{term}");
    println!(
        "  recorded: {first} handed over {a} of {}, {second} handed over {b} of {}; {}{}",
        progress.quota.target_per_side.0,
        progress.quota.target_per_side.1,
        if progress.quota.met {
            "quota met"
        } else {
            "quota not met"
        },
        if progress.quota.at_parity {
            ", at parity"
        } else {
            ", NOT at parity"
        }
    );
    let rows: Vec<Vec<String>> = progress
        .stages
        .iter()
        .map(|stage| {
            vec![
                stage.stage_id.clone(),
                stage.date.to_string(),
                stage
                    .status
                    .map_or("(not visible)", |s| s.as_str())
                    .to_owned(),
                stage.handed_over.0.to_string(),
                stage.handed_over.1.to_string(),
            ]
        })
        .collect();
    print_table(
        &[
            "STAGE",
            "DATE",
            "STATUS",
            &format!("BY {first}"),
            &format!("BY {second}"),
        ],
        &rows,
    );
    if progress.by_category.iter().any(|(_, (x, y))| x + y > 0) {
        let rows: Vec<Vec<String>> = progress
            .by_category
            .iter()
            .map(|(name, (x, y))| vec![name.clone(), x.to_string(), y.to_string()])
            .collect();
        print_table(
            &["CATEGORY", &format!("BY {first}"), &format!("BY {second}")],
            &rows,
        );
    }
    if !claims.is_empty() {
        println!("claims beside the record (never merged):");
        let rows: Vec<Vec<String>> = claims
            .iter()
            .map(|c| {
                vec![
                    c.claim.claimant.label(),
                    c.claim.measure.clone(),
                    c.claim.figure.to_string(),
                    c.recorded.map_or(String::new(), |r| r.to_string()),
                    c.difference().map_or(String::new(), |d| format!("{d:+}")),
                    c.claim.date.to_string(),
                ]
            })
            .collect();
        print_table(
            &[
                "CLAIMANT",
                "MEASURE",
                "CLAIMED",
                "RECORDED",
                "DIFFERENCE",
                "DATE",
            ],
            &rows,
        );
    }
    Ok(())
}

/// Proposes a stage from its plan: the stage with pseudonyms for both
/// parties and the listings for each handing party land together.
fn propose_stage(ledger: &mut Ledger, plan: Stage) -> Result<(), CliError> {
    let intermediary = signer_of(ledger, &Signer::intermediary())?;
    let key = PseudonymKey::of(&intermediary.1);
    let drafts = app::propose_stage(ledger.state(), plan, &key)?;
    let indices = record_together(ledger, intermediary, drafts)?;
    println!(
        "entries {}-{}: stage proposed and its batches listed",
        indices[0],
        indices[indices.len() - 1]
    );
    Ok(())
}
