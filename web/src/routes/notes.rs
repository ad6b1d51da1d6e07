//! Internal notes in a dialog: operators write them for each other; visitors never see one.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use tandem_core::ids::ChatId;
use tandem_core::note::Note;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::OperatorAuth;
use crate::error::{ApiError, ErrorBody};
use crate::extract::JsonBody;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(add))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    pub body: String,
}

/// A note for colleagues, shown in the dialog after its newest message. Any operator of the
/// tenant may write one, in a colleague's chat too. It reaches operators' workspaces as
/// `note.added`; it never reaches the visitor, their mail or the tenant's plugins.
#[utoipa::path(post, path = "/api/v1/chats/{id}/notes", tag = "operator",
    params(("id" = String, Path)),
    request_body = NoteBody,
    responses(
        (status = 201, body = Note),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 429, description = "Over the company's messages a minute", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn add(
    State(state): State<AppState>,
    auth: OperatorAuth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<NoteBody>,
) -> Result<impl IntoResponse, ApiError> {
    let id: ChatId = id.parse()?;
    let note = state.tandem.notes.add(&auth.actor, id, &body.body).await?;
    Ok((StatusCode::CREATED, Json(note)))
}
