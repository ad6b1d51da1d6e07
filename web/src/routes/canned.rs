//! Canned replies: every operator of a tenant reads them; its admins keep them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use tandem_core::canned::CannedReply;
use tandem_core::ids::CannedReplyId;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{AdminAuth, OperatorAuth};
use crate::error::{ApiError, ErrorBody};
use crate::extract::JsonBody;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(create))
        .routes(routes!(update, delete))
}

#[derive(Serialize, ToSchema)]
pub struct CannedReplyList {
    /// By shortcut.
    pub canned_replies: Vec<CannedReply>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CannedReplyBody {
    /// 1 to 32 of `a-z`, `0-9` and `-`; a leading `/` is dropped and letters are lowered.
    pub shortcut: String,
    /// `{name}` (or `{name|fallback}`) is filled in with the visitor's name and `{operator}`
    /// with the operator's as the workspace inserts it.
    pub body: String,
}

/// The tenant's canned replies, for the composer's `/shortcut`.
#[utoipa::path(get, path = "/api/v1/canned-replies", tag = "operator",
    responses((status = 200, body = CannedReplyList), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    auth: OperatorAuth,
) -> Result<Json<CannedReplyList>, ApiError> {
    Ok(Json(CannedReplyList {
        canned_replies: state.tandem.canned_replies.list(&auth.actor).await?,
    }))
}

#[utoipa::path(post, path = "/api/v1/admin/canned-replies", tag = "admin",
    request_body = CannedReplyBody,
    responses(
        (status = 201, body = CannedReply),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "The shortcut is taken", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 422, description = "The company keeps 500 already", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    JsonBody(body): JsonBody<CannedReplyBody>,
) -> Result<impl IntoResponse, ApiError> {
    let reply = state
        .tandem
        .canned_replies
        .create(&actor, &body.shortcut, &body.body)
        .await?;
    Ok((StatusCode::CREATED, Json(reply)))
}

#[utoipa::path(put, path = "/api/v1/admin/canned-replies/{id}", tag = "admin",
    params(("id" = String, Path)),
    request_body = CannedReplyBody,
    responses(
        (status = 200, body = CannedReply),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn update(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CannedReplyBody>,
) -> Result<Json<CannedReply>, ApiError> {
    let id: CannedReplyId = id.parse()?;
    Ok(Json(
        state
            .tandem
            .canned_replies
            .update(&actor, id, &body.shortcut, &body.body)
            .await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/admin/canned-replies/{id}", tag = "admin",
    params(("id" = String, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: CannedReplyId = id.parse()?;
    state.tandem.canned_replies.delete(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
