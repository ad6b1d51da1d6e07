//! `POST /api/v1/inbound/email`: a reply to an unread-reply mail, as the raw RFC 5322 message,
//! from a mail provider's inbound route (or anything that receives the domain's mail). It
//! becomes the visitor's message in the dialog the mail's `Reply-To` named.

use axum::Json;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::Serialize;
use tandem_core::inbound::InboundError;
use tandem_core::message::Message;
use tandem_worker::inbound::{self, ParseError};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::require_secret;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    let raw_mail = DefaultBodyLimit::max(tandem_worker::inbound::MAX_INBOUND_BYTES + 1);
    OpenApiRouter::new().routes(routes!(email)).layer(raw_mail)
}

#[derive(Serialize, ToSchema)]
pub struct Received {
    /// The visitor's message the reply became.
    pub message: Message,
}

#[utoipa::path(post, path = "/api/v1/inbound/email", tag = "inbound",
    request_body(content = String, content_type = "message/rfc822", description = "The raw mail, headers and body, at most 1 MiB"),
    responses(
        (status = 202, description = "The reply is a message in its dialog (delivered twice, still one message)", body = Received),
        (status = 400, description = "Not an email message", body = ErrorBody),
        (status = 401, description = "No or wrong secret", body = ErrorBody),
        (status = 404, description = "Inbound mail is off (no TANDEM_INBOUND_SECRET)", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 422, description = "Refused, nothing created: an address that takes no mail (unknown, expired, a suspended company: never says which), automatic mail (auto-replies, bounces, lists), a sender who is not the visitor, no text of its own, or a flood", body = ErrorBody),
        (status = 429, description = "Over the company's messages a minute; the relay should try again after Retry-After", body = ErrorBody),
    ),
    security(("inbound" = [])))]
pub async fn email(
    State(state): State<AppState>,
    parts: Parts,
    raw: Bytes,
) -> Result<(StatusCode, Json<Received>), ApiError> {
    authorize(&state, &parts)?;
    let mail = inbound::parse(&raw).map_err(|e| match e {
        ParseError::TooLarge(_) => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.to_string())
        }
        ParseError::NotMail => ApiError::new(StatusCode::BAD_REQUEST, "not_mail", e.to_string()),
    })?;
    let from = mail.from.clone();
    match state.tandem.inbound.receive(mail).await {
        Ok(message) => Ok((StatusCode::ACCEPTED, Json(Received { message }))),
        Err(InboundError::Core(e)) => Err(e.into()),
        Err(refused) => {
            tracing::info!(%from, reason = %refused, "inbound mail refused");
            Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "refused",
                refused.to_string(),
            ))
        }
    }
}

fn authorize(state: &AppState, parts: &Parts) -> Result<(), ApiError> {
    require_secret(
        parts,
        state.inbound_secret_digest.as_deref(),
        "the inbound mail secret is required",
    )
}
