//! Exports of a company's data, or one visitor's: asked for by the company's admins or the
//! platform, built in the background (poll the export for its progress), downloaded while
//! ready as one `.jsonl.gz` file.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tandem_core::export::{Export, ExportDownload};
use tandem_core::ids::{ExportId, TenantId, VisitorId};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{AdminAuth, PlatformAuth};
use crate::error::{ApiError, ErrorBody};
use crate::extract::OptionalJsonBody;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(request, list))
        .routes(routes!(show))
        .routes(routes!(download))
        .routes(routes!(request_for_tenant, list_for_tenant))
        .routes(routes!(download_for_tenant))
}

/// What to export.
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// One visitor's data only; the whole company's when left out.
    pub visitor_id: Option<uuid::Uuid>,
}

impl ExportRequest {
    fn visitor(&self) -> Option<VisitorId> {
        self.visitor_id.map(VisitorId::from_uuid)
    }
}

#[derive(Serialize, ToSchema)]
pub struct ExportList {
    /// Newest first (the last 20).
    pub exports: Vec<Export>,
}

#[utoipa::path(post, path = "/api/v1/admin/exports", tag = "admin",
    request_body(content = Option<ExportRequest>, description = "Leave out for the whole company's data"),
    responses(
        (status = 202, description = "Asked for: a worker builds it; poll it for its progress", body = Export),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "No such visitor in this company", body = ErrorBody),
        (status = 409, description = "An export of this company is being prepared", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn request(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    OptionalJsonBody(body): OptionalJsonBody<ExportRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let visitor = body.visitor();
    let export = state
        .tandem
        .exports
        .request_as_admin(&actor, visitor)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(export)))
}

#[utoipa::path(get, path = "/api/v1/admin/exports", tag = "admin",
    responses((status = 200, body = ExportList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
) -> Result<Json<ExportList>, ApiError> {
    let exports = state.tandem.exports.list_as_admin(&actor).await?;
    Ok(Json(ExportList { exports }))
}

#[utoipa::path(get, path = "/api/v1/admin/exports/{id}", tag = "admin",
    params(("id" = String, Path)),
    responses((status = 200, description = "The export and its progress", body = Export), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn show(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<Export>, ApiError> {
    actor.require_admin()?;
    let id: ExportId = id.parse()?;
    Ok(Json(state.tandem.exports.get(actor.tenant, id).await?))
}

#[utoipa::path(get, path = "/api/v1/admin/exports/{id}/download", tag = "admin",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The archive: gzipped JSON Lines, one object per line with its `type` (export, settings, operator, plugin, visitor, page_view, chat, rating, message, note, file, delivery)", content_type = "application/gzip"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "Not ready yet, failed or expired", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn download(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id: ExportId = id.parse()?;
    let archive = state.tandem.exports.download_as_admin(&actor, id).await?;
    Ok(serve(archive))
}

#[utoipa::path(post, path = "/api/v1/platform/tenants/{tenant}/exports", tag = "platform",
    params(("tenant" = String, Path)),
    request_body(content = Option<ExportRequest>, description = "Leave out for the whole company's data"),
    responses(
        (status = 202, description = "As the admin's request, for any company", body = Export),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody),
    ),
    security(("platform" = [])))]
pub async fn request_for_tenant(
    State(state): State<AppState>,
    PlatformAuth(by): PlatformAuth,
    Path(tenant): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<ExportRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let tenant: TenantId = tenant.parse()?;
    let visitor = body.visitor();
    let export = state
        .tandem
        .exports
        .request_as_platform(&by, tenant, visitor)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(export)))
}

#[utoipa::path(get, path = "/api/v1/platform/tenants/{tenant}/exports", tag = "platform",
    params(("tenant" = String, Path)),
    responses((status = 200, body = ExportList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("platform" = [])))]
pub async fn list_for_tenant(
    State(state): State<AppState>,
    PlatformAuth(_by): PlatformAuth,
    Path(tenant): Path<String>,
) -> Result<Json<ExportList>, ApiError> {
    let tenant: TenantId = tenant.parse()?;
    state.tandem.tenants.by_id(tenant).await?;
    let exports = state.tandem.exports.list(tenant).await?;
    Ok(Json(ExportList { exports }))
}

#[utoipa::path(get, path = "/api/v1/platform/tenants/{tenant}/exports/{id}/download", tag = "platform",
    params(("tenant" = String, Path), ("id" = String, Path)),
    responses(
        (status = 200, description = "As the admin's download", content_type = "application/gzip"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    ),
    security(("platform" = [])))]
pub async fn download_for_tenant(
    State(state): State<AppState>,
    PlatformAuth(by): PlatformAuth,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let tenant: TenantId = tenant.parse()?;
    let id: ExportId = id.parse()?;
    let archive = state
        .tandem
        .exports
        .download_as_platform(&by, tenant, id)
        .await?;
    Ok(serve(archive))
}

/// The archive, saved by the browser under its name.
fn serve(archive: ExportDownload) -> Response {
    let mut response = Body::from_stream(archive.bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/gzip"));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(archive.size));
    // The name is made of a slug, an id and a date: ASCII without quotes.
    if let Ok(value) =
        HeaderValue::from_str(&format!("attachment; filename=\"{}\"", archive.file_name))
    {
        headers.insert(CONTENT_DISPOSITION, value);
    }
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
