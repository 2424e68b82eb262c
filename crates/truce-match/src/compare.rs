//! Preparing field values once per record and comparing them pairwise into
//! agreement levels (0 = best; the last level = different).

use std::cell::RefCell;

use crate::date::{DateAgreement, PartialDate, compare_dates, parse_date};
use crate::dictionary::{self, EntryId};
use crate::normalize::normalize;
use crate::schema::{FieldKind, NamePart};
use crate::translit::{has_cyrillic, spelling_key};
use crate::values::hash_of;

/// A name part ready for comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct NameValue {
    /// Normalised text in its own script.
    pub normal: String,
    /// Spelling-insensitive Latin key.
    pub key: String,
    /// Key without a gendered surname ending (Іванова/Иванов, -ська/-ский).
    pub stem: String,
    /// Dictionary entry (given name, or father's name of a patronymic).
    pub entry: Option<EntryId>,
    /// The key without vowels: Ukrainian and Russian forms of a surname
    /// often differ only there (Підгірний/Подгорный, Чорнович/Чернович).
    pub consonants: String,
    /// Hashes of `normal`, `key`, `stem` and `consonants`: comparing them
    /// replaces four string comparisons per pair.
    pub hashes: [u64; 4],
    /// Letter counts of `key`, which bound its Jaro-Winkler similarity.
    pub letters: Letters,
    /// Written without Cyrillic letters.
    pub latin: bool,
}

/// A place ready for comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaceValue {
    pub normal: String,
    pub key: String,
    pub entry: Option<EntryId>,
    /// Hashes of `normal` and `key`.
    pub hashes: [u64; 2],
    /// Letter counts of `key`.
    pub letters: Letters,
}

/// Free text ready for comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct TextValue {
    pub normal: String,
    /// Hashes of the words (split at spaces and hyphens), for the overlap.
    pub words: Vec<u64>,
    /// Letter counts of `normal`.
    pub letters: Letters,
}

/// One field of one record, prepared.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Missing,
    Name(NameValue),
    Date(PartialDate),
    Place(PlaceValue),
    Identifier(String),
    Text(TextValue),
}

impl Value {
    /// Hash of the value whose frequency drives the term-frequency
    /// adjustment, and on which blocking keys are built: the dictionary
    /// entry, the stem or key, the date, the code or the text. Hashed
    /// without building the text (this runs for every distinct value).
    pub fn canonical_hash(&self) -> Option<u64> {
        // Entries and dates hash as tuples led by a tag, texts as strings.
        match self {
            Value::Missing => None,
            Value::Name(n) => Some(match n.entry {
                Some(id) => hash_of(&(b'#', id)),
                None => hash_of(n.stem.as_str()),
            }),
            Value::Place(p) => Some(match p.entry {
                Some(id) => hash_of(&(b'#', id)),
                None => hash_of(p.key.as_str()),
            }),
            Value::Date(d) => d.year.map(|y| hash_of(&(b'@', y, d.month, d.day))),
            Value::Identifier(s) => Some(hash_of(s.as_str())),
            Value::Text(t) => Some(hash_of(t.normal.as_str())),
        }
    }
}

/// Surname endings that differ between the masculine and feminine forms, on
/// the spelling key: -ова/-ев(а)/-ина (the -a goes) and adjectival
/// -ський/-ська/-ский/-ская (all reduced to -sk).
fn family_stem(key: &str) -> String {
    for (ending, keep) in [
        ("ska", 2),
        ("ski", 2),
        ("Tka", 2),
        ("Tki", 2),
        ("ova", 2),
        ("iva", 2),
        ("ina", 2),
    ] {
        if key.len() > ending.len() + 2 && key.ends_with(ending) {
            return key[..key.len() - ending.len() + keep].to_string();
        }
    }
    key.to_string()
}

