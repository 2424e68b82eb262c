//! The `truce match` command: the only module that touches files and the
//! terminal. Messages carry counts, file names, lines and column names, never
//! the personal data in the lists.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::MatchError;
use crate::matcher::{Link, Matcher, RecordList, Settings};
use crate::model::Model;
use crate::schema::{ConfigFile, Schema};

/// Link the people of two lists across scripts and spellings.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "match")]
pub struct MatchArgs {
    /// Left list (CSV with a header row).
    pub left: PathBuf,
    /// Right list (CSV with a header row).
    pub right: PathBuf,
    /// Where to write `left_id,right_id,score,explanation` (default: stdout).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Write every candidate pair above the review threshold instead of one
    /// link per person.
    #[arg(long)]
    pub all: bool,
    /// TOML file mapping columns to kinds (see `ConfigFile`).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Minimum match probability of a link (default 0.5).
    #[arg(long)]
    pub threshold: Option<f64>,
    /// Minimum probability of a candidate written with `--all` (default 0.05).
    #[arg(long)]
    pub review_threshold: Option<f64>,
    /// Use a model fitted earlier (from `--save-model`) instead of fitting one.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Save the fitted model for later incremental runs.
    #[arg(long)]
    pub save_model: Option<PathBuf>,
    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Runs `truce match`.
pub fn run(args: &MatchArgs) -> Result<(), MatchError> {
    let config = match &args.config {
        Some(path) => ConfigFile::parse(&read_to_string(path)?)?,
        None => ConfigFile::default(),
    };
    let schema = config.schema()?;
    let mut settings = Settings {
        one_to_one: !args.all,
        ..Settings::default()
    };
    if let Some(t) = args.threshold.or(config.threshold) {
        settings.threshold = t;
    }
    if let Some(t) = args.review_threshold.or(config.review_threshold) {
        settings.review_threshold = t;
    }
    let model = match &args.model {
        Some(path) => Some(
            serde_json::from_str::<Model>(&read_to_string(path)?).map_err(|e| {
                MatchError::Model {
                    path: path.clone(),
                    problem: e.to_string(),
                }
            })?,
        ),
        None => None,
    };
    let (left, right) = rayon::join(
        || read_records(&args.left, &schema),
        || read_records(&args.right, &schema),
    );
    let (left, right) = (left?, right?);
    let passes = if model.is_some() { 1 } else { 2 };
    let bar = progress_bar(args.quiet, (left.len() * passes) as u64);
    let tick = |n: u64| bar.inc(n);
    let (left_count, right_count) = (left.len(), right.len());
    let mut matcher = Matcher::from_lists(schema, settings, left, right, model, &tick)?;
    let links = matcher.link(&tick);
    bar.finish_and_clear();
    if let Some(path) = &args.save_model {
        let json =
            serde_json::to_string_pretty(matcher.model()).expect("a model always serialises");
        std::fs::write(path, json).map_err(|source| MatchError::Write {
            path: path.clone(),
            source,
        })?;
    }
    write_links(args.output.as_deref(), &links)?;
    if !args.quiet {
        eprintln!(
            "{} links between {left_count} left and {right_count} right records (EM iterations: {})",
            links.len(),
            matcher.model().iterations
        );
    }
    // Freeing a million small allocations takes a noticeable share of a
    // large run and nothing waits for it: it happens on another thread.
    std::thread::spawn(move || drop((matcher, links)));
    Ok(())
}

fn progress_bar(quiet: bool, length: u64) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} matching [{bar:40}] {pos}/{len} records ({eta})")
            .expect("the template is valid")
            .progress_chars("=> "),
    );
    bar
}

