//! The operator workspace's endpoints: chat lists, one chat, reply, assign, close, read.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use tandem_core::chat::{Category, Chat, ChatFilter, DEFAULT_PAGE, Dialog, Page};
use tandem_core::ids::{ChatId, MessageId, UserId};
use tandem_core::message::{EarlierText, Message};
use tandem_core::operator::{Operator, OperatorStatus};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::OperatorAuth;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonBody, OptionalJsonBody, PageSize, QueryParams};
use crate::routes::widget::{ReadBody, SendBody};
use crate::state::AppState;

/// The operator workspace's calls.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get))
        .routes(routes!(reply))
        .routes(routes!(edits))
        .routes(routes!(assign))
        .routes(routes!(release))
        .routes(routes!(close))
        .routes(routes!(read))
        .routes(routes!(colleagues))
        .routes(routes!(set_status))
        .routes(routes!(choose_alert_digests))
        .routes(routes!(alerts))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `waiting` and `offline` together are the queue.
    #[param(nullable = false)]
    pub category: Option<Category>,
    /// Only chats assigned to me.
    #[serde(default)]
    pub mine: bool,
    /// At most this many, most recently active first.
    #[param(value_type = u64, minimum = 1, maximum = 500, required = false, nullable = false)]
    pub limit: Option<PageSize<{ tandem_core::chat::MAX_LIST }>>,
}

/// Which page of a dialog: the newest messages unless `before` names where the older ones end.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Messages before this `seq` (the first one of the page you have).
    #[param(nullable = false)]
    pub before: Option<i64>,
    /// At most this many (default 200).
    #[param(value_type = u64, minimum = 1, maximum = 500, required = false, nullable = false)]
    pub limit: Option<PageSize<{ tandem_core::chat::MAX_PAGE }>>,
}

