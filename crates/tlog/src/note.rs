//! Signed notes, verifier keys and signer keys (C2SP signed-note v1.0.0),
//! with Ed25519 signatures (type 0x01) and Ed25519 checkpoint cosignatures
//! (type 0x04, C2SP tlog-cosignature v1).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// Verifiers must accept at least 16 signatures (signed-note "Format"); the
/// bound keeps a hostile note from costing unbounded work.
pub const MAX_SIGNATURES: usize = 100;
/// A bound on the whole note, for the same reason.
pub const MAX_NOTE_BYTES: usize = 1 << 20;

const SIGNATURE_LINE_PREFIX: &str = "\u{2014} ";

/// The signature types truce uses (signed-note "Signature types").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// 0x01: Ed25519 over the note text.
    Ed25519,
    /// 0x04: timestamped Ed25519 checkpoint cosignature (tlog-cosignature).
    Cosignature,
}

impl KeyType {
    pub fn byte(self) -> u8 {
        match self {
            KeyType::Ed25519 => 0x01,
            KeyType::Cosignature => 0x04,
        }
    }

    fn from_byte(byte: u8) -> Result<Self, NoteError> {
        match byte {
            0x01 => Ok(KeyType::Ed25519),
            0x04 => Ok(KeyType::Cosignature),
            _ => Err(NoteError::UnsupportedKeyType(byte)),
        }
    }
}

/// Everything that can be wrong with a note, a key or a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoteError {
    Malformed(&'static str),
    TooLarge,
    MalformedKey(&'static str),
    UnsupportedKeyType(u8),
    /// A signature by a known key did not verify.
    BadSignature {
        key_name: String,
    },
    /// No signature by a known key was found.
    NoKnownSignature,
}

impl std::fmt::Display for NoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoteError::Malformed(why) => write!(f, "malformed note: {why}"),
            NoteError::TooLarge => f.write_str("malformed note: too large or too many signatures"),
            NoteError::MalformedKey(why) => write!(f, "malformed key: {why}"),
            NoteError::UnsupportedKeyType(t) => write!(f, "unsupported signature type 0x{t:02x}"),
            NoteError::BadSignature { key_name } => {
                write!(f, "invalid signature by known key {key_name}")
            }
            NoteError::NoKnownSignature => {
                f.write_str("note has no verifiable signature by a known key")
            }
        }
    }
}

impl std::error::Error for NoteError {}

/// key ID = SHA-256(key name || 0x0A || signature type || public key)[:4]
/// (signed-note "Signatures").
pub fn key_id(name: &str, key_type: KeyType, public_key: &[u8; 32]) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n', key_type.byte()]);
    hasher.update(public_key);
    let digest = hasher.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

fn check_key_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() {
        return Err(NoteError::MalformedKey("empty key name"));
    }
    if name
        .chars()
        .any(|c| c.is_whitespace() || c == '+' || c.is_control())
    {
        return Err(NoteError::MalformedKey(
            "key name contains a space, a plus or a control character",
        ));
    }
    Ok(())
}

/// A public key that checks note signatures, parsed from or printed as the
/// verifier-key text form `name+hex(key ID)+base64(type || public key)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key_id: u32,
    key_type: KeyType,
    public_key: VerifyingKey,
}

