//! The OpenAPI document of everything the server answers, generated from the handlers.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{ErrorBody, ErrorDetail};
use crate::realtime::{operator_socket, visitor_socket};
use crate::routes::health::{self, Health};
use crate::routes::{
    admin, chats, inbound, metrics, platform, plugins, session, templates, unsubscribe, widget,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tandem API",
        description = "Live chat: widget, operator workspace, tenant admin and platform API. Every error is `{\"error\": {\"code\", \"message\"}}`."
    ),
    paths(
        health::healthz,
        health::readyz,
        metrics::render,
        widget::config,
        widget::session,
        widget::offline_request,
        widget::dialog,
        widget::send,
        widget::edit,
        widget::read,
        widget::update_visitor,
        widget::hand_over,
        visitor_socket::upgrade,
        unsubscribe::ask,
        unsubscribe::confirm,
        session::login,
        session::logout,
        session::me,
        chats::list,
        chats::get,
        chats::edits,
        chats::reply,
        chats::assign,
        chats::release,
        chats::close,
        chats::read,
        chats::set_status,
        chats::colleagues,
        operator_socket::upgrade,
        admin::tenant,
        admin::settings,
        admin::update_settings,
        admin::operators,
        admin::create_operator,
        admin::update_operator,
        admin::deactivate_operator,
        admin::notifications,
        admin::webhook_secret,
        admin::rotate_webhook_secret,
        templates::get,
        templates::put,
        templates::reset,
        templates::preview,
        plugins::upload,
        plugins::list,
        plugins::update,
        plugins::delete,
        plugins::logs,
        platform::list,
        platform::create,
        platform::update,
        inbound::email,
    ),
    components(schemas(Health, ErrorBody, ErrorDetail)),
    modifiers(&SecuritySchemes)
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |description: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(description))
                    .build(),
            )
        };
        components.add_security_scheme(
            "bearer",
            bearer("An operator's token from /api/v1/auth/login (or the tandem_session cookie)"),
        );
        components.add_security_scheme(
            "visitor",
            bearer("The visitor_token from /api/v1/widget/{key}/session"),
        );
        components.add_security_scheme("platform", bearer("TANDEM_PLATFORM_TOKEN"));
        components.add_security_scheme("inbound", bearer("TANDEM_INBOUND_SECRET"));
    }
}

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
