//! Text normalisation shared by every comparison: Unicode NFKC, lower case,
//! one apostrophe convention, one hyphen, single spaces.

use unicode_normalization::UnicodeNormalization;

/// The apostrophes people type in Ukrainian names (В'ячеслав, Дар’я,
/// Мар'ян): ASCII, typographic, modifier letter, grave and prime.
pub fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '’' | 'ʼ' | '‘' | '`' | '′' | 'ʹ')
}

fn is_hyphen(c: char) -> bool {
    matches!(c, '-' | '‐' | '‑' | '‒' | '–' | '—' | '−' | '­' | '_')
}

/// NFKC, lower case, apostrophes removed (none of the transliteration
/// systems writes them and clerks drop them), every dash a hyphen without
/// spaces around it, other punctuation a space, runs of spaces single.
pub fn normalize(text: &str) -> String {
    // NFKC leaves ASCII unchanged; skipping it halves the cost of preparing
    // Latin-only lists.
    if text.is_ascii() {
        fold_ascii(text.as_bytes())
    } else {
        fold(text.nfkc().flat_map(char::to_lowercase), text.len())
    }
}

/// `fold` for ASCII text, byte by byte (most lists are Latin; this runs
/// for every distinct value).
fn fold_ascii(text: &[u8]) -> String {
    let mut out = Vec::with_capacity(text.len());
    let mut pending_space = false;
    for &c in text {
        match c {
            b'\'' | b'`' => {}
            b'-' | b'_' => {
                if out.last().is_some_and(|&last| last != b'-') {
                    out.push(b'-');
                }
                pending_space = false;
            }
            _ if c.is_ascii_alphanumeric() => {
                if pending_space && out.last().is_some_and(|&last| last != b'-') {
                    out.push(b' ');
                }
                pending_space = false;
                out.push(c.to_ascii_lowercase());
            }
            _ => pending_space = true,
        }
    }
    while out.last() == Some(&b'-') {
        out.pop();
    }
    String::from_utf8(out).expect("ASCII")
}

fn fold(chars: impl Iterator<Item = char>, capacity: usize) -> String {
    let mut out = String::with_capacity(capacity);
    let mut pending_space = false;
    for c in chars {
        if is_apostrophe(c) {
            continue;
        }
        if is_hyphen(c) {
            while out.ends_with(' ') {
                out.pop();
            }
            if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
            pending_space = false;
            continue;
        }
        if c.is_alphanumeric() {
            if pending_space && !out.is_empty() && !out.ends_with('-') {
                out.push(' ');
            }
            pending_space = false;
            out.push(c);
        } else {
            pending_space = true;
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apostrophes_and_hyphens() {
        assert_eq!(normalize("В’ЯЧЕСЛАВ"), "вячеслав");
        assert_eq!(normalize("Дар'я"), normalize("Дарʼя"));
        assert_eq!(normalize("Римський – Корсаков"), "римський-корсаков");
        assert_eq!(normalize("  o'neil ,  john "), "oneil john");
    }

    /// The byte-wise path for ASCII gives what the general one gives.
    #[test]
    fn ascii_path_equals_the_general_one() {
        let pieces = [
            "a", "Z", "7", " ", "  ", "-", "_", "'", "`", ",", ".", "--", " - ",
        ];
        let mut sequence = crate::values::Sequence::new(9);
        for _ in 0..20_000 {
            let length = sequence.below(12);
            let text: String = (0..length)
                .map(|_| pieces[sequence.below(pieces.len() as u64) as usize])
                .collect();
            assert_eq!(
                fold_ascii(text.as_bytes()),
                fold(text.chars().map(|c| c.to_ascii_lowercase()), text.len()),
                "{text:?}"
            );
        }
    }

    #[test]
    fn nfkc_folds_compatibility_forms() {
        // Fullwidth Latin and a decomposed й both normalise.
        assert_eq!(normalize("ＡＢＣ"), "abc");
        assert_eq!(normalize("и\u{0306}"), "й");
    }
}
