//! The matching engine: prepares records, blocks, fits the model, scores and
//! assigns. Pure: records come in as strings, links go out as values; the
//! caller does the I/O.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::compare::{Value, compare, prepare};
use crate::date::DateAgreement;
use crate::error::MatchError;
use crate::model::{MISSING, Model, Pattern, probability};
use crate::schema::{FieldKind, NamePart, Schema};

/// One input record: an identifier and the raw text of each schema field,
/// in schema order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub id: String,
    pub fields: Vec<String>,
}

/// A proposed identity link.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub left_id: String,
    pub right_id: String,
    /// Match probability, 0 to 1.
    pub score: f64,
    /// Which fields agreed and how; field names and levels only, never
    /// values.
    pub explanation: String,
}

/// Tunable behaviour of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Links at or above this probability are accepted.
    pub threshold: f64,
    /// With `one_to_one` off, every candidate at or above this probability is
    /// written for human review.
    pub review_threshold: f64,
    /// Each record in at most one link (greedy by score).
    pub one_to_one: bool,
    /// Blocks with more right-hand records than this are skipped for that
    /// key (other keys still reach their pairs); bounds the work on very
    /// common names.
    pub max_block: usize,
    pub em_iterations: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            threshold: 0.5,
            review_threshold: 0.05,
            one_to_one: true,
            max_block: 400,
            em_iterations: 60,
        }
    }
}

/// Where the roles used by blocking and the given/family swap sit in the
/// schema.
#[derive(Debug, Clone, Default)]
struct Roles {
    family: Option<usize>,
    given: Option<usize>,
    patronymic: Option<usize>,
    date: Option<usize>,
    place: Option<usize>,
    /// Identifiers selective enough to block on with a name.
    identifiers: Vec<usize>,
    /// Identifiers and text fields, which block together (house number with
    /// street).
    codes: Vec<usize>,
    texts: Vec<usize>,
}

impl Roles {
    fn of(schema: &Schema) -> Self {
        let mut roles = Roles::default();
        for (i, field) in schema.fields.iter().enumerate() {
            match field.kind {
                FieldKind::Name(NamePart::Family) => roles.family = roles.family.or(Some(i)),
                FieldKind::Name(NamePart::Given) => roles.given = roles.given.or(Some(i)),
                FieldKind::Name(NamePart::Patronymic) => {
                    roles.patronymic = roles.patronymic.or(Some(i))
                }
                FieldKind::Name(NamePart::Other) => {
                    if roles.given.is_none() {
                        roles.given = Some(i);
                    } else if roles.family.is_none() {
                        roles.family = Some(i);
                    }
                }
                FieldKind::Date => roles.date = roles.date.or(Some(i)),
                FieldKind::Place => roles.place = roles.place.or(Some(i)),
                FieldKind::Identifier => {
                    roles.identifiers.push(i);
                    roles.codes.push(i);
                }
                FieldKind::Text => roles.texts.push(i),
            }
        }
        roles
    }
}

/// A record prepared once: values and, per field, the relative frequency of
/// its value (for the term-frequency adjustment).
#[derive(Debug, Clone)]
struct Prepared {
    values: Vec<Value>,
    frequency: Vec<f32>,
}

/// How often each canonical value occurs, per field, over both lists.
#[derive(Debug, Clone, Default)]
struct TermFrequencies {
    counts: Vec<HashMap<String, u32>>,
    totals: Vec<u64>,
    /// Probability that two random records agree on the field: the sum of
    /// squared relative frequencies.
    random_agreement: Vec<f64>,
}

impl TermFrequencies {
    fn new(fields: usize) -> Self {
        TermFrequencies {
            counts: vec![HashMap::new(); fields],
            totals: vec![0; fields],
            random_agreement: vec![0.0; fields],
        }
    }

    fn add(&mut self, values: &[Value]) {
        for (field, value) in values.iter().enumerate() {
            if let Some(canonical) = value.canonical() {
                *self.counts[field].entry(canonical).or_insert(0) += 1;
                self.totals[field] += 1;
            }
        }
    }

    fn finish(&mut self) {
        for field in 0..self.counts.len() {
            let total = self.totals[field].max(1) as f64;
            self.random_agreement[field] = self.counts[field]
                .values()
                .map(|&c| (c as f64 / total).powi(2))
                .sum();
        }
    }

