//! Prometheus metrics of this node.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

use crate::metrics::WaitingLabels;
use crate::state::AppState;

#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format: open sockets, messages written and their write time, responses by status, notifications waiting (queue depth)", content_type = "text/plain")))]
pub async fn render(State(state): State<AppState>) -> impl IntoResponse {
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
