//! `countersign db`: migration status, migrating, and an online SQLite backup that a
//! restored service can open with its data intact.

use std::process::Output;

use countersign_core::Keypair;
use countersign_server::store::{Agent, open};

use crate::support::countersign;

fn run(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = countersign()
        .args(args)
        .env("COUNTERSIGN_DATA_DIR", dir)
        .env_remove("COUNTERSIGN_DATABASE_URL")
        .output()
        .unwrap();
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

#[tokio::test]
async fn migrate_status_and_an_online_backup_that_restores() {
    let dir = std::env::temp_dir().join(format!("cs-db-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (code, out, err) = run(&dir, &["db", "migrate"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("applied") && out.contains("up to date"),
        "{out}"
    );
    let (code, out, _) = run(&dir, &["--output", "json", "db", "status"]);
    assert_eq!(code, 0);
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["waiting"], 0);
    assert!(
        status["migrations"]
            .as_array()
            .is_some_and(|m| !m.is_empty())
    );

    // Data written by a running service is in the copy.
    let url = format!("sqlite:{}", dir.join("countersign.db").display());
    let store = open(&url).await.unwrap();
    let agent = Agent {
        name: "bot".into(),
        did: Keypair::from_seed(&[4; 32]).did(),
        allow: vec!["/payment".parse().unwrap()],
        max_pending: 5,
        rate_per_min: 20,
        created_at: 1_800_000_000,
    };
    store.add_agent(&agent, &[]).await.unwrap();
    let copy = dir.join("backup.db");
    let (code, out, err) = run(&dir, &["db", "backup", copy.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("copied"), "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let (code, _, err) = run(&dir, &["db", "backup", copy.to_str().unwrap()]);
    assert_ne!(code, 0, "an existing file is never overwritten");
    assert_eq!(err.lines().count(), 1, "{err}");
    let restored = open(&format!("sqlite:{}", copy.display())).await.unwrap();
    assert_eq!(restored.list_agents().await.unwrap(), vec![agent]);
    let _ = std::fs::remove_dir_all(&dir);
}
