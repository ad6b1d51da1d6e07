//! The audit trail: a tenant's admins read their own tenant's, the platform operator all of it.
//! Nothing here writes: entries are added by the changes they record.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use tandem_core::audit::{AuditEntry, MAX_PAGE, TrailPage};
use tandem_core::ids::{AuditEventId, TenantId};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{AdminAuth, PlatformAuth};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{PageSize, QueryParams};
use crate::state::AppState;

/// Entries a page holds unless asked for fewer or more.
const DEFAULT_PAGE: u64 = 100;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(tenant_trail))
        .routes(routes!(platform_trail))
}

#[derive(Serialize, ToSchema)]
pub struct AuditTrail {
    /// Newest first.
    pub entries: Vec<AuditEntry>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TrailQuery {
    /// Only entries older than this one (the last entry of the page you have).
    #[param(value_type = String, format = Uuid, required = false, nullable = false)]
    pub before: Option<AuditEventId>,
    /// At most this many (default 100).
    #[param(value_type = u64, minimum = 1, maximum = 500, required = false, nullable = false)]
    pub limit: Option<PageSize<MAX_PAGE>>,
}

fn page(before: Option<AuditEventId>, limit: Option<PageSize<MAX_PAGE>>) -> TrailPage {
    TrailPage {
        limit: limit.map_or(DEFAULT_PAGE, |size| size.0),
        before,
    }
}

#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin",
    params(TrailQuery),
    responses((status = 200, description = "Every change made to the tenant by its admins, its operators (their own photos) and the platform: who, when, from where, and the changed fields before and after, secrets redacted", body = AuditTrail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn tenant_trail(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    QueryParams(query): QueryParams<TrailQuery>,
) -> Result<Json<AuditTrail>, ApiError> {
    let entries = state
        .tandem
        .audit
        .tenant_trail(&actor, page(query.before, query.limit))
        .await?;
    Ok(Json(AuditTrail { entries }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlatformTrailQuery {
    /// Only this tenant's entries.
    #[param(value_type = String, format = Uuid, required = false, nullable = false)]
    pub tenant: Option<TenantId>,
    /// Only entries older than this one (the last entry of the page you have).
    #[param(value_type = String, format = Uuid, required = false, nullable = false)]
    pub before: Option<AuditEventId>,
    /// At most this many (default 100).
    #[param(value_type = u64, minimum = 1, maximum = 500, required = false, nullable = false)]
    pub limit: Option<PageSize<MAX_PAGE>>,
}

#[utoipa::path(get, path = "/api/v1/platform/audit", tag = "platform",
    params(PlatformTrailQuery),
    responses((status = 200, description = "Every tenant's trail, or one tenant's, newest first", body = AuditTrail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, description = "The platform API is off (no platform token configured)", body = ErrorBody)),
    security(("platform" = [])))]
pub async fn platform_trail(
    State(state): State<AppState>,
    _: PlatformAuth,
    QueryParams(query): QueryParams<PlatformTrailQuery>,
) -> Result<Json<AuditTrail>, ApiError> {
    let entries = state
        .tandem
        .audit
        .platform_trail(query.tenant, page(query.before, query.limit))
        .await?;
    Ok(Json(AuditTrail { entries }))
}
