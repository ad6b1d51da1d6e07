//! Files in dialogs: sending one (the request's body is the file), opening one, and deleting a
//! file one sent. Visitors open their chat's files with their token (the widget fetches them)
//! or with the signed link of a mail; operators with their session, within their tenant. A
//! file is served so that it can never run in Tandem's origin: images as images, everything
//! else as a download, with no sniffing and a sandbox policy.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_SECURITY_POLICY, CONTENT_TYPE,
    VARY, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde::Deserialize;
use tandem_core::CoreError;
use tandem_core::file::{Download, FileLink, FileRefusal, FileService, Variant};
use tandem_core::ids::{ChatId, FileId, MessageId};
use tandem_core::message::Message;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{OperatorAuth, WidgetTenant, WidgetVisitor, bearer_in};
use crate::error::{ApiError, ErrorBody};
use crate::extract::QueryParams;
use crate::rate_limit::client_ip;
use crate::state::AppState;
use crate::upload_slots::Uploader;

/// How much of a refused upload is read (and dropped) so that its sender hears why.
const DRAIN_LIMIT: u64 = 32 * 1024 * 1024;

/// An upload that sends nothing for this long is given up (its slot is needed).
const IDLE_UPLOAD: std::time::Duration = std::time::Duration::from_secs(30);
/// However it trickles, an upload is given up after this long: 25 MiB at 100 KB/s.
const WHOLE_UPLOAD: std::time::Duration = std::time::Duration::from_secs(300);

/// The visitor's routes; the widget's routes take them in (behind their per-address limit).
pub fn widget_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(visitor_upload))
        .routes(routes!(visitor_download))
        .routes(routes!(visitor_thumbnail))
        .routes(routes!(visitor_delete))
}

pub fn operator_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(operator_upload))
        .routes(routes!(operator_download))
        .routes(routes!(operator_thumbnail))
        .routes(routes!(operator_delete))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// The file's name (a path is cut to its last part); its extension must agree with the
    /// content.
    #[param(min_length = 1, max_length = 1000)]
    pub name: String,
    /// Chosen by the sender; resending the same one returns the same message.
    #[param(min_length = 1, max_length = 100, pattern = "^[!-~]+$")]
    pub client_id: Option<String>,
}

impl UploadQuery {
    /// The name as given: 1 to 1,000 characters (it is cleaned and shortened afterwards).
    fn checked_name(&self) -> Result<&str, ApiError> {
        let length = self.name.chars().count();
        if length == 0 || length > 1000 {
            return Err(ApiError::from(CoreError::Invalid {
                field: "name",
                reason: "must be 1 to 1000 characters".into(),
            }));
        }
        Ok(&self.name)
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LinkQuery {
    /// From a mailed link: when it stops working (Unix seconds).
    pub expires: Option<i64>,
    /// From a mailed link.
    #[param(max_length = 100)]
    pub signature: Option<String>,
}

/// The visitor sends a file: it becomes their message, as a text would (opening or reopening
/// the chat). Its type is read from its content; the tenant's rules decide what is taken.
#[utoipa::path(post, path = "/api/v1/widget/{key}/chat/files", tag = "widget",
    params(("key" = String, Path), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file"),
    responses(
        (status = 201, description = "The message carrying the file (the same one when `client_id` repeats)", body = Message),
        (status = 400, description = "Empty, or a bad name or client id", body = ErrorBody),
        (status = 408, description = "`upload_stalled`: nothing arrived for 30 s", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "`files_off`: the company takes no files from visitors", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, description = "`file_too_large`", body = ErrorBody),
        (status = 415, description = "`file_type_not_allowed`, `file_disguised` (the name says another type than the content) or `file_unreadable` (a damaged image)", body = ErrorBody),
        (status = 429, description = "`too_many_files` today, or too many requests", body = ErrorBody),
        (status = 503, body = ErrorBody),
        (status = 507, description = "`storage_full`: the company's file storage", body = ErrorBody),
    ),
    security(("visitor" = [])))]
pub async fn visitor_upload(
    State(state): State<AppState>,
    visitor: WidgetVisitor,
    QueryParams(query): QueryParams<UploadQuery>,
    extensions: Extensions,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Message>), ApiError> {
    let name = query.checked_name()?;
    let max = FileService::max_bytes(&visitor.tenant);
    let from = Uploader::Visitor(client_ip(&extensions));
    let _turn = state
        .uploads
        .try_take(visitor.tenant.id, from)
        .ok_or_else(busy)?;
    let bytes = read_file(body, &headers, max).await?;
    let message = state
        .tandem
        .files
        .send_as_visitor(
            &visitor.actor,
            &visitor.tenant,
            name,
            bytes,
            query.client_id.as_deref(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(message)))
}

/// A file of the visitor's chat: with the visitor's token, or with the `expires` and
/// `signature` of a link in one of the company's mails.
#[utoipa::path(get, path = "/api/v1/widget/{key}/files/{id}", tag = "widget",
    params(("key" = String, Path), ("id" = String, Path), LinkQuery),
    responses(
        (status = 200, description = "The file: an image inline, anything else as a download", content_type = "application/octet-stream"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, description = "No such file in this visitor's chat", body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    security(("visitor" = []), ()))]
pub async fn visitor_download(
    State(state): State<AppState>,
    widget: WidgetTenant,
    Path((_key, id)): Path<(String, String)>,
    QueryParams(link): QueryParams<LinkQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    visitor_open(state, widget, &id, link, &headers, Variant::Original).await
}

/// An image's thumbnail (a JPEG at most 480 pixels wide or high; a small image is its own).
#[utoipa::path(get, path = "/api/v1/widget/{key}/files/{id}/thumbnail", tag = "widget",
    params(("key" = String, Path), ("id" = String, Path), LinkQuery),
    responses(
        (status = 200, description = "The thumbnail", content_type = "image/jpeg"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, description = "No such image in this visitor's chat", body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    security(("visitor" = []), ()))]
pub async fn visitor_thumbnail(
    State(state): State<AppState>,
    widget: WidgetTenant,
    Path((_key, id)): Path<(String, String)>,
    QueryParams(link): QueryParams<LinkQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    visitor_open(state, widget, &id, link, &headers, Variant::Thumbnail).await
}

async fn visitor_open(
    state: AppState,
    WidgetTenant(tenant): WidgetTenant,
    id: &str,
    link: LinkQuery,
    headers: &HeaderMap,
    variant: Variant,
) -> Result<Response, ApiError> {
    let id: FileId = id.parse()?;
    let files = &state.tandem.files;
    let download = match (link.expires, link.signature) {
        (Some(expires), Some(signature)) => {
            let link = FileLink { expires, signature };
            files.open_by_link(tenant.id, id, &link, variant).await?
        }
        (None, None) => {
            let token = bearer_in(headers).ok_or_else(|| {
                ApiError::from(CoreError::Unauthorized(
                    "send the visitor token as Authorization: Bearer, or use a mailed link",
                ))
            })?;
            let actor = state.tandem.visitors.authenticate(tenant.id, token).await?;
            state.limits.check_visitor(actor.visitor)?;
            files.open_for_visitor(&actor, id, variant).await?
        }
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                "a link needs both expires and signature",
            ));
        }
    };
    Ok(serve(download))
}

