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

/// Blocking key to the right-hand record numbers holding it: the keys in
/// one sorted array, the record of each beside it, and the start of every
/// bucket of keys with the same leading bits (keys are hashes, so buckets
/// hold one or two keys); plus records added later. No hash map and no
/// comparison sort: both took a tenth of a large run.
#[derive(Default)]
pub struct BlockIndex {
    keys: Vec<u64>,
    records: Vec<u32>,
    /// `starts[b]..starts[b + 1]`: the entries whose key begins with the
    /// bits of `b`; empty when nothing was built.
    starts: Vec<u32>,
    /// 64 minus the bits of a bucket number.
    shift: u32,
    added: KeyMap<Vec<u32>>,
}

impl BlockIndex {
    /// Indexes records `first..` of `rows`.
    pub fn build(roles: &Roles, table: &ValueTable, rows: &[u32], first: usize) -> Self {
        let entries: Vec<(u64, u32)> = rows
            .par_chunks_exact(table.fields())
            .enumerate()
            .skip(first)
            .fold(
                || (Vec::new(), Vec::new()),
                |(mut entries, mut keys), (record, row)| {
                    // A record once per block.
                    blocking_keys_into(roles, table, row, &mut keys);
                    keys.sort_unstable();
                    keys.dedup();
                    entries.extend(keys.iter().map(|&key| (key, record as u32)));
                    (entries, keys)
                },
            )
            .map(|(entries, _)| entries)
            .reduce(Vec::new, |mut a, b| {
                a.extend(b);
                a
            });
        // A counting sort on the leading bits, then each (tiny) bucket
        // sorted by key and record.
        let bits = (usize::BITS - entries.len().leading_zeros())
            .saturating_sub(1)
            .clamp(4, 24);
        let shift = 64 - bits;
        let mut starts = vec![0u32; (1 << bits) + 1];
        for &(key, _) in &entries {
            starts[(key >> shift) as usize + 1] += 1;
        }
        for b in 1..starts.len() {
            starts[b] += starts[b - 1];
        }
        let mut next = starts.clone();
        let mut sorted = vec![(0u64, 0u32); entries.len()];
        for entry in entries {
            let bucket = &mut next[(entry.0 >> shift) as usize];
            sorted[*bucket as usize] = entry;
            *bucket += 1;
        }
        for bucket in starts.windows(2) {
            if bucket[1] - bucket[0] > 1 {
                sorted[bucket[0] as usize..bucket[1] as usize].sort_unstable();
            }
        }
        BlockIndex {
            keys: sorted.iter().map(|&(key, _)| key).collect(),
            records: sorted.into_iter().map(|(_, record)| record).collect(),
            starts,
            shift,
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
        let built = if self.starts.is_empty() {
            &[][..]
        } else {
            let bucket = (key >> self.shift) as usize;
            let (lo, hi) = (
                self.starts[bucket] as usize,
                self.starts[bucket + 1] as usize,
            );
            let keys = &self.keys[lo..hi];
            match keys.iter().position(|&k| k == key) {
                Some(at) => {
                    let len = keys[at..].iter().take_while(|&&k| k == key).count();
                    &self.records[lo + at..lo + at + len]
                }
                None => &[][..],
            }
        };
        // Usually nothing was added: no second lookup then.
        let added = if self.added.is_empty() {
            &[][..]
        } else {
            self.added.get(&key).map_or(&[][..], Vec::as_slice)
        };
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
    let mut keys = Vec::with_capacity(16);
    blocking_keys_into(roles, table, row, &mut keys);
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The same into a reused buffer, in rule order and possibly repeated (two
/// rules can give one key): looking up candidates needs no more, as they
/// are kept distinct anyway.
pub fn blocking_keys_into(roles: &Roles, table: &ValueTable, row: &[u32], keys: &mut Vec<u64>) {
    keys.clear();
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::RecordList;
    use crate::schema::{FieldKind, NamePart};

    /// Every record is found under each of its keys, with exactly the other
    /// records sharing the key.
    #[test]
    fn blocks_hold_exactly_the_records_sharing_a_key() {
        let kinds = vec![
            FieldKind::Name(NamePart::Family),
            FieldKind::Name(NamePart::Given),
            FieldKind::Date,
        ];
        let roles = Roles {
            family: Some(0),
            given: Some(1),
            date: Some(2),
            ..Roles::default()
        };
        let people = [
            ("Петренко", "Олександр", "1990-05-01"),
            ("Petrenko", "Oleksandr", "01.05.1990"),
            ("Petrenko", "Ivan", "1990"),
            ("Koval", "Olena", "1985-02-03"),
            ("Koval", "Olena", "1985-03-02"),
            ("Shevchenko", "Taras", ""),
        ];
        let mut list = RecordList::new(kinds.len());
        for (i, (family, given, date)) in people.iter().enumerate() {
            list.push(&i.to_string(), [family, given, date].map(|s| s.as_bytes()))
                .expect("UTF-8");
        }
        let mut table = ValueTable::new(kinds);
        let (_, rows) = table.intern(list);
        let index = BlockIndex::build(&roles, &table, &rows, 0);
        let keys: Vec<Vec<u64>> = rows
            .chunks_exact(3)
            .map(|row| blocking_keys(&roles, &table, row))
            .collect();
        for record_keys in &keys {
            for &key in record_keys {
                let expected: Vec<u32> = (0..keys.len() as u32)
                    .filter(|&r| keys[r as usize].contains(&key))
                    .collect();
                let (built, added) = index.block(key);
                assert_eq!(built, expected.as_slice());
                assert!(added.is_empty());
            }
        }
        // The two spellings of one person share a key.
        assert!(keys[0].iter().any(|k| keys[1].contains(k)));
        assert_eq!(index.block(12345), (&[][..], &[][..]));
        assert_eq!(BlockIndex::default().block(12345), (&[][..], &[][..]));
    }
}
