//! Operator and admin login, logout, and who am I.

use axum::Json;
use axum::extract::State;
use axum::http::Extensions;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use tandem_core::CoreError;
use tandem_core::clock::Timestamp;
use tandem_core::ids::UserId;
use tandem_core::operator::{Operator, Role, SESSION_LIFETIME};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{OperatorAuth, SESSION_COOKIE};
use crate::error::{ApiError, ErrorBody};
use crate::extract::JsonBody;
use crate::rate_limit;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// The tenant's slug.
    pub tenant: String,
    pub email: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    /// A bearer token; it is also set as an HttpOnly, SameSite=Strict cookie for the browser UIs.
    pub token: String,
    pub user: LoginUser,
    pub expires_at: Timestamp,
}

#[derive(Serialize, ToSchema)]
pub struct LoginUser {
    pub id: UserId,
    pub name: String,
    pub role: Role,
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "operator",
    request_body = LoginBody,
    responses(
        (status = 200, body = LoginResponse),
        (status = 400, body = ErrorBody),
        (status = 401, description = "Wrong tenant, email or password (never says which)", body = ErrorBody),
        (status = 403, description = "Tenant suspended", body = ErrorBody),
        (status = 429, body = ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    extensions: Extensions,
    JsonBody(body): JsonBody<LoginBody>,
) -> Result<impl IntoResponse, ApiError> {
    // Guessing is throttled per client and per account before any hash is computed.
    let account = rate_limit::account_key(&body.tenant, &body.email);
    state
        .limits
        .check_login(rate_limit::client_ip(&extensions), &account)?;
    let login = match state
        .tandem
        .operators
        .login(&body.tenant, &body.email, &body.password)
        .await
    {
        Ok(login) => login,
        Err(e @ CoreError::Unauthorized(_)) => {
            state.limits.login_failed(&account);
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    let secure = if state.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        login.token,
        SESSION_LIFETIME.as_secs()
    );
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        headers.insert(SET_COOKIE, value);
    }
    let response = LoginResponse {
        token: login.token,
        user: LoginUser {
            id: login.operator.id,
            name: login.operator.name,
            role: login.operator.role,
        },
        expires_at: login.expires_at,
    };
    Ok((headers, Json(response)))
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "operator",
    responses((status = 204, description = "The session's token stops working"), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn logout(
    State(state): State<AppState>,
    auth: OperatorAuth,
) -> Result<impl IntoResponse, ApiError> {
    state.tandem.operators.logout(&auth.token).await?;
    let expired =
        HeaderValue::from_static("tandem_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    Ok((StatusCode::NO_CONTENT, [(SET_COOKIE, expired)]))
}

#[utoipa::path(get, path = "/api/v1/auth/me", tag = "operator",
    responses((status = 200, body = Operator), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn me(
    State(state): State<AppState>,
    auth: OperatorAuth,
) -> Result<Json<Operator>, ApiError> {
    Ok(Json(
        state
            .tandem
            .operators
            .get(&auth.actor, auth.actor.user)
            .await?,
    ))
}
