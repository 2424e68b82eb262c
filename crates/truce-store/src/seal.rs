//! Encryption at rest. Every payload and saved state a store keeps is
//! encrypted (XChaCha20-Poly1305) under a **data key** of its own, drawn at
//! random; beside it the store keeps that data key **wrapped**: encrypted
//! under the **store key**, which never enters the database. It is a 0600
//! file (`DIR/keys/store.key`, or the file `TRUCE_STORE_KEY_FILE` names) or
//! the hex in `TRUCE_STORE_KEY`.
//!
//! Erasing a payload deletes its wrapped data key with its ciphertext, so
//! the current files hold nothing that could decrypt it. A backup taken
//! before the erasure still holds the wrapped data key; after a rekey
//! (every live data key wrapped anew under a fresh store key, see
//! [`crate::SqliteStore::rekey`]) and the destruction of the old store key,
//! no backup of the database reveals it.
//!
//! Both ciphertexts are bound to their record (the entry index of a
//! payload, the tree size of a saved state), so a ciphertext or data key
//! moved to another row does not decrypt.

use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand_core::RngCore;
use truce_core::envelope::{hex, unhex};
use zeroize::Zeroizing;

use crate::{Rekeyed, Result, StoreError};

/// The store key's file under the data directory's `keys`.
pub const STORE_KEY_FILE: &str = "store.key";
/// A store key given as 64 hex digits, for a deployment whose secrets come
/// from its environment.
pub const KEY_ENV: &str = "TRUCE_STORE_KEY";
/// The path of the store key's file, to keep it off the data directory.
pub const KEY_FILE_ENV: &str = "TRUCE_STORE_KEY_FILE";

const NONCE_LEN: usize = 24;
/// A data key encrypts exactly one plaintext, so a fixed nonce under it
/// never repeats.
const DATA_NONCE: [u8; NONCE_LEN] = [0; NONCE_LEN];
const CHECK_CONTEXT: &[u8] = b"truce store key check";

/// Where a store's key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Env,
    File(PathBuf),
}

impl KeySource {
    /// `TRUCE_STORE_KEY`, else `TRUCE_STORE_KEY_FILE`, else `dir/keys/store.key`.
    pub fn for_store(dir: &Path) -> KeySource {
        if std::env::var_os(KEY_ENV).is_some() {
            KeySource::Env
        } else if let Some(path) = std::env::var_os(KEY_FILE_ENV) {
            KeySource::File(PathBuf::from(path))
        } else {
            KeySource::File(dir.join("keys").join(STORE_KEY_FILE))
        }
    }

    pub fn describe(&self) -> String {
        match self {
            KeySource::Env => KEY_ENV.to_owned(),
            KeySource::File(path) => path.display().to_string(),
        }
    }

    /// The key, or `None` when its file does not exist.
    pub fn read(&self) -> Result<Option<StoreKey>> {
        let text = match self {
            KeySource::Env => Zeroizing::new(std::env::var(KEY_ENV).map_err(|_| {
                key_error(format!("{KEY_ENV} is not text: it must be 64 hex digits"))
            })?),
            KeySource::File(path) => match std::fs::read_to_string(path) {
                Ok(text) => Zeroizing::new(text),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(key_error(format!("{}: {e}", path.display()))),
            },
        };
        StoreKey::parse(&text)
            .map(Some)
            .ok_or_else(|| key_error(format!("{}: a store key is 64 hex digits", self.describe())))
    }

    /// Where a rekey writes the next key before the store takes it.
    pub fn pending(&self) -> Option<PathBuf> {
        match self {
            KeySource::Env => None,
            KeySource::File(path) => Some(path.with_extension("key.next")),
        }
    }
}

fn key_error(why: String) -> StoreError {
    StoreError::Key(why)
}

/// 32 secret bytes, wiped from memory when dropped.
pub struct StoreKey(Zeroizing<[u8; 32]>);

impl StoreKey {
    pub fn generate() -> StoreKey {
        let mut bytes = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(bytes.as_mut());
        StoreKey(bytes)
    }

    fn parse(text: &str) -> Option<StoreKey> {
        let bytes = Zeroizing::new(unhex(text.trim())?);
        let bytes: [u8; 32] = bytes.as_slice().try_into().ok()?;
        Some(StoreKey(Zeroizing::new(bytes)))
    }

