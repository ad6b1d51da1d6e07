//! The widget's socket. While at least one is open the visitor is on the site: opening it
//! connects their presence, closing it (or losing it) disconnects.

use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::http::{Extensions, HeaderMap};
use axum::response::Response;
use serde::Deserialize;
use tandem_core::events::DomainEvent;
use tandem_core::ids::{ChatId, ConnectionId, MessageId};
use tandem_core::message::Reader;
use tandem_core::visitor::{PageReport, VisitorActor};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::frames::{ServerFrame, VisitorFrame};
use super::socket::{self, FrameHandler, Reply, SocketSettings};
use crate::auth::WidgetTenant;
use crate::cors::check_origin;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::metrics::SocketKind;
use crate::rate_limit;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(upgrade))
}

#[derive(Deserialize)]
pub struct VisitorSocketQuery {
    visitor_token: String,
}

/// `GET /api/v1/widget/{key}/ws?visitor_token=...`
#[utoipa::path(
    get,
    path = "/api/v1/widget/{key}/ws",
    tag = "widget",
    params(
        ("key" = String, Path, description = "The tenant's public widget key"),
        ("visitor_token" = String, Query, description = "The visitor's token from the session"),
    ),
    responses(
        (status = 101, description = "WebSocket: `hello`, then `message.created`, `message.updated`, `message.read`, `chat.updated`, `typing` and `operators.availability` frames. Client frames: `message.send {body, client_id}`, `message.edit {id, body}`, `read {up_to}`, `typing`, `page {url, title?, referrer?, time_zone?}` (the page the widget is on), `ping`."),
        (status = 400, description = "Not a WebSocket upgrade request, or no visitor token", body = crate::error::ErrorBody),
        (status = 401, description = "Unknown visitor token", body = crate::error::ErrorBody),
        (status = 403, description = "Suspended tenant or origin not allowed", body = crate::error::ErrorBody),
        (status = 404, description = "Unknown widget key", body = crate::error::ErrorBody),
    )
)]
pub async fn upgrade(
    State(state): State<AppState>,
    WidgetTenant(tenant): WidgetTenant,
    headers: HeaderMap,
    extensions: Extensions,
    QueryParams(query): QueryParams<VisitorSocketQuery>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    check_origin(&tenant, &headers)?;
    let actor = state
        .tandem
        .visitors
        .authenticate(tenant.id, &query.visitor_token)
        .await?;
    let ip = rate_limit::client_ip(&extensions);
    let places = state.limits.hold_socket(ip, actor.visitor)?;
    let user_agent = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let operators_available = state
        .tandem
        .operators
        .widget_availability(tenant.id)
        .await?
        .chat;
    Ok(socket::configure(ws)?.on_upgrade(move |socket| async move {
        let _places = places;
        let (registration, outbound) = state.hub.register_visitor(actor.tenant, actor.visitor);
        let connection = match state.tandem.presence.connect(&actor, &state.node_id).await {
            Ok(id) => id,
            Err(e) => {
                tracing::warn!(error = %e, "could not record a visitor connection");
                return;
            }
        };
        state.metrics.socket_opened(SocketKind::Visitor);
        let hello = ServerFrame::Hello {
            visitor_id: Some(actor.visitor),
            user_id: None,
            operators_available: Some(operators_available),
        }
        .to_text();
        let handler = VisitorFrames {
            state: state.clone(),
            actor,
            ip,
            chat: OnceLock::new(),
            user_agent,
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
        state.metrics.socket_closed(SocketKind::Visitor);
        disconnect(&state, &actor, connection).await;
    }))
}

/// A connection row left behind would keep the visitor online for as long as this node runs
/// (its heartbeat covers every row it holds), so a failed disconnect is retried.
async fn disconnect(state: &AppState, actor: &VisitorActor, connection: ConnectionId) {
    for attempt in 1..=5u32 {
        match state.tandem.presence.disconnect(actor, connection).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, attempt, "could not record a visitor disconnect");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            }
        }
    }
}

