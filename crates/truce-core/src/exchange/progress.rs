//! The exchanges' queries beyond their records: eligibility, planning a
//! stage, the public tally of a stage, progress against the quota.

use crate::domain::Refusal;
use crate::rejection;
use crate::state::Rejection;
use chrono::NaiveDate;
use rules::{exchange_term, missing, roster};

use super::*;

impl ExchangeState {
    /// Why a person is or is not eligible under an exchange term.
    pub fn eligibility(exchange: &Exchange, person: &PersonRecord) -> Result<usize, Vec<String>> {
        if exchange.categories.is_empty() {
            return Ok(0);
        }
        exchange.priority_of(&person.facts())
    }

    /// `party`'s eligible held persons for a term not yet staged, best
    /// priority first (ties by list and person id): the order stages take.
    pub fn eligible_unstaged(
        &self,
        exchange: &Exchange,
        term: &TermRef,
        party: &ActorId,
        staged: &BTreeSet<&PersonRef>,
    ) -> Vec<(usize, PersonRef)> {
        let mut eligible: Vec<(usize, PersonRef)> = self
            .lists()
            .filter(|list| {
                list.party == *party && list.list_kind == ListKind::Held && list.term == *term
            })
            .flat_map(|list| {
                list.persons.iter().filter_map(|person| {
                    let rank = Self::eligibility(exchange, person).ok()?;
                    Some((
                        rank,
                        PersonRef {
                            list_id: list.list_id.clone(),
                            person_id: person.person_id.clone(),
                        },
                    ))
                })
            })
            .filter(|(_, person)| !staged.contains(person))
            .collect();
        eligible.sort();
        eligible
    }

    /// The intermediary's planner: the next stage of up to `per_side`
    /// people from the first party (the second side scaled by the ratio),
    /// each side taking its eligible, unstaged held persons in priority
    /// order. Refuses when either side has nobody left.
    pub fn plan_stage(
        &self,
        negotiation: &NegotiationState,
        term: &TermRef,
        stage_id: &str,
        date: NaiveDate,
        place: &str,
        per_side: usize,
    ) -> Result<Stage, Rejection> {
        let (exchange, parties) =
            exchange_term(negotiation, term).map_err(Refusal::into_rejection)?;
        let staged = self.staged();
        let first = self.eligible_unstaged(exchange, term, &parties.0, &staged);
        let second = self.eligible_unstaged(exchange, term, &parties.1, &staged);
        let (a, b) = (exchange.ratio.0 as usize, exchange.ratio.1 as usize);
        let groups = (first.len() / a).min(second.len() / b).min(per_side / a);
        if groups == 0 {
            return Err(rejection!(
                "no-stage-possible-side-no-eligible",
                "no stage possible for {term}: a side has no eligible person left",
                term = term
            ));
        }
        let take = |people: Vec<(usize, PersonRef)>, n: usize| {
            people.into_iter().take(n).map(|(_, p)| p).collect()
        };
        Ok(Stage {
            stage_id: stage_id.to_owned(),
            term: term.clone(),
            date,
            place: place.to_owned(),
            batches: vec![
                StageBatch::named(parties.0.clone(), take(first, groups * a)),
                StageBatch::named(parties.1.clone(), take(second, groups * b)),
            ],
            parity_waiver: None,
        })
    }

    /// A stage plan (batches naming their persons) in the form both parties
    /// may read: each batch names its persons by the pseudonym the *other*
    /// party of the term knows them by (`pseudonym(reader, person)`, which
    /// the intermediary's key computes outside this pure core), and a
    /// listing per batch gives its handing party the references behind.
    pub fn pseudonymize(
        negotiation: &NegotiationState,
        plan: Stage,
        pseudonym: impl Fn(&ActorId, &PersonRef) -> String,
    ) -> Result<(Stage, Vec<StageListing>), Rejection> {
        let (_, parties) =
            exchange_term(negotiation, &plan.term).map_err(Refusal::into_rejection)?;
        let mut listings = Vec::with_capacity(plan.batches.len());
        let mut batches = Vec::with_capacity(plan.batches.len());
        for batch in plan.batches {
            let Some(persons) = batch.persons else {
                return Err(rejection!(
                    "stage-plan-names-persons",
                    "a stage plan names the persons of each batch by reference"
                ));
            };
            let reader = if batch.from == parties.0 {
                &parties.1
            } else {
                &parties.0
            };
            let persons: Vec<ListedPerson> = persons
                .into_iter()
                .map(|person| ListedPerson {
                    pseudonym: pseudonym(reader, &person),
                    person,
                })
                .collect();
            batches.push(StageBatch::pseudonymous(
                batch.from.clone(),
                persons.iter().map(|l| l.pseudonym.clone()).collect(),
            ));
            listings.push(StageListing {
                stage_id: plan.stage_id.clone(),
                from: batch.from,
                persons,
            });
        }
        Ok((Stage { batches, ..plan }, listings))
    }