/// The visitor deletes a file they sent: the message stays in its place, empty, for everyone.
/// A text cannot be deleted (edit it instead).
#[utoipa::path(delete, path = "/api/v1/widget/{key}/chat/messages/{id}", tag = "widget",
    params(("key" = String, Path), ("id" = String, Path, description = "A file message of this visitor")),
    responses(
        (status = 200, description = "The message, deleted", body = Message),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not the visitor's own message", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "A text, not a file", body = ErrorBody),
        (status = 429, body = ErrorBody),
    ),
    security(("visitor" = [])))]
pub async fn visitor_delete(
    State(state): State<AppState>,
    Path((_key, id)): Path<(String, String)>,
    visitor: WidgetVisitor,
) -> Result<Json<Message>, ApiError> {
    let id: MessageId = id.parse()?;
    let message = state
        .tandem
        .messages
        .delete_as_visitor(&visitor.actor, id)
        .await?;
    Ok(Json(message))
}

/// An operator sends a file in a chat they may answer: it is their reply, with its unread-reply
/// notification like any other.
#[utoipa::path(post, path = "/api/v1/chats/{id}/files", tag = "operator",
    params(("id" = String, Path), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file"),
    responses(
        (status = 201, description = "The message carrying the file (the same one when `client_id` repeats)", body = Message),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "The chat is another operator's", body = ErrorBody),
        (status = 408, description = "`upload_stalled`: nothing arrived for 30 s", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, description = "`file_too_large`", body = ErrorBody),
        (status = 415, description = "`file_type_not_allowed`, `file_disguised` or `file_unreadable`", body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody),
        (status = 507, description = "`storage_full`", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn operator_upload(
    State(state): State<AppState>,
    auth: OperatorAuth,
    Path(chat): Path<String>,
    QueryParams(query): QueryParams<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Message>), ApiError> {
    let chat: ChatId = chat.parse()?;
    let name = query.checked_name()?;
    let tenant = state.tandem.tenants.by_id(auth.actor.tenant).await?;
    let max = FileService::max_bytes(&tenant);
    let _turn = state
        .uploads
        .try_take(tenant.id, Uploader::Staff)
        .ok_or_else(busy)?;
    let bytes = read_file(body, &headers, max).await?;
    let message = state
        .tandem
        .files
        .send_as_operator(
            &auth.actor,
            &tenant,
            chat,
            name,
            bytes,
            query.client_id.as_deref(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(message)))
}

/// A file of the operator's tenant.
#[utoipa::path(get, path = "/api/v1/files/{id}", tag = "operator",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The file: an image inline, anything else as a download", content_type = "application/octet-stream"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn operator_download(
    State(state): State<AppState>,
    auth: OperatorAuth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    operator_open(&state, &auth, &id, Variant::Original).await
}

/// An image's thumbnail.
#[utoipa::path(get, path = "/api/v1/files/{id}/thumbnail", tag = "operator",
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The thumbnail", content_type = "image/jpeg"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn operator_thumbnail(
    State(state): State<AppState>,
    auth: OperatorAuth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    operator_open(&state, &auth, &id, Variant::Thumbnail).await
}