impl PageQuery {
    pub fn page(&self) -> Page {
        Page {
            before: self.before,
            limit: self.limit.map_or(DEFAULT_PAGE, |size| size.0),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ChatList {
    pub chats: Vec<Chat>,
}

#[utoipa::path(get, path = "/api/v1/chats", tag = "operator",
    params(ListQuery),
    responses((status = 200, body = ChatList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    auth: OperatorAuth,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<ChatList>, ApiError> {
    let chats = state
        .tandem
        .chats
        .list(
            &auth.actor,
            ChatFilter {
                category: query.category,
                mine: query.mine,
                limit: query.limit.map(|size| size.0),
            },
        )
        .await?;
    Ok(Json(ChatList { chats }))
}

#[utoipa::path(get, path = "/api/v1/chats/{id}", tag = "operator",
    params(("id" = String, Path), PageQuery),
    responses((status = 200, description = "The chat and its newest messages (all of a dialog of up to 200); `has_more` says older ones remain, fetched with `before`", body = Dialog), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    auth: OperatorAuth,
    Path(id): Path<String>,
    QueryParams(query): QueryParams<PageQuery>,
) -> Result<Json<Dialog>, ApiError> {
    let id: ChatId = id.parse()?;
    Ok(Json(
        state
            .tandem
            .chats
            .get_page(&auth.actor, id, query.page())
            .await?,
    ))
}

#[derive(Serialize, ToSchema)]
pub struct EditHistory {
    /// Every earlier text of the message, oldest first.
    pub edits: Vec<EarlierText>,
}

#[utoipa::path(get, path = "/api/v1/chats/{id}/messages/{message_id}/edits", tag = "operator",
    params(("id" = String, Path), ("message_id" = String, Path)),
    responses((status = 200, body = EditHistory), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn edits(
    State(state): State<AppState>,
    auth: OperatorAuth,
    Path((chat, id)): Path<(String, String)>,
) -> Result<Json<EditHistory>, ApiError> {
    let chat: ChatId = chat.parse()?;
    let id: MessageId = id.parse()?;
    // The chat must be the tenant's too, not only the message.
    state.tandem.chats.summary(&auth.actor, chat).await?;
    let edits = state
        .tandem
        .messages
        .earlier_texts(&auth.actor, chat, id)
        .await?;
    Ok(Json(EditHistory { edits }))
}

#[utoipa::path(post, path = "/api/v1/chats/{id}/messages", tag = "operator",
    params(("id" = String, Path)),
    request_body = SendBody,
    responses(
        (status = 201, description = "Assigns an unassigned chat to the sender and schedules the unread-reply email", body = Message),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "The chat is another operator's", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 429, description = "Over the company's messages a minute", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn reply(
    State(state): State<AppState>,
    auth: OperatorAuth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<SendBody>,
) -> Result<impl IntoResponse, ApiError> {
    let id: ChatId = id.parse()?;
    let message = state
        .tandem
        .messages
        .send_as_operator(&auth.actor, id, &body.body, body.client_id.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(message)))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    /// The operator to assign; the caller when absent.
    #[schema(format = Uuid)]
    pub operator_id: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/chats/{id}/assign", tag = "operator",
    params(("id" = String, Path)),
    request_body(content = Option<AssignBody>, description = "Optional"),
    responses((status = 200, body = Chat), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn assign(
    State(state): State<AppState>,
    auth: OperatorAuth,
    Path(id): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<AssignBody>,
) -> Result<Json<Chat>, ApiError> {
    let id: ChatId = id.parse()?;
    let to = body.operator_id.map(|o| o.parse::<UserId>()).transpose()?;
    Ok(Json(state.tandem.chats.assign(&auth.actor, id, to).await?))
}

#[utoipa::path(post, path = "/api/v1/chats/{id}/release", tag = "operator",
    params(("id" = String, Path)),
    responses((status = 200, description = "Back to the queue", body = Chat), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn release(
    State(state): State<AppState>,
    auth: OperatorAuth,
    Path(id): Path<String>,
) -> Result<Json<Chat>, ApiError> {
    let id: ChatId = id.parse()?;
    Ok(Json(state.tandem.chats.release(&auth.actor, id).await?))
}

#[utoipa::path(post, path = "/api/v1/chats/{id}/close", tag = "operator",
    params(("id" = String, Path)),
    responses((status = 200, description = "Closed; it reopens when the visitor writes", body = Chat), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn close(
    State(state): State<AppState>,
    auth: OperatorAuth,
    Path(id): Path<String>,
) -> Result<Json<Chat>, ApiError> {
    let id: ChatId = id.parse()?;
    Ok(Json(state.tandem.chats.close(&auth.actor, id).await?))
}

#[utoipa::path(post, path = "/api/v1/chats/{id}/read", tag = "operator",
    params(("id" = String, Path)),
    request_body = ReadBody,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn read(
    State(state): State<AppState>,
    auth: OperatorAuth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ReadBody>,
) -> Result<StatusCode, ApiError> {
    let id: ChatId = id.parse()?;
    let up_to: MessageId = body.up_to.parse()?;
    state
        .tandem
        .messages
        .mark_read_by_operator(&auth.actor, id, up_to)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    pub status: OperatorStatus,
}

#[utoipa::path(put, path = "/api/v1/operators/me/status", tag = "operator",
    request_body = StatusBody,
    responses((status = 200, body = Operator), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn set_status(
    State(state): State<AppState>,
    auth: OperatorAuth,
    JsonBody(body): JsonBody<StatusBody>,
) -> Result<Json<Operator>, ApiError> {
    Ok(Json(
        state
            .tandem
            .operators
            .set_status(&auth.actor, body.status)
            .await?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertDigestsBody {
    /// Alert digests by email while I am not online.
    pub enabled: bool,
}

/// My own choice: alert digests by email while I am not online (the default), or none. Turning
/// them off drops the digest waiting for me.
#[utoipa::path(put, path = "/api/v1/operators/me/alert-digests", tag = "operator",
    request_body = AlertDigestsBody,
    responses((status = 200, body = Operator), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn choose_alert_digests(
    State(state): State<AppState>,
    auth: OperatorAuth,
    JsonBody(body): JsonBody<AlertDigestsBody>,
) -> Result<Json<Operator>, ApiError> {
    Ok(Json(
        state
            .tandem
            .operators
            .choose_alert_digests(&auth.actor, body.enabled)
            .await?,
    ))
}

#[derive(Serialize, ToSchema)]
pub struct OperatorList {
    pub operators: Vec<Operator>,
}

#[utoipa::path(get, path = "/api/v1/operators", tag = "operator",
    responses((status = 200, description = "Colleagues, e.g. to hand a chat on", body = OperatorList), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn colleagues(
    State(state): State<AppState>,
    auth: OperatorAuth,
) -> Result<Json<OperatorList>, ApiError> {
    Ok(Json(OperatorList {
        operators: state.tandem.operators.list(&auth.actor).await?,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct AlertList {
    pub alerts: Vec<tandem_core::alert::OperatorAlert>,
}

/// The alerts of the last day whose visitor still waits (offline requests, long waits), the
/// newest of each chat, newest first, at most 50: what the workspace shows on opening. New ones
/// arrive on the socket as `operator.alert`.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "operator",
    responses((status = 200, body = AlertList), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn alerts(
    State(state): State<AppState>,
    auth: OperatorAuth,
) -> Result<Json<AlertList>, ApiError> {
    Ok(Json(AlertList {
        alerts: state.tandem.alerts.pending(&auth.actor).await?,
    }))
}