    fn frequencies(&self, values: &[Value]) -> Vec<f32> {
        values
            .iter()
            .enumerate()
            .map(|(field, value)| {
                let total = self.totals[field].max(1) as f64;
                let count = value
                    .canonical()
                    .and_then(|c| self.counts[field].get(&c).copied())
                    .unwrap_or(1);
                (count as f64 / total) as f32
            })
            .collect()
    }
}

/// Term-frequency adjustments are bounded so a rare value cannot outweigh
/// the other fields.
const MAX_TF_ADJUSTMENT: f64 = 4.0;

/// Identifiers with fewer equally common values than this are compared but
/// not used as blocking keys.
const MIN_BLOCKING_DISTINCT: f64 = 100.0;

/// The same for identifiers blocking together with a text field.
const MIN_ADDRESS_DISTINCT: f64 = 20.0;

/// Left records whose candidate pairs EM sees at most.
const FIT_RECORDS: usize = 10_000;

/// Pairs whose levels are at most the given ones on the condition fields;
/// the session provides m and u of `fields`.
struct TrainingSession {
    conditions: Vec<(usize, u8)>,
    fields: Vec<usize>,
}

/// A training session with fewer candidate pairs is skipped (its fields keep
/// the estimate of plain EM).
const MIN_SESSION_PAIRS: u64 = 200;

/// Random pairs drawn to start u before EM.
const RANDOM_PAIRS: usize = 20_000;

/// Candidate index over the right-hand list: blocking key hash to record
/// numbers.
type BlockIndex = HashMap<u64, Vec<u32>>;

/// A fitted matcher holding both lists, the blocking index over the right
/// list and the model; new records on either side are matched without
/// refitting.
pub struct Matcher {
    schema: Schema,
    settings: Settings,
    roles: Roles,
    model: Model,
    frequencies: TermFrequencies,
    left_ids: Vec<String>,
    right_ids: Vec<String>,
    left: Vec<Prepared>,
    right: Vec<Prepared>,
    index: BlockIndex,
    left_linked: Vec<bool>,
    right_linked: Vec<bool>,
}

/// Reports progress in units of left records processed.
pub type Progress<'a> = &'a (dyn Fn(u64) + Sync);

