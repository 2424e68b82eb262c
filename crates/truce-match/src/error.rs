//! The crate's one error type. Messages name files, lines and columns, never
//! the personal data in them.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum MatchError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: line {line}: {problem}")]
    Csv {
        path: PathBuf,
        line: u64,
        problem: String,
    },
    #[error("{path}: missing column `{column}`")]
    MissingColumn { path: PathBuf, column: String },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("invalid model file {path}: {problem}")]
    Model { path: PathBuf, problem: String },
    #[error("model does not fit the columns: {0}")]
    ModelMismatch(String),
}
