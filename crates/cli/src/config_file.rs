//! The login file, `credentials.json` in the user's config directory:
//! `$GATEPASS_CONFIG_DIR`, else `$XDG_CONFIG_HOME/gatepass`, else
//! `~/.config/gatepass`. It holds the server URL and a login-session
//! credential (`gps_…`), never a deployment token, and is written 0600.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

pub const FILE_NAME: &str = "credentials.json";

/// What `gatepass login` remembers.
#[derive(Clone, Serialize, Deserialize)]
pub struct Credentials {
    pub url: String,
    /// The session credential from `POST /v1/sessions`.
    pub session: String,
    pub email: String,
    pub expires_at: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("url", &self.url)
            .field("session", &"[redacted]")
            .field("email", &self.email)
            .finish()
    }
}

/// The directory the login file lives in.
pub fn config_dir() -> Option<PathBuf> {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = non_empty("GATEPASS_CONFIG_DIR") {
        return Some(dir);
    }
    if let Some(dir) = non_empty("XDG_CONFIG_HOME") {
        return Some(dir.join("gatepass"));
    }
    non_empty("HOME").map(|home| home.join(".config").join("gatepass"))
}

pub fn path() -> anyhow::Result<PathBuf> {
    config_dir()
        .map(|dir| dir.join(FILE_NAME))
        .context("cannot find a config directory: set GATEPASS_CONFIG_DIR or HOME")
}

/// The stored login, if there is one.
pub fn load() -> anyhow::Result<Option<Credentials>> {
    let Some(dir) = config_dir() else { return Ok(None) };
    load_from(&dir.join(FILE_NAME))
}

fn load_from(path: &Path) -> anyhow::Result<Option<Credentials>> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let credentials = serde_json::from_slice(&bytes).with_context(|| {
                format!("{} is not a gatepass login file; remove it and run `gatepass login`", path.display())
            })?;
            Ok(Some(credentials))
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Writes the login file with mode 0600 (via a private temporary file and a
/// rename, so it is never readable by others, not even for a moment).
pub fn save(credentials: &Credentials) -> anyhow::Result<PathBuf> {
    let path = path()?;
    save_to(&path, credentials)?;
    Ok(path)
}

fn save_to(path: &Path, credentials: &Credentials) -> anyhow::Result<()> {
    let dir = path.parent().context("the login file has no directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let temporary = dir.join(format!(".{FILE_NAME}.{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temporary).with_context(|| format!("cannot write {}", temporary.display()))?;
    #[cfg(unix)]
    {
        // The mode above only applies to new files; make sure of it anyway.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(&serde_json::to_vec_pretty(credentials)?)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Removes the login file; true when there was one.
pub fn remove() -> anyhow::Result<bool> {
    let path = path()?;
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err).with_context(|| format!("cannot remove {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_file_round_trips_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested").join(FILE_NAME);
        let credentials = Credentials {
            url: "http://127.0.0.1:1".into(),
            session: "gps_secret".into(),
            email: "a@example.com".into(),
            expires_at: "2030-01-01T00:00:00Z".into(),
        };
        save_to(&path, &credentials).unwrap();
        let loaded = load_from(&path).unwrap().unwrap();
        assert_eq!(loaded.session, "gps_secret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert!(!format!("{loaded:?}").contains("gps_secret"));
    }
}
