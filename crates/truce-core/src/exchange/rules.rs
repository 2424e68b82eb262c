//! The exchanges' rules: whether an event may come next. A rule that needs
//! a record this reader lacks answers `Refusal::MissingReference`, which a
//! partial reader skips.

use crate::domain::{Refusal, SignerView};
use crate::envelope::Visibility;
use crate::negotiation::check_id;
use crate::state::Rejection;

use super::*;

pub(super) fn reject<T>(message: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal::Rule(Rejection(message.into())))
}

pub(super) fn missing<T>(message: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal::MissingReference(Rejection(message.into())))
}

/// The exchange term a reference names, and the two parties in ratio order.
pub(super) fn exchange_term<'a>(
    negotiation: &'a NegotiationState,
    term: &TermRef,
) -> Result<(&'a Exchange, (ActorId, ActorId)), Refusal> {
    let Some(found) = negotiation.term(term) else {
        return reject(format!("term {term} is not recorded"));
    };
    let TermRule::Exchange(exchange) = &found.rule else {
        return reject(format!("term {term} is not an exchange"));
    };
    let document = negotiation
        .document(&term.document_id)
        .expect("the term's document exists");
    match document.tabled_by.as_slice() {
        [first, second] => Ok((exchange, (first.clone(), second.clone()))),
        _ => reject(format!("term {term} is not agreed between two parties")),
    }
}

impl ExchangeState {
    pub fn check_list(
        &self,
        signer: &SignerView,
        list: &PersonList,
        visibility: &Visibility,
        negotiation: &NegotiationState,
    ) -> Result<(), Refusal> {
        if list.party != *signer.id || !signer.is_party {
            return reject("a party submits only its own lists");
        }
        if *visibility != Visibility::Party(list.party.clone()) {
            return reject(format!(
                "a list is visible to its party alone: use visibility party:{}",
                list.party
            ));
        }
        check_id("list_id", &list.list_id)?;
        let (_, parties) = exchange_term(negotiation, &list.term)?;
        if list.party != parties.0 && list.party != parties.1 {
            return reject(format!("{} is not a party to {}", list.party, list.term));
        }
        let expected_version = match self.lists.get(&list.list_id).and_then(|v| v.last()) {
            None => 1,
            Some((previous, _)) => {
                if previous.party != list.party
                    || previous.list_kind != list.list_kind
                    || previous.term != list.term
                {
                    return reject(format!(
                        "list {}: a new version keeps its party, kind and term",
                        list.list_id
                    ));
                }
                previous.version + 1
            }
        };
        if list.version != expected_version {
            return reject(format!(
                "list {}: version {} where {expected_version} comes next",
                list.list_id, list.version
            ));
        }
        if list.persons.len() > MAX_PERSONS_PER_LIST {
            return reject(format!(
                "list {}: more than {MAX_PERSONS_PER_LIST} persons",
                list.list_id
            ));
        }
        let mut seen = BTreeSet::new();
        for (row, person) in list.persons.iter().enumerate() {
            person.check().map_err(|why| {
                Refusal::Rule(Rejection(format!(
                    "list {}, person {}: {why}",
                    list.list_id,
                    row + 1
                )))
            })?;
            if !seen.insert(&person.person_id) {
                return reject(format!(
                    "list {}, person {}: person_id appears twice",
                    list.list_id,
                    row + 1
                ));
            }
        }
        Ok(())
    }