/// Prepares raw text of a field of the given kind.
pub fn prepare(kind: FieldKind, raw: &str) -> Value {
    let normal = normalize(raw);
    if normal.is_empty() {
        return Value::Missing;
    }
    match kind {
        FieldKind::Name(part) => {
            let key = spelling_key(&normal);
            if key.is_empty() {
                return Value::Missing;
            }
            let (stem, entry) = match part {
                NamePart::Family => (family_stem(&key), None),
                NamePart::Given | NamePart::Other => {
                    (key.clone(), dictionary::given_name_id_of(&normal, &key))
                }
                NamePart::Patronymic => {
                    let stem = dictionary::patronymic_stem_of_key(key.clone());
                    let entry = dictionary::patronymic_id_of_stem(&stem);
                    (stem, entry)
                }
            };
            let consonants = key
                .chars()
                .filter(|c| !matches!(c, 'a' | 'e' | 'i' | 'o' | 'u'))
                .collect();
            let hashes = [&normal, &key, &stem, &consonants].map(|s| hash_of(s.as_str()));
            Value::Name(NameValue {
                letters: Letters::of(key.as_bytes()),
                latin: !has_cyrillic(&normal),
                normal,
                key,
                stem,
                entry,
                consonants,
                hashes,
            })
        }
        FieldKind::Date => {
            let date = parse_date(&normal);
            if date.is_empty() {
                Value::Missing
            } else {
                Value::Date(date)
            }
        }
        FieldKind::Place => {
            let key = dictionary::place_key(&normal);
            let entry = dictionary::place_id_of_key(&key);
            let hashes = [hash_of(normal.as_str()), hash_of(key.as_str())];
            Value::Place(PlaceValue {
                letters: Letters::of(key.as_bytes()),
                key,
                entry,
                normal,
                hashes,
            })
        }
        FieldKind::Identifier => {
            let code: String = normal.chars().filter(|c| c.is_alphanumeric()).collect();
            if code.is_empty() {
                Value::Missing
            } else {
                Value::Identifier(code)
            }
        }
        FieldKind::Text => Value::Text(TextValue {
            words: words(normal.as_bytes()).map(hash_of).collect(),
            letters: Letters::of(normal.as_bytes()),
            normal,
        }),
    }
}

/// Level and its description for one field pair; `None` when either side is
/// missing (the field then carries no evidence).
pub fn compare(a: &Value, b: &Value) -> Option<(u8, &'static str)> {
    match (a, b) {
        (Value::Name(x), Value::Name(y)) => Some(compare_names(x, y)),
        (Value::Date(x), Value::Date(y)) => {
            compare_dates(x, y).map(|level: DateAgreement| (level as u8, level.describe()))
        }
        (Value::Place(x), Value::Place(y)) => Some(compare_places(x, y)),
        (Value::Identifier(x), Value::Identifier(y)) => {
            Some(match codes_differ(x.as_bytes(), y.as_bytes()) {
                0 => (0, "exact"),
                1 => (1, "one character off"),
                _ => (2, "different"),
            })
        }
        (Value::Text(x), Value::Text(y)) => Some(compare_text(x, y)),
        _ => None,
    }
}

pub const NAME_CLOSE: f64 = 0.92;
pub const NAME_SIMILAR: f64 = 0.80;
/// Key similarity from which the written forms are compared as well.
const NEAR_MISS: f64 = 0.70;
/// Place keys at least this similar agree at level 2.
const PLACE_SIMILAR: f64 = 0.88;
/// Free texts at least this similar agree at level 1.
const TEXT_CLOSE: f64 = 0.90;

fn compare_names(a: &NameValue, b: &NameValue) -> (u8, &'static str) {
    let [normal, key, stem, consonants] = [0, 1, 2, 3].map(|i| a.hashes[i] == b.hashes[i]);
    if normal {
        return (0, "exact");
    }
    if key {
        return (1, "same after transliteration");
    }
    if a.entry.is_some() && a.entry == b.entry {
        return (1, "dictionary equivalent");
    }
    if stem {
        return (2, "same stem");
    }
    if consonants && a.consonants.len() >= 3 {
        return (2, "same consonants");
    }
    // Below NEAR_MISS only the dictionary below can still raise the level,
    // so the similarity itself is not needed when its bound is lower.
    let mut similarity = jaro_winkler_from(
        a.key.as_bytes(),
        &a.letters,
        b.key.as_bytes(),
        &b.letters,
        NEAR_MISS,
    );
    // The key turns one letter into two (x into ks) or merges letters, so a
    // typo in the written form can look bigger on the key: near the
    // thresholds, names in the same script are also compared as written.
    if (NEAR_MISS..NAME_CLOSE).contains(&similarity) && a.latin == b.latin {
        similarity = similarity.max(jaro_winkler(a.normal.as_bytes(), b.normal.as_bytes()));
    }
    // A misspelt form of a dictionary name is compared with the forms of
    // the entry that start with the same letter, since Jaro-Winkler rewards
    // the common prefix (Oleksander vs Aleksandr via Oleksandr). Two names
    // both in the dictionary under different entries are simply different.
    for (known, other) in [(a, b), (b, a)] {
        if similarity >= NAME_CLOSE {
            break;
        }
        if let (Some(id), None) = (known.entry, other.entry) {
            let first = other.key.as_bytes().first();
            for variant in dictionary::given_name_variant_keys(id) {
                if variant.as_bytes().first() == first {
                    similarity =
                        similarity.max(jaro_winkler(variant.as_bytes(), other.key.as_bytes()));
                }
            }
        }
    }
    if similarity >= NAME_CLOSE {
        (2, "close spelling")
    } else if similarity >= NAME_SIMILAR {
        (3, "similar spelling")
    } else {
        (4, "different")
    }
}

