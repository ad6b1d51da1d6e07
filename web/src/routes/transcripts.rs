//! The transcript of a conversation by email, as its visitor asks for it in the widget.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use tandem_core::transcript::TranscriptRequest;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::WidgetVisitor;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// The visitor's route; the widget's routes take it in (behind their per-address limit).
pub fn widget_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(request))
}

/// Mails the whole conversation (messages, never operators' notes) to the visitor's address.
/// Asking again while one is on its way answers with that one; three a day at most (then 429).
#[utoipa::path(post, path = "/api/v1/widget/{key}/chat/transcript", tag = "widget",
    params(("key" = String, Path)),
    responses(
        (status = 202, description = "On its way", body = TranscriptRequest),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "No address to send it to", body = ErrorBody),
        (status = 429, description = "Three asked today already", body = ErrorBody),
    ),
    security(("visitor" = [])))]
pub async fn request(
    State(state): State<AppState>,
    visitor: WidgetVisitor,
) -> Result<(StatusCode, Json<TranscriptRequest>), ApiError> {
    let request = state.tandem.transcripts.request(&visitor.actor).await?;
    Ok((StatusCode::ACCEPTED, Json(request)))
}
