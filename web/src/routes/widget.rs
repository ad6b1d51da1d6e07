//! The visitor's endpoints, used by the widget on the tenant's site.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{Extensions, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use tandem_core::chat::VisitorChat;
use tandem_core::ids::{MessageId, UserId, VisitorId};
use tandem_core::message::{Message, OfflineRequest};
use tandem_core::operator::OperatorName;
use tandem_core::reply_time::TypicalReply;
use tandem_core::tenant::Branding;
use tandem_core::visitor::{ProfilePatch, SessionRequest, Visitor};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{WidgetTenant, WidgetVisitor};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonBody, QueryParams};
use crate::rate_limit::limit_by_ip;
use crate::realtime::visitor_socket;
use crate::routes::unsubscribe;
use crate::state::AppState;

/// The widget's calls: public, keyed by the tenant's widget key, limited per client address.
pub fn routes(state: &AppState) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(config))
        .routes(routes!(session))
        .routes(routes!(offline_request))
        .routes(routes!(dialog))
        .routes(routes!(send))
        .routes(routes!(edit))
        .routes(routes!(read))
        .routes(routes!(update_visitor))
        .routes(routes!(hand_over))
        .merge(crate::routes::ratings::widget_routes())
        .merge(crate::routes::transcripts::widget_routes())
        .merge(crate::routes::files::widget_routes())
        .merge(crate::routes::avatars::widget_routes())
        .merge(visitor_socket::routes())
        .merge(unsubscribe::routes())
        .layer(from_fn_with_state(state.clone(), limit_by_ip))
}

/// How often a widget asks again whether the chat is offered, when a plugin decides it.
const AVAILABILITY_RECHECK_SECS: u32 = 60;

#[derive(Serialize, ToSchema)]
pub struct WidgetConfig {
    pub tenant: WidgetTenantInfo,
    pub branding: Branding,
    /// False when no operator is online or all are at capacity, or when the tenant's plugins
    /// say so (outside business hours, say): show the offline form.
    pub operators_available: bool,
    /// A line to show above the chat or the form, from the tenant's plugins.
    pub availability_message: Option<String>,
    /// When the tenant's plugins decide the above, ask again after this many seconds: their
    /// answer may change with the time of day, not only with the operators.
    pub recheck_after_secs: Option<u32>,
    pub offline_form: OfflineForm,
    /// The company's own site, when the admin gave it: the hosted chat offers to continue there.
    pub site_url: Option<String>,
    pub files: WidgetFiles,
    /// Who answers: up to three of the company's operators, those online first (none when the
    /// company hides its team: `branding.show_team`). A photo is at
    /// `/api/v1/widget/{key}/operators/{id}/avatars/{avatar}`; without one, show initials.
    pub team: Vec<OperatorName>,
    /// How fast the team answers while someone is online (the median of the last 30 days'
    /// answered waits); none until there are enough of them.
    pub typical_reply: Option<TypicalReply>,
}

/// What the visitor may send as files (the server checks it again, by content).
#[derive(Serialize, ToSchema)]
pub struct WidgetFiles {
    /// False: the company takes no files from visitors (no attach button).
    pub enabled: bool,
    /// The largest file, in bytes.
    pub max_bytes: u64,
    pub accepted: Vec<tandem_core::file::FileGroup>,
}

#[derive(Serialize, ToSchema)]
pub struct WidgetTenantInfo {
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct OfflineForm {
    pub fields: Vec<FormField>,
}

#[derive(Serialize, ToSchema)]
pub struct FormField {
    pub name: &'static str,
    /// `text`, `email` or `textarea`.
    pub kind: &'static str,
    pub required: bool,
    pub max_length: usize,
}

#[utoipa::path(get, path = "/api/v1/widget/{key}/config", tag = "widget",
    params(("key" = String, Path, description = "The tenant's public widget key")),
    responses(
        (status = 200, body = WidgetConfig),
        (status = 403, description = "Tenant suspended or origin not allowed", body = ErrorBody),
        (status = 404, description = "Unknown widget key", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ))]
