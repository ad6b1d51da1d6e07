//! Who is asking: operators (bearer token or session cookie), visitors (a widget key and their
//! visitor token), and the platform admin (the configured platform token).

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Path};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use tandem_core::CoreError;
use tandem_core::audit::PlatformActor;
use tandem_core::operator::OperatorActor;
use tandem_core::tenant::Tenant;
use tandem_core::visitor::VisitorActor;

use crate::error::ApiError;
use crate::platform_session;
use crate::rate_limit::client_ip;
use crate::state::AppState;

/// The cookie the browser UIs may use instead of the bearer header.
pub const SESSION_COOKIE: &str = "tandem_session";

/// The token after `Bearer ` in the Authorization header.
pub fn bearer(parts: &Parts) -> Option<&str> {
    bearer_in(&parts.headers)
}

/// [`bearer`], from the headers alone (a handler that reads the body too).
pub fn bearer_in(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

fn session_cookie(parts: &Parts) -> Option<&str> {
    cookie(parts, SESSION_COOKIE)
}

fn cookie<'a>(parts: &'a Parts, wanted: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| value)
}

/// An operator or admin, from `Authorization: Bearer` or the session cookie.
pub struct OperatorAuth {
    pub actor: OperatorActor,
    pub token: String,
}

impl OperatorAuth {
    pub async fn from_token(state: &AppState, token: &str) -> Result<Self, ApiError> {
        let actor = state.tandem.operators.authenticate_token(token).await?;
        Ok(Self {
            actor,
            token: token.to_owned(),
        })
    }
}

impl FromRequestParts<AppState> for OperatorAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)
            .or_else(|| session_cookie(parts))
            .ok_or_else(|| {
                ApiError::from(CoreError::Unauthorized(
                    "log in and send the token as Authorization: Bearer",
                ))
            })?
            .to_owned();
        let mut auth = Self::from_token(state, &token).await?;
        auth.actor.from = client_ip(&parts.extensions);
        Ok(auth)
    }
}

/// A tenant admin.
pub struct AdminAuth(pub OperatorActor);

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let auth = OperatorAuth::from_request_parts(parts, state).await?;
        auth.actor.require_admin()?;
        Ok(Self(auth.actor))
    }
}

/// The tenant whose widget key is in the path (`/api/v1/widget/{key}/...`).
pub struct WidgetTenant(pub Tenant);

impl FromRequestParts<AppState> for WidgetTenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::from(CoreError::NotFound("widget")))?;
        let key = params
            .get("key")
            .ok_or_else(|| ApiError::from(CoreError::NotFound("widget")))?;
        Ok(Self(state.tenants.by_widget_key(&state.tandem, key).await?))
    }
}

/// A visitor of the widget's tenant, by their visitor token.
pub struct WidgetVisitor {
    pub tenant: Tenant,
    pub actor: VisitorActor,
}

impl FromRequestParts<AppState> for WidgetVisitor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let WidgetTenant(tenant) = WidgetTenant::from_request_parts(parts, state).await?;
        let token = bearer(parts).ok_or_else(|| {
            ApiError::from(CoreError::Unauthorized(
                "send the visitor token as Authorization: Bearer",
            ))
        })?;
        let actor = state.tandem.visitors.authenticate(tenant.id, token).await?;
        state.limits.check_visitor(actor.visitor)?;
        Ok(Self { tenant, actor })
    }
}

/// The platform admin: the bearer token equals the configured platform token, or the platform
/// console's session cookie is good. When no token is configured the platform API does not
/// exist.
pub struct PlatformAuth(pub PlatformActor);

impl FromRequestParts<AppState> for PlatformAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let from = client_ip(&parts.extensions);
        if let (Some(key), None) = (state.platform_session_key.as_deref(), bearer(parts))
            && let Some(session) = cookie(parts, platform_session::PLATFORM_COOKIE)
            && platform_session::is_valid(key, session, state.tandem.now())
        {
            return Ok(Self(PlatformActor::console(from)));
        }
        require_secret(
            parts,
            state.platform_token_digest.as_deref(),
            "a valid platform token is required",
        )?;
        Ok(Self(PlatformActor::api(from)))
    }
}

/// The bearer token is the configured secret (`expected` is its digest); with no secret
/// configured, what it guards does not exist (404).
pub fn require_secret(
    parts: &Parts,
    expected: Option<&Vec<u8>>,
    refusal: &'static str,
) -> Result<(), ApiError> {
    let Some(expected) = expected else {
        return Err(CoreError::NotFound("path").into());
    };
    let given = bearer(parts).map(|t| Sha256::digest(t.as_bytes()));
    // Comparing digests keeps the comparison's time independent of the secret.
    match given {
        Some(digest) if digest.as_slice() == expected.as_slice() => Ok(()),
        _ => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            refusal,
        )),
    }
}

/// The digest kept of a configured secret; none when it is unset or empty.
pub fn secret_digest(secret: Option<&str>) -> Option<std::sync::Arc<Vec<u8>>> {
    secret
        .filter(|t| !t.is_empty())
        .map(|t| std::sync::Arc::new(digest_token(t)))
}

pub fn digest_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}
