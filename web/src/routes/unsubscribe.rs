//! The "stop these emails" link of unread-reply emails. Opening it (GET) only asks, because
//! mail scanners open links; the button (or a mail client's one-click POST, RFC 8058) stops them.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::WidgetTenant;
use crate::extract::QueryParams;
use crate::html::escape;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(ask, confirm))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnsubscribeQuery {
    /// From the link in the email.
    token: String,
}

#[utoipa::path(get, path = "/api/v1/widget/{key}/unsubscribe", tag = "widget",
    params(("key" = String, Path), UnsubscribeQuery),
    responses(
        (status = 200, description = "A page with a button that stops the emails", content_type = "text/html"),
        (status = 400, description = "No token", body = crate::error::ErrorBody),
    ))]
pub async fn ask(
    WidgetTenant(tenant): WidgetTenant,
    QueryParams(query): QueryParams<UnsubscribeQuery>,
) -> Html<String> {
    let token = escape(&query.token);
    let name = escape(&tenant.name);
    Html(page(&format!(
        "<h1>Stop emails from {name}?</h1>\
         <p>You will no longer get an email when a reply in your chat with {name} goes unread. \
         The chat itself stays open.</p>\
         <form method=post action=\"?token={token}\"><button type=submit>Stop these emails</button></form>"
    )))
}

#[utoipa::path(post, path = "/api/v1/widget/{key}/unsubscribe", tag = "widget",
    params(("key" = String, Path), UnsubscribeQuery),
    responses(
        (status = 200, description = "Stopped", content_type = "text/html"),
        (status = 400, description = "No token", body = crate::error::ErrorBody),
        (status = 401, description = "The link is not valid", content_type = "text/html"),
    ))]
pub async fn confirm(
    State(state): State<AppState>,
    WidgetTenant(tenant): WidgetTenant,
    QueryParams(query): QueryParams<UnsubscribeQuery>,
) -> Response {
    match state
        .tandem
        .visitors
        .unsubscribe(tenant.id, &query.token)
        .await
    {
        Ok(()) => Html(page(&format!(
            "<h1>Done</h1><p>{} will not email you about unread replies any more.</p>",
            escape(&tenant.name)
        )))
        .into_response(),
        Err(tandem_core::CoreError::Unauthorized(_)) => (
            StatusCode::UNAUTHORIZED,
            Html(page(
                "<h1>This link is not valid</h1><p>Use the link from the email.</p>",
            )),
        )
            .into_response(),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}

fn page(body: &str) -> String {
    format!(
        "<!doctype html><meta charset=utf-8><meta name=viewport content=\"width=device-width\">\
         <title>Email preferences</title>\
         <body style=\"font-family:sans-serif;max-width:520px;margin:3em auto;padding:0 1em\">{body}</body>"
    )
}