impl Matcher {
    /// Prepares both lists, builds the index and fits the model by EM on the
    /// candidate pairs (or takes `model` when given, e.g. from an earlier
    /// run).
    pub fn new(
        schema: Schema,
        settings: Settings,
        left: Vec<Record>,
        right: Vec<Record>,
        model: Option<Model>,
        progress: Progress,
    ) -> Result<Self, MatchError> {
        let mut roles = Roles::of(&schema);
        let kinds: Vec<FieldKind> = schema.fields.iter().map(|f| f.kind).collect();
        let (left_ids, left_values) = prepare_all(&kinds, left);
        let (right_ids, right_values) = prepare_all(&kinds, right);
        let mut frequencies = TermFrequencies::new(kinds.len());
        left_values
            .iter()
            .chain(&right_values)
            .for_each(|v| frequencies.add(v));
        frequencies.finish();
        // An identifier with few common values (a state, a sex code) would
        // make huge blocks; only selective ones block. Typos add many rare
        // values, so selectivity is measured by the chance that two random
        // records agree, not by the count of distinct values.
        roles
            .identifiers
            .retain(|&field| frequencies.random_agreement[field] <= 1.0 / MIN_BLOCKING_DISTINCT);
        roles
            .codes
            .retain(|&field| frequencies.random_agreement[field] <= 1.0 / MIN_ADDRESS_DISTINCT);
        let with_frequencies = |values: Vec<Vec<Value>>| -> Vec<Prepared> {
            values
                .into_par_iter()
                .map(|values| Prepared {
                    frequency: frequencies.frequencies(&values),
                    values,
                })
                .collect()
        };
        let left = with_frequencies(left_values);
        let right = with_frequencies(right_values);
        let mut index = BlockIndex::new();
        for (i, record) in right.iter().enumerate() {
            for key in blocking_keys(&roles, record) {
                index.entry(key).or_default().push(i as u32);
            }
        }
        let level_counts: Vec<usize> = kinds.iter().map(|k| k.level_count()).collect();
        let mut matcher = Matcher {
            left_linked: vec![false; left.len()],
            right_linked: vec![false; right.len()],
            // Replaced below by the given or the fitted model.
            model: Model::initial(&level_counts, uniform(&level_counts), 0.1),
            schema,
            settings,
            roles,
            frequencies,
            left_ids,
            right_ids,
            left,
            right,
            index,
        };
        match model {
            Some(model) => {
                let fits = model.m.len() == level_counts.len()
                    && model
                        .m
                        .iter()
                        .zip(&level_counts)
                        .all(|(levels, &n)| levels.len() == n);
                if !fits {
                    return Err(MatchError::ModelMismatch(format!(
                        "the model has {} fields, the columns {}",
                        model.m.len(),
                        level_counts.len()
                    )));
                }
                matcher.model = model;
            }
            None => matcher.fit(&level_counts, progress),
        }
        Ok(matcher)
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Number of candidate pairs blocking produces for the current lists.
    pub fn candidate_pair_count(&self) -> u64 {
        (0..self.left.len())
            .into_par_iter()
            .map(|i| self.candidates(&self.left[i], &self.index).len() as u64)
            .sum()
    }

    fn fit(&mut self, level_counts: &[usize], progress: Progress) {
        let u_start = self.random_pair_levels(level_counts);
        // Large lists: EM on the candidates of an evenly spread sample of
        // left records; the parameters are proportions, the sample keeps them.
        let stride = self.left.len().div_ceil(FIT_RECORDS).max(1);
        let patterns: HashMap<Pattern, u64> = (0..self.left.len())
            .into_par_iter()
            .filter(|i| i % stride == 0)
            .fold(HashMap::new, |mut counts, i| {
                let record = &self.left[i];
                for j in self.candidates(record, &self.index) {
                    let (pattern, _) = self.pattern(record, &self.right[j as usize]);
                    *counts.entry(pattern).or_insert(0u64) += 1;
                }
                progress(stride as u64);
                counts
            })
            .reduce(HashMap::new, |mut a, b| {
                for (pattern, count) in b {
                    *a.entry(pattern).or_insert(0) += count;
                }
                a
            });
        let pairs: u64 = patterns.values().sum();
        let expected_matches = (self.left.len().min(self.right.len()) / stride) as f64;
        let lambda = expected_matches / (pairs.max(1) as f64);
        let iterations = self.settings.em_iterations;
        let mut model = Model::initial(level_counts, u_start.clone(), lambda);
        model.fit(&patterns, iterations, 1e-6);
        // Plain EM over all candidates finds families rather than persons:
        // siblings share surname, patronymic and birthplace, which breaks
        // the independence the model assumes. As in Splink, each field is
        // therefore estimated in a session where another, independent field
        // already agrees: names and places among pairs born the same day,
        // the date among pairs with the same names.
        let mut sessions_run = 0;
        for TrainingSession { conditions, fields } in self.training_sessions() {
            let subset: HashMap<Pattern, u64> = patterns
                .iter()
                .filter(|(p, _)| {
                    conditions
                        .iter()
                        .all(|&(f, max)| p[f] != MISSING && p[f] <= max)
                })
                .map(|(p, &c)| (p.clone(), c))
                .collect();
            if subset.values().sum::<u64>() < MIN_SESSION_PAIRS {
                continue;
            }
            let mut session = Model::initial(level_counts, u_start.clone(), 0.3);
            session.fit(&subset, iterations, 1e-6);
            for field in fields {
                model.m[field] = session.m[field].clone();
                model.u[field] = session.u[field].clone();
            }
            sessions_run += 1;
            model.iterations += session.iterations;
        }
        if sessions_run > 0 {
            model.fit_lambda(&patterns, iterations * 4, 1e-9);
        }
        self.model = model;
    }

    /// EM training sessions: the agreement conditions selecting the pairs,
    /// and the fields whose m and u the session provides.
    fn training_sessions(&self) -> Vec<TrainingSession> {
        let Some(date) = self.roles.date else {
            return Vec::new();
        };
        let others: Vec<usize> = (0..self.schema.fields.len())
            .filter(|&f| f != date)
            .collect();
        let names: Vec<(usize, u8)> = [self.roles.family, self.roles.given]
            .into_iter()
            .flatten()
            .map(|f| (f, 1))
            .collect();
        let mut sessions = vec![TrainingSession {
            conditions: vec![(date, DateAgreement::DayMonthSwapped as u8)],
            fields: others,
        }];
        if !names.is_empty() {
            sessions.push(TrainingSession {
                conditions: names,
                fields: vec![date],
            });
        }
        sessions
    }

    /// Level frequencies among random pairs, nearly all non-matches: the
    /// starting u for EM.
    fn random_pair_levels(&self, level_counts: &[usize]) -> Vec<Vec<f64>> {
        let mut counts: Vec<Vec<f64>> = level_counts.iter().map(|&n| vec![1.0; n]).collect();
        if !self.left.is_empty() && !self.right.is_empty() {
            // A fixed linear congruential sequence keeps runs reproducible.
            let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
            let mut next = |bound: usize| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((state >> 33) % bound as u64) as usize
            };
            for _ in 0..RANDOM_PAIRS {
                let (i, j) = (next(self.left.len()), next(self.right.len()));
                let (pattern, _) = self.pattern(&self.left[i], &self.right[j]);
                for (field, &level) in pattern.iter().enumerate() {
                    if level != MISSING {
                        counts[field][level as usize] += 1.0;
                    }
                }
            }
        }
        counts
            .into_iter()
            .map(|levels| {
                let total: f64 = levels.iter().sum();
                levels.into_iter().map(|c| c / total).collect()
            })
            .collect()
    }

