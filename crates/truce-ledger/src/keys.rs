//! Secret key files: the private key text form (see `tlog::SignerKey`) in a
//! file of mode 0600, created without ever being readable by others.

use std::io::Write;
use std::path::Path;

use tlog::SignerKey;

use crate::LedgerError;

pub fn write_key_file(path: &Path, key: &SignerKey) -> Result<(), LedgerError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| LedgerError::io(path, e))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| LedgerError::io(path, e))?;
    file.write_all(format!("{}\n", key.to_private_text()).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| LedgerError::io(path, e))
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
