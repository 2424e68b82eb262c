//! The table of distinct field values. Names, dates and places repeat
//! across records, so each distinct text of a field is prepared once and
//! records hold slot numbers: preparation, memory and term frequencies scale
//! with the distinct values, and equal slots compare equal at once.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use rayon::prelude::*;

use crate::compare::{Value, prepare};
use crate::matcher::Record;
use crate::schema::FieldKind;

/// One distinct value of one field.
#[derive(Debug, Clone)]
pub struct Slot {
    pub field: usize,
    pub value: Value,
    /// Hash of the canonical form (dictionary entry, stem, key): equal for
    /// all spellings the comparison treats as the same value.
    pub canonical: Option<u64>,
    /// Hash of a name's consonants (at least three), for blocking.
    pub consonants: Option<u64>,
    /// Hashes of the first four and first three letters of a name's key.
    pub prefix4: Option<u64>,
    pub prefix3: Option<u64>,
    /// Share of records with this canonical value in its field; 0 when
    /// unknown (no term-frequency adjustment then).
    pub frequency: f32,
}

pub fn hash_of<T: Hash + ?Sized>(value: &T) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

fn slot(field: usize, value: Value) -> Slot {
    let canonical = value.canonical().map(|c| hash_of(&c));
    let (consonants, prefix4, prefix3) = match &value {
        Value::Name(n) => (
            (n.consonants.len() >= 3).then(|| hash_of(&n.consonants)),
            Some(hash_of(&n.key.chars().take(4).collect::<String>())),
            Some(hash_of(&n.key.chars().take(3).collect::<String>())),
        ),
        _ => (None, None, None),
    };
    Slot {
        field,
        value,
        canonical,
        consonants,
        prefix4,
        prefix3,
        frequency: 0.0,
    }
}

/// Distinct values of all fields of both lists, with term frequencies.
#[derive(Debug, Default)]
pub struct ValueTable {
    kinds: Vec<FieldKind>,
    pub slots: Vec<Slot>,
    lookup: Vec<HashMap<String, u32>>,
    /// Records per canonical value, per field, over the lists the table was
    /// built from.
    counts: Vec<HashMap<u64, u32>>,
    totals: Vec<u64>,
    /// Probability that two random records agree on the field: the sum of
    /// squared relative frequencies.
    pub random_agreement: Vec<f64>,
}

impl ValueTable {
    pub fn new(kinds: Vec<FieldKind>) -> Self {
        let fields = kinds.len();
        ValueTable {
            kinds,
            slots: Vec::new(),
            lookup: vec![HashMap::new(); fields],
            counts: vec![HashMap::new(); fields],
            totals: vec![0; fields],
            random_agreement: vec![0.0; fields],
        }
    }

    pub fn fields(&self) -> usize {
        self.kinds.len()
    }

    /// Adds records' values, returning their ids and their slot rows
    /// (one slot per field, row after row).
    pub fn intern(&mut self, records: Vec<Record>) -> (Vec<String>, Vec<u32>) {
        let fields = self.kinds.len();
        let mut rows = Vec::with_capacity(records.len() * fields);
        let mut fresh: Vec<(usize, String)> = Vec::new();
        let first_fresh = self.slots.len() as u32;
        let mut ids = Vec::with_capacity(records.len());
        for record in records {
            let mut raws = record.fields.into_iter();
            for field in 0..fields {
                let raw = raws.next().unwrap_or_default();
                let next = first_fresh + fresh.len() as u32;
                let slot = match self.lookup[field].get(&raw) {
                    Some(&slot) => slot,
                    None => {
                        self.lookup[field].insert(raw.clone(), next);
                        fresh.push((field, raw));
                        next
                    }
                };
                rows.push(slot);
            }
            ids.push(record.id);
        }
        let kinds = &self.kinds;
        let prepared: Vec<Slot> = fresh
            .into_par_iter()
            .map(|(field, raw)| slot(field, prepare(kinds[field], &raw)))
            .collect();
        self.slots.extend(prepared);
        (ids, rows)
    }

    /// Counts canonical values over the given rows and sets every slot's
    /// frequency. Called once, on the lists the model is fitted on.
    pub fn count(&mut self, rows: &[&[u32]]) {
        let fields = self.kinds.len();
        for list in rows {
            for row in list.chunks_exact(fields) {
                for (field, &slot) in row.iter().enumerate() {
                    if let Some(canonical) = self.slots[slot as usize].canonical {
                        *self.counts[field].entry(canonical).or_insert(0) += 1;
                        self.totals[field] += 1;
                    }
                }
            }
        }
        for field in 0..fields {
            let total = self.totals[field].max(1) as f64;
            self.random_agreement[field] = self.counts[field]
                .values()
                .map(|&c| (c as f64 / total).powi(2))
                .sum();
        }
        self.set_frequencies(0);
    }

    /// Frequencies of slots from `first` on, from the counts (a value never
    /// counted is as rare as one record).
    pub fn set_frequencies(&mut self, first: usize) {
        for slot in &mut self.slots[first..] {
            let total = self.totals[slot.field];
            slot.frequency = match slot.canonical {
                Some(canonical) if total > 0 => {
                    let count = self.counts[slot.field]
                        .get(&canonical)
                        .copied()
                        .unwrap_or(1);
                    (count as f64 / total as f64) as f32
                }
                _ => 0.0,
            };
        }
    }
}
