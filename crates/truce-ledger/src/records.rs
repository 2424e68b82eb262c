//! Import of negotiation records from one TOML or JSON document (a whole
//! round: the round, its documents and terms, positions, agreements and
//! claims). Each record is signed by the actor who would sign it in reality,
//! and the import is all or nothing: if any record is refused, none is
//! appended.

use std::collections::BTreeMap;
use std::path::Path;
use truce_core::negotiation::NegotiationEvent;

use serde::Deserialize;
use tlog::SignerKey;
use truce_core::negotiation::{Agreement, Claim, Claimant, Document, Position, Round};
use truce_core::{ActorId, Event, LogState, Visibility};

use crate::{Ledger, LedgerError};

/// A bound on the records one import may hold.
pub const MAX_RECORDS: usize = 10_000;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordSet {
    #[serde(default)]
    pub rounds: Vec<Round>,
    #[serde(default)]
    pub documents: Vec<Document>,
    #[serde(default)]
    pub positions: Vec<Position>,
    #[serde(default)]
    pub agreements: Vec<Agreement>,
    #[serde(default)]
    pub claims: Vec<Claim>,
}

impl RecordSet {
    /// Parses TOML (`.toml`) or JSON (anything else). Errors name the file,
    /// the line and the field.
    pub fn parse(name: &str, text: &str) -> Result<RecordSet, LedgerError> {
        let set: RecordSet = if name.ends_with(".toml") {
            toml::from_str(text).map_err(|e| {
                // Name the line and the key on it, never the value (which
                // could be personal data).
                let at = e.span().map_or(String::new(), |span| {
                    let line_start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
                    let line_number = text[..span.start].matches('\n').count() + 1;
                    let line = text[line_start..].lines().next().unwrap_or_default();
                    match line.split_once('=') {
                        Some((key, _)) => format!(" line {line_number}, field {}:", key.trim()),
                        None => format!(" line {line_number}:"),
                    }
                });
                LedgerError::Input(format!("{name}:{at} {}", e.message()))
            })?
        } else {
            serde_json::from_str(text).map_err(|e| {
                LedgerError::Input(format!(
                    "{name}: line {} column {}: {e}",
                    e.line(),
                    e.column()
                ))
            })?
        };
        if set.len() > MAX_RECORDS {
            return Err(LedgerError::Input(format!(
                "{name}: more than {MAX_RECORDS} records"
            )));
        }
        // Refused here, naming the record, before signing would round it.
        for (i, claim) in set.claims.iter().enumerate() {
            truce_core::canonical::check_exact_count("figure", claim.figure).map_err(|why| {
                LedgerError::Input(format!(
                    "{name}: claims[{i}] ({}), field figure: {why}",
                    claim.claim_id
                ))
            })?;
        }
        Ok(set)
    }

    pub fn read(path: &Path) -> Result<RecordSet, LedgerError> {
        let text = std::fs::read_to_string(path).map_err(|e| LedgerError::io(path, e))?;
        Self::parse(&path.display().to_string(), &text)
    }

    pub fn len(&self) -> usize {
        self.rounds.len()
            + self.documents.len()
            + self.positions.len()
            + self.agreements.len()
            + self.claims.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The events in dependency order, each with a label naming the record
    /// in the file (`documents[1] (ua-memorandum)`).
    pub fn events(&self) -> Vec<(String, Event)> {
        let mut events = Vec::with_capacity(self.len());
        for (i, r) in self.rounds.iter().enumerate() {
            events.push((
                format!("rounds[{i}] ({})", r.round_id),
                Event::Negotiation(NegotiationEvent::RoundRecorded(r.clone())),
            ));
        }
        for (i, d) in self.documents.iter().enumerate() {
            events.push((
                format!("documents[{i}] ({})", d.document_id),
                Event::Negotiation(NegotiationEvent::DocumentTabled(d.clone())),
            ));
        }
        for (i, p) in self.positions.iter().enumerate() {
            events.push((
                format!("positions[{i}] ({} on {})", p.party, p.term),
                Event::Negotiation(NegotiationEvent::PositionTaken(p.clone())),
            ));
        }
        for (i, a) in self.agreements.iter().enumerate() {
            events.push((
                format!("agreements[{i}] ({})", a.agreement_id),
                Event::Negotiation(NegotiationEvent::AgreementRecorded(a.clone())),
            ));
        }
        for (i, c) in self.claims.iter().enumerate() {
            events.push((
                format!("claims[{i}] ({})", c.claim_id),
                Event::Negotiation(NegotiationEvent::ClaimRecorded(c.clone())),
            ));
        }
        events
    }
}

/// Who signs a negotiation event in reality: a party its own memorandum,
/// positions and claims; the intermediary the record of a round, joint
/// documents, agreements and the claims of news sources.
pub fn signer_of(state: &LogState, event: &Event) -> Option<ActorId> {
    let intermediary = state.intermediary()?.clone();
    Some(match event {
        Event::Negotiation(NegotiationEvent::DocumentTabled(d)) if d.tabled_by.len() == 1 => {
            d.tabled_by[0].clone()
        }
        Event::Negotiation(NegotiationEvent::PositionTaken(p)) => p.party.clone(),
        Event::Negotiation(NegotiationEvent::ClaimRecorded(Claim {
            claimant: Claimant::Party { party },
            ..
        })) => party.clone(),
        _ => intermediary,
    })
}

/// The signing keys an import may use, by actor.
pub type KeyRing = BTreeMap<ActorId, SignerKey>;

/// Appends every record of `set`, or none: returns the entry indices, or
/// the first refused record with the reason.
pub fn import(
    ledger: &mut Ledger,
    set: &RecordSet,
    keys: &KeyRing,
) -> Result<Vec<u64>, LedgerError> {
    let events = set.events();
    let mut items = Vec::with_capacity(events.len());
    for (label, event) in &events {
        let signer = signer_of(ledger.state(), event)
            .ok_or_else(|| LedgerError::Input("the log has no intermediary".to_owned()))?;
        let key = keys.get(&signer).ok_or_else(|| {
            LedgerError::Input(format!(
                "{label}: must be signed by {signer}, and no key for {signer} was given"
            ))
        })?;
        items.push((
            label.clone(),
            signer,
            key,
            event.clone(),
            Visibility::Public,
        ));
    }
    ledger.append_all(items)
}