pub async fn config(
    State(state): State<AppState>,
    WidgetTenant(tenant): WidgetTenant,
) -> Result<Json<WidgetConfig>, ApiError> {
    let availability = state
        .tandem
        .operators
        .widget_availability(tenant.id)
        .await?;
    let max_message = state.max_message_chars;
    let files = WidgetFiles {
        enabled: tenant.settings.files.from_visitors && !tenant.settings.files.accepted.is_empty(),
        max_bytes: tandem_core::file::FileService::max_bytes(&tenant),
        accepted: tenant.settings.files.accepted.clone(),
    };
    let team = match tenant.settings.branding.show_team {
        false => Vec::new(),
        true => adornment(
            state.tandem.operators.team(tenant.id).await,
            tenant.id,
            "team",
        ),
    };
    let typical_reply = adornment(
        state.tandem.reply_times.typical(tenant.id).await,
        tenant.id,
        "typical reply time",
    );
    Ok(Json(WidgetConfig {
        files,
        team,
        typical_reply,
        site_url: tenant.settings.site_url.clone(),
        tenant: WidgetTenantInfo { name: tenant.name },
        branding: tenant.settings.branding,
        operators_available: availability.chat,
        availability_message: availability.message,
        recheck_after_secs: availability.recheck.then_some(AVAILABILITY_RECHECK_SECS),
        offline_form: OfflineForm {
            fields: vec![
                FormField {
                    name: "name",
                    kind: "text",
                    required: true,
                    max_length: 200,
                },
                FormField {
                    name: "email",
                    kind: "email",
                    required: true,
                    max_length: 254,
                },
                FormField {
                    name: "message",
                    kind: "textarea",
                    required: true,
                    max_length: max_message,
                },
            ],
        },
    }))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionBody {
    pub visitor_token: Option<String>,
    /// From the link in an unread-reply email (or a hand-over): restores that visitor and
    /// dialog on this device. Send the device's `visitor_token` with it: a device with a
    /// conversation of another visitor's gets 409 unless `replace` is true.
    pub resume_token: Option<String>,
    /// The person at the device agreed to leave its own conversation for the link's.
    pub replace: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct SessionResponse {
    pub visitor_id: VisitorId,
    /// Keep it (e.g. in localStorage) and send it as `Authorization: Bearer`.
    pub visitor_token: String,
    pub chat: Option<VisitorChat>,
}

#[utoipa::path(post, path = "/api/v1/widget/{key}/session", tag = "widget",
    params(("key" = String, Path)),
    request_body = SessionBody,
    responses(
        (status = 200, body = SessionResponse),
        (status = 400, body = ErrorBody),
        (status = 401, description = "Unknown or expired token; a hand-over link already used", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The link is another visitor's conversation and this device has one of its own: ask, then send `replace: true`", body = ErrorBody),
        (status = 429, body = ErrorBody),
    ))]
pub async fn session(
    State(state): State<AppState>,
    WidgetTenant(tenant): WidgetTenant,
    extensions: Extensions,
    JsonBody(body): JsonBody<SessionBody>,
) -> Result<Json<SessionResponse>, ApiError> {
    if body.visitor_token.is_none() && body.resume_token.is_none() {
        state
            .limits
            .check_new_session(crate::rate_limit::client_ip(&extensions))?;
    }
    let session = state
        .tandem
        .visitors
        .start_session(
            &tenant,
            SessionRequest {
                visitor_token: body.visitor_token,
                resume_token: body.resume_token,
                replace: body.replace.unwrap_or(false),
            },
        )
        .await?;
    Ok(Json(SessionResponse {
        visitor_id: session.actor.visitor,
        visitor_token: session.visitor_token,
        chat: session.chat.as_ref().map(VisitorChat::from),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfflineRequestBody {
    pub name: String,
    pub email: String,
    pub message: String,
    /// The page the visitor is on: an http(s) address of at most 2048 printable ASCII
    /// characters (as browsers encode addresses); the tenant's plugins are told it.
    #[serde(default)]
    #[schema(max_length = 2048, pattern = r"^https?://[!-~]+$")]
    pub page_url: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ChatAndMessage {
    pub chat: VisitorChat,
    pub message: Message,
}

#[utoipa::path(post, path = "/api/v1/widget/{key}/offline-requests", tag = "widget",
    params(("key" = String, Path)),
    request_body = OfflineRequestBody,
    responses(
        (status = 201, description = "The chat stays open and continues as an ordinary chat", body = ChatAndMessage),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 429, body = ErrorBody),
    ),
    security(("visitor" = [])))]
pub async fn offline_request(
    State(state): State<AppState>,
    visitor: WidgetVisitor,
    JsonBody(body): JsonBody<OfflineRequestBody>,
) -> Result<impl IntoResponse, ApiError> {
    let (chat, message) = state
        .tandem
        .messages
        .submit_offline_request(
            &visitor.actor,
            OfflineRequest {
                name: body.name,
                email: body.email,
                message: body.message,
                page_url: body.page_url,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ChatAndMessage {
            chat: VisitorChat::from(&chat),
            message,
        }),
    ))
}

/// Who answers and how fast only adorn the widget's header: it works without them, so a
/// failure to read them leaves them out.
fn adornment<T: Default>(
    found: Result<T, tandem_core::CoreError>,
    tenant: tandem_core::ids::TenantId,
    what: &str,
) -> T {
    found.unwrap_or_else(|e| {
        tracing::warn!(%tenant, error = %e, "the widget's {what} is left out");
        T::default()
    })
}

#[derive(Serialize, ToSchema)]
pub struct DialogResponse {
    pub chat: Option<VisitorChat>,
    /// The dialog, every visit, oldest first: its newest 200 messages (all of a shorter one),
    /// or the page asked for.
    pub messages: Vec<Message>,
    /// Older messages remain: ask again with `before` = the first message's `seq`.
    pub has_more: bool,
    /// The names of the operators who replied in this dialog.
    pub operators: Vec<OperatorName>,
}

#[utoipa::path(get, path = "/api/v1/widget/{key}/chat", tag = "widget",
    params(("key" = String, Path), crate::routes::chats::PageQuery),
    responses((status = 200, body = DialogResponse), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("visitor" = [])))]