    /// Right-hand candidates of one left record, sorted and distinct.
    fn candidates(&self, record: &Prepared, index: &BlockIndex) -> Vec<u32> {
        let mut found = Vec::new();
        for key in blocking_keys(&self.roles, record) {
            if let Some(block) = index.get(&key) {
                if block.len() <= self.settings.max_block {
                    found.extend_from_slice(block);
                }
            }
        }
        found.sort_unstable();
        found.dedup();
        found
    }

    /// Agreement levels of a pair, comparing given and family names
    /// crosswise when that agrees better (the second value says so).
    fn pattern(&self, a: &Prepared, b: &Prepared) -> (Pattern, bool) {
        let mut pattern: Pattern = a
            .values
            .iter()
            .zip(&b.values)
            .map(|(x, y)| compare(x, y).map_or(MISSING, |(level, _)| level))
            .collect();
        let mut swapped = false;
        if let (Some(f), Some(g)) = (self.roles.family, self.roles.given) {
            let worst = |field: usize| self.schema.fields[field].kind.level_count() as u32 - 1;
            let cost = |level: u8, field: usize| {
                if level == MISSING {
                    worst(field)
                } else {
                    level as u32
                }
            };
            let straight = cost(pattern[f], f) + cost(pattern[g], g);
            // Only poorly agreeing names can gain from the crosswise reading,
            // and only if one crosswise pair is equivalent (cheap to test).
            if straight >= 4
                && (names_equivalent(&a.values[f], &b.values[g])
                    || names_equivalent(&a.values[g], &b.values[f]))
            {
                let cross_f = compare(&a.values[f], &b.values[g]).map_or(MISSING, |(l, _)| l);
                let cross_g = compare(&a.values[g], &b.values[f]).map_or(MISSING, |(l, _)| l);
                let (best, other) = (cross_f.min(cross_g), cross_f.max(cross_g));
                let crossed = cost(cross_f, f) + cost(cross_g, g);
                // Crosswise only with clear gain, so that two unrelated names
                // are not paired up by chance.
                if crossed + 2 <= straight && best <= 1 && other <= 3 {
                    pattern[f] = cross_f;
                    pattern[g] = cross_g;
                    swapped = true;
                }
            }
        }
        (pattern, swapped)
    }

