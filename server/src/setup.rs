//! First start: the data directory, the service key, and who the owner is.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use countersign_core::{Did, Keypair};

/// Reads a PKCS#8 PEM key, or creates one (mode 0600) if the file does not exist.
/// Returns the key and whether it was created.
pub fn load_or_create_key(path: &Path) -> anyhow::Result<(Keypair, bool)> {
    match std::fs::read_to_string(path) {
        Ok(pem) => {
            let key = Keypair::from_pkcs8_pem(&pem)
                .with_context(|| format!("key file {}", path.display()))?;
            Ok((key, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                private_dir(dir)?;
            }
            let mut seed = [0u8; 32];
            getrandom::getrandom(&mut seed).context("the operating system gave no randomness")?;
            let key = Keypair::from_seed(&seed);
            match write_new_private(path, key.to_pkcs8_pem()?.as_bytes()) {
                Ok(()) => Ok((key, true)),
                // Another process created it first: use that one.
                Err(_) if path.exists() => load_or_create_key(path),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Creates a directory (and parents) readable by its owner only, if missing.
pub fn private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    // An existing directory keeps its mode (it may be shared, like /tmp): say so if others
    // can read it, rather than changing it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(dir) {
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(dir = %dir.display(), "directory is accessible to other users; its keys are not");
            }
        }
    }
    Ok(())
}

/// Writes a new file with mode 0600 and syncs it; never overwrites.
pub fn write_new_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = match options.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!(
                "{} already exists; refusing to overwrite a key",
                path.display()
            )
        }
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
    };
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The CLI's configuration directory: `$COUNTERSIGN_CONFIG_DIR`, else
/// `$XDG_CONFIG_HOME/countersign`, else `~/.config/countersign`.
pub fn cli_config_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("COUNTERSIGN_CONFIG_DIR") {
        return PathBuf::from(dir);
    }
    std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("countersign")
}

/// Where `countersign init` keeps the owner key.
pub fn owner_key_path() -> PathBuf {
    cli_config_dir().join("owner.pem")
}

/// The owner DID: configured, or that of the local owner key (created if missing).
/// Returns the DID and, if a key was created, its path.
pub fn resolve_owner(configured: &str) -> anyhow::Result<(Did, Option<PathBuf>)> {
    if !configured.is_empty() {
        let did = configured
            .parse()
            .with_context(|| format!("owner {configured:?} in the configuration"))?;
        return Ok((did, None));
    }
    let path = owner_key_path();
    let (key, created) = load_or_create_key(&path)?;
    Ok((key.did(), created.then_some(path)))
}
