//! The operator workspace's socket: every event of the operator's tenant.

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::Response;
use serde::Deserialize;
use tandem_core::CoreError;
use tandem_core::events::DomainEvent;
use tandem_core::ids::{ChatId, MessageId};
use tandem_core::message::Reader;
use tandem_core::operator::{OperatorName, session_key};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::frames::{OperatorFrame, ServerFrame};
use super::socket::{self, FrameHandler, Reply, SocketSettings};
use super::visitor_socket::error_reply;
use crate::auth::{OperatorAuth, bearer};
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::metrics::SocketKind;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(upgrade))
}

#[derive(Deserialize)]
pub struct OperatorSocketQuery {
    token: Option<String>,
}

/// `GET /api/v1/ws` — the token as a bearer header, the session cookie, or `?token=` (browsers
/// cannot set headers on a WebSocket).
#[utoipa::path(
    get,
    path = "/api/v1/ws",
    tag = "operator",
    params(("token" = Option<String>, Query, description = "The session token, when it cannot be sent as a header")),
    responses(
        (status = 101, description = "WebSocket: `hello`, then every `message.created`, `message.updated`, `message.read`, `chat.updated`, `typing`, `operator.status` (anyone's status changed, yours in another tab included) and `operator.alert` (a new offline request, a visitor waiting long) of the tenant. Client frames: `message.send {chat_id, body, client_id}`, `read {chat_id, up_to}`, `typing {chat_id}`, `ping`."),
        (status = 400, description = "Not a WebSocket upgrade request", body = crate::error::ErrorBody),
        (status = 401, description = "No or bad credentials", body = crate::error::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn upgrade(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<OperatorSocketQuery>,
    parts: Parts,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let auth = match query.token {
        Some(token) => OperatorAuth::from_token(&state, &token).await?,
        None => {
            if bearer(&parts).is_none() {
                // The browser sends the cookie whichever page opens the socket: only the
                // workspace's own origin may use it (no cross-site socket hijacking).
                same_origin(&parts, &state.public_url)?;
            }
            let mut parts = parts;
            <OperatorAuth as FromRequestParts<AppState>>::from_request_parts(&mut parts, &state)
                .await?
        }
    };
    let actor = auth.actor;
    let token = auth.token;
    let me = state.tandem.operators.get(&actor, actor.user).await?;
    let me = OperatorName {
        id: me.id,
        name: me.name,
        avatar: me.avatar,
    };
    Ok(socket::configure(ws)?.on_upgrade(move |socket| async move {
        let (registration, outbound) =
            state
                .hub
                .register_operator(actor.tenant, actor.user, session_key(&token));
        state.metrics.socket_opened(SocketKind::Operator);
        let hello = ServerFrame::Hello {
            visitor_id: None,
            user_id: Some(actor.user),
            operators_available: None,
        }
        .to_text();
        let handler = OperatorFrames {
            state: state.clone(),
            token,
            me,
        };
        let settings = SocketSettings {
            timeout: state.socket_timeout,
        };
        socket::drive(
            socket,
            hello,
            outbound,
            state.closing.clone(),
            &settings,
            &handler,
        )
        .await;
        drop(registration);
        state.metrics.socket_closed(SocketKind::Operator);
    }))
}

/// The page opening the socket is served by this server: `Origin` names the `Host` asked for,
/// or the public URL (behind a proxy that rewrites `Host`).
fn same_origin(parts: &Parts, public_url: &str) -> Result<(), ApiError> {
    let header = |name| {
        parts
            .headers
            .get(name)
            .and_then(|v: &axum::http::HeaderValue| v.to_str().ok())
    };
    let origin_host = header(axum::http::header::ORIGIN)
        .and_then(|origin| origin.split_once("://"))
        .map(|(_, host)| host.trim_end_matches('/'));
    match (origin_host, header(axum::http::header::HOST)) {
        // Not a browser: it chose to send the cookie itself.
        (None, _) => Ok(()),
        (Some(origin), Some(host)) if origin.eq_ignore_ascii_case(host) => Ok(()),
        (Some(origin), _)
            if public_url.split_once("://").is_some_and(|(_, public)| {
                public.trim_end_matches('/').eq_ignore_ascii_case(origin)
            }) =>
        {
            Ok(())
        }
        _ => Err(
            CoreError::NotAllowed("this page's origin may not open the workspace socket").into(),
        ),
    }
}

struct OperatorFrames {
    state: AppState,
    /// Checked again before every frame that acts: a session that ended (logout, deactivation)
    /// acts no more, and a changed role applies at once.
    token: String,
    /// Shown to visitors while this operator types.
    me: OperatorName,
}

impl FrameHandler for OperatorFrames {
    async fn handle(&self, text: &str) -> Reply {
        let frame = match serde_json::from_str::<OperatorFrame>(text) {
            Ok(frame) => frame,
            Err(e) => return error_reply(ApiError::invalid_frame(e), None),
        };
        let tandem = &self.state.tandem;
        if matches!(frame, OperatorFrame::Ping) {
            return Reply::Frame(ServerFrame::Pong.to_text());
        }
        let actor = match tandem.operators.authenticate_token(&self.token).await {
            Ok(actor) => actor,
            Err(CoreError::Unauthorized(_)) => return Reply::Revoked,
            Err(e) => return error_reply(e.into(), None),
        };
        let actor = &actor;
        match frame {
            OperatorFrame::Ping => Reply::Frame(ServerFrame::Pong.to_text()),
            OperatorFrame::Send {
                chat_id,
                body,
                client_id,
            } => {
                let result = match chat_id.parse::<ChatId>() {
                    Ok(chat) => {
                        tandem
                            .messages
                            .send_as_operator(actor, chat, &body, client_id.as_deref())
                            .await
                    }
                    Err(e) => Err(e),
                };
                match result {
                    Ok(_) => Reply::None,
                    Err(e) => error_reply(e.into(), client_id.as_deref()),
                }
            }
            OperatorFrame::Edit {} => error_reply(
                CoreError::NotAllowed("operators cannot edit messages").into(),
                None,
            ),
            OperatorFrame::Read { chat_id, up_to } => {
                let result = match (chat_id.parse::<ChatId>(), up_to.parse::<MessageId>()) {
                    (Ok(chat), Ok(up_to)) => {
                        tandem
                            .messages
                            .mark_read_by_operator(actor, chat, up_to)
                            .await
                    }
                    (Err(e), _) | (_, Err(e)) => Err(e),
                };
                match result {
                    Ok(()) => Reply::None,
                    Err(e) => error_reply(e.into(), None),
                }
            }
            OperatorFrame::Typing { chat_id } => {
                let chat = match chat_id.parse::<ChatId>() {
                    Ok(id) => tandem.chats.summary(actor, id).await,
                    Err(e) => Err(e),
                };
                match chat {
                    Ok(chat) => {
                        self.state.events.publish(DomainEvent::Typing {
                            tenant: actor.tenant,
                            visitor: chat.visitor.id,
                            chat: chat.id,
                            by: Reader::Operator,
                            operator: Some(self.me.clone()),
                        });
                        Reply::None
                    }
                    Err(e) => error_reply(e.into(), None),
                }
            }
        }
    }
}
