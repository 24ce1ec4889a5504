//! A key kept in a local file when the environment sets none: created on first use, readable by
//! its owner only, and agreed on by processes that start at the same moment.

use std::path::Path;

/// The text in the key file at `path`, or `fresh()` written there first. Returns whether it was
/// created (the caller warns: a key beside the database protects less than one kept elsewhere).
pub fn load_or_create(
    path: &Path,
    fresh: impl FnOnce() -> String,
) -> std::io::Result<(String, bool)> {
    match std::fs::read_to_string(path) {
        Ok(text) => return Ok((text, false)),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        Err(_) => {}
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = fresh();
    // Written beside and linked into place, so two processes starting at once agree on one
    // key: the second link fails, and the second process reads the first one's key.
    let staging = path.with_extension(format!("{}.tmp", std::process::id()));
    write_private(&staging, &text)?;
    let linked = std::fs::hard_link(&staging, path);
    let _ = std::fs::remove_file(&staging);
    match linked {
        Ok(()) => Ok((text, true)),
        Err(_) => Ok((std::fs::read_to_string(path)?, false)),
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}
