//! Operators' photos: an operator sets their own, an admin anyone's of the tenant. Each photo
//! has its own address (its id is in the path), so it may be cached (a day); a replaced
//! photo's address answers 404. Visitors' widgets load them with the widget key alone: a photo is as
//! public as the name beside the replies.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, VARY};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use tandem_core::ids::{AvatarId, UserId};
use tandem_core::operator::{AVATAR_MAX_BYTES, Operator};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{OperatorAuth, WidgetTenant};
use crate::error::{ApiError, ErrorBody};
use crate::routes::files::{busy, read_file, serve};
use crate::state::AppState;
use crate::upload_slots::Uploader;

/// The widget's: a photo of the tenant's operator.
pub fn widget_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(widget_avatar))
}

pub fn operator_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(set_avatar, remove_avatar))
        .routes(routes!(operator_avatar))
}

/// Sets the operator's photo from an image (PNG, JPEG, GIF or WebP, at most 8 MiB): its middle
/// square is kept, 160 pixels a side. An operator sets their own; an admin anyone's.
#[utoipa::path(put, path = "/api/v1/operators/{id}/avatar", tag = "operator",
    params(("id" = String, Path)),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The image"),
    responses(
        (status = 200, description = "The operator, with the new photo's id", body = Operator),
        (status = 400, description = "`file_empty`, or a bad id", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "A colleague's photo, and not an admin", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 408, description = "`upload_stalled`", body = ErrorBody),
        (status = 413, description = "`file_too_large`", body = ErrorBody),
        (status = 415, description = "`file_type_not_allowed` (not an image) or `file_unreadable`", body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn set_avatar(
    State(state): State<AppState>,
    auth: OperatorAuth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Operator>, ApiError> {
    let id: UserId = id.parse()?;
    // Refused before a byte is read: not theirs to change, or no such colleague.
    state
        .tandem
        .operators
        .check_photo_change(&auth.actor, id)
        .await?;
    let _turn = state
        .uploads
        .try_take(auth.actor.tenant, Uploader::Staff)
        .ok_or_else(busy)?;
    let bytes = read_file(body, &headers, AVATAR_MAX_BYTES).await?;
    let operator = state
        .tandem
        .operators
        .set_avatar(&auth.actor, id, bytes)
        .await?;
    Ok(Json(operator))
}

/// Removes the operator's photo: their initials are shown instead.
#[utoipa::path(delete, path = "/api/v1/operators/{id}/avatar", tag = "operator",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = Operator),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 429, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn remove_avatar(
    State(state): State<AppState>,
    auth: OperatorAuth,
    Path(id): Path<String>,
) -> Result<Json<Operator>, ApiError> {
    let id: UserId = id.parse()?;
    let operator = state
        .tandem
        .operators
        .remove_avatar(&auth.actor, id)
        .await?;
    Ok(Json(operator))
}

/// A colleague's photo, for the workspace and the admin console.
#[utoipa::path(get, path = "/api/v1/operators/{id}/avatars/{avatar}", tag = "operator",
    params(("id" = String, Path), ("avatar" = String, Path, description = "The photo's id, from the operator's `avatar`")),
    responses(
        (status = 200, description = "The photo", content_type = "image/jpeg"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, description = "No such operator, or no longer their photo", body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn operator_avatar(
    State(state): State<AppState>,
    auth: OperatorAuth,
    Path((id, avatar)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (id, avatar): (UserId, AvatarId) = (id.parse()?, avatar.parse()?);
    let download = state
        .tandem
        .operators
        .open_avatar(auth.actor.tenant, id, avatar)
        .await?;
    Ok(cached_for_a_day(serve(download), "private"))
}

/// An operator's photo, as the widget shows it beside their replies and in its header.
#[utoipa::path(get, path = "/api/v1/widget/{key}/operators/{id}/avatars/{avatar}", tag = "widget",
    params(("key" = String, Path), ("id" = String, Path), ("avatar" = String, Path, description = "The photo's id, from the operator's `avatar`")),
    responses(
        (status = 200, description = "The photo", content_type = "image/jpeg"),
        (status = 400, body = ErrorBody),
        (status = 404, description = "No such operator of this company, or no longer their photo", body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
pub async fn widget_avatar(
    State(state): State<AppState>,
    WidgetTenant(tenant): WidgetTenant,
    Path((_key, id, avatar)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let (id, avatar): (UserId, AvatarId) = (id.parse()?, avatar.parse()?);
    let download = state
        .tandem
        .operators
        .open_avatar(tenant.id, id, avatar)
        .await?;
    Ok(cached_for_a_day(serve(download), "public"))
}

/// A photo's address never shows another picture: kept a day (a removed photo may show that
/// long from a cache; a new one has a new address, so it shows at once).
fn cached_for_a_day(mut response: Response, scope: &'static str) -> Response {
    let headers = response.headers_mut();
    let value = format!("{scope}, max-age=86400, immutable");
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert(CACHE_CONTROL, value);
    }
    if scope == "public" {
        headers.remove(VARY);
    }
    response
}
