//! The table of distinct field values. Names, dates and places repeat
//! across records, so each distinct text of a field is prepared once and
//! records hold slot numbers: preparation, memory and term frequencies scale
//! with the distinct values, and equal slots compare equal at once.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::str::Utf8Error;

use hashbrown::HashTable;
use rayon::prelude::*;

use crate::compare::{Value, prepare};
use crate::matcher::RecordList;
use crate::schema::FieldKind;

/// Term-frequency adjustments are bounded so a rare value cannot outweigh
/// the other fields.
pub const MAX_TF_ADJUSTMENT: f64 = 4.0;

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

/// A fixed linear congruential sequence (Knuth's MMIX constants): random
/// pairs and test data that are the same on every run.
pub(crate) struct Sequence(u64);

impl Sequence {
    pub(crate) fn new(seed: u64) -> Self {
        Sequence(seed)
    }

    /// The next number below `bound` (at most 2^31).
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound
    }
}

/// Strings stored end to end in one buffer: a list of a million short
/// texts in two allocations.
#[derive(Debug, Clone, Default)]
pub struct Texts {
    text: String,
    ends: Vec<u32>,
}

impl Texts {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    pub fn push(&mut self, text: &str) {
        self.text.push_str(text);
        self.ends
            .push(u32::try_from(self.text.len()).expect("less than 4 GB of text in one column"));
    }

    pub fn extend(&mut self, other: &Texts) {
        for i in 0..other.len() {
            self.push(other.get(i));
        }
    }
}

/// Distinct texts, numbered in the order they were first seen.
#[derive(Debug, Clone, Default)]
pub struct TextSet {
    texts: Texts,
    /// Hash and number of each text, by the hash (kept, so that growing
    /// the table does not hash the texts again).
    index: HashTable<(u64, u32)>,
}

/// Hash of a text for `TextSet`: the Fx step over 8-byte words (the last
/// word overlapping the one before, short texts packed into one), folded so
/// that the low bits, which pick the bucket, depend on every byte. Runs for
/// every field of every record read.
fn text_hash(bytes: &[u8]) -> u64 {
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("eight bytes"));
    let mut hasher = FxHasher::default();
    let n = bytes.len();
    if n >= 8 {
        let mut at = 0;
        while at + 8 < n {
            hasher.write_u64(word(at));
            at += 8;
        }
        hasher.write_u64(word(n - 8));
    } else {
        let mut packed = 0u64;
        for (i, &b) in bytes.iter().enumerate() {
            packed |= u64::from(b) << (8 * i);
        }
        hasher.write_u64(packed);
    }
    hasher.write_usize(n);
    hasher.finish().rotate_left(26)
}

impl TextSet {
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    pub fn get(&self, i: usize) -> &str {
        self.texts.get(i)
    }

    /// The number of `bytes`, and whether they are new; new bytes must be
    /// UTF-8 (bytes seen before already were).
    pub fn insert(&mut self, bytes: &[u8]) -> Result<(u32, bool), Utf8Error> {
        let hash = text_hash(bytes);
        let texts = &self.texts;
        if let Some(&(_, i)) = self.index.find(hash, |&(h, i)| {
            h == hash && texts.get(i as usize).as_bytes() == bytes
        }) {
            return Ok((i, false));
        }
        let text = std::str::from_utf8(bytes)?;
        let i = self.texts.len() as u32;
        self.texts.push(text);
        self.index.insert_unique(hash, (hash, i), |&(h, _)| h);
        Ok((i, true))
    }
}

fn slot(field: usize, value: Value) -> Slot {
    let canonical = value.canonical_hash();
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
    /// Per field, the raw texts seen and the slot of each.
    lookup: Vec<(TextSet, Vec<u32>)>,
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
            lookup: vec![Default::default(); fields],
            counts: vec![HashMap::default(); fields],
            totals: vec![0; fields],
            random_agreement: vec![0.0; fields],
        }
    }

    pub fn fields(&self) -> usize {
        self.kinds.len()
    }

    /// Adds a list's values, returning its ids and its slot rows (one slot
    /// per field, row after row). Fields are interned in parallel, each
    /// distinct text of the list once; new texts are prepared in parallel.
    pub fn intern(&mut self, list: RecordList) -> (Texts, Vec<u32>) {
        let fields = self.kinds.len();
        let RecordList {
            ids,
            fields: list_texts,
            rows: list_rows,
        } = list;
        // Per field: the slot of each of the list's texts, and the list's
        // texts new to the table. New slots are numbered provisionally (with
        // the high bit) until all fields are done.
        const FRESH: u32 = 1 << 31;
        let columns: Vec<(Vec<u32>, Vec<u32>)> = self
            .lookup
            .par_iter_mut()
            .zip(list_texts.par_iter())
            .map(|((known, slots), texts)| {
                let mut slot_of = Vec::with_capacity(texts.len());
                let mut fresh = Vec::new();
                for k in 0..texts.len() {
                    let (n, new) = known
                        .insert(texts.get(k).as_bytes())
                        .expect("a TextSet holds UTF-8");
                    if new {
                        slots.push(FRESH | fresh.len() as u32);
                        fresh.push(k as u32);
                    }
                    slot_of.push(slots[n as usize]);
                }
                (slot_of, fresh)
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
            .for_each(|(field, (_, slots))| {
                let fresh = columns[field].1.len();
                let start = slots.len() - fresh;
                for slot in &mut slots[start..] {
                    *slot = renumber(*slot, field);
                }
            });
        let kinds = &self.kinds;
        let fresh: Vec<(usize, &str)> = columns
            .iter()
            .enumerate()
            .flat_map(|(field, (_, fresh))| {
                let texts = &list_texts[field];
                fresh.iter().map(move |&k| (field, texts.get(k as usize)))
            })
            .collect();
        let prepared: Vec<Slot> = fresh
            .into_par_iter()
            .map(|(field, raw)| slot(field, prepare(kinds[field], raw)))
            .collect();
        self.slots.extend(prepared);
        let mut rows = list_rows;
        rows.par_chunks_mut(fields).for_each(|row| {
            for (field, cell) in row.iter_mut().enumerate() {
                *cell = renumber(columns[field].0[*cell as usize], field);
            }
        });
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