async fn operator_open(
    state: &AppState,
    auth: &OperatorAuth,
    id: &str,
    variant: Variant,
) -> Result<Response, ApiError> {
    let id: FileId = id.parse()?;
    let download = state
        .tandem
        .files
        .open_for_operator(&auth.actor, id, variant)
        .await?;
    Ok(serve(download))
}

/// An operator deletes a file they sent.
#[utoipa::path(delete, path = "/api/v1/chats/{id}/messages/{message_id}", tag = "operator",
    params(("id" = String, Path), ("message_id" = String, Path)),
    responses(
        (status = 200, description = "The message, deleted", body = Message),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Not a file this operator sent", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "A text, not a file", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn operator_delete(
    State(state): State<AppState>,
    auth: OperatorAuth,
    Path((chat, id)): Path<(String, String)>,
) -> Result<Json<Message>, ApiError> {
    let chat: ChatId = chat.parse()?;
    let id: MessageId = id.parse()?;
    let message = state
        .tandem
        .messages
        .delete_as_operator(&auth.actor, chat, id)
        .await?;
    Ok(Json(message))
}

/// The body, up to `max` bytes. A larger one is refused, but read on (and dropped) up to
/// [`DRAIN_LIMIT`], so that the client, still sending, gets the refusal rather than a reset
/// connection.
pub(crate) async fn read_file(
    body: Body,
    headers: &HeaderMap,
    max: u64,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut body = body;
    let mut kept = Vec::with_capacity(declared.unwrap_or(0).min(max) as usize);
    let mut read: u64 = 0;
    let mut over = declared.is_some_and(|len| len > max);
    let give_up = tokio::time::Instant::now() + WHOLE_UPLOAD;
    loop {
        let wait = IDLE_UPLOAD.min(give_up.saturating_duration_since(tokio::time::Instant::now()));
        let frame = match tokio::time::timeout(wait, body.frame()).await {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(_) => {
                return Err(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "upload_stalled",
                    "the file stopped arriving; send it again",
                ));
            }
        };
        let Ok(frame) = frame else {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "upload_interrupted",
                "the file did not arrive whole; send it again",
            ));
        };
        let Ok(chunk) = frame.into_data() else {
            continue;
        };
        read += chunk.len() as u64;
        over |= read > max;
        if over {
            kept = Vec::new();
            if read > DRAIN_LIMIT {
                break;
            }
        } else {
            kept.extend_from_slice(&chunk);
        }
    }
    if over {
        return Err(ApiError::from(CoreError::from(FileRefusal::TooLarge {
            max_bytes: max,
        })));
    }
    Ok(Bytes::from(kept))
}

/// The file's response: it can be shown (a checked image) or only saved, never run.
pub(crate) fn serve(download: Download) -> Response {
    let disposition = format!(
        "{}; {}",
        if download.inline {
            "inline"
        } else {
            "attachment"
        },
        filename_parameters(&download.name)
    );
    let mut response = Body::from_stream(download.body).into_response();
    let headers = response.headers_mut();
    let content_type = if download.inline {
        download.content_type.as_str()
    } else {
        // Whatever it is, the browser saves it: nothing it could render or run.
        "application/octet-stream"
    };
    if let Ok(value) = HeaderValue::from_str(content_type) {
        headers.insert(CONTENT_TYPE, value);
    }
    headers.insert(CONTENT_LENGTH, HeaderValue::from(download.size));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(CONTENT_DISPOSITION, value);
    }
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    // A file never changes; only who may read it does.
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400"),
    );
    headers.insert(VARY, HeaderValue::from_static("authorization, cookie"));
    response
}

/// `filename="…"` for old clients (ASCII only) and `filename*=UTF-8''…` for the real name.
fn filename_parameters(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::with_capacity(name.len() * 3);
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

pub(crate) fn busy() -> ApiError {
    ApiError::from(CoreError::Busy(
        "too many files are being sent just now; try again in a moment",
    ))
}

#[cfg(test)]
mod tests {
    use super::filename_parameters;

    #[test]
    fn file_names_are_quoted_safely_for_every_browser() {
        assert_eq!(
            filename_parameters("Отчёт \"1\".pdf"),
            "filename=\"_____ _1_.pdf\"; filename*=UTF-8''%D0%9E%D1%82%D1%87%D1%91%D1%82%20%221%22.pdf"
        );
    }
}