    /// Writes the key as hex to a new file readable by its owner only,
    /// made durable before returning. An older file at `path` is replaced.
    pub fn write_new_file(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            crate::files::private_dir(dir)?;
        }
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        let mut file = crate::files::create_private_file(path)?;
        let text = Zeroizing::new(format!("{}\n", hex(self.0.as_ref())));
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        Ok(())
    }
}

/// What a sealed ciphertext belongs to.
#[derive(Debug, Clone, Copy)]
pub enum Record {
    /// The payload of this entry index.
    Payload(u64),
    /// The saved state of this tree size.
    State(u64),
}

impl Record {
    /// The associated data binding a ciphertext (`what`) to this record.
    fn bound(self, what: &[u8]) -> Vec<u8> {
        let (kind, id): (&[u8], u64) = match self {
            Record::Payload(index) => (b"payload", index),
            Record::State(size) => (b"state", size),
        };
        [b"truce ".as_slice(), what, b" ", kind, &id.to_be_bytes()].concat()
    }
}

/// A ciphertext and the data key that opens it, wrapped under the store key.
pub struct Sealed {
    pub data_key: Vec<u8>,
    pub bytes: Vec<u8>,
}

/// Seals and opens under one store key.
pub struct Sealer {
    store: XChaCha20Poly1305,
}

impl Sealer {
    pub fn new(key: &StoreKey) -> Sealer {
        Sealer {
            store: XChaCha20Poly1305::new(key.0.as_ref().into()),
        }
    }

    pub fn seal(&self, record: Record, plain: &[u8]) -> Sealed {
        let data_key = XChaCha20Poly1305::generate_key(&mut OsRng);
        let bytes = XChaCha20Poly1305::new(&data_key)
            .encrypt(
                XNonce::from_slice(&DATA_NONCE),
                Payload {
                    msg: plain,
                    aad: &record.bound(b"data"),
                },
            )
            .expect("XChaCha20-Poly1305 encrypts any length a store holds");
        Sealed {
            data_key: self.wrap(record, &data_key),
            bytes,
        }
    }

    /// The plaintext, or `None` when the data key or the ciphertext was
    /// altered, moved from another record, or wrapped under another key.
    pub fn open(&self, record: Record, data_key: &[u8], bytes: &[u8]) -> Option<Vec<u8>> {
        let data_key = self.unwrap(record, data_key)?;
        XChaCha20Poly1305::new(data_key.as_slice().into())
            .decrypt(
                XNonce::from_slice(&DATA_NONCE),
                Payload {
                    msg: bytes,
                    aad: &record.bound(b"data"),
                },
            )
            .ok()
    }

    /// The data key wrapped under `to`'s store key instead of this one.
    pub fn rewrap(&self, to: &Sealer, record: Record, data_key: &[u8]) -> Option<Vec<u8>> {
        let plain = self.unwrap(record, data_key)?;
        Some(to.wrap(record, plain.as_slice().into()))
    }

    /// A value stored with the store that only this key opens, so a wrong
    /// key is named at once rather than at the first payload.
    pub fn check_value(&self) -> String {
        hex(&self.encrypt_under_store(b"", CHECK_CONTEXT))
    }

    pub fn opens(&self, check: &str) -> bool {
        unhex(check)
            .is_some_and(|sealed| self.decrypt_under_store(&sealed, CHECK_CONTEXT).is_some())
    }

    fn wrap(&self, record: Record, data_key: &chacha20poly1305::Key) -> Vec<u8> {
        self.encrypt_under_store(data_key, &record.bound(b"key"))
    }

    fn unwrap(&self, record: Record, wrapped: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let plain = Zeroizing::new(self.decrypt_under_store(wrapped, &record.bound(b"key"))?);
        (plain.len() == 32).then_some(plain)
    }

    /// Nonce ‖ ciphertext: the store key seals many values, so each takes a
    /// random 192-bit nonce (XChaCha's length makes random nonces safe).
    fn encrypt_under_store(&self, plain: &[u8], aad: &[u8]) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .store
            .encrypt(&nonce, Payload { msg: plain, aad })
            .expect("XChaCha20-Poly1305 encrypts a key");
        [nonce.as_slice(), &sealed].concat()
    }

    fn decrypt_under_store(&self, sealed: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = sealed.split_at(NONCE_LEN);
        self.store
            .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad })
            .ok()
    }
}

