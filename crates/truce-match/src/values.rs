//! The table of distinct field values. Names, dates and places repeat
//! across records, so each distinct text of a field is prepared once and
//! records hold slot numbers: preparation, memory and term frequencies scale
//! with the distinct values, and equal slots compare equal at once.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use rayon::prelude::*;

use crate::compare::{Value, prepare};
use crate::matcher::Record;
use crate::schema::FieldKind;

/// Term-frequency adjustments are bounded so a rare value cannot outweigh
/// the other fields.
pub const MAX_TF_ADJUSTMENT: f64 = 4.0;

/// Record lists longer than this are freed on a background thread.
const BACKGROUND_DROP: usize = 10_000;

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
    /// A name's first consonant (its key's first letter if it has none):
    /// the same in Ukrainian and Russian forms (Олійник/Oleinik: l).
    pub initial: Option<u8>,
    /// Hashes of the first four and first three letters of a name's key.
    pub prefix4: Option<u64>,
    pub prefix3: Option<u64>,
    /// Share of records with this canonical value in its field; 0 when
    /// unknown.
    pub frequency: f32,
    /// Term-frequency adjustment of an agreement on this value, in bits:
    /// log2 of the field's random agreement over this value's frequency,
    /// bounded; 0 when the frequency is unknown. Rare values gain, common
    /// ones lose.
    pub tf_adjustment: f32,
}

/// A fast non-cryptographic hasher (the Fx scheme of rustc) for the value
/// lookup and the block index: inputs are the caller's own lists, not an
/// attacker's.
#[derive(Default)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.write_u64(u64::from_le_bytes(chunk.try_into().expect("eight bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, word: usize) {
        self.write_u64(word as u64);
    }
}

/// A 64-bit hash for keys and fingerprints (collisions among a few million
/// values are negligible).
pub fn hash_of<T: Hash + ?Sized>(value: &T) -> u64 {
    let mut hasher = FxHasher::default();
    value.hash(&mut hasher);
    hasher.finish()
}

fn slot(field: usize, value: Value) -> Slot {
    let canonical = value.canonical().map(|c| hash_of(&c));
    let initial = match &value {
        Value::Name(n) => n.consonants.bytes().next().or_else(|| n.key.bytes().next()),
        _ => None,
    };
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
        initial,
        prefix4,
        prefix3,
        frequency: 0.0,
        tf_adjustment: 0.0,
    }
}

/// Distinct values of all fields of both lists, with term frequencies.
#[derive(Debug, Default)]
pub struct ValueTable {
    kinds: Vec<FieldKind>,
    pub slots: Vec<Slot>,
    lookup: Vec<HashMap<String, u32, BuildHasherDefault<FxHasher>>>,
    /// Records per canonical value, per field, over the lists the table was
    /// built from.
    counts: Vec<HashMap<u64, u32, BuildHasherDefault<FxHasher>>>,
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
            lookup: vec![HashMap::default(); fields],
            counts: vec![HashMap::default(); fields],
            totals: vec![0; fields],
            random_agreement: vec![0.0; fields],
        }
    }

    pub fn fields(&self) -> usize {
        self.kinds.len()
    }

    /// Adds records' values, returning their ids and their slot rows
    /// (one slot per field, row after row). Fields are interned in
    /// parallel; new distinct texts are prepared in parallel.
    pub fn intern(&mut self, records: Vec<Record>) -> (Vec<String>, Vec<u32>) {
        let fields = self.kinds.len();
        // Per field: the slot of each record, new texts numbered
        // provisionally (with the high bit) until all fields are done.
        const FRESH: u32 = 1 << 31;
        let columns: Vec<(Vec<u32>, Vec<String>)> = self
            .lookup
            .par_iter_mut()
            .enumerate()
            .map(|(field, lookup)| {
                let mut column = Vec::with_capacity(records.len());
                let mut fresh = Vec::new();
                for record in &records {
                    let raw = record.fields.get(field).map_or("", String::as_str);
                    let slot = match lookup.get(raw) {
                        Some(&slot) => slot,
                        None => {
                            let slot = FRESH | fresh.len() as u32;
                            lookup.insert(raw.to_string(), slot);
                            fresh.push(raw.to_string());
                            slot
                        }
                    };
                    column.push(slot);
                }
                (column, fresh)
            })
            .collect();
        let mut base = self.slots.len() as u32;
        let mut offsets = Vec::with_capacity(fields);
        for (_, fresh) in &columns {
            offsets.push(base);
            base += fresh.len() as u32;
        }
        let renumber = |slot: u32, field: usize| {
            if slot & FRESH != 0 {
                offsets[field] + (slot & !FRESH)
            } else {
                slot
            }
        };
        self.lookup
            .par_iter_mut()
            .enumerate()
            .for_each(|(field, lookup)| {
                for slot in lookup.values_mut() {
                    *slot = renumber(*slot, field);
                }
            });
        let kinds = &self.kinds;
        let fresh: Vec<(usize, &String)> = columns
            .iter()
            .enumerate()
            .flat_map(|(field, (_, fresh))| fresh.iter().map(move |raw| (field, raw)))
            .collect();
        let prepared: Vec<Slot> = fresh
            .into_par_iter()
            .map(|(field, raw)| slot(field, prepare(kinds[field], raw)))
            .collect();
        self.slots.extend(prepared);
        let mut rows = vec![0u32; records.len() * fields];
        rows.par_chunks_mut(fields)
            .enumerate()
            .for_each(|(i, row)| {
                for (field, cell) in row.iter_mut().enumerate() {
                    *cell = renumber(columns[field].0[i], field);
                }
            });
        let mut records = records;
        let ids = records
            .iter_mut()
            .map(|r| std::mem::take(&mut r.id))
            .collect();
        if records.len() > BACKGROUND_DROP {
            // Millions of field strings: freed off the critical path.
            std::thread::spawn(move || drop(records));
        }
        (ids, rows)
    }

    /// Counts canonical values over the given rows and sets every slot's
    /// frequency. Called once, on the lists the model is fitted on.
    pub fn count(&mut self, rows: &[&[u32]]) {
        let fields = self.kinds.len();
        let slots = &self.slots;
        // Fields are counted in parallel, each over all rows.
        self.counts
            .par_iter_mut()
            .zip(self.totals.par_iter_mut())
            .zip(self.random_agreement.par_iter_mut())
            .enumerate()
            .for_each(|(field, ((counts, total), agreement))| {
                for list in rows {
                    for row in list.chunks_exact(fields) {
                        if let Some(canonical) = slots[row[field] as usize].canonical {
                            *counts.entry(canonical).or_insert(0) += 1;
                            *total += 1;
                        }
                    }
                }
                let n = (*total).max(1) as f64;
                *agreement = counts.values().map(|&c| (c as f64 / n).powi(2)).sum();
            });
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
            slot.tf_adjustment = if slot.frequency > 0.0 {
                let ratio = self.random_agreement[slot.field].max(1e-9) / f64::from(slot.frequency);
                ratio.log2().clamp(-MAX_TF_ADJUSTMENT, MAX_TF_ADJUSTMENT) as f32
            } else {
                0.0
            };
        }
    }
}
