//! The data directory's files are its owner's alone: directories 0700,
//! files 0600, created so, never widened afterwards. The store holds
//! personal data (payloads, saved states) even where it is encrypted, and
//! reader copies hold what their reader may read.

use std::io;
use std::path::Path;

pub const PRIVATE_DIR_MODE: u32 = 0o700;
pub const PRIVATE_FILE_MODE: u32 = 0o600;

/// Creates `dir` (and any missing parent) for its owner only; an existing
/// `dir` is narrowed to its owner.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(PRIVATE_DIR_MODE);
    }
    builder.create(dir)?;
    narrow(dir, PRIVATE_DIR_MODE)
}

/// Creates an empty `path` readable by its owner only; refuses an
/// existing one.
pub fn create_private_file(path: &Path) -> io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(PRIVATE_FILE_MODE);
    }
    options.open(path)
}

/// Takes group and other permissions off `path` if it has any (a store
/// created by an older version); a file this user does not own is left as
/// it is.
pub fn narrow(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let current = std::fs::metadata(path)?.permissions().mode() & 0o777;
        if current & !mode != 0 {
            let narrowed = std::fs::Permissions::from_mode(current & mode);
            return match std::fs::set_permissions(path, narrowed) {
                Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Ok(()),
                other => other,
            };
        }
    }
    let _ = (path, mode);
    Ok(())
}
