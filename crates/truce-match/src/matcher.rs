//! The matching engine: prepares records, blocks, fits the model, scores and
//! assigns. Pure: records come in as strings, links go out as values; the
//! caller does the I/O.

use std::collections::HashMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::blocking::{BlockIndex, Roles, blocking_keys_into};
use crate::compare::{Value, compare};
use crate::date::DateAgreement;
use crate::error::MatchError;
use crate::model::{MISSING, Model, Pattern, probability};
use crate::schema::{FieldKind, NamePart, Schema};
use crate::values::{Sequence, TextSet, Texts, ValueTable};

/// One input record: an identifier and the raw text of each schema field,
/// in schema order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub id: String,
    pub fields: Vec<String>,
}

/// A list of records as the matcher takes it in: the identifiers, and per
/// field each distinct text once with every record's number for it.
/// Reading a file straight into one spares a string per field and record
/// (see `cli::read_records`); `from_records` converts records.
#[derive(Debug, Clone, Default)]
pub struct RecordList {
    pub(crate) ids: Texts,
    pub(crate) fields: Vec<TextSet>,
    /// Per record and field, the number of its text in `fields`, row after
    /// row.
    pub(crate) rows: Vec<u32>,
}

impl RecordList {
    /// An empty list of records with `fields` fields.
    pub fn new(fields: usize) -> Self {
        RecordList {
            ids: Texts::default(),
            fields: vec![TextSet::default(); fields],
            rows: Vec::new(),
        }
    }