impl VerifierKey {
    pub fn new(name: &str, key_type: KeyType, public_key: VerifyingKey) -> Result<Self, NoteError> {
        check_key_name(name)?;
        Ok(VerifierKey {
            name: name.to_owned(),
            key_id: key_id(name, key_type, public_key.as_bytes()),
            key_type,
            public_key,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    pub fn public_key(&self) -> &VerifyingKey {
        &self.public_key
    }

    /// Checks the bytes of a signature line after the 4-byte key ID against
    /// the note text. For cosignatures, returns the signed timestamp.
    pub fn verify(&self, text: &[u8], signature: &[u8]) -> Result<Option<u64>, NoteError> {
        let bad = || NoteError::BadSignature {
            key_name: self.name.clone(),
        };
        match self.key_type {
            KeyType::Ed25519 => {
                let signature = Signature::from_slice(signature).map_err(|_| bad())?;
                self.public_key
                    .verify_strict(text, &signature)
                    .map_err(|_| bad())?;
                Ok(None)
            }
            KeyType::Cosignature => {
                if signature.len() != 8 + 64 {
                    return Err(bad());
                }
                let timestamp = u64::from_be_bytes(signature[..8].try_into().expect("8 bytes"));
                if timestamp > i64::MAX as u64 {
                    return Err(bad());
                }
                let signature = Signature::from_slice(&signature[8..]).map_err(|_| bad())?;
                let message = cosignature_message(text, timestamp);
                self.public_key
                    .verify_strict(&message, &signature)
                    .map_err(|_| bad())?;
                Ok(Some(timestamp))
            }
        }
    }
}

impl std::fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut material = vec![self.key_type.byte()];
        material.extend_from_slice(self.public_key.as_bytes());
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            BASE64.encode(material)
        )
    }
}

impl std::str::FromStr for VerifierKey {
    type Err = NoteError;

    fn from_str(text: &str) -> Result<Self, NoteError> {
        // Base64 uses '+', so the key material is everything after the second.
        let mut parts = text.trim().splitn(3, '+');
        let (Some(name), Some(id_hex), Some(material)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::MalformedKey(
                "a verifier key has three parts joined by '+'",
            ));
        };
        let (key_type, public_key) = decode_key_material(material)?;
        let public_key = VerifyingKey::from_bytes(&public_key)
            .map_err(|_| NoteError::MalformedKey("not an Ed25519 public key"))?;
        let key = VerifierKey::new(name, key_type, public_key)?;
        if id_hex.len() != 8 || u32::from_str_radix(id_hex, 16).ok() != Some(key.key_id) {
            return Err(NoteError::MalformedKey(
                "key ID does not match the name and key",
            ));
        }
        Ok(key)
    }
}

fn decode_key_material(material: &str) -> Result<(KeyType, [u8; 32]), NoteError> {
    let bytes = BASE64
        .decode(material)
        .map_err(|_| NoteError::MalformedKey("key material is not base64"))?;
    let (&type_byte, key) = bytes
        .split_first()
        .ok_or(NoteError::MalformedKey("empty key material"))?;
    let key: [u8; 32] = key
        .try_into()
        .map_err(|_| NoteError::MalformedKey("an Ed25519 key is 32 bytes"))?;
    Ok((KeyType::from_byte(type_byte)?, key))
}

/// A private key that signs notes. Its text form follows Go's
/// golang.org/x/mod/sumdb/note: `PRIVATE+KEY+name+hex(key ID)+base64(type || seed)`,
/// so keys interoperate with the Go tooling. `Debug` never shows the seed.
#[derive(Clone)]
pub struct SignerKey {
    name: String,
    key_id: u32,
    key_type: KeyType,
    signing_key: SigningKey,
}

impl std::fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SignerKey({}+{:08x}, secret withheld)",
            self.name, self.key_id
        )
    }
}

const PRIVATE_KEY_PREFIX: &str = "PRIVATE+KEY+";

impl SignerKey {
    pub fn generate(name: &str, key_type: KeyType) -> Result<Self, NoteError> {
        Self::from_signing_key(name, key_type, SigningKey::generate(&mut rand_core::OsRng))
    }