    /// Total log2 weight of a pair including term-frequency adjustments.
    fn weight(&self, a: &Prepared, b: &Prepared, pattern: &[u8], swapped: bool) -> f64 {
        let mut total = self.model.prior_weight();
        for (field, &level) in pattern.iter().enumerate() {
            if level == MISSING {
                continue;
            }
            total += self.model.weight(field, level);
            let kind = self.schema.fields[field].kind;
            let adjustable = matches!(kind, FieldKind::Name(_) | FieldKind::Place);
            if adjustable && level <= 1 {
                let other_field = match (swapped, self.roles.family, self.roles.given) {
                    (true, Some(f), Some(g)) if field == f => g,
                    (true, Some(f), Some(g)) if field == g => f,
                    _ => field,
                };
                let frequency = f64::from(a.frequency[field].max(b.frequency[other_field]));
                if frequency > 0.0 {
                    let adjustment =
                        (self.frequencies.random_agreement[field].max(1e-9) / frequency).log2();
                    total += adjustment.clamp(-MAX_TF_ADJUSTMENT, MAX_TF_ADJUSTMENT);
                }
            }
        }
        total
    }

    fn explain(&self, a: &Prepared, b: &Prepared, swapped: bool) -> String {
        let mut parts = Vec::new();
        if swapped {
            parts.push("given and family names swapped".to_string());
        }
        for (field, spec) in self.schema.fields.iter().enumerate() {
            let other = match (swapped, self.roles.family, self.roles.given) {
                (true, Some(f), Some(g)) if field == f => g,
                (true, Some(f), Some(g)) if field == g => f,
                _ => field,
            };
            if let Some((_, how)) = compare(&a.values[field], &b.values[other]) {
                parts.push(format!("{} {how}", spec.column));
            }
        }
        parts.join("; ")
    }

    /// Scores the candidates of the given left records against `right`
    /// records reachable through `index`, keeping those at or above `floor`.
    fn score_candidates(
        &self,
        left: &[usize],
        index: &BlockIndex,
        floor: f64,
        progress: Progress,
    ) -> Vec<(u32, u32, f64)> {
        left.par_iter()
            .flat_map_iter(|&i| {
                let record = &self.left[i];
                let found: Vec<(u32, u32, f64)> = self
                    .candidates(record, index)
                    .into_iter()
                    .filter_map(|j| {
                        let other = &self.right[j as usize];
                        let (pattern, swapped) = self.pattern(record, other);
                        let score = probability(self.weight(record, other, &pattern, swapped));
                        (score >= floor).then_some((i as u32, j, score))
                    })
                    .collect();
                progress(1);
                found
            })
            .collect()
    }

    /// Scores one pair of records with the fitted model, whether or not
    /// blocking would have proposed it: for review tools and tests.
    pub fn score_pair(&self, left: &Record, right: &Record) -> Link {
        let kinds: Vec<FieldKind> = self.schema.fields.iter().map(|f| f.kind).collect();
        let (_, mut values) = prepare_all(&kinds, vec![left.clone(), right.clone()]);
        let b_values = values.pop().unwrap_or_default();
        let a_values = values.pop().unwrap_or_default();
        let a = Prepared {
            frequency: self.frequencies.frequencies(&a_values),
            values: a_values,
        };
        let b = Prepared {
            frequency: self.frequencies.frequencies(&b_values),
            values: b_values,
        };
        let (pattern, swapped) = self.pattern(&a, &b);
        Link {
            left_id: left.id.clone(),
            right_id: right.id.clone(),
            score: probability(self.weight(&a, &b, &pattern, swapped)),
            explanation: self.explain(&a, &b, swapped),
        }
    }

    /// Links every left record not yet linked against the right list.
    pub fn link(&mut self, progress: Progress) -> Vec<Link> {
        let pending: Vec<usize> = (0..self.left.len())
            .filter(|&i| !self.left_linked[i])
            .collect();
        let index = std::mem::take(&mut self.index);
        let links = self.assign(&pending, &index, progress);
        self.index = index;
        links
    }

    fn assign(&mut self, left: &[usize], index: &BlockIndex, progress: Progress) -> Vec<Link> {
        let floor = if self.settings.one_to_one {
            self.settings.threshold
        } else {
            self.settings.review_threshold
        };
        let mut scored = self.score_candidates(left, index, floor, progress);
        scored.sort_unstable_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
        let mut links = Vec::new();
        for (i, j, score) in scored {
            let (i, j) = (i as usize, j as usize);
            if self.settings.one_to_one {
                if self.left_linked[i] || self.right_linked[j] {
                    continue;
                }
                self.left_linked[i] = true;
                self.right_linked[j] = true;
            }
            let (pattern_swapped, a, b) = (
                self.pattern(&self.left[i], &self.right[j]).1,
                &self.left[i],
                &self.right[j],
            );
            links.push(Link {
                left_id: self.left_ids[i].clone(),
                right_id: self.right_ids[j].clone(),
                score,
                explanation: self.explain(a, b, pattern_swapped),
            });
        }
        links
    }

