//! The end of a conversation: the visitor rates a chat an operator closed; admins read the
//! company's satisfaction (CSAT).

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use tandem_core::chat::VisitorChat;
use tandem_core::rating::{Csat, MAX_WEEKS, Rating};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{AdminAuth, WidgetVisitor};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{JsonBody, QueryParams};
use crate::state::AppState;

/// The visitor's route; the widget's routes take it in (behind their per-address limit).
pub fn widget_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(rate))
}

pub fn admin_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(csat))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingBody {
    pub rating: Rating,
    /// At most 1,000 characters.
    pub comment: Option<String>,
}

/// Rates the conversation an operator closed: once per close (a second rating is 409, and so is
/// one while the conversation goes on). Operators see it on the chat (`chat.updated`).
#[utoipa::path(post, path = "/api/v1/widget/{key}/chat/rating", tag = "widget",
    params(("key" = String, Path)),
    request_body = RatingBody,
    responses(
        (status = 200, description = "The chat, with its rating", body = VisitorChat),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "Rated already, or not closed", body = ErrorBody), (status = 413, body = ErrorBody),
    ),
    security(("visitor" = [])))]
pub async fn rate(
    State(state): State<AppState>,
    visitor: WidgetVisitor,
    JsonBody(body): JsonBody<RatingBody>,
) -> Result<Json<VisitorChat>, ApiError> {
    let chat = state
        .tandem
        .ratings
        .rate(&visitor.actor, body.rating, body.comment.as_deref())
        .await?;
    Ok(Json(VisitorChat::from(&chat)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CsatQuery {
    /// How many weeks, this one included (default 8).
    #[param(value_type = u32, minimum = 1, maximum = 52, required = false, nullable = false)]
    pub weeks: Option<Weeks>,
}

/// 1 to [`MAX_WEEKS`], refused like any other malformed query otherwise.
pub struct Weeks(u32);

impl<'de> Deserialize<'de> for Weeks {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let weeks = u32::deserialize(deserializer)?;
        if (1..=MAX_WEEKS).contains(&weeks) {
            Ok(Self(weeks))
        } else {
            Err(serde::de::Error::custom(format!(
                "weeks: must be 1 to {MAX_WEEKS}"
            )))
        }
    }
}

#[utoipa::path(get, path = "/api/v1/admin/csat", tag = "admin",
    params(CsatQuery),
    responses(
        (status = 200, description = "The share of rated conversations rated good, per week (from Monday, UTC) and per operator", body = Csat),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn csat(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    QueryParams(query): QueryParams<CsatQuery>,
) -> Result<Json<Csat>, ApiError> {
    Ok(Json(
        state
            .tandem
            .ratings
            .csat(&actor, query.weeks.map_or(8, |weeks| weeks.0))
            .await?,
    ))
}
