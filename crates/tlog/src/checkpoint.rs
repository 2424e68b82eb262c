//! Checkpoints (C2SP tlog-checkpoint v1.0.0): the note text that commits a
//! log's origin, tree size and root hash.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::merkle::Hash;
use crate::note::NoteError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub tree_size: u64,
    pub root_hash: Hash,
    /// Opaque extension lines; truce writes none (the spec advises against
    /// them because monitors cannot audit them) but accepts them when reading.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    pub fn new(origin: &str, tree_size: u64, root_hash: Hash) -> Self {
        Checkpoint {
            origin: origin.to_owned(),
            tree_size,
            root_hash,
            extensions: Vec::new(),
        }
    }

    /// The note text: origin, decimal size, base64 root, extensions, each
    /// newline-terminated.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.tree_size,
            BASE64.encode(self.root_hash)
        );
        for line in &self.extensions {
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(NoteError::Malformed("checkpoint does not end in a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err(NoteError::Malformed("checkpoint origin is empty"));
        }
        let size_line = lines
            .next()
            .ok_or(NoteError::Malformed("checkpoint has no tree size"))?;
        let size_is_canonical = !size_line.is_empty()
            && size_line.bytes().all(|b| b.is_ascii_digit())
            && (size_line == "0" || !size_line.starts_with('0'));
        let tree_size = size_line
            .parse::<u64>()
            .ok()
            .filter(|_| size_is_canonical)
            .ok_or(NoteError::Malformed(
                "checkpoint tree size is not a decimal without leading zeros",
            ))?;
        let root_line = lines
            .next()
            .ok_or(NoteError::Malformed("checkpoint has no root hash"))?;
        let root_hash: Hash = BASE64
            .decode(root_line)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(NoteError::Malformed(
                "checkpoint root hash is not 32 bytes of base64",
            ))?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(NoteError::Malformed("checkpoint extension line is empty"));
        }
        let checkpoint = Checkpoint {
            origin: origin.to_owned(),
            tree_size,
            root_hash,
            extensions,
        };
        // Reject non-canonical encodings (e.g. base64 with other padding) so
        // one checkpoint has exactly one text.
        if checkpoint.to_text() != text {
            return Err(NoteError::Malformed(
                "checkpoint text is not in canonical form",
            ));
        }
        Ok(checkpoint)
    }
}

/// A root hash from its base64 text form.
pub fn decode_root(text: &str) -> Result<Hash, NoteError> {
    BASE64
        .decode(text)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(NoteError::Malformed("root hash is not 32 bytes of base64"))
}