    /// The records' fields beyond `fields` are ignored, missing ones empty.
    pub fn from_records(fields: usize, records: &[Record]) -> Self {
        let mut list = RecordList::new(fields);
        for record in records {
            list.push(&record.id, record.fields.iter().map(String::as_bytes))
                .expect("strings are UTF-8");
        }
        list
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn field_count(&self) -> usize {
        self.fields.len()
    }

    /// The records back, in order (for tests).
    #[cfg(test)]
    pub(crate) fn records(&self) -> Vec<Record> {
        let fields = self.fields.len();
        (0..self.len())
            .map(|i| Record {
                id: self.ids.get(i).to_string(),
                fields: (0..fields)
                    .map(|f| {
                        self.fields[f]
                            .get(self.rows[i * fields + f] as usize)
                            .to_string()
                    })
                    .collect(),
            })
            .collect()
    }

    /// Adds a record; fields beyond the given ones are empty. Fails with the
    /// position of the first field that is not UTF-8, and then adds nothing.
    pub fn push<'a>(
        &mut self,
        id: &str,
        fields: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<(), usize> {
        let start = self.rows.len();
        let mut given = fields.into_iter();
        for (field, texts) in self.fields.iter_mut().enumerate() {
            match texts.insert(given.next().unwrap_or_default()) {
                Ok((n, _)) => self.rows.push(n),
                Err(_) => {
                    self.rows.truncate(start);
                    return Err(field);
                }
            }
        }
        self.ids.push(id);
        Ok(())
    }
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

fn roles_of(schema: &Schema) -> Roles {
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

/// Identifiers with fewer equally common values than this are compared but
/// not used as blocking keys with a name.
const MIN_BLOCKING_DISTINCT: f64 = 100.0;

/// The same for identifiers blocking together with a text field.
const MIN_ADDRESS_DISTINCT: f64 = 20.0;

/// Left records whose candidate pairs EM sees at most.
const FIT_RECORDS: usize = 5_000;

/// A training session with fewer candidate pairs is skipped (its fields keep
/// the estimate of plain EM).
const MIN_SESSION_PAIRS: u64 = 200;

/// With fewer candidate pairs than this EM says little (on a handful of
/// pairs it finds whatever it is started with): its estimate is blended
/// with `Model::prior` in proportion to the pairs it saw.
const FULL_EM_PAIRS: u64 = 200;

/// The prior share of matches among the candidate pairs of small lists at
/// most (an even chance: no more evidence either way than the fields).
const PRIOR_LAMBDA: f64 = 0.5;

/// Random pairs drawn to start u before EM.
const RANDOM_PAIRS: usize = 10_000;

/// Pairs whose levels are at most the given ones on the condition fields;
/// the session provides m and u of `fields`.
struct TrainingSession {
    conditions: Vec<(usize, u8)>,
    fields: Vec<usize>,
}

/// One step of scoring a pair: a field, or the given and family names
/// together (they may be read crosswise).
#[derive(Debug, Clone, Copy)]
enum Step {
    Field(usize),
    Names { family: usize, given: usize },
}

/// Cheap comparisons first; after each step scoring stops once even the
/// best levels on the remaining fields could not reach the threshold.
#[derive(Debug, Clone, Default)]
struct ScoringPlan {
    steps: Vec<Step>,
    /// Per field, the largest weight of an agreeing level (0 or 1, which
    /// get the term-frequency adjustment) and of the other levels.
    best_agreeing: Vec<f64>,
    best_other: Vec<f64>,
    /// `weights[field * stride + level]`: the model's log2 Bayes factors.
    weights: Vec<f64>,
    stride: usize,
    adjustable: Vec<bool>,
    /// The model's log2 prior odds.
    prior: f64,
}

/// Per field, the most a pair with one left record can gain from it (see
/// `gain_bounds`), and their sum.
#[derive(Debug, Default)]
struct Bounds {
    fields: Vec<f64>,
    total: f64,
}

/// Buffers reused while finding the candidates of one record after
/// another.
struct Candidates {
    keys: Vec<u64>,
    found: Vec<u32>,
    /// One bit per right-hand record, set for those in `found` while it is
    /// being filled: distinct candidates without sorting them (blocks can
    /// hold hundreds of records).
    seen: Vec<u64>,
}

impl Candidates {
    /// Buffers for a right-hand list of `right` records.
    fn new(right: usize) -> Self {
        Candidates {
            keys: Vec::new(),
            found: Vec::new(),
            seen: vec![0; right.div_ceil(64)],
        }
    }
}

/// Reports progress in units of left records processed.
pub type Progress<'a> = &'a (dyn Fn(u64) + Sync);

/// A fitted matcher holding both lists, the blocking index over the right
/// list and the model; new records on either side are matched without
/// refitting.
pub struct Matcher {
    schema: Schema,
    settings: Settings,
    roles: Roles,
    model: Model,
    plan: ScoringPlan,
    table: ValueTable,
    left_ids: Texts,
    right_ids: Texts,
    /// Slot numbers, one per field, record after record.
    left: Vec<u32>,
    right: Vec<u32>,
    index: BlockIndex,
    left_linked: Vec<bool>,
    right_linked: Vec<bool>,
}

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
        let fields = schema.fields.len();
        let left = RecordList::from_records(fields, &left);
        let right = RecordList::from_records(fields, &right);
        Self::from_lists(schema, settings, left, right, model, progress)
    }

    /// The same from lists already in the matcher's form; each must have
    /// the schema's number of fields.
    pub fn from_lists(
        schema: Schema,
        settings: Settings,
        left: RecordList,
        right: RecordList,
        model: Option<Model>,
        progress: Progress,
    ) -> Result<Self, MatchError> {
        for list in [&left, &right] {
            assert_eq!(
                list.field_count(),
                schema.fields.len(),
                "a record list has the schema's fields"
            );
        }
        let mut roles = roles_of(&schema);
        let kinds: Vec<FieldKind> = schema.fields.iter().map(|f| f.kind).collect();
        let level_counts: Vec<usize> = kinds.iter().map(|k| k.level_count()).collect();
        if let Some(model) = &model {
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
        }
        let mut table = ValueTable::new(kinds);
        let (left_ids, left_rows) = table.intern(left);
        let (right_ids, right_rows) = table.intern(right);
        table.count(&[&left_rows, &right_rows]);
        // An identifier with few common values (a state, a sex code) would
        // make huge blocks; only selective ones block. Typos add many rare
        // values, so selectivity is measured by the chance that two random
        // records agree, not by the count of distinct values.
        let agreement = &table.random_agreement;
        roles
            .identifiers
            .retain(|&f| agreement[f] <= 1.0 / MIN_BLOCKING_DISTINCT);
        roles
            .codes
            .retain(|&f| agreement[f] <= 1.0 / MIN_ADDRESS_DISTINCT);
        let index = BlockIndex::build(&roles, &table, &right_rows, 0);
        let mut matcher = Matcher {
            left_linked: vec![false; left_ids.len()],
            right_linked: vec![false; right_ids.len()],
            // Replaced below by the given or the fitted model.
            model: Model::initial(&level_counts, uniform(&level_counts), 0.1),
            plan: ScoringPlan::default(),
            schema,
            settings,
            roles,
            table,
            left_ids,
            right_ids,
            left: left_rows,
            right: right_rows,
            index,
        };
        match model {
            Some(model) => matcher.model = model,
            None => matcher.fit(&level_counts, progress),
        }
        matcher.plan = matcher.scoring_plan();
        Ok(matcher)
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    fn fields(&self) -> usize {
        self.schema.fields.len()
    }

    fn left_row(&self, i: usize) -> &[u32] {
        &self.left[i * self.fields()..(i + 1) * self.fields()]
    }

    fn right_row(&self, j: usize) -> &[u32] {
        &self.right[j * self.fields()..(j + 1) * self.fields()]
    }

    /// Number of candidate pairs blocking produces for the current lists.
    pub fn candidate_pair_count(&self) -> u64 {
        (0..self.left_ids.len())
            .into_par_iter()
            .map_init(
                || Candidates::new(self.right_ids.len()),
                |buffers, i| {
                    self.candidates_into(self.left_row(i), &self.index, buffers);
                    buffers.found.len() as u64
                },
            )
            .sum()
    }

    fn fit(&mut self, level_counts: &[usize], progress: Progress) {
        let u_start = self.random_pair_levels(level_counts);
        // Large lists: EM on the candidates of an evenly spread sample of
        // left records; the parameters are proportions, the sample keeps them.
        let stride = self.left_ids.len().div_ceil(FIT_RECORDS).max(1);
        let patterns: HashMap<Pattern, u64> = (0..self.left_ids.len())
            .into_par_iter()
            .filter(|i| i % stride == 0)
            .fold(
                || {
                    (
                        HashMap::new(),
                        Candidates::new(self.right_ids.len()),
                        Vec::new(),
                    )
                },
                |(mut counts, mut candidates, mut pattern), i| {
                    let row = self.left_row(i);
                    self.candidates_into(row, &self.index, &mut candidates);
                    for &j in &candidates.found {
                        self.pattern_into(row, self.right_row(j as usize), &mut pattern);
                        // Allocates only for a pattern not seen before.
                        match counts.get_mut(pattern.as_slice()) {
                            Some(count) => *count += 1,
                            None => {
                                counts.insert(pattern.clone(), 1u64);
                            }
                        }
                    }
                    progress(stride as u64);
                    (counts, candidates, pattern)
                },
            )
            .map(|(counts, _, _)| counts)
            .reduce(HashMap::new, |mut a, b| {
                for (pattern, count) in b {
                    *a.entry(pattern).or_insert(0) += count;
                }
                a
            });
        let pairs: u64 = patterns.values().sum();
        let expected_matches = (self.left_ids.len().min(self.right_ids.len()) / stride) as f64;
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
        if pairs < FULL_EM_PAIRS {
            // Small lists: everyone on the shorter list may have a match
            // among the candidates, at most an even chance per pair.
            let kinds: Vec<FieldKind> = self.schema.fields.iter().map(|f| f.kind).collect();
            let lambda = (expected_matches / pairs.max(1) as f64).min(PRIOR_LAMBDA);
            let prior = Model::prior(&kinds, lambda);
            model = prior.blend(&model, pairs as f64 / FULL_EM_PAIRS as f64);
        }
        self.model = model;
    }

    /// EM training sessions: the agreement conditions selecting the pairs,
    /// and the fields whose m and u the session provides.
    fn training_sessions(&self) -> Vec<TrainingSession> {
        let Some(date) = self.roles.date else {
            return Vec::new();
        };
        let others: Vec<usize> = (0..self.fields()).filter(|&f| f != date).collect();
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
        let (n_left, n_right) = (self.left_ids.len(), self.right_ids.len());
        if n_left > 0 && n_right > 0 {
            // A fixed sequence keeps runs reproducible.
            let mut sequence = Sequence::new(0x9E37_79B9_7F4A_7C15);
            let mut next = |bound: usize| sequence.below(bound as u64) as usize;
            for _ in 0..RANDOM_PAIRS {
                let (i, j) = (next(n_left), next(n_right));
                let (pattern, _) = self.pattern(self.left_row(i), self.right_row(j));
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

    fn scoring_plan(&self) -> ScoringPlan {
        // Dates and codes compare without string similarity; a place is one
        // short similarity; the given and family names (possibly crosswise)
        // cost more; free text, the longest strings, comes last.
        let cost = |kind: FieldKind| match kind {
            FieldKind::Date => 0,
            FieldKind::Identifier => 1,
            FieldKind::Place => 2,
            FieldKind::Name(NamePart::Family | NamePart::Given) => 3,
            FieldKind::Name(_) => 4,
            FieldKind::Text => 5,
        };
        let mut order: Vec<usize> = (0..self.fields()).collect();
        order.sort_by_key(|&f| cost(self.schema.fields[f].kind));
        let mut steps = Vec::new();
        for f in order {
            match (self.roles.family, self.roles.given) {
                (Some(family), Some(given)) if f == family => {
                    steps.push(Step::Names { family, given })
                }
                (Some(_), Some(given)) if f == given => {}
                _ => steps.push(Step::Field(f)),
            }
        }
        let best = |f: usize, levels: std::ops::Range<usize>| {
            levels
                .map(|l| self.model.weight(f, l as u8))
                .fold(f64::NEG_INFINITY, f64::max)
        };
        let (mut best_agreeing, mut best_other) = (Vec::new(), Vec::new());
        for f in 0..self.fields() {
            let levels = self.model.m[f].len();
            if adjustable(self.schema.fields[f].kind) {
                best_agreeing.push(best(f, 0..2));
                best_other.push(best(f, 2..levels));
            } else {
                best_agreeing.push(f64::NEG_INFINITY);
                best_other.push(best(f, 0..levels));
            }
        }
        let stride = self.model.m.iter().map(Vec::len).max().unwrap_or(0);
        let mut weights = vec![0.0; self.fields() * stride];
        for f in 0..self.fields() {
            for l in 0..self.model.m[f].len() {
                weights[f * stride + l] = self.model.weight(f, l as u8);
            }
        }
        let adjustable = self
            .schema
            .fields
            .iter()
            .map(|f| adjustable(f.kind))
            .collect();
        ScoringPlan {
            steps,
            best_agreeing,
            best_other,
            weights,
            stride,
            adjustable,
            prior: self.model.prior_weight(),
        }
    }

    /// Right-hand candidates of one left record, distinct, into
    /// `buffers.found` (in the order the blocks give them).
    fn candidates_into(&self, row: &[u32], index: &BlockIndex, buffers: &mut Candidates) {
        let Candidates { keys, found, seen } = buffers;
        found.clear();
        blocking_keys_into(&self.roles, &self.table, row, keys);
        for &key in keys.iter() {
            let (built, added) = index.block(key);
            if built.len() + added.len() <= self.settings.max_block {
                for &j in built.iter().chain(added) {
                    let (word, bit) = (j as usize / 64, 1u64 << (j % 64));
                    if seen[word] & bit == 0 {
                        seen[word] |= bit;
                        found.push(j);
                    }
                }
            }
        }
        for &j in found.iter() {
            seen[j as usize / 64] = 0;
        }
    }

    /// Level of two slots; equal slots hold the same text.
    fn level(&self, a: u32, b: u32) -> Option<(u8, &'static str)> {
        let (x, y) = (
            &self.table.slots[a as usize].value,
            &self.table.slots[b as usize].value,
        );
        if a == b {
            return (!matches!(x, Value::Missing)).then_some((0, "exact"));
        }
        compare(x, y)
    }

    fn level_only(&self, a: u32, b: u32) -> u8 {
        self.level(a, b).map_or(MISSING, |(level, _)| level)
    }

    /// Levels of the family and given names, read crosswise when that
    /// agrees clearly better (the third value says so).
    fn name_levels(&self, a: &[u32], b: &[u32], family: usize, given: usize) -> (u8, u8, bool) {
        let straight_f = self.level_only(a[family], b[family]);
        let straight_g = self.level_only(a[given], b[given]);
        let worst = |field: usize| self.schema.fields[field].kind.level_count() as u32 - 1;
        let cost = |level: u8, field: usize| {
            if level == MISSING {
                worst(field)
            } else {
                level as u32
            }
        };
        let straight = cost(straight_f, family) + cost(straight_g, given);
        // Only poorly agreeing names can gain from the crosswise reading.
        if straight >= 4 && self.may_cross(a, b, family, given) {
            let cross_f = self.level_only(a[family], b[given]);
            let cross_g = self.level_only(a[given], b[family]);
            let (best, other) = (cross_f.min(cross_g), cross_f.max(cross_g));
            let crossed = cost(cross_f, family) + cost(cross_g, given);
            // Crosswise only with clear gain, so that two unrelated names
            // are not paired up by chance.
            if crossed + 2 <= straight && best <= 1 && other <= 3 {
                return (cross_f, cross_g, true);
            }
        }
        (straight_f, straight_g, false)
    }

    /// Whether the names of a pair may be read crosswise: only if one
    /// crosswise pair is equivalent (cheap to test).
    fn may_cross(&self, a: &[u32], b: &[u32], family: usize, given: usize) -> bool {
        let slot = |s: u32| &self.table.slots[s as usize].value;
        a[family] == b[given]
            || a[given] == b[family]
            || names_equivalent(slot(a[family]), slot(b[given]))
            || names_equivalent(slot(a[given]), slot(b[family]))
    }

    /// Agreement levels of a pair.
    fn pattern(&self, a: &[u32], b: &[u32]) -> (Pattern, bool) {
        let mut pattern = Vec::with_capacity(a.len());
        let swapped = self.pattern_into(a, b, &mut pattern);
        (pattern, swapped)
    }

    /// The same into a reused buffer; returns whether names were read
    /// crosswise.
    fn pattern_into(&self, a: &[u32], b: &[u32], pattern: &mut Vec<u8>) -> bool {
        pattern.clear();
        let names = self.roles.family.zip(self.roles.given);
        for field in 0..a.len() {
            let is_name = names.is_some_and(|(f, g)| field == f || field == g);
            // Given and family names are compared together below.
            pattern.push(if is_name {
                MISSING
            } else {
                self.level_only(a[field], b[field])
            });
        }
        let Some((f, g)) = names else { return false };
        let (lf, lg, crossed) = self.name_levels(a, b, f, g);
        pattern[f] = lf;
        pattern[g] = lg;
        crossed
    }

    /// Weight of one field at one level, with the term-frequency adjustment
    /// for names and places that agree.
    fn field_weight(&self, field: usize, level: u8, a: u32, b: u32) -> f64 {
        if level == MISSING {
            return 0.0;
        }
        let mut weight = self.plan.weights[field * self.plan.stride + level as usize];
        if level <= 1 && self.plan.adjustable[field] {
            // The more common of the two values decides (the smaller gain).
            let slots = &self.table.slots;
            weight += f64::from(
                slots[a as usize]
                    .tf_adjustment
                    .min(slots[b as usize].tf_adjustment),
            );
        }
        weight
    }

    /// Total log2 weight of a pair, or `None` as soon as it cannot reach
    /// `floor`; the second value tells whether names were read crosswise.
    ///
    /// `bounds` holds, per field, the most the left record `a` can gain from
    /// it (see `gain_bounds`).
    fn score(&self, a: &[u32], b: &[u32], floor: f64, bounds: &Bounds) -> Option<(f64, bool)> {
        let mut total = self.plan.prior;
        let mut remaining = bounds.total;
        let bounds = &bounds.fields;
        let mut swapped = false;
        for step in &self.plan.steps {
            match *step {
                Step::Field(f) => {
                    total += self.field_weight(f, self.level_only(a[f], b[f]), a[f], b[f]);
                    remaining -= bounds[f];
                }
                Step::Names { family, given } if !self.may_cross(a, b, family, given) => {
                    // Read straight (as `name_levels` would): the family
                    // name alone may already rule the pair out, sparing
                    // the given name's comparison.
                    let level = self.level_only(a[family], b[family]);
                    let family_weight = self.field_weight(family, level, a[family], b[family]);
                    if total + family_weight + (remaining - bounds[family]) < floor {
                        return None;
                    }
                    total += family_weight;
                    let level = self.level_only(a[given], b[given]);
                    total += self.field_weight(given, level, a[given], b[given]);
                    remaining -= bounds[family] + bounds[given];
                }
                Step::Names { family, given } => {
                    let (lf, lg, crossed) = self.name_levels(a, b, family, given);
                    let (bf, bg) = if crossed {
                        (b[given], b[family])
                    } else {
                        (b[family], b[given])
                    };
                    total += self.field_weight(family, lf, a[family], bf);
                    total += self.field_weight(given, lg, a[given], bg);
                    remaining -= bounds[family] + bounds[given];
                    swapped = crossed;
                }
            }
            if total + remaining < floor {
                return None;
            }
        }
        Some((total, swapped))
    }

    /// Per field, the most a pair with left record `a` can gain: nothing
    /// when its value is missing, and agreement adjusted by the
    /// term-frequency of its own value (a pair's adjustment is the smaller
    /// of the two values').
    fn gain_bounds(&self, a: &[u32], bounds: &mut Bounds) {
        bounds.fields.clear();
        for (field, &slot) in a.iter().enumerate() {
            let slot = &self.table.slots[slot as usize];
            bounds.fields.push(if matches!(slot.value, Value::Missing) {
                0.0
            } else {
                let agreeing = self.plan.best_agreeing[field] + f64::from(slot.tf_adjustment);
                agreeing.max(self.plan.best_other[field]).max(0.0)
            });
        }
        bounds.total = bounds.fields.iter().sum();
    }

    fn explain(&self, a: &[u32], b: &[u32], swapped: bool) -> String {
        let mut text = String::with_capacity(160);
        if swapped {
            text.push_str("given and family names swapped");
        }
        for (field, spec) in self.schema.fields.iter().enumerate() {
            let other = match (swapped, self.roles.family, self.roles.given) {
                (true, Some(f), Some(g)) if field == f => g,
                (true, Some(f), Some(g)) if field == g => f,
                _ => field,
            };
            if let Some((_, how)) = self.level(a[field], b[other]) {
                if !text.is_empty() {
                    text.push_str("; ");
                }
                text.push_str(&spec.column);
                text.push(' ');
                text.push_str(how);
            }
        }
        text
    }

    /// Scores the candidates of the given left records against right
    /// records reachable through `index`, keeping those at or above `floor`.
    fn score_candidates(
        &self,
        left: &[usize],
        index: &BlockIndex,
        floor: f64,
        progress: Progress,
    ) -> Vec<(u32, u32, f64, bool)> {
        // Probability `floor` as a log2 weight.
        let floor_weight = if floor <= 0.0 {
            f64::NEG_INFINITY
        } else {
            (floor / (1.0 - floor)).log2()
        };
        left.par_chunks(256)
            .map_init(
                || (Candidates::new(self.right_ids.len()), Bounds::default()),
                |(candidates, bounds), chunk| {
                    let mut found = Vec::new();
                    for &i in chunk {
                        let row = self.left_row(i);
                        self.gain_bounds(row, bounds);
                        self.candidates_into(row, index, candidates);
                        for &j in &candidates.found {
                            if let Some((weight, swapped)) =
                                self.score(row, self.right_row(j as usize), floor_weight, bounds)
                            {
                                let score = probability(weight);
                                if score >= floor {
                                    found.push((i as u32, j, score, swapped));
                                }
                            }
                        }
                    }
                    progress(chunk.len() as u64);
                    found
                },
            )
            .flatten_iter()
            .collect()
    }

    /// Scores one pair of records with the fitted model, whether or not
    /// blocking would have proposed it: for review tools and tests. The
    /// records' values join the value table (not the lists).
    pub fn score_pair(&mut self, left: &Record, right: &Record) -> Link {
        let (_, rows) = self.intern_later(vec![left.clone(), right.clone()]);
        let (a, b) = rows.split_at(self.fields());
        let mut bounds = Bounds::default();
        self.gain_bounds(a, &mut bounds);
        let (weight, swapped) = self
            .score(a, b, f64::NEG_INFINITY, &bounds)
            .unwrap_or((f64::NEG_INFINITY, false));
        Link {
            left_id: left.id.clone(),
            right_id: right.id.clone(),
            score: probability(weight),
            explanation: self.explain(a, b, swapped),
        }
    }

    /// Links every left record not yet linked against the right list.
    pub fn link(&mut self, progress: Progress) -> Vec<Link> {
        let pending: Vec<usize> = (0..self.left_ids.len())
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
        let mut chosen = Vec::new();
        for (i, j, score, swapped) in scored {
            let (i, j) = (i as usize, j as usize);
            if self.settings.one_to_one {
                if self.left_linked[i] || self.right_linked[j] {
                    continue;
                }
                self.left_linked[i] = true;
                self.right_linked[j] = true;
            }
            chosen.push((i, j, score, swapped));
        }
        chosen
            .into_par_iter()
            .map(|(i, j, score, swapped)| Link {
                left_id: self.left_ids.get(i).to_string(),
                right_id: self.right_ids.get(j).to_string(),
                score,
                explanation: self.explain(self.left_row(i), self.right_row(j), swapped),
            })
            .collect()
    }

    /// Interns records arriving after the fit; their values' frequencies
    /// come from the counts made at the fit.
    fn intern_later(&mut self, records: Vec<Record>) -> (Texts, Vec<u32>) {
        let first_slot = self.table.slots.len();
        let list = RecordList::from_records(self.fields(), &records);
        let (ids, rows) = self.table.intern(list);
        self.table.set_frequencies(first_slot);
        (ids, rows)
    }

    /// Adds records to the left list and links them against the right list
    /// with the fitted model; existing links stay.
    pub fn add_left(&mut self, records: Vec<Record>, progress: Progress) -> Vec<Link> {
        let (ids, rows) = self.intern_later(records);
        let start = self.left_ids.len();
        self.left_linked
            .extend(std::iter::repeat_n(false, ids.len()));
        self.left_ids.extend(&ids);
        self.left.extend(rows);
        let new: Vec<usize> = (start..self.left_ids.len()).collect();
        let index = std::mem::take(&mut self.index);
        let links = self.assign(&new, &index, progress);
        self.index = index;
        links
    }

    /// Adds records to the right list, indexes them, and links the left
    /// records still unlinked against the new ones only.
    pub fn add_right(&mut self, records: Vec<Record>, progress: Progress) -> Vec<Link> {
        let (ids, rows) = self.intern_later(records);
        let start = self.right_ids.len();
        self.right_linked
            .extend(std::iter::repeat_n(false, ids.len()));
        self.right_ids.extend(&ids);
        self.right.extend(rows);
        let new_index = BlockIndex::build(&self.roles, &self.table, &self.right, start);
        self.index.add(&self.roles, &self.table, &self.right, start);
        let pending: Vec<usize> = (0..self.left_ids.len())
            .filter(|&i| !self.left_linked[i])
            .collect();
        self.assign(&pending, &new_index, progress)
    }
}

fn adjustable(kind: FieldKind) -> bool {
    matches!(kind, FieldKind::Name(_) | FieldKind::Place)
}

/// Whether two name values agree at level 1 or better, without computing
/// string similarities.
fn names_equivalent(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Name(x), Value::Name(y)) => {
            x.hashes[0] == y.hashes[0]
                || x.hashes[1] == y.hashes[1]
                || (x.entry.is_some() && x.entry == y.entry)
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
