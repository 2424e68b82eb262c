//! Cross-script identity matching for exchange lists.
//!
//! The engine (everything but [`cli`]) is pure: it takes records as strings
//! and returns links. It normalises names (NFKC, case, apostrophes,
//! hyphens), reduces every Cyrillic and Latin spelling to one key
//! ([`translit`]), knows Ukrainian, Russian and English forms of given
//! names, patronymics and places ([`dictionary`]), blocks candidate pairs,
//! fits a Fellegi-Sunter model by EM ([`model`]) and assigns links one to
//! one ([`matcher`]).

pub mod blocking;
pub mod cli;
pub mod compare;
pub mod date;
pub mod dictionary;
pub mod error;
pub mod matcher;
pub mod model;
pub mod normalize;
pub mod schema;
pub mod translit;
pub mod values;

pub use cli::{MatchArgs, run};
pub use error::MatchError;
pub use matcher::{Link, Matcher, Record, RecordList, Settings};
pub use schema::{FieldKind, FieldSpec, NamePart, Schema};
