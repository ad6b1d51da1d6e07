//! What the platform operator watches: each tenant's use, each tenant's plugins and their
//! health, and the installation's nodes, queues and database.

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use tandem_core::ids::TenantId;
use tandem_core::installation::InstallationHealth;
use tandem_core::plugin::PluginHealth;
use tandem_core::usage::TenantUsage;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::PlatformAuth;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(usage))
        .routes(routes!(health))
        .routes(routes!(plugins))
}

#[derive(Serialize, ToSchema)]
pub struct UsageReport {
    /// Tenants with any use in the last 30 days or a socket open now.
    pub tenants: Vec<TenantUsage>,
}

#[utoipa::path(get, path = "/api/v1/platform/usage", tag = "platform",
    responses((status = 200, description = "Each tenant's use today (UTC), over 7 and over 30 days, counted as the work happened, and its widget sockets open now", body = UsageReport), (status = 401, body = ErrorBody), (status = 404, description = "The platform API is off (no platform token configured)", body = ErrorBody)),
    security(("platform" = [])))]
pub async fn usage(
    State(state): State<AppState>,
    _: PlatformAuth,
) -> Result<Json<UsageReport>, ApiError> {
    Ok(Json(UsageReport {
        tenants: state.tandem.usage.report().await?,
    }))
}

#[utoipa::path(get, path = "/api/v1/platform/health", tag = "platform",
    responses((status = 200, description = "The nodes and their heartbeats, the notification queue and webhook backlog, the database's size", body = InstallationHealth), (status = 401, body = ErrorBody), (status = 404, description = "The platform API is off (no platform token configured)", body = ErrorBody)),
    security(("platform" = [])))]
pub async fn health(
    State(state): State<AppState>,
    _: PlatformAuth,
) -> Result<Json<InstallationHealth>, ApiError> {
    Ok(Json(
        state
            .tandem
            .installation
            .health(state.node_silent_after)
            .await?,
    ))
}

#[derive(Serialize, ToSchema)]
pub struct PluginHealthList {
    /// In the order they run.
    pub plugins: Vec<PluginHealth>,
}

#[utoipa::path(get, path = "/api/v1/platform/tenants/{id}/plugins", tag = "platform",
    params(("id" = String, Path)),
    responses((status = 200, description = "The tenant's plugins: running or not, failures in a row, why Tandem disabled one, the latest errors (never their settings)", body = PluginHealthList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("platform" = [])))]
pub async fn plugins(
    State(state): State<AppState>,
    _: PlatformAuth,
    Path(id): Path<String>,
) -> Result<Json<PluginHealthList>, ApiError> {
    let id: TenantId = id.parse()?;
    state.tandem.tenants.by_id(id).await?;
    Ok(Json(PluginHealthList {
        plugins: state.tandem.plugins.health_of(id).await?,
    }))
}