    /// Adds records to the left list and links them against the right list
    /// with the fitted model; existing links stay.
    pub fn add_left(&mut self, records: Vec<Record>, progress: Progress) -> Vec<Link> {
        let kinds: Vec<FieldKind> = self.schema.fields.iter().map(|f| f.kind).collect();
        let (ids, values) = prepare_all(&kinds, records);
        let start = self.left.len();
        for values in values {
            let frequency = self.frequencies.frequencies(&values);
            self.left.push(Prepared { values, frequency });
            self.left_linked.push(false);
        }
        self.left_ids.extend(ids);
        let new: Vec<usize> = (start..self.left.len()).collect();
        let index = std::mem::take(&mut self.index);
        let links = self.assign(&new, &index, progress);
        self.index = index;
        links
    }

    /// Adds records to the right list, indexes them, and links the left
    /// records still unlinked against the new ones only.
    pub fn add_right(&mut self, records: Vec<Record>, progress: Progress) -> Vec<Link> {
        let kinds: Vec<FieldKind> = self.schema.fields.iter().map(|f| f.kind).collect();
        let (ids, values) = prepare_all(&kinds, records);
        let start = self.right.len();
        let mut new_index = BlockIndex::new();
        for values in values {
            let frequency = self.frequencies.frequencies(&values);
            self.right.push(Prepared { values, frequency });
            self.right_linked.push(false);
        }
        self.right_ids.extend(ids);
        for i in start..self.right.len() {
            for key in blocking_keys(&self.roles, &self.right[i]) {
                new_index.entry(key).or_default().push(i as u32);
                self.index.entry(key).or_default().push(i as u32);
            }
        }
        let pending: Vec<usize> = (0..self.left.len())
            .filter(|&i| !self.left_linked[i])
            .collect();
        self.assign(&pending, &new_index, progress)
    }
}

/// Whether two name values agree at level 1 or better, without computing
/// string similarities.
fn names_equivalent(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Name(x), Value::Name(y)) => {
            x.normal == y.normal || x.key == y.key || (x.entry.is_some() && x.entry == y.entry)
        }
        _ => false,
    }
}

fn uniform(level_counts: &[usize]) -> Vec<Vec<f64>> {
    level_counts
        .iter()
        .map(|&n| vec![1.0 / n as f64; n])
        .collect()
}

fn prepare_all(kinds: &[FieldKind], records: Vec<Record>) -> (Vec<String>, Vec<Vec<Value>>) {
    // Names, dates and places repeat across records: each distinct text of
    // a field is prepared once.
    let mut slots: Vec<HashMap<&str, usize>> = vec![HashMap::new(); kinds.len()];
    let mut distinct: Vec<(usize, &str)> = Vec::new();
    let mut record_slots: Vec<Vec<usize>> = Vec::with_capacity(records.len());
    for record in &records {
        let mut row = Vec::with_capacity(kinds.len());
        for (field, map) in slots.iter_mut().enumerate() {
            let raw = record.fields.get(field).map_or("", String::as_str);
            let slot = *map.entry(raw).or_insert_with(|| {
                distinct.push((field, raw));
                distinct.len() - 1
            });
            row.push(slot);
        }
        record_slots.push(row);
    }
    let prepared: Vec<Value> = distinct
        .par_iter()
        .map(|&(field, raw)| prepare(kinds[field], raw))
        .collect();
    let values = record_slots
        .into_par_iter()
        .map(|row| row.into_iter().map(|slot| prepared[slot].clone()).collect())
        .collect();
    (records.into_iter().map(|r| r.id).collect(), values)
}