    pub fn from_signing_key(
        name: &str,
        key_type: KeyType,
        signing_key: SigningKey,
    ) -> Result<Self, NoteError> {
        check_key_name(name)?;
        let key_id = key_id(name, key_type, signing_key.verifying_key().as_bytes());
        Ok(SignerKey {
            name: name.to_owned(),
            key_id,
            key_type,
            signing_key,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            key_id: self.key_id,
            key_type: self.key_type,
            public_key: self.signing_key.verifying_key(),
        }
    }

    /// A raw Ed25519 signature over `message` (for signatures outside notes,
    /// such as event envelopes).
    pub fn sign_raw(&self, message: &[u8]) -> Signature {
        self.signing_key.sign(message)
    }

    /// Signs note text with a type 0x01 key.
    pub fn sign_note(&self, text: &str) -> Result<NoteSignature, NoteError> {
        if self.key_type != KeyType::Ed25519 {
            return Err(NoteError::MalformedKey(
                "a cosigner key signs with cosign(), not sign_note()",
            ));
        }
        check_text(text)?;
        Ok(NoteSignature {
            key_name: self.name.clone(),
            key_id: self.key_id,
            signature: self.signing_key.sign(text.as_bytes()).to_bytes().to_vec(),
        })
    }

    /// Cosigns checkpoint note text at `timestamp` (POSIX seconds) with a
    /// type 0x04 key: timestamp (u64 big-endian) || Ed25519 signature.
    pub fn cosign(&self, text: &str, timestamp: u64) -> Result<NoteSignature, NoteError> {
        if self.key_type != KeyType::Cosignature {
            return Err(NoteError::MalformedKey("only a type 0x04 key cosigns"));
        }
        if timestamp > i64::MAX as u64 {
            return Err(NoteError::Malformed(
                "cosignature timestamp beyond 2^63 - 1",
            ));
        }
        check_text(text)?;
        let mut signature = timestamp.to_be_bytes().to_vec();
        let message = cosignature_message(text.as_bytes(), timestamp);
        signature.extend_from_slice(&self.signing_key.sign(&message).to_bytes());
        Ok(NoteSignature {
            key_name: self.name.clone(),
            key_id: self.key_id,
            signature,
        })
    }

    /// A 32-byte secret for one named purpose (`context`), derived from this
    /// key's seed, so the holder of the signing key needs no second key file
    /// for, say, an HMAC key, and the seed itself never keys anything but
    /// Ed25519. SHA-256 over a context and a uniformly random seed is a sound
    /// derivation for a single secret per context.
    pub fn derive_secret(&self, context: &str) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(b"tlog derived secret\0");
        hasher.update(context.as_bytes());
        hasher.update([0]);
        hasher.update(self.signing_key.as_bytes());
        hasher.finalize().into()
    }

    /// The private key text form. Callers store it in a file only they can
    /// read; it must never be printed or logged.
    pub fn to_private_text(&self) -> String {
        let mut material = vec![self.key_type.byte()];
        material.extend_from_slice(self.signing_key.as_bytes());
        format!(
            "{PRIVATE_KEY_PREFIX}{}+{:08x}+{}",
            self.name,
            self.key_id,
            BASE64.encode(material)
        )
    }

    pub fn from_private_text(text: &str) -> Result<Self, NoteError> {
        let rest = text
            .trim()
            .strip_prefix(PRIVATE_KEY_PREFIX)
            .ok_or(NoteError::MalformedKey(
                "a private key starts with PRIVATE+KEY+",
            ))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(material)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::MalformedKey(
                "a private key has five parts joined by '+'",
            ));
        };
        let (key_type, seed) = decode_key_material(material)?;
        let key = Self::from_signing_key(name, key_type, SigningKey::from_bytes(&seed))?;
        if id_hex.len() != 8 || u32::from_str_radix(id_hex, 16).ok() != Some(key.key_id) {
            return Err(NoteError::MalformedKey(
                "key ID does not match the name and key",
            ));
        }
        Ok(key)
    }
}

