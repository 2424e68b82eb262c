//! Transliteration of Ukrainian and Russian Cyrillic into the Latin spellings
//! found in passports, and the spelling-insensitive key on which those
//! systems meet.
//!
//! No published crate implements KMU-2010 or the history of Russian passport
//! romanisation, so every table below is written by hand from the cited
//! standard.

use crate::normalize::{is_apostrophe, normalize};

/// A romanisation system found in Ukrainian or Russian identity documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standard {
    /// Ukrainian national system, Cabinet of Ministers resolution no. 55 of
    /// 27 January 2010 ("KMU-2010").
    Kmu2010,
    /// ICAO Doc 9303 (7th ed.) Part 3 table, adopted for Russian passports by
    /// FMS order no. 320 of 15 October 2012, applied from 2014.
    Icao2014,
    /// Russian foreign passports 2010-2014, FMS order no. 26 of 3 February
    /// 2010: like ICAO but ц is "tc" and ъ is dropped ("TC" style).
    Russia2010,
    /// Russian foreign passports before 2010 (MVD order no. 310 of 26 May
    /// 1997 and its predecessors): й, ю, я as "y", "yu", "ya" ("Y" style).
    RussiaPre2010,
}

impl Standard {
    pub const ALL: [Standard; 4] = [
        Standard::Kmu2010,
        Standard::Icao2014,
        Standard::Russia2010,
        Standard::RussiaPre2010,
    ];
}

/// KMU-2010 (resolution no. 55 of 27 Jan 2010): (letter, in the word, at the
/// start of a word). The soft sign and the apostrophe are not transliterated;
/// "зг" is written "zgh" (handled in code). Russian-only letters, which the
/// resolution does not cover, get their ICAO values so that the function is
/// total.
const KMU_2010: &[(char, &str, &str)] = &[
    ('а', "a", "a"),
    ('б', "b", "b"),
    ('в', "v", "v"),
    ('г', "h", "h"),
    ('ґ', "g", "g"),
    ('д', "d", "d"),
    ('е', "e", "e"),
    ('є', "ie", "ye"),
    ('ж', "zh", "zh"),
    ('з', "z", "z"),
    ('и', "y", "y"),
    ('і', "i", "i"),
    ('ї', "i", "yi"),
    ('й', "i", "y"),
    ('к', "k", "k"),
    ('л', "l", "l"),
    ('м', "m", "m"),
    ('н', "n", "n"),
    ('о', "o", "o"),
    ('п', "p", "p"),
    ('р', "r", "r"),
    ('с', "s", "s"),
    ('т', "t", "t"),
    ('у', "u", "u"),
    ('ф', "f", "f"),
    ('х', "kh", "kh"),
    ('ц', "ts", "ts"),
    ('ч', "ch", "ch"),
    ('ш', "sh", "sh"),
    ('щ', "shch", "shch"),
    ('ь', "", ""),
    ('ю', "iu", "yu"),
    ('я', "ia", "ya"),
    ('ё', "e", "e"),
    ('ъ', "", ""),
    ('ы', "y", "y"),
    ('э', "e", "e"),
];

/// ICAO Doc 9303, 7th edition (2015, table adopted in Russia by FMS order
/// no. 320 of 15 Oct 2012, in force 2014): letter to Latin, the same in every
/// position. Ukrainian letters as in the same ICAO table.
const ICAO_2014: &[(char, &str)] = &[
    ('а', "a"),
    ('б', "b"),
    ('в', "v"),
    ('г', "g"),
    ('ґ', "g"),
    ('д', "d"),
    ('е', "e"),
    ('ё', "e"),
    ('є', "ie"),
    ('ж', "zh"),
    ('з', "z"),
    ('и', "i"),
    ('і', "i"),
    ('ї', "i"),
    ('й', "i"),
    ('к', "k"),
    ('л', "l"),
    ('м', "m"),
    ('н', "n"),
    ('о', "o"),
    ('п', "p"),
    ('р', "r"),
    ('с', "s"),
    ('т', "t"),
    ('у', "u"),
    ('ф', "f"),
    ('х', "kh"),
    ('ц', "ts"),
    ('ч', "ch"),
    ('ш', "sh"),
    ('щ', "shch"),
    ('ъ', "ie"),
    ('ы', "y"),
    ('ь', ""),
    ('э', "e"),
    ('ю', "iu"),
    ('я', "ia"),
];

/// FMS order no. 26 of 3 February 2010 (Russian foreign passports 2010-2014):
/// the differences from the ICAO table above.
const RUSSIA_2010_OVERRIDES: &[(char, &str)] = &[('ц', "tc"), ('ъ', "")];