/// Jaro-Winkler similarity at least `needed`, settled by the letter bound
/// where it can be.
fn similar_at_least(a: &str, la: &Letters, b: &str, lb: &Letters, needed: f64) -> bool {
    jaro_winkler_from(a.as_bytes(), la, b.as_bytes(), lb, needed) >= needed
}

fn compare_places(a: &PlaceValue, b: &PlaceValue) -> (u8, &'static str) {
    if a.hashes[0] == b.hashes[0] {
        (0, "exact")
    } else if a.hashes[1] == b.hashes[1] || (a.entry.is_some() && a.entry == b.entry) {
        (1, "same place, other language or spelling")
    } else if a.entry.is_some() && b.entry.is_some() {
        (3, "different")
    } else if similar_at_least(&a.key, &a.letters, &b.key, &b.letters, PLACE_SIMILAR) {
        (2, "similar spelling")
    } else {
        (3, "different")
    }
}

fn compare_text(a: &TextValue, b: &TextValue) -> (u8, &'static str) {
    if a.normal == b.normal {
        return (0, "exact");
    }
    if similar_at_least(&a.normal, &a.letters, &b.normal, &b.letters, TEXT_CLOSE) {
        return (1, "close spelling");
    }
    let shared = a.words.iter().filter(|w| b.words.contains(w)).count();
    if shared > 0 && shared * 2 >= a.words.len().max(b.words.len()) {
        (2, "half the words shared")
    } else {
        (3, "different")
    }
}

/// Words of normalised text, which separates them by one space or hyphen.
fn words(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split(|&c| c == b' ' || c == b'-')
        .filter(|w| !w.is_empty())
}

/// 0 when two codes are equal, 1 when `within_one_edit`, 2 otherwise.
/// Codes of one length up to eight bytes (postcodes, house numbers, state
/// codes: three fields of every candidate pair) are compared as 64-bit
/// words.
fn codes_differ(x: &[u8], y: &[u8]) -> u8 {
    if x.len() != y.len() || x.len() > 8 {
        return if x == y {
            0
        } else if within_one_edit(x, y) {
            1
        } else {
            2
        };
    }
    let word = |code: &[u8]| {
        code.iter()
            .enumerate()
            .fold(0u64, |w, (i, &b)| w | u64::from(b) << (8 * i))
    };
    let (p, q) = (word(x), word(y));
    // The lowest bit of each byte that differs.
    let mut differ = p ^ q;
    differ |= differ >> 4;
    differ |= differ >> 2;
    differ |= differ >> 1;
    differ &= 0x0101_0101_0101_0101;
    match differ.count_ones() {
        0 => 0,
        1 => 1,
        2 => {
            // One exchange of adjacent characters.
            let first = differ.trailing_zeros();
            let (a, b) = ((p >> first) & 0xffff, (q >> first) & 0xffff);
            if differ >> first == 0x0101 && a == ((b & 0xff) << 8 | b >> 8) {
                1
            } else {
                2
            }
        }
        _ => 2,
    }
}

/// Levenshtein distance at most one, or one exchange of adjacent characters.
pub fn within_one_edit(a: &[u8], b: &[u8]) -> bool {
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (ra, rb) = (&a[prefix..], &b[prefix..]);
    if ra.len() == rb.len() {
        ra.len() <= 1
            || ra[1..] == rb[1..]
            || (ra.len() >= 2 && ra[0] == rb[1] && ra[1] == rb[0] && ra[2..] == rb[2..])
    } else if ra.len() > rb.len() {
        ra[1..] == *rb
    } else {
        rb[1..] == *ra
    }
}

