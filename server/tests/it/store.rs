//! Behaviour of the storage backends: one suite written against `Arc<dyn Store>`, run on
//! SQLite (a fresh file per test) and, when `COUNTERSIGN_TEST_DATABASE_URL` is set, on
//! PostgreSQL (a fresh database per test).

mod audit;
mod audit_events;
mod controls;
mod devices;
pub mod fixtures;
mod kill;
mod outbox;
mod requests;
mod revocations;

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
    audit::audit_chain_links,
    audit::concurrent_audited_writes_stay_one_chain,
    audit::abandoned_writes_are_whole_or_absent,
    audit_events::changes_append_their_events,
    audit_events::failed_changes_append_nothing,
    audit_events::expiry_is_audited,
    audit::checkpoints_round_trip,
    audit::statements_are_logged_once,
    revocations::revocation_feed_cursors,
    revocations::device_removal_feeds_revocations,
    revocations::readers_never_skip_a_cursor,
    revocations::tokens_are_recorded_and_listed,
    revocations::approvals_record_their_tokens,
    kill::kill_agent_touches_only_its_own,
    kill::kill_all_and_lift,
    kill::suspension,
    controls::denial_and_pending_counts,
    controls::identical_pending_requests_are_found,
    controls::auto_approval_lifecycle,
    controls::quorum_rules_crud,
    controls::partial_approvals_one_per_device,
    controls::racing_partial_approvals_one_per_device,
    outbox::outbox_is_written_with_request_changes,
    outbox::outbox_fans_out_to_active_subscriptions,
    outbox::claims_are_exclusive_under_concurrency,
    outbox::leases_expire_and_lost_claims_change_nothing,
    outbox::retries_wait_and_closed_never_overtakes_pending,
    outbox::gone_subscriptions_are_removed_with_the_audit_entry,
);