/// MVD order no. 310 of 26 May 1997 (Russian foreign passports until 2010):
/// the differences from the ICAO table above. е and ё are "ye" at the start
/// of a word and after a vowel, ъ or ь (handled in code).
const RUSSIA_PRE_2010_OVERRIDES: &[(char, &str)] = &[
    ('й', "y"),
    ('ю', "yu"),
    ('я', "ya"),
    ('ъ', ""),
    ('є', "ye"),
    ('ї', "yi"),
];

fn is_cyrillic_vowel_or_sign(c: char) -> bool {
    "аеёиіїоуыэюяєъь".contains(c)
}

fn lookup(table: &[(char, &'static str)], c: char) -> Option<&'static str> {
    table.iter().find(|(k, _)| *k == c).map(|(_, v)| *v)
}

/// The Latin for one lowercase Cyrillic letter, given the previous letter of
/// the same word (`None` at the start of a word).
fn letter(standard: Standard, c: char, previous: Option<char>) -> Option<&'static str> {
    match standard {
        Standard::Kmu2010 => {
            if c == 'г' && previous == Some('з') {
                return Some("gh");
            }
            KMU_2010
                .iter()
                .find(|(k, _, _)| *k == c)
                .map(|(_, inner, initial)| if previous.is_none() { *initial } else { *inner })
        }
        Standard::Icao2014 => lookup(ICAO_2014, c),
        Standard::Russia2010 => lookup(RUSSIA_2010_OVERRIDES, c).or_else(|| lookup(ICAO_2014, c)),
        Standard::RussiaPre2010 => {
            if (c == 'е' || c == 'ё') && previous.is_none_or(is_cyrillic_vowel_or_sign) {
                return Some("ye");
            }
            lookup(RUSSIA_PRE_2010_OVERRIDES, c).or_else(|| lookup(ICAO_2014, c))
        }
    }
}

/// Transliterates Cyrillic text under `standard`, keeping everything else.
/// Case follows the source: a capital letter gives a capitalised Latin group,
/// a word in capitals stays in capitals.
pub fn transliterate(text: &str, standard: Standard) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for word in split_keep_separators(text) {
        let all_caps = word.chars().filter(|c| c.is_alphabetic()).count() > 1
            && word
                .chars()
                .filter(|c| c.is_alphabetic())
                .all(|c| c.is_uppercase());
        let mut previous: Option<char> = None;
        for c in word.chars() {
            if is_apostrophe(c) {
                // Not transliterated in any of the systems, and does not
                // start a new word.
                continue;
            }
            let lower = c.to_lowercase().next().unwrap_or(c);
            match letter(standard, lower, previous) {
                Some(latin) => {
                    if all_caps {
                        out.push_str(&latin.to_uppercase());
                    } else if c.is_uppercase() {
                        let mut chars = latin.chars();
                        if let Some(first) = chars.next() {
                            out.extend(first.to_uppercase());
                            out.push_str(chars.as_str());
                        }
                    } else {
                        out.push_str(latin);
                    }
                }
                None => out.push(c),
            }
            previous = if lower.is_alphabetic() {
                Some(lower)
            } else {
                None
            };
        }
    }
    out
}

/// Splits into runs of word characters (letters and apostrophes) and
/// separators, so that word-initial rules apply after spaces and hyphens.
fn split_keep_separators(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_word = None;
    for (i, c) in text.char_indices() {
        let word_char = c.is_alphabetic() || is_apostrophe(c);
        if in_word != Some(word_char) {
            if i > start {
                parts.push(&text[start..i]);
            }
            start = i;
            in_word = Some(word_char);
        }
    }
    if start < text.len() {
        parts.push(&text[start..]);
    }
    parts
}

/// True when the text contains at least one Cyrillic letter.
pub fn has_cyrillic(text: &str) -> bool {
    text.chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c))
}

/// Latin digraphs of the passport systems (and of English usage) reduced to a
/// single symbol, longest first. The symbols (capitals) are private to the
/// key, which keeps it ASCII for byte-wise string similarity. There is no
/// "th": KMU writes тг as "th" where ICAO writes "tg".
const LATIN_GROUPS: &[(&str, char)] = &[
    ("shch", 'Q'),
    ("sch", 'Q'),
    ("zh", 'Z'),
    ("ch", 'C'),
    ("sh", 'S'),
    // kh/h/g: Ukrainian г is "h", Russian г is "g", х is "kh" in both.
    ("kh", 'g'),
    ("gh", 'g'),
    ("tc", 'T'),
    ("ts", 'T'),
    ("tz", 'T'),
    ("ph", 'f'),
    ("ck", 'k'),
    ("x", 'k'),
];