/// Jaro-Winkler compares at most this many bytes of each string.
const JW_BYTES: usize = 64;

/// How often each byte occurs among the first bytes of a string Jaro-Winkler
/// looks at, bytes taken modulo 32 (letters apart; the collisions of digits
/// and punctuation with letters only loosen the bound).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Letters([u8; 32]);

impl Letters {
    pub fn of(text: &[u8]) -> Self {
        let mut counts = [0u8; 32];
        for &c in &text[..text.len().min(JW_BYTES)] {
            counts[usize::from(c & 31)] += 1;
        }
        Letters(counts)
    }

    /// An upper bound of the characters Jaro can match between two strings
    /// with these counts.
    fn common(&self, other: &Letters) -> usize {
        // Eight counts at a time in 64-bit words (this runs for most
        // candidate pairs). Counts are below 128, so the high bit of each
        // byte of (x | 0x80) - y tells x >= y without borrowing across
        // bytes.
        const HIGH: u64 = 0x8080_8080_8080_8080;
        const LOW_BYTES: u64 = 0x00ff_00ff_00ff_00ff;
        let word = |counts: &[u8; 32], i: usize| {
            u64::from_le_bytes(counts[i * 8..i * 8 + 8].try_into().expect("eight bytes"))
        };
        let mut pairs = 0u64;
        for i in 0..4 {
            let (x, y) = (word(&self.0, i), word(&other.0, i));
            let x_not_less = (((x | HIGH) - y) & HIGH) >> 7;
            let mask = x_not_less * 0xff;
            let least = (y & mask) | (x & !mask);
            pairs += (least & LOW_BYTES) + ((least >> 8) & LOW_BYTES);
        }
        // Four 16-bit lanes, each at most 4 * 2 * 64.
        (pairs.wrapping_mul(0x0001_0001_0001_0001) >> 48) as usize
    }
}

/// `jaro_winkler(a, b)`, or 0 when it is certainly below `needed`: the
/// letters the two share bound the matches, which bound the similarity
/// (no transposition, the actual common prefix). Most candidate pairs
/// compare unrelated values, which this settles without matching.
pub fn jaro_winkler_from(a: &[u8], la: &Letters, b: &[u8], lb: &Letters, needed: f64) -> f64 {
    let (n, k) = (a.len().min(JW_BYTES), b.len().min(JW_BYTES));
    if n > 0 && k > 0 {
        // The same arithmetic as `jaro_winkler` with the most matches and
        // no transposition, so the bound is never below the similarity.
        let m = la.common(lb).min(n).min(k) as f64;
        let jaro = (m / n as f64 + m / k as f64 + 1.0) / 3.0;
        let prefix = a.iter().zip(b).take(4).take_while(|(x, y)| x == y).count() as f64;
        if m == 0.0 || jaro + prefix * 0.1 * (1.0 - jaro) < needed {
            return 0.0;
        }
    }
    jaro_winkler(a, b)
}

/// Jaro-Winkler similarity (prefix scale 0.1, up to 4 characters).
pub fn jaro_winkler(a: &[u8], b: &[u8]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return if a == b { 1.0 } else { 0.0 };
    }
    // Equal strings need no test of their own: all characters match in
    // order, which gives exactly 1.
    let window = (a.len().max(b.len()) / 2).saturating_sub(1);
    // Names are short: matched positions as bit sets, no allocation.
    let (a, b) = (&a[..a.len().min(JW_BYTES)], &b[..b.len().min(JW_BYTES)]);
    let (a_matched, b_matched, matches) = if b.is_ascii() {
        POSITIONS.with_borrow_mut(|positions| matches_bit_parallel(a, b, window, positions))
    } else {
        matches_scanning(a, b, window)
    };
    if matches == 0 {
        return 0.0;
    }
    let mut transpositions = 0usize;
    let mut remaining_b = b_matched;
    let mut remaining_a = a_matched;
    while remaining_a != 0 {
        let i = remaining_a.trailing_zeros() as usize;
        let k = remaining_b.trailing_zeros() as usize;
        if a[i] != b[k] {
            transpositions += 1;
        }
        remaining_a &= remaining_a - 1;
        remaining_b &= remaining_b - 1;
    }
    let m = matches as f64;
    let jaro =
        (m / a.len() as f64 + m / b.len() as f64 + (m - transpositions as f64 / 2.0) / m) / 3.0;
    let prefix = a.iter().zip(b).take(4).take_while(|(x, y)| x == y).count() as f64;
    jaro + prefix * 0.1 * (1.0 - jaro)
}