/// The key a rekey moves a store to, and the files it goes through: it is
/// written beside the current key's file before the rekey commits and put
/// in its place after, so a rekey cut short at any point leaves a key that
/// opens the store (see `key_that_opens`).
pub(crate) struct NextKey {
    key: StoreKey,
    path: PathBuf,
    pending: PathBuf,
    pub(crate) sealing: Sealing,
}

impl NextKey {
    /// A fresh key for the store whose keys are under `dir`; refused when
    /// the current key comes from the environment (truce cannot replace it).
    pub(crate) fn draw(dir: &Path) -> Result<NextKey> {
        let source = KeySource::for_store(dir);
        let (KeySource::File(path), Some(pending)) = (&source, source.pending()) else {
            return Err(StoreError::Key(format!(
                "a key given in {KEY_ENV} cannot be replaced by truce: give the store its key \
                 as a file ({KEY_FILE_ENV}) to rekey it"
            )));
        };
        let key = StoreKey::generate();
        let sealer = Sealer::new(&key);
        Ok(NextKey {
            path: path.clone(),
            pending,
            sealing: Sealing {
                check: sealer.check_value(),
                sealer,
            },
            key,
        })
    }

    /// Inside the rekey's transaction, before it commits.
    pub(crate) fn write_pending(&self) -> Result<()> {
        self.key.write_new_file(&self.pending)
    }

    /// After the commit: the new key replaces the old one's file.
    pub(crate) fn put_in_place(self) -> Result<Sealing> {
        std::fs::rename(&self.pending, &self.path)?;
        if let Some(dir) = self.path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(self.sealing)
    }
}

/// An encrypted store's key and the check value it opens.
pub(crate) struct Sealing {
    pub(crate) sealer: Sealer,
    pub(crate) check: String,
}

/// The key a new store in `dir` is sealed under: the one its source
/// holds, or a new one written to its file.
pub(crate) fn new_store_key(dir: &Path) -> Result<StoreKey> {
    let source = KeySource::for_store(dir);
    if let Some(key) = source.read()? {
        return Ok(key);
    }
    let KeySource::File(path) = &source else {
        unreachable!("a key from the environment is always there to read");
    };
    let key = StoreKey::generate();
    key.write_new_file(path)?;
    Ok(key)
}

/// The store key from its source; or, when a rekey was cut short after
/// its commit, the new key it left pending (then put in its place).
pub(crate) fn key_that_opens(dir: &Path, check: &str) -> Result<Sealer> {
    let source = KeySource::for_store(dir);
    let missing = || {
        StoreError::Key(format!(
            "the store is encrypted and its key is missing: restore {} (or name the key's \
             file in {} or give it in {})",
            source.describe(),
            KEY_FILE_ENV,
            KEY_ENV
        ))
    };
    let key = source.read()?;
    if let Some(sealer) = key.as_ref().map(Sealer::new).filter(|s| s.opens(check)) {
        return Ok(sealer);
    }
    if let (Some(pending), KeySource::File(path)) = (source.pending(), &source)
        && let Some(next) = KeySource::File(pending.clone()).read()?
        && Sealer::new(&next).opens(check)
    {
        // A read-only directory keeps the pending file; the key works.
        let _ = std::fs::rename(&pending, path);
        return Ok(Sealer::new(&next));
    }
    match key {
        None => Err(missing()),
        Some(_) => Err(StoreError::Key(format!(
            "{} does not open this store (the key check in its meta): it is another \
             store's key, or an older key of this one (restore the key it was last rekeyed \
             to)",
            source.describe()
        ))),
    }
}

/// What a store row holds of `plain`: (bytes, wrapped data key), sealed
/// when there is a sealer, else in the clear.
pub(crate) fn seal<'a>(
    sealer: Option<&Sealer>,
    record: Record,
    plain: &'a [u8],
) -> (Cow<'a, [u8]>, Option<Vec<u8>>) {
    match sealer {
        Some(sealer) => {
            let sealed = sealer.seal(record, plain);
            (Cow::Owned(sealed.bytes), Some(sealed.data_key))
        }
        None => (Cow::Borrowed(plain), None),
    }
}