    pub fn check_stage(
        &self,
        signer: &SignerView,
        stage: &Stage,
        visibility: &Visibility,
        negotiation: &NegotiationState,
    ) -> Result<(), Refusal> {
        if !signer.is_intermediary {
            return reject("the intermediary proposes stages");
        }
        check_id("stage_id", &stage.stage_id)?;
        if self.stages.contains_key(&stage.stage_id) {
            return reject(format!("stage {} is already proposed", stage.stage_id));
        }
        let (exchange, parties) = exchange_term(negotiation, &stage.term)?;
        let both: BTreeSet<ActorId> = [parties.0.clone(), parties.1.clone()].into();
        if *visibility != Visibility::Actors(both) {
            return reject(format!(
                "a stage is visible to its two parties: use visibility actors:{},{}",
                parties.0, parties.1
            ));
        }
        let batch = |party: &ActorId| stage.batches.iter().find(|b| b.from == *party);
        let (Some(first), Some(second)) = (batch(&parties.0), batch(&parties.1)) else {
            return reject(format!(
                "stage {}: one batch from each of {} and {}",
                stage.stage_id, parties.0, parties.1
            ));
        };
        if stage.batches.len() != 2 {
            return reject(format!("stage {}: exactly two batches", stage.stage_id));
        }
        let (a, b) = (exchange.ratio.0 as usize, exchange.ratio.1 as usize);
        if let Some(reason) = &stage.parity_waiver {
            if reason.trim().is_empty() {
                return reject(format!(
                    "stage {}: a parity waiver states its reason",
                    stage.stage_id
                ));
            }
        } else if first.persons.len() * b != second.persons.len() * a {
            return reject(format!(
                "stage {}: {} for {} breaks the ratio {a}:{b}",
                stage.stage_id,
                first.persons.len(),
                second.persons.len()
            ));
        }
        let staged_here = first.persons.len() + second.persons.len();
        if staged_here == 0 || staged_here > MAX_PERSONS_PER_STAGE {
            return reject(format!(
                "stage {}: 1 to {MAX_PERSONS_PER_STAGE} persons",
                stage.stage_id
            ));
        }
        let staged = self.staged();
        let mut in_this_stage = BTreeSet::new();
        for batch in [first, second] {
            let mut worst_rank = 0;
            for person in &batch.persons {
                if staged.contains(person) || !in_this_stage.insert(person) {
                    return reject(format!(
                        "stage {}: {}/{} is already staged",
                        stage.stage_id, person.list_id, person.person_id
                    ));
                }
                let Some((list, record)) = self.person(person) else {
                    return missing(format!(
                        "stage {}: no person {}/{}",
                        stage.stage_id, person.list_id, person.person_id
                    ));
                };
                if list.party != batch.from
                    || list.list_kind != ListKind::Held
                    || list.term != stage.term
                {
                    return reject(format!(
                        "stage {}: {}/{} is not on {}'s held list for {}",
                        stage.stage_id, person.list_id, person.person_id, batch.from, stage.term
                    ));
                }
                let rank = Self::eligibility(exchange, record).map_err(|why| {
                    Refusal::Rule(Rejection(format!(
                        "stage {}: {}/{} is not eligible ({})",
                        stage.stage_id,
                        person.list_id,
                        person.person_id,
                        why.join("; ")
                    )))
                })?;
                worst_rank = worst_rank.max(rank);
            }
            // Priority: nobody of a better category may be left waiting.
            let waiting = self.eligible_unstaged(exchange, &stage.term, &batch.from, &staged);
            if let Some((rank, waiting)) = waiting
                .iter()
                .find(|(rank, p)| *rank < worst_rank && !in_this_stage.contains(p))
            {
                return reject(format!(
                    "stage {}: {}/{} (priority {}) waits while a lower priority is staged",
                    stage.stage_id,
                    waiting.list_id,
                    waiting.person_id,
                    rank + 1
                ));
            }
        }
        Ok(())
    }

    pub fn check_match(
        &self,
        signer: &SignerView,
        decision: &MatchDecision,
        visibility: &Visibility,
    ) -> Result<(), Refusal> {
        if !signer.is_intermediary {
            return reject("the intermediary decides on matches");
        }
        if matches!(visibility, Visibility::Public) {
            return reject("a match names persons: it is not public");
        }
        let (Some((sought_list, _)), Some((held_list, _))) =
            (self.person(&decision.sought), self.person(&decision.held))
        else {
            return missing("a matched person is not on a current list");
        };
        if sought_list.list_kind != ListKind::Sought || held_list.list_kind != ListKind::Held {
            return reject("a match links a sought person to a held one");
        }
        if sought_list.party == held_list.party || sought_list.term != held_list.term {
            return reject(
                "a match links one party's sought list to the other's held list for the same term",
            );
        }
        let parties: BTreeSet<ActorId> =
            [sought_list.party.clone(), held_list.party.clone()].into();
        if *visibility != Visibility::Actors(parties) {
            return reject("a match is visible to the two parties it concerns");
        }
        if decision.score_permille > 1000 || decision.explanation.len() > 2_000 {
            return reject("score_permille is 0 to 1000 and the explanation at most 2,000 bytes");
        }
        if self
            .matches
            .contains_key(&(decision.sought.clone(), decision.held.clone()))
        {
            return reject("this pair was already decided");
        }
        if decision.verdict == MatchVerdict::Confirmed {
            let taken = self.matches.values().any(|(d, _)| {
                d.verdict == MatchVerdict::Confirmed
                    && (d.sought == decision.sought || d.held == decision.held)
            });
            if taken {
                return reject("one of these persons is already matched to someone else");
            }
        }
        Ok(())
    }

    pub fn check_acceptance(
        &self,
        signer: &SignerView,
        stage_id: &str,
        party: &ActorId,
    ) -> Result<(), Refusal> {
        if party != signer.id || !signer.is_party {
            return reject("a party accepts a stage for itself");
        }
        let Some(record) = self.stages.get(stage_id) else {
            return missing(format!("stage {stage_id} is not proposed"));
        };
        if !record.stage.batches.iter().any(|b| b.from == *party) {
            return reject(format!("{party} is not a party to stage {stage_id}"));
        }
        if record.status() != StageStatus::Proposed || record.accepted_by.contains(party) {
            return reject(format!(
                "stage {stage_id} is {}; {party} cannot accept it now",
                record.status().as_str()
            ));
        }
        Ok(())
    }

