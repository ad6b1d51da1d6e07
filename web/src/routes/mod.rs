//! HTTP routes. Each area of the API is a module that owns its routes: the path and method
//! of an API route are written once, in its handler's `#[utoipa::path]`, and both the router
//! and the OpenAPI document are built from that.

pub mod admin;
pub mod assets;
pub mod audit;
pub mod avatars;
pub mod canned;
pub mod chats;
pub mod dev_mailbox;
pub mod erasure;
pub mod exports;
pub mod files;
pub mod health;
pub mod inbound;
pub mod metrics;
pub mod notes;
pub mod openapi;
pub mod pages;
pub mod platform;
pub mod platform_session;
pub mod platform_watch;
pub mod plugins;
pub mod push;
pub mod ratings;
pub mod search;
pub mod session;
pub mod templates;
pub mod tenant_deletion;
pub mod transcripts;
pub mod unsubscribe;
pub mod widget;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use utoipa_axum::router::OpenApiRouter;

use crate::cors::widget_cors;
use crate::error::ApiError;
use crate::realtime::operator_socket;
use crate::state::AppState;

pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    let (api, document) = api(&state).split_for_parts();
    Router::new()
        .merge(api)
        .merge(openapi::routes(document, state.max_message_chars))
        .merge(pages::routes())
        .merge(assets::routes())
        .merge(dev_mailbox::routes())
        .fallback(unknown_path)
        .method_not_allowed_fallback(method_not_allowed)
        // Outermost, so that it also answers preflights (OPTIONS) that match no route.
        .layer(from_fn_with_state(state.clone(), widget_cors))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

/// Every route the API document describes.
pub fn api(state: &AppState) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .merge(widget::routes(state))
        .merge(session::routes())
        .merge(chats::routes())
        .merge(files::operator_routes())
        .merge(avatars::operator_routes())
        .merge(notes::routes())
        .merge(canned::routes())
        .merge(search::routes())
        .merge(push::routes())
        .merge(ratings::admin_routes())
        .merge(operator_socket::routes())
        .merge(admin::routes())
        .merge(audit::routes())
        .merge(erasure::routes())
        .merge(exports::routes())
        .merge(tenant_deletion::routes())
        .merge(templates::routes())
        .merge(plugins::routes(state.max_plugin_bytes))
        .merge(platform::routes())
        .merge(platform_session::routes())
        .merge(platform_watch::routes())
        .merge(inbound::routes())
        .merge(health::routes())
        .merge(metrics::routes())
}

/// Unknown paths answer in the contract's error shape too, not with an empty body.
async fn unknown_path() -> ApiError {
    ApiError::from(tandem_core::CoreError::NotFound("path"))
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this path does not take that method",
    )
}
