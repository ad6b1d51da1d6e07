//! Erasing a visitor on request: by the tenant's admin, or by the platform for any tenant.

use axum::Json;
use axum::extract::{Path, State};
use tandem_core::ids::{TenantId, VisitorId};
use tandem_core::visitor::Erasure;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{AdminAuth, PlatformAuth};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(erase))
        .routes(routes!(erase_for_tenant))
}

#[utoipa::path(post, path = "/api/v1/admin/visitors/{id}/erase", tag = "admin",
    params(("id" = String, Path)),
    responses((status = 200, description = "Erased: the texts and files of the visitor's dialogs, their name, email, pages, connections, tokens and resume links, their mails in the dev mailbox. Rows stay, empty, so that counts stay right. Erasing again changes nothing more.", body = Erasure), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn erase(
    State(state): State<AppState>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<Erasure>, ApiError> {
    let id: VisitorId = id.parse()?;
    let erased = state.tandem.visitors.erase_as_admin(&actor, id).await?;
    Ok(Json(forget_mail_files(&state, erased).await))
}

#[utoipa::path(post, path = "/api/v1/platform/tenants/{tenant}/visitors/{id}/erase", tag = "platform",
    params(("tenant" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "As the admin's erasure, for any tenant's visitor", body = Erasure), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("platform" = [])))]
pub async fn erase_for_tenant(
    State(state): State<AppState>,
    PlatformAuth(by): PlatformAuth,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<Json<Erasure>, ApiError> {
    let tenant: TenantId = tenant.parse()?;
    let id: VisitorId = id.parse()?;
    let erased = state
        .tandem
        .visitors
        .erase_as_platform(&by, tenant, id)
        .await?;
    Ok(Json(forget_mail_files(&state, erased).await))
}

/// The `.eml` copies of the erased mails go too (the database rows went with the erasure).
async fn forget_mail_files(state: &AppState, erased: Erasure) -> Erasure {
    remove_mail_files(state, &erased.dev_mails).await;
    erased
}

/// Removes the dev mailbox's `.eml` files of these mails (erased by a request or a retention).
pub async fn remove_mail_files(state: &AppState, mails: &[uuid::Uuid]) {
    let Some(dir) = &state.mailbox_dir else {
        return;
    };
    for id in mails {
        let file = dir.join(format!("{id}.eml"));
        if let Err(e) = tokio::fs::remove_file(&file).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(error = %e, file = %file.display(), "an erased mail's file stays");
        }
    }
}
