//! Schema migrations as operators see them: which are applied, which are waiting, and an
//! online copy of a SQLite database. Migrations are applied whenever a store opens.

use std::str::FromStr;

use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use super::{Result, StoreError, redact};

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// One migration of the backend a URL names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Migration {
    pub version: i64,
    pub description: String,
    pub applied: bool,
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The backend's migrations and whether each is applied, without changing anything.
pub async fn status(url: &str) -> Result<Vec<Migration>> {
    let (migrator, applied) = if is_postgres(url) {
        let pool = PgPoolOptions::new().max_connections(1).connect(url).await?;
        let applied =
            sqlx::query_scalar::<_, i64>("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&pool)
                .await
                .unwrap_or_default();
        (&POSTGRES, applied)
    } else if url.starts_with("sqlite:") {
        let options = SqliteConnectOptions::from_str(url)?.create_if_missing(false);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Database(format!("cannot open {}: {e}", redact(url))))?;
        let applied =
            sqlx::query_scalar::<_, i64>("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&pool)
                .await
                .unwrap_or_default();
        (&SQLITE, applied)
    } else {
        return Err(StoreError::Database(format!(
            "unsupported database URL {:?}",
            redact(url)
        )));
    };
    Ok(migrator
        .iter()
        .map(|m| Migration {
            version: m.version,
            description: m.description.to_string(),
            applied: applied.contains(&m.version),
        })
        .collect())
}

/// Applies every waiting migration (by opening the store) and reports the result.
pub async fn migrate(url: &str) -> Result<Vec<Migration>> {
    drop(super::open(url).await?);
    status(url).await
}

/// Writes a consistent copy of a live SQLite database to `dest` (`VACUUM INTO`), while the
/// service keeps running. PostgreSQL is backed up with `pg_dump`.
pub async fn backup_sqlite(url: &str, dest: &std::path::Path) -> Result<()> {
    if !url.starts_with("sqlite:") {
        return Err(StoreError::Database(
            "online backup here is for SQLite; back up PostgreSQL with pg_dump".into(),
        ));
    }
    // The copy holds capabilities and the audit log: readable by its owner only. SQLite
    // writes into an empty file made beforehand.
    let mut file = std::fs::OpenOptions::new();
    file.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        file.mode(0o600);
    }
    file.open(dest)
        .map_err(|e| StoreError::Database(format!("cannot create {}: {e}", dest.display())))?;
    let options = SqliteConnectOptions::from_str(url)?.create_if_missing(false);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?;
    sqlx::query("VACUUM INTO ?")
        .bind(dest.to_string_lossy().into_owned())
        .execute(&pool)
        .await?;
    Ok(())
}
