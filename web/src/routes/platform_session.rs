//! Signing in to the platform console with the platform token, and out.

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::digest_token;
use crate::error::{ApiError, ErrorBody};
use crate::extract::JsonBody;
use crate::platform_session::{LIFETIME, PLATFORM_COOKIE, issue};
use crate::rate_limit;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(sign_in, sign_out))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlatformSignIn {
    /// The installation's platform token (`TANDEM_PLATFORM_TOKEN`).
    pub token: String,
}

/// The account the rate limiter charges failed platform sign-ins to.
const ACCOUNT: &str = "\0platform";

#[utoipa::path(post, path = "/api/v1/platform/session", tag = "platform",
    request_body = PlatformSignIn,
    responses(
        (status = 204, description = "Signed in: an HttpOnly, SameSite=Strict cookie carries the session for 12 hours"),
        (status = 400, body = ErrorBody),
        (status = 401, description = "Not the platform token", body = ErrorBody),
        (status = 404, description = "The platform API is off (no platform token configured)", body = ErrorBody),
        (status = 429, body = ErrorBody),
    ))]
pub async fn sign_in(
    State(state): State<AppState>,
    extensions: Extensions,
    JsonBody(body): JsonBody<PlatformSignIn>,
) -> Result<impl IntoResponse, ApiError> {
    let (Some(expected), Some(key)) = (
        state.platform_token_digest.as_deref(),
        state.platform_session_key.as_deref(),
    ) else {
        return Err(tandem_core::CoreError::NotFound("path").into());
    };
    // Digests compared, so the time taken says nothing of the token. The right token always
    // signs in: wrong guesses cannot lock the platform out, they are only throttled.
    if digest_token(&body.token) != *expected {
        state
            .limits
            .check_login(rate_limit::client_ip(&extensions), ACCOUNT)?;
        state.limits.login_failed(ACCOUNT);
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "that is not the platform token",
        ));
    }
    let secure = if state.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{PLATFORM_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        issue(key, state.tandem.now()),
        LIFETIME.as_secs()
    );
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        headers.insert(SET_COOKIE, value);
    }
    Ok((StatusCode::NO_CONTENT, headers))
}

#[utoipa::path(delete, path = "/api/v1/platform/session", tag = "platform",
    responses((status = 204, description = "The console's cookie is cleared")))]
pub async fn sign_out() -> impl IntoResponse {
    let expired =
        HeaderValue::from_static("tandem_platform=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    (StatusCode::NO_CONTENT, [(SET_COOKIE, expired)])
}
