//! What each input column means. The default layout is the one truce's
//! lists use; other layouts (FEBRL, registry exports) are described by a small
//! TOML file.

use serde::{Deserialize, Serialize};

use crate::error::MatchError;

/// Which part of a person's name a column holds. Given and family parts are
/// also compared crosswise, because lists swap them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NamePart {
    Family,
    Given,
    Patronymic,
    Other,
}

/// How a column is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Name(NamePart),
    Date,
    Place,
    /// Exact codes: postcodes, document numbers, house numbers.
    Identifier,
    /// Addresses and other free text.
    Text,
}

impl FieldKind {
    /// Number of agreement levels, best first, the last meaning "different".
    pub fn level_count(self) -> usize {
        match self {
            FieldKind::Name(_) => 5,
            FieldKind::Date => crate::date::DateAgreement::COUNT,
            FieldKind::Place => 4,
            FieldKind::Identifier => 3,
            FieldKind::Text => 4,
        }
    }
}

/// One compared column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldSpec {
    pub column: String,
    pub kind: FieldKind,
}

/// The record layout: the identifier column and the compared columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    pub id_column: String,
    pub fields: Vec<FieldSpec>,
}

impl Default for Schema {
    /// `id,family_name,given_name,patronymic,date_of_birth,place_of_birth`.
    fn default() -> Self {
        let field = |column: &str, kind| FieldSpec {
            column: column.to_string(),
            kind,
        };
        Schema {
            id_column: "id".to_string(),
            fields: vec![
                field("family_name", FieldKind::Name(NamePart::Family)),
                field("given_name", FieldKind::Name(NamePart::Given)),
                field("patronymic", FieldKind::Name(NamePart::Patronymic)),
                field("date_of_birth", FieldKind::Date),
                field("place_of_birth", FieldKind::Place),
            ],
        }
    }
}

/// The TOML configuration file:
///
/// ```toml
/// id = "rec_id"
/// threshold = 0.5
/// [columns]
/// given_name = "given_name"
/// surname = "family_name"
/// date_of_birth = "date"
/// suburb = "place"
/// postcode = "identifier"
/// address_1 = "text"
/// ```
///
/// Column kinds: `family_name`, `given_name`, `patronymic`, `name`, `date`,
/// `place`, `identifier`, `text`, `ignore`. Columns keep file order.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub id: Option<String>,
    pub threshold: Option<f64>,
    pub review_threshold: Option<f64>,
    #[serde(default)]
    pub columns: toml::Table,
}

impl ConfigFile {
    pub fn parse(text: &str) -> Result<Self, MatchError> {
        toml::from_str(text).map_err(|e| MatchError::Config(e.message().to_string()))
    }

    /// The schema this file describes, or the default when it names no
    /// columns.
    pub fn schema(&self) -> Result<Schema, MatchError> {
        let mut schema = Schema::default();
        if let Some(id) = &self.id {
            schema.id_column = id.clone();
        }
        if self.columns.is_empty() {
            return Ok(schema);
        }
        schema.fields.clear();
        for (column, kind) in &self.columns {
            let kind_name = kind.as_str().ok_or_else(|| {
                MatchError::Config(format!("column kind for `{column}` must be a string"))
            })?;
            let kind = match kind_name {
                "family_name" => FieldKind::Name(NamePart::Family),
                "given_name" => FieldKind::Name(NamePart::Given),
                "patronymic" => FieldKind::Name(NamePart::Patronymic),
                "name" => FieldKind::Name(NamePart::Other),
                "date" => FieldKind::Date,
                "place" => FieldKind::Place,
                "identifier" => FieldKind::Identifier,
                "text" => FieldKind::Text,
                "ignore" => continue,
                other => {
                    return Err(MatchError::Config(format!(
                        "unknown column kind `{other}` for `{column}`"
                    )));
                }
            };
            schema.fields.push(FieldSpec {
                column: column.clone(),
                kind,
            });
        }
        if schema.fields.is_empty() {
            return Err(MatchError::Config("no column to compare".to_string()));
        }
        Ok(schema)
    }
}
