//! The exchanges' rules: whether an event may come next. A rule that needs
//! a record this reader lacks answers `Refusal::MissingReference`, which a
//! partial reader skips.

use crate::domain::{Refusal, SignerView};
use crate::envelope::Visibility;
use crate::negotiation::check_id;
use crate::rejection;
use crate::state::Rejection;

use super::*;

pub(super) fn reject<T>(rejection: Rejection) -> Result<T, Refusal> {
    Err(Refusal::Rule(rejection))
}

/// `party`'s persons in a stage with their references, or why this reader
/// lacks them (the listing of a pseudonymous batch it may not read).
pub(super) fn roster<'a>(
    record: &'a StageRecord,
    party: &ActorId,
) -> Result<Vec<(Staged<'a>, &'a PersonRef)>, Refusal> {
    record.roster(party).ok_or_else(|| {
        Refusal::MissingReference(rejection!(
            "stage-batch-not-listed",
            "stage {stage_id}: the batch from {party} is not listed",
            stage_id = record.stage.stage_id,
            party = party
        ))
    })
}

pub(super) fn missing<T>(rejection: Rejection) -> Result<T, Refusal> {
    Err(Refusal::MissingReference(rejection))
}

/// The exchange term a reference names, and the two parties in ratio order.
pub(super) fn exchange_term<'a>(
    negotiation: &'a NegotiationState,
    term: &TermRef,
) -> Result<(&'a Exchange, (ActorId, ActorId)), Refusal> {
    let Some(found) = negotiation.term(term) else {
        return reject(rejection!(
            "term-not-recorded",
            "term {term} is not recorded",
            term = term
        ));
    };
    let TermRule::Exchange(exchange) = &found.rule else {
        return reject(rejection!(
            "term-not-exchange",
            "term {term} is not an exchange",
            term = term
        ));
    };
    let document = negotiation
        .document(&term.document_id)
        .expect("the term's document exists");
    match document.tabled_by.as_slice() {
        [first, second] => Ok((exchange, (first.clone(), second.clone()))),
        _ => reject(rejection!(
            "term-not-agreed-between-two-parties",
            "term {term} is not agreed between two parties",
            term = term
        )),
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
            return reject(rejection!(
                "party-submits-only-own-lists",
                "a party submits only its own lists"
            ));
        }
        if *visibility != Visibility::Party(list.party.clone()) {
            return reject(rejection!(
                "list-visible-party-alone-use-visibility",
                "a list is visible to its party alone: use visibility party:{party}",
                party = list.party
            ));
        }
        check_id("list_id", &list.list_id)?;
        // A party's list ids are its own by name, so a party naming the
        // other's list learns nothing: the answer never depends on whether
        // that list exists.
        if !list
            .list_id
            .strip_prefix(list.party.as_str())
            .is_some_and(|rest| rest.starts_with('-'))
        {
            return reject(rejection!(
                "list-id-party-prefix",
                "list {list_id}: a list id of {party} starts with {party}-",
                list_id = list.list_id,
                party = list.party
            ));
        }
        let (_, parties) = exchange_term(negotiation, &list.term)?;
        if list.party != parties.0 && list.party != parties.1 {
            return reject(rejection!(
                "not-party",
                "{party} is not a party to {term}",
                party = list.party,
                term = list.term
            ));
        }
        let expected_version = match self.lists.get(&list.list_id).and_then(|v| v.last()) {
            None => 1,
            Some((previous, _)) => {
                if previous.party != list.party
                    || previous.list_kind != list.list_kind
                    || previous.term != list.term
                {
                    return reject(rejection!(
                        "list-new-version-keeps-party-kind",
                        "list {list_id}: a new version keeps its party, kind and term",
                        list_id = list.list_id
                    ));
                }
                previous.version + 1
            }
        };
        // Versions this reader cannot read (an erased one, say) may come
        // between: as many as the party submitted unseen, never more.
        let unseen = self.unseen_lists.get(&list.party).copied().unwrap_or(0);
        let gap = list.version.saturating_sub(expected_version);
        if list.version < expected_version || gap > unseen {
            return reject(rejection!(
                "list-version-comes-next",
                "list {list_id}: version {version} where {expected_version} comes next",
                list_id = list.list_id,
                version = list.version,
                expected_version = expected_version
            ));
        }
        if list.persons.len() > MAX_PERSONS_PER_LIST {
            return reject(rejection!(
                "list-more-persons",
                "list {list_id}: more than {max_persons_per_list} persons",
                list_id = list.list_id,
                max_persons_per_list = MAX_PERSONS_PER_LIST
            ));
        }
        let mut seen = BTreeSet::new();
        for (row, person) in list.persons.iter().enumerate() {
            person.check().map_err(|why| {
                Refusal::Rule(rejection!(
                    "list-person",
                    "list {list_id}, person {next}: {why}",
                    list_id = list.list_id,
                    next = row + 1,
                    why = why
                ))
            })?;
            if !seen.insert(&person.person_id) {
                return reject(rejection!(
                    "list-person-person-id-appears-twice",
                    "list {list_id}, person {next}: person_id appears twice",
                    list_id = list.list_id,
                    next = row + 1
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
            return reject(rejection!(
                "intermediary-proposes-stages",
                "the intermediary proposes stages"
            ));
        }
        check_id("stage_id", &stage.stage_id)?;
        if self.stages.contains_key(&stage.stage_id) {
            return reject(rejection!(
                "stage-already-proposed",
                "stage {stage_id} is already proposed",
                stage_id = stage.stage_id
            ));
        }
        let (exchange, parties) = exchange_term(negotiation, &stage.term)?;
        let both: BTreeSet<ActorId> = [parties.0.clone(), parties.1.clone()].into();
        if *visibility != Visibility::Actors(both) {
            return reject(rejection!(
                "stage-visible-two-parties-use-visibility",
                "a stage is visible to its two parties: use visibility actors:{parties},{parties2}",
                parties = parties.0,
                parties2 = parties.1
            ));
        }
        let batch = |party: &ActorId| stage.batches.iter().find(|b| b.from == *party);
        let (Some(first), Some(second)) = (batch(&parties.0), batch(&parties.1)) else {
            return reject(rejection!(
                "stage-one-batch-from-each",
                "stage {stage_id}: one batch from each of {parties} and {parties2}",
                stage_id = stage.stage_id,
                parties = parties.0,
                parties2 = parties.1
            ));
        };
        if stage.batches.len() != 2 {
            return reject(rejection!(
                "stage-exactly-two-batches",
                "stage {stage_id}: exactly two batches",
                stage_id = stage.stage_id
            ));
        }
        let named = first.persons.is_some() && second.persons.is_some();
        let pseudonymous = first.pseudonyms.is_some() && second.pseudonyms.is_some();
        if named == pseudonymous
            || stage
                .batches
                .iter()
                .any(|b| b.persons.is_some() && b.pseudonyms.is_some())
        {
            return reject(rejection!(
                "stage-batches-one-form",
                "stage {stage_id}: every batch names its persons one way, by persons or by pseudonyms",
                stage_id = stage.stage_id
            ));
        }
        let (a, b) = (exchange.ratio.0 as usize, exchange.ratio.1 as usize);
        if let Some(reason) = &stage.parity_waiver {
            if reason.trim().is_empty() {
                return reject(rejection!(
                    "stage-parity-waiver-states-reason",
                    "stage {stage_id}: a parity waiver states its reason",
                    stage_id = stage.stage_id
                ));
            }
        } else if first.len() * b != second.len() * a {
            return reject(rejection!(
                "stage-breaks-ratio",
                "stage {stage_id}: {persons_count} for {persons_count2} breaks the ratio {a}:{b}",
                stage_id = stage.stage_id,
                persons_count = first.len(),
                persons_count2 = second.len(),
                a = a,
                b = b
            ));
        }
        let staged_here = first.len() + second.len();
        if staged_here == 0 || staged_here > MAX_PERSONS_PER_STAGE {
            return reject(rejection!(
                "stage-1-persons",
                "stage {stage_id}: 1 to {max_persons_per_stage} persons",
                stage_id = stage.stage_id,
                max_persons_per_stage = MAX_PERSONS_PER_STAGE
            ));
        }
        if pseudonymous {
            return check_pseudonyms(stage);
        }
        for batch in [first, second] {
            let persons: Vec<&PersonRef> = batch.persons.iter().flatten().collect();
            self.check_batch_persons(stage, exchange, &batch.from, &persons)?;
        }
        Ok(())
    }

    /// The persons `from` hands over in a stage: each on its held list for
    /// the stage's term, eligible, staged nowhere else, and nobody of a
    /// better category left waiting.
    fn check_batch_persons(
        &self,
        stage: &Stage,
        exchange: &Exchange,
        from: &ActorId,
        persons: &[&PersonRef],
    ) -> Result<(), Refusal> {
        let staged = self.staged();
        let mut in_this_stage = BTreeSet::new();
        let mut worst_rank = 0;
        for &person in persons {
            if staged.contains(person) || !in_this_stage.insert(person) {
                return reject(rejection!(
                    "stage-already-staged",
                    "stage {stage_id}: {list_id}/{person_id} is already staged",
                    stage_id = stage.stage_id,
                    list_id = person.list_id,
                    person_id = person.person_id
                ));
            }
            let Some((list, record)) = self.person(person) else {
                return missing(rejection!(
                    "stage-no-person",
                    "stage {stage_id}: no person {list_id}/{person_id}",
                    stage_id = stage.stage_id,
                    list_id = person.list_id,
                    person_id = person.person_id
                ));
            };
            if list.party != *from || list.list_kind != ListKind::Held || list.term != stage.term {
                return reject(rejection!(
                    "stage-not-held-list",
                    "stage {stage_id}: {list_id}/{person_id} is not on {from}'s held list for {term}",
                    stage_id = stage.stage_id,
                    list_id = person.list_id,
                    person_id = person.person_id,
                    from = from,
                    term = stage.term
                ));
            }
            let rank = Self::eligibility(exchange, record).map_err(|why| {
                Refusal::Rule(rejection!(
                    "stage-not-eligible",
                    "stage {stage_id}: {list_id}/{person_id} is not eligible ({join})",
                    stage_id = stage.stage_id,
                    list_id = person.list_id,
                    person_id = person.person_id,
                    join = why.join("; ")
                ))
            })?;
            worst_rank = worst_rank.max(rank);
        }
        // Priority: nobody of a better category may be left waiting. Who
        // waits depends on every stage's persons: a reader lacking one (a
        // stage or a listing erased, or withheld) would see persons as
        // waiting who were staged, so the rule counts as a missing reference
        // (skipped in such a replay, refused for a new entry).
        let waiting = self.eligible_unstaged(exchange, &stage.term, from, &staged);
        if let Some((rank, waiting)) = waiting
            .iter()
            .find(|(rank, p)| *rank < worst_rank && !in_this_stage.contains(p))
        {
            return missing(rejection!(
                "stage-priority-waits-while-lower-priority",
                "stage {stage_id}: {list_id}/{person_id} (priority {next}) waits while a lower priority is staged",
                stage_id = stage.stage_id,
                list_id = waiting.list_id,
                person_id = waiting.person_id,
                next = rank + 1
            ));
        }
        Ok(())
    }

    /// The references behind a pseudonymous batch: the intermediary's, for
    /// the handing party alone, once per batch, in the batch's order, each
    /// person checked as a batch of references is.
    pub fn check_listing(
        &self,
        signer: &SignerView,
        listing: &StageListing,
        visibility: &Visibility,
        negotiation: &NegotiationState,
    ) -> Result<(), Refusal> {
        if !signer.is_intermediary {
            return reject(rejection!(
                "intermediary-lists-stage-batches",
                "the intermediary lists the persons of a stage"
            ));
        }
        if *visibility != Visibility::Party(listing.from.clone()) {
            return reject(rejection!(
                "stage-listing-visible-handing-party",
                "the persons a party hands over are listed for that party: use visibility party:{from}",
                from = listing.from
            ));
        }
        let Some(record) = self.stages.get(&listing.stage_id) else {
            return missing(rejection!(
                "stage-not-proposed",
                "stage {stage_id} is not proposed",
                stage_id = listing.stage_id
            ));
        };
        let batch = record.stage.batches.iter().find(|b| b.from == listing.from);
        let Some(pseudonyms) = batch.and_then(|b| b.pseudonyms.as_ref()) else {
            return reject(rejection!(
                "stage-no-pseudonymous-batch-from",
                "stage {stage_id} has no pseudonymous batch from {from}",
                stage_id = listing.stage_id,
                from = listing.from
            ));
        };
        if record.listings.contains_key(&listing.from) {
            return reject(rejection!(
                "stage-batch-already-listed",
                "stage {stage_id}: the batch from {from} is already listed",
                stage_id = listing.stage_id,
                from = listing.from
            ));
        }
        if !listing
            .persons
            .iter()
            .map(|l| &l.pseudonym)
            .eq(pseudonyms.iter())
        {
            return reject(rejection!(
                "stage-listing-differs-from-batch",
                "stage {stage_id}: the listing from {from} does not name the batch's pseudonyms in order",
                stage_id = listing.stage_id,
                from = listing.from
            ));
        }
        let (exchange, _) = exchange_term(negotiation, &record.stage.term)?;
        let persons: Vec<&PersonRef> = listing.persons.iter().map(|l| &l.person).collect();
        self.check_batch_persons(&record.stage, exchange, &listing.from, &persons)
    }

    pub fn check_match(
        &self,
        signer: &SignerView,
        decision: &MatchDecision,
        visibility: &Visibility,
    ) -> Result<(), Refusal> {
        if !signer.is_intermediary {
            return reject(rejection!(
                "intermediary-decides-matches",
                "the intermediary decides on matches"
            ));
        }
        if matches!(visibility, Visibility::Public) {
            return reject(rejection!(
                "match-names-persons-not-public",
                "a match names persons: it is not public"
            ));
        }
        let (Some((sought_list, _)), Some((held_list, _))) =
            (self.person(&decision.sought), self.person(&decision.held))
        else {
            return missing(rejection!(
                "matched-person-not-current-list",
                "a matched person is not on a current list"
            ));
        };
        if sought_list.list_kind != ListKind::Sought || held_list.list_kind != ListKind::Held {
            return reject(rejection!(
                "match-links-sought-person-held-one",
                "a match links a sought person to a held one"
            ));
        }
        if sought_list.party == held_list.party || sought_list.term != held_list.term {
            return reject(rejection!(
                "match-links-one-party-sought-list",
                "a match links one party's sought list to the other's held list for the same term"
            ));
        }
        let parties: BTreeSet<ActorId> =
            [sought_list.party.clone(), held_list.party.clone()].into();
        // Shown to the two parties it concerns only when the intermediary
        // chooses to (and so were the decisions of logs made before
        // decisions were the intermediary's alone).
        if *visibility != Visibility::Intermediary && *visibility != Visibility::Actors(parties) {
            return reject(rejection!(
                "match-visible-intermediary-or-two-parties",
                "a match is visible to the intermediary, or to the two parties it concerns"
            ));
        }
        if decision.score_permille > 1000 || decision.explanation.len() > 2_000 {
            return reject(rejection!(
                "score-permille-0-1000-explanation-most",
                "score_permille is 0 to 1000 and the explanation at most 2,000 bytes"
            ));
        }
        if self
            .matches
            .contains_key(&(decision.sought.clone(), decision.held.clone()))
        {
            return reject(rejection!(
                "pair-was-already-decided",
                "this pair was already decided"
            ));
        }
        if decision.verdict == MatchVerdict::Confirmed {
            let taken = self.matches.values().any(|(d, _)| {
                d.verdict == MatchVerdict::Confirmed
                    && (d.sought == decision.sought || d.held == decision.held)
            });
            if taken {
                return reject(rejection!(
                    "one-these-persons-already-matched-someone",
                    "one of these persons is already matched to someone else"
                ));
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
            return reject(rejection!(
                "party-accepts-stage-itself",
                "a party accepts a stage for itself"
            ));
        }
        let Some(record) = self.stages.get(stage_id) else {
            return missing(rejection!(
                "stage-not-proposed",
                "stage {stage_id} is not proposed",
                stage_id = stage_id
            ));
        };
        if !record.stage.batches.iter().any(|b| b.from == *party) {
            return reject(rejection!(
                "not-party-stage",
                "{party} is not a party to stage {stage_id}",
                party = party,
                stage_id = stage_id
            ));
        }
        if record.status() != StageStatus::Proposed || record.accepted_by.contains(party) {
            return reject(rejection!(
                "stage-cannot-accept-now",
                "stage {stage_id} is {status}; {party} cannot accept it now",
                stage_id = stage_id,
                status = record.status().as_str(),
                party = party
            ));
        }
        // A party accepts knowing whom it hands over. Checked last, as a
        // reader without the party's listing cannot check it.
        roster(record, party).map(|_| ())
    }

    pub fn check_handover(&self, signer: &SignerView, handover: &Handover) -> Result<(), Refusal> {
        if !signer.is_intermediary {
            return reject(rejection!(
                "intermediary-records-handover",
                "the intermediary records a handover"
            ));
        }
        let Some(record) = self.stages.get(&handover.stage_id) else {
            return missing(rejection!(
                "stage-not-proposed",
                "stage {stage_id} is not proposed",
                stage_id = handover.stage_id
            ));
        };
        if record.status() != StageStatus::Accepted {
            return reject(rejection!(
                "stage-carried-out-only-once-both",
                "stage {stage_id} is {status}: it is carried out only once both parties accepted it",
                stage_id = handover.stage_id,
                status = record.status().as_str()
            ));
        }
        let staged: BTreeSet<Staged> = record
            .stage
            .batches
            .iter()
            .flat_map(StageBatch::staged)
            .collect();
        let recorded: Option<BTreeSet<Staged>> = handover
            .outcomes
            .iter()
            .map(PersonOutcome::staged)
            .collect();
        let recorded = recorded.unwrap_or_default();
        if recorded.len() != handover.outcomes.len() || recorded != staged {
            return reject(rejection!(
                "handover-stage-one-outcome-each-staged",
                "handover of stage {stage_id}: one outcome for each staged person",
                stage_id = handover.stage_id
            ));
        }
        // Every batch listed for its handing party: checked last, as a
        // party reads only its own listing.
        for batch in &record.stage.batches {
            roster(record, &batch.from)?;
        }
        Ok(())
    }

    pub fn check_receipt(&self, signer: &SignerView, receipt: &Receipt) -> Result<(), Refusal> {
        if receipt.party != *signer.id || !signer.is_party {
            return reject(rejection!(
                "party-confirms-only-own-receipt",
                "a party confirms only its own receipt"
            ));
        }
        let Some(record) = self.stages.get(&receipt.stage_id) else {
            return missing(rejection!(
                "stage-not-proposed",
                "stage {stage_id} is not proposed",
                stage_id = receipt.stage_id
            ));
        };
        if record.status() != StageStatus::Executed || record.receipts.contains_key(&receipt.party)
        {
            return reject(rejection!(
                "stage-receipts-follow-handover-once-per",
                "stage {stage_id} is {status}: receipts follow the handover, once per party",
                stage_id = receipt.stage_id,
                status = record.status().as_str()
            ));
        }
        let Some(other) = record
            .stage
            .batches
            .iter()
            .find(|b| b.from != receipt.party)
        else {
            return reject(rejection!(
                "not-party-stage",
                "{party} is not a party to stage {stage_id}",
                party = receipt.party,
                stage_id = receipt.stage_id
            ));
        };
        if !record.stage.batches.iter().any(|b| b.from == receipt.party) {
            return reject(rejection!(
                "not-party-stage",
                "{party} is not a party to stage {stage_id}",
                party = receipt.party,
                stage_id = receipt.stage_id
            ));
        }
        let handed_over = record.handed_over_by(&other.from);
        if receipt.received > handed_over {
            return reject(rejection!(
                "stage-received-cannot-exceed-handed-over",
                "stage {stage_id}: {received} received cannot exceed the {handed_over} handed over",
                stage_id = receipt.stage_id,
                received = receipt.received,
                handed_over = handed_over
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
            return reject(rejection!(
                "discrepancy-reported-reporter-own-name",
                "a discrepancy is reported in the reporter's own name"
            ));
        }
        check_id("discrepancy_id", &discrepancy.discrepancy_id)?;
        if self.discrepancies.contains_key(&discrepancy.discrepancy_id) {
            return reject(rejection!(
                "discrepancy-already-recorded",
                "discrepancy {discrepancy_id} is already recorded",
                discrepancy_id = discrepancy.discrepancy_id
            ));
        }
        if let Some(stage_id) = &discrepancy.stage_id
            && !self.stages.contains_key(stage_id)
        {
            return missing(rejection!(
                "stage-not-proposed",
                "stage {stage_id} is not proposed",
                stage_id = stage_id
            ));
        }
        if discrepancy.reason.trim().is_empty() {
            return reject(rejection!(
                "discrepancy-states-reason",
                "a discrepancy states its reason"
            ));
        }
        if let Err(why) = crate::canonical::check_exact_count("count", discrepancy.count) {
            return Err(Refusal::Rule(why));
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
            return reject(rejection!(
                "intermediary-records-tallies",
                "the intermediary records tallies"
            ));
        }
        if *visibility != Visibility::Public {
            return reject(rejection!(
                "tally-public-counts-never-persons",
                "a tally is public: counts, never persons"
            ));
        }
        if self.tallies.contains_key(&tally.stage_id) {
            return reject(rejection!(
                "stage-already-tallied",
                "stage {stage_id} is already tallied",
                stage_id = tally.stage_id
            ));
        }
        exchange_term(negotiation, &tally.term)?;
        let Some(record) = self.stages.get(&tally.stage_id) else {
            return missing(rejection!(
                "stage-not-proposed",
                "stage {stage_id} is not proposed",
                stage_id = tally.stage_id
            ));
        };
        let Some(handover) = &record.handover else {
            return reject(rejection!(
                "stage-not-carried-out-yet",
                "stage {stage_id} is not carried out yet",
                stage_id = tally.stage_id
            ));
        };
        let expected = self.tally(negotiation, record, &handover.outcomes)?;
        if expected != *tally {
            return reject(rejection!(
                "tally-stage-differs-from-handover",
                "the tally of stage {stage_id} differs from its handover",
                stage_id = tally.stage_id
            ));
        }
        Ok(())
    }
}

/// The pseudonyms of a stage: each the hex of an HMAC's first 128 bits, and
/// no person named twice.
fn check_pseudonyms(stage: &Stage) -> Result<(), Refusal> {
    let mut seen = BTreeSet::new();
    for pseudonym in stage
        .batches
        .iter()
        .flat_map(|b| b.pseudonyms.iter().flatten())
    {
        let well_formed = pseudonym.len() == PSEUDONYM_HEX_LEN
            && pseudonym
                .bytes()
                .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
        if !well_formed {
            return reject(rejection!(
                "stage-pseudonym-malformed",
                "stage {stage_id}: a pseudonym is {len} lowercase hex digits",
                stage_id = stage.stage_id,
                len = PSEUDONYM_HEX_LEN
            ));
        }
        if !seen.insert(pseudonym) {
            return reject(rejection!(
                "stage-already-staged",
                "stage {stage_id}: pseudonym {pseudonym} is staged twice",
                stage_id = stage.stage_id,
                pseudonym = pseudonym
            ));
        }
    }
    Ok(())
}
