//! The negotiation record's rules: whether an event may come next.

use crate::domain::SignerView;
use crate::envelope::ActorId;
use crate::state::{Rejection, reject};
use crate::terms::Term;

use super::*;

/// Identifiers appear in public envelopes and URLs: a-z, 0-9, '-', '.'.
pub fn check_id(field: &str, value: &str) -> Result<(), Rejection> {
    let valid = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if valid {
        Ok(())
    } else {
        reject(format!(
            "{field} {value:?} must be 1-64 characters of a-z, 0-9, '-' and '.'"
        ))
    }
}

pub(super) fn check_text(field: &str, value: &str, required: bool) -> Result<(), Rejection> {
    if required && value.trim().is_empty() {
        return reject(format!("{field} is empty"));
    }
    if value.len() > MAX_TEXT_BYTES {
        return reject(format!("{field} is longer than {MAX_TEXT_BYTES} bytes"));
    }
    Ok(())
}

impl NegotiationState {
    pub fn check_round(
        &self,
        signer: &SignerView,
        round: &Round,
        is_party: &dyn Fn(&ActorId) -> bool,
    ) -> Result<(), Rejection> {
        if !signer.is_intermediary {
            return reject("the intermediary records rounds");
        }
        check_id("round_id", &round.round_id)?;
        if self.rounds.contains_key(&round.round_id) {
            return reject(format!("round {} is already recorded", round.round_id));
        }
        check_text("venue", &round.venue, true)?;
        check_text("summary", &round.summary, false)?;
        if let (Some(start), Some(end)) = (round.started_at, round.ended_at)
            && end < start
        {
            return reject(format!("round {}: ends before it starts", round.round_id));
        }
        if round.delegations.len() > MAX_NAMES || round.mediators.len() > MAX_NAMES {
            return reject("too many delegations or mediators");
        }
        for delegation in &round.delegations {
            if !is_party(&delegation.party) {
                return reject(format!(
                    "delegation of {}, which is not a registered party",
                    delegation.party
                ));
            }
            check_text("head", &delegation.head, true)?;
            if delegation.members.len() > MAX_NAMES {
                return reject("too many delegation members");
            }
        }
        Ok(())
    }

