//! Key files: PKCS#8 PEM, readable only by their owner.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use countersign_core::Keypair;

/// Reads a PKCS#8 PEM Ed25519 key.
pub fn read(path: &Path) -> anyhow::Result<Keypair> {
    let pem = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read key file {}", path.display()))?;
    Keypair::from_pkcs8_pem(&pem).with_context(|| format!("key file {}", path.display()))
}

/// Writes a new key file with mode 0600; never overwrites an existing file.
pub fn write_new(path: &Path, key: &Keypair) -> anyhow::Result<()> {
    let pem = key.to_pkcs8_pem()?;
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
    file.write_all(pem.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}