thread_local! {
    /// Per ASCII byte, its positions in the string being matched against;
    /// all zero between calls (each call clears what it set), so no call
    /// pays for clearing the whole table.
    static POSITIONS: RefCell<[u64; 128]> = const { RefCell::new([0; 128]) };
}

/// Jaro's greedy matching (each character of `a` takes the first unmatched
/// equal character of `b` within the window) with the positions of each
/// byte of `b` as a bit set, so a character costs a few instructions
/// instead of a scan of the window. `b` must be ASCII and at most 64 bytes
/// long, `positions` all zero; returns the matched positions of `a` and `b`
/// and their number, and leaves `positions` zero.
fn matches_bit_parallel(
    a: &[u8],
    b: &[u8],
    window: usize,
    positions: &mut [u64; 128],
) -> (u64, u64, usize) {
    for (j, &c) in b.iter().enumerate() {
        positions[usize::from(c & 0x7f)] |= 1 << j;
    }
    let (mut a_matched, mut b_matched) = (0u64, 0u64);
    let mut matches = 0;
    // The window of position i is bits i - window ..= i + window: `upto`
    // holds the bits up to its top, `below` those under its bottom.
    let mut upto = if window + 1 >= 64 {
        u64::MAX
    } else {
        (1u64 << (window + 1)) - 1
    };
    let mut below = 0u64;
    for (i, &c) in a.iter().enumerate() {
        if i > window {
            below = (below << 1) | 1;
        }
        // A non-ASCII byte of `a` matches nothing in an ASCII `b`.
        let at = if c < 0x80 {
            positions[usize::from(c)]
        } else {
            0
        };
        let free = at & !b_matched & upto & !below;
        if free != 0 {
            a_matched |= 1 << i;
            b_matched |= free & free.wrapping_neg();
            matches += 1;
        }
        upto = (upto << 1) | 1;
    }
    for &c in b {
        positions[usize::from(c & 0x7f)] = 0;
    }
    (a_matched, b_matched, matches)
}

