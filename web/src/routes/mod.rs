//! HTTP routes. Each area of the API gets a module of its own.

pub mod health;
pub mod openapi;

use axum::Router;

use crate::startup::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", axum::routing::get(health::healthz))
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(openapi::document),
        )
        .with_state(state)
}
