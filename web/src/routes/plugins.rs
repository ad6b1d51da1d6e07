//! Tenant admins' plugins: upload (raw `application/wasm`, validated by the plugin host before
//! anything is stored), list, enable/disable and order, delete, and each plugin's log.

use axum::Json;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use tandem_core::ids::PluginId;
use tandem_core::plugin::{NewPlugin, PluginInfo, PluginLogLine, PluginPatch, TrialReport};
use tandem_plugins::CallLimits;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AdminAuth;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonBody, PageSize, QueryParams};
use crate::state::AppState;

/// `max_plugin_bytes`: the largest module an upload may carry (the body also holds the form).
pub fn routes(max_plugin_bytes: usize) -> OpenApiRouter<AppState> {
    let uploads = OpenApiRouter::new()
        .routes(routes!(list, upload))
        .layer(DefaultBodyLimit::max(max_plugin_bytes.saturating_add(1024)));
    OpenApiRouter::new()
        .merge(uploads)
        .routes(routes!(update, delete))
        .routes(routes!(save_settings))
        .routes(routes!(logs))
        .routes(routes!(trial))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// A name for the admin's eyes; the plugin's own manifest name when absent.
    #[param(nullable = false)]
    pub name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PluginList {
    /// In the order they run.
    pub plugins: Vec<PluginInfo>,
}

#[derive(Serialize, ToSchema)]
pub struct PluginLog {
    /// Newest first.
    pub lines: Vec<PluginLogLine>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// At most this many lines (default 100).
    #[param(value_type = u64, minimum = 1, maximum = 1000, required = false, nullable = false)]
    pub limit: Option<PageSize<{ tandem_core::plugin::KEPT_LOG_LINES }>>,
}

#[utoipa::path(post, path = "/api/v1/admin/plugins", tag = "admin",
    params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/wasm", description = "The component, as built"),
    responses((status = 201, body = PluginInfo), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "Not a valid plugin (the reason says why), or the tenant's plugin limit is reached", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn upload(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    QueryParams(query): QueryParams<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<PluginInfo>), ApiError> {
    // Both checks come before the body is read: a wrong or oversized upload is refused at once,
    // not after megabytes have crossed the network.
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.starts_with("application/wasm") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "upload the component as the raw body with Content-Type: application/wasm",
        ));
    }
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("a plugin may be at most {} bytes", state.max_plugin_bytes),
        )
    };
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if announced.is_some_and(|length| length > state.max_plugin_bytes) {
        return Err(too_large());
    }
    let body = axum::body::to_bytes(body, state.max_plugin_bytes.saturating_add(1))
        .await
        .map_err(|e| {
            if std::error::Error::source(&e)
                .is_some_and(|inner| inner.is::<http_body_util::LengthLimitError>())
            {
                too_large()
            } else {
                ApiError::new(StatusCode::BAD_REQUEST, "bad_request", e.to_string())
            }
        })?;
    let tenant = state.tandem.tenants.by_id(actor.tenant).await?;
    let limits = CallLimits::new(
        tenant.limits.plugin_timeout_ms,
        tenant.limits.plugin_memory_mib,
    )
    .of_tenant(actor.tenant);
    let started = std::time::Instant::now();
    let validated = state
        .plugins
        .host()
        .validate(body.to_vec(), state.max_plugin_bytes, limits)
        .await;
    state
        .plugins
        .observer()
        .compiled(actor.tenant, started.elapsed(), validated.is_ok());
    let compiled = validated.map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_plugin",
            e.to_string(),
        )
    })?;
    let name = query.name.unwrap_or_else(|| compiled.manifest.name.clone());
    let installed = state
        .tandem
        .plugins
        .install(
            &actor,
            NewPlugin {
                name,
                version: compiled.manifest.version.clone(),
                hooks: compiled
                    .manifest
                    .hooks
                    .iter()
                    .map(|h| h.as_str().to_owned())
                    .collect(),
                world: compiled.manifest.world.clone(),
                settings_schema: compiled.manifest.settings_schema.clone(),
                sha256: compiled.sha256.clone(),
                wasm: body.to_vec(),
            },
        )
        .await?;
    // Compiled once, at upload: the first hook calls find it ready.
    state.plugins.host().keep(&compiled);
    state.plugins.forget(actor.tenant);
    Ok((StatusCode::CREATED, Json(installed)))
}