fn read_to_string(path: &Path) -> Result<String, MatchError> {
    std::fs::read_to_string(path).map_err(|source| MatchError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a list, mapping its header to the schema. Errors name the file, the
/// line and the field, never the content. Each distinct text of a field is
/// kept once (and checked to be UTF-8 once); columns outside the schema are
/// not read.
pub fn read_records(path: &Path, schema: &Schema) -> Result<RecordList, MatchError> {
    let data = std::fs::read(path).map_err(|source| MatchError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let reading = Reading { path, schema };
    match reading.plain(&data)? {
        Some(records) => Ok(records),
        None => reading.csv(&data),
    }
}

/// The high bit of each byte of `word` that is `,`, LF, CR or `"`: the
/// bytes that matter in CSV, eight at a time.
fn special_in_word(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    // Exactly the bytes equal to `c` (no borrow between bytes).
    let equal = |c: u8| {
        let x = word ^ (u64::from(c) * ONES);
        !(((x & LOW7) + LOW7) | x) & !LOW7
    };
    equal(b',') | equal(b'\n') | equal(b'\r') | equal(b'"')
}

/// `data` in 64-bit words, the last padded with zeros (not special).
fn words(data: &[u8]) -> impl Iterator<Item = u64> + '_ {
    data.chunks(8)
        .map(|chunk| match <[u8; 8]>::try_from(chunk) {
            Ok(bytes) => u64::from_le_bytes(bytes),
            Err(_) => {
                let mut bytes = [0u8; 8];
                bytes[..chunk.len()].copy_from_slice(chunk);
                u64::from_le_bytes(bytes)
            }
        })
}

/// Positions of the bytes `,`, LF, CR and `"` in `data`, in order.
fn special_bytes(data: &[u8]) -> impl Iterator<Item = usize> + '_ {
    words(data).enumerate().flat_map(|(k, word)| {
        let mut found = special_in_word(word);
        std::iter::from_fn(move || {
            (found != 0).then(|| {
                let at = k * 8 + found.trailing_zeros() as usize / 8;
                found &= found - 1;
                at
            })
        })
    })
}

/// One list being read: what the errors name and the columns wanted.
struct Reading<'a> {
    path: &'a Path,
    schema: &'a Schema,
}

impl Reading<'_> {
    fn problem_at(&self, line: u64, problem: String) -> MatchError {
        MatchError::Csv {
            path: self.path.to_path_buf(),
            line,
            problem,
        }
    }

    fn not_utf8(&self, line: u64, column: usize) -> MatchError {
        self.problem_at(line, format!("field {} is not valid UTF-8", column + 1))
    }

    /// The positions of the identifier and of the schema's fields in the
    /// header.
    fn columns<'h>(
        &self,
        headers: impl Iterator<Item = &'h str> + Clone,
    ) -> Result<(usize, Vec<usize>), MatchError> {
        let column = |name: &str| -> Result<usize, MatchError> {
            headers
                .clone()
                .position(|h| h.trim_start_matches('\u{feff}').trim() == name)
                .ok_or_else(|| MatchError::MissingColumn {
                    path: self.path.to_path_buf(),
                    column: name.to_string(),
                })
        };
        let id_column = column(&self.schema.id_column)?;
        let field_columns = self
            .schema
            .fields
            .iter()
            .map(|f| column(&f.column))
            .collect::<Result<_, _>>()?;
        Ok((id_column, field_columns))
    }

    /// Adds one record whose line starts at `line`.
    fn add<'r>(
        &self,
        records: &mut RecordList,
        line: u64,
        (id_column, field_columns): &(usize, Vec<usize>),
        field: impl Fn(usize) -> &'r [u8],
    ) -> Result<(), MatchError> {
        let id = std::str::from_utf8(field(*id_column))
            .map_err(|_| self.not_utf8(line, *id_column))?
            .trim();
        if id.is_empty() {
            return Err(
                self.problem_at(line, format!("field `{}` is empty", self.schema.id_column))
            );
        }
        records
            .push(id, field_columns.iter().map(|&c| field(c)))
            .map_err(|at| self.not_utf8(line, field_columns[at]))
    }

    /// Reads a file in the plain form most lists have: no quotes, lines
    /// ending in LF or CRLF, no empty line, every line with the header's
    /// number of fields. Anything else gives `None`, and the CSV reader
    /// takes the file (and reports what is wrong with it). The file is
    /// scanned eight bytes at a time for the four bytes that matter instead
    /// of through the CSV state machine: reading took a seventh of a large
    /// run.
    fn plain(&self, data: &[u8]) -> Result<Option<RecordList>, MatchError> {
        let header_end = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
        let header = data[..header_end]
            .strip_suffix(b"\r")
            .unwrap_or(&data[..header_end]);
        if header.contains(&b'"') || header.contains(&b'\r') {
            return Ok(None);
        }
        let Ok(header) = std::str::from_utf8(header) else {
            return Ok(None);
        };
        let layout = self.columns(header.split(','))?;
        let width = header.split(',').count();
        let mut records = RecordList::new(layout.1.len());
        let body = data.get(header_end + 1..).unwrap_or_default();
        // Field starts of the current line, and the end past its last field.
        let mut bounds: Vec<usize> = Vec::with_capacity(width + 1);
        let mut line_start = 0;
        let mut line_number = 2;
        let mut line = |start: usize, end: usize, bounds: &mut Vec<usize>, number: u64| {
            if end == start {
                return Ok(false); // an empty line
            }
            bounds.push(end + 1);
            if bounds.len() != width + 1 {
                return Ok(false);
            }
            let field = |c: usize| &body[bounds[c]..bounds[c + 1] - 1];
            self.add(&mut records, number, &layout, field)
                .map(|()| true)
        };
        bounds.push(0);
        for at in special_bytes(body) {
            match body[at] {
                b',' => bounds.push(at + 1),
                b'\n' => {
                    let end = if at > line_start && body[at - 1] == b'\r' {
                        at - 1
                    } else {
                        at
                    };
                    if !line(line_start, end, &mut bounds, line_number)? {
                        return Ok(None);
                    }
                    line_start = at + 1;
                    line_number += 1;
                    bounds.clear();
                    bounds.push(line_start);
                }
                b'\r' if body.get(at + 1) == Some(&b'\n') => {}
                _ => return Ok(None), // a quote, or a CR alone
            }
        }
        if line_start < body.len() && !line(line_start, body.len(), &mut bounds, line_number)? {
            return Ok(None);
        }
        Ok(Some(records))
    }

    /// Reads any CSV file.
    fn csv(&self, data: &[u8]) -> Result<RecordList, MatchError> {
        let mut reader = csv::ReaderBuilder::new()
            // Field values are normalised by the engine; only identifiers
            // are trimmed here.
            .from_reader(data);
        let csv_error = |error: csv::Error| -> MatchError {
            let line = error.position().map_or(0, |p| p.line());
            match error.kind() {
                csv::ErrorKind::UnequalLengths {
                    expected_len, len, ..
                } => self.problem_at(
                    line,
                    format!("{len} fields where the header has {expected_len}"),
                ),
                csv::ErrorKind::Utf8 { err, .. } => self.not_utf8(line, err.field()),
                csv::ErrorKind::Io(e) => self.problem_at(line, format!("read error: {e}")),
                _ => self.problem_at(line, "malformed CSV".to_string()),
            }
        };
        let headers = reader.headers().map_err(csv_error)?.clone();
        let layout = self.columns(headers.iter())?;
        let mut records = RecordList::new(layout.1.len());
        // One record buffer for the whole file.
        let mut row = csv::ByteRecord::new();
        while reader.read_byte_record(&mut row).map_err(csv_error)? {
            let line = row.position().map_or(0, |p| p.line());
            let field = |c: usize| row.get(c).unwrap_or_default();
            self.add(&mut records, line, &layout, field)?;
        }
        Ok(records)
    }
}

