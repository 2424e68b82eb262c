//! Why the log refuses an entry: a stable code with named parameters, so
//! the edge (CLI, API, dashboard) can show it in the reader's language, and
//! its English text. A rejection never names personal data: its parameters
//! are ids, kinds, counts and field names.

/// Why an entry may not be appended (or, on replay, why it is bad).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    code: &'static str,
    /// English, with `{name}` where a parameter goes.
    template: &'static str,
    params: Vec<(&'static str, String)>,
}

impl Rejection {
    /// See [`rejection!`], which names the parameters after the template's.
    pub fn new(
        code: &'static str,
        template: &'static str,
        params: Vec<(&'static str, String)>,
    ) -> Self {
        Rejection {
            code,
            template,
            params,
        }
    }

    /// The stable id of the reason (a Fluent message id).
    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn params(&self) -> &[(&'static str, String)] {
        &self.params
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut rest = self.template;
        while let Some(open) = rest.find('{') {
            f.write_str(&rest[..open])?;
            let close = rest[open..].find('}').map_or(rest.len(), |c| open + c);
            let name = &rest[open + 1..close];
            f.write_str(self.param(name).unwrap_or(name))?;
            rest = rest.get(close + 1..).unwrap_or_default();
        }
        f.write_str(rest)
    }
}

impl std::error::Error for Rejection {}

/// A [`Rejection`]: `rejection!("code", "English with {name}", name = value)`.
#[macro_export]
macro_rules! rejection {
    ($code:literal, $template:literal $(, $name:ident = $value:expr)* $(,)?) => {
        $crate::rejection::Rejection::new(
            $code,
            $template,
            vec![$((stringify!($name), ($value).to_string())),*],
        )
    };
}

pub(crate) fn reject<T>(rejection: Rejection) -> Result<T, Rejection> {
    Err(rejection)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_english_text_fills_in_each_parameter_by_name() {
        let refused = crate::rejection!(
            "sequence-not-next",
            "sequence {seq} from {actor} where {next} comes next",
            seq = 41,
            actor = "ua",
            next = 40
        );
        assert_eq!(refused.code(), "sequence-not-next");
        assert_eq!(
            refused.to_string(),
            "sequence 41 from ua where 40 comes next"
        );
        assert_eq!(
            refused.params(),
            [
                ("seq", "41".to_owned()),
                ("actor", "ua".to_owned()),
                ("next", "40".to_owned())
            ]
        );
    }

    #[test]
    fn braces_in_a_parameter_are_not_read_as_placeholders() {
        let refused = crate::rejection!("x", "{a} and {b}", a = "{b}", b = "B");
        assert_eq!(refused.to_string(), "{b} and B");
    }
}