    /// The tally of a stage from its outcomes: who handed over how many,
    /// by the term's category of each person (from the giver's held list).
    pub fn tally(
        &self,
        negotiation: &NegotiationState,
        record: &StageRecord,
        outcomes: &[PersonOutcome],
    ) -> Result<Tally, Refusal> {
        let stage = &record.stage;
        let (exchange, _) = exchange_term(negotiation, &stage.term)?;
        let handed_over: BTreeSet<Staged> = outcomes
            .iter()
            .filter(|o| o.outcome == Outcome::HandedOver)
            .filter_map(PersonOutcome::staged)
            .collect();
        let mut counts: BTreeMap<(ActorId, String), u64> = BTreeMap::new();
        for batch in &stage.batches {
            for (staged, person) in roster(record, &batch.from)? {
                if !handed_over.contains(&staged) {
                    continue;
                }
                let Some((_, person_record)) = self.person(person) else {
                    return missing(rejection!(
                        "no-person",
                        "no person {list_id}/{person_id}",
                        list_id = person.list_id,
                        person_id = person.person_id
                    ));
                };
                let category = match Self::eligibility(exchange, person_record) {
                    Ok(rank) => exchange
                        .categories
                        .get(rank)
                        .map_or("all".to_owned(), |c| c.name.clone()),
                    Err(_) => "not eligible".to_owned(),
                };
                *counts.entry((batch.from.clone(), category)).or_default() += 1;
            }
        }
        Ok(Tally {
            stage_id: stage.stage_id.clone(),
            term: stage.term.clone(),
            date: stage.date,
            counts: counts
                .into_iter()
                .map(|((from, category), handed_over)| TallyCount {
                    from,
                    category,
                    handed_over,
                })
                .collect(),
        })
    }

    /// Progress of an exchange term against its quota, from the public
    /// tallies (so every reader, observers included, gets the same
    /// aggregates), with each stage's status where this reader sees it.
    pub fn progress(
        &self,
        negotiation: &NegotiationState,
        term: &TermRef,
    ) -> Result<ExchangeProgress, Rejection> {
        let (exchange, parties) =
            exchange_term(negotiation, term).map_err(Refusal::into_rejection)?;
        let side = |from: &ActorId, n: u64| if *from == parties.0 { (n, 0) } else { (0, n) };
        let add = |a: (u64, u64), b: (u64, u64)| (a.0 + b.0, a.1 + b.1);
        let mut totals = (0, 0);
        let mut by_category: Vec<(String, (u64, u64))> = exchange
            .categories
            .iter()
            .map(|c| (c.name.clone(), (0, 0)))
            .collect();
        let mut stages = Vec::new();
        for (tally, tally_entry) in self.tallies.values().filter(|(t, _)| t.term == *term) {
            let mut stage_counts = (0, 0);
            for count in &tally.counts {
                let counted = side(&count.from, count.handed_over);
                stage_counts = add(stage_counts, counted);
                match by_category
                    .iter_mut()
                    .find(|(name, _)| *name == count.category)
                {
                    Some((_, sum)) => *sum = add(*sum, counted),
                    None => by_category.push((count.category.clone(), counted)),
                }
            }
            totals = add(totals, stage_counts);
            let status = self.stages.get(&tally.stage_id).map(StageRecord::status);
            stages.push(StageProgress {
                stage_id: tally.stage_id.clone(),
                date: tally.date,
                status,
                handed_over: stage_counts,
                entry: Some(*tally_entry),
            });
        }
        // Stages this reader sees that are not carried out yet.
        for record in self.stages.values().filter(|r| r.stage.term == *term) {
            if !self.tallies.contains_key(&record.stage.stage_id) {
                stages.push(StageProgress {
                    stage_id: record.stage.stage_id.clone(),
                    date: record.stage.date,
                    status: Some(record.status()),
                    handed_over: (0, 0),
                    entry: None,
                });
            }
        }
        stages.sort_by(|x, y| (x.date, &x.stage_id).cmp(&(y.date, &y.stage_id)));
        let stage_ids: BTreeSet<&String> = stages.iter().map(|s| &s.stage_id).collect();
        let discrepancies = self
            .discrepancies
            .values()
            .filter(|(d, _)| d.stage_id.as_ref().is_some_and(|s| stage_ids.contains(s)))
            .map(|(d, _)| d.count)
            .sum();
        Ok(ExchangeProgress {
            term: term.clone(),
            quota: exchange.progress(totals),
            parties,
            stages,
            by_category,
            discrepancies,
        })
    }
}
