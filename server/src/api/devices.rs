//! `/v1/devices`: the owner lists and removes paired devices; a device reads its own record.

use axum::Json;
use axum::extract::{Path, State};

use super::views::DeviceView;
use crate::audit::kind;
use crate::auth::{DeviceCaller, Owner};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::AuditEvent;
use serde_json::json;

#[utoipa::path(get, path = "/v1/devices", tag = "devices", security(("owner" = [])),
    responses((status = 200, body = Vec<DeviceView>)))]
pub async fn list(
    State(state): State<AppState>,
    _owner: Owner,
) -> Result<Json<Vec<DeviceView>>, ApiError> {
    let devices = state.store.list_devices().await?;
    Ok(Json(devices.iter().map(DeviceView::from).collect()))
}

#[utoipa::path(get, path = "/v1/devices/me", tag = "devices", security(("device" = [])),
    responses((status = 200, body = DeviceView)))]
pub async fn me(DeviceCaller(device): DeviceCaller) -> Json<DeviceView> {
    Json(DeviceView::from(&device))
}

/// Removes a device and revokes its standing delegations: it can approve nothing more.
#[utoipa::path(delete, path = "/v1/devices/{id}", tag = "devices", security(("owner" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = DeviceView), (status = 404, body = crate::error::ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    Owner(owner): Owner,
    Path(id): Path<String>,
) -> Result<Json<DeviceView>, ApiError> {
    let now = state.now();
    let event = AuditEvent::new(now, kind::DEVICE_REMOVED, owner, &id, json!({}));
    let device = state
        .store
        .remove_device(&id, now, &[event])
        .await
        .map_err(|e| match e {
            crate::store::StoreError::NotFound => ApiError::not_found("device"),
            other => other.into(),
        })?;
    state.announce(true);
    Ok(Json(DeviceView::from(&device)))
}
