//! HTTP routes. Each area of the API gets a module of its own.

pub mod health;
pub mod openapi;

use axum::Router;

use crate::error::ApiError;
use crate::startup::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", axum::routing::get(health::healthz))
        .route(
            "/api/v1/openapi.json",
            axum::routing::get(openapi::document),
        )
        .fallback(unknown_path)
        .with_state(state)
}

/// Unknown paths answer in the contract's error shape too, not with an empty body.
async fn unknown_path() -> ApiError {
    ApiError::from(tandem_core::CoreError::NotFound("path"))
}
