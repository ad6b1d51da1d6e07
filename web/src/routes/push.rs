//! Web Push: an operator opts a browser in (its service worker subscribes with the
//! installation's VAPID key), lists their browsers and opts one out. Alerts then reach those
//! browsers while the workspace is closed.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use tandem_core::ids::PushSubscriptionId;
use tandem_core::push::{NewSubscription, PushSubscription};
use tandem_worker::push::Vapid;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::OperatorAuth;
use crate::error::{ApiError, ErrorBody};
use crate::extract::JsonBody;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(key))
        .routes(routes!(list, subscribe))
        .routes(routes!(unsubscribe))
}

#[derive(Serialize, ToSchema)]
pub struct PushKey {
    /// The installation's VAPID public key (uncompressed P-256, base64url): the
    /// `applicationServerKey` a browser subscribes with.
    pub public_key: String,
}

#[derive(Serialize, ToSchema)]
pub struct PushSubscriptionList {
    /// The operator's own browsers, newest first.
    pub subscriptions: Vec<PushSubscription>,
}

/// The key browsers subscribe with.
#[utoipa::path(get, path = "/api/v1/push/key", tag = "operator",
    responses((status = 200, body = PushKey), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn key(
    State(state): State<AppState>,
    _auth: OperatorAuth,
) -> Result<Json<PushKey>, ApiError> {
    let secret = state.tandem.push.vapid_secret().await?;
    let vapid = Vapid::from_secret(&secret, String::new());
    Ok(Json(PushKey {
        public_key: vapid.public_key().to_owned(),
    }))
}

/// The browsers where this operator opted in.
#[utoipa::path(get, path = "/api/v1/push/subscriptions", tag = "operator",
    responses((status = 200, body = PushSubscriptionList), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    auth: OperatorAuth,
) -> Result<Json<PushSubscriptionList>, ApiError> {
    Ok(Json(PushSubscriptionList {
        subscriptions: state.tandem.push.subscriptions(&auth.actor).await?,
    }))
}

/// Opts this browser in: the body is the browser's `PushSubscription.toJSON()`. An endpoint
/// already known moves to this operator; an operator keeps at most 10 browsers (the oldest goes).
#[utoipa::path(post, path = "/api/v1/push/subscriptions", tag = "operator",
    request_body = NewSubscription,
    responses(
        (status = 201, body = PushSubscription),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, description = "The browser's key is not a point of P-256", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn subscribe(
    State(state): State<AppState>,
    auth: OperatorAuth,
    headers: HeaderMap,
    JsonBody(body): JsonBody<NewSubscription>,
) -> Result<impl IntoResponse, ApiError> {
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let subscription = state
        .tandem
        .push
        .subscribe(&auth.actor, &body, agent)
        .await?;
    Ok((StatusCode::CREATED, Json(subscription)))
}

/// Opts one of the operator's own browsers out; pushes not sent yet are dropped.
#[utoipa::path(delete, path = "/api/v1/push/subscriptions/{id}", tag = "operator",
    params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn unsubscribe(
    State(state): State<AppState>,
    auth: OperatorAuth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: PushSubscriptionId = id.parse()?;
    state.tandem.push.unsubscribe(&auth.actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
