//! The negotiation record's rules: whether an event may come next.

use crate::domain::SignerView;
use crate::envelope::ActorId;
use crate::rejection;
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
        reject(rejection!(
            "id-invalid",
            "{field} {value} must be 1-64 characters of a-z, 0-9, '-' and '.'",
            field = field,
            value = format!("{:?}", value)
        ))
    }
}

pub(super) fn check_text(field: &str, value: &str, required: bool) -> Result<(), Rejection> {
    if required && value.trim().is_empty() {
        return reject(rejection!("field-empty", "{field} is empty", field = field));
    }
    if value.len() > MAX_TEXT_BYTES {
        return reject(rejection!(
            "field-too-long",
            "{field} is longer than {max_text_bytes} bytes",
            field = field,
            max_text_bytes = MAX_TEXT_BYTES
        ));
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
            return reject(rejection!(
                "intermediary-records-rounds",
                "the intermediary records rounds"
            ));
        }
        check_id("round_id", &round.round_id)?;
        if self.rounds.contains_key(&round.round_id) {
            return reject(rejection!(
                "round-already-recorded",
                "round {round_id} is already recorded",
                round_id = round.round_id
            ));
        }
        check_text("venue", &round.venue, true)?;
        check_text("summary", &round.summary, false)?;
        if let (Some(start), Some(end)) = (round.started_at, round.ended_at)
            && end < start
        {
            return reject(rejection!(
                "round-ends-before-starts",
                "round {round_id}: ends before it starts",
                round_id = round.round_id
            ));
        }
        if round.delegations.len() > MAX_NAMES || round.mediators.len() > MAX_NAMES {
            return reject(rejection!(
                "too-many-delegations-mediators",
                "too many delegations or mediators"
            ));
        }
        for delegation in &round.delegations {
            if !is_party(&delegation.party) {
                return reject(rejection!(
                    "delegation-which-not-registered-party",
                    "delegation of {party}, which is not a registered party",
                    party = delegation.party
                ));
            }
            check_text("head", &delegation.head, true)?;
            if delegation.members.len() > MAX_NAMES {
                return reject(rejection!(
                    "too-many-delegation-members",
                    "too many delegation members"
                ));
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
            return reject(rejection!(
                "document-already-recorded",
                "document {document_id} is already recorded",
                document_id = document.document_id
            ));
        }
        if let Some(round) = &document.round_id
            && !self.rounds.contains_key(round)
        {
            return reject(rejection!(
                "document-round-not-recorded",
                "document {document_id}: round {round} is not recorded",
                document_id = document.document_id,
                round = round
            ));
        }
        check_text("title", &document.title, true)?;
        if document.tabled_by.is_empty() || document.tabled_by.iter().any(|p| !is_party(p)) {
            return reject(rejection!(
                "document-tabled-must-name-registered-parties",
                "document {document_id}: tabled_by must name registered parties",
                document_id = document.document_id
            ));
        }
        let own = document.tabled_by.len() == 1 && document.tabled_by[0] == *signer.id;
        if !(own || signer.is_intermediary) {
            return reject(rejection!(
                "document-party-tables-only-own-documents",
                "document {document_id}: a party tables only its own documents; the intermediary records joint ones",
                document_id = document.document_id
            ));
        }
        if document.terms.is_empty() || document.terms.len() > MAX_TERMS_PER_DOCUMENT {
            return reject(rejection!(
                "document-1-terms",
                "document {document_id}: 1 to {max_terms_per_document} terms",
                document_id = document.document_id,
                max_terms_per_document = MAX_TERMS_PER_DOCUMENT
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for term in &document.terms {
            check_id("term_id", &term.term_id)?;
            if !seen.insert(&term.term_id) {
                return reject(rejection!(
                    "document-term-appears-twice",
                    "document {document_id}: term {term_id} appears twice",
                    document_id = document.document_id,
                    term_id = term.term_id
                ));
            }
            check_text("term title", &term.title, true)?;
            if let Some(deadline) = &term.response_deadline
                && (!is_party(&deadline.party) || deadline.due < document.date)
            {
                return reject(rejection!(
                    "document-term-deadline-names-registered-party",
                    "document {document_id}, term {term_id}: the deadline names a registered party and a day after the document",
                    document_id = document.document_id,
                    term_id = term.term_id
                ));
            }
            check_term_rule(&document.document_id, term)?;
        }
        if let Some(deadline) = &document.response_deadline {
            if !is_party(&deadline.party) {
                return reject(rejection!(
                    "deadline-which-not-registered-party",
                    "deadline for {party}, which is not a registered party",
                    party = deadline.party
                ));
            }
            if deadline.due < document.date {
                return reject(rejection!(
                    "document-response-due-before-document",
                    "document {document_id}: the response is due before the document",
                    document_id = document.document_id
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
            return reject(rejection!(
                "party-states-only-own-positions",
                "a party states only its own positions"
            ));
        }
        let Some(document) = self.document(&position.term.document_id) else {
            return reject(rejection!(
                "term-no-such-document",
                "term {term}: no such document",
                term = position.term
            ));
        };
        if self.term(&position.term).is_none() {
            return reject(rejection!(
                "term-no-such-term",
                "term {term}: no such term",
                term = position.term
            ));
        }
        if position.date < document.date {
            return reject(rejection!(
                "position-dated-before-document",
                "position on {term} dated before the document",
                term = position.term
            ));
        }
        if let Stance::Countered { counter } = &position.stance
            && self.term(counter).is_none()
        {
            return reject(rejection!(
                "counter-proposal-not-recorded-term",
                "counter-proposal {counter} is not a recorded term",
                counter = counter
            ));
        }
        if let Some(source) = &position.source_document
            && !self.documents.contains_key(source)
        {
            return reject(rejection!(
                "source-document-not-recorded",
                "source document {source} is not recorded",
                source = source
            ));
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
            return reject(rejection!(
                "intermediary-records-agreements",
                "the intermediary records agreements"
            ));
        }
        check_id("agreement_id", &agreement.agreement_id)?;
        if self.agreements.contains_key(&agreement.agreement_id) {
            return reject(rejection!(
                "agreement-already-recorded",
                "agreement {agreement_id} is already recorded",
                agreement_id = agreement.agreement_id
            ));
        }
        if !self.rounds.contains_key(&agreement.round_id) {
            return reject(rejection!(
                "round-not-recorded",
                "round {round_id} is not recorded",
                round_id = agreement.round_id
            ));
        }
        if agreement.terms.is_empty() {
            return reject(rejection!(
                "agreement-holds-least-one-term",
                "an agreement holds at least one term"
            ));
        }
        // Agreed means every party's stance on the date is proposed or accepted.
        for term in &agreement.terms {
            if self.term(term).is_none() {
                return reject(rejection!(
                    "term-no-such-term",
                    "term {term}: no such term",
                    term = term
                ));
            }
            for party in parties {
                match self.stance_at(party, term, agreement.date) {
                    Some(Stance::Proposed | Stance::Accepted) => {}
                    Some(other) => {
                        return reject(rejection!(
                            "term-position-differs",
                            "term {term}: {party}'s position is {other}",
                            term = term,
                            party = party,
                            other = other.as_str()
                        ));
                    }
                    None => {
                        return reject(rejection!(
                            "term-taken-no-position",
                            "term {term}: {party} has taken no position",
                            term = term,
                            party = party
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    pub fn check_claim(&self, signer: &SignerView, claim: &Claim) -> Result<(), Rejection> {
        check_id("claim_id", &claim.claim_id)?;
        if self.claims.contains_key(&claim.claim_id) {
            return reject(rejection!(
                "claim-already-recorded",
                "claim {claim_id} is already recorded",
                claim_id = claim.claim_id
            ));
        }
        match &claim.claimant {
            Claimant::Party { party } if party == signer.id && signer.is_party => {}
            Claimant::Party { party } => {
                return reject(rejection!(
                    "only-states-own-claims",
                    "only {party} states its own claims",
                    party = party
                ));
            }
            Claimant::Source { name } => {
                if !signer.is_intermediary {
                    return reject(rejection!(
                        "intermediary-records-claims-news-sources",
                        "the intermediary records claims of news sources"
                    ));
                }
                check_text("source name", name, true)?;
            }
        }
        check_text("measure", &claim.measure, true)?;
        crate::canonical::check_exact_count("figure", claim.figure)?;
        if let Some(party) = &claim.handed_over_by {
            let tabled_by = claim
                .term
                .as_ref()
                .and_then(|t| self.document(&t.document_id))
                .map(|d| &d.tabled_by);
            if !tabled_by.is_some_and(|parties| parties.contains(party)) {
                return reject(rejection!(
                    "claim-handed-over-names-not-party",
                    "claim {claim_id}: handed_over_by names {party}, not a party to the claim's term",
                    claim_id = claim.claim_id,
                    party = party
                ));
            }
        }
        check_text("source", &claim.source, true)?;
        check_text("note", &claim.note, false)?;
        if let Some(term) = &claim.term
            && self.term(term).is_none()
        {
            return reject(rejection!(
                "claim-term-not-recorded",
                "claim {claim_id}: term {term} is not recorded",
                claim_id = claim.claim_id,
                term = term
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
                return reject(rejection!(
                    "ceasefire-covers-least-one-domain",
                    "{at}: a ceasefire covers at least one domain",
                    at = at
                ));
            }
            if let (Some(start), Some(end)) = (c.start, c.end)
                && end <= start
            {
                return reject(rejection!(
                    "ceasefire-ends-before-starts",
                    "{at}: the ceasefire ends before it starts",
                    at = at
                ));
            }
            if c.end.is_some() && c.duration_days.is_some() {
                return reject(rejection!(
                    "give-end-duration-not-both",
                    "{at}: give an end or a duration, not both",
                    at = at
                ));
            }
            Ok(())
        }
        TermRule::Exchange(e) => {
            if e.ratio.0 == 0 || e.ratio.1 == 0 {
                return reject(rejection!(
                    "ratio-two-positive-numbers",
                    "{at}: the ratio has two positive numbers",
                    at = at
                ));
            }
            if let Quantity::NForN { n: 0 } = e.quantity {
                return reject(rejection!(
                    "n-n-needs-n-0",
                    "{at}: N for N needs N > 0",
                    at = at
                ));
            }
            Ok(())
        }
        TermRule::ChildrenReturn(c) => check_text("channel", &c.channel, true),
        TermRule::Provision(p) => check_text("provision text", &p.text, true),
    }
}
