//! HTTP routes. Each area of the API gets a module of its own.

pub mod admin;
pub mod assets;
pub mod chats;
pub mod dev_mailbox;
pub mod health;
pub mod inbound;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod platform;
pub mod plugins;
pub mod session;
pub mod templates;
pub mod unsubscribe;
pub mod widget;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, patch, post, put};
use tower_http::compression::CompressionLayer;

use crate::cors::widget_cors;
use crate::error::ApiError;
use crate::rate_limit::limit_by_ip;
use crate::realtime::{operator_socket, visitor_socket};
use crate::state::AppState;

pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    let widget = Router::new()
        .route("/config", get(widget::config))
        .route("/session", post(widget::session))
        .route("/offline-requests", post(widget::offline_request))
        .route("/chat", get(widget::dialog))
        .route("/chat/messages", post(widget::send))
        .route("/chat/messages/{id}", patch(widget::edit))
        .route("/chat/read", post(widget::read))
        .route("/visitor", put(widget::update_visitor))
        .route("/hand-over", post(widget::hand_over))
        .route("/ws", get(visitor_socket::upgrade))
        .route(
            "/unsubscribe",
            get(unsubscribe::ask).post(unsubscribe::confirm),
        )
        .layer(from_fn_with_state(state.clone(), limit_by_ip));

    let api = Router::new()
        .nest("/widget/{key}", widget)
        .route("/auth/login", post(session::login))
        .route("/auth/logout", post(session::logout))
        .route("/auth/me", get(session::me))
        .route("/chats", get(chats::list))
        .route("/chats/{id}", get(chats::get))
        .route("/chats/{id}/messages", post(chats::reply))
        .route("/chats/{id}/messages/{message_id}/edits", get(chats::edits))
        .route("/chats/{id}/assign", post(chats::assign))
        .route("/chats/{id}/release", post(chats::release))
        .route("/chats/{id}/close", post(chats::close))
        .route("/chats/{id}/read", post(chats::read))
        .route("/operators", get(chats::colleagues))
        .route("/operators/me/status", put(chats::set_status))
        .route("/ws", get(operator_socket::upgrade))
        .route("/admin/tenant", get(admin::tenant))
        .route(
            "/admin/settings",
            get(admin::settings).put(admin::update_settings),
        )
        .route(
            "/admin/operators",
            get(admin::operators).post(admin::create_operator),
        )
        .route(
            "/admin/operators/{id}",
            patch(admin::update_operator).delete(admin::deactivate_operator),
        )
        .route("/admin/notifications", get(admin::notifications))
        .route("/admin/webhook-secret", get(admin::webhook_secret))
        .route(
            "/admin/webhook-secret/rotate",
            post(admin::rotate_webhook_secret),
        )
        .route(
            "/admin/templates/unread-reply",
            get(templates::get)
                .put(templates::put)
                .delete(templates::reset),
        )
        .route(
            "/admin/templates/unread-reply/preview",
            post(templates::preview),
        )
        .route(
            "/admin/plugins",
            get(plugins::list)
                .post(plugins::upload)
                .layer(DefaultBodyLimit::max(
                    state.max_plugin_bytes.saturating_add(1024),
                )),
        )
        .route(
            "/admin/plugins/{id}",
            patch(plugins::update).delete(plugins::delete),
        )
        .route("/admin/plugins/{id}/logs", get(plugins::logs))
        .route(
            "/platform/tenants",
            get(platform::list).post(platform::create),
        )
        .route("/platform/tenants/{id}", patch(platform::update))
        .route(
            "/inbound/email",
            post(inbound::email).layer(DefaultBodyLimit::max(
                tandem_worker::inbound::MAX_INBOUND_BYTES + 1,
            )),
        )
        .route("/openapi.json", get(openapi::document));

    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::render))
        .route("/", get(pages::root))
        .route("/app", get(pages::workspace))
        .route("/admin", get(pages::console))
        .route("/demo", get(pages::demo))
        .route("/c/{key}", get(pages::hosted_chat))
        .route(
            "/static/{name}",
            get(assets::file).layer(CompressionLayer::new()),
        )
        .route("/dev/mailbox", get(dev_mailbox::list))
        .route("/dev/mailbox/{id}", get(dev_mailbox::show))
        .route("/dev/mailbox/{id}/raw", get(dev_mailbox::raw))
        .route("/dev/mailbox/{id}/reply", post(dev_mailbox::reply))
        .fallback(unknown_path)
        .method_not_allowed_fallback(method_not_allowed)
        // Outermost, so that it also answers preflights (OPTIONS) that match no route.
        .layer(from_fn_with_state(state.clone(), widget_cors))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
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
