//! Behaviour of the storage backends: one suite written against `Arc<dyn Store>`, run on
//! SQLite (a fresh file per test) and, when `COUNTERSIGN_TEST_DATABASE_URL` is set, on
//! PostgreSQL (a fresh database per test).

mod devices;
mod fixtures;
mod requests;

/// Runs each listed case once per backend: `store::sqlite::NAME`, `store::postgres::NAME`.
macro_rules! suite {
    ($($module:ident :: $name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = super::fixtures::TestDb::new(super::fixtures::Backend::Sqlite).await;
                    if let Some(db) = db {
                        super::$module::$name(db).await;
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = super::fixtures::TestDb::new(super::fixtures::Backend::Postgres).await;
                    if let Some(db) = db {
                        super::$module::$name(db).await;
                    }
                }
            )*
        }
    };
}

suite!(
    devices::agents_crud,
    devices::agent_duplicates_are_rejected,
    devices::pairing_open_claim_confirm,
    devices::pairing_unavailable_cases,
    devices::one_active_device_per_did,
    devices::device_removal_revokes_standing,
    devices::jti_replay_and_prune,
    devices::corrupt_rows_are_errors,
    devices::data_survives_reopening,
    requests::requests_create_get_list,
    requests::json_fields_round_trip,
    requests::max_pending_limit,
    requests::rate_limit,
    requests::decisions_only_from_pending,
    requests::decisions_after_expiry,
    requests::racing_decisions_have_one_winner,
    requests::racing_creations_respect_limits,
    requests::expire_due_marks_due_requests,
);