pub async fn dialog(
    State(state): State<AppState>,
    visitor: WidgetVisitor,
    QueryParams(query): QueryParams<crate::routes::chats::PageQuery>,
) -> Result<Json<DialogResponse>, ApiError> {
    let (chat, messages, has_more) = state
        .tandem
        .messages
        .dialog_page_of_visitor(&visitor.actor, query.page())
        .await?;
    let mut authors: Vec<UserId> = messages.iter().filter_map(|m| m.operator_id).collect();
    authors.sort_unstable();
    authors.dedup();
    let operators = state
        .tandem
        .operators
        .names(visitor.tenant.id, &authors)
        .await?;
    Ok(Json(DialogResponse {
        chat: chat.as_ref().map(VisitorChat::from),
        messages,
        has_more,
        operators,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendBody {
    pub body: String,
    /// Chosen by the sender; resending the same one returns the same message.
    pub client_id: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/widget/{key}/chat/messages", tag = "widget",
    params(("key" = String, Path)),
    request_body = SendBody,
    responses(
        (status = 201, description = "The message (the same one when `client_id` repeats)", body = Message),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 429, body = ErrorBody),
    ),
    security(("visitor" = [])))]
pub async fn send(
    State(state): State<AppState>,
    visitor: WidgetVisitor,
    JsonBody(body): JsonBody<SendBody>,
) -> Result<impl IntoResponse, ApiError> {
    let message = state
        .tandem
        .messages
        .send_as_visitor(&visitor.actor, &body.body, body.client_id.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(message)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditBody {
    pub body: String,
}

#[utoipa::path(patch, path = "/api/v1/widget/{key}/chat/messages/{id}", tag = "widget",
    params(("key" = String, Path), ("id" = String, Path, description = "A message of this visitor")),
    request_body = EditBody,
    responses(
        (status = 200, body = Message),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "Not the visitor's own message", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "A file, which is deleted rather than edited", body = ErrorBody),
        (status = 429, body = ErrorBody),
    ),
    security(("visitor" = [])))]
pub async fn edit(
    State(state): State<AppState>,
    Path((_key, id)): Path<(String, String)>,
    visitor: WidgetVisitor,
    JsonBody(body): JsonBody<EditBody>,
) -> Result<Json<Message>, ApiError> {
    let id: MessageId = id.parse()?;
    let message = state
        .tandem
        .messages
        .edit_as_visitor(&visitor.actor, id, &body.body)
        .await?;
    Ok(Json(message))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadBody {
    /// The newest message seen; everything up to it counts as read.
    #[schema(value_type = String, format = Uuid)]
    pub up_to: String,
}

#[utoipa::path(post, path = "/api/v1/widget/{key}/chat/read", tag = "widget",
    params(("key" = String, Path)),
    request_body = ReadBody,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("visitor" = [])))]
