//! The OpenAPI document of everything the API answers. Its paths come from the route table
//! (`routes::api`); this module holds what the handlers do not say: the title, the error
//! shape and the security schemes.

use axum::Router;
use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use tandem_core::input_rules::{self, TextRule};
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::schema::{ArrayItems, Schema};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Response};
use utoipa::{Modify, OpenApi};

use crate::error::{ErrorBody, ErrorDetail};
use crate::routes::health::Health;
use crate::state::AppState;

pub const PATH: &str = "/api/v1/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tandem API",
        description = "Live chat: widget, operator workspace, tenant admin and platform API. Every error is `{\"error\": {\"code\", \"message\"}}`."
    ),
    components(schemas(Health, ErrorBody, ErrorDetail)),
    modifiers(&SecuritySchemes)
)]
struct ApiDoc;

/// The document before the routes add their paths.
pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// Serves the document, completed by [`add_shared_answers`] and [`add_text_rules`] and
/// serialized once.
pub fn routes(
    mut document: utoipa::openapi::OpenApi,
    max_message_chars: usize,
) -> Router<AppState> {
    add_shared_answers(&mut document);
    add_text_rules(&mut document, max_message_chars);
    let json = Bytes::from(
        serde_json::to_vec(&document).expect("the OpenAPI document is plain data and serializes"),
    );
    Router::new().route(
        PATH,
        get(move || std::future::ready(([(CONTENT_TYPE, "application/json")], json.clone()))),
    )
}

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

/// Answers that come from the server's extractors and layers rather than from a handler, stated
/// once here for every operation they can happen to: a malformed query, a JSON body that is not
/// a JSON object or comes without its content type, a body over the size limit, missing credentials, an unknown
/// or suspended widget key, the widget's rate limit, and a database that does not answer.
pub fn add_shared_answers(document: &mut utoipa::openapi::OpenApi) {
    for (path, item) in document.paths.paths.iter_mut() {
        let widget = path.starts_with("/api/v1/widget/{key}");
        for operation in operations(item) {
            let has_query = operation
                .parameters
                .iter()
                .flatten()
                .any(|parameter| matches!(parameter.parameter_in, ParameterIn::Query));
            if has_query {
                answer(
                    operation,
                    "400",
                    "A query parameter is not of its documented type",
                );
            }
            if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
                answer(
                    operation,
                    "401",
                    "No credentials, or unknown or expired ones",
                );
            }
            if widget {
                answer(
                    operation,
                    "403",
                    "The tenant is suspended, or the page's origin is not one the tenant allows",
                );
                answer(operation, "404", "No tenant has this widget key");
                answer(
                    operation,
                    "429",
                    "Too many requests from this address or visitor: `Retry-After` says when to try again",
                );
            }
            let takes_json = operation
                .request_body
                .as_ref()
                .is_some_and(|body| body.content.contains_key("application/json"));
            if takes_json {
                answer(
                    operation,
                    "400",
                    "The body is not JSON of the documented shape",
                );
                answer(operation, "413", "The body is larger than the server takes");
                answer(
                    operation,
                    "415",
                    "The body was not sent as `Content-Type: application/json`",
                );
            }
            answer(
                operation,
                "503",
                "The database does not answer, or the server is too busy: try again (`Retry-After` says when)",
            );
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// Adds an error answer unless the handler documented that status itself.
fn answer(operation: &mut Operation, status: &str, description: &str) {
    operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| {
            let mut response = Response::new(description);
            response.content.insert(
                "application/json".to_owned(),
                Content::new(Some(Ref::from_schema_name("ErrorBody"))),
            );
            response.into()
        });
}

/// Where each rule of [`input_rules`] applies: schema, property (for a list, its items).
pub const TEXT_RULES: &[(&str, &str, TextRule)] = &[
    ("SendBody", "body", input_rules::MESSAGE),
    ("SendBody", "client_id", input_rules::CLIENT_ID),
    ("EditBody", "body", input_rules::MESSAGE),
    ("NoteBody", "body", input_rules::MESSAGE),
    ("RatingBody", "comment", input_rules::RATING_COMMENT),
    ("CannedReplyBody", "shortcut", input_rules::SHORTCUT),
    ("CannedReplyBody", "body", input_rules::MESSAGE),
    ("OfflineRequestBody", "name", input_rules::NAME),
    ("OfflineRequestBody", "email", input_rules::EMAIL),
    ("OfflineRequestBody", "message", input_rules::MESSAGE),
    ("VisitorBody", "name", input_rules::NAME),
    ("VisitorBody", "email", input_rules::EMAIL),
    ("VisitorBody", "locale", input_rules::LOCALE),
    ("NewOperatorBody", "name", input_rules::NAME),
    ("NewOperatorBody", "email", input_rules::EMAIL),
    ("NewOperatorBody", "password", input_rules::PASSWORD),
    ("OperatorPatchBody", "name", input_rules::NAME),
    ("NewTenantBody", "slug", input_rules::SLUG),
    ("NewTenantBody", "name", input_rules::NAME),
    ("NewTenantBody", "admin_email", input_rules::EMAIL),
    ("NewTenantBody", "admin_password", input_rules::PASSWORD),
    ("SettingsPatch", "allowed_origins", input_rules::ORIGIN),
    ("SettingsPatch", "webhook_urls", input_rules::WEB_URL),
    ("SettingsPatch", "site_url", input_rules::WEB_URL_OR_EMPTY),
    (
        "SettingsPatch",
        "mail_from_name",
        input_rules::MAIL_FROM_NAME,
    ),
    ("Branding", "color", input_rules::COLOR),
    ("Branding", "title", input_rules::TITLE),
    ("Branding", "greeting", input_rules::GREETING),
    ("Branding", "logo_url", input_rules::WEB_URL),
];

/// States what the server takes of each text field (see [`input_rules`]): patterns and lengths
/// the handlers enforce, so that a client (or a fuzzer) learns them from the document.
pub fn add_text_rules(document: &mut utoipa::openapi::OpenApi, max_message_chars: usize) {
    let Some(components) = document.components.as_mut() else {
        return;
    };
    for (schema, property, rule) in TEXT_RULES {
        let field = match components.schemas.get_mut(*schema) {
            Some(RefOr::T(Schema::Object(object))) => object.properties.get_mut(*property),
            _ => None,
        };
        let text = match field {
            Some(RefOr::T(Schema::Object(text))) => text,
            Some(RefOr::T(Schema::Array(list))) => match &mut list.items {
                ArrayItems::RefOrSchema(item) => match item.as_mut() {
                    RefOr::T(Schema::Object(text)) => text,
                    _ => continue,
                },
                ArrayItems::False => continue,
            },
            _ => continue,
        };
        if !rule.pattern.is_empty() {
            text.pattern = Some(rule.pattern.to_owned());
        }
        text.min_length = rule.min_length;
        text.max_length = rule.max_length.or(Some(max_message_chars));
    }
}