    pub fn check_handover(&self, signer: &SignerView, handover: &Handover) -> Result<(), Refusal> {
        if !signer.is_intermediary {
            return reject("the intermediary records a handover");
        }
        let Some(record) = self.stages.get(&handover.stage_id) else {
            return missing(format!("stage {} is not proposed", handover.stage_id));
        };
        if record.status() != StageStatus::Accepted {
            return reject(format!(
                "stage {} is {}: it is carried out only once both parties accepted it",
                handover.stage_id,
                record.status().as_str()
            ));
        }
        let staged: BTreeSet<&PersonRef> = record
            .stage
            .batches
            .iter()
            .flat_map(|b| b.persons.iter())
            .collect();
        let recorded: BTreeSet<&PersonRef> = handover.outcomes.iter().map(|o| &o.person).collect();
        if recorded.len() != handover.outcomes.len() || recorded != staged {
            return reject(format!(
                "handover of stage {}: one outcome for each staged person",
                handover.stage_id
            ));
        }
        Ok(())
    }

    pub fn check_receipt(&self, signer: &SignerView, receipt: &Receipt) -> Result<(), Refusal> {
        if receipt.party != *signer.id || !signer.is_party {
            return reject("a party confirms only its own receipt");
        }
        let Some(record) = self.stages.get(&receipt.stage_id) else {
            return missing(format!("stage {} is not proposed", receipt.stage_id));
        };
        if record.status() != StageStatus::Executed || record.receipts.contains_key(&receipt.party)
        {
            return reject(format!(
                "stage {} is {}: receipts follow the handover, once per party",
                receipt.stage_id,
                record.status().as_str()
            ));
        }
        let Some(other) = record
            .stage
            .batches
            .iter()
            .find(|b| b.from != receipt.party)
        else {
            return reject(format!(
                "{} is not a party to stage {}",
                receipt.party, receipt.stage_id
            ));
        };
        if !record.stage.batches.iter().any(|b| b.from == receipt.party) {
            return reject(format!(
                "{} is not a party to stage {}",
                receipt.party, receipt.stage_id
            ));
        }
        let handed_over = record.handed_over_by(&other.from);
        if receipt.received > handed_over {
            return reject(format!(
                "stage {}: {} received cannot exceed the {handed_over} handed over",
                receipt.stage_id, receipt.received
            ));
        }
        Ok(())
    }

    pub fn check_discrepancy(
        &self,
        signer: &SignerView,
        discrepancy: &Discrepancy,
    ) -> Result<(), Refusal> {
        if discrepancy.reported_by != *signer.id {
            return reject("a discrepancy is reported in the reporter's own name");
        }
        check_id("discrepancy_id", &discrepancy.discrepancy_id)?;
        if self.discrepancies.contains_key(&discrepancy.discrepancy_id) {
            return reject(format!(
                "discrepancy {} is already recorded",
                discrepancy.discrepancy_id
            ));
        }
        if let Some(stage_id) = &discrepancy.stage_id
            && !self.stages.contains_key(stage_id)
        {
            return missing(format!("stage {stage_id} is not proposed"));
        }
        if discrepancy.reason.trim().is_empty() {
            return reject("a discrepancy states its reason");
        }
        if let Err(why) = crate::canonical::check_exact_count("count", discrepancy.count) {
            return reject(why);
        }
        Ok(())
    }

    pub fn check_tally(
        &self,
        signer: &SignerView,
        tally: &Tally,
        visibility: &Visibility,
        negotiation: &NegotiationState,
    ) -> Result<(), Refusal> {
        if !signer.is_intermediary {
            return reject("the intermediary records tallies");
        }
        if *visibility != Visibility::Public {
            return reject("a tally is public: counts, never persons");
        }
        if self.tallies.contains_key(&tally.stage_id) {
            return reject(format!("stage {} is already tallied", tally.stage_id));
        }
        exchange_term(negotiation, &tally.term)?;
        let Some(record) = self.stages.get(&tally.stage_id) else {
            return missing(format!("stage {} is not proposed", tally.stage_id));
        };
        let Some(handover) = &record.handover else {
            return reject(format!("stage {} is not carried out yet", tally.stage_id));
        };
        let expected = self.tally(negotiation, &record.stage, &handover.outcomes)?;
        if expected != *tally {
            return reject(format!(
                "the tally of stage {} differs from its handover",
                tally.stage_id
            ));
        }
        Ok(())
    }
}