/// The plaintext of a stored row: opened with its data key, or as stored
/// when it has none (kept in the clear). Else why it does not open, to
/// follow the record's name.
pub(crate) fn unseal(
    sealer: Option<&Sealer>,
    record: Record,
    bytes: Vec<u8>,
    data_key: Option<Vec<u8>>,
) -> std::result::Result<Vec<u8>, &'static str> {
    let Some(data_key) = data_key else {
        return Ok(bytes);
    };
    let sealer = sealer.ok_or("is encrypted, but the store's meta holds no store key check")?;
    sealer
        .open(record, &data_key, &bytes)
        .ok_or("does not decrypt under the store key (altered, or moved from another row)")
}

/// One row under the next key: (bytes, wrapped data key).
pub(crate) fn reseal(
    current: Option<&Sealer>,
    next: &Sealer,
    record: Record,
    bytes: Vec<u8>,
    data_key: Option<Vec<u8>>,
    done: &mut Rekeyed,
) -> Result<(Vec<u8>, Vec<u8>)> {
    let unreadable =
        || StoreError::Corrupt(format!("{record:?} does not decrypt under the store key"));
    match data_key {
        Some(data_key) => {
            let current = current.ok_or_else(unreadable)?;
            let data_key = current
                .rewrap(next, record, &data_key)
                .ok_or_else(unreadable)?;
            done.rewrapped += 1;
            Ok((bytes, data_key))
        }
        None => {
            let sealed = next.seal(record, &bytes);
            done.sealed += 1;
            Ok((sealed.bytes, sealed.data_key))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_record_opens_only_under_its_key_and_as_itself() {
        let sealer = Sealer::new(&StoreKey::generate());
        let other = Sealer::new(&StoreKey::generate());
        let sealed = sealer.seal(Record::Payload(7), b"Olena Marker");
        assert!(!sealed.bytes.windows(6).any(|w| w == b"Marker"));
        assert_eq!(
            sealer.open(Record::Payload(7), &sealed.data_key, &sealed.bytes),
            Some(b"Olena Marker".to_vec())
        );
        assert_eq!(
            other.open(Record::Payload(7), &sealed.data_key, &sealed.bytes),
            None
        );
        assert_eq!(
            sealer.open(Record::Payload(8), &sealed.data_key, &sealed.bytes),
            None
        );
        assert_eq!(
            sealer.open(Record::State(7), &sealed.data_key, &sealed.bytes),
            None
        );
        let mut altered = sealed.bytes.clone();
        altered[0] ^= 1;
        assert_eq!(
            sealer.open(Record::Payload(7), &sealed.data_key, &altered),
            None
        );

        let moved = sealer
            .rewrap(&other, Record::Payload(7), &sealed.data_key)
            .unwrap();
        assert_eq!(
            other.open(Record::Payload(7), &moved, &sealed.bytes),
            Some(b"Olena Marker".to_vec())
        );
        assert_eq!(sealer.open(Record::Payload(7), &moved, &sealed.bytes), None);
    }

    #[test]
    fn the_check_value_names_the_key_that_made_it() {
        let key = StoreKey::generate();
        let check = Sealer::new(&key).check_value();
        assert!(Sealer::new(&key).opens(&check));
        assert!(!Sealer::new(&StoreKey::generate()).opens(&check));
        assert!(!Sealer::new(&key).opens("zz"));
    }

    #[test]
    fn a_key_file_reads_back_and_a_malformed_one_is_named_without_its_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys").join(STORE_KEY_FILE);
        let source = KeySource::File(path.clone());
        assert!(source.read().unwrap().is_none());
        let key = StoreKey::generate();
        key.write_new_file(&path).unwrap();
        let check = Sealer::new(&key).check_value();
        assert!(Sealer::new(&source.read().unwrap().unwrap()).opens(&check));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "secret-but-not-hex").unwrap();
        let error = source.read().err().unwrap().to_string();
        assert!(error.contains(&path.display().to_string()), "{error}");
        assert!(!error.contains("secret"), "{error}");
    }
}