/// A probability written with four decimals into `out`, as
/// `format!("{:.4}")` writes it, without the formatting machinery (which
/// took a quarter of the time of writing a large result).
fn four_decimals(score: f64, out: &mut Vec<u8>) {
    out.clear();
    let scaled = score * 10_000.0;
    // Near a tie the product's rounding could decide: the exact formatter
    // does (rare).
    let tie = (scaled - scaled.floor() - 0.5).abs() < 1e-6;
    if !(0.0..=1.0).contains(&score) || tie {
        out.extend_from_slice(format!("{score:.4}").as_bytes());
        return;
    }
    let n = scaled.round() as u32;
    out.push(b'0' + (n / 10_000) as u8);
    out.push(b'.');
    for place in [1000, 100, 10, 1] {
        out.push(b'0' + (n % 10_000 / place % 10) as u8);
    }
}

fn write_links(path: Option<&Path>, links: &[Link]) -> Result<(), MatchError> {
    let target = path.map_or_else(|| PathBuf::from("<stdout>"), Path::to_path_buf);
    let failed = |source| MatchError::Write {
        path: target.clone(),
        source,
    };
    let sink: Box<dyn Write> = match path {
        Some(p) => Box::new(File::create(p).map_err(failed)?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut writer = BufWriter::new(sink);
    let mut line = Vec::with_capacity(256);
    csv_line(
        &mut line,
        [&b"left_id"[..], b"right_id", b"score", b"explanation"],
    );
    writer.write_all(&line).map_err(failed)?;
    let mut score = Vec::with_capacity(8);
    for link in links {
        four_decimals(link.score, &mut score);
        csv_line(
            &mut line,
            [
                link.left_id.as_bytes(),
                link.right_id.as_bytes(),
                &score,
                link.explanation.as_bytes(),
            ],
        );
        writer.write_all(&line).map_err(failed)?;
    }
    writer.flush().map_err(failed)
}

/// One CSV line into `out` as the csv crate writes it by default: fields
/// quoted only when they hold a comma, quote, CR or LF, quotes doubled, LF
/// at the end. Written by hand because the general writer took a tenth of
/// the time of writing a large result.
fn csv_line<'a>(out: &mut Vec<u8>, fields: impl IntoIterator<Item = &'a [u8]>) {
    out.clear();
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if words(field).any(|word| special_in_word(word) != 0) {
            out.push(b'"');
            for &b in field {
                if b == b'"' {
                    out.push(b'"');
                }
                out.push(b);
            }
            out.push(b'"');
        } else {
            out.extend_from_slice(field);
        }
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::{Reading, four_decimals};
    use crate::schema::Schema;
    use crate::values::Sequence;

    /// Wherever the plain reader takes a file, it reads what the CSV reader
    /// reads, or fails with the same error.
    #[test]
    fn plain_reading_agrees_with_the_csv_reader() {
        let schema = Schema::default();
        let path = std::path::Path::new("list.csv");
        let reading = Reading {
            path,
            schema: &schema,
        };
        let pieces: [&[u8]; 14] = [
            b"a",
            b"B",
            b"\xd0\x9a",
            b"7",
            b" ",
            b"-",
            b".",
            b",",
            b"\"",
            b"\r",
            b"\xff",
            b"",
            b"",
            b"",
        ];
        let mut sequence = Sequence::new(21);
        let mut taken = 0;
        for _ in 0..3_000 {
            let mut data =
                b"id,family_name,given_name,extra,patronymic,date_of_birth,place_of_birth".to_vec();
            let lines = sequence.below(5);
            for _ in 0..lines {
                data.extend_from_slice(if sequence.below(8) == 0 {
                    b"\r\n"
                } else {
                    b"\n"
                });
                for column in 0..7 {
                    if column > 0 {
                        data.push(b',');
                    }
                    // Mostly ordinary values; now and then a comma, quote,
                    // CR, bad byte or empty identifier.
                    let length = sequence.below(4) + u64::from(column == 0);
                    for _ in 0..length {
                        let piece = if sequence.below(12) == 0 {
                            pieces[sequence.below(pieces.len() as u64) as usize]
                        } else {
                            pieces[sequence.below(4) as usize]
                        };
                        data.extend_from_slice(piece);
                    }
                }
            }
            if sequence.below(2) == 0 {
                data.push(b'\n');
            }
            // After a CRLF the CSV reader numbers the next line one too low;
            // the plain reader counts right, so lines are compared only in
            // files without CR.
            let crlf = data.contains(&b'\r');
            let text = |r: &Result<crate::matcher::RecordList, crate::MatchError>| match r {
                Ok(list) => format!("{:?}", list.records()),
                Err(e) if crlf => e.to_string().split(": ").skip(2).collect(),
                Err(e) => e.to_string(),
            };
            match reading.plain(&data) {
                Ok(None) => {}
                plain => {
                    taken += 1;
                    let plain = plain.map(|list| list.expect("taken"));
                    assert_eq!(
                        text(&plain),
                        text(&reading.csv(&data)),
                        "{}",
                        String::from_utf8_lossy(&data)
                    );
                }
            }
        }
        assert!(taken > 1_000, "the plain reader takes most files ({taken})");
    }

    /// Lines as the csv crate writes them, for fields with and without
    /// the bytes that need quoting.
    #[test]
    fn links_written_as_the_csv_crate_writes_them() {
        let pieces: [&[u8]; 9] = [
            b"a",
            b"7",
            b" ",
            b";",
            b",",
            b"\"",
            b"\r",
            b"\n",
            "к".as_bytes(),
        ];
        let mut sequence = Sequence::new(17);
        let mut line = Vec::new();
        for _ in 0..5_000 {
            let fields: Vec<Vec<u8>> = (0..4)
                .map(|_| {
                    let length = sequence.below(5);
                    (0..length)
                        .flat_map(|_| pieces[sequence.below(pieces.len() as u64) as usize].to_vec())
                        .collect()
                })
                .collect();
            let mut writer = csv::Writer::from_writer(Vec::new());
            writer.write_record(&fields).expect("in memory");
            let expected = writer.into_inner().expect("in memory");
            super::csv_line(&mut line, fields.iter().map(Vec::as_slice));
            assert_eq!(line, expected, "{fields:?}");
        }
    }

    #[test]
    fn four_decimals_as_the_formatter_writes_them() {
        let mut out = Vec::new();
        let mut sequence = Sequence::new(11);
        let mut values = vec![
            0.0, 1.0, 0.5, 0.99995, 0.00005, 0.12345, 0.98765, 1.5, -0.25,
        ];
        let scale = 1u64 << 31;
        for _ in 0..100_000 {
            values.push(sequence.below(scale) as f64 / scale as f64);
        }
        for value in values {
            four_decimals(value, &mut out);
            assert_eq!(out, format!("{value:.4}").into_bytes(), "{value}");
        }
    }
}
