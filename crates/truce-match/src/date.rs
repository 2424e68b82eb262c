//! Dates of birth as lists write them: 05.02.1978, 1978-02-05, 5/2/1978,
//! 19780205, "1978", or February 1978 as 02.1978. Parsing keeps
//! impossible dates (31.02.) because a typo is still evidence.

/// A possibly partial date; absent parts are `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PartialDate {
    pub year: Option<u16>,
    pub month: Option<u8>,
    pub day: Option<u8>,
}

impl PartialDate {
    pub fn is_empty(&self) -> bool {
        self.year.is_none()
    }

    pub fn is_full(&self) -> bool {
        self.year.is_some() && self.month.is_some() && self.day.is_some()
    }

    /// Year, then the smaller and larger of day and month: equal for a date
    /// and its day/month swap, used as a blocking key.
    pub fn swap_insensitive_key(&self) -> Option<(u16, u8, u8)> {
        let (y, m, d) = (self.year?, self.month?, self.day?);
        Some((y, m.min(d), m.max(d)))
    }
}

/// Parses a date in the formats above. Returns an empty date for text that
/// holds no plausible year.
pub fn parse_date(text: &str) -> PartialDate {
    let groups: Vec<&str> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|g| !g.is_empty())
        .collect();
    let num = |s: &str| s.parse::<u32>().ok();
    let plausible_year = |y: u32| (1850..=2100).contains(&y);
    match groups.as_slice() {
        [one] if one.len() == 8 => {
            // YYYYMMDD (FEBRL, ISO basic) unless it only makes sense as DDMMYYYY.
            let (a, b, c) = (num(&one[..4]), num(&one[4..6]), num(&one[6..]));
            if let (Some(y), Some(m), Some(d)) = (a, b, c) {
                if plausible_year(y) {
                    return full(y, m, d);
                }
            }
            let (d, m, y) = (num(&one[..2]), num(&one[2..4]), num(&one[4..]));
            match (d, m, y) {
                (Some(d), Some(m), Some(y)) if plausible_year(y) => full(y, m, d),
                _ => PartialDate::default(),
            }
        }
        [one] if one.len() == 4 => match num(one) {
            Some(y) if plausible_year(y) => PartialDate {
                year: Some(y as u16),
                ..Default::default()
            },
            _ => PartialDate::default(),
        },
        [a, b] => match (num(a), num(b)) {
            (Some(m), Some(y)) if b.len() == 4 && plausible_year(y) => month_year(y, m),
            (Some(y), Some(m)) if a.len() == 4 && plausible_year(y) => month_year(y, m),
            _ => PartialDate::default(),
        },
        [a, b, c] => match (num(a), num(b), num(c)) {
            (Some(y), Some(m), Some(d)) if a.len() == 4 && plausible_year(y) => full(y, m, d),
            (Some(d), Some(m), Some(y)) if c.len() == 4 && plausible_year(y) => full(y, m, d),
            (Some(d), Some(m), Some(y)) if c.len() == 2 => {
                // Two-digit years: the lists concern living adults.
                full(if y > 30 { 1900 + y } else { 2000 + y }, m, d)
            }
            _ => PartialDate::default(),
        },
        _ => PartialDate::default(),
    }
}

fn full(y: u32, m: u32, d: u32) -> PartialDate {
    PartialDate {
        year: Some(y as u16),
        month: u8::try_from(m).ok().filter(|m| *m <= 99),
        day: u8::try_from(d).ok().filter(|d| *d <= 99),
    }
}

fn month_year(y: u32, m: u32) -> PartialDate {
    PartialDate {
        year: Some(y as u16),
        month: u8::try_from(m).ok().filter(|m| (1..=12).contains(m)),
        day: None,
    }
}

/// How two dates agree, best first. The order is the comparison's level
/// order in the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DateAgreement {
    Exact,
    DayMonthSwapped,
    /// One side is partial (year, or month and year) and agrees with the
    /// other where both are known.
    PartialAgrees,
    /// One digit typed wrong, two adjacent digits exchanged, or the year one
    /// off with day and month equal.
    Typo,
    /// Same year, day and month differ.
    SameYear,
    Different,
}

impl DateAgreement {
    pub const COUNT: usize = 6;

    pub fn describe(self) -> &'static str {
        match self {
            DateAgreement::Exact => "exact",
            DateAgreement::DayMonthSwapped => "day and month swapped",
            DateAgreement::PartialAgrees => "partial date agrees",
            DateAgreement::Typo => "one digit or the year off",
            DateAgreement::SameYear => "same year only",
            DateAgreement::Different => "different",
        }
    }
}

/// Compares two dates; `None` when either is missing.
pub fn compare_dates(a: &PartialDate, b: &PartialDate) -> Option<DateAgreement> {
    let (ya, yb) = (a.year?, b.year?);
    if a.is_full() && b.is_full() {
        let (ma, da, mb, db) = (a.month?, a.day?, b.month?, b.day?);
        if ya == yb && ma == mb && da == db {
            return Some(DateAgreement::Exact);
        }
        if ya == yb && ma == db && da == mb {
            return Some(DateAgreement::DayMonthSwapped);
        }
        if (ya.abs_diff(yb) == 1 && ma == mb && da == db) || digits_one_typo(a, b) {
            return Some(DateAgreement::Typo);
        }
        if ya == yb {
            return Some(DateAgreement::SameYear);
        }
        return Some(DateAgreement::Different);
    }
    let months_agree = match (a.month, b.month) {
        (Some(x), Some(y)) => x == y,
        _ => true,
    };
    if ya == yb && months_agree {
        Some(DateAgreement::PartialAgrees)
    } else if ya.abs_diff(yb) == 1 && months_agree {
        Some(DateAgreement::Typo)
    } else {
        Some(DateAgreement::Different)
    }
}

