//! Prometheus metrics of this node.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::PlatformAuth;
use crate::metrics::WaitingLabels;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(render))
}

/// The platform operator's only: the figures are per tenant (plugin calls), and no tenant may
/// read another's activity.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "Prometheus text format: open sockets, messages written and their write time, responses by status, notifications waiting (queue depth), plugin calls by tenant, hook and outcome, plugin compilations and their time", content_type = "application/openmetrics-text"),
        (status = 401, description = "No or wrong platform token", body = crate::error::ErrorBody),
        (status = 404, description = "No platform token is configured", body = crate::error::ErrorBody),
    ),
    security(("platform" = [])))]
pub async fn render(State(state): State<AppState>, _platform: PlatformAuth) -> impl IntoResponse {
    match state.tandem.outbox.backlog().await {
        Ok((due, later)) => {
            let set = |label, value: u64| {
                state
                    .metrics
                    .notifications_waiting
                    .get_or_create(&WaitingLabels { state: label })
                    .set(i64::try_from(value).unwrap_or(i64::MAX));
            };
            set("due", due);
            set("scheduled", later);
        }
        Err(e) => tracing::warn!(error = %e, "cannot count waiting notifications"),
    }
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
