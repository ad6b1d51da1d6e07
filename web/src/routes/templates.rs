//! The tenant admin's unread-reply email template: read, replace (checked first), reset, and a
//! rendered preview.

use std::sync::{Arc, LazyLock};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use tandem_core::tenant::EmailParts;
use tandem_worker::templates::{TemplateError, Templates};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::AdminAuth;
use crate::error::{ApiError, ErrorBody};
use crate::extract::JsonBody;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get, put, reset))
        .routes(routes!(preview))
}

/// The template's parts, and whether they are the tenant's own. (Not EmailParts flattened: its
/// schema refuses properties it does not name, as a request must.)
#[derive(Serialize, ToSchema)]
pub struct TemplateView {
    pub subject: String,
    pub html: String,
    pub text: String,
    /// False: the built-in template (in the widget's language) is in use.
    pub custom: bool,
}

impl TemplateView {
    fn of(parts: EmailParts, custom: bool) -> Self {
        let EmailParts {
            subject,
            html,
            text,
        } = parts;
        Self {
            subject,
            html,
            text,
            custom,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/admin/templates/unread-reply", tag = "admin",
    responses((status = 200, body = TemplateView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
) -> Result<Json<TemplateView>, ApiError> {
    let view = match state.tandem.tenants.email_template(actor.tenant).await? {
        Some(template) => TemplateView::of(template, true),
        None => {
            let tenant = state.tandem.tenants.by_id(actor.tenant).await?;
            TemplateView::of(
                Templates::built_in(tenant.settings.branding.language),
                false,
            )
        }
    };
    Ok(Json(view))
}

#[utoipa::path(put, path = "/api/v1/admin/templates/unread-reply", tag = "admin",
    request_body = EmailParts,
    responses(
        (status = 200, body = TemplateView),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, description = "The template does not compile or render against a sample; the message says where. The previous template stays.", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn put(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    JsonBody(sources): JsonBody<EmailParts>,
) -> Result<Json<TemplateView>, ApiError> {
    check(&sources).await?;
    state
        .tandem
        .tenants
        .set_email_template(&actor, sources.clone())
        .await?;
    Ok(Json(TemplateView::of(sources, true)))
}

#[utoipa::path(delete, path = "/api/v1/admin/templates/unread-reply", tag = "admin",
    responses((status = 204, description = "Back to the built-in template"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn reset(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
) -> Result<StatusCode, ApiError> {
    state.tandem.tenants.reset_email_template(&actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/admin/templates/unread-reply/preview", tag = "admin",
    request_body = EmailParts,
    responses((status = 200, description = "The template rendered against a sample dialog", body = EmailParts), (status = 400, body = ErrorBody), (status = 403, description = "Not a tenant admin", body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn preview(
    _admin: AdminAuth,
    JsonBody(sources): JsonBody<EmailParts>,
) -> Result<Json<EmailParts>, ApiError> {
    Ok(Json(check(&sources).await?))
}

/// The template's checks and a render against a sample, off the async threads.
async fn check(sources: &EmailParts) -> Result<EmailParts, ApiError> {
    sources.check_size()?;
    TEMPLATES
        .validate(sources.clone())
        .await
        .map_err(|e| match e {
            TemplateError::Busy => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", e.to_string())
            }
            _ => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_template",
                e.to_string(),
            ),
        })
}

static TEMPLATES: LazyLock<Arc<Templates>> = LazyLock::new(|| Arc::new(Templates::new()));
