//! Blocking: keys under which records are indexed, so that only records
//! sharing a key are compared.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use rayon::prelude::*;

use crate::compare::Value;
use crate::values::{FxHasher, ValueTable, hash_of};

/// Where the roles used by blocking and the given/family swap sit in the
/// schema.
#[derive(Debug, Clone, Default)]
pub struct Roles {
    pub family: Option<usize>,
    pub given: Option<usize>,
    pub patronymic: Option<usize>,
    pub date: Option<usize>,
    pub place: Option<usize>,
    /// Identifiers selective enough to block on with a name.
    pub identifiers: Vec<usize>,
    /// Identifiers that block together with a text field (house number
    /// with street).
    pub codes: Vec<usize>,
    pub texts: Vec<usize>,
}

/// Keys are already good hashes; the fast Fx hasher suffices.
type KeyMap<V> = HashMap<u64, V, BuildHasherDefault<FxHasher>>;

/// Blocking key to the right-hand record numbers holding it: one sorted
/// array with a range per key (few allocations, whatever the list size),
/// plus records added later.
#[derive(Default)]
pub struct BlockIndex {
    ranges: KeyMap<(u32, u32)>,
    records: Vec<u32>,
    added: KeyMap<Vec<u32>>,
}

impl BlockIndex {
    /// Indexes records `first..` of `rows`.
    pub fn build(roles: &Roles, table: &ValueTable, rows: &[u32], first: usize) -> Self {
        let keys: Vec<Vec<u64>> = rows
            .par_chunks_exact(table.fields())
            .skip(first)
            .map(|row| blocking_keys(roles, table, row))
            .collect();
        let mut entries: Vec<(u64, u32)> = Vec::with_capacity(keys.iter().map(Vec::len).sum());
        for (i, record_keys) in keys.into_iter().enumerate() {
            let record = (first + i) as u32;
            entries.extend(record_keys.into_iter().map(|key| (key, record)));
        }
        entries.par_sort_unstable();
        let mut ranges = KeyMap::default();
        ranges.reserve(entries.len() / 2);
        let mut start = 0;
        while start < entries.len() {
            let key = entries[start].0;
            let mut end = start + 1;
            while end < entries.len() && entries[end].0 == key {
                end += 1;
            }
            ranges.insert(key, (start as u32, (end - start) as u32));
            start = end;
        }
        let records = entries.into_iter().map(|(_, record)| record).collect();
        BlockIndex {
            ranges,
            records,
            added: KeyMap::default(),
        }
    }

    /// Adds records `first..` of `rows` after the build.
    pub fn add(&mut self, roles: &Roles, table: &ValueTable, rows: &[u32], first: usize) {
        for (i, row) in rows.chunks_exact(table.fields()).enumerate().skip(first) {
            for key in blocking_keys(roles, table, row) {
                self.added.entry(key).or_default().push(i as u32);
            }
        }
    }

    /// The records under a key, in two parts.
    pub fn block(&self, key: u64) -> (&[u32], &[u32]) {
        let built = self.ranges.get(&key).map_or(&[][..], |&(start, len)| {
            &self.records[start as usize..(start + len) as usize]
        });
        let added = self.added.get(&key).map_or(&[][..], Vec::as_slice);
        (built, added)
    }
}

/// Blocking keys of one record. A pair is a candidate when any key is
/// shared. The rules, each robust to a different kind of error:
/// 1. family and given name as an unordered pair (survives a swap);
/// 2. either name with the year of birth and the first consonant of the
///    other name (both orders, so it survives a swap);
/// 3. the full date with day and month unordered (survives a swap), with
///    the first consonant of either name or with an identifier;
/// 4. family name with patronymic;
/// 5. family name with the place of birth;
/// 6. each selective identifier with either name;
/// 7. the first four letters of the family key with the first three of the
///    given;
/// 8. the consonants of the family name with the given name (and, for
///    swapped fields, the other way round), and with the year of birth;
/// 9. each identifier with each text field (house number and street,
///    postcode and street).
///
/// Names enter as dictionary entries or stems, so every script and
/// romanisation of a name gives the same key.
pub fn blocking_keys(roles: &Roles, table: &ValueTable, row: &[u32]) -> Vec<u64> {
    let slot = |field: usize| &table.slots[row[field] as usize];
    let canonical = |field: Option<usize>| field.and_then(|f| slot(f).canonical);
    let family = canonical(roles.family);
    let given = canonical(roles.given);
    let patronymic = canonical(roles.patronymic);
    let place = canonical(roles.place);
    let date = match roles.date.map(|f| &slot(f).value) {
        Some(Value::Date(d)) => Some(*d),
        _ => None,
    };
    let year = date.and_then(|d| d.year);
    let mut keys = Vec::with_capacity(16);
    let mut add = |parts: &[u64]| keys.push(hash_of(parts));
    if let (Some(f), Some(g)) = (family, given) {
        add(&[1, f.min(g), f.max(g)]);
    }
    if let Some(year) = year {
        let initial = |field: Option<usize>| field.and_then(|f| slot(f).initial).map(u64::from);
        for (name, other) in [
            (family, initial(roles.given)),
            (given, initial(roles.family)),
        ] {
            if let (Some(name), Some(other)) = (name, other) {
                add(&[2, name, u64::from(year), other]);
            }
        }
    }
    if let Some((y, lo, hi)) = date.and_then(|d| d.swap_insensitive_key()) {
        let date = u64::from(y) << 16 | u64::from(lo) << 8 | u64::from(hi);
        for field in [roles.family, roles.given].into_iter().flatten() {
            if let Some(initial) = slot(field).initial {
                add(&[3, date, u64::from(initial)]);
            }
        }
        for &field in &roles.codes {
            if let Some(code) = slot(field).canonical {
                add(&[3, date, field as u64, code]);
            }
        }
    }
    if let (Some(f), Some(p)) = (family, patronymic) {
        add(&[4, f, p]);
    }
    if let (Some(f), Some(p)) = (family, place) {
        add(&[5, f, p]);
    }
    for &field in &roles.identifiers {
        if let Some(code) = slot(field).canonical {
            for name in [family, given].into_iter().flatten() {
                add(&[6, field as u64, code, name]);
            }
        }
    }
    if let (Some(f), Some(g)) = (roles.family, roles.given) {
        if let (Some(f4), Some(g3)) = (slot(f).prefix4, slot(g).prefix3) {
            add(&[7, f4, g3]);
        }
    }
    // Ukrainian and Russian forms of a surname often differ only in vowels
    // (Підгірний/Подгорный): its consonants with the given name or the year
    // bring them together, in both orders of the name fields.
    let consonants = |field: Option<usize>| field.and_then(|f| slot(f).consonants);
    for (surname, first) in [(roles.family, given), (roles.given, family)] {
        if let (Some(c), Some(g)) = (consonants(surname), first) {
            add(&[8, c, g]);
        }
    }
    if let (Some(c), Some(year)) = (consonants(roles.family), year) {
        add(&[9, c, u64::from(year)]);
    }
    for &text_field in &roles.texts {
        let Some(text) = slot(text_field).canonical else {
            continue;
        };
        for &code_field in &roles.codes {
            if let Some(code) = slot(code_field).canonical {
                add(&[10, text_field as u64, code_field as u64, text, code]);
            }
        }
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}
