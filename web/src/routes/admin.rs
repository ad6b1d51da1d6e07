//! The tenant admin's endpoints: settings and operators.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use tandem_core::delivery::DeliveryRecord;
use tandem_core::ids::UserId;
use tandem_core::operator::{NewOperator, Operator, OperatorPatch, Role};
use tandem_core::tenant::{SettingsPatch, Tenant, TenantSettings};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AdminAuth;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonBody, PageSize, QueryParams};
use crate::routes::chats::OperatorList;
use crate::state::AppState;

/// The tenant admin's calls (templates and plugins have modules of their own).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(tenant))
        .routes(routes!(settings, update_settings))
        .routes(routes!(operators, create_operator))
        .routes(routes!(update_operator, deactivate_operator))
        .routes(routes!(notifications))
        .routes(routes!(webhook_secret))
        .routes(routes!(rotate_webhook_secret))
}

#[utoipa::path(get, path = "/api/v1/admin/tenant", tag = "admin",
    responses((status = 200, description = "The tenant, with its widget key for the embed snippet", body = Tenant), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn tenant(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
) -> Result<Json<Tenant>, ApiError> {
    Ok(Json(state.tandem.tenants.by_id(actor.tenant).await?))
}

#[utoipa::path(get, path = "/api/v1/admin/settings", tag = "admin",
    responses((status = 200, body = TenantSettings), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn settings(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
) -> Result<Json<TenantSettings>, ApiError> {
    Ok(Json(state.tandem.tenants.settings(actor.tenant).await?))
}

#[utoipa::path(put, path = "/api/v1/admin/settings", tag = "admin",
    request_body(content = SettingsPatch, description = "Fields left out keep their value"),
    responses((status = 200, body = TenantSettings), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_settings(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    JsonBody(patch): JsonBody<SettingsPatch>,
) -> Result<Json<TenantSettings>, ApiError> {
    let settings = state.tandem.tenants.update_settings(&actor, patch).await?;
    state.tenants.evict(actor.tenant);
    Ok(Json(settings))
}

#[utoipa::path(get, path = "/api/v1/admin/operators", tag = "admin",
    responses((status = 200, body = OperatorList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn operators(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
) -> Result<Json<OperatorList>, ApiError> {
    Ok(Json(OperatorList {
        operators: state.tandem.operators.list(&actor).await?,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOperatorBody {
    pub email: String,
    pub name: String,
    /// Generated and returned once when absent.
    pub password: Option<String>,
    pub role: Option<Role>,
    /// Open chats at once (default 5).
    #[schema(minimum = 1, maximum = 100)]
    pub capacity: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedOperator {
    pub operator: Operator,
    /// Present only when it was generated: shown this once.
    pub password: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/admin/operators", tag = "admin",
    request_body = NewOperatorBody,
    responses((status = 201, body = CreatedOperator), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, description = "The email already has an account", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_operator(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    JsonBody(body): JsonBody<NewOperatorBody>,
) -> Result<impl IntoResponse, ApiError> {
    let (operator, password) = state
        .tandem
        .operators
        .create(
            &actor,
            NewOperator {
                email: body.email,
                name: body.name,
                password: body.password,
                role: body.role,
                capacity: body.capacity,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedOperator { operator, password }),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OperatorPatchBody {
    pub name: Option<String>,
    pub role: Option<Role>,
    #[schema(minimum = 1, maximum = 100)]
    pub capacity: Option<u32>,
    /// `false` deactivates: the operator's sessions and sockets end at once.
    pub active: Option<bool>,
}

#[utoipa::path(patch, path = "/api/v1/admin/operators/{id}", tag = "admin",
    params(("id" = String, Path)),
    request_body = OperatorPatchBody,
    responses((status = 200, body = Operator), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "The last active admin cannot be demoted or deactivated", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_operator(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<OperatorPatchBody>,
) -> Result<Json<Operator>, ApiError> {
    let id: UserId = id.parse()?;
    let patch = OperatorPatch {
        name: body.name,
        role: body.role,
        capacity: body.capacity,
        active: body.active,
    };
    Ok(Json(
        state.tandem.operators.update(&actor, id, patch).await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/admin/operators/{id}", tag = "admin",
    params(("id" = String, Path)),
    responses((status = 204, description = "Deactivated: nothing is deleted, their chats and messages stay"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn deactivate_operator(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: UserId = id.parse()?;
    let patch = OperatorPatch {
        active: Some(false),
        ..Default::default()
    };
    state.tandem.operators.update(&actor, id, patch).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryLog {
    /// Newest first.
    pub deliveries: Vec<DeliveryRecord>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// At most this many lines (default 100).
    #[param(value_type = u64, minimum = 1, maximum = 500, required = false, nullable = false)]
    pub limit: Option<PageSize<{ tandem_core::delivery::MAX_LOG }>>,
}

#[utoipa::path(get, path = "/api/v1/admin/notifications", tag = "admin",
    params(LogQuery),
    responses((status = 200, description = "Every batch of unread replies sent, skipped or failed: when, by which channel, to whom, and why", body = DeliveryLog), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn notifications(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    QueryParams(query): QueryParams<LogQuery>,
) -> Result<Json<DeliveryLog>, ApiError> {
    let deliveries = state
        .tandem
        .deliveries
        .log(&actor, query.limit.map_or(100, |size| size.0))
        .await?;
    Ok(Json(DeliveryLog { deliveries }))
}

/// The key the tenant's webhook posts are signed with.
#[derive(Serialize, ToSchema)]
pub struct WebhookSecret {
    /// Receivers compute HMAC-SHA256 of the raw body with it and compare the hex digest with
    /// the `X-Tandem-Signature: sha256=…` header.
    pub secret: String,
}

#[utoipa::path(get, path = "/api/v1/admin/webhook-secret", tag = "admin",
    responses((status = 200, body = WebhookSecret), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn webhook_secret(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
) -> Result<Json<WebhookSecret>, ApiError> {
    let secret = state.tandem.deliveries.webhook_secret(&actor).await?;
    Ok(Json(WebhookSecret { secret }))
}

#[utoipa::path(post, path = "/api/v1/admin/webhook-secret/rotate", tag = "admin",
    responses((status = 200, description = "The new secret; posts are signed with it from now on", body = WebhookSecret), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn rotate_webhook_secret(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
) -> Result<Json<WebhookSecret>, ApiError> {
    let secret = state
        .tandem
        .deliveries
        .rotate_webhook_secret(&actor)
        .await?;
    Ok(Json(WebhookSecret { secret }))
}
