//! Signed checkpoints of the audit log: count, head hash and time, under the service key.

use data_encoding::BASE64;

use crate::audit::{Checkpoint, checkpoint_message};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::StoreError;

/// Signs and stores a checkpoint of the log as it is now (unless one exists for this count).
pub async fn sign_now(state: &AppState) -> Result<Checkpoint, ApiError> {
    let (count, head) = state.store.audit_head().await?;
    let at = state.now();
    let signature = state
        .service
        .sign(checkpoint_message(count, &head, at).as_bytes());
    let checkpoint = Checkpoint {
        count,
        head,
        at,
        signature: BASE64.encode(&signature),
    };
    match state.store.add_checkpoint(&checkpoint).await {
        Ok(()) | Err(StoreError::AlreadyExists) => Ok(checkpoint),
        Err(e) => Err(e.into()),
    }
}
