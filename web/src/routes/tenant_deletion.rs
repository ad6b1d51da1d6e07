//! The platform deletes a whole company: scheduled after a grace period (the company is
//! suspended at once), called off while the period runs, carried out by the housekeeping.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use tandem_core::ids::TenantId;
use tandem_core::tenant::{DEFAULT_GRACE, Tenant};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::PlatformAuth;
use crate::error::{ApiError, ErrorBody};
use crate::extract::OptionalJsonBody;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(schedule, cancel))
}

#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeletionRequest {
    /// Days before everything goes (default 30, at most 365; 0 deletes at the housekeeping's
    /// next round, within a minute).
    #[schema(minimum = 0, maximum = 365)]
    pub grace_days: Option<u32>,
}

const DAY: Duration = Duration::from_secs(24 * 3600);

#[utoipa::path(post, path = "/api/v1/platform/tenants/{id}/deletion", tag = "platform",
    params(("id" = String, Path)),
    request_body(content = Option<DeletionRequest>, description = "Leave out for a 30-day grace period"),
    responses(
        (status = 200, description = "Scheduled (`deletion_due_at`), and the company suspended now: its widget and its staff are refused. Everything it owns — chats, messages, visitors, operators, files, plugins, settings, exports, its audit trail — is deleted when the time comes; the installation's trail keeps that it was.", body = Tenant),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "The deletion's time has come: it has begun and can no longer be changed", body = ErrorBody),
    ),
    security(("platform" = [])))]
pub async fn schedule(
    State(state): State<AppState>,
    PlatformAuth(by): PlatformAuth,
    Path(id): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<DeletionRequest>,
) -> Result<Json<Tenant>, ApiError> {
    let id: TenantId = id.parse()?;
    let grace = body
        .grace_days
        .map_or(DEFAULT_GRACE, |days| DAY * days.min(366));
    let tenant = state
        .tandem
        .tenants
        .schedule_deletion(&by, id, grace)
        .await?;
    state.tenants.evict(id);
    Ok(Json(tenant))
}

#[utoipa::path(delete, path = "/api/v1/platform/tenants/{id}/deletion", tag = "platform",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "Called off; the company stays suspended until resumed", body = Tenant),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "No deletion is scheduled, or it has begun", body = ErrorBody),
    ),
    security(("platform" = [])))]
pub async fn cancel(
    State(state): State<AppState>,
    PlatformAuth(by): PlatformAuth,
    Path(id): Path<String>,
) -> Result<Json<Tenant>, ApiError> {
    let id: TenantId = id.parse()?;
    let tenant = state.tandem.tenants.cancel_deletion(&by, id).await?;
    state.tenants.evict(id);
    Ok(Json(tenant))
}