struct VisitorFrames {
    state: AppState,
    actor: VisitorActor,
    /// Where the socket comes from: frames count against the IP's allowance like requests.
    ip: Option<std::net::IpAddr>,
    /// The visitor's chat once it exists (it never changes), for typing frames.
    chat: OnceLock<ChatId>,
    /// The browser's, as it opened the socket: the operators see which it is.
    user_agent: Option<String>,
}

impl FrameHandler for VisitorFrames {
    async fn handle(&self, text: &str) -> Reply {
        let frame = match serde_json::from_str::<VisitorFrame>(text) {
            Ok(frame) => frame,
            Err(e) => return error_reply(ApiError::invalid_frame(e), None),
        };
        if !matches!(frame, VisitorFrame::Ping) {
            let limits = &self.state.limits;
            let allowed = match self.ip {
                Some(ip) => limits.check_ip(ip),
                None => Ok(()),
            }
            .and_then(|()| limits.check_visitor(self.actor.visitor));
            if let Err(e) = allowed {
                return Reply::Refused(e);
            }
        }
        let messages = &self.state.tandem.messages;
        match frame {
            VisitorFrame::Ping => Reply::Frame(ServerFrame::Pong.to_text()),
            VisitorFrame::Send { body, client_id } => {
                let started = std::time::Instant::now();
                let sent = messages
                    .send_as_visitor(&self.actor, &body, client_id.as_deref())
                    .await;
                self.state
                    .metrics
                    .message_write_seconds
                    .observe(started.elapsed().as_secs_f64());
                match sent {
                    Ok(_) => Reply::None,
                    Err(e) => error_reply(e.into(), client_id.as_deref()),
                }
            }
            VisitorFrame::Edit { id, body } => {
                let result = match id.parse::<MessageId>() {
                    Ok(id) => messages.edit_as_visitor(&self.actor, id, &body).await,
                    Err(e) => Err(e),
                };
                match result {
                    Ok(_) => Reply::None,
                    Err(e) => error_reply(e.into(), None),
                }
            }
            VisitorFrame::Read { up_to } => {
                let result = match up_to.parse::<MessageId>() {
                    Ok(id) => messages.mark_read_by_visitor(&self.actor, id).await,
                    Err(e) => Err(e),
                };
                match result {
                    Ok(()) => Reply::None,
                    Err(e) => error_reply(e.into(), None),
                }
            }
            VisitorFrame::Page {
                url,
                title,
                referrer,
                time_zone,
            } => {
                let report = PageReport {
                    url,
                    title,
                    referrer,
                    time_zone,
                    user_agent: self.user_agent.clone(),
                };
                match self
                    .state
                    .tandem
                    .visitors
                    .page_viewed(&self.actor, report)
                    .await
                {
                    Ok(()) => Reply::None,
                    Err(e) => error_reply(e.into(), None),
                }
            }
            VisitorFrame::Typing => {
                let chat = match self.chat.get() {
                    Some(chat) => Some(*chat),
                    None => match self.state.tandem.visitors.chat_of(&self.actor).await {
                        Ok(chat) => chat.map(|c| *self.chat.get_or_init(|| c.id)),
                        Err(e) => return error_reply(e.into(), None),
                    },
                };
                if let Some(chat) = chat {
                    self.state.events.publish(DomainEvent::Typing {
                        tenant: self.actor.tenant,
                        visitor: self.actor.visitor,
                        chat,
                        by: Reader::Visitor,
                        operator: None,
                    });
                }
                Reply::None
            }
        }
    }
}

pub(super) fn error_reply(err: ApiError, client_id: Option<&str>) -> Reply {
    Reply::Frame(
        ServerFrame::Error {
            error: err.detail(),
            client_id,
        }
        .to_text(),
    )
}