pub async fn read(
    State(state): State<AppState>,
    visitor: WidgetVisitor,
    JsonBody(body): JsonBody<ReadBody>,
) -> Result<StatusCode, ApiError> {
    let up_to: MessageId = body.up_to.parse()?;
    state
        .tandem
        .messages
        .mark_read_by_visitor(&visitor.actor, up_to)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitorBody {
    pub name: Option<String>,
    pub email: Option<String>,
    /// `en`, `ru`, …: the language of emails to this visitor.
    pub locale: Option<String>,
}

#[utoipa::path(put, path = "/api/v1/widget/{key}/visitor", tag = "widget",
    params(("key" = String, Path)),
    request_body = VisitorBody,
    responses((status = 200, body = Visitor), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("visitor" = [])))]
pub async fn update_visitor(
    State(state): State<AppState>,
    visitor: WidgetVisitor,
    JsonBody(body): JsonBody<VisitorBody>,
) -> Result<Json<Visitor>, ApiError> {
    let updated = state
        .tandem
        .visitors
        .update_profile(
            &visitor.actor,
            ProfilePatch {
                name: body.name,
                email: body.email,
                locale: body.locale,
            },
        )
        .await?;
    Ok(Json(updated))
}

#[derive(Serialize, ToSchema)]
pub struct HandOver {
    /// The company's site with `tandem_resume=<token>` added: the widget there picks the dialog
    /// up. The token works once per device and expires after 10 minutes.
    pub url: String,
}

#[utoipa::path(post, path = "/api/v1/widget/{key}/hand-over", tag = "widget",
    params(("key" = String, Path)),
    responses(
        (status = 200, body = HandOver),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No dialog yet, or the company gave no site", body = ErrorBody),
        (status = 429, body = ErrorBody),
    ),
    security(("visitor" = [])))]
pub async fn hand_over(
    State(state): State<AppState>,
    visitor: WidgetVisitor,
) -> Result<Json<HandOver>, ApiError> {
    let site = visitor
        .tenant
        .settings
        .site_url
        .clone()
        .ok_or(tandem_core::CoreError::NotFound("site"))?;
    let token = state.tandem.visitors.hand_over(&visitor.actor).await?;
    Ok(Json(HandOver {
        url: with_resume(&site, &token),
    }))
}

/// `site` with `tandem_resume=<token>` in its query, before any fragment.
fn with_resume(site: &str, token: &str) -> String {
    let (base, fragment) = site
        .split_once('#')
        .map_or((site, None), |(b, f)| (b, Some(f)));
    let joiner = if base.contains('?') { '&' } else { '?' };
    let mut url = format!("{base}{joiner}tandem_resume={token}");
    if let Some(fragment) = fragment {
        url.push('#');
        url.push_str(fragment);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::with_resume;

    #[test]
    fn the_token_joins_the_query_before_the_fragment() {
        assert_eq!(
            with_resume("https://shop.example", "rt_1"),
            "https://shop.example?tandem_resume=rt_1"
        );
        assert_eq!(
            with_resume("https://shop.example/help?lang=ru#chat", "rt_1"),
            "https://shop.example/help?lang=ru&tandem_resume=rt_1#chat"
        );
    }
}