/// The spelling-insensitive key of a name or place: lowercase Latin in which
/// every passport system and the common English spellings coincide.
///
/// Cyrillic is first romanised (the choice of system does not matter, they
/// all reduce to the same key). Then: kh/h/g become g; ts/tc/tz/c become one
/// letter; e, y, j and i become i (except a word-initial e) and runs of i collapse (so ye/ie/e,
/// iy/yi/ii/y and Andrii/Andrei/Andrey meet); x is ks; w is v; doubled
/// letters are single; spaces, hyphens and apostrophes vanish; the Russian
/// feminine adjectival ending -aia (-ая) becomes -a like Ukrainian -а.
pub fn spelling_key(text: &str) -> String {
    let normal = normalize(text);
    let latin = if has_cyrillic(&normal) {
        transliterate(&normal, Standard::Icao2014)
    } else {
        normal
    };
    let letters: Vec<char> = if latin.is_ascii() {
        // No diacritics to fold; byte by byte (most keys are of ASCII).
        let mut letters = Vec::with_capacity(latin.len());
        letters.extend(
            latin
                .bytes()
                .filter(u8::is_ascii_alphabetic)
                .map(char::from),
        );
        letters
    } else {
        latin
            .chars()
            .filter(|c| c.is_alphabetic())
            .map(fold_latin_diacritic)
            .collect()
    };
    let mut symbols: Vec<char> = Vec::with_capacity(letters.len());
    let mut i = 0;
    // A word-initial e (Е, Є, Э; "E", "Ye", "Ie") stays distinct from i so
    // that Егор and Игорь, Елена and Ирина do not meet.
    if let Some(len) = ["ye", "ie", "je", "e"]
        .iter()
        .find(|p| letters.iter().copied().take(p.len()).eq(p.chars()))
        .map(|p| p.len())
    {
        symbols.push('e');
        i = len;
    }
    'outer: while i < letters.len() {
        for (group, symbol) in LATIN_GROUPS {
            let len = group.len();
            // The first letter rules out most groups at once.
            if letters[i] == char::from(group.as_bytes()[0])
                && i + len <= letters.len()
                && letters[i..i + len].iter().copied().eq(group.chars())
            {
                if *group == "x" {
                    symbols.extend(['k', 's']);
                } else {
                    symbols.push(*symbol);
                }
                i += len;
                continue 'outer;
            }
        }
        symbols.push(match letters[i] {
            'h' => 'g',
            'e' | 'y' | 'j' => 'i',
            'c' => 'T',
            'w' => 'v',
            'q' => 'k',
            other => other,
        });
        i += 1;
    }
    symbols.dedup();
    let mut key: String = symbols.into_iter().collect();
    if key.ends_with("aia") && key.len() > 4 {
        key.truncate(key.len() - 2);
    }
    key
}

/// Latin letters with diacritics (scholarly and Czech-style transliteration,
/// German and French spellings) reduced to their base letter; š, č, ž become
/// the digraphs they stand for.
fn fold_latin_diacritic(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ä' | 'ã' | 'å' => 'a',
        'è' | 'é' | 'ê' | 'ë' | 'ě' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ò' | 'ó' | 'ô' | 'ö' | 'õ' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'ů' => 'u',
        'ý' | 'ÿ' => 'y',
        'ñ' | 'ň' => 'n',
        'ç' | 'č' => 'C',
        'š' => 'S',
        'ž' => 'Z',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zgh_only_after_z() {
        assert_eq!(transliterate("Згорани", Standard::Kmu2010), "Zghorany");
        assert_eq!(transliterate("Гадяч", Standard::Kmu2010), "Hadiach");
    }

    #[test]
    fn word_start_rule_applies_after_hyphen_and_space() {
        assert_eq!(transliterate("Яків Юрій", Standard::Kmu2010), "Yakiv Yurii");
        assert_eq!(transliterate("Ганна-Єва", Standard::Kmu2010), "Hanna-Yeva");
    }

    #[test]
    fn capitals_stay_capitals() {
        assert_eq!(transliterate("ЩУКА", Standard::Icao2014), "SHCHUKA");
    }

    #[test]
    fn key_merges_systems() {
        assert_eq!(spelling_key("Andrii"), spelling_key("Andrey"));
        assert_eq!(spelling_key("Олійник"), spelling_key("Oleinik"));
        assert_ne!(spelling_key("Petrenko"), spelling_key("Pavlenko"));
    }
}