/// Blocking keys. A pair is a candidate when any key is shared. The
/// rules, each robust to a different kind of error:
/// 1. family and given name as an unordered pair (survives a swap);
/// 2. either name with the year of birth;
/// 3. the full date with day and month unordered (survives a swap);
/// 4. family name with patronymic;
/// 5. family name with the place of birth;
/// 6. each identifier with the first letters of either name;
/// 7. the first four letters of the family key with the first of the given;
/// 8. the consonants of the family name with the given name (and, for
///    swapped fields, the other way round), and with the year of birth;
/// 9. each identifier with each text field (house number and street,
///    postcode and street).
///
/// Names enter as dictionary entries or stems, so every script and
/// romanisation of a name gives the same key.
fn blocking_keys(roles: &Roles, record: &Prepared) -> Vec<u64> {
    let canonical = |field: Option<usize>| field.and_then(|f| record.values[f].canonical());
    let name_key = |field: Option<usize>| match field.map(|f| &record.values[f]) {
        Some(Value::Name(n)) => Some(n.key.clone()),
        _ => None,
    };
    let family = canonical(roles.family);
    let given = canonical(roles.given);
    let patronymic = canonical(roles.patronymic);
    let place = canonical(roles.place);
    let date = match roles.date.map(|f| &record.values[f]) {
        Some(Value::Date(d)) => Some(*d),
        _ => None,
    };
    let mut keys = Vec::new();
    let mut add = |parts: &[&dyn HashPart]| {
        let mut hasher = DefaultHasher::new();
        for part in parts {
            part.hash_into(&mut hasher);
        }
        keys.push(hasher.finish());
    };
    if let (Some(f), Some(g)) = (&family, &given) {
        let (lo, hi) = if f <= g { (f, g) } else { (g, f) };
        add(&[&1u8, lo, hi]);
    }
    if let Some(year) = date.and_then(|d| d.year) {
        for name in [&family, &given].into_iter().flatten() {
            add(&[&2u8, name, &year]);
        }
    }
    if let Some(key) = date.and_then(|d| d.swap_insensitive_key()) {
        add(&[&3u8, &key.0, &key.1, &key.2]);
    }
    if let (Some(f), Some(p)) = (&family, &patronymic) {
        add(&[&4u8, f, p]);
    }
    if let (Some(f), Some(p)) = (&family, &place) {
        add(&[&5u8, f, p]);
    }
    // Ukrainian and Russian forms of a surname often differ only in vowels
    // (Підгірний/Подгорный); the consonants with the given name or the year
    // bring them together, in both orders of the name fields.
    let consonants = |field: Option<usize>| match field.map(|f| &record.values[f]) {
        Some(Value::Name(n)) if n.consonants.len() >= 3 => Some(n.consonants.clone()),
        _ => None,
    };
    for (surname, first) in [(roles.family, &given), (roles.given, &family)] {
        if let (Some(c), Some(g)) = (consonants(surname), first) {
            add(&[&9u8, &c, g]);
        }
    }
    if let (Some(c), Some(year)) = (consonants(roles.family), date.and_then(|d| d.year)) {
        add(&[&10u8, &c, &year]);
    }
    let family_key = name_key(roles.family);
    let given_key = name_key(roles.given);
    for &field in &roles.identifiers {
        if let Value::Identifier(code) = &record.values[field] {
            for (tag, name) in [(6u8, &family), (7u8, &given)] {
                if let Some(name) = name {
                    add(&[&tag, &(field as u32), code, name]);
                }
            }
        }
    }
    // Addresses: each code with each text field (house number and street).
    for &text_field in &roles.texts {
        let Some(text) = record.values[text_field].canonical() else {
            continue;
        };
        for &code_field in &roles.codes {
            if let Value::Identifier(code) = &record.values[code_field] {
                add(&[
                    &11u8,
                    &(text_field as u32),
                    &(code_field as u32),
                    &text,
                    code,
                ]);
            }
        }
    }
    if let (Some(f), Some(g)) = (&family_key, &given_key) {
        let f4: String = f.chars().take(4).collect();
        let g1: String = g.chars().take(3).collect();
        add(&[&8u8, &f4, &g1]);
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Hashing parts of different types into one key.
trait HashPart {
    fn hash_into(&self, hasher: &mut DefaultHasher);
}

impl<T: Hash> HashPart for T {
    fn hash_into(&self, hasher: &mut DefaultHasher) {
        self.hash(hasher);
    }
}