/// The message an Ed25519 cosignature signs (tlog-cosignature "Ed25519
/// signed message"): "cosignature/v1\n" "time <t>\n" then the note text.
fn cosignature_message(text: &[u8], timestamp: u64) -> Vec<u8> {
    let mut message = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    message.extend_from_slice(text);
    message
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    pub key_name: String,
    pub key_id: u32,
    /// The signature bytes after the key ID.
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// The line as it appears in a note, with its final newline.
    pub fn to_line(&self) -> String {
        let mut bytes = self.key_id.to_be_bytes().to_vec();
        bytes.extend_from_slice(&self.signature);
        format!(
            "{SIGNATURE_LINE_PREFIX}{} {}\n",
            self.key_name,
            BASE64.encode(bytes)
        )
    }

    /// Parses one signature line, with or without its final newline.
    pub fn from_line(line: &str) -> Result<Self, NoteError> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let rest = line
            .strip_prefix(SIGNATURE_LINE_PREFIX)
            .ok_or(NoteError::Malformed(
                "signature line does not start with an em dash and a space",
            ))?;
        let (key_name, encoded) = rest
            .split_once(' ')
            .ok_or(NoteError::Malformed("signature line has no signature"))?;
        check_key_name(key_name)
            .map_err(|_| NoteError::Malformed("bad key name in signature line"))?;
        let bytes = BASE64
            .decode(encoded)
            .map_err(|_| NoteError::Malformed("signature is not base64"))?;
        if bytes.len() < 5 {
            return Err(NoteError::Malformed("signature too short"));
        }
        Ok(NoteSignature {
            key_name: key_name.to_owned(),
            key_id: u32::from_be_bytes(bytes[..4].try_into().expect("4 bytes")),
            signature: bytes[4..].to_vec(),
        })
    }
}

/// A note: text ending in a newline, and its signature lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub text: String,
    pub signatures: Vec<NoteSignature>,
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::Malformed("note text does not end in a newline"));
    }
    if text.chars().any(|c| c.is_ascii_control() && c != '\n') {
        return Err(NoteError::Malformed("note contains a control character"));
    }
    Ok(())
}

impl Note {
    /// Splits a note into text and signature lines, checking the format but
    /// not the signatures (use [`Note::verify`] before trusting the text).
    pub fn parse(bytes: &[u8]) -> Result<Note, NoteError> {
        if bytes.len() > MAX_NOTE_BYTES {
            return Err(NoteError::TooLarge);
        }
        let all = std::str::from_utf8(bytes).map_err(|_| NoteError::Malformed("not UTF-8"))?;
        check_text(all)?;
        // The text is separated from the signatures by the last empty line.
        let split = all
            .rfind("\n\n")
            .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
        let text = &all[..split + 1];
        let signature_block = &all[split + 2..];
        if signature_block.is_empty() {
            return Err(NoteError::Malformed("no signature lines"));
        }
        let lines: Vec<&str> = signature_block
            .strip_suffix('\n')
            .unwrap_or(signature_block)
            .split('\n')
            .collect();
        if lines.len() > MAX_SIGNATURES {
            return Err(NoteError::TooLarge);
        }
        let signatures = lines
            .into_iter()
            .map(NoteSignature::from_line)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.text.clone();
        out.push('\n');
        for signature in &self.signatures {
            out.push_str(&signature.to_line());
        }
        out.into_bytes()
    }

    /// Verifies the note against known keys (signed-note "Signatures"):
    /// signatures from unknown keys are ignored, a bad signature from a known
    /// key rejects the note, and at least one known key must have signed.
    /// Returns the verified signatures with the cosignature timestamps.
    pub fn verify<'k>(
        &self,
        known: &'k [VerifierKey],
    ) -> Result<Vec<(&'k VerifierKey, Option<u64>)>, NoteError> {
        let mut verified = Vec::new();
        for signature in &self.signatures {
            let Some(key) = known
                .iter()
                .find(|k| k.name == signature.key_name && k.key_id == signature.key_id)
            else {
                continue;
            };
            let timestamp = key.verify(self.text.as_bytes(), &signature.signature)?;
            verified.push((key, timestamp));
        }
        if verified.is_empty() {
            return Err(NoteError::NoKnownSignature);
        }
        Ok(verified)
    }
}
