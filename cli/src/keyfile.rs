//! Key files: PKCS#8 PEM, readable only by their owner.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

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

/// The owner's key: `path`, or the one `countersign init` created.
pub fn owner(path: Option<&Path>) -> anyhow::Result<Keypair> {
    let default = countersign_server::setup::owner_key_path();
    let path = path.unwrap_or(&default);
    if !path.exists() {
        bail!(
            "no owner key at {}; run `countersign init` first, or pass --key",
            path.display()
        );
    }
    read(path)
}

/// Where this machine keeps its approver device key unless `--key` names another.
pub fn device_path(path: Option<&Path>) -> PathBuf {
    path.map_or_else(
        || countersign_server::setup::cli_config_dir().join("device.pem"),
        Path::to_path_buf,
    )
}

/// This machine's approver device key, which `countersign device join` created.
pub fn device(path: Option<&Path>) -> anyhow::Result<Keypair> {
    let path = device_path(path);
    if !path.exists() {
        bail!(
            "no device key at {}; pair this terminal with `countersign device join`, or pass --key",
            path.display()
        );
    }
    read(&path)
}