/// The two decimal digits of 0 to 99, tens in the low byte.
const TWO_DIGITS: [u16; 100] = {
    let mut table = [0u16; 100];
    let mut n = 0;
    while n < 100 {
        table[n] = (n / 10) as u16 | ((n % 10) as u16) << 8;
        n += 1;
    }
    table
};

/// The digits of YYYYMMDD, one per byte, the first in the lowest.
fn digits(d: &PartialDate) -> u64 {
    let y = usize::from(d.year.unwrap_or(0));
    let (m, dd) = (d.month.unwrap_or(0), d.day.unwrap_or(0));
    let two = |n: usize| u64::from(TWO_DIGITS[n % 100]);
    two(y / 100) | two(y) << 16 | two(usize::from(m)) << 32 | two(usize::from(dd)) << 48
}

/// One substituted digit or one exchange of adjacent digits in YYYYMMDD.
/// Runs for most candidate pairs, so on the eight digits at once.
fn digits_one_typo(a: &PartialDate, b: &PartialDate) -> bool {
    const LOW: u64 = 0x0101_0101_0101_0101;
    let (x, y) = (digits(a), digits(b));
    // The lowest bit of each byte tells whether the digits there differ
    // (digits fit in four bits).
    let mut differ = x ^ y;
    differ |= differ >> 2;
    differ |= differ >> 1;
    differ &= LOW;
    match differ.count_ones() {
        1 => true,
        2 => {
            let first = differ.trailing_zeros();
            let (p, q) = ((x >> first) & 0xffff, (y >> first) & 0xffff);
            // Adjacent, and the two digits exchanged.
            differ >> first == 0x0101 && p == ((q & 0xff) << 8 | q >> 8)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The word-wise typo test against the digit-by-digit definition.
    #[test]
    fn one_typo_as_defined_digit_by_digit() {
        let decimal = |d: &PartialDate| {
            let text = format!(
                "{:04}{:02}{:02}",
                d.year.unwrap_or(0) % 10_000,
                d.month.unwrap_or(0),
                d.day.unwrap_or(0)
            );
            let bytes: Vec<u8> = text.bytes().map(|c| c - b'0').collect();
            assert_eq!(digits(d).to_le_bytes().as_slice(), bytes.as_slice());
            bytes
        };
        let by_digit = |a: &PartialDate, b: &PartialDate| {
            let (x, y) = (decimal(a), decimal(b));
            let differing: Vec<usize> = (0..8).filter(|&i| x[i] != y[i]).collect();
            match differing.as_slice() {
                [_] => true,
                [i, j] => *j == i + 1 && x[*i] == y[*j] && x[*j] == y[*i],
                _ => false,
            }
        };
        let mut sequence = crate::values::Sequence::new(13);
        let mut date = |base: Option<&PartialDate>| {
            let mut d = base.copied().unwrap_or(PartialDate {
                year: Some(1900 + sequence.below(120) as u16),
                month: Some(1 + sequence.below(12) as u8),
                day: Some(1 + sequence.below(31) as u8),
            });
            // Near copies: a digit changed, or two swapped.
            match sequence.below(4) {
                0 => d.year = d.year.map(|y| y ^ (1 << sequence.below(4))),
                1 => d.day = d.day.map(|x| (x % 10) * 10 + x / 10),
                2 => d.month = d.month.map(|x| (x + 1) % 13),
                _ => {}
            }
            d
        };
        let mut typos = 0;
        for _ in 0..50_000 {
            let a = date(None);
            let b = date(Some(&a));
            assert_eq!(digits_one_typo(&a, &b), by_digit(&a, &b), "{a:?} {b:?}");
            typos += usize::from(by_digit(&a, &b));
        }
        assert!(typos > 5_000);
    }

    #[test]
    fn formats() {
        let d = PartialDate {
            year: Some(1978),
            month: Some(2),
            day: Some(5),
        };
        for text in [
            "05.02.1978",
            "1978-02-05",
            "5/2/1978",
            "19780205",
            "05.02.78",
        ] {
            assert_eq!(parse_date(text), d, "{text}");
        }
        assert_eq!(
            parse_date("1978"),
            PartialDate {
                year: Some(1978),
                ..Default::default()
            }
        );
        assert_eq!(parse_date("02.1978").month, Some(2));
        assert!(parse_date("").is_empty());
        assert!(parse_date("unknown").is_empty());
    }

    #[test]
    fn levels() {
        let p = parse_date;
        assert_eq!(
            compare_dates(&p("05.02.1978"), &p("1978-02-05")),
            Some(DateAgreement::Exact)
        );
        assert_eq!(
            compare_dates(&p("05.02.1978"), &p("02.05.1978")),
            Some(DateAgreement::DayMonthSwapped)
        );
        assert_eq!(
            compare_dates(&p("05.02.1978"), &p("1978")),
            Some(DateAgreement::PartialAgrees)
        );
        assert_eq!(
            compare_dates(&p("05.02.1978"), &p("05.02.1979")),
            Some(DateAgreement::Typo)
        );
        assert_eq!(
            compare_dates(&p("05.02.1978"), &p("05.02.1987")),
            Some(DateAgreement::Typo)
        );
        assert_eq!(
            compare_dates(&p("05.02.1978"), &p("17.09.1978")),
            Some(DateAgreement::SameYear)
        );
        assert_eq!(
            compare_dates(&p("05.02.1978"), &p("17.09.1961")),
            Some(DateAgreement::Different)
        );
        assert_eq!(compare_dates(&p("05.02.1978"), &p("")), None);
    }
}
