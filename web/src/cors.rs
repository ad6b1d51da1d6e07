//! Cross-origin rules for the widget's endpoints. The widget runs on the tenant's own site, so
//! its calls are cross-origin by nature; when the tenant lists allowed origins, only those may
//! call (browsers enforce it for HTTP through CORS; sockets are checked here, since browsers
//! apply no CORS to them).

use axum::extract::{Request, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE, ORIGIN, VARY,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tandem_core::tenant::Tenant;

use crate::error::ApiError;
use crate::state::AppState;

/// True when the tenant lets pages from `origin` use its widget.
pub fn origin_allowed(tenant: &Tenant, origin: &str) -> bool {
    let allowed = &tenant.settings.allowed_origins;
    allowed.is_empty()
        || allowed
            .iter()
            .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin))
}

/// Refuses a request from a page whose origin the tenant did not allow. Requests without an
/// `Origin` (servers, the hosted chat page itself) pass.
pub fn check_origin(tenant: &Tenant, headers: &HeaderMap) -> Result<(), ApiError> {
    match headers.get(ORIGIN).and_then(|o| o.to_str().ok()) {
        Some(origin) if !origin_allowed(tenant, origin) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            "this site is not allowed to use the widget",
        )),
        _ => Ok(()),
    }
}

/// Middleware around the whole router, acting on `/api/v1/widget/{key}/...` only: answers preflights, refuses origins the tenant did
/// not allow, and adds the CORS headers to allowed ones.
pub async fn widget_cors(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(origin) = request.headers().get(ORIGIN).cloned() else {
        return next.run(request).await;
    };
    let Some(key) = request
        .uri()
        .path()
        .strip_prefix("/api/v1/widget/")
        .map(|rest| rest.split('/').next().unwrap_or_default().to_owned())
    else {
        return next.run(request).await;
    };
    // The client's allowance first: an unknown key must cost the database nothing either.
    if let Err(e) = crate::rate_limit::check_ip_once(&state, &mut request) {
        return e.into_response();
    }
    let tenant = match state.tenants.by_widget_key(&state.tandem, &key).await {
        Ok(tenant) => tenant,
        Err(e) => return ApiError::from(e).into_response(),
    };
    if let Err(e) = check_origin(&tenant, request.headers()) {
        return e.into_response();
    }
    let mut response = if request.method() == Method::OPTIONS {
        let mut preflight = StatusCode::NO_CONTENT.into_response();
        let headers = preflight.headers_mut();
        headers.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE"),
        );
        headers.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type"),
        );
        headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        preflight
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.append(VARY, HeaderValue::from_static("origin"));
    response
}
