//! Secret key files: the private key text form (see `tlog::SignerKey`) in a
//! file of mode 0600, created without ever being readable by others.

use std::io::Write;
use std::path::Path;

use tlog::SignerKey;

use crate::LedgerError;

pub fn write_key_file(path: &Path, key: &SignerKey) -> Result<(), LedgerError> {
    if let Some(parent) = path.parent() {
        truce_store::files::private_dir(parent).map_err(|e| LedgerError::io(path, e))?;
    }
    let text = format!("{}\n", key.to_private_text());
    write_private(path, text.as_bytes(), true).map_err(|e| LedgerError::io(path, e))
}

/// Replaces `path` with `bytes`, readable by its owner only: written to a
/// sibling, made durable, then renamed over, so a crash leaves the old file
/// or the new one, never half of either.
pub fn replace_private_file(path: &Path, bytes: &[u8]) -> Result<(), LedgerError> {
    let mut staging = path.as_os_str().to_owned();
    staging.push(".new");
    let staging = std::path::PathBuf::from(staging);
    write_private(&staging, bytes, false)
        .and_then(|()| std::fs::rename(&staging, path))
        .map_err(|e| LedgerError::io(path, e))
}

/// Writes a file of mode 0600 and syncs it; `create_new` refuses to
/// overwrite (a key is never replaced by accident).
fn write_private(path: &Path, bytes: &[u8], create_new: bool) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if create_new {
        options.create_new(true);
    } else {
        options.create(true).truncate(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Reads a key file, refusing one that others can read: a leaked signing
/// key lets anyone speak for its actor.
pub fn read_key_file(path: &Path) -> Result<SignerKey, LedgerError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| LedgerError::io(path, e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(LedgerError::Input(format!(
                "{}: key file is readable by others (mode {:o}); run chmod 600",
                path.display(),
                mode & 0o777
            )));
        }
    }
    let text = std::fs::read_to_string(path).map_err(|e| LedgerError::io(path, e))?;
    // The key text must not reach an error message.
    SignerKey::from_private_text(&text).map_err(|e| {
        LedgerError::Input(format!("{}: not a private key file ({e})", path.display()))
    })
}
