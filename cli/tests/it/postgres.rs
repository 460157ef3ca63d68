//! A PostgreSQL database of a test's own, on the server `COUNTERSIGN_TEST_DATABASE_URL`
//! names, dropped afterwards even if the test fails.

use std::process::Command;

pub struct TestDatabase {
    /// The URL of the server's database the test was given.
    pub base: String,
    pub name: String,
}

impl TestDatabase {
    /// Creates `{prefix}_{process id}`; without a server named, says that `test` is
    /// skipped (`None`) — a failure when `COUNTERSIGN_REQUIRE_POSTGRES` is set.
    pub fn create(prefix: &str, test: &str) -> Option<TestDatabase> {
        let Ok(base) = std::env::var("COUNTERSIGN_TEST_DATABASE_URL") else {
            assert!(
                std::env::var_os("COUNTERSIGN_REQUIRE_POSTGRES").is_none(),
                "COUNTERSIGN_REQUIRE_POSTGRES is set but COUNTERSIGN_TEST_DATABASE_URL is not"
            );
            eprintln!(
                "SKIPPED {test}: set COUNTERSIGN_TEST_DATABASE_URL to run against PostgreSQL"
            );
            return None;
        };
        Some(Self::create_on(
            &base,
            &format!("{prefix}_{}", std::process::id()),
        ))
    }

    /// Creates `name` on the server of `base`.
    pub fn create_on(base: &str, name: &str) -> TestDatabase {
        assert!(
            psql(base, &format!("CREATE DATABASE {name}")),
            "psql could not create {name}"
        );
        TestDatabase {
            base: base.to_owned(),
            name: name.to_owned(),
        }
    }

    /// This database's URL: the given one, naming this database instead.
    pub fn url(&self) -> String {
        let (server, _) = self.base.rsplit_once('/').unwrap();
        format!("{server}/{}", self.name)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        psql(
            &self.base,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

fn psql(url: &str, sql: &str) -> bool {
    Command::new("psql")
        .args([url, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .is_ok_and(|o| o.status.success())
}
