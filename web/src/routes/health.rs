//! Liveness and readiness for load balancers: answers 200 only while the database answers.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` when the database does not answer.
    pub status: &'static str,
    pub database: &'static str,
}

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses(
        (status = 200, description = "The server and its database answer", body = Health),
        (status = 503, description = "The database does not answer", body = Health),
    )
)]
pub async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let database = database(&state, "health check").await;
    let status = if database == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Health {
            status: database,
            database,
        }),
    )
}

/// `ok`, or `unavailable` (logged, with `check` naming who asked) when the database does not
/// answer a ping.
async fn database(state: &AppState, check: &str) -> &'static str {
    match state.tandem.storage().ping().await {
        Ok(()) => "ok",
        Err(e) => {
            tracing::warn!(error = %e, "{check}: database does not answer");
            "unavailable"
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready`, or `not_ready` while the node should get no traffic.
    pub status: &'static str,
    pub database: &'static str,
    /// `listening`, `connecting` (not hearing the other nodes yet), or `single_node`.
    pub bus: &'static str,
    /// Whether the node is shutting down (it finishes what it has and takes nothing new).
    pub draining: bool,
}

#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Send this node traffic", body = Readiness),
        (status = 503, description = "Do not: its database or the bus to the other nodes is down, or it is shutting down", body = Readiness),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let database = database(&state, "readiness").await;
    let bus = match &state.hearing_other_nodes {
        None => "single_node",
        Some(hearing) if hearing.load(std::sync::atomic::Ordering::Relaxed) => "listening",
        Some(_) => "connecting",
    };
    let draining = *state.closing.borrow();
    let ready = database == "ok" && bus != "connecting" && !draining;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            status: if ready { "ready" } else { "not_ready" },
            database,
            bus,
            draining,
        }),
    )
}
