//! The platform admin's endpoints (the SaaS operator's own): tenants.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use tandem_core::ids::TenantId;
use tandem_core::tenant::{CreatedTenant, LimitsPatch, NewTenant, Tenant};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::PlatformAuth;
use crate::error::{ApiError, ErrorBody};
use crate::extract::JsonBody;
use crate::state::AppState;

/// The SaaS operator's calls, behind the platform token.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(update))
}

#[derive(Serialize, ToSchema)]
pub struct TenantList {
    pub tenants: Vec<Tenant>,
}

#[utoipa::path(get, path = "/api/v1/platform/tenants", tag = "platform",
    responses((status = 200, body = TenantList), (status = 401, body = ErrorBody), (status = 404, description = "The platform API is off (no platform token configured)", body = ErrorBody)),
    security(("platform" = [])))]
pub async fn list(
    State(state): State<AppState>,
    _: PlatformAuth,
) -> Result<Json<TenantList>, ApiError> {
    Ok(Json(TenantList {
        tenants: state.tandem.tenants.list().await?,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenantBody {
    pub slug: String,
    pub name: String,
    pub admin_email: String,
    /// Generated and returned once when absent.
    pub admin_password: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/platform/tenants", tag = "platform",
    request_body = NewTenantBody,
    responses((status = 201, description = "The same JSON as `tandem tenant create`", body = CreatedTenant), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("platform" = [])))]
pub async fn create(
    State(state): State<AppState>,
    PlatformAuth(by): PlatformAuth,
    JsonBody(body): JsonBody<NewTenantBody>,
) -> Result<impl IntoResponse, ApiError> {
    let created = state
        .tandem
        .tenants
        .create(
            &by,
            NewTenant {
                slug: body.slug,
                name: body.name,
                admin_email: body.admin_email,
                admin_password: body.admin_password,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantPatchBody {
    /// A suspended tenant's widget answers 403 `tenant_suspended`, its sockets close and its
    /// operators cannot log in; nothing is deleted.
    pub suspended: Option<bool>,
    /// Fields left out keep their value.
    pub limits: Option<LimitsPatch>,
}

#[utoipa::path(patch, path = "/api/v1/platform/tenants/{id}", tag = "platform",
    params(("id" = String, Path)),
    request_body = TenantPatchBody,
    responses((status = 200, body = Tenant), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "Resuming a company whose deletion is scheduled", body = ErrorBody)),
    security(("platform" = [])))]
pub async fn update(
    State(state): State<AppState>,
    PlatformAuth(by): PlatformAuth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<TenantPatchBody>,
) -> Result<Json<Tenant>, ApiError> {
    let id: TenantId = id.parse()?;
    let mut tenant = state.tandem.tenants.by_id(id).await?;
    if body.suspended == Some(false) && tenant.deletion_due_at.is_some() {
        return Err(tandem_core::CoreError::Conflict(
            "the company's deletion is scheduled; call it off before resuming it".into(),
        )
        .into());
    }
    // Limits first: if they are refused, the suspension is not changed either.
    if let Some(limits) = body.limits {
        tenant = state.tandem.tenants.set_limits(&by, id, limits).await?;
    }
    if let Some(suspended) = body.suspended {
        tenant = state
            .tandem
            .tenants
            .set_suspended(&by, id, suspended)
            .await?;
    }
    state.tenants.evict(id);
    Ok(Json(tenant))
}