    pub fn check_document(
        &self,
        signer: &SignerView,
        document: &Document,
        is_party: &dyn Fn(&ActorId) -> bool,
    ) -> Result<(), Rejection> {
        check_id("document_id", &document.document_id)?;
        if self.documents.contains_key(&document.document_id) {
            return reject(format!(
                "document {} is already recorded",
                document.document_id
            ));
        }
        if let Some(round) = &document.round_id
            && !self.rounds.contains_key(round)
        {
            return reject(format!(
                "document {}: round {round} is not recorded",
                document.document_id
            ));
        }
        check_text("title", &document.title, true)?;
        if document.tabled_by.is_empty() || document.tabled_by.iter().any(|p| !is_party(p)) {
            return reject(format!(
                "document {}: tabled_by must name registered parties",
                document.document_id
            ));
        }
        let own = document.tabled_by.len() == 1 && document.tabled_by[0] == *signer.id;
        if !(own || signer.is_intermediary) {
            return reject(format!(
                "document {}: a party tables only its own documents; the intermediary records joint ones",
                document.document_id
            ));
        }
        if document.terms.is_empty() || document.terms.len() > MAX_TERMS_PER_DOCUMENT {
            return reject(format!(
                "document {}: 1 to {MAX_TERMS_PER_DOCUMENT} terms",
                document.document_id
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for term in &document.terms {
            check_id("term_id", &term.term_id)?;
            if !seen.insert(&term.term_id) {
                return reject(format!(
                    "document {}: term {} appears twice",
                    document.document_id, term.term_id
                ));
            }
            check_text("term title", &term.title, true)?;
            if let Some(deadline) = &term.response_deadline
                && (!is_party(&deadline.party) || deadline.due < document.date)
            {
                return reject(format!(
                    "document {}, term {}: the deadline names a registered party and a day after the document",
                    document.document_id, term.term_id
                ));
            }
            check_term_rule(&document.document_id, term)?;
        }
        if let Some(deadline) = &document.response_deadline {
            if !is_party(&deadline.party) {
                return reject(format!(
                    "deadline for {}, which is not a registered party",
                    deadline.party
                ));
            }
            if deadline.due < document.date {
                return reject(format!(
                    "document {}: the response is due before the document",
                    document.document_id
                ));
            }
        }
        Ok(())
    }

    pub fn check_position(
        &self,
        signer: &SignerView,
        position: &Position,
    ) -> Result<(), Rejection> {
        if position.party != *signer.id || !signer.is_party {
            return reject("a party states only its own positions");
        }
        let Some(document) = self.document(&position.term.document_id) else {
            return reject(format!("term {}: no such document", position.term));
        };
        if self.term(&position.term).is_none() {
            return reject(format!("term {}: no such term", position.term));
        }
        if position.date < document.date {
            return reject(format!(
                "position on {} dated before the document",
                position.term
            ));
        }
        if let Stance::Countered { counter } = &position.stance
            && self.term(counter).is_none()
        {
            return reject(format!("counter-proposal {counter} is not a recorded term"));
        }
        if let Some(source) = &position.source_document
            && !self.documents.contains_key(source)
        {
            return reject(format!("source document {source} is not recorded"));
        }
        check_text("note", &position.note, false)
    }

    pub fn check_agreement(
        &self,
        signer: &SignerView,
        agreement: &Agreement,
        parties: &[ActorId],
    ) -> Result<(), Rejection> {
        if !signer.is_intermediary {
            return reject("the intermediary records agreements");
        }
        check_id("agreement_id", &agreement.agreement_id)?;
        if self.agreements.contains_key(&agreement.agreement_id) {
            return reject(format!(
                "agreement {} is already recorded",
                agreement.agreement_id
            ));
        }
        if !self.rounds.contains_key(&agreement.round_id) {
            return reject(format!("round {} is not recorded", agreement.round_id));
        }
        if agreement.terms.is_empty() {
            return reject("an agreement holds at least one term");
        }
        // Agreed means every party's stance on the date is proposed or accepted.
        for term in &agreement.terms {
            if self.term(term).is_none() {
                return reject(format!("term {term}: no such term"));
            }
            for party in parties {
                match self.stance_at(party, term, agreement.date) {
                    Some(Stance::Proposed | Stance::Accepted) => {}
                    Some(other) => {
                        return reject(format!(
                            "term {term}: {party}'s position is {}",
                            other.as_str()
                        ));
                    }
                    None => return reject(format!("term {term}: {party} has taken no position")),
                }
            }
        }
        Ok(())
    }

    pub fn check_claim(&self, signer: &SignerView, claim: &Claim) -> Result<(), Rejection> {
        check_id("claim_id", &claim.claim_id)?;
        if self.claims.contains_key(&claim.claim_id) {
            return reject(format!("claim {} is already recorded", claim.claim_id));
        }
        match &claim.claimant {
            Claimant::Party { party } if party == signer.id && signer.is_party => {}
            Claimant::Party { party } => {
                return reject(format!("only {party} states its own claims"));
            }
            Claimant::Source { name } => {
                if !signer.is_intermediary {
                    return reject("the intermediary records claims of news sources");
                }
                check_text("source name", name, true)?;
            }
        }
        check_text("measure", &claim.measure, true)?;
        crate::canonical::check_exact_count("figure", claim.figure).map_err(Rejection)?;
        if let Some(party) = &claim.handed_over_by {
            let tabled_by = claim
                .term
                .as_ref()
                .and_then(|t| self.document(&t.document_id))
                .map(|d| &d.tabled_by);
            if !tabled_by.is_some_and(|parties| parties.contains(party)) {
                return reject(format!(
                    "claim {}: handed_over_by names {party}, not a party to the claim's term",
                    claim.claim_id
                ));
            }
        }
        check_text("source", &claim.source, true)?;
        check_text("note", &claim.note, false)?;
        if let Some(term) = &claim.term
            && self.term(term).is_none()
        {
            return reject(format!(
                "claim {}: term {term} is not recorded",
                claim.claim_id
            ));
        }
        Ok(())
    }
}

/// Rules that make a term checkable at all.
pub(super) fn check_term_rule(document_id: &str, term: &Term) -> Result<(), Rejection> {
    use crate::terms::{Quantity, TermRule};
    let at = format!("document {document_id}, term {}", term.term_id);
    match &term.rule {
        TermRule::Ceasefire(c) => {
            if c.domains.is_empty() {
                return reject(format!("{at}: a ceasefire covers at least one domain"));
            }
            if let (Some(start), Some(end)) = (c.start, c.end)
                && end <= start
            {
                return reject(format!("{at}: the ceasefire ends before it starts"));
            }
            if c.end.is_some() && c.duration_days.is_some() {
                return reject(format!("{at}: give an end or a duration, not both"));
            }
            Ok(())
        }
        TermRule::Exchange(e) => {
            if e.ratio.0 == 0 || e.ratio.1 == 0 {
                return reject(format!("{at}: the ratio has two positive numbers"));
            }
            if let Quantity::NForN { n: 0 } = e.quantity {
                return reject(format!("{at}: N for N needs N > 0"));
            }
            Ok(())
        }
        TermRule::ChildrenReturn(c) => check_text("channel", &c.channel, true),
        TermRule::Provision(p) => check_text("provision text", &p.text, true),
    }
}
