//! Agreement terms as checkable rules: ceasefire windows and domains,
//! exchange quotas, parity and priority categories as predicates on a
//! person record, the return of children, and provisions that are positions
//! more than rules (text with structured tags).

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};

/// One term of a document: an identifier unique within the document, a
/// title, and its rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Term {
    pub term_id: String,
    pub title: String,
    pub rule: TermRule,
    /// A party must answer this term by a day. (Added after the first
    /// payloads: absent means none, so earlier payloads stay canonical.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_deadline: Option<crate::negotiation::Deadline>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TermRule {
    Ceasefire(Ceasefire),
    Exchange(Exchange),
    ChildrenReturn(ChildrenReturn),
    Provision(Provision),
}

impl TermRule {
    pub fn type_name(&self) -> &'static str {
        match self {
            TermRule::Ceasefire(_) => "ceasefire",
            TermRule::Exchange(_) => "exchange",
            TermRule::ChildrenReturn(_) => "children_return",
            TermRule::Provision(_) => "provision",
        }
    }

    /// A one-line summary for tables.
    pub fn summary(&self) -> String {
        match self {
            TermRule::Ceasefire(c) => {
                let domains: Vec<&str> = c.domains.iter().map(|d| d.as_str()).collect();
                let window = match (c.start, c.end(), c.duration_days) {
                    (Some(start), Some(end), _) => {
                        format!("{} to {}", start.to_rfc3339(), end.to_rfc3339())
                    }
                    (None, _, Some(days)) => format!("{days} days from an agreed start"),
                    _ => "window open".to_owned(),
                };
                format!(
                    "{} ceasefire ({}), {window}",
                    c.scope.as_str(),
                    domains.join("/")
                )
            }
            TermRule::Exchange(e) => {
                let quantity = match e.quantity {
                    Quantity::NForN { n } => format!("{n} for {n}"),
                    Quantity::AllForAll { minimum_per_side } => {
                        format!("all for all, at least {minimum_per_side} per side")
                    }
                };
                let categories: Vec<&str> = e.categories.iter().map(|c| c.name.as_str()).collect();
                let categories = if categories.is_empty() {
                    String::new()
                } else {
                    format!("; first {}", categories.join(", "))
                };
                format!(
                    "{} {quantity} at {}:{}{categories}",
                    e.subject.as_str(),
                    e.ratio.0,
                    e.ratio.1
                )
            }
            TermRule::ChildrenReturn(c) => format!(
                "return of the children on list {}; channel: {}",
                c.list_ref, c.channel
            ),
            TermRule::Provision(p) => format!("{}: {}", p.topic.as_str(), p.text),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Domain {
    Land,
    Air,
    Sea,
}

impl Domain {
    pub fn as_str(self) -> &'static str {
        match self {
            Domain::Land => "land",
            Domain::Air => "air",
            Domain::Sea => "sea",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnergyCategory {
    Refineries,
    Pipelines,
    Storage,
    PowerGeneration,
    Grid,
    NuclearPlants,
    HydroDams,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Scope {
    WholeFront,
    EnergyInfrastructure {
        categories: BTreeSet<EnergyCategory>,
    },
    /// A local truce, e.g. to collect the dead.
    Local {
        area: String,
        purpose: String,
    },
}

impl Scope {
    pub fn as_str(&self) -> &'static str {
        match self {
            Scope::WholeFront => "full",
            Scope::EnergyInfrastructure { .. } => "energy-infrastructure",
            Scope::Local { .. } => "local",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Extension {
    None,
    /// Extended only when both parties agree (each extension is a new term).
    ByAgreement,
    /// Extends itself by `period_days` unless a party withdraws.
    Automatic {
        period_days: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ceasefire {
    pub start: Option<DateTime<FixedOffset>>,
    pub end: Option<DateTime<FixedOffset>>,
    pub duration_days: Option<u32>,
    pub extension: Extension,
    pub domains: BTreeSet<Domain>,
    pub scope: Scope,
    pub monitoring: Option<String>,
}

/// Whether a ceasefire holds at a moment in a domain, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    InForce,
    NotYetStarted,
    Ended,
    /// The term names no start yet (e.g. "30 days from an agreed date").
    NoStartAgreed,
    DomainNotCovered,
}

impl Ceasefire {
    /// The end of the window: the explicit end, or start + duration.
    pub fn end(&self) -> Option<DateTime<FixedOffset>> {
        self.end
            .or_else(|| Some(self.start? + Duration::days(self.duration_days? as i64)))
    }

    /// The end after `extensions` extensions (automatic periods, or agreed
    /// ones of the original length).
    pub fn end_with_extensions(&self, extensions: u32) -> Option<DateTime<FixedOffset>> {
        let end = self.end()?;
        let period_days = match self.extension {
            Extension::None => return Some(end),
            Extension::Automatic { period_days } => period_days as i64,
            Extension::ByAgreement => (end - self.start?).num_days(),
        };
        Some(end + Duration::days(period_days * extensions as i64))
    }

    /// Does the ceasefire hold at `at` in `domain`? The window is
    /// half-open: [start, end).
    pub fn covers(&self, at: DateTime<FixedOffset>, domain: Domain, extensions: u32) -> Coverage {
        if !self.domains.contains(&domain) {
            return Coverage::DomainNotCovered;
        }
        let Some(start) = self.start else {
            return Coverage::NoStartAgreed;
        };
        if at < start {
            return Coverage::NotYetStarted;
        }
        match self.end_with_extensions(extensions) {
            Some(end) if at >= end => Coverage::Ended,
            _ => Coverage::InForce,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExchangeSubject {
    PrisonersOfWar,
    Civilians,
    Remains,
}

impl ExchangeSubject {
    pub fn as_str(self) -> &'static str {
        match self {
            ExchangeSubject::PrisonersOfWar => "prisoners of war",
            ExchangeSubject::Civilians => "civilians",
            ExchangeSubject::Remains => "remains",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Quantity {
    NForN { n: u64 },
    AllForAll { minimum_per_side: u64 },
}

/// A priority category: people for whom the predicate holds go first, in
/// the order the categories are listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    pub name: String,
    pub predicate: Predicate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exchange {
    pub subject: ExchangeSubject,
    /// People handed over by the first party for every `ratio.1` by the
    /// second (1:1 in Istanbul).
    pub ratio: (u32, u32),
    pub quantity: Quantity,
    pub categories: Vec<Category>,
    pub deadline: Option<NaiveDate>,
}

/// How far an exchange has come against its quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaProgress {
    /// Handed over by each side (first party, second party).
    pub handed_over: (u64, u64),
    /// The target per side (N for N), or the minimum per side (all for all).
    pub target_per_side: (u64, u64),
    /// True when both sides reached their target or minimum.
    pub met: bool,
    /// True when the counts keep the ratio.
    pub at_parity: bool,
}

impl Exchange {
    pub fn progress(&self, handed_over: (u64, u64)) -> QuotaProgress {
        let (a, b) = (self.ratio.0.max(1) as u64, self.ratio.1.max(1) as u64);
        let per_side = match self.quantity {
            Quantity::NForN { n } => n,
            Quantity::AllForAll { minimum_per_side } => minimum_per_side,
        };
        // The quantity counts the first side; the second side's target keeps
        // the ratio (the same number at 1:1).
        let target_per_side = (per_side, per_side * b / a);
        QuotaProgress {
            handed_over,
            target_per_side,
            met: handed_over.0 >= target_per_side.0 && handed_over.1 >= target_per_side.1,
            at_parity: handed_over.0 * b == handed_over.1 * a,
        }
    }

    /// The first category (by priority) whose predicate holds for the
    /// person, or why none does.
    pub fn priority_of(&self, person: &PersonFacts) -> Result<usize, Vec<String>> {
        let mut reasons = Vec::new();
        for (rank, category) in self.categories.iter().enumerate() {
            match category.predicate.evaluate(person) {
                Verdict::Holds => return Ok(rank),
                Verdict::Fails(why) | Verdict::Unknown(why) => {
                    reasons.push(format!("{}: {why}", category.name))
                }
            }
        }
        Err(reasons)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assessment {
    SeriouslyIll,
    SeverelyWounded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Military,
    Civilian,
}

/// A category of people, as a predicate on their record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Predicate {
    /// A medical commission found the person so.
    Assessed {
        assessment: Assessment,
    },
    /// Aged from `min` to `max` years inclusive at `reference`.
    AgeBetween {
        min: u32,
        max: u32,
        reference: NaiveDate,
    },
    HasStatus {
        status: Status,
    },
    AllOf {
        predicates: Vec<Predicate>,
    },
    AnyOf {
        predicates: Vec<Predicate>,
    },
}

/// What a predicate needs to know of a person: minimum data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonFacts {
    pub date_of_birth: Option<NaiveDate>,
    /// Assessments by medical commissions.
    pub assessments: Vec<Assessment>,
    pub status: Option<Status>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Holds,
    Fails(String),
    /// The record lacks what the predicate needs.
    Unknown(String),
}

/// Whole years from `birth` to `at`.
pub fn age_at(birth: NaiveDate, at: NaiveDate) -> i32 {
    let mut age = at.year() - birth.year();
    if (at.month(), at.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

impl Predicate {
    pub fn evaluate(&self, person: &PersonFacts) -> Verdict {
        match self {
            Predicate::Assessed { assessment } => {
                if person.assessments.contains(assessment) {
                    Verdict::Holds
                } else {
                    Verdict::Fails(format!(
                        "no commission assessed {}",
                        assessment_name(*assessment)
                    ))
                }
            }
            Predicate::AgeBetween {
                min,
                max,
                reference,
            } => match person.date_of_birth {
                None => Verdict::Unknown("date of birth unknown".to_owned()),
                Some(birth) => {
                    let age = age_at(birth, *reference);
                    if age >= *min as i32 && age <= *max as i32 {
                        Verdict::Holds
                    } else {
                        Verdict::Fails(format!("aged {age} on {reference}, not {min} to {max}"))
                    }
                }
            },
            Predicate::HasStatus { status } => match person.status {
                None => Verdict::Unknown("status unknown".to_owned()),
                Some(s) if s == *status => Verdict::Holds,
                Some(s) => Verdict::Fails(format!("{s:?} rather than {status:?}").to_lowercase()),
            },
            Predicate::AllOf { predicates } => {
                for predicate in predicates {
                    let verdict = predicate.evaluate(person);
                    if verdict != Verdict::Holds {
                        return verdict;
                    }
                }
                Verdict::Holds
            }
            Predicate::AnyOf { predicates } => {
                let mut reasons = Vec::new();
                let mut unknown = false;
                for predicate in predicates {
                    match predicate.evaluate(person) {
                        Verdict::Holds => return Verdict::Holds,
                        Verdict::Fails(why) => reasons.push(why),
                        Verdict::Unknown(why) => {
                            unknown = true;
                            reasons.push(why);
                        }
                    }
                }
                let why = reasons.join("; ");
                if unknown {
                    Verdict::Unknown(why)
                } else {
                    Verdict::Fails(why)
                }
            }
        }
    }
}

fn assessment_name(assessment: Assessment) -> &'static str {
    match assessment {
        Assessment::SeriouslyIll => "seriously ill",
        Assessment::SeverelyWounded => "severely wounded",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChildrenReturn {
    /// The list the term refers to (a document or submission id).
    pub list_ref: String,
    pub listed: Option<u64>,
    /// E.g. "through a third-country mediator".
    pub channel: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProvisionTopic {
    Territory,
    ArmedForces,
    Reparations,
    ClaimsWaiver,
    Recognition,
    Alliance,
    Monitoring,
    Negotiations,
    Other,
}

impl ProvisionTopic {
    pub fn as_str(self) -> &'static str {
        match self {
            ProvisionTopic::Territory => "territory",
            ProvisionTopic::ArmedForces => "armed forces",
            ProvisionTopic::Reparations => "reparations",
            ProvisionTopic::ClaimsWaiver => "waiver of claims",
            ProvisionTopic::Recognition => "recognition",
            ProvisionTopic::Alliance => "alliance membership",
            ProvisionTopic::Monitoring => "monitoring",
            ProvisionTopic::Negotiations => "negotiations",
            ProvisionTopic::Other => "other",
        }
    }
}

/// A provision that is a position more than a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provision {
    pub topic: ProvisionTopic,
    pub text: String,
    pub tags: Vec<String>,
}
