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
    let file = File::open(path).map_err(|source| MatchError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = csv::ReaderBuilder::new()
        // Field values are normalised by the engine; only identifiers are
        // trimmed here.
        .from_reader(file);
    let problem_at = |line: u64, problem: String| MatchError::Csv {
        path: path.to_path_buf(),
        line,
        problem,
    };
    let not_utf8 = |column: usize| format!("field {} is not valid UTF-8", column + 1);
    let csv_error = |error: csv::Error| -> MatchError {
        let line = error.position().map_or(0, |p| p.line());
        let problem = match error.kind() {
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => {
                format!("{len} fields where the header has {expected_len}")
            }
            csv::ErrorKind::Utf8 { err, .. } => not_utf8(err.field()),
            csv::ErrorKind::Io(e) => format!("read error: {e}"),
            _ => "malformed CSV".to_string(),
        };
        problem_at(line, problem)
    };
    let headers = reader.headers().map_err(csv_error)?.clone();
    let column = |name: &str| -> Result<usize, MatchError> {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}').trim() == name)
            .ok_or_else(|| MatchError::MissingColumn {
                path: path.to_path_buf(),
                column: name.to_string(),
            })
    };
    let id_column = column(&schema.id_column)?;
    let field_columns: Vec<usize> = schema
        .fields
        .iter()
        .map(|f| column(&f.column))
        .collect::<Result<_, _>>()?;
    let mut records = RecordList::new(field_columns.len());
    // One record buffer for the whole file.
    let mut row = csv::ByteRecord::new();
    while reader.read_byte_record(&mut row).map_err(csv_error)? {
        let line = row.position().map_or(0, |p| p.line());
        let id = std::str::from_utf8(row.get(id_column).unwrap_or_default())
            .map_err(|_| problem_at(line, not_utf8(id_column)))?
            .trim();
        if id.is_empty() {
            return Err(problem_at(
                line,
                format!("field `{}` is empty", schema.id_column),
            ));
        }
        records
            .push(
                id,
                field_columns
                    .iter()
                    .map(|&c| row.get(c).unwrap_or_default()),
            )
            .map_err(|field| problem_at(line, not_utf8(field_columns[field])))?;
    }
    Ok(records)
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
    let sink: Box<dyn Write> = match path {
        Some(p) => Box::new(File::create(p).map_err(|source| MatchError::Write {
            path: target.clone(),
            source,
        })?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut writer = csv::Writer::from_writer(BufWriter::new(sink));
    let io = |e: csv::Error| MatchError::Write {
        path: target.clone(),
        source: std::io::Error::other(e.to_string()),
    };
    writer
        .write_record(["left_id", "right_id", "score", "explanation"])
        .map_err(io)?;
    let mut score = Vec::with_capacity(8);
    for link in links {
        four_decimals(link.score, &mut score);
        writer
            .write_record([
                link.left_id.as_bytes(),
                link.right_id.as_bytes(),
                &score,
                link.explanation.as_bytes(),
            ])
            .map_err(io)?;
    }
    writer.flush().map_err(|source| MatchError::Write {
        path: target.clone(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::four_decimals;
    use crate::values::Sequence;

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