#[utoipa::path(get, path = "/api/v1/admin/plugins", tag = "admin",
    responses((status = 200, body = PluginList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
) -> Result<Json<PluginList>, ApiError> {
    Ok(Json(PluginList {
        plugins: state.tandem.plugins.list(&actor).await?,
    }))
}

#[utoipa::path(patch, path = "/api/v1/admin/plugins/{id}", tag = "admin",
    params(("id" = String, Path)),
    request_body = PluginPatch,
    responses((status = 200, body = PluginInfo), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<String>,
    JsonBody(patch): JsonBody<PluginPatch>,
) -> Result<Json<PluginInfo>, ApiError> {
    let id: PluginId = id.parse()?;
    let updated = state.tandem.plugins.update(&actor, id, patch).await?;
    state.plugins.forget(actor.tenant);
    Ok(Json(updated))
}

#[utoipa::path(put, path = "/api/v1/admin/plugins/{id}/settings", tag = "admin",
    params(("id" = String, Path)),
    request_body(content = Object, description = "The settings, a JSON object the plugin's settings schema accepts"),
    responses((status = 200, body = PluginInfo), (status = 400, description = "Not an object, too large, refused by the schema (each problem named by its place), or the plugin declares no settings", body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn save_settings(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<String>,
    JsonBody(settings): JsonBody<serde_json::Value>,
) -> Result<Json<PluginInfo>, ApiError> {
    let id: PluginId = id.parse()?;
    let saved = state
        .tandem
        .plugins
        .save_settings(&actor, id, settings)
        .await?;
    state.plugins.forget(actor.tenant);
    Ok(Json(saved))
}

#[utoipa::path(delete, path = "/api/v1/admin/plugins/{id}", tag = "admin",
    params(("id" = String, Path)),
    responses((status = 204, description = "Deleted, with its log"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: PluginId = id.parse()?;
    let plugin = state.tandem.plugins.get(&actor, id).await?;
    state.tandem.plugins.delete(&actor, id).await?;
    state.plugins.forget(actor.tenant);
    if !state.tandem.plugins.module_in_use(&plugin.sha256).await? {
        state.plugins.host().forget(&plugin.sha256);
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/admin/plugins/{id}/logs", tag = "admin",
    params(("id" = String, Path), LogQuery),
    responses((status = 200, description = "What the plugin printed, its failed calls, and when Tandem disabled it", body = PluginLog), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn logs(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<String>,
    QueryParams(query): QueryParams<LogQuery>,
) -> Result<Json<PluginLog>, ApiError> {
    let id: PluginId = id.parse()?;
    let lines = state
        .tandem
        .plugins
        .logs(&actor, id, query.limit.map_or(100, |size| size.0))
        .await?;
    Ok(Json(PluginLog { lines }))
}

#[utoipa::path(post, path = "/api/v1/admin/plugins/{id}/trial", tag = "admin",
    params(("id" = String, Path)),
    responses((status = 200, description = "What the plugin (enabled or not) would have answered on the tenant's recent offline requests, delivered unread replies and closed chats, and on the widget's availability now; nothing is acted on, logged or counted", body = TrialReport),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn trial(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<TrialReport>, ApiError> {
    let id: PluginId = id.parse()?;
    let report = state
        .tandem
        .plugins
        .trial(&actor, id, &state.plugins, state.email_preview.as_ref())
        .await?;
    Ok(Json(report))
}