/// The same matching by scanning the window, for any bytes.
fn matches_scanning(a: &[u8], b: &[u8], window: usize) -> (u64, u64, usize) {
    let (mut a_matched, mut b_matched) = (0u64, 0u64);
    let mut matches = 0usize;
    for (i, &ca) in a.iter().enumerate() {
        let lo = i.saturating_sub(window);
        let hi = (i + window + 1).min(b.len());
        for (j, &cb) in b.iter().enumerate().take(hi).skip(lo) {
            if cb == ca && b_matched & (1 << j) == 0 {
                a_matched |= 1 << i;
                b_matched |= 1 << j;
                matches += 1;
                break;
            }
        }
    }
    (a_matched, b_matched, matches)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::Sequence;

    #[test]
    fn jaro_winkler_reference_values() {
        // Winkler's worked examples.
        assert!((jaro_winkler(b"martha", b"marhta") - 0.9611).abs() < 1e-3);
        assert!((jaro_winkler(b"dwayne", b"duane") - 0.84).abs() < 1e-3);
        assert!((jaro_winkler(b"dixon", b"dicksonx") - 0.8133).abs() < 1e-3);
    }

    /// The bit-parallel matching is the scanning one, on random short
    /// strings over a small alphabet (many repeats) and on long ones.
    #[test]
    fn bit_parallel_matching_equals_scanning() {
        let mut sequence = Sequence::new(7);
        let mut next = |bound: u64| sequence.below(bound);
        let mut positions = [0u64; 128];
        for _ in 0..20_000 {
            let la = next(70) as usize + 1;
            let lb = next(70) as usize + 1;
            let alphabet = next(6) + 2;
            let a: Vec<u8> = (0..la).map(|_| b'a' + next(alphabet) as u8).collect();
            let b: Vec<u8> = (0..lb).map(|_| b'a' + next(alphabet) as u8).collect();
            let window = (la.max(lb) / 2).saturating_sub(1);
            let (a, b) = (&a[..la.min(64)], &b[..lb.min(64)]);
            assert_eq!(
                matches_bit_parallel(a, b, window, &mut positions),
                matches_scanning(a, b, window),
                "{a:?} {b:?}"
            );
        }
        // A non-ASCII left side against an ASCII right side.
        let (a, b) = ("олег oleg".as_bytes(), b"oleh");
        assert_eq!(
            matches_bit_parallel(a, b, 5, &mut positions),
            matches_scanning(a, b, 5)
        );
        assert_eq!(positions, [0; 128], "the table is left clear");
    }

    #[test]
    fn common_letters_is_the_sum_of_minima() {
        let sum_of_minima = |x: &Letters, y: &Letters| -> usize {
            x.0.iter()
                .zip(&y.0)
                .map(|(&p, &q)| usize::from(p.min(q)))
                .sum()
        };
        let (a, b) = (Letters::of(b"leppington"), Letters::of(b"pennington"));
        assert_eq!(a.common(&b), sum_of_minima(&a, &b));
        let long = Letters::of(&[b'a'; 100]);
        assert_eq!(long.common(&long), JW_BYTES);
        let mut sequence = Sequence::new(5);
        for _ in 0..10_000 {
            let mut counts = [[0u8; 32]; 2];
            for c in counts.iter_mut().flatten() {
                *c = sequence.below(65) as u8;
            }
            let [x, y] = counts.map(Letters);
            assert_eq!(x.common(&y), sum_of_minima(&x, &y));
        }
    }

    /// The bound never hides a similarity at or above what is needed.
    #[test]
    fn bounded_jaro_winkler_is_exact_where_it_matters() {
        let mut sequence = Sequence::new(3);
        let mut next = |bound: u64| sequence.below(bound);
        let mut skipped = 0;
        for _ in 0..50_000 {
            let la = next(80) as usize;
            let lb = next(80) as usize;
            let alphabet = next(40) + 2;
            let a: Vec<u8> = (0..la).map(|_| b' ' + next(alphabet) as u8 * 2).collect();
            let mut b: Vec<u8> = (0..lb).map(|_| b' ' + next(alphabet) as u8 * 2).collect();
            if next(2) == 0 {
                // Often a near copy.
                b = a.clone();
                if !b.is_empty() {
                    let i = next(b.len() as u64) as usize;
                    b[i] = b'a' + next(26) as u8;
                }
            }
            let exact = jaro_winkler(&a, &b);
            for needed in [0.7, 0.8, 0.88, 0.9, 0.92] {
                let bounded = jaro_winkler_from(&a, &Letters::of(&a), &b, &Letters::of(&b), needed);
                if bounded != exact {
                    assert!(bounded == 0.0 && exact < needed, "{a:?} {b:?}");
                    skipped += 1;
                }
            }
        }
        assert!(skipped > 10_000, "the bound settles unrelated strings");
    }

    /// Codes compared as words agree with the byte-wise definition.
    #[test]
    fn codes_as_words_as_defined() {
        let mut sequence = Sequence::new(19);
        for _ in 0..50_000 {
            let length = sequence.below(10) as usize;
            let x: Vec<u8> = (0..length)
                .map(|_| b'0' + sequence.below(4) as u8)
                .collect();
            let mut y = x.clone();
            match sequence.below(4) {
                0 if length > 0 => y[sequence.below(length as u64) as usize] = b'9',
                1 if length > 1 => {
                    let i = sequence.below(length as u64 - 1) as usize;
                    y.swap(i, i + 1);
                }
                2 => {
                    y = (0..length)
                        .map(|_| b'0' + sequence.below(4) as u8)
                        .collect()
                }
                _ => {}
            }
            let expected = if x == y {
                0
            } else if within_one_edit(&x, &y) {
                1
            } else {
                2
            };
            assert_eq!(codes_differ(&x, &y), expected, "{x:?} {y:?}");
        }
    }

    #[test]
    fn one_edit() {
        assert!(within_one_edit(b"2600", b"2601"));
        assert!(within_one_edit(b"2600", b"260"));
        assert!(within_one_edit(b"2600", b"6200"));
        assert!(!within_one_edit(b"2600", b"2611"));
    }

    #[test]
    fn feminine_and_masculine_share_a_stem() {
        assert_eq!(
            family_stem(&spelling_key("Ковальська")),
            family_stem(&spelling_key("Kovalskiy"))
        );
        assert_eq!(
            family_stem(&spelling_key("Иванова")),
            family_stem(&spelling_key("Ivanov"))
        );
    }
}
