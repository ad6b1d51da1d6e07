//! The life of one WebSocket, shared by widget and operator sockets: frames from the hub go out,
//! frames from the client go to a handler, pings catch connections that died without a close
//! frame, and a server shutdown closes the socket properly.

use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::frames::ServerFrame;
use super::hub::Outbound;
use crate::error::ApiError;

/// Close codes (RFC 6455 and the 4000 private range).
pub mod close_code {
    pub const GOING_AWAY: u16 = 1001;
    pub const UNSUPPORTED: u16 = 1003;
    pub const POLICY: u16 = 1008;
    pub const TOO_BIG: u16 = 1009;
    pub const TRY_AGAIN_LATER: u16 = 1013;
    /// Access revoked: the session ended, the account or the tenant was switched off.
    pub const REVOKED: u16 = 4003;
}

/// The largest client frame accepted, in bytes (a maximal message body fits easily).
pub const MAX_CLIENT_FRAME: usize = 64 * 1024;

/// Buffer sizes for an idle socket's sake: tungstenite's defaults (128 KiB to read, 128 KiB to
/// write, allocated up front) would cost a quarter of a megabyte per visitor; our frames are
/// small and every send is flushed at once.
///
/// `ws` is the upgrade as extracted: handlers take it last, as a `Result`, so that bad
/// credentials are told first, and a plain HTTP request gets a 400 in the API's error shape.
pub fn configure(
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<WebSocketUpgrade, ApiError> {
    let ws = ws.map_err(|rejection| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "websocket_expected",
            format!(
                "this path takes a WebSocket upgrade: {}",
                rejection.body_text()
            ),
        )
    })?;
    Ok(ws
        .max_message_size(MAX_CLIENT_FRAME)
        .max_frame_size(MAX_CLIENT_FRAME)
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0))
}

/// How many refused (rate-limited) client frames a socket may send before it is closed.
const REFUSALS_BEFORE_CLOSE: u32 = 20;

/// What the handler made of one client frame.
pub enum Reply {
    None,
    Frame(Utf8Bytes),
    /// The client is over its rate limit: the frame was refused.
    Refused(ApiError),
    /// The credentials the socket was opened with stopped working: it closes.
    Revoked,
}

pub trait FrameHandler {
    fn handle(&self, text: &str) -> impl std::future::Future<Output = Reply> + Send;
}

pub struct SocketSettings {
    pub timeout: Duration,
}

/// Runs the socket until the client leaves, the hub drops it, or the server shuts down.
pub async fn drive(
    socket: WebSocket,
    hello: Utf8Bytes,
    mut outbound: mpsc::Receiver<Outbound>,
    mut closing: watch::Receiver<bool>,
    settings: &SocketSettings,
    handler: &impl FrameHandler,
) {
    let (mut sink, mut stream) = socket.split();
    if sink.send(Message::Text(hello)).await.is_err() {
        return;
    }
    let ping_every = settings.timeout / 2;
    let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
    let mut last_heard = Instant::now();
    let mut refusals = 0u32;
    let close = loop {
        tokio::select! {
            incoming = stream.next() => {
                let Some(Ok(message)) = incoming else { break None };
                last_heard = Instant::now();
                match message {
                    Message::Text(text) => match handler.handle(text.as_str()).await {
                        Reply::None => {}
                        Reply::Frame(frame) => {
                            if sink.send(Message::Text(frame)).await.is_err() {
                                break None;
                            }
                        }
                        Reply::Revoked => break Some((close_code::REVOKED, "access revoked")),
                        Reply::Refused(err) => {
                            refusals += 1;
                            if refusals > REFUSALS_BEFORE_CLOSE {
                                break Some((close_code::POLICY, "rate limit exceeded"));
                            }
                            let frame = ServerFrame::Error { error: err.detail(), client_id: None };
                            if sink.send(Message::Text(frame.to_text())).await.is_err() {
                                break None;
                            }
                        }
                    },
                    Message::Binary(_) => {
                        break Some((close_code::UNSUPPORTED, "frames must be JSON text"));
                    }
                    Message::Close(_) => break None,
                    Message::Ping(_) | Message::Pong(_) => {}
                }
            }
            next = outbound.recv() => match next {
                Some(Outbound::Frame(frame)) => {
                    if sink.send(Message::Text(frame)).await.is_err() {
                        break None;
                    }
                }
                Some(Outbound::Close(code, reason)) => break Some((code, reason)),
                None => break Some((close_code::TRY_AGAIN_LATER, "fell behind; reconnect")),
            },
            _ = ping.tick() => {
                if last_heard.elapsed() >= settings.timeout {
                    tracing::debug!("socket timed out");
                    break None;
                }
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    break None;
                }
            }
            () = shutting_down(&mut closing) => {
                break Some((close_code::GOING_AWAY, "server shutting down"));
            }
        }
    };
    if let Some((code, reason)) = close {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            sink.send(Message::Close(Some(frame))),
        )
        .await;
        // The closing handshake: read until the client answers. Closing with its frames still
        // unread would make the kernel reset the connection, and the client could lose our
        // close frame (and its reason) to the reset.
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while let Some(Ok(message)) = stream.next().await {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
}

/// Resolves once the server starts shutting down.
pub async fn shutting_down(closing: &mut watch::Receiver<bool>) {
    // An error means the sender is gone, which only happens after shutdown.
    let _ = closing.wait_for(|closing| *closing).await;
}
